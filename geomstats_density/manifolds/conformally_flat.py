"""Conformally flat models: the Poincare ball and half-space.

Their metrics are ``e^{h(z)} I`` in their own coordinates, with ``h`` in closed
form (:class:`ConformallyFlat`); a conformal metric ``e^f g_0`` on them is
``e^{f + h} I``: :class:`~geomstats_density.geometry.ConformallyFlatGeometry`
adds ``h`` to the log-factor.
"""

import math

import torch

LOG_4 = math.log(4.0)


class ConformallyFlat:
    """A model whose metric is ``e^{h(z)} I`` in its coordinates.

    Parameters
    ----------
    name : str
    log_factor : callable
        ``h``: torch ``[..., dim] -> [...]``, not finite outside the model.
    domain : str
        The model's points, for error messages.
    """

    def __init__(self, name, log_factor, domain):
        self.name = name
        self.log_factor = log_factor
        self.domain = domain


def _poincare_ball_log_factor(points):
    # g_0 = 4 / (1 - |z|^2)^2 I; log1p keeps digits near the centre, NaN outside.
    return LOG_4 - 2.0 * torch.log1p(-(points * points).sum(-1))


def _poincare_half_space_log_factor(points):
    # g_0 = I / z_n^2.
    return -2.0 * torch.log(points[..., -1])


POINCARE_BALL = ConformallyFlat(
    "PoincareBall", _poincare_ball_log_factor, "the open unit ball |z| < 1"
)
POINCARE_HALF_SPACE = ConformallyFlat(
    "PoincareHalfSpace", _poincare_half_space_log_factor, "the half-space z[-1] > 0"
)
