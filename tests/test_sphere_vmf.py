"""von Mises-Fisher densities on spheres, against closed forms and quadrature."""

import math

import numpy as np
import pytest
import scipy.special
import torch
from scipy.integrate import quad
from scipy.optimize import minimize

from geomstats_density.quality import DensityRatio, RealismIndex
from geomstats_density.sphere import (
    VonMisesFisher,
    VonMisesFisherMixture,
    von_mises_fisher_log_normalizer,
)


def sphere_grid(n_polar=200, n_azimuth=400):
    """Gauss-Legendre in cos(polar angle) times the trapezoid rule in azimuth on S^2."""
    cosines, weights = np.polynomial.legendre.leggauss(n_polar)
    azimuths = np.linspace(0, 2 * np.pi, n_azimuth, endpoint=False)
    sines = np.sqrt(1 - cosines**2)
    points = np.stack(
        [
            sines[:, None] * np.cos(azimuths),
            sines[:, None] * np.sin(azimuths),
            np.broadcast_to(cosines[:, None], (n_polar, n_azimuth)),
        ],
        axis=-1,
    )
    area_weights = weights[:, None] * np.full(n_azimuth, 2 * np.pi / n_azimuth)
    return torch.from_numpy(points), area_weights


@pytest.mark.parametrize("kappa", [0.0, 1e-3, 2.5, 40.0, 700.0])
def test_log_normalizer_on_the_2_sphere_is_kappa_over_4_pi_sinh(kappa):
    if kappa == 0:
        expected = -math.log(4 * math.pi)
    else:
        # log(kappa / (4 pi sinh kappa)), with sinh written to survive kappa = 700.
        expected = math.log(kappa / (2 * math.pi)) - kappa - math.log1p(-math.exp(-2 * kappa))
    assert von_mises_fisher_log_normalizer(3, kappa) == pytest.approx(
        expected, rel=1e-12, abs=1e-12
    )


@pytest.mark.parametrize("dim", [2, 4, 6])
def test_density_integrates_to_one_in_any_dimension(dim):
    # With w = mu . x, the surface measure of S^{d-1} is |S^{d-2}| (1 - w^2)^{(d-3)/2} dw.
    kappa = 3.0
    sub_area = 2 * math.pi ** ((dim - 1) / 2) / math.gamma((dim - 1) / 2)
    log_c = von_mises_fisher_log_normalizer(dim, kappa)
    total, _ = quad(
        lambda w: math.exp(log_c + kappa * w) * (1 - w * w) ** ((dim - 3) / 2) * sub_area, -1, 1
    )
    assert total == pytest.approx(1.0, rel=1e-9)


def test_mixture_integrates_to_one_on_the_2_sphere():
    mixture = VonMisesFisherMixture(
        [0.2, 0.5, 0.3], [[1, 0, 0], [0, 1, 1], [0, 0, -2]], [5.0, 20.0, 0.5]
    )
    points, weights = sphere_grid()
    with torch.no_grad():
        total = float((torch.exp(mixture(points)).numpy() * weights).sum())
    assert total == pytest.approx(1.0, rel=1e-8)


def test_log_density_is_constant_along_rays_and_matches_the_formula():
    density = VonMisesFisher([0.0, 3.0, 4.0], 6.0)
    points = torch.tensor([[0.6, 0.0, 0.8], [-1.0, 0.0, 0.0]], dtype=torch.float64)
    expected = von_mises_fisher_log_normalizer(3, 6.0) + 6.0 * (
        points @ torch.tensor([0.0, 0.6, 0.8], dtype=torch.float64)
    )
    torch.testing.assert_close(density(points), expected)
    torch.testing.assert_close(density(2.5 * points), expected)


@pytest.mark.parametrize("dim, kappa", [(3, 4.0), (6, 10.0), (2, 0.0)])
def test_samples_have_the_mean_resultant_length(dim, kappa):
    mean = np.zeros(dim)
    mean[-1] = 1.0
    samples = VonMisesFisher(mean, kappa).sample(20000, random_state=0)
    assert samples.shape == (20000, dim)
    np.testing.assert_allclose(samples.norm(dim=-1).numpy(), 1.0, atol=1e-12)
    cosines = samples[:, -1].numpy()
    # E[mu . X] = I_{d/2}(kappa) / I_{d/2 - 1}(kappa), 0 for the uniform law.
    expected = (
        0.0
        if kappa == 0
        else scipy.special.ive(dim / 2, kappa) / scipy.special.ive(dim / 2 - 1, kappa)
    )
    assert cosines.mean() == pytest.approx(expected, abs=4 * cosines.std() / math.sqrt(20000))


def test_mixture_samples_follow_the_weights_and_are_reproducible():
    mixture = VonMisesFisherMixture([0.25, 0.75], [[1, 0, 0], [-1, 0, 0]], [30.0, 30.0])
    first = mixture.sample(8000, random_state=3)
    second = mixture.sample(8000, random_state=3)
    torch.testing.assert_close(first, second)
    share = float((first[:, 0] > 0).double().mean())
    assert share == pytest.approx(0.25, abs=4 * math.sqrt(0.25 * 0.75 / 8000))


def test_log_max_exact_for_one_component_and_found_for_mixtures():
    assert VonMisesFisher([1, 0, 0], 7.0).log_max() == pytest.approx(
        von_mises_fisher_log_normalizer(3, 7.0) + 7.0, rel=1e-14
    )
    mixture = VonMisesFisherMixture([1.0, 1.0], [[1, 0, 0], [1, 1, 0]], [6.0, 6.0])
    # Independently: the best point of a grid, polished in spherical coordinates.
    points, _ = sphere_grid(50, 100)
    with torch.no_grad():
        best = points.reshape(-1, 3)[mixture(points).argmax()].numpy()

    def minus_log_density(angles):
        polar, azimuth = angles
        point = [
            math.sin(polar) * math.cos(azimuth),
            math.sin(polar) * math.sin(azimuth),
            math.cos(polar),
        ]
        return -float(mixture(torch.tensor(point, dtype=torch.float64)))

    start = [math.acos(best[2]), math.atan2(best[1], best[0])]
    polished = minimize(
        minus_log_density, start, method="Nelder-Mead", options=dict(xatol=1e-10, fatol=1e-14)
    )
    assert mixture.log_max() == pytest.approx(-polished.fun, abs=1e-9)


def test_qualities_read_von_mises_fisher_densities():
    density = VonMisesFisher([0.0, 0.0, 1.0], 5.0)
    points = torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.6, -0.8]], dtype=torch.float64)
    ratio = DensityRatio(density, eps=0.2)
    cosines = points[:, 2]
    expected = torch.log(0.1 + 0.8 * torch.exp(5.0 * (cosines - 1)))
    torch.testing.assert_close(ratio(points), expected)
    # On S^2, w = mu . X has density proportional to e^{kappa w} on [-1, 1], so the
    # realism index P[p(X) <= p(z)] is (e^{kappa w} - e^{-kappa}) / (e^kappa - e^{-kappa}).
    # Checked where P is between 0.1 and 0.9, away from the kernel smoothing's
    # bias at the top of the law.
    cosines = torch.tensor([0.54, 0.86, 0.979], dtype=torch.float64)
    points = torch.stack(
        [torch.sqrt(1 - cosines**2), torch.zeros(3, dtype=torch.float64), cosines], -1
    )
    realism = RealismIndex(density, eps=0.2, n_samples=4096, random_state=0)
    exact = (torch.exp(5.0 * cosines) - math.exp(-5.0)) / (math.exp(5.0) - math.exp(-5.0))
    torch.testing.assert_close(torch.exp(realism.log_probability(points)), exact, atol=0.03, rtol=0)


def test_bad_parameters():
    with pytest.raises(ValueError, match="non-zero"):
        VonMisesFisher([0.0, 0.0, 0.0], 1.0)
    with pytest.raises(ValueError, match="non-negative"):
        VonMisesFisher([0.0, 0.0, 1.0], -1.0)
    with pytest.raises(ValueError, match="one value per component"):
        VonMisesFisherMixture([1.0], [[1, 0, 0], [0, 1, 0]], [1.0, 1.0])
    with pytest.raises(ValueError, match="positive"):
        VonMisesFisherMixture([1.0, 0.0], [[1, 0, 0], [0, 1, 0]], [1.0, 1.0])
    with pytest.raises(ValueError, match=r"shape \[n_components, d >= 2\]"):
        VonMisesFisherMixture([1.0], [1.0, 0.0], [1.0])
    with pytest.raises(ValueError, match="dimension 3"):
        VonMisesFisher([0.0, 0.0, 1.0], 1.0)(torch.ones(2, 4, dtype=torch.float64))
