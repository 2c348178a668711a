"""The refinement's lengths checked against curves measured finer.

The refinement's estimate of a length is extrapolated from discrete lengths; the
curve it returns (the cubic spline through the extrapolated nodes) has a length
of its own, measured at a finer resolution
(:func:`~geomstats_density.curves.measured_lengths`). :func:`check_lengths`
distrusts an estimate its returned curve contradicts, and returns the measured
length of a curve that stops short of ``tol``; with ``tol=None``,
:func:`own_lengths` makes each returned curve's own length its ``dist``. A
discrete geodesic whose spline at half the spacing is much longer than its
discrete length tunnels (its chords skip a region where the factor is large):
:func:`restart_tunnels` starts such curves over from their starting curves.
"""

import numpy as np

from geomstats_density.curves import DiscreteCurve, measured_lengths, polygon_lengths
from geomstats_density.curves import resample_nodes as _resample
from geomstats_density.energy import times_of_curves

# A discrete geodesic whose cubic spline, measured at half the spacing, is this much
# longer tunnels: its chords skip a region where the factor is large. (Measured:
# 1.11 at most on resolved curves, a 6-mode mixture from 5 nodes; 1.5 to 2.6 on
# tunnelling ones, 16-D mixtures.)
TUNNEL_RATIO = 1.25
# Relative error estimate below which a curve's levels agree: it is checked for
# tunnels only when about to stop.
RESOLVED_ERROR = 1e-3


def measured_returned(metric, nodes, project, times=None):
    """Lengths of returned curves measured finer, and their errors (NaN outside the domain).

    Parameters
    ----------
    metric : SolverMetric
    nodes : ndarray, shape=[batch, n_nodes, n_coords]
    project : callable
        ``project(metric, nodes)``: resampled nodes brought back where the
        space's points live.
    times : ndarray, shape=[n_nodes] or [batch, n_nodes], optional
        The curves' node times (graded ones, shared or one row per curve): the
        curves are measured at times spaced as their nodes. Uniform by default.

    Returns
    -------
    length, error : ndarray, shape=[batch]
        As :func:`~geomstats_density.curves.measured_lengths`.
    """
    n_pieces = nodes.shape[1] - 1

    def nodes_at(n_nodes):
        return project(metric, _resample(nodes, n_nodes))

    if times is not None:
        nodes_at = DiscreteCurve(nodes, times).nodes_at
    return measured_lengths(metric, nodes_at, n_pieces, outside="nan")


def check_lengths(metric, estimate, checked, done, tol, project, times=None):
    """Measure the returned curves of the curves ``checked``; distrust those that contradict.

    A curve whose measured length differs from its estimate by more than
    ``tol * dist`` and its estimated error gets that difference as its error:
    it refines on unless ``done``, else its measured length becomes its
    estimate (the error also covering the measurement's own). A curve that
    stops (``done``) with an error above ``tol * dist`` also reports its
    measured length. A curve that
    cannot be measured (its spline leaves the domain) gets an infinite error.
    Updates ``estimate`` in place. Curves at graded node ``times`` are
    measured at times spaced as their nodes.

    Parameters
    ----------
    estimate : Estimate
    checked : ndarray of int
        Positions of the curves to check in ``estimate``.
    done : ndarray of bool, shape=[len(estimate.dist)]
        Whether each curve stops at this node count.
    tol : float
    project : callable
        As in :func:`measured_returned`.
    times : ndarray, shape=[n_nodes] or [len(estimate.dist), n_nodes], optional
        The node times of the estimate's curves, shared or one row per curve;
        uniform by default.

    Returns
    -------
    measured : ndarray, shape=[len(checked)]
    replaced : ndarray of bool, shape=[len(checked)]
        Whether the measured length became the estimate.
    """
    length, length_error = measured_returned(
        metric, estimate.nodes[checked], project, times_of_curves(times, checked)
    )
    dist, error = estimate.dist[checked], estimate.error[checked]
    difference = np.abs(length - dist)
    contradicts = ~(difference <= np.maximum(tol * dist, error))
    distrusted = checked[contradicts]
    estimate.error[distrusted] = np.where(
        np.isnan(difference[contradicts]), np.inf, np.maximum(error, difference)[contradicts]
    )
    # A curve that stops short of tol reports what it is: its own length.
    unmet = ~(estimate.error[checked] <= tol * dist)
    replaced = (contradicts | unmet) & done[checked] & np.isfinite(length)
    estimate.dist[checked[replaced]] = length[replaced]
    estimate.error[checked[replaced]] = np.maximum(
        estimate.error[checked[replaced]], length_error[replaced]
    )
    return length, replaced


def own_lengths(metric, estimate, active, record, project):
    """With ``tol=None``: each returned curve's own length becomes its ``dist``.

    The discrete length at ``n_nodes`` (Eq. 5) is an estimate the returned
    curve may contradict, most on kinked qualities and coarse node counts:
    ``dist`` is the curve's length measured finer, and ``record`` keeps the
    discrete length for the message. A curve that cannot be measured (its
    spline leaves the domain) keeps its discrete length. Updates ``estimate``
    in place.

    Returns
    -------
    measured : ndarray, shape=[batch]
    replaced : ndarray of bool, shape=[batch]
        Whether the measured length became the estimate.
    """
    length, _ = measured_returned(metric, estimate.nodes, project)
    replaced = np.isfinite(length)
    record.discrete_dist[active] = estimate.dist
    estimate.dist[replaced] = length[replaced]
    return length, replaced


def restart_tunnels(metric, level, estimate, keep, finer_nodes, starts, spline_dist, project):
    """Next-level starts, with tunnelling curves started over from their starting curves.

    A discrete geodesic can tunnel at any node count, and so would the finer
    ones started from it. Its cubic spline at half the spacing (the next
    level's start) is measured where a tunnel can open: curves whose levels
    do not agree yet (error above ``RESOLVED_ERROR``).

    Parameters
    ----------
    spline_dist : ndarray, shape=[len(keep)]
        Lengths of ``finer_nodes`` measured already, NaN elsewhere; filled in
        place where measured here.
    project : callable
        As in :func:`measured_returned`.

    Returns
    -------
    finer_nodes : ndarray, shape=[len(keep), n_nodes, n_coords]
    spline_dist : ndarray, shape=[len(keep)]
        The lengths of the returned starts, NaN where unknown.
    """
    error = estimate.error[keep] / estimate.dist[keep]
    measured = np.flatnonzero(~(error <= RESOLVED_ERROR) & np.isnan(spline_dist))
    if measured.size:
        spline_dist[measured] = polygon_lengths(metric, finer_nodes[measured], outside="nan")
    tunnelling = np.flatnonzero(spline_dist > TUNNEL_RATIO * level.dist[keep])
    if tunnelling.size:
        # A starting curve longer than the spline at the same node count is no
        # way out of a tunnel: the spline crosses a wall the coarse chords
        # skipped, and the finer count resolves it from there.
        restarts = project(metric, _resample(starts[tunnelling], finer_nodes.shape[1]))
        shorter = polygon_lengths(metric, restarts, outside="nan") < spline_dist[tunnelling]
        tunnelling, restarts = tunnelling[shorter], restarts[shorter]
    if tunnelling.size:
        finer_nodes[tunnelling] = restarts
        level.restart(keep[tunnelling])
        spline_dist[tunnelling] = np.nan
    return finer_nodes, spline_dist
