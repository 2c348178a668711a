"""The SELFIES VAE of the molecule experiment and the trained model read from its weights.

:class:`SelfiesVAE` encodes SELFIES token strings into codes and decodes them,
with a head predicting a property (QED) from the code; :class:`MoleculeModel`
adds what the experiment reads from it: the alphabet, the density of the
encoded molecules and the predictor's error, written to and read from an
``.npz`` file of float16 weights (the shipped one, ``weights/selfies_vae.npz``).
"""

import json
import pathlib

import numpy as np
import selfies
import torch
from rdkit import Chem
from torch import nn

from geomstats_density.backend import DTYPE, to_torch
from geomstats_density.demo.experiments.molecules.chemistry import (
    SelfiesVocabulary,
    molecule,
    smiles_to_selfies,
)
from geomstats_density.densities import GaussianMixture

WEIGHTS_FILE = pathlib.Path(__file__).resolve().parent.parent / "weights" / "selfies_vae.npz"
LATENT_DIM = 8


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
