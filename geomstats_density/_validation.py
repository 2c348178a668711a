"""Checks of what the package is given: options, points and user callables.

Every solver constructor validates its options with these functions, so a bad
option fails at once with a :class:`ValueError` naming the option, the value
it got and what is allowed, rather than as a ``TypeError`` deep inside a solve
or, worse, as a silently wrong answer (a zero iteration budget, a negative
tolerance). Each check returns the value in its canonical type (``int``,
``float``). Points are checked for shape and finiteness where they enter a metric,
and what a user callable returns for its shape, with errors that name the callable
(:func:`check_scalar_field`, :func:`user_callable`).
"""

import math
import numbers

import numpy as np
import torch

from geomstats_density.backend import to_torch

ON_FAILURE = ("warn", "raise", "ignore")


def check_int(value, name, minimum=1, allow_none=False):
    """An integer at least ``minimum`` (booleans and non-integral floats refused).

    Parameters
    ----------
    value : object
    name : str
        Name of the option, for the message.
    minimum : int
    allow_none : bool
        Whether None is allowed (and returned as None).

    Returns
    -------
    value : int or None

    Raises
    ------
    ValueError
        If ``value`` is not an integer at least ``minimum`` (or None when allowed).
    """
    if value is None and allow_none:
        return None
    integral = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not integral or value < minimum:
        allowed = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        allowed += " or None" if allow_none else ""
        raise ValueError(f"{name} must be {allowed}, got {value!r}.")
    return int(value)


def check_positive_int(value, name, allow_none=False):
    """An integer >= 1; see :func:`check_int`."""
    return check_int(value, name, 1, allow_none)


def check_float(value, name, minimum=None, maximum=None, strict=True, allow_none=False):
    """A finite real number in a range (booleans and strings refused).

    Parameters
    ----------
    value : object
    name : str
        Name of the option, for the message.
    minimum, maximum : float, optional
        Bounds of the allowed interval.
    strict : bool
        Whether the bounds themselves are excluded.
    allow_none : bool
        Whether None is allowed (and returned as None).

    Returns
    -------
    value : float or None

    Raises
    ------
    ValueError
        If ``value`` is not a finite real number in the interval.
    """
    if value is None and allow_none:
        return None
    real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    inside = real and math.isfinite(value)
    if inside and minimum is not None:
        inside = value > minimum if strict else value >= minimum
    if inside and maximum is not None:
        inside = value < maximum if strict else value <= maximum
    if not inside:
        low = "(" if strict else "["
        high = ")" if strict else "]"
        interval = (
            f"{low}{'-inf' if minimum is None else minimum}, "
            f"{'inf' if maximum is None else maximum}{high}"
        )
        allowed = f"a finite number in {interval}" + (" or None" if allow_none else "")
        raise ValueError(f"{name} must be {allowed}, got {value!r}.")
    return float(value)


def check_positive_float(value, name, allow_none=False):
    """A finite number > 0; see :func:`check_float`."""
    return check_float(value, name, minimum=0.0, allow_none=allow_none)


def check_choice(value, name, choices):
    """One of ``choices``.

    Raises
    ------
    ValueError
        If ``value`` is not one of ``choices``.
    """
    if not any(
        value is choice or (type(value) is type(choice) and value == choice) for choice in choices
    ):
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}.")
    return value


def check_bool_or_none(value, name):
    """True, False or None (``progress`` options).

    Raises
    ------
    ValueError
        If ``value`` is anything else (a string such as ``"yes"``, a number).
    """
    if value is not None and not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True, False or None, got {value!r}.")
    return None if value is None else bool(value)


def check_on_failure(value):
    """``'warn'``, ``'raise'`` or ``'ignore'``: what a solver does when it misses its tolerance."""
    return check_choice(value, "on_failure", ON_FAILURE)


def check_float64(values, name):
    """A user callable returned float64 values.

    Solvers compare energies to relative tolerances far below float32's
    resolution (1e-7): float32 values stall them, and the failure would be blamed
    on ``max_iter`` or ``tol``.

    Parameters
    ----------
    values : torch.Tensor
    name : str
        Name of the callable, for the message.

    Raises
    ------
    ValueError
        If ``values`` is not float64.
    """
    if values.dtype != torch.float64:
        raise ValueError(
            f"{name} must return float64 values (it is given float64 tensors), got "
            f"{values.dtype}: compute in float64, e.g. with network.double() or "
            "values.double()."
        )


def check_random_state(random_state, name="random_state"):
    """A seed or a source of randomness, as scikit-learn's ``random_state``.

    Parameters
    ----------
    random_state : int, torch.Generator, numpy.random.Generator or None
    name : str
        Name of the option, for the message.

    Returns
    -------
    random_state : int, torch.Generator, numpy.random.Generator or None
        An integer as ``int``, anything else as given.

    Raises
    ------
    ValueError
        If ``random_state`` is none of these (a negative integer, a float, a string).
    """
    if random_state is None or isinstance(random_state, (torch.Generator, np.random.Generator)):
        return random_state
    if (
        not isinstance(random_state, numbers.Integral)
        or isinstance(random_state, bool)
        or (random_state < 0)
    ):
        raise ValueError(
            f"{name} must be a non-negative integer, a torch.Generator, a "
            f"numpy.random.Generator or None, got {random_state!r}."
        )
    return int(random_state)


def torch_generator(random_state, name="random_state"):
    """The torch generator a random draw takes, from a ``random_state``.

    An integer gives a new generator seeded with it, so that the same call
    draws the same numbers bit for bit; a ``torch.Generator`` is used (and
    advanced) as is; a ``numpy.random.Generator`` seeds a new generator with an
    integer drawn from it; None means torch's global generator.

    Parameters
    ----------
    random_state : int, torch.Generator, numpy.random.Generator or None
    name : str
        Name of the option, for the message.

    Returns
    -------
    generator : torch.Generator or None
        None for torch's global generator.
    """
    random_state = check_random_state(random_state, name)
    if random_state is None or isinstance(random_state, torch.Generator):
        return random_state
    return torch.Generator().manual_seed(random_seed(random_state, name))


def random_seed(random_state, name="random_state"):
    """An integer seed from a ``random_state``, for numpy, scikit-learn or torch's global state.

    An integer is returned as is; from a generator (None: torch's global one),
    an integer is drawn.

    Parameters
    ----------
    random_state : int, torch.Generator, numpy.random.Generator or None
    name : str
        Name of the option, for the message.

    Returns
    -------
    seed : int
        In ``[0, 2^62)`` when drawn.
    """
    random_state = check_random_state(random_state, name)
    if isinstance(random_state, int):
        return random_state
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**62))
    return int(torch.randint(2**62, (1,), generator=random_state))


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


class user_callable:  # noqa: N801 (used as a function: ``with user_callable(...)``)
    """Name a user callable that calls numpy on the tensors it is given.

    Autograd cannot follow numpy: on a tensor that requires grad, ``np.exp(z)``
    fails deep inside the callable with torch's "Can't call numpy() on Tensor
    that requires grad". That error is re-raised as a ``TypeError`` saying which
    callable it came from and what to write instead. A context manager class,
    not a generator: it wraps every evaluation of the factor.

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

    __slots__ = ("name", "function")

    def __init__(self, name, function):
        self.name, self.function = name, function

    def __enter__(self):
        return None

    def __exit__(self, error_type, error, traceback):
        if error_type is None or not issubclass(error_type, RuntimeError):
            return False
        if "numpy()" not in str(error):
            return False
        function = self.function
        label = getattr(function, "__qualname__", None) or type(function).__name__
        raise TypeError(
            f"{self.name} ({label}) called numpy on the torch tensor it was given (as "
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
