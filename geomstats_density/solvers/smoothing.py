"""Smoothing of kinked torch primitives, for continuation on piecewise-smooth energies.

Qualities written with ``clamp``, ``abs``, ``max`` or norms, and generators with
ReLU, LeakyReLU or max-pooling layers, give energies whose derivatives jump
where a primitive switches branch. Newton's quadratic model is then exact on one
side of the kink only, and where the discrete geodesic has nodes on a kink (a
curve hugging an obstacle, running along the edge of a cube) it converges
linearly at best.

:class:`KinkSmoothing` is a :class:`torch.overrides.TorchFunctionMode`: while
it is active, these primitives, wherever the user's code calls them, are
replaced by ``C^2`` functions that equal them except within ``tau`` of their
kink (argument units):

* ``relu_tau(x)``: ``0`` below ``-tau``, ``x`` above ``tau``, and in between the
  integral of the smoothstep ``3 u^2 - 2 u^3`` with ``u = (x + tau) / (2 tau)``,
  that is ``2 tau (u^3 - u^4 / 2)``;
* ``clamp``, ``clamp_min``, ``clamp_max``, ``clip`` and ``leaky_relu`` through
  ``relu_tau`` (``clamp(x, min=m) = m + relu_tau(x - m)``,
  ``leaky_relu(x) = a x + (1 - a) relu_tau(x)``);
* ``abs_tau(x) = relu_tau(x) + relu_tau(-x)``, an even polynomial within ``tau``
  of 0 (``abs_tau(0) = 3 tau / 8``);
* ``maximum(a, b) = b + relu_tau(a - b)``, ``minimum(a, b) = a - relu_tau(a - b)``,
  and the reductions ``max``, ``min``, ``amax``, ``amin`` over a dimension (or
  all) as a fold of these;
* Euclidean norms (``linalg.vector_norm``, ``linalg.norm``, ``Tensor.norm``
  with the 2-norm) as ``abs_tau`` of the norm: the same polynomial in the squared
  norm within ``tau`` of the origin, the norm beyond;
* ``max_pool2d`` without padding (``nn.MaxPool2d``), each window's maximum as
  the fold above over its entries (``unfold``).

Calls these forms do not cover (other norms, padded pooling, integer
arguments) run unchanged. With ``networks=False`` so do the calls made inside a
:class:`torch.nn.Module`'s forward (global module hooks, active while the mode
is, count the forwards the thread is in): a network's layers stay exact and
only the user's own code around them is smoothed.

Because the smoothing has compact support, a primitive that never comes
within ``tau`` of its kink (a norm of vectors bounded away from zero, a
``clamp_min(0)`` on lengths) is evaluated exactly; and since it is built from
polynomials and ``where``, first and second derivatives (double backward,
``torch.func`` transforms) are finite everywhere, at the kink too.

A mode with ``tau=None`` changes nothing and only records: whether some
kinked primitive met arguments on both sides of its kink
(:attr:`KinkSmoothing.kinked`), and their typical magnitude, which sets the
scale of the continuation's ``tau``.
"""

import threading

import torch
import torch.nn.functional as F
from torch.nn.modules.module import (
    register_module_forward_hook,
    register_module_forward_pre_hook,
)
from torch.overrides import TorchFunctionMode


def smooth_relu(x, tau):
    """``max(x, 0)`` smoothed within ``tau`` of 0, ``C^2``.

    Parameters
    ----------
    x : torch.Tensor, shape=[...]
    tau : float
        Half-width of the smoothed band, positive.

    Returns
    -------
    y : torch.Tensor, shape=[...]
    """
    u = ((x + tau) / (2.0 * tau)).clamp(0.0, 1.0)
    inner = (2.0 * tau) * (u**3 - 0.5 * u**4)
    return torch.where(x >= tau, x, inner)


def smooth_abs(x, tau):
    """``|x|`` smoothed within ``tau`` of 0, ``C^2``, even."""
    return smooth_relu(x, tau) + smooth_relu(-x, tau)


def smooth_norm(x, tau, dim=None, keepdim=False):
    """Euclidean norm over ``dim`` smoothed within ``tau`` of the origin, ``C^2``.

    Within ``tau`` it is ``abs_tau`` of the norm, ``3 tau / 8 + 3 r^2 / (4 tau) -
    r^4 / (8 tau^3)``, a polynomial in the squared norm ``r^2``; beyond, the norm.

    Parameters
    ----------
    x : torch.Tensor, shape=[...]
    tau : float
    dim : int or tuple of int, optional
        All dimensions if None.
    keepdim : bool

    Returns
    -------
    norm : torch.Tensor
    """
    dims = tuple(range(x.dim())) if dim is None else dim
    sq = (x * x).sum(dim=dims, keepdim=keepdim)
    outside = sq >= tau * tau
    root = torch.sqrt(torch.where(outside, sq, torch.full_like(sq, tau * tau)))
    inner = 0.375 * tau + 0.75 * sq / tau - 0.125 * sq * sq / tau**3
    return torch.where(outside, root, inner)


def smooth_maximum(a, b, tau):
    """``max(a, b)`` elementwise, smoothed where ``|a - b| < tau``."""
    return b + smooth_relu(a - b, tau)


def smooth_minimum(a, b, tau):
    """``min(a, b)`` elementwise, smoothed where ``|a - b| < tau``."""
    return a - smooth_relu(a - b, tau)


def smooth_amax(x, tau, dim=None, keepdim=False, largest=True):
    """Maximum (``largest``) or minimum over ``dim`` as a fold of :func:`smooth_maximum`.

    Parameters
    ----------
    x : torch.Tensor
    tau : float
    dim : int, tuple of int or None
        All dimensions if None (or an empty tuple).
    keepdim : bool
    largest : bool

    Returns
    -------
    extreme : torch.Tensor
    """
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        dims = list(range(x.dim()))
    else:
        dims = [dim] if isinstance(dim, int) else list(dim)
    dims = sorted(d % max(x.dim(), 1) for d in dims)
    if x.dim() == 0:
        return x
    moved = torch.movedim(x, dims, list(range(x.dim() - len(dims), x.dim())))
    flat = moved.reshape(*moved.shape[: x.dim() - len(dims)], -1)
    combine = smooth_maximum if largest else smooth_minimum
    result = flat[..., 0]
    for k in range(1, flat.shape[-1]):
        result = combine(result, flat[..., k], tau)
    if keepdim:
        for d in dims:
            result = result.unsqueeze(d)
    return result


def smooth_max_pool2d(x, tau, kernel_size, stride=None, dilation=1):
    """``max_pool2d`` without padding, each window's maximum by :func:`smooth_amax`.

    Parameters
    ----------
    x : torch.Tensor, shape=[..., channels, height, width]
    tau : float
    kernel_size, stride, dilation : int or pair of int
        As :func:`torch.nn.functional.max_pool2d` (``stride`` defaults to
        ``kernel_size``).

    Returns
    -------
    pooled : torch.Tensor, shape=[..., channels, out_height, out_width]
    """
    windows, out_shape = _pool_windows(x, kernel_size, stride, dilation)
    pooled = smooth_amax(windows, tau, dim=-2)
    return pooled.reshape(*x.shape[:-2], *out_shape)


def _pool_windows(x, kernel_size, stride, dilation):
    """The pooling windows of ``x`` as ``[..., kernel entries, windows]``, and the output shape."""
    pair = torch.nn.modules.utils._pair
    kernel, dilation = pair(kernel_size), pair(dilation)
    stride = kernel if stride is None or stride == [] else pair(stride)
    height, width = x.shape[-2:]
    out_shape = tuple(
        (size - d * (k - 1) - 1) // s + 1
        for size, k, s, d in zip((height, width), kernel, stride, dilation)
    )
    flat = x.reshape(-1, 1, height, width)
    windows = F.unfold(flat, kernel, dilation=dilation, stride=stride)
    return windows.reshape(*x.shape[:-2], windows.shape[-2], windows.shape[-1]), out_shape


def _kink_arguments(func, args, kwargs):
    """Arguments measured from the kink of a primitive call, or None if it has no kink.

    The measure is positive on one side of the kink and negative on the other.
    """
    name = getattr(func, "__name__", "")
    x = args[0] if args else kwargs.get("input")
    if not isinstance(x, torch.Tensor):
        return None
    if name in ("relu", "relu_", "leaky_relu", "abs", "absolute", "__abs__"):
        return x
    if name in ("clamp", "clip", "clamp_min", "clamp_max", "clamp_", "clamp_min_", "clamp_max_"):
        bounds = [b for b in _clamp_bounds(name, args, kwargs) if b is not None]
        return torch.cat([(x - b).reshape(-1) for b in bounds]) if bounds else None
    if name in ("maximum", "minimum"):
        return x - args[1] if len(args) > 1 else x - kwargs["other"]
    if name in ("max", "min", "amax", "amin"):
        other = args[1] if len(args) > 1 else kwargs.get("other", kwargs.get("dim"))
        if isinstance(other, torch.Tensor):
            return x - other
        return None
    if name in ("vector_norm", "norm"):
        return None if not _is_two_norm(name, args, kwargs) else x
    return None


def _clamp_bounds(name, args, kwargs):
    """``(min, max)`` of a clamp-type call."""
    if name.startswith("clamp_min"):
        return (args[1] if len(args) > 1 else kwargs.get("min"), None)
    if name.startswith("clamp_max"):
        return (None, args[1] if len(args) > 1 else kwargs.get("max"))
    low = args[1] if len(args) > 1 else kwargs.get("min")
    high = args[2] if len(args) > 2 else kwargs.get("max")
    return low, high


def _reduction_dim(name, args, kwargs):
    dim = args[1] if len(args) > 1 else kwargs.get("dim")
    if isinstance(dim, (tuple, list)):
        return dim[0] if len(dim) == 1 else None
    return dim


def _is_two_norm(name, args, kwargs):
    """Whether a norm call is a Euclidean (or Frobenius) norm."""
    order = args[1] if len(args) > 1 else kwargs.get("ord", kwargs.get("p"))
    dim, _ = _norm_dim(name, args, kwargs)
    matrix = isinstance(dim, (tuple, list)) and len(dim) == 2
    return order in (None, "fro") or (order in (2, 2.0) and not matrix)


def _norm_dim(name, args, kwargs):
    """``(dim, keepdim)`` of a norm call."""
    dim = args[2] if len(args) > 2 else kwargs.get("dim")
    keepdim = args[3] if len(args) > 3 else kwargs.get("keepdim", False)
    return dim, keepdim


class KinkSmoothing(TorchFunctionMode):
    """Replace kinked torch primitives by ``C^2`` ones within ``tau`` of their kinks.

    Parameters
    ----------
    tau : float or None
        Half-width of the smoothed bands, in the units of each primitive's
        argument. None changes nothing and records the kinks met
        (:attr:`kinked`, :attr:`scale`).
    networks : bool
        Whether the primitives called inside a :class:`torch.nn.Module`'s
        forward (a generator's or classifier's ReLU, LeakyReLU and max-pooling
        layers) are smoothed and recorded too; False leaves them as they are
        and smooths only the calls outside modules (a quality's own ``clamp``,
        ``min`` or norm).

    Attributes
    ----------
    called : bool
        Whether a kinked primitive was called while the mode was active.
    kinked : bool
        (``tau=None`` only.) Whether a kinked primitive was called with
        arguments on both sides of its kink: the function is not smooth across
        the points evaluated.
    scale : float or None
        (``tau=None`` only.) The median absolute argument, measured from its
        kink, of the calls that straddled it: the magnitude the kinks live at.
    """

    def __init__(self, tau=None, networks=True):
        super().__init__()
        if tau is not None and not tau > 0:
            raise ValueError(f"tau must be positive or None, got {tau!r}.")
        self.tau = tau
        self.networks = networks
        self.called = False
        self.kinked = False
        self._magnitudes = []
        self._module_depth = 0
        self._hooks = ()

    def __enter__(self):
        if not self.networks:
            self._hooks = self._count_module_depth()
        return super().__enter__()

    def __exit__(self, *exc_info):
        for hook in self._hooks:
            hook.remove()
        self._hooks = ()
        self._module_depth = 0
        return super().__exit__(*exc_info)

    def _count_module_depth(self):
        """Global module hooks counting the forwards this thread is inside."""
        thread = threading.get_ident()

        def enter(module, args):
            if threading.get_ident() == thread:
                self._module_depth += 1

        def leave(module, args, output):
            if threading.get_ident() == thread:
                self._module_depth -= 1

        return (
            register_module_forward_pre_hook(enter),
            register_module_forward_hook(leave, always_call=True),
        )

    @property
    def scale(self):
        """Median absolute argument, from the kink, of the calls that straddled one.

        None if no call did (or ``tau`` is not None, which records nothing). It is
        the magnitude the kinks live at, the scale of the Newton solver's ``tau``
        continuation.
        """
        if not self._magnitudes:
            return None
        return float(torch.tensor(self._magnitudes).median())

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        handler = _HANDLERS.get(func)
        first = args[0] if args else kwargs.get("input")
        if (
            handler is None
            or self._module_depth
            or not (isinstance(first, torch.Tensor) and first.is_floating_point())
        ):
            # Integer arguments (indices clamped into a table) have no kink to smooth.
            return func(*args, **kwargs)
        if self.tau is None:
            self._record(func, args, kwargs)
            return func(*args, **kwargs)
        result = handler(self.tau, func, args, kwargs)
        if result is NotImplemented:
            return func(*args, **kwargs)
        self.called = True
        return result

    def _record_reduction(self, func, args, kwargs):
        """Record a max/min reduction over a dimension or a max-pooling.

        Returns whether the call was one.
        """
        if func in (F.max_pool2d, torch.max_pool2d):
            found = _pool_gaps(args, kwargs)
        else:
            found = _reduction_gaps(func, args, kwargs)
        if found is None:
            return func in (F.max_pool2d, torch.max_pool2d)
        self.called = True
        switches, gaps = found
        if switches:
            self.kinked = True
            self._magnitudes.append(float(gaps.median()))
        return True

    def _record(self, func, args, kwargs):
        with torch.no_grad():
            if self._record_reduction(func, args, kwargs):
                return
            arguments = _kink_arguments(func, args, kwargs)
            if arguments is None:
                return
            self.called = True
            arguments = arguments.detach()
            name = getattr(func, "__name__", "")
            if name in ("vector_norm", "norm"):
                # A norm's kink is the origin: met where some vector is much
                # shorter than the others.
                dim, _ = _norm_dim(name, args, kwargs)
                dims = tuple(range(arguments.dim())) if dim is None else dim
                norms = torch.sqrt((arguments * arguments).sum(dim=dims)).reshape(-1)
                if norms.numel() and float(norms.min()) <= 1e-2 * float(norms.max()):
                    self.kinked = True
                    self._magnitudes.append(float(norms.median()))
                return
            if bool((arguments > 0).any()) and bool((arguments < 0).any()):
                self.kinked = True
                self._magnitudes.append(float(arguments.abs().median()))


def _reduction_gaps(func, args, kwargs):
    """Whether a max/min reduction's selection changes, and its top-two gaps.

    For a max/min reduction over a dimension: whether the selected entry changes
    across the reduced slices, and the gaps between the top two; None for other calls.
    """
    name = getattr(func, "__name__", "")
    if name not in ("max", "min", "amax", "amin"):
        return None
    x = args[0] if args else kwargs.get("input")
    dim = args[1] if len(args) > 1 else kwargs.get("dim")
    if not isinstance(x, torch.Tensor) or isinstance(dim, torch.Tensor):
        return None
    if isinstance(dim, (tuple, list)):
        if len(dim) != 1:
            return None
        dim = dim[0]
    if dim is None or x.dim() == 0 or x.shape[dim] < 2:
        return None
    sign = 1.0 if name in ("max", "amax") else -1.0
    top = torch.topk(sign * x.detach(), 2, dim=dim)
    index = top.indices.narrow(dim, 0, 1)
    gaps = top.values.narrow(dim, 0, 1) - top.values.narrow(dim, 1, 1)
    return bool((index != index.reshape(-1)[0]).any()), gaps


def _max_pool_arguments(args, kwargs):
    """``(input, kernel_size, stride, dilation)`` of a max-pooling call, or None.

    None where the call pads, rounds up or returns indices (then it is left as it is).
    """
    names = ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")
    values = dict(zip(names, args))
    values.update(kwargs)
    padding = values.get("padding", 0)
    if any(values.get(flag, False) for flag in ("ceil_mode", "return_indices")) or (
        padding not in (0, (0, 0), [0, 0])
    ):
        return None
    return values["input"], values["kernel_size"], values.get("stride"), values.get("dilation", 1)


def _max_pool2d(tau, func, args, kwargs):
    found = _max_pool_arguments(args, kwargs)
    if found is None or found[0].dim() < 3:
        return NotImplemented
    x, kernel_size, stride, dilation = found
    return smooth_max_pool2d(x, tau, kernel_size, stride, dilation)


def _pool_gaps(args, kwargs):
    """Whether a batched max-pooling's maxima move across the batch, and its top-two gaps.

    For a batched max-pooling call: whether some window of some channel takes its
    maximum at different entries across the batch, and the gaps between each
    window's top two entries; None otherwise.
    """
    found = _max_pool_arguments(args, kwargs)
    if found is None or found[0].dim() != 4 or found[0].shape[0] < 2:
        return None
    windows, _ = _pool_windows(found[0].detach(), *found[1:])
    top = torch.topk(windows, 2, dim=-2)
    index = top.indices.narrow(-2, 0, 1)
    gaps = top.values.narrow(-2, 0, 1) - top.values.narrow(-2, 1, 1)
    return bool((index != index[:1]).any()), gaps


def _relu(tau, func, args, kwargs):
    return smooth_relu(args[0] if args else kwargs["input"], tau)


def _leaky_relu(tau, func, args, kwargs):
    x = args[0] if args else kwargs["input"]
    slope = args[1] if len(args) > 1 else kwargs.get("negative_slope", 0.01)
    return slope * x + (1.0 - slope) * smooth_relu(x, tau)


def _abs(tau, func, args, kwargs):
    return smooth_abs(args[0] if args else kwargs["input"], tau)


def _clamp(tau, func, args, kwargs):
    x = args[0] if args else kwargs["input"]
    low, high = _clamp_bounds(func.__name__, args, kwargs)
    if low is not None:
        x = low + smooth_relu(x - low, tau)
    if high is not None:
        x = high - smooth_relu(high - x, tau)
    return x


def _maximum(tau, func, args, kwargs):
    other = args[1] if len(args) > 1 else kwargs["other"]
    return smooth_maximum(args[0], other, tau)


def _minimum(tau, func, args, kwargs):
    other = args[1] if len(args) > 1 else kwargs["other"]
    return smooth_minimum(args[0], other, tau)


def _extreme(largest, with_indices):
    def handler(tau, func, args, kwargs):
        x = args[0] if args else kwargs["input"]
        second = args[1] if len(args) > 1 else kwargs.get("other", kwargs.get("dim"))
        if isinstance(second, torch.Tensor):
            return (smooth_maximum if largest else smooth_minimum)(x, second, tau)
        keepdim = args[2] if len(args) > 2 else kwargs.get("keepdim", False)
        values = smooth_amax(x, tau, dim=second, keepdim=keepdim, largest=largest)
        if not with_indices or second is None:
            return values
        with torch.no_grad():
            indices = (torch.argmax if largest else torch.argmin)(x, dim=second, keepdim=keepdim)
        kind = torch.return_types.max if largest else torch.return_types.min
        return kind((values, indices))

    return handler


def _norm(tau, func, args, kwargs):
    name = func.__name__
    if not _is_two_norm(name, args, kwargs):
        return NotImplemented
    dim, keepdim = _norm_dim(name, args, kwargs)
    if kwargs.get("dtype") is not None:
        return NotImplemented
    x = args[0] if args else kwargs["input"]
    return smooth_norm(x, tau, dim=dim, keepdim=keepdim)


_HANDLERS = {}
for _func in (torch.relu, torch.Tensor.relu, F.relu):
    _HANDLERS[_func] = _relu
_HANDLERS[F.leaky_relu] = _leaky_relu
for _func in (
    torch.abs,
    torch.absolute,
    torch.Tensor.abs,
    torch.Tensor.absolute,
    torch.Tensor.__abs__,
):
    _HANDLERS[_func] = _abs
for _func in (
    torch.clamp,
    torch.clip,
    torch.clamp_min,
    torch.clamp_max,
    torch.Tensor.clamp,
    torch.Tensor.clip,
    torch.Tensor.clamp_min,
    torch.Tensor.clamp_max,
):
    _HANDLERS[_func] = _clamp
for _func in (torch.maximum, torch.Tensor.maximum):
    _HANDLERS[_func] = _maximum
for _func in (torch.minimum, torch.Tensor.minimum):
    _HANDLERS[_func] = _minimum
_HANDLERS[torch.max] = _HANDLERS[torch.Tensor.max] = _extreme(True, True)
_HANDLERS[torch.min] = _HANDLERS[torch.Tensor.min] = _extreme(False, True)
_HANDLERS[torch.amax] = _HANDLERS[torch.Tensor.amax] = _extreme(True, False)
_HANDLERS[torch.amin] = _HANDLERS[torch.Tensor.amin] = _extreme(False, False)
for _func in (torch.linalg.vector_norm, torch.linalg.norm, torch.norm, torch.Tensor.norm):
    _HANDLERS[_func] = _norm
_HANDLERS[F.max_pool2d] = _HANDLERS[torch.max_pool2d] = _max_pool2d
del _func
