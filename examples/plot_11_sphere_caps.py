"""
Example 11: density-conformal geodesics on von Mises-Fisher caps
================================================================

A mixture of three von Mises-Fisher caps on the 2-sphere: two on the equator,
at 0 and 90 degrees of longitude, and a third bridging them at 45 degrees of
latitude. The quality is the density ratio ``Q = 0.1 + 0.8 p / max p`` and the
metric ``log(Q)^2`` times the round metric of geomstats' ``Hypersphere(2)``; its
geodesics are solved with pymanopt's Riemannian trust regions on curves whose
nodes stay on the sphere. Between points of the two equatorial caps the great
circle crosses the sparse equator, the geodesic detours through the bridge
cap. The figure draws both on the sphere coloured by the density; the table
compares their lengths in the metric, their qualities and the lowest
log-density each meets.
"""

import geomstats.backend as gs
import matplotlib.pyplot as plt
import numpy as np
import torch
from geomstats.geometry.hypersphere import Hypersphere

from geomstats_density import DensityConformalMetric, VonMisesFisherMixture
from geomstats_density.plotting import plot_curves_3d
from geomstats_density.quality import DensityRatio
from geomstats_density.reports import curve_report, markdown_table, slerp

# %%
# The caps and the metric
# -----------------------
# Equipping geomstats' sphere with the metric gives it the manifold solvers.
directions = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.5, 0.5**0.5]])
caps = VonMisesFisherMixture(np.ones(3), directions, np.full(3, 8.0))

space = Hypersphere(2, equip=False)
space.equip_with_metric(
    DensityConformalMetric,
    log_quality=DensityRatio(caps, eps=0.2),
    solver_options=dict(progress=False),
)

# %%
# The geodesic against the great circle
# -------------------------------------
# On the unit sphere slerp is the great circle, at constant speed.
start = np.array([1.0, 0.0, 0.1]) / np.linalg.norm([1.0, 0.0, 0.1])
end = np.array([0.0, 1.0, 0.1]) / np.linalg.norm([0.0, 1.0, 0.1])
geodesic = space.metric.geodesic(initial_point=start, end_point=end)
print(f"converged: {bool(np.all(geodesic.converged))}")

great_circle = slerp(start, end)
table = [
    curve_report(space.metric, geodesic, log_density=caps, name="geodesic"),
    curve_report(space.metric, great_circle, log_density=caps, name="great circle"),
]
print(markdown_table(table))

# %%
# The figure
# ----------
# The sphere coloured by the density relative to its maximum, the curves drawn
# just above the surface so that it does not hide them.
polar, azimuth = np.meshgrid(np.linspace(0, np.pi, 60), np.linspace(0, 2 * np.pi, 120))
surface = np.stack(
    [np.sin(polar) * np.cos(azimuth), np.sin(polar) * np.sin(azimuth), np.cos(polar)], axis=-1
)
with torch.no_grad():
    log_density = caps(torch.as_tensor(surface, dtype=torch.float64)).numpy()

fig = plt.figure(figsize=(6.0, 5.5), layout="constrained")
ax = fig.add_subplot(projection="3d")
ax.computed_zorder = False  # the curves lie on the visible side: over the surface
ax.plot_surface(
    *np.moveaxis(surface, -1, 0),
    facecolors=plt.cm.viridis(np.exp(log_density - log_density.max())),
    shade=False,
    linewidth=0,
    antialiased=False,
    rstride=1,
    cstride=1,
)
times = np.linspace(0.0, 1.0, 201)
plot_curves_3d(
    {
        "geodesic": 1.01 * gs.to_numpy(geodesic(times)),
        "great circle": 1.01 * gs.to_numpy(great_circle(times)),
    },
    ax=ax,
)
ax.view_init(elev=35, azim=45)
ax.set_axis_off()
ax.set_box_aspect((1, 1, 1), zoom=1.5)
ax.set_title("vMF caps on the sphere (colour: density / max)")
plt.show()
