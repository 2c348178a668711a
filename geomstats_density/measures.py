r"""Curves of point clouds, their lengths measured by the kernel mean embedding.

A point of ``R^(k d)`` is read as a cloud of ``k`` points in ``R^d``, the
empirical measure ``mu_x = (1/k) sum_j delta_{x_j}``, and ``Phi`` is its kernel
mean embedding in the reproducing-kernel Hilbert space ``H`` of the Gaussian
kernel (:mod:`geomstats_density.mmd`). ``Phi`` has no finite-dimensional image,
but the paper's Eq. 5 needs only the squared lengths
``|Phi(z_{i+1}) - Phi(z_i)|^2``, i.e. MMDs between consecutive clouds:
:class:`KernelMeanEmbeddingMetric` is the density-conformal metric whose pieces
are measured that way. Its pull-back metric matrix comes from the kernel's
second derivatives (:func:`~geomstats_density.mmd.kernel_mean_embedding_gram`),
so ``log``, ``exp`` and the Christoffel symbols are available too.
:class:`CloudDensity` is the density of a cloud of independent draws, for a
realism quality of clouds.
"""

import torch

from geomstats_density._linalg import solve_positive_definite
from geomstats_density._validation import check_points
from geomstats_density.backend import to_backend, to_torch
from geomstats_density.densities import Density, as_density
from geomstats_density.density_metric import DensityConformalMetric
from geomstats_density.geometry import MatrixGeometry
from geomstats_density.manifolds import base_geometry, default_metric
from geomstats_density.mmd import (
    as_clouds,
    check_bandwidth,
    kernel_mean_embedding_gram,
    paired_mmd_squared,
)


class CloudDensity(Density):
    """The density of ``k`` independent draws from a density on ``R^d``.

    ``log p(x) = sum_j log p_1(x_j)`` on clouds flattened to ``R^(k d)``: a
    realism quality read from it says how plausible a cloud is as a sample of
    ``p_1``.

    Parameters
    ----------
    point_density : Density or density model
        ``p_1``, on ``R^d``; must know its dimension (``dim``).
    n_points : int
        ``k``.
    """

    def __init__(self, point_density, n_points):
        self.point_density = as_density(point_density)
        if self.point_density.dim is None:
            raise ValueError("point_density must know its dimension (dim).")
        if int(n_points) != n_points or n_points < 1:
            raise ValueError(f"n_points must be a positive integer, got {n_points!r}.")
        self.n_points = int(n_points)
        self.dim = self.n_points * self.point_density.dim

    def log_prob(self, points):
        """Log-density, shape ``[...]`` for clouds ``[..., k * d]``."""
        return self.point_density(as_clouds(points, self.n_points)).sum(-1)

    def sample(self, n_samples, random_state=0):
        """Draw ``n_samples`` clouds, shape ``[n_samples, k * d]``; see ``Density.sample``."""
        points = self.point_density.sample(n_samples * self.n_points, random_state)
        return points.reshape(n_samples, self.dim)


class KernelMeanEmbeddingGeometry(MatrixGeometry):
    """Clouds of ``R^(k d)`` with the pull-back of the kernel mean embedding's RKHS norm.

    Pieces are measured by ``MMD^2`` between consecutive clouds, the base
    metric matrix is :func:`kernel_mean_embedding_gram`.

    Parameters
    ----------
    space : Euclidean
        ``Euclidean(k * d)``.
    base_metric : RiemannianMetric
    n_points : int
        ``k``, points per cloud.
    bandwidth : float
        ``sigma`` of the Gaussian kernel.
    quadrature : {'simpson', 'midpoint'}
    """

    def __init__(self, space, base_metric, n_points, bandwidth, quadrature="simpson"):
        super().__init__(space, base_metric, quadrature)
        self.n_points = n_points
        self.bandwidth = bandwidth

    def base_sq_lengths(self, left, right):
        """``MMD^2`` between the clouds ``left`` and ``right``.

        Parameters
        ----------
        left, right : torch.Tensor, shape=[..., k * d]

        Returns
        -------
        sq_lengths : torch.Tensor, shape=[...]
        """
        return paired_mmd_squared(
            as_clouds(left, self.n_points), as_clouds(right, self.n_points), self.bandwidth
        )

    def curve_base_sq_lengths(self, nodes):
        """``MMD^2`` between consecutive clouds of curves.

        Parameters
        ----------
        nodes : torch.Tensor, shape=[..., n_nodes, k * d]

        Returns
        -------
        sq_lengths : torch.Tensor, shape=[..., n_nodes - 1]
        """
        return self.base_sq_lengths(nodes[..., :-1, :], nodes[..., 1:, :])

    def image(self, points):
        """Not available: the kernel mean embedding has no finite-dimensional image.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., k * d]

        Raises
        ------
        NotImplementedError
            Always: :meth:`base_sq_lengths` measures pieces instead.
        """
        raise NotImplementedError(
            "The kernel mean embedding lives in an infinite-dimensional RKHS; use "
            "base_sq_lengths (MMD^2 between clouds) instead of differences of images."
        )

    def base_metric_matrix(self, points):
        """``J_Phi^T J_Phi`` (:func:`kernel_mean_embedding_gram`).

        Parameters
        ----------
        points : torch.Tensor, shape=[..., k * d]

        Returns
        -------
        gram : torch.Tensor, shape=[..., k * d, k * d]
        """
        return kernel_mean_embedding_gram(as_clouds(points, self.n_points), self.bandwidth)


class KernelMeanEmbeddingMetric(DensityConformalMetric):
    r"""The paper's metric on clouds, lengths measured by MMD.

    .. math:: g_x(u, v) = \log(Q(x))^2 \langle D\Phi_x u, D\Phi_x v \rangle_H

    on ``R^(k d)``, points read as clouds of ``k`` points in ``R^d`` and
    ``Phi`` the Gaussian kernel mean embedding. A piece of a discretised curve
    has squared length ``log(Q(mid))^2 MMD^2(x_i, x_{i+1})`` (the paper's
    Eq. 5). With a constant quality, geodesics are the shortest paths of clouds
    in MMD, the authors' point-cloud experiment.

    Parameters
    ----------
    space : Euclidean
        ``Euclidean(k * d)``.
    log_quality : callable
        ``log Q`` of clouds, torch ``[..., k * d] -> [...]`` (e.g. a realism
        quality of a :class:`CloudDensity`, or ``Constant(q)``).
    n_points : int
        ``k``, points per cloud.
    bandwidth : float
        ``sigma`` of the Gaussian kernel.
    quadrature, method, solver_options
        As in :class:`~geomstats_density.DensityConformalMetric`: the factor is
        averaged along each chord of ``R^(k d)`` by Simpson's rule (default) or
        taken at its midpoint (the paper's Eq. 5). The Newton solver works
        matrix-free when ``k * d > 32``.

    Notes
    -----
    The metric is degenerate at clouds with two coincident points: keep the
    points of the endpoints distinct. It is invariant under permutations of
    the points, but curves move labelled points, so which point of the start
    goes where is fixed by the order of the endpoints' points.
    """

    def __init__(
        self,
        space,
        log_quality,
        n_points,
        bandwidth,
        quadrature="simpson",
        method=None,
        solver_options=None,
    ):
        if base_geometry(space)[1] is not None:
            raise ValueError(
                "KernelMeanEmbeddingMetric needs Euclidean(k * d), whose points are "
                f"flattened clouds; got {type(space).__name__}."
            )
        if int(n_points) != n_points or n_points < 1 or space.dim % n_points:
            raise ValueError(
                f"n_points must be a positive divisor of the dimension {space.dim}, "
                f"got {n_points!r}."
            )
        self.n_points = int(n_points)
        self.point_dim = space.dim // self.n_points
        self.bandwidth = check_bandwidth(bandwidth)
        super().__init__(
            space,
            log_quality=log_quality,
            quadrature=quadrature,
            method=method,
            solver_options=solver_options,
        )

    def _make_geometry(self, space, phi, quadrature):
        return KernelMeanEmbeddingGeometry(
            space, default_metric(space), self.n_points, self.bandwidth, quadrature
        )

    def clouds(self, points):
        """Points ``[..., k * d]`` as clouds ``[..., k, d]``.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., k * d]

        Returns
        -------
        clouds : torch.Tensor, shape=[..., k, d]
        """
        return as_clouds(points, self.n_points)

    def metric_matrix_tensor(self, points):
        """``e^{f(x)} J_Phi^T J_Phi``, differentiable.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., k * d]

        Returns
        -------
        matrix : torch.Tensor, shape=[..., k * d, k * d]
        """
        factor = torch.exp(self.log_factor_tensor(points))
        return factor[..., None, None] * self.base_metric_matrix_tensor(points)

    def inner_product(self, tangent_vec_a, tangent_vec_b, base_point=None):
        """``e^{f(x)} u^T J_Phi^T J_Phi v``.

        Parameters
        ----------
        tangent_vec_a, tangent_vec_b : array-like, shape=[..., k * d]
        base_point : array-like, shape=[..., k * d]

        Returns
        -------
        inner_product : array-like, shape=[...]
        """
        points = self.points_tensor(base_point)
        vec_a = check_points(tangent_vec_a, self._space.dim, "tangent_vec_a")
        vec_b = check_points(tangent_vec_b, self._space.dim, "tangent_vec_b")
        matrix = self.metric_matrix_tensor(points)
        return to_backend(torch.einsum("...i,...ij,...j->...", vec_a, matrix, vec_b))

    def _metric_derivative(self, points, direction):
        """``d/dt G(x + t v)`` at ``t = 0``, shape ``[..., n, n]``."""
        return torch.func.jvp(self.metric_matrix_tensor, (points,), (direction,))[1]

    def geodesic_acceleration(self, position, velocity):
        r"""``-Gamma(x)(v, v) = -G^{-1} (dG[v] v - 1/2 grad_x (v^T G v))``.

        From the metric matrix by reverse-mode automatic differentiation: with
        ``s(x, w) = w^T G(x) v``, ``grad_x s`` at ``w = v`` is ``grad_x (v^T G v)``
        and ``grad_w (v . grad_x s)`` is ``dG[v] v`` (reverse mode: forward mode
        through ``torch.func.jvp`` is slower here).

        Parameters
        ----------
        position, velocity : torch.Tensor, shape=[..., k * d]

        Returns
        -------
        acceleration : torch.Tensor, shape=[..., k * d]
        """
        velocity = to_torch(velocity).detach()
        with torch.enable_grad():
            position = to_torch(position).detach().requires_grad_(True)
            probe = velocity.clone().requires_grad_(True)
            matrix = self.metric_matrix_tensor(position)
            pairing = torch.einsum("...i,...ij,...j->...", probe, matrix, velocity)
            (gradient,) = torch.autograd.grad(pairing.sum(), position, create_graph=True)
            (transport,) = torch.autograd.grad((gradient * velocity).sum(), probe)
        force = transport - 0.5 * gradient.detach()
        return -solve_positive_definite(matrix.detach(), force.unsqueeze(-1)).squeeze(-1)

    def christoffels(self, base_point=None):
        r"""Christoffel symbols from the metric matrix, contravariant index first.

        ``Gamma^k_ij = 1/2 G^{kl} (d_i G_jl + d_j G_il - d_l G_ij)``, the
        derivatives of ``G`` by automatic differentiation (``k d`` Jacobian-vector
        products).

        Parameters
        ----------
        base_point : array-like, shape=[..., k * d]

        Returns
        -------
        christoffels : array-like, shape=[..., k d, k d, k d]
        """
        points = self.points_tensor(base_point)
        dim = points.shape[-1]
        # derivatives[..., i, j, l] = d_i G_jl
        derivatives = torch.stack(
            [
                self._metric_derivative(points, basis.expand_as(points))
                for basis in torch.eye(dim, dtype=points.dtype)
            ],
            dim=-3,
        )
        lowered = 0.5 * (
            derivatives.transpose(-3, -2)  # d_j G_il, indices [i, j, l]
            + derivatives  # d_i G_jl
            - derivatives.permute(*range(points.ndim - 1), -2, -1, -3)  # d_l G_ij
        )
        matrix = self.metric_matrix_tensor(points)
        batch = points.shape[:-1]
        raised = solve_positive_definite(
            matrix, lowered.reshape(*batch, dim * dim, dim).transpose(-1, -2)
        )
        return to_backend(raised.reshape(*batch, dim, dim, dim).detach())
