"""The paper's examples, each a function returning its numbers (and its figure).

Struski et al., *Feature-Based Interpolation and Geodesics in the Latent Spaces
of Generative Models*, Examples 1-5, plus a feature-based interpolation in the
latent space of a toy generator (the paper's Example 6 without its MNIST GAN)
and the soap bubble of a Gaussian latent in dimension 100 (Example 7).
Each ``example_*`` function solves its geodesic, returns a dict of results
(``length`` against the ``exact`` length where one is known) and, given
``out_dir``, writes its PNG figure there. The scripts in ``examples/`` and the
``geomstats-density demo`` command run them.
"""

import math
import pathlib
import time

import numpy as np
import torch
from geomstats.geometry.euclidean import Euclidean

from geomstats_density._validation import random_seed
from geomstats_density.backend import DTYPE, to_numpy
from geomstats_density.curves import DiscreteCurve
from geomstats_density.densities import Gaussian, GaussianMixture
from geomstats_density.metrics import DensityConformalMetric
from geomstats_density.plotting import (
    CURVE_STYLES,
    new_axes,
    plot_curves_3d,
    plot_decoded_strip,
    plot_quality_map,
    save_figure,
)
from geomstats_density.quality import (
    Closeness,
    Constant,
    Feature,
    RealismIndex,
    Typicality,
)
from geomstats_density.reports import (
    compare_interpolations,
    curve_report,
    linear_interpolation,
    slerp,
)

LN2 = math.log(2.0)


def _density_space(dim, log_quality, phi=None, **solver_options):
    space = Euclidean(dim, equip=False)
    space.equip_with_metric(
        DensityConformalMetric, log_quality=log_quality, phi=phi, solver_options=solver_options
    )
    return space


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
        The example's number in the paper, or its name.
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


# ----------------------------------------------------------------------
# Example 1: the plane with a constant quality
# ----------------------------------------------------------------------
def example_1(out_dir=None, progress=True):
    """Plane, ``Q = 1/2``, from (0, 1) to (1, 0): the straight segment.

    The metric is ``log(2)^2`` times the Euclidean one, so the geodesic is the
    segment and its length ``ln 2 * sqrt 2``.
    """
    space = _density_space(2, Constant(0.5), progress=progress)
    start, end = np.array([0.0, 1.0]), np.array([1.0, 0.0])
    clock = time.perf_counter()
    geodesic = space.metric.geodesic(initial_point=start, end_point=end)
    seconds = time.perf_counter() - clock
    path = figure_path(out_dir, "example_1_plane")
    if path is not None:
        ax = new_axes()
        ax.plot(
            *to_numpy(geodesic(np.linspace(0, 1, 50))).T,
            "o",
            color="crimson",
            ms=3,
            label="geodesic",
        )
        ax.plot(*np.stack([start, end]).T, "k--", label="segment")
        ax.set_aspect("equal")
        ax.legend()
        ax.set_title("Example 1: Q = 1/2 on the plane")
        save_figure(ax.figure, path)
    return example_result(
        1, "Plane, Q = 1/2", geodesic, seconds, exact=LN2 * math.sqrt(2), figure=path
    )


# ----------------------------------------------------------------------
# Example 2: the plane mapped onto a sphere
# ----------------------------------------------------------------------
E3 = torch.tensor([0.0, 0.0, 1.0], dtype=DTYPE)


def central_projection(points):
    """``e3 + ((z, 0) - e3) / |(z, 0) - e3|``: the plane onto the unit sphere about e3.

    Parameters
    ----------
    points : torch.Tensor, shape=[..., 2]

    Returns
    -------
    image : torch.Tensor, shape=[..., 3]
    """
    # (z, 0) - e3 = (z_1, z_2, -1) never vanishes.
    lifted = torch.cat([points, -torch.ones_like(points[..., :1])], dim=-1)
    return E3 + lifted / torch.sqrt((lifted * lifted).sum(-1, keepdim=True))


def example_2(out_dir=None, progress=True):
    """Plane mapped onto a sphere by a central projection, ``Q = 1/2``.

    Lengths are measured on the sphere of radius 1 about ``e3``: the image of
    the geodesic from (0, 1) to (1, 0) is the great-circle arc between the
    images, of angle ``pi/3``, so the length is ``ln 2 * pi / 3``.
    """
    space = _density_space(2, Constant(0.5), phi=central_projection, progress=progress)
    start, end = np.array([0.0, 1.0]), np.array([1.0, 0.0])
    clock = time.perf_counter()
    geodesic = space.metric.geodesic(initial_point=start, end_point=end)
    seconds = time.perf_counter() - clock
    path = figure_path(out_dir, "example_2_sphere")
    if path is not None:
        times = np.linspace(0, 1, 101)
        image = {
            "geodesic": central_projection(torch.as_tensor(to_numpy(geodesic(times)))),
            "linear": central_projection(
                torch.as_tensor(to_numpy(linear_interpolation(start, end, 101).nodes))
            ),
        }
        ax = plot_curves_3d(image, surface="sphere", center=(0.0, 0.0, 1.0))
        ax.set_title("Example 2: images on the sphere")
        save_figure(ax.figure, path)
    return example_result(
        2, "Plane onto a sphere, Q = 1/2", geodesic, seconds, exact=LN2 * math.pi / 3, figure=path
    )


# ----------------------------------------------------------------------
# Example 3: the plane with the unit disk cut out
# ----------------------------------------------------------------------
def distance_outside_disk(points):
    """``d_M(z) = max(0, 1 - |z|)``: how deep ``z`` is inside the unit disk."""
    return torch.clamp(1.0 - torch.linalg.vector_norm(points, dim=-1), min=0.0)


def example_3(out_dir=None, progress=True):
    """Plane without the unit disk: ``Q = 1/2 exp(-5 d_M)``, (-1.3, 0) to (1.3, 0).

    The geodesic goes around the disk: two tangent segments and an arc,
    ``ln 2 (2 sqrt(1.3^2 - 1) + pi - 2 arccos(1/1.3))``. ``d_M`` is written as
    a user would, with a norm and a clamp: the straight start crosses the
    norm's cone point, and the geodesic runs on the clamp's kink. The solver,
    with every default, smooths the kinks and lets the smoothing vanish
    (:mod:`~geomstats_density.solvers.smoothing`).
    """
    space = _density_space(
        2, Closeness(distance_outside_disk, rate=5.0), on_failure="ignore", progress=progress
    )
    start, end = np.array([-1.3, 0.0]), np.array([1.3, 0.0])
    clock = time.perf_counter()
    geodesic = space.metric.geodesic(initial_point=start, end_point=end)
    seconds = time.perf_counter() - clock
    exact = LN2 * (2 * math.sqrt(1.3**2 - 1) + math.pi - 2 * math.acos(1 / 1.3))
    path = figure_path(out_dir, "example_3_disk")
    if path is not None:
        ax = plot_quality_map(
            space.metric.log_quality,
            (-2, 2),
            (-2, 2),
            curves={"geodesic": geodesic, "linear": linear_interpolation(start, end)},
        )
        ax.set_title("Example 3: around the unit disk")
        save_figure(ax.figure, path)
    return example_result(
        3, "Plane without the unit disk", geodesic, seconds, exact=exact, figure=path
    )


# ----------------------------------------------------------------------
# Example 4: the surface of the cube
# ----------------------------------------------------------------------
def distance_to_cube_surface(points):
    """``d_M(z) = |1 - max_i |z_i||``: distance (sup-norm) to the surface of [-1, 1]^3."""
    return torch.abs(1.0 - torch.amax(torch.abs(points), dim=-1))


def example_4(out_dir=None, progress=True):
    """Surface of the cube ``[-1, 1]^3``: ``Q = 1/2 exp(-50 d_M)``, (0,0,1) to (1,0,0).

    The geodesic runs over two faces through the edge between them; unfolded,
    it is a segment of length 2, so the length is ``2 ln 2``. The metric lets
    the true geodesic cut the edge slightly: cutting it with a chord 0.016 long
    already saves 0.17% (``K = 50``), so ``2 ln 2`` is an upper bound. Solved
    with every default from the straight line through the cube.
    """
    space = _density_space(
        3, Closeness(distance_to_cube_surface, rate=50.0), on_failure="ignore", progress=progress
    )
    start, end = np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0])
    chord = linear_interpolation(start, end, 65)
    clock = time.perf_counter()
    geodesic = space.metric.geodesic(initial_point=start, end_point=end)
    seconds = time.perf_counter() - clock
    path = figure_path(out_dir, "example_4_cube")
    if path is not None:
        ax = plot_curves_3d({"geodesic": geodesic, "linear": chord}, surface="cube")
        ax.set_title("Example 4: over the cube's faces")
        save_figure(ax.figure, path)
    return example_result(4, "Surface of the cube", geodesic, seconds, exact=2 * LN2, figure=path)


# ----------------------------------------------------------------------
# Example 5: a Gaussian mixture with empty space between its ends
# ----------------------------------------------------------------------
HORSESHOE_CENTER = np.array([2.0, 1.0])
HORSESHOE_RADIUS = 3.0


def horseshoe_mixture(n_components=14, std=0.5):
    """Gaussians along 270 degrees of a circle of radius 3 about (2, 1).

    Returns
    -------
    mixture : GaussianMixture
    """
    angles = np.deg2rad(np.linspace(-135, 135, n_components))
    means = HORSESHOE_CENTER + HORSESHOE_RADIUS * np.stack([np.cos(angles), np.sin(angles)], -1)
    covariances = np.tile(std**2 * np.eye(2), (n_components, 1, 1))
    return GaussianMixture(np.ones(n_components), means, covariances)


def _on_horseshoe(angle_degrees):
    angle = np.deg2rad(angle_degrees)
    return HORSESHOE_CENTER + HORSESHOE_RADIUS * np.array([np.cos(angle), np.sin(angle)])


def example_5(out_dir=None, progress=True, n_samples=1024, random_state=0):
    """Gaussian mixture: linear interpolation crosses empty space, the geodesic does not.

    The quality is the realism index of a horseshoe-shaped mixture, its law
    estimated from ``n_samples`` samples drawn from ``random_state``. Between
    two points 120 degrees apart on the horseshoe, the segment crosses the empty
    inside and slerp (about the origin, where the mixture is not centred) leaves
    the horseshoe too; the geodesic follows the ridge. The comparison table (length, energy, curve
    quality, ``Q`` and log-density along each curve) is returned as ``table``,
    with the arc of the horseshoe's circle as a hand-made competitor.
    """
    mixture = horseshoe_mixture()
    quality = RealismIndex(mixture, n_samples=n_samples, random_state=random_state)
    space = _density_space(2, quality, tol=1e-5, progress=progress)
    start, end = _on_horseshoe(-60.0), _on_horseshoe(60.0)
    clock = time.perf_counter()
    geodesic = space.metric.geodesic(initial_point=start, end_point=end)
    seconds = time.perf_counter() - clock
    table = compare_interpolations(space.metric, start, end, geodesic=geodesic, log_density=mixture)
    arc = DiscreteCurve(np.array([_on_horseshoe(a) for a in np.linspace(-60, 60, 129)]))
    table.append(curve_report(space.metric, arc, log_density=mixture, name="circle arc"))
    path = figure_path(out_dir, "example_5_mixture")
    if path is not None:
        curves = {
            "geodesic": geodesic,
            "linear": linear_interpolation(start, end),
            "slerp": slerp(start, end),
            "circle arc": arc,
        }
        ax = plot_quality_map(
            space.metric.log_quality, (-2.5, 6.5), (-3.5, 5.5), curves=curves, resolution=150
        )
        ax.set_title("Example 5: realism index of a Gaussian mixture")
        save_figure(ax.figure, path)
    return example_result(
        5,
        "Gaussian mixture (horseshoe)",
        geodesic,
        seconds,
        figure=path,
        table=table,
        monte_carlo_error=quality.monte_carlo_error,
    )


# ----------------------------------------------------------------------
# Example 6: feature-based interpolation through a toy generator
# ----------------------------------------------------------------------
IMAGE_SIZE = 16
BLOB_WIDTH = 0.15
_COLUMNS = torch.linspace(-1.0, 1.0, IMAGE_SIZE, dtype=DTYPE)
# Row 0 is the top of the image: y = +1.
_ROWS = _COLUMNS.flip(0)


def blob_generator(points):
    """Toy generator: a 16 x 16 image of a blob centred at ``tanh(z / 2)``.

    Parameters
    ----------
    points : torch.Tensor, shape=[..., 2]

    Returns
    -------
    images : torch.Tensor, shape=[..., 16, 16]
    """
    centre = torch.tanh(points / 2)
    dx = _COLUMNS - centre[..., 0:1]
    dy = _ROWS - centre[..., 1:2]
    sq_dist = dy.unsqueeze(-1) ** 2 + dx.unsqueeze(-2) ** 2
    return torch.exp(-sq_dist / (2 * BLOB_WIDTH**2))


def blob_classifier(images):
    """Toy classifier: logits of (blob in the top half, blob in the bottom half).

    Parameters
    ----------
    images : torch.Tensor, shape=[n, 16, 16]

    Returns
    -------
    logits : torch.Tensor, shape=[n, 2]
    """
    half = IMAGE_SIZE // 2
    top = images[:, :half].sum((-1, -2))
    share = top / images.sum((-1, -2))
    return torch.stack([4 * (share - 0.5), 4 * (0.5 - share)], dim=-1)


def example_6(out_dir=None, progress=True):
    """Feature-based interpolation: favour blobs in the top half of the image.

    The quality is "realistic AND has the feature", the product of the realism
    index of the standard Gaussian prior and the classifier's probability that
    the blob is in the top half. Both endpoints show a blob low in the image:
    linear interpolation slides it straight across the bottom half, the
    geodesic lifts it through the top half. Lengths are measured in the latent
    space: pixel distances between two blobs stop growing once the blobs no
    longer overlap, which would let long pieces of a discretised curve jump.
    """
    feature = Feature(blob_classifier, target=0, generator=blob_generator)
    quality = RealismIndex(Gaussian(torch.zeros(2, dtype=DTYPE))) * feature
    space = _density_space(2, quality, tol=1e-5, progress=progress)
    start, end = np.array([-2.0, -0.5]), np.array([2.0, -0.5])
    clock = time.perf_counter()
    geodesic = space.metric.geodesic(initial_point=start, end_point=end)
    seconds = time.perf_counter() - clock
    curves = {"geodesic": geodesic, "linear": linear_interpolation(start, end)}
    table = [curve_report(space.metric, curve, name=name) for name, curve in curves.items()]
    with torch.no_grad():
        for row, curve in zip(table, curves.values()):
            points = torch.as_tensor(to_numpy(curve(np.linspace(0, 1, 101))))
            row["mean_P_feature"] = float(torch.exp(feature.log_probability(points)).mean())
    paths = {}
    for name in ("map", "strip"):
        paths[name] = figure_path(out_dir, f"example_6_feature_{name}")
    if out_dir is not None:
        ax = plot_quality_map(quality, (-3, 3), (-3, 3), curves=curves, resolution=120)
        ax.set_title("Example 6: realistic AND blob on top")
        save_figure(ax.figure, paths["map"])
        save_figure(plot_decoded_strip(blob_generator, curves, n_images=9), paths["strip"])
    return example_result(
        6,
        "Feature: blob in the top half",
        geodesic,
        seconds,
        figure=paths["map"],
        strip=None if paths["strip"] is None else str(paths["strip"]),
        table=table,
    )


# ----------------------------------------------------------------------
# Example 7: the soap bubble of a high-dimensional Gaussian
# ----------------------------------------------------------------------
def typical_codes(dim=100, random_state=0):
    """Two orthogonal codes of norm ``sqrt(dim)``, typical for ``N(0, I_dim)``.

    Parameters
    ----------
    dim : int
    random_state : int, torch.Generator, numpy.random.Generator or None
        Source of the codes' directions.

    Returns
    -------
    first, second : ndarray, shape=[dim]
    """
    first, second = np.random.default_rng(random_seed(random_state)).normal(size=(2, dim))
    first *= math.sqrt(dim) / np.linalg.norm(first)
    second -= (second @ first) / dim * first
    second *= math.sqrt(dim) / np.linalg.norm(second)
    return first, second


def example_7(out_dir=None, progress=True, dim=100):
    """The soap bubble: typicality geodesics keep the norm near ``sqrt(D)``.

    A standard Gaussian in ``D = 100`` puts its mass near the sphere of radius
    ``sqrt(D) = 10``; the midpoint of the segment between two orthogonal typical
    codes has norm ``sqrt(D/2) = 7.07``, where codes never fall. The geodesic of
    the (smooth) typicality keeps the norm near 10, like slerp does by design.
    The figure shows the norm along each curve; the table compares them.
    """
    density = Gaussian(np.zeros(dim))
    space = _density_space(dim, Typicality(density), tol=None, n_nodes=17, progress=progress)
    start, end = typical_codes(dim)
    clock = time.perf_counter()
    geodesic = space.metric.geodesic(initial_point=start, end_point=end)
    seconds = time.perf_counter() - clock
    table = compare_interpolations(space.metric, start, end, geodesic=geodesic, log_density=density)
    times = np.linspace(0.0, 1.0, 101)
    curves = {
        "geodesic": geodesic,
        "linear": linear_interpolation(start, end),
        "slerp": slerp(start, end),
    }
    for row in table:
        norms = np.linalg.norm(to_numpy(curves[row["curve"]](times)), axis=-1)
        row["min_norm"], row["max_norm"] = float(norms.min()), float(norms.max())
    path = figure_path(out_dir, "example_7_soap_bubble")
    if path is not None:
        ax = new_axes(figsize=(5.5, 3.5))
        for name, curve in curves.items():
            norms = np.linalg.norm(to_numpy(curve(times)), axis=-1)
            ax.plot(times, norms, label=name, **CURVE_STYLES[name])
        ax.axhline(math.sqrt(dim), color="grey", lw=0.8)
        ax.set_xlabel("t")
        ax.set_ylabel("|z(t)|")
        ax.legend()
        ax.set_title(f"Example 7: norms along curves, N(0, I) in D = {dim}")
        save_figure(ax.figure, path)
    return example_result(
        7, f"Soap bubble, Gaussian in D = {dim}", geodesic, seconds, figure=path, table=table
    )


EXAMPLES = (example_1, example_2, example_3, example_4, example_5, example_6, example_7)
