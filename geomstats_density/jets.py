"""Second-order jets of scalar fields: value, gradient and Hessian at each point.

The Newton solver needs ``f``, ``grad f`` and ``Hess f`` of the log-factor at
every quadrature point of every curve. Autodiff gives them for any callable, at
the price of a double backward pass batched over the coordinates. Most factors
the package builds are a known density composed with scalar functions
(``2 log(-log Q)``, a smoothing, the law of ``log p(X)``): the density's jet has
a closed form (:meth:`~geomstats_density.densities.GaussianMixture.log_prob_jet`)
and a scalar function only needs its first two derivatives, which autodiff gives
cheaply because it acts element by element. Composing them by the chain rule is
cheaper than differentiating the whole factor twice.
"""

from typing import NamedTuple

import torch


class Jet(NamedTuple):
    """A scalar field's value, gradient and Hessian at a batch of points.

    Attributes
    ----------
    value : torch.Tensor, shape=[...]
    gradient : torch.Tensor, shape=[..., dim]
    hessian : torch.Tensor, shape=[..., dim, dim]
    """

    value: torch.Tensor
    gradient: torch.Tensor
    hessian: torch.Tensor

    def then(self, function):
        """The jet of ``function(field)`` for an element-wise ``function``.

        Parameters
        ----------
        function : callable
            Torch tensor ``[...]`` to tensor ``[...]``, acting element by element
            and differentiable twice.

        Returns
        -------
        jet : Jet
        """
        value, first, second = elementwise_derivatives(function, self.value)
        return self.chain(value, first, second)

    def chain(self, value, first, second):
        """The jet of ``h(field)`` from ``h``, ``h'`` and ``h''`` at the field's values.

        Parameters
        ----------
        value, first, second : torch.Tensor, shape=[...]
        """
        outer = self.gradient.unsqueeze(-1) * self.gradient.unsqueeze(-2)
        return Jet(
            value,
            first.unsqueeze(-1) * self.gradient,
            second[..., None, None] * outer + first[..., None, None] * self.hessian,
        )

    def __add__(self, other):
        return Jet(
            self.value + other.value,
            self.gradient + other.gradient,
            self.hessian + other.hessian,
        )


def own_jet(function, points, gauss_newton=False):
    """The jet a callable gives of itself (its ``jet`` method), or None.

    With ``gauss_newton``, its ``gauss_newton_jet`` method comes first: the jet
    with the networks inside the callable linearised (see
    :meth:`Feature.gauss_newton_jet <geomstats_density.quality.Feature.gauss_newton_jet>`).

    Parameters
    ----------
    function : callable
    points : torch.Tensor, shape=[..., dim]
    gauss_newton : bool

    Returns
    -------
    jet : Jet or None
        None where the callable has no such method or its method returns None.
    """
    method = getattr(function, "gauss_newton_jet", None) if gauss_newton else None
    if method is None:
        method = getattr(function, "jet", None)
    return None if method is None else method(points)


def linearised_values(function, points):
    """A callable's values with the networks inside it linearised at the points.

    Its ``linearised`` method where it has one (such as
    :meth:`Feature.linearised <geomstats_density.quality.Feature.linearised>`),
    its plain values otherwise.

    Parameters
    ----------
    function : callable
    points : torch.Tensor, shape=[..., dim]

    Returns
    -------
    values : torch.Tensor, shape=[...]
    """
    method = getattr(function, "linearised", None)
    return function(points) if method is None else method(points)


def elementwise_derivatives(function, values):
    """``h``, ``h'`` and ``h''`` of an element-wise function at ``values``.

    Two backward passes of a summed output: exact because each output depends
    on its own input only.

    Parameters
    ----------
    function : callable
        Torch tensor ``[...]`` to tensor ``[...]``, element by element.
    values : torch.Tensor, shape=[...]

    Returns
    -------
    value, first, second : torch.Tensor, shape=[...]
    """
    leaf = values.detach().requires_grad_(True)
    with torch.enable_grad():
        value = function(leaf)
        first = second = torch.zeros_like(leaf)
        if value.requires_grad:
            (first,) = torch.autograd.grad(value.sum(), leaf, create_graph=True)
        if first.requires_grad:
            (second,) = torch.autograd.grad(first.sum(), leaf)
    return value.detach(), first.detach(), second.detach()


def autodiff_jet(function, points):
    """The jet of any scalar field by autodiff (double backward over the coordinates).

    All Hessian rows come from one backward pass batched over the coordinates
    (``is_grads_batched``); where the function's backward cannot be batched
    (a custom ``autograd.Function`` whose backward branches on the values of
    the gradient it receives, say), from one backward pass per coordinate.

    Parameters
    ----------
    function : callable
        Torch tensor ``[..., dim]`` to tensor ``[...]``, differentiable twice.
    points : torch.Tensor, shape=[..., dim]

    Returns
    -------
    jet : Jet
    """
    dim = points.shape[-1]
    leaf = points.detach().requires_grad_(True)
    with torch.enable_grad():
        value = function(leaf)
        gradient = torch.zeros_like(leaf)
        hessian = torch.zeros(*points.shape, dim, dtype=points.dtype)
        if value.requires_grad:
            (gradient,) = torch.autograd.grad(value.sum(), leaf, create_graph=True)
        if gradient.requires_grad:
            hessian = _hessian_rows(gradient, leaf)
    return Jet(value.detach(), gradient.detach(), hessian.detach())


def _hessian_rows(gradient, leaf):
    """``d gradient[..., i] / d leaf`` for every ``i``, shape ``[..., dim, dim]``.

    Points are independent, so row ``i`` at every point is the derivative of
    the sum over points of ``gradient[..., i]``.
    """
    dim = leaf.shape[-1]
    seeds = torch.eye(dim, dtype=leaf.dtype).reshape(dim, *[1] * (leaf.ndim - 1), dim)
    seeds = seeds.expand(dim, *leaf.shape)
    try:
        (rows,) = torch.autograd.grad(
            gradient, leaf, grad_outputs=seeds, is_grads_batched=True, retain_graph=True
        )
    except RuntimeError:
        rows = torch.stack(
            [
                torch.autograd.grad(gradient, leaf, grad_outputs=seed, retain_graph=True)[0]
                for seed in seeds
            ]
        )
    return rows.movedim(0, -2)
