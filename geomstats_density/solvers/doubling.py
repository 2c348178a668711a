"""Node doubling: a batch of discretised curves refined over node counts.

A solver of discretised curves minimises the discrete energy of curves with
``n`` nodes, then doubles the number of pieces, warm-starts from the cubic
spline through the solution, and Richardson-extrapolates lengths, start
velocities and nodes, ``(4 X_{h/2} - X_h) / 3``, until the estimated error of
the extrapolated length
(:meth:`~geomstats_density.solvers.estimates.Level.richardson`) is below
``tol``. The quadratures of the energy are symmetric, so the errors are even in
the node spacing ``h`` and each extrapolation cancels the ``h^2`` term.
:class:`NodeDoubling` runs these levels for one batch, each curve leaving it
once its estimate meets ``tol`` (checked against the measured length of the
curve returned, :mod:`~geomstats_density.solvers.length_checks`), the curves
kept in the metric's domain (:mod:`~geomstats_density.solvers.domain`), and
ends in a :class:`~geomstats_density.solvers.solution.Solution`.
"""

from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from geomstats_density.curves import polygon_lengths
from geomstats_density.curves import resample_nodes as _resample
from geomstats_density.energy import times_of_curves, uniform_times
from geomstats_density.solvers.domain import drop_outside, keep_inside, minimise_isolated
from geomstats_density.solvers.estimates import Estimate, Level
from geomstats_density.solvers.length_checks import check_lengths, own_lengths, restart_tunnels
from geomstats_density.solvers.solution import Solution, StopRecord
from geomstats_density.solvers.status import CurveStatus, LevelStatus

# Below this many curves a progress bar is noise.
PROGRESS_MIN_BATCH = 64


@dataclass
class _Coarser:
    """What the previous node count left of the curves still refining."""

    level: Level
    estimate: Estimate
    # Whether its minimisation ended minimised, per curve.
    minimised: np.ndarray
    # The length of its spline at half the spacing, NaN where not measured.
    spline_dist: np.ndarray
    # The optimiser's iterations at that node count, per curve.
    iterations: np.ndarray

    def take(self, keep):
        """What it left of the curves ``keep`` only."""
        return _Coarser(
            self.level.take(keep),
            self.estimate.take(keep),
            self.minimised[keep],
            self.spline_dist[keep],
            self.iterations[keep],
        )


class NodeDoubling:
    """Refinement over node counts, for one solver's minimisation at a node count.

    Parameters
    ----------
    minimise : callable
        ``minimise(metric, nodes, on_iteration, warm_state, **graded)``: the
        solver's minimisation at one node count
        (:meth:`~geomstats_density.solvers.refinement.RefiningGeodesicSolver._minimise`),
        ``graded`` holding ``times=`` where the curves are graded.
    project : callable
        ``project(metric, nodes)``: resampled nodes brought back where the
        space's points live.
    tol : float or None
        Target relative error of the length; None solves once and returns the
        curves' own lengths.
    max_nodes : int
        Largest node count tried.
    progress : bool or None
        Show a progress bar; None shows it for batches of ``PROGRESS_MIN_BATCH``
        curves or more.
    """

    def __init__(self, minimise, project, tol, max_nodes, progress):
        self.minimise = minimise
        self.project = project
        self.tol = tol
        self.max_nodes = max_nodes
        self.progress = progress

    def refine(self, metric, nodes, given=False, grading=None):
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
        grading : NodeGrading or CurveGradings, optional
            The map of uniform parameters to node times of every curve, or one
            map per curve (:mod:`~geomstats_density.solvers.grading`); uniform
            times by default.

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
        coarser = warm_state = None
        starts = nodes
        nodes = drop_outside(metric, nodes, given, active, final, record)
        active = active[record.running(active)]
        with tqdm(desc="geodesics", unit="iter", disable=not show, leave=False) as bar:

            def on_iteration(done=None):
                bar.update(1)
                if done is not None:
                    bar.set_postfix(converged=done)

            while active.size:
                bar.set_description(f"geodesics ({nodes.shape[1]} nodes, {active.size} left)")
                times = _times(grading, nodes.shape[1], active)
                nodes, status, iterations, warm_state, reasons = minimise_isolated(
                    self.minimise, metric, nodes, on_iteration, warm_state, times
                )
                n_iterations[active] += iterations
                # Per curve (an optimiser of the whole batch reports one count).
                level_iterations = np.broadcast_to(iterations, active.shape).copy()
                failed = np.flatnonzero(status == LevelStatus.FAILED)
                if failed.size:
                    self._stop_failed(
                        metric, failed, reasons, nodes, active, coarser, final, record, grading
                    )
                    keep = np.flatnonzero(status != LevelStatus.FAILED)
                    active, nodes, status = active[keep], nodes[keep], status[keep]
                    level_iterations = level_iterations[keep]
                    if warm_state is not None:
                        warm_state = warm_state[keep]
                    if coarser is not None:
                        coarser = coarser.take(keep)
                    if not active.size:
                        break
                minimised = LevelStatus.minimised(status)
                level = Level(metric, nodes, times)
                coarse = None if coarser is None else coarser.level
                estimate = level.richardson(coarse, None if coarser is None else coarser.estimate)
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
                        self.project(metric, _resample(nodes[unminimised], finer)),
                        outside="nan",
                    )
                stalled = np.zeros(active.size, dtype=bool)
                if coarser is not None:
                    trusted &= coarse.restarted | coarser.minimised
                    stalled = ~minimised & ~coarse.restarted & (spline_dist >= coarser.spline_dist)
                done = stalled | (self.tol is None) | (finer > self.max_nodes)
                done, returned, measured, contradicted = self._check(
                    metric, level, estimate, coarse, trusted, done, active, record, grading
                )
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
                            active[position], coarse.nodes.shape[1], coarser.iterations[position]
                        )
                keep = np.flatnonzero(~done)
                if not keep.size:
                    break
                finer_nodes = self._next_starts(
                    metric, level, estimate, nodes, keep, starts[active[keep]], spline_dist[keep]
                )
                coarser = _Coarser(level, estimate, minimised, spline_dist, level_iterations)
                active, coarser = active[keep], coarser.take(keep)
                if warm_state is not None:
                    warm_state = warm_state[keep]
                nodes = finer_nodes
        return self._solution(metric, final, record, n_iterations, grading)

    def _stop_failed(self, metric, failed, reasons, nodes, active, coarser, final, record, grading):
        """Curves the optimiser reports ``FAILED`` at this node count stop.

        Each stops at the previous node count, if that was solved and its curve
        stays in the domain, else fails with the optimiser's reason.

        Parameters
        ----------
        failed : ndarray of int
            Their positions among the curves still refining.
        reasons : dict
            The error each raised, by position.
        nodes : ndarray, shape=[len(active), n_nodes, n_coords]
            The curves at this node count.
        active : ndarray of int
            The curves' positions in the batch.
        coarser : _Coarser or None
            What the previous node count left; None at the first.
        final, record
            The batch's final estimates and stop record, filled here.
        grading : NodeGrading, CurveGradings or None
            The node times of the batch's curves.
        """
        for position in failed:
            reason = reasons.get(position, "the optimiser cannot evaluate the energy on it.")
            if coarser is not None:
                previous = coarser.estimate.take([position])
                if previous.error is None:
                    previous.error = np.full(1, np.inf)
                measured, contradicted = check_lengths(
                    metric,
                    previous,
                    np.arange(1),
                    np.ones(1, dtype=bool),
                    self.tol,
                    self.project,
                    _times(grading, coarser.level.nodes.shape[1], active[[position]]),
                )
            if coarser is None or not np.isfinite(measured[0]):
                final[active[position]] = Estimate.failed(nodes[position : position + 1])
                record.fail(active[position], reason)
                continue
            final[active[position]] = previous
            coarse_nodes = coarser.level.nodes.shape[1]
            record.stop(
                active[position],
                coarse_nodes,
                coarser.minimised[position],
                False,
                measured[0],
                contradicted[0],
            )
            record.unminimised_at(active[position], coarse_nodes, coarser.iterations[position])
            record.note[active[position]] = f"; refining to {nodes.shape[1]} nodes failed: {reason}"

    def _check(self, metric, level, estimate, coarse, trusted, done, active, record, grading):
        """Which curves stop, and what each returns, checked against measured lengths.

        With ``tol``, the curves about to stop and those whose estimate meets it
        are checked against their returned curves' measured lengths
        (:func:`~geomstats_density.solvers.length_checks.check_lengths`), and
        those whose estimate still meets it stop. Curves that stop untrusted
        return their last level as solved, with an infinite error. With
        ``tol=None`` every returned curve's own length becomes its ``dist``.
        Updates ``estimate`` in place.

        Parameters
        ----------
        level : Level
            The curves at this node count.
        estimate : Estimate
            Its Richardson estimate.
        coarse : Level or None
            The previous node count's curves; None at the first.
        trusted : ndarray of bool
            Whether each estimate combines minimised levels.
        done : ndarray of bool
            Whether each curve stops, whatever its estimate.
        grading : NodeGrading, CurveGradings or None
            The node times of the batch's curves.

        Returns
        -------
        done : ndarray of bool
        returned : Estimate
            What the curves that stop untrusted return.
        measured : ndarray
            The returned curves' measured lengths, NaN where not measured.
        contradicted : ndarray of bool
            Whether a measured length replaced the estimate.
        """
        measured = np.full(active.size, np.nan)
        contradicted = np.zeros(active.size, dtype=bool)
        # Curves that stop untrusted return their last level as solved:
        # extrapolating levels that are not minima has no ground.
        returned = estimate
        if self.tol is None:
            measured, contradicted = own_lengths(metric, estimate, active, record, self.project)
            return done, returned, measured, contradicted
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
                measured[checked], contradicted[checked] = check_lengths(
                    metric,
                    checked_estimate,
                    checked,
                    done,
                    self.tol,
                    self.project,
                    _times(grading, checked_estimate.nodes.shape[1], active),
                )
        # A curve that is not a discrete geodesic says nothing of the
        # distance's error, only that its length bounds the distance.
        returned.error[raw_returned] = np.inf
        done = done | (trusted & (estimate.error <= self.tol * estimate.dist))
        return done, returned, measured, contradicted

    def _next_starts(self, metric, level, estimate, nodes, keep, starts, spline_dist):
        """The next node count's starting curves of the curves ``keep``.

        Each curve's cubic spline at half the spacing, a tunnelling one started
        over from its starting curve (with ``tol``), kept in the domain.

        Parameters
        ----------
        nodes : ndarray, shape=[len(active), n, n_coords]
            The curves at this node count.
        starts : ndarray, shape=[len(keep), n_start, n_coords]
            Their starting curves.
        spline_dist : ndarray, shape=[len(keep)]
            Lengths of their splines measured already, NaN elsewhere.

        Returns
        -------
        finer_nodes : ndarray, shape=[len(keep), 2 n - 1, n_coords]
        """
        finer_nodes = self.project(metric, _resample(nodes[keep], 2 * nodes.shape[1] - 1))
        if self.tol is not None:
            finer_nodes, spline_dist = restart_tunnels(
                metric, level, estimate, keep, finer_nodes, starts, spline_dist, self.project
            )
        return keep_inside(metric, nodes[keep], finer_nodes, np.isfinite(spline_dist), self.project)

    def _solution(self, metric, final, record, n_iterations, grading=None):
        """The :class:`Solution` of the batch: velocities and how each curve ended.

        The curves' node times are those of the ``grading`` (one per curve, or
        shared), uniform without one.
        """
        estimate = Estimate.concatenate(final)
        failed = record.failed
        if self.tol is None:
            error = None  # not estimated
            accurate = np.ones(len(failed), dtype=bool)
        else:
            error = estimate.error
            accurate = error <= self.tol * estimate.dist
        nodes = self.project(metric, estimate.nodes)
        velocity = np.full(nodes[:, 0].shape, np.nan)
        solved = np.flatnonzero(~failed)
        if solved.size:
            velocity[solved] = estimate.chords.take(solved).velocities(metric)
        n_nodes = nodes.shape[1]
        times = uniform_times(n_nodes) if grading is None else grading.times(n_nodes)
        return Solution(
            nodes=nodes,
            times=np.broadcast_to(times, (len(nodes), n_nodes)).copy(),
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


def _times(grading, n_nodes, active):
    """The node times at ``n_nodes`` nodes of the curves ``active`` of the batch.

    Parameters
    ----------
    grading : NodeGrading, CurveGradings or None
        The times of every curve, or of each; uniform for None.
    n_nodes : int
    active : ndarray of int
        The curves' positions in the batch.

    Returns
    -------
    times : ndarray, shape=[n_nodes] or [len(active), n_nodes], or None
    """
    if grading is None:
        return None
    return times_of_curves(grading.times(n_nodes), active)
