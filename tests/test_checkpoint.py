"""Checkpoints of distance matrices: an interrupted run resumes to the uninterrupted matrix."""

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import geomstats.backend as gs
import numpy as np
import pytest
import torch
from conftest import as_numpy, random_half_plane_points

from geomstats_density import GeodesicConvergenceWarning
from geomstats_density import distance_tasks as tasks_module
from geomstats_density import distances as distances_module
from geomstats_density.distances import paired_distances, pairwise_distances

PYTORCH = gs.__name__.endswith("pytorch")
TESTS = os.path.dirname(os.path.abspath(__file__))


def task_files(checkpoint):
    return sorted(name for name in os.listdir(checkpoint) if name.startswith("task-"))


def count_solves(monkeypatch, interrupt_after=None):
    """Count the batches solved in this process; raise Ctrl-C's exception after some."""
    solved = []
    solve_batch = tasks_module.solve_batch

    def counting(*args):
        if interrupt_after is not None and len(solved) == interrupt_after:
            raise KeyboardInterrupt
        solved.append(len(args[-1]))
        return solve_batch(*args)

    monkeypatch.setattr(tasks_module, "solve_batch", counting)
    return solved


def interrupt_then_resume(
    monkeypatch, tmp_path, metric, *points, batch_size, after, distances=pairwise_distances
):
    """The distances of a run interrupted after ``after`` batches and resumed, and its batches."""
    checkpoint = tmp_path / "matrix"
    with monkeypatch.context() as patch:
        count_solves(patch, interrupt_after=after)
        with pytest.raises(KeyboardInterrupt):
            distances(*points, metric=metric, batch_size=batch_size, checkpoint=checkpoint)
    assert len(task_files(checkpoint)) == after
    with monkeypatch.context() as patch:
        solved = count_solves(patch)
        resumed = distances(*points, metric=metric, batch_size=batch_size, checkpoint=checkpoint)
    return as_numpy(resumed), solved


def test_interrupted_run_resumes_to_the_uninterrupted_matrix(half_plane, monkeypatch, tmp_path):
    metric = half_plane.metric
    points = gs.array(random_half_plane_points(7, seed=21))  # 21 pairs: 6 batches of 4
    uninterrupted = as_numpy(pairwise_distances(points, metric=metric, batch_size=4))
    resumed, solved = interrupt_then_resume(
        monkeypatch, tmp_path, metric, points, batch_size=4, after=2
    )
    assert np.array_equal(resumed, uninterrupted)
    assert solved == [4, 4, 4, 1]  # the batches of pairs 8 to 20 only
    # A finished checkpoint gives the matrix without a solve.
    with monkeypatch.context() as patch:
        solved = count_solves(patch)
        again = pairwise_distances(
            points, metric=metric, batch_size=4, checkpoint=tmp_path / "matrix"
        )
    assert solved == [] and np.array_equal(as_numpy(again), uninterrupted)


def test_rectangle_resumes(half_plane, monkeypatch, tmp_path):
    metric = half_plane.metric
    test = gs.array(random_half_plane_points(3, seed=22))
    train = gs.array(random_half_plane_points(5, seed=23))  # 15 pairs: 4 batches of 4
    uninterrupted = as_numpy(pairwise_distances(test, train, metric=metric, batch_size=4))
    resumed, solved = interrupt_then_resume(
        monkeypatch, tmp_path, metric, test, train, batch_size=4, after=3
    )
    assert resumed.shape == (3, 5)
    assert np.array_equal(resumed, uninterrupted)
    assert solved == [3]


def test_resumed_statuses_report_as_a_fresh_run(half_plane, monkeypatch, tmp_path):
    half_plane.metric.log_solver.max_nodes = 17  # tol=1e-8 is out of reach with 17 nodes
    points = gs.array(random_half_plane_points(6, seed=11))

    def warning_of(call):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call()
        [warning] = [w for w in caught if issubclass(w.category, GeodesicConvergenceWarning)]
        return str(warning.message)

    fresh = warning_of(lambda: pairwise_distances(points, metric=half_plane.metric, batch_size=4))
    assert "15 of 15 geodesic distances did not converge" in fresh
    checkpoint = tmp_path / "matrix"
    with monkeypatch.context() as patch, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        count_solves(patch, interrupt_after=2)
        with pytest.raises(KeyboardInterrupt):
            pairwise_distances(
                points, metric=half_plane.metric, batch_size=4, checkpoint=checkpoint
            )
    # Half of the pairs loaded, half solved; then all of them loaded.
    for _ in range(2):
        resumed = warning_of(
            lambda: pairwise_distances(
                points, metric=half_plane.metric, batch_size=4, checkpoint=checkpoint
            )
        )
        assert resumed == fresh


def test_paired_distances_resume(half_plane, monkeypatch, tmp_path):
    metric = half_plane.metric
    starts = gs.array(random_half_plane_points(10, seed=32).reshape(2, 5, 2))
    ends = gs.array(random_half_plane_points(10, seed=33).reshape(2, 5, 2))
    uninterrupted = as_numpy(paired_distances(starts, ends, metric=metric, batch_size=3))
    resumed, solved = interrupt_then_resume(
        monkeypatch,
        tmp_path,
        metric,
        starts,
        ends,
        batch_size=3,
        after=2,
        distances=paired_distances,
    )  # 10 pairs: 4 batches of 3
    assert resumed.shape == (2, 5)
    assert np.array_equal(resumed, uninterrupted)
    assert solved == [3, 1]


def test_paired_checkpoint_of_another_problem_is_refused(half_plane, tmp_path):
    metric = half_plane.metric
    metric.log_solver.tol = 1e-5  # the values do not matter here: keep it quick
    starts = random_half_plane_points(4, seed=34)
    ends = random_half_plane_points(4, seed=35)
    checkpoint = tmp_path / "pairs"
    paired_distances(
        gs.array(starts), gs.array(ends), metric=metric, batch_size=2, checkpoint=checkpoint
    )
    other_ends = ends.copy()
    other_ends[3, 1] *= 1 + 1e-12
    refusals = {
        "coordinates_sha256": lambda: paired_distances(
            gs.array(starts),
            gs.array(other_ends),
            metric=metric,
            batch_size=2,
            checkpoint=checkpoint,
        ),
        "batch_size": lambda: paired_distances(
            gs.array(starts), gs.array(ends), metric=metric, batch_size=3, checkpoint=checkpoint
        ),
        # The same points [starts; ends], the pairs of a matrix.
        "pairs": lambda: pairwise_distances(
            gs.array(starts), gs.array(ends), metric=metric, batch_size=2, checkpoint=checkpoint
        ),
    }
    for field, call in refusals.items():
        with pytest.raises(ValueError, match=f"{checkpoint}.*another problem.*{field}"):
            call()


KILLED_RUN = """
import sys
import time

sys.path.insert(0, {tests!r})
import geomstats.backend as gs
from conftest import random_half_plane_points
from geomstats.geometry.euclidean import Euclidean

from geomstats_density import ConformalMetric
from geomstats_density import distance_tasks, distances
from conftest import half_plane_log_factor

space = Euclidean(2, equip=False)
space.equip_with_metric(ConformalMetric, log_factor=half_plane_log_factor)
solve_batch, solved = distance_tasks.solve_batch, []


def slow_after_the_first(*args):
    if solved:
        time.sleep(600)  # a long batch, during which the process is killed
    solved.append(1)
    return solve_batch(*args)


distance_tasks.solve_batch = slow_after_the_first
points = gs.array(random_half_plane_points(7, seed=24))
distances.pairwise_distances(
    points, metric=space.metric, batch_size=4, checkpoint={checkpoint!r}
)
"""


def test_killed_process_resumes(half_plane, monkeypatch, tmp_path):
    checkpoint = str(tmp_path / "matrix")
    script = KILLED_RUN.format(tests=TESTS, checkpoint=checkpoint)
    process = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)])
    try:
        deadline = time.monotonic() + 120
        while not (os.path.isdir(checkpoint) and task_files(checkpoint)):
            assert process.poll() is None, "the run ended before it was killed"
            assert time.monotonic() < deadline, "no batch on disk after 120 s"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL
    assert task_files(checkpoint) == ["task-000000000000-000000000004.npz"]
    points = gs.array(random_half_plane_points(7, seed=24))
    uninterrupted = as_numpy(pairwise_distances(points, metric=half_plane.metric, batch_size=4))
    solved = count_solves(monkeypatch)
    resumed = pairwise_distances(
        points, metric=half_plane.metric, batch_size=4, checkpoint=checkpoint
    )
    assert np.array_equal(as_numpy(resumed), uninterrupted)
    assert solved == [4, 4, 4, 4, 1]


WORKERS_RUN = """
import os
import signal
import sys
import time

# Ctrl-C as in a terminal: a suite run in the background (a shell's `&`, nohup)
# hands its children SIGINT ignored, and Python then installs no handler for it.
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.path.insert(0, {tests!r})
import geomstats.backend as gs
import torch
from conftest import random_half_plane_points
from geomstats.geometry.euclidean import Euclidean

from geomstats_density import ConformalMetric
from geomstats_density import distances

PARENT = os.getpid()
CHECKPOINT = {checkpoint!r}


def stalling_half_plane(z):
    # In the worker processes: a long batch from the first task on disk on.
    if os.getpid() != PARENT and any(n.startswith("task-") for n in os.listdir(CHECKPOINT)):
        time.sleep(600)
    return -2.0 * torch.log(z[..., 1])


space = Euclidean(2, equip=False)
space.equip_with_metric(ConformalMetric, log_factor=stalling_half_plane)
space.metric.log_solver.tol = 1e-5
points = gs.array(random_half_plane_points(7, seed=31))
distances.pairwise_distances(
    points, metric=space.metric, batch_size=4, n_jobs=2, checkpoint=CHECKPOINT
)
"""


def session_ended(leader, timeout):
    """Whether every process of the session of ``leader`` ends within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.killpg(leader, 0)
        except ProcessLookupError:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


@pytest.mark.parametrize("interrupt", ["ctrl-c", "kill"])
def test_worker_processes_interrupted_resume(half_plane, monkeypatch, tmp_path, interrupt):
    """A run on loky worker processes (``n_jobs=2``) interrupted mid-batch, resumed.

    Ctrl-C: SIGINT to the parent only; it stops its workers and ends. Kill:
    SIGKILL to the parent and its workers, as a job scheduler ends a job.
    """
    checkpoint = str(tmp_path / "matrix")
    os.mkdir(checkpoint)
    script = WORKERS_RUN.format(tests=TESTS, checkpoint=checkpoint)
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not task_files(checkpoint):
            assert process.poll() is None, "the run ended before it was interrupted"
            assert time.monotonic() < deadline, "no task on disk after 120 s"
            time.sleep(0.05)
        finished = {
            name: os.stat(os.path.join(checkpoint, name)).st_mtime_ns
            for name in task_files(checkpoint)
        }
        if interrupt == "ctrl-c":
            process.send_signal(signal.SIGINT)
        else:
            os.killpg(process.pid, signal.SIGKILL)
        _, errors = process.communicate(timeout=60)
        assert session_ended(process.pid, timeout=30), "worker processes outlived the run"
    finally:
        if not session_ended(process.pid, timeout=0):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    if interrupt == "ctrl-c":
        assert "KeyboardInterrupt" in errors
    assert process.returncode == -(signal.SIGINT if interrupt == "ctrl-c" else signal.SIGKILL)
    missing = 21 - pairs_on_disk(checkpoint)
    assert 0 < missing < 21
    metric = half_plane.metric
    metric.log_solver.tol = 1e-5
    points = gs.array(random_half_plane_points(7, seed=31))
    uninterrupted = as_numpy(pairwise_distances(points, metric=metric, batch_size=4))
    solved = count_solves(monkeypatch)
    resumed = pairwise_distances(points, metric=metric, batch_size=4, checkpoint=checkpoint)
    assert np.array_equal(as_numpy(resumed), uninterrupted)
    assert sum(solved) == missing
    for name, modified in finished.items():
        assert os.stat(os.path.join(checkpoint, name)).st_mtime_ns == modified


def test_checkpoint_of_another_problem_is_refused(half_plane, tmp_path):
    metric = half_plane.metric
    metric.log_solver.tol = 1e-5  # the values do not matter here: keep it quick
    points = random_half_plane_points(5, seed=25)
    checkpoint = tmp_path / "matrix"
    pairwise_distances(gs.array(points), metric=metric, batch_size=4, checkpoint=checkpoint)
    other_points = points.copy()
    other_points[2, 0] += 1e-12
    refusals = {
        "coordinates_sha256": dict(X=gs.array(other_points)),
        "batch_size": dict(batch_size=3),
        "pairs": dict(Y=gs.array(points)),
    }
    for field, change in refusals.items():
        arguments = dict(X=gs.array(points), metric=metric, batch_size=4, checkpoint=checkpoint)
        arguments.update(change)
        with pytest.raises(ValueError, match=f"{checkpoint}.*another problem.*{field}"):
            pairwise_distances(**arguments)
    metric.log_solver.tol = 1e-6
    with pytest.raises(ValueError, match=f"{checkpoint}.*another problem.*solver_options"):
        metric.dist_pairwise(gs.array(points), batch_size=4, checkpoint=checkpoint)
    # Progress bars and warnings are not part of the problem.
    metric.log_solver.tol = 1e-5
    metric.log_solver.on_failure = "ignore"
    metric.dist_pairwise(gs.array(points), batch_size=4, checkpoint=checkpoint, progress=False)


def test_not_a_checkpoint_is_refused(half_plane, tmp_path):
    points = gs.array(random_half_plane_points(3, seed=26))
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    with pytest.raises(ValueError, match="is a file"):
        pairwise_distances(points, metric=half_plane.metric, checkpoint=a_file)
    with pytest.raises(ValueError, match="non-empty directory"):
        pairwise_distances(points, metric=half_plane.metric, checkpoint=tmp_path)
    assert a_file.read_text() == "mine"


@pytest.mark.skipif(not PYTORCH, reason="points require grad under pytorch only")
def test_points_that_require_grad_refuse_a_checkpoint(half_plane, tmp_path):
    points = torch.tensor(random_half_plane_points(3, seed=27), requires_grad=True)
    for call in (
        lambda: pairwise_distances(points, metric=half_plane.metric, checkpoint=tmp_path / "a"),
        lambda: half_plane.metric.dist_pairwise(points, checkpoint=tmp_path / "a"),
        lambda: paired_distances(
            points, points.detach() + 1, metric=half_plane.metric, checkpoint=tmp_path / "a"
        ),
    ):
        with pytest.raises(ValueError, match="require grad"):
            call()
    assert not (tmp_path / "a").exists()


def test_worker_processes_fill_and_resume(half_plane, tmp_path):
    metric = half_plane.metric
    metric.log_solver.tol = 1e-5  # equality needs no accuracy: keep it quick
    points = gs.array(random_half_plane_points(6, seed=28))  # 15 pairs: 4 batches of 4
    uninterrupted = as_numpy(pairwise_distances(points, metric=metric, batch_size=4))
    checkpoint = tmp_path / "matrix"
    filled = pairwise_distances(
        points, metric=metric, batch_size=4, n_jobs=2, checkpoint=checkpoint
    )
    assert np.array_equal(as_numpy(filled), uninterrupted)
    names = task_files(checkpoint)
    assert len(names) == 4
    kept = {name: os.stat(checkpoint / name).st_mtime_ns for name in names[::2]}
    for name in names[1::2]:  # as if the run had stopped before these
        os.remove(checkpoint / name)
    resumed = pairwise_distances(
        points, metric=metric, batch_size=4, n_jobs=2, checkpoint=checkpoint
    )
    assert np.array_equal(as_numpy(resumed), uninterrupted)
    assert task_files(checkpoint) == names
    assert {name: os.stat(checkpoint / name).st_mtime_ns for name in kept} == kept


@pytest.fixture(scope="module")
def dask_client():
    """A client of a local cluster of 2 single-threaded worker processes, for this module."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def test_dask_fills_and_resumes(half_plane, tmp_path, dask_client):
    """The tasks gathered from Dask workers are written by this process."""
    metric = half_plane.metric
    metric.log_solver.tol = 1e-5  # equality needs no accuracy: keep it quick
    points = gs.array(random_half_plane_points(6, seed=29))  # 15 pairs: 4 batches of 4
    uninterrupted = as_numpy(pairwise_distances(points, metric=metric, batch_size=4))
    checkpoint = tmp_path / "matrix"
    filled = pairwise_distances(
        points, metric=metric, batch_size=4, client=dask_client, checkpoint=checkpoint
    )
    names = task_files(checkpoint)
    os.remove(checkpoint / names[-1])  # as if the run had stopped before it
    resumed = metric.dist_pairwise(points, batch_size=4, client=dask_client, checkpoint=checkpoint)
    assert len(names) == 4
    assert np.array_equal(as_numpy(filled), uninterrupted)
    assert np.array_equal(as_numpy(resumed), uninterrupted)
    assert task_files(checkpoint) == names


def pairs_on_disk(checkpoint):
    """The number of pairs of the task files ``task-<first pair>-<stop>.npz``."""
    spans = [re.fullmatch(r"task-(\d+)-(\d+)\.npz", name) for name in task_files(checkpoint)]
    return sum(int(span[2]) - int(span[1]) for span in spans)


def kill_worker_at(first_pairs, markers, checkpoint, tasks_before):
    """Make this Dask worker's process kill itself at the batches starting with these pairs.

    Run on the workers by ``client.run``. A batch waits until ``tasks_before``
    tasks are on disk, so that the run is interrupted in its middle; its marker
    file records the kill, so that each batch kills one worker only.
    """
    solve_batch = tasks_module.solve_batch

    def killing(metric, graph, coordinates, rows, cols):
        for pair, marker in zip(first_pairs, markers):
            if (rows[0], cols[0]) == pair and not os.path.exists(marker):
                deadline = time.monotonic() + 60
                while len(task_files(checkpoint)) < tasks_before and time.monotonic() < deadline:
                    time.sleep(0.05)
                open(marker, "w").close()
                os.kill(os.getpid(), signal.SIGKILL)
        return solve_batch(metric, graph, coordinates, rows, cols)

    killing.unpatched = solve_batch
    tasks_module.solve_batch = killing


def restore_solve_batch():
    """Undo :func:`kill_worker_at` on a worker that survived."""
    patched = tasks_module.solve_batch
    tasks_module.solve_batch = getattr(patched, "unpatched", patched)


@pytest.mark.parametrize("allowed_failures", [0, 3])
def test_lost_dask_worker_resumes(half_plane, monkeypatch, tmp_path, dask_client, allowed_failures):
    """Worker processes killed mid-task: Dask reruns their tasks, or the run fails and resumes.

    With ``allowed-failures`` 0 the scheduler gives up on the first task whose
    worker died (``KilledWorker``); with 3 (Dask's default) it reruns the tasks of
    two killed workers on live ones, the copies of the metric lost with them.
    """
    distributed = pytest.importorskip("distributed")
    metric = half_plane.metric
    metric.log_solver.tol = 1e-5  # equality needs no accuracy: keep it quick
    points = gs.array(random_half_plane_points(7, seed=30))  # 21 pairs: 6 batches of 4
    uninterrupted = as_numpy(pairwise_distances(points, metric=metric, batch_size=4))
    checkpoint = tmp_path / "matrix"
    pairs = distances_module._UpperPairs(7)
    # The first pairs of the 4th and the 6th batches.
    first_pairs = [tuple(int(i[0]) for i in pairs.take(k, k + 1)) for k in (12, 20)]
    markers = [str(tmp_path / f"killed-{k}") for k in (12, 20)]
    kills = 2 if allowed_failures else 1
    monkeypatch.setattr(dask_client.cluster.scheduler, "allowed_failures", allowed_failures)
    dask_client.wait_for_workers(2)
    dask_client.run(kill_worker_at, first_pairs[:kills], markers[:kills], str(checkpoint), 2)
    try:
        if allowed_failures:
            filled = pairwise_distances(
                points, metric=metric, batch_size=4, client=dask_client, checkpoint=checkpoint
            )
            assert np.array_equal(as_numpy(filled), uninterrupted)
        else:
            with pytest.raises(distributed.KilledWorker):
                pairwise_distances(
                    points, metric=metric, batch_size=4, client=dask_client, checkpoint=checkpoint
                )
    finally:
        dask_client.run(restore_solve_batch)
    assert all(os.path.exists(marker) for marker in markers[:kills])  # the workers did die
    missing = 21 - pairs_on_disk(checkpoint)
    # Failed: the 2 tasks waited for are on disk, the killed one is not.
    assert missing == 0 if allowed_failures else 4 <= missing <= 21 - 8
    solved = count_solves(monkeypatch)
    resumed = pairwise_distances(points, metric=metric, batch_size=4, checkpoint=checkpoint)
    assert np.array_equal(as_numpy(resumed), uninterrupted)
    assert sum(solved) == missing
