"""Latent densities fitted to codes: Gaussian mixtures and normalizing flows.

A generator's prior says where codes are drawn, not where the decoder has seen
data: encoded training data (a VAE's posterior means, a GAN inverted on data)
often fill only part of it. Fitting a density to those codes and passing it as
``log_density`` to :class:`~geomstats_density.latent.LatentSpace` (or to a
realism quality of :mod:`geomstats_density.quality`) makes geodesics keep to
where the data are::

    density = fit_gaussian_mixture(codes, n_components=range(1, 11))
    density = fit_flow(codes, n_epochs=200)
    space = LatentSpace(decoder, dim=2, log_density=density)

Both return float64, twice-differentiable :class:`~geomstats_density.densities.Density`
objects that can sample (the Monte-Carlo realism index needs samples).
"""

import copy
import math

import numpy as np
import torch
from tqdm.auto import tqdm

from geomstats_density._validation import random_seed
from geomstats_density.backend import DTYPE, to_numpy
from geomstats_density.densities import GaussianMixture, LogProbDensity
from geomstats_density.threads import torch_threads_for


def check_codes(codes, name="codes"):
    """Validate codes ``[n_codes, dim]``, at least two, finite; return float64 numpy."""
    codes = to_numpy(codes)
    if codes.ndim != 2 or codes.shape[0] < 2:
        raise ValueError(f"{name} must have shape [n_codes >= 2, dim], got {codes.shape}.")
    finite = np.isfinite(codes).all(axis=-1)
    if not finite.all():
        index = int(np.flatnonzero(~finite)[0])
        raise ValueError(
            f"{name} has a NaN or infinite code at row {index}: {codes[index].tolist()}."
        )
    return codes


def fit_gaussian_mixture(
    codes,
    n_components=8,
    covariance_type="full",
    random_state=0,
    progress=True,
    **sklearn_options,
):
    """Fit a Gaussian mixture to codes with scikit-learn, choosing its size by BIC.

    Parameters
    ----------
    codes : array-like, shape=[n_codes, dim]
    n_components : int or iterable of int
        Number of components, or candidates among which the one of lowest
        Bayesian information criterion is kept.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    random_state : int, torch.Generator, numpy.random.Generator or None
        Source of the fits' initialisations: an integer is scikit-learn's
        ``random_state``; a generator gives one drawn from it.
    progress : bool
        Show a progress bar over the candidates.
    **sklearn_options
        More keyword arguments of :class:`sklearn.mixture.GaussianMixture`
        (``n_init``, ``max_iter``, ``reg_covar``, ...).

    Returns
    -------
    density : GaussianMixture
        Its log-density equals the chosen estimator's ``score_samples``.
        Attributes ``estimator`` (the fitted scikit-learn mixture) and
        ``bic`` (dict: candidate size to BIC) are added.
    """
    from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

    codes = check_codes(codes)
    candidates = [n_components] if np.isscalar(n_components) else list(n_components)
    if not candidates or any(int(n) != n or n < 1 for n in candidates):
        raise ValueError(f"n_components must be positive integers, got {n_components!r}.")
    seed = random_seed(random_state)
    fitted, bic = {}, {}
    for n in tqdm(candidates, desc="Gaussian mixtures", unit="fit", disable=not progress):
        estimator = SklearnGaussianMixture(
            n_components=int(n),
            covariance_type=covariance_type,
            random_state=seed,
            **sklearn_options,
        ).fit(codes)
        fitted[int(n)], bic[int(n)] = estimator, float(estimator.bic(codes))
    best = min(bic, key=bic.get)
    density = GaussianMixture.from_sklearn(fitted[best])
    density.estimator, density.bic = fitted[best], bic
    return density


def _affine_flow(flow, mean, scale):
    """The flow's distribution on standardised codes, mapped back to codes."""
    affine = torch.distributions.AffineTransform(mean, scale, event_dim=1)
    return torch.distributions.TransformedDistribution(flow(), [affine])


def _mean_log_prob(distribution, codes, batch_size):
    with torch.no_grad():
        return (
            float(sum(distribution.log_prob(batch).sum() for batch in codes.split(batch_size)))
            / codes.shape[0]
        )


def fit_flow(
    codes,
    transforms=3,
    hidden_features=(64, 64),
    n_epochs=200,
    batch_size=128,
    lr=3e-3,
    validation_fraction=0.1,
    random_state=0,
    progress=True,
):
    """Fit a masked autoregressive flow (zuko) to codes by maximum likelihood.

    The codes are standardised, a ``zuko.flows.MAF`` with smooth (SiLU)
    activations is trained on them by Adam in float64, and the weights of the
    epoch with the best held-out log-likelihood are kept.

    Parameters
    ----------
    codes : array-like, shape=[n_codes, dim]
    transforms : int
        Autoregressive transforms of the flow.
    hidden_features : tuple of int
        Widths of each transform's masked MLP.
    n_epochs : int
    batch_size : int
    lr : float
        Adam learning rate, decayed by a cosine schedule to 0.
    validation_fraction : float
        Share of the codes held out to choose the epoch, in [0, 1); 0 keeps
        the last epoch.
    random_state : int, torch.Generator, numpy.random.Generator or None
        Source of the initialisation, the split and the batches: the same
        integer trains the same flow.
    progress : bool
        Show a progress bar over the epochs.

    Returns
    -------
    density : LogProbDensity
        ``log p`` of codes (twice differentiable: SiLU activations), with
        ``sample``. Attributes ``flow`` (the trained ``zuko`` module, on
        standardised codes) and ``history`` (dict of per-epoch ``train`` and
        ``validation`` mean log-likelihoods) are added.

    Raises
    ------
    ImportError
        If zuko is not installed (``pip install zuko``).
    """
    try:
        import zuko
    except ImportError as error:
        raise ImportError("fit_flow needs zuko: pip install zuko.") from error
    codes = check_codes(codes)
    if not 0 <= validation_fraction < 1:
        raise ValueError(f"validation_fraction must be in [0, 1), got {validation_fraction}.")
    if n_epochs < 1 or batch_size < 1:
        raise ValueError("n_epochs and batch_size must be positive.")
    n_codes, dim = codes.shape
    seed = random_seed(random_state)
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(n_codes, generator=generator)
    n_validation = round(validation_fraction * n_codes)
    tensor = torch.from_numpy(codes)
    validation, train = tensor[order[:n_validation]], tensor[order[n_validation:]]
    mean, scale = train.mean(0), train.std(0).clamp_min(1e-12)

    previous_dtype = torch.get_default_dtype()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        # Initial weights drawn in float64 whatever the caller's default dtype
        # (geomstats' pytorch backend sets float64), so a seed means one flow.
        torch.set_default_dtype(DTYPE)
        try:
            flow = zuko.flows.MAF(
                dim,
                transforms=transforms,
                hidden_features=tuple(hidden_features),
                activation=torch.nn.SiLU,
            )
        finally:
            torch.set_default_dtype(previous_dtype)
    optimizer = torch.optim.Adam(flow.parameters(), lr=lr)
    n_batches = math.ceil(train.shape[0] / batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, n_epochs * n_batches)
    history = {"train": [], "validation": []}
    best_state, best_score = None, -math.inf
    standardised = (train - mean) / scale
    log_scale = float(torch.log(scale).sum())
    with (
        torch_threads_for(batch_size * max(hidden_features, default=1) * transforms),
        tqdm(range(n_epochs), desc="flow", unit="epoch", disable=not progress) as bar,
    ):
        for _ in bar:
            flow.train()
            total = 0.0
            for batch in standardised[torch.randperm(train.shape[0], generator=generator)].split(
                batch_size
            ):
                loss = -flow().log_prob(batch).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
                total -= float(loss.detach()) * batch.shape[0]
            flow.eval()
            # Log-likelihoods of codes, not of standardised codes.
            history["train"].append(total / train.shape[0] - log_scale)
            if n_validation:
                score = _mean_log_prob(_affine_flow(flow, mean, scale), validation, batch_size)
                history["validation"].append(score)
                if score > best_score:
                    best_state, best_score = copy.deepcopy(flow.state_dict()), score
                bar.set_postfix(train=f"{history['train'][-1]:.3f}", validation=f"{score:.3f}")
            else:
                bar.set_postfix(train=f"{history['train'][-1]:.3f}")
    if best_state is not None:
        flow.load_state_dict(best_state)
    flow.requires_grad_(False)
    density = LogProbDensity(_affine_flow(flow, mean, scale), dim=dim)
    density.flow, density.history = flow, history
    return density
