"""Laws of ``log p(X)``, ``X ~ p``: what the density qualities are built on.

The realism index and the typicality of a point ``z`` read ``log p(z)`` against
the law of ``log p(X)`` for ``X`` drawn from the density itself. For a Gaussian
that law is a shifted chi-square (:class:`GaussianLogDensityLaw`, exact, its
tails in log space from the regularised incomplete gamma function); for any other
density it is estimated from samples (:class:`EmpiricalLogDensityLaw`, a kernel-
smoothed CDF with its Dvoretzky-Kiefer-Wolfowitz error bound).
:func:`log_density_law` picks the right one.
"""

import math

import numpy as np
import torch
from scipy.interpolate import CubicSpline

from geomstats_density.backend import DTYPE, to_torch
from geomstats_density.densities import Gaussian

# Below this value the regularised incomplete gamma functions of torch lose
# relative precision to underflow; their logarithms then come from expansions.
_GAMMA_TAIL = 1e-200
_GAMMA_TERMS = 200


def _log_lower_gamma_series(a, x):
    """``log P(a, x)`` by its power series, accurate where ``P`` underflows (x << a)."""
    k = torch.arange(1, _GAMMA_TERMS + 1, dtype=x.dtype)
    log_terms = torch.cumsum(torch.log(x.unsqueeze(-1) / (a.unsqueeze(-1) + k)), dim=-1)
    log_terms = torch.cat([torch.zeros_like(x).unsqueeze(-1), log_terms], dim=-1)
    return a * torch.log(x) - x - torch.lgamma(a + 1) + torch.logsumexp(log_terms, dim=-1)


def _log_upper_gamma_fraction(a, x):
    """``log Q(a, x)`` by Legendre's continued fraction, for where ``Q`` underflows (x >> a)."""
    fraction = x + 2 * _GAMMA_TERMS + 1 - a
    for k in range(_GAMMA_TERMS, 0, -1):
        fraction = x + 2 * k - 1 - a - k * (k - a) / fraction
    return a * torch.log(x) - x - torch.lgamma(a) - torch.log(fraction)


def log_regularized_gamma(a, x, upper=False):
    """Log of the regularised incomplete gamma function, differentiable in ``x``.

    ``log P(a, x)`` (``upper=False``) or ``log Q(a, x) = log(1 - P(a, x))``,
    accurate to about 1e-9 relative over the whole range: torch's
    ``gammainc``/``gammaincc`` where they are above 1e-200, a series (lower) or a
    continued fraction (upper) in the far tails where they underflow. torch
    differentiates ``gammainc``/``gammaincc`` in ``x`` exactly, twice
    (``d/dx P(a, x) = x^(a-1) e^(-x) / Gamma(a)``, the chi-square density up to
    the change of variable); in the tails autograd differentiates the expansions.

    Parameters
    ----------
    a : float or torch.Tensor
        Shape parameter, positive.
    x : torch.Tensor, shape=[...]
        Non-negative; values below the smallest normal float are clamped to it.
    upper : bool

    Returns
    -------
    log_p : torch.Tensor, shape=[...]
    """
    # Clamping x > 0 keeps log x, and so the derivatives, finite at x = 0.
    x = x.clamp_min(torch.finfo(x.dtype).tiny)
    a, x = torch.broadcast_tensors(torch.as_tensor(a, dtype=x.dtype), x)
    shape = x.shape
    a, x = a.reshape(-1), x.reshape(-1)
    direct = torch.special.gammaincc(a, x) if upper else torch.special.gammainc(a, x)
    in_tail = direct < _GAMMA_TAIL
    # The where keeps log(0) (and its infinite derivative) out of the graph.
    log_p = torch.log(torch.where(in_tail, torch.ones_like(direct), direct))
    if bool(in_tail.any()):
        expansion = _log_upper_gamma_fraction if upper else _log_lower_gamma_series
        log_p = log_p.masked_scatter(in_tail, expansion(a[in_tail], x[in_tail]))
    return log_p.reshape(shape)


def chi2_log_cdf(x, dof):
    """Log of the chi-square CDF, ``log P[chi2_dof <= x]``, differentiable in ``x``.

    Parameters
    ----------
    x : torch.Tensor, shape=[...]
    dof : float
        Degrees of freedom.

    Returns
    -------
    log_cdf : torch.Tensor, shape=[...]
    """
    return log_regularized_gamma(0.5 * dof, 0.5 * x, upper=False)


def chi2_log_sf(x, dof):
    """Log of the chi-square survival function, ``log P[chi2_dof > x]``.

    Parameters
    ----------
    x : torch.Tensor, shape=[...]
    dof : float
        Degrees of freedom.

    Returns
    -------
    log_sf : torch.Tensor, shape=[...]
    """
    return log_regularized_gamma(0.5 * dof, 0.5 * x, upper=True)


def dkw_bound(n_samples, confidence=0.95):
    """Dvoretzky-Kiefer-Wolfowitz bound on an empirical CDF's error.

    With probability ``confidence``, ``sup_s |F_n(s) - F(s)| <= sqrt(log(2 /
    (1 - confidence)) / (2 n))`` for the empirical CDF ``F_n`` of ``n`` samples.

    Parameters
    ----------
    n_samples : int
    confidence : float

    Returns
    -------
    bound : float
    """
    return math.sqrt(math.log(2 / (1 - confidence)) / (2 * n_samples))


# ----------------------------------------------------------------------
# The law of log p(X), X ~ p
# ----------------------------------------------------------------------
class GaussianLogDensityLaw:
    """Exact law of ``log p(X)``, X ~ p, for a Gaussian ``p`` in dimension ``D``.

    ``2 (log p_max - log p(X))`` is the squared Mahalanobis norm of ``X``,
    chi-square with ``D`` degrees of freedom, so
    ``F(s) = P[log p(X) <= s] = P[chi2_D >= 2 (log p_max - s)]``.

    Parameters
    ----------
    log_max : float
        ``log p`` at the mean.
    dim : int

    Attributes
    ----------
    monte_carlo_error : None
        The law is exact.
    """

    monte_carlo_error = None

    def __init__(self, log_max, dim):
        self.log_max = float(log_max)
        self.dim = int(dim)

    def _chi2(self, log_density):
        return 2 * (self.log_max - log_density)

    def log_cdf(self, log_density):
        """``log F(s)``, shape ``[...]`` for log-densities ``s`` of shape ``[...]``."""
        return chi2_log_sf(self._chi2(log_density), self.dim)

    def log_sf(self, log_density):
        """``log(1 - F(s))``, shape ``[...]``."""
        return chi2_log_cdf(self._chi2(log_density), self.dim)


class EmpiricalLogDensityLaw:
    r"""Law of ``log p(X)``, X ~ p, estimated from samples, smoothed by a kernel.

    From ``s_i = log p(X_i)`` for ``n`` samples ``X_i ~ p``, the CDF is

    .. math:: F_h(s) = \frac1n \sum_i \Phi\left(\frac{s - s_i}{h}\right),

    the empirical CDF smoothed by a Gaussian kernel (so that qualities built on
    it are differentiable in ``z``), computed in log space with ``log_ndtr``.
    ``log F_h`` and ``log(1 - F_h)`` are tabulated once on a fine grid of ``s``
    and read through cubic splines (twice continuously differentiable, with
    quadratic tails beyond the grid), so that a quality costs the same whatever
    the number of samples; the spline error is far below the Monte-Carlo error.

    Parameters
    ----------
    log_density_samples : array-like, shape=[n_samples]
        ``log p(X_i)`` for samples ``X_i ~ p``.
    bandwidth : float, optional
        Kernel width ``h``; Silverman's rule ``0.9 min(sd, IQR/1.34) n^(-1/5)``
        by default.
    confidence : float
        Confidence level of :attr:`monte_carlo_error`.

    Attributes
    ----------
    n_samples : int
    bandwidth : float
    monte_carlo_error : float
        DKW bound: with probability ``confidence`` the empirical CDF is within
        this of the true ``F`` everywhere, ``sqrt(log(2/(1 - confidence)) / (2n))``
        (0.021 for n = 4096 at 95%). The kernel smoothing adds a bias of order
        ``h^2`` times the curvature of ``F``.
    standard_error : float
        Largest binomial standard error of the empirical CDF at one point,
        ``0.5 / sqrt(n)``.
    """

    def __init__(self, log_density_samples, bandwidth=None, confidence=0.95):
        samples = to_torch(log_density_samples).detach().reshape(-1)
        if samples.numel() < 2 or not bool(torch.isfinite(samples).all()):
            raise ValueError("Need at least two finite log-density samples.")
        self.samples = torch.sort(samples).values
        self.n_samples = samples.numel()
        if bandwidth is None:
            quartiles = torch.quantile(self.samples, torch.tensor([0.25, 0.75], dtype=DTYPE))
            spread = min(float(self.samples.std()), float(quartiles[1] - quartiles[0]) / 1.34)
            bandwidth = 0.9 * spread * self.n_samples ** (-0.2)
        if not bandwidth > 0:
            raise ValueError(f"bandwidth must be positive, got {bandwidth}.")
        self.bandwidth = float(bandwidth)
        self.monte_carlo_error = dkw_bound(self.n_samples, confidence)
        self.standard_error = 0.5 / math.sqrt(self.n_samples)
        reach = _TABLE_REACH * self.bandwidth
        grid = torch.linspace(
            float(self.samples[0]) - reach,
            float(self.samples[-1]) + reach,
            _TABLE_SIZE,
            dtype=DTYPE,
        )
        # In chunks: a grid point costs a pass over all the samples.
        chunks = grid.split(256)
        self._log_cdf_table = _SplineTable(
            grid, torch.cat([self._exact_log_cdf(c) for c in chunks])
        )
        self._log_sf_table = _SplineTable(grid, torch.cat([self._exact_log_sf(c) for c in chunks]))

    @classmethod
    def from_density(cls, density, n_samples=4096, random_state=0, **kwargs):
        """Estimate the law of a density from ``n_samples`` of its samples.

        Parameters
        ----------
        density : Density
            Must be able to ``sample``.
        n_samples : int
        random_state : int, torch.Generator, numpy.random.Generator or None
            Source of the samples (see
            :meth:`~geomstats_density.densities.Density.sample`): the same
            integer gives the same law bit for bit.
        **kwargs
            Passed to the constructor.
        """
        with torch.no_grad():
            samples = density.sample(n_samples, random_state=random_state)
            return cls(density(samples), **kwargs)

    def _log_mean_ndtr(self, standardized):
        return torch.logsumexp(torch.special.log_ndtr(standardized), dim=-1) - math.log(
            self.n_samples
        )

    def _exact_log_cdf(self, log_density):
        return self._log_mean_ndtr((log_density.unsqueeze(-1) - self.samples) / self.bandwidth)

    def _exact_log_sf(self, log_density):
        return self._log_mean_ndtr((self.samples - log_density.unsqueeze(-1)) / self.bandwidth)

    def log_cdf(self, log_density):
        """``log F_h(s)``, shape ``[...]`` for log-densities ``s`` of shape ``[...]``."""
        return self._log_cdf_table(log_density)

    def log_sf(self, log_density):
        """``log(1 - F_h(s))``, shape ``[...]``."""
        return self._log_sf_table(log_density)

    def log_cdf_derivatives(self, log_density):
        """``log F_h(s)`` and its first two derivatives in ``s``, each ``[...]``."""
        return self._log_cdf_table.derivatives(log_density)


# The smoothed laws are tabulated on this many points, from this many bandwidths
# below the smallest sample to as many above the largest.
_TABLE_SIZE = 4097
_TABLE_REACH = 20.0


class _SplineTable:
    """A smooth function of one variable read from a cubic spline through a table.

    Beyond the table, the second-order Taylor polynomial at its ends, so the
    function stays twice continuously differentiable (``log F`` of a smoothed
    CDF is close to quadratic in its tails, like ``log Phi``).

    Parameters
    ----------
    grid : torch.Tensor, shape=[n]
        Equispaced increasing abscissae.
    values : torch.Tensor, shape=[n]
    """

    def __init__(self, grid, values):
        spline = CubicSpline(grid.numpy(), values.numpy())
        low, high = float(grid[0]), float(grid[-1])
        derivatives = [spline(np.array([low, high]), nu) for nu in range(3)]
        # Pieces: the left tail, the spline's, the right tail; rows of
        # (cubic, quadratic, linear, constant) coefficients in powers of s - knot.
        tails = np.stack([np.zeros(2), 0.5 * derivatives[2], derivatives[1], derivatives[0]])
        coefficients = np.concatenate([tails[:, :1], spline.c, tails[:, 1:]], axis=1)
        self.coefficients = torch.from_numpy(coefficients)
        self.knots = torch.from_numpy(np.concatenate([[low], spline.x[:-1], [high]]))
        self.low, self.step = low, float(grid[1] - grid[0])
        self.n_pieces = coefficients.shape[1]

    def _piece(self, points):
        index = torch.floor((points.detach() - self.low) / self.step).long() + 1
        index = index.clamp(0, self.n_pieces - 1)
        return points - self.knots[index], self.coefficients[:, index]

    def __call__(self, points):
        offset, (cubic, quadratic, linear, constant) = self._piece(points)
        return ((cubic * offset + quadratic) * offset + linear) * offset + constant

    def derivatives(self, points):
        """The function and its first two derivatives at ``points``, each ``[...]``."""
        offset, (cubic, quadratic, linear, constant) = self._piece(points.detach())
        return (
            ((cubic * offset + quadratic) * offset + linear) * offset + constant,
            (3 * cubic * offset + 2 * quadratic) * offset + linear,
            6 * cubic * offset + 2 * quadratic,
        )


def log_density_law(density, n_samples=4096, random_state=0):
    """The law of ``log p(X)``, X ~ p: exact for a Gaussian, estimated otherwise.

    Parameters
    ----------
    density : Density
    n_samples : int
        Samples drawn when the law is estimated.
    random_state : int, torch.Generator, numpy.random.Generator or None
        Source of the samples, as in
        :meth:`~geomstats_density.densities.Density.sample`.

    Returns
    -------
    law : GaussianLogDensityLaw or EmpiricalLogDensityLaw
    """
    if isinstance(density, Gaussian):
        return GaussianLogDensityLaw(density.log_max(), density.dim)
    return EmpiricalLogDensityLaw.from_density(density, n_samples, random_state)
