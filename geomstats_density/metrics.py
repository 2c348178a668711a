"""Conformal and density-conformal Riemannian metrics on vector spaces.

A conformal metric rescales a base inner product by a positive factor,

.. math:: g_z(u, v) = e^{f(z)} \\langle J_\\phi(z) u, J_\\phi(z) v \\rangle,

where ``f = log_factor`` and ``phi`` (identity by default) is the map whose image
lengths are measured. The density-conformal metric of Struski et al. takes
``f = log(log(Q)^2)`` for a quality ``Q: Z -> (0, 1)``: geodesics then maximise the
curve quality, i.e. they keep to where ``Q`` is high.

Both classes subclass geomstats' :class:`RiemannianMetric`; equip a space with
them the geomstats way::

    space = Euclidean(2, equip=False)
    space.equip_with_metric(ConformalMetric, log_factor=lambda z: -2 * torch.log(z[..., 1]))
    space.metric.dist(point_a, point_b)
"""

import numpy as np
import torch

from geomstats.geometry.riemannian_metric import RiemannianMetric

from geomstats_density._arrays import (
    broadcast_pair,
    check_points,
    to_backend,
    to_torch,
)
from geomstats_density.exceptions import DomainError


def _check_scalar_field(values, points, name):
    """Check a user callable returned one finite value per point."""
    if not isinstance(values, torch.Tensor):
        raise ValueError(
            f"{name} must return a torch tensor, got {type(values).__name__}."
        )
    expected = tuple(points.shape[:-1])
    if tuple(values.shape) != expected:
        raise ValueError(
            f"{name} must return one value per point: for points of shape "
            f"{tuple(points.shape)} it returned shape {tuple(values.shape)}, "
            f"expected {expected}."
        )


def _gradient(values, points):
    """Per-point gradient of a scalar field evaluated on a batch of points.

    Points are independent, so the gradient of the sum is the stack of gradients.
    The graph is kept when ``points`` already carries one (pytorch backend).
    """
    if not values.requires_grad:
        return torch.zeros_like(points)
    (grad,) = torch.autograd.grad(
        values.sum(), points, create_graph=torch.is_grad_enabled(), allow_unused=True
    )
    return torch.zeros_like(points) if grad is None else grad


class ConformalMetric(RiemannianMetric):
    r"""Conformal rescaling of the Euclidean or a pulled-back inner product.

    .. math:: g_z = e^{f(z)}\, G_0(z), \qquad G_0 = I \ \text{or}\ J_\phi^\top J_\phi

    Parameters
    ----------
    space : Manifold
        A vector space with points of shape ``[dim]``, e.g. ``Euclidean(dim)``.
    log_factor : callable
        ``f``: torch tensor ``[..., dim]`` to torch tensor ``[...]``, finite on the
        domain of interest, differentiable twice.
    phi : callable, optional
        Map ``[..., dim] -> [..., m]`` whose image lengths are measured (the paper's
        Eq. 5). Default: the identity, ``G_0 = I``.
    method : str, {'newton', 'neural'}
        Boundary-value solver used by ``log``, ``dist`` and ``geodesic``:
        :class:`~geomstats_density.solvers.NewtonGeodesicSolver` (default) or the
        paper's baseline :class:`~geomstats_density.solvers.NeuralGeodesicSolver`.
        Assign ``metric.log_solver`` to use any other geomstats ``LogSolver``.
    solver_options : dict, optional
        Keyword arguments of the boundary-value solver.

    Notes
    -----
    ``log_factor`` and ``phi`` take and return float64 torch tensors whatever the
    geomstats backend; every metric method takes and returns arrays of the active
    backend. Under the pytorch backend the metric is differentiable, so geomstats'
    autodiff solvers (``LogShootingSolver``, ``PathStraightening``) run on it.
    """

    def __init__(
        self,
        space,
        log_factor,
        phi=None,
        method="newton",
        solver_options=None,
    ):
        if space.point_ndim != 1:
            raise ValueError(
                f"{type(self).__name__} needs points that are vectors, shape [dim]; "
                f"the space has point shape {space.shape}."
            )
        if not callable(log_factor):
            raise ValueError("log_factor must be callable.")
        if phi is not None and not callable(phi):
            raise ValueError("phi must be callable or None.")
        super().__init__(space)
        self._log_factor = log_factor
        self.phi = phi
        # Imported here: the solvers import this module for type checks.
        from geomstats_density.solvers import make_log_solver
        from geomstats_density.solvers.ode import GeodesicODESolver

        self.log_solver = make_log_solver(space, method, **(solver_options or {}))
        self.exp_solver = GeodesicODESolver(space)

    # ------------------------------------------------------------------
    # Tensor interface: torch in, torch out. Solvers use these directly.
    # ------------------------------------------------------------------
    def log_factor_tensor(self, points):
        """Validated log conformal factor ``f(z)``.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        log_factor : torch.Tensor, shape=[...]

        Raises
        ------
        ValueError
            If the callable returns the wrong shape.
        DomainError
            If a value is NaN or infinite.
        """
        values = self._log_factor(points)
        _check_scalar_field(values, points, "log_factor")
        finite = torch.isfinite(values)
        if not bool(finite.all()):
            index = tuple(int(i) for i in torch.nonzero(~finite)[0])
            raise DomainError(self._domain_error_message(points[index], values[index]))
        return values

    def log_factor_or_inf(self, points):
        """``f(z)`` where finite, ``+inf`` outside the domain (for graph searches).

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        log_factor : torch.Tensor, shape=[...]
        """
        values = self._log_factor(points)
        _check_scalar_field(values, points, "log_factor")
        return torch.where(torch.isfinite(values), values, torch.inf)

    def _domain_error_message(self, point, value):
        return f"log_factor is not finite ({value.item()}) at point {point.tolist()}."

    def log_factor_and_gradient(self, points):
        """``f(z)`` and ``grad f(z)``, each point on its own.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        log_factor : torch.Tensor, shape=[...]
        gradient : torch.Tensor, shape=[..., dim]
        """
        with torch.enable_grad():
            if not points.requires_grad:
                points = points.detach().requires_grad_(True)
            values = self.log_factor_tensor(points)
            return values, _gradient(values, points)

    def phi_jacobian(self, points):
        """Jacobian of ``phi`` at each point, shape ``[..., m, dim]``."""
        dim = points.shape[-1]
        columns = [
            torch.func.jvp(self.phi, (points,), (basis.expand_as(points),))[1]
            for basis in torch.eye(dim, dtype=points.dtype)
        ]
        return torch.stack(columns, dim=-1)

    def _phi_second_derivative(self, points, vector_a, vector_b):
        """``D^2 phi(z)[a, b]``, shape ``[..., m]``."""

        def directional(z):
            return torch.func.jvp(self.phi, (z,), (vector_b,))[1]

        return torch.func.jvp(directional, (points,), (vector_a,))[1]

    def base_metric_matrix_tensor(self, points):
        """``G_0(z)``: identity or ``J_phi^T J_phi``, shape ``[..., dim, dim]``."""
        dim = points.shape[-1]
        if self.phi is None:
            return torch.eye(dim, dtype=points.dtype).expand(*points.shape, dim)
        jacobian = self.phi_jacobian(points)
        return jacobian.transpose(-1, -2) @ jacobian

    def image_tensor(self, points):
        """``phi(z)``, or ``z`` itself when ``phi`` is the identity."""
        return points if self.phi is None else self.phi(points)

    def segment_sq_lengths(self, left, right):
        """Squared length estimates of curve pieces ``[left, right]`` (the paper's Eq. 5).

        ``exp(f(mid)) * |phi(right) - phi(left)|^2``, with ``mid`` the chord midpoint.

        Parameters
        ----------
        left, right : torch.Tensor, shape=[..., dim]

        Returns
        -------
        sq_lengths : torch.Tensor, shape=[...]
        """
        chord = self.image_tensor(right) - self.image_tensor(left)
        return torch.exp(self.log_factor_tensor(0.5 * (left + right))) * (chord * chord).sum(-1)

    def curve_sq_lengths(self, nodes):
        """Squared length estimates of the pieces of polygonal curves.

        Same values as :meth:`segment_sq_lengths` on consecutive nodes, with ``phi``
        evaluated once per node.

        Parameters
        ----------
        nodes : torch.Tensor, shape=[..., n_nodes, dim]

        Returns
        -------
        sq_lengths : torch.Tensor, shape=[..., n_nodes - 1]
        """
        image = self.image_tensor(nodes)
        chord = image[..., 1:, :] - image[..., :-1, :]
        mid = 0.5 * (nodes[..., 1:, :] + nodes[..., :-1, :])
        return torch.exp(self.log_factor_tensor(mid)) * (chord * chord).sum(-1)

    def geodesic_acceleration(self, position, velocity):
        r"""Closed-form ``-Gamma(z)(v, v)`` of the conformal metric.

        With ``g = e^f G_0``: ``Gamma(v, v) = Gamma_0(v, v) + (grad f . v) v
        - 1/2 |v|_{G_0}^2 G_0^{-1} grad f``, and for ``G_0 = J^T J``,
        ``Gamma_0(v, v) = G_0^{-1} J^T D^2 phi[v, v]``.

        Parameters
        ----------
        position, velocity : torch.Tensor, shape=[..., dim]

        Returns
        -------
        acceleration : torch.Tensor, shape=[..., dim]
        """
        _, grad_f = self.log_factor_and_gradient(position)
        slope = (grad_f * velocity).sum(-1, keepdim=True)
        if self.phi is None:
            sq_speed = (velocity * velocity).sum(-1, keepdim=True)
            return 0.5 * sq_speed * grad_f - slope * velocity
        jacobian = self.phi_jacobian(position)
        image_velocity = (jacobian @ velocity.unsqueeze(-1)).squeeze(-1)
        sq_speed = (image_velocity * image_velocity).sum(-1, keepdim=True)
        curvature = self._phi_second_derivative(position, velocity, velocity)
        force = (jacobian.transpose(-1, -2) @ curvature.unsqueeze(-1)).squeeze(-1)
        base = jacobian.transpose(-1, -2) @ jacobian
        rhs = (force - 0.5 * sq_speed * grad_f).unsqueeze(-1)
        return -torch.linalg.solve(base, rhs).squeeze(-1) - slope * velocity

    # ------------------------------------------------------------------
    # geomstats interface: backend arrays in, backend arrays out.
    # ------------------------------------------------------------------
    def _points(self, points, name="base_point"):
        return check_points(points, self._space.dim, name)

    def log_factor(self, base_point):
        """Log conformal factor ``f(z)``.

        Parameters
        ----------
        base_point : array-like, shape=[..., dim]

        Returns
        -------
        log_factor : array-like, shape=[...]
        """
        return to_backend(self.log_factor_tensor(self._points(base_point)))

    def metric_matrix(self, base_point=None):
        """Metric matrix ``e^{f(z)} G_0(z)``.

        Parameters
        ----------
        base_point : array-like, shape=[..., dim]

        Returns
        -------
        mat : array-like, shape=[..., dim, dim]
        """
        points = self._points(base_point)
        factor = torch.exp(self.log_factor_tensor(points))
        return to_backend(factor[..., None, None] * self.base_metric_matrix_tensor(points))

    def inner_product(self, tangent_vec_a, tangent_vec_b, base_point=None):
        """Inner product ``e^{f(z)} <J a, J b>``.

        Parameters
        ----------
        tangent_vec_a, tangent_vec_b : array-like, shape=[..., dim]
        base_point : array-like, shape=[..., dim]

        Returns
        -------
        inner_product : array-like, shape=[...]
        """
        points = self._points(base_point)
        vec_a = self._points(tangent_vec_a, "tangent_vec_a")
        vec_b = self._points(tangent_vec_b, "tangent_vec_b")
        if self.phi is not None:
            jacobian = self.phi_jacobian(points)
            vec_a = (jacobian @ vec_a.unsqueeze(-1)).squeeze(-1)
            vec_b = (jacobian @ vec_b.unsqueeze(-1)).squeeze(-1)
        factor = torch.exp(self.log_factor_tensor(points))
        return to_backend(factor * (vec_a * vec_b).sum(-1))

    def christoffels(self, base_point=None):
        r"""Christoffel symbols in closed form, contravariant index first.

        For ``g = e^f G_0``:
        ``Gamma^k_ij = Gamma0^k_ij + 1/2 (delta^k_i d_j f + delta^k_j d_i f
        - (G_0)_ij (G_0^{-1} grad f)^k)``, with ``Gamma0 = 0`` for ``G_0 = I``
        and ``G_0^{-1} J^T d_i d_j phi`` for a pull-back.

        Parameters
        ----------
        base_point : array-like, shape=[..., dim]

        Returns
        -------
        christoffels : array-like, shape=[..., dim, dim, dim]
        """
        points = self._points(base_point)
        dim = points.shape[-1]
        _, grad_f = self.log_factor_and_gradient(points)
        eye = torch.eye(dim, dtype=points.dtype)
        base = self.base_metric_matrix_tensor(points)
        raised_grad = grad_f
        if self.phi is not None:
            raised_grad = torch.linalg.solve(base, grad_f.unsqueeze(-1)).squeeze(-1)
        gamma = 0.5 * (
            eye[:, :, None] * grad_f[..., None, None, :]
            + eye[:, None, :] * grad_f[..., None, :, None]
            - base[..., None, :, :] * raised_grad[..., :, None, None]
        )
        if self.phi is not None:
            basis = [e_i.expand_as(points) for e_i in eye]
            hessian = torch.stack(
                [
                    torch.stack(
                        [self._phi_second_derivative(points, e_i, e_j) for e_j in basis],
                        dim=-1,
                    )
                    for e_i in basis
                ],
                dim=-2,
            )
            jacobian = self.phi_jacobian(points)
            projected = torch.einsum("...ml,...mij->...lij", jacobian, hessian)
            batch = points.shape[:-1]
            gamma = gamma + torch.linalg.solve(
                base, projected.reshape(*batch, dim, dim * dim)
            ).reshape(*batch, dim, dim, dim)
        return to_backend(gamma)

    def geodesic_equation(self, state):
        """Geodesic ODE, with the closed-form acceleration.

        Parameters
        ----------
        state : array-like, shape=[..., 2, dim]
            Position and velocity.

        Returns
        -------
        derivative : array-like, shape=[..., 2, dim]
            Velocity and acceleration.
        """
        state = to_torch(state)
        position, velocity = state[..., 0, :], state[..., 1, :]
        acceleration = self.geodesic_acceleration(position, velocity)
        return to_backend(torch.stack([velocity, acceleration], dim=-2))

    def squared_dist(self, point_a, point_b):
        """Squared geodesic distance.

        Parameters
        ----------
        point_a, point_b : array-like, shape=[..., dim]

        Returns
        -------
        sq_dist : array-like, shape=[...]
        """
        return self.dist(point_a, point_b) ** 2

    def dist(self, point_a, point_b):
        """Geodesic distance, from the boundary-value solver's length estimate.

        Solvers without a length estimate (geomstats' own) fall back to the norm of
        ``log``.

        Parameters
        ----------
        point_a, point_b : array-like, shape=[..., dim]

        Returns
        -------
        dist : array-like, shape=[...]
        """
        if not hasattr(self.log_solver, "solve"):
            return super().dist(point_a, point_b)
        return self.log_solver.solve(point_b, point_a).dist

    def dist_pairwise(self, points, n_jobs=1, **joblib_kwargs):
        """Pairwise distances, all pairs solved in one vectorised batch.

        Parameters
        ----------
        points : array-like, shape=[n_samples, dim]
        n_jobs : int
            Used only by solvers without batched distances (geomstats' own).
        **joblib_kwargs
            Passed to joblib with such solvers.

        Returns
        -------
        dist : array-like, shape=[n_samples, n_samples]
        """
        if not hasattr(self.log_solver, "solve"):
            return super().dist_pairwise(points, n_jobs=n_jobs, **joblib_kwargs)
        points = self._points(points, "points")
        if points.ndim != 2:
            raise ValueError(
                f"points must have shape [n_samples, dim], got {tuple(points.shape)}."
            )
        rows, cols = np.triu_indices(points.shape[0], k=1)
        upper = to_torch(self.dist(to_backend(points[cols]), to_backend(points[rows])))
        dist = torch.zeros(points.shape[0], points.shape[0], dtype=points.dtype)
        dist[rows, cols] = upper
        dist[cols, rows] = upper
        return to_backend(dist)


class DensityConformalMetric(ConformalMetric):
    r"""The paper's metric ``g_z = log(Q(z))^2 * G_0(z)`` for a quality ``Q``.

    Geodesics of this metric are the curves of maximal quality
    ``log q(gamma) = integral of log Q |d/dt phi(gamma)| dt = -L_g(gamma)``.

    Parameters
    ----------
    space : Manifold
        A vector space with points of shape ``[dim]``, e.g. ``Euclidean(dim)``.
    log_quality : callable
        ``log Q``: torch tensor ``[..., dim]`` to torch tensor ``[...]``, finite and
        strictly negative (``Q`` in (0, 1)) where curves go.
    phi : callable, optional
        Map whose image lengths are measured; identity by default.
    method, solver_options
        As in :class:`ConformalMetric`.
    """

    def __init__(
        self,
        space,
        log_quality,
        phi=None,
        method="newton",
        solver_options=None,
    ):
        if not callable(log_quality):
            raise ValueError("log_quality must be callable.")
        self.log_quality = log_quality
        super().__init__(
            space,
            log_factor=self._log_factor_from_quality,
            phi=phi,
            method=method,
            solver_options=solver_options,
        )

    def log_quality_tensor(self, points):
        """Validated ``log Q(z)``, shape ``[...]``.

        Raises
        ------
        ValueError
            If the callable returns the wrong shape.
        DomainError
            If ``log Q`` is NaN, infinite or not below 0 (``Q`` must be in (0, 1)).
        """
        values = self.log_quality(points)
        _check_scalar_field(values, points, "log_quality")
        valid = torch.isfinite(values) & (values < 0)
        if not bool(valid.all()):
            index = tuple(int(i) for i in torch.nonzero(~valid)[0])
            raise DomainError(self._domain_error_message(points[index], values[index]))
        return values

    def _log_factor_from_quality(self, points):
        log_quality = self.log_quality(points)
        _check_scalar_field(log_quality, points, "log_quality")
        # Not finite exactly where log Q is not in (-inf, 0).
        return 2.0 * torch.log(-log_quality)

    def _domain_error_message(self, point, value):
        log_quality = self.log_quality(point[None])[0].item()
        return (
            "log_quality must be finite and < 0 (quality strictly inside (0, 1)); "
            f"got {log_quality} at point {point.tolist()}."
        )

    def curve_log_quality(self, points):
        r"""The paper's curve quality ``log q(gamma)`` of a discretised curve.

        ``sum_i log Q(mid_i) * |phi(z_{i+1}) - phi(z_i)|``, which equals minus the
        curve's discrete length in this metric.

        Parameters
        ----------
        points : array-like, shape=[..., n_points, dim]
            Nodes of the curve, in order.

        Returns
        -------
        log_quality : array-like, shape=[...]
        """
        points = self._points(points, "points")
        if points.ndim < 2 or points.shape[-2] < 2:
            raise ValueError(
                f"points must have shape [..., n_points >= 2, dim], got "
                f"{tuple(points.shape)}."
            )
        left, right = points[..., :-1, :], points[..., 1:, :]
        mid = 0.5 * (left + right)
        chord = right - left if self.phi is None else self.phi(right) - self.phi(left)
        pieces = self.log_quality_tensor(mid) * torch.linalg.vector_norm(chord, dim=-1)
        return to_backend(pieces.sum(-1))

