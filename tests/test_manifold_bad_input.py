"""Bad input on manifolds: clear errors, and a warning with one answer at cut points."""

import math

import geomstats.backend as gs
import numpy as np
import pytest
import torch
from conftest import as_numpy
from geomstats.geometry.hypersphere import Hypersphere
from geomstats.geometry.poincare_ball import PoincareBall
from geomstats.geometry.spd_matrices import SPDMatrices
from geomstats.geometry.special_orthogonal import SpecialOrthogonal

from geomstats_density import ConformalMetric, DensityConformalMetric, DomainError
from geomstats_density.exceptions import NonUniqueGeodesicWarning
from geomstats_density.solvers.manifold import ManifoldGeodesicSolver

C = 0.4


def constant(z):
    return torch.full(z.shape[:-1], C, dtype=z.dtype)


@pytest.fixture(scope="module")
def sphere():
    space = Hypersphere(2, equip=False)
    space.equip_with_metric(ConformalMetric, log_factor=constant)
    return space


def test_points_off_the_sphere(sphere):
    north = gs.array([0.0, 0.0, 1.0])
    with pytest.raises(ValueError, match=r"point is not on the Hypersphere\(2\).*1.001"):
        sphere.metric.dist(north, gs.array([0.0, 1.001, 0.0]))
    with pytest.raises(ValueError, match=r"base_point is not on the Hypersphere\(2\)"):
        sphere.metric.log(north, gs.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]]))
    with pytest.raises(ValueError, match="points is not on"):
        sphere.metric.dist_pairwise(gs.array([[1.0, 0.0, 0.0], [2.0, 0.0, 0.0]]))
    with pytest.raises(ValueError, match=r"shape \[\.\.\., 3\]"):
        sphere.metric.dist(gs.array([0.0, 1.0]), gs.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="NaN or infinite"):
        sphere.metric.dist(north, gs.array([np.nan, 1.0, 0.0]))


def test_exp_of_a_vector_that_is_not_tangent(sphere):
    with pytest.raises(ValueError, match="not tangent"):
        sphere.metric.exp(gs.array([0.0, 0.1, 0.5]), gs.array([0.0, 0.0, 1.0]))


def test_antipodal_points_warn_and_return_one_half_great_circle(sphere):
    north, south = gs.array([0.0, 0.0, 1.0]), gs.array([0.0, 0.0, -1.0])
    with pytest.warns(NonUniqueGeodesicWarning, match="not unique"):
        curve = sphere.metric.log_solver.solve(south, north)
    assert float(curve.dist) == pytest.approx(math.pi * math.exp(C / 2), rel=1e-9)
    points = as_numpy(curve(gs.linspace(0.0, 1.0, 9)))
    np.testing.assert_allclose(np.linalg.norm(points, axis=-1), 1.0, atol=1e-14)
    # Half a great circle through the poles: the polar angle grows linearly.
    np.testing.assert_allclose(points[:, 2], np.cos(np.linspace(0, math.pi, 9)), atol=1e-9)
    log = as_numpy(curve.initial_velocity)
    assert np.linalg.norm(log) == pytest.approx(math.pi, rel=1e-9)
    np.testing.assert_allclose(
        as_numpy(sphere.metric.exp(gs.array(log), north)), as_numpy(south), atol=1e-8
    )


def test_half_turn_on_rotations_warns():
    space = SpecialOrthogonal(3, equip=False)
    space.equip_with_metric(
        ConformalMetric, log_factor=lambda r: torch.zeros(r.shape[:-2], dtype=r.dtype)
    )
    half_turn = gs.array(np.diag([1.0, -1.0, -1.0]))
    with pytest.warns(NonUniqueGeodesicWarning):
        dist = space.metric.dist(gs.eye(3), half_turn)
    assert float(dist) == pytest.approx(math.pi, rel=1e-9)


def test_solver_and_map_options_that_do_not_apply(sphere):
    space = Hypersphere(2, equip=False)
    with pytest.raises(ValueError, match=r"method must be one of \['manopt'\]"):
        space.equip_with_metric(ConformalMetric, log_factor=constant, method="newton")
    with pytest.raises(ValueError, match="phi pulls back the Euclidean"):
        space.equip_with_metric(ConformalMetric, log_factor=constant, phi=lambda z: z)
    with pytest.raises(ValueError, match="Conformal metrics rescale"):
        SPDMatrices(2, equip=False).equip_with_metric(ConformalMetric, log_factor=constant)
    with pytest.raises(NotImplementedError, match="chart"):
        sphere.metric.christoffels(gs.array([0.0, 0.0, 1.0]))


def test_factor_not_finite_on_part_of_the_sphere():
    space = Hypersphere(2, equip=False)
    # Infinite on a band about the great circle x = 0.
    space.equip_with_metric(
        ConformalMetric,
        log_factor=lambda z: torch.where(
            z[..., 0].abs() < 0.05, torch.nan, torch.zeros_like(z[..., 0])
        ),
    )
    with pytest.raises(
        DomainError, match=r"point is outside the metric's domain.*\[0.0, 1.0, 0.0\]"
    ):
        space.metric.dist(gs.array([1.0, 0.0, 0.0]), gs.array([0.0, 1.0, 0.0]))
    with pytest.raises(DomainError, match="starting curve.*leaves the metric's domain"):
        space.metric.dist(gs.array([0.8, 0.6, 0.0]), gs.array([-0.8, 0.6, 0.0]))


def test_points_outside_the_poincare_ball():
    space = PoincareBall(2, equip=False)
    space.equip_with_metric(
        DensityConformalMetric, log_quality=lambda z: -torch.ones(z.shape[:-1], dtype=z.dtype)
    )
    with pytest.raises(DomainError, match=r"outside the PoincareBall: the open unit ball"):
        space.metric.dist(gs.array([0.0, 0.0]), gs.array([1.2, 0.0]))
    with pytest.raises(DomainError, match="outside the PoincareBall"):
        space.metric.metric_matrix(gs.array([0.0, 1.0]))


def test_manifold_solver_on_a_vector_space(half_plane):
    solver = ManifoldGeodesicSolver(half_plane)
    with pytest.raises(ValueError, match="need a Hypersphere or SpecialOrthogonal"):
        solver.solve(gs.array([1.0, 1.0]), gs.array([0.0, 1.0]))
