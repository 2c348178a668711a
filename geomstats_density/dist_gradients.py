r"""Solved geodesic distances that carry gradients with respect to their endpoints.

Under the pytorch backend, ``metric.dist`` of endpoints that require grad is
differentiable: the gradients come from the solved curve by the envelope
theorem (:func:`endpoint_gradients`), and autograd never runs through the
solver's iterations.
"""

import torch

from geomstats_density.backend import to_torch
from geomstats_density.energy import piece_energy_gradients


def differentiable_dist(metric, point_a, point_b):
    """Solved distances whose backward pass gives the endpoints' gradients.

    One ``metric.log_solver.solve(point_b, point_a)`` on the detached
    endpoints, as ``metric.dist`` runs it.

    Parameters
    ----------
    metric : ConformalMetric
    point_a, point_b : torch.Tensor, shape=[..., {dim, [n, n]}]

    Returns
    -------
    dist : torch.Tensor, shape=[...]
    """
    curve = metric.log_solver.solve(_detached(point_b), _detached(point_a))
    dist = to_torch(curve.dist)
    grad_a, grad_b = endpoint_gradients(metric, curve, dist)
    return _SolvedDistance.apply(to_torch(point_a), to_torch(point_b), dist, grad_a, grad_b)


def endpoint_gradients(metric, curve, dist):
    r"""Gradients of solved distances with respect to their endpoints.

    By the envelope theorem the curve's interior stays fixed: the
    derivative of the length ``L`` of a geodesic on ``[0, 1]`` with respect
    to its end ``b`` is ``g_b(v_1, .) / L`` (for a conformal metric,
    ``sqrt(lambda(b)) dPhi_b^T u`` with ``u`` the unit velocity of
    ``Phi(gamma)`` at ``b``), and minus ``g_a(v_0, .) / L`` at the start.
    These are read from the solved nodes as the discrete Legendre transform
    reads ``log``: the derivative of the discrete energy ``E ~ L^2`` with
    respect to the end node alone, ``dL = dE / (2 L)``, a second-order
    approximation in the node spacing ``h``, Richardson-extrapolated with
    the same derivative at spacing ``2 h`` (every other node) when the
    number of pieces is even.

    Parameters
    ----------
    metric : ConformalMetric
    curve : GeodesicCurve
        The solved curves from ``point_a`` to ``point_b``.
    dist : torch.Tensor, shape=[...]

    Returns
    -------
    grad_a, grad_b : torch.Tensor, shape=[..., {dim, [n, n]}]
        Zero where the endpoints coincide (the distance is not differentiable there).
    """
    nodes = to_torch(curve.nodes).detach()
    times = to_torch(curve.times)
    start, end = nodes[..., 0, :], nodes[..., -1, :]
    gradients = _end_node_gradients(metric, nodes, times, 1)
    n_pieces = nodes.shape[-2] - 1
    if n_pieces >= 4 and n_pieces % 2 == 0:
        coarse = _end_node_gradients(metric, nodes, times, 2)
        gradients = [(4 * fine - rough) / 3 for fine, rough in zip(gradients, coarse, strict=True)]
    scale = torch.where(dist > 0, 0.5 / dist, 0.0)[..., None]
    gradients = [
        metric.geometry.to_tangent(scale * gradient, point)
        for gradient, point in zip(gradients, (start, end), strict=True)
    ]
    return tuple(metric.from_coordinates(gradient) for gradient in gradients)


def _end_node_gradients(metric, nodes, times, step):
    """Derivatives of discrete energies with respect to their end nodes alone.

    The curves are taken at every ``step``-th node; only the first and the
    last piece depend on the end nodes: both pieces go through
    :func:`~geomstats_density.energy.piece_energy_gradients` in one pass.
    """
    left = torch.stack([nodes[..., 0, :], nodes[..., -1 - step, :]])
    right = torch.stack([nodes[..., step, :], nodes[..., -1, :]])
    weights = torch.stack(
        [1 / (times[..., step] - times[..., 0]), 1 / (times[..., -1] - times[..., -1 - step])]
    )
    weights = weights.reshape(*weights.shape, *[1] * (nodes.ndim - 1 - weights.ndim))
    grad_left, grad_right = piece_energy_gradients(metric, left, right, weights)
    return grad_left[0], grad_right[1]


def differentiable_dist_pairwise(metric, points, batch_size):
    """The distance matrix of points that require grad, by ``metric.dist`` on batches of pairs.

    Parameters
    ----------
    metric : ConformalMetric
    points : torch.Tensor, shape=[n_points, {dim, [n, n]}]
    batch_size : int
        Pairs per call of ``metric.dist``.

    Returns
    -------
    dist : torch.Tensor, shape=[n_points, n_points]
    """
    n_points = points.shape[0]
    rows, cols = torch.triu_indices(n_points, n_points, 1)
    upper = [
        metric.dist(points[rows[batch]], points[cols[batch]])
        for batch in torch.arange(rows.numel()).split(batch_size)
    ]
    upper = torch.cat(upper) if upper else points.new_zeros(0)
    matrix = points.new_zeros(n_points, n_points).index_put((rows, cols), upper)
    return matrix + matrix.T


def _detached(array):
    """An array out of autograd's graph (a copy-free view for tensors)."""
    return array.detach() if isinstance(array, torch.Tensor) else array


def _sum_to_shape(gradient, shape):
    """Sum a broadcast gradient over the axes its input was broadcast along."""
    while gradient.ndim > len(shape):
        gradient = gradient.sum(0)
    axes = tuple(i for i, size in enumerate(shape) if size == 1 and gradient.shape[i] != 1)
    return gradient.sum(axes, keepdim=True) if axes else gradient


class _SolvedDistance(torch.autograd.Function):
    """A solved geodesic distance as a function of its endpoints.

    The solver's value is returned as is; the backward pass multiplies the
    incoming gradient by the endpoints' gradients computed beforehand (by the
    envelope theorem, :func:`endpoint_gradients`), so
    that autograd never sees the solver's iterations.
    """

    @staticmethod
    def forward(ctx, point_a, point_b, dist, grad_a, grad_b):
        ctx.save_for_backward(grad_a, grad_b)
        ctx.shapes = (point_a.shape, point_b.shape)
        return dist.to(point_a.dtype, copy=True)

    @staticmethod
    def backward(ctx, grad_output):
        gradients = []
        for gradient, shape in zip(ctx.saved_tensors, ctx.shapes, strict=True):
            extra = (1,) * (gradient.ndim - grad_output.ndim)
            full = grad_output.reshape(grad_output.shape + extra) * gradient
            gradients.append(_sum_to_shape(full, shape))
        return gradients[0], gradients[1], None, None, None
