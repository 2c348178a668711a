"""The default boundary-value solver: trust-region Newton on node positions.

The discrete energy of a curve with ``n`` pieces (the paper's Eq. 5, with the
metric's quadrature of the factor) is minimised over its interior nodes by a
trust-region Newton method on the exact block-tridiagonal Hessian
(:mod:`~geomstats_density.solvers.banded`), which converges quadratically and,
thanks to the exact subproblem, leaves saddle curves such as the straight line
through a symmetric obstacle. Through a map ``phi`` the blocks may linearise
``phi`` (Gauss-Newton, exact for piecewise-linear networks); in high dimension the
steps are matrix-free (:mod:`~geomstats_density.solvers.sobolev`). One
trust-region loop (:mod:`~geomstats_density.solvers.trust_region`) takes its
steps from these strategies (:mod:`~geomstats_density.solvers.steps`) and stops
each curve with a
:class:`~geomstats_density.solvers.status.LevelStatus`: on kinked energies, where
Newton converges only linearly, once the geometric tail of the energy's decrease
is below the tolerance; energies built from kinked torch primitives are
minimised instead by continuation on smoothed ones
(:mod:`~geomstats_density.solvers.smoothing`), each stage quadratically.
Node counts then double with Richardson extrapolation
(:mod:`~geomstats_density.solvers.doubling`).
"""

import numpy as np
import torch

from geomstats_density._validation import check_choice, check_positive_float
from geomstats_density.energy import per_curve_where_outside, times_of_curves, uniform_times
from geomstats_density.solvers.equidistribution import equidistributed
from geomstats_density.solvers.refinement import RefiningGeodesicSolver
from geomstats_density.solvers.smoothing import KinkSmoothing
from geomstats_density.solvers.starts import GlobalStart, nodes_of_curve
from geomstats_density.solvers.status import LevelStatus
from geomstats_density.solvers.steps import (
    BlockNewtonSteps,
    GaussNewtonMatrixFreeSteps,
    GaussNewtonSteps,
    MatrixFreeSteps,
    energies_or_inf,
)
from geomstats_density.solvers.trust_region import trust_region

# Above this dimension, Hessian blocks cost more than matrix-free CG steps.
MAX_BLOCK_DIM = 32
# Below this dimension, 'auto' takes exact blocks where the networks' kinks are
# smoothed: their double backward costs little more than Gauss-Newton's Jacobians,
# and Gauss-Newton blocks drop the curvature the smoothing gives a piecewise-linear
# network, which decides how fast the widest stage converges.
MIN_GAUSS_NEWTON_SMOOTHED_DIM = 8
HESSIAN_OPTIONS = ("auto", "blocks", "gauss-newton", "sobolev")
KINKS_OPTIONS = ("auto", "smooth", "off")
# The smoothing continuation on kinked energies: tau starts at the kinks' scale
# (the median distance of the primitives' arguments from their kinks along the
# starting curve), so that the first stage moves the curve on a nearly smooth
# energy; it is divided by KINK_TAU_RATIO at each stage (the previous stage's
# curve, moved along the secant of the last two, lies in the next one's region of
# quadratic convergence), down to at most KINK_TAU_FLOOR of the scale, where
# rounding in the smoothed band (relative 1e-16 / tau) starts to show in second
# derivatives. A node count warm-started from a minimised coarser one starts at
# KINK_TAU_WARM times the first tau: its curve is already near the kinks, and
# wide bands would move it away only to bring it back.
KINK_TAU_START = 1.0
KINK_TAU_RATIO = 10.0
KINK_TAU_WARM = 1e-2
KINK_TAU_FLOOR = 1e-11
# Every this many iterations, a running curve whose speed is uneven (below)
# restarts from its nodes moved to equal speed along it (where that lowers the
# energy), its radius kept.
REPARAMETRISE_EVERY = 20
# The energy's excess over the squared length (per duration) from which a curve's
# speed counts as uneven: moving its nodes to equal speed could lower the energy
# by this fraction.
UNEVEN_SPEED = 0.01
# Iterations of the basin stage (kinks='auto' smoothing the networks' kinks at
# the first node count): past them the stages on the networks as they are go on
# from its curve.
BASIN_ITERATIONS = 20


class NewtonGeodesicSolver(RefiningGeodesicSolver):
    """Geodesics between points by trust-region Newton on discretised curves.

    Parameters
    ----------
    space : Manifold
        Space equipped with a :class:`~geomstats_density.ConformalMetric`.
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
        Newton iterations allowed per node count.
    xtol : float
        Newton stops when a full Newton step moves no node by more than ``xtol``
        times the distance between the endpoints, or when it predicts a decrease
        of the energy below ``tol / 100`` of it (``1e-12`` if ``tol`` is None): a
        length error far below ``tol``, reached even where nodes may slide at no
        cost (directions a generator ``phi`` flattens).
    hessian : {'auto', 'blocks', 'gauss-newton', 'sobolev'}
        Exact block-tridiagonal Hessian with a banded trust-region solve
        (``'blocks'``); the same solve on the Hessian with the networks
        linearised (``'gauss-newton'``): ``phi`` at the nodes, and the networks
        inside the quality (the classifier and generator of a
        :class:`~geomstats_density.quality.Feature`) at the quadrature points.
        It needs their Jacobians only (``phi``'s, and the classifier's logits',
        one backward pass per class), not second derivatives
        through them, and it is exact where they are piecewise linear, such as
        ReLU networks; on a metric without networks it is ``'blocks'``. Or
        matrix-free truncated CG on
        Hessian-vector products, preconditioned by the curve's Sobolev operator
        and, without ``phi``, each node's stiffest direction (``'sobolev'``,
        :mod:`~geomstats_density.solvers.sobolev`). Above dimension 32
        ``'gauss-newton'`` is matrix-free too, its products those of the
        Gauss-Newton Hessian: ``J v`` and ``J^T y`` through ``phi`` at the nodes
        and the networks of the quality linearised at the quadrature points,
        no second derivative through them. ``'auto'`` takes Gauss-Newton blocks up
        to dimension 32 and Gauss-Newton products above
        (:mod:`~geomstats_density.solvers.steps`); exact blocks or products
        where the networks' kinks are smoothed in narrow bands (``kinks='smooth'``),
        and exact blocks in the stages that smooth them below dimension 8.
    initialization : {'auto', 'line', 'graph', 'grid'}
        Starting curve: the straight line (``'line'``), or the shortest path on
        a graph with conformal edge lengths, which finds the right basin when the
        line is a poor local minimum (:mod:`~geomstats_density.solvers.graph`):
        a grid over the endpoints' box (``'grid'``, dimensions 1 to 3), or
        (``'graph'``) a k-nearest-neighbour graph over ``graph_points`` if given,
        else a grid in dimensions 1 to 3, else a k-nearest-neighbour graph over
        samples of the quality's density. ``'auto'`` (default) acts as
        ``'graph'`` where ``graph_points`` are given or the quality's density is
        multimodal (a Gaussian mixture of several components, a kernel density
        estimate), and as ``'line'`` elsewhere; curves it started on the line
        that do not converge are solved again from a graph's path (a grid in
        dimensions 1 to 3, else density samples), each keeping that result if it
        converged or is shorter
        (:class:`~geomstats_density.solvers.starts.GlobalStart`).
    graph_points : array-like, shape=[n_points, dim], optional
        Vertices of the graph start, e.g. encodings of a data set.
    graph_options : dict, optional
        ``grid_size``, ``margin``, ``n_neighbors``, ``n_samples``, ``random_state`` of
        the graph start (:class:`~geomstats_density.solvers.starts.GlobalStart`).
    on_failure : {'warn', 'raise', 'ignore'}
        What to do when a curve misses ``max_iter`` or ``tol``: emit a
        :class:`GeodesicConvergenceWarning`, raise a
        :class:`GeodesicConvergenceError`, or only flag ``curve.converged``.
    progress : bool or None
        Show a progress bar; None shows it for batches of 64 curves or more.
    kinks : {'auto', 'smooth', 'off'}
        Energies built from kinked torch primitives (``relu``, ``leaky_relu``,
        ``clamp``, ``abs``, ``maximum``, ``max``/``amax`` over a dimension,
        Euclidean norms), in the user's qualities or generators, have
        derivatives that jump, and Newton converges at best linearly where the
        discrete geodesic has nodes on a kink. ``'smooth'`` minimises each node
        count by continuation: the primitives are replaced within ``tau`` of
        their kinks by ``C^2`` ones
        (:class:`~geomstats_density.solvers.smoothing.KinkSmoothing`) and
        ``tau`` decreases by stages, each warm-started from the last, until the
        true energy changes by less than the energy tolerance between stages.
        ``'smooth'`` smooths every node count so, ``'off'`` never smooths, and
        ``'auto'`` (default) smooths where evaluating the energy of the starting
        curves meets a kinked primitive on both sides of its kink; the kinks
        inside networks (calls within a :class:`torch.nn.Module`'s forward: a
        generator's or classifier's layers) only in the first, widest stage of
        the first node count, for at most 20 iterations. That stage chooses the
        basin: the energy through a piecewise-linear network has many local
        minima, which wide smoothing merges. The rest starts in that basin and
        leaves the networks' kinks to Newton steps, whose (Gauss-Newton) Hessian
        is exact on each linear piece; the quality's own kinks (a typicality's
        peak, a ``clamp``), on which the optimum lies, are smoothed by every
        stage at every node count. Lengths are always measured with the
        unsmoothed metric.

    Notes
    -----
    A curve whose speed is uneven (its energy at least 1% above its squared
    length, the minimum over its parametrisations) goes on every 20 iterations
    from its nodes moved along its spline to equal metric length per time step,
    where that lowers the energy
    (:mod:`~geomstats_density.solvers.equidistribution`), and so starts a warm
    stage or a finer node count: where the factor changes abruptly along the
    curve Newton steps equalise the pieces slowly. A cold start is iterated as
    the caller made it.

    The returned curve carries the Richardson-extrapolated nodes of the coarser
    of the last two node counts (e.g. 33 nodes after solving with 65). In a
    batch, each curve stops refining once it meets ``tol``; those that stop at
    fewer nodes are resampled on their cubic spline to the batch's node count.
    """

    grades_nodes = True

    def __init__(
        self,
        space,
        n_nodes=17,
        tol=1e-8,
        max_nodes=1025,
        max_iter=100,
        xtol=1e-6,
        hessian="auto",
        initialization="auto",
        graph_points=None,
        graph_options=None,
        on_failure="warn",
        progress=None,
        kinks="auto",
    ):
        super().__init__(space, n_nodes, tol, max_nodes, max_iter, on_failure, progress)
        xtol = check_positive_float(xtol, "xtol")
        check_choice(hessian, "hessian", HESSIAN_OPTIONS)
        self.kinks = check_choice(kinks, "kinks", KINKS_OPTIONS)
        self.xtol = xtol
        self.hessian = hessian
        self.global_start = GlobalStart(initialization, graph_points, graph_options)

    @property
    def initialization(self):
        """How curves start: ``'auto'``, ``'line'``, ``'graph'`` or ``'grid'``."""
        return self.global_start.initialization

    def start_graph(self, metric, start, end):
        """The graph whose shortest paths start the curves, or None (straight lines).

        Parameters
        ----------
        metric : SolverMetric
        start, end : ndarray, shape=[batch, dim]

        Returns
        -------
        graph : ConformalGraph or None
        """
        return self.global_start.graph(metric, start, end)

    def _initial_nodes(self, metric, start, end, initial_curve):
        if initial_curve is not None:
            return nodes_of_curve(initial_curve, start, end, self.n_nodes)
        graph = self.start_graph(metric, start, end)
        if graph is not None:
            return self._graph_curves(metric, graph, start, end)
        weights = uniform_times(self.n_nodes)[None, :, None]
        return (1 - weights) * start[:, None] + weights * end[:, None]

    def _restart_failures(self, metric, start, end, solution):
        """Curves ``'auto'`` started on the line that did not converge, solved again from a graph.

        The line is the start where nothing says the density is multimodal, but a
        local solve from it can stall (a kinked quality, a thin shell around an
        obstacle): those curves start again on the shortest paths of
        :meth:`~geomstats_density.solvers.starts.GlobalStart.restart_graph`; each
        keeps the second result if it converged or is shorter, else the first
        (``n_iterations`` counts both solves). With ``tol=None`` the iteration
        budget is the user's: a curve that used all ``max_iter`` iterations is what
        that budget buys and is not solved again; only curves that stalled before
        it are.
        """
        failed = ~solution.converged
        if self.tol is None:
            failed &= solution.n_iterations < self.max_iter
        failed = np.flatnonzero(failed)
        if failed.size == 0:
            return solution
        graph = self.global_start.restart_graph(metric, start[failed], end[failed])
        if graph is None:
            return solution
        try:
            again = self._refine(
                metric, self._graph_curves(metric, graph, start[failed], end[failed])
            )
        except ValueError:  # no usable path (none finite, or leaving the domain)
            return solution
        better = again.converged | (again.dist < solution.dist[failed])
        n_iterations = solution.n_iterations.copy()
        n_iterations[failed] += again.n_iterations
        return solution.replaced(failed[better], again, np.flatnonzero(better), n_iterations)

    def _graph_curves(self, metric, graph, start, end):
        """The graph's paths with ``n_nodes`` nodes, or more where fewer leave the domain.

        A path that hugs a region the metric refuses (a quality raising
        ``DomainError`` there) stays outside it, but chords between few of its
        points cut across: the node count doubles, for the whole batch, until
        every curve's energy is finite or ``max_nodes`` is reached.
        """
        n_nodes = self.n_nodes
        nodes = graph.curves(start, end, n_nodes)
        while (
            2 * n_nodes - 1 <= self.max_nodes
            and not np.isfinite(energies_or_inf(metric, nodes)).all()
        ):
            n_nodes = 2 * n_nodes - 1
            nodes = graph.curves(start, end, n_nodes)
        return nodes

    @property
    def _energy_rtol(self):
        """Relative energy decrease below which a Newton step ends the iteration."""
        return 1e-12 if self.tol is None else 1e-2 * self.tol

    def _optimiser_failure(self, n_nodes, iterations):
        if iterations >= self.max_iter:
            return (
                f"Newton used all max_iter={self.max_iter} iterations at {n_nodes} nodes "
                "without minimising the energy"
            )
        return (
            f"Newton stopped at {n_nodes} nodes after {iterations} of max_iter="
            f"{self.max_iter} iterations without minimising the energy: the kink "
            "smoothing reached its smallest tau with the energy still changing"
        )

    def _step_strategy(self, metric, dim, smoothed_networks=False, narrow_bands=False, times=None):
        """The step strategy for curves in dimension ``dim`` (the ``hessian`` option).

        ``'auto'`` linearises the networks (Gauss-Newton blocks, or products above
        ``MAX_BLOCK_DIM``): their Jacobians cost less than the double backward of
        exact blocks even at ``dim = 2``, most through a 784-pixel decoder, and the
        term Gauss-Newton drops from ``phi`` (its second derivative times a chord)
        shrinks with the pieces. Where the networks' kinks are smoothed
        (``smoothed_networks``) the smoothing gives piecewise-linear networks
        second derivatives of order ``1 / tau``, which Gauss-Newton steps drop:
        ``'auto'`` keeps exact blocks or products in narrow bands (``narrow_bands``:
        under ``kinks='smooth'``, past the first stage of a cold start), where
        without them Newton creeps on curves whose nodes sit in the bands, and
        below ``MIN_GAUSS_NEWTON_SMOOTHED_DIM``, where exact blocks cost little
        more. The first stage of a cold start smooths within the kinks' own scale,
        where in higher dimensions Gauss-Newton blocks take about as many
        iterations as exact ones, at a fraction of their cost.
        """
        matrix_free = self.hessian == "sobolev" or (
            self.hessian in ("auto", "gauss-newton") and dim > MAX_BLOCK_DIM
        )
        exact_smoothed = narrow_bands or (smoothed_networks and dim < MIN_GAUSS_NEWTON_SMOOTHED_DIM)
        linearised = self.hessian == "gauss-newton" or (
            self.hessian == "auto" and not exact_smoothed
        )
        strategy = {
            (False, False): BlockNewtonSteps,
            (False, True): GaussNewtonSteps,
            (True, False): MatrixFreeSteps,
            (True, True): GaussNewtonMatrixFreeSteps,
        }[matrix_free, linearised]
        return strategy(metric, self._energy_rtol, times)

    def _minimise(self, metric, nodes, on_iteration, warm_state=None, times=None):
        """Trust-region minimisation of the energy of a batch of curves.

        The steps come from a strategy (:mod:`~geomstats_density.solvers.steps`);
        this loop accepts or rejects them by the ratio of actual to predicted
        decrease, updates the radii and stops each curve:

        * STATIONARY: a full Newton step moves no node by more than ``xtol``
          times the chord, or predicts a decrease below the energy tolerance;
        * SETTLED: the energy converges linearly (a kink where the optimum lies:
          Newton's model is exact on one side only) and the geometric tail of its
          decreases is below the energy tolerance, or no step of any size
          decreases it any more (the radius collapsed);
        * MAX_ITER: ``max_iter`` ran out first;
        * FAILED: the starting curve's energy is not finite (it leaves the
          domain): its nodes are returned unchanged and the others are solved.
          Starting nodes where only the derivatives are not finite (a cone point
          of a norm) move off the chord by a tiny offset first.

        ``warm_state`` holds trust radii from the previous node count: a
        warm-started curve moves little, and the large radius of a cold start
        costs several rejected steps wherever its Hessian is not yet positive
        definite.

        Where the energy has kinks (the ``kinks`` option, :meth:`_kink_scale`)
        the loop runs on smoothed energies by continuation (:meth:`_continuation`).

        At node ``times`` other than uniform ones (a graded solve,
        :mod:`~geomstats_density.solvers.grading`; shared, or one row per
        curve) the energy weighs each piece by one over its time step.

        Raises
        ------
        DomainError
            If every starting curve leaves the metric's domain.
        ValueError
            If on every starting curve the energy or its derivatives are not
            finite.
        """
        if warm_state is not None:
            nodes = _polygon_if_lower(metric, nodes, times)
        budgets = np.full(nodes.shape[0], self.max_iter)
        networks = self._smooths_networks(warm_state)
        scale = self._kink_scale(metric, nodes, networks)
        if scale is None:
            return self._trust_region(metric, nodes, on_iteration, warm_state, budgets, times=times)
        return self._continuation(metric, nodes, on_iteration, warm_state, scale, networks, times)

    def _smooths_networks(self, warm_state):
        """Whether the kinks inside networks are smoothed too at this node count.

        Always under ``kinks='smooth'``; under ``'auto'`` on cold starts only
        (``warm_state`` None), in the first stage, which chooses the basin.
        """
        return self.kinks == "smooth" or (self.kinks == "auto" and warm_state is None)

    def _kink_scale(self, metric, nodes, networks):
        """The scale of the continuation's ``tau``, or None to minimise the energy as it is.

        Under ``kinks='auto'`` the energy of the starting curves is evaluated
        once under a recording :class:`~geomstats_density.solvers.smoothing.KinkSmoothing`:
        smoothing applies where some kinked primitive met arguments on both sides
        of its kink, with the median magnitude of those arguments as the scale;
        the primitives inside networks count only if ``networks``.
        ``'smooth'`` falls back on the mean chord of a piece where nothing
        straddled a kink.
        """
        if self.kinks == "off":
            return None
        with KinkSmoothing(networks=networks) as probe:
            energies_or_inf(metric, nodes)
        if probe.kinked and probe.scale:
            return probe.scale
        if self.kinks == "auto":
            return None
        chords = np.linalg.norm(np.diff(nodes, axis=1), axis=-1)
        return float(np.mean(chords)) or 1.0

    def _continuation(self, metric, nodes, on_iteration, warm_state, scale, networks, times=None):
        """:meth:`_trust_region` on smoothed energies, ``tau`` decreasing.

        Stage ``k`` minimises the energy with the kinked primitives (inside
        networks too if ``networks``: under ``kinks='auto'`` in the first stage
        only) smoothed within ``tau_k = scale * KINK_TAU_START /
        KINK_TAU_RATIO**k`` of their kinks, ``KINK_TAU_WARM`` times less at a
        warm-started node count
        (:class:`~geomstats_density.solvers.smoothing.KinkSmoothing`),
        starting from the curves of stage ``k - 1`` moved along the secant
        through the last two stages' curves (the minimisers move linearly in
        ``tau`` once the bands are narrow), where that lowers the smoothed
        energy: on each smooth surrogate Newton converges quadratically, from
        the second stages on in an iteration or two. The returned curve is the
        last stage's, extrapolated along the same secant to ``tau = 0`` where
        that lowers the true energy. A curve stops once a stage has minimised
        its surrogate and its true (unsmoothed) energy changed by less than the
        energy tolerance from the stage before, with that stage's status; the
        bias the smoothing leaves is then below the tolerance. The iterations of
        all stages share ``max_iter``: a curve that runs out, or that reaches
        ``tau = scale * KINK_TAU_FLOOR`` still changing, stops with MAX_ITER.
        """
        batch = nodes.shape[0]
        start_nodes = nodes
        nodes = nodes.copy()
        status = np.full(batch, LevelStatus.MAX_ITER)
        iterations = np.zeros(batch, dtype=int)
        radius = np.zeros(batch) if warm_state is None else np.asarray(warm_state, float).copy()
        # The curves returned: each stage's minimiser extrapolated to tau = 0.
        limit = nodes.copy()
        limit_energy = energies_or_inf(metric, nodes, times)
        previous = None
        running = np.arange(batch)
        tau = KINK_TAU_START * scale
        if warm_state is not None:
            tau *= KINK_TAU_WARM
        first = True
        while running.size and tau >= KINK_TAU_FLOOR * scale:
            stage_networks = networks and (first or self.kinks == "smooth")
            # The basin stage (networks smoothed in this stage only) chooses the
            # basin; the stages after it minimise the energy in that basin.
            basin = stage_networks and self.kinks == "auto"
            budget = self.max_iter - iterations[running]
            if basin:
                budget = np.minimum(budget, BASIN_ITERATIONS)
            with KinkSmoothing(tau, networks=stage_networks):
                start = nodes[running]
                stage_times = times_of_curves(times, running)
                if previous is not None:
                    start = _extrapolated(
                        metric, start, previous[running], 1 / KINK_TAU_RATIO, stage_times
                    )[0]
                stage_nodes, stage_status, stage_iterations, stage_radius = self._trust_region(
                    metric,
                    start,
                    on_iteration,
                    None if first and warm_state is None else radius[running],
                    budget,
                    raw_radius=True,
                    smoothed_networks=stage_networks,
                    narrow_bands=stage_networks and not (first and warm_state is None),
                    times=stage_times,
                )
            iterations[running] += stage_iterations
            # The next stage's minimiser lies about KINK_TAU_RATIO times closer.
            radius[running] = stage_radius / KINK_TAU_RATIO
            if first:
                previous = nodes.copy()
                candidate, energy = stage_nodes, energies_or_inf(metric, stage_nodes, stage_times)
            else:
                # The minimisers move linearly in tau near tau = 0 (a node held
                # at a fixed fraction of the smoothed band): extrapolated from
                # the last two stages, the kinked energy's minimiser, where that
                # lowers its energy.
                previous[running] = nodes[running]
                candidate, energy = _extrapolated(
                    metric, stage_nodes, previous[running], 1 / (KINK_TAU_RATIO - 1), stage_times
                )
            first = False
            nodes[running] = stage_nodes
            with np.errstate(invalid="ignore"):  # inf - inf where a curve failed
                change = np.abs(limit_energy[running] - energy)
            limit[running] = candidate
            limit_energy[running] = energy
            minimised = LevelStatus.minimised(stage_status)
            out_of_budget = (stage_status == LevelStatus.MAX_ITER) & (
                (not basin) | (iterations[running] >= self.max_iter)
            )
            stop = (stage_status == LevelStatus.FAILED) | out_of_budget
            stop |= minimised & (change <= self._energy_rtol * np.abs(energy))
            status[running[stop]] = stage_status[stop]
            running = running[~stop]
            tau /= KINK_TAU_RATIO
        chord = np.linalg.norm(nodes[:, -1] - nodes[:, 0], axis=-1)
        # Its warm state (the radii's scale) is that of its family, blocks or CG.
        strategy = self._step_strategy(metric, nodes.shape[-1], times=times)
        return limit, status, iterations, strategy.warm_state(start_nodes, limit, radius, chord)

    def _trust_region(
        self,
        metric,
        nodes,
        on_iteration,
        warm_state,
        budgets,
        raw_radius=False,
        smoothed_networks=False,
        narrow_bands=False,
        times=None,
    ):
        """:func:`~geomstats_density.solvers.trust_region.trust_region` with this solver's steps.

        ``smoothed_networks`` and ``narrow_bands`` say whether the networks' kinks
        are smoothed, and in narrow bands (see :meth:`_step_strategy`). Curves of
        uneven speed (:func:`_uneven_speed`) start (given a ``warm_state``) and
        every ``REPARAMETRISE_EVERY`` iterations go on from their nodes moved to
        equal speed, where that lowers the energy. The other arguments and the
        returns are those of ``trust_region``.
        """
        start_nodes = nodes
        nodes = nodes.copy()
        batch = nodes.shape[0]
        status = np.full(batch, LevelStatus.MAX_ITER)
        iterations = np.zeros(batch, dtype=int)
        radius = np.zeros(batch)
        running = np.arange(batch)
        # A cold start (no warm state) is left as the caller made it, the straight
        # line or a graph's path; finer node counts start from a spline through
        # the coarser nodes, as unevenly spaced as they were.
        uneven = (
            np.zeros(batch, dtype=bool)
            if warm_state is None
            else _uneven_speed(metric, nodes, times)
        )

        while running.size:
            run_times = times_of_curves(times, running)
            nodes[running[uneven]] = _equidistributed_if_lower(
                metric, nodes[running[uneven]], times_of_curves(run_times, uneven)
            )
            strategy = self._step_strategy(
                metric, nodes.shape[-1], smoothed_networks, narrow_bands, run_times
            )

            def interrupt(iteration, rows, curves, run_times=run_times):
                if (iteration + 1) % REPARAMETRISE_EVERY:
                    return np.zeros(curves.shape[0], dtype=bool)
                return _uneven_speed(metric, curves, times_of_curves(run_times, rows))

            (nodes[running], status[running], run_iterations, radius[running]) = trust_region(
                strategy,
                metric,
                nodes[running],
                on_iteration,
                warm_state,
                budgets[running] - iterations[running],
                self.xtol,
                self._energy_rtol,
                raw_radius=True,
                interrupt=interrupt,
            )
            iterations[running] += run_iterations
            # Curves interrupted with uneven speed go on from their nodes moved to
            # equal speed and their last radii.
            running = running[
                (status[running] == LevelStatus.MAX_ITER) & (iterations[running] < budgets[running])
            ]
            uneven = np.ones(running.size, dtype=bool)
            warm_state = radius[running]
        if not raw_radius:
            chord = np.linalg.norm(nodes[:, -1] - nodes[:, 0], axis=-1)
            strategy = self._step_strategy(
                metric, nodes.shape[-1], smoothed_networks, narrow_bands, times
            )
            radius = strategy.warm_state(start_nodes, nodes, radius, chord)
        return nodes, status, iterations, radius


def _extrapolated(metric, nodes, previous, factor, times=None):
    """``nodes + factor (nodes - previous)`` where that lowers the energy, and the energies.

    Parameters
    ----------
    metric : SolverMetric
    nodes, previous : ndarray, shape=[batch, n_nodes, dim]
    factor : float
    times : ndarray, shape=[n_nodes] or [batch, n_nodes], optional
        Times of the nodes in the energy, shared or one row per curve; uniform
        by default.

    Returns
    -------
    nodes : ndarray, shape=[batch, n_nodes, dim]
    energy : ndarray, shape=[batch]
    """
    moved = nodes + factor * (nodes - previous)
    energy = energies_or_inf(metric, nodes, times)
    moved_energy = energies_or_inf(metric, moved, times)
    lower = moved_energy < energy
    return np.where(lower[:, None, None], moved, nodes), np.where(lower, moved_energy, energy)


def _uneven_speed(metric, nodes, times=None):
    """Whether equal speed along each curve would lower its energy by ``UNEVEN_SPEED`` or more.

    By Cauchy-Schwarz the energy ``sum_i ell_i^2 / dt_i`` of a curve is at least
    its squared discrete length over its duration, with equality where the
    pieces' lengths are proportional to their time steps.

    Parameters
    ----------
    metric : SolverMetric
    nodes : ndarray, shape=[batch, n_nodes, dim]
    times : ndarray, shape=[n_nodes] or [batch, n_nodes], optional
        Times of the nodes in the energy, shared or one row per curve; uniform
        by default.

    Returns
    -------
    uneven : ndarray of bool, shape=[batch]
    """
    times = uniform_times(nodes.shape[1]) if times is None else times

    def sq_lengths(curves):
        with torch.no_grad():
            return metric.curve_sq_lengths(torch.from_numpy(curves)).numpy()

    sq = per_curve_where_outside(
        sq_lengths, nodes, lambda curve, error: np.full((1, nodes.shape[1] - 1), np.nan)
    )
    energy = (sq / np.diff(times, axis=-1)).sum(-1)
    bound = np.sqrt(sq).sum(-1) ** 2 / (times[..., -1] - times[..., 0])
    with np.errstate(invalid="ignore"):
        return energy - bound > UNEVEN_SPEED * energy


def _equidistributed_if_lower(metric, nodes, times=None):
    """Each curve, or its nodes moved to equal speed along its spline where that is lower.

    :func:`~geomstats_density.solvers.equidistribution.equidistributed`: a
    minimiser of the discrete energy has equal metric length per time step, and
    Newton steps equalise lengths slowly where the factor changes abruptly
    along the curve.

    Parameters
    ----------
    metric : SolverMetric
    nodes : ndarray, shape=[batch, n_nodes, dim]
    times : ndarray, shape=[n_nodes] or [batch, n_nodes], optional
        Times of the nodes in the energy, shared or one row per curve; uniform
        by default.

    Returns
    -------
    nodes : ndarray, shape=[batch, n_nodes, dim]
    """
    if nodes.shape[0] == 0 or nodes.shape[1] < 3:
        return nodes
    moved = equidistributed(metric, nodes, times)
    lower = energies_or_inf(metric, moved, times) < energies_or_inf(metric, nodes, times)
    return np.where(lower[:, None, None], moved, nodes)


def _polygon_if_lower(metric, nodes, times=None):
    """Each curve, or its polygon through its even nodes where that has the lower energy.

    A finer node count starts from a curve through the coarser curve's nodes
    (its even nodes). Where the geodesic has corners (a kinked quality: edges of
    a cube, a circle it hugs) a smooth interpolation overshoots into costly
    regions, and the coarse polygon itself, with its odd nodes at the midpoints
    of their neighbours, starts lower.

    Parameters
    ----------
    metric : SolverMetric
    nodes : ndarray, shape=[batch, n_nodes, dim]
    times : ndarray, shape=[n_nodes] or [batch, n_nodes], optional
        Times of the nodes in the energy, shared or one row per curve; uniform
        by default.

    Returns
    -------
    nodes : ndarray, shape=[batch, n_nodes, dim]
    """
    if nodes.shape[1] % 2 == 0 or nodes.shape[1] < 5:
        return nodes
    polygon = nodes.copy()
    polygon[:, 1::2] = 0.5 * (nodes[:, :-1:2] + nodes[:, 2::2])
    lower = energies_or_inf(metric, polygon, times) < energies_or_inf(metric, nodes, times)
    return np.where(lower[:, None, None], polygon, nodes)
