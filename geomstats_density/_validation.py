"""Checks of the options solvers and metrics are given.

Every solver constructor validates its options with these functions, so a bad
option fails at once with a :class:`ValueError` naming the option, the value
it got and what is allowed, rather than as a ``TypeError`` deep inside a solve
or, worse, as a silently wrong answer (a zero iteration budget, a negative
tolerance). Each check returns the value in its canonical type (``int``,
``float``).
"""

import math
import numbers

import numpy as np
import torch

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
    if not any(value is choice or (type(value) is type(choice) and value == choice)
               for choice in choices):
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
