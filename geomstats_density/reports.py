"""Curve reports: how long, how costly and how good a curve is in a metric.

:func:`curve_report` measures one curve; :func:`compare_interpolations` puts the
geodesic next to linear and spherical-linear (slerp) interpolation between the
same endpoints; :func:`markdown_table` renders such rows.

Every curve's length is its own length (``DiscreteCurve.length``, the one
measurement of lengths in the package); energies, qualities and densities are
taken on the same resampling of every curve (``n_eval`` nodes at uniform times on
its cubic spline), so the numbers of different curves compare.
"""

import copy
import math

import numpy as np
import torch

from geomstats_density.backend import to_numpy, to_torch
from geomstats_density.curves import DiscreteCurve
from geomstats_density.densities import as_density
from geomstats_density.energy import curve_energy, uniform_times

N_EVAL = 257


def _as_curve(curve):
    return curve if isinstance(curve, DiscreteCurve) else DiscreteCurve(curve)


def curve_report(metric, curve, log_density=None, name=None, n_eval=N_EVAL):
    """Length, energy and quality of one curve in a metric.

    Parameters
    ----------
    metric : ConformalMetric
        A :class:`~geomstats_density.DensityConformalMetric` adds the quality
        columns.
    curve : DiscreteCurve or array-like, shape=[n_nodes, dim]
    log_density : Density or density model, optional
        Adds the log-density columns.
    name : str, optional
        Value of the ``curve`` column.
    n_eval : int
        Nodes of the resampling the curve is measured on.

    Returns
    -------
    report : dict
        ``curve`` (name), ``length`` in the metric (the curve's own length,
        :meth:`DiscreteCurve.length <geomstats_density.curves.DiscreteCurve.length>`,
        as every length the package reports), ``energy`` on the ``n_eval``
        resampling (at least ``length**2`` up to discretisation, with equality at
        constant speed);
        with a quality: ``curve_quality``, the paper's ``q(gamma) =
        exp(-length)``, and ``min_Q``, ``mean_Q``; with a density:
        ``min_log_density``, ``mean_log_density``. Minima and means are over
        the ``n_eval`` points at uniform times.
    """
    curve = copy.copy(_as_curve(curve))
    curve.metric = metric
    nodes = to_torch(curve.resample(n_eval).nodes)
    if nodes.ndim != 2:
        raise ValueError(
            f"curve_report measures one curve; got nodes of shape {tuple(nodes.shape)}."
        )
    report = {"curve": name}
    with torch.no_grad():
        length = float(to_numpy(curve.length()))
        report["length"] = length
        report["energy"] = float(curve_energy(metric, nodes, uniform_times(n_eval)))
        if hasattr(metric, "log_quality_tensor"):
            log_quality = metric.log_quality_tensor(nodes)
            report["curve_quality"] = math.exp(-length)
            report["min_Q"] = float(torch.exp(log_quality.min()))
            report["mean_Q"] = float(torch.exp(log_quality).mean())
        if log_density is not None:
            values = as_density(log_density)(nodes)
            report["min_log_density"] = float(values.min())
            report["mean_log_density"] = float(values.mean())
    return report


def linear_interpolation(start, end, n_nodes=N_EVAL):
    """The segment from ``start`` to ``end``.

    Parameters
    ----------
    start, end : array-like, shape=[dim]
    n_nodes : int

    Returns
    -------
    curve : DiscreteCurve
    """
    start, end = to_numpy(start), to_numpy(end)
    weights = uniform_times(n_nodes)[:, None]
    return DiscreteCurve((1 - weights) * start + weights * end)


def slerp(start, end, n_nodes=N_EVAL, center=None):
    """Spherical-linear interpolation about ``center`` (the origin by default).

    ``c + sin((1-t) theta) / sin(theta) (a - c) + sin(t theta) / sin(theta) (b - c)``,
    ``theta`` the angle between ``a - c`` and ``b - c``: the usual latent-space
    interpolation of Gaussian generative models (norms change little for
    vectors of equal norm).

    Parameters
    ----------
    start, end : array-like, shape=[dim]
    n_nodes : int
    center : array-like, shape=[dim], optional

    Returns
    -------
    curve : DiscreteCurve

    Raises
    ------
    ValueError
        If an endpoint is the centre, or the endpoints are opposite (the great
        circle is not unique).
    """
    center = np.zeros_like(to_numpy(start)) if center is None else to_numpy(center)
    start, end = to_numpy(start) - center, to_numpy(end) - center
    norms = np.linalg.norm(start), np.linalg.norm(end)
    if min(norms) == 0:
        raise ValueError("slerp needs endpoints distinct from the centre.")
    cosine = np.clip(start @ end / (norms[0] * norms[1]), -1.0, 1.0)
    theta = math.acos(cosine)
    if math.isclose(theta, math.pi, abs_tol=1e-12):
        raise ValueError("slerp is undefined between opposite endpoints.")
    t = uniform_times(n_nodes)[:, None]
    if theta < 1e-12:
        weights_start, weights_end = 1 - t, t
    else:
        weights_start = np.sin((1 - t) * theta) / math.sin(theta)
        weights_end = np.sin(t * theta) / math.sin(theta)
    return DiscreteCurve(center + weights_start * start + weights_end * end)


def compare_interpolations(
    metric, start, end, geodesic=None, log_density=None, center=None, n_eval=N_EVAL
):
    """The geodesic against linear and slerp interpolation, as table rows.

    Parameters
    ----------
    metric : ConformalMetric
    start, end : array-like, shape=[dim]
    geodesic : DiscreteCurve, optional
        A geodesic already solved; by default ``metric.geodesic`` is called.
    log_density : Density or density model, optional
        Adds the log-density columns.
    center : array-like, shape=[dim], optional
        Centre of the slerp; the origin by default.
    n_eval : int
        Nodes of the resampling every curve is measured on.

    Returns
    -------
    rows : list of dict
        One :func:`curve_report` per curve: ``geodesic``, ``linear``, ``slerp``.
    """
    if geodesic is None:
        geodesic = metric.geodesic(initial_point=start, end_point=end)
    curves = {
        "geodesic": geodesic,
        "linear": linear_interpolation(start, end, n_eval),
        "slerp": slerp(start, end, n_eval, center=center),
    }
    return [
        curve_report(metric, curve, log_density=log_density, name=name, n_eval=n_eval)
        for name, curve in curves.items()
    ]


def _format(value, digits):
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return "" if value is None else str(value)


def markdown_table(rows, columns=None, digits=5):
    """Render rows (dicts) as a Markdown table.

    Parameters
    ----------
    rows : list of dict
    columns : list of str, optional
        Columns in order; by default the keys of the rows, in first-seen order.
    digits : int
        Significant digits of floats.

    Returns
    -------
    table : str
    """
    if columns is None:
        columns = list(dict.fromkeys(key for row in rows for key in row))
    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(_format(row.get(key), digits) for key in columns) + " |")
    return "\n".join(lines)
