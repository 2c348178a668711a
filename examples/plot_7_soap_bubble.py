"""
Example 7: the soap bubble of a high-dimensional Gaussian
=========================================================

A standard Gaussian in dimension ``D = 100`` puts its mass near the sphere of
radius ``sqrt(D) = 10``. The midpoint of the segment between two orthogonal
typical codes has norm ``sqrt(D / 2) = 7.07``, where codes never fall. The
geodesic of the (smooth) typicality keeps the norm near 10, as slerp does by
design. The figure shows the norm along each curve; the table compares them.
"""

import math

import geomstats.backend as gs
import matplotlib.pyplot as plt
import numpy as np
from geomstats.geometry.euclidean import Euclidean

from geomstats_density import DensityConformalMetric
from geomstats_density.densities import Gaussian
from geomstats_density.plotting import CURVE_STYLES
from geomstats_density.quality import Typicality
from geomstats_density.reports import (
    compare_interpolations,
    linear_interpolation,
    markdown_table,
    slerp,
)

# %%
# Two typical codes
# -----------------
# Two orthogonal codes of norm ``sqrt(D)``, directions drawn from a seeded
# generator.
dim = 100
first, second = np.random.default_rng(0).normal(size=(2, dim))
first *= math.sqrt(dim) / np.linalg.norm(first)
second -= (second @ first) / dim * first
second *= math.sqrt(dim) / np.linalg.norm(second)
start, end = first, second

# %%
# The typicality and the metric
# -----------------------------
# ``tol=None`` runs the solver at a fixed number of nodes (17), without
# refinement: enough to see the curve keep to the shell.
density = Gaussian(np.zeros(dim))
space = Euclidean(dim, equip=False)
space.equip_with_metric(
    DensityConformalMetric,
    log_quality=Typicality(density),
    solver_options=dict(tol=None, n_nodes=17, progress=False),
)
geodesic = space.metric.geodesic(initial_point=start, end_point=end)
print(f"converged: {bool(np.all(geodesic.converged))}")

# %%
# The geodesic against linear interpolation and slerp
# ---------------------------------------------------
times = np.linspace(0.0, 1.0, 101)
curves = {
    "geodesic": geodesic,
    "linear": linear_interpolation(start, end),
    "slerp": slerp(start, end),
}
norms = {name: np.linalg.norm(gs.to_numpy(curve(times)), axis=-1) for name, curve in curves.items()}
table = compare_interpolations(space.metric, start, end, geodesic=geodesic, log_density=density)
for row in table:
    row["min_norm"] = float(norms[row["curve"]].min())
    row["max_norm"] = float(norms[row["curve"]].max())
print(markdown_table(table))

# %%
# The figure
# ----------
fig, ax = plt.subplots(figsize=(5.5, 3.5), layout="constrained")
for name, norm in norms.items():
    ax.plot(times, norm, label=name, **CURVE_STYLES[name])
ax.axhline(math.sqrt(dim), color="grey", lw=0.8)
ax.set_xlabel("t")
ax.set_ylabel("|z(t)|")
ax.legend()
ax.set_title(f"Example 7: norms along curves, N(0, I) in D = {dim}")
plt.show()
