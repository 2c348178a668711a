"""Nodes moved along their curve to equal metric length per time step, against the
closed-form arc length of the Poincare half-plane."""

import numpy as np
import pytest

from geomstats_density.solvers.equidistribution import equidistributed


@pytest.mark.parametrize("graded", [False, True])
def test_vertical_segment_nodes_move_to_equal_hyperbolic_length(half_plane, graded):
    """On ``x = 0`` the half-plane's arc length from height ``a`` is ``log(y / a)``:
    nodes at equal length per time step are at ``y_i = a (b / a)^{s_i}``, ``s_i`` the
    fraction of the total time elapsed. Uniform nodes on the segment move there (the
    spline through them is the segment), up to the arc length's linear interpolation
    on sub-pieces (16 per piece here: an error of order 1e-4)."""
    low, high, n_nodes = 1.0, 4.0, 9
    times = np.linspace(0.0, 1.0, n_nodes) ** (1.5 if graded else 1.0)
    heights = np.linspace(low, high, n_nodes)
    nodes = np.stack([np.zeros(n_nodes), heights], -1)[None]
    moved = equidistributed(half_plane.metric, nodes, times if graded else None, subpieces=16)
    expected = low * (high / low) ** times
    np.testing.assert_allclose(moved[0, :, 0], 0.0, atol=1e-12)
    np.testing.assert_allclose(moved[0, :, 1], expected, rtol=5e-4)
    assert np.abs(heights - expected).max() > 0.3  # the uniform nodes were far from it
