"""Figures: quality maps with curves, curves on surfaces, decoded strips.

Figures are built on :class:`matplotlib.figure.Figure` directly, with the Agg
canvas, so nothing here opens a window or touches pyplot's global state; pass
``ax`` (e.g. from ``plt.subplots()``) to draw into a figure you show yourself.
"""

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from geomstats_density.backend import DTYPE, to_numpy
from geomstats_density.curves import DiscreteCurve

CURVE_STYLES = {
    "geodesic": dict(color="crimson", lw=2.2),
    "linear": dict(color="black", lw=1.5, ls="--"),
    "slerp": dict(color="royalblue", lw=1.5, ls=":"),
}


def new_axes(projection=None, figsize=(5.5, 4.5)):
    """A fresh figure (Agg canvas, no window) and its axes."""
    figure = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(figure)
    return figure.add_subplot(projection=projection)


def save_figure(figure, path, dpi=120):
    """Write a figure to ``path`` (format from the extension); return the path."""
    figure.savefig(path, dpi=dpi)
    return path


def _curve_points(curve, n_points=201):
    """Points at uniform times on a curve (``DiscreteCurve`` or nodes), ``[n, dim]``."""
    if not isinstance(curve, DiscreteCurve):
        curve = DiscreteCurve(curve)
    return to_numpy(curve(np.linspace(0.0, 1.0, n_points)))


def _draw_curves(ax, curves, project=lambda points: points.T):
    for name, curve in curves.items():
        points = _curve_points(curve)
        style = CURVE_STYLES.get(name, {})
        ax.plot(*project(points), label=name, **style)
    if curves:
        first = _curve_points(next(iter(curves.values())))
        ax.scatter(*project(first[[0, -1]]), color="black", s=30, zorder=5)
        ax.legend(loc="best", fontsize="small")


def plot_quality_map(
    field, xlim, ylim, curves=None, ax=None, resolution=200, label="log Q", cmap="viridis"
):
    """A 2-D scalar field (a log-quality or log-density) with curves over it.

    Parameters
    ----------
    field : callable
        Torch ``[..., 2] -> [...]``, e.g. a quality (``log Q``) or a density.
    xlim, ylim : tuple of float
        Extent of the map.
    curves : dict of str to DiscreteCurve or array-like, optional
        Curves to draw, by name; 'geodesic', 'linear' and 'slerp' get house
        styles.
    ax : matplotlib Axes, optional
        Drawn into; a new figure otherwise.
    resolution : int
        Grid points per axis.
    label : str
        Colour-bar label.
    cmap : str

    Returns
    -------
    ax : matplotlib Axes
    """
    ax = ax or new_axes()
    xs = np.linspace(*xlim, resolution)
    ys = np.linspace(*ylim, resolution)
    grid = torch.as_tensor(np.stack(np.meshgrid(xs, ys), axis=-1), dtype=DTYPE)
    with torch.no_grad():
        values = to_numpy(field(grid))
    image = ax.pcolormesh(xs, ys, values, cmap=cmap, shading="auto")
    ax.figure.colorbar(image, ax=ax, label=label)
    _draw_curves(ax, curves or {})
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    return ax


def _draw_sphere(ax, center, radius):
    u, v = np.meshgrid(np.linspace(0, 2 * np.pi, 40), np.linspace(0, np.pi, 20))
    ax.plot_wireframe(
        center[0] + radius * np.cos(u) * np.sin(v),
        center[1] + radius * np.sin(u) * np.sin(v),
        center[2] + radius * np.cos(v),
        color="grey",
        alpha=0.25,
        linewidth=0.5,
    )


def _draw_cube(ax, half_width):
    corners = (
        np.array(np.meshgrid(*[[-half_width, half_width]] * 3, indexing="ij")).reshape(3, -1).T
    )
    for i, a in enumerate(corners):
        for b in corners[i + 1 :]:
            if np.count_nonzero(a != b) == 1:
                ax.plot(*np.stack([a, b]).T, color="grey", alpha=0.6, linewidth=0.8)


def plot_curves_3d(curves, surface=None, ax=None, center=(0.0, 0.0, 0.0), size=1.0):
    """3-D curves over a surface: a sphere or the cube's edges.

    Parameters
    ----------
    curves : dict of str to DiscreteCurve or array-like, shape=[n, 3]
    surface : {'sphere', 'cube', None}
        Sphere of radius ``size`` about ``center``, or the cube
        ``[-size, size]^3``.
    ax : matplotlib 3-D Axes, optional
    center : tuple of float
    size : float

    Returns
    -------
    ax : matplotlib Axes
    """
    ax = ax or new_axes(projection="3d")
    if surface == "sphere":
        _draw_sphere(ax, np.asarray(center), size)
    elif surface == "cube":
        _draw_cube(ax, size)
    elif surface is not None:
        raise ValueError(f"surface must be 'sphere', 'cube' or None, got {surface!r}.")
    _draw_curves(ax, curves)
    ax.set_box_aspect((1, 1, 1))
    return ax


def _as_images(samples):
    """Decoded samples as images ``[n, H, W]`` or ``[n, H, W, 3]``."""
    samples = to_numpy(samples)
    if samples.ndim == 4 and samples.shape[1] in (1, 3):
        samples = np.moveaxis(samples, 1, -1)
    if samples.ndim == 4 and samples.shape[-1] == 1:
        samples = samples[..., 0]
    if samples.ndim not in (3, 4):
        raise ValueError(
            "The generator must return images [n, H, W], [n, C, H, W] or [n, H, W, C]; "
            f"got shape {samples.shape}."
        )
    return samples


def plot_decoded_strip(generator, curves, n_images=9, figure=None):
    """Strips of images decoded along curves: one row per curve.

    Parameters
    ----------
    generator : callable
        Latent points ``[n, dim]`` (float64 torch) to images ``[n, H, W]``,
        ``[n, C, H, W]`` or ``[n, H, W, C]``.
    curves : dict of str to DiscreteCurve or array-like, shape=[n, dim]
        Curves, by name; each is sampled at ``n_images`` uniform times.
    n_images : int
    figure : matplotlib Figure, optional

    Returns
    -------
    figure : matplotlib Figure
    """
    if figure is None:
        figure = Figure(figsize=(1.1 * n_images, 1.2 * len(curves) + 0.3), layout="constrained")
        FigureCanvasAgg(figure)
    axes = figure.subplots(len(curves), n_images, squeeze=False)
    for row, (name, curve) in zip(axes, curves.items()):
        points = torch.as_tensor(_curve_points(curve, n_images), dtype=DTYPE)
        with torch.no_grad():
            images = _as_images(generator(points))
        for ax, image in zip(row, images):
            ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(name)
    return figure
