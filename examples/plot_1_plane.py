"""Example 1: the plane with a constant quality
============================================

With ``Q = 1/2`` everywhere and lengths measured in the plane, the metric is
``log(2)^2`` times the Euclidean one: the geodesic from (0, 1) to (1, 0) is the
straight segment, of length ``ln 2 * sqrt 2``. The figure shows the solver's
geodesic on the segment.
"""

from geomstats_density.demo.paper_examples import example_1, run_script

if __name__ == "__main__":
    result = run_script(example_1, description=__doc__)
