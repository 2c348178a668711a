"""Example (sphere): density-conformal geodesics on vMF caps
===========================================================

A mixture of three von Mises-Fisher caps on the 2-sphere: two on the equator,
a third bridging them at 45 degrees of latitude. The quality is the density
ratio ``Q = 0.1 + 0.8 p / max p`` and the metric ``log(Q)^2`` times the round
metric of geomstats' ``Hypersphere(2)``; its geodesics are solved with pymanopt's
Riemannian trust regions on curves whose nodes stay on the sphere. Between
points of the two equatorial caps the great circle crosses the sparse equator,
the geodesic detours through the bridge cap. The figure draws both on the
sphere coloured by the log-density; the table compares their lengths in the
metric, their qualities and the lowest log-density each meets.
"""

from geomstats_density.demo.manifold_examples import example_sphere_caps
from geomstats_density.demo.paper_examples import run_script

if __name__ == "__main__":
    result = run_script(example_sphere_caps, description=__doc__)
