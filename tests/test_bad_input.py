"""Bad input raises a clear error that names the problem; nothing returns NaN."""

import geomstats.backend as gs
import numpy as np
import pytest
import torch
from geomstats.geometry.euclidean import Euclidean
from paper_problems import LN2

from geomstats_density import (
    ConformalMetric,
    DensityConformalMetric,
    DiscreteCurve,
    DomainError,
    NewtonGeodesicSolver,
)


def density_plane(log_quality):
    space = Euclidean(2, equip=False)
    space.equip_with_metric(DensityConformalMetric, log_quality=log_quality)
    return space


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_coordinates(half_plane, bad):
    with pytest.raises(ValueError, match="NaN or infinite coordinate"):
        half_plane.metric.dist(gs.array([0.0, 1.0]), gs.array([bad, 1.0]))


def test_wrong_dimension(half_plane):
    with pytest.raises(ValueError, match=r"shape \[\.\.\., 2\]"):
        half_plane.metric.dist(gs.array([0.0, 1.0, 2.0]), gs.array([1.0, 1.0, 2.0]))


def test_unbroadcastable_batches(half_plane):
    with pytest.raises(ValueError, match="Cannot broadcast"):
        half_plane.metric.dist(gs.ones((3, 2)), gs.ones((4, 2)))


def test_endpoint_where_quality_is_one():
    space = density_plane(lambda z: -(z * z).sum(-1))  # Q = 1 at the origin
    with pytest.raises(DomainError, match="base_point.*log_quality must be finite and < 0"):
        space.metric.dist(gs.array([0.0, 0.0]), gs.array([1.0, 0.0]))


def test_quality_one_along_the_way():
    space = density_plane(
        lambda z: -torch.clamp((z * z).sum(-1) - 1.0, min=0.0)
    )  # Q = 1 in the disk
    with pytest.raises(DomainError, match="starting curve.*log_quality"):
        space.metric.dist(gs.array([-3.0, 0.0]), gs.array([3.0, 0.0]))


def test_density_returning_minus_infinity_along_the_way():
    def log_quality(z):
        return torch.where(z[..., 0].abs() < 0.2, -torch.inf, -LN2 * torch.ones_like(z[..., 0]))

    space = density_plane(log_quality)
    with pytest.raises(DomainError, match="-inf"):
        space.metric.dist(gs.array([-1.0, 0.0]), gs.array([1.0, 0.0]))


def test_pointwise_methods_outside_the_domain(half_plane):
    with pytest.raises(DomainError, match="log_factor is not finite"):
        half_plane.metric.metric_matrix(gs.array([0.0, -1.0]))


def test_callable_with_wrong_output_shape():
    space = density_plane(lambda z: -torch.ones(z.shape[:-1] + (1,), dtype=z.dtype))
    with pytest.raises(ValueError, match="one value per point.*expected"):
        space.metric.metric_matrix(gs.array([[0.0, 1.0], [1.0, 1.0]]))


def test_callable_returning_numpy():
    space = Euclidean(2, equip=False)
    space.equip_with_metric(ConformalMetric, log_factor=lambda z: np.zeros(z.shape[:-1]))
    with pytest.raises(ValueError, match="must return a torch tensor"):
        space.metric.metric_matrix(gs.array([0.0, 1.0]))


def test_non_callables():
    space = Euclidean(2, equip=False)
    with pytest.raises(ValueError, match="log_quality must be callable"):
        space.equip_with_metric(DensityConformalMetric, log_quality=0.5)


def test_solver_settings(half_plane):
    with pytest.raises(ValueError, match="on_failure"):
        NewtonGeodesicSolver(half_plane, on_failure="maybe")
    with pytest.raises(ValueError, match="n_nodes"):
        NewtonGeodesicSolver(half_plane, n_nodes=2)
    with pytest.raises(ValueError, match="method must be one of"):
        half_plane.equip_with_metric(
            ConformalMetric, log_factor=lambda z: z[..., 0], method="magic"
        )


def test_initial_curve_with_other_endpoints(half_plane):
    curve = DiscreteCurve(np.array([[0.0, 1.0], [0.5, 2.0], [1.0, 1.5]]))
    with pytest.raises(ValueError, match="must join base_point to point"):
        half_plane.metric.log_solver.solve(gs.array([2.0, 1.0]), gs.array([0.0, 1.0]), curve)


def test_curve_nodes_and_times():
    with pytest.raises(ValueError, match="n_nodes >= 2"):
        DiscreteCurve(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="NaN"):
        DiscreteCurve(np.array([[0.0, np.nan], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="increasing"):
        DiscreteCurve(np.zeros((3, 2)), times=[0.0, 0.5, 0.5])
    with pytest.raises(ValueError, match=r"times in \[0.0, 1.0\]"):
        DiscreteCurve(np.zeros((3, 2)))(2.0)
    with pytest.raises(ValueError, match="one row per curve"):
        DiscreteCurve(np.zeros((2, 3, 2)), times=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="start and end together"):
        DiscreteCurve(np.zeros((2, 3, 2)), times=[[0.0, 0.5, 1.0], [0.0, 0.5, 2.0]])


# Constant on purpose: the refused disk alone shapes the geodesic.
@pytest.mark.filterwarnings("ignore::geomstats_density.exceptions.ConstantQualityWarning")
def test_grid_start_steps_around_points_a_quality_refuses():
    def log_quality(z):
        inside = (z * z).sum(-1) < 0.25
        if bool(inside.any()):
            raise DomainError("the density is zero inside the disk of radius 1/2")
        return -LN2 * torch.ones_like(z[..., 0])

    space = Euclidean(2, equip=False)
    space.equip_with_metric(
        DensityConformalMetric,
        log_quality=log_quality,
        # The geodesic hugs the refused disk: a wall Newton cannot converge against.
        solver_options=dict(initialization="grid", tol=None, on_failure="ignore"),
    )
    curve = space.metric.log_solver.solve(gs.array([1.0, 0.0]), gs.array([-1.0, 0.0]))
    nodes = np.asarray(curve.nodes)
    # 17 points of the grid's path have chords across the disk: the start has 33.
    assert nodes.shape == (33, 2)
    assert np.min(np.linalg.norm(nodes, axis=-1)) >= 0.5
    # The shortest way round the disk: tangents and an arc, times log 2.
    exact = LN2 * (2 * np.sqrt(1 - 0.25) + 0.5 * (np.pi - 2 * np.arccos(0.5)))
    assert float(curve.dist) == pytest.approx(exact, rel=2e-2)
