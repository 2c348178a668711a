"""Training of the DCGAN experiment's networks, and its command line.

The digits of :func:`~geomstats_density.demo.experiments.digits.load_digits` are
split once, seeded (:func:`split_digits`): the GANs and the classifier learn
from one part, the judge from a disjoint part, and a third part (the test
digits) is seen by none of them. :func:`train` trains them all (:func:`train_gan`,
:func:`train_classifier`) and saves their weights;
``python -m geomstats_density.demo.experiments.dcgan --train`` runs it
(:func:`main`).
"""

import argparse
import pathlib
import time

import torch
from tqdm.auto import tqdm

from geomstats_density.demo.experiments.dcgan.networks import (
    LATENT_DIMS,
    WEIGHTS_PATH,
    Classifier,
    Discriminator,
    Generator,
    Judge,
    save_networks,
)
from geomstats_density.demo.experiments.digits import load_digits, shuffled_batches
from geomstats_density.threads import torch_threads_for

# Share of the digits held out from every network, and the share the judge learns from.
TEST_FRACTION = 0.1
JUDGE_FRACTION = 0.3


def split_digits(n_digits, seed=0):
    """Disjoint indices of the digits: the GANs' and classifier's, the judge's, the test's.

    Parameters
    ----------
    n_digits : int
    seed : int

    Returns
    -------
    splits : dict of str to torch.Tensor
        ``'train'`` (GANs and classifier), ``'judge'`` and ``'test'`` (seen by
        no network), int64 indices.
    """
    order = torch.randperm(n_digits, generator=torch.Generator().manual_seed(seed))
    n_test = round(TEST_FRACTION * n_digits)
    n_judge = round(JUDGE_FRACTION * n_digits)
    return {
        "test": order[:n_test],
        "judge": order[n_test : n_test + n_judge],
        "train": order[n_test + n_judge :],
    }


def as_generator_images(images):
    """Digits ``[n, size, size]`` in [0, 1] as images ``[n, 1, size, size]`` in [-1, 1]."""
    return (2.0 * images - 1.0).unsqueeze(1)


def _seeded(factory, seed):
    """A float32 network initialised under ``seed`` (whatever the default dtype)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return factory().float()


def train_gan(images, latent_dim, n_epochs=100, batch_size=64, lr=2e-4, seed=0, progress=True):
    """Train a DCGAN (non-saturating loss, Adam with beta1 = 0.5).

    Parameters
    ----------
    images : torch.Tensor, shape=[n, 1, size, size]
        In [-1, 1].
    latent_dim : int
    n_epochs, batch_size : int
    lr : float
    seed : int
    progress : bool

    Returns
    -------
    generator : Generator
        In eval mode.
    """
    size = images.shape[-1]
    generator = _seeded(lambda: Generator(latent_dim, size), seed)
    discriminator = _seeded(lambda: Discriminator(size), seed + 1)
    rng = torch.Generator().manual_seed(seed)
    optimizers = [
        torch.optim.Adam(network.parameters(), lr=lr, betas=(0.5, 0.999))
        for network in (generator, discriminator)
    ]
    loss = torch.nn.functional.binary_cross_entropy_with_logits
    with (
        torch_threads_for(batch_size * images[0].numel()),
        tqdm(
            range(n_epochs), desc=f"DCGAN z{latent_dim}", unit="epoch", disable=not progress
        ) as bar,
    ):
        for _ in bar:
            for index in shuffled_batches(images.shape[0], batch_size, rng):
                real = images[index]
                ones = torch.ones(real.shape[0], 1, dtype=real.dtype)
                zeros = torch.zeros(real.shape[0], 1, dtype=real.dtype)
                codes = torch.randn(real.shape[0], latent_dim, generator=rng, dtype=real.dtype)
                fake = generator(codes)
                d_loss = loss(discriminator(real), ones) + loss(discriminator(fake.detach()), zeros)
                optimizers[1].zero_grad()
                d_loss.backward()
                optimizers[1].step()
                g_loss = loss(discriminator(fake), ones)
                optimizers[0].zero_grad()
                g_loss.backward()
                optimizers[0].step()
            bar.set_postfix(d=f"{d_loss.item():.2f}", g=f"{g_loss.item():.2f}")
    return generator.eval()


def train_classifier(
    network, images, labels, n_epochs=20, batch_size=64, lr=2e-3, seed=0, progress=True
):
    """Train a classifier by cross-entropy with Adam.

    Parameters
    ----------
    network : torch.nn.Module
        Float32, maps images ``[n, 1, size, size]`` to logits ``[n, 10]``.
    images : torch.Tensor, shape=[n, 1, size, size]
    labels : torch.Tensor, shape=[n]
    n_epochs, batch_size : int
    lr : float
    seed : int
    progress : bool

    Returns
    -------
    network : torch.nn.Module
        Trained, in eval mode.
    """
    rng = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(network.parameters(), lr=lr)
    with (
        torch_threads_for(batch_size * images[0].numel()),
        tqdm(
            range(n_epochs), desc=type(network).__name__, unit="epoch", disable=not progress
        ) as bar,
    ):
        for _ in bar:
            for index in shuffled_batches(images.shape[0], batch_size, rng):
                loss = torch.nn.functional.cross_entropy(network(images[index]), labels[index])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
    return network.eval()


def accuracy(network, images, labels):
    """Share of ``images`` whose predicted class is ``labels``."""
    with torch.no_grad():
        return float((network(images).argmax(-1) == labels).double().mean())


def train(
    source="mnist",
    path=WEIGHTS_PATH,
    seed=0,
    latent_dims=LATENT_DIMS,
    gan_epochs=100,
    classifier_epochs=20,
    judge_epochs=40,
    progress=True,
):
    """Train the DCGANs, the classifier and the judge; save their weights.

    Parameters
    ----------
    source : {'mnist', 'sklearn'}
        Digits of :func:`~geomstats_density.demo.experiments.digits.load_digits`.
    path : str or pathlib.Path or None
        Where the weights go (the shipped file by default); None saves nothing.
    seed : int
    latent_dims : tuple of int
        One DCGAN per latent dimension.
    gan_epochs, classifier_epochs, judge_epochs : int
    progress : bool

    Returns
    -------
    networks : dict
        ``generators`` (dict of latent dimension to :class:`Generator`),
        ``classifier``, ``judge`` and ``info`` (seed, sizes, epochs, the
        classifier's and the judge's accuracy on the test digits, their
        agreement there, ``train_seconds``).
    """
    clock = time.perf_counter()
    digits, labels = load_digits(source)
    images = as_generator_images(digits)
    splits = split_digits(images.shape[0], seed)
    train_images, train_labels = images[splits["train"]], labels[splits["train"]]
    size = int(images.shape[-1])
    generators = {
        dim: train_gan(train_images, dim, n_epochs=gan_epochs, seed=seed, progress=progress)
        for dim in latent_dims
    }
    classifier = train_classifier(
        _seeded(lambda: Classifier(size), seed),
        train_images,
        train_labels,
        n_epochs=classifier_epochs,
        seed=seed,
        progress=progress,
    )
    judge = train_classifier(
        _seeded(lambda: Judge(size), seed),
        images[splits["judge"]],
        labels[splits["judge"]],
        n_epochs=judge_epochs,
        seed=seed,
        progress=progress,
    )
    test_images, test_labels = images[splits["test"]], labels[splits["test"]]
    with torch.no_grad():
        agreement = float(
            (classifier(test_images).argmax(-1) == judge(test_images).argmax(-1)).double().mean()
        )
    info = {
        "source": source,
        "seed": seed,
        "image_size": size,
        "latent_dims": list(latent_dims),
        "split_sizes": {name: int(index.shape[0]) for name, index in splits.items()},
        "gan_epochs": gan_epochs,
        "classifier_epochs": classifier_epochs,
        "judge_epochs": judge_epochs,
        "classifier_accuracy": accuracy(classifier, test_images, test_labels),
        "judge_accuracy": accuracy(judge, test_images, test_labels),
        "judge_agreement": agreement,
        "train_seconds": time.perf_counter() - clock,
    }
    networks = {"generators": generators, "classifier": classifier, "judge": judge, "info": info}
    if path is not None:
        save_networks(networks, path)
    return networks


def main(argv=None):
    """Train and save the networks.

    The command line is ``python -m geomstats_density.demo.experiments.dcgan --train``.
    """
    parser = argparse.ArgumentParser(
        prog=f"python -m {__package__}", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--train", action="store_true", help="train the networks, save the weights")
    parser.add_argument("--path", default=str(WEIGHTS_PATH), help="weights file (default: shipped)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    args = parser.parse_args(argv)
    if not args.train:
        parser.error("nothing to do: pass --train")
    networks = train(path=args.path, progress=not args.no_progress)
    for key, value in networks["info"].items():
        print(f"{key}: {value}")
    print(f"Wrote {args.path} ({pathlib.Path(args.path).stat().st_size / 1e6:.2f} MB).")
    return 0
