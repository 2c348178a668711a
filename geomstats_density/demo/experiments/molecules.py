"""Example 9: interpolating between molecules while favouring drug-likeness.

The paper's chemical-compounds experiment on data that ships with RDKit: the
10,000 drug-like screening compounds of the WEHI library
(``rdkit/Data/Pains/test_data/wehi_mols.csv``), written as SELFIES strings
(every SELFIES string decodes to a valid molecule) and encoded by a small
variational autoencoder (:class:`SelfiesVAE`: convolutions over the tokens, 8-D
codes, and a head predicting QED from the code, trained with the VAE so the
latent space is ordered by the property, then refitted on the QED of the
molecules the codes decode into, :func:`fit_decoded_property`).

RDKit's QED (quantitative estimate of drug-likeness) is not differentiable, so
the quality reads the property head instead:

``Q = RealismIndex(mixture fitted to the encoded molecules)
* PropertyAbove(predicted QED, threshold)``,

"a realistic code AND a drug-like molecule", where :class:`PropertyAbove` is
the probability that the property exceeds the threshold under the predictor's
Gaussian error. :func:`run` interpolates between two molecules along the
geodesic and along the segment, decodes both, and reports validity and the
QED of the decoded molecules computed by RDKit.

The weights (230 KB, float16) ship in ``weights/selfies_vae.npz``;
:func:`train_molecule_model` retrains them (40 epochs on one torch thread:
measured 25 minutes on two CPU cores shared with other jobs, load about 7;
some 5 minutes on two free cores).
"""

import argparse
import csv
import json
import math
import pathlib
import time

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import nn
from tqdm.auto import tqdm

try:
    import selfies
    from rdkit import Chem, RDConfig, RDLogger
    from rdkit.Chem import QED, Draw
    from rdkit.Chem.MolStandardize import rdMolStandardize
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "The molecule experiment needs RDKit and selfies: "
        "pip install 'geomstats-density[experiments]'."
    ) from error

from geomstats_density.backend import DTYPE, to_numpy, to_torch
from geomstats_density.demo.results import example_result, figure_path
from geomstats_density.densities import GaussianMixture
from geomstats_density.fitting import fit_gaussian_mixture
from geomstats_density.latent import LatentSpace
from geomstats_density.plotting import save_figure
from geomstats_density.quality import DEFAULT_EPS, Quality, RealismIndex, smooth_log_probability
from geomstats_density.reports import curve_report, linear_interpolation, markdown_table

DATA_FILE = pathlib.Path(RDConfig.RDDataDir) / "Pains" / "test_data" / "wehi_mols.csv"
WEIGHTS_FILE = pathlib.Path(__file__).resolve().parent / "weights" / "selfies_vae.npz"
PAD = "[nop]"
MAX_LENGTH = 48
LATENT_DIM = 8
QED_THRESHOLD = 0.5
# Two WEHI compounds, one of five random pairs tried with the shipped weights
# (the geodesic raised the mean RDKit QED of the decoded molecules over the
# segment's in four of the five; this pair shows it most clearly).
START_SMILES = "O=C(O)c1sccc1-n1cccc1"
END_SMILES = "CCSc1nnc(C)c2ccccc12"


# ----------------------------------------------------------------------
# Molecules and SELFIES strings
# ----------------------------------------------------------------------
def molecule(smiles):
    """An RDKit molecule, or None when ``smiles`` is empty or not a valid molecule."""
    if not smiles:
        return None
    return Chem.MolFromSmiles(smiles)


def smiles_to_selfies(smiles):
    """SELFIES string of a molecule given as SMILES (canonicalised by RDKit).

    Raises
    ------
    ValueError
        If RDKit cannot read the SMILES.
    """
    mol = molecule(smiles)
    if mol is None:
        raise ValueError(f"RDKit cannot read the SMILES {smiles!r}.")
    return selfies.encoder(Chem.MolToSmiles(mol))


def qed(smiles_list, progress=False):
    """RDKit's QED of each molecule; NaN where the SMILES is empty or invalid.

    Parameters
    ----------
    smiles_list : list of str
    progress : bool

    Returns
    -------
    qed : ndarray, shape=[n]
    """
    values = np.full(len(smiles_list), np.nan)
    for i, smiles in enumerate(tqdm(smiles_list, desc="QED", disable=not progress)):
        mol = molecule(smiles)
        if mol is not None and mol.GetNumAtoms() > 0:
            values[i] = QED.qed(mol)
    return values


def load_wehi_molecules(max_length=MAX_LENGTH):
    """The WEHI compounds shipped with RDKit whose SELFIES have at most ``max_length`` tokens.

    Salts and mixtures are reduced to their largest fragment.

    Returns
    -------
    smiles : list of str
        Canonical SMILES.
    strings : list of str
        Their SELFIES.
    """
    RDLogger.DisableLog("rdApp.*")
    largest_fragment = rdMolStandardize.LargestFragmentChooser()
    smiles, strings = [], []
    with open(DATA_FILE, newline="") as file:
        for row in csv.reader(file):
            mol = molecule(row[0])
            if mol is None:
                continue
            canonical = Chem.MolToSmiles(largest_fragment.choose(mol))
            string = selfies.encoder(canonical)
            if selfies.len_selfies(string) <= max_length:
                smiles.append(canonical)
                strings.append(string)
    return smiles, strings


class SelfiesVocabulary:
    """SELFIES tokens to indices and back, strings padded to a fixed length.

    Parameters
    ----------
    tokens : list of str
        The alphabet; ``[nop]`` (padding, skipped by the SELFIES decoder) first.
    max_length : int
        Tokens per encoded string.
    """

    def __init__(self, tokens, max_length):
        tokens = list(tokens)
        if not tokens or tokens[0] != PAD:
            raise ValueError(f"The alphabet must start with the padding token {PAD}.")
        self.tokens = tokens
        self.max_length = int(max_length)
        self.index = {token: i for i, token in enumerate(tokens)}

    @classmethod
    def from_selfies(cls, strings, max_length=MAX_LENGTH):
        """The alphabet of ``strings``, sorted, after the padding token."""
        alphabet = sorted(selfies.get_alphabet_from_selfies(strings) - {PAD})
        return cls([PAD, *alphabet], max_length)

    def __len__(self):
        return len(self.tokens)

    def encode(self, strings):
        """Token indices of SELFIES strings, shape ``[n, max_length]``.

        Raises
        ------
        ValueError
            If a string is too long or has a token outside the alphabet.
        """
        rows = np.zeros((len(strings), self.max_length), dtype=np.int64)
        for i, string in enumerate(strings):
            tokens = list(selfies.split_selfies(string))
            if len(tokens) > self.max_length:
                raise ValueError(
                    f"{string!r} has {len(tokens)} tokens, more than {self.max_length}."
                )
            unknown = sorted(set(tokens) - set(self.index))
            if unknown:
                raise ValueError(f"{string!r} has tokens outside the alphabet: {unknown}.")
            rows[i, : len(tokens)] = [self.index[token] for token in tokens]
        return torch.from_numpy(rows)

    def decode(self, indices):
        """SELFIES strings from token indices ``[n, max_length]``."""
        return ["".join(self.tokens[i] for i in row) for row in to_numpy(indices).astype(int)]


# ----------------------------------------------------------------------
# The VAE
# ----------------------------------------------------------------------
class SelfiesVAE(nn.Module):
    """A small convolutional VAE on SELFIES token strings, with a property head.

    Parameters
    ----------
    n_tokens : int
        Size of the alphabet.
    max_length : int
        Tokens per string, a multiple of 4.
    latent_dim : int
    channels : int
        Channels of the convolutions.
    embedding : int
        Size of the token embeddings read by the encoder.
    property_hidden : int
        Width of the property head's two hidden layers.

    Notes
    -----
    The encoder is three 1-D convolutions (two of stride 2) over the token
    embeddings, the decoder their mirror image (upsampling convolutions) from
    the code: no recurrence, so training runs in minutes on a CPU, and the code
    alone decides the string, so nearby codes decode into related molecules.
    The property head uses tanh layers, so the predicted property is smooth in
    the code (the geodesic solver differentiates it twice).
    """

    def __init__(
        self,
        n_tokens,
        max_length,
        latent_dim=LATENT_DIM,
        channels=64,
        embedding=32,
        property_hidden=64,
    ):
        super().__init__()
        if max_length % 4:
            raise ValueError(f"max_length must be a multiple of 4, got {max_length}.")
        self.max_length = max_length
        self.latent_dim = latent_dim
        self.channels = channels
        reduced = max_length // 4
        self.embed = nn.Embedding(n_tokens, embedding)
        self.encoder = nn.Sequential(
            nn.Conv1d(embedding, channels, 5, padding=2),
            nn.SiLU(),
            nn.Conv1d(channels, channels, 5, stride=2, padding=2),
            nn.SiLU(),
            nn.Conv1d(channels, channels, 5, stride=2, padding=2),
            nn.SiLU(),
            nn.Flatten(),
            nn.Linear(channels * reduced, 2 * latent_dim),
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, channels * reduced),
            nn.Unflatten(1, (channels, reduced)),
            nn.SiLU(),
            nn.Upsample(scale_factor=2),
            nn.Conv1d(channels, channels, 5, padding=2),
            nn.SiLU(),
            nn.Upsample(scale_factor=2),
            nn.Conv1d(channels, channels, 5, padding=2),
            nn.SiLU(),
            nn.Conv1d(channels, n_tokens, 1),
        )
        self.property_head = nn.Sequential(
            nn.Linear(latent_dim, property_hidden),
            nn.Tanh(),
            nn.Linear(property_hidden, property_hidden),
            nn.Tanh(),
            nn.Linear(property_hidden, 1),
        )
        # Standardisation of the property, set by training.
        self.register_buffer("property_mean", torch.zeros(()))
        self.register_buffer("property_std", torch.ones(()))

    def encode(self, tokens):
        """Posterior mean and log-variance, each ``[n, latent_dim]``, of tokens ``[n, L]``."""
        return self.encoder(self.embed(tokens).transpose(1, 2)).chunk(2, dim=-1)

    def decode_logits(self, codes):
        """Token logits ``[n, max_length, n_tokens]`` of codes ``[n, latent_dim]``."""
        return self.decoder(codes).transpose(1, 2)

    def standardized_property(self, codes):
        """The property head's output, ``[n]``, in units of the training set's spread."""
        return self.property_head(codes).squeeze(-1)

    def predict_property(self, codes):
        """Predicted property of the molecules of codes ``[..., latent_dim]``, shape ``[...]``."""
        flat = codes.reshape(-1, codes.shape[-1])
        values = self.standardized_property(flat) * self.property_std + self.property_mean
        return values.reshape(codes.shape[:-1])


def decode_codes(vae, vocabulary, codes):
    """Canonical SMILES of the most likely string of each code ``[n, latent_dim]``.

    An empty string where the SELFIES decodes into no molecule.
    """
    with torch.no_grad():
        indices = vae.decode_logits(codes.to(next(vae.parameters()).dtype)).argmax(-1)
    smiles = []
    for string in vocabulary.decode(indices):
        mol = molecule(selfies.decoder(string))
        smiles.append("" if mol is None else Chem.MolToSmiles(mol))
    return smiles


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


# ----------------------------------------------------------------------
# The trained model: VAE, alphabet, density of the codes, predictor's error
# ----------------------------------------------------------------------
class MoleculeModel:
    """A trained :class:`SelfiesVAE` with what the experiment reads from it.

    Parameters
    ----------
    vae : SelfiesVAE
    vocabulary : SelfiesVocabulary
    density : GaussianMixture
        Fitted to the encoded molecules (posterior means).
    property_error : float
        Root-mean-square error of the predicted QED on held-out molecules.
    info : dict
        Training facts (seed, epochs, seconds, accuracies), JSON-serialisable.
    """

    def __init__(self, vae, vocabulary, density, property_error, info):
        self.vae = vae.to(DTYPE).eval().requires_grad_(False)
        self.vocabulary = vocabulary
        self.density = density
        self.property_error = float(property_error)
        self.info = dict(info)
        self.latent_dim = vae.latent_dim

    def encode(self, smiles_list):
        """Posterior means of molecules given as SMILES, ``[n, latent_dim]`` float64."""
        tokens = self.vocabulary.encode([smiles_to_selfies(s) for s in smiles_list])
        with torch.no_grad():
            return self.vae.encode(tokens)[0]

    def token_probabilities(self, codes):
        """Decoder's token probabilities, ``[..., max_length, n_tokens]``: the generator ``G``."""
        flat = to_torch(codes).reshape(-1, self.latent_dim)
        probabilities = torch.softmax(self.vae.decode_logits(flat), dim=-1)
        return probabilities.reshape(*codes.shape[:-1], *probabilities.shape[1:])

    def decode(self, codes):
        """Canonical SMILES of the most likely string of each code ``[n, latent_dim]``."""
        return decode_codes(self.vae, self.vocabulary, to_torch(codes))

    def predict_property(self, codes):
        """Predicted QED, torch ``[..., latent_dim] -> [...]``, differentiable."""
        return self.vae.predict_property(codes)

    def save(self, path=WEIGHTS_FILE):
        """Write the model to an ``.npz`` file: float16 weights, no pickled objects."""
        arrays = {
            f"vae.{name}": value.detach().numpy().astype(np.float16)
            for name, value in self.vae.state_dict().items()
        }
        arrays.update(
            {
                "tokens": np.array(self.vocabulary.tokens),
                "density.weights": np.exp(self.density.log_weights.numpy()),
                "density.means": self.density.means.numpy(),
                "density.precisions_cholesky": self.density.precisions_cholesky.numpy(),
                "info": np.array(
                    json.dumps(
                        {
                            **self.info,
                            "max_length": self.vocabulary.max_length,
                            "latent_dim": self.latent_dim,
                            "channels": self.vae.channels,
                            "property_error": self.property_error,
                        }
                    )
                ),
            }
        )
        pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **arrays)
        return path

    @classmethod
    def load(cls, path=WEIGHTS_FILE):
        """Read a model written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as arrays:
            info = json.loads(str(arrays["info"]))
            vocabulary = SelfiesVocabulary(arrays["tokens"].tolist(), info["max_length"])
            vae = SelfiesVAE(
                len(vocabulary), info["max_length"], info["latent_dim"], channels=info["channels"]
            )
            vae.load_state_dict(
                {
                    name[len("vae.") :]: torch.from_numpy(arrays[name].astype(np.float32))
                    for name in arrays.files
                    if name.startswith("vae.")
                }
            )
            density = GaussianMixture(
                arrays["density.weights"],
                arrays["density.means"],
                precisions_cholesky=arrays["density.precisions_cholesky"],
            )
        return cls(vae, vocabulary, density, info.pop("property_error"), info)


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
        gain little from a second thread, and lose ten times over when the
        cores are shared (measured: 0.17 s against 2 s per batch).
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


# ----------------------------------------------------------------------
# The quality
# ----------------------------------------------------------------------
class PropertyAbove(Quality):
    r"""The probability that a predicted property exceeds a threshold.

    .. math:: P(z) = \Phi\left(\frac{f(z) - \tau}{\sigma}\right), \qquad
              Q = \epsilon/2 + (1 - \epsilon) P

    with ``f`` a property predictor, ``sigma`` its error (the property is
    taken as ``N(f(z), sigma^2)``) and ``Phi`` the standard normal CDF: the
    regression counterpart of :class:`~geomstats_density.quality.Feature`.

    Parameters
    ----------
    predictor : callable
        Torch ``[..., dim] -> [...]``, differentiable twice.
    threshold : float
    error : float
        Positive; e.g. the predictor's held-out root-mean-square error.
    eps : float
        Smoothing, in (0, 1).
    """

    def __init__(self, predictor, threshold, error, eps=DEFAULT_EPS):
        if not callable(predictor):
            raise ValueError("predictor must be callable.")
        if not (error > 0 and math.isfinite(error)):
            raise ValueError(f"error must be positive and finite, got {error}.")
        self.predictor = predictor
        self.threshold = float(threshold)
        self.error = float(error)
        self.eps = eps

    def log_probability(self, points):
        """``log P(z)``, shape ``[...]`` for points ``[..., dim]``."""
        return torch.special.log_ndtr((self.predictor(points) - self.threshold) / self.error)

    def __call__(self, points):
        """``log Q`` with ``Q = eps / 2 + (1 - eps) P``: the smoothed probability.

        The smoothing (:func:`~geomstats_density.quality.smooth_log_probability`)
        keeps ``log Q`` and its first two derivatives finite far below the threshold,
        where ``log P`` tends to ``-inf``.

        Parameters
        ----------
        points : torch.Tensor, shape=[..., dim]

        Returns
        -------
        log_quality : torch.Tensor, shape=[...]
        """
        return smooth_log_probability(self.log_probability(points), self.eps)


def molecule_quality(model, threshold=QED_THRESHOLD, n_samples=4096, random_state=0):
    """``log Q``: realism of the code times the probability that QED exceeds ``threshold``.

    ``n_samples`` and ``random_state`` are those of the realism index's law.
    """
    realism = RealismIndex(model.density, n_samples=n_samples, random_state=random_state)
    return realism * PropertyAbove(model.predict_property, threshold, model.property_error)


# ----------------------------------------------------------------------
# The experiment
# ----------------------------------------------------------------------
def path_molecules(model, curve, n_points):
    """Decoded SMILES and their RDKit QED at ``n_points`` uniform times of a curve."""
    codes = to_numpy(curve(np.linspace(0.0, 1.0, n_points)))
    smiles = model.decode(codes)
    return smiles, qed(smiles), codes


def path_row(model, metric, name, curve, n_points):
    """A :func:`~geomstats_density.reports.curve_report` row with the decoded molecules' numbers."""
    smiles, values, codes = path_molecules(model, curve, n_points)
    valid = ~np.isnan(values)
    with torch.no_grad():
        predicted = model.predict_property(torch.as_tensor(codes)).numpy()
    return {
        **curve_report(metric, curve, name=name),
        "validity": float(valid.mean()),
        "n_unique": len(set(s for s in smiles if s)),
        "mean_QED": float(np.nanmean(values)),
        "min_QED": float(np.nanmin(values)),
        f"share_QED>{QED_THRESHOLD}": float(np.mean(values[valid] > QED_THRESHOLD)),
        "mean_predicted_QED": float(predicted.mean()),
    }


def plot_molecules(result, figure=None):
    """Molecules decoded along each curve of :func:`run`: one row per curve.

    RDKit draws each molecule; its QED (RDKit's) is its title.

    Parameters
    ----------
    result : dict
        As returned by :func:`run`.
    figure : matplotlib Figure or SubFigure, optional
        Where to draw; a new figure by default.

    Returns
    -------
    figure : matplotlib Figure or SubFigure
    """
    paths = result["molecules"]
    n_columns = max(len(smiles) for smiles, _ in paths.values())
    if figure is None:
        figure = Figure(figsize=(1.1 * n_columns, 1.2 * len(paths) + 0.3), layout="constrained")
        FigureCanvasAgg(figure)
    axes = figure.subplots(len(paths), n_columns, squeeze=False)
    for row, (name, (smiles, values)) in zip(axes, paths.items()):
        for ax, string, value in zip(row, smiles, values):
            mol = molecule(string)
            if mol is not None:
                ax.imshow(np.asarray(Draw.MolToImage(mol, size=(220, 180))))
            ax.set_title("invalid" if mol is None else f"QED {value:.2f}", fontsize="small")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
        row[0].set_ylabel(name)
    return figure


def run(out_dir=None, progress=True, train=False, n_points=11, n_eval=65):
    """Interpolate between two molecules favouring QED > 0.5: geodesic against segment.

    Parameters
    ----------
    out_dir : str or pathlib.Path, optional
        Where the PNG of :func:`plot_molecules` goes; None writes nothing.
    progress : bool
        Show progress bars.
    train : bool
        Retrain the VAE (minutes) instead of loading the shipped weights.
    n_points : int
        Molecules drawn per curve.
    n_eval : int
        Codes decoded per curve for the table's numbers.

    Returns
    -------
    result : dict
        As :func:`~geomstats_density.demo.results.example_result` returns;
        ``table`` has one row per curve: its length, energy and quality in the
        metric, then over ``n_eval`` decoded molecules at uniform times: the
        share of valid molecules, the number of distinct ones, RDKit's QED
        (mean, min, share above 0.5) and the predicted QED; ``training`` has
        the model's training facts; ``molecules`` maps each curve's name to the
        SMILES and RDKit QED of its ``n_points`` molecules, for
        :func:`plot_molecules`.
    """
    model = load_molecule_model(train=train, progress=progress)
    quality = molecule_quality(model)
    space = LatentSpace(
        model.token_probabilities,
        model.latent_dim,
        log_quality=quality,
        solver_options=dict(tol=1e-5, progress=progress),
    )
    start, end = to_numpy(model.encode([START_SMILES, END_SMILES]))
    clock = time.perf_counter()
    geodesic = space.metric.geodesic(initial_point=start, end_point=end)
    seconds = time.perf_counter() - clock
    curves = {"geodesic": geodesic, "linear": linear_interpolation(start, end)}
    table = [path_row(model, space.metric, name, curve, n_eval) for name, curve in curves.items()]
    drawn = {name: path_molecules(model, curve, n_points)[:2] for name, curve in curves.items()}
    figure = figure_path(out_dir, "example_9_molecules")
    result = example_result(
        9,
        f"Molecules: favouring QED > {QED_THRESHOLD}",
        geodesic,
        seconds,
        figure=figure,
        table=table,
        training=model.info,
        start=START_SMILES,
        end=END_SMILES,
        molecules=drawn,
    )
    if figure is not None:
        save_figure(plot_molecules(result), figure)
    return result


def main(argv=None):
    """``python -m geomstats_density.demo.experiments.molecules [--train] [--out DIR]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=".", help="directory of the PNG figure")
    parser.add_argument("--train", action="store_true", help="retrain the VAE (minutes)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    args = parser.parse_args(argv)
    result = run(out_dir=args.out, progress=not args.no_progress, train=args.train)
    columns = ["example", "title", "length", "converged", "seconds", "figure", "start", "end"]
    print(markdown_table([result], columns=columns))
    print(markdown_table(result["table"]))
    print(json.dumps(result["training"], indent=1))
    return result


if __name__ == "__main__":
    main()
