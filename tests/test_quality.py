"""Qualities: values against scipy and brute force, derivatives, errors, soap bubble."""

import math

import numpy as np
import pytest
import scipy.stats
import torch
from conftest import as_numpy
from geomstats.geometry.euclidean import Euclidean
from paper_problems import typical_codes

from geomstats_density import ConformalMetric, DensityConformalMetric, DomainError
from geomstats_density.densities import CallableDensity, Gaussian, GaussianMixture
from geomstats_density.laws import EmpiricalLogDensityLaw, chi2_log_cdf, chi2_log_sf, dkw_bound
from geomstats_density.quality import (
    Closeness,
    Constant,
    DensityRatio,
    Feature,
    Product,
    RealismIndex,
    Typicality,
    fermat_log_factor,
    safe_norm,
    smooth_log_probability,
)

EPS = 0.1


def tensor(values):
    return torch.as_tensor(np.asarray(values, dtype=np.float64))


def smoothed(probability, eps=EPS):
    return eps / 2 + (1 - eps) * probability


def gradient_and_hessian(function, points):
    """Per-point gradient and Hessian, the Hessian by batched double backward as the solver does."""
    points = points.clone().requires_grad_(True)
    values = function(points)
    (grad,) = torch.autograd.grad(values.sum(), points, create_graph=True)
    dim = points.shape[-1]
    seeds = torch.eye(dim, dtype=points.dtype)[:, None, :].expand(dim, *points.shape)
    (hessian,) = torch.autograd.grad(grad, points, grad_outputs=seeds, is_grads_batched=True)
    return grad, hessian.movedim(0, -2)


def correlated_gaussian(dim=3):
    rng = np.random.default_rng(0)
    factor = rng.normal(size=(dim, dim))
    covariance = factor @ factor.T + dim * np.eye(dim)
    mean = rng.normal(size=dim)
    return mean, covariance


# ----------------------------------------------------------------------
# Chi-square law
# ----------------------------------------------------------------------
@pytest.mark.parametrize("dof", [1, 2, 7, 100])
def test_chi2_log_cdf_and_sf_match_scipy(dof):
    x = np.geomspace(1e-3, 5 * dof + 50, 80)
    np.testing.assert_allclose(
        chi2_log_cdf(tensor(x), dof), scipy.stats.chi2.logcdf(x, dof), rtol=1e-8, atol=1e-12
    )
    np.testing.assert_allclose(
        chi2_log_sf(tensor(x), dof), scipy.stats.chi2.logsf(x, dof), rtol=1e-8, atol=1e-12
    )


@pytest.mark.parametrize("dof", [1, 100])
def test_chi2_log_tails_where_probabilities_underflow(dof):
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 30
    small, large = 1e-300, 20.0 * dof + 3000.0
    expected_cdf = float(mpmath.log(mpmath.gammainc(dof / 2, 0, small / 2, regularized=True)))
    expected_sf = float(
        mpmath.log(mpmath.gammainc(dof / 2, large / 2, mpmath.inf, regularized=True))
    )
    assert chi2_log_cdf(tensor([small]), dof).item() == pytest.approx(expected_cdf, rel=1e-10)
    assert chi2_log_sf(tensor([large]), dof).item() == pytest.approx(expected_sf, rel=1e-10)


@pytest.mark.parametrize("dof", [2, 100])
def test_chi2_log_cdf_derivative_is_pdf_over_cdf(dof):
    x = np.array([0.5 * dof, dof, 2.0 * dof, 40.0 * dof + 2000.0])
    grad_cdf, hess_cdf = gradient_and_hessian(
        lambda t: chi2_log_cdf(t[..., 0], dof), tensor(x[:, None])
    )
    grad_sf, _ = gradient_and_hessian(lambda t: chi2_log_sf(t[..., 0], dof), tensor(x[:, None]))
    log_pdf = scipy.stats.chi2.logpdf(x, dof)
    np.testing.assert_allclose(
        grad_cdf[:, 0].detach(),
        np.exp(log_pdf - scipy.stats.chi2.logcdf(x, dof)),
        rtol=1e-7,
        atol=1e-300,
    )
    # Where the survival function underflows in scipy, d/dx log sf -> -1/2 (exponential tail).
    expected_sf = -np.exp(log_pdf[:-1] - scipy.stats.chi2.logsf(x[:-1], dof))
    np.testing.assert_allclose(grad_sf[:-1, 0].detach(), expected_sf, rtol=1e-7)
    assert grad_sf[-1, 0].item() == pytest.approx(-0.5, rel=0.05)
    # Second derivative against a central difference of the first.
    step = 1e-5 * x[:-1]
    plus = gradient_and_hessian(
        lambda t: chi2_log_cdf(t[..., 0], dof), tensor((x[:-1] + step)[:, None])
    )[0]
    minus = gradient_and_hessian(
        lambda t: chi2_log_cdf(t[..., 0], dof), tensor((x[:-1] - step)[:, None])
    )[0]
    np.testing.assert_allclose(
        hess_cdf[:-1, 0, 0], ((plus - minus)[:, 0] / (2 * tensor(step))).detach(), rtol=1e-5
    )


# ----------------------------------------------------------------------
# Smoothing
# ----------------------------------------------------------------------
def test_smoothing_matches_formula_and_is_stable_at_minus_infinity():
    log_p = tensor([-np.inf, -1e4, -3.0, 0.0]).requires_grad_(True)
    log_q = smooth_log_probability(log_p, EPS)
    np.testing.assert_allclose(
        log_q.detach(), np.log(smoothed(np.exp(log_p.detach().numpy()))), rtol=1e-14
    )
    (grad,) = torch.autograd.grad(log_q.sum(), log_p, create_graph=True)
    (second,) = torch.autograd.grad(grad.sum(), log_p)
    assert torch.isfinite(grad).all() and torch.isfinite(second).all()
    assert grad[0].item() == 0.0
    assert bool((log_q < 0).all())


@pytest.mark.parametrize("eps", [0.0, 1.0, -0.1, 1.5])
def test_eps_outside_unit_interval_raises(eps):
    with pytest.raises(ValueError, match="eps"):
        smooth_log_probability(tensor([-1.0]), eps)
    with pytest.raises(ValueError, match="eps"):
        RealismIndex(Gaussian(np.zeros(2)), eps=eps)


# ----------------------------------------------------------------------
# Density qualities, exact for Gaussians
# ----------------------------------------------------------------------
def test_gaussian_qualities_match_scipy_chi2():
    mean, covariance = correlated_gaussian()
    density = Gaussian(mean, covariance)
    points = np.random.default_rng(1).normal(size=(50, 3)) * 3 + mean
    diff = points - mean
    sq_dist = np.einsum("ni,ij,nj->n", diff, np.linalg.inv(covariance), diff)
    sf, cdf = scipy.stats.chi2.sf(sq_dist, 3), scipy.stats.chi2.cdf(sq_dist, 3)
    cases = {
        RealismIndex(density): sf,
        Typicality(density, form="min"): 2 * np.minimum(sf, cdf),
        Typicality(density): 4 * sf * cdf,
        DensityRatio(density): np.exp(-0.5 * sq_dist),
    }
    for quality, probability in cases.items():
        np.testing.assert_allclose(
            torch.exp(quality(tensor(points))),
            smoothed(probability),
            rtol=1e-8,
            err_msg=type(quality).__name__,
        )
    assert RealismIndex(density).monte_carlo_error is None
    # One point, no batch axis, deep in the tail where the probabilities underflow.
    assert RealismIndex(density)(tensor(mean + 100.0)).shape == ()


def test_density_qualities_have_finite_second_derivatives_everywhere():
    density = Gaussian(np.zeros(100))
    rng = np.random.default_rng(2)
    directions = rng.normal(size=(5, 100))
    directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
    # The mode, the soap-bubble shell, deep in both underflowing tails.
    points = tensor(
        np.concatenate(
            [np.zeros((1, 100)), directions * np.array([[1e-3], [7.0], [10.0], [50.0], [1e3]])]
        )
    )
    for quality in (
        RealismIndex(density),
        Typicality(density),
        Typicality(density, form="smooth"),
        DensityRatio(density),
    ):
        grad, hessian = gradient_and_hessian(quality, points)
        assert torch.isfinite(grad).all() and torch.isfinite(hessian).all(), type(quality).__name__


# ----------------------------------------------------------------------
# Monte-Carlo laws
# ----------------------------------------------------------------------
def test_empirical_law_is_within_its_dkw_bound_of_the_chi2_law():
    density = Gaussian(np.zeros(5))
    law = EmpiricalLogDensityLaw.from_density(density, 4096, random_state=0)
    assert law.monte_carlo_error == pytest.approx(math.sqrt(math.log(40) / (2 * 4096)))
    assert law.monte_carlo_error == dkw_bound(4096)
    sq_dist = np.linspace(0.01, 25, 200)
    log_density = tensor(density.log_max() - 0.5 * sq_dist)
    # F(s) = P[log p(X) <= s] = P[chi2_5 >= squared distance].
    error = np.abs(np.exp(law.log_cdf(log_density).numpy()) - scipy.stats.chi2.sf(sq_dist, 5))
    assert error.max() < law.monte_carlo_error
    # Both are read from tables: they add up to 1 within the splines' error.
    np.testing.assert_allclose(
        torch.exp(law.log_cdf(log_density)) + torch.exp(law.log_sf(log_density)), 1.0, rtol=1e-9
    )


def test_tabulated_law_matches_the_smoothed_sum_over_samples():
    law = EmpiricalLogDensityLaw(torch.randn(500, generator=torch.Generator().manual_seed(3)))
    reach = 20 * law.bandwidth  # the table's reach beyond the samples
    low, high = float(law.samples[0]) - reach, float(law.samples[-1]) + reach
    log_density = torch.linspace(low - 10, high + 10, 3001, dtype=torch.float64)
    standardized = (log_density[:, None] - law.samples) / law.bandwidth
    # The definition, summed directly: log of the mean of Phi((s - s_i) / h).
    exact = {
        "cdf": torch.logsumexp(torch.special.log_ndtr(standardized), dim=-1) - np.log(500),
        "sf": torch.logsumexp(torch.special.log_ndtr(-standardized), dim=-1) - np.log(500),
    }
    tabulated = {"cdf": law.log_cdf(log_density), "sf": law.log_sf(log_density)}
    table = (log_density >= low) & (log_density <= high)
    for name in exact:
        np.testing.assert_allclose(tabulated[name][table], exact[name][table], atol=1e-8)
        # Quadratic tails beyond the table, where Q has long hit its floor eps / 2.
        np.testing.assert_allclose(tabulated[name][~table], exact[name][~table], rtol=1e-3)


TWO_MODES = GaussianMixture([1.0, 1.0], [[0.0, 0.0], [3.0, 0.0]], [0.5 * np.eye(2)] * 2)


@pytest.mark.parametrize("quality_class", [RealismIndex, Typicality])
def test_relative_error_bounds_the_spread_of_the_factor_over_random_states(quality_class):
    """The factor ``-log Q`` estimated from 16 seeds of 256 samples each: its
    relative standard deviation across them, on a line through both modes
    (every level of the CDF), peaks near the quality's ``relative_error``, the
    binomial bound (below it: the kernel smoothing of the CDF averages the
    samples)."""
    qualities = [quality_class(TWO_MODES, n_samples=256, random_state=s) for s in range(16)]
    assert len({quality.relative_error for quality in qualities}) == 1
    line = tensor(np.c_[np.linspace(-4.0, 1.5, 400), np.zeros(400)])
    with torch.no_grad():
        factors = np.stack([-quality(line).numpy() for quality in qualities])
    spread = np.max(factors.std(0, ddof=1) / factors.mean(0))
    assert 0.4 * qualities[0].relative_error < spread < 1.3 * qualities[0].relative_error


def test_default_tol_is_a_hundredth_of_the_distances_monte_carlo_spread():
    """Distances in the metric of realism indices from 12 seeds differ by about
    their ``relative_error``; the default ``tol`` (``'auto'``) is a hundredth of it,
    so the solver's digits stay far below that spread. A given ``tol`` is kept."""
    qualities = [RealismIndex(TWO_MODES, n_samples=256, random_state=s) for s in range(12)]
    relative_error = qualities[0].relative_error
    space = Euclidean(2, equip=False)
    dists = []
    for quality in qualities:
        space.equip_with_metric(DensityConformalMetric, log_quality=quality)
        assert space.metric.log_solver.tol == pytest.approx(0.01 * relative_error, rel=1e-12)
        dists.append(as_numpy(space.metric.dist(np.array([-1.0, 0.5]), np.array([3.5, 0.3]))))
    spread = np.std(dists, ddof=1) / np.mean(dists)
    assert 10 * space.metric.log_solver.tol < spread < relative_error
    space.equip_with_metric(
        DensityConformalMetric, log_quality=qualities[0], solver_options=dict(tol=1e-6)
    )
    assert space.metric.log_solver.tol == 1e-6
    # Exact laws have no Monte-Carlo error: the solver's own default.
    exact = RealismIndex(Gaussian(np.zeros(2)))
    assert exact.relative_error is None and DensityRatio(TWO_MODES).relative_error is None
    space.equip_with_metric(DensityConformalMetric, log_quality=exact)
    assert space.metric.log_solver.tol == 1e-8


def test_relative_error_of_a_product_is_its_factors_largest():
    """``-log(Q_1 Q_2) = -log Q_1 - log Q_2``: off by at most the larger relative error."""
    realism = RealismIndex(TWO_MODES, n_samples=256)
    typicality = Typicality(TWO_MODES, n_samples=1024)
    assert (realism * typicality).relative_error == max(
        realism.relative_error, typicality.relative_error
    )
    assert (realism * RealismIndex(Gaussian(np.zeros(2)))).relative_error == realism.relative_error
    assert (DensityRatio(TWO_MODES) * RealismIndex(Gaussian(np.zeros(2)))).relative_error is None


def test_tol_auto_needs_a_solver_with_tol():
    space = Euclidean(2, equip=False)
    with pytest.raises(ValueError, match="tol='auto'"):
        space.equip_with_metric(
            DensityConformalMetric,
            log_quality=RealismIndex(TWO_MODES, n_samples=256),
            method="neural",
            solver_options=dict(tol="auto"),
        )


def test_mixture_realism_index_matches_brute_force_monte_carlo():
    mixture = GaussianMixture(
        [0.3, 0.7], [[-2.0, 0.0], [2.0, 1.0]], [np.eye(2), [[1.0, 0.5], [0.5, 2.0]]]
    )
    quality = RealismIndex(mixture, n_samples=4096, random_state=0)
    points = tensor([[-2.0, 0.0], [0.0, 0.5], [2.0, 3.0], [5.0, -3.0]])
    # Independent brute force: many fresh samples, a plain count.
    with torch.no_grad():
        reference = mixture(mixture.sample(400_000, random_state=1))
        expected = (reference[None, :] <= mixture(points)[:, None]).double().mean(-1)
        estimated = torch.exp(quality.log_probability(points))
    np.testing.assert_allclose(estimated, expected, atol=quality.monte_carlo_error)


# ----------------------------------------------------------------------
# Feature, closeness, products, Fermat
# ----------------------------------------------------------------------
WEIGHTS = tensor([[1.0, -1.0, 0.5], [0.0, 2.0, -1.0]])


def linear_classifier(samples):
    return samples @ WEIGHTS


def test_feature_matches_softmax_and_flattens_batches():
    feature = Feature(linear_classifier, target=2, generator=lambda z: 2 * z)
    points = tensor(np.random.default_rng(3).normal(size=(4, 5, 2)))
    logits = (2 * points.numpy()) @ WEIGHTS.numpy()
    probability = scipy.special.softmax(logits, axis=-1)[..., 2]
    np.testing.assert_allclose(torch.exp(feature(points)), smoothed(probability), rtol=1e-12)


def test_feature_rejects_bad_classifiers():
    points = tensor(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="out of range.*3 classes"):
        Feature(linear_classifier, target=3)(points)
    with pytest.raises(ValueError, match=r"\[n, n_classes\]"):
        Feature(lambda samples: samples[:, 0], target=0)(points)
    with pytest.raises(ValueError, match="class index"):
        Feature(linear_classifier, target=-1)


def _networks(activation, dim, n_classes=5, seed=0):
    """A seeded generator ``R^dim -> R^12`` and classifier ``R^12 -> R^n_classes``."""
    torch.manual_seed(seed)
    generator = torch.nn.Sequential(
        torch.nn.Linear(dim, 20), activation(), torch.nn.Linear(20, 12), activation()
    ).double()
    classifier = torch.nn.Sequential(
        torch.nn.Linear(12, 16), activation(), torch.nn.Linear(16, n_classes)
    ).double()
    for parameter in (*generator.parameters(), *classifier.parameters()):
        parameter.requires_grad_(False)
    return generator, classifier


# Fewer and more coordinates than classes.
@pytest.mark.parametrize("activation", [torch.nn.ReLU, torch.nn.LeakyReLU])
@pytest.mark.parametrize("dim", [3, 8])
def test_feature_gauss_newton_jet_is_exact_on_piecewise_linear_networks(activation, dim):
    """Against torch's dense Hessian of log Q at each point, and finite gradients:
    with ReLU networks, away from their kinks (random points), nothing is dropped."""
    generator, classifier = _networks(activation, dim)
    feature = Feature(classifier, target=2, generator=generator)
    points = tensor(np.random.default_rng(dim).normal(size=(2, 3, dim)))
    jet = feature.gauss_newton_jet(points)
    flat = points.reshape(-1, dim)
    dense = torch.stack([torch.autograd.functional.hessian(feature, point) for point in flat])
    assert dense.abs().max() > 1e-5
    np.testing.assert_allclose(
        jet.hessian.reshape(-1, dim, dim), dense, atol=1e-10 * dense.abs().max()
    )
    np.testing.assert_allclose(jet.value, feature(points), rtol=1e-14)
    step = 1e-6
    for i in range(dim):
        shift = torch.zeros(dim, dtype=torch.float64)
        shift[i] = step
        central = (feature(points + shift) - feature(points - shift)) / (2 * step)
        np.testing.assert_allclose(jet.gradient[..., i], central, atol=1e-8)


@pytest.mark.parametrize("dim", [3, 8])
def test_feature_gauss_newton_jet_drops_only_the_logits_curvature(dim):
    """With tanh networks the exact Hessian (torch's dense one) minus the
    Gauss-Newton one is ``s'(log P) sum_k (e_target - p)_k Hess l_k``, each logit's
    Hessian by torch and ``s' = (1 - eps) P / Q`` the slope of the smoothing."""
    generator, classifier = _networks(torch.nn.Tanh, dim, seed=1)
    feature = Feature(classifier, target=1, generator=generator)
    flat = tensor(np.random.default_rng(7).normal(size=(4, dim)))
    jet = feature.gauss_newton_jet(flat)
    for point, hessian in zip(flat, jet.hessian):
        exact = torch.autograd.functional.hessian(feature, point)
        logits = classifier(generator(point[None]))[0]
        probabilities = torch.softmax(logits, dim=-1)
        slope = (1 - EPS) * probabilities[1] / smoothed(probabilities[1])
        weights = -probabilities
        weights[1] += 1.0
        dropped = sum(
            weights[k]
            * torch.autograd.functional.hessian(
                lambda z, k=k: classifier(generator(z[None]))[0, k], point
            )
            for k in range(5)
        )
        assert dropped.abs().max() > 1e-3 * exact.abs().max()
        np.testing.assert_allclose(hessian + slope * dropped, exact, atol=1e-12)


def test_metric_gauss_newton_jet_chains_the_log_factor():
    """The metric's jet of ``f = 2 log(-log Q)`` for realism times a ReLU feature:
    the Gauss-Newton one equals torch's dense Hessian of ``f``; the exact one too."""
    generator, classifier = _networks(torch.nn.ReLU, 3)
    quality = RealismIndex(Gaussian(np.zeros(3))) * Feature(classifier, 2, generator=generator)
    space = Euclidean(3, equip=False)
    space.equip_with_metric(DensityConformalMetric, log_quality=quality)
    points = tensor(np.random.default_rng(2).normal(size=(3, 3)))

    def log_factor(z):
        return 2.0 * torch.log(-quality(z[None]))[0]

    dense = torch.stack([torch.autograd.functional.hessian(log_factor, point) for point in points])
    for gauss_newton in (True, False):
        jet = space.metric.log_factor_jet(points, gauss_newton=gauss_newton)
        np.testing.assert_allclose(jet.hessian, dense, atol=1e-10 * dense.abs().max())
        np.testing.assert_allclose(jet.value, 2.0 * torch.log(-quality(points)), rtol=1e-14)


def test_closeness_values_and_errors():
    quality = Closeness(safe_norm, rate=3.0)
    points = tensor([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(
        torch.exp(quality(points)), 0.5 * np.exp(-3.0 * np.array([5.0, 0.0]))
    )
    for rate in (0.0, -1.0, math.inf):
        with pytest.raises(ValueError, match="rate"):
            Closeness(safe_norm, rate=rate)
    with pytest.raises(DomainError, match="distance must be finite"):
        Closeness(lambda z: z[..., 0] * math.nan, rate=1.0)(points)


def test_safe_norm_derivatives_at_zero():
    grad, hessian = gradient_and_hessian(safe_norm, tensor([[0.0, 0.0], [3.0, 4.0]]))
    np.testing.assert_array_equal(grad[0].detach(), [0.0, 0.0])
    np.testing.assert_allclose(grad[1].detach(), [0.6, 0.8])
    assert torch.isfinite(hessian).all()


def test_products_add_logs():
    gaussian = Gaussian(np.zeros(2))
    realism, half = RealismIndex(gaussian), Constant(0.5)
    feature = Feature(lambda z: z @ WEIGHTS, target=0)
    product = realism * half * feature
    assert isinstance(product, Product) and len(product.factors) == 3
    points = tensor([[0.3, -1.0], [2.0, 0.5]])
    expected = realism(points) + math.log(0.5) + feature(points)
    np.testing.assert_allclose(product(points), expected, rtol=1e-14)
    with pytest.raises(ValueError, match="q must be in"):
        Constant(1.0)


def test_fermat_factor_is_density_to_the_minus_two_beta():
    mean, covariance = correlated_gaussian(2)
    space = Euclidean(2, equip=False)
    space.equip_with_metric(
        ConformalMetric, log_factor=fermat_log_factor(Gaussian(mean, covariance), beta=0.75)
    )
    point = np.array([0.4, -1.2])
    expected = scipy.stats.multivariate_normal(mean, covariance).pdf(point) ** (-1.5) * np.eye(2)
    np.testing.assert_allclose(np.asarray(space.metric.metric_matrix(point)), expected, rtol=1e-10)
    with pytest.raises(ValueError, match="beta"):
        fermat_log_factor(Gaussian(mean), beta=0.0)


def test_density_zero_on_the_curve_raises_domain_error():
    def log_density(z):
        hole = ((z - tensor([1.0, 0.0])) ** 2).sum(-1) < 0.25
        return torch.where(hole, -math.inf, -0.5 * (z * z).sum(-1))

    quality = DensityRatio(CallableDensity(log_density, dim=2), log_max=0.0)
    space = Euclidean(2, equip=False)
    space.equip_with_metric(DensityConformalMetric, log_quality=quality)
    with pytest.raises(DomainError, match="density is zero"):
        space.metric.dist(np.array([1.0, 1.0]), np.array([1.0, -1.0]))


# ----------------------------------------------------------------------
# The soap bubble
# ----------------------------------------------------------------------
@pytest.mark.parametrize("form", ["smooth", "min"])
def test_typicality_geodesic_keeps_the_norm_near_sqrt_d(form):
    first, second = typical_codes(100)
    space = Euclidean(100, equip=False)
    # 'min' has its maximum on a kink (the median level set): Newton does not
    # reach its tolerance there, so only 'smooth' is asked to converge.
    space.equip_with_metric(
        DensityConformalMetric,
        log_quality=Typicality(Gaussian(np.zeros(100)), form=form),
        solver_options=dict(
            tol=None, n_nodes=9, on_failure="raise" if form == "smooth" else "ignore"
        ),
    )
    geodesic = space.metric.geodesic(initial_point=first, end_point=second)
    norms = np.linalg.norm(np.asarray(geodesic(np.linspace(0, 1, 101))), axis=-1)
    linear_midpoint = np.linalg.norm((first + second) / 2)
    assert linear_midpoint == pytest.approx(math.sqrt(50))
    # The chi-square median of 100 degrees of freedom is 99.33: the shell of radius 9.97.
    assert norms.min() > 9.5 and norms.max() < 10.5
    quality = space.metric.log_quality
    on_geodesic = torch.exp(quality(tensor(np.asarray(geodesic(np.linspace(0, 1, 101))))))
    at_linear_midpoint = torch.exp(quality(tensor([(first + second) / 2])))
    assert on_geodesic.min() > 0.5 and at_linear_midpoint.item() < 0.051
