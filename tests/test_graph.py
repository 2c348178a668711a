"""Graph starts: shortest paths that put the Newton solver in the right basin."""

import math

import numpy as np
import pytest
import torch

import geomstats.backend as gs
from geomstats.geometry.euclidean import Euclidean

from geomstats_density import ConformalMetric, DensityConformalMetric, NewtonGeodesicSolver
from geomstats_density.densities import GaussianMixture
from geomstats_density.quality import RealismIndex
from geomstats_density.solvers.graph import grid_graph, point_graph
from conftest import as_numpy

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
    quality = RealismIndex(mixture, generator=torch.Generator().manual_seed(0))
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
    assert graph is not None and graph.n_vertices == (129**2 if dim == 2 else 2000)
    # The graph's path, evenly resampled, is a curve with the endpoints: the
    # geodesic is at most as long, and the path is close to it.
    path_length = polyline_length(space.metric, graph.curves(start, end, 65)[0])
    dist = float(as_numpy(from_graph.dist))
    assert dist <= path_length
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
