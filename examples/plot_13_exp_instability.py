"""Example (exp): geodesics along a density ridge are unstable from a velocity
==========================================================================

The quickstart's ring: ``Q`` is high along the unit circle. The geodesic
between two points of the ring, solved as a boundary-value problem (``log``),
follows the ring. ``exp`` of the velocity that ``log`` returns follows it only
part of the way, and velocities turned by a millionth of a radian end far
apart: nearby geodesics leave the ridge and diverge from one another. Left:
the curves on ``log Q``. Right: how far the geodesics of the turned velocities
are from the unturned one, against time, beside the first-order prediction
from the sensitivity that ``exp_solver.solve`` estimates. The script prints
that sensitivity and the end points' estimated errors.
"""

import argparse
import pathlib

import numpy as np
import torch
from geomstats.geometry.euclidean import Euclidean
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from geomstats_density import DensityConformalMetric, GeodesicODESolver
from geomstats_density.backend import to_numpy
from geomstats_density.plotting import plot_quality_map, save_figure

TURNS = (1e-6, -1e-6, 1e-5)


def log_quality(z, eps=0.1, width=0.3):
    """The quickstart's ring density, smoothed as in the paper."""
    radius = torch.linalg.vector_norm(z, dim=-1)
    ring = torch.exp(-((radius - 1) ** 2) / (2 * width**2))
    return torch.log(eps / 2 + (1 - eps) * ring)


def turned(vector, angle):
    """``vector`` rotated by ``angle`` radians."""
    cos, sin = np.cos(angle), np.sin(angle)
    return np.array([[cos, -sin], [sin, cos]]) @ vector


def main(out_dir):
    space = Euclidean(2, equip=False)
    space.equip_with_metric(DensityConformalMetric, log_quality=log_quality)
    metric = space.metric
    metric.exp_solver = GeodesicODESolver(space, on_failure="ignore")
    start, end = np.array([-1.0, 0.2]), np.array([1.0, 0.2])

    solved = metric.log_solver.solve(end, start)
    velocity = to_numpy(solved.initial_velocity)
    result = metric.exp_solver.solve(velocity, start)
    times = np.linspace(0.0, 1.0, 201)
    # One batch: the velocity of log and its turned copies, integrated together.
    velocities = np.stack([velocity] + [turned(velocity, angle) for angle in TURNS])
    paths = to_numpy(metric.exp_solver.geodesic_ivp(velocities, start)(times))
    shot, turned_paths = paths[0], dict(zip(TURNS, paths[1:]))

    figure = Figure(figsize=(11.0, 4.6), layout="constrained")
    FigureCanvasAgg(figure)
    left, ax = figure.subplots(1, 2)
    plot_quality_map(log_quality, (-1.6, 1.6), (-1.6, 1.6), {"geodesic": solved}, ax=left)
    left.plot(*shot.T, color="tab:red", label="exp(log)")
    for angle, path in turned_paths.items():
        left.plot(*path.T, lw=0.8, ls="--", label=f"turned {angle:+.0e} rad")
    left.legend(loc="lower center", fontsize="small")
    left.set_title("log Q: the solved geodesic and exp")

    for angle, path in turned_paths.items():
        gap = np.linalg.norm(path - shot, axis=-1)
        ax.semilogy(times[1:], gap[1:], label=f"turned {angle:+.0e} rad")
    speed = np.linalg.norm(velocity)
    prediction = result.sensitivity * speed * abs(TURNS[0])
    ax.axhline(
        prediction,
        color="black",
        lw=0.8,
        ls=":",
        label=f"sensitivity x |dv| (1e-6 rad) = {prediction:.2g}",
    )
    ax.set_xlabel("t")
    ax.set_ylabel("distance from the exp(log) curve")
    ax.set_title("nearby geodesics diverge")
    ax.legend(fontsize="small")

    path = save_figure(figure, pathlib.Path(out_dir) / "exp_instability.png")
    print(f"sensitivity of the end point to the velocity: {result.sensitivity:.3g}")
    print(f"estimated end-point error: {result.end_point_error:.3g} (status {result.status})")
    print(f"exp(log) ends at {to_numpy(result.end_point)}, the geodesic at {end}")
    return {
        "figure": str(path),
        "sensitivity": float(result.sensitivity),
        "end_point_error": float(result.end_point_error),
        "status": int(result.status),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default=".", help="directory of the PNG figure")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    result = main(parser.parse_args().out)
