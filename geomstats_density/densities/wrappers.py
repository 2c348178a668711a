"""Densities users already have in another form, read as :class:`Density` objects.

:class:`LogProbDensity` wraps any object with a ``log_prob`` method (a
normalizing flow, a ``torch.distributions`` distribution),
:class:`CallableDensity` any log-density function (with a sampler if given), and
:func:`as_density` picks the reader for a model: these wrappers, or the
Gaussian models for fitted scikit-learn estimators.
"""

import torch

from geomstats_density._validation import random_seed, torch_generator, user_callable
from geomstats_density.backend import DTYPE, to_torch
from geomstats_density.densities.base import Density
from geomstats_density.densities.gaussian import GaussianMixture, KernelDensity


class LogProbDensity(Density):
    """Any object with a ``log_prob`` method: a normalizing flow, a torch distribution.

    Parameters
    ----------
    distribution : object
        ``distribution.log_prob(points)`` maps ``[..., dim]`` to ``[...]``
        differentiably; its parameters must be float64 (e.g. ``flow.double()``).
        Sampling uses ``distribution.sample((n,))`` when it exists (as in
        ``torch.distributions`` and zuko flows, ``flow()``).
    dim : int, optional
        Dimension of the points, checked on each call when given.
    """

    def __init__(self, distribution, dim=None):
        if not callable(getattr(distribution, "log_prob", None)):
            raise ValueError(f"{type(distribution).__name__} has no log_prob method.")
        self.distribution = distribution
        self.dim = dim

    def log_prob(self, points):
        """Log-density, shape ``[...]`` for points ``[..., dim]``."""
        with user_callable("log_prob", self.distribution.log_prob):
            values = self.distribution.log_prob(points)
        return values.to(DTYPE) if isinstance(values, torch.Tensor) else values

    def sample(self, n_samples, random_state=0):
        """Draw ``n_samples`` points, shape ``[n_samples, dim]``; see :meth:`Density.sample`.

        Distributions draw from torch's global generator: unless
        ``random_state`` is None, a seed from it seeds a forked global state, so
        the draw is reproducible and the caller's global state is left untouched.
        """
        if not callable(getattr(self.distribution, "sample", None)):
            super().sample(n_samples, random_state)
        seed = None if random_state is None else random_seed(random_state)
        with torch.random.fork_rng(devices=[], enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(seed)
            with torch.no_grad():
                return self.distribution.sample((n_samples,)).to(DTYPE)


class CallableDensity(Density):
    """A log-density function, optionally with a sampler.

    Parameters
    ----------
    log_prob : callable
        Torch ``[..., dim] -> [...]``, differentiable twice.
    sampler : callable, optional
        ``sampler(n_samples, generator)`` returning ``[n_samples, dim]``, given
        the ``torch.Generator`` that :meth:`sample`'s ``random_state`` makes
        (None for torch's global generator).
    dim : int, optional
        Dimension of the points, checked on each call when given.
    """

    def __init__(self, log_prob, sampler=None, dim=None):
        if not callable(log_prob):
            raise ValueError("log_prob must be callable.")
        if sampler is not None and not callable(sampler):
            raise ValueError("sampler must be callable or None.")
        self._log_prob = log_prob
        self._sampler = sampler
        self.dim = dim

    def log_prob(self, points):
        """Log-density, shape ``[...]`` for points ``[..., dim]``."""
        with user_callable("log_prob", self._log_prob):
            return self._log_prob(points)

    def sample(self, n_samples, random_state=0):
        """Draw ``n_samples`` points with the sampler, shape ``[n_samples, dim]``.

        See :meth:`Density.sample`.
        """
        if self._sampler is None:
            super().sample(n_samples, random_state)
        return to_torch(self._sampler(n_samples, torch_generator(random_state)))


def as_density(model, dim=None):
    """Wrap a density model as a :class:`Density`.

    Parameters
    ----------
    model : Density, sklearn GaussianMixture or KernelDensity, object with ``log_prob``, or callable
        A :class:`Density` is returned as is; fitted scikit-learn estimators are
        read into torch; objects with ``log_prob`` (flows, torch distributions)
        are wrapped; other callables are taken as log-density functions.
    dim : int, optional
        Dimension of the points, for the wrappers that cannot tell.

    Returns
    -------
    density : Density
    """
    if isinstance(model, Density):
        return model
    from sklearn.mixture import GaussianMixture as SklearnGaussianMixture
    from sklearn.neighbors import KernelDensity as SklearnKernelDensity

    if isinstance(model, SklearnGaussianMixture):
        return GaussianMixture.from_sklearn(model)
    if isinstance(model, SklearnKernelDensity):
        return KernelDensity.from_sklearn(model)
    if callable(getattr(model, "log_prob", None)):
        return LogProbDensity(model, dim=dim)
    if callable(model):
        return CallableDensity(model, dim=dim)
    raise ValueError(
        f"Cannot read a density from {type(model).__name__}: pass a Density, a fitted "
        "sklearn GaussianMixture or KernelDensity, an object with log_prob, or a "
        "log-density function."
    )
