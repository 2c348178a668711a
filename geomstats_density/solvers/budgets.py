"""ODE integrations bounded by budgets of evaluations and of seconds.

An error-controlled integrator takes as many steps as the local error needs,
and a long velocity in a factor that varies fast needs many short ones. The
integrations of ``exp`` (:mod:`~geomstats_density.solvers.ode`) and of parallel
transport (:mod:`~geomstats_density.transport`) step their integrator within a
budget of evaluations of their equation and of seconds, and report which budget
ran out instead of hanging.
"""

import time

from geomstats_density.exceptions import GeodesicConvergenceError


def step_within_budget(integrator, started, max_evaluations, max_time, who, sign=1.0, on_step=None):
    """Step a scipy ODE integrator to its end, unless an evaluation or time budget runs out.

    Parameters
    ----------
    integrator : scipy.integrate.OdeSolver
    started : float
        ``time.perf_counter()`` when the integration started.
    max_evaluations : int
    max_time : float or None
    who : str
        What integrates (``'exp'``, ``'parallel_transport'``), for the messages.
    sign : float
        Direction of time the integration stands for, for the messages.
    on_step : callable, optional
        Called with the integrator after each step.

    Returns
    -------
    budget : str or None
        Which budget ran out, in words; None when the end was reached.

    Raises
    ------
    GeodesicConvergenceError
        If the integrator fails.
    """
    while integrator.status == "running":
        n_evaluations, seconds = integrator.nfev, time.perf_counter() - started
        if n_evaluations >= max_evaluations:
            return (
                f"{n_evaluations} evaluations of the geodesic equation "
                f"(max_evaluations={max_evaluations})"
            )
        if max_time is not None and seconds >= max_time:
            return f"{seconds:.3g} s (max_time={max_time})"
        message = integrator.step()
        if integrator.status == "failed":
            raise GeodesicConvergenceError(
                f"{who}: the integrator failed at t={sign * integrator.t:.6g}: {message}"
            )
        if on_step is not None:
            on_step(integrator)
    return None
