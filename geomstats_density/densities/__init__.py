"""Log-densities users already have, as differentiable torch callables.

Every density here maps float64 torch points ``[..., dim]`` to log-densities
``[...]``, differentiable (twice) in the points, and knows how to draw samples
(which the Monte-Carlo realism index and typicality of
:mod:`geomstats_density.quality` need):

- :class:`Gaussian`: ``N(mean, covariance)``;
- :class:`GaussianMixture`: from weights, means and covariances, or read from a
  fitted :class:`sklearn.mixture.GaussianMixture` (every covariance type);
- :class:`KernelDensity`: a Gaussian kernel density estimate, or read from a
  fitted :class:`sklearn.neighbors.KernelDensity` with the Gaussian kernel;
- :class:`LogProbDensity`: any object exposing ``log_prob`` (a normalizing flow,
  a ``torch.distributions`` distribution);
- :class:`CallableDensity`: any log-density function.

:func:`as_density` picks the right wrapper. Calling a density validates its
values: a log-density that is NaN or infinite where it is evaluated raises a
:class:`~geomstats_density.exceptions.DomainError` naming the point, so solvers
reject steps that leave the density's support instead of returning NaN.

The modules: :mod:`~geomstats_density.densities.base` (the :class:`Density`
interface and its checks), :mod:`~geomstats_density.densities.gaussian` (the
Gaussian models) and :mod:`~geomstats_density.densities.wrappers` (the users'
objects and functions, and :func:`as_density`).
"""

from geomstats_density.densities.base import Density, check_log_density
from geomstats_density.densities.gaussian import Gaussian, GaussianMixture, KernelDensity
from geomstats_density.densities.wrappers import CallableDensity, LogProbDensity, as_density

__all__ = [
    "CallableDensity",
    "Density",
    "Gaussian",
    "GaussianMixture",
    "KernelDensity",
    "LogProbDensity",
    "as_density",
    "check_log_density",
]
