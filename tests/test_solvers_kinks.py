"""The Newton solver on piecewise-smooth problems: kinked qualities, ReLU generators.

References come from outside the solver: closed forms derived below, torch's own
dense Hessian, and shortest paths on a fine grid graph (scipy's Dijkstra).
"""

import math

import geomstats.backend as gs
import numpy as np
import pytest
import torch
from conftest import as_numpy
from geomstats.geometry.euclidean import Euclidean
from paper_problems import CUBE_FACES_LENGTH, EXACT_LENGTHS

from geomstats_density import DensityConformalMetric, DomainError, NewtonGeodesicSolver
from geomstats_density.densities import Gaussian
from geomstats_density.energy import curve_energy, curve_length
from geomstats_density.quality import Constant, Feature, RealismIndex
from geomstats_density.solvers import trust_region
from geomstats_density.solvers.derivatives import energy_derivatives, gauss_newton_derivatives
from geomstats_density.solvers.status import LevelStatus

LN2 = math.log(2.0)


def _no_progress(done=None):
    """An ``on_iteration`` callback that reports nothing."""


def _plane(log_quality, dim=2, phi=None):
    space = Euclidean(dim, equip=False)
    space.equip_with_metric(DensityConformalMetric, log_quality=log_quality, phi=phi)
    return space


def _disk_with_plain_norm(z):
    # Example 3 written the natural way: the norm's gradient is NaN at the origin,
    # where the straight line from (-1.3, 0) to (1.3, 0) has its middle node.
    return -LN2 - 5.0 * torch.clamp(1.0 - z.norm(dim=-1), min=0.0)


def _relu_generator():
    torch.manual_seed(0)
    float64 = dict(dtype=torch.float64)  # the same weights whatever the default dtype
    generator = torch.nn.Sequential(
        torch.nn.Linear(2, 16, **float64),
        torch.nn.ReLU(),
        torch.nn.Linear(16, 16, **float64),
        torch.nn.ReLU(),
        torch.nn.Linear(16, 5, **float64),
    )
    for parameter in generator.parameters():
        parameter.requires_grad_(False)
    return generator


def test_example_3_with_a_plain_norm_starts_on_the_cone_point_and_goes_round():
    """Every default: the line's middle node sits on the norm's cone point, and the
    discrete optimum has nodes on the circle's kink. The kinked primitives (norm,
    clamp) are smoothed by continuation, each node count is minimised to its
    tolerance, and the lengths extrapolate to the exact one (reached: 1.5e-10;
    asserted at 1e-8)."""
    space = _plane(_disk_with_plain_norm)
    start, end = gs.array([-1.3, 0.0]), gs.array([1.3, 0.0])
    curve = space.metric.log_solver.solve(end, start)
    nodes = as_numpy(curve.nodes)
    assert bool(curve.converged)
    assert float(curve.dist) == pytest.approx(EXACT_LENGTHS[3], rel=1e-8)
    assert np.min(np.linalg.norm(nodes, axis=-1)) > 0.99  # outside the disk
    assert np.max(np.abs(nodes[:, 1])) > 0.99  # round the top or the bottom


def test_example_3_discrete_lengths_converge_at_second_order_with_smoothing():
    """At fixed node counts (tol=None), each discrete geodesic is minimised to the
    energy tolerance: lengths at 33 and 65 nodes converge at second order, and
    their Richardson extrapolation is the exact length to 2e-6. Without smoothing
    Newton stops on the kink at 33 and 65 nodes, short of the discrete optimum."""
    space = _plane(_disk_with_plain_norm)
    start, end = gs.array([-1.3, 0.0]), gs.array([1.3, 0.0])
    lengths, off = [], []
    for n_nodes in (33, 65):
        solver = NewtonGeodesicSolver(space, n_nodes=n_nodes, tol=None, initialization="line")
        curve = solver.solve(end, start)
        assert bool(curve.converged)
        lengths.append(_discrete_length(space, curve))
        unsmoothed = NewtonGeodesicSolver(
            space,
            n_nodes=n_nodes,
            tol=None,
            initialization="line",
            kinks="off",
            on_failure="ignore",
        )
        off.append(_discrete_length(space, unsmoothed.solve(end, start)))
    errors = np.array(lengths) - EXACT_LENGTHS[3]
    assert 3.5 < errors[0] / errors[1] < 4.5
    assert (4 * lengths[1] - lengths[0]) / 3 == pytest.approx(EXACT_LENGTHS[3], rel=2e-6)
    assert lengths[0] < off[0] and lengths[1] < off[1]


def _discrete_length(space, curve):
    """The discrete length (Eq. 5's quadrature) of a returned curve's polygon."""
    nodes = torch.as_tensor(as_numpy(curve.nodes))
    with torch.no_grad():
        return float(curve_length(space.metric, nodes))


def test_example_4_converges_at_each_node_count_from_the_line():
    """The cube surface from the line (the start that stalls 68% off without
    smoothing): at 65 nodes the discrete geodesic is minimised and lies on the
    faces, its discrete length below the faces' path, 2 ln 2 (an upper bound: the
    metric lets the curve cut the edge slightly), and within 3e-3 of it; the
    returned curve's own length (``dist``) is within 3e-3 of 2 ln 2 too."""
    from paper_problems import on_cube

    space = _plane(on_cube, dim=3)
    solver = NewtonGeodesicSolver(space, n_nodes=65, tol=None, initialization="line")
    curve = solver.solve(gs.array([1.0, 0.0, 0.0]), gs.array([0.0, 0.0, 1.0]))
    nodes = as_numpy(curve.nodes)
    assert bool(curve.converged)
    discrete = _discrete_length(space, curve)
    assert (1 - 3e-3) * CUBE_FACES_LENGTH < discrete <= CUBE_FACES_LENGTH * (1 + 1e-12)
    assert float(curve.dist) == pytest.approx(EXACT_LENGTHS[4], rel=3e-3)
    np.testing.assert_allclose(float(curve.dist), float(curve.length()), rtol=1e-12)
    assert f"discrete length at 65 nodes (Eq. 5) is {discrete:.10g}" in str(curve.message)
    assert np.max(np.abs(1.0 - np.max(np.abs(nodes), axis=-1))) < 1e-2


def test_cube_edge_converges_on_graded_nodes_each_curve_with_its_own_times():
    """Example 4 with every default, batched with a segment on the face z = 1.

    Next to that face the length element ``(ln 2 + K (1 - z)) |dz|`` does not
    depend on ``x``: ``(ln 2 + K (1 - z)) cos(angle)`` is conserved (Snell's law),
    ``ln 2`` on the face, so the geodesic leaves it tangentially on the catenary
    ``1 - z = ln 2 / K (cosh(K (x - x_0) / ln 2) - 1)`` and meets the diagonal
    ``x = z`` at 45 degrees, ``delta = ln 2 (sqrt 2 - 1) / K`` deep (where
    ``ln 2 + K delta = sqrt(2) ln 2``), saving ``(ln 2)^2 / K (1 / sqrt 2 - 1 +
    asinh(1) / 2)`` on each side of the edge against the faces' ``2 ln 2``. The
    rounding spans a few uniform pieces: at max_nodes the uniform levels miss
    tol, and the curve is solved again on graded node times. The segment, ``ln 2``
    times its length, converges on uniform nodes and keeps them."""
    from paper_problems import on_cube

    space = _plane(on_cube, dim=3)
    start = gs.array([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    end = gs.array([[1.0, 0.0, 0.0], [0.5, 0.0, 1.0]])
    curve = space.metric.log_solver.solve(end, start)
    rate = 50.0
    exact = 2 * LN2 - 2 * LN2**2 / rate * (1 / math.sqrt(2) - 1 + math.asinh(1.0) / 2)
    assert np.all(curve.converged)
    assert "graded" in curve.message[0] and "graded" not in curve.message[1]
    np.testing.assert_allclose(as_numpy(curve.dist), [exact, 0.5 * LN2], rtol=1e-8)
    times = as_numpy(curve.times)
    assert times.shape == (2, curve.n_nodes)
    np.testing.assert_array_equal(times[1], np.linspace(0.0, 1.0, curve.n_nodes))
    steps = np.diff(times[0])
    assert steps.max() > 10 * steps.min()
    # The returned curve, at its own times, crosses the diagonal at the
    # catenary's depth and stays on the cube's surface elsewhere.
    points = as_numpy(curve(gs.array(np.linspace(0.0, 1.0, 20001))))
    depth = LN2 * (math.sqrt(2) - 1) / rate
    near_edge = points[0][(points[0, :, 0] > 0.5) & (points[0, :, 2] > 0.5)]
    assert np.max(near_edge[:, 0] + near_edge[:, 2]) == pytest.approx(2 - 2 * depth, abs=2e-6)
    assert np.max(np.abs(points[..., 1])) < 1e-12
    assert np.max(np.max(np.abs(points[0]), axis=-1)) < 1 + 1e-6
    np.testing.assert_allclose(points[1, :, 0], np.linspace(0.0, 0.5, 20001), atol=1e-12)


def test_geodesic_through_the_cone_point_of_a_max_norm_quality():
    """``log Q = -c - a max(|z_1|, |z_2|)``: ``sqrt(g) = c + a |z|_inf``, and any
    curve from (-1, 0) to (1, 0) has length at least ``int (c + a |x|) |dx| = 2c + a``,
    which the segment along the axis attains: it crosses the kink ``z_1 = 0`` and
    the origin, where the max-norm's four smooth pieces meet."""
    c, a = LN2, 1.0
    space = _plane(lambda z: -c - a * torch.amax(torch.abs(z), dim=-1))
    curve = space.metric.log_solver.solve(gs.array([1.0, 0.0]), gs.array([-1.0, 0.0]))
    assert bool(curve.converged)
    assert float(curve.dist) == pytest.approx(2 * c + a, rel=2e-6)
    np.testing.assert_allclose(as_numpy(curve.nodes)[:, 1], 0.0, atol=1e-3)


# A constant quality on purpose: the geometry comes from phi or the refused region.
@pytest.mark.filterwarnings("ignore::geomstats_density.exceptions.ConstantQualityWarning")
def test_relu_generator_length_against_a_grid_graph_shortest_path():
    """A seeded ReLU generator 2 -> 16 -> 16 -> 5 with ``Q = 1/2``: the length is
    ``ln 2`` times that of the image curve. Reference: Dijkstra on a latent grid of
    spacing 1/80 with 16 neighbours (edges to (1, 0), (1, 1), (2, 1) and their
    symmetric offsets), each edge measured by its image through 4 sub-chords. A
    grid path is a curve: it is no shorter than the geodesic, and with 16
    neighbours longer by at most 1 / cos(atan(1/2) / 2) - 1 ~ 2.8% (the directions
    it lacks, on a straight stretch). The discrete geodesic's chords cut the
    folds of phi: its length is short by a first-order term. Hence 3%."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import dijkstra

    generator = _relu_generator()
    start, end = np.array([-1.0, -0.5]), np.array([1.0, 0.7])
    xs, ys = np.linspace(-1.5, 1.5, 241), np.linspace(-1.0, 1.0, 161)
    grid = np.stack(np.meshgrid(xs, ys, indexing="ij"), -1)
    index = np.arange(grid.shape[0] * grid.shape[1]).reshape(grid.shape[:2])
    sub = np.linspace(0.0, 1.0, 5)[:, None, None]
    rows, cols, weights = [], [], []
    for dx, dy in [(1, 0), (0, 1), (1, 1), (1, -1), (2, 1), (1, 2), (2, -1), (1, -2)]:
        first = index[: index.shape[0] - dx, max(0, -dy) : index.shape[1] - max(0, dy)]
        second = index[dx:, max(0, dy) : index.shape[1] - max(0, -dy)]
        points = grid.reshape(-1, 2)
        segment = (1 - sub) * points[first.ravel()][None] + sub * points[second.ravel()][None]
        with torch.no_grad():
            image = generator(torch.from_numpy(segment)).numpy()
        rows.append(first.ravel())
        cols.append(second.ravel())
        weights.append(np.linalg.norm(np.diff(image, axis=0), axis=-1).sum(0))
    size = index.size
    graph = coo_matrix(
        (np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))), shape=(size, size)
    ).tocsr()
    source = index[np.argmin(np.abs(xs - start[0])), np.argmin(np.abs(ys - start[1]))]
    target = index[np.argmin(np.abs(xs - end[0])), np.argmin(np.abs(ys - end[1]))]
    reference = LN2 * dijkstra(graph, directed=False, indices=source)[target]

    space = _plane(lambda z: torch.full(z.shape[:-1], -LN2, dtype=z.dtype), phi=generator)
    # Chords across a fold of phi cut its corner: discrete lengths converge at first
    # order, and the Richardson estimate (second order) may not meet tol.
    space.metric.log_solver.on_failure = "ignore"
    curve = space.metric.log_solver.solve(gs.array(end), gs.array(start))
    assert 0.97 * reference < float(curve.dist) < reference


@pytest.mark.parametrize("activation", [torch.nn.ReLU, torch.nn.LeakyReLU])
def test_gauss_newton_blocks_are_the_exact_hessian_of_a_piecewise_linear_phi(activation):
    """Against torch's dense Hessian of the whole discrete energy (curve_energy):
    equal where ``phi`` is piecewise linear, including the factor's own terms of a
    varying quality. On a smooth ``phi`` they differ by its curvature terms."""
    torch.manual_seed(1)
    generator = torch.nn.Sequential(
        torch.nn.Linear(3, 12),
        activation(),
        torch.nn.Linear(12, 12),
        activation(),
        torch.nn.Linear(12, 4),
    ).double()
    for parameter in generator.parameters():
        parameter.requires_grad_(False)
    space = _plane(lambda z: -0.7 - 0.3 * torch.tanh(z).pow(2).sum(-1), dim=3, phi=generator)
    rng = np.random.default_rng(0)
    nodes = rng.normal(size=(1, 6, 3))
    ends = torch.from_numpy(nodes)

    def energy(inner):
        return curve_energy(space.metric, torch.cat([ends[0, :1], inner, ends[0, -1:]]))

    dense = torch.autograd.functional.hessian(energy, ends[0, 1:-1]).reshape(12, 12).numpy()
    blocks = gauss_newton_derivatives(space.metric, nodes).hessian
    assembled = np.zeros((12, 12))
    for k in range(4):
        assembled[3 * k : 3 * k + 3, 3 * k : 3 * k + 3] = blocks.diagonal[0, k]
    for k in range(3):
        assembled[3 * k + 3 : 3 * k + 6, 3 * k : 3 * k + 3] = blocks.lower[0, k]
        assembled[3 * k : 3 * k + 3, 3 * k + 3 : 3 * k + 6] = blocks.lower[0, k].T
    np.testing.assert_allclose(assembled, dense, atol=1e-10 * np.abs(dense).max())
    exact = energy_derivatives(space.metric, nodes)
    np.testing.assert_allclose(
        gauss_newton_derivatives(space.metric, nodes).gradient, exact.gradient, rtol=1e-12
    )


def test_gauss_newton_differs_from_the_exact_hessian_on_a_smooth_phi():
    from paper_problems import central_projection, constant_half

    space = _plane(constant_half, phi=central_projection)
    nodes = np.linspace([0.0, 1.0], [1.0, 0.0], 7)[None]
    exact = energy_derivatives(space.metric, nodes)
    gauss_newton = gauss_newton_derivatives(space.metric, nodes)
    np.testing.assert_allclose(gauss_newton.energy, exact.energy, rtol=1e-14)
    np.testing.assert_allclose(gauss_newton.gradient, exact.gradient, atol=1e-13)
    assert np.abs(gauss_newton.hessian.diagonal - exact.hessian.diagonal).max() > 1e-3
    # With a constant quality the model is 2 n sum_i W J^T J: positive semi-definite.
    assert np.all(np.linalg.eigvalsh(gauss_newton.hessian.diagonal[0]) > -1e-12)


# A constant quality on purpose: the geometry comes from phi or the refused region.
@pytest.mark.filterwarnings("ignore::geomstats_density.exceptions.ConstantQualityWarning")
def test_a_curve_that_leaves_the_domain_fails_alone():
    """In a batch, a starting curve through a region where the quality is not
    finite gets status FAILED with its nodes unchanged; the other is solved (a
    constant quality: the straight line, length ``ln 2 |b - a|``)."""

    def log_quality(z):
        inside = (z[..., 1] > 0.5) & (z[..., 0].abs() < 0.2)
        return torch.where(inside, torch.nan, -LN2 * torch.ones_like(z[..., 0]))

    space = _plane(log_quality)
    times = np.linspace(0.0, 1.0, 9)[:, None]
    through = np.array([-1.0, 1.0]) + times * np.array([2.0, 0.0])
    below = np.array([-1.0, -1.0]) + times * np.array([2.0, 0.5])
    below[1:-1, 1] += 0.1 * np.sin(np.pi * times[1:-1, 0])  # a bent start, to be straightened
    nodes = np.stack([through, below])
    solver = NewtonGeodesicSolver(space, n_nodes=9, tol=None)
    solved, status, iterations, _ = solver._minimise(space.metric, nodes, _no_progress)
    assert status.tolist() == [LevelStatus.FAILED, LevelStatus.STATIONARY]
    np.testing.assert_array_equal(solved[0], through)
    assert iterations[0] == 0
    length = curve_length(space.metric, torch.from_numpy(solved[1])).item()
    assert length == pytest.approx(LN2 * math.hypot(2.0, 0.5), rel=1e-12)
    with pytest.raises(DomainError, match="starting curve.*leaves the metric's domain"):
        solver._minimise(space.metric, nodes[:1], _no_progress)


def test_kinked_energy_settles_within_the_energy_tolerance():
    """Example 3 from the semicircle of radius 1.3, without smoothing: the discrete
    optimum sits on the circle's kink and Newton converges linearly. The solve stops SETTLED before
    max_iter, and its energy is that of a solve without the stall test (which
    runs until the trust radius collapses) to the energy tolerance."""
    space = _plane(_disk_with_plain_norm)
    times = np.linspace(0.0, 1.0, 33)
    arc = np.stack([-1.3 * np.cos(np.pi * times), 1.3 * np.sin(np.pi * times)], -1)[None]
    solver = NewtonGeodesicSolver(space, n_nodes=33, tol=1e-6, max_iter=1000, kinks="off")
    settled, status, iterations, _ = solver._minimise(space.metric, arc, _no_progress)
    assert status.tolist() == [LevelStatus.SETTLED]
    original = trust_region.EnergyHistory.settled
    try:
        trust_region.EnergyHistory.settled = lambda self, idx, rtol: np.zeros(len(idx), dtype=bool)
        longer, _, more_iterations, _ = solver._minimise(space.metric, arc, _no_progress)
    finally:
        trust_region.EnergyHistory.settled = original
    assert iterations[0] < more_iterations[0] < 1000
    energies = [
        curve_energy(space.metric, torch.from_numpy(nodes)).item() for nodes in (settled, longer)
    ]
    assert energies[0] == pytest.approx(energies[1], rel=solver._energy_rtol)


def test_unknown_hessian_option_is_named():
    space = _plane(lambda z: torch.full(z.shape[:-1], -LN2, dtype=z.dtype))
    with pytest.raises(ValueError, match="hessian must be .*'gauss-newton'.*got 'gn'"):
        NewtonGeodesicSolver(space, hessian="gn")


def test_gauss_newton_without_networks_is_the_exact_solve():
    """Neither ``phi`` nor a network in the quality: nothing to linearise, and
    ``hessian='gauss-newton'`` takes the exact blocks' steps, bit for bit."""
    space = _plane(lambda z: -LN2 - 0.5 * torch.tanh(z[..., 0] - z[..., 1] ** 2) ** 2)
    curves = [
        NewtonGeodesicSolver(space, n_nodes=9, tol=1e-6, hessian=hessian).solve(
            gs.array([-1.0, 0.5]), gs.array([1.0, -0.5])
        )
        for hessian in ("blocks", "gauss-newton")
    ]
    assert curves[0].converged
    np.testing.assert_array_equal(curves[0].nodes, curves[1].nodes)
    assert float(curves[0].dist) == float(curves[1].dist)


def _relu_classifier():
    torch.manual_seed(3)
    classifier = torch.nn.Sequential(
        torch.nn.Linear(5, 12, dtype=torch.float64),
        torch.nn.ReLU(),
        torch.nn.Linear(12, 3, dtype=torch.float64),
    )
    for parameter in classifier.parameters():
        parameter.requires_grad_(False)
    return classifier


@pytest.mark.parametrize("lengths_in", ["samples", "latent"])
def test_gauss_newton_jets_solve_a_relu_feature_geodesic_as_exact_blocks(lengths_in):
    """Realism times a ReLU classifier of a ReLU generator's samples, lengths between
    samples (``phi = G``) or codes: the discrete geodesic at 17 nodes solved with the
    networks linearised (``phi`` and the feature) and with exact blocks has the same
    length, to the energy tolerance (``tol=None``: 1e-12 of the energy)."""
    generator = _relu_generator()
    quality = RealismIndex(Gaussian(np.zeros(2))) * Feature(
        _relu_classifier(), target=1, generator=generator
    )
    space = _plane(quality, phi=generator if lengths_in == "samples" else None)
    curves = [
        NewtonGeodesicSolver(space, n_nodes=17, tol=None, hessian=hessian, kinks="off").solve(
            gs.array([-1.2, 0.3]), gs.array([1.0, 0.8])
        )
        for hessian in ("blocks", "gauss-newton")
    ]
    assert all(curve.converged for curve in curves)
    lengths = [float(curve.dist) for curve in curves]
    assert lengths[1] == pytest.approx(lengths[0], rel=1e-10)
    # The same Hessians (to rounding): the same Newton iterates.
    assert int(curves[0].n_iterations) == int(curves[1].n_iterations)
    # Not the straight line: the quality bends the geodesic.
    straight = np.linspace([-1.2, 0.3], [1.0, 0.8], 17)
    assert np.abs(curves[0].nodes - straight).max() > 1e-2


def test_leaky_relu_generator_in_16_dimensions_converges_at_a_fixed_node_count():
    """A seeded 16 -> 64 -> 64 -> 50 generator (LeakyReLU then ReLU) with a varying
    quality: the smoothing continuation (whose first stage smooths the network
    too, on Gauss-Newton blocks) minimises the discrete energy at 17 nodes, to a
    discrete length no longer than the one found
    on the kinked energy itself, and a curve shorter than the straight line's image."""
    torch.manual_seed(0)
    generator = torch.nn.Sequential(
        torch.nn.Linear(16, 64),
        torch.nn.LeakyReLU(0.2),
        torch.nn.Linear(64, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 50),
    ).double()
    for parameter in generator.parameters():
        parameter.requires_grad_(False)
    space = _plane(lambda z: -0.5 - 0.5 * torch.tanh(z).pow(2).mean(-1), dim=16, phi=generator)
    rng = np.random.default_rng(0)
    start, end = rng.normal(size=16), rng.normal(size=16)
    line = torch.from_numpy(np.linspace(start, end, 2049))
    lengths = {}
    for kinks in ("auto", "off"):
        solver = NewtonGeodesicSolver(
            space, n_nodes=17, tol=None, initialization="line", kinks=kinks, on_failure="ignore"
        )
        curve = solver.solve(gs.array(end), gs.array(start))
        lengths[kinks] = _discrete_length(space, curve)
        if kinks == "auto":
            assert bool(curve.converged)
            assert float(curve.dist) < curve_length(space.metric, line).item()
    assert lengths["auto"] <= lengths["off"] * (1 + 1e-10)


# A constant quality on purpose: the geometry comes from phi or the refused region.
@pytest.mark.filterwarnings("ignore::geomstats_density.exceptions.ConstantQualityWarning")
def test_max_pooling_generator_converges_at_a_fixed_node_count():
    """A seeded generator 2 -> 16 (a 4 x 4 map) -> max-pool 2 x 2 -> 5: at 65
    nodes, with its pooling smoothed by continuation, the discrete energy is
    minimised, and the curve is shorter than the straight line's image. Without
    smoothing Newton stops in another local minimum of the piecewise-quadratic
    energy, a longer one: the default smooths the network's kinks in the first
    stage of its first node count to choose the basin."""
    torch.manual_seed(0)
    first = torch.nn.Linear(2, 16, dtype=torch.float64)
    last = torch.nn.Linear(4, 5, dtype=torch.float64)
    for parameter in (*first.parameters(), *last.parameters()):
        parameter.requires_grad_(False)
    pool = torch.nn.MaxPool2d(2)

    def generator(z):
        maps = first(z).reshape(-1, 1, 4, 4)
        return last(pool(maps).reshape(-1, 4)).reshape(*z.shape[:-1], 5)

    space = _plane(lambda z: torch.full(z.shape[:-1], -LN2, dtype=z.dtype), phi=generator)
    start, end = np.array([-1.0, -0.5]), np.array([1.0, 0.7])
    solver = NewtonGeodesicSolver(space, n_nodes=65, tol=None, initialization="line")
    curve = solver.solve(gs.array(end), gs.array(start))
    assert bool(curve.converged)
    line = torch.from_numpy(np.linspace(start, end, 4097))
    assert float(curve.dist) < curve_length(space.metric, line).item()
    solver.kinks = "off"
    unsmoothed = solver.solve(gs.array(end), gs.array(start))
    assert _discrete_length(space, curve) < _discrete_length(space, unsmoothed)


def test_log_where_phi_loses_rank_is_the_returned_curves_tangent():
    # phi(z) = (z_0, z_1^3) has Jacobian diag(1, 3 z_1^2): singular on the axis
    # z_1 = 0, where the geodesic from (0, 0) to (1, 0) runs (the image is the
    # segment, length ln 2 at Q = 1/2). The momentum does not determine the
    # velocity there; log is the tangent of the segment, (1, 0).
    space = _plane(Constant(0.5), phi=lambda z: torch.stack([z[..., 0], z[..., 1] ** 3], dim=-1))
    start, end = gs.array([0.0, 0.0]), gs.array([1.0, 0.0])
    velocity = as_numpy(space.metric.log(end, start))
    np.testing.assert_allclose(velocity, [1.0, 0.0], atol=1e-6)
    assert float(as_numpy(space.metric.dist(start, end))) == pytest.approx(LN2, rel=1e-6)
