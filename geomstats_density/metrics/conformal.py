"""Conformal Riemannian metrics.

A conformal metric rescales a base metric by a positive factor,

.. math:: g_z(u, v) = e^{f(z)} g^0_z(u, v),

where ``f = log_factor`` and ``g^0`` is the space's own metric: the Euclidean
inner product on vector spaces, pulled back through a map ``phi`` whose image
lengths are measured if one is given; the hyperbolic metric on the Poincare ball
and half-space; the round metric on a ``Hypersphere``; the bi-invariant metric on
``SpecialOrthogonal(3)`` (see :mod:`geomstats_density.manifolds`). The
density-conformal metric of Struski et al., ``f = log(log(Q)^2)`` for a quality
``Q: Z -> (0, 1)``, is its subclass
:class:`~geomstats_density.density_metric.DensityConformalMetric`.

:class:`ConformalMetric` subclasses geomstats' :class:`RiemannianMetric`; equip a
space with it the geomstats way::

    space = Euclidean(2, equip=False)
    space.equip_with_metric(ConformalMetric, log_factor=lambda z: -2 * torch.log(z[..., 1]))
    space.metric.dist(point_a, point_b)

The class is layered as geomstats layers ``Connection`` and
``RiemannianMetric``: it holds the construction and the metric tensor (inner
products, norms, the metric matrix and its derivative), and mixes in the
distances and geodesics from the solver objects
(:class:`~geomstats_density.metrics.geodesics.SolvedGeodesics`), the
connection and curvature
(:class:`~geomstats_density.metrics.connection.LeviCivitaConnection`) and the
solvers' view (:class:`~geomstats_density.metrics.solver_view.SolverView`),
which answers from the log-factor
(:class:`~geomstats_density.metrics.log_factor.LogFactor`) and the base
geometry (:mod:`geomstats_density.geometry`).
"""

import numbers

import geomstats.backend as gs
import torch
from geomstats.geometry.riemannian_metric import RiemannianMetric

from geomstats_density.backend import to_backend
from geomstats_density.densities import Density
from geomstats_density.geometry import check_quadrature, geometry_for
from geomstats_density.metrics.connection import LeviCivitaConnection
from geomstats_density.metrics.geodesics import SolvedGeodesics
from geomstats_density.metrics.log_factor import LogFactor
from geomstats_density.metrics.solver_view import SolverView


def _check_radius(radius):
    """None or a number > 0 (``math.inf`` allowed): a known injectivity radius."""
    if radius is None:
        return None
    if not isinstance(radius, numbers.Real) or isinstance(radius, bool) or not radius > 0:
        raise ValueError(
            f"injectivity_radius must be None or a number > 0 (math.inf allowed), got {radius!r}."
        )
    return float(radius)


class ConformalMetric(SolvedGeodesics, LeviCivitaConnection, SolverView, RiemannianMetric):
    r"""Conformal rescaling of a space's own metric.

    .. math:: g_z = e^{f(z)}\, g^0_z

    with ``g^0`` the Euclidean inner product (or its pull-back
    ``J_phi^T J_phi`` through a map ``phi``) on vector spaces, and the space's
    own geomstats metric otherwise (:mod:`geomstats_density.manifolds`).

    Parameters
    ----------
    space : Manifold
        ``Euclidean(dim)`` or another vector space with the Euclidean metric;
        ``PoincareBall(n)`` or ``PoincareHalfSpace(n)``; ``Hypersphere(n)``;
        ``SpecialOrthogonal(3)`` (matrices). Its default metric is ``g^0``.
    log_factor : callable
        ``f``: torch tensor ``[..., *space.shape]`` to torch tensor ``[...]``,
        finite on the domain of interest, differentiable twice. On a hypersphere
        or ``SO(3)`` it is evaluated on the manifold but differentiated in ambient
        coordinates: write it smooth near the manifold (the von Mises-Fisher
        densities of :mod:`geomstats_density.sphere` are).
    phi : callable, optional
        Map ``[..., dim] -> [..., m]`` whose image lengths are measured (the paper's
        Eq. 5), on vector spaces only. Default: the identity, ``g^0 = I``.
    quadrature : {'simpson', 'midpoint'}
        How the discrete energy averages the factor along each chord of a curve:
        Simpson's rule (default), or the chord midpoint as in the paper's Eq. 5.
        Both are second-order; the midpoint rule lets coarse curves tunnel
        through regions of large factor (see
        :meth:`~geomstats_density.ConformalMetric.segment_sq_lengths`).
    method : str, optional
        Boundary-value solver used by ``log``, ``dist`` and ``geodesic``. On
        vector spaces and Poincare models: ``'newton'`` (default,
        :class:`~geomstats_density.solvers.NewtonGeodesicSolver`) or the paper's
        baseline ``'neural'``
        (:class:`~geomstats_density.solvers.NeuralGeodesicSolver`). On a
        hypersphere and ``SO(3)``: ``'manopt'`` (default and only,
        :class:`~geomstats_density.solvers.manifold.ManifoldGeodesicSolver`).
        Assign ``metric.log_solver`` to use any other geomstats ``LogSolver``.
    solver_options : dict, optional
        Keyword arguments of the boundary-value solver.
    injectivity_radius : float, optional
        The metric's injectivity radius where the user knows it, returned by
        :meth:`~geomstats_density.ConformalMetric.injectivity_radius`:
        ``math.inf`` for a Hadamard metric (complete, simply connected,
        curvature <= 0: the hyperbolic half-plane written as a factor on
        ``Euclidean(2)``, a constant factor on a vector space). It
        cannot be computed from the factor; None (default) leaves it unknown.

    Attributes
    ----------
    base_metric : RiemannianMetric
        The space's own metric ``g^0``, as geomstats defines it.
    log_factor_field : LogFactor
        ``f`` in coordinates, validated where it is evaluated
        (:class:`~geomstats_density.metrics.log_factor.LogFactor`; on Poincare
        models, the model's own factor added), with its derivatives.
    geometry : BaseGeometry
        How ``g^0`` enters the computations (:mod:`geomstats_density.geometry`),
        chosen at construction: Euclidean, conformally flat, pull-back through
        ``phi`` or embedded manifold.
    point_cost : int
        Scalars one evaluation of ``log_factor`` (and ``phi``) computes per point,
        1 by default. Solvers run problems of fewer than ``SMALL_PROBLEM_SIZE``
        scalars (nodes times coordinates times this) on one torch thread, where
        torch's threading costs more than it saves; set it to the size of a
        network's activations when a network computes the factor (a
        :class:`~geomstats_density.latent.LatentSpace` sets the size of a
        generated sample).

    Notes
    -----
    ``log_factor`` and ``phi`` take and return float64 torch tensors whatever the
    geomstats backend; every metric method takes and returns arrays of the active
    backend. Under the pytorch backend the metric is differentiable, so geomstats'
    autodiff solvers run on it: ``PathStraightening`` as it is, and
    ``LogShootingSolver`` once ``metric.exp_solver`` is geomstats' own
    ``ExpODESolver`` (the default exp solver integrates with scipy, which autodiff
    does not see through).

    The torch-level methods (``log_factor_tensor``, ``segment_sq_lengths``,
    ``curve_sq_lengths``, ``geodesic_acceleration``, ...) take *coordinates*
    ``[..., n_coords]``: the points themselves on vector spaces, Poincare models
    and hyperspheres, flattened matrices on ``SO(3)``. On Poincare models the
    model's own factor is folded into ``log_factor_tensor`` (the solvers see a
    conformal metric on an open set of ``R^n``), while :meth:`log_factor` returns
    ``f`` itself. They are the solvers' view of the metric
    (:class:`~geomstats_density.solvers.protocol.SolverMetric`): each validates
    the factor and hands the base metric's part to :attr:`geometry`.
    """

    def __init__(
        self,
        space,
        log_factor,
        phi=None,
        quadrature="simpson",
        method=None,
        solver_options=None,
        injectivity_radius=None,
    ):
        if not callable(log_factor):
            raise ValueError("log_factor must be callable.")
        self._injectivity_radius = _check_radius(injectivity_radius)
        if isinstance(log_factor, Density):
            raise TypeError(
                f"log_factor is a density ({type(log_factor).__name__}): as a log-factor, "
                "log p would make curves short where the density is low. For geodesics "
                "that keep to where it is high, equip DensityConformalMetric with a "
                "quality of it, log_quality=RealismIndex(density) (or Typicality, "
                "DensityRatio); for the Fermat metric pass fermat_log_factor(density)."
            )
        check_quadrature(quadrature)
        if phi is not None and not callable(phi):
            raise ValueError("phi must be callable or None.")
        geometry = self._make_geometry(space, phi, quadrature)
        super().__init__(space)
        self.base_metric = geometry.base_metric
        self.geometry = geometry
        self.log_factor_field = self._make_log_factor(log_factor, geometry)
        self.phi = phi
        self.quadrature = quadrature
        self.point_cost = 1
        self.log_solver, self.exp_solver = geometry.make_solvers(
            space, method, solver_options or {}
        )

    def _make_geometry(self, space, phi, quadrature):
        """The base geometry; subclasses with a base metric of their own override this."""
        return geometry_for(space, phi=phi, quadrature=quadrature)

    def _make_log_factor(self, log_factor, geometry):
        """The validated log-factor; subclasses that read it off a quality override this."""
        return LogFactor(log_factor, geometry)

    def log_factor(self, base_point):
        """Log conformal factor ``f(z)``.

        On Poincare models this is ``f`` over the model's own metric, not the
        total factor over the coordinates' inner product.

        Parameters
        ----------
        base_point : array-like, shape=[..., {dim, [n, n]}]

        Returns
        -------
        log_factor : array-like, shape=[...]
        """
        points = self.points_tensor(base_point)
        values = self.log_factor_tensor(points)
        return to_backend(self.geometry.remove_model_log_factor(values, points))

    def metric_matrix(self, base_point=None):
        """Metric matrix ``e^{f(z)} G_0(z)``.

        Parameters
        ----------
        base_point : array-like, shape=[..., dim]

        Returns
        -------
        mat : array-like, shape=[..., dim, dim]
            On a hypersphere, ``e^f`` times geomstats' base matrix (ambient
            coordinates); geomstats has none for ``SO(3)``.
        """
        points = self.points_tensor(base_point)
        factor = torch.exp(self.log_factor_tensor(points))
        return to_backend(factor[..., None, None] * self.base_metric_matrix_tensor(points))

    def inner_product(self, tangent_vec_a, tangent_vec_b, base_point=None):
        """Inner product ``e^{f(z)} <J a, J b>``.

        Parameters
        ----------
        tangent_vec_a, tangent_vec_b : array-like, shape=[..., dim]
        base_point : array-like, shape=[..., dim]

        Returns
        -------
        inner_product : array-like, shape=[...]
        """
        points = self.points_tensor(base_point)
        vec_a = self.coordinates(tangent_vec_a, "tangent_vec_a")
        vec_b = self.coordinates(tangent_vec_b, "tangent_vec_b")
        base = self.geometry.base_inner_product(points, vec_a, vec_b)
        return to_backend(torch.exp(self.log_factor_tensor(points)) * base)

    def inner_product_derivative_matrix(self, base_point=None):
        r"""Derivative of the metric matrix, ``mat[..., i, j, k] = d_k g_ij``.

        In closed form, ``e^f delta_ij d_k f``, where the base matrix is the
        identity (:attr:`~geomstats_density.ConformalMetric.euclidean_chords`);
        by autodiff of ``e^f G_0`` in torch otherwise (``phi``; under either
        backend).

        Parameters
        ----------
        base_point : array-like, shape=[..., dim]

        Returns
        -------
        metric_derivative : array-like, shape=[..., dim, dim, dim]
        """
        if not self.geometry.has_chart:
            return super().inner_product_derivative_matrix(base_point)
        points = self.points_tensor(base_point)
        return to_backend(self.geometry.metric_matrix_derivative(self, points))

    def squared_norm(self, vector, base_point=None):
        """Squared length ``e^{f(z)} |v|_0^2`` of tangent vectors, by :meth:`inner_product`.

        Parameters
        ----------
        vector : array-like, shape=[..., {dim, [n, n]}]
        base_point : array-like, shape=[..., {dim, [n, n]}]

        Returns
        -------
        sq_norm : array-like, shape=[...]
        """
        return self.inner_product(vector, vector, base_point)

    def norm(self, vector, base_point=None):
        """Length ``e^{f(z)/2} |v|_0`` of tangent vectors, by :meth:`inner_product`.

        Parameters
        ----------
        vector : array-like, shape=[..., {dim, [n, n]}]
        base_point : array-like, shape=[..., {dim, [n, n]}]

        Returns
        -------
        norm : array-like, shape=[...]
        """
        return gs.sqrt(self.squared_norm(vector, base_point))

    def normalize(self, vector, base_point=None):
        """Tangent vectors rescaled to unit length in this metric (:meth:`norm`).

        Parameters
        ----------
        vector : array-like, shape=[..., {dim, [n, n]}]
        base_point : array-like, shape=[..., {dim, [n, n]}]

        Returns
        -------
        unit_vector : array-like, shape=[..., {dim, [n, n]}]
        """
        norm = self.norm(vector, base_point)
        return vector / gs.reshape(norm, tuple(norm.shape) + (1,) * self._space.point_ndim)

    def random_unit_tangent_vec(self, base_point=None, n_vectors=1):
        """Random tangent vectors of unit length in this metric at one point.

        geomstats' draw (the space's ``random_tangent_vec``), normalised by
        :meth:`normalize`.

        Parameters
        ----------
        base_point : array-like, shape=[{dim, [n, n]}]
        n_vectors : int

        Returns
        -------
        tangent_vec : array-like, shape=[n_vectors, {dim, [n, n]}]

        Raises
        ------
        ValueError
            If ``base_point`` is a batch of points.
        """
        return super().random_unit_tangent_vec(base_point, n_vectors)

    def normal_basis(self, basis, base_point=None):
        """The vectors of ``basis`` each rescaled to unit length in this metric.

        Parameters
        ----------
        basis : array-like, shape=[n_vectors, {dim, [n, n]}]
        base_point : array-like, shape=[{dim, [n, n]}]

        Returns
        -------
        basis : array-like, shape=[n_vectors, {dim, [n, n]}]
        """
        return self.normalize(basis, base_point)

    def cometric_matrix(self, base_point=None):
        """Inverse of :meth:`metric_matrix`, ``e^{-f(z)} G_0(z)^{-1}``.

        Parameters
        ----------
        base_point : array-like, shape=[..., dim]

        Returns
        -------
        cometric : array-like, shape=[..., dim, dim]
        """
        return super().cometric_matrix(base_point)

    def inner_coproduct(self, cotangent_vec_a, cotangent_vec_b, base_point=None):
        """Inner product of cotangent vectors by :meth:`cometric_matrix`.

        Parameters
        ----------
        cotangent_vec_a, cotangent_vec_b : array-like, shape=[..., dim]
        base_point : array-like, shape=[..., dim]

        Returns
        -------
        inner_coproduct : array-like, shape=[...]
        """
        return super().inner_coproduct(cotangent_vec_a, cotangent_vec_b, base_point)

    def hamiltonian(self, state):
        """Hamiltonian ``1/2 <p, p>^*`` of a position and a momentum (:meth:`inner_coproduct`).

        Parameters
        ----------
        state : array-like, shape=[..., 2, dim]
            Position and momentum.

        Returns
        -------
        energy : array-like, shape=[...]
        """
        return super().hamiltonian(state)
