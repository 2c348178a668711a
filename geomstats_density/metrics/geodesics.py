"""Distances and geodesics of a conformal metric, from its solver objects.

:class:`SolvedGeodesics` holds geomstats' distance and geodesic methods for
:class:`~geomstats_density.ConformalMetric`: ``log``, ``dist`` and the
boundary-value ``geodesic`` run ``metric.log_solver`` (one vectorised solve
for all the pairs), ``exp`` and the initial-value ``geodesic`` run
``metric.exp_solver``, and distance matrices are solved in batches of bounded
memory (:mod:`geomstats_density.distances`). Under the pytorch backend,
distances carry gradients with respect to their endpoints
(:mod:`geomstats_density.dist_gradients`). Solvers without a batched ``solve``
(geomstats' own) fall back to geomstats' generic methods.
"""

import geomstats.backend as gs

from geomstats_density.backend import tracks_gradients
from geomstats_density.dist_gradients import differentiable_dist, differentiable_dist_pairwise


class SolvedGeodesics:
    """geomstats' distance and geodesic methods, from the metric's solvers.

    A mixin of :class:`~geomstats_density.ConformalMetric`, before geomstats'
    ``RiemannianMetric``, whose generic methods it falls back to.
    """

    def exp(self, tangent_vec, base_point):
        """Riemannian exponential: the geodesic of initial velocity ``tangent_vec`` at time 1.

        Runs ``metric.exp_solver``: by default
        :class:`~geomstats_density.solvers.GeodesicODESolver` (the whole batch
        as one ODE system, integrated by ``scipy.integrate.solve_ivp``, DOP853,
        on the closed-form
        :meth:`~geomstats_density.ConformalMetric.geodesic_acceleration`) on vector spaces and
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
            :data:`~geomstats_density.distance_batches.DEFAULT_BATCH_SIZE`.
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
        from geomstats_density.distance_batches import DEFAULT_BATCH_SIZE
        from geomstats_density.distances import pairwise_distances

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

    def dist_broadcast(self, point_a, point_b):
        """Distances of two sets of points, by geomstats' rule of broadcasting.

        Equal shapes, or a single point on either side: the distances of the
        pairs ``(point_a[k], point_b[k])`` broadcast, one vectorised solve as
        :meth:`dist`. Otherwise the ``[n_a, n_b]`` matrix of every point of
        ``point_a`` (say test points) to every point of ``point_b`` (training
        points), solved as
        :func:`~geomstats_density.distances.pairwise_distances` ``(point_a,
        point_b, metric=self)`` solves it: batches of
        :data:`~geomstats_density.distance_batches.DEFAULT_BATCH_SIZE` pairs sharing one
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
