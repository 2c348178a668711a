"""
Example 3: the plane with the unit disk cut out
===============================================

The quality ``Q = 1/2 exp(-5 d_M)`` falls inside the unit disk, ``d_M(z) =
max(0, 1 - |z|)`` being how deep ``z`` is inside it. The geodesic from
(-1.3, 0) to (1.3, 0) goes around the disk: two tangent segments and an arc,
of length ``ln 2 (2 sqrt(1.3^2 - 1) + pi - 2 arccos(1 / 1.3))``. The figure
shows ``log Q`` with the geodesic and the segment through the disk.
"""

import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from geomstats.geometry.euclidean import Euclidean

from geomstats_density import DensityConformalMetric
from geomstats_density.plotting import plot_quality_map
from geomstats_density.quality import Closeness
from geomstats_density.reports import linear_interpolation

# %%
# The quality
# -----------
# ``d_M`` is written as a user would, with a norm and a clamp: the straight
# start crosses the norm's cone point and the geodesic runs on the clamp's kink.
# The solver, with every default, smooths the kinks and lets the smoothing
# vanish. ``on_failure="ignore"`` returns the curve with ``converged`` False
# instead of raising, should it not converge.


def distance_outside_disk(points):
    """``max(0, 1 - |z|)``: how deep ``z`` is inside the unit disk."""
    return torch.clamp(1.0 - torch.linalg.vector_norm(points, dim=-1), min=0.0)


space = Euclidean(2, equip=False)
space.equip_with_metric(
    DensityConformalMetric,
    log_quality=Closeness(distance_outside_disk, rate=5.0),
    solver_options=dict(on_failure="ignore", progress=False),
)

# %%
# The geodesic
# ------------
start, end = np.array([-1.3, 0.0]), np.array([1.3, 0.0])
geodesic = space.metric.geodesic(initial_point=start, end_point=end)

exact = math.log(2.0) * (2 * math.sqrt(1.3**2 - 1) + math.pi - 2 * math.acos(1 / 1.3))
length = float(geodesic.dist)
print(f"converged: {bool(np.all(geodesic.converged))}")
print(f"length {length:.10f}, exact {exact:.10f}")
print(f"relative error {abs(length / exact - 1):.1e}")

# %%
# The figure
# ----------
fig, ax = plt.subplots(figsize=(5.5, 4.5), layout="constrained")
plot_quality_map(
    space.metric.log_quality,
    (-2, 2),
    (-2, 2),
    curves={"geodesic": geodesic, "linear": linear_interpolation(start, end)},
    ax=ax,
)
ax.set_title("Example 3: around the unit disk")
plt.show()
