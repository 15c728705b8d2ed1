"""Networks and the GAN trainer: U-Net generator, PatchGAN discriminator, ``Pix2Pix``.

Importing this module registers the custom layers with Keras, which
``keras.saving.load_model`` needs for ``.keras`` files written by solarmaggan;
:func:`load_model` does both.
"""

import os

from solarmaggan.models.discriminator import build_discriminator, receptive_field
from data_prep.geometry import check_image_size
from solarmaggan.models.generator import build_generator, default_depth
from solarmaggan.models.layers import (
    SolarBatchNormalization,
    SolarDropout,
    set_stochastic_inference,
    set_synchronized_batch_norm,
)
from solarmaggan.models.pix2pix import Pix2Pix, default_optimizer
from solarmaggan.models.pix2pixhd import (
    SpatialPadding2D,
    build_hd_generator,
    build_multiscale_discriminator,
)


def load_model(path: str | os.PathLike):
    """A generator or ``Pix2Pix`` saved as ``.keras`` by solarmaggan (e.g. a run's
    ``best_generator.keras``), with a clear error for a missing or unreadable file."""
    import keras

    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such model file")
    try:
        return keras.saving.load_model(path)
    except (ValueError, TypeError, OSError) as err:
        raise ValueError(f"{path}: not a readable solarmaggan .keras model ({err})") from None


__all__ = [
    "Pix2Pix",
    "SolarBatchNormalization",
    "SolarDropout",
    "SpatialPadding2D",
    "build_discriminator",
    "build_generator",
    "build_hd_generator",
    "build_multiscale_discriminator",
    "check_image_size",
    "default_depth",
    "default_optimizer",
    "load_model",
    "receptive_field",
    "set_stochastic_inference",
    "set_synchronized_batch_norm",
]
