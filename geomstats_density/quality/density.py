r"""Qualities read from a log-density ``p`` through the law of ``log p(X)``, ``X ~ p``.

:class:`RealismIndex` (one-sided: the mass of the points less likely than
``z``), :class:`Typicality` (two-sided: ``log p(z)`` neither atypically small
nor atypically large) and :class:`DensityRatio` (``p(z) / max p``) are smoothed
probabilities that are element-wise functions of ``log p(z)``; their jets are
the density's composed with that function's derivatives. The law is exact for a
Gaussian through the chi-square law
(:class:`~geomstats_density.laws.GaussianLogDensityLaw`) and estimated from
samples otherwise (:class:`~geomstats_density.laws.EmpiricalLogDensityLaw`).

:func:`fermat_log_factor` reads ``p`` directly: the log-factor of the
density-based (Fermat) metric ``g = p(z)^(-2 beta) <., .>``.
"""

import math

import torch

from geomstats_density.densities import as_density
from geomstats_density.jets import elementwise_derivatives
from geomstats_density.laws import log_density_law
from geomstats_density.quality.base import (
    DEFAULT_EPS,
    Quality,
    check_eps,
    smooth_log_probability,
    smooth_log_probability_derivatives,
)


def log_two_sided(log_cdf, log_sf, form="min"):
    """Log of a two-sided tail probability from ``log F`` and ``log(1 - F)``.

    Parameters
    ----------
    log_cdf, log_sf : torch.Tensor, shape=[...]
        ``log F`` and ``log(1 - F)``.
    form : {'min', 'smooth'}
        ``'min'``: ``2 min(F, 1 - F)``, the two-sided p-value; ``'smooth'``:
        ``4 F (1 - F)``, which has the same maximum (1, at ``F = 1/2``) and
        tails to within a factor 2, but no kink at its maximum.

    Returns
    -------
    log_p : torch.Tensor, shape=[...]
    """
    if form == "min":
        return math.log(2.0) + torch.minimum(log_cdf, log_sf)
    if form == "smooth":
        return math.log(4.0) + log_cdf + log_sf
    raise ValueError(f"form must be 'min' or 'smooth', got {form!r}.")


class _LogDensityQuality(Quality):
    """A smoothed probability ``P`` that is an element-wise function of ``log p(z)``.

    Its jet is the density's (closed form for the Gaussian models) composed with
    that function's first two derivatives.
    """

    def _log_probability_of(self, log_density):
        """``log P`` from ``log p(z)``, element-wise, shape ``[...]``."""
        raise NotImplementedError

    def log_probability(self, points):
        """``log P(z)``, shape ``[...]`` for points ``[..., dim]``."""
        return self._log_probability_of(self.density(points))

    def log_quality_of(self, log_density):
        """``log Q`` from ``log p(z)``, element-wise, shape ``[...]``."""
        return smooth_log_probability(self._log_probability_of(log_density), self.eps)

    def __call__(self, points):
        return self.log_quality_of(self.density(points))

    def jet(self, points):
        density_jet = self.density.jet(points)
        return density_jet.chain(*self._log_quality_derivatives(density_jet.value))

    def _log_quality_derivatives(self, log_density):
        """``log Q`` and its first two derivatives in ``log p``, each ``[...]``."""
        return elementwise_derivatives(self.log_quality_of, log_density)


class _DensityQuality(_LogDensityQuality):
    """Shared set-up of the qualities read from the law of ``log p(X)``."""

    def __init__(self, density, eps, n_samples, random_state):
        self.density = as_density(density)
        self.eps = check_eps(eps)
        self.law = log_density_law(self.density, n_samples, random_state)
        self.monte_carlo_error = self.law.monte_carlo_error
        self.relative_error = (
            None
            if self.law.monte_carlo_error is None
            else factor_relative_error(self._probability_of_cdf, self.eps, self.law.n_samples)
        )

    def _probability_of_cdf(self, cdf):
        """``P`` from ``F(log p(z))``, element-wise, shape ``[...]``."""
        raise NotImplementedError


class RealismIndex(_DensityQuality):
    r"""The one-sided realism index: the mass of the points less likely than ``z``.

    .. math:: P(z) = \mathbb P_{X \sim p}[\, p(X) \le p(z) \,], \qquad
              Q = \epsilon/2 + (1 - \epsilon) P

    ``P`` is 1 at the mode and falls to 0 where ``p`` is small: geodesics keep
    to where the density is high relative to the rest of its mass. It is
    invariant to a rescaling of ``p`` and needs no normalising constant.

    This is the default density quality: the paper's realism index (Struski et
    al., whose first version was titled *Realism Index: Interpolation in
    Generative Models With Arbitrary Prior*), the form to use for
    low-dimensional latents and multi-modal densities.
    In high dimension it does *not* see the soap-bubble effect: for a standard
    Gaussian in ``D = 100`` the midpoint of a linear interpolation between two
    typical codes has ``P = P[chi2_100 >= 50] ~ 1``; use :class:`Typicality`
    there.

    Parameters
    ----------
    density : Density or density model
        Anything :func:`~geomstats_density.densities.as_density` reads.
    eps : float
        Smoothing, in (0, 1).
    n_samples : int
        Samples of ``p`` for the Monte-Carlo law (ignored for a Gaussian, where
        the chi-square law is exact).
    random_state : int, torch.Generator, numpy.random.Generator or None
        Source of those samples (see
        :meth:`~geomstats_density.densities.Density.sample`): the same integer
        gives the same quality, and the same distances, bit for bit.

    Attributes
    ----------
    law : GaussianLogDensityLaw or EmpiricalLogDensityLaw
        The law of ``log p(X)`` (:mod:`geomstats_density.laws`).
    monte_carlo_error : float or None
        DKW bound (95%) on the error of the estimated ``P``; None when exact.
    relative_error : float or None
        Standard error of the factor ``-log Q`` relative to itself, the largest
        over the points (:func:`factor_relative_error`); None when exact. The
        default ``tol`` of a :class:`~geomstats_density.DensityConformalMetric`
        does not go below a hundredth of it.
    """

    def __init__(self, density, eps=DEFAULT_EPS, n_samples=4096, random_state=0):
        super().__init__(density, eps, n_samples, random_state)

    def _log_probability_of(self, log_density):
        return self.law.log_cdf(log_density)

    def _probability_of_cdf(self, cdf):
        return cdf

    def _log_quality_derivatives(self, log_density):
        closed_form = getattr(self.law, "log_cdf_derivatives", None)
        if closed_form is None:
            return super()._log_quality_derivatives(log_density)
        return smooth_log_probability_derivatives(*closed_form(log_density), self.eps)


class Typicality(_DensityQuality):
    r"""The two-sided typicality of ``log p(z)`` under the law of ``log p(X)``.

    .. math:: P(z) = 2 \min(F(\log p(z)),\ 1 - F(\log p(z))), \qquad
              F(s) = \mathbb P_{X \sim p}[\log p(X) \le s]

    ``P`` is 1 where ``p(z)`` is the median density value and falls to 0 both
    where ``p`` is small (empty space) and where it is atypically large (near
    the mode of a high-dimensional density). It fixes the soap-bubble effect:
    for a standard Gaussian in dimension ``D`` the mass lies near the sphere of
    radius ``sqrt(D)``, the typicality is high there and tiny at the norm
    ``sqrt(D/2)`` of a linear interpolation's midpoint, so geodesics keep the
    norm near ``sqrt(D)``. In low dimension it wrongly penalises the mode
    (a 2-D Gaussian's mode is a realistic point): use :class:`RealismIndex`.

    Parameters
    ----------
    density, eps, n_samples, random_state
        As in :class:`RealismIndex`.
    form : {'smooth', 'min'}
        ``'min'`` is the formula above. Its maximum is a kink on the level set
        ``F = 1/2``, which is where geodesics run, so second-order solvers lose
        their fast convergence there (the solver smooths the kink, at a cost).
        ``'smooth'`` (default) uses ``P = 4 F (1 - F)`` instead: same zeros,
        same maximum at the same place, tails within a factor 2, and no kink.

    Attributes
    ----------
    law, monte_carlo_error, relative_error
        As in :class:`RealismIndex`.
    """

    def __init__(self, density, eps=DEFAULT_EPS, n_samples=4096, random_state=0, form="smooth"):
        if form not in ("min", "smooth"):
            raise ValueError(f"form must be 'min' or 'smooth', got {form!r}.")
        self.form = form
        super().__init__(density, eps, n_samples, random_state)

    def _log_probability_of(self, log_density):
        return log_two_sided(self.law.log_cdf(log_density), self.law.log_sf(log_density), self.form)

    def _probability_of_cdf(self, cdf):
        return torch.exp(log_two_sided(torch.log(cdf), torch.log1p(-cdf), self.form))


class DensityRatio(_LogDensityQuality):
    r"""The density relative to its maximum, ``P(z) = p(z) / max p``.

    Parameters
    ----------
    density : Density or density model
        Anything :func:`~geomstats_density.densities.as_density` reads.
    eps : float
        Smoothing, in (0, 1).
    log_max : float, optional
        ``log max p``; by default the density's own :meth:`~Density.log_max`
        (exact for a Gaussian, an L-BFGS ascent otherwise). Should the estimate
        fall below the true maximum, ``P`` is capped at 1.
    """

    def __init__(self, density, eps=DEFAULT_EPS, log_max=None):
        self.density = as_density(density)
        self.eps = check_eps(eps)
        self.log_max = float(self.density.log_max() if log_max is None else log_max)

    def _log_probability_of(self, log_density):
        return torch.clamp(log_density - self.log_max, max=0.0)


# Levels F of the CDF where factor_relative_error looks for its largest value:
# geometric towards both ends, where the factor's error peaks for small eps.
_CDF_LEVELS = torch.cat(
    [
        torch.logspace(-12, math.log10(0.5), 2048, dtype=torch.float64),
        1 - torch.logspace(math.log10(0.5), -12, 2048, dtype=torch.float64)[1:],
    ]
)


def factor_relative_error(probability_of_cdf, eps, n_samples):
    r"""Largest relative standard error of the factor ``-log Q`` from an estimated CDF.

    A quality ``Q = eps/2 + (1 - eps) P(F)`` read through a CDF ``F`` estimated
    from ``n`` samples has, at a level ``F``, the empirical CDF's binomial
    standard error ``sqrt(F (1 - F) / n)``, which reaches the factor as

    .. math:: \frac{\delta(-\log Q)}{-\log Q} = \frac{(1 - \epsilon)\,|P'(F)|
              \sqrt{F (1 - F) / n}}{Q \, |\log Q|}.

    Its largest value over ``F`` in (0, 1) is returned: a geodesic distance,
    the integral of the factor along a curve, has at most this relative
    standard error.

    Parameters
    ----------
    probability_of_cdf : callable
        ``P`` from ``F``, torch tensors ``[...]`` to ``[...]``, differentiable.
    eps : float
        Smoothing, in (0, 1).
    n_samples : int
        Samples the CDF is estimated from.

    Returns
    -------
    relative_error : float
    """
    cdf = _CDF_LEVELS.clone().requires_grad_(True)
    probability = probability_of_cdf(cdf)
    (slope,) = torch.autograd.grad(probability.sum(), cdf)
    with torch.no_grad():
        quality = eps / 2 + (1 - eps) * probability
        spread = torch.sqrt(cdf * (1 - cdf) / n_samples)
        ratio = (1 - eps) * slope.abs() * spread / (quality * -torch.log(quality))
    return float(ratio.max())


def fermat_log_factor(log_density, beta=1.0):
    r"""Log-factor of the density-based (Fermat) metric ``g = p(z)^(-2 beta) <., .>``.

    Its geodesics are the limits of the density-based (Fermat) distances between
    samples of ``p``: short where ``p`` is high. Pass it to a conformal metric::

        space.equip_with_metric(ConformalMetric, log_factor=fermat_log_factor(density, beta=1))

    Parameters
    ----------
    log_density : Density or density model
        Anything :func:`~geomstats_density.densities.as_density` reads.
    beta : float
        Positive exponent.

    Returns
    -------
    log_factor : callable
        Points ``[..., dim]`` to ``-2 beta log p(z)`` ``[...]``.
    """
    if not (beta > 0 and math.isfinite(beta)):
        raise ValueError(f"beta must be positive and finite, got {beta}.")
    density = as_density(log_density)

    def log_factor(points):
        return -2.0 * beta * density(points)

    def jet(points):
        return density.jet(points).then(lambda log_density: -2.0 * beta * log_density)

    log_factor.jet = jet
    return log_factor
