"""The solvers' view of a conformal metric: torch in, torch out, in coordinates.

:class:`SolverView` implements
:class:`~geomstats_density.solvers.protocol.SolverMetric` for a metric
``g = e^f g_0`` made of two parts: its log-factor ``f``
(:class:`~geomstats_density.metrics.log_factor.LogFactor`, the attribute
``log_factor_field``) and its base geometry ``g_0``
(:mod:`geomstats_density.geometry`, the attribute ``geometry``). Each method
answers from them: the log-factor and its derivatives, the conversions between
geomstats arrays and coordinates, the squared lengths of curve pieces, the
connection and raising an index. :class:`~geomstats_density.ConformalMetric`
mixes it in.
"""

import copy
import hashlib
from collections import OrderedDict

import numpy as np
import torch

from geomstats_density.backend import to_backend

# Curves whose squared piece lengths a remembering copy keeps (:meth:`SolverView.remembering`):
# a refinement level measures each of its curves up to five times (the domain check, the
# start's energy in two places, the accepted step's energy and its length).
REMEMBERED_CURVES = 8


class _CurveMemo:
    """The squared piece lengths of the last ``REMEMBERED_CURVES`` batches of curves measured.

    Keyed by the nodes' shape and a 128-bit BLAKE2 digest of their bytes (not
    the bytes: a batch of long curves in many dimensions takes megabytes), so
    a batch measured again gives the same values bit for bit without
    evaluating the factor.
    """

    def __init__(self):
        self._entries = OrderedDict()

    def sq_lengths(self, nodes, measure):
        """``measure(nodes)``, remembered; a copy, so callers may change it."""
        array = np.ascontiguousarray(nodes.detach().numpy())
        key = (array.shape, array.dtype.str, hashlib.blake2b(array, digest_size=16).digest())
        sq_lengths = self._entries.get(key)
        if sq_lengths is None:
            sq_lengths = measure(nodes)
            self._entries[key] = sq_lengths
            if len(self._entries) > REMEMBERED_CURVES:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
        return sq_lengths.clone()


class SolverView:
    """The solvers' view of ``g = e^f g_0``, from its log-factor and its base geometry.

    A mixin of :class:`~geomstats_density.ConformalMetric`, whose methods take
    *coordinates* ``[..., n_coords]`` (see its Notes).

    Attributes
    ----------
    log_factor_field : LogFactor
        ``f``, validated, in coordinates.
    geometry : BaseGeometry
        How ``g_0`` enters the computations.
    """

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

    # ------------------------------------------------------------------
    # The log-factor: metric.log_factor_field, a LogFactor.
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
        return self.log_factor_field.values(points)

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
        return self.log_factor_field.values_or_inf(points)

    def shifted(self, shift):
        """Copy of the metric times ``exp(-shift)``, whose log-factor is ``f - shift``.

        A constant shift rescales every length by ``exp(-shift / 2)`` and leaves
        geodesics, their nodes and velocities unchanged: solvers measure in a
        copy shifted by a typical value of ``f``, so that ``exp(f)`` neither
        underflows nor overflows, and scale lengths back. The copy is shallow;
        this metric is left unchanged (other threads may be using it). The copy
        remembers no lengths (:meth:`remembering`): its factor is another.

        Parameters
        ----------
        shift : float

        Returns
        -------
        metric : ConformalMetric
        """
        metric = copy.copy(self)
        metric.__dict__.pop("_curve_memo", None)
        metric.log_factor_field = self.log_factor_field.shifted(shift)
        return metric

    def remembering(self):
        """Copy of the metric that remembers the squared piece lengths of the curves it measured.

        A solve measures the same curve several times (its domain check, the
        energy of a level's start, the length of an accepted step): the copy
        evaluates the factor once per batch of curves (the last
        ``REMEMBERED_CURVES``), with the same values, for the one solve that
        holds it. Only evaluations without autograd and outside any
        :class:`torch.overrides.TorchFunctionMode` are remembered: those with a
        graph differentiate the factor, and a mode (such as the kink smoothing
        of :mod:`~geomstats_density.solvers.smoothing`) may see or change every
        call. The copy is shallow; this metric is left unchanged.

        Returns
        -------
        metric : ConformalMetric
        """
        metric = copy.copy(self)
        metric._curve_memo = _CurveMemo()
        return metric

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
        return self.log_factor_field.values_and_gradient(points)

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
        return self.log_factor_field.jet(points, gauss_newton=gauss_newton)

    def log_factor_linearised(self, points):
        """``f`` with the networks inside it linearised at the points.

        Its values and gradients are ``f``'s; its Hessian by autodiff drops the
        second derivatives of the networks inside the factor, as
        ``log_factor_jet(points, gauss_newton=True)`` does (a quality's
        ``linearised`` method, such as :meth:`Feature.linearised
        <geomstats_density.quality.Feature.linearised>`), without forming it.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]
            May carry a graph, through which the result is differentiable.

        Returns
        -------
        log_factor : torch.Tensor, shape=[...]

        Raises
        ------
        DomainError
            If a value is NaN or infinite.
        """
        return self.log_factor_field.linearised_values(points)

    # ------------------------------------------------------------------
    # The base geometry's part: metric.geometry.
    # ------------------------------------------------------------------
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
        ``phi`` and the factor evaluated once per node; in a :meth:`remembering`
        copy, once per batch of curves.

        Parameters
        ----------
        nodes : torch.Tensor, shape=[..., n_nodes, dim]

        Returns
        -------
        sq_lengths : torch.Tensor, shape=[..., n_nodes - 1]
        """
        memo = getattr(self, "_curve_memo", None)
        if (
            memo is None
            or torch.is_grad_enabled()
            or nodes.requires_grad
            or torch._C._is_torch_function_mode_enabled()
        ):
            return self.geometry.curve_sq_lengths(self.log_factor_tensor, nodes)
        return memo.sq_lengths(
            nodes, lambda curves: self.geometry.curve_sq_lengths(self.log_factor_tensor, curves)
        )

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
