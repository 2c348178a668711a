"""The exponential map against geomstats' closed-form hyperbolic geodesics."""

import numpy as np
import pytest

import geomstats.backend as gs

from geomstats_density import DomainError
from conftest import as_numpy, random_half_plane_points


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
        as_numpy(half_plane.metric.geodesic(initial_point=base, initial_tangent_vec=velocity)(times)),
        as_numpy(hyperbolic.metric.geodesic(initial_point=base, initial_tangent_vec=velocity)(times)),
        rtol=1e-8,
        atol=1e-10,
    )


def test_exp_leaving_the_domain_raises(half_plane):
    with pytest.raises(DomainError, match="leaves the metric's domain"):
        # Straight down: y(t) = exp(-800 t) underflows to 0, outside the domain, before t = 1.
        half_plane.metric.exp(gs.array([0.0, -800.0]), gs.array([0.0, 1.0]))
