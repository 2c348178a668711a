"""The exponential map against geomstats' closed-form hyperbolic geodesics."""

import geomstats.backend as gs
import numpy as np
import pytest
import torch
from conftest import as_numpy, random_half_plane_points
from geomstats.geometry.euclidean import Euclidean

from geomstats_density import (
    DensityConformalMetric,
    DomainError,
    GeodesicConvergenceError,
    GeodesicConvergenceWarning,
    GeodesicODESolver,
)
from geomstats_density.solvers.status import ExpStatus


def test_exp_matches_closed_form(half_plane, hyperbolic):
    base = gs.array(random_half_plane_points(6, seed=11))
    velocity = gs.array(np.random.default_rng(12).normal(size=(6, 2)))
    np.testing.assert_allclose(
        as_numpy(half_plane.metric.exp(velocity, base)),
        as_numpy(hyperbolic.metric.exp(velocity, base)),
        rtol=1e-8,
        atol=1e-10,
    )


def test_exp_inverts_log(half_plane):
    base = gs.array(random_half_plane_points(4, seed=13))
    point = gs.array(random_half_plane_points(4, seed=14))
    velocity = half_plane.metric.log(point, base)
    np.testing.assert_allclose(
        as_numpy(half_plane.metric.exp(velocity, base)), as_numpy(point), atol=1e-7
    )


def test_geodesic_from_velocity_at_negative_and_positive_times(half_plane, hyperbolic):
    base, velocity = gs.array([0.2, 1.0]), gs.array([0.7, -0.4])
    times = gs.array([-0.5, 0.0, 0.25, 1.0, 1.5])
    np.testing.assert_allclose(
        as_numpy(
            half_plane.metric.geodesic(initial_point=base, initial_tangent_vec=velocity)(times)
        ),
        as_numpy(
            hyperbolic.metric.geodesic(initial_point=base, initial_tangent_vec=velocity)(times)
        ),
        rtol=1e-8,
        atol=1e-10,
    )


def test_exp_leaving_the_domain_raises(half_plane):
    with pytest.raises(DomainError, match="leaves the metric's domain"):
        # Straight down: y(t) = exp(-800 t) underflows to 0, outside the domain, before t = 1.
        half_plane.metric.exp(gs.array([0.0, -800.0]), gs.array([0.0, 1.0]))


# ----------------------------------------------------------------------
# The end point's sensitivity to the velocity
# ----------------------------------------------------------------------
def _largest_singular_value_by_differences(exp, velocity, base, step):
    """Largest singular value of d exp / d velocity, by central differences."""
    columns = []
    for axis in range(velocity.size):
        shift = np.zeros(velocity.size)
        shift[axis] = step
        plus = as_numpy(exp(gs.array(velocity + shift), gs.array(base)))
        minus = as_numpy(exp(gs.array(velocity - shift), gs.array(base)))
        columns.append((plus - minus) / (2 * step))
    return np.linalg.svd(np.stack(columns, axis=-1), compute_uv=False)[0]


def _ring_space(**exp_options):
    """The quickstart's ring density (a ridge along the unit circle)."""

    def log_quality(z, eps=0.1, width=0.3):
        radius = torch.linalg.vector_norm(z, dim=-1)
        ring = torch.exp(-((radius - 1) ** 2) / (2 * width**2))
        return torch.log(eps / 2 + (1 - eps) * ring)

    space = Euclidean(2, equip=False)
    space.equip_with_metric(DensityConformalMetric, log_quality=log_quality)
    space.metric.exp_solver = GeodesicODESolver(space, **exp_options)
    return space


# The velocity of the ring's geodesic from (-1, 0.2) to (1, 0.2), as log returns it.
RING_BASE, RING_VELOCITY = np.array([-1.0, 0.2]), np.array([1.36891113, 2.26023411])


def test_half_plane_exp_is_stable_and_its_sensitivity_matches_the_closed_form(
    half_plane, hyperbolic
):
    base = random_half_plane_points(3, seed=41)
    velocity = np.random.default_rng(42).normal(size=(3, 2))
    result = half_plane.metric.exp_solver.solve(gs.array(velocity), gs.array(base))
    assert result.converged.all() and (result.status == ExpStatus.CONVERGED).all()
    np.testing.assert_allclose(
        as_numpy(result.end_point),
        as_numpy(hyperbolic.metric.exp(gs.array(velocity), gs.array(base))),
        rtol=1e-8,
    )
    for index in range(3):
        exact = _largest_singular_value_by_differences(
            hyperbolic.metric.exp, velocity[index], base[index], 1e-6
        )
        np.testing.assert_allclose(result.sensitivity[index], exact, rtol=1e-4)
    assert (result.end_point_error < result.tolerance).all()


def test_ring_exp_from_log_is_flagged_with_its_sensitivity():
    space = _ring_space(on_failure="ignore")
    result = space.metric.exp_solver.solve(gs.array(RING_VELOCITY), gs.array(RING_BASE))
    assert result.status == ExpStatus.UNSTABLE and not result.converged
    unchecked = GeodesicODESolver(space, sensitivity_directions=0)
    by_differences = _largest_singular_value_by_differences(
        unchecked.exp, RING_VELOCITY, RING_BASE, 1e-7
    )
    np.testing.assert_allclose(result.sensitivity, by_differences, rtol=1e-2)
    speed = np.linalg.norm(RING_VELOCITY)
    np.testing.assert_allclose(
        result.end_point_error, by_differences * (1e-11 + 1e-8) * speed, rtol=2e-2
    )


def test_ring_exp_raises_or_warns_per_on_failure():
    match = r"unstable.*estimated error is .*log-based methods"
    with pytest.raises(GeodesicConvergenceError, match=match):
        _ring_space().metric.exp(gs.array(RING_VELOCITY), gs.array(RING_BASE))
    with pytest.warns(GeodesicConvergenceWarning, match=match):
        end = _ring_space(on_failure="warn").metric.exp(
            gs.array(RING_VELOCITY), gs.array(RING_BASE)
        )
    assert np.isfinite(as_numpy(end)).all()
    # The same velocity, declared exact: only the integration's error is carried.
    exact = _ring_space(velocity_rtol=0.0).metric.exp_solver.solve(
        gs.array(RING_VELOCITY), gs.array(RING_BASE)
    )
    assert exact.converged


def test_exp_budget_is_a_status():
    space = _ring_space(on_failure="ignore", max_evaluations=50)
    result = space.metric.exp_solver.solve(gs.array(RING_VELOCITY), gs.array(RING_BASE))
    assert result.status == ExpStatus.BUDGET
    assert np.isnan(as_numpy(result.end_point)).all() and np.isnan(result.sensitivity)
    assert "max_evaluations=50" in result.message.item()
