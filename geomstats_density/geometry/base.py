"""The interface of a base geometry, with the defaults of a chart of ``R^n``."""

import torch

from geomstats_density._validation import check_points
from geomstats_density.curvature import autodiff_curvature, dense_riemann, directional_derivative
from geomstats_density.geometry.quadrature import QUADRATURE_RULES, check_quadrature, chord_factor


class BaseGeometry:
    """The interface of a base geometry; its defaults are those of a chart of ``R^n``.

    Parameters
    ----------
    space : Manifold
    base_metric : RiemannianMetric
        The space's own geomstats metric.
    quadrature : {'simpson', 'midpoint'}
        How the factor is averaged along curve pieces (:data:`QUADRATURE_RULES`).

    Attributes
    ----------
    name : str
        The space, for messages.
    quadrature_rule : tuple of ndarray or None
        Times in [0, 1] and weights of the factor's quadrature along chords; None
        where pieces are not chords.
    euclidean_chords : bool
        Whether pieces are Euclidean chords of the coordinates and ``g_0 = I``:
        the energy's derivatives, the curvature and the stiff directions of the
        solvers then have closed forms in the log-factor's jet.
    image_chords : bool
        Whether pieces are chords of images ``phi(z)`` with a Jacobian
        (:meth:`image_jacobian`): Gauss-Newton blocks apply.
    has_chart : bool
        Whether the coordinates are a chart (False in ambient coordinates, where
        Christoffel symbols and curvature tensors are not defined).
    """

    euclidean_chords = False
    image_chords = False
    has_chart = True

    def __init__(self, space, base_metric, quadrature="simpson"):
        self.space = space
        self.base_metric = base_metric
        self.name = type(space).__name__
        check_quadrature(quadrature)
        self.quadrature_rule = QUADRATURE_RULES[quadrature]

    def _undefined(self, method):
        """The error of a method this geometry does not define."""
        return NotImplementedError(f"{type(self).__name__} on {self.name} has no {method}.")

    # Coordinates -------------------------------------------------------
    def coordinates(self, array, name):
        """Validated coordinates of points or tangent vectors of the space.

        Parameters
        ----------
        array : array-like, shape=[..., {dim, [n, n]}]
        name : str
            Name of the argument, for error messages.

        Returns
        -------
        coordinates : torch.Tensor, shape=[..., n_coords]

        Raises
        ------
        ValueError
            If the shape is wrong or a coordinate is NaN or infinite.
        """
        return check_points(array, self.space.dim, name)

    def check_membership(self, coordinates, name):
        """Raise ``ValueError`` naming ``name`` where coordinates are off the space.

        Parameters
        ----------
        coordinates : torch.Tensor, shape=[..., n_coords]
        name : str
        """

    def from_coordinates(self, coordinates):
        """Points or tangent vectors of the space, as user callables see them.

        Parameters
        ----------
        coordinates : torch.Tensor, shape=[..., n_coords]

        Returns
        -------
        points : torch.Tensor, shape=[..., {dim, [n, n]}]
        """
        return coordinates

    def to_coordinates(self, points):
        """The inverse of :meth:`from_coordinates`.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., {dim, [n, n]}]

        Returns
        -------
        coordinates : torch.Tensor, shape=[..., n_coords]
        """
        return points

    def project(self, points):
        """The nearest points of the space (the identity in a chart).

        Parameters
        ----------
        points : torch.Tensor, shape=[..., n_coords]

        Returns
        -------
        projected : torch.Tensor, shape=[..., n_coords]
        """
        return points

    def to_tangent(self, vectors, points):
        """Orthogonal projection onto the tangent spaces (the identity in a chart).

        Parameters
        ----------
        vectors : torch.Tensor, shape=[..., n_coords]
        points : torch.Tensor, shape=[..., n_coords]

        Returns
        -------
        tangent : torch.Tensor, shape=[..., n_coords]
        """
        return vectors

    def require_chart(self, what):
        """Raise ``NotImplementedError`` naming ``what`` where coordinates are not a chart.

        Parameters
        ----------
        what : str
            What needs the chart, plural (``"Curvature tensors"``).
        """

    # The model's own log-factor -----------------------------------------
    def add_model_log_factor(self, values, points):
        """The total log-factor from the user's ``f``: ``f`` plus the model's own.

        Parameters
        ----------
        values : torch.Tensor, shape=[...]
            ``f`` at the points.
        points : torch.Tensor, shape=[..., n_coords]

        Returns
        -------
        log_factor : torch.Tensor, shape=[...]
        """
        return values

    def remove_model_log_factor(self, values, points):
        """The user's ``f`` from the total log-factor (the inverse of the above).

        Parameters
        ----------
        values : torch.Tensor, shape=[...]
        points : torch.Tensor, shape=[..., n_coords]

        Returns
        -------
        log_factor : torch.Tensor, shape=[...]
        """
        return values

    def closed_form_jet(self, user_jet, points):
        """The total log-factor's jet from the user's closed form, or None.

        Parameters
        ----------
        user_jet : callable
            ``points -> Jet`` of the user's ``f``, or None where it has none.
        points : torch.Tensor, shape=[..., n_coords]

        Returns
        -------
        jet : Jet or None
            None where the user's factor has no closed form or this geometry
            differentiates by autodiff.
        """
        return user_jet(points)

    def outside_message(self, point):
        """Why a point is outside the space's own domain, or None.

        Parameters
        ----------
        point : torch.Tensor, shape=[n_coords]

        Returns
        -------
        message : str or None
        """
        return None

    # Curve pieces --------------------------------------------------------
    def image(self, points):
        """The points whose chords are measured: ``phi(z)``, or ``z``.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., n_coords]

        Returns
        -------
        image : torch.Tensor, shape=[..., m]
        """
        return points

    def image_jacobian(self, points):
        """Jacobian of :meth:`image` (pull-backs only, :attr:`image_chords`).

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        jacobian : torch.Tensor, shape=[..., m, dim]
        """
        raise NotImplementedError(
            f"The metric on {self.name} has no map phi whose Jacobian to take."
        )

    def base_sq_lengths(self, left, right):
        """Squared base lengths ``|image(right) - image(left)|^2`` of curve pieces.

        Parameters
        ----------
        left, right : torch.Tensor, shape=[..., n_coords]

        Returns
        -------
        sq_lengths : torch.Tensor, shape=[...]
        """
        chord = self.image(right) - self.image(left)
        return (chord * chord).sum(-1)

    def curve_base_sq_lengths(self, nodes):
        """:meth:`base_sq_lengths` of consecutive nodes, :meth:`image` once per node.

        Parameters
        ----------
        nodes : torch.Tensor, shape=[..., n_nodes, n_coords]

        Returns
        -------
        sq_lengths : torch.Tensor, shape=[..., n_nodes - 1]
        """
        image = self.image(nodes)
        chord = image[..., 1:, :] - image[..., :-1, :]
        return (chord * chord).sum(-1)

    def segment_sq_lengths(self, log_factor, left, right):
        """Squared length estimates ``e^f`` averaged by the quadrature, times base lengths.

        Parameters
        ----------
        log_factor : callable
            The metric's total log-factor.
        left, right : torch.Tensor, shape=[..., n_coords]

        Returns
        -------
        sq_lengths : torch.Tensor, shape=[...]
        """
        factor = chord_factor(self.quadrature_rule, log_factor, left, right)
        return factor * self.base_sq_lengths(left, right)

    def curve_sq_lengths(self, log_factor, nodes):
        """:meth:`segment_sq_lengths` of consecutive nodes, the factor once per node.

        Parameters
        ----------
        log_factor : callable
            The metric's total log-factor.
        nodes : torch.Tensor, shape=[..., n_nodes, n_coords]

        Returns
        -------
        sq_lengths : torch.Tensor, shape=[..., n_nodes - 1]
        """
        left, right = nodes[..., :-1, :], nodes[..., 1:, :]
        node_factor = None
        if 0.0 in self.quadrature_rule[0]:
            node_factor = torch.exp(log_factor(nodes))
        factor = chord_factor(self.quadrature_rule, log_factor, left, right, node_factor)
        return factor * self.curve_base_sq_lengths(nodes)

    def piece_midpoints_and_lengths(self, nodes):
        """Midpoints of curve pieces and their lengths in the space's own metric.

        Parameters
        ----------
        nodes : torch.Tensor, shape=[..., n_nodes, n_coords]

        Returns
        -------
        midpoints : torch.Tensor, shape=[..., n_nodes - 1, n_coords]
        lengths : torch.Tensor, shape=[..., n_nodes - 1]
        """
        mid = 0.5 * (nodes[..., :-1, :] + nodes[..., 1:, :])
        return mid, torch.sqrt(self.curve_base_sq_lengths(nodes).clamp_min(0.0))

    # Metric tensor and connection ----------------------------------------
    def base_metric_matrix(self, points):
        """``G_0(z)``, the base metric's matrix in the coordinates.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., n_coords]

        Returns
        -------
        matrix : torch.Tensor, shape=[..., n_coords, n_coords]
        """
        raise self._undefined("base_metric_matrix")

    def base_inner_product(self, points, vec_a, vec_b):
        """``g_0(a, b)`` at the points.

        Parameters
        ----------
        points, vec_a, vec_b : torch.Tensor, shape=[..., n_coords]

        Returns
        -------
        inner_product : torch.Tensor, shape=[...]
        """
        raise self._undefined("base_inner_product")

    def sharp(self, points, covectors, factor):
        """The vectors ``v`` with ``factor g_0(v, .) = covector``.

        Parameters
        ----------
        points, covectors : torch.Tensor, shape=[..., n_coords]
        factor : torch.Tensor, shape=[..., 1]
            ``e^f`` at the points.

        Returns
        -------
        vectors : torch.Tensor, shape=[..., n_coords]
        """
        raise self._undefined("sharp")

    def geodesic_acceleration(self, position, velocity, grad_f):
        """``-Gamma(v, v)`` of ``e^f g_0``.

        Parameters
        ----------
        position, velocity : torch.Tensor, shape=[..., n_coords]
        grad_f : torch.Tensor, shape=[..., n_coords]
            Gradient of the total log-factor at ``position``.

        Returns
        -------
        acceleration : torch.Tensor, shape=[..., n_coords]
        """
        raise self._undefined("geodesic_acceleration")

    def christoffel_map(self, log_factor, points, grad_f, vec_a, vec_b):
        """``Gamma(a, b)`` of ``e^f g_0``.

        Parameters
        ----------
        log_factor : callable
            The metric's total log-factor.
        points : torch.Tensor, shape=[..., n_coords]
            Broadcast against the vectors.
        grad_f, vec_a, vec_b : torch.Tensor, shape=[..., n_coords]
            Of one broadcast shape; ``grad_f`` at the points.

        Returns
        -------
        gamma : torch.Tensor, shape=[..., n_coords]
        """
        raise self._undefined("christoffel_map")

    def christoffels(self, points, grad_f):
        """Christoffel symbols of ``e^f g_0``, contravariant index first.

        Parameters
        ----------
        points, grad_f : torch.Tensor, shape=[..., dim]

        Returns
        -------
        christoffels : torch.Tensor, shape=[..., dim, dim, dim]
        """
        raise self._undefined("christoffels")

    # Curvature (in a chart) ----------------------------------------------
    def metric_matrix_derivative(self, metric, points):
        """``d_k g_ij`` of ``g = e^f G_0``, by autodiff of the matrix.

        Parameters
        ----------
        metric : SolverMetric
            The metric ``e^f g_0`` on this geometry.
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        derivative : torch.Tensor, shape=[..., dim, dim, dim]
        """
        dim = points.shape[-1]
        eye = torch.eye(dim, dtype=points.dtype)
        shape = (*points.shape[:-1], dim, dim)
        leaf = points.detach().unsqueeze(-2).expand(shape).clone().requires_grad_(True)

        def matrices(at):
            factor = torch.exp(metric.log_factor_tensor(at))[..., None, None]
            return (factor * self.base_metric_matrix(at)).flatten(-2)

        with torch.enable_grad():
            columns = directional_derivative(matrices, leaf, eye.expand(shape))
        return columns.detach().unflatten(-1, (dim, dim)).movedim(-3, -1)

    def curvature(self, metric, points, vec_x, vec_y, vec_z):
        """``R(x, y) z`` with ``D Gamma`` by autodiff of ``metric.christoffel_map``.

        Parameters
        ----------
        metric : SolverMetric
        points : torch.Tensor, shape=[..., dim]
        vec_x, vec_y, vec_z : torch.Tensor, shape=[..., dim]
            Broadcast against the points.

        Returns
        -------
        curvature : torch.Tensor, shape=[..., dim]
        """
        shape = torch.broadcast_shapes(points.shape, vec_x.shape, vec_y.shape, vec_z.shape)
        leaf = points.detach().expand(shape).clone().requires_grad_(True)
        vectors = (vec.expand(shape) for vec in (vec_x, vec_y, vec_z))
        with torch.enable_grad():
            curvature = autodiff_curvature(metric.christoffel_map, leaf, *vectors)
        return curvature.detach()

    def riemann(self, metric, points):
        """The Riemann tensor ``R[..., i, j, k, l] = dx^l(R(e_j, e_k) e_i)`` from :meth:`curvature`.

        Parameters
        ----------
        metric : SolverMetric
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        riemann : torch.Tensor, shape=[..., dim, dim, dim, dim]
        """
        return dense_riemann(
            lambda *vectors: self.curvature(metric, points[..., None, None, None, :], *vectors),
            points.shape[:-1],
            points.shape[-1],
            points.dtype,
        )

    def ricci(self, metric, points):
        """The Ricci tensor ``Ric[..., i, k] = R[..., i, j, k, j]``, from :meth:`riemann`.

        Parameters
        ----------
        metric : SolverMetric
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        ricci : torch.Tensor, shape=[..., dim, dim]
        """
        return torch.einsum("...ijkj->...ik", self.riemann(metric, points))

    def scalar_curvature(self, metric, points):
        """``S = g^{ij} Ric_ij``, with the inverse of ``e^f G_0``.

        Parameters
        ----------
        metric : SolverMetric
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        curvature : torch.Tensor, shape=[...]
        """
        matrix = torch.exp(metric.log_factor_tensor(points))[..., None, None] * (
            self.base_metric_matrix(points)
        )
        cometric = torch.linalg.inv(matrix)
        return torch.einsum("...ij,...ij->...", cometric, self.ricci(metric, points))

    # Solvers -------------------------------------------------------------
    def make_solvers(self, space, method, options):
        """The default boundary-value and initial-value solvers.

        Parameters
        ----------
        space : Manifold
        method : str or None
            The boundary-value solver's name (:func:`~geomstats_density.solvers.make_log_solver`).
        options : dict
            Its keyword arguments.

        Returns
        -------
        log_solver, exp_solver : solver objects
        """
        # Imported here: the solvers import the metrics, which import this module.
        from geomstats_density.solvers import make_log_solver
        from geomstats_density.solvers.ode import GeodesicODESolver

        return make_log_solver(space, method or "newton", **options), GeodesicODESolver(space)
