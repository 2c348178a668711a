"""Exponential map: the geodesic initial-value problem, integrated by scipy.

The integration is error-controlled (an adaptive Runge-Kutta method, steps
accepted where the local error meets ``rtol`` and ``atol``) and bounded: it
stops after ``max_evaluations`` evaluations of the geodesic equation or
``max_time`` seconds, and reports the time it reached. A long velocity in a
factor that varies fast needs many short steps; the budgets turn what would be
a hang into a reported stop.
"""

import time

import numpy as np
import scipy.integrate
import torch

from geomstats.numerics.geodesic import ExpSolver

from geomstats_density._arrays import (
    broadcast_pair,
    check_points,
    to_backend,
    to_numpy,
    torch_threads_for,
)
from geomstats_density._validation import (
    check_choice,
    check_on_failure,
    check_positive_float,
    check_positive_int,
)
from geomstats_density.exceptions import (
    DomainError,
    GeodesicConvergenceError,
    GeodesicConvergenceWarning,
    warn_at_caller,
)

# The integrators of scipy.integrate.solve_ivp, each a class of scipy.integrate.
METHODS = ("DOP853", "RK45", "RK23", "Radau", "BDF", "LSODA")
# Evaluations of the geodesic equation allowed per integration by default: seconds
# to tens of seconds for closed-form factors, far more than smooth geodesics need.
DEFAULT_MAX_EVALUATIONS = 100_000


class GeodesicODESolver(ExpSolver):
    """Geodesics from a point and a velocity, by an adaptive Runge-Kutta method.

    The whole batch is integrated as one ODE system with the metric's closed-form
    acceleration (``metric.geodesic_acceleration``), so ``exp`` of many vectors
    costs one integration.

    Parameters
    ----------
    space : Manifold
        Space equipped with a :class:`~geomstats_density.ConformalMetric`.
    method : {'DOP853', 'RK45', 'RK23', 'Radau', 'BDF', 'LSODA'}
        A ``scipy.integrate.solve_ivp`` method; DOP853 (order 8) by default.
    rtol, atol : float
        Tolerances of the integrator; ``atol`` is relative to the size of the
        positions and velocities.
    max_evaluations : int
        Evaluations of the geodesic equation allowed per integration (a call
        with negative and positive times integrates twice, once each way).
    max_time : float or None
        Seconds allowed per integration; None sets no limit.
    on_failure : {'raise', 'warn', 'ignore'}
        What to do when a budget runs out before the last time asked for: raise
        a :class:`~geomstats_density.GeodesicConvergenceError`, or return NaN at
        the times not reached (the points at the times reached are kept) with a
        :class:`~geomstats_density.GeodesicConvergenceWarning` (``'warn'``) or
        without (``'ignore'``). Either way the message names the budget and the
        time reached.
    """

    def __init__(
        self,
        space,
        method="DOP853",
        rtol=1e-11,
        atol=1e-12,
        max_evaluations=DEFAULT_MAX_EVALUATIONS,
        max_time=None,
        on_failure="raise",
    ):
        super().__init__(solves_ivp=True)
        self._space = space
        self.method = check_choice(method, "method", METHODS)
        self.rtol = check_positive_float(rtol, "rtol")
        self.atol = check_positive_float(atol, "atol")
        self.max_evaluations = check_positive_int(max_evaluations, "max_evaluations")
        self.max_time = check_positive_float(max_time, "max_time", allow_none=True)
        self.on_failure = check_on_failure(on_failure)

    def exp(self, tangent_vec, base_point):
        """Point reached at time 1 by the geodesic of initial velocity ``tangent_vec``.

        Parameters
        ----------
        tangent_vec, base_point : array-like, shape=[..., dim]

        Returns
        -------
        end_point : array-like, shape=[..., dim]

        Raises
        ------
        DomainError
            If the geodesic leaves the metric's domain before time 1.
        GeodesicConvergenceError
            If the integrator fails or (``on_failure='raise'``) a budget runs out.
        """
        return self._path(tangent_vec, base_point, np.ones(1))[..., 0, :]

    def geodesic_ivp(self, tangent_vec, base_point):
        """Geodesic ``t -> exp(t tangent_vec, base_point)``, any finite real ``t``.

        Parameters
        ----------
        tangent_vec, base_point : array-like, shape=[..., dim]

        Returns
        -------
        path : callable
            ``path(t)``, ``t`` a float or of shape ``[n_times]``, returns
            ``[..., n_times, dim]``; a NaN or infinite time raises a ValueError.
        """
        return lambda t: self._path(tangent_vec, base_point, checked_times(t))

    def _path(self, tangent_vec, base_point, times):
        dim = self._space.dim
        velocity, position = broadcast_pair(
            check_points(tangent_vec, dim, "tangent_vec"),
            check_points(base_point, dim, "base_point"),
        )
        batch_shape = tuple(position.shape[:-1])
        position = position.detach().numpy().reshape(-1, dim)
        velocity = velocity.detach().numpy().reshape(-1, dim)
        out = self._integrate_both_ways(position, velocity, times)
        return to_backend(out.reshape(*batch_shape, times.size, dim))

    def _integrate_both_ways(self, position, velocity, times):
        """Points at ``times`` (any sign), shape ``[batch, n_times, n_coords]``."""
        out = np.empty((position.shape[0], times.size, position.shape[-1]))
        # gamma(-t) is the geodesic of velocity -v, so negative times integrate forwards.
        for sign, mask in ((1.0, times >= 0), (-1.0, times < 0)):
            if mask.any():
                out[:, mask] = self._integrate(position, sign * velocity, sign * times[mask], sign)
        return out

    def _integrate(self, position, velocity, times, sign=1.0):
        """Points at ``times >= 0``, shape ``[batch, n_times, n_coords]``.

        ``sign`` is the direction of time the integration stands for, for messages.
        """
        metric = self._space.metric
        batch, dim = position.shape

        def rhs(_, state):
            position_, velocity_ = torch.from_numpy(state).reshape(2, batch, dim)
            acceleration = metric.geodesic_acceleration(position_, velocity_).detach()
            return np.concatenate([velocity_.numpy().ravel(), acceleration.numpy().ravel()])

        state = np.concatenate([position.ravel(), velocity.ravel()])
        out = np.full((batch, times.size, dim), np.nan)
        out[:, times == 0.0] = position[:, None]
        end = float(times.max())
        if end == 0.0:
            return out
        started = time.perf_counter()
        try:
            with torch_threads_for(state.size * 8 * metric.point_cost):
                scale = np.max(np.abs(state)) + 1.0
                integrator = getattr(scipy.integrate, self.method)(
                    rhs, 0.0, state, end, rtol=self.rtol, atol=self.atol * scale
                )
                while integrator.status == "running":
                    budget = self._budget_spent(integrator.nfev, time.perf_counter() - started)
                    if budget is not None:
                        self._stop(budget, sign * integrator.t, sign * end)
                        return out
                    message = integrator.step()
                    if integrator.status == "failed":
                        raise GeodesicConvergenceError(
                            f"exp: the integrator failed at t={sign * integrator.t:.6g}: {message}"
                        )
                    reached = (times > integrator.t_old) & (times <= integrator.t)
                    if reached.any():
                        states = integrator.dense_output()(times[reached])
                        out[:, reached] = np.moveaxis(states.reshape(2, batch, dim, -1)[0], -1, 1)
        except DomainError as error:
            raise DomainError(
                f"exp: the geodesic leaves the metric's domain before t={sign * end}: {error}"
            ) from None
        return out

    def _budget_spent(self, n_evaluations, seconds):
        """A description of the budget that ran out, or None."""
        if n_evaluations >= self.max_evaluations:
            return (
                f"{n_evaluations} evaluations of the geodesic equation "
                f"(max_evaluations={self.max_evaluations})"
            )
        if self.max_time is not None and seconds >= self.max_time:
            return f"{seconds:.3g} s (max_time={self.max_time})"
        return None

    def _stop(self, budget, reached, end):
        """Report an integration stopped by a budget, per ``on_failure``."""
        message = (
            f"exp: the integration stopped at t={reached:.6g} of t={end:.6g} after "
            f"{budget}: the factor varies fast along this geodesic for rtol={self.rtol}. "
            "Raise the budget, loosen rtol, or shorten the velocity."
        )
        if self.on_failure == "raise":
            raise GeodesicConvergenceError(message)
        if self.on_failure == "warn":
            warn_at_caller(
                message + " Points at the times not reached are NaN.",
                GeodesicConvergenceWarning,
            )


def checked_times(t):
    """Times at which a geodesic is evaluated, as a finite 1-D float array.

    Parameters
    ----------
    t : float or array-like, shape=[n_times]

    Returns
    -------
    times : ndarray, shape=[n_times]

    Raises
    ------
    ValueError
        If ``t`` has more than one axis or a NaN or infinite time.
    """
    times = np.atleast_1d(to_numpy(t))
    if times.ndim != 1:
        raise ValueError(f"t must be a float or a 1-D array of times, got shape {times.shape}.")
    finite = np.isfinite(times)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise ValueError(
            f"t must be finite: times {times[bad].tolist()} at indices {bad.tolist()}."
        )
    return times
