"""Approximate geodesic distances of large sets: shortest paths on one graph.

A distance matrix of 10,000 points is 50 million boundary-value problems: hours of
:func:`~geomstats_density.distances.pairwise_distances`, even on a cluster. A graph
over the points gives every distance at once, approximately: each point is joined
to its ``n_neighbors`` nearest points (Euclidean, in the metric's coordinates),
each edge weighs the conformal length of its straight segment, and the distance of
two points is the length of the shortest path between them, one run of Dijkstra's
algorithm (``scipy.sparse.csgraph``) per row of the matrix (the graph is a
:class:`~geomstats_density.neighbor_graph.NeighborGraph`). Optional
``extra_points`` (samples of a density, a grid) join the graph as vertices only,
so that paths need not hop from data point to data point.

A path is a polygon in coordinates, and its edge lengths are integrals of the
metric along its segments: a graph distance is the length of a curve between the
points, an **upper bound** of the geodesic distance up to the quadrature error of
the edges (the trapezoid rule on ``n_pieces`` sub-pieces of each edge, of relative
order ``(h / l)^2 / n_pieces^2`` for an edge of length ``h`` where the log-factor
varies on the scale ``l``). What remains is the path's detour through the
vertices: it shrinks as the points densify and ``n_neighbors`` grows (more edge
directions), not as the quadrature refines. Graph distances are a metric on the
points (the triangle inequality holds exactly), symmetric, zero between equal
points. Where they must be exact, :meth:`DistanceGraph.refine` solves chosen pairs
with the metric's boundary-value solver, each started from its shortest path.
"""

import numpy as np
import torch
from scipy.sparse.csgraph import connected_components
from tqdm.auto import tqdm

from geomstats_density._validation import (
    check_bool_or_none,
    check_choice,
    check_positive_int,
)
from geomstats_density.backend import to_backend, to_numpy
from geomstats_density.distance_batches import (
    DEFAULT_BATCH_SIZE,
    PROGRESS_MIN_PAIRS,
    report_unconverged_pairs,
    solve_batch,
)
from geomstats_density.distance_tasks import check_jobs
from geomstats_density.exceptions import DomainError, warn_at_caller
from geomstats_density.neighbor_graph import NeighborGraph, symmetrize
from geomstats_density.solvers.graph import density_samples

DEFAULT_NEIGHBORS = 30
# Sub-pieces of the trapezoid rule along each edge.
DEFAULT_EDGE_PIECES = 16
# Below this many Dijkstra runs the progress bar is noise.
PROGRESS_MIN_ROWS = 1000
ON_DISCONNECTED = ("raise", "warn")


class DistanceGraph:
    """A k-nearest-neighbour graph over points, whose shortest paths approximate geodesics.

    Built once (the edges' conformal lengths are its cost), it gives distance rows
    (:meth:`rows`, :meth:`blocks`), the whole matrix (:meth:`matrix`), shortest
    paths (:meth:`path`) and exact distances of chosen pairs (:meth:`refine`).

    Parameters
    ----------
    X : array-like, shape=[n_points_x, dim]
        The points whose distances are asked: the rows of the matrix.
    Y : array-like, shape=[n_points_y, dim], optional
        The columns of the matrix; without it, the points of ``X``.
    metric : ConformalMetric
        A metric on a vector space or a Poincare model (edges are straight
        segments of its coordinates).
    n_neighbors : int
        Each vertex is joined to its ``n_neighbors`` nearest vertices.
    extra_points : array-like, shape=[n_extra, dim], or int, optional
        More vertices for the paths to run through (samples of the density, a
        grid); they are not rows nor columns of the matrix. An integer ``n``
        draws ``n`` samples of the quality's density (a
        ``DensityConformalMetric`` whose quality is built on a density that can
        sample), seeded (``random_state=0``), and takes the means of a
        Gaussian mixture as ``hubs``.
    hubs : array-like, shape=[n_hubs, dim], optional
        Vertices (a mixture's means, cluster centres) each also joined to its 32
        nearest other hubs by long edges: in high dimension a component's
        samples lie on a shell far from its mean, and geodesics between
        components run from mode to mode, which only such edges offer.
    n_pieces : int
        Sub-pieces of the trapezoid rule that measures each edge.
    bridges : bool
        Where the k-nearest-neighbour graph falls apart into pieces (clusters
        farther apart than their neighbours, as a mixture's components in high
        dimension), join them by their shortest edges between pieces, each
        measured like the others (on more sub-pieces as it is longer).
    on_disconnected : {'raise', 'warn'}
        Where no path of finite length joins two of the points (the metric's
        domain separates them, or ``bridges=False`` and the graph is too sparse):
        raise a ``ValueError``, or warn once and give them an infinite distance.
    progress : bool or None
        Show a progress bar over the Dijkstra runs; None shows it from 1000 on
        (and over the pairs of :meth:`refine` from 64 on).
    n_jobs : int
        Worker processes running Dijkstra's algorithm on chunks of rows
        (joblib's loky backend, as in scikit-learn); 1 runs it in this process,
        -1 on every core. Only the graph goes to the workers, not the metric.

    Raises
    ------
    ValueError
        If the points have the wrong shape or a NaN or infinite coordinate, an
        option is invalid, or (``on_disconnected='raise'``) the graph does not
        join all the points.
    DomainError
        If a point of ``X`` or ``Y`` is outside the metric's domain.
    NotImplementedError
        On a hypersphere or ``SO(3)``, whose points have no straight edges.

    Attributes
    ----------
    vertices : ndarray, shape=[n_vertices, dim]
        The distinct points of ``X``, ``Y`` and ``extra_points``.
    n_vertices : int
    n_edges : int
        Undirected edges of finite length.
    shape : tuple of int
        ``(n_points_x, n_points_y)``, the shape of the distance matrix.

    Notes
    -----
    Memory: the graph holds about ``n_vertices * n_neighbors`` edges; a row of
    distances is ``8 * n_points_y`` bytes, so the whole matrix of 10,000 points
    is 800 MB. :meth:`blocks` gives it a block of rows at a time.
    """

    def __init__(
        self,
        X,
        Y=None,
        *,
        metric,
        n_neighbors=DEFAULT_NEIGHBORS,
        extra_points=None,
        hubs=None,
        n_pieces=DEFAULT_EDGE_PIECES,
        bridges=True,
        on_disconnected="raise",
        progress=None,
        n_jobs=1,
    ):
        if getattr(metric, "quadrature_rule", None) is None:
            raise NotImplementedError(
                f"Graph distances join points by straight segments of coordinates: "
                f"{type(metric).__name__} on this space (a hypersphere or SO(3)) has none; "
                "use pairwise_distances."
            )
        self.n_neighbors = check_positive_int(n_neighbors, "n_neighbors")
        self.n_pieces = check_positive_int(n_pieces, "n_pieces")
        check_choice(on_disconnected, "on_disconnected", ON_DISCONNECTED)
        if not isinstance(bridges, bool):
            raise ValueError(f"bridges must be True or False, got {bridges!r}.")
        self.bridges = bridges
        check_bool_or_none(progress, "progress")
        check_jobs(n_jobs, client=None)
        self.n_jobs = int(n_jobs)
        self.metric = metric
        self.on_disconnected = on_disconnected
        self.progress = progress
        x = _point_rows(metric, X, "X")
        y = x if Y is None else _point_rows(metric, Y, "Y")
        parts = [x] if Y is None else [x, y]
        if isinstance(extra_points, (int, np.integer)) and not isinstance(extra_points, bool):
            n_samples = check_positive_int(extra_points, "extra_points")
            extra_points, mixture_means = density_samples(metric, n_samples, random_state=0)
            if mixture_means is not None:
                hubs = extra_points[mixture_means] if hubs is None else hubs
                extra_points = np.delete(extra_points, mixture_means, axis=0)
        if extra_points is not None:
            extra = _point_rows(metric, extra_points, "extra_points")
            parts.append(extra)
        if hubs is not None:
            hubs = _point_rows(metric, hubs, "hubs")
            parts.append(hubs)
        self.symmetric = Y is None
        # Equal points are one vertex: their distance is exactly 0.
        self.vertices, inverse = np.unique(np.concatenate(parts), axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        # The hubs are the last part.
        hub_vertices = None if hubs is None else inverse[len(inverse) - len(hubs) :]
        self.x_vertex = inverse[: len(x)]
        self.y_vertex = self.x_vertex if Y is None else inverse[len(x) : len(x) + len(y)]
        self._check_domain(x, "X")
        if Y is not None:
            self._check_domain(y, "Y")
        self.n_vertices = len(self.vertices)
        self.shape = (len(self.x_vertex), len(self.y_vertex))
        self._graph = NeighborGraph(metric, self.vertices, self.n_neighbors, self.n_pieces)
        if hub_vertices is not None:
            self._graph.join_hubs(hub_vertices)
        if bridges:
            self._graph.bridge(np.union1d(self.x_vertex, self.y_vertex))
        self.n_edges = self._graph.adjacency.nnz // 2
        self._check_connected()

    def rows(self, indices=None):
        """Graph distances from the points ``X[indices]`` to every point of ``Y``.

        Parameters
        ----------
        indices : array-like of int, shape=[n_rows], optional
            Rows of the matrix; all of them by default.

        Returns
        -------
        dist : array-like, shape=[n_rows, n_points_y]
        """
        indices = self._indices(indices, self.shape[0], "indices")
        with self._bar(len(indices)) as bar:
            dist = self._graph.distances(self.x_vertex[indices], self.y_vertex, bar, self.n_jobs)
        return to_backend(dist)

    def blocks(self, block_size=256):
        """The matrix ``block_size`` rows at a time: memory of one block only.

        Parameters
        ----------
        block_size : int

        Yields
        ------
        indices : ndarray of int, shape=[n_rows]
            Rows of this block, in order.
        dist : array-like, shape=[n_rows, n_points_y]
        """
        block_size = check_positive_int(block_size, "block_size")
        n_rows = self.shape[0]
        with self._bar(n_rows) as bar:
            for begin in range(0, n_rows, block_size):
                indices = np.arange(begin, min(begin + block_size, n_rows))
                dist = self._graph.distances(
                    self.x_vertex[indices], self.y_vertex, bar, self.n_jobs
                )
                yield indices, to_backend(dist)

    def matrix(self):
        """All the graph distances, ``[n_points_x, n_points_y]``.

        Dijkstra runs from the smaller of the two sets. Without ``Y`` the matrix
        is symmetric (each entry the smaller of its two runs, which differ by
        rounding only) with a zero diagonal.

        Returns
        -------
        dist : array-like, shape=[n_points_x, n_points_y]
        """
        with self._bar(min(self.shape)) as bar:
            if self.shape[1] < self.shape[0]:
                dist = self._graph.distances(
                    self.y_vertex, self.x_vertex, bar, self.n_jobs
                ).T.copy()
            else:
                dist = self._graph.distances(self.x_vertex, self.y_vertex, bar, self.n_jobs)
        if self.symmetric:
            symmetrize(dist)
        return to_backend(dist)

    def path(self, i, j):
        """The shortest path from ``X[i]`` to ``Y[j]``: its vertices in order.

        Parameters
        ----------
        i, j : int

        Returns
        -------
        nodes : array-like, shape=[n_path, dim]
            From ``X[i]`` to ``Y[j]``; one node if the points are equal.
        """
        [i] = self._indices([i], self.shape[0], "i")
        [j] = self._indices([j], self.shape[1], "j")
        [path] = self._graph.paths(self.x_vertex[[i]], self.y_vertex[[j]])
        return to_backend(self.vertices[path])

    def refine(self, rows, cols, batch_size=DEFAULT_BATCH_SIZE):
        """Exact distances of the pairs ``(X[rows[k]], Y[cols[k]])``.

        Each pair is solved by the metric's boundary-value solver
        (``metric.log_solver``), started from its shortest path on the graph,
        ``batch_size`` pairs per vectorised solve, in this process; one
        :class:`~geomstats_density.GeodesicConvergenceWarning` counts the pairs
        that did not converge, as in
        :func:`~geomstats_density.distances.pairwise_distances`. The progress
        bar (the graph's ``progress``) counts pairs, shown from 64 on.

        Parameters
        ----------
        rows, cols : array-like of int, shape=[n_pairs]
        batch_size : int

        Returns
        -------
        dist : array-like, shape=[n_pairs]
        """
        rows = self._indices(rows, self.shape[0], "rows")
        cols = self._indices(cols, self.shape[1], "cols")
        if rows.shape != cols.shape:
            raise ValueError(f"rows and cols differ in length: {len(rows)} and {len(cols)}.")
        batch_size = check_positive_int(batch_size, "batch_size")
        solver = self.metric.log_solver
        if not hasattr(solver, "solve") or not hasattr(solver, "n_nodes"):
            raise ValueError(
                f"metric.log_solver ({type(solver).__name__}) cannot start from given "
                "curves: refine needs a boundary-value solver of this package."
            )
        sources, targets = self.x_vertex[rows], self.y_vertex[cols]
        dist = np.zeros(len(rows))
        status = np.zeros(len(rows), dtype=int)
        first_message = None
        show = self.progress if self.progress is not None else len(rows) >= PROGRESS_MIN_PAIRS
        with tqdm(total=len(rows), desc="exact distances", unit="pair", disable=not show) as bar:
            for begin in range(0, len(rows), batch_size):
                batch = slice(begin, begin + batch_size)
                dist[batch], status[batch], message = solve_batch(
                    self.metric, self._graph, self.vertices, sources[batch], targets[batch]
                )
                first_message = first_message or message
                bar.update(len(dist[batch]))
        report_unconverged_pairs(
            solver, status, first_message, getattr(solver, "on_failure", "warn")
        )
        return to_backend(dist)

    # ------------------------------------------------------------------
    def _check_domain(self, points, name):
        try:
            self.metric.log_factor_tensor(torch.from_numpy(points))
        except DomainError as error:
            raise DomainError(f"{name} has a point outside the metric's domain: {error}") from None

    def _check_connected(self):
        _, labels = connected_components(self._graph.adjacency, directed=False)
        queried = np.union1d(self.x_vertex, self.y_vertex)
        pieces, sizes = np.unique(labels[queried], return_counts=True)
        if len(pieces) == 1:
            return
        other = "X" if self.symmetric else "Y"
        apart = np.flatnonzero(labels[self.x_vertex] != labels[self.y_vertex[0]])
        pair = f"X[{apart[0]}] to {other}[0]"
        if len(apart) == 0:
            apart = np.flatnonzero(labels[self.y_vertex] != labels[self.x_vertex[0]])
            pair = f"X[0] to {other}[{apart[0]}]"
        if self.bridges:
            remedy = (
                ", not even across the shortest edges between the pieces (bridges): the "
                "metric's domain separates them (a factor infinite, a quality 0, on every "
                "bridge). If a path around exists, give extra_points along it; if not, "
                "their distance is infinite"
            )
        else:
            remedy = (
                f". Pass bridges=True, raise n_neighbors (now {self.n_neighbors}) or give "
                "extra_points between the pieces; if the metric's domain separates them "
                "(a factor infinite, a quality 0, between them), their distance is infinite"
            )
        message = (
            f"The graph over the points falls apart into {len(pieces)} pieces (holding "
            f"{', '.join(str(size) for size in sorted(sizes, reverse=True))} of the "
            f"{len(queried)} distinct points): no path of finite length joins {pair}"
            f"{remedy}: on_disconnected='warn' gives inf there."
        )
        if self.on_disconnected == "raise":
            raise ValueError(message)
        warn_at_caller(message, UserWarning)

    def _bar(self, n_runs):
        show = self.progress if self.progress is not None else n_runs >= PROGRESS_MIN_ROWS
        return tqdm(total=n_runs, desc="graph distances", unit="row", disable=not show)

    @staticmethod
    def _indices(indices, size, name):
        """Integer indices in ``[-size, size)``, as a flat array, or a ValueError."""
        if indices is None:
            return np.arange(size)
        array = np.asarray(indices)
        if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
            raise ValueError(f"{name} must be a 1-D array of integers, got {indices!r}.")
        array = array.astype(int)
        if array.size and (array.min() < -size or array.max() >= size):
            raise ValueError(f"{name} must lie in [-{size}, {size}), got {indices!r}.")
        return np.where(array < 0, array + size, array)


def graph_distances(
    X,
    Y=None,
    *,
    metric,
    n_neighbors=DEFAULT_NEIGHBORS,
    extra_points=None,
    hubs=None,
    n_pieces=DEFAULT_EDGE_PIECES,
    refine=None,
    bridges=True,
    on_disconnected="raise",
    progress=None,
    n_jobs=1,
):
    """Approximate geodesic distance matrix: shortest paths on a graph over the points.

    The fast counterpart of :func:`~geomstats_density.distances.pairwise_distances`
    for large sets (see :class:`DistanceGraph`): every entry is the length of a
    curve between the points, an upper bound of the geodesic distance up to the
    edges' quadrature error, exact only where ``refine`` asks.

    Parameters
    ----------
    X : array-like, shape=[n_points_x, dim]
    Y : array-like, shape=[n_points_y, dim], optional
        Without it, the distances between the points of ``X``.
    metric : ConformalMetric
    n_neighbors, extra_points, hubs, n_pieces, bridges, on_disconnected, progress, n_jobs
        As in :class:`DistanceGraph`.
    refine : int or array-like of int, shape=[n_pairs, 2], optional
        Entries to solve exactly (:meth:`DistanceGraph.refine`, each started from
        its shortest path): an integer ``k`` refines, in each row, the ``k``
        nearest other points by graph distance; an array lists ``(i, j)`` pairs.
        Without ``Y`` the matrix stays symmetric.

    Returns
    -------
    dist : array-like, shape=[n_points_x, n_points_y]
        Memory: ``8 * n_points_x * n_points_y`` bytes (800 MB for 10,000
        points); :meth:`DistanceGraph.blocks` gives a block of rows at a time.

    Raises
    ------
    ValueError
        As :class:`DistanceGraph`, or for a ``refine`` that is neither a
        non-negative integer nor an array of index pairs.
    """
    graph = DistanceGraph(
        X,
        Y,
        metric=metric,
        n_neighbors=n_neighbors,
        extra_points=extra_points,
        hubs=hubs,
        n_pieces=n_pieces,
        bridges=bridges,
        on_disconnected=on_disconnected,
        progress=progress,
        n_jobs=n_jobs,
    )
    dist = to_numpy(graph.matrix())
    if refine is None:
        return to_backend(dist)
    rows, cols = _refined_pairs(refine, dist, graph.symmetric)
    exact = to_numpy(graph.refine(rows, cols))
    dist[rows, cols] = exact
    if graph.symmetric:
        dist[cols, rows] = exact
    return to_backend(dist)


def _refined_pairs(refine, dist, symmetric):
    """Row and column indices of the entries ``refine`` asks to solve exactly."""
    if isinstance(refine, (int, np.integer)) and not isinstance(refine, bool):
        if refine < 0:
            raise ValueError(f"refine must be a non-negative integer, got {refine}.")
        # The k nearest points of each row at a positive distance (not itself).
        k = min(int(refine), dist.shape[1])
        if k == 0:
            return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
        ranked = np.where(dist > 0, dist, np.inf)
        cols = np.argpartition(ranked, k - 1, axis=1)[:, :k].reshape(-1)
        rows = np.repeat(np.arange(len(dist)), k)
        keep = np.isfinite(ranked[rows, cols])
        rows, cols = rows[keep], cols[keep]
    else:
        pairs = np.asarray(refine)
        if pairs.ndim != 2 or pairs.shape[1] != 2 or not np.issubdtype(pairs.dtype, np.integer):
            raise ValueError(
                "refine must be a number of nearest points per row or an integer array "
                f"of (row, column) pairs, shape [n_pairs, 2]; got {refine!r}."
            )
        rows, cols = pairs[:, 0], pairs[:, 1]
        for name, index, size in (("rows", rows, dist.shape[0]), ("columns", cols, dist.shape[1])):
            if index.size and (index.min() < 0 or index.max() >= size):
                raise ValueError(f"refine has {name} outside [0, {size}).")
    if symmetric:
        pairs = np.unique(np.sort(np.stack([rows, cols], -1), -1), axis=0)
        pairs = pairs[pairs[:, 0] != pairs[:, 1]]
        rows, cols = pairs[:, 0], pairs[:, 1]
    return rows, cols


def _point_rows(metric, points, name):
    """Validated coordinates ``[n_points, n_coords]``, a float64 numpy array."""
    coordinates = np.ascontiguousarray(to_numpy(metric.points_tensor(points, name)))
    if coordinates.ndim != 2 or len(coordinates) == 0:
        raise ValueError(
            f"{name} must have shape [n_points >= 1, dim], got coordinates of shape "
            f"{tuple(coordinates.shape)}."
        )
    return coordinates
