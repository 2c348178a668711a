r"""Point clouds in the kernel mean embedding of the Gaussian kernel: MMD and its Gram matrix.

A point of ``R^(k d)`` is read as a cloud of ``k`` points in ``R^d``
(:func:`as_clouds`), the empirical measure ``mu_x = (1/k) sum_j delta_{x_j}``,
and ``Phi`` is its kernel mean embedding in the reproducing-kernel Hilbert space
``H`` of the Gaussian kernel ``K(a, b) = exp(-|a - b|^2 / (2 sigma^2))``:

.. math:: \Phi(x) = \frac1k \sum_j K(x_j, \cdot), \qquad
          |\Phi(x) - \Phi(y)|_H^2 = \mathrm{MMD}^2(\mu_x, \mu_y).

Here are the inner products of embeddings (:func:`kernel_mean_inner`), the
squared MMD between clouds (:func:`mmd_squared`; :func:`paired_mmd_squared`
for nearby clouds of equal size) and the pull-back of ``H``'s inner product
through ``Phi`` (:func:`kernel_mean_embedding_gram`), which
:mod:`geomstats_density.measures` builds its metric on.

Kernel sums are written in plain torch: clouds here have tens to hundreds of
points and the solver evaluates whole batches of consecutive pairs at once
(leading batch axes), which neither ``ot.dist`` (two 2-D arrays per call) nor
KeOps (compiled kernels, worth it from about 10^4 points) does; and the MMD of
two nearby clouds, a difference of nearly equal kernel sums, is computed here
from the displacements without that cancellation (:func:`paired_mmd_squared`).
"""

import math

import torch


def as_clouds(points, n_points):
    """Points of ``R^(k d)`` as clouds of ``k`` points in ``R^d``.

    Parameters
    ----------
    points : torch.Tensor, shape=[..., k * d]
    n_points : int
        ``k``.

    Returns
    -------
    clouds : torch.Tensor, shape=[..., k, d]
    """
    size = points.shape[-1]
    if size % n_points:
        raise ValueError(
            f"Points of size {size} are not clouds of {n_points} points: {n_points} "
            "must divide the size."
        )
    return points.reshape(*points.shape[:-1], n_points, size // n_points)


def pairwise_sq_dists(cloud_a, cloud_b):
    """Squared distances between the points of two clouds, from exact differences.

    ``|a|^2 + |b|^2 - 2 a.b`` would be cheaper but loses the small distances to
    cancellation, and its derivatives with them.

    Parameters
    ----------
    cloud_a : torch.Tensor, shape=[..., k, d]
    cloud_b : torch.Tensor, shape=[..., l, d]

    Returns
    -------
    sq_dists : torch.Tensor, shape=[..., k, l]
    """
    diff = cloud_a.unsqueeze(-2) - cloud_b.unsqueeze(-3)
    return (diff * diff).sum(-1)


def check_bandwidth(bandwidth):
    """Check a kernel bandwidth is positive and finite; return it as a float."""
    if not (bandwidth > 0 and math.isfinite(bandwidth)):
        raise ValueError(f"bandwidth must be positive and finite, got {bandwidth}.")
    return float(bandwidth)


def gaussian_kernel(cloud_a, cloud_b, bandwidth):
    """Gaussian kernel matrix ``exp(-|a_j - b_l|^2 / (2 sigma^2))``.

    Parameters
    ----------
    cloud_a : torch.Tensor, shape=[..., k, d]
    cloud_b : torch.Tensor, shape=[..., l, d]
    bandwidth : float
        ``sigma``.

    Returns
    -------
    kernel : torch.Tensor, shape=[..., k, l]
    """
    scale = 2 * check_bandwidth(bandwidth) ** 2
    return torch.exp(-pairwise_sq_dists(cloud_a, cloud_b) / scale)


def kernel_mean_inner(cloud_a, cloud_b, bandwidth):
    """``<Phi(a), Phi(b)>_H``: the mean of the kernel over all pairs of points.

    Parameters
    ----------
    cloud_a : torch.Tensor, shape=[..., k, d]
    cloud_b : torch.Tensor, shape=[..., l, d]
    bandwidth : float

    Returns
    -------
    inner : torch.Tensor, shape=[...]
    """
    return gaussian_kernel(cloud_a, cloud_b, bandwidth).mean((-1, -2))


def mmd_squared(cloud_a, cloud_b, bandwidth):
    """Squared maximum mean discrepancy between two clouds, of any sizes.

    ``MMD^2 = <Phi(a), Phi(a)> + <Phi(b), Phi(b)> - 2 <Phi(a), Phi(b)>``, the
    biased (V-statistic) estimate, which is the squared RKHS distance between
    the two empirical measures' embeddings.

    Parameters
    ----------
    cloud_a : torch.Tensor, shape=[..., k, d]
    cloud_b : torch.Tensor, shape=[..., l, d]
    bandwidth : float

    Returns
    -------
    sq_mmd : torch.Tensor, shape=[...]

    See Also
    --------
    paired_mmd_squared : the same for clouds of equal size whose points are
        paired, accurate when they are close.
    """
    return (
        kernel_mean_inner(cloud_a, cloud_a, bandwidth)
        + kernel_mean_inner(cloud_b, cloud_b, bandwidth)
        - 2 * kernel_mean_inner(cloud_a, cloud_b, bandwidth)
    )


def paired_mmd_squared(cloud_a, cloud_b, bandwidth):
    r"""``MMD^2`` between clouds of equal size, from the displacements ``b_j - a_j``.

    With ``r = a_j - a_l``, ``u = b_j - a_j``, ``w = b_l - a_l`` and
    ``s = 2 sigma^2``, the ``(j, l)`` term of ``MMD^2`` is

    .. math:: e^{-|r|^2/s}\left(-\mathrm{expm1}(-\beta) - \mathrm{expm1}(-\gamma)
              + \mathrm{expm1}(-\delta)\right),

    ``beta = w.(w - 2r)/s``, ``gamma = u.(u + 2r)/s``,
    ``delta = (u - w).(u - w + 2r)/s``: each ``expm1`` is first order in the
    displacements and exact to rounding, so ``MMD^2``, second order, keeps a
    relative error of order ``1e-16 / |u|`` instead of the ``1e-16 / |u|^2`` of
    :func:`mmd_squared`. That is what lets Richardson extrapolation over fine
    curves reach 1e-8.

    Parameters
    ----------
    cloud_a, cloud_b : torch.Tensor, shape=[..., k, d]
    bandwidth : float

    Returns
    -------
    sq_mmd : torch.Tensor, shape=[...]
    """
    if cloud_a.shape[-2:] != cloud_b.shape[-2:]:
        raise ValueError(
            "paired_mmd_squared needs clouds of the same size, got shapes "
            f"{tuple(cloud_a.shape)} and {tuple(cloud_b.shape)}; use mmd_squared."
        )
    scale = 2 * check_bandwidth(bandwidth) ** 2
    between = cloud_a.unsqueeze(-2) - cloud_a.unsqueeze(-3)
    moved = cloud_b - cloud_a
    moved_j, moved_l = moved.unsqueeze(-2), moved.unsqueeze(-3)
    relative = moved_j - moved_l

    def exponent(vector, shift):
        return (vector * (vector + shift)).sum(-1) / scale

    terms = torch.exp(-(between * between).sum(-1) / scale) * (
        -torch.expm1(-exponent(moved_l, -2 * between))
        - torch.expm1(-exponent(moved_j, 2 * between))
        + torch.expm1(-exponent(relative, 2 * between))
    )
    return terms.mean((-1, -2))


def kernel_mean_embedding_gram(clouds, bandwidth):
    r"""Pull-back of ``H``'s inner product through ``Phi``, ``J_Phi^T J_Phi``.

    For a displacement ``u = (u_1, ..., u_k)`` of the points,
    ``|D Phi(x) u|_H^2 = (1/k^2) sum_{j,l} u_j^T d_a d_b K(x_j, x_l) u_l``, and
    for the Gaussian kernel
    ``d_a d_b^T K(a, b) = K(a, b) (I / sigma^2 - (a - b)(a - b)^T / sigma^4)``.

    Parameters
    ----------
    clouds : torch.Tensor, shape=[..., k, d]
    bandwidth : float

    Returns
    -------
    gram : torch.Tensor, shape=[..., k * d, k * d]
        Blocks ``(j, l)`` of size ``d x d``. Positive definite when the points
        are distinct; singular when two coincide (moving them apart in opposite
        directions does not change the measure to first order).
    """
    sigma_sq = check_bandwidth(bandwidth) ** 2
    *batch, k, d = clouds.shape
    between = clouds.unsqueeze(-2) - clouds.unsqueeze(-3)
    kernel = torch.exp(-(between * between).sum(-1) / (2 * sigma_sq))
    eye = torch.eye(d, dtype=clouds.dtype)
    outer = between.unsqueeze(-1) * between.unsqueeze(-2)
    blocks = kernel[..., None, None] * (eye / sigma_sq - outer / sigma_sq**2) / k**2
    return blocks.transpose(-3, -2).reshape(*batch, k * d, k * d)
