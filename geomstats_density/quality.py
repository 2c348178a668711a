r"""Qualities ``Q: Z -> (0, 1)``, as torch callables returning ``log Q``.

A quality says how good a point is: how realistic under a latent density, how
likely it is to carry a wanted feature, how close it is to a set. The metric
``g = log(Q)^2 <., .>`` of :class:`~geomstats_density.DensityConformalMetric`
turns it into geodesics that keep to where ``Q`` is high. Every quality here is
a callable ``log_q(points)`` mapping float64 torch points ``[..., dim]`` to
``log Q`` ``[...]``, finite and negative, differentiable twice; pass it as
``log_quality``::

    quality = RealismIndex(Gaussian(torch.zeros(2))) * Closeness(dist_to_set, rate=5)
    space.equip_with_metric(DensityConformalMetric, log_quality=quality)

Probabilities ``P`` in [0, 1] become qualities by the paper's smoothing
``Q = eps/2 + (1 - eps) P`` (:func:`smooth_log_probability`), done in log space.

From a log-density ``p`` (:class:`RealismIndex`, :class:`Typicality`,
:class:`DensityRatio`) the qualities go through the law of ``log p(X)``,
``X ~ p``: exact for a Gaussian through the chi-square law
(:class:`~geomstats_density.laws.GaussianLogDensityLaw`), estimated from samples
otherwise (:class:`~geomstats_density.laws.EmpiricalLogDensityLaw`). The default
(Examples 5 and 6 use it) is the paper's one-sided :class:`RealismIndex`: it
needs no normalising constant and is right for low-dimensional and multi-modal
latents. For high-dimensional, near-Gaussian latents use :class:`Typicality`
(``form='smooth'`` with the Newton solver): only a two-sided form sees the
soap-bubble effect.
"""

import math

import torch

from geomstats_density._validation import check_scalar_field, first_invalid, user_callable
from geomstats_density.backend import DTYPE
from geomstats_density.densities import as_density
from geomstats_density.exceptions import DomainError
from geomstats_density.jets import Jet, elementwise_derivatives
from geomstats_density.laws import log_density_law

DEFAULT_EPS = 0.1


# ----------------------------------------------------------------------
# Functional core
# ----------------------------------------------------------------------
def check_eps(eps):
    """Check a smoothing parameter lies in (0, 1) and return it as a float."""
    if not 0 < eps < 1:
        raise ValueError(f"eps must be in (0, 1), got {eps}.")
    return float(eps)


def smooth_log_probability(log_probability, eps=DEFAULT_EPS):
    r"""The paper's smoothing of a probability, in log space.

    .. math:: \log Q = \log\left(\frac{\epsilon}{2} + (1 - \epsilon) P\right)

    computed as ``logaddexp(log(eps/2), log(1 - eps) + log P)``: exact and with
    finite first and second derivatives as ``log P -> -inf``. ``Q`` lies in
    ``[eps/2, 1 - eps/2]``, strictly inside (0, 1).

    Parameters
    ----------
    log_probability : torch.Tensor, shape=[...]
        ``log P``, at most 0 (``-inf`` allowed).
    eps : float
        In (0, 1); the authors use 0.1 to 0.2.

    Returns
    -------
    log_quality : torch.Tensor, shape=[...]
    """
    eps = check_eps(eps)
    floor = math.log(eps / 2)
    # floor + softplus(.) is logaddexp; torch.logaddexp's second derivative is
    # NaN once its arguments differ by more than ~709.
    excess = math.log1p(-eps) + log_probability - floor
    return floor + torch.nn.functional.softplus(excess, threshold=50.0)


def smooth_log_probability_derivatives(log_probability, first, second, eps=DEFAULT_EPS):
    """:func:`smooth_log_probability` and its first two derivatives by the chain rule.

    Parameters
    ----------
    log_probability, first, second : torch.Tensor, shape=[...]
        ``log P`` and its first two derivatives with respect to some scalar.

    Returns
    -------
    log_quality, first, second : torch.Tensor, shape=[...]
        ``log Q`` and its first two derivatives with respect to that scalar.
    """
    log_quality = smooth_log_probability(log_probability, eps)
    # d softplus(x) / dx = sigmoid(x), with x = log(1 - eps) + log P - log(eps / 2).
    slope = torch.sigmoid(math.log1p(-eps) + log_probability - math.log(eps / 2))
    return (
        log_quality,
        slope * first,
        slope * (1 - slope) * first**2 + slope * second,
    )


def log_two_sided(log_cdf, log_sf, form="min"):
    """Log of a two-sided tail probability from ``log F`` and ``log(1 - F)``.

    Parameters
    ----------
    log_cdf, log_sf : torch.Tensor, shape=[...]
        ``log F`` and ``log(1 - F)``.
    form : {'min', 'smooth'}
        ``'min'``: ``2 min(F, 1 - F)``, the two-sided p-value; ``'smooth'``:
        ``4 F (1 - F)``, which has the same maximum (1, at ``F = 1/2``) and
        tails to within a factor 2, but no kink at its maximum.

    Returns
    -------
    log_p : torch.Tensor, shape=[...]
    """
    if form == "min":
        return math.log(2.0) + torch.minimum(log_cdf, log_sf)
    if form == "smooth":
        return math.log(4.0) + log_cdf + log_sf
    raise ValueError(f"form must be 'min' or 'smooth', got {form!r}.")


def safe_norm(points):
    """Euclidean norm over the last axis, with derivatives 0 (not NaN) at 0.

    ``torch.linalg.vector_norm`` has a NaN derivative at the origin; distances
    built on this one stay differentiable wherever curve nodes land.

    Parameters
    ----------
    points : torch.Tensor, shape=[..., dim]

    Returns
    -------
    norm : torch.Tensor, shape=[...]
    """
    sq_norm = (points * points).sum(-1)
    positive = sq_norm > 0
    # The inner where keeps sqrt's infinite derivative at 0 out of the graph.
    root = torch.sqrt(torch.where(positive, sq_norm, torch.ones_like(sq_norm)))
    return torch.where(positive, root, torch.zeros_like(sq_norm))


# ----------------------------------------------------------------------
# Qualities
# ----------------------------------------------------------------------
class Quality:
    """Base of the qualities: a callable returning ``log Q``; ``*`` multiplies them.

    Subclasses implement :meth:`__call__`, mapping points ``[..., dim]`` to
    ``log Q`` ``[...]``, and :meth:`jet` where ``log Q`` has closed-form
    derivatives.
    """

    def __call__(self, points):
        """``log Q`` at points; each subclass defines it.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        log_quality : torch.Tensor, shape=[...]
            At most 0.
        """
        raise NotImplementedError

    def jet(self, points):
        """``log Q``, its gradient and Hessian, or None if only autodiff knows them.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        jet : Jet or None
        """
        return None

    def gauss_newton_jet(self, points):
        """The jet with the networks inside ``log Q`` linearised, or None.

        The Newton solver's Gauss-Newton steps (``hessian='gauss-newton'``) read
        this jet: its Hessian drops the second derivatives of the networks a
        quality evaluates (:meth:`Feature.gauss_newton_jet`). A quality without
        networks returns its :meth:`jet`.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        jet : Jet or None
        """
        return self.jet(points)

    def __mul__(self, other):
        if not callable(other):
            return NotImplemented
        return Product(self, other)

    def __rmul__(self, other):
        if not callable(other):
            return NotImplemented
        return Product(other, self)


class Constant(Quality):
    """The same quality ``q`` everywhere: geodesics are those of the base metric.

    Parameters
    ----------
    q : float
        In (0, 1); the metric is ``log(q)^2`` times the base metric.
    """

    def __init__(self, q):
        if not 0 < q < 1:
            raise ValueError(f"q must be in (0, 1), got {q}.")
        self.q = float(q)

    def __call__(self, points):
        """``log q`` at every point.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        log_quality : torch.Tensor, shape=[...]
        """
        return torch.full(points.shape[:-1], math.log(self.q), dtype=points.dtype)

    def jet(self, points):
        """``log q`` with zero gradient and Hessian, in closed form.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        jet : Jet
        """
        return Jet(
            self(points),
            torch.zeros_like(points),
            torch.zeros(*points.shape, points.shape[-1], dtype=points.dtype),
        )


class Product(Quality):
    """Product of qualities: ``log Q = sum_j log Q_j``.

    ``Q`` is high only where every factor is ("realistic AND has the feature");
    ``q1 * q2`` builds the same.

    Parameters
    ----------
    *factors : callable
        Qualities, or any callables returning ``log Q_j`` ``[...]``.
    """

    def __init__(self, *factors):
        if not factors or not all(callable(factor) for factor in factors):
            raise ValueError("Product needs one or more callable qualities.")
        flat = []
        for factor in factors:
            flat.extend(factor.factors if isinstance(factor, Product) else [factor])
        self.factors = tuple(flat)

    def __call__(self, points):
        """``log Q = sum_j log Q_j`` at points.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        log_quality : torch.Tensor, shape=[...]
        """
        return sum(factor(points) for factor in self.factors)

    def jet(self, points):
        """Sum of the factors' jets, or None if a factor has none in closed form.

        A factor without a ``jet`` method (a plain callable) counts as one with none:
        the metric then differentiates the whole product by autodiff.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        jet : Jet or None
        """
        return self._sum_of_jets(points, "jet")

    def gauss_newton_jet(self, points):
        """Sum of the factors' Gauss-Newton jets (their jets where they have none), or None.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        jet : Jet or None
        """
        return self._sum_of_jets(points, "gauss_newton_jet")

    def _sum_of_jets(self, points, kind):
        jets = [
            getattr(factor, kind, getattr(factor, "jet", lambda _: None))(points)
            for factor in self.factors
        ]
        if any(jet is None for jet in jets):
            return None
        return sum(jets[1:], jets[0])


class _LogDensityQuality(Quality):
    """A smoothed probability ``P`` that is an element-wise function of ``log p(z)``.

    Its jet is the density's (closed form for the Gaussian models) composed with
    that function's first two derivatives.
    """

    def _log_probability_of(self, log_density):
        """``log P`` from ``log p(z)``, element-wise, shape ``[...]``."""
        raise NotImplementedError

    def log_probability(self, points):
        """``log P(z)``, shape ``[...]`` for points ``[..., dim]``."""
        return self._log_probability_of(self.density(points))

    def log_quality_of(self, log_density):
        """``log Q`` from ``log p(z)``, element-wise, shape ``[...]``."""
        return smooth_log_probability(self._log_probability_of(log_density), self.eps)

    def __call__(self, points):
        return self.log_quality_of(self.density(points))

    def jet(self, points):
        density_jet = self.density.jet(points)
        return density_jet.chain(*self._log_quality_derivatives(density_jet.value))

    def _log_quality_derivatives(self, log_density):
        """``log Q`` and its first two derivatives in ``log p``, each ``[...]``."""
        return elementwise_derivatives(self.log_quality_of, log_density)


class _DensityQuality(_LogDensityQuality):
    """Shared set-up of the qualities read from the law of ``log p(X)``."""

    def __init__(self, density, eps, n_samples, random_state):
        self.density = as_density(density)
        self.eps = check_eps(eps)
        self.law = log_density_law(self.density, n_samples, random_state)
        self.monte_carlo_error = self.law.monte_carlo_error


class RealismIndex(_DensityQuality):
    r"""The one-sided realism index: the mass of the points less likely than ``z``.

    .. math:: P(z) = \mathbb P_{X \sim p}[\, p(X) \le p(z) \,], \qquad
              Q = \epsilon/2 + (1 - \epsilon) P

    ``P`` is 1 at the mode and falls to 0 where ``p`` is small: geodesics keep
    to where the density is high relative to the rest of its mass. It is
    invariant to a rescaling of ``p`` and needs no normalising constant.

    This is the default density quality: the paper's realism index (Struski et
    al., whose first version was titled *Realism Index: Interpolation in
    Generative Models With Arbitrary Prior*), the form to use for
    low-dimensional latents and multi-modal densities.
    In high dimension it does *not* see the soap-bubble effect: for a standard
    Gaussian in ``D = 100`` the midpoint of a linear interpolation between two
    typical codes has ``P = P[chi2_100 >= 50] ~ 1``; use :class:`Typicality`
    there.

    Parameters
    ----------
    density : Density or density model
        Anything :func:`~geomstats_density.densities.as_density` reads.
    eps : float
        Smoothing, in (0, 1).
    n_samples : int
        Samples of ``p`` for the Monte-Carlo law (ignored for a Gaussian, where
        the chi-square law is exact).
    random_state : int, torch.Generator, numpy.random.Generator or None
        Source of those samples (see
        :meth:`~geomstats_density.densities.Density.sample`): the same integer
        gives the same quality, and the same distances, bit for bit.

    Attributes
    ----------
    law : GaussianLogDensityLaw or EmpiricalLogDensityLaw
        The law of ``log p(X)`` (:mod:`geomstats_density.laws`).
    monte_carlo_error : float or None
        DKW bound (95%) on the error of the estimated ``P``; None when exact.
    """

    def __init__(self, density, eps=DEFAULT_EPS, n_samples=4096, random_state=0):
        super().__init__(density, eps, n_samples, random_state)

    def _log_probability_of(self, log_density):
        return self.law.log_cdf(log_density)

    def _log_quality_derivatives(self, log_density):
        closed_form = getattr(self.law, "log_cdf_derivatives", None)
        if closed_form is None:
            return super()._log_quality_derivatives(log_density)
        return smooth_log_probability_derivatives(*closed_form(log_density), self.eps)


class Typicality(_DensityQuality):
    r"""The two-sided typicality of ``log p(z)`` under the law of ``log p(X)``.

    .. math:: P(z) = 2 \min(F(\log p(z)),\ 1 - F(\log p(z))), \qquad
              F(s) = \mathbb P_{X \sim p}[\log p(X) \le s]

    ``P`` is 1 where ``p(z)`` is the median density value and falls to 0 both
    where ``p`` is small (empty space) and where it is atypically large (near
    the mode of a high-dimensional density). It fixes the soap-bubble effect:
    for a standard Gaussian in dimension ``D`` the mass lies near the sphere of
    radius ``sqrt(D)``, the typicality is high there and tiny at the norm
    ``sqrt(D/2)`` of a linear interpolation's midpoint, so geodesics keep the
    norm near ``sqrt(D)``. In low dimension it wrongly penalises the mode
    (a 2-D Gaussian's mode is a realistic point): use :class:`RealismIndex`.

    Parameters
    ----------
    density, eps, n_samples, random_state
        As in :class:`RealismIndex`.
    form : {'smooth', 'min'}
        ``'min'`` is the formula above. Its maximum is a kink on the level set
        ``F = 1/2``, which is where geodesics run, so second-order solvers lose
        their fast convergence there (the solver smooths the kink, at a cost).
        ``'smooth'`` (default) uses ``P = 4 F (1 - F)`` instead: same zeros,
        same maximum at the same place, tails within a factor 2, and no kink.

    Attributes
    ----------
    law, monte_carlo_error
        As in :class:`RealismIndex`.
    """

    def __init__(self, density, eps=DEFAULT_EPS, n_samples=4096, random_state=0, form="smooth"):
        if form not in ("min", "smooth"):
            raise ValueError(f"form must be 'min' or 'smooth', got {form!r}.")
        super().__init__(density, eps, n_samples, random_state)
        self.form = form

    def _log_probability_of(self, log_density):
        return log_two_sided(self.law.log_cdf(log_density), self.law.log_sf(log_density), self.form)


class DensityRatio(_LogDensityQuality):
    r"""The density relative to its maximum, ``P(z) = p(z) / max p``.

    Parameters
    ----------
    density : Density or density model
        Anything :func:`~geomstats_density.densities.as_density` reads.
    eps : float
        Smoothing, in (0, 1).
    log_max : float, optional
        ``log max p``; by default the density's own :meth:`~Density.log_max`
        (exact for a Gaussian, an L-BFGS ascent otherwise). Should the estimate
        fall below the true maximum, ``P`` is capped at 1.
    """

    def __init__(self, density, eps=DEFAULT_EPS, log_max=None):
        self.density = as_density(density)
        self.eps = check_eps(eps)
        self.log_max = float(self.density.log_max() if log_max is None else log_max)

    def _log_probability_of(self, log_density):
        return torch.clamp(log_density - self.log_max, max=0.0)


class Feature(Quality):
    r"""The probability that the generated sample carries a wanted feature.

    .. math:: P(z) = \mathrm{softmax}(\mathrm{classifier}(G(z)))[\mathrm{target}],
              \qquad Q = \epsilon/2 + (1 - \epsilon) P

    Parameters
    ----------
    classifier : callable
        Maps a batch of samples ``[n, ...]`` to logits ``[n, n_classes]``.
        Log-probabilities work too (``log_softmax`` leaves them unchanged).
    target : int
        Index of the wanted class.
    generator : callable, optional
        ``G``: latent points ``[n, dim]`` to samples ``[n, ...]``; the identity
        by default (the classifier then reads latent points).
    eps : float
        Smoothing, in (0, 1).

    Notes
    -----
    Points with several batch axes are flattened to ``[n, dim]`` before ``G``
    and the classifier see them, so ordinary networks work unchanged.
    """

    def __init__(self, classifier, target, generator=None, eps=DEFAULT_EPS):
        if not callable(classifier):
            raise ValueError("classifier must be callable.")
        if generator is not None and not callable(generator):
            raise ValueError("generator must be callable or None.")
        if isinstance(target, bool) or int(target) != target or target < 0:
            raise ValueError(f"target must be a non-negative class index, got {target!r}.")
        self.classifier = classifier
        self.generator = generator
        self.target = int(target)
        self.eps = check_eps(eps)

    def logits(self, flat):
        """The classifier's logits of the generated samples, float64.

        Parameters
        ----------
        flat : torch.Tensor, shape=[n, dim]

        Returns
        -------
        logits : torch.Tensor, shape=[n, n_classes]

        Raises
        ------
        ValueError
            If the classifier returns the wrong shape, or fewer classes than ``target``.
        """
        if self.generator is None:
            samples = flat
        else:
            with user_callable("generator", self.generator):
                samples = self.generator(flat)
        with user_callable("classifier", self.classifier):
            logits = self.classifier(samples)
        if (
            not isinstance(logits, torch.Tensor)
            or logits.ndim != 2
            or logits.shape[0] != flat.shape[0]
        ):
            shape = (
                tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
            )
            raise ValueError(
                f"classifier must return logits of shape [n, n_classes] for n = "
                f"{flat.shape[0]} samples; got {shape}."
            )
        n_classes = logits.shape[1]
        if self.target >= n_classes:
            raise ValueError(
                f"target class {self.target} is out of range: the classifier returns "
                f"{n_classes} classes (indices 0 to {n_classes - 1})."
            )
        return logits.to(DTYPE)

    def _log_probability_of(self, logits):
        """``log P`` from the logits ``[n, n_classes]``, shape ``[n]``."""
        log_probs = torch.log_softmax(logits, dim=-1)[:, self.target]
        if not bool(torch.isfinite(log_probs).all()):
            raise DomainError("The classifier returned NaN or infinite logits.")
        return log_probs

    def log_probability(self, points):
        """``log P(z)``, shape ``[...]`` for points ``[..., dim]``."""
        flat = points.reshape(-1, points.shape[-1])
        return self._log_probability_of(self.logits(flat)).reshape(points.shape[:-1])

    def __call__(self, points):
        """``log Q`` with ``Q = eps / 2 + (1 - eps) P``: the smoothed class probability.

        The smoothing (:func:`smooth_log_probability`) keeps ``log Q`` and its first
        two derivatives finite where the classifier is certain the feature is absent.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        log_quality : torch.Tensor, shape=[...]
        """
        return smooth_log_probability(self.log_probability(points), self.eps)

    def gauss_newton_jet(self, points):
        r"""``log Q``, its gradient and its Hessian with the networks linearised.

        ``log Q = h(l(z))`` with ``l`` the logits of the classifier of the
        generated sample and ``h`` the smoothed log-softmax of the target class,
        whose derivatives are closed forms. The gradient ``J_l^T grad h`` is
        exact; the Hessian ``J_l^T (Hess h) J_l`` drops
        ``sum_k dh/dl_k Hess l_k``, which is zero wherever the networks are
        piecewise linear (ReLU, LeakyReLU, max-pooling, linear layers and
        convolutions, batch normalisation in eval mode): there it is the exact
        Hessian. ``J_l`` takes one backward pass per class, where the exact
        Hessian takes ``dim`` second-order products through the networks.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        jet : Jet
        """
        logits, jacobian = self._logits_and_jacobian(points.reshape(-1, points.shape[-1]))
        log_probability = self._log_probability_of(logits)
        probabilities = torch.softmax(logits, dim=-1)
        # d log P / dl = e_target - p and d^2 log P / dl^2 = p p^T - diag(p).
        gradient = -torch.einsum("nk,nkd->nd", probabilities, jacobian) + jacobian[:, self.target]
        averaged = torch.einsum("nk,nkd->nd", probabilities, jacobian)
        curvature = averaged[:, :, None] * averaged[:, None, :] - torch.einsum(
            "nk,nkd,nke->nde", probabilities, jacobian, jacobian
        )
        # The smoothing log Q = s(log P): s' = sigmoid(.), s'' = s' (1 - s').
        value, first, second = smooth_log_probability_derivatives(
            log_probability,
            torch.ones_like(log_probability),
            torch.zeros_like(log_probability),
            self.eps,
        )
        outer = gradient[:, :, None] * gradient[:, None, :]
        hessian = second[:, None, None] * outer + first[:, None, None] * curvature
        batch = points.shape[:-1]
        return Jet(
            value.reshape(batch),
            (first[:, None] * gradient).reshape(points.shape),
            hessian.reshape(*points.shape, points.shape[-1]),
        )

    def _logits_and_jacobian(self, flat):
        """Logits ``[n, n_classes]`` and their Jacobian ``[n, n_classes, dim]`` at ``flat``.

        One backward pass per class through the networks' graph, kept between
        them (faster than forward mode per coordinate or a batched backward,
        whose convolutions vmap does not batch well).
        """
        leaf = flat.detach().requires_grad_(True)
        with torch.enable_grad():
            logits = self.logits(leaf)
            seeds = torch.eye(logits.shape[1], dtype=logits.dtype)
            # Logits that do not depend on the points have a zero Jacobian.
            rows = [
                torch.autograd.grad(
                    logits,
                    leaf,
                    grad_outputs=seed.expand_as(logits),
                    retain_graph=True,
                    allow_unused=True,
                )[0]
                if logits.requires_grad
                else None
                for seed in seeds
            ]
        rows = [torch.zeros_like(leaf) if row is None else row for row in rows]
        return logits.detach(), torch.stack(rows, dim=1)


class Closeness(Quality):
    r"""Closeness to a set ``M``: ``Q = 1/2 exp(-K d_M(z))``.

    ``Q = 1/2`` on ``M`` and decays away from it, so the metric is ``log(2)^2``
    times the base metric on ``M`` and larger off it: for large ``K``, geodesics
    run on ``M`` (the paper's Examples 3 and 4).

    Parameters
    ----------
    distance : callable
        ``d_M``: points ``[..., dim]`` to non-negative distances ``[...]``,
        differentiable (a norm should stay differentiable where nodes may land:
        ``torch.linalg.vector_norm`` has a NaN derivative at 0).
    rate : float
        ``K``, positive.
    """

    def __init__(self, distance, rate):
        if not callable(distance):
            raise ValueError("distance must be callable.")
        if not (rate > 0 and math.isfinite(rate)):
            raise ValueError(f"rate (K) must be positive and finite, got {rate}.")
        self.distance = distance
        self.rate = float(rate)

    def __call__(self, points):
        """``log Q = -log 2 - K d_M(z)``.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        log_quality : torch.Tensor, shape=[...]

        Raises
        ------
        ValueError
            If ``d_M`` does not return a tensor of shape ``[...]``.
        DomainError
            If ``d_M`` returns a negative, NaN or infinite value.
        """
        distance = self.distance(points)
        check_scalar_field(distance, points, "distance")
        valid = torch.isfinite(distance) & (distance >= 0)
        if not bool(valid.all()):
            value, point = first_invalid(valid, distance, points)
            raise DomainError(f"distance must be finite and >= 0; got {value} at point {point}.")
        return -math.log(2.0) - self.rate * distance


def fermat_log_factor(log_density, beta=1.0):
    r"""Log-factor of the density-based (Fermat) metric ``g = p(z)^(-2 beta) <., .>``.

    Its geodesics are the limits of the density-based (Fermat) distances between
    samples of ``p``: short where ``p`` is high. Pass it to a conformal metric::

        space.equip_with_metric(ConformalMetric, log_factor=fermat_log_factor(density, beta=1))

    Parameters
    ----------
    log_density : Density or density model
        Anything :func:`~geomstats_density.densities.as_density` reads.
    beta : float
        Positive exponent.

    Returns
    -------
    log_factor : callable
        Points ``[..., dim]`` to ``-2 beta log p(z)`` ``[...]``.
    """
    if not (beta > 0 and math.isfinite(beta)):
        raise ValueError(f"beta must be positive and finite, got {beta}.")
    density = as_density(log_density)

    def log_factor(points):
        return -2.0 * beta * density(points)

    def jet(points):
        return density.jet(points).then(lambda log_density: -2.0 * beta * log_density)

    log_factor.jet = jet
    return log_factor


def constant_quality_message(log_quality, values, points):
    """Whether a quality is settled as varying or constant, and why it seems constant.

    A quality that ignores its input gives a constant factor, whose geodesics
    are those of the base metric, which is rarely what a quality written by
    hand means. It is read from its first evaluation that autograd records:
    values that autograd does not connect to the points, or the same value with
    zero gradient at distinct points and at random points around them.

    Parameters
    ----------
    log_quality : callable
        ``log Q``, called again at random points around ``points``.
    values : torch.Tensor, shape=[...]
        ``log Q`` at the points, with its autograd graph.
    points : torch.Tensor, shape=[..., {dim, [n, n]}]
        Leaves that require grad.

    Returns
    -------
    settled : bool
        False where the points cannot tell (fewer than two distinct ones).
    message : str or None
        The text of a :class:`~geomstats_density.exceptions.ConstantQualityWarning`,
        or None.
    """
    advice = (
        "geodesics are then those of the base metric. For a constant factor use "
        "quality.Constant(q); otherwise compute log Q from the points with torch "
        "operations (no .item(), float() or .detach()). A quality constant on "
        "purpose where it is defined can silence this ConstantQualityWarning."
    )
    if not values.requires_grad:
        return True, (
            "log_quality returned values that do not depend on the points it was "
            "given (no autograd graph leads from them): " + advice
        )
    flat_values = values.detach().reshape(-1)
    flat = points.detach().reshape(flat_values.numel(), -1)
    if flat_values.numel() < 2 or not bool((flat != flat[0]).any()):
        return False, None
    (gradient,) = torch.autograd.grad(values.sum(), points, retain_graph=True, allow_unused=True)
    if gradient is None:
        message = "log_quality does not use the points it is given (autograd finds no path)"
    elif bool((flat_values == flat_values[0]).all()) and not bool(gradient.any()):
        if not _constant_at_probes(log_quality, flat, flat_values[0], points.shape):
            return True, None
        message = (
            f"log_quality is {flat_values[0].item()} with zero gradient at the "
            f"{flat_values.numel()} distinct points of its first evaluation, and the same "
            "at random points around them, as a constant is"
        )
    else:
        return True, None
    return True, message + ": " + advice


def _constant_at_probes(log_quality, flat, value, shape):
    """Whether ``log Q`` is ``value`` at random points around ``flat`` (``[n, n_coords]``).

    A quality flat where it was first evaluated (clamped, say) but not
    constant varies at some of these; probes it refuses say nothing.
    """
    spread = float(flat.std(0).max()) or 1.0
    generator = torch.Generator().manual_seed(0)
    noise = torch.randn(flat.shape, generator=generator, dtype=flat.dtype)
    probes = (flat + spread * noise).reshape(shape)
    try:
        with torch.no_grad():
            probed = log_quality(probes)
    except Exception:  # noqa: BLE001 - a probe outside the quality's domain
        return False
    return isinstance(probed, torch.Tensor) and bool((probed == value).all())
