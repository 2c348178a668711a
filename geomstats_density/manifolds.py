r"""The base geometry ``g_0`` that a conformal metric ``g = e^f g_0`` rescales.

The spaces' own operations; :mod:`geomstats_density.geometry` builds on them
the one interface through which a conformal metric uses ``g_0``.

A space's own geomstats metric (``space.default_metric()``) is the base. Three
kinds are supported, each computed the way that is exact and fast for it:

- **Vector spaces** with the Euclidean metric (``Euclidean``, latent spaces):
  ``g_0 = I``, or a pull-back through a map ``phi``. :func:`base_geometry`
  returns no model object for them.
- **Conformally flat models** (:class:`ConformallyFlat`): the Poincare ball and
  half-space, whose metrics are ``e^{h(z)} I`` in their own coordinates. A
  factor ``e^f`` on top of them is ``e^{f + h} I``, a conformal metric on an
  open set of ``R^n``: the vector-space solvers apply with ``h`` folded into
  the log-factor.
- **Embedded manifolds** (:class:`EmbeddedManifold`): the hypersphere and the
  rotation matrices ``SO(3)``. Points are kept on the manifold, curve pieces are
  measured by the manifold's own geodesic distance, and boundary-value problems
  are solved on pymanopt's power manifolds
  (:class:`~geomstats_density.solvers.manifold.ManifoldGeodesicSolver`).

Embedded points enter torch code flattened, as ``[..., n_coords]`` ambient
coordinates (``n_coords = prod(space.shape)``: ``n + 1`` on ``Hypersphere(n)``,
9 on ``SO(3)``); the metric reshapes them at its geomstats door.
"""

import math

import geomstats.backend as gs
import numpy as np
import torch
from geomstats.geometry.euclidean import EuclideanMetric
from geomstats.geometry.hypersphere import HypersphereMetric
from geomstats.geometry.invariant_metric import BiInvariantMetric
from geomstats.geometry.poincare_ball import PoincareBallMetric
from geomstats.geometry.poincare_half_space import PoincareHalfSpaceMetric
from geomstats.geometry.special_orthogonal import _SpecialOrthogonalMatrices

from geomstats_density.backend import to_backend, to_numpy

LOG_4 = math.log(4.0)
# Endpoints whose half-angle cosine cos(theta / 2) is below this are treated as
# cut points (antipodal on the sphere, a half-turn apart on SO(3)): about
# sqrt(machine epsilon), where the base log stops being well conditioned.
CUT_TOLERANCE = 1.5e-8
# Below this squared half-chord, asin(sqrt(u))^2 uses its series: the exact form
# has a 0/0 derivative at u = 0.
_SERIES_BELOW = 1e-6


def default_metric(space):
    """The space's own geomstats metric, instantiated on it.

    Parameters
    ----------
    space : Manifold

    Returns
    -------
    metric : RiemannianMetric
    """
    try:
        default = space.default_metric()
    except (AttributeError, NotImplementedError, TypeError) as error:
        raise ValueError(
            f"{type(space).__name__} has no default geomstats metric to rescale: {error}"
        ) from None
    metric_class, kwargs = default if isinstance(default, tuple) else (default, {})
    return metric_class(space, **kwargs)


def base_geometry(space):
    """The base metric of a space and how conformal metrics treat it.

    Parameters
    ----------
    space : Manifold

    Returns
    -------
    base_metric : RiemannianMetric
        The space's own metric ``g_0``.
    model : ConformallyFlat, EmbeddedManifold or None
        None for vector spaces with the Euclidean metric
        (:func:`geomstats_density.geometry.geometry_for` gives them a geometry).

    Raises
    ------
    ValueError
        If the space is not one of the supported kinds.
    """
    base_metric = default_metric(space)
    if space.point_ndim == 1 and isinstance(base_metric, EuclideanMetric):
        return base_metric, None
    if isinstance(base_metric, PoincareBallMetric):
        return base_metric, POINCARE_BALL
    if isinstance(base_metric, PoincareHalfSpaceMetric):
        return base_metric, POINCARE_HALF_SPACE
    if isinstance(base_metric, HypersphereMetric) and space.shape == (space.dim + 1,):
        return base_metric, Sphere(space, base_metric)
    if (
        isinstance(space, _SpecialOrthogonalMatrices)
        and space.shape == (3, 3)
        and isinstance(base_metric, BiInvariantMetric)
    ):
        return base_metric, Rotations(space, base_metric)
    raise ValueError(
        "Conformal metrics rescale Euclidean vector spaces, PoincareBall, "
        "PoincareHalfSpace, Hypersphere and SpecialOrthogonal(3) (matrices); got "
        f"{type(space).__name__} with points of shape {space.shape} and the metric "
        f"{type(base_metric).__name__}."
    )


# ----------------------------------------------------------------------
# Conformally flat models
# ----------------------------------------------------------------------
class ConformallyFlat:
    """A model whose metric is ``e^{h(z)} I`` in its coordinates.

    Parameters
    ----------
    name : str
    log_factor : callable
        ``h``: torch ``[..., dim] -> [...]``, not finite outside the model.
    domain : str
        The model's points, for error messages.
    """

    def __init__(self, name, log_factor, domain):
        self.name = name
        self.log_factor = log_factor
        self.domain = domain


def _poincare_ball_log_factor(points):
    # g_0 = 4 / (1 - |z|^2)^2 I; log1p keeps digits near the centre, NaN outside.
    return LOG_4 - 2.0 * torch.log1p(-(points * points).sum(-1))


def _poincare_half_space_log_factor(points):
    # g_0 = I / z_n^2.
    return -2.0 * torch.log(points[..., -1])


POINCARE_BALL = ConformallyFlat(
    "PoincareBall", _poincare_ball_log_factor, "the open unit ball |z| < 1"
)
POINCARE_HALF_SPACE = ConformallyFlat(
    "PoincareHalfSpace", _poincare_half_space_log_factor, "the half-space z[-1] > 0"
)


# ----------------------------------------------------------------------
# Embedded manifolds
# ----------------------------------------------------------------------
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


def _real(array):
    """A float64 tensor of the real part (geomstats' SO(3) log goes through complex logm)."""
    tensor = array if isinstance(array, torch.Tensor) else torch.from_numpy(np.asarray(array))
    return (tensor.real if tensor.is_complex() else tensor).detach().to(torch.float64)


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
