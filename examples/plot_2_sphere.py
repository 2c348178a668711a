"""
Example 2: the plane mapped onto a sphere
=========================================

The quality is ``Q = 1/2`` again, but lengths are measured on the unit sphere
about ``e3 = (0, 0, 1)``, onto which the central projection
``Phi(z) = e3 + ((z, 0) - e3) / |(z, 0) - e3|`` maps the plane. The image of the
geodesic from (0, 1) to (1, 0) is the great-circle arc between the images, of
angle ``pi / 3``: the length is ``ln 2 * pi / 3``. The figure shows the images
of the geodesic and of the segment on the sphere.
"""

import math

import geomstats.backend as gs
import matplotlib.pyplot as plt
import numpy as np
import torch
from geomstats.geometry.euclidean import Euclidean

from geomstats_density import DensityConformalMetric
from geomstats_density.plotting import plot_curves_3d
from geomstats_density.quality import Constant
from geomstats_density.reports import linear_interpolation

# %%
# The map whose image lengths are measured
# ----------------------------------------
# ``phi`` receives float64 torch tensors of points, shape ``[..., 2]``, and is
# differentiated by autograd.
E3 = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)


def central_projection(points):
    """The plane onto the unit sphere about ``e3``: ``[..., 2]`` to ``[..., 3]``."""
    # (z, 0) - e3 = (z_1, z_2, -1) never vanishes.
    lifted = torch.cat([points, -torch.ones_like(points[..., :1])], dim=-1)
    return E3 + lifted / torch.sqrt((lifted * lifted).sum(-1, keepdim=True))


space = Euclidean(2, equip=False)
space.equip_with_metric(
    DensityConformalMetric,
    log_quality=Constant(0.5),
    phi=central_projection,
    solver_options=dict(progress=False),
)

# %%
# The geodesic
# ------------
start, end = np.array([0.0, 1.0]), np.array([1.0, 0.0])
geodesic = space.metric.geodesic(initial_point=start, end_point=end)

exact = math.log(2.0) * math.pi / 3
length = float(geodesic.dist)
print(f"converged: {bool(np.all(geodesic.converged))}")
print(f"length {length:.10f}, exact ln 2 * pi / 3 = {exact:.10f}")
print(f"relative error {abs(length / exact - 1):.1e}")

# %%
# The images on the sphere
# ------------------------
# The geodesic's image is the great-circle arc; the segment's image is not.
times = np.linspace(0.0, 1.0, 101)
images = {
    "geodesic": central_projection(torch.as_tensor(gs.to_numpy(geodesic(times)))),
    "linear": central_projection(
        torch.as_tensor(gs.to_numpy(linear_interpolation(start, end, 101).nodes))
    ),
}
fig = plt.figure(figsize=(5.5, 4.5), layout="constrained")
ax = fig.add_subplot(projection="3d")
plot_curves_3d(images, surface="sphere", center=(0.0, 0.0, 1.0), ax=ax)
ax.set_title("Example 2: images on the sphere")
plt.show()
