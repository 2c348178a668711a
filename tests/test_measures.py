"""Curves of point clouds under the kernel mean embedding: MMD and its geodesics.

References from outside the code under test: brute-force double loops over
points in numpy (MMD), high-precision sums in mpmath (MMD of nearby clouds),
and lengths known in closed form. For a single-point cloud ``Phi(x) = K(x, .)``
and ``|D Phi u|_H^2 = d_a d_b K(a, b)[u, u] at a = b = |u|^2 / sigma^2``: the
pull-back metric is ``I / sigma^2``, so with a constant quality ``q`` the
geodesic is the segment and its length ``|log q| |b - a| / sigma``. Clouds whose
points stay many ``sigma`` apart decouple the same way: the metric is
``I / (sigma k)^2`` up to ``exp(-(distance / sigma)^2 / 2)``.
"""

import math
import pathlib

import mpmath
import numpy as np
import pytest
import torch
from conftest import as_numpy
from geomstats.geometry.euclidean import Euclidean
from geomstats.geometry.hypersphere import Hypersphere
from matplotlib.figure import Figure
from scipy.stats import multivariate_normal

from geomstats_density.demo.experiments.point_clouds import cloud_space
from geomstats_density.densities import Gaussian
from geomstats_density.measures import CloudDensity, KernelMeanEmbeddingMetric
from geomstats_density.mmd import kernel_mean_embedding_gram, mmd_squared, paired_mmd_squared
from geomstats_density.quality import Constant, RealismIndex

LN2 = math.log(2.0)


def brute_force_mmd_squared(cloud_a, cloud_b, bandwidth):
    """``MMD^2`` by a double loop over points, in numpy."""

    def mean_kernel(first, second):
        total = 0.0
        for x in first:
            for y in second:
                total += math.exp(-np.sum((x - y) ** 2) / (2 * bandwidth**2))
        return total / (len(first) * len(second))

    return (
        mean_kernel(cloud_a, cloud_a)
        + mean_kernel(cloud_b, cloud_b)
        - 2 * mean_kernel(cloud_a, cloud_b)
    )


def test_mmd_squared_matches_a_double_loop_over_points():
    rng = np.random.default_rng(0)
    clouds_a = rng.normal(size=(2, 3, 5, 2))
    clouds_b = rng.normal(size=(2, 3, 7, 2)) + 0.4
    expected = np.array(
        [
            [brute_force_mmd_squared(a, b, 1.3) for a, b in zip(rows_a, rows_b)]
            for rows_a, rows_b in zip(clouds_a, clouds_b)
        ]
    )
    got = mmd_squared(torch.as_tensor(clouds_a), torch.as_tensor(clouds_b), 1.3)
    assert got.shape == (2, 3)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
    same_size_b = clouds_b[..., :5, :]
    expected_paired = np.array(
        [
            [brute_force_mmd_squared(a, b, 0.8) for a, b in zip(rows_a, rows_b)]
            for rows_a, rows_b in zip(clouds_a, same_size_b)
        ]
    )
    got_paired = paired_mmd_squared(torch.as_tensor(clouds_a), torch.as_tensor(same_size_b), 0.8)
    np.testing.assert_allclose(got_paired.numpy(), expected_paired, rtol=1e-12)


def test_paired_mmd_keeps_its_precision_for_nearby_clouds():
    # Clouds 1e-6 apart: MMD^2 ~ 1e-13, a difference of kernel sums of order 1.
    rng = np.random.default_rng(1)
    cloud_a = rng.normal(size=(6, 2))
    cloud_b = cloud_a + 1e-6 * rng.normal(size=(6, 2))
    with mpmath.workdps(50):
        a = [[mpmath.mpf(float(v)) for v in row] for row in cloud_a]
        b = [[mpmath.mpf(float(v)) for v in row] for row in cloud_b]

        def mean_kernel(first, second):
            total = sum(
                mpmath.exp(-sum((p - q) ** 2 for p, q in zip(x, y)) / 2)
                for x in first
                for y in second
            )
            return total / (len(first) * len(second))

        exact = float(mean_kernel(a, a) + mean_kernel(b, b) - 2 * mean_kernel(a, b))
    paired = float(paired_mmd_squared(torch.as_tensor(cloud_a), torch.as_tensor(cloud_b), 1.0))
    assert paired == pytest.approx(exact, rel=1e-8)


def test_gram_is_the_second_order_term_of_mmd():
    # (MMD^2(x, x + eps u) + MMD^2(x, x - eps u)) / (2 eps^2) = u.G.u + O(eps^2).
    rng = np.random.default_rng(2)
    cloud = rng.normal(size=(5, 3))
    displacement = rng.normal(size=(5, 3))
    eps = 1e-3
    second_order = (
        brute_force_mmd_squared(cloud, cloud + eps * displacement, 1.1)
        + brute_force_mmd_squared(cloud, cloud - eps * displacement, 1.1)
    ) / (2 * eps**2)
    gram = kernel_mean_embedding_gram(torch.as_tensor(cloud), 1.1).numpy()
    assert gram.shape == (15, 15)
    np.testing.assert_allclose(gram, gram.T, atol=1e-15)
    flat = displacement.reshape(-1)
    assert flat @ gram @ flat == pytest.approx(second_order, rel=1e-5)


def test_metric_matrix_is_the_gram_times_the_factor():
    space = cloud_space(3, Constant(0.25), 0.9, point_dim=2)
    cloud = np.random.default_rng(3).normal(size=6)
    matrix = as_numpy(space.metric.metric_matrix(cloud))
    gram = kernel_mean_embedding_gram(torch.as_tensor(cloud.reshape(3, 2)), 0.9).numpy()
    np.testing.assert_allclose(matrix, math.log(4.0) ** 2 * gram, rtol=1e-13)
    vector_a, vector_b = np.random.default_rng(4).normal(size=(2, 6))
    inner = float(as_numpy(space.metric.inner_product(vector_a, vector_b, cloud)))
    assert inner == pytest.approx(vector_a @ matrix @ vector_b, rel=1e-12)


@pytest.mark.parametrize("point_dim", [2, 40])
def test_single_point_cloud_geodesic_has_the_closed_form_length(point_dim):
    # point_dim 40 runs the solver's matrix-free path (dimension above 32).
    bandwidth = 0.7
    space = cloud_space(1, Constant(0.5), bandwidth, point_dim=point_dim)
    rng = np.random.default_rng(point_dim)
    start = rng.normal(size=point_dim)
    end = start + rng.normal(size=point_dim)
    geodesic = space.metric.log_solver.solve(end, start)
    assert bool(np.all(geodesic.converged))
    exact = LN2 * np.linalg.norm(end - start) / bandwidth
    assert float(as_numpy(geodesic.dist)) == pytest.approx(exact, rel=1e-7)
    # The MMD between the ends, a chord of H, is shorter than the geodesic.
    chord = math.sqrt(2 - 2 * math.exp(-np.sum((end - start) ** 2) / (2 * bandwidth**2)))
    assert LN2 * chord < exact


def test_separated_clouds_geodesic_moves_each_point_straight():
    # 12 points in R^3 (dimension 36, matrix-free) on a grid 12 sigma apart, each
    # moved by at most 1.5 sigma: the metric is I / (sigma k)^2 to exp(-40).
    bandwidth, n_points = 0.5, 12
    grid = 6.0 * np.stack(np.meshgrid(range(3), range(2), range(2), indexing="ij"), -1)
    start = grid.reshape(n_points, 3)
    moves = np.random.default_rng(5).uniform(-0.4, 0.4, size=(n_points, 3))
    space = cloud_space(n_points, Constant(0.5), bandwidth, point_dim=3)
    geodesic = space.metric.log_solver.solve((start + moves).ravel(), start.ravel())
    assert bool(np.all(geodesic.converged))
    exact = LN2 * np.linalg.norm(moves) / (bandwidth * n_points)
    assert float(as_numpy(geodesic.dist)) == pytest.approx(exact, rel=1e-7)
    nodes = as_numpy(geodesic.nodes)
    times = np.linspace(0.0, 1.0, nodes.shape[0])[:, None]
    np.testing.assert_allclose(nodes, start.ravel() + times * moves.ravel(), atol=1e-6)


def test_exp_of_log_returns_to_the_end_cloud():
    # log reads the velocity from the discrete geodesic (MMD lengths) and the
    # metric matrix; exp integrates the geodesic equation from the kernel's
    # derivatives: they agree only if the two descriptions of the metric do.
    space = cloud_space(3, Constant(0.5), 1.0, point_dim=2, tol=1e-10)
    rng = np.random.default_rng(6)
    start = rng.normal(size=6)
    end = start + 0.6 * rng.normal(size=6)
    velocity = space.metric.log(end, start)
    np.testing.assert_allclose(as_numpy(space.metric.exp(velocity, start)), end, atol=1e-6)


def test_christoffels_give_the_geodesic_acceleration():
    space = cloud_space(2, Constant(0.5), 1.0, point_dim=2)
    rng = np.random.default_rng(7)
    point, velocity = rng.normal(size=(2, 4))
    christoffels = as_numpy(space.metric.christoffels(point))
    np.testing.assert_allclose(christoffels, np.swapaxes(christoffels, -1, -2), atol=1e-14)
    acceleration = space.metric.geodesic_acceleration(
        torch.as_tensor(point), torch.as_tensor(velocity)
    ).numpy()
    np.testing.assert_allclose(
        -np.einsum("kij,i,j->k", christoffels, velocity, velocity), acceleration, atol=1e-12
    )


def test_cloud_density_is_the_sum_over_points():
    density = CloudDensity(Gaussian(np.array([1.0, -1.0])), n_points=4)
    clouds = np.random.default_rng(8).normal(size=(3, 8))
    expected = multivariate_normal([1.0, -1.0], np.eye(2)).logpdf(clouds.reshape(3, 4, 2)).sum(-1)
    np.testing.assert_allclose(density(torch.as_tensor(clouds)).numpy(), expected, rtol=1e-12)
    samples = density.sample(5, random_state=0)
    assert samples.shape == (5, 8)


def test_curve_log_quality_is_minus_the_mmd_length():
    quality = RealismIndex(CloudDensity(Gaussian(np.zeros(2)), 2))
    space = cloud_space(2, quality, 1.0, point_dim=2)
    nodes = np.random.default_rng(9).normal(size=(4, 4))
    expected = 0.0
    for left, right in zip(nodes[:-1], nodes[1:]):
        mid = torch.as_tensor(0.5 * (left + right))
        mmd = math.sqrt(brute_force_mmd_squared(left.reshape(2, 2), right.reshape(2, 2), 1.0))
        expected += float(quality(mid)) * mmd
    got = float(as_numpy(space.metric.curve_log_quality(nodes)))
    assert got == pytest.approx(expected, rel=1e-12)


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="divisor"):
        KernelMeanEmbeddingMetric(
            Euclidean(4, equip=False), Constant(0.5), n_points=3, bandwidth=1.0
        )
    with pytest.raises(ValueError, match="bandwidth"):
        cloud_space(2, Constant(0.5), 0.0, point_dim=2)
    with pytest.raises(ValueError, match="Euclidean"):
        KernelMeanEmbeddingMetric(Hypersphere(2), Constant(0.5), n_points=1, bandwidth=1.0)
    space = cloud_space(2, Constant(0.5), 1.0, point_dim=2)
    with pytest.raises(NotImplementedError, match="infinite-dimensional"):
        space.metric.image_tensor(torch.zeros(4, dtype=torch.float64))
    with pytest.raises(ValueError, match="dim"):
        CloudDensity(lambda points: -(points**2).sum(-1), n_points=2)


def test_point_cloud_example_keeps_points_on_the_sites(tmp_path):
    from geomstats_density.demo.experiments.point_clouds import end_clouds, plot_cloud_strips, run

    result = run(out_dir=tmp_path, progress=False, n_points=6, n_nodes=9, max_iter=10)
    rows = {row["curve"]: row for row in result["table"]}
    geodesic, linear = rows["realism geodesic"], rows["linear"]
    # The realism geodesic is measured in its own metric: shorter than the segment,
    # and its clouds are more often samples of the mixture.
    assert geodesic["length"] < linear["length"]
    assert geodesic["mean_Q"] > linear["mean_Q"]
    assert pathlib.Path(result["figure"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Drawn on a figure of the caller's: one row of clouds per curve, the first
    # cloud of each row the start cloud.
    figure = Figure()
    assert plot_cloud_strips(result["curves"], 6, n_clouds=3, figure=figure) is figure
    assert len(figure.axes) == 3 * 3
    start = end_clouds(6, random_state=0)[0].reshape(6, 2)
    for ax in figure.axes[::3]:
        np.testing.assert_allclose(ax.collections[0].get_offsets(), start, atol=1e-12)
