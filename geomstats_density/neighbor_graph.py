"""The k-nearest-neighbour graph that graph distances run on, and its shortest paths.

Each vertex is joined to its ``n_neighbors`` nearest vertices (Euclidean, in the
metric's coordinates) by an edge that weighs the conformal length of the straight
segment between them, the trapezoid rule on ``n_pieces`` sub-pieces; edges that
leave the metric's domain are no edges. Hubs (a mixture's means) are joined to one
another by long edges, and the pieces into which a graph falls apart by their
shortest edges between pieces (bridges). Dijkstra's algorithm
(``scipy.sparse.csgraph``) gives distances between vertices, sources in chunks of
bounded memory, in worker processes where asked, and shortest paths, which also
start boundary-value solves (:meth:`NeighborGraph.curves`).
:class:`~geomstats_density.graph_distances.DistanceGraph` builds one over its points.
"""

import joblib
import numpy as np
import scipy.sparse
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from geomstats_density.solvers.graph import (
    DIJKSTRA_ENTRIES,
    MODE_NEIGHBORS,
    edge_lengths,
    even_in_length,
    walk_back,
)

# Bridges between pieces of a graph: from each vertex of a piece to its nearest
# vertex outside, those at most BRIDGE_SLACK times as long as the shortest, at most
# BRIDGES_PER_NEIGHBOR * n_neighbors of them (the shortest in the metric may be
# longer in coordinates); their quadrature takes at most MAX_BRIDGE_PIECES pieces.
BRIDGE_SLACK = 2.0
BRIDGES_PER_NEIGHBOR = 4
MAX_BRIDGE_PIECES = 1024


class NeighborGraph:
    """A k-nearest-neighbour graph over vertices, its edges measured in a metric.

    Parameters
    ----------
    metric : ConformalMetric
        A metric on a vector space or a Poincare model (edges are straight
        segments of its coordinates).
    vertices : ndarray, shape=[n_vertices, dim]
        Distinct points.
    n_neighbors : int
        Each vertex is joined to its ``n_neighbors`` nearest vertices.
    n_pieces : int
        Sub-pieces of the trapezoid rule that measures each edge.

    Attributes
    ----------
    tree : scipy.spatial.cKDTree
        The vertices' k-d tree.
    adjacency : scipy.sparse.csr_matrix, shape=[n_vertices, n_vertices]
        The symmetric matrix of the finite edge lengths.
    edge_scale : float
        The Euclidean length of a typical edge, the scale of long edges' quadrature.
    """

    def __init__(self, metric, vertices, n_neighbors, n_pieces):
        self.metric = metric
        self.vertices = vertices
        self.n_vertices = len(vertices)
        self.n_neighbors = n_neighbors
        self.n_pieces = n_pieces
        self.tree = cKDTree(vertices)
        self.adjacency = self._nearest_neighbor_edges()

    def _nearest_neighbor_edges(self):
        """The symmetric sparse matrix of the finite edge lengths."""
        n_vertices = self.n_vertices
        k = min(self.n_neighbors, n_vertices - 1)
        if k == 0:
            return scipy.sparse.csr_matrix((n_vertices, n_vertices))
        gaps, near = self.tree.query(self.vertices, k=k + 1)
        self.edge_scale = float(np.median(gaps[:, 1:]))
        tails = np.repeat(np.arange(n_vertices), k + 1)
        edges = np.unique(np.sort(np.stack([tails, near.reshape(-1)], -1), -1), axis=0)
        edges = edges[edges[:, 0] != edges[:, 1]]
        return self._with_edges(scipy.sparse.csr_matrix((n_vertices, n_vertices)), edges)

    def _with_edges(self, adjacency, edges, n_pieces=None):
        """``adjacency`` plus the ``edges`` ``[n, 2]`` of finite length.

        Edges leaving the domain (an infinite factor: a quality of 0) are no edges.
        """
        # An edge already there keeps its length (a sum of both would be none).
        edges = edges[np.asarray(adjacency[edges[:, 0], edges[:, 1]]).reshape(-1) == 0]
        weights = edge_lengths(
            self.metric, self.vertices, edges[:, 0], edges[:, 1], n_pieces or self.n_pieces
        )
        finite = np.isfinite(weights)
        tails, heads, weights = edges[finite, 0], edges[finite, 1], weights[finite]
        return adjacency + scipy.sparse.csr_matrix(
            (
                np.concatenate([weights, weights]),
                (np.concatenate([tails, heads]), np.concatenate([heads, tails])),
            ),
            shape=adjacency.shape,
        )

    def _with_long_edges(self, adjacency, edges):
        """:meth:`_with_edges` on sub-pieces in proportion to the longest edge.

        As many as it is typical edges long, times ``n_pieces``, at most
        ``MAX_BRIDGE_PIECES``.
        """
        longest = np.linalg.norm(np.subtract(*self.vertices[edges.T]), axis=-1).max()
        ratio = np.ceil(self.n_pieces * longest / self.edge_scale)
        return self._with_edges(
            adjacency, edges, int(np.clip(ratio, self.n_pieces, MAX_BRIDGE_PIECES))
        )

    def join_hubs(self, hubs):
        """Join each hub to its ``MODE_NEIGHBORS`` nearest other hubs by long edges.

        Parameters
        ----------
        hubs : ndarray of int, shape=[n_hubs]
            Vertex indices.
        """
        k = min(MODE_NEIGHBORS, len(hubs) - 1)
        if k < 1:
            return
        _, near = cKDTree(self.vertices[hubs]).query(self.vertices[hubs], k=k + 1)
        edges = np.stack([np.repeat(hubs, k + 1), hubs[near.reshape(-1)]], -1)
        edges = np.unique(np.sort(edges, -1), axis=0)
        edges = edges[edges[:, 0] != edges[:, 1]]
        self.adjacency = self._with_long_edges(self.adjacency, edges)

    def bridge(self, queried):
        """Join the pieces of a graph that falls apart by their shortest edges between pieces.

        In rounds (Boruvka's): each piece holding ``queried`` vertices gets
        edges from its vertices to their nearest vertex in another piece, the
        shortest and those up to ``BRIDGE_SLACK`` times as long (at most
        ``BRIDGES_PER_NEIGHBOR * n_neighbors``), each measured on as many
        sub-pieces as it is typical edges long (times ``n_pieces``), so that
        paths take the bridge shortest in the metric; a round joins each such piece
        to another, so the pieces at least halve, until one holds all the
        queried vertices or no new bridge is finite (the metric's domain separates
        them).

        Parameters
        ----------
        queried : ndarray of int, shape=[n_queried]
            The vertices whose distances are asked, to be joined.
        """
        tried = set()
        while True:
            _, labels = connected_components(self.adjacency, directed=False)
            pieces = np.unique(labels[queried])
            if len(pieces) == 1 or len(np.unique(labels)) == 1:
                return
            bridges = []
            for piece in pieces:
                inside = np.flatnonzero(labels == piece)
                outside = np.flatnonzero(labels != piece)
                gaps, near = cKDTree(self.vertices[outside]).query(self.vertices[inside])
                order = np.argsort(gaps)[: BRIDGES_PER_NEIGHBOR * self.n_neighbors]
                shortest = order[gaps[order] <= BRIDGE_SLACK * gaps[order[0]]]
                bridges.append(np.stack([inside[shortest], outside[near[shortest]]], -1))
            bridges = np.unique(np.sort(np.concatenate(bridges), -1), axis=0)
            bridges = np.array([edge for edge in bridges.tolist() if tuple(edge) not in tried])
            if len(bridges) == 0:
                return
            tried.update(map(tuple, bridges.tolist()))
            before = self.adjacency.nnz
            self.adjacency = self._with_long_edges(self.adjacency, bridges)
            if self.adjacency.nnz == before:
                return

    def distances(self, sources, targets, bar, n_jobs=1):
        """Distances ``[len(sources), len(targets)]`` between vertices, by Dijkstra.

        The sources run in chunks of ``DIJKSTRA_ENTRIES`` entries over all the
        vertices, in ``n_jobs`` worker processes when there are several chunks;
        each chunk's columns ``targets`` go straight into the result.

        Parameters
        ----------
        sources : ndarray of int, shape=[n_sources]
        targets : ndarray of int, shape=[n_targets]
            Vertex indices.
        bar : tqdm
            Progress bar, updated by the sources run.
        n_jobs : int
            Worker processes (joblib's loky backend); 1 runs in this process.

        Returns
        -------
        dist : ndarray, shape=[n_sources, n_targets]
        """
        dist = np.empty((len(sources), len(targets)))
        chunk = max(1, DIJKSTRA_ENTRIES // self.n_vertices)
        n_workers = joblib.effective_n_jobs(n_jobs)
        if n_workers > 1:
            # Several chunks per worker, for the load to even out.
            chunk = max(1, min(chunk, -(-len(sources) // (4 * n_workers))))
        chunks = [sources[begin : begin + chunk] for begin in range(0, len(sources), chunk)]
        if n_workers > 1 and len(chunks) > 1:
            # scipy's own function: the workers import scipy, not this package.
            rows = joblib.Parallel(n_jobs=n_workers, return_as="generator")(
                joblib.delayed(dijkstra)(self.adjacency, directed=True, indices=runs)
                for runs in chunks
            )
        else:
            rows = (dijkstra(self.adjacency, directed=True, indices=runs) for runs in chunks)
        begin = 0
        for arcs in rows:
            dist[begin : begin + len(arcs)] = arcs[:, targets]
            begin += len(arcs)
            bar.update(len(arcs))
        return dist

    def paths(self, sources, targets):
        """Vertex indices of the shortest path of each pair of vertices.

        Parameters
        ----------
        sources, targets : ndarray of int, shape=[n_pairs]
            Vertex indices.

        Returns
        -------
        paths : list of ndarray of int
            From ``sources[k]`` to ``targets[k]``.

        Raises
        ------
        ValueError
            If no path of finite length joins a pair.
        """
        unique, row = np.unique(sources, return_inverse=True)
        row = row.reshape(-1)
        paths = [None] * len(sources)
        chunk = max(1, DIJKSTRA_ENTRIES // self.n_vertices)
        for begin in range(0, len(unique), chunk):
            runs = unique[begin : begin + chunk]
            _, predecessors = dijkstra(
                self.adjacency, directed=True, indices=runs, return_predecessors=True
            )
            for b in np.flatnonzero((row >= begin) & (row < begin + len(runs))):
                path = walk_back(predecessors[row[b] - begin], sources[b], targets[b])
                if path is None:
                    raise ValueError(
                        f"No path of finite length joins {self.vertices[sources[b]].tolist()} "
                        f"to {self.vertices[targets[b]].tolist()} on the graph."
                    )
                paths[b] = np.asarray(path)
        return paths

    def curves(self, start, end, n_nodes):
        """Curves along the shortest paths from ``start`` to ``end``, even in length.

        The starting curves :func:`~geomstats_density.distance_batches.solve_batch`
        asks for: each endpoint is a vertex; each curve is the shortest path of its
        pair, resampled evenly in its length in the metric.

        Parameters
        ----------
        start, end : ndarray, shape=[batch, dim]
            Vertices of the graph.
        n_nodes : int

        Returns
        -------
        curves : ndarray, shape=[batch, n_nodes, dim]
        """
        _, sources = self.tree.query(start)
        _, targets = self.tree.query(end)
        curves = np.empty((len(start), n_nodes, start.shape[1]))
        for b, path in enumerate(self.paths(sources, targets)):
            polyline = self.vertices[path]
            pieces = edge_lengths(
                self.metric,
                polyline,
                np.arange(len(path) - 1),
                np.arange(1, len(path)),
                self.n_pieces,
            )
            arc = np.concatenate([[0.0], np.cumsum(pieces)])
            curves[b] = even_in_length(polyline, arc, n_nodes)
        return curves


def symmetrize(dist):
    """``dist[i, j] = dist[j, i] = min`` of the two, in place, a block of rows at a time.

    The two runs of Dijkstra's algorithm differ by rounding only; a whole
    transposed copy would double the matrix's memory.

    Parameters
    ----------
    dist : ndarray, shape=[n_points, n_points]
    """
    n_points = len(dist)
    step = max(1, DIJKSTRA_ENTRIES // n_points)
    for begin in range(0, n_points, step):
        block = slice(begin, begin + step)
        smaller = np.minimum(dist[block, begin:], dist[begin:, block].T)
        dist[block, begin:] = smaller
        dist[begin:, block] = smaller.T
