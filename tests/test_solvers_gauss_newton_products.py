"""Matrix-free Gauss-Newton steps: products with the Hessian with the networks linearised.

References come from outside the products: the dense Gauss-Newton blocks of the
block path (``gauss_newton_derivatives``, ``energy_derivatives(gauss_newton=True)``,
built from full Jacobians and the feature's closed-form jet), the exact products by
double backward (``matrix_free_derivatives``), and solves on exact blocks.
"""

import geomstats.backend as gs
import numpy as np
import pytest
import torch
from geomstats.geometry.euclidean import Euclidean
from paper_problems import typical_codes

from geomstats_density import DensityConformalMetric, NewtonGeodesicSolver
from geomstats_density.densities import Gaussian
from geomstats_density.quality import Feature, Typicality
from geomstats_density.solvers import newton
from geomstats_density.solvers.derivatives import (
    energy_derivatives,
    gauss_newton_derivatives,
    gauss_newton_matrix_free_derivatives,
    matrix_free_derivatives,
)
from geomstats_density.solvers.steps import GaussNewtonMatrixFreeSteps


def _network(sizes, activation, seed):
    torch.manual_seed(seed)
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(fan_in, fan_out, dtype=torch.float64), activation()]
    network = torch.nn.Sequential(*layers[:-1])
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    return network


def _space(dim, lengths_in, activation=torch.nn.ReLU, quadrature="simpson"):
    """Typicality of N(0, I) times a classifier's class 1 of a generator's samples."""
    generator = _network((dim, 16, 16, 6), activation, seed=0)
    classifier = _network((6, 12, 3), activation, seed=3)
    quality = Typicality(Gaussian(np.zeros(dim))) * Feature(
        classifier, target=1, generator=generator
    )
    space = Euclidean(dim, equip=False)
    space.equip_with_metric(
        DensityConformalMetric,
        log_quality=quality,
        phi=generator if lengths_in == "samples" else None,
        quadrature=quadrature,
    )
    return space


def _relative_error(value, reference):
    return np.abs(value - reference).max() / np.abs(reference).max()


@pytest.mark.parametrize("quadrature", ["simpson", "midpoint"])
@pytest.mark.parametrize("graded", [False, True])
@pytest.mark.parametrize("lengths_in", ["samples", "latent"])
def test_products_are_those_of_the_dense_gauss_newton_blocks(lengths_in, graded, quadrature):
    """On a ReLU generator and a ReLU feature classifier, through ``phi`` or in the
    latent space, uniform or graded node times: energy, gradient and products with
    random vectors equal the block path's (dense Jacobians, the feature's
    closed-form jet) to rounding."""
    space = _space(5, lengths_in, quadrature=quadrature)
    rng = np.random.default_rng(0)
    nodes = rng.normal(size=(2, 7, 5))
    times = np.sort(np.r_[0.0, rng.uniform(size=5), 1.0]) if graded else None
    products = gauss_newton_matrix_free_derivatives(space.metric, nodes, times)
    if lengths_in == "samples":
        blocks = gauss_newton_derivatives(space.metric, nodes, times)
    else:
        blocks = energy_derivatives(space.metric, nodes, times, gauss_newton=True)
    vectors = rng.normal(size=(4, *products.gradient.shape))
    np.testing.assert_allclose(products.energy, blocks.energy, rtol=1e-13)
    assert _relative_error(products.gradient, blocks.gradient) < 1e-12
    for vector in vectors:
        assert _relative_error(products.hvp(vector), blocks.hessian.matvec(vector)) < 1e-10


@pytest.mark.parametrize("lengths_in", ["samples", "latent"])
def test_products_are_exact_on_relu_networks_and_not_on_tanh_ones(lengths_in):
    """Against the exact products (double backward through the networks): equal on
    ReLU networks, whose second derivatives vanish; on tanh networks the dropped
    curvature terms show."""
    rng = np.random.default_rng(1)
    nodes = rng.normal(size=(2, 9, 5))
    vector = rng.normal(size=(2, 7, 5))
    errors = {}
    for activation in (torch.nn.ReLU, torch.nn.Tanh):
        metric = _space(5, lengths_in, activation).metric
        exact = matrix_free_derivatives(metric, nodes)
        products = gauss_newton_matrix_free_derivatives(metric, nodes)
        assert _relative_error(products.gradient, exact.gradient) < 1e-12
        errors[activation] = _relative_error(products.hvp(vector), exact.hvp(vector))
    assert errors[torch.nn.ReLU] < 1e-10
    assert errors[torch.nn.Tanh] > 1e-4


@pytest.mark.parametrize("lengths_in", ["samples", "latent"])
def test_solve_above_dimension_32_matches_the_exact_products(lengths_in, monkeypatch):
    """A 34-D ReLU generator and feature, lengths between samples or codes: at 9
    nodes (``tol=None``) the solve on Gauss-Newton products (``'gauss-newton'``
    above dimension 32) reaches the length of the solve on exact products by
    double backward (``'sobolev'``) to 1e-8. In the latent space it is also the
    length on exact blocks, to the 1e-6 at which the matrix-free steps' stopping
    test (the Sobolev-preconditioned gradient) leaves both matrix-free solves.
    The restarts at equal speed are off: whether a curve restarts is a discrete
    decision, and iterates equal to rounding can take different ones and end in
    different local minima of the piecewise-quadratic energy."""
    monkeypatch.setattr(newton, "UNEVEN_SPEED", np.inf)
    dim = 34
    space = _space(dim, lengths_in)
    solvers = {
        hessian: NewtonGeodesicSolver(space, n_nodes=9, tol=None, hessian=hessian, kinks="off")
        for hessian in ("blocks", "gauss-newton", "sobolev")
    }
    strategy = solvers["gauss-newton"]._step_strategy(space.metric, dim)
    assert isinstance(strategy, GaussNewtonMatrixFreeSteps)
    start, end = typical_codes(dim, seed=0)
    hessians = ("gauss-newton", "sobolev") if lengths_in == "samples" else tuple(solvers)
    curves = {
        hessian: solvers[hessian].solve(gs.array(start), gs.array(end)) for hessian in hessians
    }
    assert all(bool(curve.converged) for curve in curves.values())
    lengths = {hessian: float(curve.dist) for hessian, curve in curves.items()}
    assert lengths["gauss-newton"] == pytest.approx(lengths["sobolev"], rel=1e-8)
    if lengths_in == "latent":
        assert lengths["gauss-newton"] == pytest.approx(lengths["blocks"], rel=1e-6)
    # Not the straight line: the quality bends the geodesic.
    straight = np.linspace(start, end, 9)
    assert np.abs(np.asarray(curves["gauss-newton"].nodes) - straight).max() > 1e-2


def test_linearised_product_keeps_values_gradients_and_plain_factors():
    """A feature times a plain callable: the linearised ``log Q`` has the values and
    gradients of ``log Q`` (autodiff of the product itself), and its Hessian by
    autodiff is the feature's Gauss-Newton jet plus the callable's exact Hessian."""
    classifier = _network((4, 12, 3), torch.nn.Tanh, seed=3)
    feature = Feature(classifier, target=1, generator=_network((4, 8, 4), torch.nn.Tanh, seed=0))

    def plain(points):
        return -0.5 - 0.1 * torch.sin(points).pow(2).sum(-1)

    quality = feature * plain
    points = torch.from_numpy(np.random.default_rng(2).normal(size=(3, 4)))
    linearised = torch.autograd.functional.hessian(
        lambda z: quality.linearised(z[None])[0], points[0]
    )
    exact_hessian = torch.autograd.functional.hessian(lambda z: quality(z[None])[0], points[0])
    plain_hessian = torch.autograd.functional.hessian(lambda z: plain(z[None])[0], points[0])
    leaf = points.clone().requires_grad_(True)
    values = quality.linearised(leaf)
    (gradient,) = torch.autograd.grad(values.sum(), leaf)
    reference = points.clone().requires_grad_(True)
    (reference_gradient,) = torch.autograd.grad(quality(reference).sum(), reference)
    np.testing.assert_allclose(values.detach(), quality(points), rtol=1e-14)
    np.testing.assert_allclose(gradient, reference_gradient, rtol=1e-12, atol=1e-15)
    expected = feature.gauss_newton_jet(points[:1]).hessian[0] + plain_hessian
    np.testing.assert_allclose(linearised, expected, atol=1e-12 * expected.abs().max())
    # tanh networks: the linearisation drops their curvature.
    assert (linearised - exact_hessian).abs().max() > 1e-6 * exact_hessian.abs().max()
