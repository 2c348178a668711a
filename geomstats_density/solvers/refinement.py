"""The base class of the boundary-value solvers of discretised curves.

:class:`RefiningGeodesicSolver` holds what the Newton and manifold solvers
share: geomstats' ``LogSolver`` interface, the checks of the endpoints, the
log-factor shift that keeps ``exp(f)`` finite, the refinement over node counts
(:mod:`~geomstats_density.solvers.doubling`), curves short of ``tol`` solved
again at graded node times (:mod:`~geomstats_density.solvers.grading`), the
:class:`~geomstats_density.curves.GeodesicCurve` assembled from the
:class:`~geomstats_density.solvers.solution.Solution`, and the convergence
report. Subclasses say how curves start and how their energy is minimised at
one node count.

``log`` is read from the solved curve by the discrete Legendre transform: the
momentum ``p_0 = -dE/dz_0`` of the discrete energy is a second-order
approximation of ``2 g(z_0) v_0``.
"""

from abc import ABC, abstractmethod

import numpy as np
import torch
from geomstats.numerics.geodesic import LogSolver

from geomstats_density._validation import (
    broadcast_pair,
    check_bool_or_none,
    check_int,
    check_on_failure,
    check_positive_float,
    check_positive_int,
)
from geomstats_density.backend import to_numpy
from geomstats_density.curves import DiscreteCurve, GeodesicCurve
from geomstats_density.energy import uniform_times
from geomstats_density.exceptions import DomainError
from geomstats_density.solvers.doubling import NodeDoubling
from geomstats_density.solvers.grading import CurveGradings, NodeGrading, piece_errors
from geomstats_density.solvers.status import CurveStatus, report_unconverged
from geomstats_density.threads import torch_threads_for

# A curve solved again at graded node times reaches max_nodes in this many
# doublings: enough levels for the error estimate's geometric tail.
GRADED_DOUBLINGS = 3


class RefiningGeodesicSolver(LogSolver, ABC):
    """Boundary-value solver on discretised curves, refined by node doubling.

    Subclasses say how curves start (:meth:`_initial_nodes`) and how their
    energy is minimised at one node count (:meth:`_minimise`).

    Parameters
    ----------
    space : Manifold
        Space equipped with a :class:`~geomstats_density.ConformalMetric`.
    n_nodes : int
        Nodes of the first, coarsest curve (endpoints included).
    tol : float or None
        Target relative error of the length. Node counts double from ``n_nodes``
        until the estimated error of the Richardson-extrapolated length is below
        ``tol`` (returned as ``curve.dist_error``). None solves once with
        ``n_nodes`` nodes and returns the curve's own length, measured finer
        (``curve.dist_error`` is None: the distance's error is not estimated).
    max_nodes : int
        Largest node count tried before reporting that ``tol`` was not met.
    max_iter : int
        Optimiser iterations allowed per node count.
    on_failure : {'warn', 'raise', 'ignore'}
        What to do when a curve misses ``max_iter`` or ``tol``: emit a
        :class:`GeodesicConvergenceWarning`, raise a
        :class:`GeodesicConvergenceError`, or only flag ``curve.converged``.
    progress : bool or None
        Show a progress bar; None shows it for batches of 64 curves or more.
    """

    curve_class = GeodesicCurve
    # Whether _minimise takes node times (times=), so curves can be solved graded.
    grades_nodes = False

    def __init__(self, space, n_nodes, tol, max_nodes, max_iter, on_failure, progress):
        super().__init__(solves_bvp=True)
        n_nodes = check_int(n_nodes, "n_nodes", minimum=3)
        tol = check_positive_float(tol, "tol", allow_none=True)
        max_nodes = check_int(max_nodes, "max_nodes", minimum=n_nodes)
        max_iter = check_positive_int(max_iter, "max_iter")
        check_on_failure(on_failure)
        progress = check_bool_or_none(progress, "progress")
        self._space = space
        self.n_nodes = n_nodes
        self.tol = tol
        self.max_nodes = max_nodes
        self.max_iter = max_iter
        self.on_failure = on_failure
        self.progress = progress

    # ------------------------------------------------------------------
    # geomstats LogSolver interface
    # ------------------------------------------------------------------
    def log(self, point, base_point):
        """Initial velocity of the geodesic from ``base_point`` to ``point`` on [0, 1].

        Parameters
        ----------
        point, base_point : array-like, shape=[...] + space.shape

        Returns
        -------
        tangent_vec : array-like, shape=[...] + space.shape
        """
        return self.solve(point, base_point).initial_velocity

    def geodesic_bvp(self, point, base_point):
        """Geodesic from ``base_point`` to ``point``, a callable curve.

        Parameters
        ----------
        point, base_point : array-like, shape=[...] + space.shape

        Returns
        -------
        curve : GeodesicCurve
            ``curve(t)`` has shape ``[..., n_times, *space.shape]``.
        """
        return self.solve(point, base_point)

    # ------------------------------------------------------------------
    # Solver
    # ------------------------------------------------------------------
    def solve(self, point, base_point, initial_curve=None):
        """Solve for the geodesics from ``base_point`` to ``point``.

        Parameters
        ----------
        point, base_point : array-like, shape=[...] + space.shape
        initial_curve : DiscreteCurve or array-like, shape=[..., n, n_coords], optional
            Starting curve(s) with these endpoints, in the metric's coordinates.

        Returns
        -------
        curve : GeodesicCurve
            Equal endpoints give constant curves of length 0.
        """
        metric = self._space.metric
        start, end, batch_shape = self._endpoints(metric, point, base_point)
        endpoint_log_factors = []
        for name, endpoints in (("base_point", start), ("point", end)):
            try:
                endpoint_log_factors.append(
                    metric.log_factor_tensor(torch.from_numpy(endpoints)).detach().numpy()
                )
            except DomainError as error:
                raise DomainError(f"{name} is outside the metric's domain: {error}") from None
        moving = np.any(start != end, axis=-1)
        solution = None
        if moving.any():
            # Solved in the metric shifted by the endpoints' median log-factor (a
            # per-call copy): exp(f) then neither underflows nor overflows where the
            # factor is uniformly tiny or huge, and lengths scale back by exp(shift/2).
            # The copy remembers the curves it measured: each level measures its
            # start and its solution several times.
            shift = float(np.median(np.concatenate(endpoint_log_factors)[np.tile(moving, 2)]))
            solved_in = (metric.shifted(shift) if shift else metric).remembering()
            nodes = self._initial_nodes(solved_in, start[moving], end[moving], initial_curve)
            with torch_threads_for(nodes.size * 4 * metric.point_cost):
                solution = self._refine(solved_in, nodes, given=initial_curve is not None)
                if np.all(solution.status == CurveStatus.FAILED):
                    # Nothing to return but NaNs: the error itself is the answer.
                    raise DomainError(f"No geodesic could be solved: {solution.reason[0]}")
                # Curves short of tol at max_nodes first: graded node times
                # resolve a curve in the right basin, a restart one in the wrong.
                solution = self._solve_graded(solved_in, solution)
                if initial_curve is None:
                    solution = self._restart_failures(
                        solved_in, start[moving], end[moving], solution
                    )
            solution = solution.with_lengths_scaled(np.exp(0.5 * shift))
        curve = self._assemble(metric, start, moving, solution, batch_shape)
        self._report(curve)
        return curve

    def _endpoints(self, metric, point, base_point):
        """Endpoint coordinates ``[batch, n_coords]`` and the batch shape."""
        end, start = broadcast_pair(
            metric.points_tensor(point, "point"), metric.points_tensor(base_point, "base_point")
        )
        batch_shape = tuple(start.shape[:-1])
        n_coords = start.shape[-1]
        return (
            to_numpy(start).reshape(-1, n_coords),
            to_numpy(end).reshape(-1, n_coords),
            batch_shape,
        )

    @abstractmethod
    def _initial_nodes(self, metric, start, end, initial_curve):
        """Starting curves ``[batch, n_nodes, n_coords]`` joining ``start`` to ``end``."""

    @abstractmethod
    def _minimise(self, metric, nodes, on_iteration, warm_state=None):
        """Minimise the energy of a batch of curves at their node count.

        Parameters
        ----------
        on_iteration : callable
            Called after each optimiser iteration, optionally with ``done=`` (a
            count of the curves done): the progress bar's update.
        warm_state : ndarray, shape=[batch, ...], optional
            What the previous node count's minimisation returned for these
            curves (e.g. trust radii); None at the first node count.
        times : ndarray, shape=[n_nodes] or [batch, n_nodes], optional
            Node times of the energy, shared or one row per curve, passed (as
            ``times=``) only to solvers that set ``grades_nodes``; uniform
            otherwise.

        Returns
        -------
        nodes : ndarray, shape=[batch, n_nodes, n_coords]
        status : ndarray of int, shape=[batch]
            :class:`~geomstats_density.solvers.status.LevelStatus` of each curve.
        iterations : ndarray of int, shape=[batch]
        warm_state : ndarray, shape=[batch, ...] or None
            Passed to the next node count's minimisation of the same curves.
        """

    def _restart_failures(self, metric, start, end, solution):
        """The solutions after solving again, from a better start, curves that failed.

        None are solved again here; subclasses may.
        """
        return solution

    def _solve_graded(self, metric, solution):
        """The solutions after solving again, at graded node times, curves short of ``tol``.

        A curve that reached ``max_nodes`` short of ``tol`` is solved again with
        its nodes at the times of a
        :class:`~geomstats_density.solvers.grading.NodeGrading` clustered where
        its pieces err (:func:`~geomstats_density.solvers.grading.piece_errors`),
        from the curve found, at the node count ``max_nodes`` is reached from in
        ``GRADED_DOUBLINGS`` doublings; all such curves of the batch in one
        refinement, each at its own times
        (:class:`~geomstats_density.solvers.grading.CurveGradings`). A curve
        keeps the second result if that converged, else the first
        (``n_iterations`` counts both solves). Only solvers whose minimisation
        takes node times (``grades_nodes``) do so.
        """
        if not self.grades_nodes or self.tol is None:
            return solution
        short = np.flatnonzero(solution.status == CurveStatus.MAX_NODES)
        if not short.size:
            return solution
        n_start = max(self.n_nodes, (self.max_nodes - 1) // 2**GRADED_DOUBLINGS + 1)
        nodes = solution.nodes[short]
        gradings = CurveGradings(
            NodeGrading.from_piece_errors(errors) for errors in piece_errors(metric, nodes)
        )
        start = np.concatenate(
            [
                to_numpy(DiscreteCurve(nodes[k : k + 1], solution.times[b])(grading.times(n_start)))
                for k, (b, grading) in enumerate(zip(short, gradings.gradings))
            ]
        )
        again = self._refine(metric, start, grading=gradings)
        converged = np.flatnonzero(again.converged)
        if not converged.size:
            return solution
        for k in converged:
            again.note[k] += (
                f"; solved again from {n_start} nodes at node times graded where the "
                f"{nodes.shape[1]}-node curve's pieces erred"
            )
        n_iterations = solution.n_iterations.copy()
        n_iterations[short[converged]] += again.n_iterations[converged]
        return solution.replaced(short[converged], again, converged, n_iterations)

    def _project(self, metric, nodes):
        """Nodes brought back where the space's points live (identity here)."""
        return nodes

    def _optimiser_failure(self, n_nodes, iterations):
        """How the minimisation at ``n_nodes`` nodes, ``iterations`` long, ended unminimised."""
        if iterations >= self.max_iter:
            return (
                f"the optimiser used all max_iter={self.max_iter} iterations at {n_nodes} "
                "nodes without minimising the energy"
            )
        return (
            f"the optimiser stopped at {n_nodes} nodes after {iterations} of "
            f"max_iter={self.max_iter} iterations without minimising the energy"
        )

    def remedies(self, statuses):
        """What to change for curves that ended with these statuses, in words.

        Parameters
        ----------
        statuses : iterable of CurveStatus

        Returns
        -------
        remedies : str
        """
        advice = {
            CurveStatus.MAX_ITER: f"raise max_iter (now {self.max_iter})",
            CurveStatus.MAX_NODES: (
                f"raise max_nodes (now {self.max_nodes}) or loosen tol (now {self.tol})"
            ),
            CurveStatus.FAILED: "pass an initial_curve inside the metric's domain",
        }
        return "; ".join(advice[CurveStatus(s)] for s in sorted(set(statuses)) if s in advice)

    def _refine(self, metric, nodes, given=False, grading=None):
        """Refine the curves ``nodes`` over node counts.

        By :meth:`~geomstats_density.solvers.doubling.NodeDoubling.refine`, with
        this solver's minimisation, projection, ``tol``, ``max_nodes`` and
        ``progress``.

        Parameters
        ----------
        metric : ConformalMetric
        nodes : ndarray, shape=[batch, n_nodes, n_coords]
            Starting curves.
        given : bool
            Whether the starting curves are the user's ``initial_curve``.
        grading : NodeGrading or CurveGradings, optional
            The node times of every curve, or of each; uniform times by default.

        Returns
        -------
        solution : Solution
        """
        doubling = NodeDoubling(
            self._minimise, self._project, self.tol, self.max_nodes, self.progress
        )
        return doubling.refine(metric, nodes, given=given, grading=grading)

    def _assemble(self, metric, start, moving, solution, batch_shape):
        """One curve per endpoint pair; equal endpoints give constant curves.

        The curves share their node times where they can (uniform ones unless
        the refinement graded them); otherwise each has its own.
        """
        batch, n_coords = start.shape
        n_out = self.n_nodes if solution is None else solution.nodes.shape[1]
        nodes = np.repeat(start[:, None], n_out, axis=1)
        times = np.tile(uniform_times(n_out), (batch, 1))
        dist = np.zeros(batch)
        velocity = np.zeros((batch, n_coords))
        converged = np.ones(batch, dtype=bool)
        iterations = np.zeros(batch, dtype=int)
        status = np.full(batch, int(CurveStatus.CONVERGED))
        message = np.full(batch, "equal endpoints: the constant curve, of length 0", dtype=object)
        error = np.zeros(batch)
        if solution is not None:
            nodes[moving] = solution.nodes
            times[moving] = solution.times
            dist[moving] = solution.dist
            velocity[moving] = solution.velocity
            converged[moving] = solution.converged
            iterations[moving] = solution.n_iterations
            status[moving] = solution.status
            message[moving] = [
                solution.message(b, self.tol, self.max_nodes, self._optimiser_failure)
                for b in range(len(solution.dist))
            ]
            if solution.error is None:
                error = None
            else:
                error[moving] = solution.error
        velocity = to_numpy(metric.from_coordinates(torch.from_numpy(velocity)))
        if np.array_equal(times, np.broadcast_to(uniform_times(n_out), times.shape)):
            times = None
        elif np.all(times == times[:1]):
            times = times[0]
        else:
            times = times.reshape(*batch_shape, n_out)
        return self.curve_class(
            nodes=nodes.reshape(*batch_shape, n_out, n_coords),
            times=times,
            metric=metric,
            dist=dist.reshape(batch_shape),
            dist_error=None if error is None else error.reshape(batch_shape),
            initial_velocity=velocity.reshape(*batch_shape, *self._space.shape),
            converged=converged.reshape(batch_shape),
            n_iterations=iterations.reshape(batch_shape),
            status=status.reshape(batch_shape),
            message=message.reshape(batch_shape),
        )

    def _report(self, curve):
        """Warn (or raise) naming how the curves that did not converge ended."""
        missed = curve.status != CurveStatus.CONVERGED
        report_unconverged(
            curve.status,
            curve.message[missed].flat[0] if missed.any() else None,
            self.on_failure,
            "geodesics",
            lambda codes: (
                f" See curve.status and curve.message. To converge: {self.remedies(codes)}."
            ),
        )
