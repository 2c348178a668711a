"""Torch networks as float64 CPU maps of points, differentiable in the points.

A generator or a classifier enters a quality or a map ``phi`` as a
:class:`TorchMap`: a frozen copy of the user's module (:func:`frozen_network`
copies it, switches the copy to ``eval()`` mode and turns off its parameters'
gradients, so the user's module keeps its mode, device, dtype, weights and
gradients, and only the points are differentiated) on the device of the user's
module (a CUDA generator runs on CUDA) or on the ``device`` asked for
(:func:`network_placement`). Networks compute in float64 by default, which keeps
the second-order solver's energy free of float32 rounding (about 1e-7 relative,
above its default tolerances); float32 (or ``'module'``, the module's own type)
is an option. Points go to the network in chunks, and only the outputs come back
to the CPU as float64; :class:`ComposedMap` keeps the inner network's outputs
where they are made (a classifier reads generated samples on the generator's
device, and only its logits come back).
"""

import copy
import itertools

import torch

from geomstats_density.backend import DTYPE, to_torch
from geomstats_density.exceptions import DomainError

NETWORK_DTYPES = (torch.float64, torch.float32)
DEFAULT_BATCH_SIZE = 4096


def network_placement(network, device=None, dtype=DTYPE, name="network"):
    """The device and floating-point type a network computes on.

    Parameters
    ----------
    network : torch.nn.Module or callable
    device : torch.device or str, optional
        Where it runs; by default where the module's first floating-point
        parameter or buffer is, and the CPU for plain callables.
    dtype : torch.dtype or 'module'
        float64 (default) or float32; ``'module'``: the type of the module's
        first floating-point parameter or buffer (float64 for plain callables).
    name : str
        Name of the network in error messages.

    Returns
    -------
    device : torch.device
    dtype : torch.dtype
    """
    tensors = []
    if isinstance(network, torch.nn.Module):
        tensors = [
            tensor
            for tensor in itertools.chain(network.parameters(), network.buffers())
            if tensor.is_floating_point()
        ]
    device = (
        torch.device(device)
        if device is not None
        else (tensors[0].device if tensors else torch.device("cpu"))
    )
    if isinstance(dtype, str) and dtype == "module":
        dtype = tensors[0].dtype if tensors else DTYPE
    if dtype not in NETWORK_DTYPES:
        raise ValueError(
            f"{name} must compute in torch.float64 or torch.float32, got {dtype!r}: pass "
            "generator_dtype=torch.float64, torch.float32 or 'module' (a float64 or "
            "float32 module's own type)."
        )
    return device, dtype


def frozen_network(network, device=None, dtype=None):
    """A frozen copy of a torch module, or a plain callable unchanged.

    Parameters
    ----------
    network : torch.nn.Module or callable
    device : torch.device or str, optional
        Device of the copy; the module's own by default.
    dtype : torch.dtype, optional
        Floating-point type of the copy's parameters and buffers; the module's
        own when None.

    Returns
    -------
    frozen : torch.nn.Module or callable
        For a module: a deep copy in ``eval()`` mode (dropout off, batch-norm
        statistics fixed), moved to ``device`` and cast to ``dtype``, with
        ``requires_grad=False`` on every parameter (gradients flow to the
        inputs only). The module itself is not changed.
    """
    if not isinstance(network, torch.nn.Module):
        return network
    return copy.deepcopy(network).to(device=device, dtype=dtype).eval().requires_grad_(False)


class TorchMap:
    """A torch network as a float64 CPU map on batches of points of a fixed shape.

    Leading batch axes are flattened, the points are passed in chunks of at most
    ``batch_size``, moved to the network's device and cast to its dtype, and the
    outputs come back to the CPU as float64 with the batch axes restored.
    Autograd flows through (across devices too), so the map can sit inside a
    quality or a map ``phi``.

    Parameters
    ----------
    network : torch.nn.Module or callable
        Maps ``[n, *point_shape]`` to ``[n, *output_shape]``; modules are
        replaced by a :func:`frozen_network` copy.
    point_shape : tuple of int
        Shape of one input point.
    dtype : torch.dtype or 'module'
        What the network computes in: float64 (default), float32, or the
        module's own type (``'module'``), see :func:`network_placement`.
    device : torch.device or str, optional
        Where the network runs; the module's own device by default.
    batch_size : int or None
        Largest number of points per call; None passes all at once.
    name : str
        Name of the network in error messages.

    Attributes
    ----------
    output_shape : tuple of int
        Shape of one output, read from a first call on one zero point.
    device : torch.device
    dtype : torch.dtype
    """

    def __init__(
        self,
        network,
        point_shape,
        dtype=DTYPE,
        device=None,
        batch_size=DEFAULT_BATCH_SIZE,
        name="network",
    ):
        if not callable(network):
            raise ValueError(
                f"{name} must be a torch module or a callable, got {type(network).__name__}."
            )
        if batch_size is not None and not (int(batch_size) == batch_size and batch_size >= 1):
            raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}.")
        self.device, self.dtype = network_placement(network, device, dtype, name)
        self.network = frozen_network(network, self.device, self.dtype)
        self.point_shape = tuple(point_shape)
        self.batch_size = None if batch_size is None else int(batch_size)
        self.name = name
        probe = torch.zeros(1, *self.point_shape, dtype=DTYPE)
        try:
            with torch.no_grad():
                output = self._forward(probe)
        except (RuntimeError, TypeError) as error:
            raise ValueError(
                f"{name} failed on a batch of shape {list(probe.shape)}: {error}. Is "
                f"{list(self.point_shape)} the shape of its input? A plain callable that "
                "computes in float32 needs dtype torch.float32."
            ) from error
        self.output_shape = tuple(output.shape[1:])

    def _forward(self, points):
        """Outputs ``[n, *output_shape]``, on the network's device, at ``[n, *point_shape]``."""
        output = self.network(points.to(device=self.device, dtype=self.dtype))
        if not isinstance(output, torch.Tensor):
            raise ValueError(
                f"{self.name} must return a torch tensor, got {type(output).__name__}."
            )
        if output.ndim == 0 or output.shape[0] != points.shape[0]:
            raise ValueError(
                f"{self.name} must return one output per input: for inputs of shape "
                f"{list(points.shape)} it returned shape {list(output.shape)}."
            )
        return output

    def __call__(self, points):
        """Outputs for points of shape ``[..., *point_shape]``: ``[..., *output_shape]``.

        Parameters
        ----------
        points : array-like, shape=[..., *point_shape]

        Returns
        -------
        outputs : torch.Tensor, shape=[..., *output_shape]
            float64, on the CPU.

        Raises
        ------
        ValueError
            If the points have the wrong shape or the network the wrong output.
        DomainError
            If an output is NaN or infinite.
        """
        points = to_torch(points)
        n_axes = len(self.point_shape)
        if tuple(points.shape[points.ndim - n_axes :]) != self.point_shape or points.ndim < n_axes:
            raise ValueError(
                f"{self.name} takes points of shape "
                f"[..., {', '.join(map(str, self.point_shape))}], "
                f"got shape {list(points.shape)}."
            )
        batch_shape = points.shape[: points.ndim - n_axes]
        flat = points.reshape(-1, *self.point_shape)
        chunks = [flat] if self.batch_size is None else flat.split(self.batch_size)
        output = torch.cat([self._forward(chunk) for chunk in chunks])
        output = output.to(device="cpu", dtype=DTYPE)
        finite = torch.isfinite(output.reshape(output.shape[0], -1)).all(-1)
        if not bool(finite.all()):
            index = int(torch.nonzero(~finite)[0, 0])
            raise DomainError(
                f"{self.name} returned NaN or infinite values "
                f"at point {flat[index].detach().tolist()}."
            )
        if tuple(output.shape[1:]) != self.output_shape:
            raise ValueError(
                f"{self.name} returned outputs of shape {list(output.shape[1:])}, earlier "
                f"{list(self.output_shape)}."
            )
        return output.reshape(*batch_shape, *self.output_shape)


class ComposedMap(TorchMap):
    """``outer(inner(x))``, the inner map's outputs kept on its device and in its dtype.

    Only the outer map's outputs come back to the CPU: a classifier of generated
    samples returns logits ``[n, n_classes]``, not the samples.

    Parameters
    ----------
    outer, inner : TorchMap
        ``outer.point_shape`` is ``inner.output_shape``.
    """

    def __init__(self, outer, inner):
        if outer.point_shape != inner.output_shape:
            raise ValueError(
                f"{outer.name} takes points of shape {list(outer.point_shape)}, but the "
                f"{inner.name} returns shape {list(inner.output_shape)}."
            )
        self.outer, self.inner = outer, inner
        self.device, self.dtype = outer.device, outer.dtype
        self.point_shape, self.output_shape = inner.point_shape, outer.output_shape
        self.batch_size = inner.batch_size
        self.name = f"{outer.name} of the {inner.name}'s samples"

    def _forward(self, points):
        return self.outer._forward(self.inner._forward(points))
