"""Derivatives of the discrete energy with respect to the node positions.

The energy itself is defined once, in :mod:`geomstats_density.energy`; these are
the arrays the Newton solver works on.
"""

from dataclasses import dataclass

import numpy as np
import torch

from geomstats_density.energy import curve_energy
from geomstats_density.solvers.banded import BlockTridiagonal


@dataclass
class EnergyDerivatives:
    """Energy of a batch of uniformly timed curves with fixed ends, and derivatives.

    Attributes
    ----------
    energy : ndarray, shape=[batch]
    gradient : ndarray, shape=[batch, n_nodes - 2, dim]
        With respect to the interior nodes.
    hessian : BlockTridiagonal
        With respect to the interior nodes.
    """

    energy: np.ndarray
    gradient: np.ndarray
    hessian: BlockTridiagonal


def energy_derivatives(metric, nodes):
    """Energy, gradient and block-tridiagonal Hessian of uniformly timed curves.

    Each piece's energy depends on its two end nodes only, so its ``2 dim x 2 dim``
    Hessian is computed by autodiff with the two ends as separate leaves (one
    batched double-backward pass) and the pieces are summed into the blocks.

    Parameters
    ----------
    metric : ConformalMetric
    nodes : ndarray, shape=[batch, n_nodes, dim]

    Returns
    -------
    derivatives : EnergyDerivatives
    """
    batch, n_nodes, dim = nodes.shape
    n_pieces = n_nodes - 1
    tensor = torch.from_numpy(nodes)
    left = tensor[:, :-1].clone().requires_grad_(True)
    right = tensor[:, 1:].clone().requires_grad_(True)
    with torch.enable_grad():
        energy = metric.segment_sq_lengths(left, right).sum(-1) * n_pieces
        grad_left, grad_right = torch.autograd.grad(
            energy.sum(), (left, right), create_graph=True
        )
        seeds = torch.eye(2 * dim, dtype=tensor.dtype)[:, None, None, :]
        seeds = seeds.expand(2 * dim, batch, n_pieces, 2 * dim)
        rows = torch.autograd.grad(
            (grad_left, grad_right),
            (left, right),
            grad_outputs=(seeds[..., :dim], seeds[..., dim:]),
            is_grads_batched=True,
            allow_unused=True,
        )
    rows = [torch.zeros(2 * dim, *left.shape) if row is None else row for row in rows]
    # piece_hessian[b, i, r, c]: r, c index (left coordinates, right coordinates).
    piece_hessian = torch.cat(rows, dim=-1).permute(1, 2, 0, 3).detach().numpy()
    grad_left, grad_right = grad_left.detach().numpy(), grad_right.detach().numpy()
    finite = np.isfinite(piece_hessian).all(axis=(2, 3)) & np.isfinite(grad_left).all(-1)
    if not finite.all():
        b, i = np.argwhere(~finite)[0]
        raise ValueError(
            "The energy's derivatives are not finite on the piece from "
            f"{nodes[b, i].tolist()} to {nodes[b, i + 1].tolist()}: is the log-factor "
            "twice differentiable there?"
        )
    diagonal = piece_hessian[:, :-1, dim:, dim:] + piece_hessian[:, 1:, :dim, :dim]
    lower = piece_hessian[:, 1:-1, dim:, :dim]
    return EnergyDerivatives(
        energy=energy.detach().numpy(),
        gradient=grad_left[:, 1:] + grad_right[:, :-1],
        hessian=BlockTridiagonal(diagonal, lower),
    )


def energy_values(metric, nodes):
    """Energy of uniformly timed curves given as an array, shape ``[batch]``."""
    with torch.no_grad():
        return curve_energy(metric, torch.from_numpy(nodes)).numpy()


def energy_start_gradient(metric, nodes):
    """Derivative of the energy with respect to the first node, shape ``[batch, dim]``.

    Parameters
    ----------
    metric : ConformalMetric
    nodes : ndarray, shape=[batch, n_nodes, dim]
    """
    n_pieces = nodes.shape[1] - 1
    left = torch.from_numpy(nodes[:, 0]).clone().requires_grad_(True)
    right = torch.from_numpy(nodes[:, 1])
    with torch.enable_grad():
        energy = metric.segment_sq_lengths(left, right).sum() * n_pieces
        (gradient,) = torch.autograd.grad(energy, left)
    return gradient.numpy()
