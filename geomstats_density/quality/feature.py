r"""The feature quality: the probability that a classifier gives a wanted class.

:class:`Feature` reads ``P(z) = softmax(classifier(G(z)))[target]``, the
classifier applied to the generated sample (or to ``z`` itself), smoothed into
a quality. A :class:`~geomstats_density.LatentSpace` built with a classifier
uses it.
"""

import torch

from geomstats_density._validation import user_callable
from geomstats_density.backend import DTYPE
from geomstats_density.exceptions import DomainError
from geomstats_density.quality.base import DEFAULT_EPS, Quality, check_eps, smooth_log_probability


class Feature(Quality):
    r"""The probability that the generated sample carries a wanted feature.

    .. math:: P(z) = \mathrm{softmax}(\mathrm{classifier}(G(z)))[\mathrm{target}],
              \qquad Q = \epsilon/2 + (1 - \epsilon) P

    Parameters
    ----------
    classifier : callable
        Maps a batch of samples ``[n, ...]`` to logits ``[n, n_classes]``.
        Log-probabilities work too (``log_softmax`` leaves them unchanged).
    target : int
        Index of the wanted class.
    generator : callable, optional
        ``G``: latent points ``[n, dim]`` to samples ``[n, ...]``; the identity
        by default (the classifier then reads latent points).
    eps : float
        Smoothing, in (0, 1).

    Notes
    -----
    Points with several batch axes are flattened to ``[n, dim]`` before ``G``
    and the classifier see them, so ordinary networks work unchanged.
    """

    def __init__(self, classifier, target, generator=None, eps=DEFAULT_EPS):
        if not callable(classifier):
            raise ValueError("classifier must be callable.")
        if generator is not None and not callable(generator):
            raise ValueError("generator must be callable or None.")
        if isinstance(target, bool) or int(target) != target or target < 0:
            raise ValueError(f"target must be a non-negative class index, got {target!r}.")
        self.classifier = classifier
        self.generator = generator
        self.target = int(target)
        self.eps = check_eps(eps)

    def log_probability(self, points):
        """``log P(z)``, shape ``[...]`` for points ``[..., dim]``."""
        flat = points.reshape(-1, points.shape[-1])
        if self.generator is None:
            samples = flat
        else:
            with user_callable("generator", self.generator):
                samples = self.generator(flat)
        with user_callable("classifier", self.classifier):
            logits = self.classifier(samples)
        if (
            not isinstance(logits, torch.Tensor)
            or logits.ndim != 2
            or logits.shape[0] != flat.shape[0]
        ):
            shape = (
                tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
            )
            raise ValueError(
                f"classifier must return logits of shape [n, n_classes] for n = "
                f"{flat.shape[0]} samples; got {shape}."
            )
        n_classes = logits.shape[1]
        if self.target >= n_classes:
            raise ValueError(
                f"target class {self.target} is out of range: the classifier returns "
                f"{n_classes} classes (indices 0 to {n_classes - 1})."
            )
        log_probs = torch.log_softmax(logits.to(DTYPE), dim=-1)[:, self.target]
        if not bool(torch.isfinite(log_probs).all()):
            raise DomainError("The classifier returned NaN or infinite logits.")
        return log_probs.reshape(points.shape[:-1])

    def __call__(self, points):
        """``log Q`` with ``Q = eps / 2 + (1 - eps) P``: the smoothed class probability.

        The smoothing (:func:`smooth_log_probability`) keeps ``log Q`` and its first
        two derivatives finite where the classifier is certain the feature is absent.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        log_quality : torch.Tensor, shape=[...]
        """
        return smooth_log_probability(self.log_probability(points), self.eps)
