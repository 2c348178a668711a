#!/usr/bin/env python
"""Kinked qualities and ReLU networks: what ``metric.dist`` reports against the curve it returns.

Problems, each solved by ``space.metric.log_solver.solve`` with every default:

* the paper's Example 3 written as a user would (``clamp`` of one minus a plain
  norm; exact length ``ln 2 (2 sqrt(1.3^2 - 1) + pi - 2 arccos(1 / 1.3))``);
* Example 4, the cube's surface (``abs`` of one minus an ``amax``; ``2 ln 2`` is
  an upper bound of its length);
* lengths between the outputs of seeded ReLU and LeakyReLU networks ``phi``
  (2-D and 16-D latents).

Each row prints the reported ``dist`` and ``dist_error``, the returned curve's
own length (its cubic spline at 4097 uniform times, measured by the metric's
squared piece lengths: a second-order measurement, whose own error is about
2e-7 on Example 3, where chords of a curve on the circle cut into the disk), the
status, node count, iterations and wall time.

Run ``python bench/kinks.py [--only NAME,...]``.
"""

import argparse
import math
import time
import warnings

import numpy as np
import torch
from geomstats.geometry.euclidean import Euclidean

from geomstats_density import ConformalMetric
from geomstats_density.solvers.status import CurveStatus

LN2 = math.log(2.0)
EXACT_EX3 = LN2 * (2 * math.sqrt(1.3**2 - 1) + math.pi - 2 * math.acos(1 / 1.3))


def log_factor_of(log_quality):
    """The conformal log-factor ``log(log(Q)^2)`` of a log-quality."""
    return lambda z: 2 * torch.log(-log_quality(z))


def example_3():
    def log_quality(z):
        return -LN2 - 5.0 * torch.clamp(1.0 - z.norm(dim=-1), min=0.0)

    return 2, log_factor_of(log_quality), None, [-1.3, 0.0], [1.3, 0.0], EXACT_EX3


def example_4():
    def log_quality(z):
        return -LN2 - 50.0 * torch.abs(1.0 - torch.amax(torch.abs(z), dim=-1))

    return 3, log_factor_of(log_quality), None, [0.0, 0.0, 1.0], [1.0, 0.0, 0.0], 2 * LN2


def _frozen(network):
    network = network.double()
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    return network


def relu_2d():
    torch.manual_seed(0)
    network = _frozen(
        torch.nn.Sequential(
            torch.nn.Linear(2, 32),
            torch.nn.ReLU(),
            torch.nn.Linear(32, 32),
            torch.nn.ReLU(),
            torch.nn.Linear(32, 10),
        )
    )

    def log_factor(z):
        return torch.full(z.shape[:-1], 2 * math.log(LN2), dtype=z.dtype)

    return 2, log_factor, network, [-1.0, -0.5], [1.0, 0.7], None


def leaky_relu_16d():
    torch.manual_seed(0)
    network = _frozen(
        torch.nn.Sequential(
            torch.nn.Linear(16, 64),
            torch.nn.LeakyReLU(0.2),
            torch.nn.Linear(64, 64),
            torch.nn.ReLU(),
            torch.nn.Linear(64, 50),
        )
    )
    endpoints = np.random.default_rng(0).normal(size=(2, 16))

    def log_factor(z):
        return 0.5 * (z * z).sum(-1) / 16

    return 16, log_factor, network, endpoints[0], endpoints[1], None


PROBLEMS = {
    "ex3": example_3,
    "ex4": example_4,
    "relu-2d": relu_2d,
    "leaky-16d": leaky_relu_16d,
}


def curve_length(metric, curve, n_times=4097):
    """Length of the returned curve: its spline at ``n_times`` uniform times."""
    points = np.asarray(curve(np.linspace(0.0, 1.0, n_times)), dtype=np.float64)
    with torch.no_grad():
        return float(torch.sqrt(metric.curve_sq_lengths(torch.from_numpy(points))).sum())


def run(name):
    dim, log_factor, phi, start, end, exact = PROBLEMS[name]()
    space = Euclidean(dim, equip=False)
    space.equip_with_metric(
        ConformalMetric, log_factor=log_factor, phi=phi, solver_options={"on_failure": "ignore"}
    )
    start, end = np.asarray(start, dtype=float), np.asarray(end, dtype=float)
    clock = time.perf_counter()
    curve = space.metric.log_solver.solve(end, start)
    seconds = time.perf_counter() - clock
    dist = float(curve.dist)
    row = {
        "problem": name,
        "dist": f"{dist:.8f}",
        "dist_error": f"{float(curve.dist_error):.1e}",
        "curve length (4097 points)": f"{curve_length(space.metric, curve):.8f}",
        "exact": "" if exact is None else f"{exact:.8f}",
        "relative error": "" if exact is None else f"{abs(dist - exact) / exact:.1e}",
        "status": CurveStatus(int(curve.status)).name,
        "nodes": curve.n_nodes,
        "iterations": int(curve.n_iterations),
        "seconds": f"{seconds:.2f}",
    }
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help=f"comma-separated, among {', '.join(PROBLEMS)}")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(PROBLEMS)
    unknown = sorted(set(names) - set(PROBLEMS))
    if unknown:
        parser.error(f"unknown problems {unknown}; choose among {list(PROBLEMS)}")
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for name in names:
            rows.append(run(name))
            print(rows[-1], flush=True)
    columns = list(rows[0])
    print("\n| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row[column]) for column in columns) + " |")


if __name__ == "__main__":
    main()
