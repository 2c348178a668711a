#!/usr/bin/env python
"""Work-precision benchmark: error against time of every geodesic solver, per problem.

Each solver family is swept over its own accuracy knob: ours over ``tol``, stochman's
``geodesic_minimizing_energy`` (default Adam and tuned L-BFGS) over its spline's node
count and iterations, geomstats' ``PathStraightening`` over ``n_nodes`` and its
``LogShootingSolver`` over its RK4 step count, the paper's neural baseline over its
Adam steps. Every point's error is measured on what the solver returns, the same way
for all: curves (ours, stochman, path straightening, neural) by the length of 1025
uniform points of the returned curve (``DiscreteCurve(points, metric=metric).length()``),
shooting (no curve) by its ``norm(log)``. References are closed forms (half-plane,
Examples 1-4) or computed without our solver (the mixtures: a dense graph's path
refined by a long stochman run; the latent row: a long neural run); where a returned
curve is shorter than such a reference, errors are excess lengths over the shortest
curve returned (``rebase_on_shortest``).

The headline is, for each peer point, our time at the peer's error read off our
(time, error) curve in log-log, over the peer's time; the target is at most 1/10 on
every problem where the peer needs more than 5 ms.

Run ``python bench/work_precision.py [--quick] [--only PROBLEMS] [--out DIR]``
(``--replot DIR/work-precision.json`` renders a saved run again);
see bench/README.md.
"""

import os

os.environ.setdefault("GEOMSTATS_BACKEND", "pytorch")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

import sys  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import geodesics as gb  # noqa: E402  (bench/geodesics.py: problems and geomstats runners)
import geomstats.backend as gs  # noqa: E402
import numpy as np  # noqa: E402
import suite  # noqa: E402  (bench/suite.py: mixtures and stochman on our metric)
import torch  # noqa: E402

from geomstats_density import NeuralGeodesicSolver, NewtonGeodesicSolver  # noqa: E402
from geomstats_density.curves import DiscreteCurve  # noqa: E402
from geomstats_density.graph_distances import DistanceGraph  # noqa: E402

N_EVAL = 1025
# Errors at or below this are float64 noise: two such errors are a tie.
EXACT = 1e-14
# Peers faster than this are outside the target (per-call overheads dominate).
TARGET_MIN_PEER_SECONDS = 5e-3
TARGET_RATIO = 0.1
# A setting whose single call takes longer is the last of its sweep.
MAX_SECONDS = 30.0
TIMED_CALLS, TIME_BUDGET = 5, 2.0

OURS_TOLS = (1e-2, 1e-4, 1e-6, 1e-8, 1e-10)
NEURAL = dict(n_points=50, lr=0.05)
NEURAL_STEPS = (100, 300, 1000)
STOCHMAN_DEFAULT = ((5, 150), (10, 150), (20, 150), (10, 600), (20, 600))
STOCHMAN_TUNED = ((5, 150), (10, 150), (20, 150), (40, 150))
PS_NODES = (9, 17, 33, 65)
SHOOTING_STEPS = (5, 10, 30, 100)
LATENT = "dcgan-2"
LATENT_TOLS = (1e-1, 1e-2)
LATENT_NEURAL_STEPS = (200, 500)
LATENT_REFERENCE_STEPS = 3000
MIXTURE_REFERENCE = dict(num_nodes=128, eval_grid=2048, max_iter=300)

QUICK = dict(
    problems=("H2-near-0", "Ex2"),
    ours=(1e-4, 1e-8),
    neural=(100,),
    stochman_default=((5, 150),),
    stochman_tuned=((10, 150),),
    ps=(9, 17),
    shooting=(5, 10),
)
FAMILIES = (
    "ours",
    "neural",
    "stochman default",
    "stochman tuned",
    "geomstats PathStraightening",
    "geomstats LogShootingSolver",
)


def log(message):
    print(message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------
# Points of the sweeps
# ----------------------------------------------------------------------------
@dataclass
class Point:
    family: str
    setting: str
    seconds: float = float("nan")
    value: float = float("nan")
    error: float = float("nan")
    n_calls: int = 0
    note: str = ""

    @property
    def ok(self):
        return math.isfinite(self.error) and not self.note.startswith("invalid")


def curve_length(metric, points):
    """Length of ``points`` [N_EVAL, dim] in ``metric``: the same measure for every curve."""
    points = gs.array(np.asarray(points, dtype=float))
    with torch.no_grad():
        return float(DiscreteCurve(points, metric=metric).length())


def timed(solve, budget=TIME_BUDGET, calls=TIMED_CALLS):
    """Median wall time of warm calls of ``solve`` (one warm-up first) and the last result.

    A warm-up slower than ``budget`` is counted as the only timed call: the code
    paths ran in the global warm-up, so what remains is the solve itself.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clock = time.perf_counter()
        result = solve()
        first = time.perf_counter() - clock
        if first > budget:
            return result, first, 1
        samples = []
        for _ in range(max(1, min(calls, int(budget / max(first, 1e-9))))):
            clock = time.perf_counter()
            result = solve()
            samples.append(time.perf_counter() - clock)
    return result, statistics.median(samples), len(samples)


def run_point(problem, family, setting, solve, measure):
    """Time ``solve``, then measure its result with ``measure`` (untimed) into a Point."""
    point = Point(family, setting)
    try:
        result, point.seconds, point.n_calls = timed(solve)
        point.value, point.note = measure(result)
        point.error = abs(point.value - problem.exact) / abs(problem.exact)
    except Exception as exc:  # a failed setting is a row with its error, not a crash
        point.note = f"invalid: {type(exc).__name__}: {str(exc)[:80]}"
    log(
        f"  {problem.key:10s} {family:28s} {setting:22s} "
        f"{point.seconds * 1e3:9.1f} ms  err {point.error:.2e} {point.note}"
    )
    return point


def ours_points(problem, tols):
    points = []
    for tol in tols:
        solver = NewtonGeodesicSolver(problem.space, tol=tol, on_failure="ignore")
        state = {}

        def solve(solver=solver, state=state):
            curve = solver.solve(problem.b, problem.a)
            state["converged"] = bool(np.all(curve.converged))
            return curve

        def measure(curve, state=state):
            length = curve_length(problem.metric, curve(np.linspace(0.0, 1.0, N_EVAL)))
            return length, "" if state["converged"] else "converged=False"

        points.append(run_point(problem, "ours", f"tol={tol:g}", solve, measure))
    return points


def neural_points(problem, steps):
    points = []
    for n_steps in steps:
        solver = NeuralGeodesicSolver(problem.space, n_steps=n_steps, progress=False, **NEURAL)

        def solve(solver=solver):
            return solver.solve(problem.b, problem.a)

        def measure(curve):
            return curve_length(problem.metric, curve(np.linspace(0.0, 1.0, N_EVAL))), ""

        point = run_point(problem, "neural", f"n_steps={n_steps}", solve, measure)
        points.append(point)
        if point.seconds > MAX_SECONDS:
            break
    return points


def stochman_solve(problem, num_nodes, max_iter, tuned, eval_grid=None):
    """A stochman solve on our metric: the returned spline, or the success flag too."""
    a = torch.as_tensor(problem.start, dtype=torch.float64)
    b = torch.as_tensor(problem.end, dtype=torch.float64)
    manifold = suite.StochmanAdapter(problem.metric, scale_energy=tuned)

    def solve():
        curve = suite.CubicSpline(a, b, num_nodes=num_nodes)
        if tuned:
            grid = eval_grid or 5 * num_nodes
            success = suite.geodesic_minimizing_energy(
                curve, manifold, suite.strong_wolfe_lbfgs, max_iter, grid
            )
        else:
            success = suite.geodesic_minimizing_energy(curve, manifold, max_iter=max_iter)
        return curve, bool(success)

    return solve


def stochman_measure(problem):
    def measure(result):
        curve, success = result
        t = torch.linspace(0.0, 1.0, N_EVAL, dtype=torch.float64)
        with torch.no_grad():
            points = curve(t).reshape(N_EVAL, -1)
        return curve_length(problem.metric, points), "" if success else "success=False"

    return measure


def stochman_points(problem, settings, tuned):
    family = "stochman tuned" if tuned else "stochman default"
    points = []
    for num_nodes, max_iter in settings:
        solve = stochman_solve(problem, num_nodes, max_iter, tuned)
        setting = f"nodes={num_nodes}, iter={max_iter}"
        point = run_point(problem, family, setting, solve, stochman_measure(problem))
        points.append(point)
        if point.seconds > MAX_SECONDS:
            break
    return points


def path_straightening_points(problem, nodes):
    points = []
    for n_nodes in nodes:
        method = gb.path_straightening_method(problem, n_nodes, use_start=False)

        def solve(method=method):
            return method.run()["path"]

        def measure(path):
            dense = DiscreteCurve(path).nodes_at(N_EVAL)
            return curve_length(problem.metric, np.asarray(dense).reshape(N_EVAL, -1)), ""

        point = run_point(
            problem, "geomstats PathStraightening", f"n_nodes={n_nodes}", solve, measure
        )
        points.append(point)
        if point.seconds > MAX_SECONDS:
            break
    return points


def shooting_points(problem, steps):
    points = []
    for n_steps in steps:
        method = gb.shooting_method(problem, n_steps, use_start=False)

        def solve(method=method):
            return method.run()["dist"]

        def measure(dist, method=method):
            note, invalid = method.check()
            return dist, ("invalid: " if invalid else "") + note

        point = run_point(
            problem, "geomstats LogShootingSolver", f"n_steps={n_steps}", solve, measure
        )
        points.append(point)
        if point.seconds > MAX_SECONDS:
            break
    return points


# ----------------------------------------------------------------------------
# References independent of our solver
# ----------------------------------------------------------------------------
def mixture_reference(problem):
    """The shortest of a dense graph's path and that path refined by a long stochman run.

    The graph (:class:`DistanceGraph` over the endpoints and 2,000 samples of the
    mixture in 2-D, 4,000 in 16-D, its means as hubs) gives a path whose length is an
    upper bound of the distance; a cubic spline of 128 nodes fitted to it is then
    refined by tuned stochman (L-BFGS, 2,048 evaluation points, 300 iterations),
    whose length on 4097 points is an upper bound too, up to the measure's error.
    Neither uses our solver. Our solver at ``tol=1e-10`` is run as a check only: a
    shorter curve of ours bounds the reference's error from below.
    """
    settings = MIXTURE_REFERENCE
    clock = time.perf_counter()
    n_samples = 2000 if problem.dim == 2 else 4000
    graph = DistanceGraph(
        np.stack([problem.start, problem.end]),
        metric=problem.metric,
        extra_points=n_samples,
        progress=False,
    )
    path = np.asarray(graph.path(0, 1), dtype=float)
    pieces = np.linalg.norm(np.diff(path, axis=0), axis=1)
    times = np.concatenate([[0.0], np.cumsum(pieces)]) / pieces.sum()
    dense = np.stack(
        [np.interp(np.linspace(0.0, 1.0, 4097), times, path[:, k]) for k in range(problem.dim)],
        -1,
    )
    graph_length = curve_length(problem.metric, dense)
    a = torch.as_tensor(problem.start, dtype=torch.float64)
    b = torch.as_tensor(problem.end, dtype=torch.float64)
    spline = suite.CubicSpline(a, b, num_nodes=settings["num_nodes"])
    spline.fit(torch.as_tensor(times[1:-1]), torch.as_tensor(path[1:-1]))
    manifold = suite.StochmanAdapter(problem.metric, scale_energy=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        success = suite.geodesic_minimizing_energy(
            spline,
            manifold,
            suite.strong_wolfe_lbfgs,
            settings["max_iter"],
            settings["eval_grid"],
        )
    t = torch.linspace(0.0, 1.0, 4097, dtype=torch.float64)
    with torch.no_grad():
        refined = curve_length(problem.metric, spline(t).reshape(4097, -1))
    seconds = time.perf_counter() - clock
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = NewtonGeodesicSolver(problem.space, tol=1e-10, on_failure="ignore").solve(
            problem.b, problem.a
        )
    ours_length = curve_length(problem.metric, ours(np.linspace(0.0, 1.0, 4097)))
    value = min(graph_length, refined)
    return dict(
        value=value,
        how=(
            f"min of the graph path ({len(path)} vertices, {n_samples} samples + means: "
            f"{graph_length:.10g}) and its refinement by stochman tuned "
            f"({settings['num_nodes']}-node spline, eval_grid {settings['eval_grid']}, "
            f"max_iter {settings['max_iter']}, success={bool(success)}: {refined:.10g}), "
            f"{seconds:.1f} s, lengths on 4097 points"
        ),
        check=ours_length,
    )


def rebase_on_shortest(problem, points):
    """Errors of a problem without a closed form, against the shortest curve known.

    Every returned curve's measured length is an upper bound of the distance (up
    to the measure's error, far below the differences here), and so is the
    independent reference. Where a solver's curve is shorter than that reference,
    the reference is off by at least the difference, and errors below it would
    mean nothing: the errors are then measured against the shortest curve, as
    excess lengths (lower bounds of the true errors). Shooting's ``norm(log)`` is
    not a curve's length, so it is no upper bound and is left out of the minimum.
    """
    curves = [p for p in points if p.ok and p.family != "geomstats LogShootingSolver"]
    shortest = min(curves, key=lambda p: p.value, default=None)
    if shortest is None or shortest.value >= problem.exact:
        return
    independent = problem.exact
    problem.exact = shortest.value
    problem.reference.update(
        independent=independent,
        shortest=f"{shortest.family} {shortest.setting}",
        accuracy=(independent - shortest.value) / shortest.value,
    )
    for point in points:
        point.error = abs(point.value - problem.exact) / problem.exact


# ----------------------------------------------------------------------------
# The latent row: the paper's DCGAN with a 2-D latent
# ----------------------------------------------------------------------------
def latent_problem(quick):
    import latent

    space = latent.build_space(LATENT, "latent", "newton", dict(tol=1e-2))
    start, end = latent.endpoints(LATENT, space.dim)
    problem = gb.Problem(
        key="latent-dcgan-2",
        label="DCGAN 2-D latent (MNIST)",
        dim=space.dim,
        metric_class=None,
        metric_kwargs={},
        start=np.asarray(start, dtype=float),
        end=np.asarray(end, dtype=float),
        exact=float("nan"),
    )
    problem.space = space
    steps = 300 if quick else LATENT_REFERENCE_STEPS
    solver = NeuralGeodesicSolver(space, n_steps=steps, progress=False, **NEURAL)
    clock = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        curve = solver.solve(problem.b, problem.a)
    seconds = time.perf_counter() - clock
    problem.exact = curve_length(space.metric, curve(np.linspace(0.0, 1.0, 4097)))
    problem.reference = dict(
        value=problem.exact,
        how=f"neural baseline, {steps} Adam steps ({seconds:.0f} s), length on 4097 points",
    )
    return problem


# ----------------------------------------------------------------------------
# Reading ratios off our curve
# ----------------------------------------------------------------------------
def pareto(points):
    """Our (seconds, error) points that no faster point beats on error, fastest first."""
    front = []
    for seconds, error in sorted(points):
        if not front or error < front[-1][1]:
            front.append((seconds, error))
    return front


def our_time_at(front, error):
    """Our time to reach ``error``, interpolated in log-log on the front.

    Errors looser than our fastest point's take its time (no extrapolation); errors
    below our best are out of reach (``nan``), except float64 ties (both at most
    ``EXACT``), which take the time of our first point at that level.
    """
    reached = [(s, e) for s, e in front if e <= max(error, EXACT)]
    if not reached:
        return float("nan")
    if error <= EXACT or front[0][1] <= error:
        return reached[0][0]
    (s1, e1), (s0, e0) = reached[0], front[front.index(reached[0]) - 1]
    fraction = (math.log(e0) - math.log(error)) / (math.log(e0) - math.log(max(e1, 1e-300)))
    return math.exp(math.log(s0) + fraction * (math.log(s1) - math.log(s0)))


def ratios(ours, peer):
    """Rows (peer point, our interpolated time, ratio) for every valid peer point."""
    front = pareto([(p.seconds, p.error) for p in ours if p.ok])
    rows = []
    for point in peer:
        if not point.ok:
            continue
        mine = our_time_at(front, point.error)
        rows.append((point, mine, mine / point.seconds))
    return rows


def target_check(rows):
    """'met', 'missed', 'tie' or 'n/a' over the rows whose peer took more than 5 ms.

    A peer point at float64 resolution (error at most ``EXACT``) that ours matches is
    a tie: no solver can be more accurate there, and the times are call overheads.
    """
    counted = [r for r in rows if r[0].seconds > TARGET_MIN_PEER_SECONDS]
    if not counted:
        return "n/a (peer <= 5 ms)" if rows else "n/a (no valid point)"
    checked = [r for r in counted if not (r[0].error <= EXACT and math.isfinite(r[2]))]
    if not checked:
        return "tie (both exact to float64)"
    worst = max(r[2] if math.isfinite(r[2]) else math.inf for r in checked)
    unreached = sum(not math.isfinite(r[2]) for r in checked)
    if worst <= TARGET_RATIO:
        return "met"
    if unreached:
        return f"missed ({unreached} peer point(s) more accurate than ours)"
    return f"missed (worst {worst:.2f})"


# ----------------------------------------------------------------------------
# Report and figures
# ----------------------------------------------------------------------------
def fmt_ms(seconds):
    return "-" if not math.isfinite(seconds) else f"{seconds * 1e3:.3g}"


def fmt_err(error):
    return "-" if not math.isfinite(error) else f"{error:.1e}"


def setting_label(setting):
    """The knob's value(s) of a setting, as a marker's label: '1e-06', '20/150'."""
    return "/".join(part.split("=")[-1] for part in setting.split(", "))


def figure(problem, points, path, reference_accuracy=None):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    markers = "osD^vP"
    for family, marker in zip(FAMILIES, markers):
        mine = sorted((p for p in points if p.family == family and p.ok), key=lambda p: p.seconds)
        if not mine:
            continue
        x = [p.seconds for p in mine]
        y = [max(p.error, 1e-16) for p in mine]
        ax.plot(x, y, marker=marker, label=family, lw=2 if family == "ours" else 1)
        for p, xi, yi in zip(mine, x, y):
            ax.annotate(setting_label(p.setting), (xi, yi), fontsize=6, alpha=0.7)
    if reference_accuracy:
        ax.axhline(reference_accuracy, color="grey", ls=":", label="independent reference's excess")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("wall time of one solve (s, median, torch 1 thread)")
    ax.set_ylabel("relative error of the returned length")
    ax.set_title(problem.label)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(results, meta):
    lines = [
        "# Work-precision benchmark",
        "",
        f"Command: `{meta['command']}`  ",
        f"Revision: {meta['revision']}  ",
        f"Load average (1, 5, 15 min): {meta['load_start']} at the start, "
        f"{meta['load_end']} at the end; total {meta['seconds']:.0f} s. A 2-core machine "
        "shared with other workers: times move by 20-40% between runs.",
        "",
        "Settings: torch on 1 thread (`OMP_NUM_THREADS=1`); each point is the median of up "
        f"to {TIMED_CALLS} warm calls within {TIME_BUDGET:g} s (a call slower than that is "
        "timed once, after the global warm-up). Errors are relative to the reference, "
        f"measured on what each solver returns: curves by `DiscreteCurve(points, metric)"
        f".length()` on {N_EVAL} uniform points of the returned curve (ours, neural, "
        "stochman, path straightening), geomstats' shooting by its `norm(log)` (its "
        "shots are shot again, untimed, and left out when they land > 0.1% of the chord "
        "off the target). Sweeps: "
        f"ours `tol` in {OURS_TOLS} (default solver otherwise, `on_failure='ignore'`); "
        f"neural `n_points={NEURAL['n_points']}, lr={NEURAL['lr']}`, steps {NEURAL_STEPS}; "
        f"stochman default (Adam lr 0.1, eval_grid 20) (nodes, iterations) in "
        f"{STOCHMAN_DEFAULT}; stochman tuned (L-BFGS strong Wolfe, eval_grid 5 x nodes, "
        f"energy scaled) in {STOCHMAN_TUNED}; PathStraightening `n_nodes` in {PS_NODES}; "
        f"LogShootingSolver RK4 steps in {SHOOTING_STEPS}; a sweep stops after a setting "
        f"over {MAX_SECONDS:g} s. Latent row: ours `tol` in {LATENT_TOLS}, neural steps "
        f"{LATENT_NEURAL_STEPS}.",
        "",
        "## References",
        "",
        "| problem | reference value | how |",
        "|---|---|---|",
    ]
    for problem, _ in results:
        ref = getattr(problem, "reference", None)
        if ref is None:
            how = "closed form"
        else:
            how = ref["how"]
            if "check" in ref:
                how += f"; our `tol=1e-10` curve (a check, not used): {ref['check']:.10g}"
            if "shortest" in ref:
                how += (
                    f". **Errors are measured against the shortest returned curve**, "
                    f"{ref['shortest']}, as the reference above ({ref['independent']:.10g}) "
                    f"is longer by {ref['accuracy']:.1e} (relative): errors are excess "
                    "lengths, lower bounds of the true errors"
                )
        lines.append(f"| {problem.label} | {problem.exact:.12g} | {how} |")
    lines += [
        "",
        "## Headline: our time over the peer's at each accuracy the peer reaches",
        "",
        "Our time at a peer point's error is read off our (time, error) front, "
        "interpolated in log-log; errors looser than our fastest point's take its time; "
        "`-`: more accurate than any of ours. Each cell: peer error -> ratio (peer ms). "
        f"Target: ratio <= {TARGET_RATIO:g} at every point where the peer takes more than "
        f"{TARGET_MIN_PEER_SECONDS * 1e3:g} ms; errors <= {EXACT:g} on both sides are ties.",
        "",
        "| problem | peer | error -> ratio (peer ms) | worst ratio | target |",
        "|---|---|---|---|---|",
    ]
    checks = []
    for problem, points in results:
        ours = [p for p in points if p.family == "ours"]
        for family in FAMILIES[1:]:
            peer = [p for p in points if p.family == family]
            if not peer:
                continue
            rows = ratios(ours, peer)
            cells = "; ".join(
                f"{fmt_err(pt.error)} -> "
                f"{'-' if not math.isfinite(r) else f'{r:.2g}'} ({fmt_ms(pt.seconds)})"
                for pt, _, r in rows
            )
            finite = [r for _, _, r in rows if math.isfinite(r)]
            worst = f"{max(finite):.2g}" if finite else "-"
            check = target_check(rows)
            checks.append((problem.key, family, check))
            lines.append(
                f"| {problem.key} | {family} | {cells or 'no valid point'} | {worst} | {check} |"
            )
    counts = {
        word: sum(c.startswith(word) for *_, c in checks) for word in ("met", "missed", "tie")
    }
    lines += [
        "",
        f"Target met on {counts['met']}, missed on {counts['missed']}, tied on {counts['tie']} "
        "(problem, peer) pairs; the rest n/a.",
    ]
    lines += ["", "## All points", ""]
    for problem, points in results:
        lines += [
            f"### {problem.label}",
            "",
            f"![](work-precision-{problem.key}.png)",
            "",
            "| solver | setting | ms | calls | returned length | rel. error | note |",
            "|---|---|---|---|---|---|---|",
        ]
        for p in points:
            lines.append(
                f"| {p.family} | {p.setting} | {fmt_ms(p.seconds)} | {p.n_calls} | "
                f"{p.value:.12g} | {fmt_err(p.error)} | {p.note} |"
            )
        lines.append("")
    return "\n".join(lines) + "\n", checks


# ----------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------
def sweep(problem, quick):
    if quick:
        settings = QUICK
    else:
        settings = dict(
            ours=OURS_TOLS,
            neural=NEURAL_STEPS,
            stochman_default=STOCHMAN_DEFAULT,
            stochman_tuned=STOCHMAN_TUNED,
            ps=PS_NODES,
            shooting=SHOOTING_STEPS,
        )
    if problem.key.startswith("latent"):
        tols, steps = ((1e-1,), (50,)) if quick else (LATENT_TOLS, LATENT_NEURAL_STEPS)
        return ours_points(problem, tols) + neural_points(problem, steps)
    points = ours_points(problem, settings["ours"])
    points += neural_points(problem, settings["neural"])
    points += stochman_points(problem, settings["stochman_default"], tuned=False)
    points += stochman_points(problem, settings["stochman_tuned"], tuned=True)
    points += path_straightening_points(problem, settings["ps"])
    points += shooting_points(problem, settings["shooting"])
    return points


def select_problems(args):
    keys = set(args.only.split(",")) if args.only else set(QUICK["problems"] if args.quick else [])
    problems = gb.make_problems(quick=True)
    problems += [suite.gaussian_mixture_problem(2, 6), suite.gaussian_mixture_problem(16, 8)]
    chosen = [p for p in problems if not keys or p.key in keys or p.key.split("-")[0] in keys]
    for problem in chosen:
        if not math.isfinite(problem.exact):
            problem.reference = mixture_reference(problem)
            problem.exact = problem.reference["value"]
            log(f"reference {problem.key}: {problem.reference}")
    if not keys or "latent" in keys or "latent-dcgan-2" in keys:
        chosen.append(latent_problem(args.quick))
        log(f"reference {chosen[-1].key}: {chosen[-1].reference}")
    return chosen


def revision():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "geomstats_density", "bench/*.py"],
            cwd=root,
            capture_output=True,
            text=True,
        ).stdout
    except OSError:
        return "unknown"
    return commit + (" with uncommitted changes" if dirty else "")


def save(results, meta, path):
    """The run's points and references as JSON, from which ``--replot`` renders again."""
    data = dict(
        meta=meta,
        problems=[
            dict(
                key=problem.key,
                label=problem.label,
                exact=problem.exact,
                reference=getattr(problem, "reference", None),
                points=[vars(point) for point in points],
            )
            for problem, points in results
        ],
    )
    with open(path, "w") as handle:
        json.dump(data, handle, indent=1)


def load(path):
    with open(path) as handle:
        data = json.load(handle)
    results = []
    for entry in data["problems"]:
        problem = types.SimpleNamespace(
            key=entry["key"], label=entry["label"], exact=entry["exact"]
        )
        if entry["reference"] is not None:
            problem.reference = entry["reference"]
        results.append((problem, [Point(**point) for point in entry["points"]]))
    return results, data["meta"]


def write(results, meta, out):
    """Figures and Markdown report of ``results`` into ``out``."""
    os.makedirs(out, exist_ok=True)
    for problem, points in results:
        accuracy = getattr(problem, "reference", None) or {}
        figure(
            problem,
            points,
            os.path.join(out, f"work-precision-{problem.key}.png"),
            accuracy.get("accuracy"),
        )
    text, checks = report(results, meta)
    with open(os.path.join(out, "work-precision.md"), "w") as handle:
        handle.write(text)
    return text, checks


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two problems, few settings")
    parser.add_argument("--only", help="comma-separated problem keys (H2, Ex2, GMM16, latent...)")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    parser.add_argument(
        "--replot", metavar="JSON", help="render the report and figures of a saved run again"
    )
    args = parser.parse_args(argv)
    if args.replot:
        results, meta = load(args.replot)
        text, checks = write(results, meta, args.out)
        print(text)
        return results, checks
    if os.environ["GEOMSTATS_BACKEND"] != "pytorch":
        raise RuntimeError("bench/work_precision.py needs GEOMSTATS_BACKEND=pytorch")
    torch.set_num_threads(1)
    started = time.perf_counter()
    code_revision = revision()
    load_start = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    gb.warm_up(gb.make_problems(quick=True))
    results = []
    for problem in select_problems(args):
        log(f"{problem.key}: reference {problem.exact:.12g}")
        points = sweep(problem, args.quick)
        if hasattr(problem, "reference"):
            rebase_on_shortest(problem, points)
        results.append((problem, points))
    meta = dict(
        command="python bench/work_precision.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        revision=code_revision,
        load_start=load_start,
        load_end=", ".join(f"{x:.2f}" for x in os.getloadavg()),
        seconds=time.perf_counter() - started,
    )
    os.makedirs(args.out, exist_ok=True)
    save(results, meta, os.path.join(args.out, "work-precision.json"))
    text, checks = write(results, meta, args.out)
    print(text)
    return results, checks


if __name__ == "__main__":
    main()
