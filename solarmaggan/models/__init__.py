"""Networks and the GAN trainer: U-Net generator, PatchGAN discriminator, ``Pix2Pix``."""

from solarmaggan.models.discriminator import build_discriminator, receptive_field
from solarmaggan.models.generator import build_generator, check_image_size, default_depth
from solarmaggan.models.layers import (
    SolarBatchNormalization,
    SolarDropout,
    set_stochastic_inference,
)
from solarmaggan.models.pix2pix import Pix2Pix, default_optimizer

__all__ = [
    "Pix2Pix",
    "SolarBatchNormalization",
    "SolarDropout",
    "build_discriminator",
    "build_generator",
    "check_image_size",
    "default_depth",
    "default_optimizer",
    "receptive_field",
    "set_stochastic_inference",
]
