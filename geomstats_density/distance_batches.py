"""One batch of pairs, one solve: the unit of every computation of many distances.

:func:`solve_batch` measures a batch of pairs by one vectorised call of the
metric's boundary-value solver (one energy evaluation per Newton iteration serves
the whole batch), each curve started from a graph's shortest path when a graph is
given; :func:`report_unconverged_pairs` reports, once, the pairs of all the
batches that did not converge. :mod:`~geomstats_density.distances` (distance
matrices and many pairs) and :mod:`~geomstats_density.graph_distances` (exact
distances of chosen pairs of a graph) are made of such batches.
"""

import copy

import numpy as np
import torch

from geomstats_density.backend import to_numpy
from geomstats_density.solvers.status import report_unconverged
from geomstats_density.threads import torch_threads_for

# Pairs solved in one vectorised call: large enough to amortise Python overheads,
# small enough that a batch stops refining node counts when its own hardest pair
# is done (see docs/distances.md for the timings behind it).
DEFAULT_BATCH_SIZE = 128
# Below this many pairs the progress bar is noise (as for the solvers' own bars).
PROGRESS_MIN_PAIRS = 64


def solve_batch(metric, graph, coordinates, rows, cols):
    """Distances from ``coordinates[rows]`` to ``coordinates[cols]``, one solve.

    Pairs of equal points get 0 without a solve; the others start on the
    graph's shortest paths when a graph is given.

    Parameters
    ----------
    metric : ConformalMetric
    graph : ConformalGraph, NeighborGraph or None
        Whatever gives starting curves, ``graph.curves(start, end, n_nodes)``.
    coordinates : ndarray, shape=[n_points, n_coords]
    rows, cols : ndarray of int, shape=[batch]

    Returns
    -------
    dist : ndarray, shape=[batch]
    status : ndarray of int, shape=[batch]
        :class:`~geomstats_density.solvers.status.CurveStatus` codes
        (``CONVERGED``, 0, where the pair converged).
    message : str or None
        ``curve.message`` of the first pair that did not converge.
    """
    start, end = coordinates[rows], coordinates[cols]
    dist = np.zeros(len(rows))
    status = np.zeros(len(rows), dtype=int)
    moving = np.any(start != end, axis=-1)
    if not moving.any():
        return dist, status, None
    start, end = start[moving], end[moving]
    solver = _quiet(metric.log_solver)
    options = {}
    if graph is not None:
        # Sized as the solver sizes its own work: small batches run on one torch
        # thread, here and on Dask workers alike, so the paths are the same.
        with torch_threads_for(start.size * solver.n_nodes * 4 * metric.point_cost):
            options["initial_curve"] = graph.curves(start, end, solver.n_nodes)
    curve = solver.solve(
        metric.to_points_backend(torch.from_numpy(end)),
        metric.to_points_backend(torch.from_numpy(start)),
        **options,
    )
    dist[moving] = to_numpy(curve.dist)
    status[moving] = np.where(curve.converged, 0, curve.status)
    missed = ~np.asarray(curve.converged, dtype=bool)
    return dist, status, str(curve.message[missed][0]) if missed.any() else None


def _quiet(solver):
    """A shallow copy of ``solver`` without progress bars nor warnings, for one batch.

    The caller reports over all pairs. The solver itself is left as it is, so
    that concurrent calls on one metric (threads) see the user's settings; the
    copy shares its caches (a graph built once). A solver that raises on failure
    still raises, at the first failing batch.

    Parameters
    ----------
    solver : LogSolver

    Returns
    -------
    solver : LogSolver
    """
    quiet = copy.copy(solver)
    if hasattr(quiet, "progress"):
        quiet.progress = False
    if getattr(quiet, "on_failure", None) == "warn":
        quiet.on_failure = "ignore"
    return quiet


def report_unconverged_pairs(solver, status, first_message, on_failure):
    """One warning (or error) for all the pairs that did not converge.

    It counts the pairs by how they ended (``CurveStatus``), quotes how the first
    of them ended and what to change.

    Parameters
    ----------
    solver : LogSolver
        The solver of the pairs; its ``remedies(codes)``, if any, says what to change.
    status : ndarray of int, shape=[n_pairs]
        :class:`~geomstats_density.solvers.status.CurveStatus` of each pair.
    first_message : str
        How the first pair that did not converge ended.
    on_failure : {'warn', 'raise', 'ignore'}
    """
    remedies = getattr(solver, "remedies", None)
    report_unconverged(
        status,
        first_message,
        on_failure,
        "geodesic distances",
        lambda codes: (
            ""
            if remedies is None
            else f" To converge (solver_options of the metric): {remedies(codes)}."
        ),
    )
