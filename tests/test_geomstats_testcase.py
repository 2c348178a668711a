"""geomstats' own generic test case for Riemannian metrics, run on our metrics.

``RiemannianMetricTestCase`` (shipped in geomstats under ``geomstats/test_cases``)
checks every method of the metric interface on random points of geomstats'
data generators: consistency (exp after log, symmetries of the curvature,
vectorisation over batches, transport preserving norms) at geomstats' default
tolerance (1e-6). geomstats pairs each test with a data method named after it
(``<test>_test_data``, ``<test>_vec_test_data`` for the batched version); the
data classes of geomstats' own suite are not shipped, so :func:`generic_test_data`
builds the same pairing from the test case itself. On the hyperbolic half-plane
the tests with an ``expected`` value get it from closed forms: geomstats' own
hyperbolic metric (distances, parallel transport through the hyperboloid) and
constant curvature -1.
"""

import inspect
import math

import geomstats.backend as gs
import numpy as np
import pytest
import torch
from conftest import half_plane_log_factor
from geomstats.geometry._hyperbolic import HyperbolicDiffeo
from geomstats.geometry.euclidean import Euclidean
from geomstats.geometry.hyperboloid import Hyperboloid
from geomstats.geometry.poincare_half_space import PoincareHalfSpace
from geomstats.geometry.pullback_metric import PullbackDiffeoMetric
from geomstats.test.data import TestData
from geomstats.test.parametrizers import DataBasedParametrizer
from geomstats.test.random import RandomDataGenerator
from geomstats.test.vectorization import KNOWN_ARGS
from geomstats.test_cases.geometry.riemannian_metric import RiemannianMetricTestCase

from geomstats_density import ConformalMetric, DensityConformalMetric
from geomstats_density.densities import Gaussian
from geomstats_density.quality import RealismIndex

SEED = 0


def generic_test_data(test_case, skips=None):
    """A geomstats ``TestData`` holding data for every generic test of ``test_case``.

    Random-point tests (``@pytest.mark.random``) get geomstats' random data,
    explicit vectorisation tests (``@pytest.mark.vec``) its vectorisation data,
    and every test with an ``expected`` value and only point and vector
    arguments its automatic vectorisation test (``<test>_vec``), as geomstats'
    own data classes do. Tests that need hand-written data are left out.

    Parameters
    ----------
    test_case : type
        A geomstats test case, such as ``RiemannianMetricTestCase``.
    skips : dict, optional
        Data names mapped to the reason their test does not apply.

    Returns
    -------
    data : TestData
    """
    skips = skips or {}
    data_methods = {}
    for name in dir(test_case):
        if not name.startswith("test_"):
            continue
        function = getattr(test_case, name)
        marks = {mark.name for mark in getattr(function, "pytestmark", [])}
        parameters = inspect.signature(function).parameters
        with_time = "n_times" in parameters
        vanilla = name[len("test_") :]
        if "random" in marks:
            kind = "random_data_with_time" if with_time else "random_data"
        elif "vec" in marks:
            kind = "vec_data_with_time" if with_time else "vec_data"
        elif "expected" in parameters and _only_points_and_vectors(parameters):
            vanilla, kind = f"{vanilla}_vec", "vec_data"
        else:
            continue
        data_methods[f"{vanilla}_test_data"] = _data_method(kind, skips.get(vanilla))
    # geomstats draws the batch sizes of its data at import (random.sample):
    # fixed here, so that every pytest-xdist worker collects the same tests.
    sizes = dict(
        N_VEC_REPS=[3], N_SHAPE_POINTS=[1, 3], N_RANDOM_POINTS=[1, 3], N_TIME_POINTS=[1, 3]
    )
    return type(f"{test_case.__name__}Data", (TestData,), {**sizes, **data_methods})()


def _only_points_and_vectors(parameters):
    """Whether a test's required arguments are all points and tangent vectors."""
    arguments = [
        name for name, parameter in parameters.items() if name not in ("self", "expected", "atol")
    ]
    required = all(parameters[name].default is inspect.Parameter.empty for name in arguments)
    return required and all(name in KNOWN_ARGS for name in arguments)


def _data_method(kind, skip_reason):
    marks = () if skip_reason is None else (pytest.mark.skip(reason=skip_reason),)

    def data(self):
        return getattr(self, f"generate_{kind}")(marks=marks)

    return data


class HalfPlaneRandomDataGenerator(RandomDataGenerator):
    """geomstats' generator of ``Euclidean(2)``, points moved into the half-plane y > 0."""

    def random_point(self, n_points=1):
        return self.space.random_point(n_points) + gs.array([0.0, 1.5])


def hyperbolic_reference():
    """geomstats' half-plane, with closed-form parallel transport through the hyperboloid."""
    space = PoincareHalfSpace(2, equip=False)
    space.equip_with_metric(
        PullbackDiffeoMetric,
        diffeo=HyperbolicDiffeo("half-space", "extrinsic"),
        image_space=Hyperboloid(2),
    )
    return space


def half_plane_points(n_points, seed):
    rng = np.random.default_rng(seed)
    return gs.array(np.c_[rng.uniform(-1, 1, n_points), rng.uniform(0.5, 2.5, n_points)])


class HalfPlaneTestData(generic_test_data(RiemannianMetricTestCase).__class__):
    """The generic data, plus closed-form values of the hyperbolic half-plane."""

    def _points_and_vectors(self, seed, n_vectors=2):
        rng = np.random.default_rng(seed)
        points = half_plane_points(3, seed)
        return points, [gs.array(rng.normal(size=(3, 2))) for _ in range(n_vectors)]

    def dist_test_data(self):
        reference = PoincareHalfSpace(2)
        point_a, point_b = half_plane_points(3, 1), half_plane_points(3, 2)
        expected = reference.metric.dist(point_a, point_b)
        return self.generate_tests([dict(point_a=point_a, point_b=point_b, expected=expected)])

    def sectional_curvature_test_data(self):
        base_point, (vec_a, vec_b) = self._points_and_vectors(3)
        return self.generate_tests(
            [
                dict(
                    tangent_vec_a=vec_a,
                    tangent_vec_b=vec_b,
                    base_point=base_point,
                    expected=-gs.ones(3),
                )
            ]
        )

    def scalar_curvature_test_data(self):
        # 2 K on a surface of Gaussian curvature K = -1.
        return self.generate_tests(
            [dict(base_point=half_plane_points(3, 4), expected=-2.0 * gs.ones(3))]
        )

    def covariant_riemann_tensor_test_data(self):
        # Constant curvature K: R_ijkl = <R(e_k, e_l) e_j, e_i> = K (g_ki g_lj - g_kj g_li).
        base_point = half_plane_points(3, 5)
        metric = np.asarray(gs.eye(2)) / np.asarray(base_point)[:, 1, None, None] ** 2
        expected = -(
            np.einsum("...ki,...lj->...ijkl", metric, metric)
            - np.einsum("...kj,...li->...ijkl", metric, metric)
        )
        return self.generate_tests([dict(base_point=base_point, expected=gs.array(expected))])

    def curvature_derivative_test_data(self):
        # The hyperbolic plane is a symmetric space: nabla R = 0.
        base_point, vectors = self._points_and_vectors(6, n_vectors=4)
        names = ["tangent_vec_a", "tangent_vec_b", "tangent_vec_c", "tangent_vec_d"]
        datum = dict(zip(names, vectors), base_point=base_point, expected=gs.zeros((3, 2)))
        return self.generate_tests([datum])

    def injectivity_radius_test_data(self):
        expected = gs.array([math.inf] * 3)
        return self.generate_tests([dict(base_point=half_plane_points(3, 7), expected=expected)])

    def parallel_transport_test_data(self):
        reference = hyperbolic_reference()
        base_point, (tangent_vec, direction) = self._points_and_vectors(8)
        end_point = half_plane_points(3, 9)
        return self.generate_tests(
            [
                dict(
                    tangent_vec=tangent_vec,
                    base_point=base_point,
                    direction=direction,
                    expected=reference.metric.parallel_transport(
                        tangent_vec, base_point, direction=direction
                    ),
                ),
                dict(
                    tangent_vec=tangent_vec,
                    base_point=base_point,
                    end_point=end_point,
                    expected=reference.metric.parallel_transport(
                        tangent_vec, base_point, end_point=end_point
                    ),
                ),
            ]
        )


def seed_random_data():
    """geomstats' random data from a fixed seed: the same points on every run."""
    gs.random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)


class TestHalfPlaneConformalMetric(RiemannianMetricTestCase, metaclass=DataBasedParametrizer):
    """The hyperbolic half-plane as the factor ``1 / y^2`` on ``Euclidean(2)``."""

    space = Euclidean(2, equip=False).equip_with_metric(
        ConformalMetric, log_factor=half_plane_log_factor, injectivity_radius=math.inf
    )
    data_generator = HalfPlaneRandomDataGenerator(space)
    testing_data = HalfPlaneTestData()

    def setup_method(self):
        seed_random_data()


def gaussian_quality():
    return RealismIndex(Gaussian(torch.zeros(2, dtype=torch.float64)))


class TestDensityConformalMetric(RiemannianMetricTestCase, metaclass=DataBasedParametrizer):
    """The paper's metric of the realism index of a standard Gaussian on ``Euclidean(2)``."""

    space = Euclidean(2, equip=False).equip_with_metric(
        DensityConformalMetric, log_quality=gaussian_quality()
    )
    testing_data = generic_test_data(
        RiemannianMetricTestCase,
        skips={
            "injectivity_radius_vec": (
                "not known for this factor: the metric raises NotImplementedError, "
                "geomstats' convention for an unknown radius"
            ),
        },
    )

    def setup_method(self):
        seed_random_data()
        super().setup_method()
