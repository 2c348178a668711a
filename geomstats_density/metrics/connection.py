"""The Levi-Civita connection of a conformal metric and its curvature, as geomstats asks.

:class:`LeviCivitaConnection` holds the methods of geomstats' ``Connection``
(and the curvature methods ``RiemannianMetric`` adds) for
:class:`~geomstats_density.ConformalMetric`: the Christoffel symbols, the
geodesic equation, parallel transport (:mod:`geomstats_density.transport`), the
injectivity radius where known, and the Riemann, Ricci, scalar and sectional
curvatures with the covariant derivative of the curvature
(:mod:`geomstats_density.curvature`). They read the metric through the solvers'
view (:class:`~geomstats_density.metrics.solver_view.SolverView`) and hand the
base metric's part to its geometry; geomstats' generic methods run the rest.
"""

import torch

from geomstats_density.backend import to_backend, to_torch
from geomstats_density.curvature import curvature_covariant_derivative


class LeviCivitaConnection:
    """geomstats' connection and curvature methods for ``g = e^f g_0``.

    A mixin of :class:`~geomstats_density.ConformalMetric`, before geomstats'
    ``RiemannianMetric``, whose generic methods the documented ones call.
    """

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
        coordinates (:meth:`~geomstats_density.ConformalMetric.christoffel_map`)
        and the result is projected onto the tangent space at the end.

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

        Each rung calls :meth:`~geomstats_density.ConformalMetric.exp` and
        :meth:`~geomstats_density.ConformalMetric.log`, i.e. an ODE integration and
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

    # ------------------------------------------------------------------
    # Curvature: vector spaces and Poincare models (a chart).
    # ------------------------------------------------------------------
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
