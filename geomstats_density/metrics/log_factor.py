r"""The log conformal factor ``f`` of a conformal metric ``g = e^f g_0``, validated.

A :class:`LogFactor` evaluates the user's ``f`` in the coordinates the solvers
use (:mod:`geomstats_density.geometry`), adds the base model's own log-factor
(on Poincare models), subtracts a constant shift (:meth:`LogFactor.shifted`),
and raises :class:`~geomstats_density.DomainError` naming the first point
where the result is not finite. It also gives the gradient and the Hessian
(:class:`~geomstats_density.jets.Jet`), in closed form where the callable
knows its derivatives. A :class:`~geomstats_density.ConformalMetric` holds one
as ``metric.log_factor_field`` and answers the solvers' ``log_factor_*``
methods from it; :class:`~geomstats_density.DensityConformalMetric` holds a
subclass that reads ``f`` off a quality.
"""

import copy

import torch

from geomstats_density._validation import check_float64, check_scalar_field, user_callable
from geomstats_density.exceptions import DomainError
from geomstats_density.jets import autodiff_jet, linearised_values, own_jet


def _gradient(values, points):
    """Per-point gradient of a scalar field evaluated on a batch of points.

    Points are independent, so the gradient of the sum is the stack of gradients.
    The graph is kept when ``points`` already carries one (pytorch backend).
    """
    if not values.requires_grad:
        return torch.zeros_like(points)
    (grad,) = torch.autograd.grad(
        values.sum(), points, create_graph=torch.is_grad_enabled(), allow_unused=True
    )
    return torch.zeros_like(points) if grad is None else grad


class LogFactor:
    """The log-factor ``f`` of a conformal metric, in coordinates, validated.

    Parameters
    ----------
    function : callable
        The user's ``f``: torch tensor ``[..., *space.shape]`` to torch tensor
        ``[...]`` (see :class:`~geomstats_density.ConformalMetric`).
    geometry : BaseGeometry
        The metric's base geometry: how coordinates become the points the
        callable sees, the model's own log-factor, and the domain's messages.

    Attributes
    ----------
    function : callable
        The user's ``f``.
    geometry : BaseGeometry
    shift : float
        Constant subtracted from the log-factor (:meth:`shifted`), 0 unless shifted.
    """

    def __init__(self, function, geometry):
        self.function = function
        self.geometry = geometry
        self.shift = 0.0

    def values(self, points):
        """Validated log conformal factor ``f(z)``.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., n_coords]

        Returns
        -------
        log_factor : torch.Tensor, shape=[...]

        Raises
        ------
        ValueError
            If the callable returns the wrong shape.
        DomainError
            If a value is NaN or infinite.
        """
        with user_callable("log_factor", self.function):
            values = self.function(self.geometry.from_coordinates(points))
        values = self._base_plus(values, points)
        self._raise_where_invalid(torch.isfinite(values), values, points)
        return values

    def linearised_values(self, points):
        """``f`` with the networks inside it linearised at the points, validated.

        The same values and gradients as :meth:`values`; its Hessian by autodiff
        is that of ``jet(points, gauss_newton=True)``. From the callable's
        ``linearised`` method where it has one
        (:func:`~geomstats_density.jets.linearised_values`), its values otherwise.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., n_coords]

        Returns
        -------
        log_factor : torch.Tensor, shape=[...]

        Raises
        ------
        ValueError
            If the callable returns the wrong shape.
        DomainError
            If a value is NaN or infinite.
        """
        values = self._linearised_function(self.geometry.from_coordinates(points))
        values = self._base_plus(values, points)
        self._raise_where_invalid(torch.isfinite(values), values, points)
        return values

    def _linearised_function(self, points):
        """The user's ``f`` with its networks linearised (its values where it has no such form)."""
        with user_callable("log_factor", self.function):
            return linearised_values(self.function, points)

    def _raise_where_invalid(self, valid, values, points):
        """A DomainError naming the first point where ``valid`` is False."""
        if not bool(valid.all()):
            index = tuple(int(i) for i in torch.nonzero(~valid)[0])
            raise DomainError(self._domain_error_message(points[index], values[index]))

    def values_or_inf(self, points):
        """``f(z)`` where finite, ``+inf`` outside the domain (for graph searches).

        Callables that raise :class:`DomainError` on some points (densities
        outside their support) are evaluated on halves of the batch until the
        points they refuse are isolated.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., n_coords]

        Returns
        -------
        log_factor : torch.Tensor, shape=[...]
        """
        flat = points.reshape(-1, points.shape[-1])
        return self._values_or_inf_flat(flat).reshape(points.shape[:-1])

    def _values_or_inf_flat(self, points):
        try:
            with user_callable("log_factor", self.function):
                values = self.function(self.geometry.from_coordinates(points))
            values = self._base_plus(values, points)
        except DomainError:
            if points.shape[0] == 1:
                return torch.full((1,), torch.inf, dtype=points.dtype)
            half = points.shape[0] // 2
            return torch.cat(
                [
                    self._values_or_inf_flat(points[:half]),
                    self._values_or_inf_flat(points[half:]),
                ]
            )
        return torch.where(torch.isfinite(values), values, torch.inf)

    def _base_plus(self, values, points):
        """Check the callable's values; add a conformally flat model's own factor.

        The shift of :meth:`shifted` is subtracted.
        """
        check_scalar_field(values, points, "log_factor")
        check_float64(values, "log_factor")
        values = self.geometry.add_model_log_factor(values, points)
        return values - self.shift if self.shift else values

    def shifted(self, shift):
        """Copy whose values are ``f - shift``.

        The copy is shallow: it shares the callable and the geometry; this
        log-factor is left unchanged.

        Parameters
        ----------
        shift : float

        Returns
        -------
        log_factor : LogFactor
        """
        log_factor = copy.copy(self)
        log_factor.shift = self.shift + float(shift)
        return log_factor

    def _domain_error_message(self, point, value):
        """Why ``f`` is not finite at ``point``: outside the model, or the factor itself."""
        return self.geometry.outside_message(point) or (
            f"log_factor is not finite ({value.item()}) at point {point.tolist()}."
        )

    def values_and_gradient(self, points):
        """``f(z)`` and ``grad f(z)``, each point on its own.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., n_coords]

        Returns
        -------
        log_factor : torch.Tensor, shape=[...]
        gradient : torch.Tensor, shape=[..., n_coords]

        Raises
        ------
        DomainError
            If a value or a gradient is NaN or infinite (a factor not
            differentiable there, such as a norm at 0): the geodesic equation
            and the Christoffel symbols need the gradient.
        """
        with torch.enable_grad():
            if not points.requires_grad:
                points = points.detach().requires_grad_(True)
            values = self.values(points)
            gradient = _gradient(values, points)
        finite = torch.isfinite(gradient).all(-1)
        if not bool(finite.all()):
            index = tuple(int(i) for i in torch.nonzero(~finite)[0])
            raise DomainError(
                f"The gradient of log_factor is not finite "
                f"({gradient[index].detach().tolist()}) at point "
                f"{self.geometry.from_coordinates(points[index]).detach().tolist()}: the "
                "geodesic equation needs a factor differentiable there."
            )
        return values, gradient

    def jet(self, points, gauss_newton=False):
        """``f``, ``grad f`` and ``Hess f`` at each point.

        In closed form where the factor knows its derivatives (a callable with
        a ``jet`` method, :mod:`geomstats_density.jets`); by autodiff otherwise.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., n_coords]
        gauss_newton : bool
            Whether the Hessian may drop the second derivatives of the networks
            inside the factor (a ``gauss_newton_jet`` method, such as
            :meth:`Feature.gauss_newton_jet
            <geomstats_density.quality.Feature.gauss_newton_jet>`): exact where
            they are piecewise linear.

        Returns
        -------
        jet : Jet

        Raises
        ------
        DomainError
            If a value is NaN or infinite.
        """
        jet = self.geometry.closed_form_jet(
            lambda coordinates: self._closed_form_jet(coordinates, gauss_newton), points
        )
        if jet is None:
            return autodiff_jet(self.values, points)
        if self.shift:
            jet = jet._replace(value=jet.value - self.shift)
        self._raise_where_invalid(torch.isfinite(jet.value), jet.value, points)
        return jet

    def _closed_form_jet(self, points, gauss_newton=False):
        """The user factor's own jet (with ``gauss_newton``, its linearised one first), or None."""
        return own_jet(self.function, points, gauss_newton)
