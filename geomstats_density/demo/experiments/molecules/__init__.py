"""Example 9: interpolating between molecules while favouring drug-likeness.

The paper's chemical-compounds experiment on data that ships with RDKit: the
10,000 drug-like screening compounds of the WEHI library
(``rdkit/Data/Pains/test_data/wehi_mols.csv``), written as SELFIES strings
(every SELFIES string decodes to a valid molecule) and encoded by a small
variational autoencoder (:class:`SelfiesVAE`: convolutions over the tokens, 8-D
codes, and a head predicting QED from the code, trained with the VAE so the
latent space is ordered by the property, then refitted on the QED of the
molecules the codes decode into, :func:`fit_decoded_property`).

RDKit's QED (quantitative estimate of drug-likeness) is not differentiable, so
the quality reads the property head instead:

``Q = RealismIndex(mixture fitted to the encoded molecules)
* PropertyAbove(predicted QED, threshold)``,

"a realistic code AND a drug-like molecule", where :class:`PropertyAbove` is
the probability that the property exceeds the threshold under the predictor's
Gaussian error. :func:`run` interpolates between two molecules along the
geodesic and along the segment, decodes both, and reports validity and the
QED of the decoded molecules computed by RDKit.

The weights (230 KB, float16) ship in ``weights/selfies_vae.npz``;
:func:`train_molecule_model` retrains them (40 epochs on one torch thread,
minutes on two free cores).

- :mod:`~geomstats_density.demo.experiments.molecules.chemistry`: molecules,
  SELFIES strings, QED, the WEHI compounds;
- :mod:`~geomstats_density.demo.experiments.molecules.model`: the SELFIES VAE and
  the trained model with its weights file;
- :mod:`~geomstats_density.demo.experiments.molecules.training`: the VAE's
  training and the density of the codes;
- :mod:`~geomstats_density.demo.experiments.molecules.quality`: the quality,
  realistic AND drug-like;
- :mod:`~geomstats_density.demo.experiments.molecules.experiment`: the
  experiment, its figure and its command line
  (``python -m geomstats_density.demo.experiments.molecules``).
"""

try:
    import rdkit  # noqa: F401
    import selfies  # noqa: F401
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "The molecule experiment needs RDKit and selfies: "
        "pip install 'geomstats-density[experiments]'."
    ) from error

from geomstats_density.demo.experiments.molecules.chemistry import (
    DATA_FILE,
    MAX_LENGTH,
    PAD,
    SelfiesVocabulary,
    load_wehi_molecules,
    molecule,
    qed,
    smiles_to_selfies,
)
from geomstats_density.demo.experiments.molecules.experiment import (
    END_SMILES,
    START_SMILES,
    main,
    path_molecules,
    path_row,
    plot_molecules,
    run,
)
from geomstats_density.demo.experiments.molecules.model import (
    LATENT_DIM,
    WEIGHTS_FILE,
    MoleculeModel,
    SelfiesVAE,
    decode_codes,
)
from geomstats_density.demo.experiments.molecules.quality import (
    QED_THRESHOLD,
    PropertyAbove,
    molecule_quality,
)
from geomstats_density.demo.experiments.molecules.training import (
    fit_decoded_property,
    load_molecule_model,
    train_molecule_model,
)

__all__ = [
    "DATA_FILE",
    "END_SMILES",
    "LATENT_DIM",
    "MAX_LENGTH",
    "PAD",
    "QED_THRESHOLD",
    "START_SMILES",
    "WEIGHTS_FILE",
    "MoleculeModel",
    "PropertyAbove",
    "SelfiesVAE",
    "SelfiesVocabulary",
    "decode_codes",
    "fit_decoded_property",
    "load_molecule_model",
    "load_wehi_molecules",
    "main",
    "molecule",
    "molecule_quality",
    "path_molecules",
    "path_row",
    "plot_molecules",
    "qed",
    "run",
    "smiles_to_selfies",
    "train_molecule_model",
]
