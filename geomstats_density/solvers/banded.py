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


def batch_cholesky(band, batch):
    """Band Cholesky factors of the positive definite matrices of a stacked batch.

    One LAPACK factorisation of the whole band when every matrix is positive
    definite. LAPACK stops at the first matrix that is not, with the columns
    before it factored: the factorisation resumes, in place, after it.

    Parameters
    ----------
    band : ndarray, shape=[2 dim, batch * size]
    batch : int

    Returns
    -------
    factor : ndarray, shape=[2 dim, batch * size]
        The stacked factors; zero for the matrices that are not positive definite.
    positive : ndarray of bool, shape=[batch]
    """
    size = band.shape[1] // batch
    # Column-major: the columns from any matrix on are contiguous, factored in place.
    factor = np.array(band, order="F")
    positive = np.ones(batch, dtype=bool)
    start = 0
    while start < batch:
        _, info = lapack.dpbtrf(factor[:, start * size :], lower=1, overwrite_ab=1)
        if info == 0:
            break
        failed = start + (info - 1) // size
        positive[failed] = False
        factor[:, failed * size : (failed + 1) * size] = 0.0
        start = failed + 1
    return factor, positive


def _solve_factored(factor, rhs, positive):
    """``[batch, size]`` solutions with stacked factors; zero where ``positive`` is False."""
    batch, size = rhs.shape
    solution = np.zeros((batch, size))
    if positive.all():
        solution[:] = lapack.dpbtrs(factor, rhs.reshape(-1), lower=1)[0].reshape(batch, size)
    elif positive.any():
        solution[positive] = lapack.dpbtrs(
            _curves(factor, positive, size), rhs[positive].reshape(-1), lower=1
        )[0].reshape(-1, size)
    return solution


def _curves(band, index, size):
    """The stacked band of the matrices ``index`` (indices or a boolean mask)."""
    return band[:, _columns(index, size)]


def _columns(index, size):
    """Band columns of the matrices ``index`` of order ``size``."""
    index = np.flatnonzero(index) if np.asarray(index).dtype == bool else np.asarray(index)
    return (index[:, None] * size + np.arange(size)).reshape(-1)


def trust_region_steps(hessian, gradient, radius, band=None, max_factorisations=40):
    """Approximately minimise ``g.p + p.H.p / 2`` subject to ``|p| <= radius``, for a batch.

    The Moré-Sorensen method on band matrices: the Newton step if ``H`` is
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
    otherwise. Each iteration factors the shifted matrices of all the curves
    still iterating in one stacked LAPACK call.

    Parameters
    ----------
    hessian : BlockTridiagonal
        A batch of matrices.
    gradient : ndarray, shape=[batch, size]
    radius : array-like, shape=[batch]
    band : ndarray, shape=[2 dim, batch * size], optional
        ``hessian.band()``, if the caller has it.
    max_factorisations : int
        Factorisations allowed per matrix after the first; past them the best
        step found so far is returned, brought to the boundary.

    Returns
    -------
    steps : ndarray, shape=[batch, size]
    is_newton : ndarray of bool, shape=[batch]
        True where the step is the plain Newton step of a positive definite ``H``.
    """
    batch, size = gradient.shape
    band = hessian.band() if band is None else band
    radius = np.broadcast_to(np.asarray(radius, dtype=float), (batch,))
    factor, positive = batch_cholesky(band, batch)
    steps = _solve_factored(factor, -gradient, positive)
    is_newton = positive & (np.linalg.norm(steps, axis=1) <= radius)
    shifted = np.flatnonzero(~is_newton)
    if shifted.size:
        steps[shifted] = _more_sorensen(
            _curves(band, shifted, size),
            gradient[shifted],
            radius[shifted],
            np.maximum(hessian.diagonal_scale()[shifted], np.finfo(float).tiny),
            _curves(factor, shifted, size),
            positive[shifted],
            steps[shifted],
            max_factorisations,
        )
    return steps, is_newton


def _more_sorensen(band, gradient, radius, scale, factor, positive, step, max_factorisations):
    """The shifted steps of :func:`trust_region_steps`, from the unshifted attempt.

    ``factor``, ``positive`` and ``step`` are those of the unshifted matrices; all
    arrays are per matrix, the band and factor stacked.
    """
    batch, size = gradient.shape
    lowest_bound, highest_bound = _gershgorin_bounds(band, batch)
    gradient_norm = np.linalg.norm(gradient, axis=1)
    diagonal = band[0].reshape(batch, size)
    # |p(mu)| <= |g| / (lambda_min + mu): the step fits once mu >= |g| / radius - lambda_min.
    shift_low = np.maximum(np.maximum(0.0, -diagonal.min(axis=1)), gradient_norm / radius - highest_bound)
    shift_high = np.maximum(gradient_norm / radius - lowest_bound, shift_low)
    shift = np.zeros(batch)
    result = np.empty((batch, size))
    finished = np.zeros(batch, dtype=bool)
    # The last step of a positive definite shift, and its shift.
    has_best = np.zeros(batch, dtype=bool)
    best_step, best_shift = np.zeros((batch, size)), np.zeros(batch)
    active = np.arange(batch)  # iterating, with ``step``/``factor``/``positive`` at ``shift``
    for _ in range(max_factorisations):
        newton = np.full(active.size, np.nan)
        shift_low[active[~positive]] = np.maximum(shift_low[active[~positive]], shift[active[~positive]])
        rows = np.flatnonzero(positive)
        if rows.size:
            curves = active[rows]
            current, current_factor = step[rows], _curves(factor, rows, size)
            has_best[curves], best_step[curves], best_shift[curves] = True, current, shift[curves]
            norm = np.linalg.norm(current, axis=1)
            close = np.abs(norm - radius[curves]) <= 0.1 * radius[curves]
            result[curves[close]], finished[curves[close]] = current[close], True
            short = np.flatnonzero(~close & (norm < radius[curves]))
            if short.size:
                c = curves[short]
                shift_high[c] = np.minimum(shift_high[c], shift[c])
                eigenvector, curvature = _inverse_iteration(
                    _curves(band, c, size), _curves(current_factor, short, size), shift[c]
                )
                # The smallest eigenvalue is at most the Rayleigh quotient.
                shift_low[c] = np.maximum(shift_low[c], shift[c] - curvature)
                boundary = _to_boundary(current[short], eigenvector, gradient[c], radius[c])
                model_scale = np.einsum("bi,bi->b", current[short], -gradient[c]) + shift[c] * radius[c] ** 2
                hard = np.sum((boundary - current[short]) ** 2, axis=1) * curvature <= 0.1 * model_scale
                result[c[hard]], finished[c[hard]] = boundary[hard], True
            long = ~close & (norm >= radius[curves])
            shift_low[curves[long]] = np.maximum(shift_low[curves[long]], shift[curves[long]])
            moving = np.flatnonzero(~finished[curves] & (norm > 0))
            if moving.size:
                whitened = lapack.dtbtrs(
                    _curves(current_factor, moving, size), current[moving].reshape(-1), uplo="L"
                )[0].reshape(-1, size)
                c, n = curves[moving], norm[moving]
                newton[rows[moving]] = shift[c] + (n / np.linalg.norm(whitened, axis=1)) ** 2 * (
                    n - radius[c]
                ) / radius[c]
        going = ~finished[active] & (shift_high[active] - shift_low[active] > 1e-12 * (scale[active] + shift_high[active]))
        active, newton = active[going], newton[going]
        if active.size == 0:
            break
        low, high = shift_low[active], shift_high[active]
        inside = (low < newton) & (newton < high)  # False where newton is NaN
        shift[active] = np.where(
            inside, newton, np.maximum(np.sqrt(low * high), low + 1e-2 * (high - low))
        )
        factor, positive = batch_cholesky(_shifted(band, active, shift[active], size), active.size)
        step = _solve_factored(factor, -gradient[active], positive)
    # Past the factorisations, or with a collapsed bracket: the best step, to the boundary.
    left = np.flatnonzero(~finished)
    if left.size:
        result[left] = _best_on_boundary(band, gradient, radius, has_best, best_step, best_shift, left)
    return result


def _best_on_boundary(band, gradient, radius, has_best, best_step, best_shift, index):
    """Steps of the matrices ``index`` from their best shifted steps, brought to the boundary."""
    size = gradient.shape[1]
    out = np.empty((index.size, size))
    none = ~has_best[index]
    norm = np.maximum(np.linalg.norm(gradient[index[none]], axis=1), np.finfo(float).tiny)
    out[none] = -(radius[index[none]] / norm)[:, None] * gradient[index[none]]
    best_norm = np.linalg.norm(best_step[index], axis=1)
    long = has_best[index] & (best_norm > radius[index])
    out[long] = best_step[index[long]] * (radius[index[long]] / best_norm[long])[:, None]
    short = has_best[index] & ~long
    if short.any():
        c = index[short]
        factor, _ = batch_cholesky(_shifted(band, c, best_shift[c], size), c.size)
        eigenvector, _ = _inverse_iteration(_curves(band, c, size), factor, best_shift[c])
        out[short] = _to_boundary(best_step[c], eigenvector, gradient[c], radius[c])
    return out


def _shifted(band, index, shift, size):
    """The stacked band of the matrices ``index``, each plus its ``shift`` times the identity."""
    shifted = _curves(band, index, size)
    shifted[0] += np.repeat(shift, size)
    return shifted


def _gershgorin_bounds(band, batch):
    """Lower and upper bounds of the eigenvalues of each symmetric band matrix, ``[batch]`` each."""
    size = band.shape[1]
    off_diagonal = np.zeros(size)
    for k in range(1, band.shape[0]):
        magnitude = np.abs(band[k, : size - k])
        off_diagonal[: size - k] += magnitude
        off_diagonal[k:] += magnitude
    lower = (band[0] - off_diagonal).reshape(batch, -1)
    upper = (band[0] + off_diagonal).reshape(batch, -1)
    return lower.min(axis=1), upper.max(axis=1)


def _inverse_iteration(band, factor, shift, n_iterations=3):
    """Unit vectors near the eigenvectors of the smallest eigenvalues of stacked ``H``,
    and ``v.(H + shift I).v``, from the Cholesky factors of ``H + shift I``.

    Returns
    -------
    vectors : ndarray, shape=[batch, size]
    curvatures : ndarray, shape=[batch]
    """
    batch = shift.size
    size = band.shape[1] // batch
    vectors = np.tile(_start_vector(size), (batch, 1))
    for _ in range(n_iterations):
        vectors = lapack.dpbtrs(factor, vectors.reshape(-1), lower=1)[0].reshape(batch, size)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    products = _band_matvec(band, vectors.reshape(-1)).reshape(batch, size)
    return vectors, np.einsum("bi,bi->b", vectors, products) + shift


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
    """``step + tau * direction`` with ``|.| = radius``, ``tau`` of descent sign, per row."""
    sign = np.where(np.einsum("bi,bi->b", gradient, direction) > 0, -1.0, 1.0)
    a = np.einsum("bi,bi->b", direction, direction)
    b = 2 * np.einsum("bi,bi->b", step, direction)
    c = np.einsum("bi,bi->b", step, step) - radius**2
    tau = (-b * sign + np.sqrt(np.maximum(b * b - 4 * a * c, 0.0))) / (2 * a)
    return step + (sign * tau)[:, None] * direction
