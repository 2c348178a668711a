"""The banded trust-region step against the subproblem solved by a dense eigendecomposition."""

import numpy as np
import pytest
from scipy.optimize import brentq

from geomstats_density.solvers.banded import BlockTridiagonal, trust_region_step

N_BLOCKS, DIM = 7, 2


def random_block_tridiagonal(rng, shift):
    """A symmetric block-tridiagonal matrix, ``shift`` added to its diagonal."""
    diagonal = rng.normal(size=(1, N_BLOCKS, DIM, DIM))
    diagonal = diagonal + np.swapaxes(diagonal, -1, -2) + shift * np.eye(DIM)
    lower = rng.normal(size=(1, N_BLOCKS - 1, DIM, DIM))
    hessian = BlockTridiagonal(diagonal, lower)
    size = N_BLOCKS * DIM
    dense = np.zeros((size, size))
    for k in range(N_BLOCKS):
        dense[k * DIM : (k + 1) * DIM, k * DIM : (k + 1) * DIM] = diagonal[0, k]
    for k in range(N_BLOCKS - 1):
        block = lower[0, k]
        dense[(k + 1) * DIM : (k + 2) * DIM, k * DIM : (k + 1) * DIM] = block
        dense[k * DIM : (k + 1) * DIM, (k + 1) * DIM : (k + 2) * DIM] = block.T
    return hessian, dense


def exact_step(dense, gradient, radius):
    """Global minimiser of the model in the ball, from the eigendecomposition."""
    eigenvalues, vectors = np.linalg.eigh(dense)
    coefficients = vectors.T @ gradient
    if eigenvalues[0] > 0:
        newton = -vectors @ (coefficients / eigenvalues)
        if np.linalg.norm(newton) <= radius:
            return newton
    lowest = max(0.0, -eigenvalues[0])
    others = eigenvalues > eigenvalues[0] + 1e-12
    if np.all(np.abs(coefficients[~others]) < 1e-12):  # hard case, if the rest is short
        inner = -vectors[:, others] @ (coefficients[others] / (eigenvalues[others] + lowest))
        if np.linalg.norm(inner) <= radius:
            tail = np.sqrt(radius**2 - inner @ inner)
            return inner + tail * vectors[:, 0]

    def excess(shift):
        return np.linalg.norm(coefficients / (eigenvalues + shift)) - radius

    high = lowest + np.linalg.norm(gradient) / radius + 1.0
    shift = brentq(excess, lowest + 1e-13 * (1 + lowest), high, xtol=1e-15)
    return -vectors @ (coefficients / (eigenvalues + shift))


def model(dense, gradient, step):
    return gradient @ step + 0.5 * step @ dense @ step


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(
    "case", ["newton fits", "positive definite, long", "indefinite", "hard case", "saddle"]
)
def test_step_reaches_the_exact_subproblem_minimum(case, seed):
    rng = np.random.default_rng(seed)
    hessian, dense = random_block_tridiagonal(
        rng, shift=8.0 if "newton" in case or "positive" in case else 0.0
    )
    eigenvalues, vectors = np.linalg.eigh(dense)
    gradient = rng.normal(size=dense.shape[0])
    if case == "hard case":  # no component along the lowest eigenvector
        gradient -= (vectors[:, 0] @ gradient) * vectors[:, 0]
    elif case == "saddle":
        gradient = np.zeros_like(gradient)
    radius = {"newton fits": 10.0, "positive definite, long": 0.05}.get(case, 1.0)
    if case != "newton fits":
        assert case == "positive definite, long" or eigenvalues[0] < 0
    step, is_newton = trust_region_step(hessian, gradient, radius)
    exact = exact_step(dense, gradient, radius)
    assert is_newton == (case == "newton fits")
    assert np.linalg.norm(step) <= 1.1 * radius
    best = model(dense, gradient, exact)
    assert best < 0
    # Moré and Sorensen's guarantee with their 10% tolerances: within 19% of optimal.
    assert model(dense, gradient, step) <= 0.81 * best
    if case == "newton fits":
        np.testing.assert_allclose(step, exact, rtol=1e-10)
