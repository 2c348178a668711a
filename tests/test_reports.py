"""Curve reports: exact lengths and energies, slerp, the comparison table."""

import math

import numpy as np
import pytest
import scipy.stats
from geomstats.geometry.euclidean import Euclidean

from geomstats_density import DensityConformalMetric
from geomstats_density.densities import Gaussian
from geomstats_density.quality import Constant, RealismIndex
from geomstats_density.reports import (
    compare_interpolations,
    curve_report,
    linear_interpolation,
    markdown_table,
    slerp,
)


def density_metric(dim, log_quality, **solver_options):
    space = Euclidean(dim, equip=False)
    space.equip_with_metric(
        DensityConformalMetric, log_quality=log_quality, solver_options=solver_options
    )
    return space.metric


def test_report_of_a_segment_with_constant_quality():
    metric = density_metric(2, Constant(0.5))
    start, end = np.array([0.0, 0.0]), np.array([3.0, 4.0])
    report = curve_report(metric, linear_interpolation(start, end, 5), name="segment")
    length = math.log(2) * 5
    assert report["curve"] == "segment"
    assert report["length"] == pytest.approx(length, rel=1e-12)
    # Constant speed on [0, 1]: energy = length^2.
    assert report["energy"] == pytest.approx(length**2, rel=1e-12)
    assert report["curve_quality"] == pytest.approx(2.0**-5, rel=1e-12)
    assert report["min_Q"] == pytest.approx(0.5) and report["mean_Q"] == pytest.approx(0.5)
    assert "min_log_density" not in report


def test_report_log_density_along_a_segment():
    density = Gaussian(np.zeros(2))
    metric = density_metric(2, RealismIndex(density))
    start, end = np.array([-2.0, 1.0]), np.array([2.0, 1.0])
    report = curve_report(metric, np.stack([start, end]), log_density=density, n_eval=401)
    reference = scipy.stats.multivariate_normal(np.zeros(2), np.eye(2))
    points = np.linspace(start, end, 401)
    assert report["min_log_density"] == pytest.approx(reference.logpdf(start), rel=1e-12)
    assert report["mean_log_density"] == pytest.approx(reference.logpdf(points).mean(), rel=1e-12)
    # Realism index of N(0, I) in 2-D: P = exp(-|z|^2 / 2); Q is highest at (0, 1).
    assert report["min_Q"] == pytest.approx(0.05 + 0.9 * math.exp(-2.5), rel=1e-10)


def test_slerp_keeps_norms_and_angles():
    start, end = np.array([2.0, 0.0, 0.0]), np.array([0.0, 0.0, 2.0])
    nodes = np.asarray(slerp(start, end, 9).nodes)
    np.testing.assert_allclose(np.linalg.norm(nodes, axis=-1), 2.0)
    angles = np.arctan2(nodes[:, 2], nodes[:, 0])
    np.testing.assert_allclose(np.diff(angles), math.pi / 16)
    shifted = np.asarray(slerp(start + 1, end + 1, 9, center=np.ones(3)).nodes)
    np.testing.assert_allclose(shifted, nodes + 1)
    with pytest.raises(ValueError, match="opposite"):
        slerp(start, -start)
    with pytest.raises(ValueError, match="centre"):
        slerp(np.zeros(3), end)


def test_comparison_puts_the_geodesic_first_and_shortest():
    rng = np.random.default_rng(0)
    start, end = rng.normal(size=(2, 5))
    density = Gaussian(np.zeros(5))
    metric = density_metric(5, RealismIndex(density), tol=1e-6)
    rows = compare_interpolations(metric, start, end, log_density=density)
    assert [row["curve"] for row in rows] == ["geodesic", "linear", "slerp"]
    lengths = [row["length"] for row in rows]
    assert lengths[0] <= min(lengths[1:]) + 1e-9
    for row in rows:
        assert row["energy"] >= row["length"] ** 2 * (1 - 1e-9)
        assert row["curve_quality"] == pytest.approx(math.exp(-row["length"]))


def test_markdown_table():
    rows = [
        {"curve": "geodesic", "length": 1.234567891, "converged": True},
        {"curve": "linear", "length": 2.0},
    ]
    table = markdown_table(rows, digits=4).splitlines()
    assert table == [
        "| curve | length | converged |",
        "|---|---|---|",
        "| geodesic | 1.235 | True |",
        "| linear | 2 |  |",
    ]
    assert markdown_table(rows, columns=["length"]).splitlines()[0] == "| length |"
