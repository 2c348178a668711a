#!/usr/bin/env python
"""Graph distances of large sets: error against exact distances, and time.

``geomstats_density.graph_distances`` on two metrics, for 1,000 and 10,000 points:

* the Poincare half-plane (``log_factor = -2 log y``, points uniform in
  [-1, 1] x [0.5, 2]): the reference is the closed form, on every pair (1,000
  points) or on every entry of the timed rows (10,000 points);
* the realism index of the 2-D 6-mode Gaussian mixture of bench/suite.py (points:
  samples of the mixture): the reference is our exact solver
  (``paired_distances``, default ``tol=1e-8``) on a random subset of pairs, the
  same pairs for every graph;
* the realism index of the 16-D 8-mode mixture of bench/suite.py, 2,000 samples,
  20 reference pairs: where graphs over samples do poorly.

For each ``n_neighbors`` it reports the graph's build time, the time of the rows
(all 1,000 rows; 100 rows of 10,000, with the full matrix's time extrapolated
from them) and the relative error ``(graph - exact) / exact``: median, 90th
percentile, maximum, and the minimum (negative only through the edges' quadrature
error or the reference's tolerance: graph distances are upper bounds). It also
times :meth:`DistanceGraph.refine` on the mixture's reference pairs and reports
how far it lands from the reference.

Run ``OMP_NUM_THREADS=1 python bench/graph_mode.py --out bench/results/graph-mode.md``
(about 3 minutes on a shared 2-core machine); ``--quick`` runs 1,000 points only.
"""

import os

os.environ.setdefault("GEOMSTATS_BACKEND", "pytorch")
os.environ.setdefault("TQDM_DISABLE", "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from geomstats.geometry.euclidean import Euclidean  # noqa: E402

from geomstats_density import ConformalMetric, DensityConformalMetric  # noqa: E402
from geomstats_density.densities import GaussianMixture  # noqa: E402
from geomstats_density.distances import paired_distances  # noqa: E402
from geomstats_density.graph_distances import DistanceGraph  # noqa: E402
from geomstats_density.quality import RealismIndex  # noqa: E402

NEIGHBORS = {1000: (5, 10, 20, 30, 40, 80), 10000: (10, 30, 60)}
TIMED_ROWS = 100
REFERENCE_PAIRS = {1000: 200, 10000: 100}


def log(message):
    print(message, file=sys.stderr, flush=True)


def half_plane_metric():
    space = Euclidean(2, equip=False)
    space.equip_with_metric(ConformalMetric, log_factor=lambda z: -2.0 * torch.log(z[..., 1]))
    return space.metric


def half_plane_distance(a, b):
    sq = ((a[:, None] - b[None]) ** 2).sum(-1)
    return np.arccosh(1.0 + sq / (2.0 * a[:, None, 1] * b[None, :, 1]))


def mixture_metric(seed=0, n_modes=6):
    """The 2-D mixture of bench/suite.py (gaussian_mixture_problem(2, 6))."""
    rng = np.random.default_rng(seed)
    angles = np.linspace(0, 2 * np.pi, n_modes + 1)[:-1] + rng.uniform(-0.2, 0.2, n_modes)
    means = np.stack([3 * np.cos(angles), 3 * np.sin(angles)], -1)
    covariances = np.stack([np.eye(2) * rng.uniform(0.3, 0.6) for _ in range(n_modes)])
    density = GaussianMixture(np.ones(n_modes), means, covariances)
    space = Euclidean(2, equip=False)
    space.equip_with_metric(
        DensityConformalMetric, log_quality=RealismIndex(density, random_state=seed)
    )
    return space.metric, density


def errors_of(graph_values, reference):
    positive = reference > 0
    return (graph_values[positive] - reference[positive]) / reference[positive]


def summary(errors):
    return (
        f"{np.median(errors):.2e} | {np.quantile(errors, 0.9):.2e} | {errors.max():.2e} | "
        f"{errors.min():.1e}"
    )


def run_half_plane(n_points, lines):
    metric = half_plane_metric()
    rng = np.random.default_rng(3)
    points = np.c_[rng.uniform(-1, 1, n_points), rng.uniform(0.5, 2.0, n_points)]
    rows = np.sort(rng.choice(n_points, size=min(TIMED_ROWS, n_points), replace=False))
    every_row = n_points <= 1000
    for k in NEIGHBORS[n_points]:
        log(f"half-plane n={n_points} k={k}")
        start = time.perf_counter()
        graph = DistanceGraph(points, metric=metric, n_neighbors=k, progress=False)
        build = time.perf_counter() - start
        start = time.perf_counter()
        if every_row:
            dist = np.asarray(graph.matrix())
            rows_time = time.perf_counter() - start
            reference = half_plane_distance(points, points)
            upper = np.triu_indices(n_points, 1)
            errors = errors_of(dist[upper], reference[upper])
            matrix = f"{rows_time:.2f} (measured)"
            checked = f"all {len(upper[0])} pairs"
        else:
            dist = np.asarray(graph.rows(rows))
            rows_time = time.perf_counter() - start
            errors = errors_of(dist, half_plane_distance(points[rows], points))
            matrix = f"{rows_time * n_points / len(rows):.0f} (extrapolated)"
            checked = f"{errors.size} entries of {len(rows)} rows"
        lines.append(
            f"| {n_points} | {k} | {graph.n_edges} | {build:.2f} | "
            f"{rows_time / len(rows if not every_row else points) * 1e3:.2f} | {matrix} | "
            f"{summary(errors)} | {checked} |"
        )


def run_mixture(n_points, lines, refine_lines):
    metric, density = mixture_metric()
    points = np.asarray(density.sample(n_points, random_state=1), dtype=float)
    rng = np.random.default_rng(4)
    n_pairs = REFERENCE_PAIRS[n_points]
    timed_rows = np.sort(rng.choice(n_points, size=min(TIMED_ROWS, n_points), replace=False))
    # Reference pairs: from the timed rows, to random columns.
    pair_rows = rng.choice(len(timed_rows), size=n_pairs)
    pair_cols = rng.choice(n_points, size=n_pairs)
    keep = timed_rows[pair_rows] != pair_cols
    pair_rows, pair_cols = pair_rows[keep], pair_cols[keep]
    log(f"mixture n={n_points}: {len(pair_rows)} reference pairs")
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = np.asarray(
            paired_distances(
                points[timed_rows[pair_rows]], points[pair_cols], metric=metric, progress=False
            ),
            dtype=float,
        )
    exact_time = time.perf_counter() - start
    every_row = n_points <= 1000
    graph = None
    for k in NEIGHBORS[n_points]:
        log(f"mixture n={n_points} k={k}")
        start = time.perf_counter()
        graph = DistanceGraph(points, metric=metric, n_neighbors=k, progress=False)
        build = time.perf_counter() - start
        start = time.perf_counter()
        if every_row:
            dist = np.asarray(graph.matrix())[timed_rows]
            rows_time = time.perf_counter() - start
            per_row = rows_time / n_points
            matrix = f"{rows_time:.2f} (measured)"
        else:
            dist = np.asarray(graph.rows(timed_rows))
            rows_time = time.perf_counter() - start
            per_row = rows_time / len(timed_rows)
            matrix = f"{per_row * n_points:.0f} (extrapolated)"
        errors = errors_of(dist[pair_rows, pair_cols], reference)
        lines.append(
            f"| {n_points} | {k} | {graph.n_edges} | {build:.2f} | {per_row * 1e3:.2f} | "
            f"{matrix} | {summary(errors)} | {errors.size} pairs |"
        )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        refined = np.asarray(graph.refine(timed_rows[pair_rows], pair_cols), dtype=float)
    refine_time = time.perf_counter() - start
    gap = np.abs(refined - reference) / reference
    refine_lines.append(
        f"| {n_points} | {len(reference)} | {exact_time:.1f} | {refine_time:.1f} | "
        f"{np.median(gap):.1e} | {gap.max():.1e} |"
    )


def high_dimensional_mixture(dim=16, n_modes=8, seed=0):
    """The 16-D 8-mode mixture of bench/suite.py (gaussian_mixture_problem(16, 8))."""
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(n_modes, dim)) * 1.5
    covariances = np.stack([np.eye(dim) * rng.uniform(0.3, 0.6) for _ in range(n_modes)])
    density = GaussianMixture(np.ones(n_modes), means, covariances)
    space = Euclidean(dim, equip=False)
    space.equip_with_metric(
        DensityConformalMetric, log_quality=RealismIndex(density, random_state=seed)
    )
    return space.metric, density


def run_high_dimensional(lines, n_points=2000, n_pairs=20):
    metric, density = high_dimensional_mixture()
    points = np.asarray(density.sample(n_points, random_state=1), dtype=float)
    rng = np.random.default_rng(4)
    rows, cols = rng.choice(n_points, n_pairs), rng.choice(n_points, n_pairs)
    keep = rows != cols
    rows, cols = rows[keep], cols[keep]
    log(f"16-D mixture: {len(rows)} reference pairs")
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = np.asarray(
            paired_distances(points[rows], points[cols], metric=metric, progress=False),
            dtype=float,
        )
    exact_time = time.perf_counter() - start
    means = np.asarray(density.means, dtype=float)
    for k, extra, hubs in (
        (10, None, None),
        (30, None, None),
        (60, None, None),
        (30, None, means),
        (60, None, means),
        (30, 5000, None),
    ):
        log(f"16-D mixture k={k} extra={extra} hubs={hubs is not None}")
        start = time.perf_counter()
        graph = DistanceGraph(
            points, metric=metric, n_neighbors=k, extra_points=extra, hubs=hubs, progress=False
        )
        build = time.perf_counter() - start
        start = time.perf_counter()
        dist = np.asarray(graph.rows(rows))[np.arange(len(rows)), cols]
        per_row = (time.perf_counter() - start) / len(np.unique(rows))
        errors = errors_of(dist, reference)
        lines.append(
            f"| {n_points} | {k} | {extra or 0} | {'means' if hubs is not None else 'none'} | "
            f"{graph.n_edges} | {build:.2f} | "
            f"{per_row * 1e3:.2f} | {summary(errors)} | {errors.size} pairs |"
        )
    lines.append("")
    lines.append(
        f"The {len(rows)} reference pairs took {exact_time:.1f} s with `paired_distances`."
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", help="also write the Markdown report here")
    parser.add_argument("--quick", action="store_true", help="1,000 points only")
    args = parser.parse_args()
    sizes = (1000,) if args.quick else (1000, 10000)
    load_start = os.getloadavg()[0]
    wall = time.perf_counter()
    half_plane_lines, mixture_lines, refine_lines, high_lines = [], [], [], []
    for n_points in sizes:
        run_half_plane(n_points, half_plane_lines)
        run_mixture(n_points, mixture_lines, refine_lines)
    run_high_dimensional(high_lines)
    total = time.perf_counter() - wall
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    header = (
        "| n points | n_neighbors | edges | build (s) | ms per row | full matrix (s) | "
        "median err | 90% err | max err | min err | checked on |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    )
    report = "\n".join(
        [
            "# Graph distances: error against exact distances, and time",
            "",
            f"Command: `OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')} python "
            f"bench/graph_mode.py{' --quick' if args.quick else ''}`  ",
            f"geomstats_density at {commit}; Python {platform.python_version()}, torch "
            f"{torch.__version__}, numpy {np.__version__}, {platform.machine()}, "
            f"{os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}, backend "
            f"{os.environ['GEOMSTATS_BACKEND']}.  ",
            f"Load average (1 min) at start / end: {load_start:.2f} / {os.getloadavg()[0]:.2f} "
            f"(the machine is shared: times are noisy). Total runtime {total:.0f} s.",
            "",
            "Relative error `(graph - exact) / exact` over the pairs checked; `min err` is "
            "negative only through the edges' quadrature error (trapezoid rule, 16 sub-pieces "
            "per edge) or the reference's own tolerance: graph distances are upper bounds. "
            "`ms per row` is one Dijkstra run (the rows of a matrix); `full matrix` is measured "
            "for 1,000 points and extrapolated from 100 rows (rows x time per row) for 10,000.",
            "",
            "## Poincare half-plane (reference: the closed form)",
            "",
            header,
            *half_plane_lines,
            "",
            "## Realism index of the 2-D 6-mode Gaussian mixture (reference: our exact solver)",
            "",
            "Reference: `paired_distances` with the default solver (`tol=1e-8`) on random pairs "
            "from the timed rows, the same pairs for every graph.",
            "",
            header,
            *mixture_lines,
            "",
            "`DistanceGraph.refine` on the reference pairs (the exact solver started from each "
            "pair's shortest path on the last graph above), against the reference solved from "
            "the solver's own start:",
            "",
            "| n points | pairs | reference solve (s) | refine (s) | median gap | max gap |",
            "|---:|---:|---:|---:|---:|---:|",
            *refine_lines,
            "",
            "## Realism index of the 16-D 8-mode Gaussian mixture (reference: our exact solver)",
            "",
            "2,000 samples of the mixture of bench/suite.py; the k-NN graph over them falls "
            "apart into one piece per group of components and is joined by bridges "
            "(`bridges=True`, the default). `hubs`: the mixture's means, each joined to the "
            "others by long edges; `extra` samples of the density join as vertices (with "
            "the means as hubs). A negative `min err` here is a graph path shorter than "
            "the curve our solver returned (its length measured to convergence of the "
            "edges' quadrature): the solver's reference is then not the distance.",
            "",
            "| n points | n_neighbors | extra | hubs | edges | build (s) | ms per row | "
            "median err | 90% err | max err | min err | checked on |",
            "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
            *high_lines,
            "",
        ]
    )
    print(report)
    if args.out:
        with open(args.out, "w") as file:
            file.write(report)


if __name__ == "__main__":
    main()
