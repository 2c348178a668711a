"""Curves outside the metric's domain isolated by halving the batch.

References from outside the code under test: each curve evaluated or
minimised alone, and the half-plane's closed-form distance
``arccosh(1 + |dx|^2 / (2 y1 y2))``.
"""

import numpy as np
import torch
from conftest import half_plane_log_factor
from geomstats.geometry.euclidean import Euclidean

from geomstats_density import ConformalMetric, DomainError, NewtonGeodesicSolver
from geomstats_density.energy import per_curve_where_outside
from geomstats_density.solvers.domain import minimise_isolated
from geomstats_density.solvers.status import LevelStatus


def half_plane():
    space = Euclidean(2, equip=False)
    space.equip_with_metric(ConformalMetric, log_factor=half_plane_log_factor)
    return space


def test_halving_evaluates_each_curve_as_alone_in_few_calls():
    """One curve of 64 outside: the results are each curve's own, in order, in
    at most two evaluations per halving (not one per curve)."""
    nodes = np.random.default_rng(0).normal(size=(64, 5, 2))
    nodes[37, 2, 1] = np.nan
    calls = []

    def evaluate(curves):
        calls.append(len(curves))
        if np.isnan(curves).any():
            raise DomainError("not finite")
        return curves.sum(axis=(1, 2))

    values = per_curve_where_outside(evaluate, nodes, lambda curve, error: np.full(1, -1.0))
    alone = [nodes[b].sum() if b != 37 else -1.0 for b in range(64)]
    np.testing.assert_array_equal(values, alone)
    assert len(calls) <= 1 + 2 * int(np.log2(64))


def test_minimise_isolated_fails_the_curves_outside_and_solves_the_others():
    """Half-plane curves, two of eight starting below y = 0, minimised by a
    minimisation that raises on any batch holding one: those fail at their own
    positions, with their reasons there; the others are solved as each alone, to
    the closed-form distance."""
    space = half_plane()
    rng = np.random.default_rng(1)
    start = np.stack([rng.uniform(-1, 1, 8), rng.uniform(0.5, 2, 8)], -1)
    end = np.stack([rng.uniform(-1, 1, 8), rng.uniform(0.5, 2, 8)], -1)
    times = np.linspace(0, 1, 33)[None, :, None]
    nodes = start[:, None] + times * (end - start)[:, None]
    nodes[[2, 5], 16, 1] = -0.5
    solver = NewtonGeodesicSolver(space, n_nodes=33, tol=None)
    metric = space.metric.remembering()

    def minimise(metric, curves, on_iteration, warm_state):
        if np.any(curves[..., 1] <= 0):
            raise DomainError(f"a batch of {len(curves)} curves leaves the half-plane")
        return solver._minimise(metric, curves, on_iteration, warm_state)

    solved, status, iterations, _, reasons = minimise_isolated(
        minimise, metric, nodes, lambda done=None: None, None
    )
    assert np.flatnonzero(status == LevelStatus.FAILED).tolist() == [2, 5]
    assert sorted(reasons) == [2, 5]
    assert reasons[2] == "a batch of 1 curves leaves the half-plane"
    np.testing.assert_array_equal(solved[[2, 5]], nodes[[2, 5]])
    inside = [0, 1, 3, 4, 6, 7]
    alone = np.concatenate(
        [minimise(metric, nodes[b : b + 1], lambda done=None: None, None)[0] for b in inside]
    )
    np.testing.assert_allclose(solved[inside], alone, rtol=0, atol=1e-10)
    with torch.no_grad():
        lengths = torch.sqrt(metric.curve_sq_lengths(torch.from_numpy(solved[inside]))).sum(-1)
    dx = np.sum((start - end) ** 2, -1)
    exact = np.arccosh(1 + dx / (2 * start[:, 1] * end[:, 1]))[inside]
    np.testing.assert_allclose(lengths.numpy(), exact, rtol=2e-3)
    assert np.all(iterations[inside] > 0)
