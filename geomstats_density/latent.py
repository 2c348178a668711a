"""A generator's latent space as a geomstats space with the paper's metric.

:class:`LatentSpace` is a geomstats ``Euclidean(dim)`` equipped with a
:class:`~geomstats_density.DensityConformalMetric` whose quality says how good
a latent code is: realistic under a latent density, and/or decoded into a
sample that carries a wanted feature. geomstats' ``dist``, ``geodesic``,
``dist_pairwise`` and ``FrechetMean`` then work unchanged, and
:meth:`LatentSpace.interpolate` returns the codes of the quality-maximising
interpolation::

    space = LatentSpace(decoder, dim=2, log_density=Gaussian(torch.zeros(2)),
                        classifier=classifier, target=8)
    codes = space.interpolate(z0, z1, n_points=9)               # [9, 2]
    images = space.decode_interpolations(z0, z1, n_points=9)    # geodesic, linear, slerp

The generator and the classifier run as
:class:`~geomstats_density.networks.TorchMap` objects
(:mod:`geomstats_density.networks`): frozen copies of the user's modules, on
the generator module's device or the ``device`` asked for, in float64 by
default (``generator_dtype``). The classifier reads the generated samples where
they are made; only what the solver needs comes back to the CPU as float64: the
samples for ``lengths_in='samples'``, and the classifier's logits.
"""

import copy
import math

import geomstats.backend as gs
import torch
from geomstats.geometry.euclidean import Euclidean

from geomstats_density._validation import check_on_failure, check_points
from geomstats_density.backend import DTYPE, to_backend
from geomstats_density.densities import as_density
from geomstats_density.density_metric import DensityConformalMetric
from geomstats_density.networks import DEFAULT_BATCH_SIZE, ComposedMap, TorchMap
from geomstats_density.quality import (
    DEFAULT_EPS,
    DensityRatio,
    Feature,
    Product,
    RealismIndex,
    Typicality,
)
from geomstats_density.reports import linear_interpolation, slerp

LENGTHS_IN = ("latent", "samples")
REALISM_QUALITIES = {
    "index": RealismIndex,
    # The smooth form: Newton loses its fast convergence on the kink of 'min'.
    "typicality": lambda density, eps: Typicality(density, eps=eps, form="smooth"),
    "ratio": DensityRatio,
}


def latent_quality(
    generator=None,
    log_density=None,
    classifier=None,
    target=None,
    realism="index",
    eps=DEFAULT_EPS,
):
    """``log Q`` of latent codes: realism under a density, times a feature.

    Parameters
    ----------
    generator : callable or None
        Codes ``[n, dim]`` to samples ``[n, ...]``, float64 (e.g. a
        :class:`TorchMap`); None when the classifier reads codes (e.g. a
        :class:`ComposedMap` of the classifier and the generator).
    log_density : Density or density model, optional
        The latent prior, or a density fitted to encoded data
        (:mod:`geomstats_density.fitting`); anything
        :func:`~geomstats_density.densities.as_density` reads.
    classifier : callable, optional
        Samples ``[n, ...]`` (codes ``[n, dim]`` without ``generator``) to
        logits ``[n, n_classes]``, float64.
    target : int, optional
        The wanted class; required with ``classifier``.
    realism : {'index', 'typicality', 'ratio'}
        Quality read from the density: :class:`~geomstats_density.quality.RealismIndex`
        (the paper's, for low-dimensional latents),
        :class:`~geomstats_density.quality.Typicality` (smooth form, for
        high-dimensional near-Gaussian latents: the soap bubble) or
        :class:`~geomstats_density.quality.DensityRatio`.
    eps : float
        Smoothing of the probabilities, in (0, 1).

    Returns
    -------
    log_quality : Quality
        The realism quality, the :class:`~geomstats_density.quality.Feature`
        quality, or their product when both are given.
    """
    if realism not in REALISM_QUALITIES:
        raise ValueError(f"realism must be one of {sorted(REALISM_QUALITIES)}, got {realism!r}.")
    if classifier is None and target is not None:
        raise ValueError("target needs a classifier.")
    if classifier is not None and target is None:
        raise ValueError("classifier needs target, the index of the wanted class.")
    factors = []
    if log_density is not None:
        factors.append(REALISM_QUALITIES[realism](as_density(log_density), eps=eps))
    if classifier is not None:
        factors.append(Feature(classifier, target, generator=generator, eps=eps))
    if not factors:
        raise ValueError(
            "A latent space needs a quality: pass log_quality, or log_density and/or "
            "classifier with target."
        )
    return factors[0] if len(factors) == 1 else Product(*factors)


class LatentSpace(Euclidean):
    """The latent space ``R^dim`` of a generator, with the paper's metric.

    A geomstats ``Euclidean(dim)`` equipped with
    ``g_z = log(Q(z))^2 <dPhi u, dPhi v>``: ``Phi`` the identity
    (``lengths_in='latent'``) or the generator (``lengths_in='samples'``,
    the paper's Eq. 5 with lengths between generated samples).

    Parameters
    ----------
    generator : torch.nn.Module or callable
        ``G``: codes ``[n, dim]`` to samples ``[n, ...]``.
    dim : int
        Latent dimension.
    log_quality : callable, optional
        ``log Q`` of codes, torch ``[..., dim] -> [...]``. Instead of it, give
        ``log_density`` and/or ``classifier`` and ``target``.
    log_density : Density or density model, optional
        Latent density whose realism (see ``realism``) is a factor of ``Q``.
    classifier : torch.nn.Module or callable, optional
        Samples ``[n, ...]`` to logits ``[n, n_classes]``; with ``target``, the
        probability that ``G(z)`` is of class ``target`` is a factor of ``Q``.
    target : int, optional
        Index of the wanted class.
    lengths_in : {'latent', 'samples'}
        Measure lengths between codes, or between generated samples
        (flattened).
    realism : {'index', 'typicality', 'ratio'}
        Quality read from ``log_density``, see :func:`latent_quality`.
    eps : float
        Smoothing of the probabilities, in (0, 1).
    generator_dtype : torch.dtype or 'module'
        What the generator and classifier compute in: float64 (default: a
        float64 copy of a float32 module, so that the solver's tolerances are
        reachable), float32, or ``'module'``, the generator module's own type
        (float64 for plain callables). In float32 the energy carries rounding
        errors of about 1e-7 of its value: give the solver a ``tol`` of 1e-4
        to 1e-5 (tighter ones may not be met).
    device : torch.device or str, optional
        Where the generator and classifier run; by default the generator
        module's own device (the CPU for plain callables). The solver stays on
        the CPU: codes go to the device, and generated samples (for
        ``lengths_in='samples'``) and logits come back as float64.
    batch_size : int or None
        Largest number of codes per generator call.
    method, solver_options
        Boundary-value solver of the metric, as in
        :class:`~geomstats_density.DensityConformalMetric` (whose default
        ``tol`` respects a Monte-Carlo error of the quality).

    Attributes
    ----------
    generator : TorchMap
        The generator as a float64 CPU map, ``[..., dim] -> [..., *sample_shape]``;
        its ``device`` and ``dtype`` say where and in what it computes.
    sample_shape : tuple of int
        Shape of one generated sample.
    log_quality : callable
        ``log Q``, also ``metric.log_quality``.
    """

    def __init__(
        self,
        generator,
        dim,
        log_quality=None,
        log_density=None,
        classifier=None,
        target=None,
        lengths_in="latent",
        realism="index",
        eps=DEFAULT_EPS,
        generator_dtype=DTYPE,
        device=None,
        batch_size=DEFAULT_BATCH_SIZE,
        method=None,
        solver_options=None,
    ):
        if isinstance(dim, bool) or int(dim) != dim or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}.")
        if lengths_in not in LENGTHS_IN:
            raise ValueError(f"lengths_in must be one of {list(LENGTHS_IN)}, got {lengths_in!r}.")
        given_parts = log_density is not None or classifier is not None
        if log_quality is not None and given_parts:
            raise ValueError("Pass log_quality, or log_density/classifier to build it; not both.")
        if log_quality is not None and not callable(log_quality):
            raise ValueError("log_quality must be callable.")
        super().__init__(int(dim), equip=False)
        self.generator = TorchMap(
            generator,
            (self.dim,),
            dtype=generator_dtype,
            device=device,
            batch_size=batch_size,
            name="generator",
        )
        self.sample_shape = self.generator.output_shape
        self.lengths_in = lengths_in
        if log_quality is None:
            if classifier is not None:
                # The classifier runs where the generator does and reads its samples there.
                classifier = ComposedMap(
                    TorchMap(
                        classifier,
                        self.sample_shape,
                        dtype=self.generator.dtype,
                        device=self.generator.device,
                        batch_size=batch_size,
                        name="classifier",
                    ),
                    self.generator,
                )
            log_quality = latent_quality(
                None, log_density, classifier, target, realism=realism, eps=eps
            )
        self.log_quality = log_quality
        self.equip_with_metric(
            DensityConformalMetric,
            log_quality=log_quality,
            phi=self.flat_samples if lengths_in == "samples" else None,
            method=method,
            solver_options=solver_options,
        )
        # The generator runs at every point: its output size stands for the cost.
        self.metric.point_cost = math.prod(self.sample_shape)

    def exp(self, tangent_vec, base_point):
        """The vector-space exponential ``base_point + tangent_vec`` (geomstats' ``Euclidean``).

        Not the geodesic exponential of the latent metric: that is
        ``space.metric.exp`` (:meth:`ConformalMetric.exp
        <geomstats_density.ConformalMetric.exp>`), an ODE integration.

        Parameters
        ----------
        tangent_vec : array-like, shape=[..., dim]
        base_point : array-like, shape=[..., dim]

        Returns
        -------
        point : array-like, shape=[..., dim]
        """
        return super().exp(tangent_vec, base_point)

    def random_point(self, n_samples=1, bound=1.0):
        """Codes drawn uniformly in the box ``[-bound, bound]^dim`` (geomstats' ``Euclidean``).

        Not drawn from the latent density: for codes where the quality is high,
        sample the density itself (``log_density.sample``, where it has one).

        Parameters
        ----------
        n_samples : int
        bound : float

        Returns
        -------
        codes : array-like, shape=[..., dim]
        """
        return super().random_point(n_samples, bound)

    def flat_samples(self, codes):
        """``G(z)`` flattened, the map ``Phi`` of ``lengths_in='samples'``.

        Parameters
        ----------
        codes : torch.Tensor, shape=[..., dim]

        Returns
        -------
        samples : torch.Tensor, shape=[..., m]
            ``m`` the number of values of one sample.
        """
        return self.generator(codes).reshape(*codes.shape[:-1], -1)

    def decode(self, codes):
        """Generated samples ``G(z)``, without gradients.

        Parameters
        ----------
        codes : array-like, shape=[..., dim]

        Returns
        -------
        samples : array-like, shape=[...] + sample_shape
        """
        codes = check_points(codes, self.dim, "codes")
        with torch.no_grad():
            return to_backend(self.generator(codes))

    def interpolate(self, initial_code, end_code, n_points=9, on_failure=None, return_curve=False):
        """Codes along the geodesic, at ``n_points`` uniform times (constant speed).

        Parameters
        ----------
        initial_code, end_code : array-like, shape=[..., dim]
        n_points : int
            At least 2, endpoints included.
        on_failure : {'warn', 'raise', 'ignore'}, optional
            What to do, for this call, when a geodesic does not converge: warn
            (:class:`~geomstats_density.GeodesicConvergenceWarning`), raise
            (:class:`~geomstats_density.GeodesicConvergenceError`) or only flag
            ``curve.converged``; by default the solver's own ``on_failure``.
        return_curve : bool
            Also return the solver's curve, with its length estimate ``dist``,
            ``dist_error``, ``converged`` and ``n_iterations``.

        Returns
        -------
        codes : array-like, shape=[..., n_points, dim]
        curve : GeodesicCurve
            Only with ``return_curve=True``: the geodesic the codes are read from.
        """
        if n_points < 2:
            raise ValueError(f"n_points must be at least 2, got {n_points}.")
        start = check_points(initial_code, self.dim, "initial_code")
        end = check_points(end_code, self.dim, "end_code")
        solver = solver_on_failure(self.metric.log_solver, on_failure)
        curve = solver.geodesic_bvp(to_backend(end), to_backend(start))
        codes = curve(gs.linspace(0.0, 1.0, n_points))
        return (codes, curve) if return_curve else codes

    def interpolations(
        self,
        initial_code,
        end_code,
        n_points=9,
        slerp_center=None,
        on_failure=None,
        return_curve=False,
    ):
        """The geodesic's codes next to linear and spherical-linear interpolation.

        Parameters
        ----------
        initial_code, end_code : array-like, shape=[dim]
        n_points : int
        slerp_center : array-like, shape=[dim], optional
            Centre of the slerp (the prior's mean); the origin by default.
        on_failure : {'warn', 'raise', 'ignore'}, optional
            As in :meth:`interpolate`.
        return_curve : bool
            Also return the solver's geodesic curve.

        Returns
        -------
        codes : dict
            ``'geodesic'``, ``'linear'``, ``'slerp'``: arrays ``[n_points, dim]``.
        curve : GeodesicCurve
            Only with ``return_curve=True``.
        """
        start = check_points(initial_code, self.dim, "initial_code")
        end = check_points(end_code, self.dim, "end_code")
        if start.ndim != 1 or end.ndim != 1:
            raise ValueError("interpolations compares one pair of codes: pass shapes [dim].")
        geodesic, curve = self.interpolate(start, end, n_points, on_failure, return_curve=True)
        codes = {
            "geodesic": geodesic,
            "linear": linear_interpolation(start, end, n_points).nodes,
            "slerp": slerp(start, end, n_points, center=slerp_center).nodes,
        }
        return (codes, curve) if return_curve else codes

    def decode_interpolations(
        self,
        initial_code,
        end_code,
        n_points=9,
        slerp_center=None,
        on_failure=None,
        return_curve=False,
    ):
        """Samples decoded along the geodesic, linear and slerp interpolations.

        Parameters
        ----------
        initial_code, end_code : array-like, shape=[dim]
        n_points : int
        slerp_center : array-like, shape=[dim], optional
        on_failure : {'warn', 'raise', 'ignore'}, optional
            As in :meth:`interpolate`.
        return_curve : bool
            Also return the solver's geodesic curve.

        Returns
        -------
        samples : dict
            ``'geodesic'``, ``'linear'``, ``'slerp'``: arrays
            ``[n_points, *sample_shape]``.
        curve : GeodesicCurve
            Only with ``return_curve=True``.
        """
        codes, curve = self.interpolations(
            initial_code, end_code, n_points, slerp_center, on_failure, return_curve=True
        )
        samples = {name: self.decode(points) for name, points in codes.items()}
        return (samples, curve) if return_curve else samples


def solver_on_failure(solver, on_failure):
    """``solver`` acting on non-converged geodesics as ``on_failure`` says, for one call.

    A shallow copy with its own ``on_failure``: the metric's solver, which other
    calls and threads share, is left as it is.

    Parameters
    ----------
    solver : LogSolver
        The metric's boundary-value solver.
    on_failure : {'warn', 'raise', 'ignore'} or None
        None keeps the solver's own setting (and returns ``solver`` itself).

    Returns
    -------
    solver : LogSolver

    Raises
    ------
    ValueError
        If ``on_failure`` is not one of these, or the solver does not report
        failures (it has no ``on_failure``).
    """
    if on_failure is None:
        return solver
    check_on_failure(on_failure)
    if not hasattr(solver, "on_failure"):
        raise ValueError(
            f"on_failure needs a solver that reports failures (method='newton'); "
            f"{type(solver).__name__} has none."
        )
    solver = copy.copy(solver)
    solver.on_failure = on_failure
    return solver
