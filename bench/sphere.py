#!/usr/bin/env python
"""One sphere problem, three ways: manifold solver, chart map, ambient penalty.

The problem is the example of ``examples/plot_11_sphere_caps.py``: three von
Mises-Fisher caps on the 2-sphere, quality the density ratio
``Q = 0.1 + 0.8 p / max p``, metric ``log(Q)^2`` times the round metric, from a
point of one equatorial cap to a point of the other. Methods:

* **manifold**: ``Hypersphere(2)`` with a ``DensityConformalMetric``; its default
  solver, pymanopt's Riemannian trust regions on nodes kept on the sphere
  (:class:`~geomstats_density.solvers.manifold.ManifoldGeodesicSolver`), with
  node doubling to ``tol=1e-8`` and on one fixed 65-node curve;
* **chart** (the paper's Example 2): ``Euclidean(2)`` with ``phi`` the inverse
  stereographic projection from the south pole and ``log Q(phi(u))``; the Newton
  solver on chart coordinates;
* **ambient + penalty** (the paper's Example 4): ``Euclidean(3)`` with
  ``log Q(z / |z|) - K d(z)``, ``d`` the distance to the sphere, as the paper's
  ``|1 - |z||`` (kinked on the sphere) or its square (smooth); the Newton solver
  in ``R^3`` from the great circle, on fixed 65-node curves as the kinked
  Example 4 (from the chord it stops in poor local minima).

Every curve is then measured the same way: mapped onto the sphere (``phi``, or
``z / |z|``), resampled at 2049 and 4097 uniform times and its length in the
sphere metric Richardson-extrapolated. The reference is the manifold solver at
``tol=1e-11``. Columns: wall and CPU time (medians of the repeats, after a
warm-up call; CPU time is the one to read on a busy machine), the solver's own
length estimate, the measured length on the sphere and its error against the
reference (a geodesic is shortest, so a positive excess is the price of a worse
curve), the largest distance between the curve and the reference geodesic, and
for the ambient method how far the curve leaves the sphere.

Run ``python bench/sphere.py [--quick] [--out FILE.md]``.
"""

import argparse
import math
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import geomstats.backend as gs
import numpy as np
import torch
from geomstats.geometry.euclidean import Euclidean
from geomstats.geometry.hypersphere import Hypersphere

from geomstats_density import DensityConformalMetric
from geomstats_density.backend import to_numpy
from geomstats_density.energy import curve_length
from geomstats_density.quality import DensityRatio
from geomstats_density.reports import N_EVAL, slerp
from geomstats_density.solvers.manifold import ManifoldGeodesicSolver

# The example's caps and endpoints, shared with the tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from paper_problems import SPHERE_END, SPHERE_START, sphere_caps  # noqa: E402

MEASURE_NODES = (2049, 4097)
KINK_OPTIONS = dict(tol=None, n_nodes=65, max_iter=300, on_failure="ignore")


def south_pole_chart(u):
    """Inverse stereographic projection from the south pole, ``R^2 -> S^2``."""
    sq_norm = (u * u).sum(-1, keepdim=True)
    return torch.cat([2 * u, 1 - sq_norm], dim=-1) / (1 + sq_norm)


def to_south_pole_chart(point):
    return point[:2] / (1 + point[2])


def sphere_space(quality):
    space = Hypersphere(2, equip=False)
    space.equip_with_metric(DensityConformalMetric, log_quality=quality)
    return space


def measured_length(metric, points_on_sphere):
    """Richardson-extrapolated sphere-metric length of a curve given as a callable."""
    lengths = []
    for n_nodes in MEASURE_NODES:
        points = torch.as_tensor(to_numpy(points_on_sphere(np.linspace(0, 1, n_nodes))))
        points = points / points.norm(dim=-1, keepdim=True)
        with torch.no_grad():
            lengths.append(float(curve_length(metric, points)))
    return (4 * lengths[1] - lengths[0]) / 3


def run_manifold(quality, **options):
    space = sphere_space(quality)
    space.metric.log_solver = ManifoldGeodesicSolver(space, max_nodes=8193, **options)
    curve = space.metric.log_solver.solve(gs.array(SPHERE_END), gs.array(SPHERE_START))
    return float(curve.dist), curve, None


def run_chart(quality):
    space = Euclidean(2, equip=False)
    space.equip_with_metric(
        DensityConformalMetric,
        log_quality=lambda u: quality(south_pole_chart(u)),
        phi=south_pole_chart,
    )
    curve = space.metric.log_solver.solve(
        gs.array(to_south_pole_chart(SPHERE_END)), gs.array(to_south_pole_chart(SPHERE_START))
    )

    def on_sphere(times):
        return south_pole_chart(torch.as_tensor(to_numpy(curve(times))))

    return float(curve.dist), on_sphere, None


def run_ambient(quality, rate, smooth):
    def log_quality(z):
        radius = z.norm(dim=-1)
        distance = (1 - radius) ** 2 if smooth else torch.abs(1 - radius)
        return quality(z) - rate * distance

    space = Euclidean(3, equip=False)
    space.equip_with_metric(
        DensityConformalMetric, log_quality=log_quality, solver_options=KINK_OPTIONS
    )
    # From the great circle, as the paper's Example 4 starts from the chord's
    # radial projection: from the chord, Newton stops in poor local minima.
    start = slerp(SPHERE_START, SPHERE_END, KINK_OPTIONS["n_nodes"])
    curve = space.metric.log_solver.solve(
        gs.array(SPHERE_END), gs.array(SPHERE_START), initial_curve=start
    )
    radii = np.linalg.norm(to_numpy(curve(np.linspace(0, 1, 1025))), axis=-1)
    return float(curve.dist), curve, float(np.max(np.abs(radii - 1)))


def timed(function, repeats):
    """Median wall and CPU times of ``repeats`` calls after a warm-up call."""
    result = function()
    wall, cpu = [], []
    for _ in range(repeats):
        clock, cpu_clock = time.perf_counter(), time.process_time()
        result = function()
        wall.append(time.perf_counter() - clock)
        cpu.append(time.process_time() - cpu_clock)
    return (statistics.median(wall), statistics.median(cpu)), result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one repeat, fewer penalty rates")
    parser.add_argument("--out", help="also write the Markdown report to this file")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else 3
    rates = (5.0, 50.0) if args.quick else (5.0, 20.0, 50.0, 200.0)

    caps = sphere_caps()
    quality = DensityRatio(caps, eps=0.2)
    metric = sphere_space(quality).metric
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, reference, _ = run_manifold(quality, tol=1e-11)
    reference_points = to_numpy(reference(np.linspace(0, 1, 1025)))
    reference_length = measured_length(metric, reference)

    methods = [
        ("manifold (pymanopt trust regions), tol=1e-8", lambda: run_manifold(quality, tol=1e-8)),
        (
            "manifold, fixed 65 nodes (tol=None)",
            lambda: run_manifold(quality, tol=None, n_nodes=KINK_OPTIONS["n_nodes"]),
        ),
    ]
    methods.append(("chart (stereographic phi, Newton)", lambda: run_chart(quality)))
    for smooth in (False, True):
        for rate in rates:
            penalty = f"{rate:g} (1 - norm z)^2" if smooth else f"{rate:g} abs(1 - norm z)"
            methods.append(
                (
                    f"ambient R^3, penalty {penalty}",
                    lambda r=rate, s=smooth: run_ambient(quality, r, s),
                )
            )

    rows = []
    great_circle = slerp(SPHERE_START, SPHERE_END, N_EVAL)
    for name, method in [("great circle (reference only)", None)] + methods:
        if method is None:
            seconds, estimate, curve, off_sphere = (
                (math.nan, math.nan),
                math.nan,
                great_circle,
                None,
            )
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                seconds, (estimate, curve, off_sphere) = timed(method, repeats)
        length = measured_length(metric, curve)
        points = to_numpy(curve(np.linspace(0, 1, 1025)))
        points = points / np.linalg.norm(points, axis=-1, keepdims=True)
        rows.append(
            dict(
                method=name,
                seconds=seconds,
                estimate=estimate,
                length=length,
                excess=length / reference_length - 1,
                deviation=float(np.max(np.linalg.norm(points - reference_points, axis=-1))),
                off_sphere=off_sphere,
            )
        )

    lines = [
        "# Sphere benchmark: manifold solver, chart map, ambient penalty",
        "",
        f"Reference length (manifold solver, tol=1e-11): {reference_length:.12f}. "
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} torch threads, median of {repeats} run(s) after a warm-up.",
        "",
        "| method | wall s | CPU s | solver's length | length on the sphere | excess "
        "| max distance to reference | max off-sphere |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['method']} | {row['seconds'][0]:.3g} | {row['seconds'][1]:.3g} "
            f"| {row['estimate']:.10g} | "
            f"{row['length']:.10f} | {row['excess']:.2e} | {row['deviation']:.2e} | "
            f"{'-' if row['off_sphere'] is None else format(row['off_sphere'], '.2e')} |"
        )
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(report)
    return rows


if __name__ == "__main__":
    main()
