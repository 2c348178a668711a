"""The bridge between arrays of the active geomstats backend and torch tensors.

User callables (log-factors, log-qualities, maps ``phi``) always see float64 torch
tensors; metric methods take and return arrays of the active geomstats backend.
Under geomstats' pytorch backend the bridge is the identity, so autograd graphs
flow through (geomstats' own autodiff-based solvers rely on that); under the numpy
backend it copies nothing either (``torch.from_numpy`` shares memory).
"""

import geomstats.backend as gs
import numpy as np
import torch

DTYPE = torch.float64


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
