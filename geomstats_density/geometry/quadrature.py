"""The quadrature rules that average a conformal factor along the chord of a curve piece.

A piece from ``left`` to ``right`` of a curve in a chart has the squared length
estimate ``mean(e^f) |right - left|^2``, the mean of the factor along the chord
taken by a rule of :data:`QUADRATURE_RULES`: Simpson's (the factor at both ends
and at the midpoint, weights 1/6, 4/6, 1/6) or the midpoint rule (the paper's
Eq. 5 as it is written).
"""

import numpy as np
import torch

# Times along a chord and weights at which the factor is averaged.
QUADRATURE_RULES = {
    "midpoint": (np.array([0.5]), np.array([1.0])),
    "simpson": (np.array([0.0, 0.5, 1.0]), np.array([1.0, 4.0, 1.0]) / 6.0),
}


def check_quadrature(quadrature):
    """Raise ``ValueError`` unless ``quadrature`` names one of :data:`QUADRATURE_RULES`.

    Parameters
    ----------
    quadrature : str
    """
    if quadrature not in QUADRATURE_RULES:
        raise ValueError(
            f"quadrature must be one of {sorted(QUADRATURE_RULES)}, got {quadrature!r}."
        )


def chord_factor(quadrature_rule, log_factor, left, right, node_factor=None):
    """The factor ``e^f`` averaged along chords by a quadrature rule.

    Parameters
    ----------
    quadrature_rule : tuple of ndarray
        Times in [0, 1] and weights, a value of :data:`QUADRATURE_RULES`.
    log_factor : callable
        ``f``: torch ``[..., n_coords] -> [...]``.
    left, right : torch.Tensor, shape=[..., n_coords]
        The chords' ends.
    node_factor : torch.Tensor, shape=[..., n_nodes], optional
        The factor at the nodes of curves whose consecutive nodes are ``left``
        and ``right``: it saves evaluating the factor twice per node.

    Returns
    -------
    factor : torch.Tensor, shape=[...]
    """
    total = 0.0
    # As Python floats: numpy scalars times tensors take a slower path, to the same values.
    for time, weight in zip(*(column.tolist() for column in quadrature_rule)):
        if node_factor is not None and time == 0.0:
            values = node_factor[..., :-1]
        elif node_factor is not None and time == 1.0:
            values = node_factor[..., 1:]
        else:
            values = torch.exp(log_factor((1 - time) * left + time * right))
        total = total + weight * values
    return total
