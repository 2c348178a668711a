"""Geometries in a chart of ``R^n``: Euclidean, Poincare models, matrices, pull-backs."""

import torch

from geomstats_density._linalg import solve_positive_definite
from geomstats_density.curvature import (
    christoffel_product,
    conformal_curvature,
    conformal_ricci,
    conformal_scalar_curvature,
    directional_derivative,
)
from geomstats_density.geometry.base import BaseGeometry
from geomstats_density.jets import autodiff_jet

# Points per phi call when a Jacobian is built from forward-mode products.
JACOBIAN_BATCH = 4096


def _conformal_christoffels(grad_f, raised_grad, base):
    """The factor's part ``1/2 (delta_i^k d_j f + delta_j^k d_i f - G0_ij (G0^-1 grad f)^k)``."""
    eye = torch.eye(grad_f.shape[-1], dtype=grad_f.dtype)
    return 0.5 * (
        eye[:, :, None] * grad_f[..., None, None, :]
        + eye[:, None, :] * grad_f[..., None, :, None]
        - base[..., None, :, :] * raised_grad[..., :, None, None]
    )


class EuclideanGeometry(BaseGeometry):
    """``g_0 = I`` on a vector space: pieces are Euclidean chords.

    Parameters
    ----------
    space : Manifold
    base_metric : RiemannianMetric
    quadrature : {'simpson', 'midpoint'}
    """

    euclidean_chords = True

    def base_metric_matrix(self, points):
        """The identity, shape ``[..., dim, dim]``."""
        dim = points.shape[-1]
        return torch.eye(dim, dtype=points.dtype).expand(*points.shape, dim)

    def base_inner_product(self, points, vec_a, vec_b):
        """``a . b``, shape ``[...]``."""
        return (vec_a * vec_b).sum(-1)

    def sharp(self, points, covectors, factor):
        """``covector / factor``, shape ``[..., dim]``."""
        return covectors / factor

    def geodesic_acceleration(self, position, velocity, grad_f):
        r"""``1/2 |v|^2 grad f - (grad f . v) v``, shape ``[..., dim]``."""
        slope = (grad_f * velocity).sum(-1, keepdim=True)
        sq_speed = (velocity * velocity).sum(-1, keepdim=True)
        return 0.5 * sq_speed * grad_f - slope * velocity

    def christoffel_map(self, log_factor, points, grad_f, vec_a, vec_b):
        """``1/2 ((grad f . a) b + (grad f . b) a - (a . b) grad f)``, shape ``[..., dim]``."""
        return christoffel_product(grad_f, vec_a, vec_b)

    def christoffels(self, points, grad_f):
        """The closed form of ``e^f I``, shape ``[..., dim, dim, dim]``."""
        return _conformal_christoffels(grad_f, grad_f, self.base_metric_matrix(points))

    def metric_matrix_derivative(self, metric, points):
        """``e^f delta_ij d_k f`` in closed form, shape ``[..., dim, dim, dim]``."""
        eye = torch.eye(points.shape[-1], dtype=points.dtype)
        values, grad_f = metric.log_factor_and_gradient(points)
        derivative = torch.exp(values)[..., None, None, None] * (
            eye[:, :, None] * grad_f[..., None, None, :]
        )
        return derivative.detach()

    def curvature(self, metric, points, vec_x, vec_y, vec_z):
        """``R(x, y) z`` of ``e^F I`` in closed form from the log-factor's jet."""
        jet = metric.log_factor_jet(points)
        return conformal_curvature(jet.gradient, jet.hessian, vec_x, vec_y, vec_z)

    def ricci(self, metric, points):
        """The Ricci tensor of ``e^F I`` in closed form, shape ``[..., dim, dim]``."""
        jet = metric.log_factor_jet(points)
        return conformal_ricci(jet.gradient, jet.hessian)

    def scalar_curvature(self, metric, points):
        """The scalar curvature of ``e^F I`` in closed form, shape ``[...]``."""
        jet = metric.log_factor_jet(points)
        return conformal_scalar_curvature(jet.value, jet.gradient, jet.hessian)


class ConformallyFlatGeometry(EuclideanGeometry):
    """A Poincare model ``g_0 = e^h I``: ``h`` is added to the log-factor, the rest is Euclidean.

    Parameters
    ----------
    space : Manifold
    base_metric : RiemannianMetric
    model : ConformallyFlat
        The model's own log-factor ``h`` and domain.
    quadrature : {'simpson', 'midpoint'}
    """

    def __init__(self, space, base_metric, model, quadrature="simpson"):
        super().__init__(space, base_metric, quadrature)
        self.model = model
        self.name = model.name

    def add_model_log_factor(self, values, points):
        """``f + h``, shape ``[...]``."""
        return values + self.model.log_factor(points)

    def remove_model_log_factor(self, values, points):
        """``(f + h) - h``, shape ``[...]``."""
        return values - self.model.log_factor(points)

    def closed_form_jet(self, user_jet, points):
        """The user's jet plus ``h``'s (by autodiff), or None."""
        jet = user_jet(points)
        return None if jet is None else jet + autodiff_jet(self.model.log_factor, points)

    def outside_message(self, point):
        """The model's domain where ``h`` is not finite at the point."""
        if bool(torch.isfinite(self.model.log_factor(point))):
            return None
        return f"point {point.tolist()} is outside the {self.name}: {self.model.domain}."

    def piece_midpoints_and_lengths(self, nodes):
        """Chord midpoints and chords times ``e^{h(mid)/2}``."""
        mid, chords = super().piece_midpoints_and_lengths(nodes)
        return mid, torch.exp(0.5 * self.model.log_factor(mid)) * chords


class MatrixGeometry(BaseGeometry):
    """A base metric given by its matrix ``G_0(z)`` in a chart (:meth:`base_metric_matrix`).

    The connection comes from Koszul's formula by autodiff; subclasses with a
    closed form override :meth:`christoffel_map`.
    """

    def base_inner_product(self, points, vec_a, vec_b):
        """``a^T G_0 b``, shape ``[...]``."""
        matrix = self.base_metric_matrix(points)
        return torch.einsum("...i,...ij,...j->...", vec_a, matrix, vec_b)

    def sharp(self, points, covectors, factor):
        """``G_0^{-1} covector / factor`` (a Cholesky solve), shape ``[..., dim]``."""
        base = self.base_metric_matrix(points)
        return solve_positive_definite(base, covectors.unsqueeze(-1)).squeeze(-1) / factor

    def christoffel_map(self, log_factor, points, grad_f, vec_a, vec_b):
        """``Gamma(a, b) = 1/2 G^{-1} (dG[a] b + dG[b] a - grad (a^T G b))`` by autodiff."""
        points = points.expand(grad_f.shape)

        def matrices(at):
            factor = torch.exp(log_factor(at))[..., None, None]
            return factor * self.base_metric_matrix(at)

        def times(vector):
            return lambda at: (matrices(at) @ vector.unsqueeze(-1)).squeeze(-1)

        with torch.enable_grad():
            if not points.requires_grad:
                points = points.detach().requires_grad_(True)
            matrix = matrices(points)
            pairing = torch.einsum("...i,...ij,...j->...", vec_a, matrix, vec_b)
            (gradient,) = torch.autograd.grad(pairing.sum(), points, create_graph=True)
            lowered = (
                directional_derivative(times(vec_b), points, vec_a)
                + directional_derivative(times(vec_a), points, vec_b)
                - gradient
            )
        return 0.5 * solve_positive_definite(matrix, lowered.unsqueeze(-1)).squeeze(-1)


class PullbackGeometry(MatrixGeometry):
    """``g_0 = J_phi^T J_phi``: the Euclidean inner product pulled back through ``phi``.

    Parameters
    ----------
    space : Manifold
    base_metric : RiemannianMetric
    phi : callable
        Map ``[..., dim] -> [..., m]``, torch in and out, differentiable twice.
    quadrature : {'simpson', 'midpoint'}
    """

    image_chords = True

    def __init__(self, space, base_metric, phi, quadrature="simpson"):
        super().__init__(space, base_metric, quadrature)
        self.phi = phi

    def image(self, points):
        """``phi(z)``, shape ``[..., m]``."""
        return self.phi(points)

    def image_jacobian(self, points):
        """Jacobian of ``phi`` at each point, shape ``[..., m, dim]``.

        Columns come from forward-mode products, as many per ``phi`` call as
        keep the call within ``JACOBIAN_BATCH`` points.
        """
        dim = points.shape[-1]
        basis = torch.eye(dim, dtype=points.dtype)
        per_call = max(1, JACOBIAN_BATCH // max(1, points[..., 0].numel()))
        columns = []
        for begin in range(0, dim, per_call):
            directions = basis[begin : begin + per_call]
            repeated = points.unsqueeze(-2).expand(*points.shape[:-1], len(directions), dim)
            repeated = repeated.contiguous()
            _, products = torch.func.jvp(
                self.phi, (repeated,), (directions.expand_as(repeated).contiguous(),)
            )
            columns.append(products)
        return torch.cat(columns, dim=-2).transpose(-1, -2)

    def _second_derivative(self, points, vector_a, vector_b):
        """``D^2 phi(z)[a, b]``, shape ``[..., m]``."""

        def directional(z):
            return torch.func.jvp(self.phi, (z,), (vector_b,))[1]

        return torch.func.jvp(directional, (points,), (vector_a,))[1]

    def base_metric_matrix(self, points):
        """``J_phi^T J_phi``, shape ``[..., dim, dim]``."""
        jacobian = self.image_jacobian(points)
        return jacobian.transpose(-1, -2) @ jacobian

    def base_inner_product(self, points, vec_a, vec_b):
        """``<J a, J b>``, shape ``[...]``."""
        jacobian = self.image_jacobian(points)
        vec_a = (jacobian @ vec_a.unsqueeze(-1)).squeeze(-1)
        vec_b = (jacobian @ vec_b.unsqueeze(-1)).squeeze(-1)
        return (vec_a * vec_b).sum(-1)

    def geodesic_acceleration(self, position, velocity, grad_f):
        r"""``-G_0^{-1} (J^T D^2 phi[v, v] - 1/2 |J v|^2 grad f) - (grad f . v) v``."""
        slope = (grad_f * velocity).sum(-1, keepdim=True)
        jacobian = self.image_jacobian(position)
        image_velocity = (jacobian @ velocity.unsqueeze(-1)).squeeze(-1)
        sq_speed = (image_velocity * image_velocity).sum(-1, keepdim=True)
        curvature = self._second_derivative(position, velocity, velocity)
        force = (jacobian.transpose(-1, -2) @ curvature.unsqueeze(-1)).squeeze(-1)
        base = jacobian.transpose(-1, -2) @ jacobian
        rhs = (force - 0.5 * sq_speed * grad_f).unsqueeze(-1)
        return -torch.linalg.solve(base, rhs).squeeze(-1) - slope * velocity

    def christoffel_map(self, log_factor, points, grad_f, vec_a, vec_b):
        r"""``Gamma(a, b)`` of the pull-back in closed form, differentiable in the points.

        ``1/2 ((grad f . a) b + (grad f . b) a) + G_0^{-1} (J^T D^2 phi[a, b]
        - 1/2 <J a, J b> grad f)``.
        """
        shape = grad_f.shape
        # Derivatives of phi by reverse mode: differentiating torch.func's forward
        # mode again fails on some functions (vector_norm) in torch 2.13.
        with torch.enable_grad():
            if not points.requires_grad:
                points = points.detach().requires_grad_(True)
            points = points.expand(shape)
            dim = shape[-1]
            copies = points.unsqueeze(-2).expand(*shape[:-1], dim, dim).clone()
            eye = torch.eye(dim, dtype=points.dtype).expand(copies.shape)
            jacobian = directional_derivative(self.phi, copies, eye).transpose(-1, -2)
            second = directional_derivative(
                lambda at: directional_derivative(self.phi, at, vec_b), points, vec_a
            )
        image_a = (jacobian @ vec_a.unsqueeze(-1)).squeeze(-1)
        image_b = (jacobian @ vec_b.unsqueeze(-1)).squeeze(-1)
        rhs = (jacobian.transpose(-1, -2) @ second.unsqueeze(-1)).squeeze(-1) - 0.5 * (
            image_a * image_b
        ).sum(-1, keepdim=True) * grad_f
        base = jacobian.transpose(-1, -2) @ jacobian
        return solve_positive_definite(base, rhs.unsqueeze(-1)).squeeze(-1) + 0.5 * (
            (grad_f * vec_a).sum(-1, keepdim=True) * vec_b
            + (grad_f * vec_b).sum(-1, keepdim=True) * vec_a
        )

    def christoffels(self, points, grad_f):
        """The factor's part plus ``G_0^{-1} J^T d_i d_j phi``, shape ``[..., dim, dim, dim]``."""
        dim = points.shape[-1]
        base = self.base_metric_matrix(points)
        raised_grad = torch.linalg.solve(base, grad_f.unsqueeze(-1)).squeeze(-1)
        gamma = _conformal_christoffels(grad_f, raised_grad, base)
        basis = [e_i.expand_as(points) for e_i in torch.eye(dim, dtype=points.dtype)]
        hessian = torch.stack(
            [
                torch.stack([self._second_derivative(points, e_i, e_j) for e_j in basis], dim=-1)
                for e_i in basis
            ],
            dim=-2,
        )
        jacobian = self.image_jacobian(points)
        projected = torch.einsum("...ml,...mij->...lij", jacobian, hessian)
        batch = points.shape[:-1]
        return gamma + torch.linalg.solve(base, projected.reshape(*batch, dim, dim * dim)).reshape(
            *batch, dim, dim, dim
        )
