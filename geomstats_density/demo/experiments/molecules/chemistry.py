"""Molecules and SELFIES strings: RDKit's reading, QED, the WEHI compounds, the alphabet.

The WEHI library of 10,000 drug-like screening compounds ships with RDKit
(``rdkit/Data/Pains/test_data/wehi_mols.csv``): :func:`load_wehi_molecules`
reads it as canonical SMILES and their SELFIES strings (every SELFIES string
decodes to a valid molecule); :class:`SelfiesVocabulary` turns SELFIES strings
into token indices and back; :func:`qed` is RDKit's quantitative estimate of
drug-likeness.
"""

import csv
import pathlib

import numpy as np
import selfies
import torch
from rdkit import Chem, RDConfig, RDLogger
from rdkit.Chem import QED
from rdkit.Chem.MolStandardize import rdMolStandardize
from tqdm.auto import tqdm

from geomstats_density.backend import to_numpy

DATA_FILE = pathlib.Path(RDConfig.RDDataDir) / "Pains" / "test_data" / "wehi_mols.csv"
PAD = "[nop]"
MAX_LENGTH = 48


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
