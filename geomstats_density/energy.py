r"""The discrete energy of a curve (the paper's Eq. 5) and its derivatives.

For nodes ``z_0, ..., z_n`` at times ``t_0 < ... < t_n``:

.. math:: E = \sum_i \frac{\ell_i^2}{t_{i+1} - t_i}, \qquad
          \ell_i^2 = e^{f(m_i)} |\phi(z_{i+1}) - \phi(z_i)|^2,

with ``m_i`` the chord midpoint; the discrete length is ``sum_i ell_i``. The squared
piece lengths ``ell_i^2`` come from the metric (``segment_sq_lengths`` and
``curve_sq_lengths``), so every solver shares this one definition.
"""

import numpy as np
import torch

from geomstats_density.exceptions import DomainError


def uniform_times(n_nodes):
    """``n_nodes`` equispaced times on [0, 1]."""
    return np.linspace(0.0, 1.0, n_nodes)


def times_of_curves(times, rows):
    """The node times of the curves ``rows`` of a batch.

    Parameters
    ----------
    times : ndarray, shape=[n_nodes] or [batch, n_nodes], or None
        Times shared by the curves of the batch (None: uniform ones), or one row
        per curve.
    rows : ndarray of int or slice, or None
        The curves, as they index the batch's nodes; None for all of them.

    Returns
    -------
    times : ndarray, shape=[n_nodes] or [len(rows), n_nodes], or None
        Shared times as given, per-curve times of those curves.
    """
    if rows is None or times is None or np.ndim(times) == 1:
        return times
    return times[rows]


def _time_steps(nodes, times):
    if times is None:
        n_pieces = nodes.shape[-2] - 1
        return torch.full((n_pieces,), 1.0 / n_pieces, dtype=nodes.dtype)
    return torch.diff(torch.as_tensor(times, dtype=nodes.dtype))


def curve_energy(metric, nodes, times=None):
    """Discrete energy (Eq. 5) of polygonal curves.

    Parameters
    ----------
    metric : ConformalMetric
    nodes : torch.Tensor, shape=[..., n_nodes, dim]
    times : array-like, shape=[n_nodes] or [..., n_nodes], optional
        Increasing times of the nodes, shared or one row per curve; uniform on
        [0, 1] by default.

    Returns
    -------
    energy : torch.Tensor, shape=[...]
    """
    return (metric.curve_sq_lengths(nodes) / _time_steps(nodes, times)).sum(-1)


def curve_length(metric, nodes):
    """Discrete length ``sum_i ell_i`` of polygonal curves.

    Parameters
    ----------
    metric : ConformalMetric
    nodes : torch.Tensor, shape=[..., n_nodes, dim]

    Returns
    -------
    length : torch.Tensor, shape=[...]
    """
    return torch.sqrt(metric.curve_sq_lengths(nodes)).sum(-1)


def piece_energy_gradients(metric, left, right, weights):
    """Derivatives of weighted piece energies ``w ell^2(a, b)`` with respect to both ends.

    An end node of a curve belongs to one piece only, so these are the discrete
    energy's derivatives at the end nodes: the discrete momenta from which
    ``log`` is read (the discrete Legendre transform) and, by the envelope
    theorem, the gradients of a solved distance with respect to its endpoints.

    Parameters
    ----------
    metric : ConformalMetric
    left, right : torch.Tensor, shape=[..., n_coords]
        The ends of the pieces.
    weights : torch.Tensor, shape=[...]
        Each piece's weight in the energy: one over its time step.

    Returns
    -------
    grad_left, grad_right : torch.Tensor, shape=[..., n_coords]
    """
    left = left.detach().clone().requires_grad_(True)
    right = right.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        energy = (metric.segment_sq_lengths(left, right) * weights).sum()
        return torch.autograd.grad(energy, (left, right))


def per_curve_where_outside(evaluate, nodes, outside, concatenate=np.concatenate):
    """``evaluate(nodes)`` for a batch of curves, on halves of it where the batch raises.

    One curve that leaves the metric's domain makes a batched evaluation raise
    :class:`DomainError`; the batch is then evaluated in halves, each in turn
    halved while it raises, down to the single curves that raise, which get
    ``outside(curve, error)``. A few curves outside a large batch cost a few
    evaluations per halving, not one per curve of the batch.

    Parameters
    ----------
    evaluate : callable
        Nodes ``[batch, n_nodes, n_coords]`` to the result for those curves.
    nodes : ndarray, shape=[batch, n_nodes, n_coords]
    outside : callable
        Nodes ``[1, n_nodes, n_coords]`` of a curve outside the domain and the
        :class:`DomainError` it raised to its result.
    concatenate : callable
        A list of the results of consecutive parts of the batch, in order, to
        the batch's result.

    Returns
    -------
    result
        What ``evaluate`` returns for the whole batch.
    """
    try:
        return evaluate(nodes)
    except DomainError as error:
        if len(nodes) == 1:
            return outside(nodes, error)
    middle = len(nodes) // 2
    return concatenate(
        [
            per_curve_where_outside(evaluate, part, outside, concatenate)
            for part in (nodes[:middle], nodes[middle:])
        ]
    )
