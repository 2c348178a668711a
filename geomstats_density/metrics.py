"""Conformal and density-conformal Riemannian metrics.

A conformal metric rescales a base metric by a positive factor,

.. math:: g_z(u, v) = e^{f(z)} g^0_z(u, v),

where ``f = log_factor`` and ``g^0`` is the space's own metric: the Euclidean
inner product on vector spaces, pulled back through a map ``phi`` whose image
lengths are measured if one is given; the hyperbolic metric on the Poincare ball
and half-space; the round metric on a ``Hypersphere``; the bi-invariant metric on
``SpecialOrthogonal(3)`` (see :mod:`geomstats_density.manifolds`). The
density-conformal metric of Struski et al. takes ``f = log(log(Q)^2)`` for a
quality ``Q: Z -> (0, 1)``: geodesics then maximise the curve quality, i.e. they
keep to where ``Q`` is high.

Both classes subclass geomstats' :class:`RiemannianMetric`; equip a space with
them the geomstats way::

    space = Euclidean(2, equip=False)
    space.equip_with_metric(ConformalMetric, log_factor=lambda z: -2 * torch.log(z[..., 1]))
    space.metric.dist(point_a, point_b)

    sphere = Hypersphere(2, equip=False)
    sphere.equip_with_metric(DensityConformalMetric, log_quality=quality)
    sphere.metric.geodesic(point_a, point_b)
"""

import copy
import numbers

import geomstats.backend as gs
import numpy as np
import torch
from geomstats.geometry.riemannian_metric import RiemannianMetric

from geomstats_density._linalg import solve_positive_definite
from geomstats_density._validation import (
    check_float64,
    check_points,
    check_scalar_field,
    user_callable,
)
from geomstats_density.backend import to_backend, to_torch, tracks_gradients
from geomstats_density.curvature import (
    autodiff_curvature,
    christoffel_product,
    conformal_curvature,
    conformal_ricci,
    conformal_scalar_curvature,
    curvature_covariant_derivative,
    dense_riemann,
    directional_derivative,
)
from geomstats_density.densities import Density
from geomstats_density.energy import piece_energy_gradients
from geomstats_density.exceptions import ConstantQualityWarning, DomainError, warn_at_caller
from geomstats_density.jets import autodiff_jet
from geomstats_density.manifolds import ConformallyFlat, EmbeddedManifold, base_geometry
from geomstats_density.quality import Constant, Product

# Times along a chord and weights at which the factor is averaged.
QUADRATURE_RULES = {
    "midpoint": (np.array([0.5]), np.array([1.0])),
    "simpson": (np.array([0.0, 0.5, 1.0]), np.array([1.0, 4.0, 1.0]) / 6.0),
}


# Points per phi call when a Jacobian is built from forward-mode products.
JACOBIAN_BATCH = 4096


def _base_tensor(array):
    """A geomstats result as a tensor (copied: it may be a read-only numpy view)."""
    return to_torch(gs.copy(array))


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


def _detached(array):
    """An array out of autograd's graph (a copy-free view for tensors)."""
    return array.detach() if isinstance(array, torch.Tensor) else array


def _sum_to_shape(gradient, shape):
    """Sum a broadcast gradient over the axes its input was broadcast along."""
    while gradient.ndim > len(shape):
        gradient = gradient.sum(0)
    axes = tuple(i for i, size in enumerate(shape) if size == 1 and gradient.shape[i] != 1)
    return gradient.sum(axes, keepdim=True) if axes else gradient


class _SolvedDistance(torch.autograd.Function):
    """A solved geodesic distance as a function of its endpoints.

    The solver's value is returned as is; the backward pass multiplies the
    incoming gradient by the endpoints' gradients computed beforehand (by the
    envelope theorem, :meth:`ConformalMetric._dist_endpoint_gradients`), so
    that autograd never sees the solver's iterations.
    """

    @staticmethod
    def forward(ctx, point_a, point_b, dist, grad_a, grad_b):
        ctx.save_for_backward(grad_a, grad_b)
        ctx.shapes = (point_a.shape, point_b.shape)
        return dist.to(point_a.dtype, copy=True)

    @staticmethod
    def backward(ctx, grad_output):
        gradients = []
        for gradient, shape in zip(ctx.saved_tensors, ctx.shapes, strict=True):
            extra = (1,) * (gradient.ndim - grad_output.ndim)
            full = grad_output.reshape(grad_output.shape + extra) * gradient
            gradients.append(_sum_to_shape(full, shape))
        return gradients[0], gradients[1], None, None, None


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
    geometry : ConformallyFlat, EmbeddedManifold or None
        How ``g^0`` enters the computations; None on Euclidean vector spaces.
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
    ``f`` itself.
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
        if quadrature not in QUADRATURE_RULES:
            raise ValueError(
                f"quadrature must be one of {sorted(QUADRATURE_RULES)}, got {quadrature!r}."
            )
        if phi is not None and not callable(phi):
            raise ValueError("phi must be callable or None.")
        base_metric, geometry = base_geometry(space)
        if phi is not None and geometry is not None:
            raise ValueError(
                "phi pulls back the Euclidean inner product: it needs a vector space "
                f"with the Euclidean metric, not {type(space).__name__}."
            )
        super().__init__(space)
        self.base_metric = base_metric
        self.geometry = geometry
        self._log_factor = log_factor
        self.phi = phi
        self.quadrature = quadrature
        self.point_cost = 1
        # Imported here: the solvers import this module for type checks.
        from geomstats_density.solvers import make_log_solver
        from geomstats_density.solvers.ode import GeodesicODESolver

        options = solver_options or {}
        if self._embedded:
            from geomstats_density.solvers.manifold import (
                ManifoldExpSolver,
                ManifoldGeodesicSolver,
            )

            if method not in (None, "manopt"):
                raise ValueError(
                    f"method must be one of ['manopt'] on {geometry.name}, whose points "
                    f"stay on the manifold; got {method!r}."
                )
            self.log_solver = ManifoldGeodesicSolver(space, **options)
            self.exp_solver = ManifoldExpSolver(space)
        else:
            self.log_solver = make_log_solver(space, method or "newton", **options)
            self.exp_solver = GeodesicODESolver(space)

    @property
    def _embedded(self):
        return isinstance(self.geometry, EmbeddedManifold)

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
        return self.geometry.unflatten(coordinates) if self._embedded else coordinates

    def _to_points_backend(self, coordinates):
        """Coordinates to backend arrays of points (or tangent vectors)."""
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
        if isinstance(self.geometry, ConformallyFlat):
            values = values + self.geometry.log_factor(points)
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

    def _outside_model_message(self, point):
        """Why a point is outside a Poincare model, or None."""
        if isinstance(self.geometry, ConformallyFlat) and not bool(
            torch.isfinite(self.geometry.log_factor(point))
        ):
            return (
                f"point {point.tolist()} is outside the {self.geometry.name}: "
                f"{self.geometry.domain}."
            )
        return None

    def _domain_error_message(self, point, value):
        return self._outside_model_message(point) or (
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

    def log_factor_jet(self, points):
        """``f``, ``grad f`` and ``Hess f`` at each point.

        In closed form where the factor knows its derivatives (a quality or a
        callable with a ``jet`` method, :mod:`geomstats_density.jets`); by
        autodiff otherwise.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        jet : Jet

        Raises
        ------
        DomainError
            If a value is NaN or infinite.
        """
        jet = None if self._embedded else self._closed_form_jet(points)
        if jet is None:
            return autodiff_jet(self.log_factor_tensor, points)
        if isinstance(self.geometry, ConformallyFlat):
            jet = jet + autodiff_jet(self.geometry.log_factor, points)
        if self._log_factor_shift:
            jet = jet._replace(value=jet.value - self._log_factor_shift)
        self._raise_where_invalid(torch.isfinite(jet.value), jet.value, points)
        return jet

    def _closed_form_jet(self, points):
        """The user factor's own jet, or None."""
        jet = getattr(self._log_factor, "jet", None)
        return None if jet is None else jet(points)

    def phi_jacobian(self, points):
        """Jacobian of ``phi`` at each point.

        Columns come from forward-mode products, as many per ``phi`` call as
        keep the call within ``JACOBIAN_BATCH`` points.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        jacobian : torch.Tensor, shape=[..., m, dim]
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

    def _phi_second_derivative(self, points, vector_a, vector_b):
        """``D^2 phi(z)[a, b]``, shape ``[..., m]``."""

        def directional(z):
            return torch.func.jvp(self.phi, (z,), (vector_b,))[1]

        return torch.func.jvp(directional, (points,), (vector_a,))[1]

    def base_metric_matrix_tensor(self, points):
        """``G_0(z)``: identity or ``J_phi^T J_phi``.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        matrix : torch.Tensor, shape=[..., dim, dim]
        """
        dim = points.shape[-1]
        if self.phi is None:
            return torch.eye(dim, dtype=points.dtype).expand(*points.shape, dim)
        jacobian = self.phi_jacobian(points)
        return jacobian.transpose(-1, -2) @ jacobian

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
        if self._embedded:
            tangent = self.geometry.to_tangent(covectors, points)
            return tangent / (self.geometry.metric_scale * factor)
        if self.euclidean_chords:
            return covectors / factor  # G_0 = I
        base = self.base_metric_matrix_tensor(points)
        return solve_positive_definite(base, covectors.unsqueeze(-1)).squeeze(-1) / factor

    def image_tensor(self, points):
        """``phi(z)``, or ``z`` itself when ``phi`` is the identity.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        image : torch.Tensor, shape=[..., m]
        """
        return points if self.phi is None else self.phi(points)
        """``phi(z)``, or ``z`` itself when ``phi`` is the identity."""
        if self.phi is None:
            return points
        with user_callable("phi", self.phi):
            return self.phi(points)

    @property
    def quadrature_rule(self):
        """Times in [0, 1] and weights of the factor's quadrature along chords.

        None on a hypersphere or ``SO(3)``, whose pieces take the factor at the
        base geodesic midpoint.
        """
        return None if self._embedded else QUADRATURE_RULES[self.quadrature]

    @property
    def euclidean_chords(self):
        """Whether curve pieces are Euclidean chords of the coordinates.

        True without ``phi`` on vector spaces and Poincare models; the Newton
        solver then differentiates pieces in closed form.
        """
        return self.phi is None and not self._embedded

    def base_sq_lengths(self, left, right):
        """Squared base lengths ``|phi(right) - phi(left)|^2`` of curve pieces.

        Parameters
        ----------
        left, right : torch.Tensor, shape=[..., dim]

        Returns
        -------
        sq_lengths : torch.Tensor, shape=[...]
        """
        chord = self.image_tensor(right) - self.image_tensor(left)
        return (chord * chord).sum(-1)

    def curve_base_sq_lengths(self, nodes):
        """:meth:`base_sq_lengths` of consecutive nodes, ``phi`` evaluated once per node.

        Parameters
        ----------
        nodes : torch.Tensor, shape=[..., n_nodes, dim]

        Returns
        -------
        sq_lengths : torch.Tensor, shape=[..., n_nodes - 1]
        """
        image = self.image_tensor(nodes)
        chord = image[..., 1:, :] - image[..., :-1, :]
        return (chord * chord).sum(-1)

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
        if self._embedded:
            return torch.exp(
                self.log_factor_tensor(self.geometry.midpoint(left, right))
            ) * self.geometry.sq_dist(left, right)
        return self._chord_factor(left, right) * self.base_sq_lengths(left, right)

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
        left, right = nodes[..., :-1, :], nodes[..., 1:, :]
        if self._embedded:
            return self.segment_sq_lengths(left, right)
        node_factor = None
        if 0.0 in self.quadrature_rule[0]:
            node_factor = torch.exp(self.log_factor_tensor(nodes))
        return self._chord_factor(left, right, node_factor) * self.curve_base_sq_lengths(nodes)

    def _chord_factor(self, left, right, node_factor=None):
        """The factor averaged along chords by the quadrature rule, shape ``[...]``.

        ``node_factor``, the factor at the nodes of curves whose consecutive
        nodes are ``left`` and ``right``, saves evaluating it twice per node.
        """
        total = 0.0
        for time, weight in zip(*self.quadrature_rule):
            if node_factor is not None and time == 0.0:
                values = node_factor[..., :-1]
            elif node_factor is not None and time == 1.0:
                values = node_factor[..., 1:]
            else:
                values = torch.exp(self.log_factor_tensor((1 - time) * left + time * right))
            total = total + weight * values
        return total

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
        slope = (grad_f * velocity).sum(-1, keepdim=True)
        if self._embedded:
            sq_speed = (velocity * velocity).sum(-1, keepdim=True)
            return (
                0.5 * sq_speed * self.geometry.to_tangent(grad_f, position)
                - slope * velocity
                + self.geometry.normal_acceleration(position, velocity)
            )
        if self.phi is None:
            sq_speed = (velocity * velocity).sum(-1, keepdim=True)
            return 0.5 * sq_speed * grad_f - slope * velocity
        jacobian = self.phi_jacobian(position)
        image_velocity = (jacobian @ velocity.unsqueeze(-1)).squeeze(-1)
        sq_speed = (image_velocity * image_velocity).sum(-1, keepdim=True)
        curvature = self._phi_second_derivative(position, velocity, velocity)
        force = (jacobian.transpose(-1, -2) @ curvature.unsqueeze(-1)).squeeze(-1)
        base = jacobian.transpose(-1, -2) @ jacobian
        rhs = (force - 0.5 * sq_speed * grad_f).unsqueeze(-1)
        return -torch.linalg.solve(base, rhs).squeeze(-1) - slope * velocity

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
        if self.euclidean_chords:
            return christoffel_product(grad_f, vec_a, vec_b)
        if self._embedded:
            return self._embedded_christoffel_map(points.expand(shape), grad_f, vec_a, vec_b)
        if self.phi is None:
            return self._koszul_christoffel_map(points.expand(shape), vec_a, vec_b)
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

    def _embedded_christoffel_map(self, points, grad_f, vec_a, vec_b):
        """``Gamma(a, b)`` in ambient coordinates on a hypersphere or ``SO(3)``."""
        geometry = self.geometry

        def normal(vector):
            return geometry.normal_acceleration(points, vector)

        # II is bilinear and symmetric: polarisation of II(v, v).
        second_form = 0.5 * (normal(vec_a + vec_b) - normal(vec_a) - normal(vec_b))
        tangent_gradient = geometry.to_tangent(grad_f, points)
        return (
            0.5
            * (
                (grad_f * vec_a).sum(-1, keepdim=True) * vec_b
                + (grad_f * vec_b).sum(-1, keepdim=True) * vec_a
                - (vec_a * vec_b).sum(-1, keepdim=True) * tangent_gradient
            )
            - second_form
        )

    def _koszul_christoffel_map(self, points, vec_a, vec_b):
        """``Gamma(a, b) = 1/2 G^{-1} (dG[a] b + dG[b] a - grad (a^T G b))`` by autodiff.

        For subclasses whose base metric matrix is their own
        (``base_metric_matrix_tensor``), such as the kernel mean embedding's.
        """

        def matrices(at):
            factor = torch.exp(self.log_factor_tensor(at))[..., None, None]
            return factor * self.base_metric_matrix_tensor(at)

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

    def _require_chart(self, what):
        """Raise where points have ambient coordinates, not a chart."""
        if self._embedded:
            raise NotImplementedError(
                f"{what} need a chart; points of {self.geometry.name} have ambient "
                "coordinates. geodesic_equation gives the geodesic ODE in them."
            )

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
        if self._embedded:
            on_manifold = np.reshape(self.geometry.belongs(coordinates), -1)
            if not on_manifold.all():
                point = coordinates.reshape(-1, coordinates.shape[-1])[np.argmin(on_manifold)]
                raise ValueError(
                    f"{name} is not on the {self.geometry.name} (geomstats' belongs, "
                    f"atol={gs.atol}): {self.geometry.unflatten(point).detach().tolist()}."
                )
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
        if not self._embedded:
            return check_points(array, self._space.dim, name)
        geometry = self.geometry
        tensor = to_torch(array)
        n_axes = len(geometry.point_shape)
        if tensor.ndim < n_axes or tuple(tensor.shape[tensor.ndim - n_axes :]) != (
            geometry.point_shape
        ):
            shape = ", ".join(str(size) for size in geometry.point_shape)
            raise ValueError(
                f"{name} must have shape [..., {shape}], got shape {tuple(tensor.shape)}."
            )
        return check_points(geometry.flatten(tensor), geometry.n_coords, name)

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
        if isinstance(self.geometry, ConformallyFlat):
            values = values - self.geometry.log_factor(points)
        return to_backend(values)

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
        if self._embedded:
            base = _base_tensor(self.base_metric.metric_matrix(base_point))
            return to_backend(factor[..., None, None] * base)
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
        if self._embedded:
            base = self.base_metric.inner_product(tangent_vec_a, tangent_vec_b, base_point)
            return to_backend(torch.exp(self.log_factor_tensor(points)) * _base_tensor(base))
        if self.phi is not None:
            jacobian = self.phi_jacobian(points)
            vec_a = (jacobian @ vec_a.unsqueeze(-1)).squeeze(-1)
            vec_b = (jacobian @ vec_b.unsqueeze(-1)).squeeze(-1)
        factor = torch.exp(self.log_factor_tensor(points))
        return to_backend(factor * (vec_a * vec_b).sum(-1))

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
        if self._embedded:
            raise NotImplementedError(
                f"Christoffel symbols need a chart; points of {self.geometry.name} have "
                "ambient coordinates. geodesic_equation gives the geodesic ODE in them."
            )
        points = self.points_tensor(base_point)
        dim = points.shape[-1]
        _, grad_f = self.log_factor_and_gradient(points)
        eye = torch.eye(dim, dtype=points.dtype)
        base = self.base_metric_matrix_tensor(points)
        raised_grad = grad_f
        if self.phi is not None:
            raised_grad = torch.linalg.solve(base, grad_f.unsqueeze(-1)).squeeze(-1)
        gamma = 0.5 * (
            eye[:, :, None] * grad_f[..., None, None, :]
            + eye[:, None, :] * grad_f[..., None, :, None]
            - base[..., None, :, :] * raised_grad[..., :, None, None]
        )
        if self.phi is not None:
            basis = [e_i.expand_as(points) for e_i in eye]
            hessian = torch.stack(
                [
                    torch.stack(
                        [self._phi_second_derivative(points, e_i, e_j) for e_j in basis],
                        dim=-1,
                    )
                    for e_i in basis
                ],
                dim=-2,
            )
            jacobian = self.phi_jacobian(points)
            projected = torch.einsum("...ml,...mij->...lij", jacobian, hessian)
            batch = points.shape[:-1]
            gamma = gamma + torch.linalg.solve(
                base, projected.reshape(*batch, dim, dim * dim)
            ).reshape(*batch, dim, dim, dim)
        return to_backend(gamma)

    def _chart_points(self, base_point, what):
        """Validated points of a chart, or NotImplementedError naming ``what``."""
        self._require_chart(what)
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
        if self._embedded:
            return super().inner_product_derivative_matrix(base_point)
        points = self.points_tensor(base_point)
        dim = points.shape[-1]
        eye = torch.eye(dim, dtype=points.dtype)
        if self.euclidean_chords:
            values, grad_f = self.log_factor_and_gradient(points)
            derivative = torch.exp(values)[..., None, None, None] * (
                eye[:, :, None] * grad_f[..., None, None, :]
            )
            return to_backend(derivative.detach())
        shape = (*points.shape[:-1], dim, dim)
        leaf = points.detach().unsqueeze(-2).expand(shape).clone().requires_grad_(True)

        def matrices(at):
            factor = torch.exp(self.log_factor_tensor(at))[..., None, None]
            return (factor * self.base_metric_matrix_tensor(at)).flatten(-2)

        with torch.enable_grad():
            columns = directional_derivative(matrices, leaf, eye.expand(shape))
        return to_backend(columns.detach().unflatten(-1, (dim, dim)).movedim(-3, -1))

    def _curvature_tensor(self, points, vec_x, vec_y, vec_z):
        """``R(x, y) z`` at points broadcast against the vectors, torch in and out.

        In closed form from the log-factor's jet where the base matrix is the
        identity (:func:`~geomstats_density.curvature.conformal_curvature`); with
        ``D Gamma`` by autodiff of :meth:`christoffel_map` otherwise.
        """
        if self.euclidean_chords:
            jet = self.log_factor_jet(points)
            return conformal_curvature(jet.gradient, jet.hessian, vec_x, vec_y, vec_z)
        shape = torch.broadcast_shapes(points.shape, vec_x.shape, vec_y.shape, vec_z.shape)
        leaf = points.detach().expand(shape).clone().requires_grad_(True)
        vectors = (vec.expand(shape) for vec in (vec_x, vec_y, vec_z))
        with torch.enable_grad():
            curvature = autodiff_curvature(self.christoffel_map, leaf, *vectors)
        return curvature.detach()

    def _riemann_tensor(self, points):
        dim = points.shape[-1]
        return dense_riemann(
            lambda *vectors: self._curvature_tensor(points[..., None, None, None, :], *vectors),
            points.shape[:-1],
            dim,
            points.dtype,
        )

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
        return to_backend(self._riemann_tensor(points))

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
        return to_backend(self._curvature_tensor(points, *vectors))

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
        return to_backend(self._ricci_tensor(points))

    def _ricci_tensor(self, points):
        if self.euclidean_chords:
            jet = self.log_factor_jet(points)
            return conformal_ricci(jet.gradient, jet.hessian)
        return torch.einsum("...ijkj->...ik", self._riemann_tensor(points))

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
        if self.euclidean_chords:
            jet = self.log_factor_jet(points)
            return to_backend(conformal_scalar_curvature(jet.value, jet.gradient, jet.hessian))
        metric = torch.exp(self.log_factor_tensor(points))[..., None, None] * (
            self.base_metric_matrix_tensor(points)
        )
        cometric = torch.linalg.inv(metric)
        return to_backend(torch.einsum("...ij,...ij->...", cometric, self._ricci_tensor(points)))

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
            log = self.log(self._to_points_backend(ends), self._to_points_backend(points))
            velocity = self.coordinates(log)
        batch_shape, n_coords = points.shape[:-1], points.shape[-1]
        vector, points, velocity = (
            v.reshape(-1, n_coords).detach() for v in (vector, points, velocity)
        )
        if end_point is not None:
            velocity = shoot(self, points, ends.reshape(-1, n_coords).detach(), velocity)
        end, transported = transport_along_geodesics(self, vector, points, velocity)
        if self._embedded:
            # The integration leaves the manifold by about its tolerance.
            transported = self.geometry.to_tangent(transported, self.geometry.project(end))
        return self._to_points_backend(transported.reshape(*batch_shape, n_coords))

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
        state = to_torch(state)
        if self._embedded:
            state = self.geometry.flatten(state)
        position, velocity = state[..., 0, :], state[..., 1, :]
        acceleration = self.geodesic_acceleration(position, velocity)
        return self._to_points_backend(torch.stack([velocity, acceleration], dim=-2))

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
        curve = self.log_solver.solve(_detached(point_b), _detached(point_a))
        dist = to_torch(curve.dist)
        grad_a, grad_b = self._dist_endpoint_gradients(curve, dist)
        return _SolvedDistance.apply(to_torch(point_a), to_torch(point_b), dist, grad_a, grad_b)

    def _dist_endpoint_gradients(self, curve, dist):
        r"""Gradients of solved distances with respect to their endpoints.

        By the envelope theorem the curve's interior stays fixed: the
        derivative of the length ``L`` of a geodesic on ``[0, 1]`` with respect
        to its end ``b`` is ``g_b(v_1, .) / L`` (for a conformal metric,
        ``sqrt(lambda(b)) dPhi_b^T u`` with ``u`` the unit velocity of
        ``Phi(gamma)`` at ``b``), and minus ``g_a(v_0, .) / L`` at the start.
        These are read from the solved nodes as the discrete Legendre transform
        reads ``log``: the derivative of the discrete energy ``E ~ L^2`` with
        respect to the end node alone, ``dL = dE / (2 L)``, a second-order
        approximation in the node spacing ``h``, Richardson-extrapolated with
        the same derivative at spacing ``2 h`` (every other node) when the
        number of pieces is even.

        Parameters
        ----------
        curve : GeodesicCurve
            The solved curves from ``point_a`` to ``point_b``.
        dist : torch.Tensor, shape=[...]

        Returns
        -------
        grad_a, grad_b : torch.Tensor, shape=[..., *space.shape]
            Zero where the endpoints coincide (the distance is not differentiable there).
        """
        nodes = to_torch(curve.nodes).detach()
        times = to_torch(curve.times)
        start, end = nodes[..., 0, :], nodes[..., -1, :]
        gradients = self._end_node_gradients(nodes, times, 1)
        n_pieces = nodes.shape[-2] - 1
        if n_pieces >= 4 and n_pieces % 2 == 0:
            coarse = self._end_node_gradients(nodes, times, 2)
            gradients = [
                (4 * fine - rough) / 3 for fine, rough in zip(gradients, coarse, strict=True)
            ]
        scale = torch.where(dist > 0, 0.5 / dist, 0.0)[..., None]
        gradients = [scale * gradient for gradient in gradients]
        if self._embedded:
            gradients = [
                self.geometry.to_tangent(gradient, point)
                for gradient, point in zip(gradients, (start, end), strict=True)
            ]
        return tuple(self.from_coordinates(gradient) for gradient in gradients)

    def _end_node_gradients(self, nodes, times, step):
        """Derivatives of discrete energies with respect to their end nodes alone.

        The curves are taken at every ``step``-th node; only the first and the
        last piece depend on the end nodes: both pieces go through
        :func:`~geomstats_density.energy.piece_energy_gradients` in one pass.
        """
        left = torch.stack([nodes[..., 0, :], nodes[..., -1 - step, :]])
        right = torch.stack([nodes[..., step, :], nodes[..., -1, :]])
        weights = torch.stack(
            [1 / (times[..., step] - times[..., 0]), 1 / (times[..., -1] - times[..., -1 - step])]
        )
        weights = weights.reshape(*weights.shape, *[1] * (nodes.ndim - 1 - weights.ndim))
        grad_left, grad_right = piece_energy_gradients(self, left, right, weights)
        return grad_left[0], grad_right[1]

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
        from geomstats_density.distances import (
            DEFAULT_BATCH_SIZE,
            _check_checkpoint_without_gradients,
            pairwise_distances,
        )

        self.points_tensor(points, "points")  # errors name this method's argument
        _check_checkpoint_without_gradients(checkpoint, points)
        if tracks_gradients(points):
            return self._differentiable_dist_pairwise(
                points, DEFAULT_BATCH_SIZE if batch_size is None else batch_size
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

    def _differentiable_dist_pairwise(self, points, batch_size):
        """The distance matrix of points that require grad, by :meth:`dist` on batches of pairs."""
        n_points = points.shape[0]
        rows, cols = torch.triu_indices(n_points, n_points, 1)
        upper = [
            self.dist(points[rows[batch]], points[cols[batch]])
            for batch in torch.arange(rows.numel()).split(batch_size)
        ]
        upper = torch.cat(upper) if upper else points.new_zeros(0)
        matrix = points.new_zeros(n_points, n_points).index_put((rows, cols), upper)
        return matrix + matrix.T


class DensityConformalMetric(ConformalMetric):
    r"""The paper's metric ``g_z = log(Q(z))^2 * g^0_z`` for a quality ``Q``.

    Geodesics of this metric are the curves of maximal quality
    ``log q(gamma) = integral of log Q |d/dt gamma|_0 dt = -L_g(gamma)``.

    Parameters
    ----------
    space : Manifold
        As in :class:`ConformalMetric`: a Euclidean vector space, a Poincare
        model, a ``Hypersphere`` or ``SpecialOrthogonal(3)``.
    log_quality : callable
        ``log Q``: torch tensor ``[..., *space.shape]`` to torch tensor ``[...]``,
        finite and strictly negative (``Q`` in (0, 1)) where curves go.
    phi : callable, optional
        Map whose image lengths are measured; identity by default.
    quadrature, method, solver_options, injectivity_radius
        As in :class:`ConformalMetric`.
    """

    def __init__(
        self,
        space,
        log_quality,
        phi=None,
        quadrature="simpson",
        method=None,
        solver_options=None,
        injectivity_radius=None,
    ):
        if not callable(log_quality):
            raise ValueError("log_quality must be callable.")
        if isinstance(log_quality, Density):
            raise TypeError(
                f"log_quality is a density ({type(log_quality).__name__}), not a log-quality "
                "log Q with Q in (0, 1): wrap it, log_quality=RealismIndex(density) (or "
                "Typicality(density), DensityRatio(density), from "
                "geomstats_density.quality); a LatentSpace takes it as log_density=."
            )
        factors = log_quality.factors if isinstance(log_quality, Product) else (log_quality,)
        # Qualities constant by construction are not checked for depending on the points.
        self._quality_checked = all(isinstance(factor, Constant) for factor in factors)
        self.log_quality = log_quality
        super().__init__(
            space,
            log_factor=self._log_factor_from_quality,
            phi=phi,
            quadrature=quadrature,
            method=method,
            solver_options=solver_options,
            injectivity_radius=injectivity_radius,
        )

    def log_quality_tensor(self, points):
        """Validated ``log Q(z)``.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., n_coords]

        Returns
        -------
        log_quality : torch.Tensor, shape=[...]

        Raises
        ------
        ValueError
            If the callable returns the wrong shape.
        DomainError
            If ``log Q`` is NaN, infinite or not below 0 (``Q`` must be in (0, 1)).
        """
        with user_callable("log_quality", self.log_quality):
            values = self.log_quality(self.from_coordinates(points))
        check_scalar_field(values, points, "log_quality")
        check_float64(values, "log_quality")
        self._raise_where_invalid(torch.isfinite(values) & (values < 0), values, points)
        return values

    def _closed_form_jet(self, points):
        jet = getattr(self.log_quality, "jet", None)
        log_quality = None if jet is None else jet(points)
        if log_quality is None:
            return None
        value = log_quality.value
        # f = 2 log(-log Q), with f' = 2 / log Q and f'' = -2 / log Q^2; where log Q
        # is not in (-inf, 0), f is not finite and the caller reports the point.
        return log_quality.chain(2.0 * torch.log(-value), 2.0 / value, -2.0 / value**2)

    def _log_factor_from_quality(self, points):
        with user_callable("log_quality", self.log_quality):
            log_quality = self.log_quality(points)
        check_scalar_field(log_quality, points, "log_quality", self._space.point_ndim)
        check_float64(log_quality, "log_quality")
        if points.requires_grad and torch.is_grad_enabled() and not self._quality_checked:
            self._check_depends_on_points(log_quality, points)
        # Not finite exactly where log Q is not in (-inf, 0).
        return 2.0 * torch.log(-log_quality)

    def _check_depends_on_points(self, log_quality, points):
        """Warn, once, of a quality that does not vary with the points.

        Runs at the first evaluation that autograd records (qualities built of
        ``quality.Constant`` are exempt): a quality that ignores its input gives
        a constant factor, whose geodesics are those of the base metric, which is
        rarely what a quality written by hand means.

        Warns
        -----
        ConstantQualityWarning
            If ``log_quality`` returned values that autograd does not connect to
            the points, or the same value with zero gradient at distinct points
            and at random points around them.
        """
        advice = (
            "geodesics are then those of the base metric. For a constant factor use "
            "quality.Constant(q); otherwise compute log Q from the points with torch "
            "operations (no .item(), float() or .detach()). A quality constant on "
            "purpose where it is defined can silence this ConstantQualityWarning."
        )
        if not log_quality.requires_grad:
            self._quality_checked = True
            warn_at_caller(
                "log_quality returned values that do not depend on the points it was "
                "given (no autograd graph leads from them): " + advice,
                ConstantQualityWarning,
            )
            return
        values = log_quality.detach().reshape(-1)
        flat = points.detach().reshape(values.numel(), -1)
        if values.numel() < 2 or not bool((flat != flat[0]).any()):
            return
        (gradient,) = torch.autograd.grad(
            log_quality.sum(), points, retain_graph=True, allow_unused=True
        )
        self._quality_checked = True
        if gradient is None:
            message = "log_quality does not use the points it is given (autograd finds no path)"
        elif bool((values == values[0]).all()) and not bool(gradient.any()):
            if not self._constant_at_probes(flat, values[0], points.shape):
                return
            message = (
                f"log_quality is {values[0].item()} with zero gradient at the "
                f"{values.numel()} distinct points of its first evaluation, and the same "
                "at random points around them, as a constant is"
            )
        else:
            return
        warn_at_caller(message + ": " + advice, ConstantQualityWarning)

    def _constant_at_probes(self, flat, value, shape):
        """Whether ``log Q`` is ``value`` at random points around ``flat`` (``[n, n_coords]``).

        A quality flat where it was first evaluated (clamped, say) but not
        constant varies at some of these; probes it refuses say nothing.
        """
        spread = float(flat.std(0).max()) or 1.0
        generator = torch.Generator().manual_seed(0)
        noise = torch.randn(flat.shape, generator=generator, dtype=flat.dtype)
        probes = (flat + spread * noise).reshape(shape)
        try:
            with torch.no_grad():
                probed = self.log_quality(probes)
        except Exception:  # noqa: BLE001 - a probe outside the quality's domain
            return False
        return isinstance(probed, torch.Tensor) and bool((probed == value).all())

    def _domain_error_message(self, point, value):
        outside = self._outside_model_message(point)
        if outside is not None:
            return outside
        log_quality = self.log_quality(self.from_coordinates(point[None]))[0].item()
        return (
            "log_quality must be finite and < 0 (quality strictly inside (0, 1)); "
            f"got {log_quality} at point {self.from_coordinates(point).tolist()}."
        )

    def curve_log_quality(self, points):
        r"""The paper's curve quality ``log q(gamma)`` of a discretised curve.

        ``sum_i log Q(mid_i) * |phi(z_{i+1}) - phi(z_i)|``, which equals minus the
        curve's discrete length in this metric. On other spaces the pieces are
        measured by the base metric: ``d_0(z_i, z_{i+1})`` on a hypersphere or
        ``SO(3)`` (``mid_i`` the geodesic midpoint), ``e^{h(mid_i)/2}`` times the
        chord on a Poincare model.

        Parameters
        ----------
        points : array-like, shape=[..., n_points, {dim, [n, n]}]
            Nodes of the curve, in order.

        Returns
        -------
        log_quality : array-like, shape=[...]
        """
        points = self.points_tensor(points, "points")
        if points.ndim < 2 or points.shape[-2] < 2:
            raise ValueError(
                f"points must have shape [..., n_points >= 2, dim], got {tuple(points.shape)}."
            )
        left, right = points[..., :-1, :], points[..., 1:, :]
        if self._embedded:
            mid = self.geometry.midpoint(left, right)
            base_lengths = torch.sqrt(self.geometry.sq_dist(left, right))
        else:
            mid = 0.5 * (left + right)
            base_lengths = torch.sqrt(self.curve_base_sq_lengths(points).clamp_min(0.0))
            if isinstance(self.geometry, ConformallyFlat):
                base_lengths = torch.exp(0.5 * self.geometry.log_factor(mid)) * base_lengths
        pieces = self.log_quality_tensor(mid) * base_lengths
        return to_backend(pieces.sum(-1))
