"""The unit hypersphere ``S^n`` in ``R^{n+1}``, geomstats' ``Hypersphere``, as embedded."""

import math

import numpy as np
import torch

from geomstats_density.manifolds.embedded import EmbeddedManifold, sq_angle_from_half_chord


class Sphere(EmbeddedManifold):
    """The unit hypersphere ``S^n`` in ``R^{n+1}`` (geomstats' ``Hypersphere``)."""

    def sq_dist(self, point_a, point_b):
        """Squared great-circle distance, from the half chord ``|a - b| / 2 = sin(theta / 2)``.

        The chord keeps digits for close points, where ``arccos`` of the dot product
        loses half of them, and :func:`sq_angle_from_half_chord` stays twice
        differentiable down to ``a = b``.

        Parameters
        ----------
        point_a, point_b : torch.Tensor, shape=[..., n_coords]
            Unit vectors.

        Returns
        -------
        sq_dist : torch.Tensor, shape=[...]
        """
        diff = point_a - point_b
        return sq_angle_from_half_chord(0.25 * (diff * diff).sum(-1))

    def midpoint(self, point_a, point_b):
        """Great-circle midpoint: ``a + b`` normalised.

        Parameters
        ----------
        point_a, point_b : torch.Tensor, shape=[..., n_coords]
            Unit vectors, not antipodal.

        Returns
        -------
        midpoint : torch.Tensor, shape=[..., n_coords]
        """
        return self.project(point_a + point_b)

    def project(self, points):
        """Nearest points of the sphere: the points divided by their norms.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., n_coords]
            Non-zero vectors.

        Returns
        -------
        projected : torch.Tensor, shape=[..., n_coords]
        """
        return points / torch.linalg.vector_norm(points, dim=-1, keepdim=True)

    def to_tangent(self, vectors, points):
        """Orthogonal projection onto the tangent spaces: ``v - <v, p> p``.

        Parameters
        ----------
        vectors : torch.Tensor, shape=[..., n_coords]
        points : torch.Tensor, shape=[..., n_coords]
            Unit vectors.

        Returns
        -------
        tangent : torch.Tensor, shape=[..., n_coords]
        """
        return vectors - (vectors * points).sum(-1, keepdim=True) * points

    def normal_acceleration(self, points, velocities):
        """Acceleration of the great circles, ``II(v, v) = -|v|^2 p``.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., n_coords]
            Unit vectors.
        velocities : torch.Tensor, shape=[..., n_coords]
            Tangent at ``points``.

        Returns
        -------
        acceleration : torch.Tensor, shape=[..., n_coords]
        """
        return -(velocities * velocities).sum(-1, keepdim=True) * points

    def cos_half_angle(self, point_a, point_b):
        """``cos(theta / 2) = |a + b| / 2``: 0 exactly for antipodal points.

        Parameters
        ----------
        point_a, point_b : torch.Tensor, shape=[..., n_coords]
            Unit vectors.

        Returns
        -------
        cos_half_angle : torch.Tensor, shape=[...]
        """
        return 0.5 * torch.linalg.vector_norm(point_a + point_b, dim=-1)

    def cut_velocity(self, point_a, point_b):
        """Velocity of one of the half great circles from ``a`` to its antipode ``b``.

        The circle heads for the coordinate axis least aligned with ``a``, whose
        tangent component is then far from zero; its length is ``pi``.

        Parameters
        ----------
        point_a, point_b : torch.Tensor, shape=[n_cut, n_coords]
            Antipodal unit vectors (``b`` is ``-a`` and is not read).

        Returns
        -------
        velocity : torch.Tensor, shape=[n_cut, n_coords]
        """
        # Half a great circle towards the axis least aligned with a.
        axis = torch.argmin(point_a.abs(), dim=-1)
        direction = self.to_tangent(
            torch.nn.functional.one_hot(axis, point_a.shape[-1]).to(point_a.dtype), point_a
        )
        return math.pi * direction / torch.linalg.vector_norm(direction, dim=-1, keepdim=True)

    def manopt_manifold(self, n_points):
        """pymanopt's ``Oblique(n_coords, n_points)``: ``n_points`` unit columns.

        Parameters
        ----------
        n_points : int

        Returns
        -------
        manifold : pymanopt.manifolds.Oblique
        """
        from pymanopt.manifolds import Oblique

        return Oblique(self.n_coords, n_points)

    def to_manopt(self, arrays):
        """``[n_points, n_coords]`` to the oblique manifold's ``[n_coords, n_points]``.

        Parameters
        ----------
        arrays : ndarray, shape=[n_points, n_coords]
            Points or tangent vectors.

        Returns
        -------
        columns : ndarray, shape=[n_coords, n_points]
            C-contiguous, one point per column.
        """
        # Oblique(m, k): one unit column per point.
        return np.ascontiguousarray(arrays.T)

    def from_manopt(self, arrays):
        """The oblique manifold's ``[n_coords, n_points]`` to ``[n_points, n_coords]``.

        Parameters
        ----------
        arrays : ndarray, shape=[n_coords, n_points]
            Points or tangent vectors, one per column.

        Returns
        -------
        rows : ndarray, shape=[n_points, n_coords]
            C-contiguous.
        """
        return np.ascontiguousarray(arrays.T)
