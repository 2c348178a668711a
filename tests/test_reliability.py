"""No silent wrong answer, no lost batch: shared state, budgets, honest reports, options."""

import math
import re
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import geomstats.backend as gs
import numpy as np
import pytest
import torch
from conftest import as_numpy, random_half_plane_points
from geomstats.geometry.euclidean import Euclidean
from geomstats.geometry.hypersphere import Hypersphere

from geomstats_density import (
    ConformalMetric,
    DensityConformalMetric,
    DomainError,
    GeodesicConvergenceError,
    GeodesicConvergenceWarning,
    GeodesicODESolver,
    LatentSpace,
    ManifoldGeodesicSolver,
    NeuralGeodesicSolver,
    NewtonGeodesicSolver,
)
from geomstats_density.distances import pairwise_distances
from geomstats_density.quality import Constant

LN2 = math.log(2.0)


def _convergence_messages(caught):
    return sorted(str(w.message) for w in caught if w.category is GeodesicConvergenceWarning)


# ----------------------------------------------------------------------
# Concurrent calls on one metric
# ----------------------------------------------------------------------
def test_concurrent_distance_matrices_leave_the_solver_alone(half_plane):
    solver = half_plane.metric.log_solver
    solver.max_nodes = 17  # tol=1e-8 is out of reach with 17 nodes: every call warns
    points = [gs.array(random_half_plane_points(5, seed=seed)) for seed in (21, 22)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sequential = [
            as_numpy(pairwise_distances(p, metric=half_plane.metric, batch_size=3)) for p in points
        ]
    sequential_messages = _convergence_messages(caught)
    assert len(sequential_messages) == 2

    seen, stop = set(), threading.Event()

    def watch():
        # Any rewrite of the user's settings during the calls is seen here.
        while not stop.is_set():
            seen.add((solver.on_failure, solver.progress))
            time.sleep(1e-4)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with ThreadPoolExecutor(max_workers=2) as pool:
                futures = [
                    pool.submit(pairwise_distances, p, metric=half_plane.metric, batch_size=3)
                    for p in points
                ]
                concurrent = [as_numpy(f.result()) for f in futures]
    finally:
        stop.set()
        watcher.join()
    assert seen == {("warn", None)}
    assert solver.on_failure == "warn" and solver.progress is None
    for ours, reference in zip(concurrent, sequential):
        np.testing.assert_array_equal(ours, reference)
    assert _convergence_messages(caught) == sequential_messages


# ----------------------------------------------------------------------
# exp: bounded work
# ----------------------------------------------------------------------
def _oscillating_plane(**exp_options):
    space = Euclidean(2, equip=False)
    space.equip_with_metric(
        ConformalMetric,
        log_factor=lambda z: torch.sin(20 * z[..., 0]) + torch.sin(20 * z[..., 1]),
    )
    space.metric.exp_solver = GeodesicODESolver(space, **exp_options)
    return space


LONG_VELOCITY = gs.array([43.0 / math.sqrt(2.0), 43.0 / math.sqrt(2.0)])


def test_exp_stops_at_its_evaluation_budget():
    calls = []
    space = _oscillating_plane(max_evaluations=600)
    metric = space.metric
    acceleration = metric.geodesic_acceleration

    def counted(position, velocity):
        calls.append(1)
        return acceleration(position, velocity)

    metric.geodesic_acceleration = counted
    with pytest.raises(
        GeodesicConvergenceError, match=r"stopped at t=0\.0\d+ of t=1.*max_evaluations=600"
    ):
        metric.exp(LONG_VELOCITY, gs.zeros(2))
    # The budget is checked between steps: a DOP853 step (12 evaluations, 13 with
    # the error estimate's extra one) past it at most.
    assert 600 <= len(calls) <= 600 + 13 + 2


def test_exp_time_budget_warns_and_keeps_the_times_reached():
    space = _oscillating_plane(max_time=0.5, on_failure="warn")
    times = gs.array([0.0, 1e-4, 1.0])
    with pytest.warns(GeodesicConvergenceWarning, match=r"stopped at t=.* of t=1 .*max_time=0\.5"):
        path = as_numpy(
            space.metric.geodesic(initial_point=gs.zeros(2), initial_tangent_vec=LONG_VELOCITY)(
                times
            )
        )
    assert np.isnan(path[-1]).all() and np.isfinite(path[:-1]).all()
    unbounded = _oscillating_plane().metric.exp(1e-4 * LONG_VELOCITY, gs.zeros(2))
    np.testing.assert_allclose(path[1], as_numpy(unbounded), atol=1e-10)


def test_exp_of_long_velocities_on_the_half_plane_still_matches_geomstats(half_plane, hyperbolic):
    base = gs.array(random_half_plane_points(4, seed=31))
    velocity = gs.array(4.0 * np.random.default_rng(32).normal(size=(4, 2)))
    np.testing.assert_allclose(
        as_numpy(half_plane.metric.exp(velocity, base)),
        as_numpy(hyperbolic.metric.exp(velocity, base)),
        rtol=1e-7,
    )


@pytest.mark.parametrize(
    "options, match",
    [
        (dict(max_evaluations=0), "max_evaluations must be a positive integer, got 0"),
        (dict(max_evaluations=10.5), "max_evaluations must be a positive integer, got 10.5"),
        (dict(max_time=-1.0), r"max_time must be a finite number in \(0.0, inf\) or None"),
        (dict(rtol="1e-3"), "rtol must be a finite number"),
        (dict(atol=float("nan")), "atol must be a finite number"),
        (dict(method="Euler"), r"method must be one of \['DOP853'"),
        (dict(on_failure="maybe"), "on_failure must be one of"),
        (dict(tol=0.0), "tol must be a finite number"),
        (dict(velocity_rtol=-1e-8), "velocity_rtol must be a finite number"),
        (dict(sensitivity_directions=-1), "sensitivity_directions must be an integer >= 0"),
    ],
)
def test_exp_options_are_checked(half_plane, options, match):
    with pytest.raises(ValueError, match=match):
        GeodesicODESolver(half_plane, **options)


# ----------------------------------------------------------------------
# Geodesics from a velocity at bad times
# ----------------------------------------------------------------------
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_geodesic_from_velocity_refuses_non_finite_times(half_plane, bad):
    path = half_plane.metric.geodesic(
        initial_point=gs.array([0.0, 1.0]), initial_tangent_vec=gs.array([1.0, 0.0])
    )
    with pytest.raises(
        ValueError, match=re.escape(f"t must be finite: times [{bad}] at indices [0]")
    ):
        path(gs.array([bad, 0.5]))
    with pytest.raises(ValueError, match="1-D array of times"):
        path(gs.array([[0.5]]))


def test_sphere_geodesic_from_velocity_refuses_nan_times():
    sphere = Hypersphere(2, equip=False)
    sphere.equip_with_metric(ConformalMetric, log_factor=lambda z: torch.zeros_like(z[..., 0]))
    path = sphere.metric.geodesic(
        initial_point=gs.array([0.0, 0.0, 1.0]), initial_tangent_vec=gs.array([1.0, 0.0, 0.0])
    )
    # The great circle, at a finite time (e^0 = 1: the round sphere).
    np.testing.assert_allclose(
        as_numpy(path(gs.array([0.5])))[0], [math.sin(0.5), 0.0, math.cos(0.5)], atol=1e-9
    )
    with pytest.raises(ValueError, match=r"times \[nan\] at indices \[1\]"):
        path(gs.array([0.5, np.nan]))


# ----------------------------------------------------------------------
# The neural baseline reports what it did, and touches nothing of the user's
# ----------------------------------------------------------------------
def test_one_adam_step_is_not_reported_converged(half_plane, hyperbolic):
    start, end = gs.array([0.5, 0.5]), gs.array([1.5, 0.7])
    half_plane.metric.log_solver = NeuralGeodesicSolver(half_plane, n_steps=1)
    with pytest.warns(GeodesicConvergenceWarning, match="1 of 1 neural geodesics did not converge"):
        curve = half_plane.metric.log_solver.solve(end, start)
    assert not curve.converged
    # The one-step curve is a poor geodesic: 4% longer than the exact one.
    assert float(curve.dist) > 1.02 * float(hyperbolic.metric.dist(start, end))
    half_plane.metric.log_solver = NeuralGeodesicSolver(half_plane, n_steps=1, on_failure="raise")
    with pytest.raises(GeodesicConvergenceError, match="n_steps=1"):
        half_plane.metric.log_solver.solve(end, start)


def test_trained_neural_curves_are_reported_converged(half_plane, hyperbolic):
    start = gs.array([[0.0, 1.0], [0.5, 0.5]])
    end = gs.array([[1.0, 1.5], [1.5, 0.7]])
    half_plane.metric.log_solver = NeuralGeodesicSolver(half_plane, n_steps=100)
    curve = half_plane.metric.log_solver.solve(end, start)
    assert curve.converged.all()
    np.testing.assert_allclose(
        as_numpy(curve.dist), as_numpy(hyperbolic.metric.dist(start, end)), rtol=3e-3
    )
    # The velocity is the MLP's own derivative at 0 (piecewise linear in t):
    # its first chord's slope, and roughly the exact log.
    nodes = as_numpy(curve.nodes)
    np.testing.assert_allclose(
        as_numpy(curve.initial_velocity), (nodes[:, 1] - nodes[:, 0]) * 256, rtol=2e-2
    )
    np.testing.assert_allclose(
        as_numpy(curve.initial_velocity), as_numpy(hyperbolic.metric.log(end, start)), rtol=0.2
    )


def _user_network():
    torch.manual_seed(0)
    network = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh()).double()
    network.train()
    return network


def _untouched(network, saved):
    assert network.training
    for parameter, value in zip(network.parameters(), saved):
        assert parameter.grad is None
        assert parameter.requires_grad
        assert parameter.dtype == torch.float64 and parameter.device.type == "cpu"
        assert torch.equal(parameter.detach(), value)


@pytest.mark.parametrize("method", ["neural", "newton"])
def test_solvers_leave_a_users_network_alone(method):
    network = _user_network()
    saved = [p.detach().clone() for p in network.parameters()]
    options = dict(n_steps=20) if method == "neural" else dict(tol=1e-4)
    space = LatentSpace(
        lambda z: network(z),  # a plain callable: the latent space cannot freeze it
        dim=2,
        log_quality=Constant(0.5),
        lengths_in="samples",
        method=method,
        solver_options=dict(on_failure="ignore", **options),
    )
    start, end = gs.array([0.0, 0.2]), gs.array([0.5, -0.1])
    dist = float(as_numpy(space.metric.dist(start, end)))
    # Any curve's image is at least as long as the chord between the images.
    with torch.no_grad():
        chord = float(
            torch.linalg.norm(
                network(torch.tensor([0.5, -0.1], dtype=torch.float64))
                - network(torch.tensor([0.0, 0.2], dtype=torch.float64))
            )
        )
    assert dist >= LN2 * chord * (1 - 1e-6)
    _untouched(network, saved)


# ----------------------------------------------------------------------
# Options checked at every door
# ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "options, match",
    [
        (dict(max_iter=0), "max_iter must be a positive integer, got 0"),
        (dict(max_iter=-3), "max_iter must be a positive integer, got -3"),
        (dict(max_nodes=0), "max_nodes must be an integer >= 17, got 0"),
        (dict(max_nodes=9), "max_nodes must be an integer >= 17, got 9"),
        (dict(xtol=-1.0), r"xtol must be a finite number in \(0.0, inf\), got -1.0"),
        (dict(xtol=float("nan")), "xtol must be a finite number"),
        (dict(progress="yes"), "progress must be True, False or None, got 'yes'"),
        (dict(tol="1e-3"), "tol must be a finite number .* or None, got '1e-3'"),
        (dict(n_nodes=17.5), "n_nodes must be an integer >= 3, got 17.5"),
        (
            dict(hessian="exact"),
            r"hessian must be one of \['auto', 'blocks', 'gauss-newton', 'sobolev'\]",
        ),
        (
            dict(graph_options=dict(grid_size=0)),
            r"graph_options\['grid_size'\] must be an integer >= 2",
        ),
        (dict(graph_options=dict(margin=-1.0)), r"graph_options\['margin'\] must be"),
        (dict(graph_options=dict(n_neighbors=2.5)), r"graph_options\['n_neighbors'\] must be"),
        (dict(initialization="random"), "initialization must be one of"),
        (dict(on_failure=None), "on_failure must be one of"),
    ],
)
def test_newton_options_are_checked(half_plane, options, match):
    with pytest.raises(ValueError, match=match):
        NewtonGeodesicSolver(half_plane, **options)


@pytest.mark.parametrize(
    "options, match",
    [
        (dict(n_steps=0), "n_steps must be a positive integer, got 0"),
        (dict(n_points=1), "n_points must be an integer >= 2, got 1"),
        (dict(lr="0.1"), "lr must be a finite number"),
        (dict(lr=0.0), "lr must be a finite number"),
        (dict(betas=(0.9, 1.0)), r"betas must be a pair of numbers in \[0, 1\)"),
        (dict(hidden=(10, 0)), r"hidden\[1\] must be a positive integer, got 0"),
        (dict(n_nodes=2.0), "n_nodes must be an integer >= 2, got 2.0"),
        (dict(rtol=-1e-3), "rtol must be a finite number"),
        (dict(progress=1), "progress must be True, False or None, got 1"),
        (dict(on_failure="stop"), "on_failure must be one of"),
    ],
)
def test_neural_options_are_checked(half_plane, options, match):
    with pytest.raises(ValueError, match=match):
        NeuralGeodesicSolver(half_plane, **options)


def test_manifold_solver_options_are_checked():
    sphere = Hypersphere(2)
    with pytest.raises(ValueError, match=r"gtol must be a finite number in \(0.0, inf\), got 0"):
        ManifoldGeodesicSolver(sphere, gtol=0)
    with pytest.raises(ValueError, match="max_iter must be a positive integer, got True"):
        ManifoldGeodesicSolver(sphere, max_iter=True)


def test_float32_factor_is_refused_with_the_remedy():
    space = Euclidean(2, equip=False)
    space.equip_with_metric(ConformalMetric, log_factor=lambda z: z[..., 0].float() ** 2)
    with pytest.raises(
        ValueError, match="log_factor must return float64 values .* got torch.float32"
    ):
        space.metric.dist(gs.array([0.0, 1.0]), gs.array([1.0, 0.0]))
    space.equip_with_metric(
        DensityConformalMetric,
        log_quality=lambda z: -torch.ones_like(z[..., 0], dtype=torch.float32),
    )
    with pytest.raises(ValueError, match="log_quality must return float64 values"):
        space.metric.dist(gs.array([0.0, 1.0]), gs.array([1.0, 0.0]))


# ----------------------------------------------------------------------
# Gradients where the geodesic equation needs them
# ----------------------------------------------------------------------
def test_christoffels_and_geodesic_equation_name_a_point_without_gradient():
    space = Euclidean(2, equip=False)
    space.equip_with_metric(ConformalMetric, log_factor=lambda z: -torch.sqrt((z * z).sum(-1)))
    points = gs.array([[1.0, 0.0], [0.0, 0.0]])
    with pytest.raises(
        DomainError, match=r"gradient of log_factor is not finite .* at point \[0.0, 0.0\]"
    ):
        space.metric.christoffels(points)
    with pytest.raises(DomainError, match=r"at point \[0.0, 0.0\]"):
        space.metric.geodesic_equation(gs.array([[0.0, 0.0], [1.0, 1.0]]))
    # Away from 0 the closed form:
    # Gamma^k_ij = (delta_ki d_j f + delta_kj d_i f - delta_ij d_k f) / 2,
    # grad f = -z / |z| = (-1, 0) at (1, 0).
    gamma = as_numpy(space.metric.christoffels(points[0]))
    grad = np.array([-1.0, 0.0])
    eye = np.eye(2)
    expected = 0.5 * (
        eye[:, :, None] * grad[None, None, :]
        + eye[:, None, :] * grad[None, :, None]
        - eye[None, :, :] * grad[:, None, None]
    )
    np.testing.assert_allclose(gamma, expected, atol=1e-15)
