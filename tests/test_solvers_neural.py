"""The paper's neural-curve baseline: it must solve easy problems, slowly."""

import geomstats.backend as gs
import numpy as np
import pytest
from conftest import as_numpy
from geomstats.geometry.euclidean import Euclidean
from paper_problems import EXACT_LENGTHS, constant_half

from geomstats_density import DensityConformalMetric, NeuralGeodesicSolver


def test_neural_curve_joins_the_endpoints_and_finds_example_1():
    space = Euclidean(2, equip=False)
    space.equip_with_metric(
        DensityConformalMetric,
        log_quality=constant_half,
        method="neural",
        solver_options=dict(n_steps=300, lr=1e-2),
    )
    start, end = gs.array([0.0, 1.0]), gs.array([1.0, 0.0])
    curve = space.metric.geodesic(initial_point=start, end_point=end)
    nodes = as_numpy(curve.nodes)
    np.testing.assert_allclose(nodes[0], [0.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(nodes[-1], [1.0, 0.0], atol=1e-12)
    # Any curve is at least as long as the geodesic; the trained one is close to it.
    assert EXACT_LENGTHS[1] <= float(curve.dist) <= EXACT_LENGTHS[1] * 1.02


def test_neural_solver_matches_closed_form_roughly(half_plane, hyperbolic):
    half_plane.metric.log_solver = NeuralGeodesicSolver(half_plane, n_steps=400)
    start, end = gs.array([[0.0, 1.0], [0.5, 0.5]]), gs.array([[1.0, 1.5], [1.5, 0.7]])
    ours = as_numpy(half_plane.metric.dist(start, end))
    reference = as_numpy(hyperbolic.metric.dist(start, end))
    assert np.all(ours >= reference * (1 - 1e-9))
    np.testing.assert_allclose(ours, reference, rtol=2e-2)


def test_neural_solver_rejects_bad_settings(half_plane):
    with pytest.raises(ValueError, match="n_points"):
        NeuralGeodesicSolver(half_plane, n_points=1)
