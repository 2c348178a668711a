"""Rotation matrices ``SO(3)``, geomstats' ``SpecialOrthogonal(3)``, as embedded."""

import math

import torch

from geomstats_density.manifolds.embedded import EmbeddedManifold, sq_angle_from_half_chord


def _skew(matrices):
    return 0.5 * (matrices - matrices.transpose(-1, -2))


class Rotations(EmbeddedManifold):
    """Rotation matrices ``SO(3)`` with geomstats' bi-invariant metric.

    geomstats' metric is half the Frobenius inner product, so the distance is
    the rotation angle ``theta`` of ``A^T B``; from the chord,
    ``|A - B|_F^2 = 8 sin^2(theta / 2)``.
    """

    metric_scale = 0.5
    name = "SpecialOrthogonal(3)"

    def sq_dist(self, point_a, point_b):
        """Squared rotation angle of ``A^T B``, from ``|A - B|_F^2 = 8 sin^2(theta / 2)``.

        As on the sphere, the chord keeps digits for close rotations and
        :func:`sq_angle_from_half_chord` stays twice differentiable at ``A = B``.

        Parameters
        ----------
        point_a, point_b : torch.Tensor, shape=[..., 9]
            Flattened rotation matrices.

        Returns
        -------
        sq_dist : torch.Tensor, shape=[...]
        """
        diff = point_a - point_b
        return sq_angle_from_half_chord((diff * diff).sum(-1) / 8.0)

    def _relative(self, point_a, point_b):
        a, b = self.unflatten(point_a), self.unflatten(point_b)
        return a, a.transpose(-1, -2) @ b

    def midpoint(self, point_a, point_b):
        """Geodesic midpoint ``A exp(log(A^T B) / 2)``, in closed form.

        Parameters
        ----------
        point_a, point_b : torch.Tensor, shape=[..., 9]
            Flattened rotation matrices, not a half-turn apart.

        Returns
        -------
        midpoint : torch.Tensor, shape=[..., 9]
        """
        # A exp(log(A^T B) / 2) in closed form: with R = A^T B, K = (R - R^T)/2
        # and h = cos(theta/2), it is A (I + K / (2h) + K^2 / (4 h^2 (1 + h))).
        a, relative = self._relative(point_a, point_b)
        trace = torch.diagonal(relative, dim1=-2, dim2=-1).sum(-1)
        h = torch.sqrt(torch.clamp(0.25 * (1.0 + trace), min=1e-300))[..., None, None]
        skew = _skew(relative)
        eye = torch.eye(3, dtype=relative.dtype)
        half = eye + skew / (2.0 * h) + skew @ skew / (4.0 * h * h * (1.0 + h))
        return self.flatten(a @ half)

    def project(self, points):
        """Nearest rotations in the Frobenius norm: ``U V^T`` from the SVD, sign-corrected.

        The last column of ``U`` changes sign where ``det(U V^T) = -1``, so the result is
        a rotation, not a reflection.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., 9]
            Flattened 3 x 3 matrices.

        Returns
        -------
        projected : torch.Tensor, shape=[..., 9]
        """
        u, _, vh = torch.linalg.svd(self.unflatten(points))
        sign = torch.sign(torch.linalg.det(u @ vh))
        u = torch.cat([u[..., :, :2], u[..., :, 2:] * sign[..., None, None]], dim=-1)
        return self.flatten(u @ vh)

    def to_tangent(self, vectors, points):
        """Orthogonal projection onto the tangent spaces: ``A skew(A^T V)``.

        Parameters
        ----------
        vectors : torch.Tensor, shape=[..., 9]
            Flattened 3 x 3 matrices.
        points : torch.Tensor, shape=[..., 9]
            Flattened rotation matrices.

        Returns
        -------
        tangent : torch.Tensor, shape=[..., 9]
        """
        rotation = self.unflatten(points)
        return self.flatten(rotation @ _skew(rotation.transpose(-1, -2) @ self.unflatten(vectors)))

    def normal_acceleration(self, points, velocities):
        """Acceleration of the base geodesics ``A exp(t K)``: ``A K^2 = V A^T V``.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., 9]
            Flattened rotation matrices.
        velocities : torch.Tensor, shape=[..., 9]
            Flattened tangent vectors ``V = A K`` at ``points``.

        Returns
        -------
        acceleration : torch.Tensor, shape=[..., 9]
        """
        # Base geodesics A exp(tK) have acceleration A K^2 = V A^T V.
        velocity = self.unflatten(velocities)
        return self.flatten(velocity @ self.unflatten(points).transpose(-1, -2) @ velocity)

    def cos_half_angle(self, point_a, point_b):
        """``cos(theta / 2) = sqrt((1 + tr(A^T B)) / 4)``: 0 exactly a half-turn apart.

        Parameters
        ----------
        point_a, point_b : torch.Tensor, shape=[..., 9]
            Flattened rotation matrices.

        Returns
        -------
        cos_half_angle : torch.Tensor, shape=[...]
        """
        _, relative = self._relative(point_a, point_b)
        trace = torch.diagonal(relative, dim1=-2, dim2=-1).sum(-1)
        return torch.sqrt(torch.clamp(0.25 * (1.0 + trace), min=0.0))

    def cut_velocity(self, point_a, point_b):
        """Velocity ``pi A [w]_x`` of one of the half-turns from ``A`` to ``B``.

        ``A^T B = 2 w w^T - I`` is a half-turn about the unit axis ``w``, read from the
        largest column of ``A^T B + I``; ``[w]_x`` is its cross-product matrix.

        Parameters
        ----------
        point_a, point_b : torch.Tensor, shape=[n_cut, 9]
            Flattened rotation matrices a half-turn apart.

        Returns
        -------
        velocity : torch.Tensor, shape=[n_cut, 9]
        """
        # A half-turn R = 2 w w^T - I: its axis w is the largest column of R + I.
        a, relative = self._relative(point_a, point_b)
        columns = relative + torch.eye(3, dtype=relative.dtype)
        best = torch.argmax(torch.linalg.vector_norm(columns, dim=-2), dim=-1)
        axis = columns[torch.arange(columns.shape[0]), :, best]
        axis = axis / torch.linalg.vector_norm(axis, dim=-1, keepdim=True)
        zero = torch.zeros_like(axis[..., 0])
        x, y, z = axis.unbind(-1)
        generator = torch.stack(
            [
                torch.stack([zero, -z, y], -1),
                torch.stack([z, zero, -x], -1),
                torch.stack([-y, x, zero], -1),
            ],
            dim=-2,
        )
        return self.flatten(math.pi * a @ generator)

    def manopt_manifold(self, n_points):
        """pymanopt's ``SpecialOrthogonalGroup(3, k=n_points)`` with the polar retraction.

        Parameters
        ----------
        n_points : int

        Returns
        -------
        manifold : pymanopt.manifolds.SpecialOrthogonalGroup
        """
        from pymanopt.manifolds import SpecialOrthogonalGroup

        return SpecialOrthogonalGroup(3, k=n_points, retraction="polar")

    def to_manopt(self, arrays):
        """``[n_points, 9]`` to pymanopt's ``[n_points, 3, 3]``, or ``[3, 3]`` for one point.

        Parameters
        ----------
        arrays : ndarray, shape=[n_points, 9]
            Points or tangent vectors.

        Returns
        -------
        matrices : ndarray, shape=[n_points, 3, 3] or [3, 3]
        """
        matrices = arrays.reshape(-1, 3, 3)
        return matrices[0] if matrices.shape[0] == 1 else matrices

    def from_manopt(self, arrays):
        """pymanopt's ``[n_points, 3, 3]`` (or ``[3, 3]``) to ``[n_points, 9]``.

        Parameters
        ----------
        arrays : ndarray, shape=[n_points, 3, 3] or [3, 3]
            Points or tangent vectors.

        Returns
        -------
        flat : ndarray, shape=[n_points, 9]
        """
        return arrays.reshape(-1, self.n_coords)
