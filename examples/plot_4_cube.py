"""Example 4: geodesics on the surface of a cube
=============================================

``Q = 1/2 exp(-50 d_M)`` with ``d_M(z) = |1 - max_i |z_i||`` keeps curves on the
surface of ``[-1, 1]^3``: the geodesic from (0, 0, 1) to (1, 0, 0) runs over two
faces, of length ``2 ln 2``. The figure shows it on the cube with the chord
through the inside.
"""

from geomstats_density.demo.paper_examples import example_4, run_script

if __name__ == "__main__":
    result = run_script(example_4, description=__doc__)
