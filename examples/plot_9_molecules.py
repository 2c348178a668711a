"""Example 9: interpolating between molecules, favouring drug-likeness
=====================================================================

A small SELFIES VAE (8-dimensional codes) trained on the 10,000 WEHI compounds
that ship with RDKit; the quality is "a realistic code AND a drug-like
molecule": the realism index of a Gaussian mixture fitted to the encoded
molecules times the probability that the predicted QED of the decoded molecule
exceeds 0.5. Between two molecules, the script decodes the geodesic and the
segment, prints validity and RDKit's QED along both, and draws the decoded
molecules as a grid (PNG). ``--train`` retrains the VAE (minutes on 2 CPU
cores) instead of loading the shipped weights.
"""

from geomstats_density.demo.experiments.molecules import main

if __name__ == "__main__":
    result = main()
