"""Hyperspheres and ``SO(3)`` in flattened ambient coordinates."""

import geomstats.backend as gs
import numpy as np
import torch

from geomstats_density._validation import check_points
from geomstats_density.backend import to_backend, to_torch
from geomstats_density.geometry.base import BaseGeometry


class EmbeddedGeometry(BaseGeometry):
    """A hypersphere or ``SO(3)`` in flattened ambient coordinates.

    Pieces are measured by the manifold's own distance with the factor at the
    base geodesic midpoint; boundary-value problems go to the manifold solver.

    Parameters
    ----------
    space : Manifold
    base_metric : RiemannianMetric
    manifold : EmbeddedManifold
        The manifold's operations on ambient coordinates.
    """

    has_chart = False

    def __init__(self, space, base_metric, manifold):
        super().__init__(space, base_metric)
        self.manifold = manifold
        self.name = manifold.name
        self.quadrature_rule = None

    def coordinates(self, array, name):
        """Flattened ambient coordinates, the shape checked against ``space.shape``."""
        manifold = self.manifold
        tensor = to_torch(array)
        n_axes = len(manifold.point_shape)
        if tensor.ndim < n_axes or tuple(tensor.shape[tensor.ndim - n_axes :]) != (
            manifold.point_shape
        ):
            shape = ", ".join(str(size) for size in manifold.point_shape)
            raise ValueError(
                f"{name} must have shape [..., {shape}], got shape {tuple(tensor.shape)}."
            )
        return check_points(manifold.flatten(tensor), manifold.n_coords, name)

    def check_membership(self, coordinates, name):
        """geomstats' ``belongs`` at its default tolerance."""
        on_manifold = np.reshape(self.manifold.belongs(coordinates), -1)
        if not on_manifold.all():
            point = coordinates.reshape(-1, coordinates.shape[-1])[np.argmin(on_manifold)]
            raise ValueError(
                f"{name} is not on the {self.name} (geomstats' belongs, "
                f"atol={gs.atol}): {self.manifold.unflatten(point).detach().tolist()}."
            )

    def from_coordinates(self, coordinates):
        """Points of shape ``space.shape`` from their flattened coordinates."""
        return self.manifold.unflatten(coordinates)

    def to_coordinates(self, points):
        """Flattened coordinates of points of shape ``space.shape``."""
        return self.manifold.flatten(points)

    def project(self, points):
        """The nearest points of the manifold."""
        return self.manifold.project(points)

    def to_tangent(self, vectors, points):
        """The orthogonal projection onto the tangent spaces."""
        return self.manifold.to_tangent(vectors, points)

    def require_chart(self, what):
        """Raise: points have ambient coordinates, not a chart."""
        raise NotImplementedError(
            f"{what} need a chart; points of {self.name} have ambient "
            "coordinates. geodesic_equation gives the geodesic ODE in them."
        )

    def closed_form_jet(self, user_jet, points):
        """None: the factor is differentiated by autodiff in ambient coordinates."""
        return None

    def segment_sq_lengths(self, log_factor, left, right):
        """``exp(f(mid)) d_0(left, right)^2``, ``mid`` the base geodesic midpoint."""
        return torch.exp(log_factor(self.manifold.midpoint(left, right))) * (
            self.manifold.sq_dist(left, right)
        )

    def curve_sq_lengths(self, log_factor, nodes):
        """:meth:`segment_sq_lengths` of consecutive nodes."""
        return self.segment_sq_lengths(log_factor, nodes[..., :-1, :], nodes[..., 1:, :])

    def piece_midpoints_and_lengths(self, nodes):
        """Base geodesic midpoints and base distances of consecutive nodes."""
        left, right = nodes[..., :-1, :], nodes[..., 1:, :]
        return self.manifold.midpoint(left, right), torch.sqrt(self.manifold.sq_dist(left, right))

    def base_metric_matrix(self, points):
        """geomstats' base matrix in ambient coordinates (none for ``SO(3)``)."""
        matrix = self.base_metric.metric_matrix(to_backend(self.from_coordinates(points)))
        return to_torch(gs.copy(matrix))

    def base_inner_product(self, points, vec_a, vec_b):
        """geomstats' base inner product."""
        values = self.base_metric.inner_product(
            *(to_backend(self.from_coordinates(v)) for v in (vec_a, vec_b, points))
        )
        return to_torch(gs.copy(values))

    def sharp(self, points, covectors, factor):
        """The tangent part of the covector over ``metric_scale * factor``."""
        tangent = self.manifold.to_tangent(covectors, points)
        return tangent / (self.manifold.metric_scale * factor)

    def geodesic_acceleration(self, position, velocity, grad_f):
        """``P(1/2 |v|^2 grad f) - (grad f . v) v + II(v, v)`` in ambient coordinates."""
        slope = (grad_f * velocity).sum(-1, keepdim=True)
        sq_speed = (velocity * velocity).sum(-1, keepdim=True)
        return (
            0.5 * sq_speed * self.manifold.to_tangent(grad_f, position)
            - slope * velocity
            + self.manifold.normal_acceleration(position, velocity)
        )

    def christoffel_map(self, log_factor, points, grad_f, vec_a, vec_b):
        """``1/2 ((grad f . a) b + (grad f . b) a - (a . b) P grad f) - II(a, b)``."""
        points = points.expand(grad_f.shape)
        manifold = self.manifold

        def normal(vector):
            return manifold.normal_acceleration(points, vector)

        # II is bilinear and symmetric: polarisation of II(v, v).
        second_form = 0.5 * (normal(vec_a + vec_b) - normal(vec_a) - normal(vec_b))
        tangent_gradient = manifold.to_tangent(grad_f, points)
        return (
            0.5
            * (
                (grad_f * vec_a).sum(-1, keepdim=True) * vec_b
                + (grad_f * vec_b).sum(-1, keepdim=True) * vec_a
                - (vec_a * vec_b).sum(-1, keepdim=True) * tangent_gradient
            )
            - second_form
        )

    def make_solvers(self, space, method, options):
        """The manifold solvers: ``'manopt'`` (the default and only method)."""
        from geomstats_density.solvers.manifold import ManifoldExpSolver, ManifoldGeodesicSolver

        if method not in (None, "manopt"):
            raise ValueError(
                f"method must be one of ['manopt'] on {self.name}, whose points "
                f"stay on the manifold; got {method!r}."
            )
        return ManifoldGeodesicSolver(space, **options), ManifoldExpSolver(space)
