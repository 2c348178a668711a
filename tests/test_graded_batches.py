"""Curves graded each its own way, solved in one batch.

References from outside the code under test: each curve evaluated or solved
alone (the shared-times path, one curve per call), and the half-plane's
closed-form distance ``arccosh(1 + |dx|^2 / (2 y1 y2))``.
"""

import warnings

import numpy as np
import torch
from conftest import half_plane_log_factor
from geomstats.geometry.euclidean import Euclidean
from scipy.special import erf

from geomstats_density import ConformalMetric, NewtonGeodesicSolver
from geomstats_density.solvers.derivatives import energy_derivatives, matrix_free_derivatives
from geomstats_density.solvers.grading import CurveGradings, NodeGrading
from geomstats_density.solvers.status import CurveStatus
from geomstats_density.solvers.steps import energies_or_inf


def half_plane():
    space = Euclidean(2, equip=False)
    space.equip_with_metric(ConformalMetric, log_factor=half_plane_log_factor)
    return space


def hyperbolic_dist(a, b):
    return np.arccosh(1 + np.sum((a - b) ** 2, -1) / (2 * a[..., 1] * b[..., 1]))


def test_per_curve_times_give_each_curve_its_own_energy_and_derivatives():
    """Three curves at three gradings: energy, gradient and Hessian blocks (and
    the matrix-free gradient and products) of the batch are each curve's alone."""
    metric = half_plane().metric
    gradings = CurveGradings(
        [
            NodeGrading([0.3], [1.0], 0.05),
            NodeGrading([0.5, 0.8], [2.0, 0.5], 0.1),
            NodeGrading([0.1], [0.5], 0.2),
        ]
    )
    times = gradings.times(17)
    t = np.linspace(0, 1, 17)[None, :, None]
    nodes = (
        np.array([[-1.0, 0.5], [0.0, 1.0], [1.0, 0.3]])[:, None]
        + t * np.array([[2.0, 0.5], [0.5, 1.0], [-1.5, 0.2]])[:, None]
    )
    nodes[:, 1:-1, 1] += 0.2 * np.sin(np.pi * t[:, 1:-1, 0])
    batch = energy_derivatives(metric, nodes, times)
    free = matrix_free_derivatives(metric, nodes, times)
    vectors = np.random.default_rng(0).normal(size=nodes[:, 1:-1].shape)
    products = free.hvp(vectors)
    energies = energies_or_inf(metric, nodes, times)
    for b in range(3):
        alone = energy_derivatives(metric, nodes[b : b + 1], times[b])
        np.testing.assert_allclose(batch.energy[b], alone.energy[0], rtol=1e-14)
        np.testing.assert_allclose(energies[b], alone.energy[0], rtol=1e-14)
        np.testing.assert_allclose(batch.gradient[b], alone.gradient[0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(
            batch.hessian.diagonal[b], alone.hessian.diagonal[0], rtol=1e-12, atol=1e-12
        )
        np.testing.assert_allclose(
            batch.hessian.lower[b], alone.hessian.lower[0], rtol=1e-12, atol=1e-12
        )
        free_alone = matrix_free_derivatives(metric, nodes[b : b + 1], times[b])
        np.testing.assert_allclose(free.gradient[b], free_alone.gradient[0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(
            products[b], free_alone.hvp(vectors[b : b + 1])[0], rtol=1e-12, atol=1e-12
        )


def test_a_batch_of_graded_resolves_equals_each_pair_solved_alone():
    """Far half-plane pairs short of ``tol`` at ``max_nodes`` are solved again at
    graded times, all in one refinement: distances, statuses and which were solved
    again are those of each pair solved alone, and the pair that converges so is
    within ``tol`` of the closed form."""
    space = half_plane()
    start = np.array([[-3.0, 0.2], [-2.0, 0.3], [0.0, 1.0], [-1.0, 0.25], [-2.5, 0.2], [1.0, 0.2]])
    end = np.array([[3.0, 0.2], [2.5, 0.4], [0.5, 1.2], [2.0, 0.3], [1.5, 0.5], [2.0, 2.0]])
    solver = NewtonGeodesicSolver(space, n_nodes=9, max_nodes=65, tol=1e-7, on_failure="ignore")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batch = solver.solve(torch.from_numpy(end), torch.from_numpy(start))
        alone = [
            solver.solve(torch.from_numpy(end[b : b + 1]), torch.from_numpy(start[b : b + 1]))
            for b in range(len(start))
        ]
    graded = ["solved again" in message for message in batch.message]
    assert graded == ["solved again" in curve.message[0] for curve in alone]
    assert np.asarray(batch.status).tolist() == [int(curve.status[0]) for curve in alone]
    np.testing.assert_allclose(
        np.asarray(batch.dist), [float(curve.dist[0]) for curve in alone], rtol=1e-12
    )
    assert np.sum(np.asarray(batch.status) == CurveStatus.MAX_NODES) >= 3
    assert any(graded)
    exact = hyperbolic_dist(start, end)
    converged = np.flatnonzero(batch.converged)
    np.testing.assert_allclose(np.asarray(batch.dist)[converged], exact[converged], rtol=1e-7)


def test_node_times_invert_the_closed_form_node_count():
    """A grading of 1,024 bumps (evaluated near each time only): the node count at
    its node times, by the closed form ``s + sum_k m_k (erf((s - c_k) / (sqrt 2
    sigma)) + erf(c_k / (sqrt 2 sigma))) / 2`` over every bump, is uniform."""
    errors = np.random.default_rng(0).random(1024) ** 6
    grading = NodeGrading.from_piece_errors(errors)
    scale = np.sqrt(2.0) * grading.width

    def node_count(s):
        bumps = erf((s[:, None] - grading.centers) / scale) + erf(grading.centers / scale)
        return s + 0.5 * bumps @ grading.masses

    times = grading.times(1025)
    assert times[0] == 0.0 and times[-1] == 1.0 and np.all(np.diff(times) > 0)
    counts = node_count(times)
    np.testing.assert_allclose(counts, np.linspace(0, 1, 1025) * counts[-1], rtol=0, atol=1e-13)
