"""Shared test fixtures: small, shallow networks so the suite runs fast on 2 CPU cores."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import solarmaggan  # noqa: E402,F401  (selects the TensorFlow backend before keras loads)
import keras  # noqa: E402

from solarmaggan.models import Pix2Pix, build_discriminator, build_generator  # noqa: E402

SMALL_SIZE = 32


def small_pix2pix(precision: str = "float32", image_size: int = SMALL_SIZE, **kwargs) -> Pix2Pix:
    """A shallow Pix2Pix (3 U-Net levels, few filters) for CPU tests."""
    generator = build_generator(
        image_size, depth=3, base_filters=16, max_filters=64, precision=precision, seed=1
    )
    discriminator = build_discriminator(
        image_size, base_filters=8, max_filters=32, precision=precision, seed=2
    )
    return Pix2Pix(generator, discriminator, **kwargs)


def smooth_pair(image_size: int = SMALL_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """One fixed (euv, magnetogram) pair of smooth patterns, shape (1, size, size, 1), in [-1, 1]."""
    y, x = np.mgrid[0:image_size, 0:image_size] / image_size
    euv = np.sin(6 * x) * np.cos(4 * y)
    magnetogram = 0.8 * np.sin(6 * x + 0.5) * np.cos(4 * y)
    return euv.astype("float32")[None, :, :, None], magnetogram.astype("float32")[None, :, :, None]


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(0)
