"""geomstats-density: geodesics that keep to where a density or a quality is high.

Conformal and density-conformal Riemannian metrics for geomstats, with fast
geodesic solvers. See https://arxiv.org/abs/1904.03445 for the method.

A generator's latent space is a :class:`LatentSpace`; sets of points (measures)
get the kernel-mean-embedding metric :class:`KernelMeanEmbeddingMetric`; density
fitting to latent codes is :mod:`~geomstats_density.fitting`, and the experiments
on shipped data are :mod:`geomstats_density.demo.experiments`. Qualities, densities
and curve reports are the submodules
:mod:`~geomstats_density.quality`, :mod:`~geomstats_density.densities` and
:mod:`~geomstats_density.reports`; the Frechet mean and k-means without
``exp`` are in :mod:`~geomstats_density.learning`; figures are in
:mod:`~geomstats_density.plotting` (imported on demand: it needs matplotlib).
"""

from geomstats_density import densities, learning, quality, reports
from geomstats_density.curves import DiscreteCurve, GeodesicCurve
from geomstats_density.density_metric import DensityConformalMetric
from geomstats_density.exceptions import (
    ConstantQualityWarning,
    DomainError,
    GeodesicConvergenceError,
    GeodesicConvergenceWarning,
    NonUniqueGeodesicWarning,
)
from geomstats_density.latent import LatentSpace
from geomstats_density.measures import KernelMeanEmbeddingMetric
from geomstats_density.metrics import ConformalMetric
from geomstats_density.solvers import (
    GeodesicODESolver,
    ManifoldExpSolver,
    ManifoldGeodesicSolver,
    NeuralGeodesicSolver,
    NewtonGeodesicSolver,
)
from geomstats_density.sphere import VonMisesFisher, VonMisesFisherMixture

__version__ = "0.1.0"

__all__ = [
    "ConformalMetric",
    "DensityConformalMetric",
    "DiscreteCurve",
    "DomainError",
    "GeodesicConvergenceError",
    "ConstantQualityWarning",
    "GeodesicConvergenceWarning",
    "GeodesicCurve",
    "GeodesicODESolver",
    "KernelMeanEmbeddingMetric",
    "LatentSpace",
    "ManifoldExpSolver",
    "ManifoldGeodesicSolver",
    "NeuralGeodesicSolver",
    "NewtonGeodesicSolver",
    "NonUniqueGeodesicWarning",
    "VonMisesFisher",
    "VonMisesFisherMixture",
    "densities",
    "learning",
    "quality",
    "reports",
]
