"""The base geometries behind conformal metrics: one per space, each consistent with itself.

Each geometry writes the connection twice (the geodesic acceleration and the
Christoffel map), raises indices by its own code and measures by geomstats' or
its own inner product: the pairs are checked against each other, and the
pull-back's Jacobian against finite differences of ``phi``.
"""

import geomstats.backend as gs
import numpy as np
import pytest
import torch
from geomstats.geometry.euclidean import Euclidean
from geomstats.geometry.hypersphere import Hypersphere
from geomstats.geometry.poincare_ball import PoincareBall
from geomstats.geometry.poincare_half_space import PoincareHalfSpace
from geomstats.geometry.special_orthogonal import SpecialOrthogonal

from geomstats_density import ConformalMetric
from geomstats_density.geometry import (
    ConformallyFlatGeometry,
    EmbeddedGeometry,
    EuclideanGeometry,
    PullbackGeometry,
    geometry_for,
)


def phi(z):
    """A curved surface over the plane."""
    return torch.stack([z[..., 0], z[..., 1], torch.sin(z[..., 0]) * z[..., 1]], -1)


def log_factor(points):
    """A smooth factor of the first two coordinates."""
    return 0.3 * points[..., 0] - 0.2 * points[..., 1] ** 2


def rotation_log_factor(rotations):
    """The same of the first row of rotation matrices."""
    return 0.3 * rotations[..., 0, 0] - 0.2 * rotations[..., 0, 1] ** 2


def metric_on(name):
    """A conformal metric of each geometry, with points and velocities in its coordinates."""
    rng = np.random.default_rng(3)
    if name == "euclidean":
        metric = ConformalMetric(Euclidean(2), log_factor)
        points = rng.normal(size=(4, 2))
    elif name == "pullback":
        metric = ConformalMetric(Euclidean(2), log_factor, phi=phi)
        points = rng.normal(size=(4, 2))
    elif name == "ball":
        metric = ConformalMetric(PoincareBall(2), log_factor)
        points = 0.4 * rng.uniform(-1.0, 1.0, size=(4, 2))
    elif name == "half-space":
        metric = ConformalMetric(PoincareHalfSpace(2), log_factor)
        points = np.c_[rng.normal(size=4), rng.uniform(0.5, 2.0, size=4)]
    elif name == "sphere":
        metric = ConformalMetric(Hypersphere(2), log_factor)
        points = rng.normal(size=(4, 3))
        points /= np.linalg.norm(points, axis=-1, keepdims=True)
    else:
        metric = ConformalMetric(SpecialOrthogonal(3), rotation_log_factor)
        points = to_numpy(SpecialOrthogonal(3).random_point(4)).reshape(4, 9)
    points = torch.from_numpy(points)
    velocities = metric.geometry.to_tangent(torch.from_numpy(rng.normal(size=points.shape)), points)
    return metric, points, velocities


def to_numpy(array):
    return array.detach().numpy() if isinstance(array, torch.Tensor) else np.asarray(array)


GEOMETRIES = ["euclidean", "pullback", "ball", "half-space", "sphere", "so3"]


def test_each_space_gets_its_geometry():
    cases = [
        (Euclidean(3), None, EuclideanGeometry),
        (Euclidean(2), phi, PullbackGeometry),
        (PoincareBall(2), None, ConformallyFlatGeometry),
        (PoincareHalfSpace(2), None, ConformallyFlatGeometry),
        (Hypersphere(2), None, EmbeddedGeometry),
        (SpecialOrthogonal(3), None, EmbeddedGeometry),
    ]
    for space, map_, expected in cases:
        assert type(geometry_for(space, phi=map_)) is expected
        factor = rotation_log_factor if space.shape == (3, 3) else log_factor
        assert type(ConformalMetric(space, factor, phi=map_).geometry) is expected
    with pytest.raises(ValueError, match="phi pulls back the Euclidean inner product"):
        geometry_for(PoincareBall(2), phi=phi)
    with pytest.raises(ValueError, match="quadrature must be one of"):
        geometry_for(Euclidean(2), quadrature="trapezoid")


@pytest.mark.parametrize("name", GEOMETRIES)
def test_geodesic_acceleration_is_minus_the_christoffel_map(name):
    metric, points, velocities = metric_on(name)
    acceleration = metric.geodesic_acceleration(points, velocities)
    gamma = metric.christoffel_map(points, velocities, velocities)
    np.testing.assert_allclose(to_numpy(acceleration), -to_numpy(gamma), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", GEOMETRIES)
def test_sharp_raises_the_index_of_the_inner_product(name):
    # g(sharp(c), w) = c . w for every tangent vector w.
    metric, points, covectors = metric_on(name)
    vectors = metric.geometry.to_tangent(torch.roll(covectors, 1, dims=0), points)
    raised = metric.sharp_tensor(points, covectors)
    inner = metric.inner_product(
        *(gs.array(to_numpy(metric.from_coordinates(v))) for v in (raised, vectors, points))
    )
    np.testing.assert_allclose(
        to_numpy(inner), to_numpy((covectors * vectors).sum(-1)), rtol=1e-10, atol=1e-12
    )


def test_pullback_jacobian_matches_finite_differences_of_phi():
    points = torch.from_numpy(np.random.default_rng(4).normal(size=(5, 2)))
    jacobian = geometry_for(Euclidean(2), phi=phi).image_jacobian(points)
    step = 1e-6
    columns = [
        (phi(points + step * direction) - phi(points - step * direction)) / (2 * step)
        for direction in torch.eye(2, dtype=points.dtype)
    ]
    np.testing.assert_allclose(
        jacobian.numpy(), torch.stack(columns, -1).numpy(), rtol=1e-8, atol=1e-9
    )
