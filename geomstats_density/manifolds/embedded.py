r"""Embedded manifolds: the interface of a manifold in ``R^m`` and its shared parts.

An :class:`EmbeddedManifold` gives, on flattened torch points ``[..., n_coords]``,
the base squared distance, geodesic midpoints, projections, the second
fundamental form and cut points, the pymanopt manifold that holds a batch of
curve nodes, and base geodesics through geomstats' own ``log`` and ``exp``.
:func:`sq_angle_from_half_chord` turns a chord into a squared angle, as both the
hypersphere and ``SO(3)`` measure their distances.
"""

import math

import geomstats.backend as gs
import numpy as np
import torch

from geomstats_density.backend import to_backend, to_numpy

# Endpoints whose half-angle cosine cos(theta / 2) is below this are treated as
# cut points (antipodal on the sphere, a half-turn apart on SO(3)): about
# sqrt(machine epsilon), where the base log stops being well conditioned.
CUT_TOLERANCE = 1.5e-8
# Below this squared half-chord, asin(sqrt(u))^2 uses its series: the exact form
# has a 0/0 derivative at u = 0.
_SERIES_BELOW = 1e-6


def sq_angle_from_half_chord(sq_half_chord):
    r"""``(2 asin(sqrt(u)))^2``, twice differentiable down to ``u = 0``.

    On the unit sphere ``u = |a - b|^2 / 4`` gives the squared great-circle
    distance: stable for close points, unlike ``arccos`` of a dot product.

    Parameters
    ----------
    sq_half_chord : torch.Tensor, shape=[...]

    Returns
    -------
    sq_angle : torch.Tensor, shape=[...]
    """
    u = torch.clamp(sq_half_chord, max=1.0)
    small = u < _SERIES_BELOW
    exact = torch.asin(torch.sqrt(torch.where(small, 0.5, u))) ** 2
    # asin(x)^2 = x^2 + x^4/3 + 8 x^6/45 + 4 x^8/35 + ...: error below u^5 here.
    series = u * (1.0 + u * (1.0 / 3.0 + u * (8.0 / 45.0 + u * 4.0 / 35.0)))
    return 4.0 * torch.where(small, series, exact)


class EmbeddedManifold:
    """A manifold in ``R^m`` whose metric is ``metric_scale`` times the induced one.

    Subclasses give, on flattened torch points ``[..., n_coords]``, the base
    squared distance, geodesic midpoints, projections, the second fundamental
    form, and the pymanopt power manifold that holds a batch of curve nodes.

    Parameters
    ----------
    space : Manifold
    base_metric : RiemannianMetric
        The space's own metric (geomstats), for base geodesics.

    Attributes
    ----------
    point_shape : tuple of int
        Shape of one point (geomstats' ``space.shape``).
    n_coords : int
        Number of ambient coordinates of a point.
    metric_scale : float
        ``g_0(u, v) = metric_scale * <u, v>`` for tangent vectors in ambient
        coordinates.
    """

    metric_scale = 1.0

    def __init__(self, space, base_metric):
        self.space = space
        self.base_metric = base_metric
        self.point_shape = tuple(space.shape)
        self.n_coords = math.prod(self.point_shape)

    @property
    def name(self):
        """The space, as geomstats builds it."""
        return f"{type(self.space).__name__}({self.space.dim})"

    def flatten(self, points):
        """``[..., *point_shape] -> [..., n_coords]``."""
        return points.reshape(*points.shape[: points.ndim - len(self.point_shape)], -1)

    def unflatten(self, points):
        """``[..., n_coords] -> [..., *point_shape]``."""
        return points.reshape(*points.shape[:-1], *self.point_shape)

    # Torch, flattened coordinates -------------------------------------
    def sq_dist(self, point_a, point_b):
        """Squared base distance, shape ``[...]``."""
        raise NotImplementedError

    def midpoint(self, point_a, point_b):
        """Base geodesic midpoint, shape ``[..., n_coords]``."""
        raise NotImplementedError

    def project(self, points):
        """Nearest points of the manifold, shape ``[..., n_coords]``."""
        raise NotImplementedError

    def to_tangent(self, vectors, points):
        """Orthogonal projection onto the tangent spaces, shape ``[..., n_coords]``."""
        raise NotImplementedError

    def normal_acceleration(self, points, velocities):
        """Second fundamental form ``II(v, v)``: a base geodesic's acceleration."""
        raise NotImplementedError

    def cos_half_angle(self, point_a, point_b):
        """``cos(d_0(a, b) / 2)``: 0 exactly at cut points, shape ``[...]``."""
        raise NotImplementedError

    def cut_velocity(self, point_a, point_b):
        """Velocity of one of the base geodesics joining cut points ``a`` and ``b``."""
        raise NotImplementedError

    # pymanopt ----------------------------------------------------------
    def manopt_manifold(self, n_points):
        """pymanopt manifold holding ``n_points`` points."""
        raise NotImplementedError

    def to_manopt(self, arrays):
        """``[n_points, n_coords]`` ndarray to pymanopt's layout (points or vectors)."""
        raise NotImplementedError

    def from_manopt(self, arrays):
        """pymanopt's layout to ``[n_points, n_coords]``."""
        raise NotImplementedError

    # geomstats ---------------------------------------------------------
    def _backend(self, points):
        return to_backend(self.unflatten(points))

    def belongs(self, points):
        """geomstats' membership test at its default tolerance, shape ``[...]``."""
        return to_numpy(self.space.belongs(self._backend(points))).astype(bool)

    def is_tangent(self, vectors, points):
        """geomstats' tangency test, tolerance relative to the vector's size."""
        size = torch.linalg.vector_norm(vectors, dim=-1).detach().max().item()
        tangent = self.space.is_tangent(
            self._backend(vectors),
            self._backend(points),
            atol=gs.atol * max(1.0, size),
        )
        return to_numpy(tangent).astype(bool)

    def base_geodesic_nodes(self, start, end, times):
        """Nodes of base geodesics, from geomstats' own ``log`` and ``exp``.

        Cut pairs get one of their geodesics (:meth:`cut_velocity`).

        Parameters
        ----------
        start, end : ndarray, shape=[batch, n_coords]
        times : ndarray, shape=[n_times]

        Returns
        -------
        nodes : ndarray, shape=[batch, n_times, n_coords]
        cut : ndarray of bool, shape=[batch]
            Which pairs are cut points.
        """
        start_t, end_t = torch.from_numpy(start), torch.from_numpy(end)
        cut = self.cos_half_angle(start_t, end_t) < CUT_TOLERANCE
        velocity = torch.zeros_like(start_t)
        if not cut.all():
            log = self.base_metric.log(self._backend(end_t[~cut]), self._backend(start_t[~cut]))
            velocity[~cut] = self.flatten(_real(log))
        if cut.any():
            velocity[cut] = self.cut_velocity(start_t[cut], end_t[cut])
        scaled = torch.from_numpy(times)[None, :, None] * velocity[:, None, :]
        nodes = self.base_metric.exp(
            self._backend(scaled), self._backend(start_t[:, None, :].expand(scaled.shape))
        )
        nodes = to_numpy(self.project(self.flatten(_real(nodes))))
        nodes[:, 0], nodes[:, -1] = start, end
        return nodes, cut.numpy()


def _real(array):
    """A float64 tensor of the real part (geomstats' SO(3) log goes through complex logm)."""
    tensor = array if isinstance(array, torch.Tensor) else torch.from_numpy(np.asarray(array))
    return (tensor.real if tensor.is_complex() else tensor).detach().to(torch.float64)
