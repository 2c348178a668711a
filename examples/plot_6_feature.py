"""Example 6: feature-based interpolation
======================================

A toy generator draws a blob at a position set by a 2-D latent code; a toy
classifier says whether the blob is in the top half of the image. The quality
"realistic AND blob on top" is one line, ``RealismIndex(prior) * Feature(...)``.
Between two codes whose blobs sit low in the image, the geodesic lifts the blob
through the top half where linear interpolation slides it along the bottom.
The script writes the quality map with both curves and a strip of the images
decoded along each.
"""

from geomstats_density.demo.paper_examples import example_6, run_script

if __name__ == "__main__":
    result = run_script(example_6, description=__doc__)
