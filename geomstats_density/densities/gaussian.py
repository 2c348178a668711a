"""Gaussians and sums of Gaussians, with closed-form jets and exact samples.

:class:`Gaussian` is ``N(mean, covariance)``; :class:`GaussianMixture` a
weighted sum of Gaussians (or a fitted scikit-learn mixture, every covariance
type); :class:`KernelDensity` a Gaussian kernel density estimate (or a fitted
scikit-learn estimate), a mixture of isotropic kernels. The mixtures share one
computation of their components' terms and of the log-density's gradient and
Hessian.
"""

import math

import numpy as np
import torch

from geomstats_density._validation import torch_generator
from geomstats_density.backend import DTYPE, to_torch
from geomstats_density.densities.base import Density
from geomstats_density.jets import Jet

LOG_2PI = math.log(2 * math.pi)


class Gaussian(Density):
    """The Gaussian density ``N(mean, covariance)``.

    Parameters
    ----------
    mean : array-like, shape=[dim]
    covariance : array-like, shape=[dim, dim], optional
        Symmetric positive definite; the identity by default.

    Notes
    -----
    ``-2 (log p(X) - log p(mean))``, X ~ p, is chi-square with ``dim`` degrees
    of freedom: :mod:`geomstats_density.quality` uses it for exact realism
    indices and typicalities.
    """

    def __init__(self, mean, covariance=None):
        self.mean = to_torch(mean).detach().clone()
        if self.mean.ndim != 1:
            raise ValueError(f"mean must have shape [dim], got {tuple(self.mean.shape)}.")
        self.dim = self.mean.shape[0]
        if covariance is None:
            self.scale_tril = None
            log_det = 0.0
        else:
            covariance = to_torch(covariance).detach()
            if tuple(covariance.shape) != (self.dim, self.dim):
                raise ValueError(
                    f"covariance must have shape [{self.dim}, {self.dim}], got "
                    f"{tuple(covariance.shape)}."
                )
            self.scale_tril, info = torch.linalg.cholesky_ex(covariance)
            if info != 0:
                raise ValueError("covariance must be symmetric positive definite.")
            log_det = 2 * float(torch.log(torch.diagonal(self.scale_tril)).sum())
        self._log_max = -0.5 * (self.dim * LOG_2PI + log_det)

    def mahalanobis_sq(self, points):
        """Squared Mahalanobis distance to the mean.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        sq_dist : torch.Tensor, shape=[...]
        """
        diff = points - self.mean
        if self.scale_tril is not None:
            diff = torch.linalg.solve_triangular(
                self.scale_tril, diff.unsqueeze(-1), upper=False
            ).squeeze(-1)
        return (diff * diff).sum(-1)

    def log_prob(self, points):
        """Log-density, shape ``[...]`` for points ``[..., dim]``."""
        return self._log_max - 0.5 * self.mahalanobis_sq(points)

    def log_prob_jet(self, points):
        """Log-density, gradient ``-S^{-1} (z - mean)`` and Hessian ``-S^{-1}``."""
        precision = torch.eye(self.dim, dtype=DTYPE)
        if self.scale_tril is not None:
            precision = torch.cholesky_inverse(self.scale_tril)
        gradient = -(points - self.mean) @ precision
        return Jet(self.log_prob(points), gradient, (-precision).expand(*points.shape, self.dim))

    def sample(self, n_samples, random_state=0):
        """Draw ``n_samples`` points, shape ``[n_samples, dim]``; see :meth:`Density.sample`."""
        generator = torch_generator(random_state)
        noise = torch.randn(n_samples, self.dim, dtype=DTYPE, generator=generator)
        if self.scale_tril is not None:
            noise = noise @ self.scale_tril.T
        return self.mean + noise


class GaussianMixture(Density):
    """A mixture of Gaussians ``sum_k w_k N(mean_k, covariance_k)``.

    Parameters
    ----------
    weights : array-like, shape=[n_components]
        Positive; normalised to sum to 1.
    means : array-like, shape=[n_components, dim]
    covariances : array-like, shape=[n_components, dim, dim], optional
        Symmetric positive definite.
    precisions_cholesky : array-like, shape=[n_components, dim, dim], optional
        Instead of ``covariances``: upper-triangular ``U_k`` with
        ``covariance_k^{-1} = U_k U_k^T`` (scikit-learn's representation).

    See Also
    --------
    GaussianMixture.from_sklearn : read a fitted scikit-learn mixture.
    """

    def __init__(self, weights, means, covariances=None, precisions_cholesky=None):
        weights = to_torch(weights).detach()
        self.means = to_torch(means).detach().clone()
        if self.means.ndim != 2 or weights.shape != self.means.shape[:1]:
            raise ValueError(
                "means must have shape [n_components, dim] and weights "
                f"[n_components]; got {tuple(self.means.shape)} and {tuple(weights.shape)}."
            )
        if not bool((weights > 0).all()):
            raise ValueError("weights must be positive.")
        self.log_weights = torch.log(weights / weights.sum())
        n_components, self.dim = self.means.shape
        if (covariances is None) == (precisions_cholesky is None):
            raise ValueError("Pass exactly one of covariances and precisions_cholesky.")
        shape = (n_components, self.dim, self.dim)
        given = covariances if precisions_cholesky is None else precisions_cholesky
        given = to_torch(given).detach()
        if tuple(given.shape) != shape:
            raise ValueError(
                f"Expected covariance matrices of shape {shape}, got {tuple(given.shape)}."
            )
        if precisions_cholesky is None:
            scale_tril, info = torch.linalg.cholesky_ex(given)
            if bool((info != 0).any()):
                raise ValueError("covariances must be symmetric positive definite.")
            eye = torch.eye(self.dim, dtype=DTYPE).expand(shape)
            given = torch.linalg.solve_triangular(scale_tril, eye, upper=False).transpose(-1, -2)
        self.precisions_cholesky = given.clone()
        self._log_norms = (
            torch.log(torch.diagonal(self.precisions_cholesky, dim1=-2, dim2=-1)).sum(-1)
            - 0.5 * self.dim * LOG_2PI
        )

    @classmethod
    def from_sklearn(cls, estimator):
        """Read a fitted :class:`sklearn.mixture.GaussianMixture`.

        Parameters
        ----------
        estimator : sklearn.mixture.GaussianMixture
            Fitted, with any ``covariance_type`` ('full', 'tied', 'diag',
            'spherical').

        Returns
        -------
        density : GaussianMixture
            Equal to ``estimator.score_samples`` up to rounding.
        """
        if not hasattr(estimator, "precisions_cholesky_"):
            raise ValueError("The GaussianMixture is not fitted: call fit first.")
        means = np.asarray(estimator.means_, dtype=np.float64)
        n_components, dim = means.shape
        factor = np.asarray(estimator.precisions_cholesky_, dtype=np.float64)
        kind = estimator.covariance_type
        if kind == "full":
            precisions_cholesky = factor
        elif kind == "tied":
            precisions_cholesky = np.repeat(factor[None], n_components, axis=0)
        elif kind == "diag":
            precisions_cholesky = factor[:, :, None] * np.eye(dim)
        elif kind == "spherical":
            precisions_cholesky = factor[:, None, None] * np.eye(dim)
        else:
            raise ValueError(f"Unknown covariance_type {kind!r}.")
        return cls(estimator.weights_, means, precisions_cholesky=precisions_cholesky)

    def component_log_probs(self, points):
        """``log w_k + log N(z; mean_k, covariance_k)``, shape ``[..., n_components]``."""
        _, components = self._components(points)
        return components.T.reshape(*points.shape[:-1], -1)

    def log_prob(self, points):
        """Log-density, shape ``[...]`` for points ``[..., dim]``."""
        _, components = self._components(points)
        return torch.logsumexp(components, dim=0).reshape(points.shape[:-1])

    def _components(self, points):
        return _component_terms(
            points, self.means, self.log_weights + self._log_norms, self.precisions_cholesky
        )

    def log_prob_jet(self, points):
        """Log-density, gradient and Hessian in closed form.

        See :func:`_mixture_jet`.
        """
        return _mixture_jet(
            points, self.means, self.log_weights + self._log_norms, self.precisions_cholesky
        )

    def sample(self, n_samples, random_state=0):
        """Draw ``n_samples`` points, shape ``[n_samples, dim]``; see :meth:`Density.sample`."""
        generator = torch_generator(random_state)
        components = torch.multinomial(
            torch.exp(self.log_weights), n_samples, replacement=True, generator=generator
        )
        noise = torch.randn(n_samples, self.dim, 1, dtype=DTYPE, generator=generator)
        # x = mean + U^{-T} y has covariance (U U^T)^{-1}.
        lower = self.precisions_cholesky[components].transpose(-1, -2)
        return self.means[components] + torch.linalg.solve_triangular(
            lower, noise, upper=False
        ).squeeze(-1)

    def _mode_candidates(self):
        return self.means


class KernelDensity(Density):
    """A Gaussian kernel density estimate ``sum_i w_i N(z; x_i, h^2 I)``.

    Parameters
    ----------
    data : array-like, shape=[n_points, dim]
        Kernel centres.
    bandwidth : float
        Kernel standard deviation ``h``.
    weights : array-like, shape=[n_points], optional
        Non-negative kernel weights, normalised to sum to 1; uniform by default.

    See Also
    --------
    KernelDensity.from_sklearn : read a fitted scikit-learn estimate.
    """

    def __init__(self, data, bandwidth, weights=None):
        self.data = to_torch(data).detach().clone()
        if self.data.ndim != 2:
            raise ValueError(f"data must have shape [n_points, dim], got {tuple(self.data.shape)}.")
        if not bandwidth > 0:
            raise ValueError(f"bandwidth must be positive, got {bandwidth}.")
        n_points, self.dim = self.data.shape
        self.bandwidth = float(bandwidth)
        if weights is None:
            weights = torch.ones(n_points, dtype=DTYPE)
        weights = to_torch(weights).detach()
        if weights.shape != (n_points,) or bool((weights < 0).any()) or not weights.sum() > 0:
            raise ValueError("weights must be non-negative, one per data point, not all zero.")
        self.weights = weights / weights.sum()
        self._log_weights = torch.log(self.weights)
        self._log_norm = -0.5 * self.dim * (LOG_2PI + 2 * math.log(self.bandwidth))

    @classmethod
    def from_sklearn(cls, estimator):
        """Read a fitted :class:`sklearn.neighbors.KernelDensity`.

        Parameters
        ----------
        estimator : sklearn.neighbors.KernelDensity
            Fitted, with ``kernel='gaussian'`` and the Euclidean metric; sample
            weights given to ``fit`` are kept.

        Returns
        -------
        density : KernelDensity
            Equal to ``estimator.score_samples`` up to rounding.
        """
        if not hasattr(estimator, "tree_"):
            raise ValueError("The KernelDensity is not fitted: call fit first.")
        if estimator.kernel != "gaussian":
            raise ValueError(
                f"Only the Gaussian kernel is supported, got kernel={estimator.kernel!r}."
            )
        params = estimator.metric_params or {}
        euclidean = estimator.metric in ("euclidean", "l2") or (
            estimator.metric == "minkowski" and params.get("p", 2) == 2
        )
        if not euclidean:
            raise ValueError(f"Only the Euclidean metric is supported, got {estimator.metric!r}.")
        weights = estimator.tree_.sample_weight
        return cls(
            np.asarray(estimator.tree_.data, dtype=np.float64),
            estimator.bandwidth_,
            weights=None if weights is None else np.asarray(weights, dtype=np.float64),
        )

    def log_prob(self, points):
        """Log-density, shape ``[...]`` for points ``[..., dim]``."""
        _, log_kernels = _component_terms(
            points, self.data, self._log_weights + self._log_norm, scale=self.bandwidth
        )
        return torch.logsumexp(log_kernels, dim=0).reshape(points.shape[:-1])

    def log_prob_jet(self, points):
        """Log-density, gradient and Hessian in closed form (a mixture of kernels)."""
        return _mixture_jet(
            points, self.data, self._log_weights + self._log_norm, scale=self.bandwidth
        )

    def sample(self, n_samples, random_state=0):
        """Draw ``n_samples`` points, shape ``[n_samples, dim]``; see :meth:`Density.sample`."""
        generator = torch_generator(random_state)
        centres = torch.multinomial(self.weights, n_samples, replacement=True, generator=generator)
        noise = torch.randn(n_samples, self.dim, dtype=DTYPE, generator=generator)
        return self.data[centres] + self.bandwidth * noise

    def _mode_candidates(self):
        with torch.no_grad():
            best = torch.argsort(self(self.data), descending=True)[:32]
        return self.data[best]


def _component_terms(points, means, log_weights, factors=None, scale=None):
    """Whitened differences and log-terms of a Gaussian mixture's components.

    Laid out ``[component, coordinate, point]``: torch reduces over leading axes
    far faster than over a short last one.
    Differences rather than ``|z|^2 - 2 z.x + |x|^2``, which cancels catastrophically.

    Parameters
    ----------
    points : torch.Tensor, shape=[..., dim]
    means : torch.Tensor, shape=[n_components, dim]
    log_weights : torch.Tensor, shape=[n_components]
        Log-weights plus the components' log normalising constants.
    factors : torch.Tensor, shape=[n_components, dim, dim], optional
        ``U_k`` with precisions ``U_k U_k^T``; or, for isotropic components,
        ``scale`` with ``U_k = I / scale``.
    scale : float, optional

    Returns
    -------
    whitened : torch.Tensor, shape=[n_components, dim, n_points]
        ``U_k^T (z - mean_k)``.
    components : torch.Tensor, shape=[n_components, n_points]
        ``log_weights_k - |whitened_k|^2 / 2``.
    """
    diff = points.reshape(-1, points.shape[-1]).T.unsqueeze(0) - means.unsqueeze(-1)
    whitened = diff / scale if factors is None else factors.transpose(-1, -2) @ diff
    components = log_weights.unsqueeze(-1) - 0.5 * (whitened * whitened).sum(1)
    return whitened, components


def _mixture_jet(points, means, log_weights, factors=None, scale=None):
    """Jet of the log-density of a Gaussian mixture, in closed form.

    With ``P_k = U_k U_k^T`` the precisions, responsibilities ``r_k`` and
    component gradients ``g_k = -P_k (z - mean_k)``, the gradient is
    ``g = sum_k r_k g_k`` and the Hessian ``sum_k r_k (g_k g_k^T - P_k) - g g^T``.

    Parameters as for :func:`_component_terms`.
    """
    batch_shape, dim = points.shape[:-1], points.shape[-1]
    whitened, components = _component_terms(points, means, log_weights, factors, scale)
    if factors is None:
        gradients = -whitened / scale
        precision = torch.eye(dim, dtype=points.dtype).unsqueeze(-1) / scale**2
    else:
        gradients = -(factors @ whitened)
        precisions = factors @ factors.transpose(-1, -2)
    value = torch.logsumexp(components, dim=0)
    responsibilities = torch.exp(components - value)
    weighted = responsibilities.unsqueeze(1) * gradients
    gradient = weighted.sum(0)
    if factors is not None:
        n_components = means.shape[0]
        precision = (precisions.reshape(n_components, dim * dim).T @ responsibilities).reshape(
            dim, dim, -1
        )
    # Row by row: sum_k r_k g_k g_k^T without a [component, dim, dim, point] array.
    second_moment = torch.stack([(weighted[:, i : i + 1] * gradients).sum(0) for i in range(dim)])
    hessian = second_moment - precision - gradient.unsqueeze(1) * gradient.unsqueeze(0)
    return Jet(
        value.reshape(batch_shape),
        gradient.T.reshape(*batch_shape, dim),
        hessian.permute(2, 0, 1).reshape(*batch_shape, dim, dim),
    )
