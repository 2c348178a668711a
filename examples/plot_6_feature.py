"""
Example 6: feature-based interpolation through a toy generator
==============================================================

A toy generator draws a 16 x 16 image of a blob centred at ``tanh(z / 2)`` for
a latent point ``z`` of the plane; a toy classifier tells a blob in the top half
from one in the bottom half. The quality is "realistic AND has the feature":
the realism index of the standard Gaussian prior times the classifier's
probability that the blob is in the top half. Both endpoints show a blob low in
the image: linear interpolation slides it straight across the bottom half, the
geodesic lifts it through the top half. The figure shows ``log Q`` with both
curves, and the images decoded along them.
"""

import geomstats.backend as gs
import matplotlib.pyplot as plt
import numpy as np
import torch
from geomstats.geometry.euclidean import Euclidean

from geomstats_density import DensityConformalMetric
from geomstats_density.densities import Gaussian
from geomstats_density.plotting import plot_decoded_strip, plot_quality_map
from geomstats_density.quality import Feature, RealismIndex
from geomstats_density.reports import curve_report, linear_interpolation, markdown_table

# %%
# The generator and the classifier
# --------------------------------
# Both are torch functions of float64 tensors, differentiated by autograd.
IMAGE_SIZE, BLOB_WIDTH = 16, 0.15
COLUMNS = torch.linspace(-1.0, 1.0, IMAGE_SIZE, dtype=torch.float64)
ROWS = COLUMNS.flip(0)  # row 0 is the top of the image: y = +1


def blob_generator(points):
    """Latent points ``[..., 2]`` to images ``[..., 16, 16]`` of a blob."""
    centre = torch.tanh(points / 2)
    dx = COLUMNS - centre[..., 0:1]
    dy = ROWS - centre[..., 1:2]
    sq_dist = dy.unsqueeze(-1) ** 2 + dx.unsqueeze(-2) ** 2
    return torch.exp(-sq_dist / (2 * BLOB_WIDTH**2))


def blob_classifier(images):
    """Images ``[n, 16, 16]`` to logits ``[n, 2]`` of (blob on top, blob at the bottom)."""
    top = images[:, : IMAGE_SIZE // 2].sum((-1, -2))
    share = top / images.sum((-1, -2))
    return torch.stack([4 * (share - 0.5), 4 * (0.5 - share)], dim=-1)


# %%
# The quality "realistic AND blob on top"
# ---------------------------------------
# Qualities multiply. Lengths are measured in the latent space: pixel distances
# between two blobs stop growing once the blobs no longer overlap, which would
# let long pieces of a discretised curve jump.
feature = Feature(blob_classifier, target=0, generator=blob_generator)
quality = RealismIndex(Gaussian(torch.zeros(2, dtype=torch.float64))) * feature

space = Euclidean(2, equip=False)
space.equip_with_metric(
    DensityConformalMetric, log_quality=quality, solver_options=dict(tol=1e-5, progress=False)
)

# %%
# The geodesic against linear interpolation
# -----------------------------------------
# The table adds the mean probability of the feature along each curve.
start, end = np.array([-2.0, -0.5]), np.array([2.0, -0.5])
geodesic = space.metric.geodesic(initial_point=start, end_point=end)
print(f"converged: {bool(np.all(geodesic.converged))}")

curves = {"geodesic": geodesic, "linear": linear_interpolation(start, end)}
table = [curve_report(space.metric, curve, name=name) for name, curve in curves.items()]
with torch.no_grad():
    for row, curve in zip(table, curves.values()):
        points = torch.as_tensor(gs.to_numpy(curve(np.linspace(0.0, 1.0, 101))))
        row["mean_P_feature"] = float(torch.exp(feature.log_probability(points)).mean())
print(markdown_table(table))

# %%
# The figure
# ----------
# Left: ``log Q`` and the curves. Right: the blobs decoded along each curve.
fig = plt.figure(figsize=(12.0, 4.5), layout="constrained")
map_figure, strip_figure = fig.subfigures(1, 2, width_ratios=(1.0, 1.6))
ax = map_figure.subplots()
plot_quality_map(quality, (-3, 3), (-3, 3), curves=curves, resolution=120, ax=ax)
ax.set_title("Example 6: realistic AND blob on top")
plot_decoded_strip(blob_generator, curves, n_images=9, figure=strip_figure)
plt.show()
