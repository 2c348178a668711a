"""What a refinement returns: the final estimates of a batch, and how each solve ended.

While the refinement of :mod:`~geomstats_density.solvers.doubling` runs, a
:class:`StopRecord` keeps how each curve left it; at the end, a
:class:`Solution`, built whole, holds the returned curves, their lengths,
errors and start velocities, and says in words how each solve ended
(:meth:`Solution.message`).
"""

import dataclasses
from dataclasses import dataclass

import numpy as np

from geomstats_density.curves import resample_nodes as _resample
from geomstats_density.solvers.status import CurveStatus


class StopRecord:
    """How each curve of a batch left the refinement.

    Attributes
    ----------
    n_nodes : ndarray of int, shape=[batch]
        Node count of its last minimisation.
    minimised : ndarray of bool, shape=[batch]
        Whether the levels its estimate combines were minimised.
    stalled : ndarray of bool, shape=[batch]
        Whether it stopped because its length stopped decreasing.
    measured : ndarray, shape=[batch]
        Its returned curve's measured length, NaN where not measured.
    discrete_dist : ndarray, shape=[batch]
        Its discrete length at ``n_nodes`` with ``tol=None``, NaN otherwise.
    contradicted : ndarray of bool, shape=[batch]
        Whether that length contradicted the estimate, and replaced it.
    failed : ndarray of bool, shape=[batch]
    reason : ndarray of str, shape=[batch]
        Why each failed curve failed.
    unminimised_nodes, unminimised_iterations : ndarray of int, shape=[batch]
        The node count that was not minimised, where one was, and the
        iterations spent on it.
    note : ndarray of str, shape=[batch]
        Why a curve stopped refining early, if it did.
    """

    def __init__(self, batch):
        self.n_nodes = np.zeros(batch, dtype=int)
        self.minimised = np.zeros(batch, dtype=bool)
        self.stalled = np.zeros(batch, dtype=bool)
        self.measured = np.full(batch, np.nan)
        self.discrete_dist = np.full(batch, np.nan)
        self.contradicted = np.zeros(batch, dtype=bool)
        self.failed = np.zeros(batch, dtype=bool)
        self.reason = np.full(batch, "", dtype=object)
        self.note = np.full(batch, "", dtype=object)
        self.unminimised_nodes = np.zeros(batch, dtype=int)
        self.unminimised_iterations = np.zeros(batch, dtype=int)

    def running(self, index):
        """Which of the curves ``index`` have not failed."""
        return ~self.failed[index]

    def stop(self, b, n_nodes, minimised, stalled, measured, contradicted):
        """Curve ``b`` stops at ``n_nodes`` nodes, as these say (see the attributes)."""
        self.n_nodes[b], self.minimised[b], self.stalled[b] = n_nodes, minimised, stalled
        self.measured[b], self.contradicted[b] = measured, contradicted

    def unminimised_at(self, b, n_nodes, iterations):
        """Curve ``b``'s estimate combines the node count ``n_nodes``, not minimised."""
        self.unminimised_nodes[b], self.unminimised_iterations[b] = n_nodes, iterations

    def fail(self, b, reason):
        """Curve ``b`` cannot be solved, for ``reason``."""
        self.failed[b] = True
        self.reason[b] = reason


# What a Solution holds per curve, in the order of its fields.
_PER_CURVE = (
    "dist",
    "measured",
    "discrete_dist",
    "velocity",
    "converged",
    "status",
    "n_iterations",
    "solved_nodes",
    "stalled",
    "unminimised_nodes",
    "unminimised_iterations",
    "contradicted",
    "reason",
    "note",
)


@dataclass(frozen=True)
class Solution:
    """Final geodesic estimates of a batch of curves, and how each solve ended.

    Attributes
    ----------
    nodes : ndarray, shape=[batch, n_nodes, n_coords]
        The returned curves.
    times : ndarray, shape=[batch, n_nodes]
        Their node times: uniform, or graded where the refinement graded them.
    dist : ndarray, shape=[batch]
        Their lengths: the refinement's estimate, or the curve's own measured
        length where that contradicted it.
    error : ndarray, shape=[batch] or None
        Estimated error of ``dist``; None with ``tol=None``.
    measured : ndarray, shape=[batch]
        Each returned curve's own length, measured finer (NaN if not measured).
    discrete_dist : ndarray, shape=[batch]
        With ``tol=None``: the discrete length at ``n_nodes`` (Eq. 5), which
        ``dist`` replaces by the measured length; NaN otherwise.
    velocity : ndarray, shape=[batch, n_coords]
        Initial velocities (``log``), in the metric's coordinates.
    converged : ndarray of bool, shape=[batch]
    status : ndarray of int, shape=[batch]
        :class:`~geomstats_density.solvers.status.CurveStatus` of each curve.
    n_iterations, solved_nodes : ndarray of int, shape=[batch]
        Iterations over all node counts; the last node count solved.
    unminimised_nodes, unminimised_iterations : ndarray of int, shape=[batch]
        Node count and iterations of the last minimisation that did not end
        minimised (what ``max_iter`` cut short), for the message.
    stalled, contradicted : ndarray of bool, shape=[batch]
        Whether the curve stopped getting shorter with more nodes; whether its
        measured length replaced the estimate.
    reason, note : ndarray of str, shape=[batch]
        Why a curve failed; what the message adds about its solve.
    """

    nodes: np.ndarray
    times: np.ndarray
    dist: np.ndarray
    error: np.ndarray | None
    measured: np.ndarray
    discrete_dist: np.ndarray
    velocity: np.ndarray
    converged: np.ndarray
    status: np.ndarray
    n_iterations: np.ndarray
    solved_nodes: np.ndarray
    stalled: np.ndarray
    unminimised_nodes: np.ndarray
    unminimised_iterations: np.ndarray
    contradicted: np.ndarray
    reason: np.ndarray
    note: np.ndarray

    def with_lengths_scaled(self, factor):
        """The solution with every length times ``factor`` (a shift of the log-factor)."""
        return dataclasses.replace(
            self,
            dist=self.dist * factor,
            measured=self.measured * factor,
            discrete_dist=self.discrete_dist * factor,
            error=None if self.error is None else self.error * factor,
        )

    def replaced(self, index, other, rows, n_iterations=None):
        """The solution whose curves ``index`` are ``other``'s curves ``rows``.

        Nodes and their times are resampled on their cubic splines over the node
        index to the larger node count; a missing error is infinite.
        ``n_iterations``, if given, replaces the iteration counts of the result.
        """
        n_nodes = max(self.nodes.shape[1], other.nodes.shape[1])
        nodes = _resample(self.nodes, n_nodes)
        nodes[index] = _resample(other.nodes[rows], n_nodes)
        times = _resample(self.times[..., None], n_nodes)[..., 0]
        times[index] = _resample(other.times[rows, :, None], n_nodes)[..., 0]
        fields = {}
        for name in _PER_CURVE:
            values = getattr(self, name).copy()
            values[index] = getattr(other, name)[rows]
            fields[name] = values
        error = None
        if self.error is not None or other.error is not None:
            error = np.full(self.dist.shape, np.inf) if self.error is None else self.error.copy()
            error[index] = np.inf if other.error is None else other.error[rows]
        if n_iterations is not None:
            fields["n_iterations"] = n_iterations
        return Solution(nodes=nodes, times=times, error=error, **fields)

    def message(self, b, tol, max_nodes, optimiser_failure):
        """How the solve of curve ``b`` ended, in words (``curve.message``).

        Parameters
        ----------
        b : int
            The curve's index in the batch.
        tol : float or None
            The solver's ``tol``.
        max_nodes : int
            The solver's ``max_nodes``.
        optimiser_failure : callable
            The node count and iterations of a minimisation that did not end
            minimised to why it did not, in words.

        Returns
        -------
        message : str
        """
        solution = self
        status = CurveStatus(solution.status[b])
        if status == CurveStatus.FAILED:
            return f"failed: {solution.reason[b]}"
        n_nodes, iterations = solution.solved_nodes[b], solution.n_iterations[b]
        solved = f"{n_nodes} nodes, {iterations} iterations over all node counts"
        if tol is None:
            if np.isnan(solution.measured[b]):
                accuracy = (
                    "tol=None: the discrete length at n_nodes; the returned curve could not "
                    "be measured (it leaves the domain)"
                )
            else:
                discrete = solution.discrete_dist[b]
                accuracy = (
                    "tol=None: dist is the returned curve's own length, measured finer; the "
                    f"discrete length at {n_nodes} nodes (Eq. 5) is {discrete:.10g}"
                )
        else:
            dist, measured = solution.dist[b], solution.measured[b]
            accuracy = f"estimated error {solution.error[b]:.2g}, tol * dist = {tol * dist:.2g}"
            if solution.contradicted[b]:
                accuracy += (
                    f"; the returned curve's own length {measured:.10g} contradicted the "
                    "refinement's estimate: dist is that length"
                )
            elif np.isnan(measured):
                accuracy += "; the returned curve could not be measured (it leaves the domain)"
            else:
                accuracy += f"; the returned curve's own length {measured:.10g}"
        accuracy += solution.note[b]
        if status == CurveStatus.CONVERGED:
            return f"converged ({solved}; {accuracy})"
        if status == CurveStatus.MAX_ITER:
            failure = optimiser_failure(
                solution.unminimised_nodes[b], solution.unminimised_iterations[b]
            )
            if solution.stalled[b]:
                stop = f"at {n_nodes} nodes its curve stopped getting shorter with more nodes"
            elif tol is None:
                stop = "tol=None solves one node count"
            elif solution.note[b]:
                stop = f"refinement ended at {n_nodes} nodes"
            else:
                stop = f"the next node count, {2 * n_nodes - 1}, exceeds max_nodes={max_nodes}"
            return f"{failure}; stopped: {stop} ({solved}; {accuracy})"
        if solution.note[b]:
            stop = f"refinement ended at {n_nodes} nodes"
        else:
            stop = f"the next node count, {2 * n_nodes - 1}, exceeds max_nodes={max_nodes}"
        return f"tol={tol} not met: {stop} ({solved}; {accuracy})"
