"""
Example 1: the plane with a constant quality
============================================

With the quality ``Q = 1/2`` everywhere and lengths measured in the plane, the
metric is ``log(2)^2`` times the Euclidean one: the geodesic from (0, 1) to
(1, 0) is the straight segment, of length ``ln 2 * sqrt 2``. The figure shows
the solver's geodesic on the segment.
"""

import math

import geomstats.backend as gs
import matplotlib.pyplot as plt
import numpy as np
from geomstats.geometry.euclidean import Euclidean

from geomstats_density import DensityConformalMetric
from geomstats_density.quality import Constant

# %%
# The quality and the metric
# --------------------------
# ``Constant(0.5)`` is ``log Q`` for ``Q = 1/2``. Equipping the plane with
# :class:`~geomstats_density.DensityConformalMetric` gives it the metric
# ``log(Q)^2`` times the Euclidean one.
space = Euclidean(2, equip=False)
space.equip_with_metric(
    DensityConformalMetric, log_quality=Constant(0.5), solver_options=dict(progress=False)
)

# %%
# The geodesic
# ------------
# ``geodesic`` solves the boundary-value problem; the curve knows its length
# (``dist``) and whether the solver converged.
start, end = np.array([0.0, 1.0]), np.array([1.0, 0.0])
geodesic = space.metric.geodesic(initial_point=start, end_point=end)

exact = math.log(2.0) * math.sqrt(2.0)
length = float(geodesic.dist)
print(f"converged: {bool(np.all(geodesic.converged))}")
print(f"length {length:.10f}, exact ln 2 * sqrt 2 = {exact:.10f}")
print(f"relative error {abs(length / exact - 1):.1e}")

# %%
# The figure
# ----------
# Points of the geodesic at uniform times lie on the segment, evenly spaced.
points = gs.to_numpy(geodesic(np.linspace(0.0, 1.0, 50)))
fig, ax = plt.subplots(figsize=(5.5, 4.5), layout="constrained")
ax.plot(*points.T, "o", color="crimson", ms=3, label="geodesic")
ax.plot(*np.stack([start, end]).T, "k--", label="segment")
ax.set_aspect("equal")
ax.legend()
ax.set_title("Example 1: Q = 1/2 on the plane")
plt.show()
