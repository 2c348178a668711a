"""Pointwise geometry of conformal metrics against closed forms and finite differences."""

import math

import geomstats.backend as gs
import numpy as np
import pytest
import torch
from conftest import as_numpy, random_half_plane_points
from geomstats.geometry.euclidean import Euclidean
from geomstats.geometry.poincare_ball import PoincareBall
from geomstats.geometry.riemannian_metric import RiemannianMetric
from paper_problems import LN2, central_projection

from geomstats_density import ConformalMetric, DensityConformalMetric, DomainError
from geomstats_density.solvers.smoothing import KinkSmoothing


def constant_metric(dim, log_factor):
    space = Euclidean(dim, equip=False)
    space.equip_with_metric(
        ConformalMetric, log_factor=lambda z: torch.full(z.shape[:-1], log_factor, dtype=z.dtype)
    )
    return space.metric


def test_constant_factor_is_a_scaled_euclidean_metric():
    metric = constant_metric(3, 0.7)
    rng = np.random.default_rng(0)
    points, vec_a, vec_b = (gs.array(rng.normal(size=(4, 5, 3))) for _ in range(3))
    np.testing.assert_allclose(
        as_numpy(metric.metric_matrix(points)),
        math.exp(0.7) * np.broadcast_to(np.eye(3), (4, 5, 3, 3)),
    )
    np.testing.assert_allclose(
        as_numpy(metric.inner_product(vec_a, vec_b, points)),
        math.exp(0.7) * np.sum(as_numpy(vec_a) * as_numpy(vec_b), axis=-1),
    )
    np.testing.assert_allclose(
        as_numpy(metric.norm(vec_a, points)),
        math.exp(0.35) * np.linalg.norm(as_numpy(vec_a), axis=-1),
    )
    np.testing.assert_allclose(as_numpy(metric.christoffels(points)), 0.0, atol=0)


def half_plane_christoffels(points):
    """Closed form: Gamma^x_xy = Gamma^x_yx = Gamma^y_yy = -1/y, Gamma^y_xx = 1/y."""
    inverse_y = 1.0 / points[..., 1]
    gamma = np.zeros(points.shape[:-1] + (2, 2, 2))
    gamma[..., 0, 0, 1] = gamma[..., 0, 1, 0] = -inverse_y
    gamma[..., 1, 0, 0] = inverse_y
    gamma[..., 1, 1, 1] = -inverse_y
    return gamma


def test_half_plane_metric_matrix_and_christoffels_closed_form(half_plane):
    points = random_half_plane_points(6, seed=1).reshape(2, 3, 2)
    y = points[..., 1]
    expected = np.eye(2) / (y**2)[..., None, None]
    np.testing.assert_allclose(
        as_numpy(half_plane.metric.metric_matrix(gs.array(points))), expected
    )
    np.testing.assert_allclose(
        as_numpy(half_plane.metric.christoffels(gs.array(points))),
        half_plane_christoffels(points),
        rtol=1e-12,
    )


def test_geodesic_equation_matches_christoffels(half_plane):
    points = random_half_plane_points(5, seed=2)
    velocities = np.random.default_rng(3).normal(size=(5, 2))
    state = gs.array(np.stack([points, velocities], axis=-2))
    acceleration = as_numpy(half_plane.metric.geodesic_equation(state))[..., 1, :]
    expected = -np.einsum(
        "...kij,...i,...j->...k", half_plane_christoffels(points), velocities, velocities
    )
    np.testing.assert_allclose(acceleration, expected, rtol=1e-12)


@pytest.mark.skipif(not gs.has_autodiff(), reason="geomstats' generic Christoffels need autodiff")
def test_closed_form_christoffels_match_geomstats_autodiff(half_plane):
    points = gs.array(random_half_plane_points(3, seed=4))
    generic = RiemannianMetric.christoffels(half_plane.metric, points)
    np.testing.assert_allclose(
        as_numpy(half_plane.metric.christoffels(points)), as_numpy(generic), rtol=1e-10
    )


def finite_difference_jacobian(function, point, step=1e-6):
    columns = []
    for i in range(point.size):
        shift = np.zeros_like(point)
        shift[i] = step
        columns.append((function(point + shift) - function(point - shift)) / (2 * step))
    return np.stack(columns, axis=-1)


def numpy_central_projection(z):
    offset = np.append(z, 0.0) - np.array([0.0, 0.0, 1.0])
    return np.array([0.0, 0.0, 1.0]) + offset / np.linalg.norm(offset)


@pytest.fixture
def projected_plane():
    space = Euclidean(2, equip=False)
    space.equip_with_metric(
        ConformalMetric,
        log_factor=lambda z: torch.full(z.shape[:-1], 2 * math.log(LN2), dtype=z.dtype),
        phi=central_projection,
    )
    return space.metric


def test_pullback_metric_matrix_matches_finite_differences(projected_plane):
    point = np.array([0.3, -0.7])
    jacobian = finite_difference_jacobian(numpy_central_projection, point)
    np.testing.assert_allclose(
        as_numpy(projected_plane.metric_matrix(gs.array(point))),
        LN2**2 * jacobian.T @ jacobian,
        rtol=1e-8,
    )


def test_pullback_christoffels_match_koszul_formula_by_finite_differences(projected_plane):
    point = np.array([0.4, 0.2])

    def matrix(z):
        return as_numpy(projected_plane.metric_matrix(gs.array(z)))

    derivative = finite_difference_jacobian(matrix, point, step=1e-5)  # [i, j, k] = d_k g_ij
    inverse = np.linalg.inv(matrix(point))
    koszul = 0.5 * (
        np.einsum("lk,jli->kij", inverse, derivative)
        + np.einsum("lk,lij->kij", inverse, derivative)
        - np.einsum("lk,ijl->kij", inverse, derivative)
    )
    np.testing.assert_allclose(
        as_numpy(projected_plane.christoffels(gs.array(point))), koszul, rtol=1e-6, atol=1e-8
    )
    velocity = np.array([0.3, -1.1])
    state = gs.array(np.stack([point, velocity]))
    acceleration = as_numpy(projected_plane.geodesic_equation(state))[1]
    np.testing.assert_allclose(
        acceleration, -np.einsum("kij,i,j->k", koszul, velocity, velocity), rtol=1e-6
    )


def gaussian_log_quality(z):
    return -LN2 - 0.5 * (z * z).sum(-1)


def test_sharp_of_a_batch_through_a_wide_linear_map_matches_numpy():
    # phi(z) = A z on R^300: g = e^f A^T A everywhere. Batches of such matrices
    # made torch's LU solve fail on two threads (MKL); the index is raised here by
    # Cholesky, checked against numpy's solve.
    dim = 300
    matrix = np.random.default_rng(0).normal(size=(400, dim)) / 20.0
    linear = torch.from_numpy(matrix)
    space = Euclidean(dim, equip=False)
    space.equip_with_metric(
        ConformalMetric,
        log_factor=lambda z: 0.1 * (z * z).sum(-1),
        phi=lambda z: z @ linear.T,
    )
    rng = np.random.default_rng(1)
    points, covectors = rng.normal(size=(3, dim)), rng.normal(size=(3, dim))
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        raised = space.metric.sharp_tensor(torch.from_numpy(points), torch.from_numpy(covectors))
    finally:
        torch.set_num_threads(threads)
    gram = matrix.T @ matrix
    expected = np.stack(
        [np.linalg.solve(np.exp(0.1 * p @ p) * gram, c) for p, c in zip(points, covectors)]
    )
    np.testing.assert_allclose(raised.numpy(), expected, rtol=1e-8)


def test_log_factor_field_adds_the_ball_factor_and_subtracts_the_shift():
    # On the Poincare ball g = e^f 4 / (1 - |z|^2)^2 I: the solvers see the total
    # log-factor f + log 4 - 2 log(1 - |z|^2); a shifted copy sees it minus the shift.
    space = PoincareBall(2, equip=False)
    space.equip_with_metric(ConformalMetric, log_factor=lambda z: 0.3 * z[..., 0])
    metric = space.metric
    points = np.array([[0.1, -0.4], [0.5, 0.2], [-0.3, 0.0]])
    sq_norm = np.sum(points**2, axis=-1)
    total = 0.3 * points[:, 0] + math.log(4.0) - 2.0 * np.log(1.0 - sq_norm)
    gradient = np.array([0.3, 0.0]) + 4.0 * points / (1.0 - sq_norm)[:, None]
    coordinates = torch.from_numpy(points)
    shifted = metric.shifted(1.5)
    for field, shift in ((metric.log_factor_field, 0.0), (shifted.log_factor_field, 1.5)):
        values, grad = field.values_and_gradient(coordinates)
        np.testing.assert_allclose(values.detach().numpy(), total - shift, rtol=1e-14)
        np.testing.assert_allclose(grad.detach().numpy(), gradient, rtol=1e-14)
        jet_gradient = field.jet(coordinates).gradient.detach().numpy()
        np.testing.assert_allclose(jet_gradient, gradient, rtol=1e-14)
    assert metric.log_factor_field.shift == 0.0 and shifted.log_factor_field.shift == 1.5
    # geomstats' interface returns f itself, over the model's metric.
    np.testing.assert_allclose(as_numpy(metric.log_factor(gs.array(points))), 0.3 * points[:, 0])
    outside = torch.tensor([[0.1, 0.2], [0.9, 0.9]], dtype=torch.float64)
    with pytest.raises(DomainError, match=r"point \[0.9, 0.9\] is outside the PoincareBall"):
        shifted.log_factor_field.values(outside)
    np.testing.assert_array_equal(
        shifted.log_factor_field.values_or_inf(outside).numpy()[1], math.inf
    )


def test_remembering_copy_evaluates_the_factor_once_per_batch_of_curves():
    # Half-plane, f = -2 log y, Simpson's rule: the factor at both ends and the midpoint
    # of each chord. The copy measures a batch again without calling f, to the same
    # bits as the metric itself; with autograd or under a torch function mode it calls f.
    calls = []

    def log_factor(z):
        calls.append(z.shape)
        return -2.0 * torch.log(z[..., 1])

    space = Euclidean(2, equip=False)
    space.equip_with_metric(ConformalMetric, log_factor=log_factor)
    metric = space.metric
    nodes = torch.from_numpy(random_half_plane_points(12, 3).reshape(2, 6, 2))
    left, right = nodes[:, :-1].numpy(), nodes[:, 1:].numpy()
    mid = 0.5 * (left + right)
    simpson = (1 / left[..., 1] ** 2 + 4 / mid[..., 1] ** 2 + 1 / right[..., 1] ** 2) / 6
    expected = simpson * np.sum((right - left) ** 2, axis=-1)
    remembering = metric.remembering()
    with torch.no_grad():
        plain = metric.curve_sq_lengths(nodes)
        np.testing.assert_allclose(plain.numpy(), expected, rtol=1e-14)
        calls.clear()
        first = remembering.curve_sq_lengths(nodes)
        assert len(calls) == 2  # nodes and midpoints
        first.zero_()  # the caller's copy: the remembered values are not changed
        again = remembering.curve_sq_lengths(nodes.clone())
        assert len(calls) == 2
        assert torch.equal(again, plain)
        remembering.curve_sq_lengths(nodes[:1])  # another batch
        assert len(calls) == 4
        with KinkSmoothing():
            remembering.curve_sq_lengths(nodes)
        assert len(calls) == 6
        # A shifted copy has another factor, exp(-1) times this one: it remembers nothing.
        shifted = remembering.shifted(1.0)
        np.testing.assert_allclose(
            shifted.curve_sq_lengths(nodes).numpy(), math.exp(-1.0) * expected, rtol=1e-14
        )
        assert len(calls) == 8
    leaf = nodes.clone().requires_grad_(True)
    remembering.curve_sq_lengths(leaf).sum().backward()
    assert len(calls) == 10 and leaf.grad is not None
    assert metric.__dict__.get("_curve_memo") is None


def test_density_metric_factor_is_squared_log_quality():
    space = Euclidean(2, equip=False)
    space.equip_with_metric(DensityConformalMetric, log_quality=gaussian_log_quality)
    points = np.random.default_rng(5).normal(size=(7, 2))
    log_quality = -LN2 - 0.5 * np.sum(points**2, axis=-1)
    np.testing.assert_allclose(
        as_numpy(space.metric.metric_matrix(gs.array(points))),
        (log_quality**2)[:, None, None] * np.eye(2),
        rtol=1e-12,
    )


def test_curve_log_quality_is_the_papers_product_of_midpoint_qualities():
    space = Euclidean(2, equip=False)
    space.equip_with_metric(DensityConformalMetric, log_quality=gaussian_log_quality)
    nodes = np.random.default_rng(6).normal(size=(3, 9, 2))
    mids = 0.5 * (nodes[:, 1:] + nodes[:, :-1])
    pieces = np.linalg.norm(np.diff(nodes, axis=1), axis=-1)
    expected = np.sum((-LN2 - 0.5 * np.sum(mids**2, axis=-1)) * pieces, axis=-1)
    np.testing.assert_allclose(as_numpy(space.metric.curve_log_quality(gs.array(nodes))), expected)


def test_metric_methods_return_backend_arrays(half_plane, hyperbolic):
    point = gs.array([0.2, 1.5])
    assert type(half_plane.metric.metric_matrix(point)) is type(point)
    # A scalar distance is what geomstats' own metrics return for single points:
    # a numpy float64 under numpy, a 0-d tensor under pytorch.
    ours = half_plane.metric.dist(point, gs.array([0.4, 1.0]))
    theirs = hyperbolic.metric.dist(point, gs.array([0.4, 1.0]))
    assert type(ours) is type(theirs) and ours.shape == theirs.shape == ()
