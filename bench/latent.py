#!/usr/bin/env python
"""Latent-space geodesics with a generator in the loop: time and peak memory, ours vs the paper's.

For latent dimensions D = 2, 16, 100, 512, a small float32 MLP generator
``R^D -> R^784`` (one tanh layer of width ``max(64, 2 D)``, so that its
Jacobian is well conditioned, of full rank D, and the metric of
``lengths_in='samples'`` is not degenerate)
sits in the loop of a :class:`LatentSpace`: the quality
is the smooth typicality of the prior ``N(0, I_D)`` times the probability that a
random linear classifier puts ``G(z)`` in class 0, and lengths are measured in
the latent space or between generated samples (``lengths_in``). Between two
orthogonal typical codes of norm ``sqrt(D)``, two solvers run on the same space:

* ours: :class:`NewtonGeodesicSolver` (``hessian='auto'``: exact blocks up to
  D = 32, matrix-free Steihaug-CG with the Sobolev preconditioner above), with
  the options of ``--newton`` (default ``tol=1e-4``);
* the paper's baseline: :class:`NeuralGeodesicSolver`, the paper's settings
  (MLP 100-100-100, 20 random times, 500 Adam steps, lr 1e-2).
* the same baseline with 4 times as many steps (``neural x4``): where 500 steps
  leave a longer curve than ours, what more time buys it.

Each measurement runs in a fresh process (spawned) after a warm-up solve in it,
so its peak memory is its own: ``peak MB`` is the rise of the resident set's
high-water mark (``VmHWM``, reset through ``/proc/self/clear_refs``) over the
resident set before the solve; ``py MB`` is the peak of Python and numpy
allocations (``tracemalloc``, in a second, untimed solve; torch's allocator is
not traced). ``length`` is each curve's length in the metric measured the same
way for both (257 nodes at uniform times on its cubic spline,
:func:`~geomstats_density.reports.curve_report`), so lower is better. The ratio
columns divide the baseline's number by ours (> 1: ours is faster, lighter or
shorter).

Run ``python bench/latent.py [--quick] [--out FILE.md]``; ``--quick`` runs
D = 2 and 100 only, with 100 Adam steps.
"""

import argparse
import gc
import math
import multiprocessing
import pathlib
import platform
import resource
import sys
import time
import tracemalloc
import warnings

DIMS = (2, 16, 100, 512)
QUICK_DIMS = (2, 100)
SAMPLE_SIZE = 784
MIN_HIDDEN = 64
# Hidden width per latent dimension: a square random layer is nearly singular (its
# smallest singular value is about D^{-1/2} of its largest), a 2D-wide one is not,
# and trained decoders widen from the latent.
WIDTH = 2
N_CLASSES = 3
NEURAL = dict(hidden=(100, 100, 100), n_points=20, n_steps=500, lr=1e-2)
QUICK_NEURAL_STEPS = 100
# The baseline given this many times the paper's steps: how much time it needs to
# approach the length of our curve where 500 steps stop short of it.
LONG_FACTOR = 4
METHODS = ("newton", "neural", f"neural x{LONG_FACTOR}")
NEWTON = dict(tol=1e-4)


# ----------------------------------------------------------------------
# Memory
# ----------------------------------------------------------------------
def _status_kb(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _reset_high_water_mark():
    """Reset VmHWM to the current resident set; False where the kernel refuses."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


# ----------------------------------------------------------------------
# Problems
# ----------------------------------------------------------------------
def build_space(dim, lengths_in, method, options):
    """The benchmark's LatentSpace; ``method`` is one of ``METHODS``."""
    import torch

    from geomstats_density.densities import Gaussian
    from geomstats_density.latent import LatentSpace

    generator = torch.Generator().manual_seed(dim)
    hidden = max(MIN_HIDDEN, WIDTH * dim)
    # float32 whatever torch's default dtype (geomstats' pytorch backend sets float64),
    # so that both backends draw the same weights and solve the same problem.
    mlp = torch.nn.Sequential(
        torch.nn.Linear(dim, hidden, dtype=torch.float32),
        torch.nn.Tanh(),
        torch.nn.Linear(hidden, SAMPLE_SIZE, dtype=torch.float32),
    )
    classifier = torch.nn.Linear(SAMPLE_SIZE, N_CLASSES, dtype=torch.float32)
    with torch.no_grad():
        for parameter in (*mlp.parameters(), *classifier.parameters()):
            weights = torch.randn(parameter.shape, generator=generator, dtype=torch.float32)
            parameter.copy_(weights / math.sqrt(parameter.shape[-1]))
    return LatentSpace(
        mlp,
        dim,
        log_density=Gaussian(torch.zeros(dim, dtype=torch.float64)),
        classifier=classifier,
        target=0,
        realism="typicality",
        lengths_in=lengths_in,
        method=method.split()[0],
        solver_options=options,
    )


def endpoints(dim):
    from geomstats_density.paper_examples import typical_codes

    return typical_codes(dim, seed=0)


def solver_options(method, quick, newton):
    if method == "newton":
        return dict(newton, progress=False, on_failure="ignore")
    n_steps = QUICK_NEURAL_STEPS if quick else NEURAL["n_steps"]
    if method != "neural":
        n_steps *= LONG_FACTOR
    return dict(NEURAL, n_steps=n_steps, progress=False)


def measure(task):
    """One row, in its own process: warm up, time one solve, trace a second one."""
    dim, lengths_in, method, options = task
    import numpy as np
    import torch

    import geomstats.backend as gs

    from geomstats_density.reports import curve_report

    warnings.simplefilter("ignore")
    warm = build_space(2, lengths_in, method, options)
    warm.metric.log_solver.solve(gs.array([1.0, 0.0]), gs.array([0.0, 1.0]))
    space = build_space(dim, lengths_in, method, options)
    start, end = (gs.array(code) for code in endpoints(dim))
    gc.collect()
    resettable = _reset_high_water_mark()
    rss_before = _status_kb("VmRSS")
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    clock = time.perf_counter()
    cpu = time.process_time()
    curve = space.metric.log_solver.solve(end, start)
    seconds = time.perf_counter() - clock
    cpu_seconds = time.process_time() - cpu
    if resettable:
        peak_mb = (_status_kb("VmHWM") - rss_before) / 1024
    else:  # ru_maxrss only shows growth past the process's earlier peak
        peak_mb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - maxrss_before, 0) / 1024
    tracemalloc.start()
    space.metric.log_solver.solve(end, start)
    python_mb = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    with torch.no_grad():
        report = curve_report(space.metric, curve)
    return dict(
        D=dim,
        lengths_in=lengths_in,
        method=method,
        seconds=seconds,
        cpu_seconds=cpu_seconds,
        peak_mb=peak_mb,
        python_mb=python_mb,
        length=report["length"],
        solver_dist=float(np.asarray(curve.dist)),
        converged=bool(np.all(curve.converged)),
        iterations=int(np.max(curve.n_iterations)),
        nodes=int(np.asarray(curve.nodes).shape[-2]),
    )


def run_isolated(task):
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(measure, (task,))


# ----------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------
def _format(value):
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def table(rows, columns):
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_format(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def report(rows, args):
    ratios = []
    by_key = {(r["D"], r["lengths_in"], r["method"]): r for r in rows}
    for (dim, lengths_in, method), ours in by_key.items():
        if method != "newton" or (dim, lengths_in, "neural") not in by_key:
            continue
        neural = by_key[(dim, lengths_in, "neural")]
        longer = by_key.get((dim, lengths_in, METHODS[2]))
        ratios.append(
            dict(
                D=dim,
                lengths_in=lengths_in,
                time_ratio=neural["seconds"] / ours["seconds"],
                cpu_ratio=neural["cpu_seconds"] / ours["cpu_seconds"],
                peak_memory_ratio=neural["peak_mb"] / max(ours["peak_mb"], 1e-3),
                python_memory_ratio=neural["python_mb"] / max(ours["python_mb"], 1e-3),
                length_ratio=neural["length"] / ours["length"],
                **(
                    {}
                    if longer is None
                    else {
                        f"x{LONG_FACTOR}_time_ratio": longer["seconds"] / ours["seconds"],
                        f"x{LONG_FACTOR}_length_ratio": longer["length"] / ours["length"],
                    }
                ),
            )
        )
    import torch

    header = [
        "# Latent geodesics with a generator in the loop",
        f"`python bench/latent.py {' '.join(sys.argv[1:])}`".replace("  ", " "),
        (
            f"Python {platform.python_version()}, torch {torch.__version__}, "
            f"{multiprocessing.cpu_count()} CPUs, load average {', '.join(f'{x:.1f}' for x in _load())}. "
            f"Generator: MLP D-max({MIN_HIDDEN}, {WIDTH}D)-{SAMPLE_SIZE} (tanh, float32 module run as float64); "
            "quality: smooth typicality of N(0, I) times P(class 0) of a linear classifier on G(z). "
            f"Ours: NewtonGeodesicSolver({_options(args.newton)}); neural: NeuralGeodesicSolver("
            f"{_options(solver_options('neural', args.quick, {}))})."
        ),
        "## Ratios (neural / ours: > 1 means ours is faster, lighter, shorter)",
        table(
            ratios,
            [
                "D",
                "lengths_in",
                "time_ratio",
                "cpu_ratio",
                "peak_memory_ratio",
                "python_memory_ratio",
                "length_ratio",
                f"x{LONG_FACTOR}_time_ratio",
                f"x{LONG_FACTOR}_length_ratio",
            ],
        ),
        (
            f"`x{LONG_FACTOR}_*`: the baseline given {LONG_FACTOR} times as many Adam steps "
            f"(method `{METHODS[2]}`), to see what its time buys where its curves are "
            "longer than ours."
        ),
        "## Measurements",
        table(
            rows,
            [
                "D",
                "lengths_in",
                "method",
                "seconds",
                "cpu_seconds",
                "peak_mb",
                "python_mb",
                "length",
                "solver_dist",
                "converged",
                "iterations",
                "nodes",
            ],
        ),
        (
            "`length`: the curve's length in the metric on 257 nodes at uniform times of its "
            "spline (the same measure for both); `solver_dist`: the solver's own estimate "
            "(Richardson-extrapolated for ours). `peak_mb`: rise of the resident set's "
            "high-water mark during the timed solve; `python_mb`: peak of traced Python and "
            "numpy allocations (torch tensors are not traced)."
        ),
    ]
    return "\n\n".join(header) + "\n"


def _load():
    try:
        return [float(x) for x in pathlib.Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


def _options(options):
    shown = {k: v for k, v in options.items() if k not in ("progress", "on_failure")}
    return ", ".join(f"{k}={v}" for k, v in shown.items())


def _parse_newton(text):
    options = {}
    for item in filter(None, text.split(",")):
        key, value = item.split("=")
        options[key] = None if value == "None" else type_of(value)
    return options


def type_of(value):
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"D in {QUICK_DIMS}, {QUICK_NEURAL_STEPS} Adam steps")
    parser.add_argument("--dims", help="comma-separated latent dimensions (default: 2,16,100,512)")
    parser.add_argument(
        "--newton", default="tol=1e-4", help="options of ours, e.g. 'tol=None,n_nodes=17' (default: %(default)s)"
    )
    parser.add_argument("--out", help="also write the Markdown report to this file")
    args = parser.parse_args(argv)
    args.newton = _parse_newton(args.newton)
    dims = [int(d) for d in args.dims.split(",")] if args.dims else (QUICK_DIMS if args.quick else DIMS)
    tasks = [
        (dim, lengths_in, method, solver_options(method, args.quick, args.newton))
        for dim in dims
        for lengths_in in ("latent", "samples")
        for method in METHODS
    ]
    from tqdm.auto import tqdm

    rows = []
    with tqdm(tasks, desc="bench", unit="solve", file=sys.stderr) as bar:
        for task in bar:
            bar.set_postfix_str(f"D={task[0]} {task[1]} {task[2]}")
            rows.append(run_isolated(task))
    text = report(rows, args)
    print(text)
    if args.out:
        pathlib.Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
