"""Example 3: the plane with the unit disk cut out
===============================================

``Q = 1/2 exp(-5 d_M)`` with ``d_M(z) = max(0, 1 - |z|)`` penalises the unit
disk: the geodesic from (-1.3, 0) to (1.3, 0) goes around it, along two tangent
segments and an arc, of length ``ln 2 (2 sqrt(1.3^2 - 1) + pi - 2 arccos(1/1.3))``.
The figure shows ``log Q`` with the geodesic and the segment through the disk.
"""

from geomstats_density.demo.paper_examples import example_3, run_script

if __name__ == "__main__":
    result = run_script(example_3, description=__doc__)
