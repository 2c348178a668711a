"""The networks of the DCGAN experiment and their shipped weights file.

Two DCGANs in the style of Radford et al. (:class:`Generator`, ReLU and batch
norm with a Tanh output; :class:`Discriminator`, strided convolutions with
LeakyReLU), a feature classifier (:class:`Classifier`, a CNN with ReLU and
max-pooling) and an independent judge (:class:`Judge`, a pixel MLP). Images are
``[..., 1, 28, 28]`` in ``[-1, 1]``; the classifier and the judge return logits
``[..., 10]``. One weights file holds them all (float32 state dicts and the
training facts, read with ``weights_only=True``): :func:`save_networks` writes
it; :func:`load_generator`, :func:`load_classifier` and :func:`load_judge` return
eval-mode modules, :func:`training_info` the facts.
"""

import pathlib

import torch

from geomstats_density.demo.experiments.digits import image_base_size

WEIGHTS_PATH = pathlib.Path(__file__).resolve().parent.parent / "weights" / "mnist_dcgan.pt"
LATENT_DIMS = (2, 100)
N_CLASSES = 10


class _ImageBatchModule(torch.nn.Module):
    """Flattens leading batch axes around ``_forward`` (batch norm wants ``[n, ...]``)."""

    input_ndim = 1

    def forward(self, inputs):
        batch_shape = inputs.shape[: inputs.ndim - self.input_ndim]
        flat = inputs.reshape(-1, *inputs.shape[inputs.ndim - self.input_ndim :])
        output = self._forward(flat)
        return output.reshape(*batch_shape, *output.shape[1:])


class Generator(_ImageBatchModule):
    """DCGAN generator: codes ``[..., latent_dim]`` to images ``[..., 1, size, size]`` in [-1, 1].

    A linear projection and two fractionally-strided convolutions, each but the
    last followed by batch normalisation and ReLU; Tanh on the output.
    """

    input_ndim = 1

    def __init__(self, latent_dim, image_size=28, width=16, hidden=64):
        super().__init__()
        self.base = image_base_size(image_size)
        self.width = width
        self.latent_dim = latent_dim
        self.project = torch.nn.Sequential(
            torch.nn.Linear(latent_dim, hidden, bias=False),
            torch.nn.BatchNorm1d(hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(hidden, 2 * width * self.base * self.base, bias=False),
            torch.nn.BatchNorm1d(2 * width * self.base * self.base),
            torch.nn.ReLU(),
        )
        self.upsample = torch.nn.Sequential(
            torch.nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1, bias=False),
            torch.nn.BatchNorm2d(width),
            torch.nn.ReLU(),
            torch.nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1),
            torch.nn.Tanh(),
        )

    def _forward(self, codes):
        hidden = self.project(codes).reshape(-1, 2 * self.width, self.base, self.base)
        return self.upsample(hidden)


class Discriminator(_ImageBatchModule):
    """DCGAN discriminator: images ``[..., 1, size, size]`` to logits ``[..., 1]`` (real)."""

    input_ndim = 3

    def __init__(self, image_size=28, width=16):
        super().__init__()
        base = image_base_size(image_size)
        self.layers = torch.nn.Sequential(
            torch.nn.Conv2d(1, width, 4, stride=2, padding=1),
            torch.nn.LeakyReLU(0.2),
            torch.nn.Conv2d(width, 2 * width, 4, stride=2, padding=1, bias=False),
            torch.nn.BatchNorm2d(2 * width),
            torch.nn.LeakyReLU(0.2),
            torch.nn.Flatten(),
            torch.nn.Linear(2 * width * base * base, 1),
        )

    def _forward(self, images):
        return self.layers(images)


class Classifier(_ImageBatchModule):
    """Feature classifier, a CNN: images ``[..., 1, size, size]`` to logits ``[..., 10]``.

    Two convolutions, each followed by ReLU and 2 x 2 max-pooling, and a linear layer.
    """

    input_ndim = 3

    def __init__(self, image_size=28, width=8):
        super().__init__()
        base = image_base_size(image_size)
        self.layers = torch.nn.Sequential(
            torch.nn.Conv2d(1, width, 5, padding=2),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(width, 2 * width, 5, padding=2),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
            torch.nn.Flatten(),
            torch.nn.Linear(2 * width * base * base, N_CLASSES),
        )

    def _forward(self, images):
        return self.layers(images)


class Judge(_ImageBatchModule):
    """Independent judge, a pixel MLP: images ``[..., 1, size, size]`` to logits ``[..., 10]``."""

    input_ndim = 3

    def __init__(self, image_size=28, hidden=64):
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Flatten(),
            torch.nn.Linear(image_size * image_size, hidden),
            torch.nn.Tanh(),
            torch.nn.Linear(hidden, N_CLASSES),
        )

    def _forward(self, images):
        return self.layers(images)


def save_networks(networks, path=WEIGHTS_PATH):
    """Write trained networks to ``path`` (float32 state dicts, torch format).

    ``networks`` is the dictionary that
    :func:`~geomstats_density.demo.experiments.dcgan.training.train` returns.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {f"generator_{dim}": net.state_dict() for dim, net in networks["generators"].items()}
    state["classifier"] = networks["classifier"].state_dict()
    state["judge"] = networks["judge"].state_dict()
    state["info"] = networks["info"]
    torch.save(state, path)
    return path


def _load_state(path):
    path = pathlib.Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"No weights at {path}: train them with python -m "
            "geomstats_density.demo.experiments.dcgan --train (or train(path=...))."
        )
    return torch.load(path, weights_only=True)


def _loaded(network, state):
    network.float().load_state_dict(state)
    return network.eval()


def load_generator(latent_dim, path=WEIGHTS_PATH):
    """The trained DCGAN generator with a ``latent_dim``-dimensional latent.

    Parameters
    ----------
    latent_dim : int
        2 or 100 for the shipped weights.
    path : str or pathlib.Path
        Weights file of
        :func:`~geomstats_density.demo.experiments.dcgan.training.train`; the shipped
        one by default.

    Returns
    -------
    generator : Generator
        In eval mode, float32: codes ``[..., latent_dim]`` to images
        ``[..., 1, 28, 28]`` in [-1, 1].
    """
    state = _load_state(path)
    if f"generator_{latent_dim}" not in state:
        raise ValueError(
            f"No DCGAN with latent_dim={latent_dim!r} in {path}: trained ones have "
            f"latent_dim in {state['info']['latent_dims']}."
        )
    size = state["info"]["image_size"]
    return _loaded(Generator(int(latent_dim), size), state[f"generator_{latent_dim}"])


def load_classifier(path=WEIGHTS_PATH):
    """The feature classifier (:class:`Classifier`, a CNN), in eval mode, float32.

    Reads images ``[..., 1, 28, 28]`` in [-1, 1], returns logits ``[..., 10]``.
    """
    state = _load_state(path)
    return _loaded(Classifier(state["info"]["image_size"]), state["classifier"])


def load_judge(path=WEIGHTS_PATH):
    """The independent judge (:class:`Judge`, a pixel MLP), in eval mode, float32.

    Trained on digits disjoint from those of the GANs and the classifier. Reads
    images ``[..., 1, 28, 28]`` in [-1, 1], returns logits ``[..., 10]``.
    """
    state = _load_state(path)
    return _loaded(Judge(state["info"]["image_size"]), state["judge"])


def training_info(path=WEIGHTS_PATH):
    """The facts saved with the weights (accuracies, splits, seconds).

    They are the ``info`` that
    :func:`~geomstats_density.demo.experiments.dcgan.training.train` returns.
    """
    return _load_state(path)["info"]
