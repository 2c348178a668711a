"""Many geodesic distances at once: batched, on one graph, optionally on Dask.

:func:`pairwise_distances` fills the distance matrix of a set of points, or of
two sets, and :func:`paired_distances` measures many given pairs, with the
argument order of their scikit-learn namesakes. Both split the pairs into
batches of ``batch_size``, each solved by one vectorised call of the metric's
boundary-value solver (one energy evaluation per Newton iteration serves the
whole batch), so memory stays bounded by the batch size however many pairs
there are (:mod:`~geomstats_density.distance_batches`). When the solver starts
curves from shortest paths on a graph (:meth:`NewtonGeodesicSolver.start_graph
<geomstats_density.solvers.newton.NewtonGeodesicSolver.start_graph>`), the graph
is built once, for the box of all the points, and serves every batch. A progress
bar counts the pairs.

With ``n_jobs`` other than 1 the batches run in that many worker processes of
this machine (joblib's loky backend, as in scikit-learn), each with its share of
the cores for torch. With a ``dask.distributed`` client they run as tasks on its
workers: the metric, the graph and the points are shipped once (cloudpickle),
each task solves ``batches_per_task`` batches. Either way the results are the
single-process results: the same batches are solved in the same way
(:mod:`~geomstats_density.distance_tasks`).
With ``checkpoint=`` a directory, each finished task is written there as it
arrives in this process, and a call with the same arguments after an
interruption loads those tasks instead of solving them again
(:mod:`~geomstats_density.checkpoints`).
``dask[distributed]`` is the optional extra ``distributed``:
``pip install "geomstats-density[distributed]"``.

Example::

    from geomstats_density.distances import pairwise_distances

    matrix = pairwise_distances(points, metric=space.metric, batch_size=128)
    test_to_train = pairwise_distances(test, train, metric=space.metric)
    # or, the geomstats way:
    matrix = space.metric.dist_pairwise(points, batch_size=256)
    test_to_train = space.metric.dist_broadcast(test, train)
"""

import numpy as np
import torch
from tqdm.auto import tqdm

from geomstats_density._validation import broadcast_pair, check_bool_or_none, check_positive_int
from geomstats_density.backend import to_backend, to_numpy, tracks_gradients
from geomstats_density.checkpoints import Checkpoint, check_without_gradients, problem_fingerprint
from geomstats_density.distance_batches import (
    DEFAULT_BATCH_SIZE,
    PROGRESS_MIN_PAIRS,
    report_unconverged_pairs,
)
from geomstats_density.distance_tasks import TaskPayload, check_client, check_jobs, run_tasks

# Points whose pairwise chords are computed at once when looking for the longest.
_CHORD_ROWS = 1 << 20


def pairwise_distances(
    X,
    Y=None,
    *,
    metric,
    batch_size=DEFAULT_BATCH_SIZE,
    progress=None,
    client=None,
    batches_per_task=1,
    n_jobs=1,
    checkpoint=None,
):
    """Geodesic distance matrix of the points of ``X`` (and ``Y``), solved in batches.

    The argument order of scikit-learn's ``pairwise_distances``: the result
    plugs into its estimators as ``metric="precomputed"``.

    Parameters
    ----------
    X : array-like, shape=[n_points_x, {dim, [n, n]}]
    Y : array-like, shape=[n_points_y, {dim, [n, n]}], optional
        Without it, the distances between the points of ``X``.
    metric : ConformalMetric
        A metric whose ``log_solver`` has a batched ``solve`` (the Newton,
        neural and manifold solvers of this package).
    batch_size : int
        Pairs solved in one vectorised call; memory grows linearly with it.
    progress : bool or None
        Show a progress bar over the pairs; None shows it from 64 pairs on.
    client : distributed.Client, optional
        Run the batches as tasks of this Dask cluster; None solves them here.
    batches_per_task : int
        Batches each task solves: a task is what one worker (process or Dask)
        runs at a time, and what a checkpoint writes in one file.
    n_jobs : int
        Worker processes of this machine solving the batches (joblib's loky
        backend); 1 solves them in this process, -1 uses every core. Worker
        processes take a few seconds to start the first time: worth it for
        hundreds of pairs and more.
    checkpoint : str or path-like, optional
        A directory where each finished task (its distances and convergence
        statuses) is written, atomically, as it arrives in this process. Calling
        again with the same arguments and checkpoint after an interruption
        (Ctrl-C, a killed process, a lost Dask worker) loads the finished tasks
        and solves only the others: the matrix equals that of an uninterrupted
        run. The directory holds a fingerprint of the problem (the points,
        ``batch_size``, the metric's and solver's classes and scalar options).

    Returns
    -------
    dist : array-like, shape=[n_points_x, n_points_y]
        ``dist[i, j]`` is the distance from ``X[i]`` to ``Y[j]``. Without
        ``Y``, ``[n_points_x, n_points_x]``, symmetric and zero on the diagonal,
        each distance solved once (for ``i < j``).

    Raises
    ------
    ValueError
        If ``X`` or ``Y`` is not of shape ``[n_points, ...]`` with finite
        coordinates, ``batch_size`` or ``batches_per_task`` is not a positive
        integer, ``n_jobs`` is 0 or not an integer, or both ``n_jobs`` and
        ``client`` ask for workers; if ``checkpoint`` holds a checkpoint of
        another problem, is not a directory, or is a non-empty directory that is
        not a checkpoint; if a checkpoint is asked for points that require grad
        (pytorch backend), whose distances a checkpoint cannot carry.
    ImportError
        If a client is given and ``dask.distributed`` is not installed.

    See Also
    --------
    geomstats_density.graph_distances.graph_distances : approximate matrices of
        thousands of points in seconds, shortest paths on one graph.
    """
    batch_size, batches_per_task = _check_sizes(batch_size, batches_per_task)
    check_bool_or_none(progress, "progress")
    check_jobs(n_jobs, client)
    check_without_gradients(checkpoint, X, Y)
    coordinates = _point_rows(metric, X, "X")
    n_points = coordinates.shape[0]
    if Y is not None:
        other = _point_rows(metric, Y, "Y")
        pairs = _RectanglePairs(n_points, other.shape[0])
        values = _solve_pairs(
            metric,
            np.concatenate([coordinates, other]),
            pairs,
            batch_size,
            progress,
            client,
            batches_per_task,
            n_jobs,
            checkpoint,
        )
        return to_backend(values.reshape(n_points, other.shape[0]))
    pairs = _UpperPairs(n_points)
    values = _solve_pairs(
        metric,
        coordinates,
        pairs,
        batch_size,
        progress,
        client,
        batches_per_task,
        n_jobs,
        checkpoint,
    )
    dist = np.zeros((n_points, n_points))
    for row in range(n_points - 1):
        begin = pairs.offsets[row]
        dist[row, row + 1 :] = values[begin : begin + n_points - 1 - row]
    return to_backend(dist + dist.T)


def paired_distances(
    X,
    Y,
    *,
    metric,
    batch_size=DEFAULT_BATCH_SIZE,
    progress=None,
    client=None,
    batches_per_task=1,
    n_jobs=1,
    checkpoint=None,
):
    """Geodesic distances ``dist(X[k], Y[k])``, solved in batches.

    The batched counterpart of ``metric.dist(X, Y)`` for many pairs, with the
    argument order of scikit-learn's ``paired_distances``.

    Parameters
    ----------
    X, Y : array-like, shape=[..., {dim, [n, n]}]
        Broadcast against each other.
    metric : ConformalMetric
    batch_size, progress, client, batches_per_task, n_jobs, checkpoint
        As in :func:`pairwise_distances`; the fingerprint of a checkpoint holds
        the broadcast points of both ``X`` and ``Y``.

    Returns
    -------
    dist : array-like, shape=[...]
        Under the pytorch backend, with points that require grad, carrying
        gradients (``metric.dist``, solved in this process in one batch).

    Raises
    ------
    ValueError
        If the points have the wrong shape, a NaN or infinite coordinate, do not
        broadcast, or the other arguments are invalid (as in
        :func:`pairwise_distances`, checkpoints included).
    """
    batch_size, batches_per_task = _check_sizes(batch_size, batches_per_task)
    check_bool_or_none(progress, "progress")
    check_jobs(n_jobs, client)
    check_without_gradients(checkpoint, X, Y)
    if tracks_gradients(X, Y):
        return metric.dist(X, Y)
    start, end = broadcast_pair(
        torch.from_numpy(_point_coordinates(metric, X, "X")),
        torch.from_numpy(_point_coordinates(metric, Y, "Y")),
    )
    batch_shape = tuple(start.shape[:-1])
    n_coords = start.shape[-1]
    start = start.reshape(-1, n_coords).numpy()
    end = end.reshape(-1, n_coords).numpy()
    coordinates = np.concatenate([start, end])
    pairs = _GivenPairs(len(start))
    values = _solve_pairs(
        metric,
        coordinates,
        pairs,
        batch_size,
        progress,
        client,
        batches_per_task,
        n_jobs,
        checkpoint,
    )
    return to_backend(values.reshape(batch_shape))


def _check_sizes(batch_size, batches_per_task):
    """Positive integers, or a ValueError naming the argument."""
    return (
        check_positive_int(batch_size, "batch_size"),
        check_positive_int(batches_per_task, "batches_per_task"),
    )


def _point_coordinates(metric, points, name):
    """Validated coordinates ``[..., n_coords]`` of points, as a float64 numpy array."""
    return np.ascontiguousarray(to_numpy(metric.points_tensor(points, name)))


def _point_rows(metric, points, name):
    """Validated coordinates ``[n_points, n_coords]`` of a set of points."""
    coordinates = _point_coordinates(metric, points, name)
    if coordinates.ndim != 2:
        raise ValueError(
            f"{name} must have shape [n_points, *point_shape], got coordinates of "
            f"shape {tuple(coordinates.shape)}."
        )
    return coordinates


# ----------------------------------------------------------------------
# Pairs, by their index in a fixed order: no list of all pairs is ever held.
# ----------------------------------------------------------------------
class _UpperPairs:
    """The pairs ``(i, j)``, ``i < j``, of ``n_points`` points, row by row."""

    def __init__(self, n_points):
        self.n_points = n_points
        self.shape = (n_points, n_points)
        rows = np.arange(n_points)
        # Index of the first pair of each row.
        self.offsets = rows * n_points - rows * (rows + 1) // 2

    def __len__(self):
        return self.n_points * (self.n_points - 1) // 2

    def take(self, begin, stop):
        """Point indices ``(rows, cols)`` of the pairs ``begin`` to ``stop``."""
        index = np.arange(begin, stop)
        rows = np.searchsorted(self.offsets, index, side="right") - 1
        return rows, index - self.offsets[rows] + rows + 1


class _RectanglePairs:
    """The pairs ``(i, n_x + j)`` of points stacked as ``[X; Y]``, row by row."""

    def __init__(self, n_x, n_y):
        self.n_x, self.n_y = n_x, n_y
        self.shape = (n_x, n_y)

    def __len__(self):
        return self.n_x * self.n_y

    def take(self, begin, stop):
        index = np.arange(begin, stop)
        return index // self.n_y, self.n_x + index % self.n_y


class _GivenPairs:
    """The pairs ``(k, n_pairs + k)`` of points stacked as ``[points_a; points_b]``."""

    def __init__(self, n_pairs):
        self.n_pairs = n_pairs
        self.shape = (n_pairs,)

    def __len__(self):
        return self.n_pairs

    def take(self, begin, stop):
        index = np.arange(begin, stop)
        return index, self.n_pairs + index


# ----------------------------------------------------------------------
# The functional core.
# ----------------------------------------------------------------------
def _solve_pairs(
    metric,
    coordinates,
    pairs,
    batch_size,
    progress,
    client,
    batches_per_task,
    n_jobs=1,
    checkpoint=None,
):
    """Distances of all ``pairs`` of rows of ``coordinates``, shape ``[len(pairs)]``."""
    if not hasattr(metric.log_solver, "solve"):
        raise ValueError(
            f"metric.log_solver ({type(metric.log_solver).__name__}) has no batched "
            "solve: use metric.dist_pairwise, which falls back to geomstats' own loop."
        )
    if client is not None:
        check_client(client)
    n_pairs = len(pairs)
    values = np.zeros(n_pairs)
    if n_pairs == 0:
        return values
    status = np.zeros(n_pairs, dtype=int)
    done = np.zeros(n_pairs, dtype=bool)
    first_message = {}
    store = None
    if checkpoint is not None:
        store = Checkpoint(checkpoint, problem_fingerprint(metric, coordinates, pairs, batch_size))
        for begin, stop, (dist, batch_status, message) in store.tasks(n_pairs):
            values[begin:stop], status[begin:stop] = dist, batch_status
            done[begin:stop] = True
            if message is not None:
                first_message[begin] = message
    ranges = _task_ranges(done, batch_size, batches_per_task)
    show = progress if progress is not None else n_pairs >= PROGRESS_MIN_PAIRS
    on_failure = getattr(metric.log_solver, "on_failure", "warn")
    graph = shared_graph(metric, coordinates, pairs) if ranges else None
    payload = TaskPayload(metric, graph, coordinates, pairs, batch_size)
    batches = run_tasks(payload, ranges, client, n_jobs)
    with tqdm(
        total=n_pairs, initial=int(done.sum()), desc="distances", unit="pair", disable=not show
    ) as bar:
        for begin, stop, result in batches:
            if store is not None:
                store.save(begin, stop, result)
            dist, batch_status, message = result
            values[begin:stop], status[begin:stop] = dist, batch_status
            if message is not None:
                first_message[begin] = message
            bar.update(stop - begin)
    message = first_message[min(first_message)] if first_message else None
    report_unconverged_pairs(metric.log_solver, status, message, on_failure)
    return values


def _task_ranges(done, batch_size, batches_per_task):
    """``(begin, stop)`` of the tasks solving the pairs not ``done``.

    The batches are those of a run from scratch, ``batch_size`` pairs from pair
    0 on; a task joins up to ``batches_per_task`` consecutive batches to solve.
    """
    starts = np.arange(0, len(done), batch_size)
    to_solve = ~np.logical_and.reduceat(done, starts)
    task_size = batch_size * batches_per_task
    ranges = []
    for begin in starts[to_solve].tolist():
        stop = min(begin + batch_size, len(done))
        if ranges and ranges[-1][1] == begin and begin - ranges[-1][0] < task_size:
            ranges[-1] = (ranges[-1][0], stop)
        else:
            ranges.append((begin, stop))
    return ranges


def shared_graph(metric, coordinates, pairs):
    """The graph starting every batch, built once, or None (no graph start).

    It is the graph one solve of all the pairs at once would build: for a grid,
    the box of all the points grown by the solver's margin times the longest
    pair; a cloud graph does not depend on the endpoints.

    Parameters
    ----------
    metric : ConformalMetric
    coordinates : ndarray, shape=[n_points, n_coords]
    pairs : sized object whose ``take(begin, stop)`` gives point indices

    Returns
    -------
    graph : ConformalGraph or None
    """
    start_graph = getattr(metric.log_solver, "start_graph", None)
    if start_graph is None:
        return None
    rows, cols = _longest_pair(coordinates, pairs)
    if rows is None:
        return None
    # Endpoints with the same box and the same longest pair as all the pairs.
    low, high = coordinates.min(0), coordinates.max(0)
    start = np.stack([coordinates[rows], low, high])
    end = np.stack([coordinates[cols], low, high])
    return start_graph(metric, start, end)


def _longest_pair(coordinates, pairs):
    """Indices of the pair of distinct points with the longest chord, or Nones."""
    best, longest = (None, None), 0.0
    step = max(1, _CHORD_ROWS // max(1, coordinates.shape[1]))
    for begin in range(0, len(pairs), step):
        rows, cols = pairs.take(begin, min(begin + step, len(pairs)))
        chords = np.linalg.norm(coordinates[cols] - coordinates[rows], axis=-1)
        k = int(np.argmax(chords))
        if chords[k] > longest:
            best, longest = (rows[k], cols[k]), chords[k]
    return best
