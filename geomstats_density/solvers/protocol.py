"""The solvers' view of a metric: what the energy, its derivatives and the domain checks use.

The solvers, :mod:`geomstats_density.energy`, :mod:`geomstats_density.curves`,
:mod:`geomstats_density.distances`, :mod:`geomstats_density.transport` and
:mod:`geomstats_density.reports` read a metric through these members only
(besides geomstats' own ``RiemannianMetric`` interface: ``log``, ``exp``,
``dist``, ``geodesic``, ``log_solver``, ``exp_solver``, ...).
:class:`~geomstats_density.ConformalMetric` implements them
(:class:`~geomstats_density.metrics.solver_view.SolverView`), the geomstats
methods on top; a metric of another kind implements them to be solved by the
same solvers.

Torch methods take and return float64 tensors of *coordinates*
``[..., n_coords]`` (:mod:`geomstats_density.geometry`): the points
themselves in a chart, flattened ambient coordinates on a hypersphere or
``SO(3)``.
"""

from typing import Protocol, runtime_checkable


@runtime_checkable
class SolverMetric(Protocol):
    """A metric ``g = e^f g_0`` as the geodesic solvers see it.

    Attributes
    ----------
    geometry : BaseGeometry
        How ``g_0`` enters (:mod:`geomstats_density.geometry`): its
        capabilities (``image_chords``), projections (``project``,
        ``to_tangent``) and, on an embedded manifold, the manifold's operations.
    point_cost : int
        Scalars one evaluation of the log-factor computes per point; solvers
        size their batches and torch threads by it.
    quadrature_rule : tuple of ndarray or None
        Times in [0, 1] and weights of the factor's quadrature along chords.
    euclidean_chords : bool
        Whether pieces are Euclidean chords with ``g_0 = I``: closed-form
        energy derivatives from :meth:`log_factor_jet`.
    """

    geometry: object
    point_cost: int

    @property
    def quadrature_rule(self):
        """Times and weights of the factor's quadrature, or None."""

    @property
    def euclidean_chords(self):
        """Whether pieces are Euclidean chords with ``g_0 = I``."""

    # The log-factor and the domain -----------------------------------------
    def log_factor_tensor(self, points):
        """``f`` at ``[..., n_coords]``, shape ``[...]``; ``DomainError`` where not finite."""

    def log_factor_or_inf(self, points):
        """``f`` where finite, ``+inf`` outside the domain, shape ``[...]`` (graph searches)."""

    def log_factor_and_gradient(self, points):
        """``f`` and ``grad f``, shapes ``[...]`` and ``[..., n_coords]``."""

    def log_factor_jet(self, points, gauss_newton=False):
        """``f``, ``grad f`` and ``Hess f`` as a :class:`~geomstats_density.jets.Jet`.

        With ``gauss_newton``, ``Hess f`` may drop the second derivatives of the
        networks inside the factor.
        """

    def log_factor_linearised(self, points):
        """``f`` with the networks inside it linearised at the points, shape ``[...]``.

        Values and gradients are ``f``'s; the Hessian by autodiff drops the
        networks' second derivatives.
        """

    def shifted(self, shift):
        """A copy with log-factor ``f - shift``: lengths times ``exp(-shift / 2)``."""

    def remembering(self):
        """A copy that measures each batch of curves once (``curve_sq_lengths``), for one solve."""

    # The discrete energy ---------------------------------------------------
    def segment_sq_lengths(self, left, right):
        """Squared lengths of pieces ``[left, right]``, shape ``[...]``."""

    def curve_sq_lengths(self, nodes):
        """Squared lengths of the pieces of curves ``[..., n_nodes, n_coords]``."""

    def image_tensor(self, points):
        """The points whose chords are measured, ``phi(z)`` or ``z``, shape ``[..., m]``."""

    def phi_jacobian(self, points):
        """Jacobian of ``phi`` (pull-backs), shape ``[..., m, dim]``."""

    # The connection and the metric tensor ----------------------------------
    def geodesic_acceleration(self, position, velocity):
        """``-Gamma(v, v)``, shape ``[..., n_coords]``."""

    def christoffel_map(self, points, vec_a, vec_b):
        """``Gamma(a, b)``, shape ``[..., n_coords]``."""

    def sharp_tensor(self, points, covectors):
        """The vectors ``v`` with ``g(v, .) = covector``, shape ``[..., n_coords]``."""

    # Between geomstats arrays and coordinates -------------------------------
    def points_tensor(self, points, name="base_point"):
        """Validated coordinates of points of the space (membership checked)."""

    def coordinates(self, array, name="tangent_vec"):
        """Validated coordinates of points or tangent vectors."""

    def from_coordinates(self, coordinates):
        """Points (or tangent vectors) of the space, as torch tensors."""

    def to_points_backend(self, coordinates):
        """Points (or tangent vectors) of the space, as backend arrays."""
