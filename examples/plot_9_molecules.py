"""
Example 9: interpolating between molecules, favouring drug-likeness
===================================================================

A small SELFIES VAE (8-dimensional codes) trained on the 10,000 WEHI compounds
that ship with RDKit; the quality is "a realistic code AND a drug-like
molecule": the realism index of a Gaussian mixture fitted to the encoded
molecules times the probability that the predicted QED of the decoded molecule
exceeds 0.5. Between two molecules, the script decodes the geodesic and the
segment, prints validity and RDKit's QED along both, and draws the decoded
molecules as a grid. ``--train`` retrains the VAE (minutes on 2 CPU
cores) instead of loading the shipped weights.
"""

import argparse
import json

import matplotlib.pyplot as plt

from geomstats_density.demo.experiments.molecules import plot_molecules, run
from geomstats_density.reports import markdown_table

# %%
# The experiment
# --------------
# ``run`` loads the shipped VAE (or retrains it with ``--train``), builds the
# quality, solves the geodesic between the two molecules, and tabulates
# validity and QED along both curves.
flags = argparse.ArgumentParser(description=__doc__)
flags.add_argument("--train", action="store_true", help="retrain the VAE")
train = flags.parse_known_args()[0].train

result = run(progress=False, train=train)
print(f"from {result['start']} to {result['end']}")
print(f"length of the geodesic {result['length']:.5g}, converged: {result['converged']}")
print(markdown_table(result["table"]))
print(json.dumps(result["training"], indent=1))

# %%
# The figure
# ----------
# The molecules decoded along the geodesic (top) and the segment (bottom),
# drawn by RDKit, with their QED.
fig = plt.figure(figsize=(12.0, 3.5), layout="constrained")
plot_molecules(result, figure=fig)
plt.show()
