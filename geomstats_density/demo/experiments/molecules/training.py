"""Training of the SELFIES VAE on the WEHI compounds, and the density of their codes.

:func:`train_molecule_model` trains the VAE with its property head, refits the
head on the QED of the decoded molecules (:func:`fit_decoded_property`) and fits
a Gaussian mixture to the codes; :func:`load_molecule_model` reads the shipped
model, or trains one when asked or when the weights are missing.
"""

import time

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from geomstats_density.demo.experiments.molecules.chemistry import (
    SelfiesVocabulary,
    load_wehi_molecules,
    qed,
)
from geomstats_density.demo.experiments.molecules.model import (
    LATENT_DIM,
    WEIGHTS_FILE,
    MoleculeModel,
    SelfiesVAE,
    decode_codes,
)
from geomstats_density.fitting import fit_gaussian_mixture


def fit_decoded_property(vae, vocabulary, train_codes, valid_codes, n_steps=1000, progress=True):
    """Refit the property head on the QED of the molecules the codes decode into.

    The quality must say how drug-like the *generated* molecule is, and the
    decoder does not reproduce its input exactly; the head trained with the VAE
    predicts the input's QED. It is refitted here (full-batch Adam) on
    ``(z, QED(decode(z)))``.

    Parameters
    ----------
    vae : SelfiesVAE
    vocabulary : SelfiesVocabulary
    train_codes, valid_codes : torch.Tensor, shape=[n, latent_dim]
        Codes to fit on, and held-out codes to measure the error on.
    n_steps : int
    progress : bool

    Returns
    -------
    rms_error : float
        Root-mean-square error on the held-out codes.
    valid_qed : ndarray
        QED of the molecules decoded from the held-out codes (NaN if invalid).
    """
    train_qed = qed(decode_codes(vae, vocabulary, train_codes), progress=progress)
    valid_qed = qed(decode_codes(vae, vocabulary, valid_codes), progress=progress)
    keep = ~np.isnan(train_qed)
    inputs = train_codes[keep].float()
    targets = torch.as_tensor(train_qed[keep], dtype=torch.float32)
    vae.property_mean.fill_(float(targets.mean()))
    vae.property_std.fill_(float(targets.std()))
    standardized = (targets - vae.property_mean) / vae.property_std
    head = vae.property_head.requires_grad_(True)
    optimizer = torch.optim.Adam(head.parameters(), lr=3e-3)
    for _ in tqdm(range(n_steps), desc="property head", disable=not progress):
        loss = ((vae.standardized_property(inputs) - standardized) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        predicted = vae.predict_property(valid_codes.float()).double().numpy()
    valid = ~np.isnan(valid_qed)
    return float(np.sqrt(np.mean((predicted[valid] - valid_qed[valid]) ** 2))), valid_qed


def _vae_loss(model, tokens, targets, kl_weight, property_weight):
    """Reconstruction cross-entropy + KL + property error, averaged over the batch."""
    mean, log_var = model.encode(tokens)
    codes = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
    logits = model.decode_logits(codes)
    reconstruction = (
        nn.functional.cross_entropy(logits.transpose(1, 2), tokens, reduction="sum")
        / tokens.shape[0]
    )
    kl = 0.5 * (mean**2 + torch.exp(log_var) - 1 - log_var).sum(-1).mean()
    property_error = ((model.standardized_property(codes) - targets) ** 2).mean()
    loss = reconstruction + kl_weight * kl + property_weight * property_error
    return loss, reconstruction, kl, property_error


def _rounded_to_float16(vae):
    """The VAE with its weights rounded as :meth:`MoleculeModel.save` stores them."""
    state = {name: value.half().float() for name, value in vae.state_dict().items()}
    vae.load_state_dict(state)
    return vae


def train_molecule_model(
    n_epochs=40,
    latent_dim=LATENT_DIM,
    channels=64,
    batch_size=128,
    learning_rate=2e-3,
    kl_warmup=10,
    property_weight=10.0,
    validation_share=0.1,
    seed=0,
    n_threads=1,
    progress=True,
):
    """Train the SELFIES VAE on the WEHI compounds and fit the density of their codes.

    Parameters
    ----------
    n_epochs : int
    latent_dim, channels : int
        See :class:`SelfiesVAE`.
    batch_size : int
    learning_rate : float
        Adam's.
    kl_warmup : int
        Epochs over which the KL weight rises linearly from 0 to 1 (against the
        decoder ignoring the code early on).
    property_weight : float
        Weight of the property head's squared error (standardised QED).
    validation_share : float
        Share of molecules held out for the reported accuracies.
    seed : int
        Seeds the split, the weights and the sampling.
    n_threads : int
        Torch threads while training. One by default: these small convolutions
        gain little from a second thread, and lose many times over when the
        cores are shared.
    progress : bool
        Show progress bars.

    Returns
    -------
    model : MoleculeModel
        Weights rounded to float16 as they are saved, the property head refitted
        on decoded molecules (:func:`fit_decoded_property`); ``model.info``
        holds the training time and the held-out accuracies.
    """
    if not (n_epochs >= 1 and batch_size >= 1 and 0 < validation_share < 1):
        raise ValueError("Need n_epochs >= 1, batch_size >= 1 and validation_share in (0, 1).")
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        return _train_molecule_model(
            n_epochs,
            latent_dim,
            channels,
            batch_size,
            learning_rate,
            kl_warmup,
            property_weight,
            validation_share,
            seed,
            progress,
        )
    finally:
        torch.set_num_threads(previous_threads)


def _train_molecule_model(
    n_epochs,
    latent_dim,
    channels,
    batch_size,
    learning_rate,
    kl_warmup,
    property_weight,
    validation_share,
    seed,
    progress,
):
    clock = time.perf_counter()
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    smiles, strings = load_wehi_molecules()
    vocabulary = SelfiesVocabulary.from_selfies(strings)
    tokens = vocabulary.encode(strings)
    targets = torch.as_tensor(qed(smiles, progress=progress), dtype=torch.float32)
    order = torch.randperm(len(smiles), generator=generator)
    n_valid = int(validation_share * len(smiles))
    valid, train = order[:n_valid], order[n_valid:]

    vae = SelfiesVAE(len(vocabulary), vocabulary.max_length, latent_dim, channels=channels)
    vae.property_mean.fill_(float(targets[train].mean()))
    vae.property_std.fill_(float(targets[train].std()))
    standardized = (targets - vae.property_mean) / vae.property_std
    optimizer = torch.optim.Adam(vae.parameters(), lr=learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, n_epochs)
    with tqdm(range(n_epochs), desc="training the SELFIES VAE", disable=not progress) as bar:
        for epoch in bar:
            vae.train()
            kl_weight = min(1.0, (epoch + 1) / kl_warmup)
            shuffled = train[torch.randperm(train.numel(), generator=generator)]
            for batch in shuffled.split(batch_size):
                loss, reconstruction, kl, property_error = _vae_loss(
                    vae, tokens[batch], standardized[batch], kl_weight, property_weight
                )
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            schedule.step()
            bar.set_postfix(
                reconstruction=f"{reconstruction.item():.1f}",
                kl=f"{kl.item():.1f}",
                property=f"{property_error.item():.2f}",
            )
    vae = _rounded_to_float16(vae.eval())
    with torch.no_grad():
        means, log_vars = vae.encode(tokens)
        samples = means + torch.exp(0.5 * log_vars) * torch.randn(means.shape, generator=generator)
    property_error, valid_qed = fit_decoded_property(
        vae, vocabulary, samples[train], means[valid], progress=progress
    )
    vae = _rounded_to_float16(vae)
    training_seconds = time.perf_counter() - clock

    codes = means.double()
    density = fit_gaussian_mixture(
        codes[train], n_components=(2, 4, 8), random_state=seed, progress=progress
    )
    with torch.no_grad():
        decoded = vae.decode_logits(means[valid]).argmax(-1)
    valid_decoded = ~np.isnan(valid_qed)
    info = {
        "seed": seed,
        "n_epochs": n_epochs,
        "n_molecules": len(smiles),
        "training_seconds": training_seconds,
        "valid_token_accuracy": float((decoded == tokens[valid]).double().mean()),
        "valid_string_accuracy": float((decoded == tokens[valid]).all(-1).double().mean()),
        "valid_decoded_validity": float(valid_decoded.mean()),
        "valid_decoded_qed_quartiles": np.nanpercentile(valid_qed, [25, 50, 75]).tolist(),
        "valid_property_r2": float(1 - property_error**2 / np.nanvar(valid_qed)),
        "density_components": int(density.means.shape[0]),
    }
    model = MoleculeModel(vae, vocabulary, density, property_error, info)
    return model


def load_molecule_model(train=False, progress=True, seed=0):
    """The shipped model, or a freshly trained one (``train=True`` or no weights file).

    A freshly trained model is saved to the weights file.
    """
    if train or not WEIGHTS_FILE.exists():
        model = train_molecule_model(seed=seed, progress=progress)
        model.save(WEIGHTS_FILE)
        return model
    return MoleculeModel.load(WEIGHTS_FILE)
