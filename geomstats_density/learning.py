"""Frechet mean and k-means from boundary-value solves only, without ``exp``.

geomstats' ``FrechetMean`` steps from the current mean by ``exp``, and its
``RiemannianKMeans`` takes its centres from it. Along a density ridge the
geodesic from a point and a velocity diverges from its neighbours (see the
sensitivity that :class:`~geomstats_density.solvers.ode.GeodesicODESolver`
reports), so an ``exp`` step lands far from where it aims. The estimators here
use the batched ``log`` and ``dist`` of the metric's boundary-value solver
only: the mean minimises the sum of squared distances, its gradient given by the
``log`` vectors, and each step moves along the solved geodesic from the mean to
the point the gradient step aims at. They have the fit/predict interface and the
attributes of geomstats' estimators.
"""

import logging

import geomstats.backend as gs
import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.utils import metadata_routing

from geomstats_density._validation import check_float, check_positive_float, check_positive_int
from geomstats_density.backend import to_backend, to_numpy
from geomstats_density.exceptions import DomainError, GeodesicConvergenceWarning, warn_at_caller

# Sufficient decrease of the Armijo line search along the geodesic.
ARMIJO = 1e-4
# Halvings of the step before the line search gives up.
MAX_HALVINGS = 30


def _logs_and_dists(metric, points, base_point):
    """``log(points, base_point)`` and the distances, from one batched solve.

    Parameters
    ----------
    metric : RiemannianMetric
    points : ndarray, shape=[n_samples, dim]
    base_point : ndarray, shape=[dim]

    Returns
    -------
    logs : ndarray, shape=[n_samples, dim]
    dists : ndarray, shape=[n_samples]
    """
    points, base_point = to_backend(points), to_backend(base_point)
    if hasattr(metric.log_solver, "solve"):
        curve = metric.log_solver.solve(points, base_point)
        return to_numpy(curve.initial_velocity), to_numpy(curve.dist)
    return to_numpy(metric.log(points, base_point)), to_numpy(metric.dist(points, base_point))


def _distances_to_centres(metric, points, centres):
    """Distances ``[n_samples, n_centres]``, all pairs in one batched solve."""
    n_samples, n_centres = points.shape[0], centres.shape[0]
    pairs_a = np.repeat(points, n_centres, axis=0)
    pairs_b = np.tile(centres, (n_samples, 1))
    dists = to_numpy(metric.dist(to_backend(pairs_a), to_backend(pairs_b)))
    return dists.reshape(n_samples, n_centres)


def _checked_samples(X, dim):
    """Samples as a float64 ndarray ``[n_samples, dim]``, refusing bad input."""
    X = np.asarray(to_numpy(X), dtype=float)
    if X.ndim != 2 or X.shape[1] != dim or X.shape[0] == 0:
        raise ValueError(f"X must have shape [n_samples >= 1, {dim}], got {X.shape}.")
    if not np.isfinite(X).all():
        raise ValueError("X contains NaN or infinite coordinates.")
    return X


class FrechetMean(BaseEstimator):
    """Frechet mean by gradient descent on the squared distances, without ``exp``.

    Minimises ``F(m) = sum_i w_i d(m, x_i)^2 / (2 sum_i w_i)``, whose Riemannian
    gradient is minus the weighted mean ``g`` of the vectors ``log(x_i, m)``
    (one batched boundary-value solve). Each step aims at ``m + s g`` (projected
    onto the space), solves the geodesic from ``m`` to it, and takes the point
    at time ``t`` on that solved curve, halving ``t`` until ``F`` decreases
    enough (Armijo's rule; the trial's distances give the next gradient). The
    step ``s`` is 1 at first (in a flat metric the first step lands on the
    arithmetic mean), then Barzilai and Borwein's, from the change of the
    gradient between the last two iterates; it is halved while the aimed point
    is outside the metric's domain.

    Parameters
    ----------
    space : Manifold
        Space equipped with a metric whose ``log_solver`` solves boundary-value
        problems (any geomstats metric with ``log``, ``dist`` and ``geodesic``
        between two points).
    max_iter : int
        Gradient steps allowed.
    tol : float
        The mean is reached when the metric norm of ``g`` is below ``tol``
        times the root mean square distance (or below ``tol`` when all points
        coincide).
    init_point : array-like, shape=[dim], optional
        First iterate; by default the sample nearest (in coordinates) to the
        coordinates' mean.
    verbose : bool
        Log each iteration's value of ``F`` and gradient norm.

    Attributes
    ----------
    estimate_ : array-like, shape=[dim]
        The Frechet mean.
    variance_ : float
        ``2 F`` at the mean: the weighted mean squared distance.
    n_iter_ : int
        Gradient steps taken.
    converged_ : bool
        Whether the gradient norm met ``tol`` within ``max_iter`` steps.
    """

    # ``weights`` is geomstats' argument of ``fit``, not routed as scikit-learn
    # metadata (no generated ``set_fit_request``).
    __metadata_request__fit = {"weights": metadata_routing.UNUSED}

    def __init__(self, space, max_iter=100, tol=1e-6, init_point=None, verbose=False):
        self.space = space
        self.max_iter = max_iter
        self.tol = tol
        self.init_point = init_point
        self.verbose = verbose
        self.estimate_ = None

    def fit(self, X, y=None, weights=None):
        """Compute the weighted Frechet mean of the samples.

        Parameters
        ----------
        X : array-like, shape=[n_samples, dim]
        y : None
            Ignored.
        weights : array-like, shape=[n_samples], optional
            Non-negative weights, not all zero; equal by default.

        Returns
        -------
        self : FrechetMean
        """
        max_iter = check_positive_int(self.max_iter, "max_iter")
        tol = check_positive_float(self.tol, "tol")
        metric, dim = self.space.metric, self.space.dim
        X = _checked_samples(X, dim)
        weights = np.ones(len(X)) if weights is None else np.asarray(to_numpy(weights), float)
        if weights.shape != (len(X),) or not (weights >= 0).all() or not weights.sum() > 0:
            raise ValueError(
                f"weights must be {len(X)} non-negative numbers, not all 0; got {weights}."
            )
        weights = weights / weights.sum()
        if self.init_point is None:
            mean = X[np.argmin(np.linalg.norm(X - weights @ X, axis=-1))]
        else:
            mean = _checked_samples(np.reshape(to_numpy(self.init_point), (1, -1)), dim)[0]

        logs, dists = _logs_and_dists(metric, X, mean)
        value = 0.5 * weights @ dists**2
        step, self.converged_, self.n_iter_ = 1.0, False, 0
        for self.n_iter_ in range(max_iter + 1):
            gradient = weights @ logs
            norm = float(to_numpy(metric.norm(to_backend(gradient), to_backend(mean))))
            if self.verbose:
                logging.info(f"FrechetMean: iteration {self.n_iter_}, F={value}, |g|={norm}")
            if norm <= tol * max(np.sqrt(2 * value), 1.0) or value == 0.0:
                self.converged_ = True
                break
            if self.n_iter_ == max_iter:
                break
            moved = self._line_search(metric, X, weights, mean, gradient, value, norm, step)
            if moved is None:
                break
            previous_mean, previous_gradient = mean, gradient
            mean, logs, dists, value, step = moved
            # Barzilai-Borwein: the step of a quadratic with the curvature seen
            # between the last two iterates (1 in a flat metric).
            curvature = -(mean - previous_mean) @ (weights @ logs - previous_gradient)
            if curvature > 0:
                step = float(np.clip(np.sum((mean - previous_mean) ** 2) / curvature, 1e-3, 1e3))
        if not self.converged_:
            warn_at_caller(
                f"FrechetMean stopped after {self.n_iter_} steps with a gradient norm of "
                f"{norm:.3g}, above tol={tol} times the RMS distance.",
                GeodesicConvergenceWarning,
            )
        self.estimate_ = to_backend(mean)
        self.variance_ = 2.0 * value
        return self

    def _line_search(self, metric, X, weights, mean, gradient, value, norm, step):
        """The next iterate on the solved geodesic towards ``mean + step gradient``.

        Returns ``(mean, logs, dists, value, step)`` at the accepted point, or
        None when no point of the curve decreases ``F`` enough.
        """
        for _ in range(MAX_HALVINGS):
            aimed = to_numpy(self.space.projection(to_backend(mean + step * gradient)))
            try:
                geodesic = metric.geodesic(
                    initial_point=to_backend(mean), end_point=to_backend(aimed)
                )
            except DomainError:
                step /= 2
                continue
            time = 1.0
            for _ in range(MAX_HALVINGS):
                trial = to_numpy(geodesic(np.array([time])))[0]
                try:
                    logs, dists = _logs_and_dists(metric, X, trial)
                except DomainError:
                    time /= 2
                    continue
                trial_value = 0.5 * weights @ dists**2
                if trial_value <= value - ARMIJO * time * step * norm**2:
                    return trial, logs, dists, trial_value, min(1.0, 2 * time * step)
                time /= 2
            return None
        return None


class RiemannianKMeans(TransformerMixin, ClusterMixin, BaseEstimator):
    """k-means whose distances and centres come from boundary-value solves only.

    Assigns the samples to the nearest centre by the batched ``dist`` (all
    sample-centre pairs in one solve), and moves each centre to the
    :class:`FrechetMean` of its samples (``log`` and solved geodesics, no
    ``exp``), until the labels no longer change or the centres move by less
    than ``tol`` on average.

    Parameters
    ----------
    space : Manifold
        Space equipped with a metric, as for :class:`FrechetMean`.
    n_clusters : int
        Number of clusters.
    init : {'random', 'kmeans++'}, callable or array-like, shape=[n_clusters, dim]
        Initial centres: samples drawn at random, samples drawn by k-means++
        (each with probability proportional to its squared distance to the
        nearest centre drawn), ``init(X, n_clusters)``, or the given array.
    tol : float
        Mean distance moved by the centres below which the iterations stop.
    max_iter : int
        Iterations allowed.
    random_state : int or numpy.random.Generator, optional
        Seed of the random initial centres.
    mean_options : dict, optional
        Keyword arguments of the :class:`FrechetMean` of each cluster.
    verbose : int
        Log each iteration when positive.

    Attributes
    ----------
    init_cluster_centers_ : array-like, shape=[n_clusters, dim]
    cluster_centers_ : array-like, shape=[n_clusters, dim]
    labels_ : array-like, shape=[n_samples]
        Index of each sample's cluster.
    inertia_ : float
        Sum of the squared distances of the samples to their centres.
    n_iter_ : int
        Iterations run.
    """

    def __init__(
        self,
        space,
        n_clusters=8,
        init="random",
        tol=1e-2,
        max_iter=100,
        random_state=None,
        mean_options=None,
        verbose=0,
    ):
        self.space = space
        self.n_clusters = n_clusters
        self.init = init
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.mean_options = mean_options
        self.verbose = verbose
        self.init_cluster_centers_ = None
        self.cluster_centers_ = None
        self.labels_ = None
        self.inertia_ = None

    def _initial_centres(self, X, n_clusters, rng):
        metric, n_samples = self.space.metric, X.shape[0]
        if isinstance(self.init, str):
            if self.init == "random":
                return X[rng.choice(n_samples, n_clusters, replace=False)]
            if self.init == "kmeans++":
                centres = X[[rng.integers(n_samples)]]
                while len(centres) < n_clusters:
                    sq_dists = _distances_to_centres(metric, X, centres).min(axis=1) ** 2
                    drawn = rng.choice(n_samples, p=sq_dists / sq_dists.sum())
                    centres = np.r_[centres, X[[drawn]]]
                return centres
            raise ValueError(
                f"init must be 'random', 'kmeans++', a callable or an array, got {self.init!r}."
            )
        centres = self.init(to_backend(X), n_clusters) if callable(self.init) else self.init
        centres = np.asarray(to_numpy(centres), dtype=float)
        if centres.shape != (n_clusters, X.shape[1]):
            raise ValueError(
                f"init must give {n_clusters} centres of dimension {X.shape[1]}, "
                f"got shape {centres.shape}."
            )
        return centres

    def fit(self, X, y=None):
        """Cluster the samples.

        Parameters
        ----------
        X : array-like, shape=[n_samples, dim]
        y : None
            Ignored.

        Returns
        -------
        self : RiemannianKMeans
        """
        n_clusters = check_positive_int(self.n_clusters, "n_clusters")
        max_iter = check_positive_int(self.max_iter, "max_iter")
        tol = check_float(self.tol, "tol", 0.0, strict=False)
        metric = self.space.metric
        X = _checked_samples(X, self.space.dim)
        if n_clusters > len(X):
            raise ValueError(f"n_clusters={n_clusters} is more than the {len(X)} samples.")
        rng = np.random.default_rng(self.random_state)
        centres = self._initial_centres(X, n_clusters, rng)
        self.init_cluster_centers_ = to_backend(centres.copy())
        dists = _distances_to_centres(metric, X, centres)
        labels = dists.argmin(axis=1)
        for self.n_iter_ in range(1, max_iter + 1):
            previous = centres.copy()
            for cluster in range(n_clusters):
                members = labels == cluster
                if not members.any():
                    # An empty cluster restarts at the sample farthest from its centre.
                    centres[cluster] = X[np.argmax(dists[np.arange(len(X)), labels])]
                    continue
                mean = FrechetMean(
                    self.space, init_point=centres[cluster], **(self.mean_options or {})
                )
                centres[cluster] = to_numpy(mean.fit(X[members]).estimate_)
            moved = to_numpy(metric.dist(to_backend(previous), to_backend(centres)))
            dists = _distances_to_centres(metric, X, centres)
            new_labels = dists.argmin(axis=1)
            if self.verbose > 0:
                logging.info(f"RiemannianKMeans: iteration {self.n_iter_}, moved {moved.mean()}")
            unchanged = np.array_equal(new_labels, labels)
            labels = new_labels
            if unchanged or moved.mean() < tol:
                break
        self.cluster_centers_ = to_backend(centres)
        self.labels_ = gs.array(labels)
        self.inertia_ = float((dists[np.arange(len(X)), labels] ** 2).sum())
        return self

    def transform(self, X):
        """Distances of the samples to the cluster centres.

        Parameters
        ----------
        X : array-like, shape=[n_samples, dim]

        Returns
        -------
        dists : array-like, shape=[n_samples, n_clusters]
        """
        if self.cluster_centers_ is None:
            raise RuntimeError("fit needs to be called first.")
        X = _checked_samples(X, self.space.dim)
        centres = to_numpy(self.cluster_centers_)
        return to_backend(_distances_to_centres(self.space.metric, X, centres))

    def predict(self, X):
        """Index of the nearest cluster centre of each sample.

        Parameters
        ----------
        X : array-like, shape=[n_samples, dim]

        Returns
        -------
        labels : array-like, shape=[n_samples]
        """
        return gs.array(to_numpy(self.transform(X)).argmin(axis=1))
