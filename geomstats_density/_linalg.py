"""Small linear-algebra helpers of the metrics and solvers."""

import numpy as np
import torch

from geomstats_density.exceptions import DomainError


def unit_vectors(vectors):
    """``vectors`` divided by their norms along the last axis; zero where the norm is."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def solve_positive_definite(matrix, rhs):
    """``matrix^{-1} rhs`` for symmetric positive definite (metric) matrices, by Cholesky.

    Not ``torch.linalg.solve``: its batched LU fails in the MKL of torch's CPU
    wheels for batches of matrices of order 256 or more on several threads ("Pivots
    given to lu_solve must all be greater or equal to 1"), and a metric matrix is
    positive definite anyway.

    Parameters
    ----------
    matrix : torch.Tensor, shape=[..., n, n]
    rhs : torch.Tensor, shape=[..., n, k]

    Returns
    -------
    solution : torch.Tensor, shape=[..., n, k]

    Raises
    ------
    DomainError
        If some matrix is not positive definite.
    """
    factor, info = torch.linalg.cholesky_ex(matrix)
    if bool((info != 0).any()):
        raise DomainError(
            "A metric matrix is not positive definite at some point: the metric is "
            "degenerate there (a map phi whose Jacobian is not of full rank, or a "
            "cloud with coincident points)."
        )
    return torch.cholesky_solve(rhs, factor)
