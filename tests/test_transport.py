"""Parallel transport against geomstats' closed form and the isometry it must be."""

import math

import geomstats.backend as gs
import numpy as np
import pytest
import torch
from conftest import as_numpy, half_plane_log_factor, random_half_plane_points
from geomstats.geometry._hyperbolic import HyperbolicDiffeo
from geomstats.geometry.euclidean import Euclidean
from geomstats.geometry.hyperboloid import Hyperboloid
from geomstats.geometry.hypersphere import Hypersphere
from geomstats.geometry.poincare_half_space import PoincareHalfSpace
from geomstats.geometry.pullback_metric import PullbackDiffeoMetric
from geomstats.geometry.special_orthogonal import SpecialOrthogonal
from paper_problems import central_projection, sphere_caps

from geomstats_density import ConformalMetric, DensityConformalMetric
from geomstats_density.densities import Gaussian
from geomstats_density.quality import DensityRatio, RealismIndex
from geomstats_density.transport import shoot


@pytest.fixture(scope="module")
def hyperboloid_half_plane():
    """geomstats' half-plane with closed-form parallel transport (through the hyperboloid)."""
    space = PoincareHalfSpace(2, equip=False)
    space.equip_with_metric(
        PullbackDiffeoMetric,
        diffeo=HyperbolicDiffeo("half-space", "extrinsic"),
        image_space=Hyperboloid(2),
    )
    return space


def relative_error(result, expected):
    result, expected = as_numpy(result), as_numpy(expected)
    return np.max(np.abs(result - expected) / np.abs(expected).max(-1, keepdims=True))


def test_transport_along_a_velocity_matches_the_closed_form(half_plane, hyperboloid_half_plane):
    rng = np.random.default_rng(0)
    base = gs.array(random_half_plane_points(5, seed=1))
    vector, direction = gs.array(rng.normal(size=(5, 2))), gs.array(rng.normal(size=(5, 2)))
    expected = hyperboloid_half_plane.metric.parallel_transport(vector, base, direction=direction)
    result = half_plane.metric.parallel_transport(vector, base, direction=direction)
    assert relative_error(result, expected) < 1e-10  # 4e-13 measured


def test_transport_on_the_poincare_model_matches_the_closed_form(hyperboloid_half_plane):
    # The model's own factor, folded into the log-factor, carries all the geometry.
    space = PoincareHalfSpace(2, equip=False)
    space.equip_with_metric(ConformalMetric, log_factor=lambda z: torch.zeros_like(z[..., 0]))
    rng = np.random.default_rng(2)
    base = gs.array(random_half_plane_points(3, seed=3))
    vector, direction = gs.array(rng.normal(size=(3, 2))), gs.array(rng.normal(size=(3, 2)))
    expected = hyperboloid_half_plane.metric.parallel_transport(vector, base, direction=direction)
    result = space.metric.parallel_transport(vector, base, direction=direction)
    assert relative_error(result, expected) < 1e-10


def test_transport_to_an_end_point_matches_the_closed_form(half_plane, hyperboloid_half_plane):
    rng = np.random.default_rng(4)
    base = gs.array(random_half_plane_points(3, seed=5))
    end = gs.array(random_half_plane_points(3, seed=6))
    vector = gs.array(rng.normal(size=(3, 2)))
    expected = hyperboloid_half_plane.metric.parallel_transport(vector, base, end_point=end)
    result = half_plane.metric.parallel_transport(vector, base, end_point=end)
    # log's velocity (1e-7) refined by Newton steps: 3e-12 measured.
    assert relative_error(result, expected) < 1e-9
    np.testing.assert_allclose(
        as_numpy(half_plane.metric.norm(result, end)),
        as_numpy(half_plane.metric.norm(vector, base)),
        rtol=1e-9,
    )


def gaussian_metric():
    """The paper's metric of a correlated Gaussian (exact law: a smooth factor)."""
    density = Gaussian(np.zeros(2), np.array([[1.0, 0.6], [0.6, 0.8]]))
    space = Euclidean(2, equip=False)
    space.equip_with_metric(DensityConformalMetric, log_quality=RealismIndex(density))
    return space.metric


def pullback_metric():
    space = Euclidean(2, equip=False)
    space.equip_with_metric(
        ConformalMetric,
        log_factor=lambda z: 0.3 * torch.sin(z[..., 0]) + 0.2 * z[..., 1] ** 2,
        phi=central_projection,
    )
    return space.metric


@pytest.mark.parametrize("make", [gaussian_metric, pullback_metric])
def test_transport_is_an_isometry_that_carries_the_velocity(make):
    # Parallel transport preserves inner products, and the velocity of a
    # geodesic is parallel along it: transporting the initial velocity gives
    # the final one, here by central differences of the exp solver's geodesic.
    metric = make()
    rng = np.random.default_rng(8)
    base = gs.array(rng.normal(size=(3, 2)) * 0.5)
    direction, vec_a, vec_b = (gs.array(rng.normal(size=(3, 2)) * 0.4) for _ in range(3))
    vectors = gs.stack([vec_a, vec_b, direction])
    transported = metric.parallel_transport(vectors, base[None], direction=direction[None])
    end = metric.exp(direction, base)
    for i, j in ((0, 0), (0, 1), (1, 1)):
        np.testing.assert_allclose(
            as_numpy(metric.inner_product(transported[i], transported[j], end)),
            as_numpy(metric.inner_product(vectors[i], vectors[j], base)),
            rtol=1e-9,
            atol=1e-11,
        )
    step = 1e-4
    path = as_numpy(
        metric.geodesic(base, initial_tangent_vec=direction)(gs.array([1 - step, 1 + step]))
    )
    final_velocity = (path[:, 1] - path[:, 0]) / (2 * step)
    np.testing.assert_allclose(as_numpy(transported[2]), final_velocity, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("make", [gaussian_metric, pullback_metric])
def test_shooting_lands_on_the_end_point(make):
    # From velocities 1e-3 off, exp(shoot(v)) meets the end points to the
    # integrator's tolerance.
    metric = make()
    rng = np.random.default_rng(10)
    base = torch.from_numpy(rng.normal(size=(3, 2)) * 0.5)
    velocity = torch.from_numpy(rng.normal(size=(3, 2)) * 0.5)
    end = torch.from_numpy(as_numpy(metric.exp(gs.array(velocity.numpy()), gs.array(base.numpy()))))
    refined = shoot(metric, base, end, velocity + 1e-3)
    landed = as_numpy(metric.exp(gs.array(refined.numpy()), gs.array(base.numpy())))
    np.testing.assert_allclose(landed, end.numpy(), atol=1e-10)
    np.testing.assert_allclose(refined.numpy(), velocity.numpy(), atol=1e-8)


def test_transport_of_one_vector_keeps_its_shape(half_plane):
    result = half_plane.metric.parallel_transport(
        gs.array([1.0, 0.5]), gs.array([0.0, 1.0]), direction=gs.array([0.3, 0.2])
    )
    assert tuple(result.shape) == (2,)


def test_transport_needs_one_of_direction_and_end_point(half_plane):
    point, vector = gs.array([0.0, 1.0]), gs.array([1.0, 0.0])
    with pytest.raises(ValueError, match="exactly one of direction"):
        half_plane.metric.parallel_transport(vector, point)
    with pytest.raises(ValueError, match="exactly one of direction"):
        half_plane.metric.parallel_transport(vector, point, direction=vector, end_point=point)
    with pytest.raises(ValueError, match="direction must have shape"):
        half_plane.metric.parallel_transport(vector, point, direction=gs.array([1.0, 0.0, 0.0]))


def test_transport_leaving_the_domain_raises(half_plane):
    from geomstats_density import DomainError

    with pytest.raises(DomainError, match="parallel_transport: the geodesic leaves"):
        half_plane.metric.parallel_transport(
            gs.array([1.0, 0.0]), gs.array([0.0, 1.0]), direction=gs.array([0.0, -800.0])
        )


def zero_factor_metric(space):
    """The space's own metric, as a conformal metric with factor 1."""
    ndim = space.point_ndim
    space.equip_with_metric(
        ConformalMetric, log_factor=lambda z: torch.zeros(z.shape[: z.ndim - ndim], dtype=z.dtype)
    )
    return space.metric


@pytest.mark.parametrize(
    "make",
    [
        lambda equip: Hypersphere(2, equip=equip),
        lambda equip: SpecialOrthogonal(3, point_type="matrix", equip=equip),
    ],
    ids=["sphere", "SO(3)"],
)
def test_transport_on_embedded_manifolds_matches_geomstats(make):
    # Factor 1: geomstats' closed-form transport of the round sphere and of SO(3).
    reference = make(equip=True)
    metric = zero_factor_metric(make(equip=False))
    rng = np.random.default_rng(11)
    gs.random.seed(11)
    base, end = reference.random_point(3), reference.random_point(3)
    shape = (3, *reference.shape)
    vector = reference.to_tangent(gs.array(rng.normal(size=shape)), base)
    direction = 0.5 * reference.to_tangent(gs.array(rng.normal(size=shape)), base)
    for target in (dict(direction=direction), dict(end_point=end)):
        np.testing.assert_allclose(
            as_numpy(metric.parallel_transport(vector, base, **target)),
            as_numpy(reference.metric.parallel_transport(vector, base, **target)),
            atol=1e-9,
        )


def test_transport_on_a_sphere_with_caps_is_an_isometry():
    # Three von Mises-Fisher caps: transported vectors keep their inner products
    # (the velocity's own norm among them) and stay tangent.
    space = Hypersphere(2, equip=False)
    quality = DensityRatio(sphere_caps(), eps=0.2)
    space.equip_with_metric(DensityConformalMetric, log_quality=quality)
    metric = space.metric
    rng = np.random.default_rng(12)
    base = rng.normal(size=(2, 3))
    base = gs.array(base / np.linalg.norm(base, axis=-1, keepdims=True))
    vec_a, vec_b, direction = (
        space.to_tangent(gs.array(rng.normal(size=(2, 3))), base) for _ in range(3)
    )
    vectors = gs.stack([vec_a, vec_b, direction])
    moved = metric.parallel_transport(vectors, base[None], direction=direction[None])
    end = metric.exp(direction, base)
    assert np.all(as_numpy(space.is_tangent(moved[:2], end[None], atol=1e-10)))
    for i, j in ((0, 0), (0, 1), (1, 1), (2, 2)):
        np.testing.assert_allclose(
            as_numpy(metric.inner_product(moved[i], moved[j], end)),
            as_numpy(metric.inner_product(vectors[i], vectors[j], base)),
            rtol=1e-10,  # 1e-13 measured; 9e-11 at worst over the seeds 12-19
            atol=1e-12,
        )


def test_injectivity_radius_is_the_one_given():
    space = Euclidean(2, equip=False)
    space.equip_with_metric(
        ConformalMetric, log_factor=half_plane_log_factor, injectivity_radius=math.inf
    )
    points = gs.array(random_half_plane_points(4, seed=9))
    np.testing.assert_array_equal(as_numpy(space.metric.injectivity_radius(points)), np.inf)
    assert as_numpy(space.metric.injectivity_radius(points[0])).shape == ()


def test_injectivity_radius_unknown_raises(half_plane):
    with pytest.raises(NotImplementedError, match="pass injectivity_radius="):
        half_plane.metric.injectivity_radius(gs.array([0.0, 1.0]))


@pytest.mark.parametrize("radius", [0.0, -1.0, math.nan, "inf", True])
def test_bad_injectivity_radius_raises(radius):
    space = Euclidean(2, equip=False)
    with pytest.raises(ValueError, match="injectivity_radius must be"):
        space.equip_with_metric(
            ConformalMetric, log_factor=half_plane_log_factor, injectivity_radius=radius
        )
