"""The density-conformal metric of Struski et al.: the factor ``log(Q)^2``.

For a quality ``Q: Z -> (0, 1)``, :class:`DensityConformalMetric` is the
conformal metric (:class:`~geomstats_density.metrics.ConformalMetric`) with
``f = log(log(Q)^2)``: geodesics then maximise the curve quality, i.e. they keep
to where ``Q`` is high. Equip a space with it the geomstats way::

    sphere = Hypersphere(2, equip=False)
    sphere.equip_with_metric(DensityConformalMetric, log_quality=quality)
    sphere.metric.geodesic(point_a, point_b)
"""

import torch

from geomstats_density._validation import check_float64, check_scalar_field, user_callable
from geomstats_density.backend import to_backend
from geomstats_density.densities import Density
from geomstats_density.exceptions import ConstantQualityWarning, warn_at_caller
from geomstats_density.jets import linearised_values, own_jet
from geomstats_density.metrics import ConformalMetric, LogFactor
from geomstats_density.quality import Constant, Product, constant_quality_message

# The default tol of a quality with a Monte-Carlo error: this fraction of its
# relative_error, or the solver's own default if larger. Digits of the length
# below the quality's own error are noise; at a hundredth of it the
# discretisation adds nothing visible to the spread across random states.
MONTE_CARLO_TOL_FRACTION = 0.01


class QualityLogFactor(LogFactor):
    """The log-factor ``f = 2 log(-log Q)`` of a quality, with the quality's messages.

    Where ``f`` is not finite, :class:`~geomstats_density.DomainError` names the
    value of ``log Q`` there; the jet is in closed form where the quality has one.

    Parameters
    ----------
    function : callable
        ``f`` from points of the space (the metric's evaluation of the quality).
    geometry : BaseGeometry
        The metric's base geometry.
    log_quality : callable
        ``log Q``: torch tensor ``[..., *space.shape]`` to torch tensor ``[...]``.
    """

    def __init__(self, function, geometry, log_quality):
        super().__init__(function, geometry)
        self.log_quality = log_quality

    def log_quality_values(self, points):
        """Validated ``log Q(z)``.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., n_coords]

        Returns
        -------
        log_quality : torch.Tensor, shape=[...]

        Raises
        ------
        ValueError
            If the callable returns the wrong shape.
        DomainError
            If ``log Q`` is NaN, infinite or not below 0 (``Q`` must be in (0, 1)).
        """
        with user_callable("log_quality", self.log_quality):
            values = self.log_quality(self.geometry.from_coordinates(points))
        check_scalar_field(values, points, "log_quality")
        check_float64(values, "log_quality")
        self._raise_where_invalid(torch.isfinite(values) & (values < 0), values, points)
        return values

    def _closed_form_jet(self, points, gauss_newton=False):
        """The jet of ``f = 2 log(-log Q)`` from the quality's own jet, or None."""
        log_quality = own_jet(self.log_quality, points, gauss_newton)
        if log_quality is None:
            return None
        value = log_quality.value
        # f = 2 log(-log Q), with f' = 2 / log Q and f'' = -2 / log Q^2; where log Q
        # is not in (-inf, 0), f is not finite and the caller reports the point.
        return log_quality.chain(2.0 * torch.log(-value), 2.0 / value, -2.0 / value**2)

    def _linearised_function(self, points):
        """``f = 2 log(-log Q)`` from the quality with its networks linearised."""
        with user_callable("log_quality", self.log_quality):
            log_quality = linearised_values(self.log_quality, points)
        return 2.0 * torch.log(-log_quality)

    def _domain_error_message(self, point, value):
        outside = self.geometry.outside_message(point)
        if outside is not None:
            return outside
        from_coordinates = self.geometry.from_coordinates
        log_quality = self.log_quality(from_coordinates(point[None]))[0].item()
        return (
            "log_quality must be finite and < 0 (quality strictly inside (0, 1)); "
            f"got {log_quality} at point {from_coordinates(point).tolist()}."
        )


class DensityConformalMetric(ConformalMetric):
    r"""The paper's metric ``g_z = log(Q(z))^2 * g^0_z`` for a quality ``Q``.

    Geodesics of this metric are the curves of maximal quality
    ``log q(gamma) = integral of log Q |d/dt gamma|_0 dt = -L_g(gamma)``.

    Parameters
    ----------
    space : Manifold
        As in :class:`~geomstats_density.metrics.ConformalMetric`: a Euclidean
        vector space, a Poincare model, a ``Hypersphere`` or
        ``SpecialOrthogonal(3)``.
    log_quality : callable
        ``log Q``: torch tensor ``[..., *space.shape]`` to torch tensor ``[...]``,
        finite and strictly negative (``Q`` in (0, 1)) where curves go.
    phi : callable, optional
        Map whose image lengths are measured; identity by default.
    quadrature, method, injectivity_radius
        As in :class:`~geomstats_density.metrics.ConformalMetric`.
    solver_options : dict, optional
        As in :class:`~geomstats_density.metrics.ConformalMetric`, but the
        solver's ``tol`` is ``'auto'`` unless given: where the quality has a
        Monte-Carlo error (its ``relative_error``, the realism index and the
        typicality of densities other than a Gaussian), the solver's default
        ``tol`` raised to ``MONTE_CARLO_TOL_FRACTION`` (a hundredth) of it;
        the solver's own default otherwise.

    Raises
    ------
    ValueError
        If ``solver_options`` asks for ``tol='auto'`` and the solver has no ``tol``.
    """

    def __init__(
        self,
        space,
        log_quality,
        phi=None,
        quadrature="simpson",
        method=None,
        solver_options=None,
        injectivity_radius=None,
    ):
        if not callable(log_quality):
            raise ValueError("log_quality must be callable.")
        if isinstance(log_quality, Density):
            raise TypeError(
                f"log_quality is a density ({type(log_quality).__name__}), not a log-quality "
                "log Q with Q in (0, 1): wrap it, log_quality=RealismIndex(density) (or "
                "Typicality(density), DensityRatio(density), from "
                "geomstats_density.quality); a LatentSpace takes it as log_density=."
            )
        factors = log_quality.factors if isinstance(log_quality, Product) else (log_quality,)
        # Qualities constant by construction are not checked for depending on the points.
        self._quality_checked = all(isinstance(factor, Constant) for factor in factors)
        self.log_quality = log_quality
        solver_options = dict(solver_options or {})
        tol = solver_options.get("tol")
        asked_auto = isinstance(tol, str) and tol == "auto"
        if asked_auto:
            del solver_options["tol"]
        super().__init__(
            space,
            log_factor=self._log_factor_from_quality,
            phi=phi,
            quadrature=quadrature,
            method=method,
            solver_options=solver_options,
            injectivity_radius=injectivity_radius,
        )
        if "tol" not in solver_options:
            self._resolve_auto_tol(asked_auto)

    def _resolve_auto_tol(self, asked):
        """The solver's ``tol`` raised to the quality's Monte-Carlo error, if it has one.

        Parameters
        ----------
        asked : bool
            Whether the user asked for ``tol='auto'`` (then a solver without
            ``tol`` is an error).
        """
        if not hasattr(self.log_solver, "tol"):
            if asked:
                raise ValueError(
                    f"solver_options tol='auto': the solver "
                    f"{type(self.log_solver).__name__} has no tol."
                )
            return
        relative_error = getattr(self.log_quality, "relative_error", None)
        if relative_error is not None and self.log_solver.tol is not None:
            floor = MONTE_CARLO_TOL_FRACTION * relative_error
            self.log_solver.tol = max(self.log_solver.tol, floor)

    def log_quality_tensor(self, points):
        """Validated ``log Q(z)``.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., n_coords]

        Returns
        -------
        log_quality : torch.Tensor, shape=[...]

        Raises
        ------
        ValueError
            If the callable returns the wrong shape.
        DomainError
            If ``log Q`` is NaN, infinite or not below 0 (``Q`` must be in (0, 1)).
        """
        return self.log_factor_field.log_quality_values(points)

    def _make_log_factor(self, log_factor, geometry):
        return QualityLogFactor(log_factor, geometry, self.log_quality)

    def _log_factor_from_quality(self, points):
        with user_callable("log_quality", self.log_quality):
            log_quality = self.log_quality(points)
        check_scalar_field(log_quality, points, "log_quality", self._space.point_ndim)
        check_float64(log_quality, "log_quality")
        if points.requires_grad and torch.is_grad_enabled() and not self._quality_checked:
            # Once, at the first evaluation that autograd records.
            self._quality_checked, message = constant_quality_message(
                self.log_quality, log_quality, points
            )
            if message is not None:
                warn_at_caller(message, ConstantQualityWarning)
        # Not finite exactly where log Q is not in (-inf, 0).
        return 2.0 * torch.log(-log_quality)

    def curve_log_quality(self, points):
        r"""The paper's curve quality ``log q(gamma)`` of a discretised curve.

        ``sum_i log Q(mid_i) * |phi(z_{i+1}) - phi(z_i)|``, which equals minus the
        curve's discrete length in this metric. On other spaces the pieces are
        measured by the base metric: ``d_0(z_i, z_{i+1})`` on a hypersphere or
        ``SO(3)`` (``mid_i`` the geodesic midpoint), ``e^{h(mid_i)/2}`` times the
        chord on a Poincare model.

        Parameters
        ----------
        points : array-like, shape=[..., n_points, {dim, [n, n]}]
            Nodes of the curve, in order.

        Returns
        -------
        log_quality : array-like, shape=[...]
        """
        points = self.points_tensor(points, "points")
        if points.ndim < 2 or points.shape[-2] < 2:
            raise ValueError(
                f"points must have shape [..., n_points >= 2, dim], got {tuple(points.shape)}."
            )
        mid, base_lengths = self.geometry.piece_midpoints_and_lengths(points)
        pieces = self.log_quality_tensor(mid) * base_lengths
        return to_backend(pieces.sum(-1))
