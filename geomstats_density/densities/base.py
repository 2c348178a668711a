"""What a density is here: a validated, twice-differentiable torch log-density.

:class:`Density` is the base of the density models: subclasses give raw
log-densities (:meth:`Density.log_prob`) and, where they can, samples and a
closed-form jet; calling a density checks its values
(:func:`check_log_density`), so that a log-density that is NaN or infinite
where it is evaluated raises a
:class:`~geomstats_density.exceptions.DomainError` naming the point. A density
also finds its maximum (:meth:`Density.log_max`), which the density ratio reads.
"""

import math

import scipy.optimize
import torch

from geomstats_density._validation import check_scalar_field, first_invalid
from geomstats_density.backend import to_torch
from geomstats_density.exceptions import DomainError
from geomstats_density.jets import autodiff_jet


def check_log_density(values, points, name="log_density"):
    """Check a log-density returned one finite value per point.

    Parameters
    ----------
    values : torch.Tensor, shape=[...]
        Log-densities returned for ``points``.
    points : torch.Tensor, shape=[..., dim]
    name : str
        Name of the callable, for the error messages.

    Returns
    -------
    values : torch.Tensor, shape=[...]

    Raises
    ------
    ValueError
        If ``values`` is not a tensor of shape ``points.shape[:-1]``.
    DomainError
        If a value is NaN or infinite; ``-inf`` means the density is zero there.
    """
    check_scalar_field(values, points, name)
    finite = torch.isfinite(values)
    if not bool(finite.all()):
        value, point = first_invalid(finite, values, points)
        if value == -math.inf:
            reason = "is -inf: the density is zero there (outside its support)"
        elif math.isnan(value):
            reason = "is NaN"
        else:
            reason = "is +inf"
        raise DomainError(f"{name} {reason} at point {point}.")
    return values


class Density:
    """A log-density on ``R^dim``: the base of the density models.

    Subclasses implement :meth:`log_prob` (raw values) and, where possible,
    :meth:`sample`; calling the density returns validated log-densities.

    Attributes
    ----------
    dim : int or None
        Dimension of the points, None when unknown.
    """

    dim = None

    def log_prob(self, points):
        """Log-density, unvalidated.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        log_density : torch.Tensor, shape=[...]
        """
        raise NotImplementedError

    def __call__(self, points):
        """Log-density at ``points``, checked to be finite.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        log_density : torch.Tensor, shape=[...]

        Raises
        ------
        DomainError
            If the log-density is NaN or infinite at a point.
        """
        points = self._checked(points)
        return check_log_density(self.log_prob(points), points, type(self).__name__)

    def _checked(self, points):
        points = to_torch(points)
        if self.dim is not None and (points.ndim == 0 or points.shape[-1] != self.dim):
            raise ValueError(
                f"{type(self).__name__} has dimension {self.dim}; got points of shape "
                f"{tuple(points.shape)}."
            )
        return points

    def log_prob_jet(self, points):
        """Log-density, its gradient and Hessian, unvalidated.

        By autodiff here; the Gaussian models override it with closed forms.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        jet : Jet
        """
        return autodiff_jet(self.log_prob, points)

    def jet(self, points):
        """Log-density, its gradient and Hessian at ``points``, checked to be finite.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        jet : Jet
            ``value [...]``, ``gradient [..., dim]``, ``hessian [..., dim, dim]``.

        Raises
        ------
        DomainError
            If the log-density is NaN or infinite at a point.
        """
        points = self._checked(points)
        jet = self.log_prob_jet(points)
        check_log_density(jet.value, points, type(self).__name__)
        return jet

    def sample(self, n_samples, random_state=0):
        """Draw ``n_samples`` points.

        Parameters
        ----------
        n_samples : int
        random_state : int, torch.Generator, numpy.random.Generator or None
            Source of randomness: an integer seeds a new generator, so that the
            same call draws the same points; a generator is used (and advanced);
            None draws from torch's global generator.

        Returns
        -------
        samples : torch.Tensor, shape=[n_samples, dim]
        """
        raise NotImplementedError(
            f"{type(self).__name__} cannot draw samples; pass a density that can "
            "(or a sampler to CallableDensity)."
        )

    def _mode_candidates(self):
        """Starting points of the search for the density's maximum."""
        samples = self.sample(256, random_state=0)
        with torch.no_grad():
            best = torch.argsort(self(samples), descending=True)[:16]
        return samples[best]

    def log_max(self):
        """Logarithm of the density's maximum, ``log max_z p(z)``.

        Found by L-BFGS ascent from a few starting points (the exact value for a
        :class:`Gaussian`); cached after the first call.

        Returns
        -------
        log_max : float
        """
        if getattr(self, "_log_max", None) is None:
            self._log_max = _ascend(self, self._mode_candidates())
        return self._log_max


def _ascend(density, starts, max_iter=200):
    """Largest log-density reached by L-BFGS ascent from each starting point."""
    shape = starts.shape

    def negative_log_density(flat):
        # Points are independent, so ascending the sum ascends each one.
        points = torch.from_numpy(flat).reshape(shape).requires_grad_(True)
        with torch.enable_grad():
            value = -density(points).sum()
            (gradient,) = torch.autograd.grad(value, points)
        return value.item(), gradient.reshape(-1).numpy()

    result = scipy.optimize.minimize(
        negative_log_density,
        starts.detach().reshape(-1).numpy(),
        jac=True,
        method="L-BFGS-B",
        options=dict(maxiter=max_iter, gtol=1e-10),
    )
    with torch.no_grad():
        reached = density(torch.from_numpy(result.x).reshape(shape))
        return float(torch.maximum(reached.max(), density(starts).max()))
