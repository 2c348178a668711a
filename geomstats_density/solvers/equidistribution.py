"""Nodes moved along their curve so that every piece has the same metric length per time.

A minimiser of the discrete energy ``E = sum_i ell_i^2 / (t_{i+1} - t_i)`` has its
pieces' lengths ``ell_i`` proportional to their time steps (for a given path, the
energy is smallest so, by Cauchy-Schwarz). Newton steps equalise them slowly where
the factor changes abruptly along the curve: a node on a plateau next to a cliff
of the factor (a classifier's decision boundary, the rim of a density's support)
feels the cliff only through the quadrature points of its chords, and nodes that
should crowd on the costly side creep there one trust-region step at a time. A
finer node count's starting curve, the spline through the coarser curve's nodes
at uniform parameters, keeps the coarser spacing and starts just as unevenly.

:func:`equidistributed` moves the nodes along the cubic spline through them to
where the metric arc length of the spline, measured on sub-pieces, reaches its
share of the total: the path stays, its parametrisation becomes the minimiser's.
"""

import numpy as np
import torch
from scipy.interpolate import CubicSpline

from geomstats_density.energy import per_curve_where_outside, uniform_times

# Sub-pieces per piece on which the spline's metric arc length is measured.
EQUIDISTRIBUTION_SUBPIECES = 4


def equidistributed(metric, nodes, times=None, subpieces=EQUIDISTRIBUTION_SUBPIECES):
    """Nodes moved along their cubic spline to equal metric length per time step.

    The spline through each curve's nodes at their times is cut into
    ``subpieces`` sub-pieces per piece; the metric lengths of their chords give
    the spline's arc length as a function of the spline parameter, piecewise
    linearly, and node ``i`` moves to the parameter where that arc length is the
    fraction ``(t_i - t_0) / (t_n - t_0)`` of the whole. Endpoints stay.

    Parameters
    ----------
    metric : SolverMetric
    nodes : ndarray, shape=[batch, n_nodes, dim]
    times : ndarray, shape=[n_nodes] or [batch, n_nodes], optional
        Increasing times of the nodes, shared or one row per curve; uniform on
        [0, 1] by default.
    subpieces : int
        Sub-pieces per piece on which the arc length is measured.

    Returns
    -------
    moved : ndarray, shape=[batch, n_nodes, dim]
        The moved nodes; a curve whose spline leaves the metric's domain, or
        whose arc length is not finite and positive, keeps its nodes.
    """
    batch, n_nodes, dim = nodes.shape
    if np.ndim(times) == 2:
        return np.concatenate(
            [equidistributed(metric, nodes[b : b + 1], times[b], subpieces) for b in range(batch)]
        )
    times = uniform_times(n_nodes) if times is None else np.asarray(times, dtype=float)
    spline = CubicSpline(times, nodes, axis=1)
    fine_times = np.interp(
        np.linspace(0.0, n_nodes - 1.0, subpieces * (n_nodes - 1) + 1),
        np.arange(n_nodes),
        times,
    )
    fine = spline(fine_times)

    def sub_lengths(curves):
        with torch.no_grad():
            return np.sqrt(metric.curve_sq_lengths(torch.from_numpy(curves)).numpy())

    lengths = per_curve_where_outside(
        sub_lengths, fine, lambda curve, error: np.full((1, fine.shape[1] - 1), np.nan)
    )
    arc = np.concatenate([np.zeros((batch, 1)), np.cumsum(lengths, axis=-1)], axis=-1)
    total = arc[:, -1]
    usable = np.isfinite(total) & (total > 0) & (np.diff(arc, axis=-1) >= 0).all(-1)
    moved = nodes.copy()
    shares = (times - times[0]) / (times[-1] - times[0])
    for b in np.flatnonzero(usable):
        # Sub-pieces of zero length (a constant stretch) make the arc length flat:
        # np.interp needs increasing abscissae, so those are dropped.
        keep = np.concatenate([[True], np.diff(arc[b]) > 0])
        parameters = np.interp(shares * total[b], arc[b, keep], fine_times[keep])
        moved[b, 1:-1] = _spline_at(spline, b, parameters[1:-1])
    return moved


def _spline_at(spline, b, parameters):
    """Curve ``b`` of a batched cubic spline (axis 1) at ``parameters``."""
    piece = np.clip(np.searchsorted(spline.x, parameters, side="right") - 1, 0, spline.x.size - 2)
    offset = (parameters - spline.x[piece])[:, None]
    coefficients = spline.c[:, piece, b]  # [4, n_parameters, dim]
    return ((coefficients[0] * offset + coefficients[1]) * offset + coefficients[2]) * offset + (
        coefficients[3]
    )
