"""The trust-region Newton solver against closed-form geodesics."""

import math

import geomstats.backend as gs
import numpy as np
import pytest
import torch
from conftest import as_numpy, random_half_plane_points
from geomstats.geometry.euclidean import Euclidean
from geomstats.learning.frechet_mean import FrechetMean
from paper_problems import (
    EXACT_LENGTHS,
    central_projection,
    constant_half,
    on_cube,
    outside_disk,
)

from geomstats_density import (
    ConformalMetric,
    DensityConformalMetric,
    GeodesicConvergenceError,
    GeodesicConvergenceWarning,
    NewtonGeodesicSolver,
)
from geomstats_density.curves import resample_nodes
from geomstats_density.densities import GaussianMixture
from geomstats_density.energy import curve_length
from geomstats_density.quality import RealismIndex


@pytest.mark.parametrize("dim", [3, 512])  # exact Hessian blocks; matrix-free steps
def test_constant_factor_gives_scaled_straight_lines(dim):
    space = Euclidean(dim, equip=False)
    space.equip_with_metric(
        ConformalMetric, log_factor=lambda z: torch.full(z.shape[:-1], 1.3, dtype=z.dtype)
    )
    rng = np.random.default_rng(0)
    start, end = rng.normal(size=(4, dim)), rng.normal(size=(4, dim))
    np.testing.assert_allclose(
        as_numpy(space.metric.dist(gs.array(start), gs.array(end))),
        math.exp(0.65) * np.linalg.norm(end - start, axis=-1),
        rtol=1e-10,
    )
    np.testing.assert_allclose(
        as_numpy(space.metric.log(gs.array(end), gs.array(start))), end - start, atol=1e-10
    )
    times = np.linspace(0, 1, 7)
    curve = space.metric.geodesic(initial_point=gs.array(start), end_point=gs.array(end))
    np.testing.assert_allclose(
        as_numpy(curve(gs.array(times))),
        start[:, None] + times[None, :, None] * (end - start)[:, None],
        atol=1e-10,
    )


@pytest.mark.parametrize("spread", [0.5, 3.0])
def test_half_plane_dist_log_match_geomstats_closed_form(half_plane, hyperbolic, spread):
    start = random_half_plane_points(8, seed=1, spread=spread)
    end = random_half_plane_points(8, seed=2, spread=spread)
    expected = as_numpy(hyperbolic.metric.dist(gs.array(start), gs.array(end)))
    np.testing.assert_allclose(
        as_numpy(half_plane.metric.dist(gs.array(start), gs.array(end))), expected, rtol=1e-7
    )
    np.testing.assert_allclose(
        as_numpy(half_plane.metric.log(gs.array(end), gs.array(start))),
        as_numpy(hyperbolic.metric.log(gs.array(end), gs.array(start))),
        rtol=1e-6,
        atol=1e-8,
    )


def test_midpoint_quadrature_half_plane_matches_closed_form(hyperbolic):
    space = Euclidean(2, equip=False)
    space.equip_with_metric(
        ConformalMetric, log_factor=lambda z: -2.0 * torch.log(z[..., 1]), quadrature="midpoint"
    )
    start = random_half_plane_points(4, seed=5)
    end = random_half_plane_points(4, seed=6)
    np.testing.assert_allclose(
        as_numpy(space.metric.dist(gs.array(start), gs.array(end))),
        as_numpy(hyperbolic.metric.dist(gs.array(start), gs.array(end))),
        rtol=1e-7,
    )


def test_half_plane_geodesic_points_match_closed_form(half_plane, hyperbolic):
    start, end = gs.array([-1.0, 0.5]), gs.array([2.0, 1.5])
    times = gs.linspace(0.0, 1.0, 11)
    ours = half_plane.metric.geodesic(initial_point=start, end_point=end)(times)
    reference = hyperbolic.metric.geodesic(initial_point=start, end_point=end)(times)
    np.testing.assert_allclose(as_numpy(ours), as_numpy(reference), atol=1e-7)


def test_default_dist_reaches_its_error_estimate(half_plane, hyperbolic):
    start, end = gs.array([0.0, 1.0]), gs.array([2.5, 0.3])
    curve = half_plane.metric.log_solver.solve(end, start)
    error = abs(float(curve.dist) - float(hyperbolic.metric.dist(start, end)))
    assert curve.converged
    assert error <= max(float(curve.dist_error), 1e-12) * 10
    assert error / float(curve.dist) < 1e-8


@pytest.mark.parametrize("tol", [1e-6, 1e-8])
def test_dist_error_estimates_the_true_error_far_apart(half_plane, hyperbolic, tol):
    # Far apart, the extrapolations converge like h^4 from the fourth node count on,
    # and the estimate is the geometric tail of their changes (the closed form says
    # how good it is; the change alone overstates the error about 15 times).
    start, end = gs.array([-1.0, 0.3]), gs.array([3.0, 0.9])
    curve = NewtonGeodesicSolver(half_plane, tol=tol).solve(end, start)
    exact = float(hyperbolic.metric.dist(start, end))
    error = abs(float(curve.dist) - exact) / exact
    estimate = float(curve.dist_error) / float(curve.dist)
    assert curve.converged
    assert error <= tol
    assert estimate / 2 <= error <= 2 * estimate


def test_coarse_start_does_not_accept_a_tunnelling_curve():
    """Five nodes across a six-mode mixture: the 5- and 9-node discrete geodesics
    tunnel (their chords skip the low-density gaps), and their lengths alone put
    the error at 0.9% where it is 8%; the spline check refines on and meets tol."""
    rng = np.random.default_rng(0)
    angles = np.linspace(0, 2 * np.pi, 7)[:-1] + rng.uniform(-0.2, 0.2, 6)
    means = np.stack([3 * np.cos(angles), 3 * np.sin(angles)], -1)
    covariances = np.stack([np.eye(2) * rng.uniform(0.3, 0.6) for _ in range(6)])
    quality = RealismIndex(GaussianMixture(np.ones(6), means, covariances), random_state=0)
    space = Euclidean(2, equip=False)
    space.equip_with_metric(DensityConformalMetric, log_quality=quality)
    start, end = gs.array(means[0]), gs.array(means[3])
    reference = float(NewtonGeodesicSolver(space, tol=1e-9, max_nodes=2049).solve(end, start).dist)
    coarse = NewtonGeodesicSolver(space, n_nodes=5, tol=1e-2).solve(end, start)
    error = abs(float(coarse.dist) - reference) / reference
    assert coarse.converged
    assert error <= 1e-2
    assert error <= float(coarse.dist_error) / float(coarse.dist)


@pytest.mark.parametrize("n_given", [5, 17, 1025])  # cached matrix; scipy above 2^18 entries
def test_refinement_resampling_reproduces_cubic_curves(n_given):
    """Not-a-knot cubic splines are exact on cubics: the warm start of the next node
    count is the cubic itself, at any node count."""
    times = np.linspace(0.0, 1.0, n_given)
    coefficients = np.array([[1.0, -2.0, 0.5, 3.0], [0.0, 1.0, -4.0, 2.0]])
    cubic = lambda t: np.stack([np.polyval(c, t) for c in coefficients], -1)  # noqa: E731
    nodes = np.stack([cubic(times), 2 * cubic(times)])
    for n_nodes in (2 * n_given - 1, 7):
        expected = cubic(np.linspace(0.0, 1.0, n_nodes))
        resampled = resample_nodes(nodes, n_nodes)
        np.testing.assert_allclose(resampled, np.stack([expected, 2 * expected]), atol=1e-12)


def test_unrefined_length_error_is_second_order(half_plane, hyperbolic):
    """The midpoint energy makes the discrete length error O(h^2): halving h / 4.
    With ``tol=None`` the reported ``dist`` is the returned curve's own length."""
    start, end = gs.array([0.0, 1.0]), gs.array([1.5, 2.0])
    exact = float(hyperbolic.metric.dist(start, end))
    errors = []
    for n_nodes in (17, 33, 65):
        curve = NewtonGeodesicSolver(half_plane, n_nodes=n_nodes, tol=None).solve(end, start)
        np.testing.assert_allclose(float(curve.dist), float(curve.length()), rtol=1e-12)
        with torch.no_grad():
            discrete = curve_length(half_plane.metric, torch.as_tensor(as_numpy(curve.nodes)))
        errors.append(abs(float(discrete) - exact))
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    np.testing.assert_allclose(ratios, 4.0, rtol=0.05)


def test_batched_solve_equals_one_by_one(half_plane):
    start = random_half_plane_points(5, seed=3)
    end = random_half_plane_points(5, seed=4)
    batched = as_numpy(half_plane.metric.dist(gs.array(start), gs.array(end)))
    single = [float(half_plane.metric.dist(gs.array(a), gs.array(b))) for a, b in zip(start, end)]
    np.testing.assert_allclose(batched, single, rtol=1e-9)


def test_each_curve_of_a_batch_stops_refining_on_its_own(half_plane, hyperbolic):
    start = np.array([[0.0, 1.0], [-3.0, 0.2]])
    end = np.array([[0.05, 1.0], [3.0, 0.2]])
    solver = half_plane.metric.log_solver
    alone = [solver.solve(gs.array(b), gs.array(a)) for a, b in zip(start, end)]
    # The far pair needs more node doublings than the near one.
    assert np.shape(alone[1].nodes)[-2] > np.shape(alone[0].nodes)[-2]
    batch = solver.solve(gs.array(end), gs.array(start))
    exact = as_numpy(hyperbolic.metric.dist(gs.array(start), gs.array(end)))
    np.testing.assert_allclose(as_numpy(batch.dist), exact, rtol=1e-8)
    np.testing.assert_array_equal(
        as_numpy(batch.n_iterations), [int(curve.n_iterations) for curve in alone]
    )
    assert np.shape(batch.nodes)[-2] == np.shape(alone[1].nodes)[-2]


def test_dist_broadcasts_one_point_against_many(half_plane, hyperbolic):
    points = gs.array(random_half_plane_points(4, seed=5))
    base = gs.array([0.3, 0.8])
    np.testing.assert_allclose(
        as_numpy(half_plane.metric.dist(base, points)),
        as_numpy(hyperbolic.metric.dist(base, points)),
        rtol=1e-7,
    )


def test_dist_pairwise_matches_closed_form(half_plane, hyperbolic):
    points = gs.array(random_half_plane_points(6, seed=6))
    np.testing.assert_allclose(
        as_numpy(half_plane.metric.dist_pairwise(points)),
        as_numpy(hyperbolic.metric.dist_pairwise(points)),
        rtol=1e-7,
        atol=1e-12,
    )


def test_frechet_mean_matches_geomstats_half_plane(half_plane, hyperbolic):
    points = gs.array(random_half_plane_points(6, seed=7))
    ours = FrechetMean(half_plane).fit(points).estimate_
    reference = FrechetMean(hyperbolic).fit(points).estimate_
    np.testing.assert_allclose(as_numpy(ours), as_numpy(reference), atol=1e-6)


def test_equal_endpoints_give_zero_distance_and_velocity(half_plane):
    point = gs.array([0.5, 2.0])
    assert float(half_plane.metric.dist(point, point)) == 0.0
    np.testing.assert_array_equal(as_numpy(half_plane.metric.log(point, point)), 0.0)


def plane(log_quality, dim=2, phi=None, **solver_options):
    space = Euclidean(dim, equip=False)
    space.equip_with_metric(
        DensityConformalMetric, log_quality=log_quality, phi=phi, solver_options=solver_options
    )
    return space


def test_paper_example_1_is_the_straight_segment():
    space = plane(constant_half)
    start, end = gs.array([0.0, 1.0]), gs.array([1.0, 0.0])
    curve = space.metric.geodesic(initial_point=start, end_point=end)
    assert float(curve.dist) == pytest.approx(EXACT_LENGTHS[1], rel=1e-12)
    nodes = as_numpy(curve.nodes)
    np.testing.assert_allclose(nodes.sum(-1), 1.0, atol=1e-12)  # on the line x + y = 1


def test_paper_example_2_maps_to_a_great_circle_arc():
    space = plane(constant_half, phi=central_projection)
    start, end = gs.array([0.0, 1.0]), gs.array([1.0, 0.0])
    curve = space.metric.geodesic(initial_point=start, end_point=end)
    assert float(curve.dist) == pytest.approx(EXACT_LENGTHS[2], rel=1e-7)
    image = central_projection(torch.as_tensor(as_numpy(curve.nodes))).numpy()
    # Great circle through e3 + u0, e3 + u1: the image lies in their plane through e3.
    normal = np.cross([0.0, 1.0, -1.0], [1.0, 0.0, -1.0])
    np.testing.assert_allclose((image - [0.0, 0.0, 1.0]) @ normal, 0.0, atol=1e-9)


def test_paper_example_3_leaves_the_symmetric_saddle_and_goes_round_the_disk():
    # The quality has a kink on the circle, where the geodesic runs: Newton loses its
    # quadratic convergence there (the discrete optimum sits on kinks), so this solve
    # is capped and checked at 1%.
    space = plane(outside_disk, n_nodes=65, tol=None, max_iter=300, on_failure="ignore")
    start, end = gs.array([-1.3, 0.0]), gs.array([1.3, 0.0])
    curve = space.metric.geodesic(initial_point=start, end_point=end)
    nodes = as_numpy(curve.nodes)
    assert float(curve.dist) == pytest.approx(EXACT_LENGTHS[3], rel=1e-2)
    assert np.min(np.linalg.norm(nodes, axis=-1)) > 0.99  # outside the disk
    assert np.max(np.abs(nodes[:, 1])) > 0.99  # the detour reaches the top or bottom


def test_paper_example_4_runs_over_the_cube_faces():
    # Kinks again (|.| and max), and from the straight line the discrete energy has
    # zig-zag minima: the grid-graph start finds the faces. Checked at 1%.
    space = plane(on_cube, dim=3, n_nodes=65, tol=None, initialization="grid", on_failure="ignore")
    start, end = gs.array([0.0, 0.0, 1.0]), gs.array([1.0, 0.0, 0.0])
    curve = space.metric.geodesic(initial_point=start, end_point=end)
    nodes = as_numpy(curve.nodes)
    assert float(curve.dist) == pytest.approx(EXACT_LENGTHS[4], rel=1e-2)
    assert np.max(np.abs(1.0 - np.max(np.abs(nodes), axis=-1))) < 0.05  # on the surface


def test_default_start_restarts_a_stalled_line_solve_from_the_grid():
    """Example 4 with every default but the smoothing of kinks (``kinks='off'``):
    from the line, Newton stalls inside the cube (40% off); 'auto' solves that
    curve again from the grid's path and keeps it."""
    space = plane(on_cube, dim=3, on_failure="ignore")
    space.metric.log_solver.kinks = "off"
    start, end = gs.array([0.0, 0.0, 1.0]), gs.array([1.0, 0.0, 0.0])
    line = NewtonGeodesicSolver(space, initialization="line", on_failure="ignore", kinks="off")
    from_line = line.solve(end, start)
    restarted = space.metric.log_solver.solve(end, start)
    assert float(from_line.dist) > 1.25 * EXACT_LENGTHS[4]
    # Newton does not settle on the cube's kinks: the returned curve, whose own
    # length dist is, stays a few percent longer than the geodesic.
    assert float(restarted.dist) == pytest.approx(EXACT_LENGTHS[4], rel=5e-2)
    assert float(restarted.dist) == pytest.approx(float(restarted.length()), rel=1e-6)
    assert int(restarted.n_iterations) > int(from_line.n_iterations)  # both solves counted


def test_default_start_keeps_a_fixed_budget_solve():
    """With ``tol=None`` a curve that used all ``max_iter`` iterations is the
    answer that budget buys: 'auto' returns the line's solve as it is (the same
    curve as ``initialization='line'``), where the stalled solve above restarts."""
    options = dict(n_nodes=17, tol=None, max_iter=3, on_failure="ignore", kinks="off")
    space = plane(on_cube, dim=3, **options)
    start, end = gs.array([0.0, 0.0, 1.0]), gs.array([1.0, 0.0, 0.0])
    from_line = NewtonGeodesicSolver(space, initialization="line", **options).solve(end, start)
    budgeted = space.metric.log_solver.solve(end, start)
    assert int(from_line.n_iterations) == options["max_iter"]
    assert int(budgeted.n_iterations) == options["max_iter"]
    np.testing.assert_array_equal(as_numpy(budgeted.nodes), as_numpy(from_line.nodes))
    assert float(budgeted.dist) == float(from_line.dist)


def test_sobolev_steps_agree_with_exact_blocks(half_plane, hyperbolic):
    start, end = gs.array([0.0, 1.0]), gs.array([3.0, 0.5])
    half_plane.metric.log_solver = NewtonGeodesicSolver(half_plane, hessian="sobolev")
    assert float(half_plane.metric.dist(start, end)) == pytest.approx(
        float(hyperbolic.metric.dist(start, end)), rel=1e-8
    )


@pytest.mark.parametrize("radius", [1e3, 0.05], ids=["interior", "boundary"])
def test_steihaug_returns_the_hessian_times_its_steps(radius):
    """CG's H p (from its residuals) equals a direct product, inside and on the boundary."""
    from geomstats_density.solvers.sobolev import SobolevPreconditioner, steihaug_steps

    rng = np.random.default_rng(0)
    batch, n_interior, dim = 3, 5, 4
    size = n_interior * dim
    factors = rng.normal(size=(batch, size, size))
    hessians = factors @ np.swapaxes(factors, -1, -2) / size + np.eye(size)
    hessians[2] -= 1.5 * np.eye(size)  # indefinite: CG leaves along negative curvature

    def hvp(vectors):
        return np.einsum("bij,bj->bi", hessians, vectors.reshape(batch, size)).reshape(
            vectors.shape
        )

    gradient = rng.normal(size=(batch, n_interior, dim))
    preconditioner = SobolevPreconditioner(np.ones((batch, n_interior + 1)))
    steps, _, _, curvature = steihaug_steps(
        gradient, hvp, preconditioner, np.full(batch, radius), np.ones(batch)
    )
    np.testing.assert_allclose(curvature, hvp(steps), rtol=1e-8, atol=1e-10)


def _sobolev_dense(n_interior, dim):
    """T (x) I for unit weights, as a dense matrix."""
    t = 2 * (2 * np.eye(n_interior) - np.eye(n_interior, k=1) - np.eye(n_interior, k=-1))
    return np.kron(t, np.eye(dim))


def test_steihaug_stops_at_a_residual_the_energy_tolerance_ignores():
    """CG stops once |g + H p|_{T^-1} <= enough (checked with dense algebra), in fewer
    products than the forcing term (here |g| / 10) asks; a gradient already below it
    gives no step."""
    from geomstats_density.solvers.sobolev import SobolevPreconditioner, steihaug_steps

    rng = np.random.default_rng(1)
    batch, n_interior, dim = 2, 6, 5
    size = n_interior * dim
    factors = rng.normal(size=(batch, size, size))
    hessians = factors @ np.swapaxes(factors, -1, -2) / size + 0.05 * np.eye(size)
    products = []

    def hvp(vectors):
        products.append(1)
        return np.einsum("bij,bj->bi", hessians, vectors.reshape(batch, size)).reshape(
            vectors.shape
        )

    gradient = rng.normal(size=(batch, n_interior, dim))
    gradient[1] *= 1e-6
    preconditioner = SobolevPreconditioner(np.ones((batch, n_interior + 1)))
    t_matrix = _sobolev_dense(n_interior, dim)
    g = gradient.reshape(batch, size)
    gradient_norm = np.sqrt(np.einsum("bi,bi->b", g, np.linalg.solve(t_matrix, g.T).T))
    radius, energy = np.full(batch, 1e6), np.ones(batch)
    enough = 0.5 * gradient_norm[0]
    steps, is_newton, _, _ = steihaug_steps(gradient, hvp, preconditioner, radius, energy, enough)
    with_enough = len(products)
    products.clear()
    steihaug_steps(gradient, hvp, preconditioner, radius, energy)
    residual = g[0] + hessians[0] @ steps[0].reshape(-1)
    assert np.sqrt(residual @ np.linalg.solve(t_matrix, residual)) <= enough
    assert with_enough < len(products)
    assert is_newton.all()
    np.testing.assert_array_equal(steps[1], 0.0)


def test_sobolev_preconditioner_with_stiff_directions_is_the_dense_operator():
    """apply and solve against T (x) I + blockdiag(s_i s_i^T) built densely."""
    from geomstats_density.solvers.sobolev import SobolevPreconditioner

    rng = np.random.default_rng(2)
    batch, n_interior, dim = 2, 7, 3
    stiff = rng.normal(size=(batch, n_interior, dim)) * 3
    preconditioner = SobolevPreconditioner(np.ones((batch, n_interior + 1))).with_stiff(stiff)
    vectors = rng.normal(size=(batch, n_interior, dim))
    for b in range(batch):
        dense = _sobolev_dense(n_interior, dim)
        for i in range(n_interior):
            block = slice(i * dim, (i + 1) * dim)
            dense[block, block] += np.outer(stiff[b, i], stiff[b, i])
        np.testing.assert_allclose(
            preconditioner.apply(vectors)[b].reshape(-1), dense @ vectors[b].reshape(-1), rtol=1e-12
        )
        np.testing.assert_allclose(
            preconditioner.solve(vectors)[b].reshape(-1),
            np.linalg.solve(dense, vectors[b].reshape(-1)),
            rtol=1e-10,
        )


def test_stiff_directions_find_each_nodes_mass_term():
    """H = T (x) I + blockdiag(m_i u_i u_i^T + small): one power step from a tilted
    start recovers u_i and m_i (to the small part's size)."""
    from geomstats_density.solvers.sobolev import SobolevPreconditioner, stiff_directions

    rng = np.random.default_rng(3)
    batch, n_interior, dim = 1, 6, 5
    axes = rng.normal(size=(batch, n_interior, dim))
    axes /= np.linalg.norm(axes, axis=-1, keepdims=True)
    masses = rng.uniform(50, 100, size=(batch, n_interior))
    hessian = _sobolev_dense(n_interior, dim)
    for i in range(n_interior):
        block = slice(i * dim, (i + 1) * dim)
        hessian[block, block] += masses[0, i] * np.outer(axes[0, i], axes[0, i]) + 0.01 * np.eye(
            dim
        )

    def hvp(vectors):
        return (hessian @ vectors.reshape(-1)).reshape(vectors.shape)

    start = axes + 0.5 * rng.normal(size=axes.shape)
    start /= np.linalg.norm(start, axis=-1, keepdims=True)
    preconditioner = SobolevPreconditioner(np.ones((batch, n_interior + 1)))
    stiff, _ = stiff_directions(hvp, preconditioner, start, n_power=1)
    found = np.linalg.norm(stiff, axis=-1)
    np.testing.assert_allclose(found**2, masses + 0.01, rtol=1e-3)
    alignment = np.abs(np.einsum("bki,bki->bk", stiff / found[..., None], axes))
    np.testing.assert_allclose(alignment, 1.0, atol=1e-3)


def test_non_convergence_is_reported(half_plane):
    start, end = gs.array([-3.0, 0.2]), gs.array([3.0, 0.2])
    # Curves the optimiser did not finish refine on: one iteration per node count
    # up to 65 nodes is not enough.
    half_plane.metric.log_solver = NewtonGeodesicSolver(half_plane, max_iter=1, max_nodes=65)
    with pytest.warns(GeodesicConvergenceWarning, match="did not converge"):
        curve = half_plane.metric.log_solver.solve(end, start)
    assert not curve.converged
    half_plane.metric.log_solver = NewtonGeodesicSolver(
        half_plane, max_iter=1, max_nodes=65, on_failure="raise"
    )
    with pytest.raises(GeodesicConvergenceError):
        half_plane.metric.dist(start, end)


@pytest.mark.skipif(not gs.has_autodiff(), reason="geomstats' path straightening needs autodiff")
def test_geomstats_path_straightening_runs_on_the_metric(half_plane, hyperbolic):
    from geomstats.numerics.geodesic import PathStraightening

    half_plane.metric.log_solver = PathStraightening(half_plane, n_nodes=40)
    start, end = gs.array([0.0, 1.0]), gs.array([1.0, 1.5])
    # geomstats measures the distance as the norm of its log: first order in 1/n_nodes.
    assert float(half_plane.metric.dist(start, end)) == pytest.approx(
        float(hyperbolic.metric.dist(start, end)), rel=5e-2
    )


def test_backtracking_takes_a_part_of_an_overlong_step_that_decreases_the_energy(half_plane):
    # A steepest-descent step 4 times as long as the best one along it (by the
    # curvature along the gradient): it raises the energy, so a part of it is taken
    # where Armijo's condition holds on the energy evaluated independently
    # (curve_energy), and the nodes move by that part.
    from geomstats_density.energy import curve_energy
    from geomstats_density.solvers.derivatives import matrix_free_derivatives
    from geomstats_density.solvers.steps import MatrixFreeSteps, Proposal

    metric = half_plane.metric
    times = np.linspace(0.0, 1.0, 9)[:, None]
    line = np.array([-1.0, 1.0]) + times * np.array([2.0, 0.0])
    nodes = np.stack([line, line + [0.0, 0.5]])
    current = matrix_free_derivatives(metric, nodes)
    gradient = current.gradient
    along = np.einsum("bki,bki->b", gradient, current.hvp(gradient))
    steps = -4.0 * (np.einsum("bki,bki->b", gradient, gradient) / along)[:, None, None] * gradient
    trial = nodes.copy()
    trial[:, 1:-1] += steps
    with torch.no_grad():
        trial_energy = curve_energy(metric, torch.from_numpy(trial)).numpy()
    trial_energy = np.where(np.isnan(trial_energy), np.inf, trial_energy)
    assert np.all(trial_energy > current.energy)
    slope = np.einsum("bki,bki->b", current.gradient, steps)
    moved = nodes.copy()
    proposal = Proposal(current.energy, gradient, steps, None, None, None, None)
    fraction, part_energy = MatrixFreeSteps(metric, 1e-10).rescue(
        moved, np.arange(2), proposal, slope, trial_energy, np.zeros(2, dtype=bool)
    )
    assert np.all((fraction >= 0.1) & (fraction <= 0.5))
    expected = nodes.copy()
    expected[:, 1:-1] += fraction[:, None, None] * steps
    np.testing.assert_allclose(moved, expected)
    with torch.no_grad():
        energy = curve_energy(metric, torch.from_numpy(moved)).numpy()
    assert np.all(energy <= current.energy + 1e-4 * fraction * slope)
    np.testing.assert_allclose(part_energy, energy, rtol=1e-12)
