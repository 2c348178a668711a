"""Common mistakes in what users pass are caught with advice, not silently accepted."""

import warnings

import geomstats.backend as gs
import numpy as np
import pytest
import torch
from geomstats.geometry.euclidean import Euclidean

from geomstats_density import ConformalMetric, ConstantQualityWarning, DensityConformalMetric
from geomstats_density.densities import CallableDensity, Gaussian, GaussianMixture, as_density
from geomstats_density.quality import Constant, DensityRatio, Feature, RealismIndex

START, END = gs.array([-1.0, 0.2]), gs.array([1.0, 0.3])


def plane_with(metric_class, **kwargs):
    space = Euclidean(2, equip=False)
    space.equip_with_metric(metric_class, solver_options=dict(n_nodes=9, tol=None), **kwargs)
    return space.metric


def fitted_mixture():
    from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

    data = np.random.default_rng(0).normal(size=(200, 2))
    return SklearnGaussianMixture(2, random_state=0).fit(data)


@pytest.mark.parametrize(
    "density", [as_density(fitted_mixture()), Gaussian(torch.zeros(2, dtype=torch.float64))]
)
def test_a_density_passed_as_a_quality_is_refused_with_the_wrapper_to_use(density):
    with pytest.raises(TypeError, match=r"log_quality is a density .*RealismIndex\(density\)"):
        plane_with(DensityConformalMetric, log_quality=density)
    with pytest.raises(TypeError, match=r"log_factor is a density .*RealismIndex\(density\)"):
        plane_with(ConformalMetric, log_factor=density)


def numpy_log_quality(points):
    return np.log(0.05 + 0.9 * np.exp(-(points**2).sum(-1)))


def test_numpy_in_a_log_quality_is_named_with_advice():
    metric = plane_with(DensityConformalMetric, log_quality=numpy_log_quality)
    with pytest.raises(TypeError, match=r"log_quality \(numpy_log_quality\) called numpy.*torch"):
        metric.dist(START, END)


def test_numpy_in_a_log_factor_is_named_with_advice():
    metric = plane_with(ConformalMetric, log_factor=lambda z: np.exp(z[..., 0]) * 0.1)
    with pytest.raises(TypeError, match=r"log_factor \(.*<lambda>\) called numpy.*torch\.exp"):
        metric.dist(START, END)


def test_numpy_in_a_log_density_is_named_with_advice():
    density = CallableDensity(lambda z: -np.exp((z**2).sum(-1)), dim=2)
    metric = plane_with(DensityConformalMetric, log_quality=DensityRatio(density, log_max=-1.0))
    with pytest.raises(TypeError, match=r"log_prob \(.*<lambda>\) called numpy"):
        metric.dist(START, END)


def test_numpy_in_a_generator_is_named_with_advice():
    feature = Feature(lambda samples: samples, target=0, generator=np.tanh)
    points = torch.zeros(3, 2, dtype=torch.float64, requires_grad=True)
    with pytest.raises(TypeError, match=r"generator \(tanh\) called numpy"):
        feature(points)


def test_a_quality_without_graph_from_its_points_is_warned_of_once():
    def ignores_points(points):
        return torch.full(points.shape[:-1], -1.0, dtype=torch.float64)

    metric = plane_with(DensityConformalMetric, log_quality=ignores_points)
    with pytest.warns(
        ConstantQualityWarning, match=r"do not depend on the points.*quality\.Constant"
    ):
        metric.dist(START, END)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConstantQualityWarning)
        metric.dist(START, END)


def test_a_constant_quality_with_a_graph_is_warned_of():
    metric = plane_with(DensityConformalMetric, log_quality=lambda z: 0.0 * z[..., 0] - 1.0)
    with pytest.warns(ConstantQualityWarning, match=r"zero gradient.*quality\.Constant"):
        metric.dist(START, END)


@pytest.mark.parametrize(
    "quality",
    [
        Constant(0.3),
        Constant(0.3) * Constant(0.5),
        RealismIndex(GaussianMixture(np.ones(2), np.eye(2), np.stack([np.eye(2)] * 2))),
    ],
    ids=["constant", "product-of-constants", "realism"],
)
def test_qualities_of_the_package_pass_the_checks(quality):
    metric = plane_with(DensityConformalMetric, log_quality=quality)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        metric.dist(START, END)


def test_a_quality_flat_where_first_evaluated_but_not_constant_is_not_warned_of():
    """The paper's Example 3 (a disk cut out) first evaluated on a circle outside the disk."""
    metric = plane_with(
        DensityConformalMetric,
        log_quality=lambda z: -0.7 - 5.0 * torch.clamp(1.0 - z.norm(dim=-1), min=0.0),
    )
    angles = torch.linspace(0.0, np.pi, 33, dtype=torch.float64)
    circle = 1.3 * torch.stack([torch.cos(angles), torch.sin(angles)], -1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConstantQualityWarning)
        metric.log_factor_and_gradient(circle)


def test_a_quality_that_uses_only_its_parameters_is_warned_of():
    weight = torch.tensor(-0.5, dtype=torch.float64, requires_grad=True)
    metric = plane_with(DensityConformalMetric, log_quality=lambda z: weight.expand(z.shape[:-1]))
    with pytest.warns(ConstantQualityWarning, match=r"does not use the points"):
        metric.log_factor_and_gradient(torch.eye(2, dtype=torch.float64))
