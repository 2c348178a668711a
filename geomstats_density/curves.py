"""Discretised curves: nodes at times in [0, 1], with lengths and energies in a metric."""

import functools

import numpy as np
import torch
from scipy.interpolate import CubicSpline, PchipInterpolator

from geomstats_density.backend import to_backend, to_numpy, to_torch
from geomstats_density.energy import (
    curve_energy,
    curve_length,
    per_curve_where_outside,
    uniform_times,
)

# Largest cached spline resampling matrix (2 MB); larger resamplings call scipy.
MAX_SPLINE_MATRIX_ENTRIES = 1 << 18
# A curve's length is measured on its interpolant at these multiples of its
# number of pieces, and Richardson-extrapolated.
MEASURE_REFINEMENTS = (4, 8)
# Scalars (nodes times coordinates times the metric's point cost) measured in
# one evaluation; larger batches are measured in chunks of curves.
MAX_MEASURE_ENTRIES = 1 << 22


def resample_nodes(nodes, n_nodes):
    """Nodes at ``n_nodes`` uniform times on the cubic spline through ``nodes`` (a copy).

    Parameters
    ----------
    nodes : ndarray, shape=[batch, n_given, n_coords]
        Nodes at uniform times on [0, 1].
    n_nodes : int

    Returns
    -------
    resampled : ndarray, shape=[batch, n_nodes, n_coords]
    """
    n_given = nodes.shape[1]
    if n_given == n_nodes:  # the spline through the nodes, at the nodes' own times
        return nodes.copy()
    if n_given * n_nodes <= MAX_SPLINE_MATRIX_ENTRIES:
        resampled = np.matmul(_spline_matrix(n_given, n_nodes), nodes)
    else:
        resampled = CubicSpline(uniform_times(n_given), nodes, axis=1)(uniform_times(n_nodes))
    resampled[:, 0], resampled[:, -1] = nodes[:, 0], nodes[:, -1]
    return resampled


def resample_nodes_monotone(nodes, n_nodes):
    """Nodes at ``n_nodes`` uniform times on the monotone (PCHIP) interpolant.

    Between two nodes each coordinate stays between their values, so the curve
    stays in any box its nodes' neighbours span (a half-space, a positive
    orthant), where a cubic spline through unevenly spaced nodes can overshoot.

    Parameters
    ----------
    nodes : ndarray, shape=[batch, n_given, n_coords]
    n_nodes : int

    Returns
    -------
    resampled : ndarray, shape=[batch, n_nodes, n_coords]
    """
    return PchipInterpolator(uniform_times(nodes.shape[1]), nodes, axis=1)(uniform_times(n_nodes))


def resample_nodes_linear(nodes, n_nodes):
    """Nodes at ``n_nodes`` uniform times on the polygon through ``nodes``.

    Parameters
    ----------
    nodes : ndarray, shape=[batch, n_given, n_coords]
    n_nodes : int

    Returns
    -------
    resampled : ndarray, shape=[batch, n_nodes, n_coords]
    """
    n_given = nodes.shape[1]
    position = uniform_times(n_nodes) * (n_given - 1)
    piece = np.minimum(np.floor(position).astype(int), n_given - 2)
    weight = (position - piece)[None, :, None]
    return (1 - weight) * nodes[:, piece] + weight * nodes[:, piece + 1]


def times_like_nodes(times, n_nodes):
    """``n_nodes`` times spaced as the given node times are.

    The cubic spline through the times as a function of the node index, at
    ``n_nodes`` uniform parameters: uniform times stay uniform, and times graded
    by a smooth map (:mod:`~geomstats_density.solvers.grading`) are sampled on
    that map. Where the spline is not increasing (times too unevenly spaced for
    it), the monotone PCHIP interpolant gives them.

    Parameters
    ----------
    times : ndarray, shape=[n_given]
        Increasing node times.
    n_nodes : int

    Returns
    -------
    times : ndarray, shape=[n_nodes]
        Increasing, from ``times[0]`` to ``times[-1]``.
    """
    index, parameters = uniform_times(times.size), uniform_times(n_nodes)
    resampled = CubicSpline(index, times)(parameters)
    if not np.all(np.diff(resampled) > 0):
        resampled = PchipInterpolator(index, times)(parameters)
    resampled[0], resampled[-1] = times[0], times[-1]
    return resampled


@functools.lru_cache(maxsize=32)
def _spline_matrix(n_given, n_nodes):
    """The linear map from ``n_given`` nodes to ``n_nodes`` samples of their cubic spline.

    The spline through the columns of the identity: one product instead of
    scipy's set-up, whose cost per call does not shrink with the size.
    """
    identity = np.eye(n_given)
    return CubicSpline(uniform_times(n_given), identity, axis=0)(uniform_times(n_nodes))


def polygon_lengths(metric, nodes, outside="raise"):
    """Discrete lengths ``sum_i ell_i`` of polygonal curves, in chunks of curves.

    Parameters
    ----------
    metric : SolverMetric
    nodes : ndarray, shape=[batch, n_nodes, n_coords]
    outside : {'raise', 'nan'}
        What a curve leaving the metric's domain gives: the metric's
        :class:`DomainError`, or NaN for that curve alone.

    Returns
    -------
    lengths : ndarray, shape=[batch]
    """
    batch, n_nodes, n_coords = nodes.shape
    chunk = max(1, MAX_MEASURE_ENTRIES // (n_nodes * n_coords * max(1, metric.point_cost)))
    if batch > chunk:
        return np.concatenate(
            [polygon_lengths(metric, nodes[b : b + chunk], outside) for b in range(0, batch, chunk)]
        )

    def lengths(curves):
        with torch.no_grad():
            return curve_length(metric, torch.from_numpy(curves)).numpy()

    if outside == "raise":
        return lengths(nodes)
    return per_curve_where_outside(lengths, nodes, lambda curve, error: np.full(1, np.nan))


def measured_lengths(metric, nodes_at, n_pieces, outside="raise"):
    """Lengths of curves measured on their interpolant at a finer resolution.

    The interpolant is sampled at ``4 n_pieces + 1`` and ``8 n_pieces + 1``
    uniform times, and the discrete lengths (the metric's quadrature) are
    Richardson-extrapolated: their ``h^2`` error cancels, so smooth curves are
    measured to ``O(h^4)``.

    Parameters
    ----------
    metric : SolverMetric
    nodes_at : callable
        ``nodes_at(n_nodes)``: the curves sampled at ``n_nodes`` uniform times,
        ndarray ``[batch, n_nodes, n_coords]``.
    n_pieces : int
        Pieces of the curves as given.
    outside : {'raise', 'nan'}
        As in :func:`polygon_lengths`.

    Returns
    -------
    length : ndarray, shape=[batch]
    error : ndarray, shape=[batch]
        ``|L_8 - L_4| / 3``, the estimated error of the finer discrete length: a
        bound of the extrapolation's error wherever the curve is resolved.
    """
    coarse, fine = (
        polygon_lengths(metric, nodes_at(factor * n_pieces + 1), outside)
        for factor in MEASURE_REFINEMENTS
    )
    return (4 * fine - coarse) / 3, np.abs(fine - coarse) / 3


class DiscreteCurve:
    """Curves given by their nodes, interpolated by cubic splines in between.

    Parameters
    ----------
    nodes : array-like, shape=[..., n_nodes, dim]
        Nodes of one curve or of a batch of curves, in order.
    times : array-like, shape=[n_nodes] or [..., n_nodes], optional
        Increasing times from 0 to 1; uniform by default. One row per curve
        gives each curve its own times (from the same first to the same last).
    metric : SolverMetric, optional
        Metric in which :meth:`length` and :meth:`energy` are measured.

    Notes
    -----
    Calling the curve on times ``t`` (shape ``[n_times]``) returns points of shape
    ``[..., n_times, dim]``, like the paths returned by geomstats' ``geodesic``.
    """

    def __init__(self, nodes, times=None, metric=None):
        nodes = to_numpy(nodes)
        if nodes.ndim < 2 or nodes.shape[-2] < 2:
            raise ValueError(f"nodes must have shape [..., n_nodes >= 2, dim], got {nodes.shape}.")
        if not np.all(np.isfinite(nodes)):
            raise ValueError("nodes contain NaN or infinite coordinates.")
        times = uniform_times(nodes.shape[-2]) if times is None else to_numpy(times)
        if times.shape not in ((nodes.shape[-2],), nodes.shape[:-1]) or not np.all(
            np.diff(times) > 0
        ):
            raise ValueError(
                f"times must be increasing, one per node ({nodes.shape[-2]}), for all "
                f"curves or one row per curve; got shape {times.shape}."
            )
        if not (
            np.all(times[..., 0] == times.flat[0]) and np.all(times[..., -1] == times.flat[-1])
        ):
            raise ValueError("times of different curves must start and end together.")
        self._nodes = nodes
        self._times = times
        self.metric = metric
        self._spline = None

    @property
    def nodes(self):
        """Nodes, shape ``[..., n_nodes, dim]``, as backend arrays."""
        return to_backend(self._nodes)

    @property
    def times(self):
        """Times of the nodes, shape ``[n_nodes]`` or ``[..., n_nodes]``, as backend arrays."""
        return to_backend(self._times)

    @property
    def n_nodes(self):
        """Number of nodes of each curve."""
        return self._nodes.shape[-2]

    def __call__(self, t):
        """Points of the curves at times ``t``.

        Parameters
        ----------
        t : float or array-like, shape=[n_times]

        Returns
        -------
        points : array-like, shape=[..., n_times, dim]
        """
        t = np.atleast_1d(to_numpy(t))
        if t.ndim != 1:
            raise ValueError(f"t must be a float or a 1-D array of times, got shape {t.shape}.")
        first, last = self._times.flat[0], self._times.flat[-1]
        bad = ~((t >= first) & (t <= last))  # NaN is bad too
        if bad.any():
            raise ValueError(
                f"t must be times in [{first}, {last}]; got "
                f"{t[bad][:5].tolist()} (at positions {np.flatnonzero(bad)[:5].tolist()})."
            )
        if self._times.ndim == 1:
            if self._spline is None:
                self._spline = CubicSpline(self._times, self._nodes, axis=-2)
            return to_backend(self._spline(t))
        return to_backend(self._points_per_curve([t] * self._times[..., 0].size))

    def _points_per_curve(self, times):
        """Points of each curve, in the order of ``reshape(-1)``, at its own ``times``.

        Parameters
        ----------
        times : list of ndarray, shape=[n_times]
            One per curve.

        Returns
        -------
        points : ndarray, shape=[..., n_times, dim]
        """
        nodes = self._nodes.reshape(-1, *self._nodes.shape[-2:])
        own = np.broadcast_to(self._times, self._nodes.shape[:-1]).reshape(len(nodes), -1)
        if self._spline is None:
            self._spline = [CubicSpline(own[b], nodes[b], axis=0) for b in range(len(nodes))]
        points = np.stack([spline(t) for spline, t in zip(self._spline, times, strict=True)])
        return points.reshape(*self._nodes.shape[:-2], *points.shape[-2:])

    def resample(self, n_nodes):
        """The same curves with ``n_nodes`` nodes at uniform times.

        Parameters
        ----------
        n_nodes : int

        Returns
        -------
        curve : DiscreteCurve
        """
        if n_nodes < 2:
            raise ValueError(f"n_nodes must be at least 2, got {n_nodes}.")
        return DiscreteCurve(to_numpy(self(uniform_times(n_nodes))), metric=self.metric)

    def _require_metric(self):
        if self.metric is None:
            raise ValueError("This curve has no metric: pass metric= to measure it.")
        return self.metric

    def nodes_at(self, n_nodes):
        """Coordinates of the curves at ``n_nodes`` times spaced as the nodes are.

        Curves at uniform times are resampled at uniform times, as the
        refinement of the solvers resamples them (:func:`resample_nodes`), so
        that both measure the same points; curves at other times, at times
        spaced as theirs (:func:`times_like_nodes`), where their nodes are dense.

        Parameters
        ----------
        n_nodes : int

        Returns
        -------
        nodes : ndarray, shape=[batch, n_nodes, n_coords]
        """
        nodes = self._nodes.reshape(-1, *self._nodes.shape[-2:])
        if np.array_equal(self._times, uniform_times(self.n_nodes)):
            return resample_nodes(nodes, n_nodes)
        if self._times.ndim == 1:
            resampled = to_numpy(self(times_like_nodes(self._times, n_nodes)))
        else:
            own = self._times.reshape(-1, self.n_nodes)
            resampled = self._points_per_curve([times_like_nodes(row, n_nodes) for row in own])
        return resampled.reshape(-1, *resampled.shape[-2:])

    def length(self):
        """Length of the curves in the metric, shape ``[...]``.

        The one measurement of a curve's length in this package
        (:func:`measured_lengths`), the one the solvers check the curves they
        return with, ``GeodesicCurve.dist`` where it reports a curve's own length,
        and :func:`~geomstats_density.reports.curve_report`: the curve's
        interpolant (as calling it gives) sampled at 4 and 8 times as many
        pieces as it has, the discrete lengths in the metric's quadrature
        Richardson-extrapolated.

        Returns
        -------
        length : array-like, shape=[...]

        Raises
        ------
        DomainError
            If the curve leaves the metric's domain.
        """
        metric = self._require_metric()
        length, _ = measured_lengths(metric, self.nodes_at, self.n_nodes - 1)
        return to_backend(length.reshape(self._nodes.shape[:-2]))

    def energy(self):
        """Discrete energy in the metric (the paper's Eq. 5), shape ``[...]``."""
        metric = self._require_metric()
        with torch.no_grad():
            return to_backend(curve_energy(metric, to_torch(self._nodes), self._times))


class GeodesicCurve(DiscreteCurve):
    """A solver's geodesics: nodes plus the solver's estimates and diagnostics.

    Attributes
    ----------
    dist : array-like, shape=[...]
        Length estimate (Richardson-extrapolated over node counts when refined),
        checked against the returned curve's own length (:meth:`length`); that
        length itself where the solve stopped short of its tolerance (and for
        the neural solver); NaN where the solve failed.
    dist_error : array-like, shape=[...], or None
        Estimated absolute error of ``dist``; None when it was not estimated.
    initial_velocity : array-like, shape=[..., dim]
        Velocity at time 0 of the geodesic on [0, 1]: ``log(end, start)``.
    converged : ndarray of bool, shape=[...]
        Whether each solve met its tolerances.
    n_iterations : ndarray of int, shape=[...]
        Optimiser iterations spent on each curve, over all node counts.
    status : ndarray of int, shape=[...]
        How each solve ended, a
        :class:`~geomstats_density.solvers.status.CurveStatus` code
        (``CONVERGED`` where ``converged``).
    message : ndarray of str, shape=[...]
        How each solve ended, in words: the stop that applied, node count,
        error estimate, the curve's measured length, iterations.
    """

    def __init__(
        self,
        nodes,
        metric,
        dist,
        initial_velocity,
        converged,
        n_iterations,
        dist_error=None,
        times=None,
        status=None,
        message=None,
    ):
        super().__init__(nodes, times=times, metric=metric)
        self.dist = to_backend(dist)
        self.dist_error = None if dist_error is None else to_backend(dist_error)
        self.initial_velocity = to_backend(initial_velocity)
        self.converged = np.asarray(converged, dtype=bool)
        self.n_iterations = np.asarray(n_iterations, dtype=int)
        # Solvers without diagnostics of their own: converged (0) or not (1, MAX_ITER).
        self.status = (
            np.where(self.converged, 0, 1) if status is None else np.asarray(status, dtype=int)
        )
        self.message = (
            np.where(self.converged, "converged", "did not converge").astype(object)
            if message is None
            else np.asarray(message, dtype=object)
        )

    def __repr__(self):
        batch_shape = self._nodes.shape[:-2]
        dist = to_numpy(self.dist)
        shown = np.array2string(np.ravel(dist)[:6], precision=10, separator=", ")
        if dist.size > 6:
            shown = shown[:-1] + ", ...]"
        return (
            f"{type(self).__name__}(batch_shape={batch_shape}, n_nodes={self.n_nodes}, "
            f"dist={shown}, converged={int(np.count_nonzero(self.converged))}/"
            f"{self.converged.size})"
        )
