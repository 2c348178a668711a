"""Profile of the per-call floor of ``metric.dist`` on two small problems.

(a) Example 1: the Euclidean plane with ``DensityConformalMetric`` and
``log_quality=Constant(0.5)``, from (0, 1) to (1, 0);
(b) the half-plane near pair: ``ConformalMetric`` with
``log_factor = -2 log y``, from (0, 1) to (0.1, 1.05).

For each: the median wall time of ``repeats`` warm calls at default tolerance,
a cProfile of one warm call (top functions by cumulative and own time), and the
call counts of the functions that make up the floor (factor evaluations and
jets, autograd calls, trust-region steps, refinement levels, length
measurements). On Example 1 also geomstats' ``PathStraightening`` (33 nodes, as
in bench/suite.py --quick) on the same metric and pair, timed the same way
(``metric.dist``, which is ``norm(log)`` there), with the ratio of the two
minima; it differentiates the metric by autodiff, so only under the pytorch
backend. Run with ``OMP_NUM_THREADS=1``; the backend is chosen by
``GEOMSTATS_BACKEND`` as usual::

    OMP_NUM_THREADS=1 GEOMSTATS_BACKEND=numpy python bench/per_call_floor.py
"""

import argparse
import cProfile
import os
import pstats
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from geomstats.geometry.euclidean import Euclidean  # noqa: E402

from geomstats_density import ConformalMetric, DensityConformalMetric  # noqa: E402
from geomstats_density.quality import Constant  # noqa: E402

torch.set_num_threads(1)

# Functions whose calls are counted: (row, "file.py:function" suffixes).
COUNTED = (
    ("factor evaluations (LogFactor.values)", ("metrics/log_factor.py:values",)),
    ("log-factor jets (LogFactor.jet)", ("metrics/log_factor.py:jet",)),
    ("  by autodiff (jets.py:autodiff_jet)", ("jets.py:autodiff_jet",)),
    ("torch.autograd.grad", ("autograd/__init__.py:grad",)),
    ("torch backward passes", ("~:<method 'run_backward' of 'torch._C._EngineBase' objects>",)),
    ("energy derivatives (Newton iterations)", ("solvers/derivatives.py:energy_derivatives",)),
    ("trial-energy evaluations", ("solvers/steps.py:trial_energies",)),
    ("energies of curves (energies_or_inf)", ("solvers/steps.py:energies_or_inf",)),
    ("banded trust-region steps", ("solvers/banded.py:trust_region_step",)),
    ("banded Cholesky solves", ("solvers/banded.py:batch_cholesky_solve",)),
    ("refinement levels (minimise_isolated)", ("solvers/domain.py:minimise_isolated",)),
    ("length measurements (curve_sq_lengths)", ("metrics/solver_view.py:curve_sq_lengths",)),
    ("  measured, not remembered (geometry)", ("geometry/base.py:curve_sq_lengths",)),
    ("length check (check_lengths)", ("solvers/length_checks.py:check_lengths",)),
    ("graph starts (solvers/graph.py:solve)", ("solvers/graph.py:solve",)),
    ("warnings.warn", ("warnings.py:warn", "~:<built-in function warn>")),
)


def half_plane_log_factor(z):
    """Log conformal factor of the hyperbolic upper half-plane, ``-2 log y``."""
    return -2.0 * torch.log(z[..., 1])


def problems():
    """The two problems: (label, metric, point_a, point_b)."""
    plane = Euclidean(2, equip=False)
    plane.equip_with_metric(
        DensityConformalMetric, log_quality=Constant(0.5), solver_options=dict(progress=False)
    )
    half_plane = Euclidean(2, equip=False)
    half_plane.equip_with_metric(
        ConformalMetric,
        log_factor=half_plane_log_factor,
        solver_options=dict(progress=False),
    )
    return [
        ("Ex1 plane Q=1/2, (0,1)->(1,0)", plane.metric, [0.0, 1.0], [1.0, 0.0]),
        ("H2 near pair, (0,1)->(0.1,1.05)", half_plane.metric, [0.0, 1.0], [0.1, 1.05]),
    ]


def exact_distance(label, point_a, point_b):
    """Closed-form distance of each problem."""
    if label.startswith("Ex1"):
        return np.log(2.0) * np.hypot(*np.subtract(point_b, point_a))
    (x1, y1), (x2, y2) = point_a, point_b
    return np.arccosh(1.0 + ((x2 - x1) ** 2 + (y2 - y1) ** 2) / (2.0 * y1 * y2))


def to_backend(point):
    import geomstats.backend as gs

    return gs.array(np.asarray(point, dtype=np.float64))


def warm_times(metric, point_a, point_b, repeats):
    """Wall times (s) of ``repeats`` warm calls of ``metric.dist``, after a cold one."""
    distance = float(metric.dist(point_a, point_b))
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        metric.dist(point_a, point_b)
        times.append(time.perf_counter() - tic)
    return distance, times


def path_straightening_times(metric, point_a, point_b, repeats):
    """``warm_times`` with geomstats' ``PathStraightening`` (33 nodes) as the log solver."""
    from geomstats.numerics.geodesic import PathStraightening

    saved = metric.log_solver
    metric.log_solver = PathStraightening(metric._space, n_nodes=33)
    try:
        return warm_times(metric, point_a, point_b, repeats)
    finally:
        metric.log_solver = saved


def profile_one(metric, point_a, point_b, top):
    """Stats of one warm call."""
    profiler = cProfile.Profile()
    profiler.enable()
    metric.dist(point_a, point_b)
    profiler.disable()
    return pstats.Stats(profiler)


def _short(key):
    filename, line, function = key
    for marker in ("geomstats_density/", "site-packages/", "lib/python3"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            break
    return f"{filename}:{line}({function})"


def print_top(stats, sort, top):
    """The top functions by ``sort`` (``cumtime`` or ``tottime``), times in ms."""
    column = {"cumtime": 3, "tottime": 2}[sort]
    rows = sorted(stats.stats.items(), key=lambda item: -item[1][column])[:top]
    print(f"  {'calls':>7} {'own ms':>7} {'cum ms':>7}  function")
    for key, (_, ncalls, tottime, cumtime, _) in rows:
        print(f"  {ncalls:7d} {1e3 * tottime:7.2f} {1e3 * cumtime:7.2f}  {_short(key)}")


def _matches(key, where):
    filename, _, function = key
    path, name = where.split(":", 1)
    return filename.endswith(path) and function == name


def inclusive(stats, *wheres, caller=None):
    """Cumulative seconds and calls of the functions ``wheres`` ("file.py:name")."""
    seconds, calls = 0.0, 0
    for key, (_, ncalls, _, cumtime, callers) in stats.stats.items():
        if not any(_matches(key, where) for where in wheres):
            continue
        if caller is None:
            seconds, calls = seconds + cumtime, calls + ncalls
            continue
        for caller_key, entry in callers.items():
            if _matches(caller_key, caller):
                seconds, calls = seconds + entry[3], calls + entry[1]
    return seconds, calls


def breakdown(stats):
    """Where one call's time goes: (row, ms, calls), indented rows are parts of the row above."""
    rf, nw = "solvers/refinement.py", "solvers/newton.py"
    db, lc, dm = "solvers/doubling.py", "solvers/length_checks.py", "solvers/domain.py"

    def t(*wheres, caller=None):
        return inclusive(stats, *wheres, caller=caller)

    total = t("metrics/geodesics.py:dist")
    endpoints = [
        t(f"{rf}:_endpoints"),
        t("metrics/solver_view.py:log_factor_tensor", caller=f"{rf}:solve"),
        t("metrics/solver_view.py:shifted"),
    ]
    endpoints = (sum(e[0] for e in endpoints), sum(e[1] for e in endpoints))
    minimise = t(f"{dm}:minimise_isolated")
    energies = "solvers/steps.py:energies_or_inf"
    parts_of_minimise = [
        (
            "  energy derivatives (gradient + Hessian)",
            t("solvers/derivatives.py:energy_derivatives"),
        ),
        (
            "  energy of the start (_smooth_start)",
            t(energies, caller="trust_region.py:_smooth_start"),
        ),
        ("  trial-step energies", t(energies, caller="solvers/steps.py:trial_energies")),
        ("  kink probe energy (_kink_scale)", t(energies, caller=f"{nw}:_kink_scale")),
        ("  polygon-vs-spline start energy", t(energies, caller=f"{nw}:_polygon_if_lower")),
        (
            "  banded linear algebra",
            t("solvers/banded.py:trust_region_step", "solvers/banded.py:batch_cholesky_solve"),
        ),
    ]
    tr_rest = minimise[0] - sum(part[0] for _, part in parts_of_minimise)
    refine = t(f"{db}:refine")
    drop = t(f"{dm}:drop_outside")
    check = t(f"{lc}:check_lengths", f"{lc}:own_lengths")
    finish = t(f"{db}:_solution")
    estimates = t(
        "solvers/estimates.py:__init__", "solvers/estimates.py:richardson", caller=f"{db}:refine"
    )
    tunnels = t(f"{lc}:restart_tunnels", f"{dm}:keep_inside", caller=f"{db}:_next_starts")
    progress = t("tqdm/asyncio.py:__init__", "tqdm/std.py:__new__", caller=f"{db}:refine")
    refine_rest = (
        refine[0]
        - minimise[0]
        - drop[0]
        - check[0]
        - finish[0]
        - estimates[0]
        - tunnels[0]
        - progress[0]
    )
    top_level = [
        ("endpoint validation (+ shifted copy)", *endpoints),
        ("initial nodes / graph start", *t(f"{nw}:_initial_nodes")),
        ("domain check of the start (drop_outside)", *drop),
        ("Newton minimisation, all levels", *minimise),
        *((name, *part) for name, part in parts_of_minimise),
        ("    (log-factor jets, inside the derivatives)", *t("metrics/log_factor.py:jet")),
        ("  trust-region / step bookkeeping (rest)", tr_rest, 0),
        ("length measurement / check (check_lengths)", *check),
        ("final curve and estimates (_solution)", *finish),
        ("length estimates per level (estimates.py)", *estimates),
        ("tunnel checks between levels (restart_tunnels)", *tunnels),
        ("progress bar object (tqdm, progress=False)", *progress),
        ("refinement-loop bookkeeping (rest of refine)", refine_rest, 0),
        ("graded solve + restarts", *t(f"{rf}:_solve_graded", f"{nw}:_restart_failures")),
        (
            "result assembly (_assemble, scaling)",
            *t(f"{rf}:_assemble", "solution.py:with_lengths_scaled"),
        ),
        ("report / warnings (_report)", *t(f"{rf}:_report")),
    ]
    counted = sum(row[1] for row in top_level if not row[0].startswith(" "))
    top_level.append(("other (dist wrapper, unattributed)", total[0] - counted, 0))
    top_level.append(("total (profiled, metric.dist)", *total))
    return top_level


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    print(f"backend {os.environ.get('GEOMSTATS_BACKEND', 'numpy')}, torch {torch.__version__}")
    for label, metric, a, b in problems():
        point_a, point_b = to_backend(a), to_backend(b)
        distance, times = warm_times(metric, point_a, point_b, args.repeats)
        exact = exact_distance(label, a, b)
        print(f"\n=== {label}")
        print(f"dist {distance:.12f}, exact {exact:.12f}, rel err {abs(distance / exact - 1):.1e}")
        print(
            f"warm wall time per call: median {1e3 * statistics.median(times):.2f} ms, "
            f"min {1e3 * min(times):.2f} ms over {args.repeats} calls"
        )
        if label.startswith("Ex1") and os.environ.get("GEOMSTATS_BACKEND") == "pytorch":
            ps_distance, ps_times = path_straightening_times(metric, point_a, point_b, args.repeats)
            print(
                f"geomstats PathStraightening (33 nodes): dist {ps_distance:.12f}, rel err "
                f"{abs(ps_distance / exact - 1):.1e}; median "
                f"{1e3 * statistics.median(ps_times):.2f} ms, min {1e3 * min(ps_times):.2f} ms; "
                f"ours / path straightening (minima): {min(times) / min(ps_times):.2f}"
            )
        stats = profile_one(metric, point_a, point_b, args.top)
        print(f"profiled call: {stats.total_calls} function calls, {stats.total_tt * 1e3:.1f} ms")
        print("\n-- top by cumulative time (ms)")
        print_top(stats, "cumtime", args.top)
        print("\n-- top by own time (ms)")
        print_top(stats, "tottime", args.top)
        print("-- breakdown (ms under the profiler, calls)")
        for name, seconds, calls in breakdown(stats):
            print(f"  {name:48s} {1e3 * seconds:7.2f} {calls:5d}")
        print("\n-- counts (calls, cumulative ms)")
        for name, wheres in COUNTED:
            seconds, calls = inclusive(stats, *wheres)
            print(f"  {name:48s} {calls:5d} {1e3 * seconds:7.2f}")


if __name__ == "__main__":
    main()
