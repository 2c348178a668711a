"""Many distances at once: batches, one graph start, progress bars, Dask."""

import math
import sys
import warnings

import geomstats.backend as gs
import numpy as np
import pytest
import torch
from conftest import as_numpy, random_half_plane_points
from geomstats.geometry.euclidean import Euclidean

from geomstats_density import (
    DensityConformalMetric,
    GeodesicConvergenceError,
    GeodesicConvergenceWarning,
)
from geomstats_density.densities import GaussianMixture
from geomstats_density.distances import paired_distances, pairwise_distances
from geomstats_density.quality import RealismIndex


def ring_space(n_points=8, n_modes=5, radius=3.0, spread=0.6):
    """A 2-D mixture whose modes sit on a circle: a graph start is used (multimodal)."""
    angles = torch.arange(n_modes, dtype=torch.float64) * 2 * math.pi / n_modes
    means = radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=-1)
    covariances = (spread**2 * torch.eye(2, dtype=torch.float64)).expand(n_modes, 2, 2)
    mixture = GaussianMixture(torch.ones(n_modes), means, covariances)
    quality = RealismIndex(mixture, random_state=0)
    space = Euclidean(2, equip=False)
    space.equip_with_metric(
        DensityConformalMetric,
        log_quality=quality,
        solver_options=dict(n_nodes=17, tol=None, graph_options=dict(grid_size=49)),
    )
    points = as_numpy(mixture.sample(n_points, random_state=1))
    return space, points


def closed_form_matrix(hyperbolic, points):
    """geomstats' closed-form hyperbolic distances between all pairs of points."""
    rows, cols = np.meshgrid(np.arange(len(points)), np.arange(len(points)), indexing="ij")
    return as_numpy(
        hyperbolic.metric.dist(gs.array(points[rows.ravel()]), gs.array(points[cols.ravel()]))
    ).reshape(len(points), len(points))


def test_half_plane_matrix_matches_geomstats_closed_form(half_plane, hyperbolic):
    points = random_half_plane_points(11, seed=3)
    expected = closed_form_matrix(hyperbolic, points)
    ours = as_numpy(pairwise_distances(gs.array(points), metric=half_plane.metric, batch_size=8))
    np.testing.assert_allclose(ours, expected, rtol=1e-7, atol=1e-12)
    np.testing.assert_array_equal(np.diag(ours), 0.0)
    np.testing.assert_array_equal(ours, ours.T)
    # The geomstats method delegates to the same batches.
    np.testing.assert_array_equal(
        as_numpy(half_plane.metric.dist_pairwise(gs.array(points), batch_size=8)), ours
    )


def test_chunked_equals_unchunked(half_plane):
    points = gs.array(random_half_plane_points(7, seed=4))
    whole = as_numpy(pairwise_distances(points, metric=half_plane.metric, batch_size=1000))
    for batch_size in (1, 5):
        chunked = as_numpy(
            pairwise_distances(points, metric=half_plane.metric, batch_size=batch_size)
        )
        # Each batch refines its node counts until its own pairs meet tol=1e-8.
        np.testing.assert_allclose(chunked, whole, rtol=1e-7, atol=1e-12)
    # One batch is exactly what the unbatched solve did.
    rows, cols = np.triu_indices(7, k=1)
    direct = as_numpy(half_plane.metric.dist(points[rows], points[cols]))
    np.testing.assert_array_equal(whole[rows, cols], direct)


def test_paired_distances_match_dist(half_plane):
    points_a = random_half_plane_points(10, seed=5)
    points_b = random_half_plane_points(10, seed=6)
    points_b[3] = points_a[3]
    expected = as_numpy(half_plane.metric.dist(gs.array(points_a), gs.array(points_b)))
    whole = paired_distances(gs.array(points_a), gs.array(points_b), metric=half_plane.metric)
    np.testing.assert_array_equal(as_numpy(whole), expected)
    assert as_numpy(whole)[3] == 0.0
    chunked = paired_distances(
        gs.array(points_a), gs.array(points_b), metric=half_plane.metric, batch_size=3
    )
    np.testing.assert_allclose(as_numpy(chunked), expected, rtol=1e-7)
    # Broadcasting, as metric.dist does: one point against many.
    one_to_many = paired_distances(
        gs.array(points_a[0]), gs.array(points_b), metric=half_plane.metric
    )
    np.testing.assert_allclose(
        as_numpy(one_to_many),
        as_numpy(half_plane.metric.dist(gs.array(points_a[:1]), gs.array(points_b))),
        rtol=1e-7,
    )


def test_repeated_points_are_at_distance_zero(half_plane, hyperbolic):
    points = random_half_plane_points(5, seed=7)
    points = np.concatenate([points, points[[1, 3]]])
    ours = as_numpy(half_plane.metric.dist_pairwise(gs.array(points), batch_size=4))
    assert ours[1, 5] == ours[5, 1] == ours[3, 6] == 0.0
    np.testing.assert_allclose(ours, closed_form_matrix(hyperbolic, points), rtol=1e-7, atol=1e-12)


def test_small_inputs(half_plane):
    one = pairwise_distances(gs.array([[0.0, 1.0]]), metric=half_plane.metric)
    assert as_numpy(one).shape == (1, 1)
    empty = as_numpy(pairwise_distances(gs.zeros((0, 2)), metric=half_plane.metric))
    assert empty.shape == (0, 0)


def test_progress_bar_on_and_off(half_plane, capsys):
    points = gs.array(random_half_plane_points(6, seed=8))
    shown = as_numpy(
        pairwise_distances(points, metric=half_plane.metric, batch_size=4, progress=True)
    )
    assert "distances" in capsys.readouterr().err
    hidden = as_numpy(
        pairwise_distances(points, metric=half_plane.metric, batch_size=4, progress=False)
    )
    assert capsys.readouterr().err == ""
    np.testing.assert_array_equal(shown, hidden)
    # Few pairs: no bar by default; the solver's own bars stay off in batches.
    pairwise_distances(points, metric=half_plane.metric, batch_size=4)
    assert capsys.readouterr().err == ""
    assert half_plane.metric.log_solver.progress is None


def test_one_graph_serves_every_batch(monkeypatch):
    space, points = ring_space()
    solver = space.metric.log_solver
    built = []
    original = solver.start_graph

    def counting_start_graph(metric, start, end):
        graph = original(metric, start, end)
        built.append(graph)
        return graph

    monkeypatch.setattr(solver, "start_graph", counting_start_graph)
    chunked = as_numpy(pairwise_distances(points, metric=space.metric, batch_size=5))
    assert len(built) == 1 and built[0] is not None
    # The grid covers the box of all the points.
    assert np.all(built[0].vertices.min(0) <= points.min(0))
    assert np.all(built[0].vertices.max(0) >= points.max(0))
    whole = as_numpy(pairwise_distances(points, metric=space.metric, batch_size=100))
    assert len(built) == 2
    # Same graph; a batch's other endpoints join it as vertices, so a few paths,
    # hence local minima of the 17-node energy, differ slightly.
    np.testing.assert_allclose(chunked, whole, rtol=1e-4)
    # Somewhere the graph start found a shorter route than the straight line.
    rows, cols = np.triu_indices(len(points), k=1)
    solver.global_start.initialization = "line"
    from_line = as_numpy(space.metric.dist(gs.array(points[rows]), gs.array(points[cols])))
    assert np.any(whole[rows, cols] < from_line - 1e-4)


@pytest.mark.parametrize(
    "points, match",
    [
        (np.zeros((4, 3)), r"X must have shape \[\.\.\., 2\]"),
        (np.ones((2, 3, 2)), r"X must have shape \[n_points"),
        (np.array([0.0, 1.0]), r"X must have shape \[n_points"),
        (np.array([[0.0, 1.0], [np.nan, 1.0]]), "X has a NaN or infinite coordinate"),
    ],
)
def test_bad_points_raise(half_plane, points, match):
    with pytest.raises(ValueError, match=match):
        pairwise_distances(gs.array(points), metric=half_plane.metric)


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, True, None])
def test_bad_batch_size_raises(half_plane, batch_size):
    points = gs.array(random_half_plane_points(4, seed=9))
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        pairwise_distances(points, metric=half_plane.metric, batch_size=batch_size)
    if batch_size is not None:
        with pytest.raises(ValueError, match="batch_size must be a positive integer"):
            half_plane.metric.dist_pairwise(points, batch_size=batch_size)


def test_other_bad_arguments_raise(half_plane):
    points = gs.array(random_half_plane_points(4, seed=10))
    with pytest.raises(ValueError, match="progress must be True, False or None"):
        pairwise_distances(points, metric=half_plane.metric, progress="yes")
    with pytest.raises(ValueError, match="batches_per_task must be a positive integer"):
        pairwise_distances(points, metric=half_plane.metric, batches_per_task=0)
    with pytest.raises(ValueError, match="Cannot broadcast"):
        paired_distances(points, points[:3], metric=half_plane.metric)
    with pytest.raises(ValueError, match="Y has a NaN"):
        paired_distances(points, gs.array([[np.nan, 1.0]]), metric=half_plane.metric)


def test_one_warning_for_all_batches_and_solver_restored(half_plane):
    solver = half_plane.metric.log_solver
    solver.max_nodes = 17  # tol=1e-8 is out of reach with 17 nodes
    points = gs.array(random_half_plane_points(6, seed=11))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pairwise_distances(points, metric=half_plane.metric, batch_size=4)
    messages = [w for w in caught if issubclass(w.category, GeodesicConvergenceWarning)]
    assert len(messages) == 1
    assert "15 of 15 geodesic distances did not converge" in str(messages[0].message)
    assert solver.on_failure == "warn" and solver.progress is None
    solver.on_failure = "raise"
    with pytest.raises(GeodesicConvergenceError):
        pairwise_distances(points, metric=half_plane.metric, batch_size=4)


def test_missing_dask_names_the_extra(half_plane, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    points = gs.array(random_half_plane_points(4, seed=12))
    with pytest.raises(ImportError, match=r"geomstats-density\[distributed\]"):
        pairwise_distances(points, metric=half_plane.metric, client=object())


def test_worker_processes_equal_local(half_plane):
    """n_jobs=2: the same batches solved in two processes give the same matrix."""
    space, points = ring_space(n_points=6)
    local = as_numpy(pairwise_distances(points, metric=space.metric, batch_size=4))
    np.testing.assert_array_equal(
        as_numpy(space.metric.dist_pairwise(points, batch_size=4, n_jobs=2)), local
    )
    half_plane.metric.log_solver.tol = 1e-5  # equality needs no accuracy: keep it quick
    points_a = gs.array(random_half_plane_points(5, seed=3))
    points_b = gs.array(random_half_plane_points(5, seed=4))
    np.testing.assert_array_equal(
        as_numpy(
            paired_distances(points_a, points_b, metric=half_plane.metric, batch_size=2, n_jobs=-1)
        ),
        as_numpy(paired_distances(points_a, points_b, metric=half_plane.metric, batch_size=2)),
    )


@pytest.mark.parametrize("n_jobs", [0, 1.5, True, "2"])
def test_bad_n_jobs_raises(half_plane, n_jobs):
    points = gs.array(random_half_plane_points(3, seed=1))
    with pytest.raises(ValueError, match="n_jobs must be a non-zero integer"):
        pairwise_distances(points, metric=half_plane.metric, n_jobs=n_jobs)


# ----------------------------------------------------------------------
# Dask: a local cluster of two worker processes.
# ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            worker_dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def test_dask_equals_local(half_plane, dask_client):
    half_plane.metric.log_solver.tol = 1e-5  # equality needs no accuracy: keep it quick
    points = gs.array(random_half_plane_points(7, seed=13))
    local = as_numpy(pairwise_distances(points, metric=half_plane.metric, batch_size=6))
    for batches_per_task in (1, 3):
        remote = as_numpy(
            half_plane.metric.dist_pairwise(
                points, batch_size=6, client=dask_client, progress=False
            )
            if batches_per_task == 1
            else pairwise_distances(
                points,
                metric=half_plane.metric,
                batch_size=6,
                client=dask_client,
                batches_per_task=batches_per_task,
            )
        )
        np.testing.assert_array_equal(remote, local)


def test_dask_ships_the_graph_and_the_density(dask_client):
    space, points = ring_space(n_points=6)
    local = as_numpy(pairwise_distances(points, metric=space.metric, batch_size=10))
    remote = as_numpy(
        pairwise_distances(points, metric=space.metric, batch_size=10, client=dask_client)
    )
    np.testing.assert_array_equal(remote, local)
    points_a, points_b = points[:3], points[3:]
    np.testing.assert_array_equal(
        as_numpy(paired_distances(points_a, points_b, metric=space.metric, client=dask_client)),
        as_numpy(paired_distances(points_a, points_b, metric=space.metric)),
    )


def test_client_and_n_jobs_together_raise(half_plane, dask_client):
    points = gs.array(random_half_plane_points(3, seed=1))
    with pytest.raises(ValueError, match="either a Dask client or n_jobs"):
        pairwise_distances(points, metric=half_plane.metric, client=dask_client, n_jobs=2)


def test_bad_client_raises(half_plane):
    pytest.importorskip("distributed")
    points = gs.array(random_half_plane_points(4, seed=14))
    with pytest.raises(ValueError, match="client must be a dask.distributed Client"):
        pairwise_distances(points, metric=half_plane.metric, client="tcp://scheduler:8786")


class _StraightLog:
    """A log solver without batched distances: geomstats' loop over pairs."""

    def log(self, point, base_point):
        return point - base_point


# geomstats' own dist_pairwise builds a sparse tensor the deprecated way (pytorch).
@pytest.mark.filterwarnings("ignore:torch.sparse.SparseTensor:UserWarning")
def test_solver_without_batches_falls_back_to_geomstats(half_plane):
    points = gs.array(random_half_plane_points(3, seed=15))
    half_plane.metric.log_solver = _StraightLog()
    with pytest.raises(ValueError, match="has no batched solve: use metric.dist_pairwise"):
        pairwise_distances(points, metric=half_plane.metric)
    matrix = as_numpy(half_plane.metric.dist_pairwise(points))
    assert matrix.shape == (3, 3)
    np.testing.assert_allclose(matrix, matrix.T)
