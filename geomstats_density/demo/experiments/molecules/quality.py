"""The molecule experiment's quality: a realistic code AND a drug-like molecule.

RDKit's QED is not differentiable, so the quality reads the VAE's property head:
:class:`PropertyAbove` is the probability that the predicted property exceeds a
threshold under the predictor's Gaussian error, and :func:`molecule_quality`
multiplies it by the realism index of the density of the encoded molecules.
"""

import math

import torch

from geomstats_density.quality import DEFAULT_EPS, Quality, RealismIndex, smooth_log_probability

QED_THRESHOLD = 0.5


class PropertyAbove(Quality):
    r"""The probability that a predicted property exceeds a threshold.

    .. math:: P(z) = \Phi\left(\frac{f(z) - \tau}{\sigma}\right), \qquad
              Q = \epsilon/2 + (1 - \epsilon) P

    with ``f`` a property predictor, ``sigma`` its error (the property is
    taken as ``N(f(z), sigma^2)``) and ``Phi`` the standard normal CDF: the
    regression counterpart of :class:`~geomstats_density.quality.Feature`.

    Parameters
    ----------
    predictor : callable
        Torch ``[..., dim] -> [...]``, differentiable twice.
    threshold : float
    error : float
        Positive; e.g. the predictor's held-out root-mean-square error.
    eps : float
        Smoothing, in (0, 1).
    """

    def __init__(self, predictor, threshold, error, eps=DEFAULT_EPS):
        if not callable(predictor):
            raise ValueError("predictor must be callable.")
        if not (error > 0 and math.isfinite(error)):
            raise ValueError(f"error must be positive and finite, got {error}.")
        self.predictor = predictor
        self.threshold = float(threshold)
        self.error = float(error)
        self.eps = eps

    def log_probability(self, points):
        """``log P(z)``, shape ``[...]`` for points ``[..., dim]``."""
        return torch.special.log_ndtr((self.predictor(points) - self.threshold) / self.error)

    def __call__(self, points):
        """``log Q`` with ``Q = eps / 2 + (1 - eps) P``: the smoothed probability.

        The smoothing (:func:`~geomstats_density.quality.smooth_log_probability`)
        keeps ``log Q`` and its first two derivatives finite far below the threshold,
        where ``log P`` tends to ``-inf``.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        log_quality : torch.Tensor, shape=[...]
        """
        return smooth_log_probability(self.log_probability(points), self.eps)


def molecule_quality(model, threshold=QED_THRESHOLD, n_samples=4096, random_state=0):
    """``log Q``: realism of the code times the probability that QED exceeds ``threshold``.

    ``n_samples`` and ``random_state`` are those of the realism index's law.
    """
    realism = RealismIndex(model.density, n_samples=n_samples, random_state=random_state)
    return realism * PropertyAbove(model.predict_property, threshold, model.property_error)
