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


# A tiny configuration of the `quick` preset (32 x 32, 3 U-Net levels, few filters) for
# tests of the training, evaluation, generation and export workflows.
TINY_SIZE = 32
TINY_OVERRIDES = [
    f"data.image_size={TINY_SIZE}", f"data.radius_px={392 / 1024 * TINY_SIZE}", "model.depth=3",
    "model.base_filters=8", "model.max_filters=16", "model.discriminator_base_filters=8",
    "model.discriminator_max_filters=16", "training.log_every=5", "training.validation_every=10",
    "training.image_every=10", "training.checkpoint_every=10", "training.validation_pairs=4",
    "training.image_pairs=2",
]


def tiny_config(*overrides: str) -> dict:
    from solarmaggan.config import resolve_config

    return resolve_config("quick", TINY_OVERRIDES + list(overrides))


@pytest.fixture(scope="session")
def toy_file(tmp_path_factory):
    """24 toy-Sun pairs at 32 x 32 (18 train, 2 validation, 4 test)."""
    from data_prep.toysun import write_toy_dataset

    return write_toy_dataset(tmp_path_factory.mktemp("toy") / "toy.h5", 24, TINY_SIZE, seed=0)


@pytest.fixture(scope="session")
def tiny_run(toy_file, tmp_path_factory):
    """(run directory, toy file) of a tiny model trained for 10 steps."""
    from solarmaggan.training import train

    run_dir = tmp_path_factory.mktemp("tiny") / "run"
    train(tiny_config("training.steps=10"), toy_file, run_dir, progress=False)
    return run_dir, toy_file


def untrained_run(folder, *overrides: str, seed: int = 0, files=("best_generator.keras",)):
    """A run directory holding an untrained tiny generator (seeded) as ``files`` and its
    config.json: for tests of evaluation, generation and export that need no training.
    Returns (folder, generator)."""
    from solarmaggan.config import save_config
    from solarmaggan.models.from_config import generator_from_config

    config = tiny_config(f"training.seed={seed}", *overrides)
    folder.mkdir(parents=True, exist_ok=True)
    save_config(config, folder / "config.json")
    generator = generator_from_config(config)
    for name in files:
        generator.save(folder / name)
    return folder, generator


def linear_output_run(folder):
    """A run directory with a linear-output pix2pixHD generator (as jeong2022's) whose
    output layer is scaled up so that its output leaves [-1, 1] far behind."""
    folder, generator = untrained_run(
        folder, 'model.architecture="pix2pixhd"', "model.downsamplings=2",
        "model.residual_blocks=1", 'model.norm="instance"', 'model.output_activation="linear"')
    last = [layer for layer in generator.layers if getattr(layer, "kernel", None) is not None][-1]
    last.kernel.assign(last.kernel * 400.0)
    generator.save(folder / "best_generator.keras")
    return folder, generator
