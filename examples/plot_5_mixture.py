"""Example 5: interpolating in a Gaussian mixture
==============================================

A horseshoe-shaped Gaussian mixture leaves empty space inside: linear
interpolation between two points of the horseshoe crosses it, and so does
slerp. The geodesic of the realism-index metric follows the horseshoe. The
figure shows the realism index with the three curves; the script prints the
comparison table (length, energy, curve quality, ``Q`` and log-density along
each curve).
"""

from geomstats_density.demo.paper_examples import example_5, run_script

if __name__ == "__main__":
    result = run_script(example_5, description=__doc__)
