"""Density models against scipy, scikit-learn and a real normalizing flow."""

import math

import numpy as np
import pytest
import scipy.stats
import torch
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture
from sklearn.neighbors import KernelDensity as SklearnKernelDensity

from geomstats_density import DomainError
from geomstats_density.densities import (
    CallableDensity,
    Gaussian,
    GaussianMixture,
    KernelDensity,
    LogProbDensity,
    as_density,
)
from geomstats_density.quality import RealismIndex


def tensor(values):
    return torch.as_tensor(np.asarray(values, dtype=np.float64))


@pytest.fixture(scope="module")
def blobs():
    """A 2-D toy set: three anisotropic blobs."""
    rng = np.random.default_rng(0)
    centres = np.array([[-3.0, 0.0], [0.0, 2.0], [3.0, -1.0]])
    data = np.concatenate([c + rng.normal(size=(150, 2)) * [0.8, 0.4] for c in centres])
    return data


def assert_sample_moments(density, mean, covariance, n_samples=20_000):
    samples = density.sample(n_samples, random_state=0).numpy()
    assert samples.shape == (n_samples, len(mean))
    standard_error = np.sqrt(np.diag(covariance) / n_samples)
    assert np.all(np.abs(samples.mean(0) - mean) < 5 * standard_error)
    np.testing.assert_allclose(np.cov(samples.T), covariance, rtol=0.1, atol=0.05)


def test_gaussian_matches_scipy_and_samples():
    rng = np.random.default_rng(1)
    factor = rng.normal(size=(3, 3))
    covariance = factor @ factor.T + np.eye(3)
    mean = rng.normal(size=3)
    density = Gaussian(mean, covariance)
    points = rng.normal(size=(4, 5, 3))
    reference = scipy.stats.multivariate_normal(mean, covariance)
    np.testing.assert_allclose(density(tensor(points)), reference.logpdf(points), rtol=1e-12)
    assert density.log_max() == pytest.approx(reference.logpdf(mean), rel=1e-12)
    assert_sample_moments(density, mean, covariance)
    first = density.sample(3, random_state=5)
    np.testing.assert_array_equal(first, density.sample(3, random_state=5))


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_sklearn_mixture_matches_score_samples(blobs, covariance_type):
    estimator = SklearnGaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(
        blobs
    )
    density = as_density(estimator)
    assert isinstance(density, GaussianMixture)
    points = np.random.default_rng(2).normal(size=(60, 2)) * 3
    np.testing.assert_allclose(density(tensor(points)), estimator.score_samples(points), rtol=1e-10)
    mixture_mean = estimator.weights_ @ estimator.means_
    samples = density.sample(20_000, random_state=0).numpy()
    np.testing.assert_allclose(samples.mean(0), mixture_mean, atol=0.05)
    # Their own sampler and ours draw from the same law: compare a quantile of log p.
    theirs = estimator.score_samples(estimator.sample(20_000)[0])
    ours = estimator.score_samples(samples)
    assert np.median(ours) == pytest.approx(np.median(theirs), abs=0.05)


def test_mixture_from_covariances_and_its_maximum():
    covariances = [[[1.0, 0.3], [0.3, 0.5]], [[0.4, 0.0], [0.0, 0.4]]]
    means = [[0.0, 0.0], [2.5, 1.0]]
    density = GaussianMixture([0.4, 0.6], means, covariances)
    points = np.random.default_rng(3).normal(size=(20, 2))
    expected = np.log(
        0.4 * scipy.stats.multivariate_normal(means[0], covariances[0]).pdf(points)
        + 0.6 * scipy.stats.multivariate_normal(means[1], covariances[1]).pdf(points)
    )
    np.testing.assert_allclose(density(tensor(points)), expected, rtol=1e-12)
    grid = np.stack(np.meshgrid(np.linspace(-1, 4, 501), np.linspace(-1.5, 2.5, 401)), -1).reshape(
        -1, 2
    )
    with torch.no_grad():
        brute_force = density(tensor(grid)).max().item()
    assert brute_force - 1e-4 <= density.log_max() <= brute_force + 1e-3
    with pytest.raises(ValueError, match="exactly one"):
        GaussianMixture([1.0], [[0.0, 0.0]])


@pytest.mark.parametrize("weighted", [False, True])
def test_sklearn_kernel_density_matches_score_samples(blobs, weighted):
    weights = np.random.default_rng(4).uniform(0.2, 1.0, size=len(blobs)) if weighted else None
    estimator = SklearnKernelDensity(bandwidth="scott").fit(blobs, sample_weight=weights)
    density = as_density(estimator)
    assert isinstance(density, KernelDensity)
    points = np.random.default_rng(5).normal(size=(40, 2)) * 3
    # scikit-learn sums the kernels over a tree, to about 1e-10 relative.
    np.testing.assert_allclose(density(tensor(points)), estimator.score_samples(points), rtol=1e-8)
    expected_mean = np.average(blobs, axis=0, weights=weights)
    samples = density.sample(20_000, random_state=0).numpy()
    np.testing.assert_allclose(samples.mean(0), expected_mean, atol=0.06)


def test_sklearn_kernel_density_other_kernels_are_refused(blobs):
    with pytest.raises(ValueError, match="Gaussian kernel"):
        as_density(SklearnKernelDensity(kernel="epanechnikov").fit(blobs))
    with pytest.raises(ValueError, match="not fitted"):
        KernelDensity.from_sklearn(SklearnKernelDensity())


def test_zuko_flow_log_prob(blobs):
    zuko = pytest.importorskip("zuko")
    torch.manual_seed(0)
    flow = zuko.flows.NSF(features=2, transforms=2, hidden_features=[16, 16]).double()
    data = tensor(blobs)
    optimizer = torch.optim.Adam(flow.parameters(), lr=2e-2)
    for _ in range(60):
        optimizer.zero_grad()
        loss = -flow().log_prob(data).mean()
        loss.backward()
        optimizer.step()
    assert loss.item() < 3.0  # a standard normal fit scores about 4.6
    density = as_density(flow())
    assert isinstance(density, LogProbDensity)
    points = tensor(np.random.default_rng(6).normal(size=(3, 7, 2)) * 2)
    with torch.no_grad():
        np.testing.assert_allclose(density(points), flow().log_prob(points), rtol=1e-12)
    # A log-density: it integrates to about one over a box holding the data.
    axis = np.linspace(-8, 8, 161)
    grid = tensor(np.stack(np.meshgrid(axis, axis), -1))
    with torch.no_grad():
        mass = torch.exp(density(grid)).sum().item() * (axis[1] - axis[0]) ** 2
    assert mass == pytest.approx(1.0, abs=0.03)
    # Differentiable in the points, reproducible samples, usable by a quality.
    points = points.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(density(points).sum(), points)
    assert torch.isfinite(grad).all()
    first = density.sample(5, random_state=1)
    np.testing.assert_array_equal(first, density.sample(5, random_state=1))
    quality = RealismIndex(density, n_samples=512, random_state=0)
    assert torch.isfinite(quality(points)).all()


def test_callable_density_and_bad_values():
    density = CallableDensity(lambda z: -0.5 * (z * z).sum(-1), dim=2)
    np.testing.assert_allclose(density(tensor([[3.0, 4.0]])), [-12.5])
    with pytest.raises(NotImplementedError, match="cannot draw samples"):
        density.sample(3)
    with pytest.raises(ValueError, match="dimension 2"):
        density(tensor([[1.0, 2.0, 3.0]]))
    cases = {
        "is NaN": lambda z: z[..., 0] * math.nan,
        "density is zero": lambda z: torch.full(z.shape[:-1], -math.inf, dtype=z.dtype),
        r"is \+inf": lambda z: torch.full(z.shape[:-1], math.inf, dtype=z.dtype),
    }
    for message, function in cases.items():
        with pytest.raises(DomainError, match=message):
            CallableDensity(function)(tensor([[0.0, 1.0]]))
    with pytest.raises(ValueError, match="one value per point"):
        CallableDensity(lambda z: z)(tensor([[0.0, 1.0]]))


def test_as_density_refuses_other_objects():
    with pytest.raises(ValueError, match="Cannot read a density"):
        as_density(42)
