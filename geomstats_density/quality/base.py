r"""What a quality is: a callable returning ``log Q``, and the qualities built from others.

A quality ``Q: Z -> (0, 1)`` is a callable mapping float64 torch points
``[..., dim]`` to ``log Q`` ``[...]``, finite and negative, differentiable
twice. :class:`Quality` is the base of the library's qualities: ``*``
multiplies them (:class:`Product`, ``log Q = sum_j log Q_j``), and those whose
derivatives have a closed form give them as a :class:`~geomstats_density.jets.Jet`.
:class:`Constant` is the same quality everywhere.

Probabilities ``P`` in [0, 1] become qualities by the paper's smoothing
``Q = eps/2 + (1 - eps) P`` (:func:`smooth_log_probability`), done in log space.
:func:`constant_quality_message` is the check that a hand-written quality varies
with the points, which :class:`~geomstats_density.DensityConformalMetric` runs once.
"""

import math

import torch

from geomstats_density.jets import Jet, linearised_values, own_jet

DEFAULT_EPS = 0.1


def check_eps(eps):
    """Check a smoothing parameter lies in (0, 1) and return it as a float."""
    if not 0 < eps < 1:
        raise ValueError(f"eps must be in (0, 1), got {eps}.")
    return float(eps)


def smooth_log_probability(log_probability, eps=DEFAULT_EPS):
    r"""The paper's smoothing of a probability, in log space.

    .. math:: \log Q = \log\left(\frac{\epsilon}{2} + (1 - \epsilon) P\right)

    computed as ``logaddexp(log(eps/2), log(1 - eps) + log P)``: exact and with
    finite first and second derivatives as ``log P -> -inf``. ``Q`` lies in
    ``[eps/2, 1 - eps/2]``, strictly inside (0, 1).

    Parameters
    ----------
    log_probability : torch.Tensor, shape=[...]
        ``log P``, at most 0 (``-inf`` allowed).
    eps : float
        In (0, 1); the authors use 0.1 to 0.2.

    Returns
    -------
    log_quality : torch.Tensor, shape=[...]
    """
    eps = check_eps(eps)
    floor = math.log(eps / 2)
    # floor + softplus(.) is logaddexp; torch.logaddexp's second derivative is
    # NaN once its arguments differ by more than ~709.
    excess = math.log1p(-eps) + log_probability - floor
    return floor + torch.nn.functional.softplus(excess, threshold=50.0)


def smooth_log_probability_derivatives(log_probability, first, second, eps=DEFAULT_EPS):
    """:func:`smooth_log_probability` and its first two derivatives by the chain rule.

    Parameters
    ----------
    log_probability, first, second : torch.Tensor, shape=[...]
        ``log P`` and its first two derivatives with respect to some scalar.

    Returns
    -------
    log_quality, first, second : torch.Tensor, shape=[...]
        ``log Q`` and its first two derivatives with respect to that scalar.
    """
    log_quality = smooth_log_probability(log_probability, eps)
    # d softplus(x) / dx = sigmoid(x), with x = log(1 - eps) + log P - log(eps / 2).
    slope = torch.sigmoid(math.log1p(-eps) + log_probability - math.log(eps / 2))
    return (
        log_quality,
        slope * first,
        slope * (1 - slope) * first**2 + slope * second,
    )


class Quality:
    """Base of the qualities: a callable returning ``log Q``; ``*`` multiplies them.

    Subclasses implement :meth:`__call__`, mapping points ``[..., dim]`` to
    ``log Q`` ``[...]``, and :meth:`jet` where ``log Q`` has closed-form
    derivatives.

    Attributes
    ----------
    relative_error : float or None
        Standard error of the conformal factor ``-log Q`` relative to itself,
        the largest over the points, that the quality owes to a Monte-Carlo
        estimate it is built on; a distance inherits at most this relative
        error. None for qualities without a Monte-Carlo estimate.
    """

    relative_error = None

    def __call__(self, points):
        """``log Q`` at points; each subclass defines it.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        log_quality : torch.Tensor, shape=[...]
            At most 0.
        """
        raise NotImplementedError

    def jet(self, points):
        """``log Q``, its gradient and Hessian, or None if only autodiff knows them.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        jet : Jet or None
        """
        return None

    def gauss_newton_jet(self, points):
        """The jet with the networks inside ``log Q`` linearised, or None.

        The Newton solver's Gauss-Newton steps (``hessian='gauss-newton'``) read
        this jet: its Hessian drops the second derivatives of the networks a
        quality evaluates (:meth:`Feature.gauss_newton_jet`). A quality without
        networks returns its :meth:`jet`.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        jet : Jet or None
        """
        return self.jet(points)

    def linearised(self, points):
        """``log Q`` with the networks inside it linearised at the points.

        The same values and gradients as ``log Q``; its Hessian (by autodiff)
        is that of :meth:`gauss_newton_jet`. The matrix-free Gauss-Newton steps
        (``hessian='gauss-newton'`` above dimension 32) differentiate it twice,
        so that nothing of size ``dim^2`` is formed. A quality without networks
        returns ``log Q`` itself.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        log_quality : torch.Tensor, shape=[...]
        """
        return self(points)

    def __mul__(self, other):
        if not callable(other):
            return NotImplemented
        return Product(self, other)

    def __rmul__(self, other):
        if not callable(other):
            return NotImplemented
        return Product(other, self)


class Constant(Quality):
    """The same quality ``q`` everywhere: geodesics are those of the base metric.

    Parameters
    ----------
    q : float
        In (0, 1); the metric is ``log(q)^2`` times the base metric.
    """

    def __init__(self, q):
        if not 0 < q < 1:
            raise ValueError(f"q must be in (0, 1), got {q}.")
        self.q = float(q)

    def __call__(self, points):
        """``log q`` at every point.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        log_quality : torch.Tensor, shape=[...]
        """
        return torch.full(points.shape[:-1], math.log(self.q), dtype=points.dtype)

    def jet(self, points):
        """``log q`` with zero gradient and Hessian, in closed form.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        jet : Jet
        """
        return Jet(
            self(points),
            torch.zeros_like(points),
            torch.zeros(*points.shape, points.shape[-1], dtype=points.dtype),
        )


class Product(Quality):
    """Product of qualities: ``log Q = sum_j log Q_j``.

    ``Q`` is high only where every factor is ("realistic AND has the feature");
    ``q1 * q2`` builds the same.

    Parameters
    ----------
    *factors : callable
        Qualities, or any callables returning ``log Q_j`` ``[...]``.
    """

    def __init__(self, *factors):
        if not factors or not all(callable(factor) for factor in factors):
            raise ValueError("Product needs one or more callable qualities.")
        flat = []
        for factor in factors:
            flat.extend(factor.factors if isinstance(factor, Product) else [factor])
        self.factors = tuple(flat)

    @property
    def relative_error(self):
        """The largest of the factors' ``relative_error``, None if none has one.

        ``-log Q`` is the sum of the factors' ``-log Q_j``, each off by at most
        its relative error, so the sum is off by at most the largest of them.
        """
        errors = [getattr(factor, "relative_error", None) for factor in self.factors]
        errors = [error for error in errors if error is not None]
        return max(errors) if errors else None

    def __call__(self, points):
        """``log Q = sum_j log Q_j`` at points.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        log_quality : torch.Tensor, shape=[...]
        """
        return sum(factor(points) for factor in self.factors)

    def jet(self, points):
        """Sum of the factors' jets, or None if a factor has none in closed form.

        A factor without a ``jet`` method (a plain callable) counts as one with none:
        the metric then differentiates the whole product by autodiff.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        jet : Jet or None
        """
        return self._sum_of_jets(points, gauss_newton=False)

    def gauss_newton_jet(self, points):
        """Sum of the factors' Gauss-Newton jets (their jets where they have none), or None.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        jet : Jet or None
        """
        return self._sum_of_jets(points, gauss_newton=True)

    def linearised(self, points):
        """Sum of the factors' linearised ``log Q_j`` (their values where they have none).

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        log_quality : torch.Tensor, shape=[...]
        """
        return sum(linearised_values(factor, points) for factor in self.factors)

    def _sum_of_jets(self, points, gauss_newton):
        jets = [own_jet(factor, points, gauss_newton) for factor in self.factors]
        if any(jet is None for jet in jets):
            return None
        return sum(jets[1:], jets[0])


def constant_quality_message(log_quality, values, points):
    """Whether a quality is settled as varying or constant, and why it seems constant.

    A quality that ignores its input gives a constant factor, whose geodesics
    are those of the base metric, which is rarely what a quality written by
    hand means. It is read from its first evaluation that autograd records:
    values that autograd does not connect to the points, or the same value with
    zero gradient at distinct points and at random points around them.

    Parameters
    ----------
    log_quality : callable
        ``log Q``, called again at random points around ``points``.
    values : torch.Tensor, shape=[...]
        ``log Q`` at the points, with its autograd graph.
    points : torch.Tensor, shape=[..., {dim, [n, n]}]
        Leaves that require grad.

    Returns
    -------
    settled : bool
        False where the points cannot tell (fewer than two distinct ones).
    message : str or None
        The text of a :class:`~geomstats_density.exceptions.ConstantQualityWarning`,
        or None.
    """
    advice = (
        "geodesics are then those of the base metric. For a constant factor use "
        "quality.Constant(q); otherwise compute log Q from the points with torch "
        "operations (no .item(), float() or .detach()). A quality constant on "
        "purpose where it is defined can silence this ConstantQualityWarning."
    )
    if not values.requires_grad:
        return True, (
            "log_quality returned values that do not depend on the points it was "
            "given (no autograd graph leads from them): " + advice
        )
    flat_values = values.detach().reshape(-1)
    flat = points.detach().reshape(flat_values.numel(), -1)
    if flat_values.numel() < 2 or not bool((flat != flat[0]).any()):
        return False, None
    (gradient,) = torch.autograd.grad(values.sum(), points, retain_graph=True, allow_unused=True)
    if gradient is None:
        message = "log_quality does not use the points it is given (autograd finds no path)"
    elif bool((flat_values == flat_values[0]).all()) and not bool(gradient.any()):
        if not _constant_at_probes(log_quality, flat, flat_values[0], points.shape):
            return True, None
        message = (
            f"log_quality is {flat_values[0].item()} with zero gradient at the "
            f"{flat_values.numel()} distinct points of its first evaluation, and the same "
            "at random points around them, as a constant is"
        )
    else:
        return True, None
    return True, message + ": " + advice


def _constant_at_probes(log_quality, flat, value, shape):
    """Whether ``log Q`` is ``value`` at random points around ``flat`` (``[n, n_coords]``).

    A quality flat where it was first evaluated (clamped, say) but not
    constant varies at some of these; probes it refuses say nothing.
    """
    spread = float(flat.std(0).max()) or 1.0
    generator = torch.Generator().manual_seed(0)
    noise = torch.randn(flat.shape, generator=generator, dtype=flat.dtype)
    probes = (flat + spread * noise).reshape(shape)
    try:
        with torch.no_grad():
            probed = log_quality(probes)
    except Exception:  # noqa: BLE001 - a probe outside the quality's domain
        return False
    return isinstance(probed, torch.Tensor) and bool((probed == value).all())
