r"""Graded node times: nodes clustered where a curve's discretisation error lies.

Where a geodesic leaves or crosses a kink of the factor (the edge of a cube it
rounds), the error of its discrete length sits in the few pieces that span the
kink, and doubling uniform nodes shrinks it too slowly for a tight tolerance.
Nodes at times ``s(t_i)``, ``t_i`` uniform and ``s`` a smooth increasing map of
[0, 1] onto itself whose slope is small where the error lies (a
:class:`NodeGrading`; :class:`CurveGradings` for a batch, one per curve),
resolve those pieces: the discrete energy with these times,

.. math:: E = \sum_i \frac{\ell_i^2}{s(t_{i+1}) - s(t_i)},

is minimised by the geodesic sampled at the times ``s(t_i)``. As a function of
``t`` the curve ``c(s(t))`` is as smooth as ``c``, so the refinement's node
doubling and Richardson extrapolation in the uniform parameter ``t`` apply
unchanged. Where the pieces of a uniform curve err is read by
:func:`piece_errors`: each piece's chord against the curve's spline over it.
"""

import numpy as np
import torch
from scipy.special import erf

from geomstats_density.curves import resample_nodes
from geomstats_density.energy import uniform_times

# The node count is inverted by interpolating a table of it at this many
# uniform times, then up to this many Newton steps (its slope, the density, is
# at least 1), which stop once the node count is met to rounding.
INVERSE_TABLE = 4097
NEWTON_STEPS = 6
# Nodes put where the error lies, as a multiple of the uniform ones.
GRADED_NODE_MASS = 2.0
# Width of each bump of the node density, in pieces of the level the error was
# read from: the kinks are located to about one piece.
BUMP_WIDTH_PIECES = 4.0
# Each piece's error is read from its spline sampled at this many sub-pieces.
ERROR_SUBPIECES = 4
# Beyond this many times sqrt(2) sigma from its centre a bump's erf is +-1 in
# float64 (erf(6) = 1 - 2e-17) and its density below 1e-15 of its peak: each
# node time evaluates the bumps within that reach only.
BUMP_REACH = 6.0


class NodeGrading:
    r"""A smooth increasing map of [0, 1] onto itself, the node times ``s(t)``.

    Its inverse is the normalised node count ``t(s) = T(s) / T(1)`` of the node
    density

    .. math:: \rho(s) = 1 + \sum_k m_k \, N(s; c_k, \sigma^2),

    ``N`` the normal density: uniform nodes plus a mass ``m_k`` of them about each
    centre ``c_k``.

    Parameters
    ----------
    centers : array-like, shape=[n_bumps]
        Centres ``c_k`` in [0, 1].
    masses : array-like, shape=[n_bumps]
        Non-negative masses ``m_k``.
    width : float
        Standard deviation ``sigma`` of the bumps.
    """

    def __init__(self, centers, masses, width):
        order = np.argsort(centers, kind="stable")
        self.centers = np.asarray(centers, dtype=float)[order]
        self.masses = np.asarray(masses, dtype=float)[order]
        self.width = float(width)
        self._scale = np.sqrt(2.0) * self.width
        # Masses of the bumps left of each centre, and T's part constant in s.
        self._masses_before = np.concatenate([[0.0], np.cumsum(self.masses)])
        self._offset = 0.5 * erf(self.centers / self._scale) @ self.masses
        self._total = self._node_count(np.ones(1))[0]
        # Node times by node count: each level of a refinement reads them
        # several times, and each inversion evaluates every bump at the table.
        self._times = {}
        self._table = None

    @classmethod
    def from_piece_errors(cls, errors):
        """The grading that puts nodes where the pieces of a uniform curve err.

        Each piece gets a bump at its middle whose mass is proportional to the
        cube root of its error (where the error of a piece is ``C h^3``, the
        density that equidistributes it), ``GRADED_NODE_MASS`` in all, of width
        ``BUMP_WIDTH_PIECES`` pieces.

        Parameters
        ----------
        errors : array-like, shape=[n_pieces]
            Non-negative error indicators of the pieces of a curve at uniform times.

        Returns
        -------
        grading : NodeGrading
        """
        errors = np.asarray(errors, dtype=float)
        n_pieces = errors.size
        weights = np.cbrt(errors)
        kept = np.flatnonzero(weights > 1e-2 * weights.max())
        masses = GRADED_NODE_MASS * weights[kept] / weights[kept].sum()
        return cls((kept + 0.5) / n_pieces, masses, BUMP_WIDTH_PIECES / n_pieces)

    def _node_count(self, s):
        """``T(s) = int_0^s rho``, shape=[n] of ``s``, shape=[n].

        The bumps beyond ``BUMP_REACH`` of ``s`` count whole, left of it, or
        not at all, right of it; the others by their erf.
        """
        first, stop, near, valid = self._near_bumps(s)
        erfs = erf((s[:, None] - self.centers[near]) / self._scale)
        within = np.where(valid, erfs * self.masses[near], 0.0).sum(-1)
        before = self._masses_before[first]
        after = self._masses_before[-1] - self._masses_before[stop]
        return s + 0.5 * (before - after + within) + self._offset

    def _density(self, s):
        """``rho(s)``, shape=[n] of ``s``, shape=[n]: the bumps within ``BUMP_REACH``."""
        _, _, near, valid = self._near_bumps(s)
        standard = (s[:, None] - self.centers[near]) / self.width
        bumps = np.exp(-0.5 * standard**2) / (np.sqrt(2 * np.pi) * self.width)
        return 1.0 + np.where(valid, bumps * self.masses[near], 0.0).sum(-1)

    def _near_bumps(self, s):
        """The bumps within ``BUMP_REACH`` of each ``s``, shape=[n].

        Returns
        -------
        first, stop : ndarray of int, shape=[n]
            The range of the (sorted) bumps near each ``s``.
        near : ndarray of int, shape=[n, width]
            Their indices, padded.
        valid : ndarray of bool, shape=[n, width]
            Where ``near`` is not padding.
        """
        reach = BUMP_REACH * self._scale
        first = np.searchsorted(self.centers, s - reach, side="left")
        stop = np.searchsorted(self.centers, s + reach, side="right")
        near = first[:, None] + np.arange(int((stop - first).max(initial=0)))
        valid = near < stop[:, None]
        return first, stop, np.minimum(near, self.centers.size - 1), valid

    def times(self, n_nodes):
        """Node times ``s(t_i)`` at ``n_nodes`` uniform ``t_i``, from exactly 0 to 1.

        Parameters
        ----------
        n_nodes : int

        Returns
        -------
        times : ndarray, shape=[n_nodes]
            Increasing.
        """
        if n_nodes not in self._times:
            self._times[n_nodes] = self._inverted(n_nodes)
        return self._times[n_nodes].copy()

    def _inverted(self, n_nodes):
        """The node times of :meth:`times`, by inverting the node count."""
        target = uniform_times(n_nodes) * self._total
        if self._table is None:
            table = uniform_times(INVERSE_TABLE)
            self._table = (self._node_count(table), table)
        times = np.interp(target, *self._table)
        for _ in range(NEWTON_STEPS):
            residual = self._node_count(times) - target
            if np.abs(residual).max() <= 4 * np.finfo(float).eps * self._total:
                break
            times = np.clip(times - residual / self._density(times), 0.0, 1.0)
        times[0], times[-1] = 0.0, 1.0
        return times


class CurveGradings:
    """One :class:`NodeGrading` per curve of a batch: curves graded each its own way.

    A batch of such curves is refined in one vectorised solve: each curve's
    energy weighs its pieces by its own time steps.

    Parameters
    ----------
    gradings : sequence of NodeGrading, length batch
    """

    def __init__(self, gradings):
        self.gradings = list(gradings)

    def __len__(self):
        return len(self.gradings)

    def times(self, n_nodes):
        """Node times of each curve at ``n_nodes`` uniform ``t_i``.

        Parameters
        ----------
        n_nodes : int

        Returns
        -------
        times : ndarray, shape=[batch, n_nodes]
            Each row increasing from exactly 0 to 1.
        """
        return np.stack([grading.times(n_nodes) for grading in self.gradings])


def piece_errors(metric, nodes):
    """Where the pieces of curves at uniform times err: spline against chord.

    Each piece's discrete length against that of the curve's cubic spline over
    it, sampled at ``ERROR_SUBPIECES`` sub-pieces: they agree to ``O(h^3)``
    where the curve and the factor are smooth, and differ most where the curve
    bends sharply or crosses a kink of the factor.

    Parameters
    ----------
    nodes : ndarray, shape=[batch, n_nodes, n_coords]

    Returns
    -------
    errors : ndarray, shape=[batch, n_nodes - 1]
    """
    batch, n_nodes, _ = nodes.shape
    fine = resample_nodes(nodes, ERROR_SUBPIECES * (n_nodes - 1) + 1)
    with torch.no_grad():
        chords = torch.sqrt(metric.curve_sq_lengths(torch.from_numpy(nodes))).numpy()
        arcs = torch.sqrt(metric.curve_sq_lengths(torch.from_numpy(fine))).numpy()
    return np.abs(arcs.reshape(batch, n_nodes - 1, ERROR_SUBPIECES).sum(-1) - chords)
