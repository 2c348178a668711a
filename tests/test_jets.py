"""Closed-form jets (value, gradient, Hessian) against autodiff, and what uses them."""

import contextlib

import numpy as np
import pytest
import torch
from geomstats.geometry.euclidean import Euclidean
from geomstats.geometry.poincare_half_space import PoincareHalfSpace

from geomstats_density import DensityConformalMetric, DomainError
from geomstats_density.densities import Gaussian, GaussianMixture, KernelDensity
from geomstats_density.jets import autodiff_jet
from geomstats_density.quality import (
    Constant,
    DensityRatio,
    Feature,
    RealismIndex,
    Typicality,
    fermat_log_factor,
)
from geomstats_density.solvers.banded import BlockTridiagonal, batch_cholesky_solve
from geomstats_density.solvers.smoothing import KinkSmoothing

DIM = 3


def mixture(dim=DIM, n_components=4):
    rng = np.random.default_rng(1)
    covariances = np.stack(
        [np.eye(dim) * 0.5 + 0.2 * np.outer(v, v) for v in rng.normal(size=(n_components, dim))]
    )
    return GaussianMixture(
        rng.uniform(0.5, 1.5, n_components), rng.normal(size=(n_components, dim)) * 2, covariances
    )


def points(dim=DIM):
    return torch.from_numpy(np.random.default_rng(2).normal(size=(4, 5, dim)) * 1.5)


def assert_jets_close(closed_form, reference):
    for name, a, b in zip(("value", "gradient", "hessian"), closed_form, reference):
        assert a.shape == b.shape, name
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12, msg=name)


@pytest.mark.parametrize(
    "density",
    [
        mixture(),
        KernelDensity(np.random.default_rng(3).normal(size=(40, DIM)), 0.5),
        Gaussian(np.ones(DIM), np.eye(DIM) + 0.3 * np.ones((DIM, DIM))),
    ],
    ids=["mixture", "kernel", "gaussian"],
)
def test_density_jets_match_autodiff(density):
    assert_jets_close(density.jet(points()), autodiff_jet(density, points()))


@pytest.mark.parametrize(
    "make_quality",
    [
        lambda: RealismIndex(mixture(), random_state=0),
        lambda: RealismIndex(Gaussian(np.zeros(DIM))),
        lambda: Typicality(mixture(), random_state=0, form="smooth"),
        lambda: DensityRatio(mixture()),
        lambda: RealismIndex(mixture(), random_state=0) * Constant(0.5),
    ],
    ids=["realism-mixture", "realism-gaussian", "typicality", "ratio", "product"],
)
def test_quality_jets_match_autodiff(make_quality):
    quality = make_quality()
    assert_jets_close(quality.jet(points()), autodiff_jet(quality, points()))


def test_fermat_factor_jet_matches_autodiff():
    log_factor = fermat_log_factor(mixture(), beta=0.7)
    assert_jets_close(log_factor.jet(points()), autodiff_jet(log_factor, points()))


def relu_classifier_log_quality():
    """``log`` of a smoothed softmax probability of class 1 of a seeded ReLU network."""
    torch.manual_seed(0)
    network = torch.nn.Sequential(
        torch.nn.Linear(DIM, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3)
    ).double()
    for parameter in network.parameters():
        parameter.requires_grad_(False)

    def log_quality(codes):
        probability = torch.softmax(network(codes), dim=-1)[..., 1]
        return torch.log(0.01 + 0.98 * probability)

    return log_quality


def per_point_hessians(function, batch):
    flat = batch.reshape(-1, batch.shape[-1])
    hessians = [
        torch.autograd.functional.hessian(lambda z: function(z[None])[0], point) for point in flat
    ]
    return torch.stack(hessians).reshape(*batch.shape, batch.shape[-1])


@pytest.mark.parametrize("smoothing", [None, 0.5], ids=["relu", "kink-smoothed"])
def test_autodiff_jet_hessian_equals_per_point_hessians(smoothing):
    log_quality = relu_classifier_log_quality()
    batch = points()
    mode = KinkSmoothing(smoothing) if smoothing else contextlib.nullcontext()
    with mode:
        jet = autodiff_jet(log_quality, batch)
        reference = per_point_hessians(log_quality, batch)
    assert jet.hessian.shape == (*batch.shape, DIM)
    assert reference.abs().max() > 1e-3
    torch.testing.assert_close(jet.hessian, reference, rtol=1e-12, atol=1e-14)


class SquareBranchingOnGradient(torch.autograd.Function):
    """``x ** 2`` whose backward reads its incoming gradient's values (not batchable)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**2

    @staticmethod
    def backward(ctx, incoming):
        (x,) = ctx.saved_tensors
        if bool((incoming == 0).all()):
            return torch.zeros_like(x)
        return 2 * x * incoming


def test_autodiff_jet_of_a_backward_that_cannot_be_batched():
    batch = points()
    jet = autodiff_jet(lambda z: SquareBranchingOnGradient.apply(z).sum(-1) * z[..., 0], batch)
    # Hessian of z_0 |z|^2: 2 z_0 I + 2 (e_0 z^T + z e_0^T).
    first = torch.zeros(DIM, dtype=batch.dtype)
    first[0] = 1.0
    z0 = batch[..., 0, None, None]
    expected = 2 * z0 * torch.eye(DIM, dtype=batch.dtype) + 2 * (
        first[:, None] * batch[..., None, :] + batch[..., :, None] * first
    )
    torch.testing.assert_close(jet.hessian, expected, rtol=1e-12, atol=1e-14)


def test_qualities_without_closed_form_have_no_jet():
    feature = Feature(lambda x: torch.stack([x[:, 0], -x[:, 0]], -1), target=0)
    assert feature.jet(points()) is None
    assert (RealismIndex(mixture(), random_state=0) * feature).jet(points()) is None


def metric_of(log_quality, dim=DIM, **solver_options):
    space = Euclidean(dim, equip=False)
    space.equip_with_metric(
        DensityConformalMetric, log_quality=log_quality, solver_options=solver_options
    )
    return space


def test_metric_jet_matches_autodiff_and_reports_points_outside_the_domain():
    metric = metric_of(RealismIndex(mixture(), random_state=0)).metric
    assert_jets_close(
        metric.log_factor_jet(points()), autodiff_jet(metric.log_factor_tensor, points())
    )
    # A "quality" of 1 is outside the domain: log Q = 0 gives an infinite factor.
    one = metric_of(Constant(0.5)).metric
    one.log_quality.q = 1.0
    with pytest.raises(DomainError, match="log_quality must be finite and < 0"):
        one.log_factor_jet(points())


def test_metric_jet_on_a_poincare_model_adds_the_model_factor():
    space = PoincareHalfSpace(2, equip=False)
    space.equip_with_metric(
        DensityConformalMetric,
        log_quality=RealismIndex(mixture(dim=2, n_components=3), random_state=0),
    )
    upper = points(dim=2).clone()
    upper[..., 1] = torch.exp(upper[..., 1])
    assert_jets_close(
        space.metric.log_factor_jet(upper), autodiff_jet(space.metric.log_factor_tensor, upper)
    )


def test_newton_on_closed_form_jets_equals_newton_on_autodiff():
    """The same geodesics whether the realism index's derivatives are closed form or not."""
    quality = RealismIndex(mixture(dim=2, n_components=5), random_state=0)
    closed = metric_of(quality, dim=2, tol=1e-6, initialization="line")
    # A plain function hides the quality's jet: the metric falls back to autodiff.
    autodiff = metric_of(lambda z: quality(z), dim=2, tol=1e-6, initialization="line")
    a = np.array([[-2.0, 0.5], [1.0, -1.0]])
    b = np.array([[2.0, 1.0], [-1.5, 2.0]])
    closed_curve = closed.metric.log_solver.solve(b, a)
    autodiff_curve = autodiff.metric.log_solver.solve(b, a)
    assert closed_curve.converged.all() and autodiff_curve.converged.all()
    np.testing.assert_allclose(closed_curve.dist, autodiff_curve.dist, rtol=1e-9)


def test_batch_cholesky_solves_the_definite_matrices_and_flags_the_others():
    rng = np.random.default_rng(4)
    batch, n_blocks, dim = 5, 6, 2
    lower = rng.normal(size=(batch, n_blocks - 1, dim, dim)) * 0.3
    diagonal = np.stack([np.eye(dim) * 3.0] * n_blocks * batch).reshape(batch, n_blocks, dim, dim)
    diagonal[1, 2] = np.diag([3.0, -1.0])  # indefinite
    diagonal[4, 0] = np.diag([-2.0, 3.0])  # indefinite, last of the batch
    hessian = BlockTridiagonal(diagonal, lower)
    rhs = rng.normal(size=(batch, n_blocks * dim))
    solution, positive = batch_cholesky_solve(hessian.band(), rhs.reshape(-1), batch)
    np.testing.assert_array_equal(positive, [True, False, True, True, False])
    for b in np.flatnonzero(positive):
        dense = np.zeros((n_blocks * dim, n_blocks * dim))
        for k in range(n_blocks):
            dense[k * dim : (k + 1) * dim, k * dim : (k + 1) * dim] = diagonal[b, k]
        for k in range(n_blocks - 1):
            dense[(k + 1) * dim : (k + 2) * dim, k * dim : (k + 1) * dim] = lower[b, k]
            dense[k * dim : (k + 1) * dim, (k + 1) * dim : (k + 2) * dim] = lower[b, k].T
        np.testing.assert_allclose(solution[b], np.linalg.solve(dense, rhs[b]), rtol=1e-10)


@pytest.mark.parametrize("quadrature", ["simpson", "midpoint"])
@pytest.mark.parametrize("phi", [None, "tanh"])
@pytest.mark.parametrize("node_times", [None, (0.0, 0.05, 0.1, 0.3, 0.6, 0.8, 1.0)])
def test_energy_derivatives_match_finite_differences_of_the_energy(quadrature, phi, node_times):
    # The energy's gradient and Hessian blocks (closed-form pieces without phi,
    # autodiff pieces with one), at uniform and at graded node times, against
    # central differences of curve_energy, the energy's one definition; the
    # matrix-free gradient and Hessian-vector products against them.
    from geomstats_density.energy import curve_energy
    from geomstats_density.solvers.derivatives import (
        energy_derivatives,
        matrix_free_derivatives,
    )

    space = Euclidean(DIM, equip=False)
    space.equip_with_metric(
        DensityConformalMetric,
        log_quality=RealismIndex(mixture(), random_state=0),
        phi=None if phi is None else torch.tanh,
        quadrature=quadrature,
    )
    metric = space.metric
    rng = np.random.default_rng(4)
    times = np.linspace(0.0, 1.0, 7)[None, :, None]
    nodes = (1 - times) * rng.normal(size=(2, 1, DIM)) + times * rng.normal(size=(2, 1, DIM))
    nodes[:, 1:-1] += 0.3 * rng.normal(size=(2, 5, DIM))
    node_times = None if node_times is None else np.array(node_times)
    derivatives = energy_derivatives(metric, nodes, node_times)

    def energy(x):
        with torch.no_grad():
            return curve_energy(metric, torch.from_numpy(x), node_times).numpy()

    step = 1e-5
    direction = rng.normal(size=derivatives.gradient.shape)
    plus, minus = nodes.copy(), nodes.copy()
    plus[:, 1:-1] += step * direction
    minus[:, 1:-1] -= step * direction
    slope = (energy(plus) - energy(minus)) / (2 * step)
    np.testing.assert_allclose(
        np.einsum("bki,bki->b", derivatives.gradient, direction), slope, rtol=1e-7
    )
    plus_gradient = energy_derivatives(metric, plus, node_times).gradient
    minus_gradient = energy_derivatives(metric, minus, node_times).gradient
    np.testing.assert_allclose(
        derivatives.hessian.matvec(direction),
        (plus_gradient - minus_gradient) / (2 * step),
        rtol=1e-6,
        atol=1e-6 * np.abs(derivatives.hessian.matvec(direction)).max(),
    )
    matrix_free = matrix_free_derivatives(metric, nodes, node_times)
    np.testing.assert_allclose(matrix_free.energy, derivatives.energy, rtol=1e-12)
    np.testing.assert_allclose(matrix_free.gradient, derivatives.gradient, rtol=1e-10)
    np.testing.assert_allclose(
        matrix_free.hvp(direction), derivatives.hessian.matvec(direction), rtol=1e-9
    )
