"""KinkSmoothing: the smoothed primitives against their closed forms.

``relu_tau(x) = 2 tau (u^3 - u^4 / 2)`` with ``u = (x + tau) / (2 tau)`` inside
``|x| < tau``: at 0 (``u = 1/2``) it is ``2 tau (1/8 - 1/32) = 3 tau / 16``; its second
derivative ``(6 u - 6 u^2) / (2 tau)`` is ``3 / (4 tau)`` at 0 and vanishes at ``+-tau``.
``abs_tau(0) = 3 tau / 8`` with second derivative ``3 / (2 tau)``; the smoothed norm near
the origin is
``3 tau / 8 + 3 r^2 / (4 tau) - r^4 / (8 tau^3)``, so its Hessian at 0 is
``3 / (2 tau)`` times the identity.
"""

import geomstats.backend as gs
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from geomstats.geometry.euclidean import Euclidean
from paper_problems import EXACT_LENGTHS, central_projection, constant_half

from geomstats_density import ConformalMetric, NewtonGeodesicSolver
from geomstats_density.solvers.smoothing import (
    KinkSmoothing,
    smooth_abs,
    smooth_amax,
    smooth_norm,
    smooth_relu,
)

TAU = 0.1


def _grid():
    return torch.linspace(-0.5, 0.5, 101, dtype=torch.float64)


def test_smooth_relu_closed_form_and_limit():
    x = _grid()
    u = ((x + TAU) / (2 * TAU)).clamp(0, 1)
    expected = torch.where(x >= TAU, x, 2 * TAU * (u**3 - u**4 / 2))
    torch.testing.assert_close(smooth_relu(x, TAU), expected, rtol=0, atol=1e-15)
    assert smooth_relu(torch.zeros((), dtype=torch.float64), TAU).item() == pytest.approx(
        3 * TAU / 16, rel=1e-14
    )
    outside = x.abs() >= TAU
    torch.testing.assert_close(smooth_relu(x, TAU)[outside], torch.relu(x)[outside])
    # tau -> 0 recovers the kinked function: the largest error is 3 tau / 16, at 0.
    for tau in (1e-2, 1e-4, 1e-8):
        error = (smooth_relu(x, tau) - torch.relu(x)).abs().max().item()
        assert error == pytest.approx(3 * tau / 16, rel=1e-6)


def test_smooth_relu_is_twice_differentiable_across_its_band():
    x = torch.tensor([-TAU, 0.0, TAU], dtype=torch.float64, requires_grad=True)
    (first,) = torch.autograd.grad(smooth_relu(x, TAU).sum(), x, create_graph=True)
    (second,) = torch.autograd.grad(first.sum(), x)
    np.testing.assert_allclose(first.detach().numpy(), [0.0, 0.5, 1.0], atol=1e-14)
    np.testing.assert_allclose(second.numpy(), [0.0, 3 / (4 * TAU), 0.0], atol=1e-12)


def test_smooth_abs_and_norm_at_the_kink():
    zero = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    assert smooth_abs(zero[0], TAU).item() == pytest.approx(3 * TAU / 8, rel=1e-14)
    value = smooth_norm(zero, TAU)
    assert value.item() == pytest.approx(3 * TAU / 8, rel=1e-14)
    (gradient,) = torch.autograd.grad(value, zero, create_graph=True)
    np.testing.assert_array_equal(gradient.detach().numpy(), 0.0)
    hessian = torch.autograd.functional.hessian(lambda z: smooth_norm(z, TAU), zero.detach())
    np.testing.assert_allclose(hessian.numpy(), 3 / (2 * TAU) * np.eye(3), rtol=1e-13)
    far = torch.tensor([0.3, -0.4, 1.2], dtype=torch.float64)
    assert smooth_norm(far, TAU).item() == pytest.approx(1.3, rel=1e-15)
    # Within the band the smoothed norm is abs_tau of the norm.
    near = torch.tensor([0.03, -0.04], dtype=torch.float64)
    assert smooth_norm(near, TAU).item() == pytest.approx(
        smooth_abs(torch.tensor(0.05, dtype=torch.float64), TAU).item(), rel=1e-14
    )


def test_the_mode_replaces_the_kinked_primitives():
    torch.manual_seed(0)
    x = torch.randn(4, 5, dtype=torch.float64) * 0.1
    y = torch.randn(4, 5, dtype=torch.float64) * 0.1
    relu = smooth_relu
    with KinkSmoothing(TAU) as mode:
        # The references are computed after the mode exits (lambdas): the smooth
        # functions are themselves built from torch primitives.
        results = {
            "relu": (F.relu(x), lambda: relu(x, TAU)),
            "module": (torch.nn.ReLU()(x), lambda: relu(x, TAU)),
            "method": (x.relu(), lambda: relu(x, TAU)),
            "leaky": (F.leaky_relu(x, 0.2), lambda: 0.2 * x + 0.8 * relu(x, TAU)),
            "clamp": (torch.clamp(x, min=0.05), lambda: 0.05 + relu(x - 0.05, TAU)),
            "clamp_max": (x.clamp(max=0.05), lambda: 0.05 - relu(0.05 - x, TAU)),
            "clamp_min": (x.clamp_min(0.0), lambda: relu(x, TAU)),
            "abs": (torch.abs(x), lambda: relu(x, TAU) + relu(-x, TAU)),
            "maximum": (torch.maximum(x, y), lambda: y + relu(x - y, TAU)),
            "minimum": (torch.minimum(x, y), lambda: x - relu(x - y, TAU)),
            "max2": (torch.max(x, y), lambda: y + relu(x - y, TAU)),
            "norm": (x.norm(dim=-1), lambda: smooth_norm(x, TAU, dim=-1)),
            "vector_norm": (
                torch.linalg.vector_norm(x, dim=-1, keepdim=True),
                lambda: smooth_norm(x, TAU, dim=-1, keepdim=True),
            ),
        }
        two = torch.stack([x, y], dim=-1)
        results["amax"] = (two.amax(dim=-1), lambda: y + relu(x - y, TAU))
        results["amin"] = (torch.amin(two, dim=-1), lambda: x - relu(x - y, TAU))
        values, indices = torch.max(two, dim=-1)
        results["max_dim"] = (values, lambda: y + relu(x - y, TAU))
    assert mode.called
    for name, (got, expected) in results.items():
        torch.testing.assert_close(got, expected(), rtol=1e-14, atol=1e-15, msg=name)
    np.testing.assert_array_equal(indices.numpy(), torch.argmax(two, dim=-1).numpy())
    # Outside the mode, nothing changes.
    torch.testing.assert_close(F.relu(x), torch.where(x > 0, x, 0.0))


def test_max_pooling_is_smoothed_window_by_window():
    """``nn.MaxPool2d(2)`` under the mode: each output is the fold of
    ``maximum_tau`` over its window's four entries in row-major order; with
    ``tau`` far below the gaps between entries, the exact maximum."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    with KinkSmoothing(0.5):
        pooled = torch.nn.MaxPool2d(2)(x)
    window = x[1, 2, 2:4, 0:2].reshape(-1)
    assert pooled[1, 2, 1, 0].item() == pytest.approx(smooth_amax(window, 0.5).item(), rel=1e-14)
    expected = window[0]
    for entry in window[1:]:
        expected = entry + smooth_relu(expected - entry, 0.5)
    assert pooled[1, 2, 1, 0].item() == pytest.approx(expected.item(), rel=1e-14)
    with KinkSmoothing(1e-12):
        sharp = F.max_pool2d(x, 2)
    torch.testing.assert_close(sharp, F.max_pool2d(x, 2), rtol=0, atol=1e-15)
    with KinkSmoothing() as probe:
        F.max_pool2d(x, 2)
    assert probe.kinked  # windows take their maxima at different entries across the batch


def test_derivatives_under_the_mode_are_finite_at_kinks_and_agree_with_torch_func():
    generator = torch.nn.Sequential(
        torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)
    ).double()
    point = torch.zeros(1, 2, dtype=torch.float64, requires_grad=True)
    with torch.no_grad():
        generator[0].bias.zero_()  # every unit at its kink at the origin
    with KinkSmoothing(1e-3):
        value = generator(point).sum() + torch.linalg.vector_norm(point)
        (gradient,) = torch.autograd.grad(value, point, create_graph=True)
        (second,) = torch.autograd.grad(gradient.sum(), point)
        _, tangent = torch.func.jvp(
            generator, (point.detach(),), (torch.ones_like(point).detach(),)
        )
        backward = torch.autograd.grad(generator(point).sum(-1).sum(), point)[0].sum()
    assert torch.isfinite(gradient).all() and torch.isfinite(second).all()
    assert tangent.sum().item() == pytest.approx(backward.item(), rel=1e-12)


def test_the_recording_mode_tells_kinks_met_from_kinks_not_met():
    points = torch.linspace(-1, 1, 11, dtype=torch.float64)[:, None].expand(11, 2)
    with KinkSmoothing() as straddling:
        torch.clamp(1.0 - points.norm(dim=-1), min=0.0)
    assert straddling.kinked and straddling.scale > 0
    with KinkSmoothing() as inactive:
        torch.clamp((points + 2.0).norm(dim=-1), min=1e-300)  # never active
        central_projection(torch.rand(5, 2, dtype=torch.float64))  # norms near 1
    assert inactive.called and not inactive.kinked
    with KinkSmoothing() as reduction:
        torch.amax(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), dim=-1)
    assert reduction.kinked


class _Failing(torch.nn.Module):
    def forward(self, x):
        raise RuntimeError("no forward here")


def test_networks_false_leaves_the_kinks_inside_modules_exact():
    """Outside modules ``relu_tau(0) = 3 tau / 16``; inside a module's forward,
    with ``networks=False``, ``relu(0) = 0`` and ``max(-x, 0) = 0`` exactly, and the
    recording mode sees only the kinks outside."""
    zero = torch.zeros(3, dtype=torch.float64)
    network = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Identity())
    with KinkSmoothing(TAU, networks=False):
        torch.testing.assert_close(network(zero), zero, rtol=0, atol=0)
        torch.testing.assert_close(torch.relu(zero), zero + 3 * TAU / 16, rtol=0, atol=1e-16)
        # A module whose forward raises leaves the mode smoothing outside modules.
        with pytest.raises(RuntimeError, match="no forward here"):
            _Failing()(zero)
        torch.testing.assert_close(F.relu(zero), zero + 3 * TAU / 16, rtol=0, atol=1e-16)
    with KinkSmoothing(TAU) as everywhere:
        torch.testing.assert_close(network(zero), zero + 3 * TAU / 16, rtol=0, atol=1e-16)
    assert everywhere.called
    line = torch.linspace(-1, 1, 11, dtype=torch.float64)[:, None]
    with KinkSmoothing(networks=False) as probe:
        network(line)
    assert not probe.kinked and not probe.called
    with KinkSmoothing(networks=False) as probe:
        torch.clamp(network(line) - 0.5, min=0.0)
    assert probe.kinked and probe.scale == pytest.approx(0.5)
    # Leaving the mode removes its module hooks: a later mode smooths inside modules.
    with KinkSmoothing(TAU):
        torch.testing.assert_close(network(zero), zero + 3 * TAU / 16, rtol=0, atol=1e-16)


def _example_2(kinks):
    space = Euclidean(2, equip=False)
    space.equip_with_metric(
        ConformalMetric,
        log_factor=lambda z: 2 * torch.log(-constant_half(z)),
        phi=central_projection,
    )
    solver = NewtonGeodesicSolver(space, kinks=kinks)
    return solver.solve(gs.array([1.0, 0.0]), gs.array([0.0, 1.0]))


def test_smooth_problems_are_solved_as_before():
    """Example 2 (a great-circle arc, ``ln 2 pi / 3``): its norm never comes near
    its kink, so ``'auto'`` minimises the energy as it is, to the same digits as
    ``'off'``; ``'smooth'`` reaches the same length."""
    auto, off = _example_2("auto"), _example_2("off")
    assert float(auto.dist) == float(off.dist)
    assert float(auto.dist) == pytest.approx(EXACT_LENGTHS[2], rel=1e-8)
    assert int(np.sum(auto.n_iterations)) == int(np.sum(off.n_iterations))
    # Forced smoothing: the norm stays outside every band, the energy is exact.
    smoothed = _example_2("smooth")
    assert bool(smoothed.converged)
    assert float(smoothed.dist) == pytest.approx(EXACT_LENGTHS[2], rel=1e-8)


def test_bad_kinks_option_and_tau_are_named():
    space = Euclidean(2, equip=False)
    space.equip_with_metric(ConformalMetric, log_factor=lambda z: z[..., 0] * 0)
    with pytest.raises(
        ValueError, match="kinks must be one of \\['auto', 'smooth', 'off'\\], got 'on'"
    ):
        NewtonGeodesicSolver(space, kinks="on")
    with pytest.raises(ValueError, match="tau must be positive"):
        KinkSmoothing(0.0)
