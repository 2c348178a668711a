"""Example 7: the soap bubble of a Gaussian latent space
======================================================

A standard Gaussian in dimension 100 puts its mass near the sphere of radius
``sqrt(100) = 10``: the midpoint of a linear interpolation between two typical,
orthogonal codes has norm ``sqrt(50) = 7.07``, a place no code comes from. The
geodesic of the two-sided typicality keeps the norm near 10 (as slerp does by
construction). The figure shows the norm along each curve; the script prints
the comparison table.
"""

from geomstats_density.demo.paper_examples import example_7, run_script

if __name__ == "__main__":
    result = run_script(example_7, description=__doc__)
