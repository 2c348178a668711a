"""Approximate distances of large sets: shortest paths on one k-NN graph."""

import math

import numpy as np
import pytest
import torch
from conftest import as_numpy, half_plane_log_factor
from geomstats.geometry.euclidean import Euclidean

from geomstats_density import (
    ConformalMetric,
    DensityConformalMetric,
    DomainError,
    GeodesicConvergenceWarning,
    NewtonGeodesicSolver,
)
from geomstats_density import neighbor_graph as neighbor_graph_module
from geomstats_density.densities import Gaussian
from geomstats_density.graph_distances import DistanceGraph, graph_distances
from geomstats_density.quality import RealismIndex


def half_plane_distance(a, b):
    """The closed form ``arccosh(1 + |a - b|^2 / (2 y_a y_b))``, ``[n_a, n_b]``."""
    sq = ((a[:, None] - b[None]) ** 2).sum(-1)
    return np.arccosh(1.0 + sq / (2.0 * a[:, None, 1] * b[None, :, 1]))


def box_points(n_points, seed):
    rng = np.random.default_rng(seed)
    return np.c_[rng.uniform(-1.0, 1.0, n_points), rng.uniform(0.5, 2.0, n_points)]


def half_plane_space():
    space = Euclidean(2, equip=False)
    space.equip_with_metric(ConformalMetric, log_factor=half_plane_log_factor)
    return space


@pytest.fixture
def half_plane():
    return half_plane_space()


def relative_errors(dist, reference):
    positive = reference > 0
    return (dist[positive] - reference[positive]) / reference[positive]


def test_constant_factor_on_a_grid_is_the_8_neighbour_path_length():
    """With a constant factor ``c`` the trapezoid rule is exact, and a grid's
    k = 8 graph holds every 8-neighbour edge: the graph distance lies between the
    straight length ``c |d|`` and the 8-neighbour path ``c h (sqrt(2) m + M - m)``
    (``M >= m`` the steps along the axes), which the interior of the grid attains."""
    step, c = 0.1, 3.0
    axis = step * np.arange(11)
    grid = np.stack(np.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2)
    space = Euclidean(2, equip=False)
    space.equip_with_metric(
        ConformalMetric,
        log_factor=lambda z: torch.full(z.shape[:-1], 2 * math.log(c), dtype=z.dtype),
    )
    dist = as_numpy(graph_distances(grid, metric=space.metric, n_neighbors=8))
    steps = np.abs(grid[:, None] - grid[None]) / step
    low, high = steps.min(-1), steps.max(-1)
    eight_neighbour = c * step * (math.sqrt(2) * low + high - low)
    straight = c * np.linalg.norm(grid[:, None] - grid[None], axis=-1)
    assert np.all(dist >= straight * (1 - 1e-12))
    assert np.all(dist <= eight_neighbour * (1 + 1e-12))
    interior = np.flatnonzero(np.all((grid > 0.25) & (grid < 0.75), axis=-1))
    np.testing.assert_allclose(
        dist[np.ix_(interior, interior)], eight_neighbour[np.ix_(interior, interior)], rtol=1e-12
    )
    # The worst direction, atan(1/2)-ish steps, is at most sqrt(4 - 2 sqrt(2)) too long.
    moving = straight > 0
    assert np.max(dist[moving] / straight[moving]) <= math.sqrt(4 - 2 * math.sqrt(2)) + 1e-12


def test_half_plane_graph_distances_converge_to_the_closed_form(half_plane):
    """Denser points and more neighbours shrink the paths' detours: measured
    against the closed form, the median relative error falls from about 4% (300
    points, 10 neighbours) to below 0.6% (3000 points, 40 neighbours), and every
    entry stays an upper bound (up to the edges' quadrature error)."""
    medians = []
    for n_points, n_neighbors in ((300, 10), (3000, 40)):
        points = box_points(n_points, seed=1)
        graph = DistanceGraph(points, metric=half_plane.metric, n_neighbors=n_neighbors)
        rows = np.arange(0, n_points, n_points // 30)
        errors = relative_errors(
            as_numpy(graph.rows(rows)), half_plane_distance(points[rows], points)
        )
        assert errors.min() > -1e-6  # upper bounds
        medians.append(np.median(errors))
    assert medians[0] > 0.02
    assert medians[1] < 0.006
    assert medians[1] < medians[0] / 5


def test_finer_edge_quadrature_makes_graph_distances_upper_bounds(half_plane):
    """Long edges (few points) measured on many sub-pieces: every graph distance
    is the length of a polygon, hence at least the closed-form distance."""
    points = box_points(60, seed=2)
    coarse = as_numpy(graph_distances(points, metric=half_plane.metric, n_pieces=1))
    fine = as_numpy(graph_distances(points, metric=half_plane.metric, n_pieces=64))
    reference = half_plane_distance(points, points)
    assert relative_errors(fine, reference).min() > -1e-9
    # One trapezoid per edge overestimates 1/y's convex root factor: longer still.
    assert np.all(coarse >= fine - 1e-12)


def test_extra_points_carry_the_paths_where_the_data_are_not(half_plane):
    """Points on a low band: the half-plane's geodesics between far points arc up
    to where there are none. Extra points up there carry the paths: the median
    error against the closed form falls from about 6% to below 1%."""
    rng = np.random.default_rng(3)
    points = np.c_[rng.uniform(-3.0, 3.0, 40), rng.uniform(0.5, 1.0, 40)]
    extra = np.c_[rng.uniform(-3.5, 3.5, 3000), np.exp(rng.uniform(np.log(0.4), np.log(4), 3000))]
    reference = half_plane_distance(points, points)
    options = dict(metric=half_plane.metric, n_neighbors=30)
    alone = relative_errors(as_numpy(graph_distances(points, **options)), reference)
    helped = relative_errors(
        as_numpy(graph_distances(points, extra_points=extra, **options)), reference
    )
    assert np.median(alone) > 0.04
    assert np.median(helped) < 0.01
    assert helped.min() > -1e-6


def test_an_integer_of_extra_points_draws_the_density_samples():
    density = Gaussian(torch.tensor([0.0, 1.0], dtype=torch.float64))
    space = Euclidean(2, equip=False)
    space.equip_with_metric(DensityConformalMetric, log_quality=RealismIndex(density))
    points = as_numpy(density.sample(20, random_state=1))
    graph = DistanceGraph(points, metric=space.metric, extra_points=100)
    expected = np.concatenate([points, as_numpy(density.sample(100, random_state=0))])
    assert graph.n_vertices == 120
    assert {tuple(vertex) for vertex in graph.vertices} == {tuple(point) for point in expected}
    with pytest.raises(ValueError, match="needs graph_points, or a DensityConformalMetric"):
        DistanceGraph(points, metric=half_plane_space().metric, extra_points=10)


def test_hubs_join_far_clusters_by_straight_long_edges():
    """A constant factor ``c``: the hub edge between two cluster centres is the
    straight segment, so their graph distance is ``c |centre_1 - centre_0|``."""
    c = 2.0
    space = Euclidean(3, equip=False)
    space.equip_with_metric(
        ConformalMetric,
        log_factor=lambda z: torch.full(z.shape[:-1], 2 * math.log(c), dtype=z.dtype),
    )
    rng = np.random.default_rng(10)
    centres = np.array([[0.0, 0.0, 0.0], [5.0, 1.0, 0.0]])
    points = np.concatenate(
        [
            centres[0] + 0.3 * rng.normal(size=(40, 3)),
            centres,
            centres[1] + 0.3 * rng.normal(size=(40, 3)),
        ]
    )
    options = dict(metric=space.metric, n_neighbors=10, bridges=False)
    with pytest.raises(ValueError, match="falls apart into 2 pieces"):
        graph_distances(points, **options)
    dist = as_numpy(graph_distances(points, hubs=centres, **options))
    assert dist[40, 41] == pytest.approx(c * np.linalg.norm(centres[1] - centres[0]), rel=1e-12)
    assert np.all(np.isfinite(dist))
    with pytest.raises(ValueError, match="hubs must have shape"):
        graph_distances(points, hubs=centres[:, :2], **options)


def test_refine_solves_the_chosen_pairs_exactly(half_plane):
    points = box_points(50, seed=5)
    graph_only = as_numpy(graph_distances(points, metric=half_plane.metric))
    refined = as_numpy(graph_distances(points, metric=half_plane.metric, refine=2))
    reference = half_plane_distance(points, points)
    changed = refined != graph_only
    assert changed.sum() >= 2 * 50  # two nearest per row, and their mirror images
    np.testing.assert_allclose(refined[changed], reference[changed], rtol=1e-7)
    np.testing.assert_array_equal(refined, refined.T)
    # Equal to metric.dist, which solves them from the straight line.
    rows, cols = np.nonzero(np.triu(changed))
    dist = as_numpy(half_plane.metric.dist(points[rows[:5]], points[cols[:5]]))
    np.testing.assert_allclose(refined[rows[:5], cols[:5]], dist, rtol=1e-7)
    # Given pairs, rectangular: X to Y.
    graph = DistanceGraph(points[:10], points[10:], metric=half_plane.metric)
    exact = as_numpy(graph.refine([0, 3, 9], [5, 0, 39]))
    np.testing.assert_allclose(exact, reference[[0, 3, 9], [15, 10, 49]], rtol=1e-7)


def test_refine_warns_once_for_the_pairs_that_did_not_converge(half_plane):
    half_plane.metric.log_solver = NewtonGeodesicSolver(half_plane, max_iter=1, max_nodes=17)
    graph = DistanceGraph(box_points(30, seed=5), metric=half_plane.metric)
    with pytest.warns(GeodesicConvergenceWarning, match=r"^3 of 3 geodesic distances did not"):
        graph.refine([0, 1, 2], [10, 20, 29])


def test_rows_blocks_and_matrix_agree(half_plane):
    points = box_points(80, seed=6)
    graph = DistanceGraph(points, metric=half_plane.metric)
    matrix = as_numpy(graph.matrix())
    np.testing.assert_array_equal(np.diag(matrix), 0.0)
    np.testing.assert_array_equal(matrix, matrix.T)
    blocks = np.concatenate([as_numpy(block) for _, block in graph.blocks(block_size=30)])
    np.testing.assert_allclose(blocks, matrix, rtol=1e-14)
    np.testing.assert_allclose(as_numpy(graph.rows([5, -1])), matrix[[5, 79]], rtol=1e-14)
    # X against Y is the block of the matrix over X and Y, whichever side Dijkstra runs from.
    for x, y in ((points[:10], points[10:]), (points[10:], points[:10])):
        rectangle = as_numpy(graph_distances(x, y, metric=half_plane.metric))
        whole = as_numpy(graph_distances(np.concatenate([x, y]), metric=half_plane.metric))
        np.testing.assert_allclose(rectangle, whole[: len(x), len(x) :], rtol=1e-14)
    path = as_numpy(graph.path(0, 7))
    np.testing.assert_array_equal(path[[0, -1]], points[[0, 7]])


def test_chunked_runs_give_the_same_matrix(half_plane, monkeypatch):
    """Dijkstra's sources and the symmetrisation in chunks of 7 rows, in this process
    or in worker processes: the same bits."""
    points = box_points(80, seed=6)
    whole = as_numpy(graph_distances(points, metric=half_plane.metric))
    monkeypatch.setattr(neighbor_graph_module, "DIJKSTRA_ENTRIES", 7 * 80)
    chunked = as_numpy(graph_distances(points, metric=half_plane.metric))
    np.testing.assert_array_equal(chunked, whole)
    np.testing.assert_array_equal(chunked, chunked.T)
    # The same chunks in two worker processes.
    in_workers = as_numpy(graph_distances(points, metric=half_plane.metric, n_jobs=2))
    np.testing.assert_array_equal(in_workers, whole)


def test_equal_points_are_at_distance_zero(half_plane):
    points = box_points(20, seed=7)
    points = np.concatenate([points, points[:3]])
    dist = as_numpy(graph_distances(points, metric=half_plane.metric))
    np.testing.assert_array_equal(dist[20:23], dist[:3])
    np.testing.assert_array_equal(dist[[20, 21, 22], [0, 1, 2]], 0.0)


def two_clusters():
    rng = np.random.default_rng(8)
    left = np.c_[rng.uniform(-1.0, -0.6, 30), rng.uniform(0.5, 1.5, 30)]
    return np.concatenate([left, left + [1.6, 0.0]])


def test_disconnected_graph_raises_or_warns(half_plane):
    points = two_clusters()
    options = dict(metric=half_plane.metric, n_neighbors=5, bridges=False)
    with pytest.raises(ValueError, match="falls apart into 2 pieces.*Pass bridges=True"):
        graph_distances(points, **options)
    with pytest.warns(UserWarning, match="falls apart into 2 pieces"):
        dist = as_numpy(graph_distances(points, on_disconnected="warn", **options))
    assert np.all(np.isinf(dist[:30, 30:])) and np.all(np.isfinite(dist[:30, :30]))
    # Enough neighbours to reach across: joined.
    joined = graph_distances(points, metric=half_plane.metric, n_neighbors=30, bridges=False)
    assert np.all(np.isfinite(as_numpy(joined)))


def test_bridges_join_the_pieces_with_upper_bounds(half_plane):
    """Two clusters 0.8 apart, 5 neighbours each: the bridges between them make
    paths whose lengths bound the closed form from above (the half-plane's
    geodesics arc up out of the clusters, which the paths cannot: about 8% longer
    in the median)."""
    points = two_clusters()
    graph = DistanceGraph(points, metric=half_plane.metric, n_neighbors=5)
    across = as_numpy(graph.rows(np.arange(30)))[:, 30:]
    errors = relative_errors(across, half_plane_distance(points[:30], points[30:]))
    assert errors.min() > -1e-9 and np.median(errors) < 0.1 and errors.max() < 0.45


def test_a_quality_of_zero_between_clusters_cuts_the_graph():
    """log Q = -inf on a strip: the factor is infinite there, edges across it are
    dropped (not NaN), and the points on either side are not joined."""

    def log_quality(z):
        inside = torch.abs(z[..., 0]) < 0.3
        return torch.where(inside, -torch.inf, -0.5 + 0.1 * torch.tanh(z[..., 1]))

    space = Euclidean(2, equip=False)
    space.equip_with_metric(DensityConformalMetric, log_quality=log_quality)
    points = two_clusters()
    with pytest.raises(ValueError, match="falls apart into 2 pieces.*not even across.*bridges"):
        graph_distances(points, metric=space.metric)
    with pytest.raises(ValueError, match="falls apart into 2 pieces.*quality 0"):
        graph_distances(points, metric=space.metric, n_neighbors=59, bridges=False)
    with pytest.raises(DomainError, match="X has a point outside the metric's domain"):
        graph_distances(np.r_[points, [[0.0, 1.0]]], metric=space.metric)


def test_bad_input_raises(half_plane):
    points = box_points(10, seed=9)
    metric = half_plane.metric
    with pytest.raises(ValueError, match="X"):
        graph_distances(np.r_[points, [[np.nan, 1.0]]], metric=metric)
    with pytest.raises(ValueError, match="Y must have shape"):
        graph_distances(points, np.ones((3, 3)), metric=metric)
    with pytest.raises(ValueError, match="extra_points must have shape"):
        graph_distances(points, metric=metric, extra_points=np.ones((3, 1)))
    with pytest.raises(ValueError, match="n_neighbors"):
        graph_distances(points, metric=metric, n_neighbors=0)
    with pytest.raises(ValueError, match="n_pieces"):
        graph_distances(points, metric=metric, n_pieces=2.5)
    with pytest.raises(ValueError, match="on_disconnected"):
        graph_distances(points, metric=metric, on_disconnected="ignore")
    with pytest.raises(ValueError, match="n_jobs must be a non-zero integer"):
        graph_distances(points, metric=metric, n_jobs=0)
    with pytest.raises(ValueError, match="bridges must be True or False"):
        graph_distances(points, metric=metric, bridges=1)
    with pytest.raises(ValueError, match="progress"):
        graph_distances(points, metric=metric, progress="yes")
    with pytest.raises(ValueError, match="refine"):
        graph_distances(points, metric=metric, refine=[1, 2])
    with pytest.raises(ValueError, match="refine has rows outside"):
        graph_distances(points, metric=metric, refine=[[0, 1], [10, 2]])
    with pytest.raises(DomainError, match="X has a point outside"):
        graph_distances(np.r_[points, [[0.0, -1.0]]], metric=metric)
    graph = DistanceGraph(points, metric=metric)
    with pytest.raises(ValueError, match="indices must lie in"):
        graph.rows([10])
    with pytest.raises(ValueError, match="rows and cols differ"):
        graph.refine([0, 1], [2])
