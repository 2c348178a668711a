"""Conformal Riemannian metrics.

A conformal metric rescales a base metric by a positive factor,

.. math:: g_z(u, v) = e^{f(z)} g^0_z(u, v),

where ``f = log_factor`` and ``g^0`` is the space's own metric: the Euclidean
inner product on vector spaces, pulled back through a map ``phi`` whose image
lengths are measured if one is given; the hyperbolic metric on the Poincare ball
and half-space; the round metric on a ``Hypersphere``; the bi-invariant metric on
``SpecialOrthogonal(3)`` (see :mod:`geomstats_density.manifolds`). The
density-conformal metric of Struski et al., ``f = log(log(Q)^2)`` for a quality
``Q: Z -> (0, 1)``, is its subclass
:class:`~geomstats_density.density_metric.DensityConformalMetric`.

:class:`ConformalMetric` subclasses geomstats' :class:`RiemannianMetric`; equip a
space with it the geomstats way::

    space = Euclidean(2, equip=False)
    space.equip_with_metric(ConformalMetric, log_factor=lambda z: -2 * torch.log(z[..., 1]))
    space.metric.dist(point_a, point_b)
"""

import copy
import numbers

import geomstats.backend as gs
import torch
from geomstats.geometry.riemannian_metric import RiemannianMetric

from geomstats_density._validation import (
    check_float64,
    check_scalar_field,
    user_callable,
)
from geomstats_density.backend import to_backend, to_torch, tracks_gradients
from geomstats_density.curvature import (
    curvature_covariant_derivative,
)
from geomstats_density.densities import Density
from geomstats_density.dist_gradients import differentiable_dist, differentiable_dist_pairwise
from geomstats_density.exceptions import DomainError
from geomstats_density.geometry import check_quadrature, geometry_for
from geomstats_density.jets import autodiff_jet


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


def _check_radius(radius):
    """None or a number > 0 (``math.inf`` allowed): a known injectivity radius."""
    if radius is None:
        return None
    if not isinstance(radius, numbers.Real) or isinstance(radius, bool) or not radius > 0:
        raise ValueError(
            f"injectivity_radius must be None or a number > 0 (math.inf allowed), got {radius!r}."
        )
    return float(radius)


class ConformalMetric(RiemannianMetric):
    r"""Conformal rescaling of a space's own metric.

    .. math:: g_z = e^{f(z)}\, g^0_z

    with ``g^0`` the Euclidean inner product (or its pull-back
    ``J_phi^T J_phi`` through a map ``phi``) on vector spaces, and the space's
    own geomstats metric otherwise (:mod:`geomstats_density.manifolds`).

    Parameters
    ----------
    space : Manifold
        ``Euclidean(dim)`` or another vector space with the Euclidean metric;
        ``PoincareBall(n)`` or ``PoincareHalfSpace(n)``; ``Hypersphere(n)``;
        ``SpecialOrthogonal(3)`` (matrices). Its default metric is ``g^0``.
    log_factor : callable
        ``f``: torch tensor ``[..., *space.shape]`` to torch tensor ``[...]``,
        finite on the domain of interest, differentiable twice. On a hypersphere
        or ``SO(3)`` it is evaluated on the manifold but differentiated in ambient
        coordinates: write it smooth near the manifold (the von Mises-Fisher
        densities of :mod:`geomstats_density.sphere` are).
    phi : callable, optional
        Map ``[..., dim] -> [..., m]`` whose image lengths are measured (the paper's
        Eq. 5), on vector spaces only. Default: the identity, ``g^0 = I``.
    quadrature : {'simpson', 'midpoint'}
        How the discrete energy averages the factor along each chord of a curve:
        Simpson's rule (default), or the chord midpoint as in the paper's Eq. 5.
        Both are second-order; the midpoint rule lets coarse curves tunnel
        through regions of large factor (see :meth:`segment_sq_lengths`).
    method : str, optional
        Boundary-value solver used by ``log``, ``dist`` and ``geodesic``. On
        vector spaces and Poincare models: ``'newton'`` (default,
        :class:`~geomstats_density.solvers.NewtonGeodesicSolver`) or the paper's
        baseline ``'neural'``
        (:class:`~geomstats_density.solvers.NeuralGeodesicSolver`). On a
        hypersphere and ``SO(3)``: ``'manopt'`` (default and only,
        :class:`~geomstats_density.solvers.manifold.ManifoldGeodesicSolver`).
        Assign ``metric.log_solver`` to use any other geomstats ``LogSolver``.
    solver_options : dict, optional
        Keyword arguments of the boundary-value solver.
    injectivity_radius : float, optional
        The metric's injectivity radius where the user knows it, returned by
        :meth:`injectivity_radius`: ``math.inf`` for a Hadamard metric (complete,
        simply connected, curvature <= 0: the hyperbolic half-plane written as a
        factor on ``Euclidean(2)``, a constant factor on a vector space). It
        cannot be computed from the factor; None (default) leaves it unknown.

    Attributes
    ----------
    base_metric : RiemannianMetric
        The space's own metric ``g^0``, as geomstats defines it.
    geometry : BaseGeometry
        How ``g^0`` enters the computations (:mod:`geomstats_density.geometry`),
        chosen at construction: Euclidean, conformally flat, pull-back through
        ``phi`` or embedded manifold.
    point_cost : int
        Scalars one evaluation of ``log_factor`` (and ``phi``) computes per point,
        1 by default. Solvers run problems of fewer than ``SMALL_PROBLEM_SIZE``
        scalars (nodes times coordinates times this) on one torch thread, where
        torch's threading costs more than it saves; set it to the size of a
        network's activations when a network computes the factor (a
        :class:`~geomstats_density.latent.LatentSpace` sets the size of a
        generated sample).

    Notes
    -----
    ``log_factor`` and ``phi`` take and return float64 torch tensors whatever the
    geomstats backend; every metric method takes and returns arrays of the active
    backend. Under the pytorch backend the metric is differentiable, so geomstats'
    autodiff solvers run on it: ``PathStraightening`` as it is, and
    ``LogShootingSolver`` once ``metric.exp_solver`` is geomstats' own
    ``ExpODESolver`` (the default exp solver integrates with scipy, which autodiff
    does not see through).

    The torch-level methods (``log_factor_tensor``, ``segment_sq_lengths``,
    ``curve_sq_lengths``, ``geodesic_acceleration``, ...) take *coordinates*
    ``[..., n_coords]``: the points themselves on vector spaces, Poincare models
    and hyperspheres, flattened matrices on ``SO(3)``. On Poincare models the
    model's own factor is folded into ``log_factor_tensor`` (the solvers see a
    conformal metric on an open set of ``R^n``), while :meth:`log_factor` returns
    ``f`` itself. They are the solvers' view of the metric
    (:class:`~geomstats_density.solvers.protocol.SolverMetric`): each validates
    the factor and hands the base metric's part to :attr:`geometry`.
    """

    # Constant subtracted from the log-factor (:meth:`shifted`).
    _log_factor_shift = 0.0

    def __init__(
        self,
        space,
        log_factor,
        phi=None,
        quadrature="simpson",
        method=None,
        solver_options=None,
        injectivity_radius=None,
    ):
        if not callable(log_factor):
            raise ValueError("log_factor must be callable.")
        self._injectivity_radius = _check_radius(injectivity_radius)
        if isinstance(log_factor, Density):
            raise TypeError(
                f"log_factor is a density ({type(log_factor).__name__}): as a log-factor, "
                "log p would make curves short where the density is low. For geodesics "
                "that keep to where it is high, equip DensityConformalMetric with a "
                "quality of it, log_quality=RealismIndex(density) (or Typicality, "
                "DensityRatio); for the Fermat metric pass fermat_log_factor(density)."
            )
        check_quadrature(quadrature)
        if phi is not None and not callable(phi):
            raise ValueError("phi must be callable or None.")
        geometry = self._make_geometry(space, phi, quadrature)
        super().__init__(space)
        self.base_metric = geometry.base_metric
        self.geometry = geometry
        self._log_factor = log_factor
        self.phi = phi
        self.quadrature = quadrature
        self.point_cost = 1
        self.log_solver, self.exp_solver = geometry.make_solvers(
            space, method, solver_options or {}
        )

    def _make_geometry(self, space, phi, quadrature):
        """The base geometry; subclasses with a base metric of their own override this."""
        return geometry_for(space, phi=phi, quadrature=quadrature)

    def from_coordinates(self, coordinates):
        """Points (or tangent vectors) of the space from coordinates ``[..., n_coords]``.

        The identity on vector spaces, Poincare models and hyperspheres; matrices
        from their flattened entries on ``SO(3)``. User callables see these.

        Parameters
        ----------
        coordinates : torch.Tensor, shape=[..., n_coords]

        Returns
        -------
        points : torch.Tensor, shape=[..., {dim, [n, n]}]
        """
        return self.geometry.from_coordinates(coordinates)

    def to_points_backend(self, coordinates):
        """Backend arrays of points (or tangent vectors) from their coordinates.

        Parameters
        ----------
        coordinates : torch.Tensor, shape=[..., n_coords]

        Returns
        -------
        points : array-like, shape=[..., {dim, [n, n]}]
        """
        return to_backend(self.from_coordinates(coordinates))

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
        with user_callable("log_factor", self._log_factor):
            values = self._log_factor(self.from_coordinates(points))
        values = self._base_plus(values, points)
        self._raise_where_invalid(torch.isfinite(values), values, points)
        return values

    def _raise_where_invalid(self, valid, values, points):
        """A DomainError naming the first point where ``valid`` is False."""
        if not bool(valid.all()):
            index = tuple(int(i) for i in torch.nonzero(~valid)[0])
            raise DomainError(self._domain_error_message(points[index], values[index]))

    def log_factor_or_inf(self, points):
        """``f(z)`` where finite, ``+inf`` outside the domain (for graph searches).

        Callables that raise :class:`DomainError` on some points (densities
        outside their support) are evaluated on halves of the batch until the
        points they refuse are isolated.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        log_factor : torch.Tensor, shape=[...]
        """
        flat = points.reshape(-1, points.shape[-1])
        return self._log_factor_or_inf_flat(flat).reshape(points.shape[:-1])

    def _log_factor_or_inf_flat(self, points):
        try:
            with user_callable("log_factor", self._log_factor):
                values = self._log_factor(self.from_coordinates(points))
            values = self._base_plus(values, points)
        except DomainError:
            if points.shape[0] == 1:
                return torch.full((1,), torch.inf, dtype=points.dtype)
            half = points.shape[0] // 2
            return torch.cat(
                [
                    self._log_factor_or_inf_flat(points[:half]),
                    self._log_factor_or_inf_flat(points[half:]),
                ]
            )
        return torch.where(torch.isfinite(values), values, torch.inf)

    def _base_plus(self, values, points):
        """Check the callable's values; add a conformally flat model's own factor.

        The shift of :meth:`shifted` is subtracted.
        """
        check_scalar_field(values, points, "log_factor")
        check_float64(values, "log_factor")
        values = self.geometry.add_model_log_factor(values, points)
        return values - self._log_factor_shift if self._log_factor_shift else values

    def shifted(self, shift):
        """Copy of the metric times ``exp(-shift)``, whose log-factor is ``f - shift``.

        A constant shift rescales every length by ``exp(-shift / 2)`` and leaves
        geodesics, their nodes and velocities unchanged: solvers measure in a
        copy shifted by a typical value of ``f``, so that ``exp(f)`` neither
        underflows nor overflows, and scale lengths back. The copy is shallow;
        this metric is left unchanged (other threads may be using it).

        Parameters
        ----------
        shift : float

        Returns
        -------
        metric : ConformalMetric
        """
        metric = copy.copy(self)
        metric._log_factor_shift = self._log_factor_shift + float(shift)
        return metric

    def _domain_error_message(self, point, value):
        return self.geometry.outside_message(point) or (
            f"log_factor is not finite ({value.item()}) at point {point.tolist()}."
        )

    def log_factor_and_gradient(self, points):
        """``f(z)`` and ``grad f(z)``, each point on its own.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        log_factor : torch.Tensor, shape=[...]
        gradient : torch.Tensor, shape=[..., dim]

        Raises
        ------
        DomainError
            If a value or a gradient is NaN or infinite (a factor not
            differentiable there, such as a norm at 0): the geodesic equation
            and the Christoffel symbols need the gradient.
        """
        with torch.enable_grad():
            if not points.requires_grad:
                points = points.detach().requires_grad_(True)
            values = self.log_factor_tensor(points)
            gradient = _gradient(values, points)
        finite = torch.isfinite(gradient).all(-1)
        if not bool(finite.all()):
            index = tuple(int(i) for i in torch.nonzero(~finite)[0])
            raise DomainError(
                f"The gradient of log_factor is not finite "
                f"({gradient[index].detach().tolist()}) at point "
                f"{self.from_coordinates(points[index]).detach().tolist()}: the geodesic "
                "equation needs a factor differentiable there."
            )
        return values, gradient

    def log_factor_jet(self, points, gauss_newton=False):
        """``f``, ``grad f`` and ``Hess f`` at each point.

        In closed form where the factor knows its derivatives (a quality or a
        callable with a ``jet`` method, :mod:`geomstats_density.jets`); by
        autodiff otherwise.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]
        gauss_newton : bool
            Whether the Hessian may drop the second derivatives of the networks
            inside the factor (a quality's ``gauss_newton_jet``, such as
            :meth:`Feature.gauss_newton_jet
            <geomstats_density.quality.Feature.gauss_newton_jet>`): exact where
            they are piecewise linear.

        Returns
        -------
        jet : Jet

        Raises
        ------
        DomainError
            If a value is NaN or infinite.
        """
        closed_form = self._gauss_newton_jet if gauss_newton else self._closed_form_jet
        jet = self.geometry.closed_form_jet(closed_form, points)
        if jet is None:
            return autodiff_jet(self.log_factor_tensor, points)
        if self._log_factor_shift:
            jet = jet._replace(value=jet.value - self._log_factor_shift)
        self._raise_where_invalid(torch.isfinite(jet.value), jet.value, points)
        return jet

    def _closed_form_jet(self, points):
        """The user factor's own jet, or None."""
        jet = getattr(self._log_factor, "jet", None)
        return None if jet is None else jet(points)

    def _gauss_newton_jet(self, points):
        """The user factor's jet with its networks linearised, or its own jet, or None."""
        jet = getattr(self._log_factor, "gauss_newton_jet", None)
        return self._closed_form_jet(points) if jet is None else jet(points)

    def phi_jacobian(self, points):
        """Jacobian of ``phi`` at each point.

        Columns come from forward-mode products
        (:meth:`~geomstats_density.geometry.PullbackGeometry.image_jacobian`).

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        jacobian : torch.Tensor, shape=[..., m, dim]
        """
        return self.geometry.image_jacobian(points)

    def base_metric_matrix_tensor(self, points):
        """``G_0(z)``: identity or ``J_phi^T J_phi``.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        matrix : torch.Tensor, shape=[..., dim, dim]
        """
        return self.geometry.base_metric_matrix(points)

    def sharp_tensor(self, points, covectors):
        """The vectors ``v`` with ``g_z(v, .) = covector``: the metric raising an index.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., n_coords]
        covectors : torch.Tensor, shape=[..., n_coords]
            Derivatives of functions of the coordinates, say.

        Returns
        -------
        vectors : torch.Tensor, shape=[..., n_coords]
            Tangent vectors (in ambient coordinates on a hypersphere or ``SO(3)``).
        """
        factor = torch.exp(self.log_factor_tensor(points))[..., None]
        return self.geometry.sharp(points, covectors, factor)

    def image_tensor(self, points):
        """``phi(z)``, or ``z`` itself when ``phi`` is the identity.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        image : torch.Tensor, shape=[..., m]
        """
        return self.geometry.image(points)

    @property
    def quadrature_rule(self):
        """Times in [0, 1] and weights of the factor's quadrature along chords.

        None on a hypersphere or ``SO(3)``, whose pieces take the factor at the
        base geodesic midpoint.
        """
        return self.geometry.quadrature_rule

    @property
    def euclidean_chords(self):
        """Whether curve pieces are Euclidean chords of the coordinates.

        True without ``phi`` on vector spaces and Poincare models; the Newton
        solver then differentiates pieces in closed form.
        """
        return self.geometry.euclidean_chords

    def base_sq_lengths(self, left, right):
        """Squared base lengths ``|phi(right) - phi(left)|^2`` of curve pieces.

        Parameters
        ----------
        left, right : torch.Tensor, shape=[..., dim]

        Returns
        -------
        sq_lengths : torch.Tensor, shape=[...]
        """
        return self.geometry.base_sq_lengths(left, right)

    def curve_base_sq_lengths(self, nodes):
        """:meth:`base_sq_lengths` of consecutive nodes, ``phi`` evaluated once per node.

        Parameters
        ----------
        nodes : torch.Tensor, shape=[..., n_nodes, dim]

        Returns
        -------
        sq_lengths : torch.Tensor, shape=[..., n_nodes - 1]
        """
        return self.geometry.curve_base_sq_lengths(nodes)

    def segment_sq_lengths(self, left, right):
        """Squared length estimates of curve pieces ``[left, right]``.

        ``lambda * base_sq_lengths(left, right)``, where ``lambda`` averages the
        factor ``exp(f)`` along the chord by the metric's quadrature: the
        midpoint value (the paper's Eq. 5) or Simpson's rule, which also sees the
        nodes (the midpoint rule alone lets coarse curves "tunnel": a long chord
        whose midpoint lies where the factor is small, across a region where it
        is large, is measured far too short).

        Parameters
        ----------
        left, right : torch.Tensor, shape=[..., dim]

        Returns
        -------
        sq_lengths : torch.Tensor, shape=[...]

        Notes
        -----
        On a hypersphere or ``SO(3)``: ``exp(f(mid)) * d_0(left, right)^2`` with
        ``d_0`` the manifold's own distance and ``mid`` the base geodesic midpoint.
        """
        return self.geometry.segment_sq_lengths(self.log_factor_tensor, left, right)

    def curve_sq_lengths(self, nodes):
        """Squared length estimates of the pieces of polygonal curves.

        Same values as :meth:`segment_sq_lengths` on consecutive nodes, with
        ``phi`` and the factor evaluated once per node.

        Parameters
        ----------
        nodes : torch.Tensor, shape=[..., n_nodes, dim]

        Returns
        -------
        sq_lengths : torch.Tensor, shape=[..., n_nodes - 1]
        """
        return self.geometry.curve_sq_lengths(self.log_factor_tensor, nodes)

    def geodesic_acceleration(self, position, velocity):
        r"""Closed-form ``-Gamma(z)(v, v)`` of the conformal metric.

        With ``g = e^f G_0``: ``Gamma(v, v) = Gamma_0(v, v) + (grad f . v) v
        - 1/2 |v|_{G_0}^2 G_0^{-1} grad f``, and for ``G_0 = J^T J``,
        ``Gamma_0(v, v) = G_0^{-1} J^T D^2 phi[v, v]``.

        On a hypersphere or ``SO(3)``, in ambient coordinates:
        ``P(1/2 |v|^2 grad f) - (grad f . v) v + II(v, v)``, with ``P`` the
        projection onto the tangent space and ``II`` the second fundamental form
        (the acceleration of the base geodesics).

        Parameters
        ----------
        position, velocity : torch.Tensor, shape=[..., dim]

        Returns
        -------
        acceleration : torch.Tensor, shape=[..., dim]
        """
        _, grad_f = self.log_factor_and_gradient(position)
        return self.geometry.geodesic_acceleration(position, velocity, grad_f)

    def christoffel_map(self, points, vec_a, vec_b):
        r"""``Gamma(a, b)^k = Gamma^k_ij a^i b^j`` in closed form, torch in and out.

        With ``g = e^f G_0``: ``Gamma(a, b) = 1/2 ((grad f . a) b + (grad f . b) a)
        + G_0^{-1} (J^T D^2 phi[a, b] - 1/2 <J a, J b> grad f)``, with ``J = G_0 = I``
        and ``D^2 phi = 0`` without ``phi``; Koszul's formula by autodiff for
        subclasses with a base matrix of their own (the kernel mean embedding's).
        The gradient is taken once per point and broadcast against the vectors;
        the result is differentiable in
        ``points`` when they carry a graph (the curvature derivative uses that).

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]
        vec_a, vec_b : torch.Tensor, shape=[..., dim]
            Broadcast against ``points``.

        Returns
        -------
        gamma : torch.Tensor, shape=[..., dim]

        On a hypersphere or ``SO(3)``, in ambient coordinates, for tangent vectors:
        ``1/2 ((grad f . a) b + (grad f . b) a - (a . b) P grad f) - II(a, b)``,
        with ``P`` the projection onto the tangent space and ``II`` the second
        fundamental form, so that ``-Gamma(v, v)`` is :meth:`geodesic_acceleration`.
        """
        _, grad_f = self.log_factor_and_gradient(points)
        shape = torch.broadcast_shapes(points.shape, vec_a.shape, vec_b.shape)
        grad_f, vec_a, vec_b = (v.expand(shape) for v in (grad_f, vec_a, vec_b))
        return self.geometry.christoffel_map(self.log_factor_tensor, points, grad_f, vec_a, vec_b)

    # ------------------------------------------------------------------
    # geomstats interface: backend arrays in, backend arrays out.
    # ------------------------------------------------------------------
    def points_tensor(self, points, name="base_point"):
        """Validated coordinates of points of the space.

        Parameters
        ----------
        points : array-like, shape=[..., {dim, [n, n]}]
        name : str
            Name of the argument, for error messages.

        Returns
        -------
        coordinates : torch.Tensor, shape=[..., n_coords]

        Raises
        ------
        ValueError
            If the shape is wrong, a coordinate is NaN or infinite, or a point is
            off a hypersphere or ``SO(3)`` (geomstats' ``belongs``).
        """
        coordinates = self.coordinates(points, name)
        self.geometry.check_membership(coordinates, name)
        return coordinates

    def coordinates(self, array, name="tangent_vec"):
        """Validated coordinates of points or tangent vectors, without membership test.

        Parameters
        ----------
        array : array-like, shape=[..., {dim, [n, n]}]
        name : str
            Name of the argument, for error messages.

        Returns
        -------
        coordinates : torch.Tensor, shape=[..., n_coords]
        """
        return self.geometry.coordinates(array, name)

    def log_factor(self, base_point):
        """Log conformal factor ``f(z)``.

        On Poincare models this is ``f`` over the model's own metric, not the
        total factor over the coordinates' inner product.

        Parameters
        ----------
        base_point : array-like, shape=[..., {dim, [n, n]}]

        Returns
        -------
        log_factor : array-like, shape=[...]
        """
        points = self.points_tensor(base_point)
        values = self.log_factor_tensor(points)
        return to_backend(self.geometry.remove_model_log_factor(values, points))

    def metric_matrix(self, base_point=None):
        """Metric matrix ``e^{f(z)} G_0(z)``.

        Parameters
        ----------
        base_point : array-like, shape=[..., dim]

        Returns
        -------
        mat : array-like, shape=[..., dim, dim]
            On a hypersphere, ``e^f`` times geomstats' base matrix (ambient
            coordinates); geomstats has none for ``SO(3)``.
        """
        points = self.points_tensor(base_point)
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
        points = self.points_tensor(base_point)
        vec_a = self.coordinates(tangent_vec_a, "tangent_vec_a")
        vec_b = self.coordinates(tangent_vec_b, "tangent_vec_b")
        base = self.geometry.base_inner_product(points, vec_a, vec_b)
        return to_backend(torch.exp(self.log_factor_tensor(points)) * base)

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

        Raises
        ------
        NotImplementedError
            On a hypersphere or ``SO(3)``, whose points have ambient coordinates,
            not a chart: use :meth:`geodesic_equation`.
        """
        points = self._chart_points(base_point, "Christoffel symbols")
        _, grad_f = self.log_factor_and_gradient(points)
        return to_backend(self.geometry.christoffels(points, grad_f))

    def _chart_points(self, base_point, what):
        """Validated points of a chart, or NotImplementedError naming ``what``."""
        self.geometry.require_chart(what)
        return self.points_tensor(base_point)

    def inner_product_derivative_matrix(self, base_point=None):
        r"""Derivative of the metric matrix, ``mat[..., i, j, k] = d_k g_ij``.

        In closed form, ``e^f delta_ij d_k f``, where the base matrix is the
        identity (:attr:`euclidean_chords`); by autodiff of ``e^f G_0`` in torch
        otherwise (``phi``; under either backend).

        Parameters
        ----------
        base_point : array-like, shape=[..., dim]

        Returns
        -------
        metric_derivative : array-like, shape=[..., dim, dim, dim]
        """
        if not self.geometry.has_chart:
            return super().inner_product_derivative_matrix(base_point)
        points = self.points_tensor(base_point)
        return to_backend(self.geometry.metric_matrix_derivative(self, points))

    def riemann_tensor(self, base_point=None):
        r"""Riemann tensor ``R[..., i, j, k, l] = dx^l(R(e_j, e_k) e_i)``, as geomstats.

        In closed form from the gradient and Hessian of the log-factor (of the
        total one on Poincare models) where the base matrix is the identity
        (vector spaces without ``phi``, Poincare models); by autodiff in torch
        otherwise (see :mod:`geomstats_density.curvature`). Both work under either
        backend. The tensor has ``dim^4`` entries per point: in high dimensions use
        :meth:`curvature` on the vectors of interest.

        Parameters
        ----------
        base_point : array-like, shape=[..., dim]

        Returns
        -------
        riemann_curvature : array-like, shape=[..., dim, dim, dim, dim]

        Raises
        ------
        NotImplementedError
            On a hypersphere or ``SO(3)``, whose points have no chart.
        """
        points = self._chart_points(base_point, "Curvature tensors")
        return to_backend(self.geometry.riemann(self, points))

    def curvature(self, tangent_vec_a, tangent_vec_b, tangent_vec_c, base_point=None):
        r"""Riemann curvature map ``R(X, Y) Z``, ``X, Y, Z`` the three vectors.

        ``R(X, Y) Z = nabla_X nabla_Y Z - nabla_Y nabla_X Z - nabla_[X, Y] Z``,
        evaluated from the vectors alone (no ``dim^4`` tensor): see
        :meth:`riemann_tensor`.

        Parameters
        ----------
        tangent_vec_a, tangent_vec_b, tangent_vec_c : array-like, shape=[..., dim]
        base_point : array-like, shape=[..., dim]

        Returns
        -------
        curvature : array-like, shape=[..., dim]
        """
        points = self._chart_points(base_point, "Curvature tensors")
        vectors = self._vectors(tangent_vec_a, tangent_vec_b, tangent_vec_c)
        return to_backend(self.geometry.curvature(self, points, *vectors))

    def _vectors(self, *tangent_vecs):
        """Validated coordinates of the tangent vectors ``tangent_vec_a``, ``_b``, ..."""
        return [
            self.coordinates(vec, f"tangent_vec_{name}") for vec, name in zip(tangent_vecs, "abcd")
        ]

    def ricci_tensor(self, base_point=None):
        r"""Ricci tensor ``Ric[..., i, k] = R[..., i, j, k, j]``.

        For ``g = e^F I`` in dimension ``n``, in closed form:
        ``-(n - 2)/2 (Hess F - 1/2 grad F grad F^T) - 1/2 (Delta F
        + (n - 2)/2 |grad F|^2) I``; otherwise (``phi``) contracted from
        :meth:`riemann_tensor`.

        Parameters
        ----------
        base_point : array-like, shape=[..., dim]

        Returns
        -------
        ricci_tensor : array-like, shape=[..., dim, dim]
        """
        points = self._chart_points(base_point, "Curvature tensors")
        return to_backend(self.geometry.ricci(self, points))

    def scalar_curvature(self, base_point=None):
        r"""Scalar curvature ``S = g^{ij} Ric_ij``.

        For ``g = e^F I`` in dimension ``n``, in closed form:
        ``-(n - 1) e^{-F} (Delta F + (n - 2)/4 |grad F|^2)``, which is ``2 K`` on
        a surface of Gaussian curvature ``K``; otherwise (``phi``) from
        :meth:`ricci_tensor`.

        Parameters
        ----------
        base_point : array-like, shape=[..., dim]

        Returns
        -------
        curvature : array-like, shape=[...]
        """
        points = self._chart_points(base_point, "Curvature tensors")
        return to_backend(self.geometry.scalar_curvature(self, points))

    def curvature_derivative(
        self, tangent_vec_a, tangent_vec_b, tangent_vec_c, tangent_vec_d, base_point=None
    ):
        r"""Covariant derivative of the curvature ``(nabla_H R)(X, Y) Z``.

        ``H, X, Y, Z`` are the four vectors in order. It needs third derivatives
        of the log-factor, taken by autodiff in torch (under either backend):
        see :func:`geomstats_density.curvature.curvature_covariant_derivative`. It is 0 on
        locally symmetric spaces, such as the hyperbolic half-plane.

        Parameters
        ----------
        tangent_vec_a, tangent_vec_b, tangent_vec_c, tangent_vec_d : array-like, shape=[..., dim]
        base_point : array-like, shape=[..., dim]

        Returns
        -------
        curvature_derivative : array-like, shape=[..., dim]
        """
        points = self._chart_points(base_point, "Curvature tensors")
        vectors = self._vectors(tangent_vec_a, tangent_vec_b, tangent_vec_c, tangent_vec_d)
        return to_backend(curvature_covariant_derivative(self.christoffel_map, points, *vectors))

    def parallel_transport(self, tangent_vec, base_point, direction=None, end_point=None):
        r"""Parallel transport of a tangent vector along a geodesic.

        Along ``t -> exp(t direction)``, or along the geodesic from ``base_point``
        to ``end_point``: its initial velocity is ``log(end_point, base_point)``
        (the metric's boundary-value solver), refined by Newton steps on
        ``exp(v) = end_point`` (:func:`~geomstats_density.transport.shoot`).
        The transport ODE ``V' + Gamma(gamma', V) = 0`` is integrated with the
        geodesic equation by the exp solver's adaptive Runge-Kutta method and
        tolerances (:mod:`geomstats_density.transport`): the result is exact to
        about those tolerances. Scipy integrates it, so autodiff does not see
        through it.

        On a hypersphere or ``SO(3)`` the integration runs in ambient
        coordinates (:meth:`christoffel_map`) and the result is projected onto
        the tangent space at the end.

        Parameters
        ----------
        tangent_vec : array-like, shape=[..., {dim, [n, n]}]
            Tangent vector at ``base_point`` to transport.
        base_point : array-like, shape=[..., {dim, [n, n]}]
        direction : array-like, shape=[..., {dim, [n, n]}], optional
            Initial velocity of the geodesic.
        end_point : array-like, shape=[..., {dim, [n, n]}], optional
            End of the geodesic; give exactly one of ``direction`` and ``end_point``.

        Returns
        -------
        transported_tangent_vec : array-like, shape=[..., {dim, [n, n]}]
            At ``exp(direction, base_point)``, or at ``end_point``.

        Raises
        ------
        ValueError
            If neither or both of ``direction`` and ``end_point`` are given.
        DomainError
            If the geodesic leaves the metric's domain.
        GeodesicConvergenceError
            If the integrator fails or uses up the exp solver's budget.
        """
        from geomstats_density.transport import shoot, transport_along_geodesics

        if (direction is None) == (end_point is None):
            raise ValueError(
                "parallel_transport needs exactly one of direction (the geodesic's initial "
                "velocity) and end_point."
            )
        points = self.points_tensor(base_point)
        vector = self.coordinates(tangent_vec, "tangent_vec")
        if end_point is None:
            velocity = self.coordinates(direction, "direction")
            vector, velocity, points = torch.broadcast_tensors(vector, velocity, points)
        else:
            ends = self.points_tensor(end_point, "end_point")
            vector, points, ends = torch.broadcast_tensors(vector, points, ends)
            log = self.log(self.to_points_backend(ends), self.to_points_backend(points))
            velocity = self.coordinates(log)
        batch_shape, n_coords = points.shape[:-1], points.shape[-1]
        vector, points, velocity = (
            v.reshape(-1, n_coords).detach() for v in (vector, points, velocity)
        )
        if end_point is not None:
            velocity = shoot(self, points, ends.reshape(-1, n_coords).detach(), velocity)
        end, transported = transport_along_geodesics(self, vector, points, velocity)
        # On a manifold, the integration leaves it by about its tolerance.
        transported = self.geometry.to_tangent(transported, self.geometry.project(end))
        return self.to_points_backend(transported.reshape(*batch_shape, n_coords))

    def injectivity_radius(self, base_point=None):
        """Injectivity radius, where known.

        A conformal factor changes it in ways the factor alone does not tell,
        so, as geomstats does for metrics where it is unknown, this raises
        NotImplementedError unless the metric was built with
        ``injectivity_radius=`` (``math.inf`` for a Hadamard metric).

        Parameters
        ----------
        base_point : array-like, shape=[..., {dim, [n, n]}]

        Returns
        -------
        radius : array-like, shape=[...]
            The given radius at every point.

        Raises
        ------
        NotImplementedError
            If the metric was built without ``injectivity_radius``.
        """
        if self._injectivity_radius is None:
            raise NotImplementedError(
                "The injectivity radius of a conformal metric is not known from its factor: "
                "pass injectivity_radius= to the metric when you know it (math.inf for a "
                "Hadamard metric, such as the hyperbolic half-plane)."
            )
        points = self.points_tensor(base_point)
        radius = torch.full(points.shape[:-1], self._injectivity_radius, dtype=points.dtype)
        return to_backend(radius)

    def geodesic_equation(self, state):
        """Geodesic ODE, with the closed-form acceleration.

        Parameters
        ----------
        state : array-like, shape=[..., 2, {dim, [n, n]}]
            Position and velocity.

        Returns
        -------
        derivative : array-like, shape=[..., 2, {dim, [n, n]}]
            Velocity and acceleration.
        """
        state = self.geometry.to_coordinates(to_torch(state))
        position, velocity = state[..., 0, :], state[..., 1, :]
        acceleration = self.geodesic_acceleration(position, velocity)
        return self.to_points_backend(torch.stack([velocity, acceleration], dim=-2))

    def squared_dist(self, point_a, point_b):
        """Squared geodesic distance: :meth:`dist` squared.

        Parameters
        ----------
        point_a, point_b : array-like, shape=[..., {dim, [n, n]}]

        Returns
        -------
        sq_dist : array-like, shape=[...]
            As geomstats' own metrics return it: a ``numpy.float64`` for two
            single points under numpy, a 0-d tensor under pytorch.
        """
        if not hasattr(self.log_solver, "solve"):
            return super().squared_dist(point_a, point_b)
        return self.dist(point_a, point_b) ** 2

    def dist(self, point_a, point_b):
        """Geodesic distance, from the boundary-value solver's length estimate.

        One vectorised ``metric.log_solver.solve(point_b, point_a)`` for all the
        pairs (broadcast), as :meth:`log` runs it, with the same options,
        warnings and errors; its ``GeodesicCurve.dist``. Solvers without a length
        estimate (geomstats' own) fall back to the norm of ``log``. For many
        pairs, :meth:`dist_pairwise`, :meth:`dist_broadcast` and
        :func:`~geomstats_density.distances.paired_distances` solve them in
        batches of bounded memory. Under the pytorch backend, when an endpoint requires grad, the
        distance carries first derivatives with respect to both endpoints,
        computed from the solved curve by the envelope theorem (autograd does
        not run through the solver).

        Parameters
        ----------
        point_a, point_b : array-like, shape=[..., {dim, [n, n]}]

        Returns
        -------
        dist : array-like, shape=[...]
            As geomstats' own metrics return it: a ``numpy.float64`` for two
            single points under numpy, a 0-d tensor under pytorch.
        """
        if not hasattr(self.log_solver, "solve"):
            return super().dist(point_a, point_b)
        if not tracks_gradients(point_a, point_b):
            return self.log_solver.solve(point_b, point_a).dist
        return differentiable_dist(self, point_a, point_b)

    def dist_pairwise(
        self,
        points,
        n_jobs=1,
        batch_size=None,
        progress=None,
        client=None,
        checkpoint=None,
        **joblib_kwargs,
    ):
        """Pairwise distances, solved in vectorised batches of pairs.

        See :func:`~geomstats_density.distances.pairwise_distances`: batches of
        ``batch_size`` pairs, one graph start for all of them, a progress bar over
        the pairs, and optionally worker processes or a Dask cluster.

        Parameters
        ----------
        points : array-like, shape=[n_samples, {dim, [n, n]}]
        n_jobs : int
            Worker processes solving the batches (joblib's loky backend); 1
            solves them in this process, -1 uses every core. With solvers
            without batched distances (geomstats' own), passed to geomstats.
        batch_size : int, optional
            Pairs per vectorised solve; memory grows linearly with it. Default
            :data:`~geomstats_density.distances.DEFAULT_BATCH_SIZE`.
        progress : bool or None
            Show a progress bar over the pairs; None shows it from 64 pairs on.
        client : distributed.Client, optional
            Solve the batches on this Dask cluster.
        checkpoint : str or path-like, optional
            A directory where finished batches are written as they arrive; a
            call with the same arguments after an interruption loads them and
            solves only the others (see
            :func:`~geomstats_density.distances.pairwise_distances`). Refused
            for points that require grad and for solvers without batched
            distances.
        **joblib_kwargs
            Passed to joblib with solvers without batched distances.

        Returns
        -------
        dist : array-like, shape=[n_samples, n_samples]

        Notes
        -----
        Under the pytorch backend, points that require grad give a matrix that
        carries gradients (see :meth:`dist`); its pairs are then solved in this
        process, ``batch_size`` at a time, each batch with its own graph start.
        """
        if not hasattr(self.log_solver, "solve"):
            if checkpoint is not None:
                raise ValueError(
                    f"checkpoint={checkpoint!r}: metric.log_solver "
                    f"({type(self.log_solver).__name__}) has no batched solve to checkpoint."
                )
            return super().dist_pairwise(points, n_jobs=n_jobs, **joblib_kwargs)
        from geomstats_density.checkpoints import check_without_gradients
        from geomstats_density.distances import DEFAULT_BATCH_SIZE, pairwise_distances

        self.points_tensor(points, "points")  # errors name this method's argument
        check_without_gradients(checkpoint, points)
        if tracks_gradients(points):
            return differentiable_dist_pairwise(
                self, points, DEFAULT_BATCH_SIZE if batch_size is None else batch_size
            )
        return pairwise_distances(
            points,
            metric=self,
            batch_size=DEFAULT_BATCH_SIZE if batch_size is None else batch_size,
            progress=progress,
            client=client,
            n_jobs=n_jobs,
            checkpoint=checkpoint,
        )

    # ------------------------------------------------------------------
    # geomstats' generic methods, documented for this metric: what runs.
    # ------------------------------------------------------------------
    def exp(self, tangent_vec, base_point):
        """Riemannian exponential: the geodesic of initial velocity ``tangent_vec`` at time 1.

        Runs ``metric.exp_solver``: by default
        :class:`~geomstats_density.solvers.GeodesicODESolver` (the whole batch
        as one ODE system, integrated by ``scipy.integrate.solve_ivp``, DOP853,
        on the closed-form :meth:`geodesic_acceleration`) on vector spaces and
        Poincare models, and
        :class:`~geomstats_density.solvers.ManifoldExpSolver` (the same ODE in
        ambient coordinates, projected onto the manifold) on a hypersphere or
        ``SO(3)``. Its options (``rtol``, ``atol``, ``max_evaluations``,
        ``max_time``, ``on_failure``) are attributes of ``metric.exp_solver``.

        Parameters
        ----------
        tangent_vec : array-like, shape=[..., {dim, [n, n]}]
            Initial velocity.
        base_point : array-like, shape=[..., {dim, [n, n]}]
            Start of the geodesic.

        Returns
        -------
        end_point : array-like, shape=[..., {dim, [n, n]}]

        Raises
        ------
        DomainError
            If the geodesic leaves the metric's domain before time 1.
        GeodesicConvergenceError
            If the integrator fails, or a budget runs out under
            ``on_failure='raise'`` (the default); under ``'warn'`` a
            :class:`~geomstats_density.GeodesicConvergenceWarning` is emitted and
            the points not reached are NaN.
        """
        return super().exp(tangent_vec, base_point)

    def log(self, point, base_point):
        """Riemannian logarithm: the initial velocity of the geodesic to ``point`` on [0, 1].

        Runs ``metric.log_solver.log``, a boundary-value solve: by default
        :class:`~geomstats_density.solvers.NewtonGeodesicSolver` (trust-region
        Newton on discretised curves, node counts doubled until the length's
        estimated error is below ``tol``), or the manifold solver on a
        hypersphere or ``SO(3)``; the velocity comes from the solved curve's
        first chords (the discrete Legendre transform). Choose and tune the
        solver with ``method`` and ``solver_options`` at construction, or
        assign ``metric.log_solver``; ``metric.log_solver.solve`` returns the
        whole :class:`~geomstats_density.GeodesicCurve` with its diagnostics.

        Parameters
        ----------
        point : array-like, shape=[..., {dim, [n, n]}]
            End of the geodesic.
        base_point : array-like, shape=[..., {dim, [n, n]}]
            Start of the geodesic; broadcast against ``point``.

        Returns
        -------
        tangent_vec : array-like, shape=[..., {dim, [n, n]}]
            NaN for pairs whose geodesic could not be solved (see the warning).

        Raises
        ------
        ValueError
            If a point has the wrong shape, a NaN or infinite coordinate, or is
            off a hypersphere or ``SO(3)``.
        DomainError
            If an endpoint is outside the metric's domain, or no pair can be solved.
        GeodesicConvergenceError
            If a pair misses the solver's tolerances under
            ``on_failure='raise'``; under ``'warn'`` (the default) a
            :class:`~geomstats_density.GeodesicConvergenceWarning` names how each
            stopped.
        """
        return super().log(point, base_point)

    def geodesic(self, initial_point, end_point=None, initial_tangent_vec=None):
        """The geodesic from ``initial_point`` to ``end_point``, or with an initial velocity.

        With ``end_point``: the boundary-value solve of :meth:`log` (same
        solver, options, warnings and errors), returned as a
        :class:`~geomstats_density.GeodesicCurve`, callable like geomstats'
        paths and carrying ``dist``, ``dist_error``, ``converged``, ``status``
        and ``message``. With ``initial_tangent_vec``: ``t -> exp(t v)`` by the
        exp solver of :meth:`exp`, for any finite real ``t``.

        Parameters
        ----------
        initial_point : array-like, shape=[..., {dim, [n, n]}]
        end_point : array-like, shape=[..., {dim, [n, n]}], optional
        initial_tangent_vec : array-like, shape=[..., {dim, [n, n]}], optional
            Exactly one of ``end_point`` and ``initial_tangent_vec``.

        Returns
        -------
        path : GeodesicCurve or callable
            ``path(t)``, ``t`` a float or of shape ``[n_times]`` (in [0, 1] for a
            ``GeodesicCurve``), gives ``[..., n_times, {dim, [n, n]}]``.

        Raises
        ------
        ValueError
            If neither or both of ``end_point`` and ``initial_tangent_vec`` are given.
        """
        return super().geodesic(initial_point, end_point, initial_tangent_vec)

    def dist_broadcast(self, point_a, point_b):
        """Distances of two sets of points, by geomstats' rule of broadcasting.

        Equal shapes, or a single point on either side: the distances of the
        pairs ``(point_a[k], point_b[k])`` broadcast, one vectorised solve as
        :meth:`dist`. Otherwise the ``[n_a, n_b]`` matrix of every point of
        ``point_a`` (say test points) to every point of ``point_b`` (training
        points), solved as
        :func:`~geomstats_density.distances.pairwise_distances` ``(point_a,
        point_b, metric=self)`` solves it: batches of
        :data:`~geomstats_density.distances.DEFAULT_BATCH_SIZE` pairs sharing one
        graph start, one warning for all pairs. As in geomstats, axes of size 1
        are squeezed; call ``pairwise_distances`` for a matrix of any shape.

        Parameters
        ----------
        point_a : array-like, shape=[n_a, {dim, [n, n]}]
        point_b : array-like, shape=[n_b, {dim, [n, n]}]

        Returns
        -------
        dist : array-like, shape=[n_a] or [n_a, n_b]

        Raises
        ------
        ValueError
            If the points of the two sets have different shapes.
        """
        ndim = len(self._space.shape)
        if point_a.shape[-ndim:] != point_b.shape[-ndim:]:
            raise ValueError(
                f"point_a and point_b must be points of the same space, got shapes "
                f"{tuple(point_a.shape)} and {tuple(point_b.shape)}."
            )
        if ndim in (point_a.ndim, point_b.ndim) or point_a.shape == point_b.shape:
            return self.dist(point_a, point_b)
        if not hasattr(self.log_solver, "solve"):
            return super().dist_broadcast(point_a, point_b)
        from geomstats_density.distances import pairwise_distances

        return gs.squeeze(pairwise_distances(point_a, point_b, metric=self))

    def diameter(self, points):
        """The largest distance between two of the points.

        The maximum of :meth:`dist_pairwise`: every pair solved once, in batches.

        Parameters
        ----------
        points : array-like, shape=[n_points, {dim, [n, n]}]

        Returns
        -------
        diameter : float or 0-d array-like
        """
        return gs.amax(self.dist_pairwise(points))

    def closest_neighbor_index(self, point, neighbors):
        """Index of the neighbor closest to each point.

        One vectorised :meth:`dist` for a single point; for several, the
        ``[n_points, n_neighbors]`` matrix of
        :func:`~geomstats_density.distances.pairwise_distances`.

        Parameters
        ----------
        point : array-like, shape=[{dim, [n, n]}] or [n_points, {dim, [n, n]}]
        neighbors : array-like, shape=[n_neighbors, {dim, [n, n]}]

        Returns
        -------
        index : int or array-like of int, shape=[] or [n_points]
        """
        if gs.ndim(point) == self._space.point_ndim:
            return gs.argmin(self.dist(point, neighbors))
        if not hasattr(self.log_solver, "solve"):
            return super().closest_neighbor_index(point, neighbors)
        from geomstats_density.distances import pairwise_distances

        return gs.argmin(pairwise_distances(point, neighbors, metric=self), axis=1)

    def squared_norm(self, vector, base_point=None):
        """Squared length ``e^{f(z)} |v|_0^2`` of tangent vectors, by :meth:`inner_product`.

        Parameters
        ----------
        vector : array-like, shape=[..., {dim, [n, n]}]
        base_point : array-like, shape=[..., {dim, [n, n]}]

        Returns
        -------
        sq_norm : array-like, shape=[...]
        """
        return self.inner_product(vector, vector, base_point)

    def norm(self, vector, base_point=None):
        """Length ``e^{f(z)/2} |v|_0`` of tangent vectors, by :meth:`inner_product`.

        Parameters
        ----------
        vector : array-like, shape=[..., {dim, [n, n]}]
        base_point : array-like, shape=[..., {dim, [n, n]}]

        Returns
        -------
        norm : array-like, shape=[...]
        """
        return gs.sqrt(self.squared_norm(vector, base_point))

    def normalize(self, vector, base_point=None):
        """Tangent vectors rescaled to unit length in this metric (:meth:`norm`).

        Parameters
        ----------
        vector : array-like, shape=[..., {dim, [n, n]}]
        base_point : array-like, shape=[..., {dim, [n, n]}]

        Returns
        -------
        unit_vector : array-like, shape=[..., {dim, [n, n]}]
        """
        norm = self.norm(vector, base_point)
        return vector / gs.reshape(norm, tuple(norm.shape) + (1,) * self._space.point_ndim)

    def random_unit_tangent_vec(self, base_point=None, n_vectors=1):
        """Random tangent vectors of unit length in this metric at one point.

        geomstats' draw (the space's ``random_tangent_vec``), normalised by
        :meth:`normalize`.

        Parameters
        ----------
        base_point : array-like, shape=[{dim, [n, n]}]
        n_vectors : int

        Returns
        -------
        tangent_vec : array-like, shape=[n_vectors, {dim, [n, n]}]

        Raises
        ------
        ValueError
            If ``base_point`` is a batch of points.
        """
        return super().random_unit_tangent_vec(base_point, n_vectors)

    def normal_basis(self, basis, base_point=None):
        """The vectors of ``basis`` each rescaled to unit length in this metric.

        Parameters
        ----------
        basis : array-like, shape=[n_vectors, {dim, [n, n]}]
        base_point : array-like, shape=[{dim, [n, n]}]

        Returns
        -------
        basis : array-like, shape=[n_vectors, {dim, [n, n]}]
        """
        return self.normalize(basis, base_point)

    def cometric_matrix(self, base_point=None):
        """Inverse of :meth:`metric_matrix`, ``e^{-f(z)} G_0(z)^{-1}``.

        Parameters
        ----------
        base_point : array-like, shape=[..., dim]

        Returns
        -------
        cometric : array-like, shape=[..., dim, dim]
        """
        return super().cometric_matrix(base_point)

    def inner_coproduct(self, cotangent_vec_a, cotangent_vec_b, base_point=None):
        """Inner product of cotangent vectors by :meth:`cometric_matrix`.

        Parameters
        ----------
        cotangent_vec_a, cotangent_vec_b : array-like, shape=[..., dim]
        base_point : array-like, shape=[..., dim]

        Returns
        -------
        inner_coproduct : array-like, shape=[...]
        """
        return super().inner_coproduct(cotangent_vec_a, cotangent_vec_b, base_point)

    def hamiltonian(self, state):
        """Hamiltonian ``1/2 <p, p>^*`` of a position and a momentum (:meth:`inner_coproduct`).

        Parameters
        ----------
        state : array-like, shape=[..., 2, dim]
            Position and momentum.

        Returns
        -------
        energy : array-like, shape=[...]
        """
        return super().hamiltonian(state)

    def ladder_parallel_transport(
        self,
        tangent_vec,
        base_point,
        direction,
        n_rungs=1,
        scheme="pole",
        alpha=1,
        return_geodesics=False,
    ):
        """Parallel transport by geomstats' pole or Schild ladder on this metric.

        Each rung calls :meth:`exp` and :meth:`log`, i.e. an ODE integration and
        a boundary-value solve (with their options, warnings and errors): a rung
        costs far more than on a metric with closed-form maps.

        Parameters
        ----------
        tangent_vec : array-like, shape=[..., dim]
            Vector to transport.
        base_point : array-like, shape=[..., dim]
        direction : array-like, shape=[..., dim]
            Initial velocity of the geodesic along which to transport.
        n_rungs : int
            Rungs of the ladder.
        scheme : {'pole', 'schild'}
        alpha : float
            Exponent of the rung scaling, at least 1.
        return_geodesics : bool
            Also return the geodesics of the construction.

        Returns
        -------
        ladder : dict
            ``'transported_tangent_vec'``, ``'end_point'`` and, if asked,
            ``'trajectory'``, as in geomstats.
        """
        return super().ladder_parallel_transport(
            tangent_vec, base_point, direction, n_rungs, scheme, alpha, return_geodesics
        )

    def directional_curvature(self, tangent_vec_a, tangent_vec_b, base_point=None):
        """``R(b, a) a`` from :meth:`curvature` (vector spaces and Poincare models).

        Parameters
        ----------
        tangent_vec_a, tangent_vec_b : array-like, shape=[..., dim]
        base_point : array-like, shape=[..., dim]

        Returns
        -------
        curvature : array-like, shape=[..., dim]
        """
        return super().directional_curvature(tangent_vec_a, tangent_vec_b, base_point)

    def directional_curvature_derivative(self, tangent_vec_a, tangent_vec_b, base_point=None):
        """``(nabla_a R)(b, a) a``, from :meth:`curvature_derivative`.

        Parameters
        ----------
        tangent_vec_a, tangent_vec_b : array-like, shape=[..., dim]
        base_point : array-like, shape=[..., dim]

        Returns
        -------
        derivative : array-like, shape=[..., dim]
        """
        return super().directional_curvature_derivative(tangent_vec_a, tangent_vec_b, base_point)

    def covariant_riemann_tensor(self, base_point=None):
        """Riemann tensor of :meth:`riemann_tensor` with its first index lowered by the metric.

        Parameters
        ----------
        base_point : array-like, shape=[..., dim]

        Returns
        -------
        riemann : array-like, shape=[..., dim, dim, dim, dim]
        """
        return super().covariant_riemann_tensor(base_point)

    def sectional_curvature(self, tangent_vec_a, tangent_vec_b, base_point=None):
        """Sectional curvature of the plane of ``a`` and ``b``, from :meth:`curvature`.

        Under both backends, on vector spaces and Poincare models; -1 everywhere
        on the hyperbolic half-plane ``f = -2 log y``.

        Parameters
        ----------
        tangent_vec_a, tangent_vec_b : array-like, shape=[..., dim]
        base_point : array-like, shape=[..., dim]

        Returns
        -------
        curvature : array-like, shape=[...]
        """
        return super().sectional_curvature(tangent_vec_a, tangent_vec_b, base_point)
