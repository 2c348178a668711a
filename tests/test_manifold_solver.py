"""The pymanopt boundary-value solver on the sphere and SO(3): truths from outside.

- a factor that depends on the latitude only: meridians are geodesics (mirror
  symmetry), so the length between two points of a meridian is a 1-D integral;
- a vMF-mixture quality solved again in a stereographic chart by the Newton
  solver (an independent discretisation and solver): same length;
- the caps test of the issue: the geodesic keeps to the caps, the great circle
  does not.
"""

import math

import geomstats.backend as gs
import numpy as np
import pytest
import torch
from conftest import as_numpy
from geomstats.geometry.euclidean import Euclidean
from geomstats.geometry.hypersphere import Hypersphere
from geomstats.geometry.special_orthogonal import SpecialOrthogonal
from scipy.integrate import quad

from geomstats_density import (
    ConformalMetric,
    DensityConformalMetric,
    GeodesicConvergenceError,
    GeodesicConvergenceWarning,
)
from geomstats_density.energy import curve_length
from geomstats_density.quality import DensityRatio
from geomstats_density.solvers.manifold import ManifoldGeodesicCurve, ManifoldGeodesicSolver
from geomstats_density.sphere import VonMisesFisherMixture


def unit(vector):
    vector = np.asarray(vector, dtype=float)
    return vector / np.linalg.norm(vector)


def latitude_log_factor(z):
    return z[..., 2] / torch.linalg.vector_norm(z, dim=-1)


def sphere_with(log_factor=None, log_quality=None, **solver_options):
    space = Hypersphere(2, equip=False)
    if log_quality is None:
        space.equip_with_metric(
            ConformalMetric, log_factor=log_factor, solver_options=solver_options
        )
    else:
        space.equip_with_metric(
            DensityConformalMetric, log_quality=log_quality, solver_options=solver_options
        )
    return space


# Two caps on the equator and a bridge cap above them: the great circle between
# the first two runs through the sparse equator between them.
CAPS = VonMisesFisherMixture(
    [1.0, 1.0, 1.0], [unit([1, 0, 0]), unit([0, 1, 0]), unit([0.6, 0.6, 0.7])], [8.0, 8.0, 8.0]
)
START, END = unit([1, 0, 0.1]), unit([0, 1, 0.1])


@pytest.fixture(scope="module")
def caps_sphere():
    return sphere_with(log_quality=DensityRatio(CAPS, eps=0.2))


@pytest.fixture(scope="module")
def caps_geodesic(caps_sphere):
    return caps_sphere.metric.log_solver.solve(gs.array(END), gs.array(START))


def test_meridian_length_is_the_latitude_integral():
    space = sphere_with(latitude_log_factor)
    polar_a, polar_b = 0.6, 1.8
    point_a = gs.array([math.sin(polar_a), 0.0, math.cos(polar_a)])
    point_b = gs.array([math.sin(polar_b), 0.0, math.cos(polar_b)])
    curve = space.metric.log_solver.solve(point_b, point_a)
    # |d gamma|_g = e^{cos(theta) / 2} d theta along the meridian.
    exact, _ = quad(lambda theta: math.exp(0.5 * math.cos(theta)), polar_a, polar_b, epsabs=1e-13)
    assert float(curve.dist) == pytest.approx(exact, rel=1e-7)
    assert bool(curve.converged)
    np.testing.assert_allclose(as_numpy(curve.nodes)[..., 1], 0.0, atol=1e-10)
    np.testing.assert_allclose(np.linalg.norm(as_numpy(curve.nodes), axis=-1), 1.0, atol=1e-14)


def test_log_is_tangent_and_exp_inverts_it():
    space = sphere_with(lambda z: latitude_log_factor(z) + 0.5 * (z[..., 0] / z.norm(dim=-1)) ** 2)
    point_a, point_b = gs.array(unit([1, -0.3, 0.3])), gs.array(unit([-0.2, 1, 0.3]))
    curve = space.metric.log_solver.solve(point_b, point_a)
    log = curve.initial_velocity
    assert float(gs.sum(log * point_a)) == pytest.approx(0.0, abs=1e-13)
    np.testing.assert_allclose(
        as_numpy(space.metric.exp(log, point_a)), as_numpy(point_b), atol=1e-7
    )
    times = gs.linspace(0.0, 1.0, 5)
    shot = space.metric.exp_solver.geodesic_ivp(log, point_a)(times)
    np.testing.assert_allclose(as_numpy(shot), as_numpy(curve(times)), atol=1e-7)


def south_pole_chart(u):
    """Inverse stereographic projection from the south pole, R^2 -> S^2."""
    sq_norm = (u * u).sum(-1, keepdim=True)
    return torch.cat([2 * u, 1 - sq_norm], dim=-1) / (1 + sq_norm)


def test_caps_geodesic_matches_the_chart_solution(caps_geodesic):
    quality = DensityRatio(CAPS, eps=0.2)
    chart = Euclidean(2, equip=False)
    chart.equip_with_metric(
        DensityConformalMetric,
        log_quality=lambda u: quality(south_pole_chart(u)),
        phi=south_pole_chart,
    )

    def to_chart(point):
        return point[:2] / (1 + point[2])

    flat = chart.metric.log_solver.solve(gs.array(to_chart(END)), gs.array(to_chart(START)))
    assert float(caps_geodesic.dist) == pytest.approx(float(flat.dist), rel=1e-6)
    image = south_pole_chart(torch.as_tensor(as_numpy(flat(gs.linspace(0.0, 1.0, 9)))))
    np.testing.assert_allclose(
        as_numpy(caps_geodesic(gs.linspace(0.0, 1.0, 9))), image.numpy(), atol=1e-5
    )


def test_caps_geodesic_stays_in_the_caps(caps_sphere, caps_geodesic):
    assert isinstance(caps_geodesic, ManifoldGeodesicCurve)
    assert bool(caps_geodesic.converged)
    times = gs.linspace(0.0, 1.0, 401)
    on_geodesic = torch.as_tensor(as_numpy(caps_geodesic(times)))
    great_circle = torch.as_tensor(
        as_numpy(Hypersphere(2).metric.geodesic(gs.array(START), gs.array(END))(times))
    )
    np.testing.assert_allclose(on_geodesic.norm(dim=-1).numpy(), 1.0, atol=1e-14)
    assert float(CAPS(on_geodesic).min()) > float(CAPS(great_circle).min()) + 0.3
    # The geodesic is shorter in the metric, and its quality is minus its length.
    great_circle_length = float(curve_length(caps_sphere.metric, great_circle))
    assert float(caps_geodesic.dist) < 0.8 * great_circle_length
    curve_quality = caps_sphere.metric.curve_log_quality(caps_geodesic(gs.linspace(0.0, 1.0, 2049)))
    assert float(curve_quality) == pytest.approx(-float(caps_geodesic.dist), rel=1e-6)


def test_batches_match_single_solves_and_progress_bar(caps_sphere, caps_geodesic, capsys):
    starts = gs.array([[START, unit([1, 0.2, 0])], [unit([0.9, 0, 0.4]), START]])
    ends = gs.array([[END, END], [END, unit([0.2, 1, 0])]])
    solver = ManifoldGeodesicSolver(caps_sphere, progress=True)
    curves = solver.solve(ends, starts)
    assert curves.dist.shape == (2, 2)
    assert curves.initial_velocity.shape == (2, 2, 3)
    assert curves(gs.linspace(0.0, 1.0, 3)).shape == (2, 2, 3, 3)
    assert float(curves.dist[0, 0]) == pytest.approx(float(caps_geodesic.dist), rel=1e-7)
    assert "geodesics" in capsys.readouterr().err
    ManifoldGeodesicSolver(caps_sphere, progress=False).solve(ends[0, 0], starts[0, 0])
    assert capsys.readouterr().err == ""


def test_rotations_log_and_exp_with_a_varying_factor():
    space = SpecialOrthogonal(3, equip=False)
    space.equip_with_metric(ConformalMetric, log_factor=lambda r: r[..., 2, 2] + 0.5 * r[..., 0, 1])
    group = SpecialOrthogonal(3)
    rotation_vectors = gs.array(np.random.default_rng(0).normal(size=(2, 2, 3)))
    point_a, point_b = group.matrix_from_rotation_vector(rotation_vectors)
    log = space.metric.log(point_b, point_a)
    assert bool(gs.all(group.is_tangent(log, point_a, atol=1e-10)))
    np.testing.assert_allclose(
        as_numpy(space.metric.exp(log, point_a)), as_numpy(point_b), atol=1e-6
    )


def test_non_convergence_is_reported(caps_sphere):
    solver = ManifoldGeodesicSolver(caps_sphere, max_iter=1)
    with pytest.warns(GeodesicConvergenceWarning, match="did not converge"):
        curve = solver.solve(gs.array(END), gs.array(START))
    assert not bool(curve.converged)
    solver.on_failure = "raise"
    with pytest.raises(GeodesicConvergenceError, match="max_iter=1"):
        solver.solve(gs.array(END), gs.array(START))


def test_sphere_exp_sensitivity_matches_the_round_sphere_closed_form():
    # A constant factor: the geodesics are great circles, geomstats' closed-form exp.
    space = sphere_with(lambda z: 0.0 * z[..., 0])
    base = unit([0.3, -0.5, 0.8])
    basis = np.linalg.svd(np.eye(3) - np.outer(base, base))[0][:, :2]  # the tangent plane
    velocity = basis @ np.array([1.5, -1.2])
    result = space.metric.exp_solver.solve(gs.array(velocity), gs.array(base))
    assert result.converged
    round_exp = Hypersphere(2).metric.exp
    step = 1e-6
    columns = [
        (
            as_numpy(round_exp(gs.array(velocity + step * axis), gs.array(base)))
            - as_numpy(round_exp(gs.array(velocity - step * axis), gs.array(base)))
        )
        / (2 * step)
        for axis in basis.T
    ]
    expected = np.linalg.svd(np.stack(columns, axis=-1), compute_uv=False)[0]
    np.testing.assert_allclose(result.sensitivity, expected, rtol=1e-4)
