"""Conformal metrics on non-Euclidean spaces against geomstats' own closed forms.

A constant factor ``e^c`` scales a manifold's metric, so distances scale by
``e^(c/2)`` and ``log``, ``exp`` and geodesics are the manifold's own:
geomstats' great circles on ``Hypersphere(n)``, its hyperbolic closed forms on the
Poincare ball and half-space, its bi-invariant ``SO(3)``.
"""

import math

import geomstats.backend as gs
import numpy as np
import pytest
import torch
from conftest import as_numpy
from geomstats.geometry.hypersphere import Hypersphere
from geomstats.geometry.poincare_ball import PoincareBall
from geomstats.geometry.poincare_half_space import PoincareHalfSpace
from geomstats.geometry.special_orthogonal import SpecialOrthogonal
from geomstats.learning.frechet_mean import FrechetMean
from scipy.integrate import quad

from geomstats_density import ConformalMetric, DensityConformalMetric

C = 0.6
SCALE = math.exp(C / 2)


def constant(points_ndim):
    """A constant log-factor C on points with ``points_ndim`` axes."""
    return lambda z: torch.full(z.shape[: z.ndim - points_ndim], C, dtype=z.dtype)


def conformal(space_class, *args):
    space = space_class(*args, equip=False)
    space.equip_with_metric(ConformalMetric, log_factor=constant(space.point_ndim))
    return space, space_class(*args)


def sphere_points(dim, n_points, seed):
    points = np.random.default_rng(seed).normal(size=(n_points, dim + 1))
    return gs.array(points / np.linalg.norm(points, axis=-1, keepdims=True))


def great_circle_distance(point_a, point_b):
    """``arccos(a . b)``, written here without geomstats."""
    cosine = np.clip(np.sum(as_numpy(point_a) * as_numpy(point_b), axis=-1), -1, 1)
    return np.arccos(cosine)


@pytest.mark.parametrize("dim", [2, 5])
def test_constant_factor_on_hypersphere_gives_great_circles(dim):
    space, sphere = conformal(Hypersphere, dim)
    point_a, point_b = sphere_points(dim, 3, seed=dim), sphere_points(dim, 3, seed=dim + 10)
    dist = as_numpy(space.metric.dist(point_a, point_b))
    np.testing.assert_allclose(dist / SCALE, great_circle_distance(point_a, point_b), rtol=1e-6)
    log = space.metric.log(point_b, point_a)
    np.testing.assert_allclose(
        as_numpy(log), as_numpy(sphere.metric.log(point_b, point_a)), atol=1e-9
    )
    np.testing.assert_allclose(
        as_numpy(space.metric.exp(log, point_a)), as_numpy(point_b), atol=1e-8
    )
    # At node times (17 nodes by default); in between, the spline adds O(h^4).
    times = gs.linspace(0.0, 1.0, 5)
    path = space.metric.geodesic(point_a[0], point_b[0])(times)
    assert path.shape == (5, dim + 1)
    np.testing.assert_allclose(
        as_numpy(path), as_numpy(sphere.metric.geodesic(point_a[0], point_b[0])(times)), atol=1e-9
    )


def test_hypersphere_pointwise_geometry_is_the_scaled_round_metric():
    space, sphere = conformal(Hypersphere, 2)
    base = sphere_points(2, 4, seed=1)
    vec_a = sphere.to_tangent(gs.array(np.random.default_rng(2).normal(size=(4, 3))), base)
    vec_b = sphere.to_tangent(gs.array(np.random.default_rng(3).normal(size=(4, 3))), base)
    np.testing.assert_allclose(
        as_numpy(space.metric.inner_product(vec_a, vec_b, base)),
        math.exp(C) * np.sum(as_numpy(vec_a) * as_numpy(vec_b), axis=-1),
    )
    np.testing.assert_allclose(as_numpy(space.metric.log_factor(base)), C)
    np.testing.assert_allclose(
        as_numpy(space.metric.metric_matrix(base)),
        math.exp(C) * as_numpy(sphere.metric.metric_matrix(base)),
    )


def test_hypersphere_dist_pairwise_and_frechet_mean():
    space, sphere = conformal(Hypersphere, 2)
    rng = np.random.default_rng(4)
    points = sphere.projection(gs.array([0.0, 0.0, 1.0] + 0.4 * rng.normal(size=(5, 3))))
    pairwise = as_numpy(space.metric.dist_pairwise(points))
    expected = great_circle_distance(as_numpy(points)[:, None], as_numpy(points)[None])
    np.fill_diagonal(expected, 0.0)  # arccos(a . a) is only sqrt(eps)-accurate
    np.testing.assert_allclose(pairwise / SCALE, expected, rtol=1e-6, atol=1e-12)
    # A constant factor does not move the Frechet mean.
    mean = FrechetMean(space).fit(points).estimate_
    np.testing.assert_allclose(
        as_numpy(mean), as_numpy(FrechetMean(sphere).fit(points).estimate_), atol=1e-6
    )


def test_hypersphere_batches_broadcast():
    space, _ = conformal(Hypersphere, 2)
    point_a = gs.reshape(sphere_points(2, 6, seed=5), (2, 3, 3))
    point_b = sphere_points(2, 1, seed=6)[0]
    dist = space.metric.dist(point_a, point_b)
    assert dist.shape == (2, 3)
    np.testing.assert_allclose(
        as_numpy(dist) / SCALE, great_circle_distance(point_a, point_b), rtol=1e-6
    )
    assert space.metric.log(point_b, point_a).shape == (2, 3, 3)
    np.testing.assert_allclose(as_numpy(space.metric.dist(point_b, point_b)), 0.0)
    mixed = space.metric.dist(gs.stack([point_a[0, 0], point_b]), point_b)
    np.testing.assert_allclose(as_numpy(mixed), [float(dist[0, 0]), 0.0], rtol=1e-12)


@pytest.mark.parametrize("space_class", [PoincareBall, PoincareHalfSpace])
@pytest.mark.parametrize("dim", [2, 3])
def test_constant_factor_on_poincare_models_matches_closed_forms(space_class, dim):
    space, model = conformal(space_class, dim)
    rng = np.random.default_rng(dim)
    if space_class is PoincareBall:
        raw = rng.normal(size=(2, 3, dim))
        points = 0.8 * raw / (1 + np.linalg.norm(raw, axis=-1, keepdims=True))
    else:
        points = rng.normal(size=(2, 3, dim))
        points[..., -1] = np.exp(0.5 * points[..., -1])
    point_a, point_b = gs.array(points[0]), gs.array(points[1])
    np.testing.assert_allclose(
        as_numpy(space.metric.dist(point_a, point_b)) / SCALE,
        as_numpy(model.metric.dist(point_a, point_b)),
        rtol=1e-7,
    )
    log = space.metric.log(point_b, point_a)
    np.testing.assert_allclose(
        as_numpy(log), as_numpy(model.metric.log(point_b, point_a)), rtol=1e-6
    )
    np.testing.assert_allclose(
        as_numpy(space.metric.exp(log, point_a)), as_numpy(point_b), atol=1e-8
    )
    np.testing.assert_allclose(
        as_numpy(space.metric.squared_norm(log, point_a)),
        math.exp(C) * as_numpy(model.metric.squared_norm(log, point_a)),
        rtol=1e-10,
    )
    np.testing.assert_allclose(as_numpy(space.metric.log_factor(point_a)), C, rtol=1e-12)


def test_poincare_ball_dist_pairwise_and_frechet_mean():
    space, ball = conformal(PoincareBall, 2)
    raw = np.random.default_rng(5).normal(size=(5, 2))
    points = gs.array(0.6 * raw / (1 + np.linalg.norm(raw, axis=-1, keepdims=True)))
    np.testing.assert_allclose(
        as_numpy(space.metric.dist_pairwise(points)) / SCALE,
        as_numpy(ball.metric.dist_pairwise(points)),
        rtol=1e-7,
        atol=1e-12,
    )
    np.testing.assert_allclose(
        as_numpy(FrechetMean(space).fit(points).estimate_),
        as_numpy(FrechetMean(ball).fit(points).estimate_),
        atol=1e-7,
    )


def test_poincare_ball_metric_matrix_is_the_scaled_hyperbolic_one():
    space, ball = conformal(PoincareBall, 2)
    points = gs.array([[0.1, 0.2], [-0.5, 0.3]])
    np.testing.assert_allclose(
        as_numpy(space.metric.metric_matrix(points)),
        math.exp(C) * as_numpy(ball.metric.metric_matrix(points)),
        rtol=1e-12,
    )


def test_radial_factor_on_poincare_ball_gives_the_radial_integral():
    # f(z) = |z|^2 is symmetric about every line through the centre, so the
    # segment from (0.1, 0) to (0.7, 0) is a geodesic, of length
    # int e^{r^2 / 2} 2 / (1 - r^2) dr.
    space = PoincareBall(2, equip=False)
    space.equip_with_metric(ConformalMetric, log_factor=lambda z: (z * z).sum(-1))
    curve = space.metric.log_solver.solve(gs.array([0.7, 0.0]), gs.array([0.1, 0.0]))
    exact, _ = quad(lambda r: math.exp(r * r / 2) * 2 / (1 - r * r), 0.1, 0.7, epsabs=1e-13)
    assert float(curve.dist) == pytest.approx(exact, rel=1e-7)
    np.testing.assert_allclose(as_numpy(curve.nodes)[:, 1], 0.0, atol=1e-12)


def test_density_metric_on_poincare_ball_measures_hyperbolic_lengths():
    # Q = 1/2: the curve quality of a path is -ln 2 times its hyperbolic length.
    space = PoincareBall(2, equip=False)
    space.equip_with_metric(
        DensityConformalMetric,
        log_quality=lambda z: torch.full(z.shape[:-1], -math.log(2), dtype=z.dtype),
    )
    ball = PoincareBall(2)
    point_a, point_b = gs.array([0.1, -0.4]), gs.array([-0.3, 0.5])
    nodes = as_numpy(ball.metric.geodesic(point_a, point_b)(gs.linspace(0.0, 1.0, 2049)))
    np.testing.assert_allclose(
        as_numpy(space.metric.curve_log_quality(gs.array(nodes))),
        -math.log(2) * as_numpy(ball.metric.dist(point_a, point_b)),
        rtol=1e-6,
    )


def rotations(n_points, seed):
    vectors = np.random.default_rng(seed).normal(size=(n_points, 3))
    return gs.array(np.stack([_rotation(vector) for vector in vectors]))


def _rotation(rotation_vector):
    """Rodrigues' formula, written here without geomstats."""
    angle = np.linalg.norm(rotation_vector)
    x, y, z = rotation_vector / angle
    generator = np.array([[0, -z, y], [z, 0, -x], [-y, x, 0]])
    return np.eye(3) + math.sin(angle) * generator + (1 - math.cos(angle)) * generator @ generator


def test_constant_factor_on_rotations_gives_rotation_angles():
    space, group = conformal(SpecialOrthogonal, 3)
    point_a, point_b = rotations(3, seed=0), rotations(3, seed=1)
    relative = np.swapaxes(as_numpy(point_a), -1, -2) @ as_numpy(point_b)
    angle = np.arccos(np.clip((np.trace(relative, axis1=-2, axis2=-1) - 1) / 2, -1, 1))
    np.testing.assert_allclose(
        as_numpy(space.metric.dist(point_a, point_b)) / SCALE, angle, rtol=1e-6
    )
    log = space.metric.log(point_b, point_a)
    assert log.shape == (3, 3, 3)
    expected = np.real(as_numpy(group.metric.log(point_b, point_a)))
    np.testing.assert_allclose(as_numpy(log), expected, atol=1e-8)
    np.testing.assert_allclose(
        as_numpy(space.metric.exp(log, point_a)), as_numpy(point_b), atol=1e-8
    )
    path = space.metric.geodesic(point_a[0], point_b[0])(gs.linspace(0.0, 1.0, 5))
    assert path.shape == (5, 3, 3)
    np.testing.assert_allclose(
        as_numpy(path),
        as_numpy(group.metric.geodesic(point_a[0], point_b[0])(gs.linspace(0.0, 1.0, 5))),
        atol=1e-8,
    )


def test_geodesic_equation_on_the_sphere_is_the_great_circle_acceleration():
    space, _ = conformal(Hypersphere, 2)
    base = sphere_points(2, 4, seed=7)
    velocity = space.to_tangent(gs.array(np.random.default_rng(8).normal(size=(4, 3))), base)
    derivative = as_numpy(space.metric.geodesic_equation(gs.stack([base, velocity], axis=-2)))
    sq_speed = np.sum(as_numpy(velocity) ** 2, axis=-1, keepdims=True)
    np.testing.assert_allclose(derivative[..., 1, :], -sq_speed * as_numpy(base), atol=1e-14)
