"""Where the tasks of a distance computation run: this process, worker processes, Dask.

A task solves a range of pairs, batch after batch of ``batch_size`` pairs (each
by :func:`~geomstats_density.distance_batches.solve_batch`). :func:`run_tasks`
runs the tasks in this process, in worker processes of this machine (joblib's
loky backend, as in scikit-learn, each with its share of the cores for torch),
or on the workers of a ``dask.distributed`` cluster, to which the
:class:`TaskPayload` (the metric, the graph and the points) is shipped once.
Wherever they run, the tasks solve the same batches in the same way.
"""

import os

import joblib
import numpy as np
import torch

from geomstats_density.distance_batches import solve_batch


def check_jobs(n_jobs, client):
    """A non-zero integer ``n_jobs``, and not with a client, or a ValueError.

    Parameters
    ----------
    n_jobs : int
    client : distributed.Client or None
    """
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0:
        raise ValueError(f"n_jobs must be a non-zero integer (-1: every core), got {n_jobs!r}.")
    if client is not None and n_jobs != 1:
        raise ValueError("Pass either a Dask client or n_jobs, not both.")


def _import_distributed():
    try:
        import distributed
    except ImportError as error:
        raise ImportError(
            "Distances on a Dask cluster need dask.distributed: install the extra "
            '"distributed" (pip install "geomstats-density[distributed]").'
        ) from error
    return distributed


def check_client(client):
    """A ``dask.distributed`` client, or a ValueError (an ImportError without Dask).

    Parameters
    ----------
    client : distributed.Client
    """
    if not isinstance(client, _import_distributed().Client):
        raise ValueError(f"client must be a dask.distributed Client, got {type(client).__name__}.")


class TaskPayload:
    """What every task needs, shipped to the workers once.

    Parameters
    ----------
    metric : ConformalMetric
    graph : ConformalGraph or None
        The graph starting every batch.
    coordinates : ndarray, shape=[n_points, n_coords]
    pairs : sized object whose ``take(begin, stop)`` gives point indices
    batch_size : int
    """

    def __init__(self, metric, graph, coordinates, pairs, batch_size):
        self.metric = metric
        self.graph = graph
        self.coordinates = coordinates
        self.pairs = pairs
        self.batch_size = batch_size


def run_tasks(payload, ranges, client=None, n_jobs=1):
    """``(begin, stop, (dist, status, message))`` of the tasks ``ranges``, as they finish.

    Parameters
    ----------
    payload : TaskPayload
    ranges : list of (int, int)
        ``(begin, stop)`` of each task's pairs.
    client : distributed.Client, optional
        Run the tasks on this Dask cluster.
    n_jobs : int
        Without a client, worker processes of this machine (joblib's loky
        backend); 1 runs the tasks in this process, in order.

    Returns
    -------
    results : iterable of (int, int, tuple)
        ``dist`` and ``status``, shape ``[stop - begin]``, and ``message``, as
        :func:`~geomstats_density.distance_batches.solve_batch` gives them.
    """
    if not ranges:
        return ()
    if client is not None:
        return _dask_batches(client, payload, ranges)
    if joblib.effective_n_jobs(n_jobs) > 1:
        return _process_batches(n_jobs, payload, ranges)
    return ((begin, stop, _task(payload, begin, stop)) for begin, stop in ranges)


def _task(payload, begin, stop):
    """Solve the pairs ``begin`` to ``stop`` in batches of ``payload.batch_size``."""
    dist = np.zeros(stop - begin)
    status = np.zeros(stop - begin, dtype=int)
    first_message = None
    for first in range(begin, stop, payload.batch_size):
        last = min(first + payload.batch_size, stop)
        rows, cols = payload.pairs.take(first, last)
        batch_dist, batch_status, message = solve_batch(
            payload.metric, payload.graph, payload.coordinates, rows, cols
        )
        dist[first - begin : last - begin] = batch_dist
        status[first - begin : last - begin] = batch_status
        first_message = first_message or message
    return dist, status, first_message


def _process_task(payload, begin, stop, torch_threads):
    """:func:`_task` in a worker process, with its share of the cores for torch."""
    torch.set_num_threads(torch_threads)
    return begin, stop, _task(payload, begin, stop)


def _process_batches(n_jobs, payload, ranges):
    """``(begin, stop, (dist, status, message))`` of the tasks ``ranges``, in worker processes."""
    n_workers = joblib.effective_n_jobs(n_jobs)
    torch_threads = max(1, (os.cpu_count() or 1) // n_workers)
    parallel = joblib.Parallel(n_jobs=n_workers, return_as="generator_unordered")
    return parallel(
        joblib.delayed(_process_task)(payload, begin, stop, torch_threads) for begin, stop in ranges
    )


def _identity(payload):
    """The payload, as the result of the task that ships it to the workers."""
    return payload


def _dask_batches(client, payload, ranges):
    """``(begin, stop, (dist, status, message))`` of the tasks ``ranges``, as they finish."""
    distributed = _import_distributed()
    # The payload as a task's result, not scattered data: the scheduler's memory
    # manager keeps one copy of data that no queued task needs, and a lost copy
    # of scattered data is lost for good, while a task's result is computed again.
    shipped = client.submit(_identity, payload, pure=False)
    futures, range_of = [], {}
    for begin, stop in ranges:
        future = client.submit(_task, shipped, begin, stop, pure=False)
        futures.append(future)
        range_of[future.key] = (begin, stop)
    try:
        for future in distributed.as_completed(futures):
            begin, stop = range_of[future.key]
            yield begin, stop, future.result()
    finally:
        client.cancel([*futures, shipped])
