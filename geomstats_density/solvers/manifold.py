r"""Geodesics whose nodes stay on a manifold: Riemannian trust regions (pymanopt).

On a ``Hypersphere`` or ``SpecialOrthogonal(3)`` the interior nodes of a
discretised curve are one point of a pymanopt power manifold (``Oblique`` for
spheres, ``SpecialOrthogonalGroup(3, k)`` for rotations), and the discrete energy

.. math:: E = \sum_i \frac{e^{f(m_i)}\, d_0(z_i, z_{i+1})^2}{t_{i+1} - t_i}

(``d_0`` the manifold's own distance, ``m_i`` the base geodesic midpoint) is
minimised by pymanopt's Riemannian trust-region method. The Euclidean gradient and
Hessian come from torch autodiff, shared with the Newton solver
(:mod:`~geomstats_density.solvers.derivatives`: exact block-tridiagonal Hessians
up to 32 ambient coordinates, Hessian-vector products above); pymanopt turns
them into Riemannian ones, and its truncated CG
is preconditioned by the curve's Sobolev operator, so that inner iterations do
not grow with the node count. As in the Newton solver, node counts double and
lengths, start velocities and nodes are Richardson-extrapolated.

**Which solver for a curve on a sphere.** Three ways solve the same sphere
problem; ``bench/sphere.py`` compares them on the vMF caps of
``examples/plot_11_sphere_caps.py`` (``bench/results/sphere.md``):

- **This solver** (``Hypersphere(n)`` or ``SO(3)`` with a conformal metric):
  nodes stay on the manifold, pieces are measured by the manifold's own
  distance, ``log`` returns tangent vectors, ``exp`` inverts it, and ``dist``
  reaches ``tol`` (1e-8 relative by default) by node doubling. Use it
  whenever the manifold is one that geomstats and pymanopt both know, and
  always for global problems (curves far apart, antipodal points, batches of
  random pairs).
- **A chart map** ``phi`` (the paper's Example 2): the Newton solver on chart
  coordinates of ``R^n``, lengths of the images. Just as accurate and fast on
  the bench, but only where one chart covers the curves:
  a chart misses a point and distorts lengths near it, ``log`` and ``exp`` are
  in chart coordinates, and the factor has to be composed with ``phi`` by hand.
- **The ambient space with a penalty quality** (the paper's Example 4):
  ``log Q_0(z / |z|) - K d(z)`` in ``R^{n+1}``, ``d`` the distance to the manifold.
  It needs no manifold code at all (any surface with a distance function, e.g.
  a cube), but the curves only approach the manifold as ``K`` grows and the
  solver's lengths are chord lengths. The paper's penalty ``K |1 - |z||`` has
  its kink on the manifold itself, where the curves lie (``bench/sphere.py``
  measures it). With a smooth ``K (1 - |z|)^2`` it is as fast on fixed node
  counts and as close to the geodesic as this solver, but the curve cuts
  inside the sphere (less as ``K`` grows) and its own length is short of the
  geodesic's. Use it for surfaces without a geomstats and pymanopt manifold.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pymanopt
import torch
from pymanopt.optimizers import TrustRegions

from geomstats_density._validation import broadcast_pair, check_positive_float
from geomstats_density.backend import to_backend, to_numpy, to_torch
from geomstats_density.curves import DiscreteCurve, GeodesicCurve
from geomstats_density.energy import curve_energy, uniform_times
from geomstats_density.exceptions import (
    DomainError,
    NonUniqueGeodesicWarning,
    warn_at_caller,
)
from geomstats_density.geometry import EmbeddedGeometry
from geomstats_density.solvers.derivatives import (
    energy_derivatives,
    matrix_free_derivatives,
)
from geomstats_density.solvers.domain import starting_curve_outside
from geomstats_density.solvers.newton import MAX_BLOCK_DIM
from geomstats_density.solvers.ode import GeodesicODESolver
from geomstats_density.solvers.refinement import RefiningGeodesicSolver
from geomstats_density.solvers.sobolev import SobolevPreconditioner
from geomstats_density.solvers.starts import nodes_of_curve
from geomstats_density.solvers.status import LevelStatus

# Trust-region radii in the Sobolev norm of the per-curve normalised energy, in
# which a radius of 1 allows moving a curve by about its own length.
MAX_RADIUS = 10.0
INITIAL_RADIUS = 1.0


class ManifoldGeodesicCurve(GeodesicCurve):
    """Geodesics on a hypersphere or ``SO(3)``: nodes, estimates, diagnostics.

    ``nodes`` are coordinates ``[..., n_nodes, n_coords]`` (the points themselves
    on a hypersphere, flattened matrices on ``SO(3)``), which the metric's torch
    methods measure; calling the curve returns points of the manifold,
    ``[..., n_times, *space.shape]``, the spline through the nodes projected onto
    the manifold. ``initial_velocity`` is a tangent vector at the start,
    ``[..., *space.shape]``. Other attributes as in :class:`GeodesicCurve`.
    """

    def _projected(self, t):
        geometry = self.metric.geometry.manifold
        return geometry.project(to_torch(DiscreteCurve.__call__(self, t)))

    def __call__(self, t):
        """Points of the curves at times ``t``, shape ``[..., n_times, *space.shape]``."""
        return to_backend(self.metric.geometry.manifold.unflatten(self._projected(t)))

    def resample(self, n_nodes):
        """The same curves with ``n_nodes`` nodes (on the manifold) at uniform times."""
        if n_nodes < 2:
            raise ValueError(f"n_nodes must be at least 2, got {n_nodes}.")
        return DiscreteCurve(self._projected(uniform_times(n_nodes)), metric=self.metric)

    def nodes_at(self, n_nodes):
        """Coordinates at ``n_nodes`` uniform times, projected onto the manifold.

        Parameters
        ----------
        n_nodes : int

        Returns
        -------
        nodes : ndarray, shape=[batch, n_nodes, n_coords]
        """
        return _on_manifold(self.metric.geometry.manifold, super().nodes_at(n_nodes))


class ManifoldExpSolver(GeodesicODESolver):
    """``exp`` on a hypersphere or ``SO(3)``: the geodesic ODE in ambient coordinates.

    Integrates ``metric.geodesic_acceleration`` (tangential part of the
    conformal force plus the base manifold's second fundamental form) with the
    adaptive Runge-Kutta method of :class:`GeodesicODESolver`, and projects the
    points onto the manifold (the drift is of the order of the tolerances).

    Parameters
    ----------
    space : Manifold
        Hypersphere or ``SpecialOrthogonal(3)`` equipped with a conformal metric.
    method, rtol, atol, max_evaluations, max_time, on_failure, tol, velocity_rtol, \
sensitivity_directions
        As in :class:`GeodesicODESolver`; the sensitivity is that of the end point
        before its projection onto the manifold, along tangent directions.
    """

    def _flat_inputs(self, tangent_vec, base_point):
        metric, geometry = _embedded_metric(self._space)
        velocity, position = broadcast_pair(
            metric.coordinates(tangent_vec, "tangent_vec"),
            metric.points_tensor(base_point, "base_point"),
        )
        if not np.all(geometry.is_tangent(velocity, position)):
            raise ValueError(
                f"tangent_vec is not tangent to the {geometry.name} at base_point "
                "(geomstats' is_tangent)."
            )
        batch_shape = tuple(position.shape[:-1])
        n_coords = geometry.n_coords
        velocity = geometry.to_tangent(velocity, position).detach().numpy().reshape(-1, n_coords)
        return position.detach().numpy().reshape(-1, n_coords), velocity, batch_shape

    def _to_points(self, points, batch_shape):
        _, geometry = _embedded_metric(self._space)
        points = geometry.project(torch.from_numpy(points))
        return to_backend(geometry.unflatten(points.reshape(*batch_shape, *points.shape[1:])))

    def _directions(self, position):
        # Ambient directions projected onto the tangent space: the derivative along
        # them is the derivative along the manifold, composed with the projection.
        _, geometry = _embedded_metric(self._space)
        directions = torch.from_numpy(super()._directions(position))
        tangent = geometry.to_tangent(directions, torch.from_numpy(position)[:, None])
        return tangent.detach().numpy()


class ManifoldGeodesicSolver(RefiningGeodesicSolver):
    """Geodesics on a hypersphere or ``SO(3)`` by Riemannian trust regions (pymanopt).

    Parameters
    ----------
    space : Manifold
        Hypersphere or ``SpecialOrthogonal(3)`` equipped with a conformal metric.
    n_nodes : int
        Nodes of the first, coarsest curve (endpoints included).
    tol : float or None
        Target relative error of the length. Node counts double from ``n_nodes``
        until the estimated error of the Richardson-extrapolated length is below
        ``tol`` (returned as ``curve.dist_error``). None solves once with
        ``n_nodes`` nodes and returns the plain discrete length.
    max_nodes : int
        Largest node count tried before reporting that ``tol`` was not met.
    max_iter : int
        Trust-region iterations allowed per node count.
    gtol : float
        A curve is a discrete geodesic when the Riemannian gradient of its energy,
        divided by its starting energy, is below ``gtol``.
    on_failure : {'warn', 'raise', 'ignore'}
        What to do when a curve misses ``gtol`` or ``tol``: emit a
        :class:`GeodesicConvergenceWarning`, raise a
        :class:`GeodesicConvergenceError`, or only flag ``curve.converged``.
    progress : bool or None
        Show a progress bar (trust-region iterations); None shows it for batches
        of 64 curves or more.

    Notes
    -----
    A batch of curves is one point of a power manifold, solved by one
    trust-region run whose cost is the sum of the curves' energies, each divided
    by its starting energy (so that every curve weighs alike).

    Endpoints that are cut points of the base metric (antipodal on a sphere, a
    half-turn apart on ``SO(3)``) have several base geodesics between them; the
    solver then warns (:class:`~geomstats_density.exceptions.NonUniqueGeodesicWarning`)
    and starts from one of them, so it returns one of the geodesics.
    """

    curve_class = ManifoldGeodesicCurve

    def __init__(
        self,
        space,
        n_nodes=17,
        tol=1e-8,
        max_nodes=1025,
        max_iter=100,
        gtol=1e-10,
        on_failure="warn",
        progress=None,
    ):
        super().__init__(space, n_nodes, tol, max_nodes, max_iter, on_failure, progress)
        self.gtol = check_positive_float(gtol, "gtol")

    def _endpoints(self, metric, point, base_point):
        _, geometry = _embedded_metric(self._space)
        start, end, batch_shape = super()._endpoints(metric, point, base_point)
        return _on_manifold(geometry, start), _on_manifold(geometry, end), batch_shape

    def _initial_nodes(self, metric, start, end, initial_curve):
        geometry = metric.geometry.manifold
        if initial_curve is not None:
            return _on_manifold(geometry, nodes_of_curve(initial_curve, start, end, self.n_nodes))
        nodes, cut = geometry.base_geodesic_nodes(start, end, uniform_times(self.n_nodes))
        if cut.any():
            warn_at_caller(
                f"{cut.sum()} of {cut.size} endpoint pairs are cut points of the "
                f"{geometry.name} (antipodal points, or rotations a half-turn apart): "
                "the base geodesics between them are not unique, so the geodesics of "
                "the conformal metric need not be; returning the one reached from one "
                "base geodesic.",
                NonUniqueGeodesicWarning,
            )
        return nodes

    def _project(self, metric, nodes):
        return _on_manifold(metric.geometry.manifold, nodes)

    def _optimiser_failure(self, n_nodes, iterations):
        budget = (
            f"used all max_iter={self.max_iter} iterations"
            if iterations >= self.max_iter
            else f"stopped after {iterations} of max_iter={self.max_iter} iterations"
        )
        return (
            f"the trust-region method {budget} at {n_nodes} nodes with the gradient "
            f"norm above gtol={self.gtol}"
        )

    def _minimise(self, metric, nodes, on_iteration, warm_state=None):
        """Riemannian trust regions on the interior nodes of a batch of curves."""
        problem = _CurveProblem(metric, nodes)
        optimizer = TrustRegions(
            max_iterations=self.max_iter, min_gradient_norm=self.gtol, verbosity=0
        )
        problem.on_iteration = on_iteration
        scale = np.sqrt(nodes.shape[0])
        result = optimizer.run(
            problem.manopt_problem,
            initial_point=problem.initial_point,
            Delta_bar=MAX_RADIUS * scale,
            Delta0=INITIAL_RADIUS * scale,
        )
        gradient_norms = problem.gradient_norms(result.point)
        status = np.where(gradient_norms <= self.gtol, LevelStatus.STATIONARY, LevelStatus.MAX_ITER)
        return problem.curves(result.point), status, result.iterations, None


def _embedded_metric(space):
    """The space's conformal metric and its embedded base geometry."""
    metric = space.metric
    geometry = getattr(metric, "geometry", None)
    if not isinstance(geometry, EmbeddedGeometry):
        raise ValueError(
            "The manifold solvers need a Hypersphere or SpecialOrthogonal(3) equipped "
            f"with a ConformalMetric; got {type(space).__name__} with "
            f"{type(metric).__name__}."
        )
    return metric, geometry.manifold


def _on_manifold(geometry, nodes):
    """Nodes projected onto the manifold, ``[batch, n_nodes, n_coords]`` ndarray."""
    return to_numpy(geometry.project(torch.from_numpy(np.ascontiguousarray(nodes))))


class _CurveProblem:
    """The energies of a batch of curves as one pymanopt problem on a power manifold.

    Parameters
    ----------
    metric : SolverMetric
        On a hypersphere or ``SO(3)``.
    nodes : ndarray, shape=[batch, n_nodes, n_coords]
        Starting curves on the manifold; their endpoints stay fixed.
    """

    def __init__(self, metric, nodes):
        self.metric = metric
        self.geometry = metric.geometry.manifold
        self.nodes = nodes
        self.batch, n_nodes, self.n_coords = nodes.shape
        self.manifold = self.geometry.manopt_manifold(self.batch * (n_nodes - 2))
        self.initial_point = self.geometry.to_manopt(nodes[:, 1:-1].reshape(-1, self.n_coords))
        self.on_iteration = None
        self._cache = []
        # Each curve's energy is divided by its starting energy: all weigh alike.
        try:
            with torch.no_grad():
                self.scale = curve_energy(metric, torch.from_numpy(nodes)).numpy()
        except DomainError as error:
            raise DomainError(starting_curve_outside(n_nodes, error)) from None
        if self._derivatives(self.initial_point)[0] is None:
            raise ValueError(
                f"The energy or its derivatives overflow on the starting curve ({n_nodes} "
                "nodes): is the log-factor finite and twice differentiable along it?"
            )

        manifold = self.manifold

        @pymanopt.function.numpy(manifold)
        def cost(point):
            # Called once per trust-region iteration (on the proposal), plus once first.
            if self.on_iteration is not None:
                self.on_iteration()
            derivatives, _ = self._derivatives(point)
            return np.inf if derivatives is None else float(np.sum(derivatives.energy / self.scale))

        @pymanopt.function.numpy(manifold)
        def euclidean_gradient(point):
            derivatives, _ = self._derivatives(point)
            return self._to_manopt(derivatives.gradient / self.scale[:, None, None])

        @pymanopt.function.numpy(manifold)
        def euclidean_hessian(point, vector):
            derivatives, _ = self._derivatives(point)
            product = derivatives.hvp(self._from_manopt(vector))
            return self._to_manopt(product / self.scale[:, None, None])

        self.manopt_problem = pymanopt.Problem(
            manifold,
            cost,
            euclidean_gradient=euclidean_gradient,
            euclidean_hessian=euclidean_hessian,
            preconditioner=self._precondition,
        )

    def _to_manopt(self, array):
        return self.geometry.to_manopt(array.reshape(-1, self.n_coords))

    def _from_manopt(self, array):
        return self.geometry.from_manopt(array).reshape(self.batch, -1, self.n_coords)

    def curves(self, point):
        """Whole curves, endpoints included, for a point of the power manifold."""
        curves = self.nodes.copy()
        curves[:, 1:-1] = self._from_manopt(point)
        return curves

    def _evaluate(self, point):
        """Energy, gradient, Hessian-vector products (None outside the domain), weights.

        Exact Hessian blocks up to 32 coordinates, autodiff Hessian-vector
        products above (as the Newton solver), each from
        :mod:`~geomstats_density.solvers.derivatives`.
        """
        curves = self.curves(point)
        try:
            if self.n_coords > MAX_BLOCK_DIM:
                derivatives = matrix_free_derivatives(self.metric, curves)
                hvp = derivatives.hvp
            else:
                derivatives = energy_derivatives(self.metric, curves)
                hvp = derivatives.hessian.matvec
        except DomainError:
            return None, None
        if not (np.isfinite(derivatives.energy).all() and np.isfinite(derivatives.gradient).all()):
            return None, None
        with torch.no_grad():
            sq_lengths = self.metric.curve_sq_lengths(torch.from_numpy(curves)).numpy()
        sq_chords = (np.diff(curves, axis=1) ** 2).sum(-1)
        n_pieces = curves.shape[1] - 1
        weights = sq_lengths * n_pieces / np.maximum(sq_chords, 1e-300) / self.scale[:, None]
        return _Evaluation(derivatives.energy, derivatives.gradient, hvp), weights

    def _derivatives(self, point):
        # pymanopt passes the same array for the current iterate: cache the current
        # iterate and the latest proposal by identity.
        for key, value in self._cache:
            if key is point:
                return value
        value = self._evaluate(point)
        self._cache = [*self._cache[-1:], (point, value)]
        return value

    def _precondition(self, point, vector):
        """Inverse Sobolev operator of the curves, projected onto the tangent space."""
        _, weights = self._derivatives(point)
        solved = SobolevPreconditioner(weights).solve(self._from_manopt(vector))
        return self.manifold.to_tangent_space(point, self._to_manopt(solved))

    def gradient_norms(self, point):
        """Norm of each curve's Riemannian gradient (normalised energy), ``[batch]``."""
        gradient = self._from_manopt(self.manopt_problem.riemannian_gradient(point))
        return np.sqrt((gradient**2).sum(axis=(1, 2)))


@dataclass
class _Evaluation:
    """Energies ``[batch]``, interior gradients and Hessian-vector products."""

    energy: np.ndarray
    gradient: np.ndarray
    hvp: Callable
