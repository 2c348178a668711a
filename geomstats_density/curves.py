"""Discretised curves: nodes at times in [0, 1], with lengths and energies in a metric."""

import numpy as np
import torch
from scipy.interpolate import CubicSpline

from geomstats_density._arrays import to_backend, to_numpy, to_torch
from geomstats_density.energy import curve_energy, curve_length, uniform_times


class DiscreteCurve:
    """Curves given by their nodes, interpolated by cubic splines in between.

    Parameters
    ----------
    nodes : array-like, shape=[..., n_nodes, dim]
        Nodes of one curve or of a batch of curves, in order.
    times : array-like, shape=[n_nodes], optional
        Increasing times from 0 to 1; uniform by default.
    metric : ConformalMetric, optional
        Metric in which :meth:`length` and :meth:`energy` are measured.

    Notes
    -----
    Calling the curve on times ``t`` (shape ``[n_times]``) returns points of shape
    ``[..., n_times, dim]``, like the paths returned by geomstats' ``geodesic``.
    """

    def __init__(self, nodes, times=None, metric=None):
        nodes = to_numpy(nodes)
        if nodes.ndim < 2 or nodes.shape[-2] < 2:
            raise ValueError(
                f"nodes must have shape [..., n_nodes >= 2, dim], got {nodes.shape}."
            )
        if not np.all(np.isfinite(nodes)):
            raise ValueError("nodes contain NaN or infinite coordinates.")
        times = uniform_times(nodes.shape[-2]) if times is None else to_numpy(times)
        if times.shape != (nodes.shape[-2],) or not np.all(np.diff(times) > 0):
            raise ValueError(
                f"times must be increasing, one per node ({nodes.shape[-2]}), "
                f"got shape {times.shape}."
            )
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
        """Times of the nodes, shape ``[n_nodes]``, as backend arrays."""
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
        if t.ndim != 1 or np.any(t < self._times[0]) or np.any(t > self._times[-1]):
            raise ValueError(
                f"t must be a float or a 1-D array of times in [{self._times[0]}, "
                f"{self._times[-1]}]."
            )
        if self._spline is None:
            self._spline = CubicSpline(self._times, self._nodes, axis=-2)
        return to_backend(self._spline(t))

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
        return DiscreteCurve(
            to_numpy(self(uniform_times(n_nodes))), metric=self.metric
        )

    def _require_metric(self):
        if self.metric is None:
            raise ValueError("This curve has no metric: pass metric= to measure it.")
        return self.metric

    def length(self):
        """Discrete length in the metric (midpoint rule), shape ``[...]``."""
        metric = self._require_metric()
        with torch.no_grad():
            return to_backend(curve_length(metric, to_torch(self._nodes)))

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
        Length estimate (Richardson-extrapolated over node counts when refined).
    dist_error : array-like, shape=[...], or None
        Estimated absolute error of ``dist``; None when it was not estimated.
    initial_velocity : array-like, shape=[..., dim]
        Velocity at time 0 of the geodesic on [0, 1]: ``log(end, start)``.
    converged : ndarray of bool, shape=[...]
        Whether each solve met its tolerances.
    n_iterations : ndarray of int, shape=[...]
        Optimiser iterations spent on each curve, over all node counts.
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
    ):
        super().__init__(nodes, times=times, metric=metric)
        self.dist = to_backend(dist)
        self.dist_error = None if dist_error is None else to_backend(dist_error)
        self.initial_velocity = to_backend(initial_velocity)
        self.converged = np.asarray(converged, dtype=bool)
        self.n_iterations = np.asarray(n_iterations, dtype=int)
