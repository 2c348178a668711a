"""Refinement over node counts, shared by the solvers of discretised curves.

A solver of this kind minimises the discrete energy of curves with ``n`` nodes,
then doubles the number of pieces, warm-starts from the cubic spline through the
solution, and Richardson-extrapolates lengths, start velocities and nodes,
``(4 X_{h/2} - X_h) / 3``, until the estimated error of the extrapolated length
(:meth:`~geomstats_density.solvers.estimates.Level.richardson`) is below ``tol``.
The quadratures of the energy are symmetric, so the errors are even in the node
spacing ``h`` and each extrapolation cancels the ``h^2`` term.

``log`` is read from the solved curve by the discrete Legendre transform: the
momentum ``p_0 = -dE/dz_0`` of the discrete energy is a second-order
approximation of ``2 g(z_0) v_0``.
"""

from abc import ABC, abstractmethod

import numpy as np
import torch
from geomstats.numerics.geodesic import LogSolver
from tqdm.auto import tqdm

from geomstats_density._validation import (
    broadcast_pair,
    check_bool_or_none,
    check_int,
    check_on_failure,
    check_positive_float,
    check_positive_int,
)
from geomstats_density.backend import to_numpy
from geomstats_density.curves import (
    DiscreteCurve,
    GeodesicCurve,
    measured_lengths,
    polygon_lengths,
    resample_nodes_linear,
    resample_nodes_monotone,
)
from geomstats_density.curves import (
    resample_nodes as _resample,
)
from geomstats_density.energy import per_curve_where_outside, uniform_times
from geomstats_density.exceptions import DomainError
from geomstats_density.solvers.estimates import Estimate, Level
from geomstats_density.solvers.grading import NodeGrading
from geomstats_density.solvers.solution import Solution, StopRecord
from geomstats_density.solvers.status import CurveStatus, LevelStatus, report_unconverged
from geomstats_density.threads import torch_threads_for

# Below this many curves a progress bar is noise.
PROGRESS_MIN_BATCH = 64
# A discrete geodesic whose cubic spline, measured at half the spacing, is this much
# longer tunnels: its chords skip a region where the factor is large. (Measured:
# 1.11 at most on resolved curves, a 6-mode mixture from 5 nodes; 1.5 to 2.6 on
# tunnelling ones, 16-D mixtures.)
TUNNEL_RATIO = 1.25
# Relative error estimate below which a curve's levels agree: it is checked for
# tunnels only when about to stop.
RESOLVED_ERROR = 1e-3
# A curve solved again at graded node times reaches max_nodes in this many
# doublings: enough levels for the error estimate's geometric tail.
GRADED_DOUBLINGS = 3
# Each piece's error is read from its spline sampled at this many sub-pieces.
ERROR_SUBPIECES = 4


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
            shift = float(np.median(np.concatenate(endpoint_log_factors)[np.tile(moving, 2)]))
            solved_in = metric.shifted(shift) if shift else metric
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
        times : ndarray, shape=[n_nodes], optional
            Node times of the energy, passed (as ``times=``) only to solvers
            that set ``grades_nodes``; uniform otherwise.

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

        A curve that reached ``max_nodes`` short of ``tol`` is solved again, by
        itself, with its nodes at the times of a
        :class:`~geomstats_density.solvers.grading.NodeGrading` clustered where
        its pieces err (:func:`_piece_errors`), from the curve found, at the node
        count ``max_nodes`` is reached from in ``GRADED_DOUBLINGS`` doublings.
        It keeps the second result if that converged, else the first
        (``n_iterations`` counts both solves). Only solvers whose minimisation
        takes node times (``grades_nodes``) do so.
        """
        if not self.grades_nodes or self.tol is None:
            return solution
        short = np.flatnonzero(solution.status == CurveStatus.MAX_NODES)
        n_start = max(self.n_nodes, (self.max_nodes - 1) // 2**GRADED_DOUBLINGS + 1)
        for b in short:
            nodes = solution.nodes[b : b + 1]
            grading = NodeGrading.from_piece_errors(_piece_errors(metric, nodes)[0])
            start = to_numpy(DiscreteCurve(nodes, solution.times[b])(grading.times(n_start)))
            again = self._refine(metric, start, grading=grading)
            if not again.converged[0]:
                continue
            again.note[0] += (
                f"; solved again from {n_start} nodes at node times graded where the "
                f"{nodes.shape[1]}-node curve's pieces erred"
            )
            n_iterations = solution.n_iterations.copy()
            n_iterations[b] += again.n_iterations[0]
            solution = solution.replaced([b], again, [0], n_iterations)
        return solution

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
        """Refine over node counts; Richardson-extrapolate lengths, velocities, nodes.

        Each curve leaves the batch once its own estimate meets ``tol``, so one
        hard pair does not refine the whole batch. Curves the optimiser did not
        minimise at a node count refine on from what it reached, while their
        discrete length decreases. A curve whose discrete geodesic tunnels (its
        spline at half the spacing is more than ``TUNNEL_RATIO`` times longer)
        starts over at the next count from its starting curve.

        Before a curve stops, the curve returned for it (the cubic spline through
        the extrapolated nodes) is measured at a finer resolution
        (:func:`~geomstats_density.curves.measured_lengths`). Where that length
        and the estimate differ by more than ``tol * dist`` and the estimated
        error, the estimate is not trusted: the curve refines on while
        ``max_nodes`` allows, and otherwise its measured length is returned,
        with an error of at least the difference.

        A curve that cannot be solved (its starting curve leaves the metric's
        domain, the optimiser reports it ``FAILED``) leaves the batch at once,
        with a NaN length, and the others are solved; past the first node count,
        it stops at the last count solved instead, if that curve stays in the
        domain.

        Parameters
        ----------
        metric : ConformalMetric
        nodes : ndarray, shape=[batch, n_nodes, n_coords]
            Starting curves.
        given : bool
            Whether the starting curves are the user's ``initial_curve``: one that
            leaves the domain raises :class:`DomainError`.
        grading : NodeGrading, optional
            The map of uniform parameters to node times of every curve
            (:mod:`~geomstats_density.solvers.grading`); uniform times by default.

        Returns
        -------
        solution : Solution
        """
        batch = nodes.shape[0]
        show = self.progress if self.progress is not None else batch >= PROGRESS_MIN_BATCH
        n_iterations = np.zeros(batch, dtype=int)
        # Filled, per curve, when it leaves the batch.
        final = [None] * batch
        record = StopRecord(batch)
        active = np.arange(batch)
        coarse = estimate = warm_state = coarse_minimised = coarse_spline_dist = None
        coarse_iterations = None
        starts = nodes
        nodes = self._drop_outside(metric, nodes, given, active, final, record)
        active = active[record.running(active)]
        with tqdm(desc="geodesics", unit="iter", disable=not show, leave=False) as bar:

            def on_iteration(done=None):
                bar.update(1)
                if done is not None:
                    bar.set_postfix(converged=done)

            while active.size:
                bar.set_description(f"geodesics ({nodes.shape[1]} nodes, {active.size} left)")
                times = None if grading is None else grading.times(nodes.shape[1])
                nodes, status, iterations, warm_state, reasons = self._minimise_isolated(
                    metric, nodes, on_iteration, warm_state, times
                )
                n_iterations[active] += iterations
                # Per curve (an optimiser of the whole batch reports one count).
                level_iterations = np.broadcast_to(iterations, active.shape).copy()
                failed = np.flatnonzero(status == LevelStatus.FAILED)
                if failed.size:
                    for position in failed:
                        reason = reasons.get(
                            position, "the optimiser cannot evaluate the energy on it."
                        )
                        # It stops at the previous node count, if that was solved and
                        # its curve stays in the domain.
                        if coarse is not None:
                            previous = estimate.take([position])
                            if previous.error is None:
                                previous.error = np.full(1, np.inf)
                            measured, contradicted = self._check_length(
                                metric, previous, np.arange(1), np.ones(1, dtype=bool), grading
                            )
                        if coarse is None or not np.isfinite(measured[0]):
                            final[active[position]] = Estimate.failed(
                                nodes[position : position + 1]
                            )
                            record.fail(active[position], reason)
                            continue
                        final[active[position]] = previous
                        record.stop(
                            active[position],
                            coarse.nodes.shape[1],
                            coarse_minimised[position],
                            False,
                            measured[0],
                            contradicted[0],
                        )
                        record.unminimised_at(
                            active[position], coarse.nodes.shape[1], coarse_iterations[position]
                        )
                        record.note[active[position]] = (
                            f"; refining to {nodes.shape[1]} nodes failed: {reason}"
                        )
                    keep = np.flatnonzero(status != LevelStatus.FAILED)
                    active, nodes, status = active[keep], nodes[keep], status[keep]
                    level_iterations = level_iterations[keep]
                    if warm_state is not None:
                        warm_state = warm_state[keep]
                    if coarse is not None:
                        coarse, estimate = coarse.take(keep), estimate.take(keep)
                        coarse_minimised = coarse_minimised[keep]
                        coarse_spline_dist = coarse_spline_dist[keep]
                        coarse_iterations = coarse_iterations[keep]
                    if not active.size:
                        break
                minimised = LevelStatus.minimised(status)
                level = Level(metric, nodes, times)
                estimate = level.richardson(coarse, estimate)
                # The estimate combines this level and the coarser one, unless it
                # started over: both must be minimised.
                trusted = minimised.copy()
                finer = 2 * nodes.shape[1] - 1
                # A curve the optimiser did not minimise refines on while its spline
                # (measured at half the spacing, comparable between levels) gets shorter.
                spline_dist = np.full(active.size, np.nan)
                unminimised = np.flatnonzero(~minimised)
                if unminimised.size and self.tol is not None:
                    spline_dist[unminimised] = polygon_lengths(
                        metric,
                        self._project(metric, _resample(nodes[unminimised], finer)),
                        outside="nan",
                    )
                stalled = np.zeros(active.size, dtype=bool)
                if coarse is not None:
                    trusted &= coarse.restarted | coarse_minimised
                    stalled = ~minimised & ~coarse.restarted & (spline_dist >= coarse_spline_dist)
                done = stalled | (self.tol is None) | (finer > self.max_nodes)
                measured = np.full(active.size, np.nan)
                contradicted = np.zeros(active.size, dtype=bool)
                # Curves that stop untrusted return their last level as solved:
                # extrapolating levels that are not minima has no ground.
                returned = estimate
                if self.tol is not None:
                    if estimate.error is None:
                        estimate.error = np.full(active.size, np.inf)
                    raw_returned = np.flatnonzero(done & ~trusted)
                    if raw_returned.size and coarse is not None:
                        returned = level.richardson(None, None)
                        returned.error = estimate.error.copy()
                    met = trusted & (estimate.error <= self.tol * estimate.dist)
                    for checked, checked_estimate in (
                        (np.flatnonzero((done & trusted) | met), estimate),
                        (raw_returned, returned),
                    ):
                        if checked.size:
                            measured[checked], contradicted[checked] = self._check_length(
                                metric, checked_estimate, checked, done, grading
                            )
                    # A curve that is not a discrete geodesic says nothing of the
                    # distance's error, only that its length bounds the distance.
                    returned.error[raw_returned] = np.inf
                    done |= trusted & (estimate.error <= self.tol * estimate.dist)
                else:
                    measured, contradicted = self._own_lengths(metric, estimate, active, record)
                for position in np.flatnonzero(done):
                    final[active[position]] = (estimate if trusted[position] else returned).take(
                        [position]
                    )
                    record.stop(
                        active[position],
                        nodes.shape[1],
                        trusted[position],
                        stalled[position],
                        measured[position],
                        contradicted[position],
                    )
                    if not minimised[position]:
                        record.unminimised_at(
                            active[position], nodes.shape[1], level_iterations[position]
                        )
                    elif not trusted[position]:
                        record.unminimised_at(
                            active[position], coarse.nodes.shape[1], coarse_iterations[position]
                        )
                keep = np.flatnonzero(~done)
                if not keep.size:
                    break
                finer_nodes = self._project(metric, _resample(nodes[keep], finer))
                known = spline_dist[keep]
                if self.tol is not None:
                    finer_nodes, known = self._restart_tunnels(
                        metric, level, estimate, keep, finer_nodes, starts[active[keep]], known
                    )
                finer_nodes = self._inside(metric, nodes[keep], finer_nodes, np.isfinite(known))
                active, coarse, estimate = active[keep], level.take(keep), estimate.take(keep)
                coarse_minimised, coarse_spline_dist = minimised[keep], spline_dist[keep]
                coarse_iterations = level_iterations[keep]
                if warm_state is not None:
                    warm_state = warm_state[keep]
                nodes = finer_nodes
        return self._finish(metric, final, record, n_iterations, grading)

    def _check_length(self, metric, estimate, checked, done, grading=None):
        """Measure the returned curves of the curves ``checked``; distrust those that contradict.

        A curve whose measured length differs from its estimate by more than
        ``tol * dist`` and its estimated error gets that difference as its error:
        it refines on unless ``done``, else its measured length becomes its
        estimate (the error also covering the measurement's own). A curve that
        stops (``done``) with an error above ``tol * dist`` also reports its
        measured length. A curve that
        cannot be measured (its spline leaves the domain) gets an infinite error.
        Updates ``estimate`` in place. Curves at the node times of a ``grading``
        are measured at times spaced as their nodes.

        Returns
        -------
        measured : ndarray, shape=[len(checked)]
        replaced : ndarray of bool, shape=[len(checked)]
            Whether the measured length became the estimate.
        """
        length, length_error = self._measured(metric, estimate.nodes[checked], grading)
        dist, error = estimate.dist[checked], estimate.error[checked]
        difference = np.abs(length - dist)
        contradicts = ~(difference <= np.maximum(self.tol * dist, error))
        distrusted = checked[contradicts]
        estimate.error[distrusted] = np.where(
            np.isnan(difference[contradicts]), np.inf, np.maximum(error, difference)[contradicts]
        )
        # A curve that stops short of tol reports what it is: its own length.
        unmet = ~(estimate.error[checked] <= self.tol * dist)
        replaced = (contradicts | unmet) & done[checked] & np.isfinite(length)
        estimate.dist[checked[replaced]] = length[replaced]
        estimate.error[checked[replaced]] = np.maximum(
            estimate.error[checked[replaced]], length_error[replaced]
        )
        return length, replaced

    def _measured(self, metric, nodes, grading=None):
        """Lengths of returned curves measured finer, and their errors (NaN outside the domain).

        Parameters
        ----------
        metric : SolverMetric
        nodes : ndarray, shape=[batch, n_nodes, n_coords]
        grading : NodeGrading, optional
            Curves at its node times are measured at times spaced as their nodes.

        Returns
        -------
        length, error : ndarray, shape=[batch]
            As :func:`~geomstats_density.curves.measured_lengths`.
        """
        n_pieces = nodes.shape[1] - 1

        def nodes_at(n_nodes):
            return self._project(metric, _resample(nodes, n_nodes))

        if grading is not None:
            nodes_at = DiscreteCurve(nodes, grading.times(n_pieces + 1)).nodes_at
        return measured_lengths(metric, nodes_at, n_pieces, outside="nan")

    def _own_lengths(self, metric, estimate, active, record):
        """With ``tol=None``: each returned curve's own length becomes its ``dist``.

        The discrete length at ``n_nodes`` (Eq. 5) is an estimate the returned
        curve may contradict, most on kinked qualities and coarse node counts:
        ``dist`` is the curve's length measured finer, and ``record`` keeps the
        discrete length for the message. A curve that cannot be measured (its
        spline leaves the domain) keeps its discrete length. Updates ``estimate``
        in place.

        Returns
        -------
        measured : ndarray, shape=[batch]
        replaced : ndarray of bool, shape=[batch]
            Whether the measured length became the estimate.
        """
        length, _ = self._measured(metric, estimate.nodes)
        replaced = np.isfinite(length)
        record.discrete_dist[active] = estimate.dist
        estimate.dist[replaced] = length[replaced]
        return length, replaced

    def _restart_tunnels(self, metric, level, estimate, keep, finer_nodes, starts, spline_dist):
        """Next-level starts, with tunnelling curves started over from their starting curves.

        A discrete geodesic can tunnel at any node count, and so would the finer
        ones started from it. Its cubic spline at half the spacing (the next
        level's start) is measured where a tunnel can open: curves whose levels
        do not agree yet (error above ``RESOLVED_ERROR``).

        Parameters
        ----------
        spline_dist : ndarray, shape=[len(keep)]
            Lengths of ``finer_nodes`` measured already, NaN elsewhere; filled in
            place where measured here.

        Returns
        -------
        finer_nodes : ndarray, shape=[len(keep), n_nodes, n_coords]
        spline_dist : ndarray, shape=[len(keep)]
            The lengths of the returned starts, NaN where unknown.
        """
        error = estimate.error[keep] / estimate.dist[keep]
        measured = np.flatnonzero(~(error <= RESOLVED_ERROR) & np.isnan(spline_dist))
        if measured.size:
            spline_dist[measured] = polygon_lengths(metric, finer_nodes[measured], outside="nan")
        tunnelling = np.flatnonzero(spline_dist > TUNNEL_RATIO * level.dist[keep])
        if tunnelling.size:
            finer_nodes[tunnelling] = self._project(
                metric, _resample(starts[tunnelling], finer_nodes.shape[1])
            )
            level.restart(keep[tunnelling])
            spline_dist[tunnelling] = np.nan
        return finer_nodes, spline_dist

    def _inside(self, metric, nodes, finer_nodes, inside):
        """The next level's starts, kept in the metric's domain.

        The cubic spline through a discrete geodesic whose nodes are unevenly
        spaced in the coordinates (a hyperbolic geodesic near the boundary, its
        nodes graded geometrically) can overshoot out of the domain. Those curves
        are resampled by the monotone PCHIP interpolant, whose coordinates stay
        between neighbouring nodes' values, and where that still leaves the
        domain, on the polygon (whose new nodes are chord midpoints, where the
        quadrature has evaluated the factor already). A curve still leaving it
        fails in the optimiser.

        Parameters
        ----------
        nodes : ndarray, shape=[batch, n, n_coords]
            Solved curves.
        finer_nodes : ndarray, shape=[batch, 2 n - 1, n_coords]
            Their cubic-spline resamplings; changed in place.
        inside : ndarray of bool, shape=[batch]
            The curves known to stay inside (their length was measured).
        """
        n_nodes = finer_nodes.shape[1]
        unknown = np.flatnonzero(~inside)
        outside = unknown[_leave_domain(metric, finer_nodes[unknown])]
        for resample in (resample_nodes_monotone, resample_nodes_linear):
            if not outside.size:
                break
            finer_nodes[outside] = self._project(metric, resample(nodes[outside], n_nodes))
            outside = outside[_leave_domain(metric, finer_nodes[outside])]
        return finer_nodes

    def _drop_outside(self, metric, nodes, given, active, final, record):
        """Starting curves, without those that leave the metric's domain (failed).

        The user's ``initial_curve`` leaving it raises :class:`DomainError`.
        """
        outside = np.flatnonzero(_leave_domain(metric, nodes))
        for position in outside:
            reason = _domain_reason(metric, nodes[position : position + 1])
            if given:
                raise DomainError(
                    f"initial_curve (sampled at {nodes.shape[1]} nodes) leaves the metric's "
                    f"domain: {reason} Pass one that stays inside it."
                )
            final[active[position]] = Estimate.failed(nodes[position : position + 1])
            record.fail(
                active[position],
                f"its starting curve ({nodes.shape[1]} nodes) leaves the metric's domain: "
                f"{reason} Pass an initial_curve that stays inside it.",
            )
        return np.delete(nodes, outside, axis=0)

    def _minimise_isolated(self, metric, nodes, on_iteration, warm_state, times=None):
        """:meth:`_minimise`, curve by curve where the batch raises :class:`DomainError`.

        Node ``times`` other than uniform ones (None) are passed on to it.

        Returns
        -------
        nodes, status, iterations, warm_state
            As :meth:`_minimise`; ``FAILED`` for the curves that raise.
        reasons : dict
            The error of each curve that raised, by position.
        """
        graded = {} if times is None else {"times": times}

        def minimise(rows):
            rows = rows[:, 0, 0]
            state = None if warm_state is None else warm_state[rows]
            return (*self._minimise(metric, nodes[rows], on_iteration, state, **graded), {})

        def failed(rows, error):
            state = None if warm_state is None else warm_state[rows[:, 0, 0]]
            status = np.array([LevelStatus.FAILED])
            return nodes[rows[:, 0, 0]], status, np.zeros(1, dtype=int), state, {0: str(error)}

        def concatenate(parts):
            states = [part[3] for part in parts]
            template = next((state for state in states if state is not None), None)
            if template is not None:
                states = [
                    np.full_like(template, np.nan) if state is None else state for state in states
                ]
            return (
                np.concatenate([part[0] for part in parts]),
                np.concatenate([part[1] for part in parts]),
                np.concatenate([part[2] for part in parts]),
                None if template is None else np.concatenate(states),
                {b: part[4][0] for b, part in enumerate(parts) if part[4]},
            )

        positions = np.arange(len(nodes))[:, None, None]
        return per_curve_where_outside(minimise, positions, failed, concatenate)

    def _finish(self, metric, final, record, n_iterations, grading=None):
        """The :class:`Solution` of the batch: velocities and how each curve ended.

        The curves' node times are those of the ``grading``, uniform without one.
        """
        estimate = Estimate.concatenate(final)
        failed = record.failed
        if self.tol is None:
            error = None  # not estimated
            accurate = np.ones(len(failed), dtype=bool)
        else:
            error = estimate.error
            accurate = error <= self.tol * estimate.dist
        nodes = self._project(metric, estimate.nodes)
        velocity = np.full(nodes[:, 0].shape, np.nan)
        solved = np.flatnonzero(~failed)
        if solved.size:
            velocity[solved] = estimate.chords.take(solved).velocities(metric)
        n_nodes = nodes.shape[1]
        times = uniform_times(n_nodes) if grading is None else grading.times(n_nodes)
        return Solution(
            nodes=nodes,
            times=np.tile(times, (len(nodes), 1)),
            dist=estimate.dist,
            error=error,
            measured=record.measured,
            discrete_dist=record.discrete_dist,
            velocity=velocity,
            converged=record.minimised & accurate & ~failed,
            status=np.select(
                [failed, ~record.minimised, ~accurate],
                [CurveStatus.FAILED, CurveStatus.MAX_ITER, CurveStatus.MAX_NODES],
                CurveStatus.CONVERGED,
            ),
            n_iterations=n_iterations,
            solved_nodes=record.n_nodes,
            stalled=record.stalled,
            unminimised_nodes=record.unminimised_nodes,
            unminimised_iterations=record.unminimised_iterations,
            contradicted=record.contradicted,
            reason=record.reason,
            note=record.note,
        )

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


def nodes_of_curve(curve, start, end, n_nodes):
    """Nodes of user-given starting curves, checked to join the endpoints.

    Parameters
    ----------
    curve : DiscreteCurve or array-like, shape=[..., n, n_coords]
    start, end : ndarray, shape=[batch, n_coords]
    n_nodes : int

    Returns
    -------
    nodes : ndarray, shape=[batch, n_nodes, n_coords]
    """
    if not isinstance(curve, DiscreteCurve):
        curve = DiscreteCurve(curve)
    nodes = to_numpy(curve.resample(n_nodes).nodes)
    nodes = np.broadcast_to(nodes, (*start.shape[:-1], n_nodes, start.shape[-1]))
    nodes = nodes.reshape(-1, n_nodes, start.shape[-1]).copy()
    if nodes.shape[0] != start.shape[0] or not (
        np.allclose(nodes[:, 0], start) and np.allclose(nodes[:, -1], end)
    ):
        raise ValueError("initial_curve must join base_point to point.")
    nodes[:, 0], nodes[:, -1] = start, end
    return nodes


def _piece_errors(metric, nodes):
    """Where the pieces of curves at uniform times err: spline against chord.

    Each piece's discrete length against that of the curve's cubic spline over
    it, sampled at ``ERROR_SUBPIECES`` sub-pieces: they agree to ``O(h^3)``
    where the curve and the factor are smooth, and differ most where the curve
    bends sharply or crosses a kink of the factor.

    Parameters
    ----------
    nodes : ndarray, shape=[batch, n_nodes, n_coords]

    Returns
    -------
    errors : ndarray, shape=[batch, n_nodes - 1]
    """
    batch, n_nodes, _ = nodes.shape
    fine = _resample(nodes, ERROR_SUBPIECES * (n_nodes - 1) + 1)
    with torch.no_grad():
        chords = torch.sqrt(metric.curve_sq_lengths(torch.from_numpy(nodes))).numpy()
        arcs = torch.sqrt(metric.curve_sq_lengths(torch.from_numpy(fine))).numpy()
    return np.abs(arcs.reshape(batch, n_nodes - 1, ERROR_SUBPIECES).sum(-1) - chords)


def _leave_domain(metric, nodes):
    """Whether each curve's discrete length (nodes and quadrature points) is not finite.

    Parameters
    ----------
    nodes : ndarray, shape=[batch, n_nodes, n_coords]

    Returns
    -------
    leaves : ndarray of bool, shape=[batch]
    """
    if not len(nodes):
        return np.zeros(0, dtype=bool)
    return ~np.isfinite(polygon_lengths(metric, nodes, outside="nan"))


def _domain_reason(metric, nodes):
    """Why the curve ``nodes`` (shape ``[1, n_nodes, n_coords]``) cannot be measured."""
    try:
        polygon_lengths(metric, nodes)
    except DomainError as error:
        return str(error)
    return "its length is not finite."
