"""The default boundary-value solver: trust-region Newton on node positions.

The discrete energy (the paper's Eq. 5) of a curve with ``n`` pieces is minimised
over its interior nodes by a trust-region Newton method on the exact
block-tridiagonal Hessian (:mod:`~geomstats_density.solvers.banded`), which
converges quadratically and, thanks to the exact subproblem, leaves saddle curves
such as the straight line through a symmetric obstacle. The node count is then
doubled and the lengths are Richardson-extrapolated,
``L = (4 L_{2n} - L_n) / 3``, until successive extrapolations agree to ``tol``.
"""

import warnings

import numpy as np
import torch
from scipy.interpolate import CubicSpline
from tqdm.auto import tqdm

from geomstats.numerics.geodesic import LogSolver

from geomstats_density._arrays import (
    broadcast_pair,
    check_points,
    to_backend,
    to_numpy,
    torch_threads_for,
)
from geomstats_density.curves import DiscreteCurve, GeodesicCurve
from geomstats_density.exceptions import (
    DomainError,
    GeodesicConvergenceError,
    GeodesicConvergenceWarning,
)
from geomstats_density.solvers.banded import cholesky_solve, trust_region_step
from geomstats_density.energy import curve_energy, uniform_times
from geomstats_density.solvers.graph import grid_graph_curves
from geomstats_density.solvers.derivatives import (
    EnergyDerivatives,
    energy_derivatives,
    energy_start_gradient,
    matrix_free_derivatives,
)
from geomstats_density.solvers.sobolev import steihaug_steps

# Below this many curves a progress bar is noise.
PROGRESS_MIN_BATCH = 64
# Above this dimension, Hessian blocks cost more than matrix-free CG steps.
MAX_BLOCK_DIM = 32


class NewtonGeodesicSolver(LogSolver):
    """Geodesics between points by trust-region Newton on discretised curves.

    Parameters
    ----------
    space : Manifold
        Space equipped with a :class:`~geomstats_density.ConformalMetric`.
    n_nodes : int
        Nodes of the first, coarsest curve (endpoints included).
    tol : float or None
        Target relative error of the length. Node counts double from ``n_nodes``
        until two successive Richardson extrapolations agree to ``tol``. None
        solves once with ``n_nodes`` nodes and returns the plain discrete length.
    max_nodes : int
        Largest node count tried before reporting that ``tol`` was not met.
    max_iter : int
        Newton iterations allowed per node count.
    xtol : float
        Newton stops when a full Newton step moves no node by more than ``xtol``
        times the distance between the endpoints.
    hessian : {'auto', 'blocks', 'sobolev'}
        Exact block-tridiagonal Hessian with a banded trust-region solve
        (``'blocks'``), or matrix-free truncated CG on Hessian-vector products,
        preconditioned by the curve's Sobolev operator (``'sobolev'``,
        :mod:`~geomstats_density.solvers.sobolev`). ``'auto'`` takes blocks up
        to dimension 32.
    initialization : {'line', 'grid'}
        Starting curve: the straight line, or the shortest path on a grid graph
        with conformal edge lengths (dimensions 1 to 3,
        :func:`~geomstats_density.solvers.graph.grid_graph_curves`), which finds
        the right basin when the line is a saddle or sits in a poor local minimum.
    on_failure : {'warn', 'raise', 'ignore'}
        What to do when a curve misses ``max_iter`` or ``tol``: emit a
        :class:`GeodesicConvergenceWarning`, raise a
        :class:`GeodesicConvergenceError`, or only flag ``curve.converged``.
    progress : bool or None
        Show a progress bar; None shows it for batches of 64 curves or more.
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
        initialization="line",
        on_failure="warn",
        progress=None,
    ):
        super().__init__(solves_bvp=True)
        if n_nodes < 3:
            raise ValueError(f"n_nodes must be at least 3, got {n_nodes}.")
        if tol is not None and not tol > 0:
            raise ValueError(f"tol must be positive or None, got {tol}.")
        if hessian not in ("auto", "blocks", "sobolev"):
            raise ValueError(
                f"hessian must be 'auto', 'blocks' or 'sobolev', got {hessian!r}."
            )
        if initialization not in ("line", "grid"):
            raise ValueError(
                f"initialization must be 'line' or 'grid', got {initialization!r}."
            )
        if on_failure not in ("warn", "raise", "ignore"):
            raise ValueError(
                f"on_failure must be 'warn', 'raise' or 'ignore', got {on_failure!r}."
            )
        self._space = space
        self.n_nodes = n_nodes
        self.tol = tol
        self.max_nodes = max_nodes
        self.max_iter = max_iter
        self.xtol = xtol
        self.hessian = hessian
        self.initialization = initialization
        self.on_failure = on_failure
        self.progress = progress

    # ------------------------------------------------------------------
    # geomstats LogSolver interface
    # ------------------------------------------------------------------
    def log(self, point, base_point):
        """Initial velocity of the geodesic from ``base_point`` to ``point`` on [0, 1].

        Parameters
        ----------
        point, base_point : array-like, shape=[..., dim]

        Returns
        -------
        tangent_vec : array-like, shape=[..., dim]
        """
        return self.solve(point, base_point).initial_velocity

    def geodesic_bvp(self, point, base_point):
        """Geodesic from ``base_point`` to ``point``, a callable curve.

        Parameters
        ----------
        point, base_point : array-like, shape=[..., dim]

        Returns
        -------
        curve : GeodesicCurve
            ``curve(t)`` has shape ``[..., n_times, dim]``.
        """
        return self.solve(point, base_point)

    # ------------------------------------------------------------------
    # Solver
    # ------------------------------------------------------------------
    def solve(self, point, base_point, initial_curve=None):
        """Solve for the geodesics from ``base_point`` to ``point``.

        Parameters
        ----------
        point, base_point : array-like, shape=[..., dim]
        initial_curve : DiscreteCurve or array-like, shape=[..., n, dim], optional
            Starting curve(s) with these endpoints; the straight line by default.

        Returns
        -------
        curve : GeodesicCurve
        """
        metric = self._space.metric
        dim = self._space.dim
        end, start = broadcast_pair(
            check_points(point, dim, "point"), check_points(base_point, dim, "base_point")
        )
        batch_shape = tuple(start.shape[:-1])
        start = to_numpy(start).reshape(-1, dim)
        end = to_numpy(end).reshape(-1, dim)
        for name, endpoints in (("base_point", start), ("point", end)):
            try:
                metric.log_factor_tensor(torch.from_numpy(endpoints))
            except DomainError as error:
                raise DomainError(f"{name} is outside the metric's domain: {error}") from None

        moving = np.any(start != end, axis=-1)
        estimate = None
        if moving.any():
            nodes = self._initial_nodes(metric, start[moving], end[moving], initial_curve)
            with torch_threads_for(nodes.size * 4):
                estimate = self._solve_moving(metric, nodes)
        curve = self._assemble(metric, start, moving, estimate, batch_shape)
        self._report(curve)
        return curve

    def _initial_nodes(self, metric, start, end, initial_curve):
        if initial_curve is not None:
            return _nodes_of_curve(initial_curve, start, end, self.n_nodes)
        if self.initialization == "grid":
            return grid_graph_curves(metric, start, end, self.n_nodes)
        weights = uniform_times(self.n_nodes)[None, :, None]
        return (1 - weights) * start[:, None] + weights * end[:, None]

    def _solve_moving(self, metric, nodes):
        """Refine over node counts; Richardson-extrapolate lengths, velocities, nodes."""
        batch = nodes.shape[0]
        show = self.progress if self.progress is not None else batch >= PROGRESS_MIN_BATCH
        n_iterations = np.zeros(batch, dtype=int)
        newton_converged = np.ones(batch, dtype=bool)
        coarse = estimate = None
        with tqdm(desc="geodesics", unit="iter", disable=not show, leave=False) as bar:
            while True:
                bar.set_description(f"geodesics ({nodes.shape[1]} nodes)")
                nodes, converged, iterations = self._minimise(metric, nodes, bar)
                n_iterations += iterations
                newton_converged &= converged
                level = _Level(metric, nodes)
                estimate = level.richardson(coarse, estimate)
                finer = 2 * nodes.shape[1] - 1
                # Refining curves that are not discrete geodesics only burns time.
                if self.tol is None or finer > self.max_nodes or not converged.all() or (
                    estimate.error is not None
                    and np.all(estimate.error <= self.tol * estimate.dist)
                ):
                    break
                coarse = level
                nodes = _resample(nodes, finer)
        if self.tol is None:
            accurate = True
        elif estimate.error is None:
            accurate = False
        else:
            accurate = estimate.error <= self.tol * estimate.dist
        estimate.converged = newton_converged & accurate
        estimate.n_iterations = n_iterations
        return estimate

    def _minimise(self, metric, nodes, bar):
        """Trust-region Newton on the interior nodes of a batch of curves."""
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
        # Radii: Euclidean over all interior coordinates for the exact blocks, the
        # Sobolev norm (whose square scales like the energy) for the matrix-free steps.
        if matrix_free:
            radius = 5.0 * np.sqrt(derivatives.energy)
        else:
            radius = chord * np.sqrt(n_nodes - 2)
        smallest_radius = 1e-15 * radius
        for _ in range(self.max_iter):
            idx = np.flatnonzero(~converged & ~stuck)
            if idx.size == 0:
                break
            iterations[idx] += 1
            if matrix_free:
                current = matrix_free_derivatives(metric, nodes[idx])
                steps, is_newton = steihaug_steps(
                    current.gradient, current.hvp, current.preconditioner, radius[idx]
                )
                curvature = current.hvp(steps)
                step_size = np.sqrt(
                    np.einsum("bki,bki->b", steps, current.preconditioner.apply(steps))
                )
            else:
                current = derivatives.take(idx)
                steps, is_newton = _steps(current, radius[idx])
                curvature = current.hessian.matvec(steps)
                step_size = np.linalg.norm(steps.reshape(idx.size, -1), axis=-1)
            predicted = -(
                np.einsum("bki,bki->b", current.gradient, steps)
                + 0.5 * np.einsum("bki,bki->b", steps, curvature)
            )
            trial = nodes[idx].copy()
            trial[:, 1:-1] += steps
            if matrix_free:
                trial_energy = _energies_or_inf(metric, trial)
            else:
                # Derivatives at the trial point serve the next iteration if accepted.
                at_trial = _derivatives_or_inf(metric, trial)
                trial_energy = at_trial.energy
            actual = current.energy - trial_energy
            at_noise_floor = np.abs(predicted) <= 1e-13 * np.abs(current.energy)
            ratio = np.where(predicted > 0, actual / np.where(predicted > 0, predicted, 1), -1)
            accept = (ratio > 1e-4) | (is_newton & at_noise_floor & np.isfinite(actual))
            nodes[idx[accept]] = trial[accept]
            if not matrix_free:
                derivatives.put(idx[accept], at_trial.take(np.flatnonzero(accept)))
            small_step = np.max(np.abs(steps), axis=(1, 2)) <= self.xtol * chord[idx]
            converged[idx] = is_newton & accept & (small_step | at_noise_floor)
            radius[idx] = np.where(
                ratio < 0.25,
                0.25 * step_size,
                np.where(
                    (ratio > 0.75) & (step_size > 0.99 * radius[idx]),
                    2 * radius[idx],
                    radius[idx],
                ),
            )
            stuck[idx] = radius[idx] <= smallest_radius[idx]
            bar.update(1)
            bar.set_postfix(converged=f"{converged.sum()}/{batch}")
        return nodes, converged, iterations

    def _assemble(self, metric, start, moving, estimate, batch_shape):
        """One curve per endpoint pair; equal endpoints give constant curves."""
        batch, dim = start.shape
        n_out = self.n_nodes if estimate is None else estimate.nodes.shape[1]
        nodes = np.repeat(start[:, None], n_out, axis=1)
        dist = np.zeros(batch)
        velocity = np.zeros((batch, dim))
        converged = np.ones(batch, dtype=bool)
        iterations = np.zeros(batch, dtype=int)
        error = np.zeros(batch)
        if estimate is not None:
            nodes[moving] = estimate.nodes
            dist[moving] = estimate.dist
            velocity[moving] = estimate.velocity
            converged[moving] = estimate.converged
            iterations[moving] = estimate.n_iterations
            if estimate.error is None:
                error = None
            else:
                error[moving] = estimate.error
        return GeodesicCurve(
            nodes=nodes.reshape(*batch_shape, n_out, dim),
            metric=metric,
            dist=dist.reshape(batch_shape),
            dist_error=None if error is None else error.reshape(batch_shape),
            initial_velocity=velocity.reshape(*batch_shape, dim),
            converged=converged.reshape(batch_shape),
            n_iterations=iterations.reshape(batch_shape),
        )

    def _report(self, curve):
        failed = int(np.size(curve.converged) - np.count_nonzero(curve.converged))
        if failed == 0 or self.on_failure == "ignore":
            return
        message = (
            f"{failed} of {np.size(curve.converged)} geodesics did not converge: "
            f"Newton needed more than max_iter={self.max_iter} iterations, or the "
            f"length did not reach tol={self.tol} within max_nodes={self.max_nodes} "
            "nodes (see curve.converged and curve.dist_error). Raise those limits or "
            "pass an initial_curve closer to the geodesic."
        )
        if self.on_failure == "raise":
            raise GeodesicConvergenceError(message)
        warnings.warn(message, GeodesicConvergenceWarning, stacklevel=3)


def _nodes_of_curve(curve, start, end, n_nodes):
    """Nodes of user-given starting curves, checked to join the endpoints."""
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


def _steps(derivatives, radius):
    """Trust-region steps for a batch: one LAPACK call when all are plain Newton."""
    hessian, gradient = derivatives.hessian, derivatives.gradient
    batch, n_blocks, dim = gradient.shape
    steps, _ = cholesky_solve(hessian.band(), -gradient.reshape(-1))
    if steps is not None:
        steps = steps.reshape(batch, n_blocks, dim)
        fits = np.linalg.norm(steps.reshape(batch, -1), axis=-1) <= radius
    else:
        steps = np.zeros_like(gradient)
        fits = np.zeros(batch, dtype=bool)
    for b in np.flatnonzero(~fits):
        step, is_newton = trust_region_step(hessian[b : b + 1], gradient[b].reshape(-1), radius[b])
        steps[b] = step.reshape(n_blocks, dim)
        fits[b] = is_newton
    return steps, fits


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


def _resample(nodes, n_nodes):
    """Nodes at ``n_nodes`` uniform times on the cubic spline through ``nodes``."""
    spline = CubicSpline(uniform_times(nodes.shape[1]), nodes, axis=1)
    resampled = spline(uniform_times(n_nodes))
    resampled[:, 0], resampled[:, -1] = nodes[:, 0], nodes[:, -1]
    return resampled


class _Level:
    """Discrete geodesics at one node count: lengths, start velocities, nodes."""

    def __init__(self, metric, nodes):
        self.nodes = nodes
        with torch.no_grad():
            sq_lengths = metric.curve_sq_lengths(torch.from_numpy(nodes))
        self.dist = torch.sqrt(sq_lengths).sum(-1).numpy()
        # Discrete Legendre transform: p_0 = -dE/dz_0 and v_0 = G(z_0)^{-1} p_0 / 2.
        start_gradient = energy_start_gradient(metric, nodes)
        matrix = to_numpy(metric.metric_matrix(to_backend(nodes[:, 0])))
        self.velocity = -0.5 * np.linalg.solve(matrix, start_gradient[..., None])[..., 0]

    def richardson(self, coarse, coarse_estimate):
        """Estimate from this level and the previous one (``None`` at the first).

        The midpoint rule makes the errors even in the node spacing ``h``, so
        ``(4 X_h/2 - X_h) / 3`` cancels the ``h^2`` term. The error of the first
        extrapolation is bounded by that of the finer raw length; later ones by
        the change from the previous extrapolation.
        """
        if coarse is None:
            return _Estimate(self.nodes, self.dist, self.velocity, error=None)
        dist = (4 * self.dist - coarse.dist) / 3
        if coarse_estimate.error is None:
            error = np.abs(self.dist - coarse.dist) / 3
        else:
            error = np.abs(dist - coarse_estimate.dist)
        return _Estimate(
            nodes=(4 * self.nodes[:, ::2] - coarse.nodes) / 3,
            dist=dist,
            velocity=(4 * self.velocity - coarse.velocity) / 3,
            error=error,
        )


class _Estimate:
    """Best estimates for a batch of geodesics."""

    def __init__(self, nodes, dist, velocity, error):
        self.nodes, self.dist, self.velocity, self.error = nodes, dist, velocity, error
