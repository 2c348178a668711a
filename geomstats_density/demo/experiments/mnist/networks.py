"""The networks of the MNIST experiment and their shipped weights file.

A small convolutional VAE with a 2-D latent (:class:`Encoder`, :class:`Decoder`,
the generator) and a digit classifier (:class:`Classifier`), all with smooth
activations (SiLU, average pooling): the Newton solver differentiates the
quality twice. :func:`load_models` reads the shipped weights (float32 state
dicts with the codes of the training digits, read with ``weights_only=True``)
into :class:`MNISTModels`; :func:`save_models` writes them.
"""

import dataclasses
import pathlib

import torch

from geomstats_density.demo.experiments.digits import image_base_size

WEIGHTS_PATH = pathlib.Path(__file__).resolve().parent.parent / "weights" / "mnist_vae.pt"
LATENT_DIM = 2


class Encoder(torch.nn.Module):
    """VAE encoder: images ``[n, size, size]`` to posterior means and log-variances ``[n, dim]``."""

    def __init__(self, image_size=28, latent_dim=LATENT_DIM, width=8):
        super().__init__()
        base = image_base_size(image_size)
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(1, width, 4, stride=2, padding=1),
            torch.nn.SiLU(),
            torch.nn.Conv2d(width, 2 * width, 4, stride=2, padding=1),
            torch.nn.SiLU(),
            torch.nn.Flatten(),
        )
        self.head = torch.nn.Linear(2 * width * base * base, 2 * latent_dim)

    def forward(self, images):
        """Posterior means and log-variances of the codes of images.

        Parameters
        ----------
        images : torch.Tensor, shape=[n, size, size]
            Pixel intensities in [0, 1].

        Returns
        -------
        mean, log_var : torch.Tensor, shape=[n, latent_dim]
        """
        mean, log_var = self.head(self.features(images.unsqueeze(1))).chunk(2, dim=-1)
        return mean, log_var


class Decoder(torch.nn.Module):
    """VAE decoder, the generator: codes ``[n, dim]`` to images ``[n, size, size]`` in (0, 1)."""

    def __init__(self, image_size=28, latent_dim=LATENT_DIM, width=8, hidden=64):
        super().__init__()
        self.base = image_base_size(image_size)
        self.width = width
        self.project = torch.nn.Sequential(
            torch.nn.Linear(latent_dim, hidden),
            torch.nn.SiLU(),
            torch.nn.Linear(hidden, 2 * width * self.base * self.base),
            torch.nn.SiLU(),
        )
        self.upsample = torch.nn.Sequential(
            torch.nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1),
            torch.nn.SiLU(),
            torch.nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1),
        )

    def logits(self, codes):
        """Pixel logits ``[n, size, size]`` (the Bernoulli likelihood of training)."""
        hidden = self.project(codes).reshape(-1, 2 * self.width, self.base, self.base)
        return self.upsample(hidden)[:, 0]

    def forward(self, codes):
        """Images of codes: the sigmoid of :meth:`logits`, pixel intensities in (0, 1).

        Parameters
        ----------
        codes : torch.Tensor, shape=[n, latent_dim]

        Returns
        -------
        images : torch.Tensor, shape=[n, size, size]
        """
        return torch.sigmoid(self.logits(codes))


class Classifier(torch.nn.Module):
    """Digit classifier: images ``[n, size, size]`` to logits ``[n, 10]``."""

    def __init__(self, image_size=28, width=8):
        super().__init__()
        base = image_base_size(image_size)
        self.layers = torch.nn.Sequential(
            torch.nn.Conv2d(1, width, 5, padding=2),
            torch.nn.SiLU(),
            torch.nn.AvgPool2d(2),
            torch.nn.Conv2d(width, 2 * width, 5, padding=2),
            torch.nn.SiLU(),
            torch.nn.AvgPool2d(2),
            torch.nn.Flatten(),
            torch.nn.Linear(2 * width * base * base, 10),
        )

    def forward(self, images):
        """Logits of the ten digit classes.

        Parameters
        ----------
        images : torch.Tensor, shape=[n, size, size]
            Pixel intensities in [0, 1].

        Returns
        -------
        logits : torch.Tensor, shape=[n, 10]
        """
        return self.layers(images.unsqueeze(1))


@dataclasses.dataclass
class MNISTModels:
    """The trained networks, the codes of the training digits and training facts.

    Attributes
    ----------
    encoder, decoder, classifier : torch.nn.Module
        In eval mode, float32.
    codes : torch.Tensor, shape=[n, 2]
        Posterior means of the training digits.
    labels : torch.Tensor, shape=[n]
    info : dict
        ``source``, ``seed``, ``image_size``, epochs, ``classifier_accuracy``
        (held-out), ``train_seconds``.
    """

    encoder: torch.nn.Module
    decoder: torch.nn.Module
    classifier: torch.nn.Module
    codes: torch.Tensor
    labels: torch.Tensor
    info: dict


def save_models(models, path=WEIGHTS_PATH):
    """Write the networks' weights, the codes and the facts to ``path`` (torch format)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "encoder": models.encoder.state_dict(),
            "decoder": models.decoder.state_dict(),
            "classifier": models.classifier.state_dict(),
            "codes": models.codes.float(),
            "labels": models.labels.to(torch.uint8),
            "info": models.info,
        },
        path,
    )
    return path


def load_models(path=WEIGHTS_PATH):
    """Read the networks of a weights file (the shipped one by default).

    :func:`~geomstats_density.demo.experiments.mnist.training.train` writes such files.

    Returns
    -------
    models : MNISTModels
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No weights at {path}: train them with train(path=...).")
    saved = torch.load(path, weights_only=True)
    size = saved["info"]["image_size"]
    networks = {"encoder": Encoder(size), "decoder": Decoder(size), "classifier": Classifier(size)}
    for name, network in networks.items():
        network.float().load_state_dict(saved[name])
        network.eval()
    return MNISTModels(
        codes=saved["codes"],
        labels=saved["labels"].long(),
        info=saved["info"],
        **networks,
    )
