r"""The feature quality: the probability that a classifier gives a wanted class.

:class:`Feature` reads ``P(z) = softmax(classifier(G(z)))[target]``, the
classifier applied to the generated sample (or to ``z`` itself), smoothed into
a quality. A :class:`~geomstats_density.LatentSpace` built with a classifier
uses it. Its Gauss-Newton jet (:meth:`Feature.gauss_newton_jet`) linearises the
networks, which is exact where they are piecewise linear.
"""

import torch

from geomstats_density._validation import user_callable
from geomstats_density.backend import DTYPE
from geomstats_density.exceptions import DomainError
from geomstats_density.jets import Jet
from geomstats_density.quality.base import (
    DEFAULT_EPS,
    Quality,
    check_eps,
    smooth_log_probability,
    smooth_log_probability_derivatives,
)


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

    def linearised(self, points):
        """``log Q`` with the logits replaced by their tangent map at the points.

        ``h(l(z_0) + J_l(z_0) (z - z_0))`` with ``z_0`` the points' values (no
        graph): at ``z = z_0`` its value and gradient are those of ``log Q``, and
        its Hessian by autodiff is :meth:`gauss_newton_jet`'s ``J_l^T (Hess h)
        J_l``, with no ``dim x dim`` matrix formed. ``J_l`` takes one backward
        pass per class through the networks; products with the Hessian then
        cost a double backward through ``h`` only.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]
            May carry a graph, through which the result is differentiable.

        Returns
        -------
        log_quality : torch.Tensor, shape=[...]
        """
        flat = points.reshape(-1, points.shape[-1])
        base = flat.detach()
        logits, jacobian = self._logits_and_jacobian(base)
        tangent_logits = logits + torch.einsum("nkd,nd->nk", jacobian, flat - base)
        log_probability = self._log_probability_of(tangent_logits)
        return smooth_log_probability(log_probability, self.eps).reshape(points.shape[:-1])

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
