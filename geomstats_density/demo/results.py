"""The demo's result rows: one dict per example or experiment, and where figures go.

The ``geomstats-density demo`` command (:mod:`geomstats_density.demo.cli`)
tabulates these rows; the gallery scripts it runs and the ``run`` functions of
:mod:`geomstats_density.demo.experiments` produce them.
"""

import pathlib

import numpy as np


def figure_path(out_dir, name):
    """Path of the PNG figure ``name`` in ``out_dir``, or None when figures are off.

    The directory is created if it does not exist yet.

    Parameters
    ----------
    out_dir : str, pathlib.Path or None
        Where figures go; None draws none.
    name : str
        File name without its ``.png`` suffix.

    Returns
    -------
    path : pathlib.Path or None
    """
    if out_dir is None:
        return None
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir / f"{name}.png"


def example_result(number, title, geodesic, seconds, exact=None, figure=None, **extra):
    """The dict of results every example returns, one row of the demo's tables.

    Parameters
    ----------
    number : int or str
        The example's number in the paper or the gallery, or its name.
    title : str
    geodesic : GeodesicCurve
        The solved geodesic; its ``dist`` is the length reported, and ``converged``
        is True only if every curve of its batch converged.
    seconds : float
        Time taken by the solve.
    exact : float, optional
        The exact length, where known; the relative error is then reported.
    figure : str or pathlib.Path, optional
        Path of the figure written.
    **extra
        More entries of the row (comparison tables, curve qualities).

    Returns
    -------
    result : dict
        ``example``, ``title``, ``length``, ``exact``, ``relative_error`` (None
        without ``exact``), ``converged``, ``seconds``, ``figure`` and ``extra``'s
        entries.
    """
    length = float(geodesic.dist)
    return {
        "example": number,
        "title": title,
        "length": length,
        "exact": exact,
        "relative_error": None if exact is None else abs(length / exact - 1),
        "converged": bool(np.all(geodesic.converged)),
        "seconds": seconds,
        "figure": None if figure is None else str(figure),
        **extra,
    }
