r"""Closeness to a set ``M``: ``Q = 1/2 exp(-K d_M(z))``, from a distance to ``M``.

:class:`Closeness` makes geodesics run on ``M`` for large ``K`` (the paper's
Examples 3 and 4); :func:`safe_norm` is a Euclidean norm whose derivatives stay
finite at 0, for distances that curve nodes may make vanish.
"""

import math

import torch

from geomstats_density._validation import check_scalar_field, first_invalid
from geomstats_density.exceptions import DomainError
from geomstats_density.quality.base import Quality


def safe_norm(points):
    """Euclidean norm over the last axis, with derivatives 0 (not NaN) at 0.

    ``torch.linalg.vector_norm`` has a NaN derivative at the origin; distances
    built on this one stay differentiable wherever curve nodes land.

    Parameters
    ----------
    points : torch.Tensor, shape=[..., dim]

    Returns
    -------
    norm : torch.Tensor, shape=[...]
    """
    sq_norm = (points * points).sum(-1)
    positive = sq_norm > 0
    # The inner where keeps sqrt's infinite derivative at 0 out of the graph.
    root = torch.sqrt(torch.where(positive, sq_norm, torch.ones_like(sq_norm)))
    return torch.where(positive, root, torch.zeros_like(sq_norm))


class Closeness(Quality):
    r"""Closeness to a set ``M``: ``Q = 1/2 exp(-K d_M(z))``.

    ``Q = 1/2`` on ``M`` and decays away from it, so the metric is ``log(2)^2``
    times the base metric on ``M`` and larger off it: for large ``K``, geodesics
    run on ``M`` (the paper's Examples 3 and 4).

    Parameters
    ----------
    distance : callable
        ``d_M``: points ``[..., dim]`` to non-negative distances ``[...]``,
        differentiable (a norm should stay differentiable where nodes may land:
        ``torch.linalg.vector_norm`` has a NaN derivative at 0).
    rate : float
        ``K``, positive.
    """

    def __init__(self, distance, rate):
        if not callable(distance):
            raise ValueError("distance must be callable.")
        if not (rate > 0 and math.isfinite(rate)):
            raise ValueError(f"rate (K) must be positive and finite, got {rate}.")
        self.distance = distance
        self.rate = float(rate)

    def __call__(self, points):
        """``log Q = -log 2 - K d_M(z)``.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        log_quality : torch.Tensor, shape=[...]

        Raises
        ------
        ValueError
            If ``d_M`` does not return a tensor of shape ``[...]``.
        DomainError
            If ``d_M`` returns a negative, NaN or infinite value.
        """
        distance = self.distance(points)
        check_scalar_field(distance, points, "distance")
        valid = torch.isfinite(distance) & (distance >= 0)
        if not bool(valid.all()):
            value, point = first_invalid(valid, distance, points)
            raise DomainError(f"distance must be finite and >= 0; got {value} at point {point}.")
        return -math.log(2.0) - self.rate * distance
