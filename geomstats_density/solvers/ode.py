"""Exponential map: the geodesic initial-value problem, integrated by scipy.

The integration is error-controlled (an adaptive Runge-Kutta method, steps
accepted where the local error meets ``rtol`` and ``atol``) and bounded: it
stops after ``max_evaluations`` evaluations of the geodesic equation or
``max_time`` seconds, and reports the time it reached. A long velocity in a
factor that varies fast needs many short steps; the budgets
(:mod:`~geomstats_density.solvers.budgets`) turn what would be a hang into a
reported stop.

``exp`` also estimates how sensitive its end point is to the velocity: the
variational equation (Jacobi fields) is integrated alongside the geodesic, for
a few directions of the velocity. Along a density ridge, nearby geodesics
leave the ridge and diverge from one another, and a velocity known to eight
digits gives an end point known to far fewer: such ends are reported rather
than returned as if they were accurate.
"""

import time

import numpy as np
import scipy.integrate
import torch
from geomstats.numerics.geodesic import ExpSolver

from geomstats_density._validation import (
    broadcast_pair,
    check_choice,
    check_float,
    check_int,
    check_on_failure,
    check_points,
    check_positive_float,
    check_positive_int,
)
from geomstats_density.backend import to_backend, to_numpy
from geomstats_density.exceptions import DomainError, report_failure
from geomstats_density.solvers.budgets import step_within_budget
from geomstats_density.solvers.status import ExpStatus
from geomstats_density.threads import torch_threads_for

# The integrators of scipy.integrate.solve_ivp, each a class of scipy.integrate.
METHODS = ("DOP853", "RK45", "RK23", "Radau", "BDF", "LSODA")
# Evaluations of the geodesic equation allowed per integration by default: seconds
# to tens of seconds for closed-form factors, far more than smooth geodesics need.
DEFAULT_MAX_EVALUATIONS = 100_000
# Tolerance (relative and absolute) of the variational components: the sensitivity
# is an order of magnitude, and a tighter tolerance would make the integrator
# resolve the rounding noise of the finite differences below.
SENSITIVITY_TOL = 1e-6
# Step of the forward differences of the geodesic acceleration along a Jacobi
# field, relative to the size of the state: sqrt of the float64 epsilon.
DIFFERENCE_STEP = 1.5e-8
# Seed of the random directions used when the space has more coordinates than
# ``sensitivity_directions``: the same directions at every call.
DIRECTIONS_SEED = 0


class ExpResult:
    """End points of geodesics from velocities, with their estimated errors.

    What :meth:`GeodesicODESolver.solve` returns (``exp`` returns its
    ``end_point``): per geodesic, a status as the boundary-value solvers' curves
    carry one.

    Attributes
    ----------
    end_point : array-like, shape=[..., dim]
        Point reached at time 1; NaN where a budget ran out first.
    sensitivity : ndarray, shape=[...]
        Largest singular value of the derivative of the end point with respect
        to the velocity, over the directions integrated: a change ``dv`` of the
        velocity moves the end point by up to about ``sensitivity * |dv|``. It
        is 1 in a flat metric. NaN where not estimated.
    end_point_error : ndarray, shape=[...]
        Estimated error of the end point, ``sensitivity * ((rtol + velocity_rtol)
        |v| + atol * scale)`` with ``scale = 1 + max(|base_point|, |v|)``: the
        velocity's own error and that of one integration step, carried to time 1.
        NaN where not estimated.
    tolerance : ndarray, shape=[...]
        ``tol * scale``, the error accepted.
    converged : ndarray of bool, shape=[...]
        Whether each end point was reached with an error within ``tolerance``.
    status : ndarray of int, shape=[...]
        A :class:`~geomstats_density.solvers.status.ExpStatus` code.
    message : ndarray of str, shape=[...]
        How each integration ended, in words.
    n_evaluations : int
        Evaluations of the geodesic equation (the batch and its Jacobi fields
        are evaluated together).
    """

    def __init__(
        self, end_point, sensitivity, end_point_error, tolerance, status, message, n_evaluations
    ):
        self.end_point = end_point
        self.sensitivity = sensitivity
        self.end_point_error = end_point_error
        self.tolerance = tolerance
        self.status = status
        self.converged = status == ExpStatus.CONVERGED
        self.message = message
        self.n_evaluations = n_evaluations

    def __repr__(self):
        return (
            f"ExpResult(batch_shape={self.status.shape}, "
            f"sensitivity={np.array2string(np.ravel(self.sensitivity)[:6], precision=3)}, "
            f"converged={int(np.count_nonzero(self.converged))}/{self.converged.size})"
        )


class GeodesicODESolver(ExpSolver):
    """Geodesics from a point and a velocity, by an adaptive Runge-Kutta method.

    The whole batch is integrated as one ODE system with the metric's closed-form
    acceleration (``metric.geodesic_acceleration``), so ``exp`` of many vectors
    costs one integration.

    ``exp`` (and :meth:`solve`, which returns the estimates) also integrates the
    variational equation along ``sensitivity_directions`` directions of the
    velocity: the Jacobi fields, whose linearised acceleration is a forward
    difference of the geodesic acceleration, so each evaluation of the geodesic
    equation evaluates the acceleration at ``1 + sensitivity_directions`` points
    per geodesic. Their end values give the end point's sensitivity to the
    velocity and its estimated error; an end point whose estimated error is
    above ``tol`` is reported as unstable (see ``on_failure``). Paths from
    :meth:`geodesic_ivp` are integrated without the estimate.

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
        What to do when a budget runs out before the last time asked for, or
        when an end point's estimated error is above ``tol``: raise a
        :class:`~geomstats_density.GeodesicConvergenceError`, or return the
        points (NaN at the times a budget did not reach; the points at the times
        reached are kept) with a
        :class:`~geomstats_density.GeodesicConvergenceWarning` (``'warn'``) or
        without (``'ignore'``). The message names the budget and the time
        reached, or the estimated error and the sensitivity.
    tol : float
        Error of the end point accepted, relative to ``1 + max(|base_point|,
        |tangent_vec|)``.
    velocity_rtol : float
        Relative error of the velocities given: ``1e-8`` is the default
        tolerance of ``log``, whose velocities ``exp`` often receives; 0 for
        velocities known exactly (only the integration's error is then
        carried to the end point).
    sensitivity_directions : int
        Directions of the velocity along which Jacobi fields are integrated: the
        coordinate axes when the space has at most this many coordinates, else
        as many random orthonormal directions (the same at every call; the
        sensitivity is then a lower estimate). 0 skips the estimate.
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
        tol=1e-6,
        velocity_rtol=1e-8,
        sensitivity_directions=8,
    ):
        super().__init__(solves_ivp=True)
        self._space = space
        self.method = check_choice(method, "method", METHODS)
        self.rtol = check_positive_float(rtol, "rtol")
        self.atol = check_positive_float(atol, "atol")
        self.max_evaluations = check_positive_int(max_evaluations, "max_evaluations")
        self.max_time = check_positive_float(max_time, "max_time", allow_none=True)
        self.on_failure = check_on_failure(on_failure)
        self.tol = check_positive_float(tol, "tol")
        self.velocity_rtol = check_float(velocity_rtol, "velocity_rtol", 0.0, strict=False)
        self.sensitivity_directions = check_int(
            sensitivity_directions, "sensitivity_directions", minimum=0
        )

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
            If the integrator fails, or (``on_failure='raise'``) a budget runs
            out or an end point's estimated error is above ``tol``.
        """
        return self.solve(tangent_vec, base_point).end_point

    def solve(self, tangent_vec, base_point):
        """``exp`` with the end points' sensitivities, estimated errors and statuses.

        Parameters
        ----------
        tangent_vec, base_point : array-like, shape=[..., dim]

        Returns
        -------
        result : ExpResult

        Raises
        ------
        DomainError
            If the geodesic leaves the metric's domain before time 1.
        GeodesicConvergenceError
            As :meth:`exp`.
        """
        position, velocity, batch_shape = self._flat_inputs(tangent_vec, base_point)
        points, jacobi, stop, n_evaluations = self._integrate(
            position, velocity, np.ones(1), self._directions(position)
        )
        end_point = self._to_points(points, batch_shape)[
            (..., 0) + (slice(None),) * self._space.point_ndim
        ]
        speed = np.linalg.norm(velocity, axis=-1)
        scale = 1.0 + np.maximum(np.linalg.norm(position, axis=-1), speed)
        tolerance = self.tol * scale
        sensitivity = np.full(speed.shape, np.nan)
        if jacobi is not None and jacobi.shape[1]:
            sensitivity = np.linalg.svd(jacobi, compute_uv=False)[:, 0]
        error = sensitivity * ((self.rtol + self.velocity_rtol) * speed + self.atol * scale)
        if stop is not None:
            status = np.full(speed.shape, int(ExpStatus.BUDGET))
            message = np.full(speed.shape, stop, dtype=object)
        else:
            # A NaN error (not estimated) is not above the tolerance.
            status = np.where(error > tolerance, ExpStatus.UNSTABLE, ExpStatus.CONVERGED)
            message = np.array(
                [self._message(*values) for values in zip(sensitivity, error, tolerance, speed)],
                dtype=object,
            )
        result = ExpResult(
            end_point,
            sensitivity.reshape(batch_shape),
            error.reshape(batch_shape),
            tolerance.reshape(batch_shape),
            status.reshape(batch_shape),
            message.reshape(batch_shape),
            n_evaluations,
        )
        failed = status != ExpStatus.CONVERGED
        if failed.any():
            report = message[np.argmax(failed)]
            if stop is None and status.size > 1:
                report = (
                    f"exp: {np.count_nonzero(failed)} of {status.size} end points are "
                    f"unstable; the first: {report}"
                )
            self._report(report, nan_times=stop is not None)
        return result

    def _message(self, sensitivity, error, tolerance, speed):
        """How the integration of one geodesic that reached t=1 ended, in words."""
        if np.isnan(sensitivity):
            return "reached t=1; error not estimated (sensitivity_directions=0)"
        if error <= tolerance:
            return (
                f"reached t=1; estimated end-point error {error:.3g} "
                f"(sensitivity {sensitivity:.3g})"
            )
        return (
            f"exp: the end point is unstable: a change dv of the velocity (|v| = {speed:.3g}) "
            f"moves it by up to {sensitivity:.3g} |dv|, so its estimated error is {error:.3g}, "
            f"above tol * (1 + max(|base_point|, |v|)) = {tolerance:.3g} "
            f"(velocity_rtol={self.velocity_rtol}, rtol={self.rtol}). Nearby geodesics "
            "diverge from this one, as they do along a density ridge, but the geodesic "
            "between two points is stable: use log-based methods (metric.log, "
            "metric.geodesic(initial_point, end_point), the estimators of "
            "geomstats_density.learning) instead of exp."
        )

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

    def _flat_inputs(self, tangent_vec, base_point):
        """Positions and velocities ``[batch, n_coords]`` (ndarrays) and the batch shape."""
        dim = self._space.dim
        velocity, position = broadcast_pair(
            check_points(tangent_vec, dim, "tangent_vec"),
            check_points(base_point, dim, "base_point"),
        )
        batch_shape = tuple(position.shape[:-1])
        position = position.detach().numpy().reshape(-1, dim)
        return position, velocity.detach().numpy().reshape(-1, dim), batch_shape

    def _to_points(self, points, batch_shape):
        """``[batch, n_times, n_coords]`` ndarray to backend points ``[..., n_times, dim]``."""
        return to_backend(points.reshape(*batch_shape, *points.shape[1:]))

    def _directions(self, position):
        """Unit directions of the velocity whose Jacobi fields are integrated.

        Parameters
        ----------
        position : ndarray, shape=[batch, n_coords]

        Returns
        -------
        directions : ndarray, shape=[batch, n_directions, n_coords]
        """
        batch, n_coords = position.shape
        n_directions = min(self.sensitivity_directions, n_coords)
        if n_directions == n_coords:
            basis = np.eye(n_coords)
        else:
            draws = np.random.default_rng(DIRECTIONS_SEED).normal(size=(n_coords, n_directions))
            basis = np.linalg.qr(draws)[0].T
        return np.broadcast_to(basis, (batch, n_directions, n_coords)).copy()

    def _path(self, tangent_vec, base_point, times):
        position, velocity, batch_shape = self._flat_inputs(tangent_vec, base_point)
        return self._to_points(self._integrate_both_ways(position, velocity, times), batch_shape)

    def _integrate_both_ways(self, position, velocity, times):
        """Points at ``times`` (any sign), shape ``[batch, n_times, n_coords]``."""
        out = np.empty((position.shape[0], times.size, position.shape[-1]))
        # gamma(-t) is the geodesic of velocity -v, so negative times integrate forwards.
        for sign, mask in ((1.0, times >= 0), (-1.0, times < 0)):
            if mask.any():
                out[:, mask], _, stop, _ = self._integrate(
                    position, sign * velocity, sign * times[mask], sign=sign
                )
                if stop is not None:
                    self._report(stop, nan_times=True)
        return out

    def _integrate(self, position, velocity, times, directions=None, sign=1.0):
        """Points at ``times >= 0``, and Jacobi fields at the last time.

        Parameters
        ----------
        position, velocity : ndarray, shape=[batch, n_coords]
        times : ndarray, shape=[n_times]
        directions : ndarray, shape=[batch, n_directions, n_coords], optional
            Initial velocities of Jacobi fields (their initial positions are 0).
        sign : float
            Direction of time the integration stands for, for messages.

        Returns
        -------
        points : ndarray, shape=[batch, n_times, n_coords]
            NaN at the times not reached.
        jacobi : ndarray, shape=[batch, n_directions, n_coords], or None
            Positions of the Jacobi fields at the last time: the derivatives of
            the point there along the directions; None when not reached.
        stop : str or None
            Why a budget stopped the integration, or None.
        n_evaluations : int
        """
        metric = self._space.metric
        batch, dim = position.shape
        n_directions = 0 if directions is None else directions.shape[1]
        n_nominal = 2 * batch * dim

        def rhs(_, state):
            nominal = state[:n_nominal].reshape(2, batch, dim)
            positions, velocities = nominal
            if n_directions:
                fields = state[n_nominal:].reshape(batch, n_directions, 2, dim)
                size = np.sqrt((fields * fields).sum(axis=(2, 3), keepdims=True))
                size = np.where(size > 0.0, size, 1.0)
                step = DIFFERENCE_STEP * (1.0 + np.abs(nominal).max(axis=(0, 2)))
                step = step[:, None, None, None]
                moved = np.moveaxis(nominal, 0, 1)[:, None] + step * fields / size
                positions = np.concatenate([positions, moved[:, :, 0].reshape(-1, dim)])
                velocities = np.concatenate([velocities, moved[:, :, 1].reshape(-1, dim)])
            acceleration = (
                metric.geodesic_acceleration(
                    torch.from_numpy(positions), torch.from_numpy(velocities)
                )
                .detach()
                .numpy()
            )
            derivative = [nominal[1].ravel(), acceleration[:batch].ravel()]
            if n_directions:
                # The linearised acceleration, by a forward difference along each field.
                moved_acceleration = acceleration[batch:].reshape(batch, n_directions, dim)
                field_acceleration = (
                    (moved_acceleration - acceleration[:batch, None]) / step[..., 0] * size[..., 0]
                )
                derivative.append(np.stack([fields[:, :, 1], field_acceleration], axis=2).ravel())
            return np.concatenate(derivative)

        state = np.concatenate([position.ravel(), velocity.ravel()])
        scale = np.max(np.abs(state)) + 1.0
        rtol, atol = self.rtol, self.atol * scale
        if n_directions:
            fields = np.stack([np.zeros_like(directions), directions], axis=2)
            state = np.concatenate([state, fields.ravel()])
            # The integrator's error norm is a mean over all components: the
            # geodesic's own components keep the weight they have alone.
            weight = np.sqrt(n_nominal / state.size)
            n_fields = state.size - n_nominal
            rtol = np.r_[np.full(n_nominal, rtol * weight), np.full(n_fields, SENSITIVITY_TOL)]
            atol = np.r_[np.full(n_nominal, atol * weight), np.full(n_fields, SENSITIVITY_TOL)]
        out = np.full((batch, times.size, dim), np.nan)
        out[:, times == 0.0] = position[:, None]
        end = float(times.max())
        no_fields = np.zeros((batch, n_directions, dim))
        if end == 0.0:
            return out, no_fields, None, 0
        started = time.perf_counter()
        try:
            with torch_threads_for(state.size * 8 * metric.point_cost):
                integrator = getattr(scipy.integrate, self.method)(
                    rhs, 0.0, state, end, rtol=rtol, atol=atol
                )

                def keep_reached_times(integrator):
                    reached = (times > integrator.t_old) & (times <= integrator.t)
                    if reached.any():
                        states = integrator.dense_output()(times[reached])[:n_nominal]
                        out[:, reached] = np.moveaxis(states.reshape(2, batch, dim, -1)[0], -1, 1)

                budget = step_within_budget(
                    integrator,
                    started,
                    self.max_evaluations,
                    self.max_time,
                    "exp",
                    sign,
                    keep_reached_times,
                )
                if budget is not None:
                    return (
                        out,
                        None,
                        self._stop_message(budget, sign * integrator.t, sign * end),
                        integrator.nfev,
                    )
        except DomainError as error:
            raise DomainError(
                f"exp: the geodesic leaves the metric's domain before t={sign * end}: {error}"
            ) from None
        jacobi = integrator.y[n_nominal:].reshape(batch, n_directions, 2, dim)[:, :, 0]
        return out, jacobi, None, integrator.nfev

    def _stop_message(self, budget, reached, end):
        """Why a budget stopped an integration at time ``reached`` of ``end``."""
        return (
            f"exp: the integration stopped at t={reached:.6g} of t={end:.6g} after "
            f"{budget}: the factor varies fast along this geodesic for rtol={self.rtol}. "
            "Raise the budget, loosen rtol, or shorten the velocity."
        )

    def _report(self, message, nan_times):
        """Report a stopped integration or an unstable end point, per ``on_failure``."""
        if nan_times and self.on_failure == "warn":
            message += " Points at the times not reached are NaN."
        report_failure(message, self.on_failure)


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
