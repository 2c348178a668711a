"""Examples on manifolds, each a function returning its numbers (and its figure).

:func:`example_sphere_caps`: a mixture of von Mises-Fisher caps on the 2-sphere,
the great circle against the density-conformal geodesic. Same result format as
:mod:`geomstats_density.demo.paper_examples`, so the ``geomstats-density demo``
command and the scripts in ``examples/`` run it alike.
"""

import time

import numpy as np
import torch
from geomstats.geometry.hypersphere import Hypersphere
from matplotlib import cm

from geomstats_density.backend import DTYPE, to_numpy
from geomstats_density.demo.paper_examples import example_result, figure_path
from geomstats_density.metrics import DensityConformalMetric
from geomstats_density.plotting import new_axes, plot_curves_3d, save_figure
from geomstats_density.quality import DensityRatio
from geomstats_density.reports import N_EVAL, curve_report, slerp
from geomstats_density.sphere import VonMisesFisherMixture

# Caps on the equator at 0 and 90 degrees of longitude, bridged by a third cap
# at 45 degrees of latitude; the great circle between the first two runs along
# the sparse equator.
CAP_DIRECTIONS = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.5, 0.5**0.5]])
CAP_CONCENTRATION = 8.0
SPHERE_START = np.array([1.0, 0.0, 0.1]) / np.linalg.norm([1.0, 0.0, 0.1])
SPHERE_END = np.array([0.0, 1.0, 0.1]) / np.linalg.norm([0.0, 1.0, 0.1])


def sphere_caps():
    """The example's density: three equal vMF caps of concentration 8."""
    n_caps = len(CAP_DIRECTIONS)
    return VonMisesFisherMixture(
        np.ones(n_caps), CAP_DIRECTIONS, np.full(n_caps, CAP_CONCENTRATION)
    )


def _draw_density(ax, density, resolution=60):
    """The sphere's surface coloured by the density relative to its maximum."""
    polar, azimuth = np.meshgrid(
        np.linspace(0, np.pi, resolution), np.linspace(0, 2 * np.pi, 2 * resolution)
    )
    surface = np.stack(
        [np.sin(polar) * np.cos(azimuth), np.sin(polar) * np.sin(azimuth), np.cos(polar)], -1
    )
    with torch.no_grad():
        log_density = to_numpy(density(torch.as_tensor(surface, dtype=DTYPE)))
    colours = cm.viridis(np.exp(log_density - log_density.max()))
    ax.plot_surface(
        *np.moveaxis(surface, -1, 0),
        facecolors=colours,
        shade=False,
        linewidth=0,
        antialiased=False,
        rstride=1,
        cstride=1,
    )


def example_sphere_caps(out_dir=None, progress=True):
    """vMF caps on the 2-sphere: the geodesic keeps to the caps, the great circle not.

    ``Q = 0.1 + 0.8 p / max p`` (the density ratio, ``eps = 0.2``) for a mixture
    ``p`` of three vMF caps; the geodesic of ``log(Q)^2`` times the round metric
    between points of two caps detours through the third cap, where the great
    circle crosses the sparse equator. The table compares the two curves:
    lengths in the metric, curve qualities, lowest log-density met.
    """
    caps = sphere_caps()
    space = Hypersphere(2, equip=False)
    space.equip_with_metric(
        DensityConformalMetric,
        log_quality=DensityRatio(caps, eps=0.2),
        solver_options=dict(progress=progress),
    )
    clock = time.perf_counter()
    geodesic = space.metric.geodesic(initial_point=SPHERE_START, end_point=SPHERE_END)
    seconds = time.perf_counter() - clock
    # On the unit sphere slerp is the great circle, at constant speed.
    great_circle = slerp(SPHERE_START, SPHERE_END, N_EVAL)
    table = [
        curve_report(space.metric, geodesic, log_density=caps, name="geodesic"),
        curve_report(space.metric, great_circle, log_density=caps, name="great circle"),
    ]
    path = figure_path(out_dir, "example_sphere_caps")
    if path is not None:
        times = np.linspace(0, 1, 201)
        # Drawn just above the surface so that it does not hide them.
        curves = {
            "geodesic": 1.01 * to_numpy(geodesic(times)),
            "great circle": 1.01 * to_numpy(great_circle(times)),
        }
        ax = new_axes(projection="3d", figsize=(6, 5.5))
        # The curves lie on the visible side: draw them over the surface.
        ax.computed_zorder = False
        _draw_density(ax, caps)
        plot_curves_3d(curves, ax=ax)
        ax.view_init(elev=35, azim=45)
        ax.set_axis_off()
        ax.set_box_aspect((1, 1, 1), zoom=1.5)
        ax.set_title("vMF caps on the sphere (colour: density / max)")
        save_figure(ax.figure, path)
    return example_result(
        "sphere",
        "vMF caps on the 2-sphere",
        geodesic,
        seconds,
        figure=path,
        table=table,
    )
