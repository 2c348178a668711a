"""Matrix-free trust-region steps for curves in high dimension.

When ``dim`` is large, the ``dim x dim`` blocks of the Hessian are too costly to
form. The trust-region subproblem is then solved by Steihaug's truncated
conjugate gradients with Hessian-vector products from autodiff, preconditioned by
the curve's Sobolev (discrete ``H^1``) operator: the part of the Hessian that the
energy has when the factor is frozen, ``T (x) I_dim`` with ``T`` tridiagonal. It
captures the stiffness that grows with the node count, so the CG iteration count
stays flat as nodes double; its solve costs ``O(n dim)``.

What it misses is the factor's own curvature, a mass term on each node: the
Hessian of ``e^f`` weighed by the squared chords. Where that term has one
dominant direction per node (the radial direction of a Gaussian prior's
typical shell), :func:`stiff_directions` finds it by power iteration on
``H - T (x) I`` and the preconditioner adds it, ``T (x) I + blockdiag(s_i s_i^T)``
(Woodbury's identity with an ``n x n`` capacitance matrix).
"""

import numpy as np
from scipy.linalg import solveh_banded

from geomstats_density._linalg import unit_vectors

# Largest capacitance matrices (batch x n^2 entries) the stiff directions may use.
MAX_CAPACITANCE_ENTRIES = 2**22


class SobolevPreconditioner:
    """``T (x) I`` for a batch of curves, ``T`` tridiagonal over interior nodes.

    :meth:`with_stiff` adds a mass term ``blockdiag(s_i s_i^T)``.

    Parameters
    ----------
    weights : ndarray, shape=[batch, n_pieces]
        ``omega_i``: each piece's energy divided by its squared Euclidean chord.
        A piece contributes ``2 omega_i [[I, -I], [-I, I]]`` to its two nodes.
    """

    def __init__(self, weights):
        self.diagonal = 2 * (weights[:, :-1] + weights[:, 1:])
        self.off = -2 * weights[:, 1:-1]
        self.stiff = None

    def with_stiff(self, stiff):
        """The same ``T`` plus the mass term ``blockdiag(s_i s_i^T)``.

        Parameters
        ----------
        stiff : ndarray, shape=[batch, n_interior, dim]
            One direction per interior node, scaled so that ``s_i s_i^T`` is the
            node's mass term (:func:`stiff_directions`).

        Returns
        -------
        preconditioner : SobolevPreconditioner
        """
        other = SobolevPreconditioner.__new__(SobolevPreconditioner)
        other.diagonal, other.off, other.stiff = self.diagonal, self.off, stiff
        # Woodbury: P^{-1} = A^{-1} - A^{-1} S C^{-1} S^T A^{-1} with A = T (x) I and
        # C = I + (T^{-1})_ij s_i.s_j, positive definite by Schur's product theorem.
        batch, size, _ = stiff.shape
        t_inverse = self._solve_t(np.tile(np.eye(size), (batch, 1))).reshape(batch, size, size)
        gram = np.einsum("bik,bjk->bij", stiff, stiff)
        other._capacitance_inverse = np.linalg.inv(np.eye(size) + t_inverse * gram)
        return other

    def _band(self):
        batch, size = self.diagonal.shape
        band = np.zeros((2, batch, size))
        band[0] = self.diagonal
        band[1, :, :-1] = self.off
        return band.reshape(2, batch * size)

    def _solve_t(self, columns):
        """``T^{-1}`` applied to ``[batch * size, k]`` columns, curve by curve."""
        return solveh_banded(self._band(), columns, lower=True)

    def _solve_sobolev(self, vectors):
        batch, size, dim = vectors.shape
        return self._solve_t(vectors.reshape(batch * size, dim)).reshape(batch, size, dim)

    def _apply_sobolev(self, vectors):
        out = self.diagonal[..., None] * vectors
        out[:, 1:] += self.off[..., None] * vectors[:, :-1]
        out[:, :-1] += self.off[..., None] * vectors[:, 1:]
        return out

    def solve(self, vectors):
        """The operator's inverse applied to ``v`` of shape ``[batch, n_interior, dim]``."""
        base = self._solve_sobolev(vectors)
        if self.stiff is None:
            return base
        projected = np.einsum("bki,bki->bk", self.stiff, base)
        weights = np.einsum("bkl,bl->bk", self._capacitance_inverse, projected)
        return base - self._solve_sobolev(self.stiff * weights[..., None])

    def apply(self, vectors):
        """The operator applied to ``v`` of shape ``[batch, n_interior, dim]``."""
        out = self._apply_sobolev(vectors)
        if self.stiff is not None:
            out += self.stiff * np.einsum("bki,bki->bk", self.stiff, vectors)[..., None]
        return out


def stiff_directions(hvp, preconditioner, directions, n_power=0):
    """One stiff direction per node of what the Hessian has beyond ``T (x) I``.

    Power iteration on the node-wise action of ``M = H - T (x) I``: each node's
    direction ``u_i`` becomes ``(M u)_i / |(M u)_i|``. ``M`` is block
    tridiagonal too: its diagonal blocks carry the mass term, and its blocks
    between neighbours (the factor's gradient times the chords) perturb the
    iteration, little where the mass term dominates.

    Parameters
    ----------
    hvp : callable
        ``v -> H v`` on arrays of shape ``[batch, n_interior, dim]``.
    preconditioner : SobolevPreconditioner
        Without stiff directions: ``T (x) I``.
    directions : ndarray, shape=[batch, n_interior, dim]
        Unit starting directions (the previous iteration's, or the gradients of
        the log-factor at the nodes).
    n_power : int
        Power iterations before the one that measures the mass.

    Returns
    -------
    stiff : ndarray, shape=[batch, n_interior, dim]
        ``sqrt(max(m_i, 0)) u_i`` with ``m_i = u_i . (M u)_i``.
    following : ndarray, shape=[batch, n_interior, dim]
        The next power iterate, a warm start for the next Newton iteration.
    """
    for _ in range(n_power + 1):
        mass_products = hvp(directions) - preconditioner.apply(directions)
        mass = np.einsum("bki,bki->bk", directions, mass_products)
        stiff = directions * np.sqrt(np.maximum(mass, 0.0))[..., None]
        directions = unit_vectors(mass_products)
    return stiff, directions


def _dot(a, b):
    return np.einsum("bki,bki->b", a, b)


def steihaug_steps(gradient, hvp, preconditioner, radius, energy, enough=0.0, max_iter=50):
    """Truncated preconditioned CG for ``min g.p + p.H.p / 2``, ``|p|_T <= radius``.

    ``T`` is the preconditioner's operator, its stiff directions included.

    Parameters
    ----------
    gradient : ndarray, shape=[batch, n_interior, dim]
    hvp : callable
        ``v -> H v`` on arrays of the gradient's shape.
    preconditioner : SobolevPreconditioner
    radius : ndarray, shape=[batch]
        Trust radii in the Sobolev norm ``|p|_T = sqrt(p.T.p)``.
    energy : ndarray, shape=[batch]
        The curves' energies: ``|g|_{T^{-1}}^2`` has their unit, so the forcing
        term compares the two.
    enough : float or ndarray, shape=[batch]
        Residual norm ``|r|_{T^{-1}}`` at which CG stops whatever the forcing
        term asks: about ``|r|^2 / 2`` of energy is left to gain, so a residual
        that the caller's energy tolerance ignores is not worth more products.
        Curves whose gradient is already that small take a zero step.
    max_iter : int

    Returns
    -------
    steps : ndarray, shape=[batch, n_interior, dim]
    is_newton : ndarray of bool, shape=[batch]
        True where CG met its residual tolerance inside the region (an inexact
        Newton step); False where it stopped at the boundary.
    gradient_sq : ndarray, shape=[batch]
        ``|g|_{T^{-1}}^2``, the squared preconditioned gradient norm (an energy).
    curvature : ndarray, shape=[batch, n_interior, dim]
        ``H p`` for the returned steps, from CG's own products (the residual is
        ``g + H p``), so the model's decrease costs no further product.
    """
    steps = np.zeros_like(gradient)
    boundary_curvature = np.zeros_like(gradient)
    residual = gradient.copy()
    preconditioned = preconditioner.solve(residual)
    direction = -preconditioned
    rho = gradient_sq = _dot(residual, preconditioned)
    # Forcing term min(0.1, |g| / sqrt(E)): quadratic convergence without
    # oversolving, and invariant to the scale of the energy.
    gradient_norm = np.sqrt(np.maximum(rho, 0.0))
    relative = gradient_norm / np.sqrt(np.maximum(energy, np.finfo(float).tiny))
    target = np.maximum(np.minimum(0.1, relative) * gradient_norm, enough)
    active = gradient_norm > target
    is_newton = ~active
    for _ in range(max_iter):
        if not active.any():
            break
        curvature_vector = hvp(np.where(active[:, None, None], direction, 0.0))
        curvature = _dot(direction, curvature_vector)
        alpha = np.where(curvature > 0, rho / np.where(curvature > 0, curvature, 1), 0.0)
        candidate = steps + alpha[:, None, None] * direction
        outside = _sobolev_norm(preconditioner, candidate) >= radius
        to_boundary = active & ((curvature <= 0) | outside)
        if to_boundary.any():
            tau = _boundary_tau(preconditioner, steps, direction, radius)
            steps[to_boundary] += tau[to_boundary, None, None] * direction[to_boundary]
            boundary_curvature[to_boundary] = (
                tau[to_boundary, None, None] * curvature_vector[to_boundary]
            )
            active &= ~to_boundary
        steps[active] = candidate[active]
        residual[active] += alpha[active, None, None] * curvature_vector[active]
        preconditioned = preconditioner.solve(residual)
        rho_next = _dot(residual, preconditioned)
        done = active & (np.sqrt(np.maximum(rho_next, 0.0)) <= target)
        is_newton |= done
        active &= ~done
        beta = rho_next / np.where(rho > 0, rho, 1)
        direction = np.where(
            active[:, None, None], -preconditioned + beta[:, None, None] * direction, direction
        )
        rho = rho_next
    # The residual stopped updating when a curve reached the boundary: H p is its
    # residual's H p_k plus tau H d there.
    return steps, is_newton, gradient_sq, residual - gradient + boundary_curvature


def _sobolev_norm(preconditioner, vectors):
    return np.sqrt(np.maximum(_dot(vectors, preconditioner.apply(vectors)), 0.0))


def _boundary_tau(preconditioner, steps, direction, radius):
    """``tau >= 0`` with ``|steps + tau direction|_T = radius``."""
    t_direction = preconditioner.apply(direction)
    a = _dot(direction, t_direction)
    b = 2 * _dot(steps, t_direction)
    c = _dot(steps, preconditioner.apply(steps)) - radius**2
    a = np.where(a > 0, a, 1.0)
    return (-b + np.sqrt(np.maximum(b * b - 4 * a * c, 0.0))) / (2 * a)
