"""Shared fixtures: the hyperbolic half-plane as a conformal metric, and references."""

import importlib.util
import random
import sys
import types

import numpy as np
import pytest
import torch
from geomstats.geometry.euclidean import Euclidean
from geomstats.geometry.poincare_half_space import PoincareHalfSpace

from geomstats_density import ConformalMetric


def _stand_in_for_notebook_modules():
    """Empty ``nbformat`` and ``nbconvert`` modules where they are not installed.

    ``geomstats.test.parametrizers`` (tests/test_geomstats_testcase.py) imports
    them at module level for its notebook tests only, which we do not run.
    """
    if importlib.util.find_spec("nbformat") and importlib.util.find_spec("nbconvert"):
        return
    for name in ("nbformat", "nbconvert", "nbconvert.preprocessors"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["nbconvert.preprocessors"].ExecutePreprocessor = None


_stand_in_for_notebook_modules()


def pytest_configure(config):
    """The marks of geomstats' test cases (tests/test_geomstats_testcase.py)."""
    for mark in ("random", "vec", "ignore"):
        config.addinivalue_line("markers", f"{mark}: a mark of geomstats' test cases")


def pytest_collection_modifyitems(config, items):
    """Deselect the tests geomstats' parametrizer left without data, as geomstats does."""
    ignored = [item for item in items if item.get_closest_marker("ignore")]
    if ignored:
        config.hook.pytest_deselected(items=ignored)
        items[:] = [item for item in items if not item.get_closest_marker("ignore")]


@pytest.fixture(autouse=True)
def seeded_global_generators():
    """Every test starts from the same state of the global random generators.

    Tests that draw from ``torch.randn``, ``np.random`` or geomstats' random
    points (which use numpy's or torch's global generator, by backend) then
    repeat bit for bit, alone or in any order.
    """
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


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
