"""Starting curves of the refining solvers: the user's, the line's, or a graph's.

A curve starts on the user's ``initial_curve`` where one is given
(:func:`nodes_of_curve`), else on the straight line or on a shortest path of a
graph over the space (:mod:`~geomstats_density.solvers.graph`).
:class:`GlobalStart` chooses between the line and a graph
(``initialization``), builds the graph and keeps a cloud graph for later
batches, and gives the graph on which ``'auto'`` solves again the curves its
line starts did not bring to convergence.
"""

import numpy as np

from geomstats_density._validation import (
    check_choice,
    check_float,
    check_int,
    check_positive_int,
    check_random_state,
)
from geomstats_density.backend import to_numpy
from geomstats_density.curves import DiscreteCurve
from geomstats_density.densities import GaussianMixture, KernelDensity
from geomstats_density.solvers.graph import (
    GRID_SIZES,
    density_samples,
    grid_graph,
    point_graph,
    quality_density,
)

INITIALIZATIONS = ("auto", "line", "graph", "grid")
GRAPH_DEFAULTS = {
    "grid_size": None,
    "margin": 0.5,
    "n_neighbors": 10,
    "n_samples": 2000,
    "random_state": 0,
}


def nodes_of_curve(curve, start, end, n_nodes):
    """Nodes of user-given starting curves, checked to join the endpoints.

    Parameters
    ----------
    curve : DiscreteCurve or array-like, shape=[..., n, n_coords]
    start, end : ndarray, shape=[batch, n_coords]
    n_nodes : int

    Returns
    -------
    nodes : ndarray, shape=[batch, n_nodes, n_coords]
    """
    if not isinstance(curve, DiscreteCurve):
        curve = DiscreteCurve(curve)
    nodes = to_numpy(curve.resample(n_nodes).nodes)
    nodes = np.broadcast_to(nodes, (*start.shape[:-1], n_nodes, start.shape[-1]))
    nodes = nodes.reshape(-1, n_nodes, start.shape[-1]).copy()
    if nodes.shape[0] != start.shape[0] or not (
        np.allclose(nodes[:, 0], start) and np.allclose(nodes[:, -1], end)
    ):
        raise ValueError("initial_curve must join base_point to point.")
    nodes[:, 0], nodes[:, -1] = start, end
    return nodes


def is_multimodal(density):
    """Whether a density is a mixture of several Gaussians or a kernel estimate."""
    if isinstance(density, GaussianMixture):
        return density.means.shape[0] > 1
    if isinstance(density, KernelDensity):
        return density.data.shape[0] > 1
    return False


class GlobalStart:
    """Chooses, builds and keeps the graph whose shortest paths start local solves.

    Parameters
    ----------
    initialization : {'auto', 'line', 'graph', 'grid'}
        ``'line'``: no graph, curves start on the straight line. ``'grid'``: a
        grid graph over the endpoints' box
        (:func:`~geomstats_density.solvers.graph.grid_graph`, dimensions 1 to
        3). ``'graph'``: a cloud graph over ``points`` if given
        (:func:`~geomstats_density.solvers.graph.point_graph`), else a grid in
        dimensions 1 to 3, else a cloud graph over samples of the quality's
        density. ``'auto'``: as ``'graph'`` where ``points`` are given or the
        quality's density is multimodal (a Gaussian mixture of several
        components, a kernel density estimate), as ``'line'`` elsewhere; the
        test costs nothing. Curves that ``'auto'`` started on the line and that
        do not converge are solved again from a graph's path
        (:meth:`restart_graph`), each keeping that result if it converged or is
        shorter.
    points : array-like, shape=[n_points, dim], optional
        Vertices of the cloud graph, e.g. encodings of a data set.
    options : dict, optional
        ``grid_size`` (points per axis; 1025, 129, 41 in dimensions 1, 2, 3),
        ``margin`` (0.5: the grid covers the endpoints' box grown by this times
        the longest pair), ``n_neighbors`` (10), ``n_samples`` (2000 density
        samples) and ``random_state`` (0: the source of the samples, as in
        :meth:`~geomstats_density.densities.Density.sample`). A cloud of samples
        of a Gaussian mixture also holds its means
        (:func:`~geomstats_density.solvers.graph.density_samples`).

    Notes
    -----
    A cloud graph does not depend on the endpoints: it is built once and kept.
    """

    def __init__(self, initialization="auto", points=None, options=None):
        check_choice(initialization, "initialization", INITIALIZATIONS)
        unknown = sorted(set(options or {}) - set(GRAPH_DEFAULTS))
        if unknown:
            raise ValueError(f"Unknown graph options {unknown}; known: {sorted(GRAPH_DEFAULTS)}.")
        if points is not None:
            if initialization in ("line", "grid"):
                raise ValueError(
                    f"graph_points need initialization 'auto' or 'graph', not {initialization!r}."
                )
            points = to_numpy(points)
            if points.ndim != 2 or len(points) < 2 or not np.all(np.isfinite(points)):
                raise ValueError(
                    "graph_points must be finite, of shape [n_points >= 2, dim]; got "
                    f"shape {points.shape}."
                )
        self.initialization = initialization
        self.points = points
        self.options = _checked_graph_options({**GRAPH_DEFAULTS, **(options or {})})
        self._cloud = None

    def kind(self, metric, dim):
        """``'grid'``, ``'points'`` or None (the straight line) for this metric."""
        if self.initialization == "line":
            return None
        if self.initialization == "grid":
            return "grid"
        if self.points is not None:
            return "points"
        if self.initialization == "auto" and not is_multimodal(quality_density(metric)):
            return None
        return "grid" if dim in GRID_SIZES else "points"

    def graph(self, metric, start, end):
        """The graph for curves from ``start`` to ``end`` (``[batch, dim]``), or None."""
        kind = self.kind(metric, start.shape[-1])
        if kind is None:
            return None
        return self._build(metric, start, end, kind)

    def restart_graph(self, metric, start, end):
        """The graph for curves that ``'auto'`` started on the line and that failed.

        A grid in dimensions 1 to 3, else a cloud of samples of the quality's
        density; None where ``initialization`` is not ``'auto'``, where the
        curves did not start on the line, or where no graph can be built (no
        density, or one that cannot sample).
        """
        dim = start.shape[-1]
        if self.initialization != "auto" or self.kind(metric, dim) is not None:
            return None
        if dim in GRID_SIZES:
            return self._build(metric, start, end, "grid")
        if quality_density(metric) is None:
            return None
        try:
            return self._build(metric, start, end, "points")
        except NotImplementedError:  # a density that cannot sample
            return None

    def _build(self, metric, start, end, kind):
        dim = start.shape[-1]
        if kind == "grid":
            return grid_graph(metric, start, end, self.options["grid_size"], self.options["margin"])
        if self._cloud is None or self._cloud.metric is not metric:
            points, hubs = self.points, None
            if points is None:
                points, hubs = density_samples(
                    metric, self.options["n_samples"], self.options["random_state"]
                )
            if points.shape[1] != dim:
                raise ValueError(
                    f"graph_points have dimension {points.shape[1]}, the points {dim}."
                )
            self._cloud = point_graph(metric, points, self.options["n_neighbors"], hubs)
        return self._cloud


def _checked_graph_options(options):
    """The graph options, each checked, in canonical types."""
    return {
        "grid_size": check_int(options["grid_size"], "graph_options['grid_size']", 2, True),
        "margin": check_float(options["margin"], "graph_options['margin']", 0.0, strict=False),
        "n_neighbors": check_positive_int(options["n_neighbors"], "graph_options['n_neighbors']"),
        "n_samples": check_int(options["n_samples"], "graph_options['n_samples']", 2),
        "random_state": check_random_state(
            options["random_state"], "graph_options['random_state']"
        ),
    }
