"""Geodesic solvers, the geomstats kind: objects plugged into a metric.

``metric.log_solver`` solves boundary-value problems (``log``, ``dist``,
``geodesic`` between two points); ``metric.exp_solver`` solves initial-value
problems (``exp``, ``geodesic`` from a velocity). Swap them the geomstats way::

    space.metric.log_solver = NeuralGeodesicSolver(space, n_steps=500)
"""

from geomstats_density.solvers.manifold import ManifoldExpSolver, ManifoldGeodesicSolver
from geomstats_density.solvers.neural import NeuralGeodesicSolver
from geomstats_density.solvers.newton import NewtonGeodesicSolver
from geomstats_density.solvers.ode import ExpResult, GeodesicODESolver
from geomstats_density.solvers.protocol import SolverMetric

LOG_SOLVERS = {"newton": NewtonGeodesicSolver, "neural": NeuralGeodesicSolver}


def make_log_solver(space, method="newton", **options):
    """Instantiate the boundary-value solver named ``method`` for ``space``.

    Parameters
    ----------
    space : Manifold
    method : {'newton', 'neural'}
    **options
        Keyword arguments of the solver class.
    """
    if method not in LOG_SOLVERS:
        raise ValueError(f"method must be one of {sorted(LOG_SOLVERS)}, got {method!r}.")
    return LOG_SOLVERS[method](space, **options)


__all__ = [
    "ExpResult",
    "GeodesicODESolver",
    "ManifoldExpSolver",
    "ManifoldGeodesicSolver",
    "NeuralGeodesicSolver",
    "NewtonGeodesicSolver",
    "SolverMetric",
    "make_log_solver",
]
