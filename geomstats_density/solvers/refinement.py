"""Refinement over node counts, shared by the solvers of discretised curves.

A solver of this kind minimises the discrete energy of curves with ``n`` nodes,
then doubles the number of pieces, warm-starts from the cubic spline through the
solution, and Richardson-extrapolates lengths, start velocities and nodes,
``(4 X_{h/2} - X_h) / 3``, until the estimated error of the extrapolated length
(:meth:`_Level.richardson`) is below ``tol``.
The quadratures of the energy are symmetric, so the errors are even in the node
spacing ``h`` and each extrapolation cancels the ``h^2`` term.

``log`` is read from the solved curve by the discrete Legendre transform: the
momentum ``p_0 = -dE/dz_0`` of the discrete energy is a second-order
approximation of ``2 g(z_0) v_0``.
"""

import copy
import functools
import warnings
from abc import ABC, abstractmethod

import numpy as np
import torch
from scipy.interpolate import CubicSpline
from tqdm.auto import tqdm

from geomstats.numerics.geodesic import LogSolver

from geomstats_density._arrays import broadcast_pair, to_numpy, torch_threads_for
from geomstats_density._validation import (
    check_bool_or_none,
    check_int,
    check_on_failure,
    check_positive_float,
    check_positive_int,
)
from geomstats_density.curves import DiscreteCurve, GeodesicCurve
from geomstats_density.energy import uniform_times
from geomstats_density.exceptions import (
    DomainError,
    GeodesicConvergenceError,
    GeodesicConvergenceWarning,
)
from geomstats_density.solvers.derivatives import energy_start_gradient
from geomstats_density.solvers.status import LevelStatus

# Below this many curves a progress bar is noise.
PROGRESS_MIN_BATCH = 64
# Largest cached spline resampling matrix (2 MB); larger resamplings call scipy.
MAX_SPLINE_MATRIX_ENTRIES = 1 << 18
# A discrete geodesic whose cubic spline, measured at half the spacing, is this much
# longer tunnels: its chords skip a region where the factor is large. (Measured:
# 1.11 at most on resolved curves, a 6-mode mixture from 5 nodes; 1.5 to 2.6 on
# tunnelling ones, 16-D mixtures.)
TUNNEL_RATIO = 1.25
# Relative error estimate below which a curve's levels agree: it is checked for
# tunnels only when about to stop.
RESOLVED_ERROR = 1e-3


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
        ``n_nodes`` nodes and returns the plain discrete length.
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
        for name, endpoints in (("base_point", start), ("point", end)):
            try:
                metric.log_factor_tensor(torch.from_numpy(endpoints))
            except DomainError as error:
                raise DomainError(f"{name} is outside the metric's domain: {error}") from None
        moving = np.any(start != end, axis=-1)
        estimate = None
        if moving.any():
            nodes = self._initial_nodes(metric, start[moving], end[moving], initial_curve)
            with torch_threads_for(nodes.size * 4 * metric.point_cost):
                estimate = self._refine(metric, nodes)
                if initial_curve is None:
                    estimate = self._restart_failures(metric, start[moving], end[moving], estimate)
        curve = self._assemble(metric, start, moving, estimate, batch_shape)
        self._report(curve)
        return curve

    def _endpoints(self, metric, point, base_point):
        """Endpoint coordinates ``[batch, n_coords]`` and the batch shape."""
        end, start = broadcast_pair(
            metric.points_tensor(point, "point"), metric.points_tensor(base_point, "base_point")
        )
        batch_shape = tuple(start.shape[:-1])
        n_coords = start.shape[-1]
        return to_numpy(start).reshape(-1, n_coords), to_numpy(end).reshape(-1, n_coords), batch_shape

    @abstractmethod
    def _initial_nodes(self, metric, start, end, initial_curve):
        """Starting curves ``[batch, n_nodes, n_coords]`` joining ``start`` to ``end``."""

    @abstractmethod
    def _minimise(self, metric, nodes, bar, warm_state=None):
        """Minimise the energy of a batch of curves at their node count.

        Parameters
        ----------
        warm_state : ndarray, shape=[batch, ...], optional
            What the previous node count's minimisation returned for these
            curves (e.g. trust radii); None at the first node count.

        Returns
        -------
        nodes : ndarray, shape=[batch, n_nodes, n_coords]
        status : ndarray of int, shape=[batch]
            :class:`~geomstats_density.solvers.status.LevelStatus` of each curve.
        iterations : ndarray of int, shape=[batch]
        warm_state : ndarray, shape=[batch, ...] or None
            Passed to the next node count's minimisation of the same curves.
        """

    def _restart_failures(self, metric, start, end, estimate):
        """The estimates after solving again, from a better start, curves that failed.

        None are solved again here; subclasses may.
        """
        return estimate

    def _project(self, metric, nodes):
        """Nodes brought back where the space's points live (identity here)."""
        return nodes

    def _optimiser_failure(self):
        """What a curve that did not converge at one node count missed, in words."""
        return f"the optimiser needed more than max_iter={self.max_iter} iterations"

    def _refine(self, metric, nodes):
        """Refine over node counts; Richardson-extrapolate lengths, velocities, nodes.

        Each curve leaves the batch once its own estimate meets ``tol`` (or it
        stops converging), so one hard pair does not refine the whole batch. A
        curve whose discrete geodesic tunnels (its spline at half the spacing is
        more than ``TUNNEL_RATIO`` times longer) starts over at the next count from
        its starting curve.
        """
        batch = nodes.shape[0]
        show = self.progress if self.progress is not None else batch >= PROGRESS_MIN_BATCH
        n_iterations = np.zeros(batch, dtype=int)
        trusted = np.ones(batch, dtype=bool)
        final = [None] * batch
        active = np.arange(batch)
        coarse = estimate = warm_state = None
        starts = nodes
        with tqdm(desc="geodesics", unit="iter", disable=not show, leave=False) as bar:
            while active.size:
                bar.set_description(f"geodesics ({nodes.shape[1]} nodes, {active.size} left)")
                nodes, status, iterations, warm_state = self._minimise(
                    metric, nodes, bar, warm_state
                )
                converged = LevelStatus.minimised(status)
                n_iterations[active] += iterations
                trusted[active] &= converged
                level = _Level(metric, nodes)
                estimate = level.richardson(coarse, estimate)
                finer = 2 * nodes.shape[1] - 1
                finer_nodes = self._project(metric, _resample(nodes, finer))
                # Refining curves that are not discrete geodesics only burns time.
                done = ~converged | (self.tol is None) | (finer > self.max_nodes)
                if self.tol is not None:
                    # The length of each curve's cubic spline at half the spacing (the
                    # next level's start), where a decision depends on it: curves about
                    # to stop, and those whose levels do not agree yet (a tunnel opens
                    # only from a curve that is not resolved).
                    error = (
                        np.full(active.size, np.inf)
                        if estimate.error is None
                        else estimate.error / estimate.dist
                    )
                    stopping = done | (error <= self.tol)
                    measured = np.flatnonzero(stopping | ~(error <= RESOLVED_ERROR))
                    spline_dist = np.full(active.size, np.nan)
                    if measured.size:
                        spline_dist[measured] = _lengths_or_nan(metric, finer_nodes[measured])
                    if estimate.error is not None:
                        estimate.check_resolution(
                            np.flatnonzero(stopping), level.dist[stopping], spline_dist[stopping]
                        )
                        done |= estimate.error <= self.tol * estimate.dist
                    # A discrete geodesic can tunnel at any node count, and so would
                    # the finer ones started from it: those start over.
                    tunnelling = np.flatnonzero(~done & (spline_dist > TUNNEL_RATIO * level.dist))
                    if tunnelling.size:
                        finer_nodes[tunnelling] = self._project(
                            metric, _resample(starts[active[tunnelling]], finer)
                        )
                        level.restart(tunnelling)
                for position in np.flatnonzero(done):
                    final[active[position]] = estimate.take([position])
                keep = np.flatnonzero(~done)
                active, coarse, estimate = active[keep], level.take(keep), estimate.take(keep)
                if warm_state is not None:
                    warm_state = warm_state[keep]
                nodes = finer_nodes[keep]
        estimate = _Estimate.concatenate(final)
        if self.tol is None:
            accurate = True
        elif estimate.error is None:
            accurate = False
        else:
            accurate = estimate.error <= self.tol * estimate.dist
        estimate.nodes = self._project(metric, estimate.nodes)
        estimate.velocity = estimate.chords.velocities(metric)
        estimate.converged = trusted & accurate
        estimate.n_iterations = n_iterations
        return estimate

    def _assemble(self, metric, start, moving, estimate, batch_shape):
        """One curve per endpoint pair; equal endpoints give constant curves."""
        batch, n_coords = start.shape
        n_out = self.n_nodes if estimate is None else estimate.nodes.shape[1]
        nodes = np.repeat(start[:, None], n_out, axis=1)
        dist = np.zeros(batch)
        velocity = np.zeros((batch, n_coords))
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
        velocity = to_numpy(metric.from_coordinates(torch.from_numpy(velocity)))
        return self.curve_class(
            nodes=nodes.reshape(*batch_shape, n_out, n_coords),
            metric=metric,
            dist=dist.reshape(batch_shape),
            dist_error=None if error is None else error.reshape(batch_shape),
            initial_velocity=velocity.reshape(*batch_shape, *self._space.shape),
            converged=converged.reshape(batch_shape),
            n_iterations=iterations.reshape(batch_shape),
        )

    def _report(self, curve):
        failed = int(np.size(curve.converged) - np.count_nonzero(curve.converged))
        if failed == 0 or self.on_failure == "ignore":
            return
        message = (
            f"{failed} of {np.size(curve.converged)} geodesics did not converge: "
            f"{self._optimiser_failure()}, or the length did not reach tol={self.tol} "
            f"within max_nodes={self.max_nodes} nodes (see curve.converged and "
            "curve.dist_error). Raise those limits or pass an initial_curve closer to "
            "the geodesic."
        )
        if self.on_failure == "raise":
            raise GeodesicConvergenceError(message)
        warnings.warn(message, GeodesicConvergenceWarning, stacklevel=4)


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


def _resample(nodes, n_nodes):
    """Nodes at ``n_nodes`` uniform times on the cubic spline through ``nodes`` (a copy)."""
    n_given = nodes.shape[1]
    if n_given == n_nodes:  # the spline through the nodes, at the nodes' own times
        return nodes.copy()
    if n_given * n_nodes <= MAX_SPLINE_MATRIX_ENTRIES:
        resampled = np.matmul(_spline_matrix(n_given, n_nodes), nodes)
    else:
        resampled = CubicSpline(uniform_times(n_given), nodes, axis=1)(uniform_times(n_nodes))
    resampled[:, 0], resampled[:, -1] = nodes[:, 0], nodes[:, -1]
    return resampled


@functools.lru_cache(maxsize=32)
def _spline_matrix(n_given, n_nodes):
    """The linear map from ``n_given`` nodes to ``n_nodes`` samples of their cubic spline.

    The spline through the columns of the identity: one product instead of
    scipy's set-up, which costs 0.5 ms a call whatever the size.
    """
    identity = np.eye(n_given)
    return CubicSpline(uniform_times(n_given), identity, axis=0)(uniform_times(n_nodes))


class _Level:
    """Discrete geodesics at one node count: lengths, nodes, first chords.

    The start velocity is read from the first chord (:meth:`_Chords.velocities`),
    once, for the levels the final estimates combine.
    """

    def __init__(self, metric, nodes):
        self.nodes = nodes
        with torch.no_grad():
            sq_lengths = metric.curve_sq_lengths(torch.from_numpy(nodes))
        self.dist = torch.sqrt(sq_lengths).sum(-1).numpy()
        self.restarted = np.zeros(len(nodes), dtype=bool)

    def take(self, index):
        """The level of the curves ``index`` only."""
        level = _Level.__new__(_Level)
        level.nodes, level.dist = self.nodes[index], self.dist[index]
        level.restarted = self.restarted[index]
        return level

    def restart(self, index):
        """Mark the curves ``index`` as starting over at the next level: it has no coarser one."""
        self.restarted[index] = True

    def richardson(self, coarse, coarse_estimate):
        """Estimate from this level and the previous one (``None`` at the first).

        The error of the first extrapolation is bounded by that of the finer raw
        length, ``|L_h - L_2h| / 3``. Later ones are read from the change ``d_k``
        from the previous extrapolation: where the changes keep their sign and
        shrink by a factor ``r`` per level, the error left is the geometric tail
        ``d_k / (r - 1)``, with ``r`` clipped to [2, 16] (16 is the contraction
        of the ``h^4`` term that Richardson leaves); elsewhere, and at the second
        change, ``d_k``. Both assume the curves resolved
        (:meth:`_Estimate.check_resolution`). Curves that started over at this
        level (:meth:`restart`) are estimated as at the first.
        """
        if coarse is None:
            return _Estimate(
                self.nodes,
                self.dist,
                _Chords.of(self, self, (1.0, 0.0)),
                error=None,
            )
        fresh = coarse.restarted
        dist = np.where(fresh, self.dist, (4 * self.dist - coarse.dist) / 3)
        first_error = np.abs(self.dist - coarse.dist) / 3
        change = None
        if coarse_estimate.error is None:
            error = first_error
        else:
            change = dist - coarse_estimate.dist
            error = np.abs(change)
            if coarse_estimate.change is not None:
                error = error / (_contraction(coarse_estimate.change, change) - 1)
            # Curves that started over one level before: their first extrapolation.
            restarted_before = np.isinf(coarse_estimate.error)
            error = np.where(restarted_before, first_error, error)
            change = np.where(restarted_before, np.nan, change)
        return _Estimate(
            nodes=np.where(
                fresh[:, None, None], self.nodes[:, ::2], (4 * self.nodes[:, ::2] - coarse.nodes) / 3
            ),
            dist=dist,
            chords=_Chords.of(self, coarse, np.where(fresh[:, None], (1.0, 0.0), (4 / 3, -1 / 3))),
            error=np.where(fresh, np.inf, error),
            change=change,
        )


def _lengths_or_nan(metric, nodes):
    """Lengths of polygonal curves; NaN (no check) for those that leave the domain."""
    try:
        return _Level(metric, nodes).dist
    except DomainError:
        if len(nodes) == 1:
            return np.full(1, np.nan)
        return np.concatenate([_lengths_or_nan(metric, nodes[b : b + 1]) for b in range(len(nodes))])


def _contraction(previous, change):
    """Observed factor by which the changes shrink, in [2, 16]; 2 if their sign flips or
    the previous change is unknown (NaN: the curve started over)."""
    ratio = np.abs(previous) / np.maximum(np.abs(change), np.finfo(float).tiny)
    return np.where(previous * change > 0, np.clip(ratio, 2.0, 16.0), 2.0)


class _Chords:
    """First chords of the levels whose start velocities an estimate combines.

    Attributes
    ----------
    chords : ndarray, shape=[batch, 2, 2, n_coords]
        The first two nodes of the finer and of the coarser level.
    n_pieces : ndarray of int, shape=[batch, 2]
    weights : ndarray, shape=[batch, 2]
        Richardson's weights (4/3, -1/3), or (1, 0) at the first level.
    """

    def __init__(self, chords, n_pieces, weights):
        self.chords, self.n_pieces, self.weights = chords, n_pieces, weights

    @classmethod
    def of(cls, fine, coarse, weights):
        """The first chords of two levels (``_Level``) of the same curves."""
        batch = fine.nodes.shape[0]
        return cls(
            np.stack([fine.nodes[:, :2], coarse.nodes[:, :2]], axis=1),
            np.broadcast_to(
                [fine.nodes.shape[1] - 1, coarse.nodes.shape[1] - 1], (batch, 2)
            ),
            np.broadcast_to(np.asarray(weights), (batch, 2)),
        )

    def take(self, index):
        return _Chords(self.chords[index], self.n_pieces[index], self.weights[index])

    @classmethod
    def concatenate(cls, parts):
        return cls(*(np.concatenate([getattr(p, name) for p in parts]) for name in
                     ("chords", "n_pieces", "weights")))

    def velocities(self, metric):
        """Combined start velocities, shape ``[batch, n_coords]``: one autodiff pass.

        Discrete Legendre transform: ``v_0 = g(z_0)^{-1} p_0 / 2`` with
        ``p_0 = -dE/dz_0``, the momentum of each level's discrete energy.
        """
        batch, n_levels, _, n_coords = self.chords.shape
        chords = self.chords.reshape(-1, 2, n_coords)
        # Curves that stopped at the first level weigh their second chord by 0.
        needed = self.weights.reshape(-1) != 0
        gradient = energy_start_gradient(
            metric, chords[needed], self.n_pieces.reshape(-1)[needed]
        )
        momentum = np.zeros((batch * n_levels, n_coords))
        with torch.no_grad():
            momentum[needed] = metric.sharp_tensor(
                torch.from_numpy(chords[needed, 0]), torch.from_numpy(gradient)
            ).numpy()
        momentum = momentum.reshape(batch, n_levels, n_coords)
        return -0.5 * np.einsum("bl,blc->bc", self.weights, momentum)


class _Estimate:
    """Best estimates for a batch of geodesics.

    ``change`` is the signed change of the length from the previous estimate
    (None before the second extrapolation), which the next one's error needs.
    """

    def __init__(self, nodes, dist, chords, error, change=None):
        self.nodes, self.dist, self.chords, self.error = nodes, dist, chords, error
        self.change = change

    def check_resolution(self, index, raw_dist, spline_dist):
        """Raise the errors of curves whose lengths do not follow ``L_h = L + C h^2``.

        The error estimates assume that model, which levels of coarse curves
        tunnelling across a region where the factor is large can seem to follow.
        A third length checks it: the curves' cubic splines measured at spacing
        ``h / 2`` should have length ``L + (L_h - L) / 4`` up to ``O(h^4)``.
        Where they miss it by more than the ``h^2`` term ``L_h - L`` itself, the
        miss becomes the error, and the curve refines on. Checked only where the
        decision depends on it: the curves about to stop.

        Parameters
        ----------
        index : ndarray of int
            The curves checked.
        raw_dist : ndarray, shape=[len(index)]
            Their lengths ``L_h`` at the finer level the estimate combines.
        spline_dist : ndarray, shape=[len(index)]
            Lengths of their cubic splines at spacing ``h / 2``; NaN skips a curve.
        """
        dist, error = self.dist[index], self.error[index]
        h2_term = raw_dist - dist
        miss = np.abs(spline_dist - (dist + h2_term / 4))
        self.error[index] = np.where(miss > np.abs(h2_term), np.maximum(error, miss), error)

    def take(self, index):
        """The estimates of the curves ``index`` only."""
        return _Estimate(
            self.nodes[index],
            self.dist[index],
            self.chords.take(index),
            None if self.error is None else self.error[index],
            None if self.change is None else self.change[index],
        )

    def replaced(self, index, other, rows):
        """Final estimates whose curves ``index`` are ``other``'s curves ``rows``.

        Both are final (:meth:`RefiningGeodesicSolver._refine`); nodes are resampled
        on their cubic splines to the larger node count, a missing error is infinite.
        """
        n_nodes = max(self.nodes.shape[1], other.nodes.shape[1])
        merged = copy.copy(self)
        merged.nodes = _resample(self.nodes, n_nodes)
        merged.nodes[index] = _resample(other.nodes[rows], n_nodes)
        for name in ("dist", "velocity", "converged", "n_iterations"):
            values = getattr(self, name).copy()
            values[index] = getattr(other, name)[rows]
            setattr(merged, name, values)
        if self.error is not None or other.error is not None:
            merged.error = np.full(self.dist.shape, np.inf) if self.error is None else self.error.copy()
            merged.error[index] = np.inf if other.error is None else other.error[rows]
        return merged

    @classmethod
    def concatenate(cls, parts):
        """One batch from estimates that may end at different node counts.

        Curves with fewer nodes than the most refined one are resampled on their
        cubic spline to its node count. Errors are None if no part has one, and
        infinite for the curves of parts without one (stopped at the first level).
        """
        errors = None
        if any(part.error is not None for part in parts):
            errors = np.concatenate(
                [np.full(part.dist.shape, np.inf) if part.error is None else part.error for part in parts]
            )
        n_nodes = max(part.nodes.shape[1] for part in parts)
        return cls(
            np.concatenate(
                [
                    part.nodes if part.nodes.shape[1] == n_nodes else _resample(part.nodes, n_nodes)
                    for part in parts
                ]
            ),
            np.concatenate([part.dist for part in parts]),
            _Chords.concatenate([part.chords for part in parts]),
            errors,
        )
