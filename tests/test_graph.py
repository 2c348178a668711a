"""Graph starts: shortest paths that put the Newton solver in the right basin."""

import itertools
import math

import geomstats.backend as gs
import numpy as np
import pytest
import torch
from conftest import as_numpy
from geomstats.geometry.euclidean import Euclidean

from geomstats_density import ConformalMetric, DensityConformalMetric, NewtonGeodesicSolver
from geomstats_density.curves import resample_nodes
from geomstats_density.densities import GaussianMixture
from geomstats_density.quality import RealismIndex
from geomstats_density.solvers.graph import grid_graph, point_graph

RADIUS = 3.0


def ring_space(dim, n_modes=8, spread=0.5):
    """Modes on a circle in the first two coordinates: the straight line between
    opposite modes crosses the empty centre, the geodesic runs along the ring."""
    angles = torch.arange(n_modes, dtype=torch.float64) * 2 * math.pi / n_modes
    means = torch.zeros(n_modes, dim, dtype=torch.float64)
    means[:, 0], means[:, 1] = RADIUS * torch.cos(angles), RADIUS * torch.sin(angles)
    covariances = (spread**2 * torch.eye(dim, dtype=torch.float64)).expand(n_modes, dim, dim)
    mixture = GaussianMixture(torch.full((n_modes,), 1.0 / n_modes), means, covariances)
    space = Euclidean(dim, equip=False)
    quality = RealismIndex(mixture, random_state=0)
    space.equip_with_metric(DensityConformalMetric, log_quality=quality)
    return space


def opposite_modes(dim):
    start = np.zeros((1, dim))
    start[0, 0] = RADIUS
    return start, -start


def polyline_length(metric, nodes):
    return float(torch.sqrt(metric.curve_sq_lengths(torch.from_numpy(nodes))).sum())


@pytest.mark.parametrize("dim", [2, 4])
def test_graph_start_leaves_the_line_basin_and_refines_its_path(dim):
    """A grid (dimension 2) or a cloud of density samples (dimension 4) finds the
    route along the ring; Newton from the line stays in the centre's basin."""
    space = ring_space(dim)
    start, end = opposite_modes(dim)
    options = dict(n_nodes=65, tol=None)
    line = NewtonGeodesicSolver(space, initialization="line", **options)
    auto = NewtonGeodesicSolver(space, **options)
    from_line = line.solve(gs.array(end[0]), gs.array(start[0]))
    from_graph = auto.solve(gs.array(end[0]), gs.array(start[0]))
    assert from_line.converged and from_graph.converged
    graph = auto.start_graph(space.metric, start, end)
    # In dimension 4: 2000 density samples and the mixture's 8 means.
    assert graph is not None and graph.n_vertices == (129**2 if dim == 2 else 2000 + 8)
    # The graph's path, evenly resampled, is a curve with the endpoints: the
    # geodesic is at most as long, and the path is close to it.
    path_length = polyline_length(space.metric, graph.curves(start, end, 65)[0])
    dist = float(as_numpy(from_graph.dist))
    # The path, now routed through the mixture's means, is near the geodesic: the
    # discrete lengths may then differ by discretisation error.
    assert dist <= 1.01 * path_length
    assert dist < 0.6 * float(as_numpy(from_line.dist))
    nodes = as_numpy(from_graph.nodes)
    assert np.abs(nodes[..., 1]).max() > 0.8 * RADIUS
    np.testing.assert_allclose(nodes[..., 2:], 0.0, atol=1e-6)


def test_grid_graph_lengths_are_conformal_lengths_of_straight_edges():
    """With a constant factor the straight chord is shortest; the pair's own edge
    is a candidate, so the path is the chord, of conformal length e |chord|."""
    space = Euclidean(2, equip=False)
    space.equip_with_metric(
        ConformalMetric, log_factor=lambda z: torch.full(z.shape[:-1], 2.0, dtype=z.dtype)
    )
    start, end = np.array([[0.0, 0.0]]), np.array([[3.0, 1.0]])
    graph = grid_graph(space.metric, start, end, grid_size=13, margin=0.0)
    assert graph.n_vertices == 13**2
    nodes = graph.curves(start, end, 9)[0]
    length = polyline_length(space.metric, nodes)
    chord = math.e * math.hypot(3.0, 1.0)
    np.testing.assert_allclose(nodes[[0, -1]], np.concatenate([start, end]))
    assert length == pytest.approx(chord, rel=1e-9)


def test_given_points_make_the_graph():
    space = ring_space(4)
    start, end = opposite_modes(4)
    rng = np.random.default_rng(0)
    angles = rng.uniform(0, 2 * np.pi, size=300)
    points = np.zeros((300, 4))
    points[:, 0], points[:, 1] = RADIUS * np.cos(angles), RADIUS * np.sin(angles)
    solver = NewtonGeodesicSolver(space, n_nodes=65, tol=None, graph_points=points)
    graph = solver.start_graph(space.metric, start, end)
    assert graph.n_vertices == 300
    assert solver.start_graph(space.metric, start, end) is graph  # built once, kept
    curve = solver.solve(gs.array(end[0]), gs.array(start[0]))
    reference = NewtonGeodesicSolver(space, n_nodes=65, tol=None).solve(
        gs.array(end[0]), gs.array(start[0])
    )
    assert float(as_numpy(curve.dist)) == pytest.approx(float(as_numpy(reference.dist)), rel=1e-6)


def test_auto_keeps_the_line_for_a_unimodal_density():
    space = ring_space(2, n_modes=1)
    solver = NewtonGeodesicSolver(space)
    assert solver.start_graph(space.metric, *opposite_modes(2)) is None


def test_bad_graph_arguments_raise():
    space = ring_space(4)
    with pytest.raises(ValueError, match="initialization must be one of"):
        NewtonGeodesicSolver(space, initialization="mesh")
    with pytest.raises(ValueError, match="Unknown graph options"):
        NewtonGeodesicSolver(space, graph_options={"k": 3})
    with pytest.raises(ValueError, match="graph_points need initialization"):
        NewtonGeodesicSolver(space, initialization="line", graph_points=np.zeros((5, 4)))
    with pytest.raises(ValueError, match="graph_points must be finite"):
        NewtonGeodesicSolver(space, graph_points=np.full((5, 4), np.nan))
    solver = NewtonGeodesicSolver(space, graph_points=np.zeros((5, 3)))
    with pytest.raises(ValueError, match="dimension 3, the points 4"):
        solver.start_graph(space.metric, *opposite_modes(4))
    with pytest.raises(ValueError, match="dimensions 1 to 3"):
        grid_graph(space.metric, *opposite_modes(4))
    with pytest.raises(ValueError, match="n_neighbors must be positive"):
        point_graph(space.metric, np.zeros((5, 4)), n_neighbors=0)
    flat = Euclidean(4, equip=False)
    flat.equip_with_metric(ConformalMetric, log_factor=lambda z: -(z**2).sum(-1))
    with pytest.raises(ValueError, match="needs graph_points"):
        NewtonGeodesicSolver(flat, initialization="graph").start_graph(
            flat.metric, *opposite_modes(4)
        )


# Acceptance: on 2-D and 16-D Gaussian mixtures of 5 or more modes, the default
# (graph-started) solver is within 1% of, or below, a brute-force reference for
# every random pair of endpoints.


def random_mixture_space(dim, n_modes, side, sds, seed):
    """Isotropic components of random widths, means uniform in a box."""
    rng = np.random.default_rng(seed)
    means = rng.uniform(-side / 2, side / 2, size=(n_modes, dim))
    widths = rng.uniform(*sds, size=n_modes)
    covariances = widths[:, None, None] ** 2 * np.eye(dim)
    mixture = GaussianMixture(np.full(n_modes, 1.0 / n_modes), means, covariances)
    space = Euclidean(dim, equip=False)
    quality = RealismIndex(mixture, random_state=seed)
    space.equip_with_metric(DensityConformalMetric, log_quality=quality)
    return space, means, widths


def random_pairs(means, widths, n_pairs, seed):
    """Endpoints near the means of two distinct random modes."""
    rng = np.random.default_rng(seed)
    pairs = [rng.choice(len(means), 2, replace=False) for _ in range(n_pairs)]
    start, end = (
        np.array(
            [means[p[i]] + 0.5 * widths[p[i]] * rng.normal(size=means.shape[1]) for p in pairs]
        )
        for i in (0, 1)
    )
    return start, end


def dijkstra_lengths(metric, vertices, edges, start, end, n_attach, n_nodes):
    """Brute-force reference: Dijkstra on a dense graph with conformal edge lengths
    (trapezoid rule on 4 sub-pieces), each endpoint joined to its ``n_attach``
    nearest vertices and to its partner; returns the lengths of the shortest
    paths, resampled evenly with ``n_nodes`` nodes, as polygonal curves of the
    metric (the solver's discretisation with as many nodes): lengths of feasible
    discrete curves."""
    import scipy.sparse
    from scipy.sparse.csgraph import dijkstra
    from scipy.spatial import cKDTree

    from geomstats_density.solvers.graph import even_in_length, straight_edge_lengths

    n_vertices, batch = len(vertices), len(start)
    points = np.concatenate([vertices, start, end])
    sources = n_vertices + np.arange(batch)
    targets = sources + batch
    _, near = cKDTree(vertices).query(np.concatenate([start, end]), k=n_attach)
    tails = np.concatenate(
        [edges[:, 0], np.repeat(sources, n_attach), np.repeat(targets, n_attach), sources]
    )
    heads = np.concatenate([edges[:, 1], near[:batch].ravel(), near[batch:].ravel(), targets])
    weights = straight_edge_lengths(metric, points[tails], points[heads], 4)
    finite = np.isfinite(weights)
    graph = scipy.sparse.coo_matrix(
        (weights[finite], (tails[finite], heads[finite])), shape=(len(points),) * 2
    ).tocsr()
    arcs, predecessors = dijkstra(graph, directed=False, indices=sources, return_predecessors=True)
    lengths = []
    for b in range(batch):
        path = [targets[b]]
        while path[-1] != sources[b]:
            path.append(predecessors[b, path[-1]])
        path = path[::-1]
        nodes = even_in_length(points[path], arcs[b, path], n_nodes)
        lengths.append(polyline_length(metric, nodes))
    return np.array(lengths)


def fine_grid_edges(low, high, size):
    """A ``size x size`` grid over a box, each vertex joined along the 16 directions
    (0, 1), (1, 1), (1, 2) and their symmetries: metrication error below 3%."""
    axes = [np.linspace(lo, hi, size) for lo, hi in zip(low, high)]
    vertices = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 2)
    index = np.arange(size**2).reshape(size, size)
    edges = []
    for a, b in [(0, 1), (1, 0), (1, 1), (1, -1), (1, 2), (2, 1), (1, -2), (2, -1)]:
        tail = index[max(0, -a) : size - max(0, a), max(0, -b) : size - max(0, b)]
        head = index[max(0, a) : size - max(0, -a), max(0, b) : size - max(0, -b)]
        edges.append(np.stack([tail.ravel(), head.ravel()], axis=-1))
    return vertices, np.concatenate(edges)


def assert_within_one_percent(space, start, end, reference, solver_options):
    solver = NewtonGeodesicSolver(space, **solver_options)
    curve = solver.solve(gs.array(end), gs.array(start))
    dist = as_numpy(curve.dist)
    assert np.all(np.isfinite(dist)) and np.all(as_numpy(curve.converged))
    ratios = dist / reference
    assert np.all(ratios <= 1.01), ratios


def test_2d_mixture_is_within_one_percent_of_a_fine_grid():
    """Seven modes of widths 0.5 to 0.8 in a box of side 8. (For these pairs the
    straight line happens to start in the right basins too.)"""
    space, means, widths = random_mixture_space(2, 7, 8.0, (0.5, 0.8), seed=0)
    start, end = random_pairs(means, widths, 6, seed=1)
    low = np.minimum(np.minimum(start, end).min(0), means.min(0)) - 3.0
    high = np.maximum(np.maximum(start, end).max(0), means.max(0)) + 3.0
    vertices, edges = fine_grid_edges(low, high, 201)
    reference = dijkstra_lengths(space.metric, vertices, edges, start, end, 9, n_nodes=65)
    assert_within_one_percent(space, start, end, reference, dict(n_nodes=65, tol=None))


@pytest.fixture(scope="module")
def mixture_16d():
    """Eight modes of widths 0.5 to 0.8 in a 16-D box of side 6, six random pairs, and
    their reference lengths. The reference graph: 5000 density samples, each joined to
    its 10 nearest, and the means joined pairwise by chains of 20 segments (in 16-D a
    sample graph alone falls apart into one piece per mode)."""
    space, means, widths = random_mixture_space(16, 8, 6.0, (0.5, 0.8), seed=10)
    start, end = random_pairs(means, widths, 6, seed=11)
    from scipy.spatial import cKDTree

    mixture = space.metric.log_quality.density
    samples = as_numpy(mixture.sample(5000, random_state=1))
    _, near = cKDTree(samples).query(samples, k=11)
    edges = [np.stack([np.repeat(np.arange(len(samples)), 11), near.ravel()], axis=-1)]
    points, chain_steps = [samples, means], 20
    for i, j in itertools.combinations(range(len(means)), 2):
        first = sum(len(p) for p in points)
        points.append(
            means[i] + np.linspace(0, 1, chain_steps + 1)[1:-1, None] * (means[j] - means[i])
        )
        chain = np.r_[len(samples) + i, first + np.arange(chain_steps - 1), len(samples) + j]
        edges.append(np.stack([chain[:-1], chain[1:]], axis=-1))
    _, near = cKDTree(samples).query(means, k=10)
    edges.append(
        np.stack([np.repeat(len(samples) + np.arange(len(means)), 10), near.ravel()], axis=-1)
    )
    edges = np.concatenate(edges)
    edges = edges[edges[:, 0] != edges[:, 1]]
    points = np.concatenate(points)
    reference = dijkstra_lengths(space.metric, points, edges, start, end, 10, n_nodes=33)
    return space, start, end, reference


def test_16d_mixture_is_within_one_percent_of_a_dense_graph(mixture_16d):
    """From the straight line three pairs stay 35% to 62% above the graph start's lengths."""
    assert_within_one_percent(*mixture_16d, dict(n_nodes=33, tol=None))


@pytest.mark.parametrize("n_nodes", [5, 9])
def test_16d_mixture_from_few_nodes_does_not_tunnel(mixture_16d, n_nodes):
    """With few nodes a discrete geodesic can tunnel (chords skipping the gaps between
    modes, where the factor is large) and the finer ones refined from it too: from 5
    and 9 nodes three or four of the six pairs did, at every node count up to 1025.
    Those start over; every length is then one of a real curve, its spline measured
    on 2049 nodes, and within 1% of the reference."""
    space, start, end, reference = mixture_16d
    curve = NewtonGeodesicSolver(space, n_nodes=n_nodes, tol=1e-2).solve(
        gs.array(end), gs.array(start)
    )
    dist = as_numpy(curve.dist)
    assert np.all(as_numpy(curve.converged))
    assert np.all(dist <= 1.01 * reference), dist / reference
    fine = resample_nodes(as_numpy(curve.nodes), 2049)
    fine_lengths = np.array([polyline_length(space.metric, nodes[None]) for nodes in fine])
    assert np.all(fine_lengths <= 1.05 * dist), fine_lengths / dist


@pytest.mark.parametrize("n_pieces", [1, 2, 5])
def test_edge_lengths_on_the_half_plane_match_the_integral(n_pieces):
    # Vertical edges of the half-plane: int_a^b dy / y = log(b / a) exactly; the
    # trapezoid rule on n pieces is above it by the closed-form trapezoid error,
    # and edges sharing a vertex give the same lengths as edges on their own.
    from geomstats_density.solvers.graph import edge_lengths, straight_edge_lengths

    space = Euclidean(2, equip=False)
    space.equip_with_metric(ConformalMetric, log_factor=lambda z: -2.0 * torch.log(z[..., 1]))
    heights = np.array([0.5, 1.0, 2.0, 4.0])
    vertices = np.stack([np.zeros(4), heights], axis=-1)
    tails, heads = np.array([0, 1, 2, 0]), np.array([1, 2, 3, 3])
    shared = edge_lengths(space.metric, vertices, tails, heads, n_pieces)
    alone = straight_edge_lengths(space.metric, vertices[tails], vertices[heads], n_pieces)
    np.testing.assert_allclose(shared, alone, rtol=1e-15)
    low, high = heights[tails], heights[heads]
    nodes = low[:, None] + (high - low)[:, None] * np.linspace(0, 1, n_pieces + 1)
    trapezoid = ((high - low) / n_pieces) * (
        0.5 / nodes[:, 0] + 0.5 / nodes[:, -1] + (1 / nodes[:, 1:-1]).sum(-1)
    )
    np.testing.assert_allclose(shared, trapezoid, rtol=1e-14)
    assert np.all(shared >= np.log(high / low))
