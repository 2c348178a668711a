"""Distances that carry gradients with respect to their endpoints (pytorch backend)."""

import math
import pathlib

import geomstats.backend as gs
import numpy as np
import pytest
import torch
from conftest import half_plane_log_factor
from geomstats.geometry.euclidean import Euclidean
from geomstats.geometry.hypersphere import Hypersphere

from geomstats_density import ConformalMetric, DensityConformalMetric
from geomstats_density.densities import GaussianMixture
from geomstats_density.distances import paired_distances
from geomstats_density.quality import Constant, RealismIndex

PYTORCH = gs.__name__.endswith("pytorch")
needs_pytorch = pytest.mark.skipif(not PYTORCH, reason="gradients flow under the pytorch backend")


def leaf(values):
    return torch.tensor(values, dtype=torch.float64, requires_grad=True)


def half_plane_closed_form(point_a, point_b):
    """``arccosh(1 + |a - b|^2 / (2 a_y b_y))``."""
    sq_chord = ((point_a - point_b) ** 2).sum(-1)
    return torch.arccosh(1 + sq_chord / (2 * point_a[..., 1] * point_b[..., 1]))


@pytest.fixture
def half_plane_metric():
    space = Euclidean(2, equip=False)
    space.equip_with_metric(ConformalMetric, log_factor=half_plane_log_factor)
    return space.metric


@needs_pytorch
def test_half_plane_gradients_match_the_closed_form(half_plane_metric):
    point_a = leaf([[0.3, 1.2], [0.0, 1.0], [-1.0, 0.4]])
    point_b = leaf([[-0.5, 0.7], [2.0, 0.5], [1.5, 2.0]])
    dist = half_plane_metric.dist(point_a, point_b)
    assert dist.grad_fn is not None
    grad_a, grad_b = torch.autograd.grad(dist.sum(), (point_a, point_b))
    exact_a, exact_b = torch.autograd.grad(
        half_plane_closed_form(point_a, point_b).sum(), (point_a, point_b)
    )
    torch.testing.assert_close(grad_a, exact_a, rtol=0, atol=1e-5)
    torch.testing.assert_close(grad_b, exact_b, rtol=0, atol=1e-5)


@needs_pytorch
def test_broadcast_endpoint_gets_the_summed_gradient(half_plane_metric):
    point_a = leaf([0.3, 1.2])
    point_b = torch.tensor([[-0.5, 0.7], [2.0, 0.5]], dtype=torch.float64)
    (grad,) = torch.autograd.grad(half_plane_metric.dist(point_a, point_b).sum(), point_a)
    (exact,) = torch.autograd.grad(half_plane_closed_form(point_a, point_b).sum(), point_a)
    assert grad.shape == (2,)
    torch.testing.assert_close(grad, exact, rtol=0, atol=1e-5)


@needs_pytorch
def test_squared_dist_gradient_is_twice_dist_times_its_gradient(half_plane_metric):
    point_a, point_b = leaf([0.3, 1.2]), torch.tensor([2.0, 0.5], dtype=torch.float64)
    (grad,) = torch.autograd.grad(half_plane_metric.squared_dist(point_a, point_b), point_a)
    exact = half_plane_closed_form(point_a, point_b)
    (exact_grad,) = torch.autograd.grad(exact, point_a)
    torch.testing.assert_close(grad, 2 * exact.detach() * exact_grad, rtol=0, atol=1e-5)


@needs_pytorch
def test_constant_factor_gradient_is_the_scaled_unit_chord():
    quality = 0.3
    space = Euclidean(3, equip=False)
    space.equip_with_metric(DensityConformalMetric, log_quality=Constant(quality))
    point_a, point_b = leaf([0.0, 1.0, -2.0]), leaf([1.5, -0.5, 0.5])
    grad_a, grad_b = torch.autograd.grad(space.metric.dist(point_a, point_b), (point_a, point_b))
    chord = (point_b - point_a).detach()
    expected = -math.log(quality) * chord / torch.linalg.vector_norm(chord)
    torch.testing.assert_close(grad_b, expected, rtol=0, atol=1e-10)
    torch.testing.assert_close(grad_a, -expected, rtol=0, atol=1e-10)


@needs_pytorch
def test_sphere_gradient_is_the_tangent_one_of_the_scaled_great_circle_distance():
    quality = 0.3
    sphere = Hypersphere(2, equip=False)
    sphere.equip_with_metric(DensityConformalMetric, log_quality=Constant(quality))
    point_a = leaf([1.0, 0.0, 0.0])
    point_b = torch.tensor([0.0, 0.6, 0.8], dtype=torch.float64)
    (grad,) = torch.autograd.grad(sphere.metric.dist(point_a, point_b), point_a)
    # d = c arccos(a . b): its gradient along the sphere at a.
    cosine = float(point_a.detach() @ point_b)
    expected = (point_b - cosine * point_a.detach()) / math.sqrt(1 - cosine**2)
    torch.testing.assert_close(grad, math.log(quality) * expected, rtol=0, atol=1e-8)


@needs_pytorch
def test_mixture_realism_gradient_matches_finite_differences():
    mixture = GaussianMixture(
        np.ones(3), [[-1.5, 0.0], [1.5, 0.0], [0.0, 1.5]], np.stack([0.5 * np.eye(2)] * 3)
    )
    space = Euclidean(2, equip=False)
    space.equip_with_metric(
        DensityConformalMetric, log_quality=RealismIndex(mixture), solver_options=dict(tol=1e-9)
    )
    metric = space.metric
    point_a, point_b = leaf([-1.2, 0.3]), torch.tensor([1.3, 0.4], dtype=torch.float64)
    (grad,) = torch.autograd.grad(metric.dist(point_a, point_b), point_a)
    step = 1e-3
    with torch.no_grad():
        shifts = step * torch.eye(2, dtype=torch.float64)
        plus = metric.dist(point_a + shifts, point_b.expand(2, 2))
        minus = metric.dist(point_a - shifts, point_b.expand(2, 2))
    # Central differences err by O(step^2) and by the solver's error (tol * dist) / step.
    torch.testing.assert_close(grad, (plus - minus) / (2 * step), rtol=0, atol=1e-5)


@needs_pytorch
def test_gradcheck_on_the_half_plane(half_plane_metric):
    point_b = torch.tensor([[1.0, 0.8]], dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda point: half_plane_metric.dist(point, point_b),
        (leaf([[0.2, 1.1]]),),
        eps=1e-4,
        atol=1e-5,
        rtol=1e-4,
    )


@needs_pytorch
def test_dist_pairwise_carries_the_gradients_of_its_pairs(half_plane_metric):
    points = leaf([[0.3, 1.2], [-0.5, 0.7], [2.0, 0.5]])
    matrix = half_plane_metric.dist_pairwise(points)
    (grad,) = torch.autograd.grad(matrix.sum(), points)
    rows, cols = torch.triu_indices(3, 3, 1)
    exact = half_plane_closed_form(points[rows], points[cols])
    (exact_grad,) = torch.autograd.grad(2 * exact.sum(), points)
    torch.testing.assert_close(matrix[rows, cols].detach(), exact.detach(), atol=1e-7, rtol=0)
    torch.testing.assert_close(matrix.detach(), matrix.detach().T, atol=0, rtol=0)
    torch.testing.assert_close(grad, exact_grad, rtol=0, atol=1e-5)


@needs_pytorch
def test_paired_distances_carry_the_gradients_of_their_pairs(half_plane_metric):
    point_a = leaf([[0.3, 1.2], [-1.0, 0.4]])
    point_b = torch.tensor([[-0.5, 0.7], [1.5, 2.0]], dtype=torch.float64)
    dist = paired_distances(point_a, point_b, metric=half_plane_metric)
    (grad,) = torch.autograd.grad(dist.sum(), point_a)
    (exact,) = torch.autograd.grad(half_plane_closed_form(point_a, point_b).sum(), point_a)
    torch.testing.assert_close(grad, exact, rtol=0, atol=1e-5)


@needs_pytorch
def test_no_gradient_reaches_the_quality_or_comes_back_without_inputs_requiring_it():
    weight = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    space = Euclidean(2, equip=False)
    space.equip_with_metric(ConformalMetric, log_factor=lambda z: weight * half_plane_log_factor(z))
    point_a, point_b = leaf([0.3, 1.2]), torch.tensor([2.0, 0.5], dtype=torch.float64)
    space.metric.dist(point_a, point_b).backward()
    assert weight.grad is None and point_a.grad is not None
    assert space.metric.dist(point_a.detach(), point_b).grad_fn is None


@needs_pytorch
def test_the_quickstart_example_runs_and_prints_the_closed_form_gradient(capsys):
    """The torch-loss block of docs/quickstart.md, run after the page's half-plane set-up."""
    text = (pathlib.Path(__file__).parents[1] / "docs" / "quickstart.md").read_text()
    block = text.split("```{code-block} python\n# GEOMSTATS_BACKEND=pytorch\n")[1].split("```")[0]
    space = Euclidean(2, equip=False)
    space.equip_with_metric(ConformalMetric, log_factor=lambda z: -2 * torch.log(z[..., 1]))
    exec(block, {"torch": torch, "metric": space.metric})
    printed = capsys.readouterr().out.splitlines()
    documented = [line.split("# ")[1] for line in block.splitlines() if line.startswith("print")]
    assert printed == documented and printed[0] == printed[1]


@pytest.mark.skipif(PYTORCH, reason="the numpy backend")
def test_numpy_backend_returns_numpy_distances_as_before(half_plane_metric):
    dist = half_plane_metric.dist(leaf([0.3, 1.2]), torch.tensor([2.0, 0.5], dtype=torch.float64))
    assert isinstance(dist, np.float64)  # a scalar, as geomstats' own metrics return
    exact = half_plane_closed_form(torch.tensor([0.3, 1.2]), torch.tensor([2.0, 0.5]))
    np.testing.assert_allclose(dist, float(exact), rtol=1e-7)
