r"""Parallel transport along geodesics, by an error-controlled integrator.

A vector ``V`` is parallel along a curve ``gamma`` when

.. math:: \dot V^k + \Gamma^k_{ij}(\gamma)\, \dot\gamma^i V^j = 0.

Along the geodesic ``t -> exp(t v)`` the geodesic equation and this one form
one ODE system in ``(gamma, gamma', V)``, integrated from ``t = 0`` to 1 by
the adaptive Runge-Kutta methods of ``scipy.integrate`` with the metric's
closed-form Christoffel symbols (:meth:`ConformalMetric.christoffel_map`), the
whole batch as one system. The integrator accepts a step where its local error
estimate meets ``rtol`` and ``atol``, so the transported vector is exact to
about those tolerances relative to the geodesic's scale; the metric norm and
the angle with the velocity, constant along the exact solution, measure it.

To an end point, the geodesic's initial velocity from the boundary-value solver
(``log``, exact to about its ``tol``) is first refined by Newton steps on
``exp(v) = end_point`` (:func:`shoot`), so that the geodesic integrated ends at
the end point to about the integrator's tolerance too.
"""

import time

import numpy as np
import scipy.integrate
import torch

from geomstats_density.exceptions import DomainError, GeodesicConvergenceError
from geomstats_density.solvers.budgets import step_within_budget
from geomstats_density.solvers.ode import DEFAULT_MAX_EVALUATIONS, GeodesicODESolver
from geomstats_density.threads import torch_threads_for

# Integrator settings where the metric's exp solver does not give them.
DEFAULT_METHOD = "DOP853"
DEFAULT_RTOL = 1e-11
DEFAULT_ATOL = 1e-12
# Newton steps of shoot(), and its forward-difference step relative to 1 + |v|.
SHOOTING_STEPS = 3
SHOOTING_DIFFERENCE = 1e-6


def integrator_settings(metric):
    """``method, rtol, atol, max_evaluations, max_time`` for the transport ODE.

    Those of the metric's exp solver when it is a
    :class:`~geomstats_density.solvers.ode.GeodesicODESolver`, so that
    transport and ``exp`` integrate to the same tolerances; the defaults
    otherwise.
    """
    solver = metric.exp_solver
    if isinstance(solver, GeodesicODESolver):
        return solver.method, solver.rtol, solver.atol, solver.max_evaluations, solver.max_time
    return DEFAULT_METHOD, DEFAULT_RTOL, DEFAULT_ATOL, DEFAULT_MAX_EVALUATIONS, None


def transport_along_geodesics(metric, tangent_vec, base_point, velocity):
    """Transport vectors along the geodesics ``t -> exp(t velocity)``, ``t`` in [0, 1].

    Parameters
    ----------
    metric : SolverMetric
    tangent_vec, base_point, velocity : torch.Tensor, shape=[batch, n_coords]
        Coordinates: ambient ones, flattened, on a hypersphere or ``SO(3)``.

    Returns
    -------
    end_point : torch.Tensor, shape=[batch, n_coords]
        ``exp(velocity, base_point)``, as integrated (off a hypersphere or
        ``SO(3)`` by about the integrator's tolerance).
    transported : torch.Tensor, shape=[batch, n_coords]
        The parallel transport of ``tangent_vec`` to ``end_point``.

    Raises
    ------
    DomainError
        If a geodesic leaves the metric's domain before ``t = 1``.
    GeodesicConvergenceError
        If the integrator fails or uses up its evaluations or time.
    """
    method, rtol, atol, max_evaluations, max_time = integrator_settings(metric)
    batch, dim = base_point.shape

    def rhs(_, state):
        position, speed, vector = torch.from_numpy(state).reshape(3, batch, dim)
        gamma = metric.christoffel_map(position, speed, torch.stack([speed, vector])).detach()
        return np.concatenate([speed.numpy(), -gamma.numpy()], axis=None)

    state = torch.stack([base_point, velocity, tangent_vec]).detach().numpy().ravel()
    started = time.perf_counter()
    try:
        with torch_threads_for(state.size * 8 * metric.point_cost):
            scale = np.max(np.abs(state)) + 1.0
            integrator = getattr(scipy.integrate, method)(
                rhs, 0.0, state, 1.0, rtol=rtol, atol=atol * scale
            )
            budget = step_within_budget(
                integrator, started, max_evaluations, max_time, "parallel_transport"
            )
            if budget is not None:
                raise GeodesicConvergenceError(
                    f"parallel_transport: the integration stopped at t={integrator.t:.6g} "
                    f"of 1 after {budget}, the exp solver's budget: the factor varies fast "
                    "along this geodesic."
                )
    except DomainError as error:
        raise DomainError(
            f"parallel_transport: the geodesic leaves the metric's domain before t=1: {error}"
        ) from None
    end = torch.from_numpy(integrator.y.reshape(3, batch, dim))
    return end[0], end[2]


def shoot(metric, base_point, end_point, velocity):
    """Refine initial velocities ``v`` so that ``exp(v, base_point) = end_point``.

    Newton steps from the given velocities (``log``'s), the Jacobian of ``exp``
    by forward differences along the coordinate directions (projected onto the
    tangent space on a hypersphere or ``SO(3)``, the step then by least
    squares): the ``n_coords + 1`` geodesics of a step integrated as one batch
    by the metric's exp solver. A Jacobian with relative error
    ``e`` divides the end point's error by about ``1 / e`` per step (``e`` about
    ``1e-5`` here), so one or two steps bring ``log``'s ``1e-8`` down to the
    integrator's tolerance. Each velocity keeps the best of its steps; its
    steps stop once its end point is within ``10 (rtol + atol)`` of the
    target (relative to its size), once a step does not bring it closer (or
    the Jacobian is singular), or after ``SHOOTING_STEPS``.

    Parameters
    ----------
    metric : SolverMetric
    base_point, end_point, velocity : torch.Tensor, shape=[batch, n_coords]

    Returns
    -------
    velocity : torch.Tensor, shape=[batch, n_coords]
    """
    _, rtol, atol, _, _ = integrator_settings(metric)
    n_coords = base_point.shape[-1]
    # Directions of the differences: tangent ones on a hypersphere or SO(3), where
    # exp takes tangent vectors only (the Jacobian then has a kernel: least squares).
    directions = torch.eye(n_coords, dtype=velocity.dtype).expand(*base_point.shape, n_coords)
    directions = metric.geometry.to_tangent(directions, base_point.unsqueeze(-2))
    target = 10.0 * (rtol + atol) * (end_point.abs().amax(-1) + 1.0)
    best_velocity = velocity
    best_error = torch.full_like(target, torch.inf)
    for step_index in range(SHOOTING_STEPS + 1):
        step = SHOOTING_DIFFERENCE * (1.0 + velocity.abs().amax(-1))[:, None, None]
        trial = torch.cat([velocity.unsqueeze(-2), velocity.unsqueeze(-2) + step * directions], -2)
        bases = base_point.unsqueeze(-2).expand(trial.shape)
        exp = metric.exp(metric.to_points_backend(trial), metric.to_points_backend(bases))
        ends = metric.coordinates(exp, "end_point").detach()
        residual = end_point - ends[:, 0]
        error = residual.abs().amax(-1)
        improved = error < best_error
        best_velocity = torch.where(improved[:, None], velocity, best_velocity)
        best_error = torch.where(improved, error, best_error)
        active = improved & (error > target)
        if step_index == SHOOTING_STEPS or not bool(active.any()):
            break
        jacobian = ((ends[:, 1:] - ends[:, :1]) / step).transpose(-1, -2)
        weights = torch.linalg.lstsq(jacobian, residual.unsqueeze(-1), driver="gelsd").solution
        update = (directions.transpose(-1, -2) @ weights).squeeze(-1)
        active = active & torch.isfinite(update).all(-1)
        velocity = torch.where(active[:, None], velocity + update, best_velocity)
    return best_velocity
