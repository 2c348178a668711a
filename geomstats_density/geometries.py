r"""How the base metric ``g_0`` enters the computations of a conformal metric.

A :class:`~geomstats_density.ConformalMetric` ``g = e^f g_0`` picks one geometry
at construction (:func:`geometry_for`) and hands it everything that depends on
``g_0``: the coordinates its torch methods take, the squared lengths of curve
pieces, the metric matrix, raising an index, the connection, and which solvers
apply. The metric itself only adds the factor ``e^f``; it never asks which kind
of geometry it has.

- :class:`EuclideanGeometry`: a vector space with ``g_0 = I``; curve pieces
  are Euclidean chords of the coordinates.
- :class:`ConformallyFlatGeometry`: the Poincare ball and half-space, whose
  metrics are ``e^{h} I``: the model's own log-factor ``h`` is added to ``f``,
  and the rest is Euclidean.
- :class:`PullbackGeometry`: ``g_0 = J_phi^T J_phi``, the pull-back of the
  Euclidean inner product through a map ``phi``; pieces are chords of the images.
- :class:`MatrixGeometry`: any base metric matrix ``G_0(z)`` in coordinates,
  the connection by Koszul's formula (the kernel mean embedding's of
  :mod:`geomstats_density.measures` is one).
- :class:`EmbeddedGeometry`: a hypersphere or ``SO(3)`` in ambient coordinates
  (:class:`~geomstats_density.manifolds.EmbeddedManifold`); pieces are measured
  by the manifold's own distance.

Every method takes and returns float64 torch tensors of *coordinates*
``[..., n_coords]``: the points themselves in a chart, flattened ambient
coordinates on an embedded manifold. Methods that need the metric's total
log-factor (the user's ``f``, validated, plus the model's own ``h``) take it as
a callable ``log_factor``: torch ``[..., n_coords] -> [...]``.
"""

import geomstats.backend as gs
import numpy as np
import torch

from geomstats_density._linalg import solve_positive_definite
from geomstats_density._validation import check_points
from geomstats_density.backend import to_backend, to_torch
from geomstats_density.curvature import christoffel_product, directional_derivative
from geomstats_density.jets import autodiff_jet
from geomstats_density.manifolds import ConformallyFlat, base_geometry

# Times along a chord and weights at which the factor is averaged.
QUADRATURE_RULES = {
    "midpoint": (np.array([0.5]), np.array([1.0])),
    "simpson": (np.array([0.0, 0.5, 1.0]), np.array([1.0, 4.0, 1.0]) / 6.0),
}

# Points per phi call when a Jacobian is built from forward-mode products.
JACOBIAN_BATCH = 4096


def geometry_for(space, phi=None, quadrature="simpson"):
    """The geometry of a space's own metric, with the pull-back through ``phi`` if given.

    Parameters
    ----------
    space : Manifold
        A vector space with the Euclidean metric, ``PoincareBall(n)``,
        ``PoincareHalfSpace(n)``, ``Hypersphere(n)`` or ``SpecialOrthogonal(3)``
        (matrices).
    phi : callable, optional
        Map ``[..., dim] -> [..., m]`` whose image lengths are measured; vector
        spaces only.
    quadrature : {'simpson', 'midpoint'}
        How chord geometries average the factor along a curve piece
        (:data:`QUADRATURE_RULES`).

    Returns
    -------
    geometry : BaseGeometry

    Raises
    ------
    ValueError
        If the space is not one of the supported kinds, or ``phi`` is given on a
        space other than a Euclidean vector space.
    """
    base_metric, model = base_geometry(space)
    if phi is not None:
        if model is not None:
            raise ValueError(
                "phi pulls back the Euclidean inner product: it needs a vector space "
                f"with the Euclidean metric, not {type(space).__name__}."
            )
        return PullbackGeometry(space, base_metric, phi, quadrature)
    if model is None:
        return EuclideanGeometry(space, base_metric, quadrature)
    if isinstance(model, ConformallyFlat):
        return ConformallyFlatGeometry(space, base_metric, model, quadrature)
    return EmbeddedGeometry(space, base_metric, model)


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
        self.quadrature_rule = QUADRATURE_RULES[quadrature]

    # Coordinates -------------------------------------------------------
    def coordinates(self, array, name):
        """Validated coordinates of points or tangent vectors of the space.

        Parameters
        ----------
        array : array-like, shape=[..., *space.shape]
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
        points : torch.Tensor, shape=[..., *space.shape]
        """
        return coordinates

    def to_coordinates(self, points):
        """The inverse of :meth:`from_coordinates`.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., *space.shape]

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
        return self._chord_factor(log_factor, left, right) * self.base_sq_lengths(left, right)

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
        chord_factor = self._chord_factor(log_factor, left, right, node_factor)
        return chord_factor * self.curve_base_sq_lengths(nodes)

    def _chord_factor(self, log_factor, left, right, node_factor=None):
        """The factor averaged along chords by the quadrature rule, shape ``[...]``.

        ``node_factor``, the factor at the nodes of curves whose consecutive
        nodes are ``left`` and ``right``, saves evaluating it twice per node.
        """
        total = 0.0
        for time, weight in zip(*self.quadrature_rule):
            if node_factor is not None and time == 0.0:
                values = node_factor[..., :-1]
            elif node_factor is not None and time == 1.0:
                values = node_factor[..., 1:]
            else:
                values = torch.exp(log_factor((1 - time) * left + time * right))
            total = total + weight * values
        return total

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
        raise NotImplementedError

    def base_inner_product(self, points, vec_a, vec_b):
        """``g_0(a, b)`` at the points.

        Parameters
        ----------
        points, vec_a, vec_b : torch.Tensor, shape=[..., n_coords]

        Returns
        -------
        inner_product : torch.Tensor, shape=[...]
        """
        raise NotImplementedError

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
        raise NotImplementedError

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
        raise NotImplementedError

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
        raise NotImplementedError

    def christoffels(self, points, grad_f):
        """Christoffel symbols of ``e^f g_0``, contravariant index first.

        Parameters
        ----------
        points, grad_f : torch.Tensor, shape=[..., dim]

        Returns
        -------
        christoffels : torch.Tensor, shape=[..., dim, dim, dim]
        """
        raise NotImplementedError

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


def _conformal_christoffels(grad_f, raised_grad, base):
    """The factor's part ``1/2 (delta_i^k d_j f + delta_j^k d_i f - G0_ij (G0^-1 grad f)^k)``."""
    eye = torch.eye(grad_f.shape[-1], dtype=grad_f.dtype)
    return 0.5 * (
        eye[:, :, None] * grad_f[..., None, None, :]
        + eye[:, None, :] * grad_f[..., None, :, None]
        - base[..., None, :, :] * raised_grad[..., :, None, None]
    )


class EuclideanGeometry(BaseGeometry):
    """``g_0 = I`` on a vector space: pieces are Euclidean chords.

    Parameters
    ----------
    space : Manifold
    base_metric : RiemannianMetric
    quadrature : {'simpson', 'midpoint'}
    """

    euclidean_chords = True

    def base_metric_matrix(self, points):
        """The identity, shape ``[..., dim, dim]``."""
        dim = points.shape[-1]
        return torch.eye(dim, dtype=points.dtype).expand(*points.shape, dim)

    def base_inner_product(self, points, vec_a, vec_b):
        """``a . b``, shape ``[...]``."""
        return (vec_a * vec_b).sum(-1)

    def sharp(self, points, covectors, factor):
        """``covector / factor``, shape ``[..., dim]``."""
        return covectors / factor

    def geodesic_acceleration(self, position, velocity, grad_f):
        r"""``1/2 |v|^2 grad f - (grad f . v) v``, shape ``[..., dim]``."""
        slope = (grad_f * velocity).sum(-1, keepdim=True)
        sq_speed = (velocity * velocity).sum(-1, keepdim=True)
        return 0.5 * sq_speed * grad_f - slope * velocity

    def christoffel_map(self, log_factor, points, grad_f, vec_a, vec_b):
        """``1/2 ((grad f . a) b + (grad f . b) a - (a . b) grad f)``, shape ``[..., dim]``."""
        return christoffel_product(grad_f, vec_a, vec_b)

    def christoffels(self, points, grad_f):
        """The closed form of ``e^f I``, shape ``[..., dim, dim, dim]``."""
        return _conformal_christoffels(grad_f, grad_f, self.base_metric_matrix(points))


class ConformallyFlatGeometry(EuclideanGeometry):
    """A Poincare model ``g_0 = e^h I``: ``h`` is added to the log-factor, the rest is Euclidean.

    Parameters
    ----------
    space : Manifold
    base_metric : RiemannianMetric
    model : ConformallyFlat
        The model's own log-factor ``h`` and domain.
    quadrature : {'simpson', 'midpoint'}
    """

    def __init__(self, space, base_metric, model, quadrature="simpson"):
        super().__init__(space, base_metric, quadrature)
        self.model = model
        self.name = model.name

    def add_model_log_factor(self, values, points):
        """``f + h``, shape ``[...]``."""
        return values + self.model.log_factor(points)

    def remove_model_log_factor(self, values, points):
        """``(f + h) - h``, shape ``[...]``."""
        return values - self.model.log_factor(points)

    def closed_form_jet(self, user_jet, points):
        """The user's jet plus ``h``'s (by autodiff), or None."""
        jet = user_jet(points)
        return None if jet is None else jet + autodiff_jet(self.model.log_factor, points)

    def outside_message(self, point):
        """The model's domain where ``h`` is not finite at the point."""
        if bool(torch.isfinite(self.model.log_factor(point))):
            return None
        return f"point {point.tolist()} is outside the {self.name}: {self.model.domain}."

    def piece_midpoints_and_lengths(self, nodes):
        """Chord midpoints and chords times ``e^{h(mid)/2}``."""
        mid, chords = super().piece_midpoints_and_lengths(nodes)
        return mid, torch.exp(0.5 * self.model.log_factor(mid)) * chords


class MatrixGeometry(BaseGeometry):
    """A base metric given by its matrix ``G_0(z)`` in a chart (:meth:`base_metric_matrix`).

    The connection comes from Koszul's formula by autodiff; subclasses with a
    closed form override :meth:`christoffel_map`.
    """

    def base_inner_product(self, points, vec_a, vec_b):
        """``a^T G_0 b``, shape ``[...]``."""
        matrix = self.base_metric_matrix(points)
        return torch.einsum("...i,...ij,...j->...", vec_a, matrix, vec_b)

    def sharp(self, points, covectors, factor):
        """``G_0^{-1} covector / factor`` (a Cholesky solve), shape ``[..., dim]``."""
        base = self.base_metric_matrix(points)
        return solve_positive_definite(base, covectors.unsqueeze(-1)).squeeze(-1) / factor

    def christoffel_map(self, log_factor, points, grad_f, vec_a, vec_b):
        """``Gamma(a, b) = 1/2 G^{-1} (dG[a] b + dG[b] a - grad (a^T G b))`` by autodiff."""
        points = points.expand(grad_f.shape)

        def matrices(at):
            factor = torch.exp(log_factor(at))[..., None, None]
            return factor * self.base_metric_matrix(at)

        def times(vector):
            return lambda at: (matrices(at) @ vector.unsqueeze(-1)).squeeze(-1)

        with torch.enable_grad():
            if not points.requires_grad:
                points = points.detach().requires_grad_(True)
            matrix = matrices(points)
            pairing = torch.einsum("...i,...ij,...j->...", vec_a, matrix, vec_b)
            (gradient,) = torch.autograd.grad(pairing.sum(), points, create_graph=True)
            lowered = (
                directional_derivative(times(vec_b), points, vec_a)
                + directional_derivative(times(vec_a), points, vec_b)
                - gradient
            )
        return 0.5 * solve_positive_definite(matrix, lowered.unsqueeze(-1)).squeeze(-1)


class PullbackGeometry(MatrixGeometry):
    """``g_0 = J_phi^T J_phi``: the Euclidean inner product pulled back through ``phi``.

    Parameters
    ----------
    space : Manifold
    base_metric : RiemannianMetric
    phi : callable
        Map ``[..., dim] -> [..., m]``, torch in and out, differentiable twice.
    quadrature : {'simpson', 'midpoint'}
    """

    image_chords = True

    def __init__(self, space, base_metric, phi, quadrature="simpson"):
        super().__init__(space, base_metric, quadrature)
        self.phi = phi

    def image(self, points):
        """``phi(z)``, shape ``[..., m]``."""
        return self.phi(points)

    def image_jacobian(self, points):
        """Jacobian of ``phi`` at each point, shape ``[..., m, dim]``.

        Columns come from forward-mode products, as many per ``phi`` call as
        keep the call within ``JACOBIAN_BATCH`` points.
        """
        dim = points.shape[-1]
        basis = torch.eye(dim, dtype=points.dtype)
        per_call = max(1, JACOBIAN_BATCH // max(1, points[..., 0].numel()))
        columns = []
        for begin in range(0, dim, per_call):
            directions = basis[begin : begin + per_call]
            repeated = points.unsqueeze(-2).expand(*points.shape[:-1], len(directions), dim)
            repeated = repeated.contiguous()
            _, products = torch.func.jvp(
                self.phi, (repeated,), (directions.expand_as(repeated).contiguous(),)
            )
            columns.append(products)
        return torch.cat(columns, dim=-2).transpose(-1, -2)

    def _second_derivative(self, points, vector_a, vector_b):
        """``D^2 phi(z)[a, b]``, shape ``[..., m]``."""

        def directional(z):
            return torch.func.jvp(self.phi, (z,), (vector_b,))[1]

        return torch.func.jvp(directional, (points,), (vector_a,))[1]

    def base_metric_matrix(self, points):
        """``J_phi^T J_phi``, shape ``[..., dim, dim]``."""
        jacobian = self.image_jacobian(points)
        return jacobian.transpose(-1, -2) @ jacobian

    def base_inner_product(self, points, vec_a, vec_b):
        """``<J a, J b>``, shape ``[...]``."""
        jacobian = self.image_jacobian(points)
        vec_a = (jacobian @ vec_a.unsqueeze(-1)).squeeze(-1)
        vec_b = (jacobian @ vec_b.unsqueeze(-1)).squeeze(-1)
        return (vec_a * vec_b).sum(-1)

    def geodesic_acceleration(self, position, velocity, grad_f):
        r"""``-G_0^{-1} (J^T D^2 phi[v, v] - 1/2 |J v|^2 grad f) - (grad f . v) v``."""
        slope = (grad_f * velocity).sum(-1, keepdim=True)
        jacobian = self.image_jacobian(position)
        image_velocity = (jacobian @ velocity.unsqueeze(-1)).squeeze(-1)
        sq_speed = (image_velocity * image_velocity).sum(-1, keepdim=True)
        curvature = self._second_derivative(position, velocity, velocity)
        force = (jacobian.transpose(-1, -2) @ curvature.unsqueeze(-1)).squeeze(-1)
        base = jacobian.transpose(-1, -2) @ jacobian
        rhs = (force - 0.5 * sq_speed * grad_f).unsqueeze(-1)
        return -torch.linalg.solve(base, rhs).squeeze(-1) - slope * velocity

    def christoffel_map(self, log_factor, points, grad_f, vec_a, vec_b):
        r"""``Gamma(a, b)`` of the pull-back in closed form, differentiable in the points.

        ``1/2 ((grad f . a) b + (grad f . b) a) + G_0^{-1} (J^T D^2 phi[a, b]
        - 1/2 <J a, J b> grad f)``.
        """
        shape = grad_f.shape
        # Derivatives of phi by reverse mode: differentiating torch.func's forward
        # mode again fails on some functions (vector_norm) in torch 2.13.
        with torch.enable_grad():
            if not points.requires_grad:
                points = points.detach().requires_grad_(True)
            points = points.expand(shape)
            dim = shape[-1]
            copies = points.unsqueeze(-2).expand(*shape[:-1], dim, dim).clone()
            eye = torch.eye(dim, dtype=points.dtype).expand(copies.shape)
            jacobian = directional_derivative(self.phi, copies, eye).transpose(-1, -2)
            second = directional_derivative(
                lambda at: directional_derivative(self.phi, at, vec_b), points, vec_a
            )
        image_a = (jacobian @ vec_a.unsqueeze(-1)).squeeze(-1)
        image_b = (jacobian @ vec_b.unsqueeze(-1)).squeeze(-1)
        rhs = (jacobian.transpose(-1, -2) @ second.unsqueeze(-1)).squeeze(-1) - 0.5 * (
            image_a * image_b
        ).sum(-1, keepdim=True) * grad_f
        base = jacobian.transpose(-1, -2) @ jacobian
        return solve_positive_definite(base, rhs.unsqueeze(-1)).squeeze(-1) + 0.5 * (
            (grad_f * vec_a).sum(-1, keepdim=True) * vec_b
            + (grad_f * vec_b).sum(-1, keepdim=True) * vec_a
        )

    def christoffels(self, points, grad_f):
        """The factor's part plus ``G_0^{-1} J^T d_i d_j phi``, shape ``[..., dim, dim, dim]``."""
        dim = points.shape[-1]
        base = self.base_metric_matrix(points)
        raised_grad = torch.linalg.solve(base, grad_f.unsqueeze(-1)).squeeze(-1)
        gamma = _conformal_christoffels(grad_f, raised_grad, base)
        basis = [e_i.expand_as(points) for e_i in torch.eye(dim, dtype=points.dtype)]
        hessian = torch.stack(
            [
                torch.stack([self._second_derivative(points, e_i, e_j) for e_j in basis], dim=-1)
                for e_i in basis
            ],
            dim=-2,
        )
        jacobian = self.image_jacobian(points)
        projected = torch.einsum("...ml,...mij->...lij", jacobian, hessian)
        batch = points.shape[:-1]
        return gamma + torch.linalg.solve(base, projected.reshape(*batch, dim, dim * dim)).reshape(
            *batch, dim, dim, dim
        )


class EmbeddedGeometry(BaseGeometry):
    """A hypersphere or ``SO(3)`` in flattened ambient coordinates.

    Pieces are measured by the manifold's own distance with the factor at the
    base geodesic midpoint; boundary-value problems go to the manifold solver.

    Parameters
    ----------
    space : Manifold
    base_metric : RiemannianMetric
    manifold : EmbeddedManifold
        The manifold's operations on ambient coordinates.
    """

    has_chart = False

    def __init__(self, space, base_metric, manifold):
        super().__init__(space, base_metric)
        self.manifold = manifold
        self.name = manifold.name
        self.quadrature_rule = None

    def coordinates(self, array, name):
        """Flattened ambient coordinates, the shape checked against ``space.shape``."""
        manifold = self.manifold
        tensor = to_torch(array)
        n_axes = len(manifold.point_shape)
        if tensor.ndim < n_axes or tuple(tensor.shape[tensor.ndim - n_axes :]) != (
            manifold.point_shape
        ):
            shape = ", ".join(str(size) for size in manifold.point_shape)
            raise ValueError(
                f"{name} must have shape [..., {shape}], got shape {tuple(tensor.shape)}."
            )
        return check_points(manifold.flatten(tensor), manifold.n_coords, name)

    def check_membership(self, coordinates, name):
        """geomstats' ``belongs`` at its default tolerance."""
        on_manifold = np.reshape(self.manifold.belongs(coordinates), -1)
        if not on_manifold.all():
            point = coordinates.reshape(-1, coordinates.shape[-1])[np.argmin(on_manifold)]
            raise ValueError(
                f"{name} is not on the {self.name} (geomstats' belongs, "
                f"atol={gs.atol}): {self.manifold.unflatten(point).detach().tolist()}."
            )

    def from_coordinates(self, coordinates):
        """Points of shape ``space.shape`` from their flattened coordinates."""
        return self.manifold.unflatten(coordinates)

    def to_coordinates(self, points):
        """Flattened coordinates of points of shape ``space.shape``."""
        return self.manifold.flatten(points)

    def project(self, points):
        """The nearest points of the manifold."""
        return self.manifold.project(points)

    def to_tangent(self, vectors, points):
        """The orthogonal projection onto the tangent spaces."""
        return self.manifold.to_tangent(vectors, points)

    def require_chart(self, what):
        """Raise: points have ambient coordinates, not a chart."""
        raise NotImplementedError(
            f"{what} need a chart; points of {self.name} have ambient "
            "coordinates. geodesic_equation gives the geodesic ODE in them."
        )

    def closed_form_jet(self, user_jet, points):
        """None: the factor is differentiated by autodiff in ambient coordinates."""
        return None

    def segment_sq_lengths(self, log_factor, left, right):
        """``exp(f(mid)) d_0(left, right)^2``, ``mid`` the base geodesic midpoint."""
        return torch.exp(log_factor(self.manifold.midpoint(left, right))) * (
            self.manifold.sq_dist(left, right)
        )

    def curve_sq_lengths(self, log_factor, nodes):
        """:meth:`segment_sq_lengths` of consecutive nodes."""
        return self.segment_sq_lengths(log_factor, nodes[..., :-1, :], nodes[..., 1:, :])

    def piece_midpoints_and_lengths(self, nodes):
        """Base geodesic midpoints and base distances of consecutive nodes."""
        left, right = nodes[..., :-1, :], nodes[..., 1:, :]
        return self.manifold.midpoint(left, right), torch.sqrt(self.manifold.sq_dist(left, right))

    def base_metric_matrix(self, points):
        """geomstats' base matrix in ambient coordinates (none for ``SO(3)``)."""
        matrix = self.base_metric.metric_matrix(to_backend(self.from_coordinates(points)))
        return to_torch(gs.copy(matrix))

    def base_inner_product(self, points, vec_a, vec_b):
        """geomstats' base inner product."""
        values = self.base_metric.inner_product(
            *(to_backend(self.from_coordinates(v)) for v in (vec_a, vec_b, points))
        )
        return to_torch(gs.copy(values))

    def sharp(self, points, covectors, factor):
        """The tangent part of the covector over ``metric_scale * factor``."""
        tangent = self.manifold.to_tangent(covectors, points)
        return tangent / (self.manifold.metric_scale * factor)

    def geodesic_acceleration(self, position, velocity, grad_f):
        """``P(1/2 |v|^2 grad f) - (grad f . v) v + II(v, v)`` in ambient coordinates."""
        slope = (grad_f * velocity).sum(-1, keepdim=True)
        sq_speed = (velocity * velocity).sum(-1, keepdim=True)
        return (
            0.5 * sq_speed * self.manifold.to_tangent(grad_f, position)
            - slope * velocity
            + self.manifold.normal_acceleration(position, velocity)
        )

    def christoffel_map(self, log_factor, points, grad_f, vec_a, vec_b):
        """``1/2 ((grad f . a) b + (grad f . b) a - (a . b) P grad f) - II(a, b)``."""
        points = points.expand(grad_f.shape)
        manifold = self.manifold

        def normal(vector):
            return manifold.normal_acceleration(points, vector)

        # II is bilinear and symmetric: polarisation of II(v, v).
        second_form = 0.5 * (normal(vec_a + vec_b) - normal(vec_a) - normal(vec_b))
        tangent_gradient = manifold.to_tangent(grad_f, points)
        return (
            0.5
            * (
                (grad_f * vec_a).sum(-1, keepdim=True) * vec_b
                + (grad_f * vec_b).sum(-1, keepdim=True) * vec_a
                - (vec_a * vec_b).sum(-1, keepdim=True) * tangent_gradient
            )
            - second_form
        )

    def make_solvers(self, space, method, options):
        """The manifold solvers: ``'manopt'`` (the default and only method)."""
        from geomstats_density.solvers.manifold import ManifoldExpSolver, ManifoldGeodesicSolver

        if method not in (None, "manopt"):
            raise ValueError(
                f"method must be one of ['manopt'] on {self.name}, whose points "
                f"stay on the manifold; got {method!r}."
            )
        return ManifoldGeodesicSolver(space, **options), ManifoldExpSolver(space)
