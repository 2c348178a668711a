"""Example 2: the plane mapped onto a sphere
=========================================

Lengths are measured on the unit sphere about ``e3`` after the central
projection ``Phi(z) = e3 + ((z, 0) - e3) / |(z, 0) - e3|``, with ``Q = 1/2``.
The image of the geodesic from (0, 1) to (1, 0) is a great-circle arc of angle
``pi / 3``, so its length is ``ln 2 * pi / 3``. The figure shows the images of
the geodesic and of the segment on the sphere.
"""

from geomstats_density.demo.paper_examples import example_2, run_script

if __name__ == "__main__":
    result = run_script(example_2, description=__doc__)
