"""
Example 5: a Gaussian mixture with empty space between its ends
===============================================================

Fourteen Gaussians along 270 degrees of a circle of radius 3 about (2, 1) make
a horseshoe; the quality is the mixture's realism index (its law estimated from
1024 samples). Between two points 120 degrees apart on the horseshoe, the
segment crosses the empty inside, and slerp (about the origin, where the
mixture is not centred) leaves the horseshoe too; the geodesic follows the
ridge, like the arc of the horseshoe's circle drawn by hand. The figure shows
``log Q`` with the four curves; the table compares their lengths in the metric,
their qualities and the lowest ``Q`` and log-density each meets.
"""

import matplotlib.pyplot as plt
import numpy as np
from geomstats.geometry.euclidean import Euclidean

from geomstats_density import DensityConformalMetric, DiscreteCurve
from geomstats_density.densities import GaussianMixture
from geomstats_density.plotting import plot_quality_map
from geomstats_density.quality import RealismIndex
from geomstats_density.reports import (
    compare_interpolations,
    curve_report,
    linear_interpolation,
    markdown_table,
    slerp,
)

# %%
# The mixture and its realism index
# ---------------------------------
center, radius = np.array([2.0, 1.0]), 3.0


def on_horseshoe(angle_degrees):
    """The point of the horseshoe's circle at ``angle_degrees``."""
    angle = np.deg2rad(angle_degrees)
    return center + radius * np.stack([np.cos(angle), np.sin(angle)], axis=-1)


n_components = 14
means = on_horseshoe(np.linspace(-135, 135, n_components))
covariances = np.tile(0.5**2 * np.eye(2), (n_components, 1, 1))
mixture = GaussianMixture(np.ones(n_components), means, covariances)
quality = RealismIndex(mixture, n_samples=1024, random_state=0)
print(f"Monte-Carlo error of the realism index: {quality.monte_carlo_error:.3f}")

space = Euclidean(2, equip=False)
space.equip_with_metric(
    DensityConformalMetric, log_quality=quality, solver_options=dict(tol=1e-5, progress=False)
)

# %%
# The geodesic against linear interpolation, slerp and the arc
# ------------------------------------------------------------
start, end = on_horseshoe(-60.0), on_horseshoe(60.0)
geodesic = space.metric.geodesic(initial_point=start, end_point=end)
print(f"converged: {bool(np.all(geodesic.converged))}")

table = compare_interpolations(space.metric, start, end, geodesic=geodesic, log_density=mixture)
arc = DiscreteCurve(on_horseshoe(np.linspace(-60, 60, 129)))
table.append(curve_report(space.metric, arc, log_density=mixture, name="circle arc"))
print(markdown_table(table))

# %%
# The figure
# ----------
curves = {
    "geodesic": geodesic,
    "linear": linear_interpolation(start, end),
    "slerp": slerp(start, end),
    "circle arc": arc,
}
fig, ax = plt.subplots(figsize=(5.5, 4.5), layout="constrained")
plot_quality_map(
    space.metric.log_quality, (-2.5, 6.5), (-3.5, 5.5), curves=curves, resolution=150, ax=ax
)
ax.set_title("Example 5: realism index of a Gaussian mixture")
plt.show()
