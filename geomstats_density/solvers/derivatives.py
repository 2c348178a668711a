"""Derivatives of the discrete energy with respect to the node positions.

The energy itself is defined once, in :mod:`geomstats_density.energy`; these are
the arrays the Newton solver works on.
"""

from dataclasses import dataclass

import numpy as np
import torch

from geomstats_density.solvers.banded import BlockTridiagonal
from geomstats_density.solvers.sobolev import SobolevPreconditioner


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

    def finite(self):
        """Whether each curve's energy and derivatives are finite, shape ``[batch]``."""
        return (
            np.isfinite(self.energy)
            & np.isfinite(self.gradient).all(axis=(1, 2))
            & np.isfinite(self.hessian.diagonal).all(axis=(1, 2, 3))
            & np.isfinite(self.hessian.lower).all(axis=(1, 2, 3))
        )

    def take(self, index):
        """The derivatives of the curves ``index``."""
        return EnergyDerivatives(
            self.energy[index], self.gradient[index], self.hessian[index]
        )

    def put(self, index, other):
        """Overwrite the derivatives of the curves ``index`` with ``other``'s."""
        self.energy[index] = other.energy
        self.gradient[index] = other.gradient
        self.hessian.diagonal[index] = other.hessian.diagonal
        self.hessian.lower[index] = other.hessian.lower

    @classmethod
    def infinite(cls, nodes):
        """Placeholder for curves outside the domain: infinite energy."""
        batch, n_nodes, dim = nodes.shape
        return cls(
            np.full(batch, np.inf),
            np.zeros((batch, n_nodes - 2, dim)),
            BlockTridiagonal(
                np.zeros((batch, n_nodes - 2, dim, dim)),
                np.zeros((batch, max(n_nodes - 3, 0), dim, dim)),
            ),
        )

    @classmethod
    def concatenate(cls, parts):
        """Stack the derivatives of several batches of curves."""
        return cls(
            np.concatenate([p.energy for p in parts]),
            np.concatenate([p.gradient for p in parts]),
            BlockTridiagonal(
                np.concatenate([p.hessian.diagonal for p in parts]),
                np.concatenate([p.hessian.lower for p in parts]),
            ),
        )


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
    diagonal = piece_hessian[:, :-1, dim:, dim:] + piece_hessian[:, 1:, :dim, :dim]
    lower = piece_hessian[:, 1:-1, dim:, :dim]
    return EnergyDerivatives(
        energy=energy.detach().numpy(),
        gradient=grad_left[:, 1:] + grad_right[:, :-1],
        hessian=BlockTridiagonal(diagonal, lower),
    )


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


@dataclass
class MatrixFreeDerivatives:
    """Energy, gradient and Hessian-vector products of uniformly timed curves.

    Attributes
    ----------
    energy : ndarray, shape=[batch]
    gradient : ndarray, shape=[batch, n_nodes - 2, dim]
    hvp : callable
        ``v -> H v`` for ``v`` of the gradient's shape, by double backward.
    preconditioner : SobolevPreconditioner
    """

    energy: np.ndarray
    gradient: np.ndarray
    hvp: object
    preconditioner: SobolevPreconditioner


def matrix_free_derivatives(metric, nodes):
    """Energy, gradient, Hessian-vector products and Sobolev preconditioner.

    Nothing of size ``dim^2`` is formed: the gradient's graph is kept and each
    Hessian-vector product is one more backward pass.

    Parameters
    ----------
    metric : ConformalMetric
    nodes : ndarray, shape=[batch, n_nodes, dim]

    Returns
    -------
    derivatives : MatrixFreeDerivatives
    """
    n_pieces = nodes.shape[1] - 1
    tensor = torch.from_numpy(nodes)
    inner = tensor[:, 1:-1].clone().requires_grad_(True)
    with torch.enable_grad():
        curve = torch.cat([tensor[:, :1], inner, tensor[:, -1:]], dim=1)
        sq_lengths = metric.curve_sq_lengths(curve)
        energy = sq_lengths.sum(-1) * n_pieces
        (gradient,) = torch.autograd.grad(energy.sum(), inner, create_graph=True)

    def hvp(vectors):
        (product,) = torch.autograd.grad(
            gradient, inner, grad_outputs=torch.from_numpy(vectors), retain_graph=True
        )
        return product.numpy()

    sq_chords = (np.diff(nodes, axis=1) ** 2).sum(-1)
    ratio = sq_lengths.detach().numpy() / np.where(sq_chords > 0, sq_chords, 1.0)
    typical = np.sum(ratio * (sq_chords > 0), axis=1) / np.maximum((sq_chords > 0).sum(1), 1)
    weights = np.where(sq_chords > 0, ratio, typical[:, None]) * n_pieces
    return MatrixFreeDerivatives(
        energy=energy.detach().numpy(),
        gradient=gradient.detach().numpy(),
        hvp=hvp,
        preconditioner=SobolevPreconditioner(weights),
    )
