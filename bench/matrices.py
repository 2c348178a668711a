#!/usr/bin/env python
"""Distance matrices at the default settings on the hard cases users bring.

Rows, each ``metric.dist_pairwise(points)`` with every default (torch on one
thread, one process unless said):

* ``GMM2-6`` and ``GMM2-6-jobs2``: the realism index of bench/suite.py's 6-mode
  2-D mixture on 100 of its samples (the suite's matrix), in one process and in
  two worker processes (``n_jobs=2``);
* ``sharp-ratio``: a 5-mode 2-D Gaussian mixture with narrow modes (variance
  0.05, means on the circle of radius 3) and its ``DensityRatio`` at
  ``eps=0.05``: the factor ``-log Q`` spans 0.025 to 3.7, and the geodesics
  between modes dive into and out of the wells; points are samples of the
  mixture;
* ``sharp-realism``: the same mixture's ``RealismIndex`` at ``eps=0.05``, whose
  law of ``log p(X)`` is estimated from 4,096 samples (its default ``tol`` is
  raised to a hundredth of its ``relative_error``);
* ``H2-compact`` and ``H2-wide``: the half-plane ``log_factor = -2 log y`` on
  uniform points of ``[-1, 1] x [0.5, 2]`` (the suite's set) and of
  ``[-3, 3] x [0.2, 3]``;
* ``H2-1000``: the compact set's 1,000 points (bench/suite.py's 1,000-point
  matrix), run only when named in ``--only``.

Each row prints the tolerance used, wall and CPU time, pairs per second, the
share of pairs that converged (from the one convergence warning), and the largest
relative error of a few entries against a reference: the closed form on the
half-plane, our solver at ``tol=1e-9`` (up to 1,025 nodes) on the mixtures.

Run ``python bench/matrices.py [--quick] [--only ROW,ROW] [--out FILE]``; see
bench/README.md.
"""

import os

os.environ.setdefault("GEOMSTATS_BACKEND", "pytorch")

import argparse  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from geomstats.geometry.euclidean import Euclidean  # noqa: E402
from geomstats.geometry.poincare_half_space import PoincareHalfSpace  # noqa: E402

import geomstats_density  # noqa: E402
from geomstats_density import (  # noqa: E402
    ConformalMetric,
    DensityConformalMetric,
    NewtonGeodesicSolver,
)
from geomstats_density.densities import GaussianMixture  # noqa: E402
from geomstats_density.quality import DensityRatio, RealismIndex  # noqa: E402

REFERENCE_OPTIONS = dict(tol=1e-9, max_nodes=1025, max_iter=200, on_failure="ignore")
UNCONVERGED = re.compile(r"(\d+) of (\d+) geodesic distances did not converge")


def log(message):
    print(message, file=sys.stderr, flush=True)


def sharp_mixture():
    """Five narrow modes on the circle of radius 3: the factor spans two decades."""
    angles = np.linspace(0.0, 2 * np.pi, 6)[:-1]
    means = np.stack([3 * np.cos(angles), 3 * np.sin(angles)], -1)
    return GaussianMixture(np.ones(5), means, np.stack([0.05 * np.eye(2)] * 5))


def suite_mixture():
    """bench/suite.py's 6-mode 2-D mixture (``gaussian_mixture_problem(2, 6)``)."""
    rng = np.random.default_rng(0)
    angles = np.linspace(0, 2 * np.pi, 7)[:-1] + rng.uniform(-0.2, 0.2, 6)
    means = np.stack([3 * np.cos(angles), 3 * np.sin(angles)], -1)
    covariances = np.stack([np.eye(2) * rng.uniform(0.3, 0.6) for _ in range(6)])
    return GaussianMixture(np.ones(6), means, covariances)


def density_space(quality):
    space = Euclidean(2, equip=False)
    space.equip_with_metric(DensityConformalMetric, log_quality=quality)
    return space


def half_plane_space():
    space = Euclidean(2, equip=False)
    space.equip_with_metric(ConformalMetric, log_factor=lambda z: -2.0 * torch.log(z[..., 1]))
    return space


def uniform_box(n, low, high, seed=3):
    rng = np.random.default_rng(seed)
    return np.stack([rng.uniform(low[i], high[i], n) for i in range(2)], axis=-1)


def rows(quick):
    """(key, label, space, points, reference, n_jobs) of each row."""
    suite = suite_mixture()
    suite_points = np.asarray(suite.sample(1000, random_state=1), dtype=float)
    mixture = sharp_mixture()
    mixture_points = np.asarray(mixture.sample(200, random_state=1), dtype=float)
    n_mixture, n_plane = (16, 60) if quick else (60, 200)

    def solver_reference(space):
        solver = NewtonGeodesicSolver(space, **REFERENCE_OPTIONS)

        def reference(a, b):
            curve = solver.solve(torch.from_numpy(b), torch.from_numpy(a))
            return np.asarray(curve.dist, dtype=float), np.asarray(curve.converged)

        return reference

    def closed_form(a, b):
        dist = PoincareHalfSpace(2).metric.dist(torch.from_numpy(a), torch.from_numpy(b))
        return np.asarray(dist, dtype=float), np.ones(len(a), dtype=bool)

    ratio = density_space(DensityRatio(mixture, eps=0.05))
    realism = density_space(RealismIndex(mixture, eps=0.05))
    plane = half_plane_space()
    realism_6 = density_space(RealismIndex(suite, random_state=0))
    n_suite = 40 if quick else 100
    return [
        (
            "GMM2-6",
            "6 modes (the suite's), RealismIndex",
            realism_6,
            suite_points[:n_suite],
            solver_reference(realism_6),
            1,
        ),
        (
            "GMM2-6-jobs2",
            "6 modes (the suite's), RealismIndex, n_jobs=2",
            realism_6,
            suite_points[:n_suite],
            solver_reference(realism_6),
            2,
        ),
        (
            "sharp-ratio",
            "5 narrow modes, DensityRatio eps=0.05",
            ratio,
            mixture_points[:n_mixture],
            solver_reference(ratio),
            1,
        ),
        (
            "sharp-realism",
            "5 narrow modes, RealismIndex eps=0.05",
            realism,
            mixture_points[:n_mixture],
            solver_reference(realism),
            1,
        ),
        (
            "H2-compact",
            "half-plane, [-1, 1] x [0.5, 2]",
            plane,
            uniform_box(n_plane, (-1.0, 0.5), (1.0, 2.0)),
            closed_form,
            1,
        ),
        (
            "H2-wide",
            "half-plane, [-3, 3] x [0.2, 3]",
            plane,
            uniform_box(n_plane, (-3.0, 0.2), (3.0, 3.0)),
            closed_form,
            1,
        ),
        (
            "H2-1000",
            "half-plane, [-1, 1] x [0.5, 2] (bench/suite.py's 1,000 points)",
            plane,
            uniform_box(1000, (-1.0, 0.5), (1.0, 2.0)),
            closed_form,
            1,
        ),
    ]


# Rows run only when named in ``--only``: they take minutes.
ON_REQUEST = {"H2-1000"}


def measure(space, points, reference, n_jobs, n_checked):
    """Time one default ``dist_pairwise``; check ``n_checked`` entries."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0, c0 = time.perf_counter(), time.process_time()
        matrix = space.metric.dist_pairwise(points, n_jobs=n_jobs, progress=False)
        matrix = np.asarray(matrix, dtype=float)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    n = len(points)
    pairs = n * (n - 1) // 2
    unconverged = 0
    for warning in caught:
        if issubclass(warning.category, geomstats_density.GeodesicConvergenceWarning):
            found = UNCONVERGED.search(str(warning.message))
            unconverged += int(found.group(1)) if found else 0
    rows_, cols = np.triu_indices(n, k=1)
    size = min(n_checked, rows_.size)
    pick = np.random.default_rng(2).choice(rows_.size, size=size, replace=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exact, exact_converged = reference(points[rows_[pick]], points[cols[pick]])
    errors = np.abs(matrix[rows_[pick], cols[pick]] - exact) / exact
    return dict(
        points=n,
        pairs=pairs,
        tol=space.metric.log_solver.tol,
        wall=wall,
        cpu=cpu,
        converged=1 - unconverged / pairs,
        max_error=float(errors.max()),
        median_error=float(np.median(errors)),
        checked=int(pick.size),
        reference_converged=int(np.sum(exact_converged)),
    )


def render(results, meta):
    lines = [
        "| row | problem | points | pairs | tol | wall s | CPU s | pairs/s | converged "
        "| max (median) rel. error vs reference |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, label, r in results:
        lines.append(
            f"| {key} | {label} | {r['points']} | {r['pairs']} | {r['tol']:.2g} "
            f"| {r['wall']:.1f} | {r['cpu']:.1f} | {r['pairs'] / r['wall']:.1f} "
            f"| {100 * r['converged']:.1f}% | {r['max_error']:.1e} ({r['median_error']:.1e}), "
            f"{r['checked']} entries, {r['reference_converged']} references converged |"
        )
    return "\n".join([meta, "", *lines, ""])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="16 and 60 points")
    parser.add_argument("--only", help="comma-separated row keys (e.g. sharp-ratio,H2-wide)")
    parser.add_argument("--out", help="also write the Markdown table here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        cwd=os.path.dirname(os.path.abspath(__file__)),
    ).stdout.strip()
    load = os.getloadavg()
    meta = (
        f"`python bench/matrices.py{' --quick' if args.quick else ''}"
        f"{' --only ' + args.only if args.only else ''}`, package at "
        f"{os.path.dirname(geomstats_density.__file__)} (bench commit {commit}), "
        f"backend {os.environ['GEOMSTATS_BACKEND']}, torch on 1 thread, "
        f"load average {load[0]:.2f} at the start"
    )
    wanted = None if args.only is None else set(args.only.split(","))
    results = []
    for key, label, space, points, reference, n_jobs in rows(args.quick):
        if (key not in wanted) if wanted is not None else key in ON_REQUEST:
            continue
        log(f"{key}: {len(points)} points")
        result = measure(space, points, reference, n_jobs, n_checked=3 if args.quick else 5)
        log(f"{key}: {result['wall']:.1f} s, {100 * result['converged']:.1f}% converged")
        results.append((key, label, result))
    report = render(results, meta + f", {os.getloadavg()[0]:.2f} at the end.")
    print(report)
    if args.out:
        with open(args.out, "w") as out:
            out.write(report)


if __name__ == "__main__":
    main()
