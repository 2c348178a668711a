"""Shared fixtures: the hyperbolic half-plane as a conformal metric, and references."""

import numpy as np
import pytest
import torch

from geomstats.geometry.euclidean import Euclidean
from geomstats.geometry.poincare_half_space import PoincareHalfSpace

from geomstats_density import ConformalMetric


def half_plane_log_factor(z):
    """``g = I / y^2``: the Poincare half-plane."""
    return -2.0 * torch.log(z[..., 1])


def as_numpy(array):
    """Backend array (numpy or torch) to numpy."""
    if isinstance(array, torch.Tensor):
        return array.detach().numpy()
    return np.asarray(array, dtype=float)


def random_half_plane_points(n_points, seed, spread=1.0):
    """Points of the upper half-plane, heights log-normal."""
    rng = np.random.default_rng(seed)
    return np.c_[spread * rng.normal(size=n_points), np.exp(0.7 * rng.normal(size=n_points))]


@pytest.fixture
def half_plane():
    space = Euclidean(2, equip=False)
    space.equip_with_metric(ConformalMetric, log_factor=half_plane_log_factor)
    return space


@pytest.fixture(scope="session")
def hyperbolic():
    """geomstats' own half-plane, with closed-form dist, log, exp and geodesics."""
    return PoincareHalfSpace(2)
