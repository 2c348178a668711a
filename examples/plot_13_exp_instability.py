"""
Example 13: geodesics along a density ridge are unstable from a velocity
========================================================================

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

import geomstats.backend as gs
import matplotlib.pyplot as plt
import numpy as np
import torch
from geomstats.geometry.euclidean import Euclidean

from geomstats_density import DensityConformalMetric, GeodesicODESolver
from geomstats_density.plotting import plot_quality_map

# %%
# The ring and the metric
# -----------------------
# ``exp`` is solved by integrating the geodesic equation
# (:class:`~geomstats_density.GeodesicODESolver`); ``on_failure="ignore"``
# returns its result with a status instead of raising when it is unstable.


def log_quality(z, eps=0.1, width=0.3):
    """The quickstart's ring density, smoothed as in the paper."""
    radius = torch.linalg.vector_norm(z, dim=-1)
    ring = torch.exp(-((radius - 1) ** 2) / (2 * width**2))
    return torch.log(eps / 2 + (1 - eps) * ring)


space = Euclidean(2, equip=False)
space.equip_with_metric(
    DensityConformalMetric, log_quality=log_quality, solver_options=dict(progress=False)
)
metric = space.metric
metric.exp_solver = GeodesicODESolver(space, on_failure="ignore")

# %%
# ``log``, then ``exp`` of its velocity and of turned copies
# ----------------------------------------------------------
start, end = np.array([-1.0, 0.2]), np.array([1.0, 0.2])
solved = metric.log_solver.solve(end, start)
velocity = gs.to_numpy(solved.initial_velocity)
result = metric.exp_solver.solve(velocity, start)
print(f"sensitivity of the end point to the velocity: {result.sensitivity:.3g}")
print(f"estimated end-point error: {result.end_point_error:.3g} (status {result.status})")
print(f"exp(log) ends at {gs.to_numpy(result.end_point)}, the geodesic at {end}")

turns = (1e-6, -1e-6, 1e-5)


def turned(vector, angle):
    """``vector`` rotated by ``angle`` radians."""
    cos, sin = np.cos(angle), np.sin(angle)
    return np.array([[cos, -sin], [sin, cos]]) @ vector


# One batch: the velocity of log and its turned copies, integrated together.
times = np.linspace(0.0, 1.0, 201)
velocities = np.stack([velocity] + [turned(velocity, angle) for angle in turns])
paths = gs.to_numpy(metric.exp_solver.geodesic_ivp(velocities, start)(times))
shot, turned_paths = paths[0], dict(zip(turns, paths[1:]))

# %%
# The figure
# ----------
fig, (left, right) = plt.subplots(1, 2, figsize=(11.0, 4.6), layout="constrained")
plot_quality_map(log_quality, (-1.6, 1.6), (-1.6, 1.6), {"geodesic": solved}, ax=left)
left.plot(*shot.T, color="tab:red", label="exp(log)")
for angle, path in turned_paths.items():
    left.plot(*path.T, lw=0.8, ls="--", label=f"turned {angle:+.0e} rad")
left.legend(loc="lower center", fontsize="small")
left.set_title("log Q: the solved geodesic and exp")

for angle, path in turned_paths.items():
    gap = np.linalg.norm(path - shot, axis=-1)
    right.semilogy(times[1:], gap[1:], label=f"turned {angle:+.0e} rad")
prediction = result.sensitivity * np.linalg.norm(velocity) * abs(turns[0])
right.axhline(
    prediction,
    color="black",
    lw=0.8,
    ls=":",
    label=f"sensitivity x |dv| (1e-6 rad) = {prediction:.2g}",
)
right.set_xlabel("t")
right.set_ylabel("distance from the exp(log) curve")
right.set_title("nearby geodesics diverge")
right.legend(fontsize="small")
plt.show()
