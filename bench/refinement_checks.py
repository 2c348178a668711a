"""Cost of the refinement's checks on smooth problems, and a kinked one.

Prints, per solve, the time and the share spent measuring the returned curve
(``check_lengths``) and keeping curves in the metric's domain (``keep_inside``,
``drop_outside``), under cProfile (which inflates Python-level overheads), for
the near half-plane pair, the paper's Example 2 and the 2-D six-mode mixture of
``bench/suite.py``; then Example 3 with defaults: ``dist`` against the length of
the returned curve sampled at 4097 points.

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python bench/refinement_checks.py
"""

import cProfile
import pstats
import sys
import warnings
from pathlib import Path

import numpy as np
from geomstats.geometry.euclidean import Euclidean

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from conftest import half_plane_log_factor  # noqa: E402
from paper_problems import (  # noqa: E402
    EXACT_LENGTHS,
    central_projection,
    constant_half,
    outside_disk,
)

from geomstats_density import ConformalMetric, DensityConformalMetric  # noqa: E402
from geomstats_density.curves import polygon_lengths  # noqa: E402
from geomstats_density.densities import GaussianMixture  # noqa: E402
from geomstats_density.quality import RealismIndex  # noqa: E402

REPEATS = 10
CHECKS = ("check_lengths", "keep_inside", "drop_outside")


def space_with(metric_class, **kwargs):
    space = Euclidean(2, equip=False)
    space.equip_with_metric(metric_class, **kwargs)
    return space


def mixture_problem():
    """``bench/suite.py``'s 2-D mixture: six modes on a circle, the far pair of modes."""
    rng = np.random.default_rng(0)
    n_modes = 6
    angles = np.linspace(0, 2 * np.pi, n_modes + 1)[:-1] + rng.uniform(-0.2, 0.2, n_modes)
    means = np.stack([3 * np.cos(angles), 3 * np.sin(angles)], -1)
    covariances = np.stack([np.eye(2) * rng.uniform(0.3, 0.6) for _ in range(n_modes)])
    quality = RealismIndex(
        GaussianMixture(np.ones(n_modes), means, covariances),
        random_state=0,
    )
    return space_with(DensityConformalMetric, log_quality=quality), means[0], means[3]


def main():
    mixture, mode_a, mode_b = mixture_problem()
    problems = {
        "H2 near pair": (
            space_with(ConformalMetric, log_factor=half_plane_log_factor),
            np.array([0.0, 1.0]),
            np.array([3.0, 0.5]),
        ),
        "Example 2": (
            space_with(DensityConformalMetric, log_quality=constant_half, phi=central_projection),
            np.array([0.0, 1.0]),
            np.array([1.0, 0.0]),
        ),
        "2-D mixture": (mixture, mode_a, mode_b),
    }
    for name, (space, start, end) in problems.items():
        solve = space.metric.log_solver.solve
        solve(end, start)
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(REPEATS):
            solve(end, start)
        profile.disable()
        stats = pstats.Stats(profile)
        cumulative = {key[2]: value[3] for key, value in stats.stats.items()}
        total = stats.total_tt / REPEATS
        shares = ", ".join(
            f"{check} {100 * cumulative.get(check, 0.0) / REPEATS / total:.1f}%" for check in CHECKS
        )
        print(f"{name}: {1e3 * total:.1f} ms a solve (profiled); {shares}")
    space = space_with(DensityConformalMetric, log_quality=outside_disk)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        curve = space.metric.log_solver.solve(np.array([1.3, 0.0]), np.array([-1.3, 0.0]))
    fine = np.asarray(curve(np.linspace(0.0, 1.0, 4097)))[None]
    print(
        f"Example 3: dist {float(curve.dist):.7f}, returned curve at 4097 points "
        f"{polygon_lengths(space.metric, fine)[0]:.7f}, exact {EXACT_LENGTHS[3]:.7f}; "
        f"{curve.message}"
    )


if __name__ == "__main__":
    main()
