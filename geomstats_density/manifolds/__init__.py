r"""The base geometry ``g_0`` that a conformal metric ``g = e^f g_0`` rescales.

The spaces' own operations; :mod:`geomstats_density.geometry` builds on them
the one interface through which a conformal metric uses ``g_0``.

A space's own geomstats metric (``space.default_metric()``) is the base. Three
kinds are supported, each computed the way that is exact and fast for it, one
module each:

- **Vector spaces** with the Euclidean metric (``Euclidean``, latent spaces):
  ``g_0 = I``, or a pull-back through a map ``phi``. :func:`base_geometry`
  returns no model object for them.
- **Conformally flat models** (:mod:`~geomstats_density.manifolds.conformally_flat`):
  the Poincare ball and half-space, whose metrics are ``e^{h(z)} I`` in their
  own coordinates. A factor ``e^f`` on top of them is ``e^{f + h} I``, a
  conformal metric on an open set of ``R^n``: the vector-space solvers apply
  with ``h`` folded into the log-factor.
- **Embedded manifolds** (:mod:`~geomstats_density.manifolds.embedded`): the
  hypersphere (:mod:`~geomstats_density.manifolds.hypersphere`) and the
  rotation matrices ``SO(3)`` (:mod:`~geomstats_density.manifolds.special_orthogonal`).
  Points are kept on the manifold, curve pieces are measured by the manifold's
  own geodesic distance, and boundary-value problems are solved on pymanopt's
  power manifolds
  (:class:`~geomstats_density.solvers.manifold.ManifoldGeodesicSolver`).

Embedded points enter torch code flattened, as ``[..., n_coords]`` ambient
coordinates (``n_coords = prod(space.shape)``: ``n + 1`` on ``Hypersphere(n)``,
9 on ``SO(3)``); the metric reshapes them at its geomstats door.
"""

from geomstats.geometry.euclidean import EuclideanMetric
from geomstats.geometry.hypersphere import HypersphereMetric
from geomstats.geometry.invariant_metric import BiInvariantMetric
from geomstats.geometry.poincare_ball import PoincareBallMetric
from geomstats.geometry.poincare_half_space import PoincareHalfSpaceMetric
from geomstats.geometry.special_orthogonal import _SpecialOrthogonalMatrices

from geomstats_density.manifolds.conformally_flat import (
    POINCARE_BALL,
    POINCARE_HALF_SPACE,
    ConformallyFlat,
)
from geomstats_density.manifolds.embedded import (
    CUT_TOLERANCE,
    EmbeddedManifold,
    sq_angle_from_half_chord,
)
from geomstats_density.manifolds.hypersphere import Sphere
from geomstats_density.manifolds.special_orthogonal import Rotations


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


__all__ = [
    "CUT_TOLERANCE",
    "POINCARE_BALL",
    "POINCARE_HALF_SPACE",
    "ConformallyFlat",
    "EmbeddedManifold",
    "Rotations",
    "Sphere",
    "base_geometry",
    "default_metric",
    "sq_angle_from_half_chord",
]
