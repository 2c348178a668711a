"""The DCGAN feature experiment: four curves favouring a digit class, and their strips.

:func:`run_feature_experiment` interpolates between the codes of two digits
(:func:`endpoint_codes`) favouring a class, with the quality "realistic AND of
the favoured class", and compares the geodesic of the default solver, linear
and spherical interpolation and the paper's neural baseline, every curve judged
at the same points; :func:`plot_feature_strips` draws the decoded frames;
:func:`run` is the experiment as the demo reports it.
"""

import copy
import math
import time

import numpy as np
import torch

from geomstats_density.backend import DTYPE, to_numpy
from geomstats_density.demo.experiments.dcgan.networks import (
    N_CLASSES,
    WEIGHTS_PATH,
    load_classifier,
    load_generator,
    load_judge,
    training_info,
)
from geomstats_density.demo.results import example_result, figure_path
from geomstats_density.densities import Gaussian
from geomstats_density.latent import LatentSpace
from geomstats_density.plotting import plot_decoded_strip, save_figure
from geomstats_density.reports import linear_interpolation, slerp
from geomstats_density.threads import torch_threads_for

FAVOURED_CLASS = 8
# Classes of the endpoints, per latent dimension.
ENDPOINT_DIGITS = {2: (2, 7), 100: (1, 6)}
# Points at which every curve is judged.
N_EVAL = 1025
# A fixed curve with a capped number of Newton iterations: the quality is
# piecewise smooth (ReLU, max-pooling), so the solver may stop before its
# stationarity test; ``converged`` in the table says whether it did. In 2-D the
# curve starts on the shortest path of a coarse grid graph, which finds the
# detours; in 100-D on the straight line.
SOLVER_OPTIONS = {"n_nodes": 33, "tol": None, "max_iter": 30, "on_failure": "ignore"}
# Nodes of the linear and slerp curves: as many as the geodesic's, so that every
# length is measured at the same resolution (4 and 8 times as many pieces); the
# cubic splines through them are the line itself and close to the great circle.
INTERPOLATION_NODES = SOLVER_OPTIONS["n_nodes"]
GRID_START = {"initialization": "grid", "graph_options": {"grid_size": 33}}


def endpoint_codes(
    generator, classifier, start_digit, end_digit, n_candidates=512, threshold=0.9, seed=0
):
    """Codes whose decoded digits the classifier reads as ``start_digit`` and ``end_digit``.

    Draws ``n_candidates`` codes from the prior ``N(0, I)`` (seeded) and takes,
    for each digit, the first whose decoded image the classifier assigns to it
    with probability above ``threshold``.

    Parameters
    ----------
    generator : dcgan.networks.Generator
    classifier : dcgan.networks.Classifier
    start_digit, end_digit : int
    n_candidates : int
    threshold : float
    seed : int

    Returns
    -------
    start, end : torch.Tensor, shape=[latent_dim]
        float64.

    Raises
    ------
    ValueError
        If no candidate is read as one of the digits.
    """
    codes = torch.randn(
        n_candidates,
        generator.latent_dim,
        generator=torch.Generator().manual_seed(seed),
        dtype=torch.float32,
    )
    with torch.no_grad():
        probabilities = torch.softmax(classifier(generator(codes)), dim=-1)
    found = []
    for digit in (start_digit, end_digit):
        if not (isinstance(digit, (int, np.integer)) and 0 <= digit < N_CLASSES):
            raise ValueError(f"digits must be classes 0 to {N_CLASSES - 1}, got {digit!r}.")
        hits = torch.nonzero(probabilities[:, digit] > threshold)
        if hits.shape[0] == 0:
            raise ValueError(
                f"None of {n_candidates} prior codes decodes to a {digit} with classifier "
                f"probability above {threshold}: draw more candidates or lower the threshold."
            )
        found.append(codes[int(hits[0, 0])].double())
    return tuple(found)


def _frames(curve, n_frames):
    return torch.as_tensor(to_numpy(curve(np.linspace(0.0, 1.0, n_frames))), dtype=DTYPE)


def _curve_row(space, name, curve, seconds, judge, realism, feature, target, n_eval):
    """One row of the experiment's table, every curve judged at ``n_eval`` points.

    The length is the curve's own (``DiscreteCurve.length``, as every length the
    package reports); the other columns are taken at the ``n_eval`` frames.
    """
    points = _frames(curve, n_eval)
    measured = copy.copy(curve)
    measured.metric = space.metric
    with torch.no_grad(), torch_threads_for(n_eval * math.prod(space.sample_shape)):
        length = float(to_numpy(measured.length()))
        images = space.generator(points)
        judged = judge(images.float()).argmax(-1)
        class_probability = torch.exp(feature.log_probability(points))
        realism_probability = torch.exp(realism.log_probability(points))
        log_prior = realism.density(points)
    converged = getattr(curve, "converged", None)
    return {
        "curve": name,
        "judge_share": float((judged == target).double().mean()),
        "mean_P_class": float(class_probability.mean()),
        "mean_realism": float(realism_probability.mean()),
        "min_realism": float(realism_probability.min()),
        "mean_log_prior": float(log_prior.mean()),
        "length": length,
        "seconds": seconds,
        "converged": None if converged is None else bool(np.all(converged)),
    }


def run_feature_experiment(
    latent_dim=2,
    target=FAVOURED_CLASS,
    start_digit=None,
    end_digit=None,
    seed=0,
    lengths_in="latent",
    solver_options=None,
    neural_options=None,
    n_eval=N_EVAL,
    progress=True,
    weights=WEIGHTS_PATH,
    generator_dtype=DTYPE,
):
    """Feature-based interpolation in a DCGAN's latent space, four curves compared.

    The quality is the realism index of the prior ``N(0, I)`` times the
    classifier's eps-smoothed probability of class ``target``. Between the codes
    of :func:`endpoint_codes`, it solves the geodesic (the default solver,
    options ``SOLVER_OPTIONS``), the paper's neural curve
    (``method='neural'`` with its default steps), and takes linear and slerp
    interpolation.

    Parameters
    ----------
    latent_dim : int
        2 or 100: which shipped DCGAN.
    target : int
        The favoured class.
    start_digit, end_digit : int, optional
        Classes of the endpoints; ``ENDPOINT_DIGITS`` by default.
    seed : int
        Seed of the candidate codes.
    lengths_in : {'latent', 'samples'}
        As in :class:`~geomstats_density.latent.LatentSpace`.
    solver_options, neural_options : dict, optional
        Options of the Newton solver over ``SOLVER_OPTIONS``, and of the
        neural solver over its defaults.
    n_eval : int
        Points at uniform times at which every curve is judged.
    progress : bool
    weights : str or pathlib.Path
    generator_dtype : torch.dtype
        What the generator and the classifier compute in, for both solvers
        (``LatentSpace``'s ``generator_dtype``); the metric stays float64.

    Returns
    -------
    result : dict
        ``table`` (rows for ``geodesic``, ``linear``, ``slerp``, ``neural``:
        ``judge_share``, the share of the ``n_eval`` frames the judge assigns
        to ``target``; ``mean_P_class``, the classifier's mean probability of
        ``target``; ``mean_realism`` and ``min_realism``, the realism index of
        the prior along the curve; ``mean_log_prior``, the prior's mean
        log-density there; ``length``, the curve's own length in the metric
        (``DiscreteCurve.length``); ``seconds`` of wall time; ``converged``), ``curves`` (name to
        curve), ``space`` (the :class:`~geomstats_density.latent.LatentSpace`),
        ``judge``, ``start`` and ``end`` codes, ``latent_dim``, ``target``,
        ``digits``.
    """
    default_start, default_end = ENDPOINT_DIGITS.get(latent_dim, (None, None))
    start_digit = default_start if start_digit is None else start_digit
    end_digit = default_end if end_digit is None else end_digit
    if start_digit is None or end_digit is None:
        raise ValueError(f"Give start_digit and end_digit for latent_dim={latent_dim!r}.")
    generator = load_generator(latent_dim, weights)
    classifier = load_classifier(weights)
    judge = load_judge(weights)
    start, end = endpoint_codes(generator, classifier, start_digit, end_digit, seed=seed)
    quality = dict(
        log_density=Gaussian(torch.zeros(latent_dim, dtype=DTYPE)),
        classifier=classifier,
        target=target,
    )
    space = LatentSpace(
        generator,
        latent_dim,
        lengths_in=lengths_in,
        solver_options={
            **SOLVER_OPTIONS,
            **(GRID_START if latent_dim <= 3 else {"initialization": "line"}),
            "progress": progress,
            **(solver_options or {}),
        },
        generator_dtype=generator_dtype,
        **quality,
    )
    neural_space = LatentSpace(
        generator,
        latent_dim,
        lengths_in=lengths_in,
        method="neural",
        solver_options={"progress": progress, "on_failure": "ignore", **(neural_options or {})},
        generator_dtype=generator_dtype,
        **quality,
    )
    realism, feature = space.log_quality.factors
    curves, seconds = {}, {}
    solvers = {
        "geodesic": lambda: space.metric.geodesic(initial_point=start, end_point=end),
        "linear": lambda: linear_interpolation(start, end, INTERPOLATION_NODES),
        "slerp": lambda: slerp(start, end, INTERPOLATION_NODES),
        "neural": lambda: neural_space.metric.geodesic(initial_point=start, end_point=end),
    }
    for name, solve in solvers.items():
        clock = time.perf_counter()
        curves[name] = solve()
        seconds[name] = time.perf_counter() - clock
    table = [
        _curve_row(space, name, curve, seconds[name], judge, realism, feature, target, n_eval)
        for name, curve in curves.items()
    ]
    return {
        "table": table,
        "curves": curves,
        "space": space,
        "judge": judge,
        "start": start,
        "end": end,
        "latent_dim": latent_dim,
        "target": target,
        "digits": (start_digit, end_digit),
    }


def plot_feature_strips(result, n_images=11, figure=None):
    """Frames decoded along each curve of :func:`run_feature_experiment`.

    One row per curve; frames the judge assigns to the favoured class are
    framed in red.

    Parameters
    ----------
    result : dict
        As returned by :func:`run_feature_experiment`.
    n_images : int
        Frames per curve, at uniform times.
    figure : matplotlib Figure, optional

    Returns
    -------
    figure : matplotlib Figure
    """
    space, curves = result["space"], result["curves"]
    figure = plot_decoded_strip(space.decode, curves, n_images=n_images, figure=figure)
    axes = np.reshape(figure.axes[-len(curves) * n_images :], (len(curves), n_images))
    for row, curve in zip(axes, curves.values()):
        with torch.no_grad():
            judged = result["judge"](space.generator(_frames(curve, n_images)).float()).argmax(-1)
        for ax, favoured in zip(row, (judged == result["target"]).tolist()):
            if favoured:
                for spine in ax.spines.values():
                    spine.set_edgecolor("red")
                    spine.set_linewidth(3)
    start_digit, end_digit = result["digits"]
    figure.suptitle(
        f"DCGAN, {result['latent_dim']}-D latent: {start_digit} to {end_digit} favouring "
        f"{result['target']} (red: judged a {result['target']})"
    )
    return figure


def run(out_dir=None, progress=True, latent_dim=2, **options):
    """The feature experiment in the demo's result format, with its strip figure.

    Parameters
    ----------
    out_dir : str or pathlib.Path, optional
        Where the strip goes; None draws nothing.
    progress : bool
    latent_dim : int
        2 or 100.
    **options
        Keyword arguments of :func:`run_feature_experiment`.

    Returns
    -------
    result : dict
        As :func:`~geomstats_density.demo.results.example_result` returns (the
        geodesic's ``length`` at ``n_eval`` points, ``converged``,
        ``seconds``), with ``figure``
        (the strips), ``table`` and ``training`` (the networks' facts).
    """
    experiment = run_feature_experiment(latent_dim=latent_dim, progress=progress, **options)
    path = figure_path(out_dir, f"dcgan_z{latent_dim}_feature_strip")
    if path is not None:
        save_figure(plot_feature_strips(experiment), path)
    geodesic_row = experiment["table"][0]
    start_digit, end_digit = experiment["digits"]
    result = example_result(
        f"6 (DCGAN z{latent_dim})",
        f"DCGAN {latent_dim}-D latent: {start_digit} to {end_digit} "
        f"favouring {experiment['target']}",
        experiment["curves"]["geodesic"],
        geodesic_row["seconds"],
        figure=path,
        table=experiment["table"],
        training=training_info(options.get("weights", WEIGHTS_PATH)),
    )
    # The length of the returned curve as the table measures every curve.
    result["length"] = geodesic_row["length"]
    return result
