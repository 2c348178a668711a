"""Global starts: shortest paths on a grid graph with conformal edge lengths.

A local solver started on the straight line stays in the straight line's basin:
it cannot jump over a high-factor wall, and on thin high-quality sets (the paper's
cube, Example 4) it settles into zig-zags of the discrete energy. A shortest path
on a grid over the endpoints' box, whose edges weigh ``exp(f(mid) / 2) |chord|``,
lands in the right basin; the Newton solver then refines it.
"""

import itertools

import numpy as np
import scipy.sparse
import torch
from scipy.sparse.csgraph import dijkstra

# Grid points per axis: about 10^4 to 10^5 vertices in all.
GRID_SIZES = {1: 1025, 2: 129, 3: 41}


def grid_graph_curves(metric, start, end, n_nodes, grid_size=None, margin=0.5):
    """Initial curves from shortest paths on a grid graph.

    Parameters
    ----------
    metric : ConformalMetric
    start, end : ndarray, shape=[batch, dim]
        Endpoints; ``dim`` must be at most 3.
    n_nodes : int
        Nodes of each returned curve, spaced evenly in the metric's length.
    grid_size : int, optional
        Grid points per axis; 1025, 129 and 41 in dimensions 1, 2 and 3.
    margin : float
        The grid covers the endpoints' bounding box grown on every side by
        ``margin`` times the largest distance between paired endpoints.

    Returns
    -------
    nodes : ndarray, shape=[batch, n_nodes, dim]
    """
    dim = start.shape[-1]
    if dim not in GRID_SIZES:
        raise ValueError(f"Grid graphs are built in dimensions 1 to 3, not {dim}.")
    grid_size = grid_size or GRID_SIZES[dim]
    reach = margin * np.max(np.linalg.norm(end - start, axis=-1))
    low = np.minimum(start.min(0), end.min(0)) - reach
    high = np.maximum(start.max(0), end.max(0)) + reach
    axes = [np.linspace(lo, hi, grid_size) for lo, hi in zip(low, high)]
    vertices = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, dim)
    tails, heads = _grid_edges(grid_size, dim)
    with torch.no_grad():
        left = torch.from_numpy(vertices[tails])
        right = torch.from_numpy(vertices[heads])
        chord = metric.image_tensor(right) - metric.image_tensor(left)
        log_factor = metric.log_factor_or_inf(0.5 * (left + right))
        weights = (torch.exp(0.5 * log_factor) * torch.linalg.vector_norm(chord, dim=-1)).numpy()
        # Paths visit vertices too: keep edges whose ends are inside the domain.
        inside = torch.isfinite(metric.log_factor_or_inf(torch.from_numpy(vertices))).numpy()
    keep = np.isfinite(weights) & inside[tails] & inside[heads]
    graph = scipy.sparse.coo_matrix(
        (weights[keep], (tails[keep], heads[keep])), shape=(len(vertices),) * 2
    ).tocsr()
    sources = _nearest_vertex(start, low, high, grid_size)
    targets = _nearest_vertex(end, low, high, grid_size)
    unique_sources, source_row = np.unique(sources, return_inverse=True)
    _, predecessors = dijkstra(
        graph, directed=False, indices=unique_sources, return_predecessors=True
    )
    curves = np.empty((start.shape[0], n_nodes, dim))
    for b in range(start.shape[0]):
        path = _walk_back(predecessors[source_row[b]], sources[b], targets[b])
        if path is None:
            raise ValueError(
                f"No path of finite factor joins {start[b].tolist()} to "
                f"{end[b].tolist()} on the grid: the metric's domain is cut."
            )
        polyline = np.concatenate([start[b : b + 1], vertices[path[1:-1]], end[b : b + 1]])
        curves[b] = _even_in_length(metric, polyline, n_nodes)
    return curves


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


def _nearest_vertex(points, low, high, grid_size):
    """Index of the grid vertex nearest to each point."""
    cells = np.rint((points - low) / (high - low) * (grid_size - 1)).astype(int)
    return np.ravel_multi_index(tuple(cells.T), (grid_size,) * points.shape[-1])


def _walk_back(predecessors, source, target):
    path = [target]
    while path[-1] != source:
        previous = predecessors[path[-1]]
        if previous < 0:
            return None
        path.append(previous)
    return path[::-1] if len(path) > 1 else [source, target]


def _even_in_length(metric, polyline, n_nodes):
    """``n_nodes`` points along a polyline, evenly spaced in the metric's length."""
    with torch.no_grad():
        pieces = torch.sqrt(metric.curve_sq_lengths(torch.from_numpy(polyline))).numpy()
    arc = np.concatenate([[0.0], np.cumsum(pieces)])
    targets = np.linspace(0.0, arc[-1], n_nodes)
    return np.stack([np.interp(targets, arc, axis) for axis in polyline.T], axis=-1)
