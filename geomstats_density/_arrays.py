"""The one bridge between geomstats backend arrays and torch tensors.

User callables (log-factors, log-qualities, maps ``phi``) always see float64 torch
tensors; metric methods take and return arrays of the active geomstats backend.
Under geomstats' pytorch backend the bridge is the identity, so autograd graphs
flow through (geomstats' own autodiff-based solvers rely on that); under the numpy
backend it copies nothing either (``torch.from_numpy`` shares memory).
"""

import contextlib

import geomstats.backend as gs
import numpy as np
import torch

from geomstats_density.exceptions import DomainError

DTYPE = torch.float64

# Below this many scalars per evaluation, torch's intra-op threads cost more than
# they save (thread wake-ups dominate tiny kernels on small CPUs).
SMALL_PROBLEM_SIZE = 200_000

_PYTORCH_BACKEND = gs.__name__.endswith("pytorch")


def to_torch(array):
    """Convert an array-like of the active backend to a float64 torch tensor.

    Tensors keep their autograd graph; other array-likes are wrapped without copy
    where possible.
    """
    if isinstance(array, torch.Tensor):
        return array if array.dtype == DTYPE else array.to(DTYPE)
    return torch.from_numpy(np.asarray(array, dtype=np.float64))


def to_numpy(array):
    """Convert an array-like or tensor to a float64 numpy array (detached)."""
    if isinstance(array, torch.Tensor):
        return array.detach().cpu().numpy().astype(np.float64, copy=False)
    return np.asarray(array, dtype=np.float64)


def to_backend(array):
    """Convert a tensor or numpy array to an array of the active geomstats backend.

    Under numpy a 0-d result is a numpy scalar (``numpy.float64``), as geomstats'
    own metrics return for single points (numpy reductions do); under pytorch it
    is a 0-d tensor, as theirs.
    """
    if _PYTORCH_BACKEND:
        if isinstance(array, torch.Tensor):
            return array
        return torch.from_numpy(np.asarray(array, dtype=np.float64))
    array = to_numpy(array)
    return array[()] if array.ndim == 0 else array


def tracks_gradients(*arrays):
    """Whether autograd records operations on any of ``arrays`` under the pytorch backend."""
    return (
        _PYTORCH_BACKEND
        and torch.is_grad_enabled()
        and any(isinstance(array, torch.Tensor) and array.requires_grad for array in arrays)
    )


def check_points(points, dim, name="point"):
    """Validate an array of points of shape ``[..., dim]`` and return it as a tensor.

    Raises
    ------
    ValueError
        If the last axis is not ``dim`` or a coordinate is NaN or infinite.
    """
    tensor = to_torch(points)
    if tensor.ndim == 0 or tensor.shape[-1] != dim:
        raise ValueError(f"{name} must have shape [..., {dim}], got shape {tuple(tensor.shape)}.")
    finite = torch.isfinite(tensor)
    if not bool(finite.all()):
        bad = tuple(int(i) for i in torch.nonzero(~finite)[0])
        raise ValueError(
            f"{name} has a NaN or infinite coordinate at index {bad}: "
            f"{tensor[bad[:-1]].detach().tolist()}."
        )
    return tensor


def check_scalar_field(values, points, name, point_ndim=1):
    """Check a user callable returned a tensor with one value per point.

    Parameters
    ----------
    values : object
        What the callable returned.
    points : torch.Tensor, shape=[...] + point_shape
        What it was given.
    name : str
        Name of the callable, for the error message.
    point_ndim : int
        Number of axes of one point.

    Raises
    ------
    ValueError
        If ``values`` is not a tensor of shape ``points.shape[:-point_ndim]``.
    """
    if not isinstance(values, torch.Tensor):
        raise ValueError(f"{name} must return a torch tensor, got {type(values).__name__}.")
    expected = tuple(points.shape[: points.ndim - point_ndim])
    if tuple(values.shape) != expected:
        raise ValueError(
            f"{name} must return one value per point: for points of shape "
            f"{tuple(points.shape)} it returned shape {tuple(values.shape)}, "
            f"expected {expected}."
        )


@contextlib.contextmanager
def user_callable(name, function):
    """Name a user callable that calls numpy on the tensors it is given.

    Autograd cannot follow numpy: on a tensor that requires grad, ``np.exp(z)``
    fails deep inside the callable with torch's "Can't call numpy() on Tensor
    that requires grad". That error is re-raised as a ``TypeError`` saying which
    callable it came from and what to write instead.

    Parameters
    ----------
    name : str
        The callable's role (``log_factor``, ``log_quality``, ``phi``, ...).
    function : callable
        The user's callable, named in the message.

    Raises
    ------
    TypeError
        If the callable called numpy on a tensor that requires grad.
    """
    try:
        yield
    except RuntimeError as error:
        if "numpy()" not in str(error):
            raise
        label = getattr(function, "__qualname__", None) or type(function).__name__
        raise TypeError(
            f"{name} ({label}) called numpy on the torch tensor it was given (as "
            "np.exp(z) does), which autograd cannot differentiate: user callables "
            "receive float64 torch tensors and must compute with torch operations "
            "(torch.exp, torch.log, torch.linalg.vector_norm, ...)."
        ) from error


def first_invalid(valid, values, points):
    """Value and point at the first ``False`` of ``valid``, for error messages."""
    index = tuple(int(i) for i in torch.nonzero(~valid)[0])
    return values[index].item(), points[index].detach().tolist()


def broadcast_pair(point_a, point_b):
    """Broadcast two point tensors against each other, shape ``[..., dim]``."""
    try:
        return torch.broadcast_tensors(point_a, point_b)
    except RuntimeError as error:
        raise ValueError(
            f"Cannot broadcast points of shapes {tuple(point_a.shape)} and {tuple(point_b.shape)}."
        ) from error


def unit_vectors(vectors):
    """``vectors`` divided by their norms along the last axis; zero where the norm is."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def solve_positive_definite(matrix, rhs):
    """``matrix^{-1} rhs`` for symmetric positive definite (metric) matrices, by Cholesky.

    Not ``torch.linalg.solve``: its batched LU fails in the MKL of torch's CPU
    wheels for batches of matrices of order 256 or more on several threads ("Pivots
    given to lu_solve must all be greater or equal to 1"), and a metric matrix is
    positive definite anyway.

    Parameters
    ----------
    matrix : torch.Tensor, shape=[..., n, n]
    rhs : torch.Tensor, shape=[..., n, k]

    Returns
    -------
    solution : torch.Tensor, shape=[..., n, k]

    Raises
    ------
    DomainError
        If some matrix is not positive definite.
    """
    factor, info = torch.linalg.cholesky_ex(matrix)
    if bool((info != 0).any()):
        raise DomainError(
            "A metric matrix is not positive definite at some point: the metric is "
            "degenerate there (a map phi whose Jacobian is not of full rank, or a "
            "cloud with coincident points)."
        )
    return torch.cholesky_solve(rhs, factor)


@contextlib.contextmanager
def torch_threads_for(n_scalars):
    """Run small problems on one torch thread, restoring the caller's setting after.

    Parameters
    ----------
    n_scalars : int
        Number of scalars one evaluation of the problem touches.
    """
    previous = torch.get_num_threads()
    if n_scalars >= SMALL_PROBLEM_SIZE or previous == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
