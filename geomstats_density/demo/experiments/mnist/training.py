"""Training of the MNIST experiment's networks on digits shipped with PyPI packages.

:func:`train` trains the VAE (:func:`train_vae`, a Bernoulli likelihood) and
the digit classifier (:func:`train_classifier`), seeded, on the digits of
:func:`~geomstats_density.demo.experiments.digits.load_digits`, and saves their
weights with :func:`~geomstats_density.demo.experiments.mnist.networks.save_models`.
"""

import time

import torch
from tqdm.auto import tqdm

from geomstats_density.demo.experiments.digits import load_digits, shuffled_batches
from geomstats_density.demo.experiments.mnist.networks import (
    WEIGHTS_PATH,
    Classifier,
    Decoder,
    Encoder,
    MNISTModels,
    save_models,
)
from geomstats_density.threads import torch_threads_for


def train_vae(images, n_epochs=60, batch_size=128, lr=2e-3, seed=0, progress=True):
    """Train a VAE with a 2-D latent and a Bernoulli likelihood.

    Parameters
    ----------
    images : torch.Tensor, shape=[n, size, size]
        In [0, 1].
    n_epochs, batch_size : int
    lr : float
        Adam learning rate.
    seed : int
    progress : bool
        Show a progress bar over the epochs (with the loss per image).

    Returns
    -------
    encoder : Encoder
    decoder : Decoder
    """
    image_size = images.shape[-1]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        # float32 whatever the default dtype (geomstats' pytorch backend sets float64).
        encoder, decoder = Encoder(image_size).float(), Decoder(image_size).float()
    generator = torch.Generator().manual_seed(seed)
    parameters = [*encoder.parameters(), *decoder.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=lr)
    with (
        torch_threads_for(batch_size * images[0].numel()),
        tqdm(range(n_epochs), desc="VAE", unit="epoch", disable=not progress) as bar,
    ):
        for _ in bar:
            total = 0.0
            for index in shuffled_batches(images.shape[0], batch_size, generator):
                batch = images[index]
                mean, log_var = encoder(batch)
                noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype)
                codes = mean + torch.exp(0.5 * log_var) * noise
                reconstruction = torch.nn.functional.binary_cross_entropy_with_logits(
                    decoder.logits(codes), batch, reduction="sum"
                )
                kl = 0.5 * (mean**2 + log_var.exp() - 1 - log_var).sum()
                loss = (reconstruction + kl) / batch.shape[0]
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * batch.shape[0]
            bar.set_postfix(loss=f"{total / images.shape[0]:.2f}")
    return encoder.eval(), decoder.eval()


def train_classifier(
    images, labels, n_epochs=30, batch_size=128, lr=2e-3, test_fraction=0.1, seed=0, progress=True
):
    """Train the digit classifier; report its accuracy on held-out digits.

    Parameters
    ----------
    images : torch.Tensor, shape=[n, size, size]
    labels : torch.Tensor, shape=[n]
    n_epochs, batch_size : int
    lr : float
    test_fraction : float
        Share of the digits held out to measure the accuracy.
    seed : int
    progress : bool

    Returns
    -------
    classifier : Classifier
    accuracy : float
        On the held-out digits.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        classifier = Classifier(images.shape[-1]).float()
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(images.shape[0], generator=generator)
    n_test = round(test_fraction * images.shape[0])
    test, train = order[:n_test], order[n_test:]
    optimizer = torch.optim.Adam(classifier.parameters(), lr=lr)
    with (
        torch_threads_for(batch_size * images[0].numel()),
        tqdm(range(n_epochs), desc="classifier", unit="epoch", disable=not progress) as bar,
    ):
        for _ in bar:
            for index in shuffled_batches(train.shape[0], batch_size, generator):
                batch = train[index]
                loss = torch.nn.functional.cross_entropy(classifier(images[batch]), labels[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
    classifier.eval()
    with torch.no_grad():
        accuracy = float((classifier(images[test]).argmax(-1) == labels[test]).double().mean())
    return classifier, accuracy


def train(
    source="mnist", path=WEIGHTS_PATH, seed=0, vae_epochs=60, classifier_epochs=30, progress=True
):
    """Train the VAE and the classifier on shipped digits; save their weights.

    Parameters
    ----------
    source : {'mnist', 'sklearn'}
        Digits of :func:`load_digits`.
    path : str or pathlib.Path or None
        Where the weights go (the shipped file by default); None saves nothing.
    seed : int
    vae_epochs, classifier_epochs : int
    progress : bool
        Show progress bars.

    Returns
    -------
    models : MNISTModels
    """
    clock = time.perf_counter()
    images, labels = load_digits(source)
    encoder, decoder = train_vae(images, n_epochs=vae_epochs, seed=seed, progress=progress)
    classifier, accuracy = train_classifier(
        images, labels, n_epochs=classifier_epochs, seed=seed, progress=progress
    )
    with torch.no_grad():
        codes, _ = encoder(images)
    info = {
        "source": source,
        "seed": seed,
        "image_size": int(images.shape[-1]),
        "vae_epochs": vae_epochs,
        "classifier_epochs": classifier_epochs,
        "classifier_accuracy": accuracy,
        "train_seconds": time.perf_counter() - clock,
    }
    models = MNISTModels(encoder, decoder, classifier, codes, labels, info)
    if path is not None:
        save_models(models, path)
    return models
