"""Example 10: interpolating between point clouds, lengths measured by MMD
========================================================================

Each node of the curve is a cloud of 24 points in the plane, a point of
``R^48``; lengths between consecutive clouds are MMDs of a Gaussian kernel (the
kernel mean embedding as ``Phi``). The start cloud sits on two Gaussians at
``(+-6, 0)``, the end cloud on two at ``(0, +-6)``. Linear interpolation moves
the whole cloud through the empty space between them; the geodesic of the
realism of the cloud (as a sample of the four-site mixture) keeps its points on
the sites. The script writes strips of clouds along each curve and prints the
comparison table, with the solver's timings.
"""

from geomstats_density.demo.experiments.point_clouds import run
from geomstats_density.demo.paper_examples import run_script

if __name__ == "__main__":
    result = run_script(run, description=__doc__)
