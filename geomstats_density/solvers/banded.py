"""Symmetric block-tridiagonal matrices and the trust-region subproblem on them.

The Hessian of a curve's discrete energy couples consecutive nodes only: it is
block tridiagonal with ``dim x dim`` blocks, a band matrix of half-bandwidth
``2 dim - 1``. A batch of such matrices is stacked into one band matrix (no
coupling between problems) so that LAPACK factors the whole batch in one call.
"""

import functools

import numpy as np
from scipy.linalg import lapack


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
        """Number of matrices in the batch."""
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
    definite. LAPACK stops at the first matrix that is not, with the columns
    before it factored: those are solved, and the factorisation resumes, in
    place, after it.

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
    # Column-major: the columns from any matrix on are contiguous, factored in place
    # (a copy of the rest of the band at each failure made many failures quadratic).
    factor = np.array(band, order="F")
    solution = np.zeros((batch, size))
    positive = np.ones(batch, dtype=bool)
    start = 0
    while start < batch:
        _, info = lapack.dpbtrf(factor[:, start * size :], lower=1, overwrite_ab=1)
        failed = batch if info == 0 else start + (info - 1) // size
        if failed > start:
            columns = slice(start * size, failed * size)
            solved, _ = lapack.dpbtrs(factor[:, columns], rhs[columns], lower=1)
            solution[start:failed] = solved.reshape(failed - start, size)
        if failed < batch:
            positive[failed] = False
        start = failed + 1
    return solution, positive


def trust_region_step(hessian, gradient, radius, band=None, max_factorisations=40):
    """Approximately minimise ``g.p + p.H.p / 2`` subject to ``|p| <= radius``.

    The Moré-Sorensen method on one band matrix: the Newton step if ``H`` is
    positive definite and the step fits; otherwise ``p(mu) = -(H + mu I)^{-1} g``
    for a shift ``mu`` kept in a bracket ``[mu_low, mu_high]`` of the solution:
    Newton's method on the secular equation ``1 / |p(mu)| = 1 / radius`` where it
    stays in the bracket, geometric bisection elsewhere, and each failed Cholesky
    factorisation raises ``mu_low``. It stops when ``|p|`` is within 10% of the
    radius. When ``H`` has negative curvature that the gradient does not see (the
    straight line through a symmetric obstacle is such a saddle, with zero
    gradient), ``p`` stays short for every shift that factors: the step then goes
    on to the boundary along an approximate eigenvector of the smallest
    eigenvalue (inverse iteration with the factor of ``H + mu I``), once that
    reaches the model's minimum within 10% (Moré and Sorensen's hard-case test).
    This is what lets the solver leave saddles. No eigenvalue is computed
    otherwise.

    Parameters
    ----------
    hessian : BlockTridiagonal
        A batch of one matrix.
    gradient : ndarray, shape=[size]
    radius : float
    band : ndarray, shape=[2 dim, size], optional
        ``hessian.band()``, if the caller has it.
    max_factorisations : int
        Cholesky factorisations allowed; past them the best step found so far
        is returned, brought to the boundary.

    Returns
    -------
    step : ndarray, shape=[size]
    is_newton : bool
        True if the step is the plain Newton step of a positive definite ``H``.
    """
    band = hessian.band() if band is None else band
    step, factor = cholesky_solve(band, -gradient)
    if step is not None and np.linalg.norm(step) <= radius:
        return step, True

    scale = max(float(hessian.diagonal_scale()[0]), np.finfo(float).tiny)
    lowest_bound, highest_bound = _gershgorin_bounds(band)
    gradient_norm = np.linalg.norm(gradient)
    # |p(mu)| <= |g| / (lambda_min + mu): the step fits once mu >= |g| / radius - lambda_min.
    shift_low = max(0.0, -float(np.min(band[0])), gradient_norm / radius - highest_bound)
    shift_high = max(gradient_norm / radius - lowest_bound, shift_low)
    shift = 0.0
    best = None  # the last step of a positive definite shift: (step, factor, shift)
    for _ in range(max_factorisations):
        newton = None
        if step is None:
            shift_low = max(shift_low, shift)
        else:
            best = (step, factor, shift)
            norm = np.linalg.norm(step)
            if abs(norm - radius) <= 0.1 * radius:
                return step, False
            if norm < radius:
                shift_high = min(shift_high, shift)
                eigenvector, curvature = _inverse_iteration(band, factor, shift)
                # The smallest eigenvalue is at most the Rayleigh quotient.
                shift_low = max(shift_low, shift - curvature)
                boundary = _to_boundary(step, eigenvector, gradient, radius)
                model_scale = step @ (-gradient) + shift * radius**2
                if np.sum((boundary - step) ** 2) * curvature <= 0.1 * model_scale:
                    return boundary, False
            else:
                shift_low = max(shift_low, shift)
            if norm > 0:
                whitened, _ = lapack.dtbtrs(factor, step, uplo="L")
                newton = shift + (norm / np.linalg.norm(whitened)) ** 2 * (norm - radius) / radius
        if shift_high - shift_low <= 1e-12 * (scale + shift_high):
            break
        if newton is not None and shift_low < newton < shift_high:
            shift = newton
        else:
            shift = max(
                np.sqrt(shift_low * shift_high), shift_low + 1e-2 * (shift_high - shift_low)
            )
        shifted = band.copy()
        shifted[0] += shift
        step, factor = cholesky_solve(shifted, -gradient)
    if best is None:
        return -radius * gradient / max(gradient_norm, np.finfo(float).tiny), False
    step, factor, shift = best
    if np.linalg.norm(step) > radius:
        return step * (radius / np.linalg.norm(step)), False
    eigenvector, _ = _inverse_iteration(band, factor, shift)
    return _to_boundary(step, eigenvector, gradient, radius), False


def _gershgorin_bounds(band):
    """Lower and upper bounds of the eigenvalues of a symmetric band matrix."""
    size = band.shape[1]
    off_diagonal = np.zeros(size)
    for k in range(1, band.shape[0]):
        magnitude = np.abs(band[k, : size - k])
        off_diagonal[: size - k] += magnitude
        off_diagonal[k:] += magnitude
    return float(np.min(band[0] - off_diagonal)), float(np.max(band[0] + off_diagonal))


def _inverse_iteration(band, factor, shift, n_iterations=3):
    """Unit vector near the eigenvector of the smallest eigenvalue of ``H``, and its Rayleigh term.

    Returns the vector ``v`` and ``v.(H + shift I).v``, both from the Cholesky factor of
    ``H + shift I``.
    """
    vector = _start_vector(band.shape[1])
    for _ in range(n_iterations):
        vector, _ = lapack.dpbtrs(factor, vector, lower=1)
        vector /= np.linalg.norm(vector)
    return vector, float(vector @ _band_matvec(band, vector)) + shift


@functools.lru_cache(maxsize=16)
def _start_vector(size):
    """A fixed random vector: inverse iteration from it is reproducible."""
    vector = np.random.default_rng(0).standard_normal(size)
    vector.flags.writeable = False
    return vector


def _band_matvec(band, vector):
    """Product of a symmetric matrix in lower band storage with a vector."""
    out = band[0] * vector
    size = band.shape[1]
    for k in range(1, band.shape[0]):
        out[k:] += band[k, : size - k] * vector[: size - k]
        out[: size - k] += band[k, : size - k] * vector[k:]
    return out


def _to_boundary(step, direction, gradient, radius):
    """``step + tau * direction`` with ``|.| = radius``, ``tau`` of descent sign."""
    sign = -1.0 if gradient @ direction > 0 else 1.0
    a, b, c = direction @ direction, 2 * (step @ direction), step @ step - radius**2
    tau = (-b * sign + np.sqrt(max(b * b - 4 * a * c, 0.0))) / (2 * a)
    return step + sign * tau * direction
