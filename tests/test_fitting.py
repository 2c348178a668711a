"""Densities fitted to codes: scikit-learn mixtures read exactly, flows that normalise."""

import geomstats.backend as gs
import numpy as np
import pytest
import torch
from conftest import as_numpy
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

from geomstats_density.fitting import fit_flow, fit_gaussian_mixture
from geomstats_density.latent import LatentSpace


def two_clusters(n_per_cluster=300, seed=0):
    rng = np.random.default_rng(seed)
    return np.concatenate(
        [
            rng.normal(size=(n_per_cluster, 2)) * [0.4, 0.2] + [2.0, 0.0],
            rng.normal(size=(n_per_cluster, 2)) * [0.2, 0.4] - [2.0, 0.0],
        ]
    )


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_fitted_mixture_matches_sklearn_score_samples(covariance_type):
    codes = two_clusters()
    density = fit_gaussian_mixture(
        codes, n_components=3, covariance_type=covariance_type, random_state=0, progress=False
    )
    reference = SklearnGaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(
        codes
    )
    points = np.random.default_rng(1).normal(size=(50, 2)) * 3
    np.testing.assert_allclose(
        density(torch.from_numpy(points)).numpy(), reference.score_samples(points), rtol=1e-10
    )


def test_mixture_size_is_chosen_by_bic():
    codes = two_clusters()
    density = fit_gaussian_mixture(codes, n_components=range(1, 5), progress=False)
    bic = {n: SklearnGaussianMixture(n, random_state=0).fit(codes).bic(codes) for n in range(1, 5)}
    assert density.means.shape[0] == min(bic, key=bic.get) == 2
    np.testing.assert_allclose([density.bic[n] for n in range(1, 5)], [bic[n] for n in range(1, 5)])


@pytest.fixture(scope="module")
def flow_density():
    return fit_flow(
        two_clusters(), n_epochs=80, batch_size=64, hidden_features=(32, 32), progress=False
    )


def test_flow_is_a_normalised_density_that_beats_one_gaussian(flow_density):
    step = 0.05
    axis = np.arange(-6.0, 6.0, step) + step / 2
    grid = torch.from_numpy(np.stack(np.meshgrid(axis, axis), axis=-1))
    with torch.no_grad():
        mass = float(torch.exp(flow_density(grid)).sum()) * step**2
    assert mass == pytest.approx(1.0, abs=1e-2)
    held_out = two_clusters(seed=2)
    gaussian = SklearnGaussianMixture(1, random_state=0).fit(two_clusters())
    with torch.no_grad():
        flow_score = float(flow_density(torch.from_numpy(held_out)).mean())
    # One Gaussian spreads its mass over the empty gap between the clusters.
    assert flow_score > gaussian.score(held_out) + 0.5


def test_flow_samples_and_is_reproducible(flow_density):
    samples = flow_density.sample(2000, random_state=0)
    assert samples.shape == (2000, 2) and samples.dtype == torch.float64
    # Half the samples in each cluster, as in the data.
    assert float((samples[:, 0] > 0).double().mean()) == pytest.approx(0.5, abs=0.05)
    again = fit_flow(two_clusters(), n_epochs=2, hidden_features=(8,), progress=False)
    twice = fit_flow(two_clusters(), n_epochs=2, hidden_features=(8,), progress=False)
    points = torch.zeros(3, 2, dtype=torch.float64)
    with torch.no_grad():
        np.testing.assert_array_equal(again(points).numpy(), twice(points).numpy())


def test_progress_bars_can_be_turned_off(capsys):
    fit_gaussian_mixture(two_clusters(), n_components=[1, 2], progress=False)
    fit_flow(two_clusters(), n_epochs=1, hidden_features=(8,), progress=False)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
    fit_gaussian_mixture(two_clusters(), n_components=[1, 2], progress=True)
    assert "Gaussian mixtures" in capsys.readouterr().err


def horseshoe(n_codes=600, seed=0):
    """Codes along 270 degrees of the circle of radius 3."""
    rng = np.random.default_rng(seed)
    angles = rng.uniform(-0.75 * np.pi, 0.75 * np.pi, n_codes)
    radii = 3.0 + 0.3 * rng.normal(size=n_codes)
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=-1)


def test_fitted_mixture_as_the_quality_of_a_latent_space():
    """Between two ends of a horseshoe the geodesic keeps to the codes; the chord cuts across."""
    codes = horseshoe()
    density = fit_gaussian_mixture(codes, n_components=8, progress=False)
    space = LatentSpace(
        lambda z: z, 2, log_density=density, solver_options=dict(tol=None, n_nodes=17)
    )
    start, end = 3 * np.array([0.5, -np.sqrt(3) / 2]), 3 * np.array([0.5, np.sqrt(3) / 2])
    path = as_numpy(space.interpolate(gs.array(start), gs.array(end), n_points=21))
    assert path.shape == (21, 2)
    reference = SklearnGaussianMixture(8, random_state=0).fit(codes)
    chord = np.linspace(start, end, 21)
    assert reference.score_samples(path).min() > reference.score_samples(chord).min() + 2.0
    assert np.linalg.norm(path, axis=-1).min() > 2.0  # the chord comes within 1.5 of the centre


def test_bad_codes_raise():
    with pytest.raises(ValueError, match="NaN or infinite code at row 1"):
        fit_gaussian_mixture(np.array([[0.0, 1.0], [np.nan, 0.0], [1.0, 1.0]]), progress=False)
    with pytest.raises(ValueError, match=r"shape \[n_codes >= 2, dim\]"):
        fit_flow(np.zeros(5), progress=False)
    with pytest.raises(ValueError, match="n_components"):
        fit_gaussian_mixture(two_clusters(), n_components=0, progress=False)
