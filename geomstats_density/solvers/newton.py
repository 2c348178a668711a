"""The default boundary-value solver: trust-region Newton on node positions.

The discrete energy of a curve with ``n`` pieces (the paper's Eq. 5, with the
metric's quadrature of the factor) is minimised over its interior nodes by a
trust-region Newton method on the exact block-tridiagonal Hessian
(:mod:`~geomstats_density.solvers.banded`), which converges quadratically and,
thanks to the exact subproblem, leaves saddle curves such as the straight line
through a symmetric obstacle. In high dimension the steps are matrix-free
(:mod:`~geomstats_density.solvers.sobolev`). Node counts then double with
Richardson extrapolation (:mod:`~geomstats_density.solvers.refinement`).
"""

import numpy as np
import torch

from geomstats_density._arrays import unit_vectors
from geomstats_density._validation import check_choice, check_positive_float
from geomstats_density.energy import curve_energy, uniform_times
from geomstats_density.exceptions import DomainError
from geomstats_density.solvers.banded import batch_cholesky_solve, trust_region_step
from geomstats_density.solvers.derivatives import (
    EnergyDerivatives,
    energy_derivatives,
    matrix_free_derivatives,
)
from geomstats_density.solvers.graph import GlobalStart
from geomstats_density.solvers.refinement import RefiningGeodesicSolver, nodes_of_curve
from geomstats_density.solvers.status import LevelStatus
from geomstats_density.solvers.sobolev import (
    MAX_CAPACITANCE_ENTRIES,
    steihaug_steps,
    stiff_directions,
)

# Above this dimension, Hessian blocks cost more than matrix-free CG steps.
MAX_BLOCK_DIM = 32
# Power iterations for the stiff directions at the first iteration of a node
# count; later iterations take one step from the previous directions.
STIFF_POWER_ITERATIONS = 2


class NewtonGeodesicSolver(RefiningGeodesicSolver):
    """Geodesics between points by trust-region Newton on discretised curves.

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
        ``n_nodes`` nodes and returns the plain discrete length.
    max_nodes : int
        Largest node count tried before reporting that ``tol`` was not met.
    max_iter : int
        Newton iterations allowed per node count.
    xtol : float
        Newton stops when a full Newton step moves no node by more than ``xtol``
        times the distance between the endpoints, or when it predicts a decrease
        of the energy below ``tol / 100`` of it (``1e-12`` if ``tol`` is None): a
        length error far below ``tol``, reached even where nodes may slide at no
        cost (directions a generator ``phi`` flattens).
    hessian : {'auto', 'blocks', 'sobolev'}
        Exact block-tridiagonal Hessian with a banded trust-region solve
        (``'blocks'``), or matrix-free truncated CG on Hessian-vector products,
        preconditioned by the curve's Sobolev operator and, without ``phi``,
        each node's stiffest direction (``'sobolev'``,
        :mod:`~geomstats_density.solvers.sobolev`). ``'auto'`` takes blocks up
        to dimension 32.
    initialization : {'auto', 'line', 'graph', 'grid'}
        Starting curve: the straight line (``'line'``), or the shortest path on
        a graph with conformal edge lengths, which finds the right basin when the
        line is a poor local minimum (:mod:`~geomstats_density.solvers.graph`):
        a grid over the endpoints' box (``'grid'``, dimensions 1 to 3), or
        (``'graph'``) a k-nearest-neighbour graph over ``graph_points`` if given,
        else a grid in dimensions 1 to 3, else a k-nearest-neighbour graph over
        samples of the quality's density. ``'auto'`` (default) acts as
        ``'graph'`` where ``graph_points`` are given or the quality's density is
        multimodal (a Gaussian mixture of several components, a kernel density
        estimate), and as ``'line'`` elsewhere; curves it started on the line
        that do not converge are solved again from a graph's path (a grid in
        dimensions 1 to 3, else density samples), each keeping that result if it
        converged or is shorter (:class:`~geomstats_density.solvers.graph.GlobalStart`).
    graph_points : array-like, shape=[n_points, dim], optional
        Vertices of the graph start, e.g. encodings of a data set.
    graph_options : dict, optional
        ``grid_size``, ``margin``, ``n_neighbors``, ``n_samples``, ``seed`` of
        the graph start (:class:`~geomstats_density.solvers.graph.GlobalStart`).
    on_failure : {'warn', 'raise', 'ignore'}
        What to do when a curve misses ``max_iter`` or ``tol``: emit a
        :class:`GeodesicConvergenceWarning`, raise a
        :class:`GeodesicConvergenceError`, or only flag ``curve.converged``.
    progress : bool or None
        Show a progress bar; None shows it for batches of 64 curves or more.

    Notes
    -----
    The returned curve carries the Richardson-extrapolated nodes of the coarser
    of the last two node counts (e.g. 33 nodes after solving with 65). In a
    batch, each curve stops refining once it meets ``tol``; those that stop at
    fewer nodes are resampled on their cubic spline to the batch's node count.
    """

    def __init__(
        self,
        space,
        n_nodes=17,
        tol=1e-8,
        max_nodes=1025,
        max_iter=100,
        xtol=1e-6,
        hessian="auto",
        initialization="auto",
        graph_points=None,
        graph_options=None,
        on_failure="warn",
        progress=None,
    ):
        super().__init__(space, n_nodes, tol, max_nodes, max_iter, on_failure, progress)
        xtol = check_positive_float(xtol, "xtol")
        check_choice(hessian, "hessian", ("auto", "blocks", "sobolev"))
        self.xtol = xtol
        self.hessian = hessian
        self.global_start = GlobalStart(initialization, graph_points, graph_options)

    @property
    def initialization(self):
        """How curves start: ``'auto'``, ``'line'``, ``'graph'`` or ``'grid'``."""
        return self.global_start.initialization

    def start_graph(self, metric, start, end):
        """The graph whose shortest paths start the curves, or None (straight lines).

        Parameters
        ----------
        metric : ConformalMetric
        start, end : ndarray, shape=[batch, dim]

        Returns
        -------
        graph : ConformalGraph or None
        """
        return self.global_start.graph(metric, start, end)

    def _initial_nodes(self, metric, start, end, initial_curve):
        if initial_curve is not None:
            return nodes_of_curve(initial_curve, start, end, self.n_nodes)
        graph = self.start_graph(metric, start, end)
        if graph is not None:
            return self._graph_curves(metric, graph, start, end)
        weights = uniform_times(self.n_nodes)[None, :, None]
        return (1 - weights) * start[:, None] + weights * end[:, None]

    def _restart_failures(self, metric, start, end, estimate):
        """Curves ``'auto'`` started on the line that did not converge, solved again from a graph.

        The line is the start where nothing says the density is multimodal, but a
        local solve from it can stall (a kinked quality, a thin shell around an
        obstacle): those curves start again on the shortest paths of
        :meth:`~geomstats_density.solvers.graph.GlobalStart.restart_graph`; each
        keeps the second result if it converged or is shorter, else the first
        (``n_iterations`` counts both solves).
        """
        failed = np.flatnonzero(~estimate.converged)
        if failed.size == 0:
            return estimate
        graph = self.global_start.restart_graph(metric, start[failed], end[failed])
        if graph is None:
            return estimate
        try:
            again = self._refine(
                metric, self._graph_curves(metric, graph, start[failed], end[failed])
            )
        except ValueError:  # no usable path (none finite, or leaving the domain)
            return estimate
        better = again.converged | (again.dist < estimate.dist[failed])
        merged = estimate.replaced(failed[better], again, np.flatnonzero(better))
        merged.n_iterations[failed] = estimate.n_iterations[failed] + again.n_iterations
        return merged

    def _graph_curves(self, metric, graph, start, end):
        """The graph's paths with ``n_nodes`` nodes, or more where fewer leave the domain.

        A path that hugs a region the metric refuses (a quality raising
        ``DomainError`` there) stays outside it, but chords between few of its
        points cut across: the node count doubles, for the whole batch, until
        every curve's energy is finite or ``max_nodes`` is reached.
        """
        n_nodes = self.n_nodes
        nodes = graph.curves(start, end, n_nodes)
        while 2 * n_nodes - 1 <= self.max_nodes and not np.isfinite(
            _energies_or_inf(metric, nodes)
        ).all():
            n_nodes = 2 * n_nodes - 1
            nodes = graph.curves(start, end, n_nodes)
        return nodes

    @property
    def _energy_rtol(self):
        """Relative energy decrease below which a Newton step ends the iteration."""
        return 1e-12 if self.tol is None else 1e-2 * self.tol

    def _optimiser_failure(self):
        return f"Newton needed more than max_iter={self.max_iter} iterations"

    def _minimise(self, metric, nodes, bar, warm_state=None):
        """Trust-region Newton on the interior nodes of a batch of curves.

        ``warm_state`` holds trust radii from the previous node count: a
        warm-started curve moves little, and the large radius of a cold start
        costs several rejected steps wherever its Hessian is not yet positive
        definite. With exact blocks it is the smaller of the final radius and how
        far the curve moved (the next node count moves it less); matrix-free, the
        final radius.
        """
        start_nodes = nodes
        nodes = nodes.copy()
        batch, n_nodes, dim = nodes.shape
        matrix_free = self.hessian == "sobolev" or (
            self.hessian == "auto" and dim > MAX_BLOCK_DIM
        )
        chord = np.linalg.norm(nodes[:, -1] - nodes[:, 0], axis=-1)
        converged = np.zeros(batch, dtype=bool)
        stuck = np.zeros(batch, dtype=bool)
        iterations = np.zeros(batch, dtype=int)
        try:
            derivatives = (matrix_free_derivatives if matrix_free else energy_derivatives)(
                metric, nodes
            )
        except DomainError as error:
            raise DomainError(
                f"The starting curve ({n_nodes} nodes) leaves the metric's domain: "
                f"{error} Pass an initial_curve that stays inside it."
            ) from None
        finite = derivatives.finite() if not matrix_free else np.isfinite(
            derivatives.gradient
        ).all(axis=(1, 2)) & np.isfinite(derivatives.energy)
        if not finite.all():
            raise ValueError(
                f"The energy or its derivatives overflow on the starting curve "
                f"({n_nodes} nodes) from {nodes[~finite][0, 0].tolist()}: is the "
                "log-factor finite and twice differentiable along it?"
            )
        # Matrix-free steps on a conformal metric add each node's stiffest direction
        # to the preconditioner (sobolev.stiff_directions). Through a generator the
        # pullback's anisotropy is spread over many directions: one does not pay.
        use_stiff = (
            matrix_free
            and metric.euclidean_chords
            and batch * (n_nodes - 2) ** 2 <= MAX_CAPACITANCE_ENTRIES
        )
        if use_stiff:
            directions = _log_factor_directions(metric, nodes)
        # Radii: Euclidean over all interior coordinates for the exact blocks, the
        # Sobolev norm (whose square scales like the energy) for the matrix-free steps.
        if matrix_free:
            radius = 5.0 * np.sqrt(derivatives.energy)
        else:
            radius = chord * np.sqrt(n_nodes - 2)
        if warm_state is not None:
            # Twice the nodes: the same displacement has sqrt(2) times the Euclidean
            # norm, about the same Sobolev norm.
            radius = np.minimum(radius, warm_state * (1.0 if matrix_free else np.sqrt(2.0)))
        smallest_radius = 1e-15 * radius
        for iteration in range(self.max_iter):
            idx = np.flatnonzero(~converged & ~stuck)
            if idx.size == 0:
                break
            iterations[idx] += 1
            if matrix_free:
                current = matrix_free_derivatives(metric, nodes[idx])
                if use_stiff:
                    masses, directions[idx] = stiff_directions(
                        current.hvp,
                        current.preconditioner,
                        directions[idx],
                        n_power=STIFF_POWER_ITERATIONS if iteration == 0 else 0,
                    )
                    current.preconditioner = current.preconditioner.with_stiff(masses)
                steps, is_newton, gradient_sq, curvature = steihaug_steps(
                    current.gradient,
                    current.hvp,
                    current.preconditioner,
                    radius[idx],
                    current.energy,
                    # A residual worth a tenth of the energy tolerance: solving
                    # further would not change whether the curve has converged.
                    enough=np.sqrt(0.2 * self._energy_rtol * current.energy),
                )
                step_size = np.sqrt(
                    np.einsum("bki,bki->b", steps, current.preconditioner.apply(steps))
                )
            else:
                current = derivatives.take(idx)
                steps, is_newton = _steps(current, radius[idx])
                curvature = current.hessian.matvec(steps)
                step_size = np.linalg.norm(steps.reshape(idx.size, -1), axis=-1)
            slope = np.einsum("bki,bki->b", current.gradient, steps)
            predicted = -(slope + 0.5 * np.einsum("bki,bki->b", steps, curvature))
            small_step = np.max(np.abs(steps), axis=(1, 2)) <= self.xtol * chord[idx]
            settled = predicted <= self._energy_rtol * current.energy
            at_noise_floor = np.abs(predicted) <= 1e-13 * np.abs(current.energy)
            # The step that ends a curve's iteration if the energy confirms it.
            last = is_newton & (small_step | settled | at_noise_floor)
            trial = nodes[idx].copy()
            trial[:, 1:-1] += steps
            if matrix_free:
                trial_energy = _energies_or_inf(metric, trial)
            else:
                # A last step needs the trial energy only; the derivatives at other
                # trial curves serve the next iteration if accepted.
                trial_energy = np.empty(idx.size)
                if last.any():
                    trial_energy[last] = _energies_or_inf(metric, trial[last])
                further = np.flatnonzero(~last)
                if further.size:
                    at_trial = _derivatives_or_inf(metric, trial[further])
                    trial_energy[further] = at_trial.energy
            actual = current.energy - trial_energy
            ratio = np.where(predicted > 0, actual / np.where(predicted > 0, predicted, 1), -1)
            accept = (ratio > 1e-4) | (is_newton & at_noise_floor & np.isfinite(actual))
            nodes[idx[accept]] = trial[accept]
            if not matrix_free and further.size:
                taken = accept[further]
                derivatives.put(idx[further[taken]], at_trial.take(np.flatnonzero(taken)))
            if matrix_free:
                # CG may stop at max_iter on nearly flat directions: the preconditioned
                # gradient norm (squared, an energy) bounds what is left to gain.
                flat = gradient_sq <= self._energy_rtol * current.energy
            else:
                flat = np.zeros(idx.size, dtype=bool)
            done = accept & (last | flat)
            converged[idx] = done
            # A final step at rounding level says nothing of the model's reach: the
            # radius of a converged curve is kept for the next node count.
            updated = np.where(ratio < 0.25, 0.25 * step_size, radius[idx])
            if matrix_free:
                # A rejected step cost a whole CG solve: take a part of it instead if
                # its energy decreases enough, the new radius being that part.
                fraction = _backtrack(
                    metric, nodes, idx, steps, slope, current.energy, trial_energy, accept
                )
                updated = np.where(fraction > 0, fraction * step_size, updated)
            at_boundary = step_size > 0.99 * radius[idx]
            updated = np.where((ratio > 0.75) & at_boundary, 2 * radius[idx], updated)
            radius[idx] = np.where(done, radius[idx], updated)
            stuck[idx] = radius[idx] <= smallest_radius[idx]
            bar.update(1)
            bar.set_postfix(converged=f"{converged.sum()}/{batch}")
        if not matrix_free:
            moved = np.linalg.norm((nodes - start_nodes).reshape(batch, -1), axis=-1)
            radius = np.minimum(radius, np.maximum(moved, 1e-3 * chord * np.sqrt(n_nodes - 2)))
        status = np.where(converged, LevelStatus.STATIONARY, LevelStatus.MAX_ITER)
        return nodes, status, iterations, radius


def _backtrack(metric, nodes, idx, steps, slope, energy, trial_energy, accept):
    """Take a fraction of each rejected descent step where it decreases the energy.

    The fraction minimises the quadratic through the energy and its slope
    ``g.p`` at the curve and the energy at the rejected trial, clipped to
    [0.1, 0.5]; it is taken if it meets Armijo's condition. Updates ``nodes`` in
    place.

    Returns
    -------
    fraction : ndarray, shape=[len(idx)]
        The fraction taken, 0 where none was.
    """
    fraction = np.zeros(idx.size)
    retry = np.flatnonzero(~accept & (slope < 0))
    if retry.size == 0:
        return fraction
    with np.errstate(divide="ignore", invalid="ignore"):
        bend = trial_energy[retry] - energy[retry] - slope[retry]
        candidate = np.clip(np.nan_to_num(-slope[retry] / (2 * bend), nan=0.5), 0.1, 0.5)
    shorter = nodes[idx[retry]].copy()
    shorter[:, 1:-1] += candidate[:, None, None] * steps[retry]
    decrease = energy[retry] - _energies_or_inf(metric, shorter)
    taken = decrease >= -1e-4 * candidate * slope[retry]
    nodes[idx[retry[taken]]] = shorter[taken]
    fraction[retry[taken]] = candidate[taken]
    return fraction


def _steps(derivatives, radius):
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


def _energies_or_inf(metric, nodes):
    """Energies of trial curves; infinite for those that leave the domain."""
    with torch.no_grad():
        tensor = torch.from_numpy(nodes)
        try:
            energies = curve_energy(metric, tensor).numpy()
            return np.where(np.isnan(energies), np.inf, energies)
        except DomainError:
            energies = np.full(nodes.shape[0], np.inf)
            for b in range(nodes.shape[0]):
                try:
                    energies[b] = curve_energy(metric, tensor[b]).item()
                except DomainError:
                    pass
            return energies


def _derivatives_or_inf(metric, nodes):
    """Derivatives at trial curves; infinite energy for those that leave the domain."""
    try:
        derivatives = energy_derivatives(metric, nodes)
    except DomainError:
        pieces = []
        for b in range(nodes.shape[0]):
            try:
                pieces.append(energy_derivatives(metric, nodes[b : b + 1]))
            except DomainError:
                pieces.append(EnergyDerivatives.infinite(nodes[b : b + 1]))
        derivatives = EnergyDerivatives.concatenate(pieces)
    derivatives.energy[~derivatives.finite()] = np.inf
    return derivatives
