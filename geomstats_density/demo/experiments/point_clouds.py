"""Example 10: interpolating between point clouds, lengths measured by MMD.

The paper's experiment on probability measures: each node of a curve is a
cloud of ``k`` points in the plane (a point of ``R^(2k)``), and lengths between
consecutive clouds are MMDs of a Gaussian kernel, the kernel mean embedding
being the map ``Phi`` (:class:`~geomstats_density.measures.KernelMeanEmbeddingMetric`).

As in the authors' script, the start cloud is drawn from two Gaussians at
``(+-6, 0)`` and the end cloud from two at ``(0, +-6)``, point ``j`` of the one
paired with point ``j`` of the other. Three interpolations are compared:

- ``linear``: every point moves straight to its partner, so halfway the whole
  cloud sits in the empty space between the four sites;
- ``MMD geodesic``: the authors' experiment, a constant quality (shortest path
  in MMD);
- ``realism geodesic``: the quality is the realism index of the cloud as a
  sample of the four-site mixture (the union of both ends' components,
  :class:`~geomstats_density.measures.CloudDensity`). Every cloud whose points
  sit on the sites, with any share per site, is a plausible sample of it, so
  the quality says "the cloud is still a mixture of these Gaussians"; points
  stranded between the sites make it implausible. The one-sided index is the
  right form: a cloud packed near the sites' centres is not wrong, only
  one whose points are off them.

The end clouds are quasi-random draws (a scrambled Sobol sequence through the
Gaussian quantile), so no two points nearly coincide: the MMD metric
degenerates where points coincide, and its conditioning goes with the
smallest distance between points relative to the kernel's bandwidth.
"""

import math
import time

import numpy as np
from geomstats.geometry.euclidean import Euclidean
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy.stats import norm, qmc

from geomstats_density._validation import random_seed
from geomstats_density.backend import to_numpy
from geomstats_density.demo.results import example_result, figure_path
from geomstats_density.densities import GaussianMixture
from geomstats_density.measures import CloudDensity, KernelMeanEmbeddingMetric
from geomstats_density.plotting import save_figure
from geomstats_density.quality import Constant, RealismIndex
from geomstats_density.reports import curve_report, linear_interpolation

N_POINTS = 24
SITE_DISTANCE = 6.0
SPREAD = 2.0
BANDWIDTH = 1.0
# A point farther than this many spreads from every site is "in transit".
TRANSIT_RADIUS = 2.5
CLOUD_COLORS = ("tab:orange", "tab:blue")


def site_mixture(distance=SITE_DISTANCE, spread=SPREAD):
    """Equal mixture of isotropic Gaussians at ``(+-distance, 0)`` and ``(0, +-distance)``.

    Returns
    -------
    mixture : GaussianMixture
    """
    sites = distance * np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    return GaussianMixture(np.ones(4), sites, np.tile(spread**2 * np.eye(2), (4, 1, 1)))


def end_clouds(n_points=N_POINTS, distance=SITE_DISTANCE, spread=SPREAD, random_state=0):
    """Start and end clouds: point ``j`` goes from site ``(+-d, 0)`` to site ``(0, +-d)``.

    Even points start at ``(d, 0)`` and end at ``(0, d)``, odd points go from
    ``(-d, 0)`` to ``(0, -d)``; offsets are quasi-random Gaussian draws, scrambled
    from ``random_state``.

    Returns
    -------
    start, end : ndarray, shape=[n_points * 2]
        Flattened clouds.
    """
    uniform = qmc.Sobol(2, scramble=True, seed=random_seed(random_state)).random_base2(
        math.ceil(math.log2(2 * n_points))
    )[: 2 * n_points]
    offsets = spread * norm.ppf(uniform)
    sign = np.where(np.arange(n_points) % 2 == 0, 1.0, -1.0)
    zeros = np.zeros(n_points)
    start = np.stack([distance * sign, zeros], -1) + offsets[:n_points]
    end = np.stack([zeros, distance * sign], -1) + offsets[n_points:]
    return start.ravel(), end.ravel()


def cloud_space(n_points, log_quality, bandwidth=BANDWIDTH, point_dim=2, **solver_options):
    """``Euclidean(k d)``: clouds of ``k`` points in ``R^d``, with a quality's MMD metric.

    Parameters
    ----------
    n_points : int
        ``k``, the points of a cloud.
    log_quality : callable
    bandwidth : float
    point_dim : int
        ``d``, the dimension of the points (2 in the experiment).
    **solver_options
        Options of the metric's boundary-value solver.

    Returns
    -------
    space : Euclidean
    """
    space = Euclidean(n_points * point_dim, equip=False)
    space.equip_with_metric(
        KernelMeanEmbeddingMetric,
        log_quality=log_quality,
        n_points=n_points,
        bandwidth=bandwidth,
        solver_options=solver_options,
    )
    return space


def transit_shares(curve, mixture, n_points, n_times=65, radius=TRANSIT_RADIUS * SPREAD):
    """Share of the points farther than ``radius`` from every site, at uniform times.

    Returns
    -------
    shares : ndarray, shape=[n_times]
    """
    clouds = to_numpy(curve(np.linspace(0.0, 1.0, n_times))).reshape(n_times, n_points, 2)
    sites = mixture.means.numpy()
    distances = np.linalg.norm(clouds[:, :, None, :] - sites, axis=-1).min(-1)
    return (distances > radius).mean(-1)


def plot_cloud_strips(curves, n_points, n_clouds=7, limit=SITE_DISTANCE + 3 * SPREAD, figure=None):
    """Clouds along each curve at ``n_clouds`` uniform times: one row per curve.

    Points are coloured by where they start.

    Parameters
    ----------
    curves : dict of str to DiscreteCurve
        Curves in ``R^(2 n_points)``, as :func:`run` returns them in ``curves``.
    n_points : int
        Points per cloud.
    n_clouds : int
        Clouds drawn per curve.
    limit : float
        Half-width of each cloud's square of view.
    figure : matplotlib Figure or SubFigure, optional
        Where to draw; a new figure by default.

    Returns
    -------
    figure : matplotlib Figure or SubFigure
    """
    if figure is None:
        figure = Figure(figsize=(1.6 * n_clouds, 1.7 * len(curves) + 0.3), layout="constrained")
        FigureCanvasAgg(figure)
    axes = figure.subplots(len(curves), n_clouds, squeeze=False)
    colors = [CLOUD_COLORS[j % 2] for j in range(n_points)]
    times = np.linspace(0.0, 1.0, n_clouds)
    for row, (name, curve) in zip(axes, curves.items()):
        clouds = to_numpy(curve(times)).reshape(n_clouds, n_points, 2)
        for ax, cloud, t in zip(row, clouds, times):
            ax.scatter(cloud[:, 0], cloud[:, 1], s=6, c=colors)
            ax.set_xlim(-limit, limit)
            ax.set_ylim(-limit, limit)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"t = {t:.2f}", fontsize="small")
        row[0].set_ylabel(name)
    return figure


def run(out_dir=None, progress=True, n_points=N_POINTS, n_nodes=33, max_iter=50, random_state=0):
    """Realism geodesic, MMD geodesic and linear interpolation between two clouds.

    Parameters
    ----------
    out_dir : str or pathlib.Path, optional
        Where the PNG strips of clouds go.
    progress : bool
        Show progress bars.
    n_points : int
        Points per cloud; the space has dimension ``2 n_points`` (48 by
        default: the Newton solver's matrix-free path).
    n_nodes : int
        Nodes of the discretised curves, fixed (no refinement).
    max_iter : int
        Newton iterations per curve. The MMD metric of clouds is badly
        conditioned (points close to each other relative to the bandwidth
        barely change the measure when moved apart) and the discrete energy
        lets points jump between far-apart nodes (an MMD chord is far shorter
        than a path of clouds): Newton does not reach its tolerance here
        (measured: not within 200 iterations, 6-11 minutes, at 65 nodes), so
        the curves are returned after ``max_iter`` iterations, flagged
        ``converged=False``, and measured on fine resamplings.
    random_state : int, torch.Generator, numpy.random.Generator or None
        Source of the clouds and of the Monte-Carlo law of the realism index.

    Returns
    -------
    result : dict
        As :func:`~geomstats_density.demo.results.example_result` returns, for
        the realism geodesic (``figure``: the PNG of :func:`plot_cloud_strips`,
        None without ``out_dir``); ``table`` has one row per curve: length,
        energy and quality in the realism metric, the MMD length (sum of the
        MMDs between consecutive clouds), the largest and mean share of points
        in transit (farther than 2.5 spreads from every site), and the solve's
        seconds, Newton iterations and convergence; ``curves`` maps each
        curve's name to the curve, for :func:`plot_cloud_strips`.
    """
    mixture = site_mixture()
    seed = random_seed(random_state)
    start, end = end_clouds(n_points, random_state=seed)
    realism = RealismIndex(CloudDensity(mixture, n_points), random_state=seed)
    options = dict(
        tol=None, n_nodes=n_nodes, max_iter=max_iter, on_failure="ignore", progress=progress
    )
    spaces = {
        "realism geodesic": cloud_space(n_points, realism, **options),
        "MMD geodesic": cloud_space(n_points, Constant(0.5), **options),
    }
    curves, solves = {}, {}
    for name, space in spaces.items():
        clock = time.perf_counter()
        curves[name] = space.metric.log_solver.solve(end, start)
        solves[name] = time.perf_counter() - clock
    curves["linear"] = linear_interpolation(start, end, n_nodes)
    realism_metric = spaces["realism geodesic"].metric
    mmd_metric = spaces["MMD geodesic"].metric
    table = []
    for name, curve in curves.items():
        shares = transit_shares(curve, mixture, n_points)
        row = curve_report(realism_metric, curve, name=name)
        row["mmd_length"] = curve_report(mmd_metric, curve)["length"] / math.log(2.0)
        row["max_in_transit"] = float(shares.max())
        row["mean_in_transit"] = float(shares.mean())
        if name in solves:
            row["seconds"] = solves[name]
            row["newton_iterations"] = int(curves[name].n_iterations)
            row["converged"] = bool(curves[name].converged)
        table.append(row)
    figure = figure_path(out_dir, "example_10_point_clouds")
    if figure is not None:
        save_figure(plot_cloud_strips(curves, n_points), figure)
    return example_result(
        10,
        f"Point clouds ({n_points} points), MMD lengths",
        curves["realism geodesic"],
        solves["realism geodesic"],
        figure=figure,
        table=table,
        monte_carlo_error=realism.monte_carlo_error,
        curves=curves,
    )
