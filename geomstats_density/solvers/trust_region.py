"""The trust-region loop of the Newton solver: a batch of curves at one node count.

Each iteration takes a step of a step strategy
(:mod:`~geomstats_density.solvers.steps`) within each curve's trust radius,
accepts it where the energy decreases as the model predicts, and adapts the
radius. A curve stops ``STATIONARY`` when a full Newton step settles its energy
(or is below ``xtol`` of its chord), and ``SETTLED`` when the stall test of
:class:`EnergyHistory` finds the geometric tail of its energy's decrease below
the tolerance: kinked energies make Newton converge only linearly. Starting
curves whose derivatives are not finite at some nodes are nudged off those
points first.
"""

import numpy as np
import torch

from geomstats_density._linalg import unit_vectors
from geomstats_density.energy import curve_energy
from geomstats_density.exceptions import DomainError
from geomstats_density.solvers.domain import starting_curve_outside
from geomstats_density.solvers.status import LevelStatus
from geomstats_density.solvers.steps import energies_or_inf

# Iterations in each half of the window over which the stall test compares the
# energy's decrease.
STALL_HALF_WINDOW = 4
# The rate estimated from two half windows is noisy (rejected steps decrease
# nothing): the estimated tail must be this many times below the tolerance.
STALL_SAFETY = 30.0
# Starting nodes where the energy's derivatives are not finite move off the
# chord by this fraction of its length, ten times more at each of a few tries.
NUDGE = 1e-7
NUDGE_TRIES = 3


def trust_region(
    strategy,
    metric,
    nodes,
    on_iteration,
    warm_state,
    budgets,
    xtol,
    energy_rtol,
    raw_radius=False,
    interrupt=None,
):
    """Trust-region steps of ``strategy`` on a batch of curves, each within its budget.

    Parameters
    ----------
    strategy : step strategy
        Of :mod:`~geomstats_density.solvers.steps`: the derivatives, the
        subproblem's solve, the norm of the radius and the state handed on.
    metric : SolverMetric
    nodes : ndarray, shape=[batch, n_nodes, dim]
    on_iteration : callable
        Called after each iteration with the count of curves done, as
        ``on_iteration(done=...)`` (progress reporting lives with the caller).
    warm_state : ndarray, shape=[batch] or None
    budgets : ndarray of int, shape=[batch]
        Iterations each curve may take.
    xtol : float
        A Newton step below ``xtol`` times the chord ends a curve's iteration.
    energy_rtol : float
        A predicted decrease below ``energy_rtol`` times the energy ends it too,
        and so does an estimated remaining decrease below it (the stall test).
    raw_radius : bool
        Return the final trust radii, rather than the step strategy's state
        for the next node count.
    interrupt : callable, optional
        ``interrupt(iteration, rows, nodes) -> ndarray of bool``, called after
        each iteration with the positions ``rows`` in the batch of the running
        curves and their nodes: those it flags stop
        there, with status MAX_ITER and iterations left in their budgets.

    Returns
    -------
    nodes, status, iterations, warm_state
        As ``RefiningGeodesicSolver._minimise``: the nodes, the
        :class:`~geomstats_density.solvers.status.LevelStatus` and the
        iterations of each curve, and the state for the next node count.
    """
    start_nodes = nodes
    nodes = nodes.copy()
    batch = nodes.shape[0]
    chord = np.linalg.norm(nodes[:, -1] - nodes[:, 0], axis=-1)
    status = np.full(batch, LevelStatus.MAX_ITER)
    iterations = np.zeros(batch, dtype=int)
    active, derivatives = _smooth_start(strategy, metric, nodes, chord)
    failed = np.ones(batch, dtype=bool)
    failed[active] = False
    nodes[failed] = start_nodes[failed]
    status[failed] = LevelStatus.FAILED
    radius = strategy.begin(nodes, active, derivatives, warm_state, chord)
    history = EnergyHistory(batch)
    history.record(active, derivatives.energy)
    running = ~failed
    smallest_radius = 1e-15 * radius
    for iteration in range(int(budgets.max(initial=0))):
        running &= iterations < budgets
        idx = np.flatnonzero(running)
        if idx.size == 0:
            break
        iterations[idx] += 1
        proposal = strategy.propose(nodes, idx, radius[idx], iteration)
        energy, steps = proposal.energy, proposal.steps
        slope = np.einsum("bki,bki->b", proposal.gradient, steps)
        predicted = -(slope + 0.5 * np.einsum("bki,bki->b", steps, proposal.curvature))
        small_step = np.max(np.abs(steps), axis=(1, 2)) <= xtol * chord[idx]
        settled = predicted <= energy_rtol * energy
        at_noise_floor = np.abs(predicted) <= 1e-13 * np.abs(energy)
        # The step that ends a curve's iteration if the energy confirms it.
        last = proposal.is_newton & (small_step | settled | at_noise_floor)
        trial = nodes[idx].copy()
        trial[:, 1:-1] += steps
        trial_energy = strategy.trial_energies(trial, last, idx)
        actual = energy - trial_energy
        ratio = np.where(predicted > 0, actual / np.where(predicted > 0, predicted, 1), -1)
        accept = (ratio > 1e-4) | (proposal.is_newton & at_noise_floor & np.isfinite(actual))
        nodes[idx[accept]] = trial[accept]
        strategy.accepted(idx, accept)
        # A flat curve (a gradient too small to matter) is done once its step
        # confirms it: at a saddle the step follows negative curvature and
        # gains more than the tolerance.
        done = accept & (last | (proposal.flat & (actual <= energy_rtol * energy)))
        # A final step at rounding level says nothing of the model's reach: the
        # radius of a converged curve is kept for the next node count.
        updated = np.where(ratio < 0.25, 0.25 * proposal.step_size, radius[idx])
        fraction, part_energy = strategy.rescue(nodes, idx, proposal, slope, trial_energy, accept)
        updated = np.where(fraction > 0, fraction * proposal.step_size, updated)
        at_boundary = proposal.step_size > 0.99 * radius[idx]
        updated = np.where((ratio > 0.75) & at_boundary, 2 * radius[idx], updated)
        radius[idx] = np.where(done, radius[idx], updated)
        energy = np.where(accept, trial_energy, np.where(fraction > 0, part_energy, energy))
        history.record(idx, energy)
        stalled = ~done & (
            history.settled(idx, energy_rtol) | (radius[idx] <= smallest_radius[idx])
        )
        status[idx[done]] = LevelStatus.STATIONARY
        status[idx[stalled]] = LevelStatus.SETTLED
        running[idx] = ~done & ~stalled
        if interrupt is not None and running.any():
            idx = np.flatnonzero(running)
            running[idx[interrupt(iteration, idx, nodes[idx])]] = False
        on_iteration(done=f"{(~running & ~failed).sum()}/{batch}")
    if not raw_radius:
        radius = strategy.warm_state(start_nodes, nodes, radius, chord)
    return nodes, status, iterations, radius


class EnergyHistory:
    """The last energies of each curve, and the stall test on their decrease.

    Kinked energies make trust-region Newton converge linearly: the decrease
    over one half of a window of iterations, ``S_2``, against that over the half
    before, ``S_1``, estimates the rate ``r = S_2 / S_1`` per half window, and the
    decrease still to come as the geometric tail ``S_2 r / (1 - r)``.

    Parameters
    ----------
    batch : int
    """

    def __init__(self, batch):
        self.energies = np.full((batch, 2 * STALL_HALF_WINDOW + 1), np.nan)

    def record(self, idx, energy):
        """Append the energies of the curves ``idx`` after an iteration."""
        self.energies[idx, :-1] = self.energies[idx, 1:]
        self.energies[idx, -1] = energy

    def settled(self, idx, rtol):
        """Whether the estimated remaining decrease is below ``rtol`` times the energy.

        Parameters
        ----------
        idx : ndarray of int, shape=[n_idx]
        rtol : float

        Returns
        -------
        settled : ndarray of bool, shape=[n_idx]
        """
        window = self.energies[idx]
        first = window[:, 0] - window[:, STALL_HALF_WINDOW]
        second = window[:, STALL_HALF_WINDOW] - window[:, -1]
        converging = (second > 0) & (second < first)
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = second / first
            tail = second * rate / (1 - rate)
        return converging & (STALL_SAFETY * tail <= rtol * np.abs(window[:, -1]))


def _smooth_start(strategy, metric, nodes, chord):
    """The curves that can start, and their derivatives; nodes moved off rough points.

    Curves whose energy is not finite cannot start. Where only the derivatives
    are not finite at some nodes (the cone point of a norm, a kink of ``abs``
    met exactly), those nodes move off the chord, orthogonally, by ``NUDGE`` of
    its length (ten times more at each further try); curves still rough after
    ``NUDGE_TRIES`` cannot start either. Updates ``nodes`` in place.

    Parameters
    ----------
    strategy : step strategy
    metric : SolverMetric
    nodes : ndarray, shape=[batch, n_nodes, dim]
    chord : ndarray, shape=[batch]

    Returns
    -------
    active : ndarray of int, shape=[n_active]
    derivatives : derivatives of ``strategy`` at ``nodes[active]``

    Raises
    ------
    DomainError, ValueError
        If no curve can start.
    """
    n_nodes = nodes.shape[1]
    active = np.flatnonzero(np.isfinite(energies_or_inf(metric, nodes, strategy.times)))
    if active.size == 0:
        _raise_why_not_finite(metric, nodes)
    offset = None
    for attempt in range(NUDGE_TRIES + 1):
        derivatives = strategy.evaluate(nodes[active], active)
        rough = strategy.rough_nodes(derivatives)
        if not rough.any() or attempt == NUDGE_TRIES:
            break
        if offset is None:
            offset = NUDGE * chord[:, None] * _chord_normals(nodes)
        curves, interior = np.nonzero(rough)
        nodes[active[curves], interior + 1] += 10.0**attempt * offset[active[curves]]
    smooth = ~rough.any(-1)
    if not smooth.any():
        raise ValueError(
            f"The energy's derivatives are not finite on the starting curve ({n_nodes} "
            f"nodes) from {nodes[active[0], 0].tolist()}, even with its nodes moved off "
            "the points where they fail: is the log-factor differentiable almost "
            "everywhere along it?"
        )
    if not smooth.all():
        active = active[smooth]
        derivatives = strategy.evaluate(nodes[active], active)
    return active, derivatives


def _raise_why_not_finite(metric, nodes):
    """Raise the error that says why no starting curve has a finite energy."""
    for b in range(nodes.shape[0]):
        try:
            curve_energy(metric, torch.from_numpy(nodes[b]))
        except DomainError as error:
            raise DomainError(starting_curve_outside(nodes.shape[1], error)) from None
    raise ValueError(
        f"The energy is not finite on the starting curve ({nodes.shape[1]} nodes) from "
        f"{nodes[0, 0].tolist()}: is the log-factor finite along it?"
    )


def _chord_normals(nodes):
    """A unit vector orthogonal to each curve's chord (along it in dimension 1).

    The coordinate axis least aligned with the chord, made orthogonal to it:
    deterministic, and well conditioned.

    Parameters
    ----------
    nodes : ndarray, shape=[batch, n_nodes, dim]

    Returns
    -------
    normals : ndarray, shape=[batch, dim]
    """
    direction = unit_vectors(nodes[:, -1] - nodes[:, 0])
    axis = np.eye(nodes.shape[-1])[np.argmin(np.abs(direction), axis=-1)]
    normal = unit_vectors(axis - np.sum(axis * direction, -1, keepdims=True) * direction)
    return np.where(np.linalg.norm(normal, axis=-1, keepdims=True) > 0, normal, direction)
