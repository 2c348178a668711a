"""Example 9 on the shipped SELFIES VAE: valid molecules, QED along the curves.

Validity and QED are read by RDKit on the decoded SMILES, outside the code
under test; the normal CDF by scipy.
"""

import math
import pathlib

import numpy as np
import pytest
import torch
from scipy.stats import norm

pytest.importorskip("rdkit")
pytest.importorskip("selfies")

from matplotlib.figure import Figure  # noqa: E402
from rdkit import Chem  # noqa: E402
from rdkit.Chem import QED  # noqa: E402

import geomstats_density.demo.experiments.molecules as molecules  # noqa: E402


def rdkit_molecule(smiles):
    mol = Chem.MolFromSmiles(smiles) if smiles else None
    return mol if mol is not None and mol.GetNumAtoms() > 0 else None


@pytest.fixture(scope="module")
def model():
    return molecules.MoleculeModel.load()


def test_shipped_weights_are_small(model):
    assert molecules.WEIGHTS_FILE.stat().st_size < 400_000
    assert model.latent_dim == molecules.LATENT_DIM


def test_decoded_codes_are_valid_molecules(model):
    codes = model.density.sample(64, random_state=0)
    smiles = model.decode(codes)
    valid = [rdkit_molecule(s) is not None for s in smiles]
    assert np.mean(valid) >= 0.95
    encoded = model.encode([molecules.START_SMILES, molecules.END_SMILES])
    assert all(rdkit_molecule(s) is not None for s in model.decode(encoded))


def test_predicted_qed_tracks_rdkit_on_decoded_molecules(model):
    codes = model.density.sample(200, random_state=1)
    values = np.array([QED.qed(rdkit_molecule(s)) for s in model.decode(codes)])
    with torch.no_grad():
        predicted = model.predict_property(codes).numpy()
    assert np.corrcoef(predicted, values)[0, 1] > 0.4


def test_property_above_is_the_smoothed_normal_cdf():
    quality = molecules.PropertyAbove(lambda z: z.sum(-1), threshold=0.5, error=0.2, eps=0.1)
    points = torch.tensor([[0.1, 0.2], [0.5, 0.3], [-2.0, 0.0]], dtype=torch.float64)
    expected = np.log(0.05 + 0.9 * norm.cdf((np.array([0.3, 0.8, -2.0]) - 0.5) / 0.2))
    np.testing.assert_allclose(quality(points).numpy(), expected, rtol=1e-12)


def test_vocabulary_round_trip_and_bad_input(model):
    string = molecules.smiles_to_selfies("CCO")
    tokens = model.vocabulary.encode([string])
    assert tokens.shape == (1, model.vocabulary.max_length)
    assert model.vocabulary.decode(tokens)[0].replace(molecules.PAD, "") == string
    with pytest.raises(ValueError, match="cannot read"):
        molecules.smiles_to_selfies("C1CC(")
    with pytest.raises(ValueError, match="outside the alphabet"):
        model.vocabulary.encode(["[C][Xe]"])
    with pytest.raises(ValueError, match="more than"):
        model.vocabulary.encode(["[C]" * (model.vocabulary.max_length + 1)])
    with pytest.raises(ValueError, match="error"):
        molecules.PropertyAbove(lambda z: z.sum(-1), threshold=0.5, error=0.0)


def test_geodesic_raises_qed_over_the_segment(tmp_path):
    result = molecules.run(out_dir=tmp_path, progress=False)
    rows = {row["curve"]: row for row in result["table"]}
    assert result["converged"]
    assert rows["geodesic"]["validity"] == rows["linear"]["validity"] == 1.0
    # RDKit's QED of the decoded molecules, not the predictor's.
    assert rows["geodesic"]["mean_QED"] > rows["linear"]["mean_QED"]
    assert rows["geodesic"]["curve_quality"] > rows["linear"]["curve_quality"]
    assert math.isfinite(result["length"])
    assert pathlib.Path(result["figure"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Drawn on a figure of the caller's: one row of 11 molecules per curve, each
    # titled with RDKit's QED of its SMILES.
    figure = Figure()
    assert molecules.plot_molecules(result, figure=figure) is figure
    assert len(figure.axes) == 2 * 11
    smiles = result["molecules"]["geodesic"][0]
    titles = [ax.get_title() for ax in figure.axes[:11]]
    assert titles == [f"QED {QED.qed(rdkit_molecule(s)):.2f}" for s in smiles]
    assert [figure.axes[0].get_ylabel(), figure.axes[11].get_ylabel()] == list(rows)
