"""geomstats-density: geodesics that keep to where a density or a quality is high.

Conformal and density-conformal Riemannian metrics for geomstats, with fast
geodesic solvers. See https://arxiv.org/abs/1904.03445 for the method.
"""

from geomstats_density.curves import DiscreteCurve, GeodesicCurve
from geomstats_density.exceptions import (
    DomainError,
    GeodesicConvergenceError,
    GeodesicConvergenceWarning,
)
from geomstats_density.metrics import ConformalMetric, DensityConformalMetric
from geomstats_density.solvers import (
    GeodesicODESolver,
    NeuralGeodesicSolver,
    NewtonGeodesicSolver,
)

__version__ = "0.1.0"

__all__ = [
    "ConformalMetric",
    "DensityConformalMetric",
    "DiscreteCurve",
    "DomainError",
    "GeodesicConvergenceError",
    "GeodesicConvergenceWarning",
    "GeodesicCurve",
    "GeodesicODESolver",
    "NeuralGeodesicSolver",
    "NewtonGeodesicSolver",
]
