"""Global starts: shortest paths on graphs whose edges weigh their conformal lengths.

A local solver started on the straight line stays in the straight line's basin:
it cannot jump over a high-factor wall, it stays in a shallow local minimum when
the density's modes are off the line, and on thin high-quality sets (the paper's
cube, Example 4) it settles into zig-zags of the discrete energy. A shortest path
on a graph over the space lands in the right basin; the Newton solver then
refines it (:class:`~geomstats_density.solvers.starts.GlobalStart` chooses
between the line and a graph).

The graph's vertices are a grid over the endpoints' box (dimensions 1 to 3), or a
cloud of points: samples of the quality's density, or points the user gives
(any dimension), each joined to its nearest neighbours. A cloud of samples of a
Gaussian mixture also holds the mixture's means, each joined to the nearest other
means: in high dimension the samples of a component lie on a thin shell far from
its mean and from the other components, so that a nearest-neighbour graph over
them falls apart into one piece per component and its paths run through the
shells, not the modes; the edges between means are the routes from mode to mode.
Every edge is a straight segment weighing its conformal length
``int exp(f / 2) |d phi|`` (trapezoid rule on a few sub-pieces; infinite, hence
dropped, where the segment leaves the metric's domain). For each batch of endpoint
pairs the endpoints join the graph as vertices, linked to their nearest vertices
and to each other (so the straight line is always a candidate), and Dijkstra's
algorithm (``scipy.sparse.csgraph``) runs once per distinct start. The path is
resampled evenly in the metric's length.
"""

import itertools

import numpy as np
import scipy.sparse
import torch
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from geomstats_density.backend import DTYPE, to_numpy
from geomstats_density.densities import GaussianMixture
from geomstats_density.quality import Product

# Grid points per axis: about 10^4 to 10^5 vertices in all.
GRID_SIZES = {1: 1025, 2: 129, 3: 41}
# Sub-pieces of the trapezoid rule along an edge: grid edges are short; cloud
# edges are longer; the edge joining a pair's endpoints can cross a whole valley.
GRID_EDGE_PIECES = 2
CLOUD_EDGE_PIECES = 4
PAIR_EDGE_PIECES = 32
# Other means each mean of a Gaussian mixture is joined to in a cloud graph.
MODE_NEIGHBORS = 32
# Edges whose conformal lengths are evaluated in one torch call.
EDGE_CHUNK = 1 << 15
# Entries of Dijkstra's dense [sources, vertices] output held at once.
DIJKSTRA_ENTRIES = 1 << 22


def straight_edge_lengths(metric, left, right, n_pieces):
    """Conformal lengths of straight segments, infinite where one leaves the domain.

    ``int_0^1 exp(f(z(t)) / 2) |d/dt phi(z(t))| dt`` along ``z(t) = left + t
    (right - left)``, by the trapezoid rule on ``n_pieces`` equal sub-pieces.

    Parameters
    ----------
    metric : ConformalMetric
    left, right : ndarray, shape=[n_edges, dim]
    n_pieces : int

    Returns
    -------
    lengths : ndarray, shape=[n_edges]
    """
    n_edges = len(left)
    return edge_lengths(
        metric,
        np.concatenate([left, right]),
        np.arange(n_edges),
        np.arange(n_edges, 2 * n_edges),
        n_pieces,
    )


def edge_lengths(metric, vertices, tails, heads, n_pieces):
    """Conformal lengths of straight edges between vertices, as :func:`straight_edge_lengths`.

    The factor and the image of each vertex are evaluated once, however many
    edges it ends: a grid vertex ends 8 edges in 2-D, and its edges' two-piece
    rule then costs 2.4 times fewer evaluations than edge by edge.

    Parameters
    ----------
    metric : ConformalMetric
    vertices : ndarray, shape=[n_vertices, dim]
    tails, heads : ndarray of int, shape=[n_edges]
    n_pieces : int

    Returns
    -------
    lengths : ndarray, shape=[n_edges]
    """
    if len(tails) == 0:
        return np.zeros(0)
    points = torch.from_numpy(vertices)
    inner_times = torch.linspace(0.0, 1.0, n_pieces + 1, dtype=DTYPE)[1:-1, None]
    lengths = []
    with torch.no_grad():
        vertex_root, vertex_image = _root_factors_and_images(metric, points)
        for begin in range(0, len(tails), EDGE_CHUNK):
            tail = torch.as_tensor(tails[begin : begin + EDGE_CHUNK], dtype=torch.long)
            head = torch.as_tensor(heads[begin : begin + EDGE_CHUNK], dtype=torch.long)
            roots, images = [vertex_root[tail, None]], [vertex_image[tail, None]]
            if n_pieces > 1:
                start, stop = points[tail][:, None], points[head][:, None]
                inner_root, inner_image = _root_factors_and_images(
                    metric, start + inner_times * (stop - start)
                )
                roots.append(inner_root)
                images.append(inner_image)
            root = torch.cat([*roots, vertex_root[head, None]], 1)
            image = torch.cat([*images, vertex_image[head, None]], 1)
            pieces = torch.linalg.vector_norm(image[:, 1:] - image[:, :-1], dim=-1)
            mean_root = 0.5 * (root[:, 1:] + root[:, :-1])
            lengths.append(to_numpy((pieces * mean_root).sum(-1)))
    return np.concatenate(lengths)


def _root_factors_and_images(metric, points):
    """``exp(f / 2)`` (infinite outside the domain) and ``phi`` at points ``[..., dim]``.

    Both are computed in chunks of ``EDGE_CHUNK`` points.
    """
    flat = points.reshape(-1, points.shape[-1])
    roots, images = [], []
    for begin in range(0, len(flat), EDGE_CHUNK):
        chunk = flat[begin : begin + EDGE_CHUNK]
        roots.append(torch.exp(0.5 * metric.log_factor_or_inf(chunk)))
        images.append(metric.image_tensor(chunk))
    root, image = torch.cat(roots), torch.cat(images)
    return root.reshape(points.shape[:-1]), image.reshape(*points.shape[:-1], image.shape[-1])


class ConformalGraph:
    """A graph over points of the space, with conformal edge lengths.

    Built once, it serves any number of endpoint pairs (:meth:`curves`).

    Parameters
    ----------
    metric : ConformalMetric
    vertices : ndarray, shape=[n_vertices, dim]
    tails, heads : ndarray of int, shape=[n_edges]
        Undirected edges, each once.
    n_pieces : int
        Sub-pieces of the trapezoid rule along each edge.
    n_attach : int
        Nearest vertices each endpoint of a query is joined to.
    long_edges : ndarray of int, shape=[n_long, 2], optional
        More undirected edges, weighed on ``PAIR_EDGE_PIECES`` sub-pieces: long
        edges that may cross a valley.
    """

    def __init__(self, metric, vertices, tails, heads, n_pieces, n_attach, long_edges=None):
        weights = edge_lengths(metric, vertices, tails, heads, n_pieces)
        if long_edges is not None and len(long_edges):
            long_weights = edge_lengths(
                metric, vertices, long_edges[:, 0], long_edges[:, 1], PAIR_EDGE_PIECES
            )
            tails = np.concatenate([tails, long_edges[:, 0]])
            heads = np.concatenate([heads, long_edges[:, 1]])
            weights = np.concatenate([weights, long_weights])
        finite = np.isfinite(weights)
        self.metric = metric
        self.vertices = vertices
        self.tails, self.heads, self.weights = tails[finite], heads[finite], weights[finite]
        self.n_pieces = n_pieces
        self.n_attach = min(n_attach, len(vertices))
        self._tree = cKDTree(vertices)

    @property
    def n_vertices(self):
        """Number of vertices."""
        return len(self.vertices)

    @property
    def n_edges(self):
        """Number of undirected edges kept: those of finite length."""
        return len(self.weights)

    def curves(self, start, end, n_nodes):
        """Shortest paths from ``start`` to ``end``, as curves of ``n_nodes`` nodes.

        Parameters
        ----------
        start, end : ndarray, shape=[batch, dim]
            Distinct endpoints of each pair.
        n_nodes : int
            Nodes of each curve, spaced evenly in the metric's length.

        Returns
        -------
        nodes : ndarray, shape=[batch, n_nodes, dim]

        Raises
        ------
        ValueError
            If no path of finite length joins a pair.
        """
        batch = start.shape[0]
        endpoints, index = np.unique(np.concatenate([start, end]), axis=0, return_inverse=True)
        index = self.n_vertices + index.reshape(-1)
        sources, targets = index[:batch], index[batch:]
        graph = self._with_endpoints(endpoints, sources, targets)
        vertices = np.concatenate([self.vertices, endpoints])
        unique_sources, source_row = np.unique(sources, return_inverse=True)
        chunk = max(1, DIJKSTRA_ENTRIES // len(vertices))
        curves = np.empty((batch, n_nodes, start.shape[1]))
        for begin in range(0, len(unique_sources), chunk):
            arcs, predecessors = dijkstra(
                graph,
                directed=False,
                indices=unique_sources[begin : begin + chunk],
                return_predecessors=True,
            )
            for b in np.flatnonzero((source_row >= begin) & (source_row < begin + chunk)):
                row = source_row[b] - begin
                path = walk_back(predecessors[row], sources[b], targets[b])
                if path is None:
                    raise ValueError(
                        f"No path of finite length joins {start[b].tolist()} to "
                        f"{end[b].tolist()} on the graph: the metric's domain is cut "
                        "between them, or the straight segment and the graph's edges "
                        "all leave it (give more graph points or neighbours)."
                    )
                curves[b] = even_in_length(vertices[path], arcs[row, path], n_nodes)
        return curves

    def _with_endpoints(self, endpoints, sources, targets):
        """The graph with the endpoints joined to their nearest vertices and pairs."""
        n_endpoints = len(endpoints)
        _, near = self._tree.query(endpoints, k=self.n_attach)
        near = near.reshape(n_endpoints, self.n_attach)
        attach_tails = np.repeat(self.n_vertices + np.arange(n_endpoints), self.n_attach)
        attach_heads = near.reshape(-1)
        attach_weights = straight_edge_lengths(
            self.metric,
            endpoints[attach_tails - self.n_vertices],
            self.vertices[attach_heads],
            self.n_pieces,
        )
        pairs = np.unique(np.sort(np.stack([sources, targets], axis=-1), axis=-1), axis=0)
        pair_weights = straight_edge_lengths(
            self.metric,
            endpoints[pairs[:, 0] - self.n_vertices],
            endpoints[pairs[:, 1] - self.n_vertices],
            PAIR_EDGE_PIECES,
        )
        tails = np.concatenate([self.tails, attach_tails, pairs[:, 0]])
        heads = np.concatenate([self.heads, attach_heads, pairs[:, 1]])
        weights = np.concatenate([self.weights, attach_weights, pair_weights])
        finite = np.isfinite(weights)
        size = self.n_vertices + n_endpoints
        # Explicit zeros stay edges: an endpoint may coincide with a vertex.
        return scipy.sparse.coo_matrix(
            (weights[finite], (tails[finite], heads[finite])), shape=(size, size)
        ).tocsr()


def grid_graph(metric, start, end, grid_size=None, margin=0.5):
    """A grid graph over the endpoints' box, each vertex joined to its ``3^dim - 1`` neighbours.

    Parameters
    ----------
    metric : ConformalMetric
    start, end : ndarray, shape=[batch, dim]
        Endpoints the grid must cover; ``dim`` must be at most 3.
    grid_size : int, optional
        Grid points per axis; 1025, 129 and 41 in dimensions 1, 2 and 3.
    margin : float
        The grid covers the endpoints' bounding box grown on every side by
        ``margin`` times the largest distance between paired endpoints.

    Returns
    -------
    graph : ConformalGraph
    """
    dim = start.shape[-1]
    if dim not in GRID_SIZES:
        raise ValueError(f"Grid graphs are built in dimensions 1 to 3, not {dim}.")
    grid_size = grid_size or GRID_SIZES[dim]
    if grid_size < 2:
        raise ValueError(f"grid_size must be at least 2, got {grid_size}.")
    reach = margin * np.max(np.linalg.norm(end - start, axis=-1))
    low = np.minimum(start.min(0), end.min(0)) - reach
    high = np.maximum(start.max(0), end.max(0)) + reach
    axes = [np.linspace(lo, hi, grid_size) for lo, hi in zip(low, high)]
    vertices = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, dim)
    tails, heads = _grid_edges(grid_size, dim)
    return ConformalGraph(metric, vertices, tails, heads, GRID_EDGE_PIECES, n_attach=3**dim)


def point_graph(metric, points, n_neighbors=10, hubs=None):
    """A k-nearest-neighbour graph over a cloud of points.

    Parameters
    ----------
    metric : ConformalMetric
    points : ndarray, shape=[n_points, dim]
        Vertices: samples of the density, or any points where curves may run.
    n_neighbors : int
        Each point is joined to its ``n_neighbors`` nearest points (Euclidean),
        and so is each endpoint of a query.
    hubs : ndarray of int, optional
        Indices of points (e.g. the means of a mixture) each also joined to its
        ``MODE_NEIGHBORS`` nearest other hubs, by edges weighed as long edges.

    Returns
    -------
    graph : ConformalGraph
    """
    if points.ndim != 2 or len(points) < 2:
        raise ValueError(f"Graph points must have shape [n_points >= 2, dim], got {points.shape}.")
    if n_neighbors < 1:
        raise ValueError(f"n_neighbors must be positive, got {n_neighbors}.")
    k = min(n_neighbors, len(points) - 1)
    _, near = cKDTree(points).query(points, k=k + 1)
    tails = np.repeat(np.arange(len(points)), k + 1)
    heads = near.reshape(-1)
    edges = np.unique(np.sort(np.stack([tails, heads], axis=-1), axis=-1), axis=0)
    edges = edges[edges[:, 0] != edges[:, 1]]
    long_edges = None
    if hubs is not None and len(hubs) > 1:
        hubs = np.asarray(hubs)
        k_hubs = min(MODE_NEIGHBORS, len(hubs) - 1)
        _, near = cKDTree(points[hubs]).query(points[hubs], k=k_hubs + 1)
        pairs = np.stack([np.repeat(hubs, k_hubs + 1), hubs[near.reshape(-1)]], axis=-1)
        long_edges = np.unique(np.sort(pairs, axis=-1), axis=0)
        long_edges = long_edges[long_edges[:, 0] != long_edges[:, 1]]
        # Hub pairs that are also nearest neighbours keep the long edge only.
        short = edges[:, 0] * len(points) + edges[:, 1]
        edges = edges[~np.isin(short, long_edges[:, 0] * len(points) + long_edges[:, 1])]
    return ConformalGraph(
        metric,
        points,
        edges[:, 0],
        edges[:, 1],
        CLOUD_EDGE_PIECES,
        n_attach=n_neighbors,
        long_edges=long_edges,
    )


def quality_density(metric):
    """The density a density-conformal metric's quality is read from, or None.

    Looks through products of qualities for the first factor built on a density
    (:class:`~geomstats_density.quality.RealismIndex`,
    :class:`~geomstats_density.quality.Typicality`,
    :class:`~geomstats_density.quality.DensityRatio`).
    """
    quality = getattr(metric, "log_quality", None)
    factors = quality.factors if isinstance(quality, Product) else (quality,)
    for factor in factors:
        density = getattr(factor, "density", None)
        if density is not None:
            return density
    return None


def density_samples(metric, n_samples, random_state):
    """Samples of the quality's density, the vertices of a cloud graph.

    Returns
    -------
    points : ndarray, shape=[n_points, dim]
        ``n_samples`` samples, followed by the means of a Gaussian mixture of
        several components.
    hubs : ndarray of int or None
        Indices of those means among the points (:func:`point_graph`).

    Raises
    ------
    ValueError
        If the metric's quality is not built on a density that can sample.
    """
    density = quality_density(metric)
    if density is None:
        raise ValueError(
            "A graph start in dimension above 3 needs graph_points, or a "
            "DensityConformalMetric whose quality is built on a density "
            "(RealismIndex, Typicality, DensityRatio) that can sample."
        )
    samples = to_numpy(density.sample(n_samples, random_state=random_state))
    if isinstance(density, GaussianMixture) and density.means.shape[0] > 1:
        means = to_numpy(density.means)
        hubs = len(samples) + np.arange(len(means))
        return np.concatenate([samples, means]), hubs
    return samples, None


def _grid_edges(grid_size, dim):
    """Edges of the grid joining each vertex to its ``3^dim - 1`` neighbours."""
    index = np.arange(grid_size**dim).reshape((grid_size,) * dim)
    tails, heads = [], []
    for offset in itertools.product((-1, 0, 1), repeat=dim):
        if offset <= (0,) * dim:
            continue  # each undirected edge once
        tail = tuple(slice(max(0, -o), grid_size - max(0, o)) for o in offset)
        head = tuple(slice(max(0, o), grid_size - max(0, -o)) for o in offset)
        tails.append(index[tail].ravel())
        heads.append(index[head].ravel())
    return np.concatenate(tails), np.concatenate(heads)


def walk_back(predecessors, source, target):
    """Vertices of the shortest path from ``source`` to ``target``, or None.

    Parameters
    ----------
    predecessors : ndarray of int, shape=[n_vertices]
        One row of ``scipy.sparse.csgraph``'s predecessor matrix (negative: none).
    source, target : int

    Returns
    -------
    path : list of int or None
        From ``source`` to ``target``; None where ``target`` is unreachable.
    """
    path = [target]
    while path[-1] != source:
        previous = predecessors[path[-1]]
        if previous < 0:
            return None
        path.append(previous)
    return path[::-1]


def even_in_length(polyline, arc, n_nodes):
    """``n_nodes`` points along a polyline at even steps of its arc length.

    Parameters
    ----------
    polyline : ndarray, shape=[n_vertices, dim]
    arc : ndarray, shape=[n_vertices]
        Increasing arc length at each vertex, from 0.
    n_nodes : int

    Returns
    -------
    nodes : ndarray, shape=[n_nodes, dim]
        Its ends are the polyline's.
    """
    targets = np.linspace(0.0, arc[-1], n_nodes)
    piece = np.clip(np.searchsorted(arc, targets, side="right") - 1, 0, len(arc) - 2)
    span = arc[piece + 1] - arc[piece]
    weight = np.divide(targets - arc[piece], span, out=np.zeros(n_nodes), where=span > 0)
    nodes = (1 - weight)[:, None] * polyline[piece] + weight[:, None] * polyline[piece + 1]
    nodes[0], nodes[-1] = polyline[0], polyline[-1]
    return nodes
