"""Curvature of conformal metrics against closed forms and finite differences.

Constant curvature: the hyperbolic half-plane and ball (-1), the stereographic
factor ``4 / (1 + |z|^2)^2`` and a pulled-back sphere (+1 over the factor), a
constant factor (0). Elsewhere: the Riemann tensor from finite differences of
the Christoffel symbols, and geomstats' own autodiff under the pytorch backend.
"""

import math

import geomstats.backend as gs
import numpy as np
import pytest
import torch
from conftest import as_numpy, half_plane_log_factor, random_half_plane_points
from geomstats.geometry.connection import Connection
from geomstats.geometry.euclidean import Euclidean
from geomstats.geometry.hypersphere import Hypersphere
from geomstats.geometry.poincare_ball import PoincareBall
from geomstats.geometry.riemannian_metric import RiemannianMetric
from paper_problems import LN2, central_projection

from geomstats_density import ConformalMetric, DensityConformalMetric, KernelMeanEmbeddingMetric
from geomstats_density.densities import GaussianMixture
from geomstats_density.quality import RealismIndex

PYTORCH = gs.__name__.endswith("pytorch")


def conformal(dim, log_factor, space=None, **kwargs):
    space = Euclidean(dim, equip=False) if space is None else space
    space.equip_with_metric(ConformalMetric, log_factor=log_factor, **kwargs)
    return space.metric


def stereographic_log_factor(z):
    """``4 / (1 + |z|^2)^2``: the unit sphere through stereographic projection."""
    return math.log(4.0) - 2.0 * torch.log1p((z * z).sum(-1))


def zero_log_factor(z):
    return torch.zeros(z.shape[:-1], dtype=z.dtype)


def mixture_metric(dim):
    """The paper's metric of a Gaussian mixture: curvature of varying sign."""
    rng = np.random.default_rng(2)
    density = GaussianMixture(
        np.array([0.6, 0.4]), rng.normal(size=(2, dim)), np.stack([np.eye(dim)] * 2)
    )
    space = Euclidean(dim, equip=False)
    quality = RealismIndex(density, random_state=0)
    space.equip_with_metric(DensityConformalMetric, log_quality=quality)
    return space.metric


def pullback_metric():
    """A factor on the plane pulled back to the unit sphere by central projection."""
    space = Euclidean(2, equip=False)
    space.equip_with_metric(
        ConformalMetric,
        log_factor=lambda z: 0.3 * torch.sin(z[..., 0]) + 0.2 * z[..., 1] ** 2,
        phi=central_projection,
    )
    return space.metric


def random_vectors(n_vectors, batch, dim, seed):
    rng = np.random.default_rng(seed)
    return [gs.array(rng.normal(size=(batch, dim))) for _ in range(n_vectors)]


def constant_curvature_covariant(metric_matrix, curvature):
    """``R_ijkl = <R(e_k, e_l) e_j, e_i> = K (g_ki g_lj - g_kj g_li)``."""
    return curvature * (
        np.einsum("...ki,...lj->...ijkl", metric_matrix, metric_matrix)
        - np.einsum("...kj,...li->...ijkl", metric_matrix, metric_matrix)
    )


CONSTANT_CURVATURE = {
    "half-plane": (lambda: conformal(2, half_plane_log_factor), -1.0),
    "ball": (lambda: conformal(3, zero_log_factor, space=PoincareBall(3, equip=False)), -1.0),
    "stereographic-2": (lambda: conformal(2, stereographic_log_factor), 1.0),
    "stereographic-3": (lambda: conformal(3, stereographic_log_factor), 1.0),
    "constant": (lambda: conformal(3, lambda z: torch.full(z.shape[:-1], 0.7, dtype=z.dtype)), 0.0),
    # The factor LN2^2 scales the unit sphere's curvature 1 by 1 / LN2^2.
    "pull-back": (
        lambda: conformal(
            2,
            lambda z: torch.full(z.shape[:-1], 2 * math.log(LN2), dtype=z.dtype),
            phi=central_projection,
        ),
        1.0 / LN2**2,
    ),
}


def points_for(metric, n_points, seed):
    rng = np.random.default_rng(seed)
    dim = metric._space.dim
    if isinstance(metric._space, PoincareBall):
        return gs.array(rng.uniform(-0.5, 0.5, size=(n_points, dim)))
    half_plane = metric.log_factor_field.function is half_plane_log_factor
    if metric.phi is None and dim == 2 and half_plane:
        return gs.array(random_half_plane_points(n_points, seed))
    return gs.array(rng.normal(size=(n_points, dim)) * 0.6)


@pytest.mark.parametrize("name", sorted(CONSTANT_CURVATURE))
def test_constant_curvature_spaces(name):
    make, curvature = CONSTANT_CURVATURE[name]
    metric = make()
    dim = metric._space.dim
    points = points_for(metric, 4, seed=1)
    vec_a, vec_b, vec_c, vec_d = random_vectors(4, 4, dim, seed=2)
    np.testing.assert_allclose(
        as_numpy(metric.sectional_curvature(vec_a, vec_b, points)), curvature, atol=1e-9
    )
    matrices = as_numpy(metric.metric_matrix(points))
    np.testing.assert_allclose(
        as_numpy(metric.covariant_riemann_tensor(points)),
        constant_curvature_covariant(matrices, curvature),
        rtol=1e-9,
        atol=1e-9 * np.abs(matrices).max() ** 2,
    )
    # Einstein: Ric = (n - 1) K g and S = n (n - 1) K.
    np.testing.assert_allclose(
        as_numpy(metric.ricci_tensor(points)),
        (dim - 1) * curvature * matrices,
        atol=1e-9 * np.abs(matrices).max(),
    )
    np.testing.assert_allclose(
        as_numpy(metric.scalar_curvature(points)), dim * (dim - 1) * curvature, atol=1e-9
    )
    # R(a, b) c = K (<b, c> a - <a, c> b).
    inner_bc = as_numpy(metric.inner_product(vec_b, vec_c, points))[:, None]
    inner_ac = as_numpy(metric.inner_product(vec_a, vec_c, points))[:, None]
    expected = curvature * (inner_bc * as_numpy(vec_a) - inner_ac * as_numpy(vec_b))
    np.testing.assert_allclose(
        as_numpy(metric.curvature(vec_a, vec_b, vec_c, points)),
        expected,
        atol=1e-9 * max(1.0, np.abs(expected).max()),
    )
    # Spaces of constant curvature are locally symmetric: nabla R = 0.
    derivative = as_numpy(metric.curvature_derivative(vec_d, vec_a, vec_b, vec_c, points))
    np.testing.assert_allclose(derivative, 0.0, atol=1e-8 * max(1.0, np.abs(expected).max()))


def finite_difference_riemann(metric, point, step=1e-5):
    """geomstats' Riemann tensor formula with ``d Gamma`` by central differences."""
    gamma = as_numpy(metric.christoffels(gs.array(point)))
    dim = point.size
    derivative = np.stack(
        [
            (
                as_numpy(metric.christoffels(gs.array(point + step * e)))
                - as_numpy(metric.christoffels(gs.array(point - step * e)))
            )
            / (2 * step)
            for e in np.eye(dim)
        ],
        axis=-1,
    )  # [l, i, j, m] = d_m Gamma^l_ij
    product = np.einsum("ljm,mki->ijkl", gamma, gamma)
    return (
        np.einsum("lkij->ijkl", derivative)
        - np.einsum("ljik->ijkl", derivative)
        + product
        - np.einsum("ikjl->ijkl", product)
    )


@pytest.mark.parametrize("make", [lambda: mixture_metric(3), pullback_metric])
def test_riemann_tensor_matches_finite_differences_of_christoffels(make):
    metric = make()
    points = np.random.default_rng(3).normal(size=(2, metric._space.dim)) * 0.5
    riemann = as_numpy(metric.riemann_tensor(gs.array(points)))
    for point, tensor in zip(points, riemann):
        expected = finite_difference_riemann(metric, point)
        np.testing.assert_allclose(tensor, expected, atol=1e-6 * np.abs(expected).max())
    ricci = as_numpy(metric.ricci_tensor(gs.array(points)))
    np.testing.assert_allclose(
        ricci, np.einsum("...ijkj->...ik", riemann), atol=1e-12 * np.abs(ricci).max()
    )
    cometric = np.linalg.inv(as_numpy(metric.metric_matrix(gs.array(points))))
    np.testing.assert_allclose(
        as_numpy(metric.scalar_curvature(gs.array(points))),
        np.einsum("...ij,...ij->...", cometric, ricci),
        rtol=1e-10,
    )


@pytest.mark.skipif(not PYTORCH, reason="geomstats' autodiff curvature needs the pytorch backend")
def test_curvature_matches_geomstats_autodiff():
    metric = mixture_metric(3)
    points = gs.array(np.random.default_rng(4).normal(size=(3, 3)))
    torch.testing.assert_close(
        metric.riemann_tensor(points), Connection.riemann_tensor(metric, points)
    )
    torch.testing.assert_close(
        metric.inner_product_derivative_matrix(points),
        RiemannianMetric.inner_product_derivative_matrix(metric, points),
    )


@pytest.mark.parametrize("make", [lambda: mixture_metric(2), pullback_metric])
def test_inner_product_derivative_matrix_matches_finite_differences(make):
    metric = make()
    point, step = np.array([0.3, -0.2]), 1e-6
    expected = np.stack(
        [
            (
                as_numpy(metric.metric_matrix(gs.array(point + step * e)))
                - as_numpy(metric.metric_matrix(gs.array(point - step * e)))
            )
            / (2 * step)
            for e in np.eye(2)
        ],
        axis=-1,
    )
    np.testing.assert_allclose(
        as_numpy(metric.inner_product_derivative_matrix(gs.array(point))),
        expected,
        rtol=1e-6,
        atol=1e-8 * np.abs(expected).max(),
    )


def test_curvature_derivative_matches_finite_differences():
    # (nabla_h R)(x, y) z = D_h(R(x, y) z) + Gamma(h, R(x, y) z) - R(Gamma(h, x), y) z
    #                       - R(x, Gamma(h, y)) z - R(x, y) Gamma(h, z), D_h by differences.
    metric = mixture_metric(3)
    point = np.array([0.2, -0.4, 0.5])
    vec_h, vec_x, vec_y, vec_z = (as_numpy(v)[0] for v in random_vectors(4, 1, 3, seed=5))
    gamma = as_numpy(metric.christoffels(gs.array(point)))

    def connection(a, b):
        return np.einsum("kij,i,j->k", gamma, a, b)

    def curvature(x, y, z, at=point):
        return as_numpy(metric.curvature(*(gs.array(v) for v in (x, y, z, at))))

    step = 1e-5
    derivative = (
        curvature(vec_x, vec_y, vec_z, point + step * vec_h)
        - curvature(vec_x, vec_y, vec_z, point - step * vec_h)
    ) / (2 * step)
    expected = (
        derivative
        + connection(vec_h, curvature(vec_x, vec_y, vec_z))
        - curvature(connection(vec_h, vec_x), vec_y, vec_z)
        - curvature(vec_x, connection(vec_h, vec_y), vec_z)
        - curvature(vec_x, vec_y, connection(vec_h, vec_z))
    )
    result = as_numpy(
        metric.curvature_derivative(*(gs.array(v) for v in (vec_h, vec_x, vec_y, vec_z, point)))
    )
    np.testing.assert_allclose(result, expected, atol=1e-6 * np.abs(expected).max())
    assert np.abs(expected).max() > 1e-2  # a metric whose curvature varies


def test_second_bianchi_identity_with_pullback():
    # (nabla_x R)(y, z) + (nabla_y R)(z, x) + (nabla_z R)(x, y) = 0, applied to w.
    metric = pullback_metric()
    point = gs.array([0.3, -0.1])
    x, y, z, w = random_vectors(4, 1, 2, seed=6)
    terms = [
        as_numpy(metric.curvature_derivative(a, b, c, w, point))
        for a, b, c in ((x, y, z), (y, z, x), (z, x, y))
    ]
    scale = max(np.abs(term).max() for term in terms)
    assert scale > 1e-2
    np.testing.assert_allclose(sum(terms), 0.0, atol=1e-9 * scale)


def test_curvature_needs_a_chart():
    space = Hypersphere(2, equip=False)
    space.equip_with_metric(ConformalMetric, log_factor=zero_log_factor)
    point = gs.array([0.0, 0.0, 1.0])
    with pytest.raises(NotImplementedError, match="need a chart"):
        space.metric.riemann_tensor(point)
    with pytest.raises(NotImplementedError, match="need a chart"):
        space.metric.curvature(point, point, point, point)


def test_curvature_rejects_bad_vectors():
    metric = conformal(2, half_plane_log_factor)
    with pytest.raises(ValueError, match="tangent_vec_b must have shape"):
        vector, point = gs.array([1.0, 0.0]), gs.array([0.0, 1.0])
        metric.curvature(vector, gs.array([1.0, 0.0, 0.0]), vector, point)


def kernel_mean_embedding_metric():
    """Clouds of two points in the plane, lengths by MMD: a base matrix of its own."""
    space = Euclidean(4, equip=False)
    space.equip_with_metric(
        KernelMeanEmbeddingMetric,
        log_quality=lambda z: -1.0 - 0.1 * (z * z).sum(-1),
        n_points=2,
        bandwidth=1.0,
    )
    return space.metric


def test_kernel_mean_embedding_connection_and_curvature():
    # Its own base matrix: Koszul's formula by autodiff, against its Christoffel
    # tensor (forward-mode derivatives of the matrix) and their finite differences.
    metric = kernel_mean_embedding_metric()
    point = np.array([0.1, -0.3, 0.9, 0.4])
    vec_a, vec_b = (as_numpy(v)[0] for v in random_vectors(2, 1, 4, seed=7))
    gamma = as_numpy(metric.christoffels(gs.array(point)))
    result = metric.christoffel_map(*(torch.from_numpy(v) for v in (point, vec_a, vec_b)))
    np.testing.assert_allclose(
        result.detach().numpy(), np.einsum("kij,i,j->k", gamma, vec_a, vec_b), rtol=1e-10
    )
    expected = finite_difference_riemann(metric, point)
    np.testing.assert_allclose(
        as_numpy(metric.riemann_tensor(gs.array(point))),
        expected,
        atol=1e-6 * np.abs(expected).max(),
    )
