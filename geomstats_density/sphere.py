r"""Densities on the sphere: von Mises-Fisher distributions and their mixtures.

Log-densities with respect to the surface measure of the unit sphere
``S^{d-1}`` in ``R^d`` (geomstats' ``Hypersphere(d - 1)``, points of shape
``[d]``), as :class:`~geomstats_density.densities.Density` objects: they draw
samples and know their maximum, so the realism index, the typicality and the
density ratio of :mod:`geomstats_density.quality` read them like any density::

    caps = VonMisesFisherMixture([0.5, 0.5], [north, east], [20.0, 20.0])
    sphere = Hypersphere(2, equip=False)
    sphere.equip_with_metric(DensityConformalMetric, log_quality=DensityRatio(caps, eps=0.2))

.. math:: p(x) = \sum_k w_k\, C_d(\kappa_k)\, e^{\kappa_k \mu_k \cdot x}, \qquad
          C_d(\kappa) = \frac{\kappa^{d/2 - 1}}{(2\pi)^{d/2} I_{d/2-1}(\kappa)}.

The log-densities are evaluated at ``x / |x|``, i.e. extended off the sphere
as constants along rays: smooth near the sphere, as the sphere solvers'
ambient derivatives need, and with the same maximum in ``R^d`` as on the sphere.
"""

import math

import numpy as np
import scipy.special
import torch

from geomstats_density._validation import random_seed
from geomstats_density.backend import DTYPE, to_torch
from geomstats_density.densities import Density


def von_mises_fisher_log_normalizer(dim, concentration):
    """``log C_d(kappa)``, the log normalising constant of the vMF law on ``S^{d-1}``.

    Parameters
    ----------
    dim : int
        Ambient dimension ``d >= 2``.
    concentration : float
        ``kappa >= 0``; 0 is the uniform law.

    Returns
    -------
    log_normalizer : float
    """
    if concentration == 0:
        # 1 / area of S^{d-1} = Gamma(d/2) / (2 pi^(d/2)).
        return math.lgamma(dim / 2) - math.log(2.0) - dim / 2 * math.log(math.pi)
    order = dim / 2 - 1
    # ive(v, k) = I_v(k) e^{-k}: no overflow for large concentrations.
    log_bessel = math.log(scipy.special.ive(order, concentration)) + concentration
    return order * math.log(concentration) - dim / 2 * math.log(2 * math.pi) - log_bessel


def sample_von_mises_fisher(mean_direction, concentration, n_samples, rng):
    """Draw from the vMF law by Wood's (1994) rejection sampler.

    Parameters
    ----------
    mean_direction : ndarray, shape=[d]
        Unit vector.
    concentration : float
    n_samples : int
    rng : numpy.random.Generator

    Returns
    -------
    samples : ndarray, shape=[n_samples, d]
    """
    dim = mean_direction.size
    kappa = float(concentration)
    # w = mu . x has density proportional to e^{kappa w} (1 - w^2)^{(d-3)/2}.
    b = (dim - 1) / (2 * kappa + math.sqrt(4 * kappa**2 + (dim - 1) ** 2))
    x0 = (1 - b) / (1 + b)
    c = kappa * x0 + (dim - 1) * math.log(1 - x0**2)
    cosines = np.empty(0)
    while cosines.size < n_samples:
        z = rng.beta((dim - 1) / 2, (dim - 1) / 2, size=n_samples)
        w = (1 - (1 + b) * z) / (1 - (1 - b) * z)
        log_ratio = kappa * w + (dim - 1) * np.log(1 - x0 * w) - c
        accept = log_ratio >= np.log(rng.uniform(size=n_samples))
        cosines = np.concatenate([cosines, w[accept]])
    cosines = cosines[:n_samples, None]
    # A uniform direction orthogonal to the mean.
    normal = rng.normal(size=(n_samples, dim))
    normal -= (normal @ mean_direction)[:, None] * mean_direction
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    return cosines * mean_direction + np.sqrt(np.clip(1 - cosines**2, 0, None)) * normal


class VonMisesFisherMixture(Density):
    """A mixture of von Mises-Fisher laws on the unit sphere ``S^{d-1}``.

    Parameters
    ----------
    weights : array-like, shape=[n_components]
        Positive; normalised to sum to 1.
    mean_directions : array-like, shape=[n_components, d]
        Non-zero; normalised to unit length.
    concentrations : array-like, shape=[n_components]
        Non-negative ``kappa_k``; the cap of component ``k`` has angular radius
        about ``1 / sqrt(kappa_k)``.

    Attributes
    ----------
    dim : int
        Ambient dimension ``d``: points have shape ``[..., d]``.
    """

    def __init__(self, weights, mean_directions, concentrations):
        weights = to_torch(weights).detach().reshape(-1)
        means = to_torch(mean_directions).detach()
        concentrations = to_torch(concentrations).detach().reshape(-1)
        if means.ndim != 2 or means.shape[-1] < 2:
            raise ValueError(
                f"mean_directions must have shape [n_components, d >= 2], got {tuple(means.shape)}."
            )
        n_components, self.dim = means.shape
        if weights.shape != (n_components,) or concentrations.shape != (n_components,):
            raise ValueError(
                f"weights and concentrations need one value per component ({n_components}); "
                f"got shapes {tuple(weights.shape)} and {tuple(concentrations.shape)}."
            )
        norms = torch.linalg.vector_norm(means, dim=-1, keepdim=True)
        if not bool(torch.isfinite(means).all() and (norms > 0).all()):
            raise ValueError("mean_directions must be finite and non-zero.")
        if not bool((weights > 0).all() and torch.isfinite(weights).all()):
            raise ValueError("weights must be positive and finite.")
        if not bool((concentrations >= 0).all() and torch.isfinite(concentrations).all()):
            raise ValueError("concentrations must be non-negative and finite.")
        self.mean_directions = means / norms
        self.concentrations = concentrations.clone()
        self.log_weights = torch.log(weights / weights.sum())
        self._log_normalizers = torch.tensor(
            [von_mises_fisher_log_normalizer(self.dim, float(k)) for k in concentrations],
            dtype=DTYPE,
        )

    def component_log_probs(self, points):
        """``log w_k + log vMF_k(x / |x|)``, shape ``[..., n_components]``."""
        directions = points / torch.linalg.vector_norm(points, dim=-1, keepdim=True)
        cosines = directions @ self.mean_directions.T
        return self.log_weights + self._log_normalizers + self.concentrations * cosines

    def log_prob(self, points):
        """Log-density, shape ``[...]`` for points ``[..., d]``."""
        return torch.logsumexp(self.component_log_probs(points), dim=-1)

    def sample(self, n_samples, random_state=0):
        """Draw ``n_samples`` points of the sphere, shape ``[n_samples, d]``.

        See :meth:`~geomstats_density.densities.Density.sample`.
        """
        rng = np.random.default_rng(random_seed(random_state))
        weights = torch.exp(self.log_weights).numpy()
        components = rng.choice(weights.size, size=n_samples, p=weights / weights.sum())
        samples = np.empty((n_samples, self.dim))
        for k in np.unique(components):
            chosen = components == k
            samples[chosen] = sample_von_mises_fisher(
                self.mean_directions[k].numpy(),
                float(self.concentrations[k]),
                int(chosen.sum()),
                rng,
            )
        return torch.from_numpy(samples)

    def _mode_candidates(self):
        return self.mean_directions


class VonMisesFisher(VonMisesFisherMixture):
    """The von Mises-Fisher law ``C_d(kappa) exp(kappa <mu, x>)`` on ``S^{d-1}``.

    Parameters
    ----------
    mean_direction : array-like, shape=[d]
        Non-zero; normalised to unit length.
    concentration : float
        ``kappa >= 0``.
    """

    def __init__(self, mean_direction, concentration):
        super().__init__([1.0], to_torch(mean_direction)[None], [float(concentration)])
        self._log_max = float(self._log_normalizers[0] + self.concentrations[0])
