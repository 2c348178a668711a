"""The refinement's answers checked against the returned curves and closed forms.

References from outside the code: the half-plane's closed-form distance
``arccosh(1 + |dx|^2 / (2 y1 y2))``, ``exp(c / 2) |b - a|`` for a constant
log-factor ``c``, and the length of the returned curve's cubic spline integrated
by scipy's adaptive quadrature.
"""

import math
import warnings

import geomstats.backend as gs
import numpy as np
import pytest
import torch
from conftest import as_numpy, half_plane_log_factor
from geomstats.geometry.euclidean import Euclidean
from geomstats.geometry.poincare_half_space import PoincareHalfSpace
from paper_problems import EXACT_LENGTHS, outside_disk
from scipy.integrate import quad
from scipy.interpolate import CubicSpline

from geomstats_density import (
    ConformalMetric,
    DensityConformalMetric,
    DomainError,
    GeodesicConvergenceError,
    GeodesicConvergenceWarning,
    NewtonGeodesicSolver,
)
from geomstats_density.solvers.status import CurveStatus


def hyperbolic_dist(a, b):
    """Closed-form distance of the Poincare half-plane."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.arccosh(1 + np.sum((a - b) ** 2, -1) / (2 * a[..., 1] * b[..., 1]))


def model_half_plane():
    """geomstats' half-plane with a conformal metric of log-factor 0: its own metric."""
    space = PoincareHalfSpace(2, equip=False)
    space.equip_with_metric(
        ConformalMetric, log_factor=lambda z: torch.zeros(z.shape[:-1], dtype=z.dtype)
    )
    return space


def plane(log_factor, **solver_options):
    space = Euclidean(2, equip=False)
    space.equip_with_metric(ConformalMetric, log_factor=log_factor, solver_options=solver_options)
    return space


def spline_length(nodes, speed):
    """Length of the cubic spline through ``nodes`` (uniform times), by adaptive quadrature.

    ``speed(point, velocity)`` is the metric's norm of a velocity at a point.
    """
    times = np.linspace(0.0, 1.0, len(nodes))
    spline = CubicSpline(times, nodes, axis=0)
    velocity = spline.derivative()
    return sum(
        quad(lambda t: speed(spline(t), velocity(t)), left, right, epsabs=0, epsrel=1e-12)[0]
        for left, right in zip(times[:-1], times[1:])
    )


def gauss_spline_length(nodes, log_factor, n_points=16):
    """Length of the cubic spline through ``nodes``: Gauss-Legendre on each piece.

    ``log_factor`` maps points ``[n, 2]`` (torch) to ``[n]``; the speed is
    ``exp(f / 2) |gamma'|``.
    """
    times = np.linspace(0.0, 1.0, len(nodes))
    spline = CubicSpline(times, nodes, axis=0)
    roots, weights = np.polynomial.legendre.leggauss(n_points)
    half = 0.5 * np.diff(times)
    t = (times[:-1, None] + half[:, None] * (roots + 1)).ravel()
    factor = log_factor(torch.as_tensor(spline(t))).numpy()
    speed = np.exp(factor / 2) * np.linalg.norm(spline.derivative()(t), axis=-1)
    return float(np.sum((half[:, None] * weights).ravel() * speed))


def hyperbolic_speed(point, velocity):
    return np.linalg.norm(velocity) / point[1]


def test_far_pair_on_the_half_plane_is_solved_and_stays_inside():
    """Geodesics that are huge semicircles, vertical at their ends: the cubic spline
    through a coarse solution overshoots below y = 0, where the refinement now
    resamples monotonically; both scales are solved, the curves stay inside."""
    space = model_half_plane()
    start = np.array([[0.0, 1.0], [0.0, 1e-6]])
    end = np.array([[1e6, 1.0], [1.0, 1e-6]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeodesicConvergenceWarning)
        curve = space.metric.log_solver.solve(gs.array(end), gs.array(start))
    dist, error = as_numpy(curve.dist), as_numpy(curve.dist_error)
    exact = hyperbolic_dist(start, end)
    assert exact[0] == pytest.approx(27.631021115930547, rel=1e-12)
    assert np.all(curve.status != CurveStatus.FAILED)
    np.testing.assert_allclose(dist, exact, rtol=1e-7)
    assert np.all(np.abs(dist - exact) <= error + 1e-9 * exact)  # the error estimate holds
    points = as_numpy(curve(gs.array(np.linspace(0.0, 1.0, 4097))))
    assert np.all(points[..., 1] > 0)


def test_mixed_batch_returns_the_solvable_pairs():
    """A factor refused on the strip |x| < 1/2: a pair across it cannot be solved,
    the others in the batch are, and the impossible one says why."""

    def two_halves(z):
        return torch.where(z[..., 0].abs() < 0.5, torch.inf, torch.zeros_like(z[..., 0]))

    space = plane(two_halves, initialization="line")
    start = np.array([[1.0, 0.0], [-1.0, 0.0], [-2.0, 1.0]])
    end = np.array([[2.0, 0.0], [1.0, 0.0], [-1.0, 3.0]])
    with pytest.warns(GeodesicConvergenceWarning, match="1 FAILED") as record:
        curve = space.metric.log_solver.solve(gs.array(end), gs.array(start))
    assert record[0].filename == __file__  # the warning points at the caller's line
    dist = as_numpy(curve.dist)
    chords = np.linalg.norm(end - start, axis=-1)
    np.testing.assert_allclose(dist[[0, 2]], chords[[0, 2]], rtol=1e-12)
    assert np.isnan(dist[1]) and np.all(np.isnan(as_numpy(curve.initial_velocity)[1]))
    assert list(curve.status) == [CurveStatus.CONVERGED, CurveStatus.FAILED, CurveStatus.CONVERGED]
    assert "leaves the metric's domain" in curve.message[1]
    assert list(curve.converged) == [True, False, True]
    # Alone, the impossible pair raises (there is nothing to return), naming the point.
    with pytest.raises(DomainError, match="log_factor is not finite"):
        space.metric.dist(gs.array(start[1]), gs.array(end[1]))
    # Endpoints outside the domain are the caller's error, raised at once.
    with pytest.raises(DomainError, match="point is outside"):
        space.metric.dist(gs.array(start), gs.array([[0.0, 0.0]] * 3))
    space.metric.log_solver.on_failure = "raise"
    with pytest.raises(GeodesicConvergenceError, match="FAILED"):
        space.metric.dist(gs.array(start), gs.array(end))


@pytest.mark.parametrize("shift", [-800.0, -745.0, 0.0, 705.0])
def test_constant_log_factor_scales_lengths_by_its_exponential(shift):
    space = plane(lambda z: torch.full(z.shape[:-1], shift, dtype=z.dtype))
    start, end = np.array([[0.0, 1.0], [2.0, -1.0]]), np.array([[3.0, 0.5], [-1.0, 4.0]])
    curve = space.metric.log_solver.solve(gs.array(end), gs.array(start))
    np.testing.assert_allclose(
        as_numpy(curve.dist), math.exp(shift / 2) * np.linalg.norm(end - start, axis=-1), rtol=1e-12
    )
    assert np.all(curve.converged)
    np.testing.assert_allclose(as_numpy(curve.initial_velocity), end - start, rtol=1e-10)


@pytest.mark.parametrize("shift", [-800.0, 705.0])
def test_shifted_half_plane_factor_scales_its_distances(shift):
    start, end = np.array([[0.0, 1.0], [-1.0, 0.3]]), np.array([[3.0, 0.5], [2.0, 2.0]])
    space = plane(lambda z: half_plane_log_factor(z) + shift)
    unshifted = plane(half_plane_log_factor)
    dist = as_numpy(space.metric.dist(gs.array(start), gs.array(end)))
    reference = as_numpy(unshifted.metric.dist(gs.array(start), gs.array(end)))
    np.testing.assert_allclose(dist, math.exp(shift / 2) * reference, rtol=1e-10)
    np.testing.assert_allclose(dist, math.exp(shift / 2) * hyperbolic_dist(start, end), rtol=1e-8)
    assert space.metric.log_factor_field.shift == 0.0  # the user's metric is not changed


def test_reported_length_is_the_returned_curves_own_length(half_plane):
    start, end = np.array([[0.0, 1.0], [-3.0, 0.2]]), np.array([[3.0, 0.5], [3.0, 0.2]])
    curve = half_plane.metric.log_solver.solve(gs.array(end), gs.array(start))
    nodes, dist = as_numpy(curve.nodes), as_numpy(curve.dist)
    for b in range(2):
        measured = spline_length(nodes[b], hyperbolic_speed)
        assert abs(measured - dist[b]) <= 1e-8 * dist[b]
    np.testing.assert_allclose(as_numpy(curve.length()), dist, rtol=1e-8)
    np.testing.assert_allclose(dist, hyperbolic_dist(start, end), rtol=1e-8)


def test_kinked_length_is_the_returned_curves_own_length():
    """Example 3: Newton does not settle on the kink; whatever it returns, ``dist``
    is the length of the returned curve (measured here by Gauss-Legendre)."""

    space = Euclidean(2, equip=False)
    space.equip_with_metric(
        DensityConformalMetric,
        log_quality=outside_disk,
        solver_options=dict(max_nodes=257, initialization="line"),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeodesicConvergenceWarning)
        curve = space.metric.log_solver.solve(gs.array([1.3, 0.0]), gs.array([-1.3, 0.0]))

    def log_factor(z):
        return 2 * torch.log(-outside_disk(z))

    measured = gauss_spline_length(as_numpy(curve.nodes), log_factor)
    dist = float(curve.dist)
    assert abs(measured - dist) <= 1e-6 * dist
    assert dist >= EXACT_LENGTHS[3] * (1 - 1e-6)  # a curve is never shorter than the geodesic
    assert dist == pytest.approx(EXACT_LENGTHS[3], rel=1e-2)
    assert curve.converged == (curve.status == CurveStatus.CONVERGED)
    if not curve.converged:
        assert "nodes" in str(curve.message) and "iterations" in str(curve.message)


def test_curves_the_optimiser_did_not_finish_refine_on(half_plane):
    """Three Newton iterations per node count are too few at 17 nodes: the curve
    still refines, warm-started, and converges at a finer count."""
    start, end = np.array([-3.0, 0.2]), np.array([3.0, 0.2])
    solver = NewtonGeodesicSolver(half_plane, max_iter=3, initialization="line")
    curve = solver.solve(gs.array(end), gs.array(start))
    assert bool(curve.converged) and curve.status == CurveStatus.CONVERGED
    assert curve.n_nodes > 17
    assert float(curve.dist) == pytest.approx(hyperbolic_dist(start, end), rel=1e-8)


def test_diagnostics_name_what_happened(half_plane):
    start, end = np.array([[0.0, 1.0], [1.0, 1.0]]), np.array([[3.0, 0.5], [1.0, 1.0]])
    curve = half_plane.metric.log_solver.solve(gs.array(end), gs.array(start))
    assert list(curve.status) == [CurveStatus.CONVERGED, CurveStatus.CONVERGED]
    assert curve.message[0].startswith("converged (")
    assert "equal endpoints" in curve.message[1]
    text = repr(curve)
    assert "batch_shape=(2,)" in text and "converged=2/2" in text and "n_nodes=" in text
    solver = NewtonGeodesicSolver(half_plane, max_iter=1, max_nodes=33, initialization="line")
    with pytest.warns(GeodesicConvergenceWarning, match="MAX_ITER") as record:
        failed = solver.solve(gs.array(end[0]), gs.array(start[0]))
    assert record[0].filename == __file__
    assert "max_iter=1" in str(record[0].message) and "33 nodes" in str(record[0].message)
    assert failed.status == CurveStatus.MAX_ITER and not failed.converged


@pytest.mark.parametrize("times", [[0.0, np.nan], [-0.1, 0.5], [0.5, 1.5]])
def test_curve_times_outside_zero_one_or_nan_raise(half_plane, times):
    curve = half_plane.metric.log_solver.solve(gs.array([3.0, 0.5]), gs.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="t must be times in"):
        curve(gs.array(times))


def test_graded_node_times_count_the_node_density():
    """A node grading's times ``s(t_i)``: the node density's integral up to each,
    by scipy's adaptive quadrature, is ``t_i`` times its integral over [0, 1]."""
    from geomstats_density.solvers.grading import NodeGrading

    centers, masses, width = np.array([0.3, 0.31, 0.8]), np.array([0.5, 1.0, 0.4]), 0.004
    grading = NodeGrading(centers, masses, width)

    def density(s):
        bumps = np.exp(-0.5 * ((s - centers) / width) ** 2) / (math.sqrt(2 * math.pi) * width)
        return 1.0 + bumps @ masses

    def count(s):
        return quad(density, 0.0, s, points=centers[centers < s], limit=200, epsabs=1e-13)[0]

    times = grading.times(33)
    assert times[0] == 0.0 and times[-1] == 1.0 and np.all(np.diff(times) > 0)
    total = count(1.0)
    np.testing.assert_allclose(
        [count(s) for s in times], np.linspace(0.0, 1.0, 33) * total, atol=1e-10
    )
    # Asked again, after other node counts and a change to the caller's copy,
    # the times are the same, and those of 65 nodes count the density too.
    expected = times.copy()
    times[1:-1] = 0.5
    finer = grading.times(65)
    np.testing.assert_array_equal(grading.times(33), expected)
    np.testing.assert_allclose(
        [count(s) for s in finer[::8]], np.linspace(0.0, 1.0, 65)[::8] * total, atol=1e-10
    )
    # Without bumps the times are uniform.
    np.testing.assert_allclose(NodeGrading([], [], width).times(9), np.linspace(0, 1, 9))
