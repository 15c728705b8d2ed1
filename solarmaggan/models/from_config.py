"""The networks that a configuration's ``data`` and ``model`` sections describe.

``model.architecture`` "unet": the seed's U-Net generator and PatchGAN discriminator;
"pix2pixhd": pix2pixHD's ResNet generator and its multi-scale PatchGAN (AISFM 2.0 / 3.0).
The generator and the discriminator are built separately, so that code that only runs
the generator (evaluation, generation, export) never builds the discriminator.
"""

from __future__ import annotations

from typing import Any

import keras

from solarmaggan.config import model_input_channels
from solarmaggan.models.discriminator import build_discriminator
from solarmaggan.models.generator import build_generator
from solarmaggan.models.pix2pixhd import build_hd_generator, build_multiscale_discriminator


def _common(config: dict[str, Any]) -> dict[str, Any]:
    """Arguments every builder takes: image size, input channels, one output channel,
    precision and normalisation."""
    data = config["data"]
    return {"image_size": int(data["image_size"]),
            "input_channels": len(model_input_channels(config)),
            "precision": config["training"]["precision"], "norm": config["model"]["norm"]}


def generator_from_config(config: dict[str, Any], precision: str | None = None) -> keras.Model:
    """The generator of ``config`` (seeded with ``training.seed``), in ``precision``
    (default: ``training.precision``)."""
    model, seed = config["model"], config["training"]["seed"]
    common = _common(config)
    if precision is not None:
        common["precision"] = precision
    if model["architecture"] == "unet":
        return build_generator(
            **common, output_channels=1, depth=model["depth"],
            base_filters=model["base_filters"], max_filters=model["max_filters"],
            dropout_rate=model["dropout_rate"], upsampling=model["upsampling"],
            stochastic_inference=model["stochastic_inference"], seed=seed,
        )
    return build_hd_generator(
        **common, output_channels=1, base_filters=model["base_filters"],
        max_filters=model["max_filters"], downsamplings=model["downsamplings"],
        residual_blocks=model["residual_blocks"], padding=model["padding"],
        output_activation=model["output_activation"], upsampling=model["upsampling"], seed=seed,
    )


def discriminator_from_config(config: dict[str, Any]) -> keras.Model:
    """The discriminator of ``config`` (seeded with ``training.seed`` + 1)."""
    model, seed = config["model"], config["training"]["seed"]
    options = {"base_filters": model["discriminator_base_filters"],
               "max_filters": model["discriminator_max_filters"],
               "strided_layers": model["discriminator_strided_layers"],
               "seed": None if seed is None else seed + 1}
    if model["architecture"] == "unet":
        return build_discriminator(**_common(config), target_channels=1, **options)
    return build_multiscale_discriminator(**_common(config), output_channels=1,
                                          scales=model["discriminator_scales"], **options)
