"""Why a solver stopped, per curve: the contract between optimisers and refinement.

An optimiser minimising the discrete energy at one node count reports a
:class:`LevelStatus` per curve; the refinement over node counts reads it to decide
which curves refine on, and the returned curves carry what applied in the end.
"""

import enum

import numpy as np

from geomstats_density.exceptions import report_failure


class LevelStatus(enum.IntEnum):
    """How the minimisation of one curve at one node count ended.

    Attributes
    ----------
    STATIONARY
        The optimiser's own stationarity test held (a full Newton step settles the
        energy to its tolerance).
    SETTLED
        The energy converges linearly (kinked energies, where Newton's model is
        exact only on one side) and the estimated remaining decrease is below the
        energy tolerance.
    MAX_ITER
        The iteration budget ran out first. The nodes are the best found; the next
        node count may start from them.
    FAILED
        The curve cannot be evaluated (its starting curve leaves the metric's
        domain, or the energy is not finite there): the nodes are not a solution.
    """

    STATIONARY = 0
    SETTLED = 1
    MAX_ITER = 2
    FAILED = 3

    @classmethod
    def minimised(cls, status):
        """Whether each status is a minimum to tolerance (STATIONARY or SETTLED).

        Parameters
        ----------
        status : ndarray of int, shape=[...]

        Returns
        -------
        minimised : ndarray of bool, shape=[...]
        """
        return status <= cls.SETTLED


class CurveStatus(enum.IntEnum):
    """How the solve of one curve ended, over all node counts: ``curve.status``.

    Attributes
    ----------
    CONVERGED
        The last node counts were minimised to tolerance, the estimated error of
        the length is below ``tol``, and the returned curve's own length agrees.
    MAX_ITER
        The optimiser did not minimise the last node counts within its iteration
        budget: the curve is not a discrete geodesic to tolerance.
    MAX_NODES
        The last node counts were minimised, but at ``max_nodes`` the length's
        estimated error is above ``tol``, or the returned curve's own length
        contradicts the estimate (``dist`` is then that length).
    FAILED
        The curve cannot be solved (it leaves the metric's domain, or the energy
        is not finite on it): ``dist`` and ``initial_velocity`` are NaN.
    """

    CONVERGED = 0
    MAX_ITER = 1
    MAX_NODES = 2
    FAILED = 3


class ExpStatus(enum.IntEnum):
    """How the integration of one geodesic from a velocity ended: ``result.status``.

    Attributes
    ----------
    CONVERGED
        The integration reached time 1 and the end point's estimated error is
        within ``tol`` (or, with ``sensitivity_directions=0``, was not estimated).
    UNSTABLE
        The integration reached time 1, but the end point is so sensitive to the
        velocity that its estimated error exceeds ``tol``: the initial-value
        problem cannot be solved to that accuracy.
    BUDGET
        ``max_evaluations`` or ``max_time`` ran out before time 1: the end point
        is NaN.
    """

    CONVERGED = 0
    UNSTABLE = 1
    BUDGET = 2


def report_unconverged(status, first_message, on_failure, subject, advice):
    """One warning (or error) for all the curves of a batch that did not converge.

    It counts the curves by how they ended, quotes how the first of them ended
    and adds what to change.

    Parameters
    ----------
    status : ndarray of int, shape=[...]
        :class:`CurveStatus` of each curve.
    first_message : str or None
        How the first curve that did not converge ended.
    on_failure : {'warn', 'raise', 'ignore'}
        See :func:`~geomstats_density.exceptions.report_failure`.
    subject : str
        What the curves stand for, plural (``'geodesics'``).
    advice : callable
        The statuses of the curves that did not converge, without repeats, to
        the sentences that end the message (what to change), each with a leading
        space.
    """
    missed = status[status != CurveStatus.CONVERGED]
    if missed.size == 0 or on_failure == "ignore":
        return
    codes, counts = np.unique(missed, return_counts=True)
    kinds = ", ".join(f"{count} {CurveStatus(code).name}" for code, count in zip(codes, counts))
    report_failure(
        f"{missed.size} of {status.size} {subject} did not converge ({kinds}); "
        f"the first: {first_message}.{advice(codes)}",
        on_failure,
    )
