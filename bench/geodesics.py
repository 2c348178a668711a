#!/usr/bin/env python
"""Geodesic distance solvers compared: time and accuracy on problems with exact answers.

Problems: the hyperbolic half-plane (random pairs, near and far; reference:
geomstats' closed form ``PoincareHalfSpace(2).metric.dist``) and the paper's
Examples 1-4 (Struski et al., exact lengths known in closed form).

Methods, all run on the same metric object (``space.metric``):

* ours: ``metric.dist`` with the default :class:`NewtonGeodesicSolver`, plus a few
  other tolerances and starts, listed in each row;
* the paper's baseline: ``NeuralGeodesicSolver`` (``method="neural"``), its
  configuration chosen per problem as the most accurate of a grid inside the
  paper's ranges (20-50 points, 100-500 Adam steps, lr 1e-3 to 0.2);
* geomstats' generic solvers: ``LogShootingSolver`` through an autodiff-able
  ``ExpODESolver`` (RK4), and ``PathStraightening``, each with the most accurate of
  a few discretisations. Their distance is ``norm(log)``, which is what
  ``RiemannianMetric.dist`` computes; for path straightening the length of its
  discrete path is reported as well.

Run ``python bench/geodesics.py [--quick] [--out FILE.md]``; see bench/README.md.
The pytorch backend of geomstats is required (its solvers differentiate through
the metric); it is selected here when ``GEOMSTATS_BACKEND`` is unset.
"""

import os

os.environ.setdefault("GEOMSTATS_BACKEND", "pytorch")

import argparse  # noqa: E402
import inspect  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import geomstats  # noqa: E402
import geomstats.backend as gs  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from geomstats.geometry.euclidean import Euclidean  # noqa: E402
from geomstats.geometry.poincare_half_space import PoincareHalfSpace  # noqa: E402
from geomstats.numerics.geodesic import (  # noqa: E402
    ExpODESolver,
    LogShootingSolver,
    PathStraightening,
)
from geomstats.numerics.ivp import GSIVPIntegrator  # noqa: E402

import geomstats_density  # noqa: E402
from geomstats_density import (  # noqa: E402
    ConformalMetric,
    DensityConformalMetric,
    NeuralGeodesicSolver,
    NewtonGeodesicSolver,
)
from geomstats_density.curves import DiscreteCurve  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from paper_problems import EXACT_LENGTHS  # noqa: E402

LN2 = math.log(2.0)
E3 = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)

# Errors at or below this are float noise: such errors count as equal.
ERROR_FLOOR = 1e-12
# Settings for the kinked qualities of Examples 3 and 4 (no second-order
# convergence there, so no Richardson refinement either).
KINK_OPTIONS = dict(tol=None, n_nodes=65, max_iter=300, on_failure="ignore")
HAS_GRID_START = "initialization" in inspect.signature(NewtonGeodesicSolver.__init__).parameters


# ----------------------------------------------------------------------------
# Problems
# ----------------------------------------------------------------------------
def smooth_norm(z):
    """Euclidean norm over the last axis, twice differentiable with finite derivatives at 0.

    ``torch.linalg.vector_norm`` has a NaN gradient at 0, and Example 3's straight line
    runs through the origin. ``sqrt(|z|^2 + eps)`` has gradient 0 there but curvature
    ``1 / sqrt(eps)``: 1e-300 would put 1e150 in the Hessian at a node on the origin
    (the Newton solver then breaks down), so eps = 1e-12, which moves |z| by at most
    1e-6, at the origin only (5e-13 relative on the unit circle the geodesic follows).
    """
    return torch.sqrt((z * z).sum(-1) + 1e-12)


def half_plane_log_factor(z):
    return -2.0 * torch.log(z[..., 1])


def constant_log_quality(z):
    return torch.full(z.shape[:-1], -LN2, dtype=z.dtype) + 0.0 * z.sum(-1)


def sphere_phi(z):
    """Example 2: central projection of the plane z_3 = 0 onto the unit sphere around e3."""
    lifted = torch.cat([z, torch.zeros_like(z[..., :1])], dim=-1) - E3
    return E3 + lifted / smooth_norm(lifted)[..., None]


def disk_log_quality(z):
    """Example 3: Q = 1/2 exp(-5 max(0, 1 - |z|))."""
    return -LN2 - 5.0 * torch.clamp(1.0 - smooth_norm(z), min=0.0)


def cube_log_quality(z):
    """Example 4: Q = 1/2 exp(-50 |1 - max_i |z_i||)."""
    return -LN2 - 50.0 * torch.abs(1.0 - z.abs().amax(dim=-1))


def arc_length_nodes(points, n_nodes):
    """Resample a polyline at ``n_nodes`` points evenly spaced in Euclidean length."""
    seg = np.linalg.norm(np.diff(points, axis=0), axis=-1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    s = np.linspace(0.0, cum[-1], n_nodes)
    return np.stack([np.interp(s, cum, points[:, j]) for j in range(points.shape[1])], -1)


def cube_projected_start(n_nodes):
    """Example 4: the straight line from (0,0,1) to (1,0,0) projected radially onto the cube."""
    t = np.linspace(0.0, 1.0, 2049)[:, None]
    line = (1 - t) * np.array([0.0, 0.0, 1.0]) + t * np.array([1.0, 0.0, 0.0])
    return arc_length_nodes(line / np.abs(line).max(-1, keepdims=True), n_nodes)


def upper_semicircle_start(n_nodes):
    """Example 3: the upper half of the circle of radius 1.3 (breaks the line's symmetry)."""
    t = np.linspace(0.0, 1.0, 2049)
    arc = np.stack([-1.3 * np.cos(np.pi * t), 1.3 * np.sin(np.pi * t)], -1)
    return arc_length_nodes(arc, n_nodes)


@dataclass
class Problem:
    key: str
    label: str
    dim: int
    metric_class: type
    metric_kwargs: dict
    start: np.ndarray
    end: np.ndarray
    exact: float
    kinked: bool = False
    good_start: object = None  # callable n_nodes -> nodes [n_nodes, dim], or None
    good_start_label: str = ""
    space: object = field(default=None, repr=False)

    def build(self):
        self.space = Euclidean(self.dim, equip=False)
        self.space.equip_with_metric(self.metric_class, **self.metric_kwargs)
        return self

    @property
    def metric(self):
        return self.space.metric

    @property
    def a(self):
        return gs.array(self.start)

    @property
    def b(self):
        return gs.array(self.end)


def half_plane_pairs(n_near, n_far, seed=0):
    """Random pairs of the upper half-plane: near (distance ~0.1-0.4) and far (~2.5-6)."""
    rng = np.random.default_rng(seed)
    pairs = []
    for kind, count in (("near", n_near), ("far", n_far)):
        for _ in range(count):
            if kind == "near":
                a = np.array([rng.uniform(-1, 1), rng.uniform(0.5, 2.0)])
                angle = rng.uniform(0, 2 * np.pi)
                b = a + a[1] * rng.uniform(0.1, 0.4) * np.array([np.cos(angle), np.sin(angle)])
            else:
                a = np.array([rng.uniform(-1, 1), rng.uniform(0.2, 1.0)])
                b = np.array([a[0] + rng.uniform(2.0, 5.0), a[1] * rng.uniform(0.2, 5.0)])
            pairs.append((kind, a, b))
    return pairs


def make_problems(quick):
    problems = []
    reference = PoincareHalfSpace(2).metric
    for i, (kind, a, b) in enumerate(half_plane_pairs(1 if quick else 2, 1 if quick else 2)):
        exact = float(reference.dist(gs.array(a), gs.array(b)))
        problems.append(
            Problem(
                key=f"H2-{kind}-{i}",
                label=f"H2 {kind} #{i} (d={exact:.3f})",
                dim=2,
                metric_class=ConformalMetric,
                metric_kwargs=dict(log_factor=half_plane_log_factor),
                start=a,
                end=b,
                exact=exact,
            )
        )
    problems += [
        Problem(
            "Ex1",
            "Ex1 plane, Q=1/2",
            2,
            DensityConformalMetric,
            dict(log_quality=constant_log_quality),
            np.array([0.0, 1.0]),
            np.array([1.0, 0.0]),
            LN2 * math.sqrt(2.0),
        ),
        Problem(
            "Ex2",
            "Ex2 plane->sphere",
            2,
            DensityConformalMetric,
            dict(log_quality=constant_log_quality, phi=sphere_phi),
            np.array([0.0, 1.0]),
            np.array([1.0, 0.0]),
            LN2 * math.pi / 3.0,
        ),
        Problem(
            "Ex3",
            "Ex3 disk cut out",
            2,
            DensityConformalMetric,
            dict(log_quality=disk_log_quality),
            np.array([-1.3, 0.0]),
            np.array([1.3, 0.0]),
            LN2 * (2 * math.sqrt(1.3**2 - 1) + math.pi - 2 * math.acos(1 / 1.3)),
            kinked=True,
            good_start=upper_semicircle_start,
            good_start_label="upper semicircle of radius 1.3",
        ),
        Problem(
            "Ex4",
            "Ex4 cube surface",
            3,
            DensityConformalMetric,
            dict(log_quality=cube_log_quality),
            np.array([0.0, 0.0, 1.0]),
            np.array([1.0, 0.0, 0.0]),
            EXACT_LENGTHS[4],
            kinked=True,
            good_start=cube_projected_start,
            good_start_label="line projected radially onto the cube",
        ),
    ]
    return [p.build() for p in problems]


# ----------------------------------------------------------------------------
# Methods: each is a label, a configuration string and a zero-argument callable
# returning {estimate name: distance}, plus optional notes.
# ----------------------------------------------------------------------------
@dataclass
class Method:
    family: str  # "ours", "neural", "shooting", "path-straightening"
    label: str
    config: str
    run: object
    outputs: tuple = ("dist",)
    # Where the method starts: "line" (straight line or its velocity), "grid" (our
    # grid-graph start), "given" (the problem's hand-made start curve, which on
    # Ex4 is the answer itself) or "own" (the neural baseline's random MLP).
    start: str = "line"
    params: dict = field(default_factory=dict)
    state: dict = field(default_factory=dict)
    check: object = None  # optional untimed sanity check after the runs: note or ""


def _to_float(x):
    return float(x.detach()) if isinstance(x, torch.Tensor) else float(x)


def ours_method(
    problem, label, options=None, start=None, start_label="straight line", start_class="line"
):
    metric = problem.metric
    if options is None:
        solver = None
        config = "default options (n_nodes=17, tol=1e-8)"
    else:
        solver = NewtonGeodesicSolver(problem.space, **options)
        config = ", ".join(f"{k}={v!r}" for k, v in options.items())
    config += f"; start: {start_label}"
    initial = None if start is None else start(257)

    def run():
        if solver is None and initial is None:
            # The user's call: metric.dist with the metric's own default solver.
            return {"dist": _to_float(metric.dist(problem.a, problem.b))}
        saved = metric.log_solver
        if solver is not None:
            metric.log_solver = solver
        try:
            curve = metric.log_solver.solve(problem.b, problem.a, initial_curve=initial)
        finally:
            metric.log_solver = saved
        method.state["converged"] = bool(np.all(curve.converged))
        return {"dist": _to_float(curve.dist)}

    method = Method("ours", label, config, run, start=start_class)
    return method


def neural_method(problem, n_points, n_steps, lr):
    metric = problem.metric
    solver = NeuralGeodesicSolver(problem.space, n_points=n_points, n_steps=n_steps, lr=lr)

    def run():
        saved = metric.log_solver
        metric.log_solver = solver
        try:
            return {"dist": _to_float(metric.dist(problem.a, problem.b))}
        finally:
            metric.log_solver = saved

    config = f"n_points={n_points}, n_steps={n_steps}, lr={lr:g}, hidden=(100,100,100)"
    return Method("neural", "neural baseline (paper)", config, run, start="own")


def shooting_method(problem, n_steps, use_start):
    metric, space = problem.metric, problem.space
    exp_solver = ExpODESolver(space, integrator=GSIVPIntegrator(n_steps=n_steps, step_type="rk4"))
    initialization = None
    start_label = "linear (point - base_point)"
    given = use_start and problem.good_start is not None
    if given:
        nodes = problem.good_start(1025)
        velocity = gs.array((nodes.shape[0] - 1) * (nodes[1] - nodes[0]))
        initialization = lambda point, base_point: gs.flatten(velocity)  # noqa: E731
        start_label = f"velocity of the {problem.good_start_label}"
    log_solver = LogShootingSolver(space, initialization=initialization)

    def run():
        saved = metric.exp_solver, metric.log_solver
        metric.exp_solver, metric.log_solver = exp_solver, log_solver
        try:
            a = problem.a
            log = metric.log(problem.b, a)
            method.state["log"] = log
            return {"dist": _to_float(metric.norm(log, a))}
        finally:
            metric.exp_solver, metric.log_solver = saved

    def check():
        """How far the shot lands from the target (untimed): norm(log) means little if far."""
        saved = metric.exp_solver
        metric.exp_solver = exp_solver
        try:
            with torch.no_grad():
                landed = metric.exp(method.state["log"], problem.a)
        finally:
            metric.exp_solver = saved
        miss = float(np.linalg.norm(np.asarray(landed, dtype=float) - problem.end))
        chord = float(np.linalg.norm(problem.end - problem.start))
        note = f"shot lands {miss:.1e} from the target" if miss > 1e-6 else ""
        # A shot that misses by more than 0.1% of the chord solved nothing.
        return note, miss > 1e-3 * chord

    config = (
        f"ExpODESolver(GSIVPIntegrator(n_steps={n_steps}, 'rk4')), "
        f"L-BFGS-B (geomstats default); init: {start_label}"
    )
    label = "geomstats LogShootingSolver" + (", given start" if given else "")
    method = Method(
        "shooting",
        label,
        config,
        run,
        start="given" if given else "line",
        params=dict(n_steps=n_steps),
        check=check,
    )
    return method


def path_straightening_method(problem, n_nodes, use_start):
    metric, space = problem.metric, problem.space
    initialization = None
    start_label = "straight line"
    given = use_start and problem.good_start is not None
    if given:
        path = gs.array(problem.good_start(n_nodes))
        initialization = lambda point, base_point: path  # noqa: E731
        start_label = problem.good_start_label
    solver = PathStraightening(space, n_nodes=n_nodes, initialization=initialization)
    captured = {}
    original = solver.discrete_geodesic_bvp

    def capturing(point, base_point):
        captured["path"] = original(point, base_point)
        return captured["path"]

    # PathBasedLogSolver.log calls self.discrete_geodesic_bvp: keep its path.
    solver.discrete_geodesic_bvp = capturing

    def run():
        saved = metric.log_solver
        metric.log_solver = solver
        try:
            a = problem.a
            norm_log = metric.norm(metric.log(problem.b, a), a)
        finally:
            metric.log_solver = saved
        length = DiscreteCurve(captured["path"], metric=metric).length()
        return {
            "norm(log)": _to_float(norm_log),
            "path length": _to_float(length),
            "path": captured["path"],
        }

    config = f"n_nodes={n_nodes}, L-BFGS-B (geomstats default); init: {start_label}"
    label = "geomstats PathStraightening" + (", given start" if given else "")
    return Method(
        "path-straightening",
        label,
        config,
        run,
        outputs=("norm(log)", "path length"),
        start="given" if given else "line",
        params=dict(n_nodes=n_nodes),
    )


# ----------------------------------------------------------------------------
# Running and timing
# ----------------------------------------------------------------------------
@dataclass
class Result:
    problem: Problem
    method: Method
    output: str
    value: float = float("nan")
    rel_error: float = float("nan")
    times: dict = field(default_factory=dict)  # threads -> median seconds
    repeats: dict = field(default_factory=dict)
    cpu_times: dict = field(default_factory=dict)  # threads -> median process CPU seconds
    failure: str = ""
    warned: bool = False
    invalid: bool = False  # ran, but the sanity check shows the answer is not a solution

    @property
    def time(self):
        """The method's best time over thread settings (each method gets its best)."""
        return min(self.times.values()) if self.times else float("nan")

    @property
    def cpu_time(self):
        """Median process CPU time on 1 thread: insensitive to other processes' load."""
        return self.cpu_times.get(1, float("nan"))

    @property
    def ok(self):
        return not self.failure and not self.invalid and math.isfinite(self.rel_error)


def call(method):
    """One call of a method: (outputs dict, warned) or raises."""
    method.state["calls"] = method.state.get("calls", 0) + 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values = method.run()
    warned = any(
        issubclass(w.category, geomstats_density.GeodesicConvergenceWarning) for w in caught
    )
    return values, warned


def measure(method, threads, repeats, budget, skip_warmup_above, assume_warm=False):
    """Median wall time of ``method`` under each torch thread count, warm."""
    times, counts, cpu_times, values, warned = {}, {}, {}, None, False
    for n_threads in threads:
        torch.set_num_threads(n_threads)
        called_before = assume_warm or method.state.get("calls", 0) > 0
        t0, c0 = time.perf_counter(), time.process_time()
        values, warned = call(method)  # warm-up
        first, first_cpu = time.perf_counter() - t0, time.process_time() - c0
        samples, cpu = [], []
        if called_before and first > skip_warmup_above:
            # A slow call of code that already ran in this process (in the
            # configuration sweep or under the other thread setting) is warm:
            # count it rather than spend its time again.
            samples.append(first)
            cpu.append(first_cpu)
        n_more = max(0, min(repeats, int(budget / max(first, 1e-9))) - len(samples))
        if not samples:
            n_more = max(1, n_more)
        for _ in range(n_more):
            t0, c0 = time.perf_counter(), time.process_time()
            values, warned = call(method)
            samples.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        times[n_threads] = statistics.median(samples)
        cpu_times[n_threads] = statistics.median(cpu)
        counts[n_threads] = len(samples)
    return values, warned, times, counts, cpu_times


def warm_up(problems):
    """First calls of every code path, so that no timed call pays for them."""
    chosen = [p for p in problems if p.key.startswith("H2")][:1]
    chosen += [p for p in problems if p.key == "Ex2"]
    for problem in chosen:
        methods = [
            ours_method(problem, "warm-up"),
            ours_method(problem, "warm-up", dict(tol=1e-4)),
            neural_method(problem, 20, 5, 1e-2),
            shooting_method(problem, 2, False),
            path_straightening_method(problem, 5, False),
        ]
        for method in methods:
            try:
                call(method)
            except Exception:
                pass


def relative_error(value, exact):
    return abs(value - exact) / abs(exact)


def sweep(problem, candidates, output, max_predicted, log):
    """Run each candidate once (1 thread); keep the most accurate, ties to the faster.

    ``candidates`` is a list of (method, cost factor relative to the previous
    candidate) in increasing cost; a candidate whose predicted time exceeds
    ``max_predicted`` seconds is skipped.
    """
    torch.set_num_threads(1)
    rows, best, last_time = [], None, None
    for method, growth in candidates:
        if last_time is not None and growth is not None and last_time * growth > max_predicted:
            rows.append(
                (
                    method.config,
                    float("nan"),
                    float("nan"),
                    f"skipped: predicted {last_time * growth:.0f} s",
                )
            )
            continue
        t0 = time.process_time()
        try:
            values, _ = call(method)
            error = relative_error(values[output], problem.exact)
            note = ""
        except Exception as exc:  # a failing configuration is a result too
            error, note = float("nan"), f"failed: {type(exc).__name__}"
        # CPU time: predictions and ties must not depend on other processes' load.
        elapsed = time.process_time() - t0
        if method.check is not None and math.isfinite(error):
            try:
                check_note, invalid = method.check()
            except Exception as exc:
                check_note, invalid = f"check failed: {type(exc).__name__}", True
            if invalid:
                note = f"{check_note} (err {error:.1e} not counted)"
                error = float("nan")
        last_time = elapsed if growth is not None else last_time
        rows.append((method.config, error, elapsed, note))
        log(
            f"    sweep {method.family}: {method.config}: err={error:.2e} in {elapsed:.2f} s {note}"
        )
        if math.isfinite(error):
            key = (max(error, ERROR_FLOOR) * 1.0001, elapsed)
            if best is None or key < best[0]:
                best = (key, method)
    return (best[1] if best else candidates[0][0]), rows


def neural_candidates(problem, quick):
    if quick:
        return [(neural_method(problem, 50, 500, 0.05), None)]
    # 500 steps, the top of the paper's range: fewer steps were never more
    # accurate in trial runs, and each configuration costs seconds.
    return [
        (neural_method(problem, n_points, 500, lr), None)
        for n_points in (20, 50)
        for lr in (1e-3, 1e-2, 5e-2, 0.2)
    ]


def shooting_candidates(problem, quick):
    use_start = problem.good_start is not None
    if quick:
        return [(shooting_method(problem, 10, use_start), None)]
    return [
        (shooting_method(problem, 10, use_start), None),
        (shooting_method(problem, 30, use_start), 3.0),
        (shooting_method(problem, 100, use_start), 3.3),
    ]


def path_straightening_candidates(problem, quick):
    use_start = problem.good_start is not None
    if quick:
        return [(path_straightening_method(problem, 33, use_start), None)]
    # Doubling the nodes cost 1x to 3x more in trial runs (more unknowns, but
    # L-BFGS-B iteration counts vary): predict 2.5x.
    return [
        (path_straightening_method(problem, 17, use_start), None),
        (path_straightening_method(problem, 33, use_start), 2.5),
        (path_straightening_method(problem, 65, use_start), 2.5),
        (path_straightening_method(problem, 129, use_start), 2.5),
    ]


def ours_methods(problem):
    methods = [ours_method(problem, "ours (default)")]
    if not problem.kinked:
        for tol in (1e-6, 1e-4):
            methods.append(ours_method(problem, f"ours (tol={tol:g})", dict(tol=tol)))
        methods.append(
            ours_method(
                problem, "ours (one level: tol=None, n_nodes=33)", dict(tol=None, n_nodes=33)
            )
        )
        return methods
    # From the line itself: 'auto' would restart its stalled solve from the grid.
    methods.append(
        ours_method(problem, "ours (kink settings)", dict(KINK_OPTIONS, initialization="line"))
    )
    if HAS_GRID_START:
        methods.append(
            ours_method(
                problem,
                "ours (kink settings, grid start)",
                dict(KINK_OPTIONS, initialization="grid"),
                start_label="grid graph shortest path",
                start_class="grid",
            )
        )
    methods.append(
        ours_method(
            problem,
            "ours (kink settings, given start)",
            KINK_OPTIONS,
            start=problem.good_start,
            start_label=problem.good_start_label,
            start_class="given",
        )
    )
    return methods


def run_problem(problem, args, log):
    log(f"== {problem.label}: exact {problem.exact:.15g}")
    timing = dict(
        threads=args.threads,
        repeats=args.repeats,
        budget=args.budget,
        skip_warmup_above=args.skip_warmup_above,
        assume_warm=args.quick,
    )
    methods = list(ours_methods(problem))
    sweeps = {}
    for family, candidates, output in (
        ("neural", neural_candidates(problem, args.quick), "dist"),
        ("shooting", shooting_candidates(problem, args.quick), "dist"),
        ("path-straightening", path_straightening_candidates(problem, args.quick), "path length"),
    ):
        if len(candidates) == 1:
            methods.append(candidates[0][0])
            continue
        chosen, rows = sweep(problem, candidates, output, args.max_predicted, log)
        sweeps[family] = rows
        methods.append(chosen)
        if chosen.start == "given" and not args.quick:
            # The same configuration from the straight line (no hint).
            if family == "shooting":
                methods.append(shooting_method(problem, chosen.params["n_steps"], False))
            else:
                methods.append(path_straightening_method(problem, chosen.params["n_nodes"], False))

    results = []
    for method in methods:
        try:
            values, warned, times, counts, cpu_times = measure(method, **timing)
        except Exception as exc:
            message = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:90]}"
            log(f"  {method.label}: {message}")
            for output in method.outputs:
                results.append(Result(problem, method, output, failure=message))
            continue
        invalid = False
        if method.check is not None:
            try:
                method.state["check"], invalid = method.check()
            except Exception as exc:
                method.state["check"] = f"check failed: {type(exc).__name__}"
        for output in method.outputs:
            value = values[output]
            result = Result(
                problem,
                method,
                output,
                value=value,
                rel_error=relative_error(value, problem.exact),
                times=times,
                repeats=counts,
                cpu_times=cpu_times,
                warned=warned,
                invalid=invalid,
            )
            results.append(result)
            log(
                f"  {method.label} [{output}]: err={result.rel_error:.2e} "
                + " ".join(f"{k}thr={v * 1e3:.1f}ms" for k, v in times.items())
            )
    return results, sweeps


# ----------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------
def fmt_time(seconds):
    if not math.isfinite(seconds):
        return "-"
    ms = seconds * 1e3
    return f"{ms:.3g}" if ms < 100 else f"{ms:,.0f}"


def fmt_err(error):
    return "-" if not math.isfinite(error) else f"{error:.1e}"


def fmt_ratio(ratio):
    if ratio is None or not math.isfinite(ratio):
        return "-"
    if ratio >= 1e5 or ratio < 1e-3:
        return f"{ratio:.0e}"
    return f"{ratio:.2g}" if ratio < 10 else f"{ratio:,.0f}"


def method_name(result):
    name = result.method.label
    if result.method.family == "path-straightening":
        name += f", dist = {result.output}"
    elif result.method.family == "shooting":
        name += ", dist = norm(log)"
    return name


def comparable_ours(results, peer):
    """Our rows that start from no more information than ``peer`` does."""
    allowed = {"line", "grid", "given"} if peer.method.start == "given" else {"line", "grid"}
    return [r for r in results if r.method.family == "ours" and r.ok and r.method.start in allowed]


def matched_ours(results, peer):
    """The 'ours' row a peer is compared with in the plain ratio columns.

    Smooth problems: ``metric.dist`` with default options. Kinked problems: the
    kink settings from the same kind of start as the peer's (the given start for
    peers given it; otherwise our grid start where the package has it, else the line).
    """
    ours = {r.method.label: r for r in results if r.method.family == "ours"}
    if not peer.problem.kinked:
        return ours.get("ours (default)")
    if peer.method.start == "given":
        return ours.get("ours (kink settings, given start)")
    if peer.problem.key == "Ex4":  # the straight line is hopeless on the cube
        return ours.get("ours (kink settings, grid start)", ours.get("ours (kink settings)"))
    return ours.get("ours (kink settings)")


def equal_accuracy_ours(results, peer):
    """Fastest comparable 'ours' row whose error is at most the peer's (noise counts as equal)."""
    ours = [
        r
        for r in comparable_ours(results, peer)
        if max(r.rel_error, ERROR_FLOOR) <= max(peer.rel_error, ERROR_FLOOR)
    ]
    return min(ours, key=lambda r: r.time) if ours else None


def comparisons(results):
    """Per peer row: (time ratio, error ratio, matched row, time ratio at equal error, row)."""
    out = {}
    for r in results:
        if r.method.family == "ours" or not r.ok:
            continue
        ref = matched_ours(results, r)
        t_ratio = e_ratio = None
        if ref is not None and ref.ok:
            t_ratio = r.time / ref.time
            e_ratio = max(r.rel_error, 1e-16) / max(ref.rel_error, 1e-16)
        match = equal_accuracy_ours(results, r)
        eq_ratio = r.time / match.time if match else None
        eq_ratio_cpu = r.cpu_time / match.cpu_time if match else None
        out[id(r)] = (t_ratio, e_ratio, ref, eq_ratio, match, eq_ratio_cpu)
    return out


def render(all_results, all_sweeps, args, meta):
    lines = []
    add = lines.append
    add("# Geodesic distance benchmark")
    add("")
    add(f"Command: `{meta['command']}`  ")
    add(f"Total runtime: {meta['runtime']:.0f} s. {meta['platform']} {meta['revision']}.  ")
    add(
        f"Load average (1 min) at start / end: {meta['load_start']:.2f} / {meta['load_end']:.2f} "
        f"on {os.cpu_count()} CPUs (a shared machine: absolute times are noisy, ratios less so)."
    )
    add("")
    add(
        "Time: median wall time of warm calls in this process (one warm-up call first), in ms, "
        f"with torch on {' and '.join(str(t) for t in args.threads)} thread(s); `n` = timed calls "
        "per setting; `CPU ms (1 thr)` = median process CPU time on 1 thread, which other "
        "processes' load does not inflate. Ratios (wall time) are peer / ours and use each "
        "method's faster thread setting. `time ratio` and `error ratio` compare with the row "
        "named `vs` in the notes: our `metric.dist` with default options on the smooth "
        "problems; on Examples 3-4 the kink settings from the same kind of start as the peer "
        "(the given start for peers given it, else the line on Ex3 and our grid start on Ex4). "
        "`time ratio at equal error` "
        "compares with the fastest of our rows whose error is at most the peer's (errors below "
        "1e-12 count as equal), among rows starting from no more information than the peer "
        "(no given start unless the peer had it); `-`: none of ours was as accurate."
    )
    add("")
    lines += summary(all_results)
    add("")
    add("## All rows")
    add("")
    header = ["problem", "method", "rel. error"]
    header += [f"ms ({t} thr)" for t in args.threads]
    header += [
        "n",
        "CPU ms (1 thr)",
        "time ratio",
        "error ratio",
        "time ratio at equal error",
        "notes",
    ]
    add("| " + " | ".join(header) + " |")
    add("|" + "---|" * len(header))
    for results in all_results:
        comp = comparisons(results)
        for r in results:
            row = [r.problem.label, method_name(r), fmt_err(r.rel_error)]
            row += [fmt_time(r.times.get(t, float("nan"))) for t in args.threads]
            row.append("/".join(str(r.repeats.get(t, 0)) for t in args.threads) if r.times else "-")
            row.append(fmt_time(r.cpu_time))
            notes = []
            if r.failure:
                notes.append(r.failure)
            if r.warned:
                notes.append("GeodesicConvergenceWarning")
            if r.method.state.get("converged") is False:
                notes.append("converged=False")
            if r.method.state.get("check") and not r.failure:
                notes.append(
                    r.method.state["check"]
                    + (" (not a solution: left out of comparisons)" if r.invalid else "")
                )
            if id(r) in comp:
                t_ratio, e_ratio, ref, eq_ratio, match, _ = comp[id(r)]
                row += [fmt_ratio(t_ratio), fmt_ratio(e_ratio), fmt_ratio(eq_ratio)]
                if ref is not None:
                    notes.append(f"vs '{ref.method.label}'")
                if match is not None and match is not ref:
                    notes.append(f"equal error vs '{match.method.label}'")
            else:
                row += ["", "", ""]
            row.append("; ".join(notes))
            add("| " + " | ".join(row) + " |")
    add("")
    add("## Targets")
    add("")
    lines += targets(all_results)
    add("")
    add(
        "Notes: on Ex4 the given start (the line projected radially onto the cube) is itself "
        "the geodesic, so rows from it only measure how fast a method confirms the answer. "
        "geomstats' shooting integrates `metric.geodesic_equation`, whose cost with a map "
        "`phi` (Ex2) is dominated by forward-mode `torch.func.jvp` calls in the package, so "
        "that row measures this package's acceleration as much as the shooting method. "
        "`DomainError` failures of geomstats' solvers are trial points (line searches, "
        "ODE steps) outside the metric's domain, which the metric rejects."
    )
    add("")
    add("## Configurations")
    add("")
    for results in all_results:
        problem = results[0].problem
        add(f"- **{problem.label}** (exact {problem.exact:.12g}):")
        seen = set()
        for r in results:
            if id(r.method) in seen:
                continue
            seen.add(id(r.method))
            add(f"  - {r.method.label}: {r.method.config}")
    add("")
    add(
        "Peers' configurations were chosen per problem as the most accurate of a sweep "
        "(one call each, 1 thread, error against the exact length: an oracle choice that "
        "favours the peers); a candidate predicted to take longer than "
        f"{args.max_predicted:g} s was skipped."
    )
    if all_sweeps:
        add("")
        add("<details><summary>Sweeps (single calls on 1 thread, CPU seconds)</summary>")
        add("")
        add("| problem | method | configuration | rel. error | CPU s | note |")
        add("|---|---|---|---|---|---|")
        for label, sweeps in all_sweeps:
            for family, rows in sweeps.items():
                for config, error, elapsed, note in rows:
                    elapsed_s = "-" if not math.isfinite(elapsed) else f"{elapsed:.2f}"
                    add(
                        f"| {label} | {family} | {config} | {fmt_err(error)} "
                        f"| {elapsed_s} | {note} |"
                    )
        add("")
        add("</details>")
    return "\n".join(lines) + "\n"


def summary(all_results):
    """One line per problem: our reference row and each peer's most accurate valid row."""
    lines = [
        "## Summary",
        "",
        "Each cell: relative error, wall ms (faster thread setting), and for peers the time "
        "ratio at equal error (peer / our fastest row at least as accurate; `-`: none was). "
        "`ours` is `metric.dist` with default options (Ex3: kink settings; Ex4: kink settings "
        "from our grid start); on the `(given start)` lines, ours and geomstats' solvers all "
        "start from the hand-made start curve (on Ex4, the answer itself). Peers: their most "
        "accurate valid row.",
        "",
        "| problem | exact | ours | neural baseline | geomstats shooting | "
        "geomstats path straightening (path length) |",
        "|---|---|---|---|---|---|",
    ]
    for results in all_results:
        problem = results[0].problem
        comp = comparisons(results)
        ours = {r.method.label: r for r in results if r.method.family == "ours"}
        if not problem.kinked:
            variants = [("", ours.get("ours (default)"), False)]
        else:
            line_ref = (
                ours.get("ours (kink settings, grid start)", ours.get("ours (kink settings)"))
                if problem.key == "Ex4"
                else ours.get("ours (kink settings)")
            )
            variants = [
                ("", line_ref, False),
                (" (given start)", ours.get("ours (kink settings, given start)"), True),
            ]
        for suffix, ref, given in variants:
            cells = [problem.label + suffix, f"{problem.exact:.6g}"]
            cells.append(
                f"{fmt_err(ref.rel_error)} · {fmt_time(ref.time)} ms"
                if ref is not None and ref.ok
                else "failed"
            )
            for family, output in (
                ("neural", "dist"),
                ("shooting", "dist"),
                ("path-straightening", "path length"),
            ):
                rows = [r for r in results if r.method.family == family and r.output == output]
                if family != "neural":
                    rows = [r for r in rows if (r.method.start == "given") == given]
                elif given:
                    rows = []
                if not rows:
                    cells.append("")
                    continue
                valid = [r for r in rows if r.ok]
                if not valid:
                    cells.append("missed the target" if any(r.invalid for r in rows) else "failed")
                    continue
                best = min(valid, key=lambda r: r.rel_error)
                eq_ratio = comp[id(best)][3]
                ratio = f"{fmt_ratio(eq_ratio)}x" if eq_ratio is not None else "-"
                cells.append(f"{fmt_err(best.rel_error)} · {fmt_time(best.time)} ms · {ratio}")
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def targets(all_results):
    lines = []

    def verdict(ok):
        return "MET" if ok else "NOT MET"

    def verdict_of(flags):
        return verdict(all(flags)) if flags else "n/a"

    for family, label, factor in (
        ("neural", "neural baseline", 100),
        ("shooting", "geomstats LogShootingSolver", 10),
        ("path-straightening", "geomstats PathStraightening", 10),
    ):
        parts = []
        verdicts = {False: [], True: []}  # kinked -> list of bools
        cpu_flags = []
        for results in all_results:
            comp = comparisons(results)
            by_method = {}
            for r in results:
                if r.method.family == family:
                    by_method.setdefault(id(r.method), []).append(r)
            for rows in by_method.values():
                # Path straightening: its more accurate estimate (generous to geomstats).
                r = min(rows, key=lambda x: x.rel_error if x.ok else math.inf)
                name = r.problem.key + (" (given start)" if r.method.start == "given" else "")
                if not r.ok:
                    parts.append(f"{name}: peer {'missed the target' if r.invalid else 'failed'}")
                    continue
                eq_ratio, eq_ratio_cpu = comp[id(r)][3], comp[id(r)][5]
                if eq_ratio is None:
                    verdicts[r.problem.kinked].append(False)
                    cpu_flags.append(False)
                    parts.append(f"{name}: ours never as accurate (peer {r.rel_error:.0e})")
                else:
                    verdicts[r.problem.kinked].append(eq_ratio >= factor)
                    cpu_flags.append(eq_ratio_cpu >= factor)
                    parts.append(f"{name}: {fmt_ratio(eq_ratio)}x ({fmt_ratio(eq_ratio_cpu)}x)")
        smooth, kinked = verdicts[False], verdicts[True]
        overall = bool(smooth + kinked) and all(smooth + kinked)
        lines.append(
            f"- At equal or better accuracy, >= {factor}x faster than the {label}: "
            f"**{verdict(overall)}** (smooth problems: {verdict_of(smooth)}; "
            f"kinked Ex3-4: {verdict_of(kinked)}; on 1-thread CPU time: {verdict_of(cpu_flags)}). "
            f"Time ratios at equal error, wall (CPU): {'; '.join(parts)}."
        )
    # One 2-D geodesic to 1e-6 in under 20 ms.
    parts, all_ok = [], True
    for results in all_results:
        problem = results[0].problem
        if problem.dim != 2:
            continue
        ours = [r for r in results if r.method.family == "ours" and r.ok and r.rel_error <= 1e-6]
        if not ours:
            all_ok = False
            best = min(
                (r.rel_error for r in results if r.method.family == "ours" and r.ok),
                default=float("nan"),
            )
            parts.append(f"{problem.key}: no setting reached 1e-6 (best {best:.0e})")
            continue
        fastest = min(ours, key=lambda r: r.time)
        all_ok &= fastest.time < 0.020
        parts.append(
            f"{problem.key}: {fastest.time * 1e3:.1f} ms, CPU "
            f"{fastest.cpu_time * 1e3:.1f} ms ({fastest.method.label}, "
            f"err {fastest.rel_error:.0e})"
        )
    lines.append(
        f"- One 2-D geodesic to 1e-6 in under 20 ms: **{verdict(all_ok)}** ({'; '.join(parts)})."
    )
    smooth = [
        results
        for results in all_results
        if results[0].problem.dim == 2 and not results[0].problem.kinked
    ]
    ok_smooth = all(
        any(
            r.method.family == "ours" and r.ok and r.rel_error <= 1e-6 and r.time < 0.020
            for r in results
        )
        for results in smooth
    )
    lines.append(f"  - on the smooth 2-D problems only (H2, Ex1, Ex2): **{verdict(ok_smooth)}**.")
    return lines


def git_state():
    """Commit of the package and whether its files differ from it (read-only git calls)."""
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.abspath(geomstats_density.__file__)))
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "geomstats_density"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown revision"
    return f"geomstats_density at {commit}" + (" with uncommitted changes" if dirty else "")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer pairs, no configuration sweeps, 1 thread, short budgets "
        "(a CI smoke run, < 2 minutes)",
    )
    parser.add_argument("--out", help="also write the Markdown report to this file")
    parser.add_argument("--only", help="comma-separated problem keys (e.g. Ex2,Ex3)")
    args = parser.parse_args()
    args.threads = (1,) if args.quick else (1, 2)
    args.repeats = 5 if args.quick else 11
    args.budget = 1.0 if args.quick else 4.0  # seconds of timed calls per setting
    # Calls slower than this are not repeated just to warm up: in quick mode the
    # process warm-up has run every code path; in full mode the sweep ran them.
    args.skip_warmup_above = 1.0
    args.max_predicted = 20.0  # CPU seconds: sweep candidates predicted slower are skipped

    if not gs.__name__.endswith("pytorch"):
        sys.exit(
            "This benchmark needs GEOMSTATS_BACKEND=pytorch (geomstats' solvers "
            f"differentiate through the metric); the backend is {gs.__name__}."
        )
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    logging.disable(logging.WARNING)  # geomstats logs every unsuccessful L-BFGS run

    default_threads = torch.get_num_threads()
    started = time.perf_counter()
    load_start = os.getloadavg()[0]

    def log(message):
        print(message, file=sys.stderr, flush=True)

    problems = make_problems(args.quick)
    log("warming up the process (imports, torch and autograd first calls)")
    warm_up(problems)
    if args.only:
        keys = set(args.only.split(","))
        problems = [p for p in problems if p.key in keys or p.key.split("-")[0] in keys]
    all_results, all_sweeps = [], []
    for problem in problems:
        results, sweeps = run_problem(problem, args, log)
        all_results.append(results)
        if sweeps:
            all_sweeps.append((problem.label, sweeps))
    torch.set_num_threads(default_threads)

    meta = dict(
        revision=git_state(),
        command="GEOMSTATS_BACKEND=pytorch python "
        + " ".join([os.path.relpath(sys.argv[0])] + sys.argv[1:]),
        runtime=time.perf_counter() - started,
        load_start=load_start,
        load_end=os.getloadavg()[0],
        platform=(
            f"Python {platform.python_version()}, torch {torch.__version__}, "
            f"geomstats {geomstats.__version__}, numpy {np.__version__}, "
            f"{platform.machine()}, torch default threads {default_threads}."
        ),
    )
    report = render(all_results, all_sweeps, args, meta)
    print(report)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(report)


if __name__ == "__main__":
    main()
