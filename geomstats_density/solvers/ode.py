"""Exponential map: the geodesic initial-value problem, integrated by scipy."""

import numpy as np
import torch
from scipy.integrate import solve_ivp

from geomstats.numerics.geodesic import ExpSolver

from geomstats_density._arrays import (
    broadcast_pair,
    check_points,
    to_backend,
    torch_threads_for,
)
from geomstats_density.exceptions import DomainError, GeodesicConvergenceError


class GeodesicODESolver(ExpSolver):
    """Geodesics from a point and a velocity, by an adaptive Runge-Kutta method.

    The whole batch is integrated as one ODE system with the metric's closed-form
    acceleration (``metric.geodesic_acceleration``), so ``exp`` of many vectors
    costs one integration.

    Parameters
    ----------
    space : Manifold
        Space equipped with a :class:`~geomstats_density.ConformalMetric`.
    method : str
        A ``scipy.integrate.solve_ivp`` method; DOP853 (order 8) by default.
    rtol, atol : float
        Tolerances of the integrator; ``atol`` is relative to the size of the
        positions and velocities.
    """

    def __init__(self, space, method="DOP853", rtol=1e-11, atol=1e-12):
        super().__init__(solves_ivp=True)
        self._space = space
        self.method = method
        self.rtol = rtol
        self.atol = atol

    def exp(self, tangent_vec, base_point):
        """Point reached at time 1 by the geodesic of initial velocity ``tangent_vec``.

        Parameters
        ----------
        tangent_vec, base_point : array-like, shape=[..., dim]

        Returns
        -------
        end_point : array-like, shape=[..., dim]
        """
        return self._path(tangent_vec, base_point, np.ones(1))[..., 0, :]

    def geodesic_ivp(self, tangent_vec, base_point):
        """Geodesic ``t -> exp(t tangent_vec, base_point)``, any real ``t``.

        Parameters
        ----------
        tangent_vec, base_point : array-like, shape=[..., dim]

        Returns
        -------
        path : callable
            ``path(t)``, ``t`` of shape ``[n_times]``, returns ``[..., n_times, dim]``.
        """
        return lambda t: self._path(tangent_vec, base_point, np.atleast_1d(np.asarray(t, float)))

    def _path(self, tangent_vec, base_point, times):
        dim = self._space.dim
        velocity, position = broadcast_pair(
            check_points(tangent_vec, dim, "tangent_vec"),
            check_points(base_point, dim, "base_point"),
        )
        batch_shape = tuple(position.shape[:-1])
        position = position.detach().numpy().reshape(-1, dim)
        velocity = velocity.detach().numpy().reshape(-1, dim)
        out = np.empty((position.shape[0], times.size, dim))
        # gamma(-t) is the geodesic of velocity -v, so negative times integrate forwards.
        for sign, mask in ((1.0, times >= 0), (-1.0, times < 0)):
            if mask.any():
                out[:, mask] = self._integrate(position, sign * velocity, sign * times[mask])
        return to_backend(out.reshape(*batch_shape, times.size, dim))

    def _integrate(self, position, velocity, times):
        metric = self._space.metric
        batch, dim = position.shape

        def rhs(_, state):
            position_, velocity_ = torch.from_numpy(state).reshape(2, batch, dim)
            acceleration = metric.geodesic_acceleration(position_, velocity_).detach()
            return np.concatenate([velocity_.numpy().ravel(), acceleration.numpy().ravel()])

        state = np.concatenate([position.ravel(), velocity.ravel()])
        scale = np.max(np.abs(state)) + 1.0
        end = float(times.max())
        if end == 0.0:
            return np.broadcast_to(position[:, None], (batch, times.size, dim))
        try:
            with torch_threads_for(state.size * 8 * metric.point_cost):
                solution = solve_ivp(
                    rhs,
                    (0.0, end),
                    state,
                    method=self.method,
                    rtol=self.rtol,
                    atol=self.atol * scale,
                    dense_output=True,
                )
        except DomainError as error:
            raise DomainError(
                f"exp: the geodesic leaves the metric's domain before t={end}: {error}"
            ) from None
        if solution.status != 0:
            raise GeodesicConvergenceError(f"exp: the integrator failed: {solution.message}")
        states = solution.sol(times).reshape(2, batch, dim, times.size)
        return np.moveaxis(states[0], -1, 1)
