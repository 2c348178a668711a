"""Fuzz: random factors, endpoints, batch shapes and options, under small budgets.

Every example ends in one of three ways, never another:

* a correct answer: finite, not flagged, and right where a closed form is known
  (a constant factor ``e^c``: ``dist = e^(c/2) |b - a|`` and ``exp(v, a) = a + v``;
  a factor (or a quality's ``log(Q)^2``) between ``e^lo`` and ``e^hi`` on the
  plane: ``e^(lo/2) |b - a| <= dist <= e^(hi/2) |b - a|``; the hyperbolic
  half-plane: geomstats' closed forms);
* a flagged answer: ``converged`` False or a
  :class:`~geomstats_density.GeodesicConvergenceWarning`;
* a clear exception: :class:`~geomstats_density.DomainError`,
  :class:`ValueError` or :class:`~geomstats_density.GeodesicConvergenceError`,
  with a message.

Never NaN unflagged, never a hang: every solve runs under small iteration,
node and evaluation budgets, and hypothesis' deadline fails an example that
takes too long. The examples are derandomized, so the run is reproducible.
"""

import math
import warnings
from datetime import timedelta

import geomstats.backend as gs
import numpy as np
import torch
from conftest import as_numpy, half_plane_log_factor
from geomstats.geometry.euclidean import Euclidean
from geomstats.geometry.poincare_half_space import PoincareHalfSpace
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from geomstats_density import (
    ConformalMetric,
    DensityConformalMetric,
    DomainError,
    GeodesicConvergenceError,
    GeodesicConvergenceWarning,
    GeodesicODESolver,
    NeuralGeodesicSolver,
    NewtonGeodesicSolver,
)

FUZZ = settings(
    max_examples=40,
    deadline=timedelta(seconds=20),
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
# Small budgets: a solve that would run long is cut and reported instead.
NEWTON_BUDGET = dict(n_nodes=9, tol=1e-6, max_nodes=65, max_iter=40, initialization="line")
EXP_BUDGET = dict(max_evaluations=3000)
CLEAR_EXCEPTIONS = (DomainError, ValueError, GeodesicConvergenceError)


def _plane(log_factor, **solver_options):
    space = Euclidean(2, equip=False)
    space.equip_with_metric(
        ConformalMetric, log_factor=log_factor, solver_options={**NEWTON_BUDGET, **solver_options}
    )
    space.metric.exp_solver = GeodesicODESolver(space, **EXP_BUDGET)
    return space


class Outcome:
    """How a call ended: its value, or the exception; flagged or not."""

    def __init__(self, call):
        self.value, self.error = None, None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                self.value = call()
            except CLEAR_EXCEPTIONS as error:
                self.error = error
        self.warned = any(issubclass(w.category, GeodesicConvergenceWarning) for w in caught)
        if self.error is not None:
            assert str(self.error), f"{type(self.error).__name__} without a message"
            event(f"raised {type(self.error).__name__}")

    @property
    def answered(self):
        return self.error is None

    def check_answer(self, values, converged=None):
        """Return True if the answer stands unflagged (so it must be right)."""
        flagged = self.warned or (converged is not None and not np.all(converged))
        event("flagged" if flagged else "answered")
        if not flagged:
            assert np.all(np.isfinite(values)), f"NaN or inf returned unflagged: {values}"
        return not flagged


def _points(draw, shape, low=-2.0, high=2.0):
    size = int(np.prod(shape, dtype=int)) * 2
    flat = draw(st.lists(st.floats(low, high), min_size=size, max_size=size))
    return np.asarray(flat, dtype=float).reshape(*shape, 2)


@st.composite
def endpoint_batches(draw, scale=1.0):
    """Endpoints ``a``, ``b`` of broadcastable batch shapes, times ``scale``.

    Pairs are at least ``0.1 scale`` apart, or equal (distance 0) where drawn so.
    """
    shape = draw(st.sampled_from([(), (1,), (3,), (2, 2)]))
    start = _points(draw, shape)
    end_shape = draw(st.sampled_from([shape, shape[1:] if shape else ()]))
    end = _points(draw, end_shape)
    start_b, end_b = np.broadcast_arrays(start, end)
    apart = np.linalg.norm(end_b - start_b, axis=-1)
    end_b = np.where((apart < 0.1)[..., None], start_b + np.array([0.3, -0.2]), end_b)
    if start_b.ndim > 1 and draw(st.booleans()):
        end_b[0] = start_b[0]
    return scale * start_b, scale * end_b


# ----------------------------------------------------------------------
# Constant factors: the closed form
# ----------------------------------------------------------------------
@FUZZ
@given(shift=st.floats(-8.0, 8.0), endpoints=endpoint_batches())
def test_constant_factor_distance(shift, endpoints):
    start, end = endpoints
    space = _plane(lambda z: torch.full(z.shape[:-1], shift, dtype=z.dtype))
    outcome = Outcome(lambda: space.metric.log_solver.solve(gs.array(end), gs.array(start)))
    assert outcome.answered, outcome.error
    curve = outcome.value
    dist = as_numpy(curve.dist)
    if outcome.check_answer(dist, curve.converged):
        exact = math.exp(shift / 2) * np.linalg.norm(end - start, axis=-1)
        np.testing.assert_allclose(dist, exact, rtol=1e-6)


@FUZZ
@given(shift=st.sampled_from([-60.0, -30.0, 30.0, 60.0]), endpoints=endpoint_batches())
def test_extreme_constant_shifts(shift, endpoints):
    start, end = endpoints
    space = _plane(lambda z: torch.full(z.shape[:-1], shift, dtype=z.dtype))
    outcome = Outcome(lambda: space.metric.log_solver.solve(gs.array(end), gs.array(start)))
    if not outcome.answered:
        return
    curve = outcome.value
    dist = as_numpy(curve.dist)
    if outcome.check_answer(dist, curve.converged):
        exact = math.exp(shift / 2) * np.linalg.norm(end - start, axis=-1)
        np.testing.assert_allclose(dist, exact, rtol=1e-6)


@FUZZ
@given(
    scale=st.sampled_from([1e-6, 1e-3, 1e3, 1e6]),
    shift=st.floats(-3.0, 3.0),
    data=st.data(),
)
def test_constant_factor_at_extreme_coordinate_scales(scale, shift, data):
    start, end = data.draw(endpoint_batches(scale=scale))
    space = _plane(lambda z: torch.full(z.shape[:-1], shift, dtype=z.dtype))
    outcome = Outcome(lambda: space.metric.log_solver.solve(gs.array(end), gs.array(start)))
    if not outcome.answered:
        return
    curve = outcome.value
    dist = as_numpy(curve.dist)
    if outcome.check_answer(dist, curve.converged):
        exact = math.exp(shift / 2) * np.linalg.norm(end - start, axis=-1)
        np.testing.assert_allclose(dist, exact, rtol=1e-6)


@FUZZ
@given(
    shift=st.floats(-20.0, 20.0),
    base=st.tuples(st.floats(-3, 3), st.floats(-3, 3)),
    velocity=st.tuples(st.floats(-50, 50), st.floats(-50, 50)),
)
def test_constant_factor_exp_is_a_straight_line(shift, base, velocity):
    space = _plane(lambda z: torch.full(z.shape[:-1], shift, dtype=z.dtype))
    base, velocity = np.array(base), np.array(velocity)
    outcome = Outcome(lambda: space.metric.exp(gs.array(velocity), gs.array(base)))
    assert outcome.answered, outcome.error
    np.testing.assert_allclose(as_numpy(outcome.value), base + velocity, rtol=1e-9, atol=1e-9)


# ----------------------------------------------------------------------
# Hyperbolic half-plane: geomstats' closed forms
# ----------------------------------------------------------------------
@FUZZ
@given(
    base=st.tuples(st.floats(-2, 2), st.floats(0.2, 3.0)),
    # geomstats' closed form itself loses digits beyond (e^17 for a vertical
    # geodesic from height 1 is off by 0.4%, e^19 is inf).
    velocity=st.tuples(st.floats(-8, 8), st.floats(-8, 8)),
    max_evaluations=st.integers(1, 1500),
)
def test_half_plane_exp_is_right_or_stops_in_budget(base, velocity, max_evaluations):
    space = Euclidean(2, equip=False)
    space.equip_with_metric(ConformalMetric, log_factor=half_plane_log_factor)
    space.metric.exp_solver = GeodesicODESolver(space, max_evaluations=max_evaluations)
    base, velocity = gs.array(base), gs.array(velocity)
    outcome = Outcome(lambda: space.metric.exp(velocity, base))
    if not outcome.answered:
        assert isinstance(outcome.error, (GeodesicConvergenceError, DomainError))
        assert "max_evaluations" in str(outcome.error) or "domain" in str(outcome.error)
        return
    exact = as_numpy(PoincareHalfSpace(2).metric.exp(velocity, base))
    np.testing.assert_allclose(as_numpy(outcome.value), exact, rtol=1e-6, atol=1e-9)


@FUZZ
@given(
    start=st.tuples(st.floats(-3, 3), st.floats(0.05, 5.0)),
    end=st.tuples(st.floats(-3, 3), st.floats(0.05, 5.0)),
    n_nodes=st.integers(3, 17),
    tol=st.sampled_from([1e-4, 1e-6, 1e-8]),
)
def test_half_plane_distance_is_right_or_flagged(start, end, n_nodes, tol):
    space = Euclidean(2, equip=False)
    space.equip_with_metric(
        ConformalMetric,
        log_factor=half_plane_log_factor,
        solver_options=dict(n_nodes=n_nodes, tol=tol, max_nodes=257, max_iter=40),
    )
    start, end = gs.array(start), gs.array(end)
    outcome = Outcome(lambda: space.metric.log_solver.solve(end, start))
    if not outcome.answered:
        return
    curve = outcome.value
    dist = as_numpy(curve.dist)
    if outcome.check_answer(dist, curve.converged):
        exact = as_numpy(PoincareHalfSpace(2).metric.dist(start, end))
        np.testing.assert_allclose(dist, exact, rtol=10 * tol, atol=1e-12)


@FUZZ
@given(
    start_x=st.floats(-3, 3),
    end_x=st.floats(-3, 3),
    height=st.floats(0.02, 0.1),
    n_nodes=st.integers(3, 5),
)
def test_half_plane_refinement_stays_in_the_domain(start_x, end_x, height, n_nodes):
    space = Euclidean(2, equip=False)
    space.equip_with_metric(
        ConformalMetric,
        log_factor=half_plane_log_factor,
        solver_options=dict(n_nodes=n_nodes, tol=1e-4, max_nodes=257, max_iter=40),
    )
    start, end = gs.array([start_x, height]), gs.array([end_x, height])
    outcome = Outcome(lambda: space.metric.log_solver.solve(end, start))
    assert not isinstance(outcome.error, DomainError), outcome.error


@FUZZ
@given(
    times=st.lists(
        st.one_of(st.floats(-2, 2), st.just(math.nan), st.just(math.inf)), min_size=1, max_size=5
    )
)
def test_geodesic_times(times, half_plane):
    path = half_plane.metric.geodesic(
        initial_point=gs.array([0.0, 1.0]), initial_tangent_vec=gs.array([0.5, 0.3])
    )
    outcome = Outcome(lambda: path(gs.array(times)))
    if all(math.isfinite(t) for t in times):
        assert outcome.answered, outcome.error
        exact = PoincareHalfSpace(2).metric.geodesic(
            initial_point=gs.array([0.0, 1.0]), initial_tangent_vec=gs.array([0.5, 0.3])
        )(gs.array(times))
        np.testing.assert_allclose(as_numpy(outcome.value), as_numpy(exact), rtol=1e-7, atol=1e-12)
    else:
        assert isinstance(outcome.error, ValueError) and "t must be finite" in str(outcome.error)


# ----------------------------------------------------------------------
# Bounded factors with kinks, steps and NaN regions: bounds from the extremes
# ----------------------------------------------------------------------
FEATURES = {
    # name: (torch function of z, lower bound, upper bound)
    "sin": (lambda z: torch.sin(3 * z[..., 0]) * torch.cos(2 * z[..., 1]), -1.0, 1.0),
    "abs": (lambda z: torch.clamp(torch.abs(z[..., 0] - 0.3), max=1.0), 0.0, 1.0),
    "max": (lambda z: torch.clamp(torch.maximum(z[..., 0], z[..., 1]), -1.0, 1.0), -1.0, 1.0),
    "clamp": (lambda z: torch.clamp(z[..., 0] + z[..., 1], -0.5, 0.5), -0.5, 0.5),
    "step": (lambda z: (z[..., 1] > 0.1).to(z.dtype), 0.0, 1.0),
    "bump": (lambda z: torch.exp(-4 * (z * z).sum(-1)), 0.0, 1.0),
}


FEATURE_NAMES = tuple(sorted(FEATURES))


@st.composite
def bounded_factors(draw, features=FEATURE_NAMES):
    """A sum of weighted ``features`` plus a shift, with its lower and upper bounds."""
    names = draw(st.lists(st.sampled_from(features), min_size=1, max_size=3))
    weights = [draw(st.floats(-6.0, 6.0)) for _ in names]
    shift = draw(st.floats(-5.0, 5.0))
    low, high = shift, shift
    for name, weight in zip(names, weights):
        _, lo, hi = FEATURES[name]
        low += min(weight * lo, weight * hi)
        high += max(weight * lo, weight * hi)

    def log_factor(z):
        total = torch.full(z.shape[:-1], shift, dtype=z.dtype)
        for name, weight in zip(names, weights):
            total = total + weight * FEATURES[name][0](z)
        return total

    return log_factor, low, high, names


KINKED = ("abs", "clamp", "max", "step")
SMOOTH = tuple(sorted(set(FEATURES) - set(KINKED)))


def _bounded_case(factor, endpoints, on_failure):
    log_factor, low, high, names = factor
    start, end = endpoints
    space = _plane(log_factor, on_failure=on_failure)
    outcome = Outcome(lambda: space.metric.log_solver.solve(gs.array(end), gs.array(start)))
    if not outcome.answered:
        return
    curve = outcome.value
    dist = as_numpy(curve.dist)
    if outcome.check_answer(dist, curve.converged):
        chord = np.linalg.norm(end - start, axis=-1)
        assert np.all(dist >= math.exp(low / 2) * chord * (1 - 1e-6)), (names, dist)
        assert np.all(dist <= math.exp(high / 2) * chord * (1 + 1e-6)), (names, dist)


@FUZZ
@given(
    factor=bounded_factors(SMOOTH),
    endpoints=endpoint_batches(),
    on_failure=st.sampled_from(["warn", "ignore", "raise"]),
)
def test_smooth_bounded_factors(factor, endpoints, on_failure):
    _bounded_case(factor, endpoints, on_failure)


@FUZZ
@given(
    factor=bounded_factors(KINKED),
    endpoints=endpoint_batches(),
    on_failure=st.sampled_from(["warn", "ignore", "raise"]),
)
def test_kinked_and_stepped_factors(factor, endpoints, on_failure):
    _bounded_case(factor, endpoints, on_failure)


@FUZZ
@given(
    factor=bounded_factors(),
    hole=st.tuples(st.floats(-1.5, 1.5), st.floats(-1.5, 1.5), st.floats(0.1, 0.8)),
    endpoints=endpoint_batches(),
)
def test_factors_with_nan_regions(factor, hole, endpoints):
    log_factor, low, high, names = factor
    centre, radius = torch.tensor(hole[:2], dtype=torch.float64), hole[2]

    def with_hole(z):
        inside = ((z - centre) ** 2).sum(-1) < radius**2
        return torch.where(inside, torch.nan, log_factor(z))

    start, end = endpoints
    space = _plane(with_hole)
    outcome = Outcome(lambda: space.metric.log_solver.solve(gs.array(end), gs.array(start)))
    if not outcome.answered:
        return
    curve = outcome.value
    dist = as_numpy(curve.dist)
    if outcome.check_answer(dist, curve.converged):
        chord = np.linalg.norm(end - start, axis=-1)
        assert np.all(dist >= math.exp(low / 2) * chord * (1 - 1e-6)), (names, dist)
        # The returned curve avoids the hole: its nodes are all in the domain.
        nodes = torch.from_numpy(as_numpy(curve.nodes))
        assert torch.isfinite(with_hole(nodes)).all()


@FUZZ
@given(factor=bounded_factors(), endpoints=endpoint_batches())
def test_random_qualities(factor, endpoints):
    """``log Q = -e^(f/2)`` for a bounded ``f``, or ``log Q`` that reaches 0 (``Q = 1``)."""
    log_factor, low, high, names = factor
    start, end = endpoints
    space = Euclidean(2, equip=False)
    # Where f > high - 0.5 the quality is 1 there: outside the domain when f reaches it.
    cut = high - 0.5 if "step" in names else math.inf

    def log_quality(z):
        f = log_factor(z)
        return torch.where(f > cut, torch.zeros_like(f), -torch.exp(0.5 * f))

    space.equip_with_metric(
        DensityConformalMetric, log_quality=log_quality, solver_options=NEWTON_BUDGET
    )
    outcome = Outcome(lambda: space.metric.log_solver.solve(gs.array(end), gs.array(start)))
    if not outcome.answered:
        return
    curve = outcome.value
    dist = as_numpy(curve.dist)
    if outcome.check_answer(dist, curve.converged):
        # log(Q)^2 = e^f: the factor's bounds.
        chord = np.linalg.norm(end - start, axis=-1)
        assert np.all(dist >= math.exp(low / 2) * chord * (1 - 1e-6)), (names, dist)
        if math.isinf(cut):
            assert np.all(dist <= math.exp(high / 2) * chord * (1 + 1e-6)), (names, dist)


# ----------------------------------------------------------------------
# Options: accepted and used, or refused by name
# ----------------------------------------------------------------------
OPTION_VALUES = {
    "n_nodes": st.one_of(st.integers(-2, 20), st.floats(-1, 20), st.just("9")),
    "tol": st.one_of(st.none(), st.floats(-1e-3, 1e-2), st.just(math.nan), st.just("1e-3")),
    "max_nodes": st.one_of(st.integers(-5, 70), st.just(65.0)),
    "max_iter": st.one_of(st.integers(-2, 30), st.just(10.5)),
    "xtol": st.one_of(st.floats(-1, 1e-3), st.just(math.nan), st.just(None)),
    "progress": st.sampled_from([None, False, True, "yes", 0]),
    "on_failure": st.sampled_from(["warn", "ignore", "raise", "maybe"]),
    "initialization": st.sampled_from(["line", "grid", "random"]),
    "graph_options": st.one_of(
        st.fixed_dictionaries({"grid_size": st.integers(-1, 9)}),
        st.fixed_dictionaries({"margin": st.floats(-1, 1)}),
    ),
}


@FUZZ
@given(
    options=st.fixed_dictionaries({}, optional=OPTION_VALUES),
    shift=st.floats(-3.0, 3.0),
)
def test_options_are_used_or_refused_by_name(options, shift):
    space = _plane(lambda z: torch.full(z.shape[:-1], shift, dtype=z.dtype))
    try:
        solver = NewtonGeodesicSolver(space, **{**NEWTON_BUDGET, **options})
    except ValueError as error:
        assert any(name in str(error) for name in options), (options, str(error))
        return
    start, end = gs.array([[0.0, 0.0], [1.0, -1.0]]), gs.array([[1.0, 2.0], [0.5, 0.5]])
    outcome = Outcome(lambda: solver.solve(end, start))
    if not outcome.answered:
        assert isinstance(outcome.error, GeodesicConvergenceError), outcome.error
        return
    curve = outcome.value
    dist = as_numpy(curve.dist)
    if outcome.check_answer(dist, curve.converged):
        exact = math.exp(shift / 2) * np.linalg.norm(as_numpy(end) - as_numpy(start), axis=-1)
        # tol=None returns the plain discrete length: exact on straight lines too.
        np.testing.assert_allclose(dist, exact, rtol=max(1e-6, 10 * (solver.tol or 0)))


@settings(FUZZ, max_examples=6)
@given(
    shift=st.floats(-3.0, 3.0),
    n_steps=st.integers(1, 30),
    lr=st.floats(1e-3, 0.2),
)
def test_neural_baseline_is_right_or_flagged(shift, n_steps, lr):
    space = _plane(lambda z: torch.full(z.shape[:-1], shift, dtype=z.dtype))
    solver = NeuralGeodesicSolver(space, hidden=(16, 16), n_steps=n_steps, lr=lr, n_nodes=33)
    start, end = gs.array([0.0, 1.0]), gs.array([1.0, 0.0])
    outcome = Outcome(lambda: solver.solve(end, start))
    assert outcome.answered, outcome.error
    curve = outcome.value
    dist = float(as_numpy(curve.dist))
    exact = math.exp(shift / 2) * math.sqrt(2.0)
    # Any curve is at least as long as the geodesic.
    assert dist >= exact * (1 - 1e-9)
    if outcome.check_answer(dist, curve.converged):
        np.testing.assert_allclose(dist, exact, rtol=1e-2)
