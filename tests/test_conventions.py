"""What geomstats, scikit-learn and PyTorch users expect of the public API.

* every public method of the metric classes and of ``LatentSpace`` documents
  what runs: not geomstats' inherited docstring, and every parameter named;
* warnings point at the caller's line, whichever geomstats wrapper called the
  solver, and name the stop that applied;
* a scalar distance has the type geomstats' own metrics return;
* every length reported is the returned curve's own, one measurement;
* distance matrices follow scikit-learn's argument order.
"""

import inspect
import itertools
import re
import warnings

import geomstats.backend as gs
import numpy as np
import pytest
import torch
from conftest import as_numpy, half_plane_log_factor, random_half_plane_points
from geomstats.geometry.euclidean import Euclidean
from geomstats.learning.frechet_mean import FrechetMean
from geomstats.learning.knn import KNearestNeighborsClassifier
from scipy.integrate import quad
from scipy.interpolate import CubicSpline

from geomstats_density import (
    ConformalMetric,
    DensityConformalMetric,
    GeodesicConvergenceWarning,
    KernelMeanEmbeddingMetric,
    LatentSpace,
    NeuralGeodesicSolver,
)
from geomstats_density.distances import paired_distances, pairwise_distances
from geomstats_density.reports import curve_report
from geomstats_density.solvers.status import CurveStatus

# LatentSpace is geomstats' Euclidean(dim): these vector-space methods are
# geomstats' own and hold unchanged (the metric's methods are space.metric's).
VECTOR_SPACE_METHODS = {
    "basis",
    "belongs",
    "default_metric",
    "equip_with_group_action",
    "equip_with_metric",
    "equip_with_quotient",
    "identity",
    "is_tangent",
    "projection",
    "random_tangent_vec",
    "regularize",
    "to_tangent",
}


def _parameters_section(doc):
    """The numpydoc ``Parameters`` section of a docstring, or ''."""
    match = re.search(
        r"^Parameters\n-+\n(.*?)(?:^\w[\w ]*\n-+\n|\Z)", doc, re.DOTALL | re.MULTILINE
    )
    return match.group(1) if match else ""


def _public_methods(cls):
    for name in sorted(dir(cls)):
        if name.startswith("_"):
            continue
        owner = next(klass for klass in cls.__mro__ if name in klass.__dict__)
        yield name, owner, inspect.getattr_static(cls, name)


@pytest.mark.parametrize(
    "cls", [ConformalMetric, DensityConformalMetric, KernelMeanEmbeddingMetric, LatentSpace]
)
def test_every_public_method_documents_what_runs(cls):
    undocumented = []
    for name, owner, attribute in _public_methods(cls):
        if not owner.__module__.startswith("geomstats_density"):
            if not (cls is LatentSpace and name in VECTOR_SPACE_METHODS):
                undocumented.append(f"{name}: geomstats' {owner.__name__}.{name}")
            continue
        function = attribute.fget if isinstance(attribute, property) else attribute
        function = getattr(function, "__func__", function)
        doc = inspect.getdoc(function) or ""
        if not doc:
            undocumented.append(f"{name}: no docstring")
            continue
        for ancestor in cls.__mro__:
            parent = ancestor.__dict__.get(name)
            if ancestor.__module__.startswith("geomstats.") and parent is not None:
                parent = getattr(parent, "__func__", parent)
                if doc == inspect.getdoc(parent):
                    undocumented.append(f"{name}: geomstats' {ancestor.__name__} docstring")
        if isinstance(attribute, property):
            continue
        parameters = list(inspect.signature(function).parameters)[1:]
        section = _parameters_section(doc)
        missing = [p for p in parameters if not re.search(rf"\b{p}\b", section)]
        if missing:
            undocumented.append(f"{name}: parameters {missing} not in its Parameters section")
    assert not undocumented, "\n".join(undocumented)


# ----------------------------------------------------------------------
# Warnings: at the caller's line, naming the stop that applied.
# ----------------------------------------------------------------------
def _stalling_half_plane(**options):
    """The half-plane whose solver runs out of iterations: one Newton step per level."""
    space = Euclidean(2, equip=False)
    options = {"max_iter": 1, "max_nodes": 33, "initialization": "line", **options}
    space.equip_with_metric(
        ConformalMetric, log_factor=half_plane_log_factor, solver_options=options
    )
    return space.metric


START, END = gs.array([0.0, 1.0]), gs.array([3.0, 0.5])
CALLS = {
    "dist": lambda metric: metric.dist(START, END),
    "squared_dist": lambda metric: metric.squared_dist(START, END),
    "log": lambda metric: metric.log(END, START),
    "geodesic": lambda metric: metric.geodesic(START, END),
    "dist_pairwise": lambda metric: metric.dist_pairwise(gs.stack([START, END])),
    "dist_broadcast": lambda metric: metric.dist_broadcast(
        gs.stack([START, END, START]), gs.stack([END, START])
    ),
    "pairwise_distances": lambda metric: pairwise_distances(gs.stack([START, END]), metric=metric),
    # geomstats' learners: log and exp from geomstats, dist through scikit-learn.
    "FrechetMean": lambda metric: FrechetMean(metric._space).fit(gs.stack([START, END])),
    "KNearestNeighborsClassifier": lambda metric: (
        KNearestNeighborsClassifier(metric._space, n_neighbors=1)
        .fit(gs.stack([START, gs.array([5.0, 1.0])]), np.array([0, 1]))
        .predict(gs.stack([END]))
    ),
}


@pytest.mark.parametrize("call", sorted(CALLS))
def test_convergence_warning_points_at_the_callers_line(call):
    metric = _stalling_half_plane()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        CALLS[call](metric)
    convergence = [w for w in caught if w.category is GeodesicConvergenceWarning]
    assert convergence and all(w.filename == __file__ for w in convergence)
    text = str(convergence[0].message)
    # The stop that applied, at the node count where it applied; no generic list.
    assert "used all max_iter=1 iterations at 33 nodes" in text
    assert "the next node count, 65, exceeds max_nodes=33" in text
    assert "more than max_iter" not in text and "or the length did not reach" not in text
    assert "raise max_iter (now 1)" in text


def test_max_nodes_message_names_max_nodes_not_max_iter():
    metric = _stalling_half_plane(max_iter=100, max_nodes=17, tol=1e-10)
    with pytest.warns(GeodesicConvergenceWarning) as record:
        curve = metric.log_solver.solve(END, START)
    assert curve.status == CurveStatus.MAX_NODES
    text = str(record[0].message)
    assert record[0].filename == __file__
    assert "tol=1e-10 not met: the next node count, 33, exceeds max_nodes=17" in text
    assert "max_iter" not in text.split("To converge")[0]
    assert "raise max_nodes (now 17) or loosen tol (now 1e-10)" in text


# ----------------------------------------------------------------------
# Scalars as geomstats returns them.
# ----------------------------------------------------------------------
def test_scalar_distances_have_geomstats_own_type(half_plane, hyperbolic):
    for method in ("dist", "squared_dist"):
        ours = getattr(half_plane.metric, method)(START, END)
        theirs = getattr(hyperbolic.metric, method)(START, END)
        assert type(ours) is type(theirs)
        assert ours.shape == theirs.shape == ()
        assert float(ours) == pytest.approx(float(theirs), rel=1e-7)


# ----------------------------------------------------------------------
# One measurement of lengths.
# ----------------------------------------------------------------------
def _spline_length(nodes):
    """Half-plane length of the cubic spline through ``nodes`` by adaptive quadrature."""
    spline = CubicSpline(np.linspace(0.0, 1.0, len(nodes)), nodes, axis=0)
    velocity = spline.derivative()
    knots = np.linspace(0.0, 1.0, len(nodes))
    return sum(
        quad(lambda t: np.linalg.norm(velocity(t)) / spline(t)[1], a, b, epsrel=1e-12)[0]
        for a, b in itertools.pairwise(knots)
    )


def test_a_curve_stopped_short_reports_its_own_length():
    metric = _stalling_half_plane(max_iter=100, n_nodes=5, max_nodes=9, tol=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeodesicConvergenceWarning)
        curve = metric.log_solver.solve(END, START)
    assert curve.status == CurveStatus.MAX_NODES
    length = float(curve.length())
    assert float(curve.dist) == pytest.approx(length, rel=1e-13)
    # Its 9 nodes measured at 32 and 64 pieces, extrapolated: O(h^4) of a coarse spline.
    assert length == pytest.approx(_spline_length(as_numpy(curve.nodes)), rel=1e-5)


def test_a_converged_curve_length_agrees_with_dist(half_plane, hyperbolic):
    curve = half_plane.metric.log_solver.solve(END, START)
    assert curve.converged
    length, dist = float(curve.length()), float(curve.dist)
    tol = half_plane.metric.log_solver.tol
    assert abs(length - dist) <= max(tol * dist, float(curve.dist_error))
    assert length == pytest.approx(_spline_length(as_numpy(curve.nodes)), rel=1e-9)
    assert dist == pytest.approx(float(hyperbolic.metric.dist(START, END)), rel=1e-7)
    assert curve_report(half_plane.metric, curve)["length"] == length


def test_neural_distance_is_its_curves_length(half_plane):
    torch.manual_seed(0)
    solver = NeuralGeodesicSolver(half_plane, n_steps=20, on_failure="ignore")
    curve = solver.solve(END, START)
    assert float(curve.dist) == float(curve.length())


# ----------------------------------------------------------------------
# scikit-learn's argument order; test x train.
# ----------------------------------------------------------------------
def test_rectangular_distance_matrix_matches_the_closed_form(half_plane, hyperbolic):
    train = gs.array(random_half_plane_points(4, seed=31))
    test = gs.array(random_half_plane_points(3, seed=32))
    expected = as_numpy(hyperbolic.metric.dist_broadcast(test, train))
    assert expected.shape == (3, 4)
    matrix = as_numpy(pairwise_distances(test, train, metric=half_plane.metric, batch_size=5))
    np.testing.assert_allclose(matrix, expected, rtol=1e-7)
    broadcast = half_plane.metric.dist_broadcast(test, train)
    assert type(broadcast) is type(test)
    np.testing.assert_allclose(as_numpy(broadcast), expected, rtol=1e-7)
    square = as_numpy(pairwise_distances(train, metric=half_plane.metric))
    every_pair = hyperbolic.metric.dist(gs.repeat(train, 4, axis=0), gs.tile(train, (4, 1)))
    np.testing.assert_allclose(square, as_numpy(every_pair).reshape(4, 4), rtol=1e-7, atol=1e-12)
    assert np.all(np.diag(square) == 0.0) and np.array_equal(square, square.T)
    paired = as_numpy(paired_distances(test, train[:3], metric=half_plane.metric))
    np.testing.assert_allclose(paired, np.diag(expected[:, :3]), rtol=1e-7)


def test_distance_matrices_take_the_metric_by_keyword(half_plane):
    points = gs.array(random_half_plane_points(3, seed=33))
    with pytest.raises(TypeError):
        pairwise_distances(half_plane.metric, points)


# ----------------------------------------------------------------------
# geomstats' generic methods, as documented, on the hyperbolic half-plane.
# ----------------------------------------------------------------------
def test_documented_generic_methods_match_the_hyperbolic_plane(half_plane, hyperbolic):
    metric, exact = half_plane.metric, hyperbolic.metric
    point = gs.array([0.3, 1.5])
    vectors = gs.array([[1.0, 0.2], [0.3, -1.0]])
    for method in ("norm", "squared_norm", "normalize"):
        np.testing.assert_allclose(
            as_numpy(getattr(metric, method)(vectors, point)),
            as_numpy(getattr(exact, method)(vectors, point)),
            rtol=1e-12,
        )
    np.testing.assert_allclose(
        as_numpy(metric.norm(metric.normal_basis(vectors, point), point)), 1.0, rtol=1e-12
    )
    cloud = gs.array(random_half_plane_points(4, seed=34))
    assert int(metric.closest_neighbor_index(point, cloud)) == int(
        exact.closest_neighbor_index(point, cloud)
    )
    np.testing.assert_array_equal(
        as_numpy(metric.closest_neighbor_index(cloud[:2] + 0.1, cloud)),
        as_numpy(exact.closest_neighbor_index(cloud[:2] + 0.1, cloud)),
    )
    assert float(metric.diameter(cloud)) == pytest.approx(float(exact.diameter(cloud)), rel=1e-7)
    # Curvature of the hyperbolic plane, under both backends: K = -1, scalar curvature 2K.
    curvature = metric.sectional_curvature(vectors[0], vectors[1], point)
    assert float(curvature) == pytest.approx(-1.0, rel=1e-10)
    assert float(metric.scalar_curvature(point)) == pytest.approx(-2.0, rel=1e-10)


def test_exp_budget_warning_points_at_the_callers_line(half_plane):
    half_plane.metric.exp_solver.max_evaluations = 20
    half_plane.metric.exp_solver.on_failure = "warn"
    velocity = gs.array([3.0, 0.0])
    for call in (
        lambda: half_plane.metric.exp(velocity, START),
        lambda: half_plane.metric.geodesic(START, initial_tangent_vec=velocity)(0.5),
    ):
        with pytest.warns(GeodesicConvergenceWarning, match="max_evaluations=20") as record:
            call()
        assert [w.filename for w in record] == [__file__]
