"""Symmetric block-tridiagonal matrices and the trust-region subproblem on them.

The Hessian of a curve's discrete energy couples consecutive nodes only: it is
block tridiagonal with ``dim x dim`` blocks, a band matrix of half-bandwidth
``2 dim - 1``. A batch of such matrices is stacked into one band matrix (no
coupling between problems) so that LAPACK factors the whole batch in one call.
"""

import functools

import numpy as np
from scipy.linalg import lapack

# Bisection steps on the smallest eigenvalue: from Gershgorin's bound to 1e-6 of
# the diagonal's scale takes about 30.
MAX_BISECTIONS = 64


@functools.lru_cache(maxsize=64)
def _band_indices(n_blocks, dim):
    """Positions in LAPACK lower band storage of the lower-triangle block entries."""
    rows, cols = np.tril_indices(dim)
    blocks = np.arange(n_blocks)[:, None]
    diag_band = np.broadcast_to(rows - cols, (n_blocks, rows.size))
    diag_col = blocks * dim + cols
    p, q = np.divmod(np.arange(dim * dim), dim)
    lower_band = np.broadcast_to(dim + p - q, (max(n_blocks - 1, 0), p.size))
    lower_col = blocks[:-1] * dim + q
    return (rows, cols, diag_band, diag_col), (p, q, lower_band, lower_col)


class BlockTridiagonal:
    """A batch of symmetric block-tridiagonal matrices.

    Parameters
    ----------
    diagonal : ndarray, shape=[batch, n_blocks, dim, dim]
    lower : ndarray, shape=[batch, n_blocks - 1, dim, dim]
        ``lower[b, k]`` is the block in block-row ``k + 1``, block-column ``k``.
    """

    def __init__(self, diagonal, lower):
        self.diagonal = diagonal
        self.lower = lower

    @property
    def batch(self):
        return self.diagonal.shape[0]

    @property
    def size(self):
        """Order of one matrix, ``n_blocks * dim``."""
        return self.diagonal.shape[1] * self.diagonal.shape[2]

    def __getitem__(self, index):
        return BlockTridiagonal(self.diagonal[index], self.lower[index])

    def band(self):
        """Lower band storage of the stacked batch.

        Returns
        -------
        band : ndarray, shape=[2 dim, batch * n_blocks * dim]
        """
        batch, n_blocks, dim, _ = self.diagonal.shape
        size = n_blocks * dim
        (rows, cols, diag_band, diag_col), (p, q, lower_band, lower_col) = _band_indices(
            n_blocks, dim
        )
        band = np.zeros((2 * dim, batch, size))
        batch_index = np.arange(batch)[:, None, None]
        band[diag_band, batch_index, diag_col] = self.diagonal[:, :, rows, cols]
        if n_blocks > 1:
            band[lower_band, batch_index, lower_col] = self.lower[:, :, p, q]
        return band.reshape(2 * dim, batch * size)

    def matvec(self, vector):
        """Products with vectors of shape ``[batch, n_blocks, dim]``."""
        out = np.einsum("bkij,bkj->bki", self.diagonal, vector)
        out[:, 1:] += np.einsum("bkij,bkj->bki", self.lower, vector[:, :-1])
        out[:, :-1] += np.einsum("bkji,bkj->bki", self.lower, vector[:, 1:])
        return out

    def diagonal_scale(self):
        """Mean diagonal entry of each matrix, shape ``[batch]``: the shift unit."""
        return np.einsum("bkii->b", self.diagonal) / self.size


def cholesky_solve(band, rhs):
    """Solve with a band matrix if it is positive definite.

    Parameters
    ----------
    band : ndarray, shape=[2 dim, size]
    rhs : ndarray, shape=[size]

    Returns
    -------
    solution : ndarray, shape=[size], or None if not positive definite
    factor : ndarray or None
        The band Cholesky factor.
    """
    factor, info = lapack.dpbtrf(band, lower=1)
    if info != 0:
        return None, None
    solution, _ = lapack.dpbtrs(factor, rhs, lower=1)
    return solution, factor


def batch_cholesky_solve(band, rhs, batch):
    """Solve each positive definite matrix of a stacked batch; flag the others.

    One LAPACK factorisation of the whole band when every matrix is positive
    definite; otherwise the matrix where it failed is set aside and the
    factorisation resumes after it.

    Parameters
    ----------
    band : ndarray, shape=[2 dim, batch * size]
    rhs : ndarray, shape=[batch * size]
    batch : int

    Returns
    -------
    solution : ndarray, shape=[batch, size]
        Zero for the matrices that are not positive definite.
    positive : ndarray of bool, shape=[batch]
    """
    size = band.shape[1] // batch
    solution = np.zeros((batch, size))
    positive = np.ones(batch, dtype=bool)
    start = 0
    while start < batch:
        columns = slice(start * size, None)
        factor, info = lapack.dpbtrf(band[:, columns], lower=1)
        failed = batch if info == 0 else start + (info - 1) // size
        if failed > start:
            if info != 0:  # the factor is not usable past the failure: redo the head
                columns = slice(start * size, failed * size)
                factor, _ = lapack.dpbtrf(band[:, columns], lower=1)
            solution[start:failed] = lapack.dpbtrs(factor, rhs[columns], lower=1)[0].reshape(
                failed - start, size
            )
        if failed < batch:
            positive[failed] = False
        start = failed + 1
    return solution, positive


def trust_region_step(hessian, gradient, radius, max_secular_iter=8):
    """Approximately minimise ``g.p + p.H.p / 2`` subject to ``|p| <= radius``.

    The Moré-Sorensen method on one band matrix: the Newton step if ``H`` is
    positive definite and the step fits; otherwise ``p(mu) = -(H + mu I)^{-1} g``
    with ``mu`` found by Newton's method on the secular equation. When ``H`` has
    negative curvature the gradient does not see (the straight line through a
    symmetric obstacle is such a saddle), the step follows the eigenvector of the
    smallest eigenvalue to the boundary: this is what lets the solver leave saddles.

    Parameters
    ----------
    hessian : BlockTridiagonal
        A batch of one matrix.
    gradient : ndarray, shape=[size]
    radius : float

    Returns
    -------
    step : ndarray, shape=[size]
    is_newton : bool
        True if the step is the plain Newton step of a positive definite ``H``.
    """
    band = hessian.band()
    step, factor = cholesky_solve(band, -gradient)
    if step is not None and np.linalg.norm(step) <= radius:
        return step, True

    scale = max(float(hessian.diagonal_scale()[0]), np.finfo(float).tiny)
    shift_floor = 0.0
    if step is None:
        lowest_eigenvalue, lowest_eigenvector = _lowest_eigenpair(band, scale)
        shift_floor = -lowest_eigenvalue
        step, factor, shift = _shifted_solve(band, gradient, shift_floor, scale)
        if step is not None and np.linalg.norm(step) < radius:
            # Hard case (the gradient barely sees the negative curvature, e.g. zero
            # at a symmetric saddle): reach the boundary along the eigenvector, on
            # the side where the model decreases.
            return _to_boundary(step, lowest_eigenvector, gradient, radius), False
    else:
        shift = 0.0
    for _ in range(max_secular_iter):
        if step is None:
            break
        norm = np.linalg.norm(step)
        if abs(norm - radius) <= 0.1 * radius:
            break
        whitened, _ = lapack.dtbtrs(factor, step, uplo="L")
        shift += (norm / np.linalg.norm(whitened)) ** 2 * (norm - radius) / radius
        step, factor, shift = _shifted_solve(band, gradient, max(shift, shift_floor), scale)
    if step is None or np.linalg.norm(step) > 1.5 * radius:
        step = -radius * gradient / max(np.linalg.norm(gradient), np.finfo(float).tiny)
    return step, False


def _shifted_solve(band, gradient, shift_floor, scale, max_attempts=40):
    """``-(H + mu I)^{-1} g`` for the smallest ``mu`` above ``shift_floor`` that
    factors, raising the offset until the Cholesky factorisation succeeds."""
    offset = 1e-8 * scale
    for _ in range(max_attempts):
        shift = shift_floor + offset
        shifted = band.copy()
        shifted[0] += shift
        step, factor = cholesky_solve(shifted, -gradient)
        if step is not None:
            return step, factor, shift
        offset *= 4.0
    return None, None, shift_floor + offset


def _lowest_eigenpair(band, scale, rtol=1e-6, n_inverse_iterations=3):
    """Smallest eigenvalue of a symmetric band matrix that is not positive
    definite, and a unit eigenvector.

    The eigenvalue by bisection on positive definiteness (the band Cholesky
    factorisation of ``H - sigma I`` succeeds iff ``sigma`` is below it),
    between Gershgorin's lower bound and 0, to ``rtol * scale``: each step costs
    ``O(size * width^2)``, where LAPACK's banded eigensolver costs
    ``O(size^2 * width)`` (0.6 s for a 16-D curve of 512 nodes). The eigenvector
    by inverse iteration with the Cholesky factor of ``H - sigma I`` just below it.

    Returns
    -------
    eigenvalue : float
        An upper bound within ``rtol * scale`` of the smallest eigenvalue.
    vector : ndarray, shape=[size]
    """
    size = band.shape[1]
    off_diagonal = np.zeros(size)
    for k in range(1, band.shape[0]):
        magnitude = np.abs(band[k, : size - k])
        off_diagonal[: size - k] += magnitude
        off_diagonal[k:] += magnitude
    low = float(np.min(band[0] - off_diagonal)) - rtol * scale
    factor = _shifted_cholesky(band, low)
    while factor is None:  # rounding: Gershgorin's bound was not quite low enough
        low -= rtol * (scale + abs(low))
        factor = _shifted_cholesky(band, low)
    high = 0.0
    for _ in range(MAX_BISECTIONS):
        if high - low <= rtol * scale:
            break
        middle = 0.5 * (low + high)
        candidate = _shifted_cholesky(band, middle)
        if candidate is None:
            high = middle
        else:
            low, factor = middle, candidate
    vector = np.random.default_rng(0).standard_normal(size)
    for _ in range(n_inverse_iterations):
        vector, _ = lapack.dpbtrs(factor, vector, lower=1)
        vector /= np.linalg.norm(vector)
    return high, vector


def _shifted_cholesky(band, shift):
    """Band Cholesky factor of ``H - shift I``, or None if it is not positive definite."""
    shifted = band.copy()
    shifted[0] -= shift
    factor, info = lapack.dpbtrf(shifted, lower=1)
    return factor if info == 0 else None


def _to_boundary(step, direction, gradient, radius):
    """``step + tau * direction`` with ``|.| = radius``, ``tau`` of descent sign."""
    sign = -1.0 if gradient @ direction > 0 else 1.0
    a, b, c = direction @ direction, 2 * (step @ direction), step @ step - radius**2
    tau = (-b * sign + np.sqrt(max(b * b - 4 * a * c, 0.0))) / (2 * a)
    return step + sign * tau * direction
