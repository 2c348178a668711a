r"""Qualities ``Q: Z -> (0, 1)``, as torch callables returning ``log Q``.

A quality says how good a point is: how realistic under a latent density, how
likely it is to carry a wanted feature, how close it is to a set. The metric
``g = log(Q)^2 <., .>`` of :class:`~geomstats_density.DensityConformalMetric`
turns it into geodesics that keep to where ``Q`` is high. Every quality here is
a callable ``log_q(points)`` mapping float64 torch points ``[..., dim]`` to
``log Q`` ``[...]``, finite and negative, differentiable twice; pass it as
``log_quality``::

    quality = RealismIndex(Gaussian(torch.zeros(2))) * Closeness(dist_to_set, rate=5)
    space.equip_with_metric(DensityConformalMetric, log_quality=quality)

Probabilities ``P`` in [0, 1] become qualities by the paper's smoothing
``Q = eps/2 + (1 - eps) P`` (:func:`smooth_log_probability`), done in log space.

From a log-density ``p`` (:class:`RealismIndex`, :class:`Typicality`,
:class:`DensityRatio`) the qualities go through the law of ``log p(X)``,
``X ~ p``: exact for a Gaussian through the chi-square law
(:class:`~geomstats_density.laws.GaussianLogDensityLaw`), estimated from samples
otherwise (:class:`~geomstats_density.laws.EmpiricalLogDensityLaw`); an
estimated law gives the quality a ``relative_error``, the Monte-Carlo standard
error of the factor ``-log Q``, below which the default ``tol`` of a
:class:`~geomstats_density.DensityConformalMetric` does not go. The default
(Examples 5 and 6 use it) is the paper's one-sided :class:`RealismIndex`: it
needs no normalising constant and is right for low-dimensional and multi-modal
latents. For high-dimensional, near-Gaussian latents use :class:`Typicality`
(``form='smooth'`` with the Newton solver): only a two-sided form sees the
soap-bubble effect.

The modules: :mod:`~geomstats_density.quality.base` (the :class:`Quality`
interface, the smoothing, constants and products),
:mod:`~geomstats_density.quality.density` (the qualities of a density and the
Fermat log-factor), :mod:`~geomstats_density.quality.feature` (a classifier's
class probability) and :mod:`~geomstats_density.quality.closeness` (closeness
to a set).
"""

from geomstats_density.quality.base import (
    DEFAULT_EPS,
    Constant,
    Product,
    Quality,
    check_eps,
    constant_quality_message,
    smooth_log_probability,
    smooth_log_probability_derivatives,
)
from geomstats_density.quality.closeness import Closeness, safe_norm
from geomstats_density.quality.density import (
    DensityRatio,
    RealismIndex,
    Typicality,
    fermat_log_factor,
    log_two_sided,
)
from geomstats_density.quality.feature import Feature

__all__ = [
    "DEFAULT_EPS",
    "Closeness",
    "Constant",
    "DensityRatio",
    "Feature",
    "Product",
    "Quality",
    "RealismIndex",
    "Typicality",
    "check_eps",
    "constant_quality_message",
    "fermat_log_factor",
    "log_two_sided",
    "safe_norm",
    "smooth_log_probability",
    "smooth_log_probability_derivatives",
]
