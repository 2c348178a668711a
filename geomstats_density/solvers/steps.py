"""Step strategies of the trust-region Newton solver.

The trust-region loop (:meth:`NewtonGeodesicSolver._minimise
<geomstats_density.solvers.newton.NewtonGeodesicSolver._minimise>`) owns what
every step shares: acceptance by the ratio of actual to predicted decrease, radius
updates and the stopping tests. A strategy owns the rest: which derivatives it
evaluates, how it solves the trust-region subproblem, the norm its radius is
measured in and what it hands to the next node count.

* :class:`BlockNewtonSteps`: the exact block-tridiagonal Hessian and a banded
  trust-region solve (dimensions up to a few tens).
* :class:`GaussNewtonSteps`: the same solve on the Hessian of the energy with
  the networks linearised: ``phi`` at each node (pull-back metrics) and the
  networks inside the factor (a feature classifier) at each quadrature point;
  exact where they are piecewise linear, such as ReLU networks.
* :class:`MatrixFreeSteps`: Steihaug's truncated CG on Hessian-vector products,
  preconditioned by the curve's Sobolev operator (high dimensions).
* :class:`GaussNewtonMatrixFreeSteps`: the same CG on products with the
  Gauss-Newton Hessian, the networks linearised as in :class:`GaussNewtonSteps`.
"""

from dataclasses import dataclass

import numpy as np
import torch

from geomstats_density._linalg import unit_vectors
from geomstats_density.energy import curve_energy, per_curve_where_outside, times_of_curves
from geomstats_density.solvers.banded import batch_cholesky_solve, trust_region_step
from geomstats_density.solvers.derivatives import (
    EnergyDerivatives,
    energy_derivatives,
    gauss_newton_derivatives,
    gauss_newton_matrix_free_derivatives,
    matrix_free_derivatives,
)
from geomstats_density.solvers.sobolev import (
    MAX_CAPACITANCE_ENTRIES,
    steihaug_steps,
    stiff_directions,
)

# Power iterations for the stiff directions at the first iteration of a node
# count; later iterations take one step from the previous directions.
STIFF_POWER_ITERATIONS = 2


@dataclass
class Proposal:
    """A trust-region step for each curve of a batch, and what the loop judges it by.

    Attributes
    ----------
    energy : ndarray, shape=[batch]
        Energy at the current curves.
    gradient : ndarray, shape=[batch, n_nodes - 2, dim]
    steps : ndarray, shape=[batch, n_nodes - 2, dim]
    is_newton : ndarray of bool, shape=[batch]
        Whether the step is the model's unconstrained minimiser.
    curvature : ndarray, shape=[batch, n_nodes - 2, dim]
        The model's Hessian times the step.
    step_size : ndarray, shape=[batch]
        Norm of the step in the strategy's radius norm.
    flat : ndarray of bool, shape=[batch]
        Whether what is left to gain is below the energy tolerance whatever the
        step (the preconditioned gradient is that small).
    """

    energy: np.ndarray
    gradient: np.ndarray
    steps: np.ndarray
    is_newton: np.ndarray
    curvature: np.ndarray
    step_size: np.ndarray
    flat: np.ndarray


class BlockNewtonSteps:
    """Newton steps on the exact block-tridiagonal Hessian, banded trust-region solve.

    The radius is the Euclidean norm over all interior coordinates. The
    derivatives at an accepted trial curve serve the next iteration.

    Parameters
    ----------
    metric : SolverMetric
    energy_rtol : float
        Relative energy decrease the loop stops at.
    times : ndarray, shape=[n_nodes] or [batch, n_nodes], optional
        Increasing times of the nodes in the energy, shared or one row per curve
        of the batch; uniform on [0, 1] by default.
    """

    def __init__(self, metric, energy_rtol, times=None):
        self.metric = metric
        self.energy_rtol = energy_rtol
        self.times = times
        self.derivatives = None
        self._at_trial = None

    def evaluate(self, nodes, rows=None):
        """Energy and derivatives of a batch of curves.

        Parameters
        ----------
        nodes : ndarray, shape=[n_rows, n_nodes, dim]
        rows : ndarray of int, shape=[n_rows], optional
            The curves' rows in the batch, whose times they take; all by default.

        Returns
        -------
        derivatives : EnergyDerivatives
        """
        return energy_derivatives(self.metric, nodes, times_of_curves(self.times, rows))

    @staticmethod
    def rough_nodes(derivatives):
        """Interior nodes where a gradient or Hessian block is not finite.

        Parameters
        ----------
        derivatives : EnergyDerivatives

        Returns
        -------
        rough : ndarray of bool, shape=[batch, n_nodes - 2]
        """
        hessian = derivatives.hessian
        rough = ~np.isfinite(derivatives.gradient).all(-1)
        rough |= ~np.isfinite(hessian.diagonal).all(axis=(-1, -2))
        coupling = ~np.isfinite(hessian.lower).all(axis=(-1, -2))
        rough[:, 1:] |= coupling
        rough[:, :-1] |= coupling
        return rough

    def begin(self, nodes, active, derivatives, warm_state, chord):
        """Take the starting curves' derivatives; the starting radii.

        Parameters
        ----------
        nodes : ndarray, shape=[batch, n_nodes, dim]
        active : ndarray of int, shape=[n_active]
            Curves to solve; the others are never proposed steps.
        derivatives : EnergyDerivatives
            At ``nodes[active]``.
        warm_state : ndarray, shape=[batch] or None
            What :meth:`warm_state` returned at the previous node count.
        chord : ndarray, shape=[batch]
            Distance between each curve's endpoints.

        Returns
        -------
        radius : ndarray, shape=[batch]
        """
        self.derivatives = EnergyDerivatives.infinite(nodes)
        self.derivatives.put(active, derivatives)
        radius = chord * np.sqrt(nodes.shape[1] - 2)
        if warm_state is not None:
            # Twice the nodes: the same displacement has sqrt(2) times the norm.
            radius = np.minimum(radius, warm_state * np.sqrt(2.0))
        return radius

    def propose(self, nodes, idx, radius, iteration):
        """Trust-region steps of the curves ``idx``.

        Parameters
        ----------
        nodes : ndarray, shape=[batch, n_nodes, dim]
        idx : ndarray of int, shape=[n_idx]
        radius : ndarray, shape=[n_idx]
        iteration : int
            Iteration of the loop at this node count, from 0.

        Returns
        -------
        proposal : Proposal
        """
        current = self.derivatives.take(idx)
        steps, is_newton = _banded_steps(current, radius)
        return Proposal(
            energy=current.energy,
            gradient=current.gradient,
            steps=steps,
            is_newton=is_newton,
            curvature=current.hessian.matvec(steps),
            step_size=np.linalg.norm(steps.reshape(idx.size, -1), axis=-1),
            flat=np.zeros(idx.size, dtype=bool),
        )

    def trial_energies(self, trial, last, idx):
        """Energies of trial curves; infinite where they leave the domain.

        A last step (one that ends the iteration if accepted) needs its energy
        only; the derivatives at other trial curves are kept for
        :meth:`accepted`.

        Parameters
        ----------
        trial : ndarray, shape=[n_idx, n_nodes, dim]
        last : ndarray of bool, shape=[n_idx]
        idx : ndarray of int, shape=[n_idx]
            The curves' rows in the batch.

        Returns
        -------
        energy : ndarray, shape=[n_idx]
        """
        energy = np.empty(trial.shape[0])
        if last.any():
            energy[last] = energies_or_inf(
                self.metric, trial[last], times_of_curves(self.times, idx[last])
            )
        further = np.flatnonzero(~last)
        self._at_trial = None
        if further.size:
            at_trial = _derivatives_or_inf(self.evaluate, trial[further], idx[further])
            energy[further] = at_trial.energy
            self._at_trial = (further, at_trial)
        return energy

    def accepted(self, idx, accept):
        """Keep the derivatives at the accepted trial curves of the last proposal."""
        if self._at_trial is None:
            return
        further, at_trial = self._at_trial
        taken = accept[further]
        self.derivatives.put(idx[further[taken]], at_trial.take(np.flatnonzero(taken)))

    def rescue(self, nodes, idx, proposal, slope, trial_energy, accept):
        """Nothing: a rejected banded step is cheap to solve again at a smaller radius.

        Returns
        -------
        fraction, energy : ndarray, shape=[n_idx]
            Zero and NaN: no part of a step taken.
        """
        return np.zeros(idx.size), np.full(idx.size, np.nan)

    def warm_state(self, start_nodes, nodes, radius, chord):
        """Radii for the next node count.

        The smaller of the final radius and how far the curve moved (the next
        node count moves it less), at least a thousandth of the starting radius:
        a radius that collapsed against a kink would hold the next node count
        to tiny steps.

        Parameters
        ----------
        start_nodes, nodes : ndarray, shape=[batch, n_nodes, dim]
        radius, chord : ndarray, shape=[batch]

        Returns
        -------
        warm_state : ndarray, shape=[batch]
        """
        batch, n_nodes = nodes.shape[:2]
        moved = np.linalg.norm((nodes - start_nodes).reshape(batch, -1), axis=-1)
        return np.maximum(np.minimum(radius, moved), 1e-3 * chord * np.sqrt(n_nodes - 2))


class GaussNewtonSteps(BlockNewtonSteps):
    """Block steps on the energy's Hessian with the networks linearised.

    For a pull-back metric the energy is ``n sum_i w_i |phi(z_{i+1}) - phi(z_i)|^2``
    with ``w_i`` the factor averaged on the latent chord: its Hessian without the
    second derivatives of ``phi`` needs only ``phi``'s Jacobians at the nodes
    (:func:`~geomstats_density.solvers.derivatives.gauss_newton_derivatives`).
    The factor's Hessians at the quadrature points drop the second derivatives
    of the networks inside it (a feature classifier's logits, see
    :meth:`Feature.gauss_newton_jet
    <geomstats_density.quality.Feature.gauss_newton_jet>`), with or without
    ``phi``. Both are exact where the networks are piecewise linear (ReLU,
    LeakyReLU, max-pooling networks, whose second derivatives autodiff returns
    as zero anyway).
    """

    def evaluate(self, nodes, rows=None):
        """Energy, gradient and Gauss-Newton Hessian of a batch of curves.

        The Hessian drops the terms in the second derivatives of the networks.

        Parameters
        ----------
        nodes : ndarray, shape=[n_rows, n_nodes, dim]
        rows : ndarray of int, shape=[n_rows], optional
            The curves' rows in the batch, whose times they take; all by default.

        Returns
        -------
        derivatives : EnergyDerivatives
        """
        times = times_of_curves(self.times, rows)
        if self.metric.geometry.image_chords:
            return gauss_newton_derivatives(self.metric, nodes, times)
        return energy_derivatives(self.metric, nodes, times, gauss_newton=True)


class MatrixFreeSteps:
    """Steihaug's truncated CG on Hessian-vector products, Sobolev preconditioner.

    The radius is the Sobolev norm of the step, whose square scales like the
    energy. On a conformal metric each node's stiffest direction joins the
    preconditioner (:func:`~geomstats_density.solvers.sobolev.stiff_directions`);
    through a generator the pull-back's anisotropy is spread over many
    directions and one does not pay.

    Parameters
    ----------
    metric : SolverMetric
    energy_rtol : float
        Relative energy decrease the loop stops at.
    times : ndarray, shape=[n_nodes] or [batch, n_nodes], optional
        Increasing times of the nodes in the energy, shared or one row per curve
        of the batch; uniform on [0, 1] by default.
    """

    def __init__(self, metric, energy_rtol, times=None):
        self.metric = metric
        self.energy_rtol = energy_rtol
        self.times = times
        self.directions = None

    def evaluate(self, nodes, rows=None):
        """Energy, gradient and Hessian-vector products of a batch of curves.

        Parameters
        ----------
        nodes : ndarray, shape=[n_rows, n_nodes, dim]
        rows : ndarray of int, shape=[n_rows], optional
            The curves' rows in the batch, whose times they take; all by default.

        Returns
        -------
        derivatives : MatrixFreeDerivatives
        """
        return matrix_free_derivatives(self.metric, nodes, times_of_curves(self.times, rows))

    @staticmethod
    def rough_nodes(derivatives):
        """Interior nodes where the gradient or the Hessian times ones is not finite.

        Parameters
        ----------
        derivatives : MatrixFreeDerivatives

        Returns
        -------
        rough : ndarray of bool, shape=[batch, n_nodes - 2]
        """
        product = derivatives.hvp(np.ones_like(derivatives.gradient))
        return ~(np.isfinite(derivatives.gradient) & np.isfinite(product)).all(-1)

    def begin(self, nodes, active, derivatives, warm_state, chord):
        """The starting radii, and the stiff directions where they pay.

        Parameters and return as :meth:`BlockNewtonSteps.begin`.
        """
        batch, n_nodes, _ = nodes.shape
        energy = np.zeros(batch)
        energy[active] = derivatives.energy
        self.directions = None
        if self.metric.euclidean_chords and batch * (n_nodes - 2) ** 2 <= MAX_CAPACITANCE_ENTRIES:
            self.directions = np.zeros_like(nodes[:, 1:-1])
            self.directions[active] = _log_factor_directions(self.metric, nodes[active])
        radius = 5.0 * np.sqrt(energy)
        if warm_state is not None:
            radius = np.minimum(radius, warm_state)
        return radius

    def propose(self, nodes, idx, radius, iteration):
        """Trust-region steps of the curves ``idx`` (see :meth:`BlockNewtonSteps.propose`)."""
        current = self.evaluate(nodes[idx], idx)
        if self.directions is not None:
            masses, self.directions[idx] = stiff_directions(
                current.hvp,
                current.preconditioner,
                self.directions[idx],
                n_power=STIFF_POWER_ITERATIONS if iteration == 0 else 0,
            )
            current.preconditioner = current.preconditioner.with_stiff(masses)
        steps, is_newton, gradient_sq, curvature = steihaug_steps(
            current.gradient,
            current.hvp,
            current.preconditioner,
            radius,
            current.energy,
            # A residual worth a tenth of the energy tolerance: solving further
            # would not change whether the curve has converged.
            enough=np.sqrt(0.2 * self.energy_rtol * current.energy),
        )
        return Proposal(
            energy=current.energy,
            gradient=current.gradient,
            steps=steps,
            is_newton=is_newton,
            curvature=curvature,
            step_size=np.sqrt(np.einsum("bki,bki->b", steps, current.preconditioner.apply(steps))),
            # CG may stop at its iteration limit on nearly flat directions: the
            # preconditioned gradient norm (squared, an energy) bounds what is left.
            flat=gradient_sq <= self.energy_rtol * current.energy,
        )

    def trial_energies(self, trial, last, idx):
        """Energies of trial curves (the curves ``idx``); infinite outside the domain."""
        return energies_or_inf(self.metric, trial, times_of_curves(self.times, idx))

    def accepted(self, idx, accept):
        """Nothing kept: each iteration evaluates its derivatives afresh."""

    def rescue(self, nodes, idx, proposal, slope, trial_energy, accept):
        """Take a part of each rejected step where its energy decreases enough.

        A rejected step cost a whole CG solve. The fraction minimises the
        quadratic through the energy and its slope ``g.p`` at the curve and the
        energy at the rejected trial, clipped to [0.1, 0.5]; it is taken if it
        meets Armijo's condition. Updates ``nodes`` in place.

        Returns
        -------
        fraction : ndarray, shape=[n_idx]
            The fraction taken, 0 where none was.
        energy : ndarray, shape=[n_idx]
            Energy at the curves that took a fraction, NaN elsewhere.
        """
        fraction = np.zeros(idx.size)
        energy = np.full(idx.size, np.nan)
        retry = np.flatnonzero(~accept & (slope < 0))
        if retry.size == 0:
            return fraction, energy
        with np.errstate(divide="ignore", invalid="ignore"):
            bend = trial_energy[retry] - proposal.energy[retry] - slope[retry]
            candidate = np.clip(np.nan_to_num(-slope[retry] / (2 * bend), nan=0.5), 0.1, 0.5)
        shorter = nodes[idx[retry]].copy()
        shorter[:, 1:-1] += candidate[:, None, None] * proposal.steps[retry]
        shorter_energy = energies_or_inf(
            self.metric, shorter, times_of_curves(self.times, idx[retry])
        )
        taken = proposal.energy[retry] - shorter_energy >= -1e-4 * candidate * slope[retry]
        nodes[idx[retry[taken]]] = shorter[taken]
        fraction[retry[taken]] = candidate[taken]
        energy[retry[taken]] = shorter_energy[taken]
        return fraction, energy

    def warm_state(self, start_nodes, nodes, radius, chord):
        """The final radii: a Sobolev norm is about the same at twice the nodes."""
        return radius


class GaussNewtonMatrixFreeSteps(MatrixFreeSteps):
    """Truncated CG on products with the Hessian of the energy, the networks linearised.

    The Hessian of :class:`GaussNewtonSteps`, never formed: each product takes
    one product ``J v`` and one backward pass ``J^T y`` through ``phi`` at the
    nodes, and a double backward through the factor with its
    networks linearised at the quadrature points
    (:func:`~geomstats_density.solvers.derivatives.gauss_newton_matrix_free_derivatives`),
    where :class:`MatrixFreeSteps` backpropagates twice through the networks.
    Exact where they are piecewise linear.
    """

    def evaluate(self, nodes, rows=None):
        """Energy, gradient and Gauss-Newton Hessian-vector products of a batch of curves.

        Parameters
        ----------
        nodes : ndarray, shape=[n_rows, n_nodes, dim]
        rows : ndarray of int, shape=[n_rows], optional
            The curves' rows in the batch, whose times they take; all by default.

        Returns
        -------
        derivatives : MatrixFreeDerivatives
        """
        return gauss_newton_matrix_free_derivatives(
            self.metric, nodes, times_of_curves(self.times, rows)
        )


def _banded_steps(derivatives, radius):
    """Trust-region steps for a batch: one LAPACK call when all are plain Newton."""
    hessian, gradient = derivatives.hessian, derivatives.gradient
    batch, n_blocks, dim = gradient.shape
    band = hessian.band()
    steps, positive = batch_cholesky_solve(band, -gradient.reshape(-1), batch)
    steps = steps.reshape(batch, n_blocks, dim)
    fits = positive & (np.linalg.norm(steps.reshape(batch, -1), axis=-1) <= radius)
    size = n_blocks * dim
    for b in np.flatnonzero(~fits):
        step, is_newton = trust_region_step(
            hessian[b : b + 1],
            gradient[b].reshape(-1),
            radius[b],
            band=band[:, b * size : (b + 1) * size],
        )
        steps[b] = step.reshape(n_blocks, dim)
        fits[b] = is_newton
    return steps, fits


def _log_factor_directions(metric, nodes):
    """Unit gradients of the log-factor at the interior nodes (zero where it vanishes)."""
    _, gradient = metric.log_factor_and_gradient(torch.from_numpy(nodes[:, 1:-1]))
    return unit_vectors(gradient.detach().numpy())


def energies_or_inf(metric, nodes, times=None):
    """Energies of curves; infinite for those that leave the domain or are not finite.

    Parameters
    ----------
    metric : SolverMetric
    nodes : ndarray, shape=[batch, n_nodes, dim]
    times : ndarray, shape=[n_nodes] or [batch, n_nodes], optional
        Increasing times of the nodes, shared or one row per curve; uniform on
        [0, 1] by default.

    Returns
    -------
    energy : ndarray, shape=[batch]
    """

    def energies(positions):
        span = _span(positions)
        with torch.no_grad():
            curves = torch.from_numpy(nodes[span])
            return curve_energy(metric, curves, times_of_curves(times, span)).numpy()

    values = per_curve_where_outside(
        energies, _positions(nodes), lambda positions, error: np.full(1, np.inf)
    )
    return np.where(np.isnan(values), np.inf, values)


def _positions(nodes):
    """The curves' positions ``[batch, 1, 1]``: what a batch is halved by where it raises."""
    return np.arange(len(nodes))[:, None, None]


def _span(positions):
    """The slice of the consecutive positions ``[n, 1, 1]`` of a halved batch."""
    return slice(int(positions[0, 0, 0]), int(positions[-1, 0, 0]) + 1)


def _derivatives_or_inf(evaluate, nodes, rows):
    """Derivatives at trial curves (the curves ``rows``); infinite energy outside the domain."""
    derivatives = per_curve_where_outside(
        lambda positions: evaluate(nodes[_span(positions)], rows[_span(positions)]),
        _positions(nodes),
        lambda positions, error: EnergyDerivatives.infinite(nodes[_span(positions)]),
        EnergyDerivatives.concatenate,
    )
    derivatives.energy[~derivatives.finite()] = np.inf
    return derivatives
