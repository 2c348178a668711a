#!/usr/bin/env python
"""One-run benchmark suite: our geodesic solver against every peer, side by side.

For each problem (hyperbolic half-plane near/far pairs, the paper's Examples 1-4,
2-D and 16-D Gaussian mixtures) it prints time and relative error of

* ours: ``metric.dist`` with the default ``NewtonGeodesicSolver`` (on the kinked
  Examples 3-4 also the kink settings of bench/geodesics.py);
* the paper's neural baseline (``NeuralGeodesicSolver``);
* stochman 0.3.0: ``geodesic_minimizing_energy`` with its defaults, with a tuned
  configuration (20-node cubic spline, L-BFGS with strong Wolfe line search, energy
  scaled by its number of evaluation points, torch on one thread), and its global
  ``DiscretizedManifold`` (graph on a grid, 2-D only);
* geomstats' ``LogShootingSolver`` and ``PathStraightening`` on the same metric;

plus a distance-matrix benchmark (100 and 1,000 points, ``metric.dist_pairwise``
on the 2-D mixture with default options and with ``tol=1e-4``, and on the
half-plane) and scaling tables (our solver against the number of nodes and the
dimension).

Problems and the ours/neural/geomstats runners are imported from
bench/geodesics.py. stochman is installed by the ``bench`` extra:
``pip install -e ".[bench]"``. Run ``python bench/suite.py [--quick] [--out FILE]``;
see bench/README.md.
"""

import os

os.environ.setdefault("GEOMSTATS_BACKEND", "pytorch")
# dist_pairwise shows a progress bar for large batches: not in the logs.
os.environ.setdefault("TQDM_DISABLE", "1")

import sys  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import argparse  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from functools import partial  # noqa: E402

import geodesics as gb  # noqa: E402  (bench/geodesics.py: problems and peer runners)
import geomstats  # noqa: E402
import geomstats.backend as gs  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from geomstats.geometry.euclidean import Euclidean  # noqa: E402
from geomstats.geometry.poincare_half_space import PoincareHalfSpace  # noqa: E402

import geomstats_density  # noqa: E402
from geomstats_density import (  # noqa: E402
    ConformalMetric,
    DensityConformalMetric,
    NeuralGeodesicSolver,
    NewtonGeodesicSolver,
)
from geomstats_density.densities import Gaussian, GaussianMixture  # noqa: E402
from geomstats_density.quality import RealismIndex, Typicality  # noqa: E402

try:
    import stochman
    from stochman.curves import CubicSpline
    from stochman.discretized_manifold import DiscretizedManifold
    from stochman.geodesic import geodesic_minimizing_energy
    from stochman.manifold import Manifold as StochmanManifold
except ImportError:  # the bench extra is not installed
    stochman = None
    StochmanManifold = object

ERROR_FLOOR = 1e-16
# Resampling of curves given as continuous maps (stochman's splines): lengths at
# these node counts in our metric, Richardson-extrapolated.
MEASURE_NODES = (2049, 4097)
# Our reference for problems without a closed form.
REFERENCE_OPTIONS = dict(tol=1e-9, max_nodes=4097, max_iter=300, on_failure="ignore")
PEERS = (
    "neural",
    "stochman default",
    "stochman tuned",
    "stochman DiscretizedManifold",
    "geomstats LogShootingSolver",
    "geomstats PathStraightening",
)


def log(message):
    print(message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------
# Problems: bench/geodesics.py's, plus Gaussian mixtures (reference: ours, tight)
# ----------------------------------------------------------------------------
def gaussian_mixture_problem(dim, n_modes, seed=0):
    """A Gaussian mixture with ``n_modes`` modes; the path joins two far-apart modes."""
    rng = np.random.default_rng(seed)
    if dim == 2:
        angles = np.linspace(0, 2 * np.pi, n_modes + 1)[:-1] + rng.uniform(-0.2, 0.2, n_modes)
        means = np.stack([3 * np.cos(angles), 3 * np.sin(angles)], -1)
        start, end = means[0], means[n_modes // 2]
    else:
        means = rng.normal(size=(n_modes, dim)) * 1.5
        pairs = [(i, j) for i in range(n_modes) for j in range(i + 1, n_modes)]
        i, j = max(pairs, key=lambda ij: np.linalg.norm(means[ij[0]] - means[ij[1]]))
        start, end = means[i], means[j]
    covariances = np.stack([np.eye(dim) * rng.uniform(0.3, 0.6) for _ in range(n_modes)])
    density = GaussianMixture(np.ones(n_modes), means, covariances)
    quality = RealismIndex(density, random_state=seed)
    problem = gb.Problem(
        key=f"GMM{dim}",
        label=f"GMM {dim}-D ({n_modes} modes)",
        dim=dim,
        metric_class=DensityConformalMetric,
        metric_kwargs=dict(log_quality=quality),
        start=np.asarray(start, dtype=float),
        end=np.asarray(end, dtype=float),
        exact=float("nan"),
    ).build()
    problem.density = density
    problem.means = means
    return problem


def reference_distance(problem):
    """Our solver at tol=1e-9 with up to 4097 nodes, and its polyline length (a check)."""
    solver = NewtonGeodesicSolver(problem.space, **REFERENCE_OPTIONS)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        curve = solver.solve(problem.b, problem.a)
    elapsed = time.perf_counter() - t0
    nodes = torch.as_tensor(np.asarray(curve.nodes, dtype=float))
    with torch.no_grad():
        polyline = float(torch.sqrt(problem.metric.curve_sq_lengths(nodes)).sum())
    return dict(
        dist=float(curve.dist),
        converged=bool(np.all(curve.converged)),
        n_nodes=int(nodes.shape[-2]),
        polyline=polyline,
        seconds=elapsed,
    )


def make_problems(args):
    problems = gb.make_problems(args.quick)
    problems += [gaussian_mixture_problem(2, 6), gaussian_mixture_problem(16, 8)]
    if args.only:
        keys = set(args.only.split(","))
        problems = [p for p in problems if p.key in keys or p.key.split("-")[0] in keys]
    for problem in problems:
        if not math.isfinite(problem.exact):
            ref = reference_distance(problem)
            problem.exact = ref["dist"]
            problem.reference = ref
            log(f"reference {problem.key}: {ref}")
    return problems


# ----------------------------------------------------------------------------
# stochman on our metric
# ----------------------------------------------------------------------------
class StochmanAdapter(StochmanManifold):
    """Our metric as a stochman manifold: ``metric(z)`` = ``exp(f(z)) G_0(z)``.

    Diagonal ``exp(f) * 1`` without a map ``phi``, else the full matrix
    ``exp(f) J^T J``. ``scale_energy`` multiplies stochman's discrete energy
    ``sum_i |c_{i+1} - c_i|^2_M`` (which shrinks like 1/N on N evaluation points)
    by N, so that its gradients and stochman's 1e-4 gradient threshold do not
    depend on the evaluation grid.
    """

    def __init__(self, metric, scale_energy=False):
        self.our_metric = metric
        self.scale_energy = scale_energy

    def metric(self, points):
        if points.ndim == 1:
            points = points[None]
        points = points.to(torch.float64)
        factor = torch.exp(self.our_metric.log_factor_tensor(points))
        if self.our_metric.phi is None:
            return factor[:, None].expand(-1, points.shape[-1])
        return factor[:, None, None] * self.our_metric.base_metric_matrix_tensor(points)

    def curve_energy(self, curve, reduction="sum"):
        energy = super().curve_energy(curve, reduction)
        return energy * curve.shape[-2] if self.scale_energy else energy


def measured_length(metric, curve_map):
    """Length of a continuous curve ``t -> points`` in our metric.

    Resampled at 2049 and 4097 equally spaced times; each polyline measured by
    ``metric.curve_sq_lengths`` (our quadrature, the same for every method), and
    the two Richardson-extrapolated.
    """
    lengths = []
    for n in MEASURE_NODES:
        t = torch.linspace(0.0, 1.0, n, dtype=torch.float64)
        with torch.no_grad():
            nodes = curve_map(t).reshape(n, -1).to(torch.float64)
            lengths.append(float(torch.sqrt(metric.curve_sq_lengths(nodes)).sum()))
    return (4 * lengths[1] - lengths[0]) / 3


def strong_wolfe_lbfgs(params, lr=None):
    """L-BFGS with strong Wolfe line search (stochman passes lr=0.1: unit steps here)."""
    return torch.optim.LBFGS(params, lr=1.0, line_search_fn="strong_wolfe")


TUNED = dict(num_nodes=20, eval_grid=100)


@dataclass
class Row:
    problem: object
    family: str  # "ours", "ours (kink)" or a PEERS entry
    label: str
    config: str
    solve: object  # timed: () -> raw result
    estimate: object  # untimed: raw -> distance
    check: object = None  # untimed: () -> (note, invalid)
    setup_seconds: float = float("nan")
    value: float = float("nan")
    wall: float = float("nan")
    cpu: float = float("nan")
    n_calls: int = 0
    failure: str = ""
    notes: list = field(default_factory=list)
    invalid: bool = False

    @property
    def rel_error(self):
        return abs(self.value - self.problem.exact) / abs(self.problem.exact)

    @property
    def ok(self):
        return not self.failure and not self.invalid and math.isfinite(self.value)


def gb_row(problem, method, family, output="dist"):
    return Row(
        problem,
        family,
        method.label,
        method.config,
        method.run,
        lambda values: values[output],
        check=method.check,
    )


def stochman_row(problem, tuned):
    metric = problem.metric
    a = torch.as_tensor(problem.start, dtype=torch.float64)
    b = torch.as_tensor(problem.end, dtype=torch.float64)
    manifold = StochmanAdapter(metric, scale_energy=tuned)
    state = {}

    def solve():
        if tuned:
            curve = CubicSpline(a, b, num_nodes=TUNED["num_nodes"])
            success = geodesic_minimizing_energy(
                curve, manifold, optimizer=strong_wolfe_lbfgs, eval_grid=TUNED["eval_grid"]
            )
        else:
            curve = CubicSpline(a, b)
            success = geodesic_minimizing_energy(curve, manifold)
        state["success"] = bool(success)
        return curve

    def check():
        return ("" if state.get("success") else "success=False (max_iter reached)"), False

    if tuned:
        config = (
            f"CubicSpline(num_nodes={TUNED['num_nodes']}), optimizer=torch.optim.LBFGS("
            f"lr=1, line_search_fn='strong_wolfe'), max_iter=150, eval_grid="
            f"{TUNED['eval_grid']}, energy x eval_grid, torch 1 thread"
        )
        label = "stochman tuned"
    else:
        config = (
            "CubicSpline(num_nodes=5), geodesic_minimizing_energy defaults "
            "(Adam lr=0.1, max_iter=150, eval_grid=20)"
        )
        label = "stochman default"
    return Row(
        problem,
        label,
        label,
        config,
        solve,
        lambda curve: measured_length(metric, curve),
        check=check,
    )


def discretized_box(problem):
    """Grid box of the DiscretizedManifold: endpoints' box padded by half its size.

    For a mixture, the box of its means padded by 1.5 (the modes' region).
    On the half-plane, the box stays above y = 0.2 * min(endpoint heights).
    """
    pts = np.stack([problem.start, problem.end])
    if hasattr(problem, "means"):
        pts = np.concatenate([pts, problem.means])
        lo, hi = pts.min(0) - 1.5, pts.max(0) + 1.5
    else:
        lo, hi = pts.min(0), pts.max(0)
        pad = 0.5 * max(hi - lo)
        lo, hi = lo - pad, hi + pad
    if problem.key.startswith("H2"):
        lo[1] = max(lo[1], 0.2 * pts[:, 1].min())
    return lo, hi


def discretized_row(problem, grid_size):
    metric = problem.metric
    a = torch.as_tensor(problem.start, dtype=torch.float64)[None]
    b = torch.as_tensor(problem.end, dtype=torch.float64)[None]
    lo, hi = discretized_box(problem)
    grid = [
        torch.linspace(float(lo[i]), float(hi[i]), grid_size, dtype=torch.float64) for i in range(2)
    ]
    manifold = DiscretizedManifold()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        manifold.fit(StochmanAdapter(metric), grid, batch_size=512)
    setup = time.perf_counter() - t0

    def solve():
        curve, _ = manifold.connecting_geodesic(a, b)
        return curve

    config = (
        f"fit on a {grid_size}x{grid_size} grid over [{lo[0]:.2f}, {hi[0]:.2f}] x "
        f"[{lo[1]:.2f}, {hi[1]:.2f}] (8-neighbour graph, batch_size=512), then "
        "connecting_geodesic (Dijkstra + CubicSpline fit); fit time not in `ms`"
    )
    return Row(
        problem,
        "stochman DiscretizedManifold",
        "stochman DiscretizedManifold",
        config,
        solve,
        lambda curve: measured_length(metric, curve),
        setup_seconds=setup,
    )


# Our looser settings, each a candidate for the stochman target: the target asks
# for 10x better accuracy, not the default's 1e-8.
LOOSER_TOLS = (1e-6, 1e-4)


def rows_for(problem, args):
    rows = [gb_row(problem, gb.ours_method(problem, "ours (default)"), "ours")]
    if not problem.kinked:
        for tol in LOOSER_TOLS:
            method = gb.ours_method(problem, f"ours (tol={tol:g})", dict(tol=tol))
            rows.append(gb_row(problem, method, f"ours tol={tol:g}"))
    if problem.kinked:
        if gb.HAS_GRID_START:
            kink = gb.ours_method(
                problem,
                "ours (kink settings, grid start)",
                dict(gb.KINK_OPTIONS, initialization="grid"),
                start_label="grid graph shortest path",
                start_class="grid",
            )
        else:
            kink = gb.ours_method(problem, "ours (kink settings)", gb.KINK_OPTIONS)
        rows.append(gb_row(problem, kink, "ours (kink)"))
    rows.append(gb_row(problem, gb.neural_method(problem, 50, 500, 0.05), "neural"))
    if stochman is not None:
        rows.append(stochman_row(problem, tuned=False))
        rows.append(stochman_row(problem, tuned=True))
    rows.append(
        gb_row(
            problem,
            gb.shooting_method(problem, args.shooting_steps, False),
            "geomstats LogShootingSolver",
        )
    )
    rows.append(
        gb_row(
            problem,
            gb.path_straightening_method(problem, args.ps_nodes, False),
            "geomstats PathStraightening",
            output="path length",
        )
    )
    return rows


# ----------------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------------
def measure(row, args):
    """Median wall and CPU time of warm calls, torch on 1 thread; then the estimate."""
    samples, cpu = [], []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0, c0 = time.perf_counter(), time.process_time()
        raw = row.solve()  # warm-up
        first, first_cpu = time.perf_counter() - t0, time.process_time() - c0
        if first > args.count_first_above:
            # Slow: the code path has already run in this process (warm-up pass);
            # count this call rather than spend its time again.
            samples.append(first)
            cpu.append(first_cpu)
        n_more = max(0, min(args.repeats, int(args.budget / max(first, 1e-9))) - len(samples))
        if not samples:
            n_more = max(1, n_more)
        for _ in range(n_more):
            t0, c0 = time.perf_counter(), time.process_time()
            raw = row.solve()
            samples.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    row.wall, row.cpu, row.n_calls = (
        statistics.median(samples),
        statistics.median(cpu),
        len(samples),
    )
    if any(issubclass(w.category, geomstats_density.GeodesicConvergenceWarning) for w in caught):
        row.notes.append("GeodesicConvergenceWarning")
    row.value = float(row.estimate(raw))
    if row.check is not None:
        note, invalid = row.check()
        if note:
            row.notes.append(note)
        if invalid:
            row.invalid = True
            row.notes.append("not a solution: left out of ratios")


def run_row(row, args):
    torch.set_num_threads(1)
    try:
        measure(row, args)
    except Exception as exc:  # a failing method is a result too
        row.failure = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:80]}"
    status = (
        row.failure
        or f"err={row.rel_error:.2e} wall={row.wall * 1e3:.1f}ms cpu={row.cpu * 1e3:.1f}ms"
    )
    log(f"  {row.label}: {status}")


def warm_up(problems, args):
    """First calls of every code path (imports, torch and autograd first calls)."""
    problem = next(p for p in problems if p.key.startswith("H2") or p.key == "Ex1")
    torch.set_num_threads(1)
    rows = [
        gb_row(problem, gb.ours_method(problem, "w"), "ours"),
        gb_row(problem, gb.neural_method(problem, 20, 5, 1e-2), "neural"),
        gb_row(problem, gb.shooting_method(problem, 2, False), "shooting"),
        gb_row(problem, gb.path_straightening_method(problem, 5, False), "ps", "path length"),
    ]
    if stochman is not None:
        rows += [stochman_row(problem, False), stochman_row(problem, True)]
    for row in rows:
        try:
            row.estimate(row.solve())
        except Exception:
            pass


# ----------------------------------------------------------------------------
# Distance matrices and scaling
# ----------------------------------------------------------------------------
def sample_mixture(problem, n, seed):
    points = problem.density.sample(n, random_state=seed)
    return gs.array(np.asarray(points, dtype=float))


def timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


# Looser tolerance of the second distance-matrix run: a distance matrix for
# clustering or embedding rarely needs more.
MATRIX_LOOSE_TOL = 1e-4


def half_plane_matrix_problem():
    """The half-plane metric of bench/geodesics.py, for the distance-matrix part."""
    return gb.Problem(
        key="H2-matrix",
        label="H2 (half-plane)",
        dim=2,
        metric_class=ConformalMetric,
        metric_kwargs=dict(log_factor=gb.half_plane_log_factor),
        start=np.array([0.0, 1.0]),
        end=np.array([1.0, 1.0]),
        exact=math.nan,
    ).build()


def distance_matrix_bench(problem, per_pair, args):
    """``metric.dist_pairwise`` on points of the 2-D mixture and of the half-plane.

    Three runs: the mixture with default options and with ``tol=MATRIX_LOOSE_TOL``,
    and the half-plane with default options. For each, a subset of
    ``args.matrix_first`` points is timed first; the 100-point matrix runs in
    full only if predicted (pairs x time per pair) within ``args.matrix_budget``
    seconds, else its time is extrapolated; likewise 1,000. Accuracy is checked
    on a few pairs of the largest measured matrix: against our solver at
    ``tol=1e-9`` on the mixture, against the closed form on the half-plane.
    """
    torch.set_num_threads(args.default_threads)  # the package picks threads itself
    mixture_points = sample_mixture(problem, 1000, seed=1)
    rng = np.random.default_rng(3)
    half_plane_points = gs.array(
        np.stack([rng.uniform(-1, 1, 1000), rng.uniform(0.5, 2.0, 1000)], axis=-1)
    )
    half_plane = half_plane_matrix_problem()
    reference_solver = NewtonGeodesicSolver(problem.space, **REFERENCE_OPTIONS)

    def mixture_reference(a, b):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(reference_solver.solve(b, a).dist, dtype=float)

    def half_plane_reference(a, b):
        return np.asarray(PoincareHalfSpace(2).metric.dist(a, b), dtype=float)

    cases = [
        (
            "GMM 2-D (6 modes)",
            f"defaults (tol={problem.metric.log_solver.tol:.2g})",
            problem.metric,
            mixture_points,
            mixture_reference,
            None,
            1,
        ),
        (
            "GMM 2-D (6 modes)",
            f"tol={MATRIX_LOOSE_TOL:g}",
            problem.metric,
            mixture_points,
            mixture_reference,
            MATRIX_LOOSE_TOL,
            1,
        ),
        (
            "GMM 2-D (6 modes)",
            f"tol={MATRIX_LOOSE_TOL:g}, n_jobs=2",
            problem.metric,
            mixture_points,
            mixture_reference,
            MATRIX_LOOSE_TOL,
            2,
        ),
        (
            "H2 (half-plane)",
            f"defaults (tol={half_plane.metric.log_solver.tol:.2g})",
            half_plane.metric,
            half_plane_points,
            half_plane_reference,
            None,
            1,
        ),
    ]
    out = dict(runs=[], peers=dict(per_pair))
    for label, options, metric, points, reference, tol, n_jobs in cases:
        solver = metric.log_solver
        default_tol = solver.tol
        solver.tol = default_tol if tol is None else tol
        try:
            out["runs"].append(
                dict(
                    problem=label,
                    options=options,
                    **_matrix_times(metric, points, reference, args, n_jobs),
                )
            )
        finally:
            solver.tol = default_tol
    torch.set_num_threads(1)
    return out


def _matrix_times(metric, points, reference, args, n_jobs):
    """Measured or extrapolated 100- and 1,000-point times, and a check of accuracy.

    With worker processes (``n_jobs > 1``) the wall time includes their start-up
    (paid by the first run, the smaller matrix) and the CPU time is this process's
    only.
    """

    def run(m):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            matrix, wall, cpu = timed(lambda: metric.dist_pairwise(points[:m], n_jobs=n_jobs))
        warned = sum(
            issubclass(w.category, geomstats_density.GeodesicConvergenceWarning) for w in caught
        )
        log(f"dist_pairwise({m} points): {wall:.1f} s wall, {cpu:.1f} s CPU")
        return dict(
            points=m,
            pairs=m * (m - 1) // 2,
            wall=wall,
            cpu=cpu,
            warned=warned,
            matrix=np.asarray(matrix, dtype=float),
        )

    measured = [run(args.matrix_first)]
    per_pair_wall = measured[-1]["wall"] / measured[-1]["pairs"]
    if 4950 * per_pair_wall <= args.matrix_budget:
        measured.append(run(100))
        per_pair_wall = measured[-1]["wall"] / measured[-1]["pairs"]
    if 499500 * per_pair_wall <= args.matrix_budget:
        measured.append(run(1000))
    largest = measured[-1]
    out = {}
    for n, pairs in ((100, 4950), (1000, 499500)):
        done = next((r for r in measured if r["points"] == n), None)
        if done is not None:
            out[str(n)] = dict(done, extrapolated=False)
        else:
            factor = pairs / largest["pairs"]
            out[str(n)] = dict(
                points=largest["points"],
                pairs=largest["pairs"],
                measured_wall=largest["wall"],
                measured_cpu=largest["cpu"],
                wall=largest["wall"] * factor,
                cpu=largest["cpu"] * factor,
                warned=largest["warned"],
                extrapolated=True,
            )
    m = largest["points"]
    rows, cols = np.triu_indices(m, k=1)
    pick = np.random.default_rng(2).choice(
        rows.size, size=min(args.matrix_check_pairs, rows.size), replace=False
    )
    ref = reference(points[rows[pick]], points[cols[pick]])
    errors = np.abs(largest["matrix"][rows[pick], cols[pick]] - ref) / ref
    out["check"] = dict(
        points=m,
        checked=int(pick.size),
        max_error=float(errors.max()),
        median_error=float(np.median(errors)),
    )
    return out


def scaling_bench(gmm2, args):
    """Our solver against the node count (fixed level) and the dimension."""
    torch.set_num_threads(1)
    node_rows = []
    a, b = gmm2.a, gmm2.b
    for n in args.scaling_nodes:
        solver = NewtonGeodesicSolver(gmm2.space, tol=None, n_nodes=n, on_failure="ignore")
        reps = []
        for _ in range(3 if n <= 129 else 1):
            curve, wall, cpu = timed(partial(solver.solve, b, a))
            reps.append((wall, cpu))
        wall, cpu = min(reps)
        err = abs(float(curve.dist) - gmm2.exact) / gmm2.exact
        row = dict(
            n=n,
            wall=wall,
            cpu=cpu,
            err=err,
            converged=bool(np.all(curve.converged)),
            iters=int(np.sum(curve.n_iterations)),
        )
        if n <= args.scaling_neural_nodes:
            neural = NeuralGeodesicSolver(gmm2.space, n_points=n, n_steps=500, lr=0.05)
            ncurve, nwall, ncpu = timed(partial(neural.solve, b, a))
            row.update(
                neural_wall=nwall,
                neural_cpu=ncpu,
                neural_err=abs(float(ncurve.dist) - gmm2.exact) / gmm2.exact,
            )
        node_rows.append(row)
        log(f"scaling n={n}: {row}")
    dim_rows = []
    for dim in args.scaling_dims:
        space = Euclidean(dim, equip=False)
        quality = Typicality(Gaussian(np.zeros(dim)))
        space.equip_with_metric(DensityConformalMetric, log_quality=quality)
        metric = space.metric
        start = np.zeros(dim)
        end = np.zeros(dim)
        start[0] = end[1] = math.sqrt(dim)
        pa, pb = gs.array(start), gs.array(end)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            metric.dist(pa, pb)  # warm-up (first call at this dimension)
            reps = []
            for _ in range(3 if dim <= 16 else 1):
                dist, wall, cpu = timed(partial(metric.dist, pa, pb))
                reps.append((wall, cpu))
        wall, cpu = min(reps)
        warned = any(
            issubclass(w.category, geomstats_density.GeodesicConvergenceWarning) for w in caught
        )
        row = dict(dim=dim, wall=wall, cpu=cpu, dist=float(dist), warned=warned)
        if dim <= args.scaling_neural_dim:
            neural = NeuralGeodesicSolver(space, n_points=50, n_steps=500, lr=0.05)
            ncurve, nwall, ncpu = timed(partial(neural.solve, pb, pa))
            row.update(neural_wall=nwall, neural_cpu=ncpu, neural_dist=float(ncurve.dist))
        dim_rows.append(row)
        log(f"scaling D={dim}: {row}")
    return node_rows, dim_rows


# ----------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------
# The report formats bench/geodesics.py's tables use.
fmt_ms, fmt_err, fmt_ratio = gb.fmt_time, gb.fmt_err, gb.fmt_ratio


def ratios(peer, ours):
    """(wall ratio, CPU ratio, error ratio): peer / ours; > 1 favours ours."""
    if not (peer.ok and ours.ok):
        return None
    return (
        peer.wall / ours.wall,
        peer.cpu / ours.cpu,
        max(peer.rel_error, ERROR_FLOOR) / max(ours.rel_error, ERROR_FLOOR),
    )


def peer_cell(peer, ours):
    if peer is None:
        return "n/a"
    if peer.failure:
        return "failed"
    if peer.invalid:
        return "missed target"
    r = ratios(peer, ours)
    if r is None:
        return "-"
    return f"{fmt_ratio(r[0])}x · {fmt_ratio(r[2])}x"


def render(all_rows, matrix, node_rows, dim_rows, args, meta):
    lines = []
    add = lines.append
    add("# Geodesic solver suite: ours vs every peer")
    add("")
    add(f"Command: `{meta['command']}`  ")
    add(f"Total runtime: {meta['runtime']:.0f} s. {meta['platform']} {meta['revision']}.  ")
    add(
        f"Load average (1 min) at start / end: {meta['load_start']:.2f} / {meta['load_end']:.2f} "
        f"on {os.cpu_count()} CPUs: the machine is shared, so wall times are noisy; CPU "
        "times (time.process_time) are given alongside."
    )
    add("")
    add(
        "Times: median over warm calls in this process (a warm-up call first, and up to "
        f"{args.repeats} timed calls within ~{args.budget:g} s; calls slower than "
        f"{args.count_first_above:g} s are timed once), torch on 1 thread for every method "
        "(restored afterwards). Relative error = |dist - reference| / reference. Every "
        "method's distance is its own estimate except stochman's, which returns a curve: "
        "its length is measured in our metric by `metric.curve_sq_lengths` on the curve "
        f"resampled at {MEASURE_NODES[0]} and {MEASURE_NODES[1]} points (Richardson-"
        "extrapolated); path straightening's is the length of its discrete path and "
        "shooting's is `norm(log)` (geomstats' `dist`), as in bench/geodesics.py."
    )
    add("")
    add(
        "References: exact closed forms for H2 and Examples 1-4. **The Gaussian mixtures "
        "have no closed form: their reference is our own solver at tol=1e-9 with up to "
        "4097 nodes** (which favours ours: its error there is self-consistency, not "
        "accuracy); every curve any method returns is an upper bound of the distance, and "
        "the check below says whether one was shorter than the reference."
    )
    add("")
    # Headline
    add("## Headline: peer / ours")
    add("")
    add(
        "Each cell: **time ratio · error ratio** = (peer wall time / ours) · (peer "
        "relative error / ours), both > 1 when ours is faster / more accurate; errors "
        f"floored at {ERROR_FLOOR:g}. `ours` = `metric.dist` with default options; on the "
        "kinked Ex3-4 a second line compares with our kink settings (bench/geodesics.py)."
    )
    add("")
    header = ["problem", "ours: err · ms"] + list(PEERS)
    add("| " + " | ".join(header) + " |")
    add("|" + "---|" * len(header))
    for rows in all_rows:
        problem = rows[0].problem
        by = {r.family: r for r in rows}
        refs = [("ours", "")]
        if "ours (kink)" in by:
            refs.append(("ours (kink)", " vs kink settings"))
        for fam, suffix in refs:
            ours = by[fam]
            cells = [
                problem.label + suffix,
                (f"{fmt_err(ours.rel_error)} · {fmt_ms(ours.wall)}" if ours.ok else "failed"),
            ]
            cells += [peer_cell(by.get(p), ours) for p in PEERS]
            add("| " + " | ".join(cells) + " |")
    add("")
    add("## All rows")
    add("")
    header = [
        "problem",
        "method",
        "dist",
        "rel. error",
        "ms (wall)",
        "CPU ms",
        "n",
        "time ratio",
        "CPU ratio",
        "error ratio",
        "notes",
    ]
    add("| " + " | ".join(header) + " |")
    add("|" + "---|" * len(header))
    for rows in all_rows:
        problem = rows[0].problem
        ours = rows[0]
        for r in rows:
            rr = ratios(r, ours) if r is not ours else None
            notes = list(r.notes)
            if r.failure:
                notes.insert(0, r.failure)
            if math.isfinite(r.setup_seconds):
                notes.append(f"grid fit {r.setup_seconds:.1f} s (once)")
            cells = [
                problem.label,
                r.label,
                "-" if not math.isfinite(r.value) else f"{r.value:.10g}",
                fmt_err(r.rel_error) if math.isfinite(r.value) else "-",
                fmt_ms(r.wall),
                fmt_ms(r.cpu),
                str(r.n_calls),
            ]
            cells += [fmt_ratio(x) for x in rr] if rr else ["", "", ""]
            cells.append("; ".join(notes))
            add("| " + " | ".join(cells) + " |")
    add("")
    # Mixture references
    mixtures = [rows[0].problem for rows in all_rows if hasattr(rows[0].problem, "reference")]
    if mixtures:
        add("### Mixture references")
        add("")
        for problem, rows in (
            (rows[0].problem, rows) for rows in all_rows if hasattr(rows[0].problem, "reference")
        ):
            ref = problem.reference
            shortest = min((r for r in rows if r.ok), key=lambda r: r.value, default=None)
            verdict = (
                "no method's distance is below it by more than 1e-6 relative"
                if shortest is None or shortest.value >= ref["dist"] * (1 - 1e-6)
                else f"**{shortest.label} is shorter ({shortest.value:.10g})**: "
                "the reference is a local minimum"
            )
            # Richardson estimates (ours, the reference) are not upper bounds: within
            # 1e-6 they agree with the reference to its own accuracy.
            add(
                f"- {problem.label}: reference {ref['dist']:.12g} (ours, tol=1e-9, "
                f"{ref['n_nodes']} nodes at the end, converged={ref['converged']}, "
                f"{ref['seconds']:.1f} s); the polyline length of its nodes "
                f"{ref['polyline']:.12g}; {verdict}."
            )
        add("")
    # Targets
    add("## Targets")
    add("")
    lines += targets(all_rows, matrix)
    add("")
    # Distance matrix
    if matrix is not None:
        add("## Distance matrix (`metric.dist_pairwise(points)`)")
        add("")
        add(
            f"Points: samples of the 2-D mixture (seed 1), uniform points of "
            f"[-1, 1] x [0.5, 2] on the half-plane (seed 3); torch threads: the machine's "
            f"default ({args.default_threads}), the package picks per problem. Accuracy: "
            "max (median) relative error on random pairs of the largest measured matrix, "
            "against ours at tol=1e-9 on the mixture, the closed form on the half-plane."
        )
        add("")
        add(
            "| problem | options | points | pairs | wall s | CPU s "
            "| max (median) rel. error | note |"
        )
        add("|---|---|---|---|---|---|---|---|")
        for run in matrix["runs"]:
            c = run["check"]
            accuracy = (
                f"{c['max_error']:.1e} ({c['median_error']:.1e}) on {c['checked']} "
                f"pairs of {c['points']} points"
            )
            for n in ("100", "1000"):
                r = run[n]
                if r.get("extrapolated"):
                    note = (
                        f"**extrapolated** (x pairs) from the first {r['points']} "
                        f"points ({r['pairs']:,} pairs: {r['measured_wall']:.1f} s wall)"
                    )
                else:
                    note = "measured"
                note += f"; {r['warned']} convergence warnings"
                add(
                    f"| {run['problem']} | {run['options']} | {int(n):,} | "
                    f"{int(n) * (int(n) - 1) // 2:,} | {r['wall']:,.1f} | {r['cpu']:,.1f} | "
                    f"{accuracy} | {note} |"
                )
        add("")
        add(
            "With `n_jobs=2` the batches run in two worker processes (joblib): the CPU "
            "column is then the main process's only, and the workers' start-up (a few "
            "seconds) is paid by the first, smaller matrix."
        )
        add("")
        add(
            "Each curve of a batch stops refining once it meets `tol`, but a batch's "
            "Newton iterations run until its last curve converges, so the time per pair of "
            "a larger matrix can differ from a subset's: extrapolations are estimates."
        )
        add("")
        add(
            "Peers on the same 100-point matrix, **extrapolated** from their single-geodesic "
            "time on the 2-D mixture problem (4,950 x that time; 1 thread, no batching):"
        )
        add("")
        add("| method | s per geodesic | 100 points (est. s) | 1,000 points (est. h) |")
        add("|---|---|---|---|")
        for label, (per, setup) in matrix["peers"].items():
            if not math.isfinite(per):
                add(f"| {label} | failed or missed the target on that problem | - | - |")
                continue
            extra = 0.0 if not math.isfinite(setup) else setup
            note = " (+ grid fit)" if math.isfinite(setup) else ""
            add(
                f"| {label} | {per:.3g} | {per * 4950 + extra:,.0f}{note} | "
                f"{(per * 499500 + extra) / 3600:,.1f} |"
            )
        add("")
    # Scaling
    add("## Scaling")
    add("")
    add(
        "Our solver at one fixed level (`NewtonGeodesicSolver(tol=None, n_nodes=n)`) on the "
        "2-D mixture problem; error against the mixture reference; best of 3 calls "
        "(1 for n > 129); neural baseline with `n_points=n`, 500 steps, lr 0.05, one call."
    )
    add("")
    add(
        "| n nodes | ms | CPU ms | rel. error | iterations | converged | neural ms | "
        "neural rel. error |"
    )
    add("|---|---|---|---|---|---|---|---|")
    for r in node_rows:
        add(
            f"| {r['n']} | {fmt_ms(r['wall'])} | {fmt_ms(r['cpu'])} | {fmt_err(r['err'])} | "
            f"{r['iters']} | {r['converged']} | {fmt_ms(r.get('neural_wall', math.nan))} | "
            f"{fmt_err(r.get('neural_err', math.nan))} |"
        )
    add("")
    add(
        "Against the dimension: `metric.dist` (defaults) for `Typicality(Gaussian(0, I_D))` "
        "between the orthogonal typical codes `sqrt(D) e_1` and `sqrt(D) e_2`; best of 3 "
        "calls (1 for D > 16) after a warm-up call; neural baseline (50 points, 500 steps, "
        "lr 0.05), one call. No closed form: the two distances are shown side by side."
    )
    add("")
    add("| D | ms | CPU ms | dist | warning | neural ms | neural dist |")
    add("|---|---|---|---|---|---|---|")
    for r in dim_rows:
        nd = r.get("neural_dist", math.nan)
        add(
            f"| {r['dim']} | {fmt_ms(r['wall'])} | {fmt_ms(r['cpu'])} | {r['dist']:.8g} | "
            f"{'yes' if r['warned'] else ''} | {fmt_ms(r.get('neural_wall', math.nan))} | "
            f"{'-' if not math.isfinite(nd) else f'{nd:.8g}'} |"
        )
    add("")
    # Configurations
    add("## Configurations")
    add("")
    seen = set()
    for rows in all_rows:
        for r in rows:
            key = (r.label, r.config if r.family != "stochman DiscretizedManifold" else "")
            if r.family == "stochman DiscretizedManifold":
                add(f"- {r.problem.key}, {r.label}: {r.config}")
                continue
            if key in seen:
                continue
            seen.add(key)
            add(f"- {r.label}: {r.config}")
    add(
        f"- stochman {stochman.__version__ if stochman else 'not installed'}: our metric "
        "wrapped as a `stochman.manifold.Manifold` whose `metric(z)` is `exp(f(z))` on the "
        "diagonal (or `exp(f) J^T J` with a map `phi`, Ex2); the tuned rows multiply "
        "stochman's energy by its number of evaluation points."
    )
    add(
        "- Peers start from the straight line (no given starts); the neural and geomstats "
        "settings are bench/geodesics.py's fixed `--quick` settings (geodesics.py sweeps "
        f"them); shooting {args.shooting_steps} RK4 steps, path straightening "
        f"{args.ps_nodes} nodes."
    )
    return "\n".join(lines) + "\n"


def targets(all_rows, matrix):
    lines = []
    parts, ok_all, cpu_ok = [], True, True
    for rows in all_rows:
        by = {r.family: r for r in rows}
        peer = by.get("stochman tuned")
        if peer is None:
            continue
        refs = [r for r in rows if r.family.startswith("ours")]
        best = None
        for ours in refs:
            r = ratios(peer, ours) if ours.ok else None
            if not peer.ok:
                best = ("peer failed", True, True)
                break
            if r is None:
                continue
            met = r[0] >= 10 and r[2] >= 10
            met_cpu = r[1] >= 10 and r[2] >= 10
            cand = (
                f"{fmt_ratio(r[0])}x time ({fmt_ratio(r[1])}x CPU), {fmt_ratio(r[2])}x error"
                + ("" if ours.family == "ours" else f" [{ours.label}]"),
                met,
                met_cpu,
            )
            if best is None or (met and not best[1]):
                best = cand
        if best is None:
            best = ("ours failed", False, False)
        ok_all &= best[1]
        cpu_ok &= best[2]
        parts.append(f"{rows[0].problem.key}: {best[0]}{'' if best[1] else ' (not met)'}")
    lines.append(
        f"- >= 10x faster than stochman's tuned configuration at >= 10x better "
        f"accuracy, on every problem: **{'MET' if ok_all else 'NOT MET'}** (on CPU "
        f"time: {'MET' if cpu_ok else 'NOT MET'}). Ours: the default, or the first of "
        f"our other settings (kink settings; tol={', '.join(f'{t:g}' for t in LOOSER_TOLS)}) "
        f"that meets it, shown in brackets. {'; '.join(parts)}."
    )
    if matrix is None:
        return lines
    parts = []
    for run in matrix["runs"]:
        r = run["100"]
        how = "extrapolated" if r.get("extrapolated") else "measured"
        parts.append(
            f"{run['problem']}, {run['options']}: "
            f"**{'MET' if r['wall'] < 30 else 'NOT MET'}** ({r['wall']:.1f} s wall, "
            f"{r['cpu']:.1f} s CPU, {how})"
        )
    lines.append(
        "- 100x100 distance matrix in 2-D in under 30 s on 2 cores: " + "; ".join(parts) + "."
    )
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1 near and 1 far half-plane pair, shorter budgets, smaller subsets (< 5 minutes)",
    )
    parser.add_argument("--out", help="also write the Markdown report to this file")
    parser.add_argument("--only", help="comma-separated problem keys (e.g. H2,Ex2,GMM2)")
    parser.add_argument("--skip-matrix", action="store_true", help="no distance-matrix part")
    parser.add_argument("--skip-scaling", action="store_true", help="no scaling tables")
    args = parser.parse_args()
    args.repeats = 5 if args.quick else 11
    args.budget = 1.0 if args.quick else 3.0
    args.count_first_above = 1.0
    args.shooting_steps = 10 if args.quick else 30
    args.ps_nodes = 33
    args.grid_size = 40 if args.quick else 60
    args.matrix_first = 12 if args.quick else 40
    args.matrix_budget = 45.0 if args.quick else 420.0
    args.matrix_check_pairs = 3 if args.quick else 10
    args.scaling_nodes = (
        (9, 17, 33, 65, 129) if args.quick else (9, 17, 33, 65, 129, 257, 513, 1025)
    )
    args.scaling_neural_nodes = 33 if args.quick else 129
    args.scaling_dims = (2, 16, 100) if args.quick else (2, 16, 100, 512)
    args.scaling_neural_dim = 16 if args.quick else 512

    if not gs.__name__.endswith("pytorch"):
        sys.exit("This benchmark needs GEOMSTATS_BACKEND=pytorch.")
    if stochman is None:
        log("stochman is not installed (pip install -e '.[bench]'): its rows are left out")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    logging.disable(logging.WARNING)

    args.default_threads = torch.get_num_threads()
    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    try:
        problems = make_problems(args)
        log("warming up")
        warm_up(problems, args)
        all_rows = []
        for problem in problems:
            log(f"== {problem.label}: reference {problem.exact:.15g}")
            rows = rows_for(problem, args)
            if stochman is not None and problem.dim == 2:
                try:
                    rows.insert(-2, discretized_row(problem, args.grid_size))
                except Exception as exc:
                    log(f"  DiscretizedManifold fit failed: {exc}")
            for row in rows:
                run_row(row, args)
            all_rows.append(rows)
        gmm2 = next((p for p in problems if p.key == "GMM2"), None)
        matrix = node_rows = dim_rows = None
        if gmm2 is None and not (args.skip_matrix and args.skip_scaling):
            gmm2 = gaussian_mixture_problem(2, 6)
            ref = reference_distance(gmm2)
            gmm2.exact, gmm2.reference = ref["dist"], ref
        per_pair = {}
        for rows in all_rows:
            if rows[0].problem.key == "GMM2":
                for r in rows[1:]:
                    per_pair[r.label] = (r.wall if r.ok else math.nan, r.setup_seconds)
        if not args.skip_matrix:
            matrix = distance_matrix_bench(gmm2, per_pair, args)
        if not args.skip_scaling:
            node_rows, dim_rows = scaling_bench(gmm2, args)
    finally:
        torch.set_num_threads(args.default_threads)
    meta = dict(
        revision=gb.git_state(),
        command="python " + " ".join([os.path.relpath(sys.argv[0])] + sys.argv[1:]),
        runtime=time.perf_counter() - started,
        load_start=load_start,
        load_end=os.getloadavg()[0],
        platform=(
            f"Python {platform.python_version()}, torch {torch.__version__}, "
            f"geomstats {geomstats.__version__}, stochman "
            f"{stochman.__version__ if stochman else '-'}, numpy {np.__version__}, "
            f"{platform.machine()}, torch default threads {args.default_threads}."
        ),
    )
    report = render(all_rows, matrix, node_rows or [], dim_rows or [], args, meta)
    print(report)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as handle:
            handle.write(report)


if __name__ == "__main__":
    main()
