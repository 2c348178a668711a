"""Frechet mean and k-means from boundary-value solves, against geomstats and scikit-learn."""

import geomstats.backend as gs
import numpy as np
import pytest
from conftest import as_numpy, random_half_plane_points
from geomstats.geometry.euclidean import Euclidean
from geomstats.learning.frechet_mean import FrechetMean as GeomstatsFrechetMean
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from geomstats_density import ConformalMetric
from geomstats_density.learning import FrechetMean, RiemannianKMeans


def _constant_factor_plane():
    space = Euclidean(2, equip=False)
    space.equip_with_metric(ConformalMetric, log_factor=lambda z: 0.7 + 0.0 * z[..., 0])
    return space


def test_half_plane_mean_matches_geomstats_frechet_mean(half_plane, hyperbolic):
    points = random_half_plane_points(7, seed=3, spread=0.7)
    ours = FrechetMean(half_plane, tol=1e-9).fit(gs.array(points))
    reference = GeomstatsFrechetMean(hyperbolic)
    reference.set(max_iter=500, epsilon=1e-16)
    expected = as_numpy(reference.fit(gs.array(points)).estimate_)
    assert ours.converged_
    np.testing.assert_allclose(as_numpy(ours.estimate_), expected, atol=1e-6)
    sq_dists = as_numpy(hyperbolic.metric.squared_dist(gs.array(points), gs.array(expected)))
    np.testing.assert_allclose(ours.variance_, sq_dists.mean(), rtol=1e-6)


def test_constant_factor_mean_is_the_weighted_arithmetic_mean():
    points = np.random.default_rng(5).normal(size=(6, 2))
    weights = np.arange(1.0, 7.0)
    mean = FrechetMean(_constant_factor_plane()).fit(gs.array(points), weights=gs.array(weights))
    np.testing.assert_allclose(
        as_numpy(mean.estimate_), weights @ points / weights.sum(), atol=1e-9
    )


def test_kmeans_separates_two_clusters_as_scikit_learn_does(half_plane, hyperbolic):
    rng = np.random.default_rng(7)
    points = np.r_[
        np.c_[-3 + 0.3 * rng.normal(size=8), 1 + 0.1 * rng.normal(size=8)],
        np.c_[3 + 0.3 * rng.normal(size=8), 1 + 0.1 * rng.normal(size=8)],
    ]
    ours = RiemannianKMeans(half_plane, n_clusters=2, init="kmeans++", random_state=0)
    labels = as_numpy(ours.fit(gs.array(points)).labels_)
    reference = KMeans(n_clusters=2, n_init=10, random_state=0).fit(points)
    assert adjusted_rand_score(reference.labels_, labels) == 1.0
    np.testing.assert_array_equal(as_numpy(ours.predict(gs.array(points))), labels)
    centres = as_numpy(ours.cluster_centers_)
    for cluster in range(2):
        expected = GeomstatsFrechetMean(hyperbolic).set(max_iter=500, epsilon=1e-16)
        expected.fit(gs.array(points[labels == cluster]))
        np.testing.assert_allclose(centres[cluster], as_numpy(expected.estimate_), atol=1e-5)


@pytest.mark.parametrize(
    "X, match",
    [
        (np.zeros((3, 3)), r"X must have shape \[n_samples >= 1, 2\]"),
        (np.array([[0.0, np.nan]]), "NaN or infinite"),
    ],
)
def test_bad_samples_are_refused(X, match):
    with pytest.raises(ValueError, match=match):
        FrechetMean(_constant_factor_plane()).fit(X)
    with pytest.raises(ValueError, match=match):
        RiemannianKMeans(_constant_factor_plane(), n_clusters=1).fit(X)


def test_predict_before_fit_raises():
    with pytest.raises(RuntimeError, match="fit needs to be called first"):
        RiemannianKMeans(_constant_factor_plane(), n_clusters=2).predict(np.zeros((2, 2)))
