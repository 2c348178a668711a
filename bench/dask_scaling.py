#!/usr/bin/env python
"""Distance matrices on Dask: one process against local clusters of 1 and 2 workers.

For two problems, the hyperbolic half-plane as a ``ConformalMetric`` and the
realism index of a 6-mode Gaussian mixture in 2-D (``tol=1e-4``; both from
bench/suite.py), it times ``pairwise_distances`` of one set of points

* in this process (``n_jobs=1``, torch on one thread),
* on a ``dask.distributed.LocalCluster`` of 1 worker process and of 2 (one
  thread each, ``processes=True``), each started and warmed up (torch and the
  package imported, the metric unpickled once) before it is timed,

checks that the three matrices are equal bit for bit, and reports wall time,
pairs per second, speedup, parallel efficiency and the CPU time that solved
them (this process's, or the workers' summed). From the measured per-worker
rate and 2-worker efficiency, in wall time on this machine and in CPU time (a
worker per dedicated core), it extrapolates the time of a 10,000 x 10,000 matrix
(49,995,000 pairs) on W workers: ``pairs / (W * rate_1 * efficiency)``.

Writes ``bench/results/dask-scaling.md`` and ``bench/results/dask-scaling.png``
(``--out-dir`` to change). ``dask[distributed]`` is the extra ``distributed``:
``pip install -e ".[distributed]"``. Run ``python bench/dask_scaling.py``
(about 5 minutes on an idle 2-core machine); ``--quick`` for a smoke run.
"""

import os

os.environ.setdefault("GEOMSTATS_BACKEND", "pytorch")
# One thread per process, here and in the workers (which inherit the environment).
os.environ.setdefault("OMP_NUM_THREADS", "1")

import sys  # noqa: E402

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)

import argparse  # noqa: E402
import datetime  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import cloudpickle  # noqa: E402
import dask  # noqa: E402
import distributed  # noqa: E402
import geodesics  # noqa: E402  (bench/geodesics.py: the half-plane's log-factor)
import numpy as np  # noqa: E402
import suite  # noqa: E402  (bench/suite.py: the problems)
import torch  # noqa: E402

from geomstats_density.distance_batches import DEFAULT_BATCH_SIZE  # noqa: E402
from geomstats_density.distances import pairwise_distances  # noqa: E402

# The workers cannot import the bench modules: ship their functions by value.
cloudpickle.register_pickle_by_value(geodesics)
cloudpickle.register_pickle_by_value(suite)

WORKER_COUNTS = (1, 2)
# Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which made the
# solver take 1.8 times the CPU of this process (measured on the mixture): the
# workers start with glibc's own setting unless --dask-malloc-trim.
DASK_MALLOC_TRIM = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
PROJECTED_POINTS = 10_000
PROJECTED_WORKERS = (1, 2, 64, 512)
MIXTURE_TOL = suite.MATRIX_LOOSE_TOL


def log(message):
    print(message, file=sys.stderr, flush=True)


def problems(args):
    """``(name, metric, points)`` of the two problems, sized by ``args``."""
    half_plane = suite.half_plane_matrix_problem()
    rng = np.random.default_rng(3)
    n = args.half_plane_points
    half_plane_points = np.stack([rng.uniform(-1, 1, n), rng.uniform(0.5, 2.0, n)], axis=-1)
    mixture = suite.gaussian_mixture_problem(2, 6)
    mixture.metric.log_solver.tol = MIXTURE_TOL
    mixture_points = np.asarray(
        suite.sample_mixture(mixture, args.mixture_points, seed=1), dtype=float
    )
    return [
        ("H2 half-plane (tol=1e-8)", half_plane.metric, half_plane_points),
        (f"GMM 2-D, 6 modes (tol={MIXTURE_TOL:g})", mixture.metric, mixture_points),
    ]


def import_package():
    """Import torch and the package on a worker, before it is timed."""
    import geomstats_density.distances  # noqa: F401


def cpu_seconds(client):
    """CPU time of this process, or the sum over the client's worker processes."""
    if client is None:
        return time.process_time()
    return sum(client.run(time.process_time).values())


def timed_matrix(metric, points, client=None):
    """The matrix, its wall time, the CPU time that solved it and the load around it."""
    load = os.getloadavg()[0]
    cpu = cpu_seconds(client)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the statuses are the same in every run
        matrix = pairwise_distances(points, metric=metric, client=client, progress=False)
    wall = time.perf_counter() - start
    cpu = cpu_seconds(client) - cpu
    return dict(
        matrix=np.asarray(matrix, dtype=float),
        wall=wall,
        cpu=cpu,
        load=(load, os.getloadavg()[0]),
        points=len(points),
        pairs=len(points) * (len(points) - 1) // 2,
    )


def run(args):
    torch.set_num_threads(1)
    if not args.dask_malloc_trim:
        dask.config.set({DASK_MALLOC_TRIM: None})
    cases = problems(args)
    results = {name: {} for name, _, _ in cases}
    for name, metric, points in cases:
        row = results[name]["process"] = timed_matrix(metric, points)
        log(f"{name}: {len(points)} points in this process: {row['wall']:.1f} s")
    startup = {}
    for n_workers in WORKER_COUNTS:
        start = time.perf_counter()
        with (
            distributed.LocalCluster(
                n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            client.run(import_package)
            trims = set(client.run(os.environ.get, "MALLOC_TRIM_THRESHOLD_").values())
            log(f"{n_workers} worker(s): MALLOC_TRIM_THRESHOLD_ {trims}")
            for _, metric, points in cases:  # tasks of 1 pair, for every worker's first solves
                pairwise_distances(
                    points[:6], metric=metric, client=client, batch_size=1, progress=False
                )
            startup[n_workers] = time.perf_counter() - start
            for name, metric, points in cases:
                row = results[name][n_workers] = timed_matrix(metric, points, client)
                log(f"{name}: {n_workers} Dask worker(s): {row['wall']:.1f} s")
    for rows in results.values():
        for row in rows.values():
            row["equal"] = bool(np.array_equal(row["matrix"], rows["process"]["matrix"]))
    return results, startup


def projection(rows):
    """Rates, 2-worker efficiencies and hours of a 10,000-point matrix on W workers.

    From wall time: the rate of 1 Dask worker and the efficiency of 2 on this
    shared machine. From CPU time: one worker per dedicated core, at the measured
    CPU seconds per pair of 1 worker, and the efficiency of 2 in CPU time (the CPU
    the second worker adds, not the cores it waits for).
    """
    pairs = PROJECTED_POINTS * (PROJECTED_POINTS - 1) // 2
    out = {}
    for kind in ("wall", "cpu"):
        rate = rows[1]["pairs"] / rows[1][kind]
        if kind == "wall":
            efficiency = rows[2]["pairs"] / rows[2]["wall"] / (2 * rate)
        else:
            efficiency = (rows[1]["cpu"] / rows[1]["pairs"]) / (rows[2]["cpu"] / rows[2]["pairs"])
        hours = [
            pairs / (w * rate * (efficiency if w > 1 else 1)) / 3600 for w in PROJECTED_WORKERS
        ]
        out[kind] = (rate, efficiency, hours)
    return out


def git_commit():
    try:
        return subprocess.run(
            ["git", "-C", BENCH, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def render(results, startup, elapsed, args):
    lines = [
        "# Distance matrices on Dask: scaling with workers",
        "",
        f"`python bench/dask_scaling.py`, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} "
        f"UTC, commit {git_commit()}, {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, torch {torch.__version__}, "
        f"dask {distributed.__version__}, geomstats backend "
        f"{os.environ['GEOMSTATS_BACKEND']}; the whole run took {elapsed:.0f} s.",
        "",
        "`pairwise_distances(points, metric=..., client=...)` with the default "
        f"`batch_size={DEFAULT_BATCH_SIZE}` and `batches_per_task=1`: in this process "
        "(`n_jobs=1`, torch on 1 thread) and on a `LocalCluster` of 1 and 2 worker "
        "processes with 1 thread each, "
        + (
            "with the `MALLOC_TRIM_THRESHOLD_=65536` that Dask's nanny sets in its workers"
            if args.dask_malloc_trim
            else "started without the `MALLOC_TRIM_THRESHOLD_=65536` that Dask's nanny sets "
            f"by default (`dask.config.set({{'{DASK_MALLOC_TRIM}': None}})`)"
        )
        + ". Each cluster is started and warmed up (torch and "
        "the package imported on every worker, then a 6-point matrix of each problem in "
        "tasks of 1 pair) before the timed runs; that took "
        + ", ".join(f"{startup[w]:.1f} s ({w} worker{'s' * (w > 1)})" for w in WORKER_COUNTS)
        + ". Speedup is against this process; efficiency is the rate of W workers over "
        "W times the rate of 1 Dask worker. CPU is the CPU time of this process, or the "
        "sum over the workers (`time.process_time` on each, by `client.run`). *Load* is "
        "the 1-minute load average (`os.getloadavg`) before and after each run: **the "
        "machine has 2 cores shared with other jobs**, so with a load above 2 the "
        "workers wait for a core and wall times measure the contention as much as the "
        "code. CPU seconds per pair do not depend on the load.",
        "",
        "| problem | points (pairs) | run | wall (s) | pairs/s | speedup | efficiency | "
        "CPU (s) | CPU ms/pair | load before/after | matrix equal |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for name, rows in results.items():
        base = rows["process"]["wall"]
        one_rate = rows[1]["pairs"] / rows[1]["wall"]
        for key in ("process", *WORKER_COUNTS):
            row = rows[key]
            rate = row["pairs"] / row["wall"]
            label = "this process" if key == "process" else f"Dask, {key} worker{'s' * (key > 1)}"
            efficiency = "" if key == "process" else f"{rate / (key * one_rate):.2f}"
            lines.append(
                f"| {name} | {row['points']} ({row['pairs']}) | {label} | {row['wall']:.1f} | "
                f"{rate:.0f} | {base / row['wall']:.2f} | {efficiency} | {row['cpu']:.1f} | "
                f"{1000 * row['cpu'] / row['pairs']:.2f} | "
                f"{row['load'][0]:.1f} / {row['load'][1]:.1f} | "
                f"{'yes' if row['equal'] else '**no**'} |"
            )
    lines += [
        "",
        "![pairs per second against workers](dask-scaling.png)",
        "",
        f"## Projection: a {PROJECTED_POINTS:,} x {PROJECTED_POINTS:,} matrix (extrapolated)",
        "",
        f"{PROJECTED_POINTS * (PROJECTED_POINTS - 1) // 2:,} pairs, each solved once. "
        "**Extrapolated, not measured**: time = pairs / (W x per-worker rate x "
        "efficiency), with the efficiency measured at 2 workers (1 for W = 1). *Wall*: "
        "the rate of 1 Dask worker and the 2-worker efficiency on this shared machine. "
        "*CPU*: a worker per dedicated core, at the CPU time per pair of 1 worker and "
        "the 2-worker efficiency in CPU time (the extra CPU a second worker spends). "
        "Both assume that the large matrix's pairs cost what these cost (points from "
        "the same distribution), cluster cores as fast as this machine's, and the "
        "2-worker efficiency holding at W workers. With W in the hundreds, raise "
        "`batches_per_task` so that each task runs for seconds: the scheduler's "
        "overhead is about 1 ms per task and it dispatches a few thousand tasks per "
        "second, so short tasks lower the efficiency below the measured one.",
        "",
        "| problem | from | per-worker rate (pairs/s) | efficiency at 2 | "
        + " | ".join(f"W = {w}" for w in PROJECTED_WORKERS)
        + " |",
        "|---|---|---:|---:|" + "---:|" * len(PROJECTED_WORKERS),
    ]
    for name, rows in results.items():
        for kind, (rate, efficiency, hours) in projection(rows).items():
            lines.append(
                f"| {name} | {kind} | {rate:.0f} | {efficiency:.2f} | "
                + " | ".join(format_hours(h) for h in hours)
                + " |"
            )
    return "\n".join(lines) + "\n"


def format_hours(hours):
    if hours >= 24:
        return f"{hours / 24:.1f} days"
    if hours >= 1:
        return f"{hours:.1f} h"
    return f"{hours * 60:.0f} min"


def plot(results, path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 3.6), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(results))
    workers = np.array(WORKER_COUNTS)
    for ax, (name, rows) in zip(axes, results.items()):
        rates = np.array([rows[w]["pairs"] / rows[w]["wall"] for w in WORKER_COUNTS])
        ax.plot(workers, rates[0] * workers, "--", color="0.5", label="ideal (1 worker x W)")
        ax.plot(workers, rates, "o-", label="Dask LocalCluster")
        process_rate = rows["process"]["pairs"] / rows["process"]["wall"]
        ax.plot([1], [process_rate], "s", color="C3", label="this process (n_jobs=1)")
        ax.set_xticks(workers)
        ax.set_xlabel("worker processes (1 thread each)")
        ax.set_ylabel("pairs per second")
        ax.set_ylim(0, None)
        ax.set_title(f"{name}\n{rows[1]['points']} points, {rows[1]['pairs']} pairs", fontsize=9)
        ax.legend(fontsize=8)
    figure.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--half-plane-points", type=int, default=220)
    parser.add_argument("--mixture-points", type=int, default=65)
    parser.add_argument("--quick", action="store_true", help="small matrices, a smoke run")
    parser.add_argument(
        "--dask-malloc-trim",
        action="store_true",
        help="keep the MALLOC_TRIM_THRESHOLD_ that Dask's nanny sets in its workers",
    )
    parser.add_argument("--out-dir", default=os.path.join(BENCH, "results"))
    args = parser.parse_args()
    if args.quick:
        args.half_plane_points, args.mixture_points = 40, 12
    start = time.perf_counter()
    results, startup = run(args)
    report = render(results, startup, time.perf_counter() - start, args)
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, "dask-scaling.md"), "w") as file:
        file.write(report)
    plot(results, os.path.join(args.out_dir, "dask-scaling.png"))
    print(report)


if __name__ == "__main__":
    main()
