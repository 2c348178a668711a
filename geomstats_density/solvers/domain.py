"""Curves kept in the metric's domain, and isolated when they leave it.

A conformal factor may be refused somewhere (``DomainError``: not finite, or a
quality not below 1). A curve leaves the domain when its discrete length, which
evaluates the factor at the nodes and the quadrature points, is not finite.
Starting curves that leave it fail (or raise, where the user gave them), with
the one message :func:`starting_curve_outside`; the next node count's starts
that leave it are resampled more conservatively (:func:`keep_inside`); and a
batch whose minimisation raises is minimised in halves, down to the curves that
raise, so that one curve outside the domain does not stop the others (:func:`minimise_isolated`).
"""

import numpy as np

from geomstats_density.curves import polygon_lengths, resample_nodes_linear, resample_nodes_monotone
from geomstats_density.energy import per_curve_where_outside, times_of_curves
from geomstats_density.exceptions import DomainError
from geomstats_density.solvers.estimates import Estimate
from geomstats_density.solvers.status import LevelStatus


def starting_curve_outside(n_nodes, reason, subject="The starting curve"):
    """The message for a starting curve of ``n_nodes`` nodes outside the domain.

    Parameters
    ----------
    n_nodes : int
    reason : str or DomainError
        Why the curve cannot be measured.
    subject : str
        How the message names the curve: a sentence's subject, or ``'its
        starting curve'`` within a curve's message.

    Returns
    -------
    message : str
    """
    return (
        f"{subject} ({n_nodes} nodes) leaves the metric's domain: {reason} "
        "Pass an initial_curve that stays inside it."
    )


def leaves_domain(metric, nodes):
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


def domain_reason(metric, nodes):
    """Why the curve ``nodes`` (shape ``[1, n_nodes, n_coords]``) cannot be measured."""
    try:
        polygon_lengths(metric, nodes)
    except DomainError as error:
        return str(error)
    return "its length is not finite."


def drop_outside(metric, nodes, given, active, final, record):
    """Starting curves, without those that leave the metric's domain (failed).

    The user's ``initial_curve`` leaving it raises :class:`DomainError`.

    Parameters
    ----------
    nodes : ndarray, shape=[len(active), n_nodes, n_coords]
        Starting curves.
    given : bool
        Whether they are the user's ``initial_curve``.
    active : ndarray of int, shape=[len(active)]
        Their positions in the batch.
    final : list
        The batch's final estimates; a failed one is set at its position.
    record : StopRecord
        Where a curve that fails is recorded, with why.

    Returns
    -------
    nodes : ndarray, shape=[n_inside, n_nodes, n_coords]
    """
    outside = np.flatnonzero(leaves_domain(metric, nodes))
    for position in outside:
        reason = domain_reason(metric, nodes[position : position + 1])
        if given:
            raise DomainError(
                f"initial_curve (sampled at {nodes.shape[1]} nodes) leaves the metric's "
                f"domain: {reason} Pass one that stays inside it."
            )
        final[active[position]] = Estimate.failed(nodes[position : position + 1])
        record.fail(
            active[position],
            starting_curve_outside(nodes.shape[1], reason, subject="its starting curve"),
        )
    return np.delete(nodes, outside, axis=0)


def keep_inside(metric, nodes, finer_nodes, inside, project):
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
    project : callable
        ``project(metric, nodes)``: resampled nodes brought back where the
        space's points live.

    Returns
    -------
    finer_nodes : ndarray, shape=[batch, 2 n - 1, n_coords]
    """
    n_nodes = finer_nodes.shape[1]
    unknown = np.flatnonzero(~inside)
    outside = unknown[leaves_domain(metric, finer_nodes[unknown])]
    for resample in (resample_nodes_monotone, resample_nodes_linear):
        if not outside.size:
            break
        finer_nodes[outside] = project(metric, resample(nodes[outside], n_nodes))
        outside = outside[leaves_domain(metric, finer_nodes[outside])]
    return finer_nodes


def minimise_isolated(minimise, metric, nodes, on_iteration, warm_state, times=None):
    """``minimise``, on halves of the batch where it raises :class:`DomainError`.

    Parameters
    ----------
    minimise : callable
        The refining solvers' minimisation at one node count
        (:meth:`~geomstats_density.solvers.refinement.RefiningGeodesicSolver._minimise`),
        called as ``minimise(metric, nodes, on_iteration, warm_state)``, with
        ``times=`` where ``times`` are given.
    metric : SolverMetric
    nodes : ndarray, shape=[batch, n_nodes, n_coords]
    on_iteration : callable
    warm_state : ndarray, shape=[batch, ...] or None
    times : ndarray, shape=[n_nodes] or [batch, n_nodes], optional
        Node times other than uniform ones, shared or one row per curve.

    Returns
    -------
    nodes, status, iterations, warm_state
        As ``minimise``; ``FAILED`` for the curves that raise.
    reasons : dict
        The error of each curve that raised, by position.
    """

    def minimise_rows(rows):
        rows = rows[:, 0, 0]
        state = None if warm_state is None else warm_state[rows]
        graded = {} if times is None else {"times": times_of_curves(times, rows)}
        return (*minimise(metric, nodes[rows], on_iteration, state, **graded), {})

    def failed(rows, error):
        state = None if warm_state is None else warm_state[rows[:, 0, 0]]
        status = np.array([LevelStatus.FAILED])
        return nodes[rows[:, 0, 0]], status, np.zeros(1, dtype=int), state, {0: str(error)}

    def concatenate(parts):
        states = [part[3] for part in parts]
        template = next((state for state in states if state is not None), None)
        if template is not None:
            states = [
                np.full((len(part[1]), *template.shape[1:]), np.nan) if state is None else state
                for part, state in zip(parts, states)
            ]
        # Each part's reasons are keyed by position in the part.
        offsets = np.cumsum([0] + [len(part[1]) for part in parts])
        return (
            np.concatenate([part[0] for part in parts]),
            np.concatenate([part[1] for part in parts]),
            np.concatenate([np.broadcast_to(part[2], part[1].shape) for part in parts]),
            None if template is None else np.concatenate(states),
            {
                int(offset) + b: reason
                for offset, part in zip(offsets, parts)
                for b, reason in part[4].items()
            },
        )

    positions = np.arange(len(nodes))[:, None, None]
    return per_curve_where_outside(minimise_rows, positions, failed, concatenate)
