r"""How the base metric ``g_0`` enters the computations of a conformal metric.

A :class:`~geomstats_density.ConformalMetric` ``g = e^f g_0`` picks one geometry
at construction (:func:`geometry_for`) and hands it everything that depends on
``g_0``: the coordinates its torch methods take, the squared lengths of curve
pieces, the metric matrix, raising an index, the connection, and which solvers
apply. The metric itself only adds the factor ``e^f``; it never asks which kind
of geometry it has.

- :class:`EuclideanGeometry`: a vector space with ``g_0 = I``; curve pieces
  are Euclidean chords of the coordinates.
- :class:`ConformallyFlatGeometry`: the Poincare ball and half-space, whose
  metrics are ``e^{h} I``: the model's own log-factor ``h`` is added to ``f``,
  and the rest is Euclidean.
- :class:`PullbackGeometry`: ``g_0 = J_phi^T J_phi``, the pull-back of the
  Euclidean inner product through a map ``phi``; pieces are chords of the images.
- :class:`MatrixGeometry`: any base metric matrix ``G_0(z)`` in coordinates,
  the connection by Koszul's formula (the kernel mean embedding's of
  :mod:`geomstats_density.measures` is one).
- :class:`EmbeddedGeometry`: a hypersphere or ``SO(3)`` in ambient coordinates
  (:class:`~geomstats_density.manifolds.EmbeddedManifold`); pieces are measured
  by the manifold's own distance.

Every method takes and returns float64 torch tensors of *coordinates*
``[..., n_coords]``: the points themselves in a chart, flattened ambient
coordinates on an embedded manifold. Methods that need the metric's total
log-factor (the user's ``f``, validated, plus the model's own ``h``) take it as
a callable ``log_factor``: torch ``[..., n_coords] -> [...]``.
"""

from geomstats_density.geometry.base import BaseGeometry
from geomstats_density.geometry.charts import (
    ConformallyFlatGeometry,
    EuclideanGeometry,
    MatrixGeometry,
    PullbackGeometry,
)
from geomstats_density.geometry.embedded import EmbeddedGeometry
from geomstats_density.geometry.quadrature import QUADRATURE_RULES, check_quadrature
from geomstats_density.manifolds import ConformallyFlat, base_geometry


def geometry_for(space, phi=None, quadrature="simpson"):
    """The geometry of a space's own metric, with the pull-back through ``phi`` if given.

    Parameters
    ----------
    space : Manifold
        A vector space with the Euclidean metric, ``PoincareBall(n)``,
        ``PoincareHalfSpace(n)``, ``Hypersphere(n)`` or ``SpecialOrthogonal(3)``
        (matrices).
    phi : callable, optional
        Map ``[..., dim] -> [..., m]`` whose image lengths are measured; vector
        spaces only.
    quadrature : {'simpson', 'midpoint'}
        How chord geometries average the factor along a curve piece
        (:data:`QUADRATURE_RULES`).

    Returns
    -------
    geometry : BaseGeometry

    Raises
    ------
    ValueError
        If the space is not one of the supported kinds, or ``phi`` is given on a
        space other than a Euclidean vector space.
    """
    base_metric, model = base_geometry(space)
    if phi is not None:
        if model is not None:
            raise ValueError(
                "phi pulls back the Euclidean inner product: it needs a vector space "
                f"with the Euclidean metric, not {type(space).__name__}."
            )
        return PullbackGeometry(space, base_metric, phi, quadrature)
    if model is None:
        return EuclideanGeometry(space, base_metric, quadrature)
    if isinstance(model, ConformallyFlat):
        return ConformallyFlatGeometry(space, base_metric, model, quadrature)
    return EmbeddedGeometry(space, base_metric, model)


__all__ = [
    "QUADRATURE_RULES",
    "BaseGeometry",
    "ConformallyFlatGeometry",
    "EmbeddedGeometry",
    "EuclideanGeometry",
    "MatrixGeometry",
    "PullbackGeometry",
    "check_quadrature",
    "geometry_for",
]
