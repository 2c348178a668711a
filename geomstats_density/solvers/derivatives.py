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
    """Energy of a batch of curves with fixed ends, and derivatives.

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
            self.energy[index],
            self.gradient[index],
            self.hessian[index],
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


def energy_derivatives(metric, nodes, times=None, gauss_newton=False):
    """Energy, gradient and block-tridiagonal Hessian of curves.

    Each piece's energy depends on its two end nodes only; its ``2 dim x 2 dim``
    Hessian is summed into the blocks. When pieces are Euclidean chords (no
    ``phi``, no embedded manifold) the pieces' derivatives are closed forms in the
    log-factor's value, gradient and Hessian at the quadrature points (one
    batched evaluation, cheaper than autodiff of the pieces); otherwise
    they come from autodiff with each piece's two ends as separate leaves.

    Parameters
    ----------
    metric : SolverMetric
    nodes : ndarray, shape=[batch, n_nodes, dim]
    times : ndarray, shape=[n_nodes] or [batch, n_nodes], optional
        Increasing times of the nodes, shared or one row per curve; uniform on
        [0, 1] by default.
    gauss_newton : bool
        Whether the log-factor's Hessians drop the second derivatives of the
        networks inside it (``metric.log_factor_jet(points, gauss_newton=True)``);
        read on Euclidean chords only.

    Returns
    -------
    derivatives : EnergyDerivatives
    """
    weights = _piece_weights(nodes, times)
    if metric.euclidean_chords:
        return _assembled(*_conformal_pieces(metric, nodes, weights, gauss_newton))
    return _assembled(*_autodiff_pieces(metric, nodes, weights))


def _piece_weights(nodes, times):
    """Each piece's weight in the energy, one over its time step.

    The number of pieces (a scalar) for uniform times, so that their energies
    are summed before the one multiplication; shape ``[n_pieces]`` for shared
    times, ``[batch, n_pieces]`` for one row of times per curve.
    """
    if times is None:
        return nodes.shape[1] - 1
    return 1.0 / np.diff(times, axis=-1)


def _weighted(weights, pieces, n_trailing=0):
    """``pieces`` (shape ``[batch, n_pieces, ...]``) times their weights."""
    if np.ndim(weights) == 0:
        return weights * pieces
    return weights.reshape(*weights.shape, *(1,) * n_trailing) * pieces


def _weighted_energy(weights, pieces):
    """The energy from the pieces' unweighted energies ``[batch, n_pieces]``."""
    if np.ndim(weights) == 0:
        return pieces.sum(-1) * weights
    return (pieces * weights).sum(-1)


def _assembled(energy, grad_left, grad_right, blocks):
    """The curves' derivatives from their pieces': node gradients, Hessian blocks."""
    left_left, left_right, right_right = blocks
    return EnergyDerivatives(
        energy=energy,
        gradient=grad_left[:, 1:] + grad_right[:, :-1],
        hessian=BlockTridiagonal(
            right_right[:, :-1] + left_left[:, 1:],
            np.swapaxes(left_right[:, 1:-1], -1, -2),
        ),
    )


def _autodiff_pieces(metric, nodes, weights):
    """Energy and per-piece derivatives by autodiff, ends as separate leaves."""
    batch, n_nodes, dim = nodes.shape
    n_pieces = n_nodes - 1
    tensor = torch.from_numpy(nodes)
    left = tensor[:, :-1].clone().requires_grad_(True)
    right = tensor[:, 1:].clone().requires_grad_(True)
    with torch.enable_grad():
        energy = _weighted_energy(
            weights if np.ndim(weights) == 0 else torch.from_numpy(weights),
            metric.segment_sq_lengths(left, right),
        )
        grad_left, grad_right = torch.autograd.grad(energy.sum(), (left, right), create_graph=True)
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
    return (
        energy.detach().numpy(),
        grad_left.detach().numpy(),
        grad_right.detach().numpy(),
        (
            piece_hessian[..., :dim, :dim],
            piece_hessian[..., :dim, dim:],
            piece_hessian[..., dim:, dim:],
        ),
    )


def gauss_newton_derivatives(metric, nodes, times=None):
    """Energy, gradient and block-tridiagonal Gauss-Newton Hessian through ``phi``.

    With ``phi`` the metric's map, piece ``i`` has energy
    ``n W_i |phi(z_{i+1}) - phi(z_i)|^2``, ``W_i`` the factor averaged along the
    latent chord. The energy and gradient are exact; the Hessian is exact but for
    the terms in the second derivatives of ``phi``, so it needs ``phi``'s
    Jacobians at the nodes only (forward-mode products, no double backward
    through ``phi``), and it is the exact Hessian wherever ``phi`` is piecewise
    linear (ReLU, LeakyReLU, max-pooling networks). Its ``phi`` part is positive
    semi-definite; the factor's terms come from its Gauss-Newton jet
    (``metric.log_factor_jet(points, gauss_newton=True)``), which drops the
    second derivatives of the networks inside the factor (a
    :class:`~geomstats_density.quality.Feature`'s classifier and generator) and
    keeps the rest in full.

    Parameters
    ----------
    metric : SolverMetric
        With ``phi`` on a vector space.
    nodes : ndarray, shape=[batch, n_nodes, dim]
    times : ndarray, shape=[n_nodes] or [batch, n_nodes], optional
        Increasing times of the nodes, shared or one row per curve; uniform on
        [0, 1] by default.

    Returns
    -------
    derivatives : EnergyDerivatives
    """
    tensor = torch.from_numpy(nodes)
    with torch.no_grad():
        image = metric.image_tensor(tensor).numpy()
        jacobian = metric.phi_jacobian(tensor).detach().numpy()
    difference = image[:, 1:] - image[:, :-1]
    left_jacobian, right_jacobian = jacobian[:, :-1], jacobian[:, 1:]
    gram = np.einsum("bnmk,bnml->bnkl", jacobian, jacobian)
    pieces = _factor_pieces(
        metric,
        nodes,
        _piece_weights(nodes, times),
        (difference * difference).sum(-1),
        np.einsum("bimk,bim->bik", left_jacobian, difference),
        np.einsum("bimk,bim->bik", right_jacobian, difference),
        (gram[:, :-1], np.einsum("bimk,biml->bikl", left_jacobian, right_jacobian), gram[:, 1:]),
        gauss_newton=True,
    )
    return _assembled(*pieces)


def _conformal_pieces(metric, nodes, weights, gauss_newton=False):
    """Closed-form piece derivatives of Euclidean chords (:func:`_factor_pieces`, ``J = I``)."""
    chord = nodes[:, 1:] - nodes[:, :-1]
    return _factor_pieces(
        metric, nodes, weights, (chord * chord).sum(-1), chord, chord, gauss_newton=gauss_newton
    )


def _factor_pieces(
    metric, nodes, weights, sq_chord, pull_left, pull_right, grams=None, gauss_newton=False
):
    """Closed-form piece derivatives of ``e = w s(a, b) sum_q c_q exp(f(x_q))``.

    With ``x_q = (1 - t_q) a + t_q b`` the quadrature points of the metric's rule
    and ``K_q = exp(f) (grad f grad f^T + Hess f)`` at ``x_q``, the factor average
    ``W`` has ``W_a = sum c_q (1 - t_q) exp(f) grad f``,
    ``W_aa = sum c_q (1 - t_q)^2 K_q``, ``W_ab = sum c_q t_q (1 - t_q) K_q`` and
    symmetrically; the products with ``s`` follow by Leibniz's rule. The squared
    base length ``s = |phi(b) - phi(a)|^2`` has gradients ``-2 J_a^T d`` and
    ``2 J_b^T d`` (``d = phi(b) - phi(a)``) and, ``phi`` linearised, Hessian
    blocks ``2 J_a^T J_a``, ``-2 J_a^T J_b``, ``2 J_b^T J_b``: for Euclidean
    chords ``J = I`` and these are exact.

    Parameters
    ----------
    metric : SolverMetric
    nodes : ndarray, shape=[batch, n_nodes, dim]
    weights : float or ndarray, shape=[n_pieces] or [batch, n_pieces]
        ``w``: one over each piece's time step (:func:`_piece_weights`).
    sq_chord : ndarray, shape=[batch, n_pieces]
        ``s`` of each piece.
    pull_left, pull_right : ndarray, shape=[batch, n_pieces, dim]
        ``J_a^T d`` and ``J_b^T d``.
    grams : tuple of ndarray, shape=[batch, n_pieces, dim, dim], optional
        ``J_a^T J_a``, ``J_a^T J_b``, ``J_b^T J_b``; None for the identity.
    gauss_newton : bool
        Whether ``Hess f`` drops the second derivatives of the networks inside
        the factor (``gauss_newton`` of ``metric.log_factor_jet``).

    Returns
    -------
    energy : ndarray, shape=[batch]
    grad_left, grad_right : ndarray, shape=[batch, n_pieces, dim]
        The pieces' gradients with respect to their left and right ends.
    blocks : tuple of ndarray, shape=[batch, n_pieces, dim, dim]
        Their Hessian blocks (left-left, left-right, right-right).
    """
    piece_weights = weights
    times, weights = metric.quadrature_rule
    value, gradient, hessian = _quadrature_jets(metric, nodes, times, gauss_newton)
    factor = np.exp(value)
    slope = factor[..., None] * gradient
    curvature = factor[..., None, None] * (
        gradient[..., :, None] * gradient[..., None, :] + hessian
    )
    average = _weighted_sum(weights, factor)
    average_left = _weighted_sum(weights * (1 - times), slope)
    average_right = _weighted_sum(weights * times, slope)
    average_ll = _weighted_sum(weights * (1 - times) ** 2, curvature)
    average_rr = _weighted_sum(weights * times**2, curvature)
    average_lr = _weighted_sum(weights * times * (1 - times), curvature)

    w, s = 2 * average[..., None, None], sq_chord[..., None, None]
    if grams is None:
        identity = np.eye(nodes.shape[-1])
        gram_ll = gram_lr = gram_rr = identity
    else:
        gram_ll, gram_lr, gram_rr = grams
    chord_left = 2 * pull_left[..., :, None] * average_left[..., None, :]
    chord_right = 2 * pull_right[..., :, None] * average_right[..., None, :]
    cross_right = 2 * pull_left[..., :, None] * average_right[..., None, :]
    cross_left = 2 * average_left[..., :, None] * pull_right[..., None, :]
    left_left = w * gram_ll - chord_left - np.swapaxes(chord_left, -1, -2) + s * average_ll
    right_right = w * gram_rr + chord_right + np.swapaxes(chord_right, -1, -2) + s * average_rr
    left_right = -w * gram_lr - cross_right + cross_left + s * average_lr
    along = sq_chord[..., None]
    grad_left = _weighted(
        piece_weights, -2 * average[..., None] * pull_left + along * average_left, 1
    )
    grad_right = _weighted(
        piece_weights, 2 * average[..., None] * pull_right + along * average_right, 1
    )
    energy = _weighted_energy(piece_weights, sq_chord * average)
    return (
        energy,
        grad_left,
        grad_right,
        tuple(_weighted(piece_weights, block, 2) for block in (left_left, left_right, right_right)),
    )


def _weighted_sum(weights, arrays):
    """``sum_q weights[q] * arrays[q]``, one array at a time.

    A rule has one to three points, and a loop over them makes no temporary of the
    whole stack. Zero weights (an end of the chord in Simpson's rule times ``t`` or
    ``1 - t``) are skipped.
    """
    terms = [(weight, array) for weight, array in zip(weights, arrays) if weight != 0]
    if not terms:
        return np.zeros_like(arrays[0])
    total = terms[0][0] * terms[0][1]
    for weight, array in terms[1:]:
        total += weight * array
    return total


def _quadrature_jets(metric, nodes, times, gauss_newton=False):
    """Log-factor jets at ``(1 - t) z_i + t z_{i+1}`` for each rule time ``t``.

    Each of value, gradient and Hessian has shape ``[n_times, batch, n_pieces, ...]``.
    Rules that sample the ends of the chords (Simpson's) share the nodes between
    neighbouring pieces: their jets are evaluated once.
    """
    left, right = nodes[:, :-1], nodes[:, 1:]
    inner = [t for t in times if 0 < t < 1]
    at_ends = len(inner) < len(times)
    points = [nodes] if at_ends else []
    points += [((1 - t) * left + t * right) for t in inner]
    flat = np.concatenate([p.reshape(-1, nodes.shape[-1]) for p in points])
    jet = metric.log_factor_jet(torch.from_numpy(flat), gauss_newton=gauss_newton)
    jets = [array.numpy() for array in jet]
    batch, n_nodes = nodes.shape[:2]
    split = batch * n_nodes if at_ends else 0
    out = []
    for array in jets:
        tail = array.shape[1:]
        node_values = array[:split].reshape(batch, n_nodes, *tail) if at_ends else None
        inner_values = array[split:].reshape(len(inner), batch, n_nodes - 1, *tail)
        by_time, k = [], 0
        for t in times:
            if t == 0:
                by_time.append(node_values[:, :-1])
            elif t == 1:
                by_time.append(node_values[:, 1:])
            else:
                by_time.append(inner_values[k])
                k += 1
        out.append(np.stack(by_time))
    return out


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


def matrix_free_derivatives(metric, nodes, times=None):
    """Energy, gradient, Hessian-vector products and Sobolev preconditioner.

    Nothing of size ``dim^2`` is formed: the gradient's graph is kept and each
    Hessian-vector product is one more backward pass.

    Parameters
    ----------
    metric : SolverMetric
    nodes : ndarray, shape=[batch, n_nodes, dim]
    times : ndarray, shape=[n_nodes] or [batch, n_nodes], optional
        Increasing times of the nodes, shared or one row per curve; uniform on
        [0, 1] by default.

    Returns
    -------
    derivatives : MatrixFreeDerivatives
    """
    weights = _piece_weights(nodes, times)
    tensor = torch.from_numpy(nodes)
    inner = tensor[:, 1:-1].clone().requires_grad_(True)
    with torch.enable_grad():
        curve = torch.cat([tensor[:, :1], inner, tensor[:, -1:]], dim=1)
        sq_lengths = metric.curve_sq_lengths(curve)
        energy = _weighted_energy(
            weights if np.ndim(weights) == 0 else torch.from_numpy(weights), sq_lengths
        )
        (gradient,) = torch.autograd.grad(energy.sum(), inner, create_graph=True)

    def hvp(vectors):
        (product,) = torch.autograd.grad(
            gradient, inner, grad_outputs=torch.from_numpy(vectors), retain_graph=True
        )
        return product.numpy()

    return MatrixFreeDerivatives(
        energy=energy.detach().numpy(),
        gradient=gradient.detach().numpy(),
        hvp=hvp,
        preconditioner=_sobolev_preconditioner(nodes, sq_lengths.detach().numpy(), weights),
    )


def _sobolev_preconditioner(nodes, sq_lengths, weights):
    """The curve's Sobolev operator, each piece stiff as its squared length over its chord's."""
    sq_chords = (np.diff(nodes, axis=1) ** 2).sum(-1)
    ratio = sq_lengths / np.where(sq_chords > 0, sq_chords, 1.0)
    typical = np.sum(ratio * (sq_chords > 0), axis=1) / np.maximum((sq_chords > 0).sum(1), 1)
    stiffness = _weighted(weights, np.where(sq_chords > 0, ratio, typical[:, None]))
    return SobolevPreconditioner(stiffness)


def gauss_newton_matrix_free_derivatives(metric, nodes, times=None):
    """Energy, gradient, Gauss-Newton Hessian-vector products and Sobolev preconditioner.

    The products are those with the block Hessian of
    :func:`gauss_newton_derivatives` (pull-back metrics) or of
    ``energy_derivatives(..., gauss_newton=True)`` (Euclidean chords), the same
    closed forms (:func:`_factor_pieces`) with each matrix applied to a vector,
    so that nothing of size ``dim^2`` or ``dim x m`` is formed. Through ``phi``
    each product takes ``J v`` (the derivative of ``J^T w`` in ``w``, from the
    graph of ``phi`` kept at the interior nodes) and one backward pass ``J^T y``,
    never a second derivative of ``phi``. The
    factor's terms come from its linearised form
    (``metric.log_factor_linearised``) at the quadrature points: its gradient
    is exact, and its Hessian products, by double backward, drop the second
    derivatives of the networks inside the factor (a
    :class:`~geomstats_density.quality.Feature`'s classifier and generator) and
    keep the rest in full. Wherever the networks are piecewise linear these
    are the exact Hessian's products. Other geometries (hyperspheres, ``SO(3)``)
    take :func:`matrix_free_derivatives`.

    Parameters
    ----------
    metric : SolverMetric
    nodes : ndarray, shape=[batch, n_nodes, dim]
    times : ndarray, shape=[n_nodes] or [batch, n_nodes], optional
        Increasing times of the nodes, shared or one row per curve; uniform on
        [0, 1] by default.

    Returns
    -------
    derivatives : MatrixFreeDerivatives
    """
    through_phi = metric.geometry.image_chords
    if not (through_phi or metric.euclidean_chords):
        return matrix_free_derivatives(metric, nodes, times)
    piece_weights = _piece_weights(nodes, times)
    tensor = torch.from_numpy(nodes)
    if through_phi:
        inner = tensor[:, 1:-1].clone().requires_grad_(True)
        with torch.enable_grad():
            inner_image = metric.image_tensor(inner)
            # J^T seed, linear in the seed: its derivative in the seed gives J v
            # from the graph of phi kept here (twice as fast as forward mode,
            # which runs phi again).
            seed = torch.zeros_like(inner_image, requires_grad=True)
            (transposed,) = torch.autograd.grad(inner_image, inner, seed, create_graph=True)
        with torch.no_grad():
            ends = metric.image_tensor(tensor[:, [0, -1]])
        image = torch.cat([ends[:, :1], inner_image.detach(), ends[:, 1:]], dim=1)

        def push(vectors):
            (pushed,) = torch.autograd.grad(transposed, seed, vectors, retain_graph=True)
            return pushed

        def pull(covectors):
            (pulled,) = torch.autograd.grad(
                inner_image, inner, grad_outputs=covectors, retain_graph=True
            )
            return pulled

    else:
        image = tensor

        def push(vectors):
            return vectors

        def pull(covectors):
            return covectors

    difference = image[:, 1:] - image[:, :-1]
    sq_chord = (difference * difference).sum(-1)
    factor = _LinearisedFactor(metric, nodes)
    average = factor.average()
    average_left, average_right = factor.average_gradients()
    image_left = -2 * average[..., None] * difference
    gradient = pull(_node_sums(piece_weights, image_left, -image_left)) + _node_sums(
        piece_weights,
        sq_chord[..., None] * average_left,
        sq_chord[..., None] * average_right,
    )

    def hvp(vectors):
        vectors = torch.from_numpy(vectors)
        pushed = _padded(push(vectors))
        moved = pushed[:, 1:] - pushed[:, :-1]
        stretch = 2 * (difference * moved).sum(-1, keepdim=True)
        slope = factor.slope(_padded(vectors))
        image_left = -2 * (average[..., None] * moved + slope[..., None] * difference)
        curvature_left, curvature_right = factor.curvature_products(_padded(vectors))
        latent_left = stretch * average_left + sq_chord[..., None] * curvature_left
        latent_right = stretch * average_right + sq_chord[..., None] * curvature_right
        product = pull(_node_sums(piece_weights, image_left, -image_left))
        return (product + _node_sums(piece_weights, latent_left, latent_right)).numpy()

    sq_lengths = (sq_chord * average).numpy()
    return MatrixFreeDerivatives(
        energy=_weighted_energy(piece_weights, sq_lengths),
        gradient=gradient.numpy(),
        hvp=hvp,
        preconditioner=_sobolev_preconditioner(nodes, sq_lengths, piece_weights),
    )


def _padded(inner):
    """Interior-node arrays ``[batch, n_nodes - 2, ...]`` with zero rows at both ends."""
    zeros = torch.zeros_like(inner[:, :1])
    return torch.cat([zeros, inner, zeros], dim=1)


def _node_sums(piece_weights, left, right):
    """At each interior node, the weighted terms of the piece it ends and of the one it starts.

    ``left`` and ``right`` (shape ``[batch, n_pieces, ...]``) are each piece's
    terms at its left and right ends; the result has shape ``[batch, n_nodes - 2, ...]``.
    """
    if np.ndim(piece_weights):
        piece_weights = torch.from_numpy(piece_weights)
        piece_weights = piece_weights.reshape(*piece_weights.shape, *(1,) * (left.ndim - 2))
    return (piece_weights * right)[:, :-1] + (piece_weights * left)[:, 1:]


class _LinearisedFactor:
    """The factor ``exp(f)`` at a curve's quadrature points, ``f`` linearised there.

    ``f`` comes from ``metric.log_factor_linearised`` at the points
    ``(1 - t) z_i + t z_{i+1}`` of the metric's rule (the nodes once, where the
    rule samples the chords' ends), each point a leaf of its own: its values and
    gradients are kept, and its Hessian's products at all points take one
    backward pass through the gradient's graph.

    Parameters
    ----------
    metric : SolverMetric
    nodes : ndarray, shape=[batch, n_nodes, dim]
    """

    def __init__(self, metric, nodes):
        self.times, self.weights = metric.quadrature_rule
        self.inner_times = [float(t) for t in self.times if 0 < t < 1]
        self.at_ends = len(self.inner_times) < len(self.times)
        self.shape = nodes.shape
        tensor = torch.from_numpy(nodes)
        self.points = self._flat(tensor).requires_grad_(True)
        with torch.enable_grad():
            values = metric.log_factor_linearised(self.points)
            self.flat_gradient = torch.zeros_like(self.points)
            if values.requires_grad:
                (self.flat_gradient,) = torch.autograd.grad(
                    values.sum(), self.points, create_graph=True
                )
        self.factor = self._by_time(torch.exp(values.detach()))
        self.gradient = self._by_time(self.flat_gradient.detach())

    def _flat(self, nodes):
        """The quadrature points of curves ``[batch, n_nodes, ...]``, stacked ``[n, ...]``."""
        left, right = nodes[:, :-1], nodes[:, 1:]
        points = [nodes] if self.at_ends else []
        points += [(1 - t) * left + t * right for t in self.inner_times]
        return torch.cat([p.reshape(-1, *nodes.shape[2:]) for p in points])

    def _by_time(self, flat):
        """Values at the flat points as a list over the rule's times.

        Each entry has shape ``[batch, n_pieces, ...]``.
        """
        batch, n_nodes = self.shape[:2]
        tail = flat.shape[1:]
        split = batch * n_nodes if self.at_ends else 0
        nodes = flat[:split].reshape(batch, n_nodes, *tail) if self.at_ends else None
        inner = flat[split:].reshape(len(self.inner_times), batch, n_nodes - 1, *tail)
        by_time, k = [], 0
        for t in self.times:
            if t == 0:
                by_time.append(nodes[:, :-1])
            elif t == 1:
                by_time.append(nodes[:, 1:])
            else:
                by_time.append(inner[k])
                k += 1
        return by_time

    def _sum(self, coefficients, arrays):
        """``sum_q c_q weight_q array_q`` over the rule's points, zero terms skipped."""
        terms = [
            float(c * w) * array
            for c, w, array in zip(coefficients, self.weights, arrays)
            if c * w != 0
        ]
        return sum(terms[1:], terms[0]) if terms else torch.zeros_like(arrays[0])

    def average(self):
        """``W = sum_q c_q exp(f_q)`` of each piece, shape ``[batch, n_pieces]``."""
        return self._sum(np.ones_like(self.times), self.factor)

    def average_gradients(self):
        """``dW / dz_i`` and ``dW / dz_{i+1}`` of each piece, shape ``[batch, n_pieces, dim]``."""
        slopes = [f[..., None] * g for f, g in zip(self.factor, self.gradient)]
        return self._sum(1 - self.times, slopes), self._sum(self.times, slopes)

    def _along(self, vectors):
        """``(1 - t) v_i + t v_{i+1}`` at each rule time, ``vectors`` ``[batch, n_nodes, dim]``."""
        return [(1 - float(t)) * vectors[:, :-1] + float(t) * vectors[:, 1:] for t in self.times]

    def slope(self, vectors):
        """``dW`` of each piece along node displacements ``[batch, n_nodes, dim]``."""
        along = self._along(vectors)
        rates = [f * (g * v).sum(-1) for f, g, v in zip(self.factor, self.gradient, along)]
        return self._sum(np.ones_like(self.times), rates)

    def curvature_products(self, vectors):
        """``W_aa v_a + W_ab v_b`` and ``W_ba v_a + W_bb v_b`` of each piece.

        With ``K_q = exp(f) (grad f grad f^T + Hess f)`` at each point, its
        product with ``v_q = (1 - t) v_a + t v_b``, and the sums
        ``sum_q c_q (1 - t_q) K_q v_q`` and ``sum_q c_q t_q K_q v_q``.

        Parameters
        ----------
        vectors : torch.Tensor, shape=[batch, n_nodes, dim]

        Returns
        -------
        left, right : torch.Tensor, shape=[batch, n_pieces, dim]
        """
        along = self._along(vectors)
        flat_hessian = torch.zeros_like(self.points)
        if self.flat_gradient.requires_grad:
            (flat_hessian,) = torch.autograd.grad(
                self.flat_gradient,
                self.points,
                grad_outputs=self._flat(vectors),
                retain_graph=True,
                allow_unused=True,
            )
            if flat_hessian is None:
                flat_hessian = torch.zeros_like(self.points)
        products = [
            f[..., None] * (g * (g * v).sum(-1, keepdim=True) + h)
            for f, g, v, h in zip(self.factor, self.gradient, along, self._by_time(flat_hessian))
        ]
        return self._sum(1 - self.times, products), self._sum(self.times, products)
