"""The conditional PatchGAN discriminator of Kim et al. (2019).

It sees the EUV image and a magnetogram (observed or generated) side by side and scores
every 70 x 70 pixel patch as real or fake. Seed table at 1024 x 1024:

==========  ===================================================  ===============
layer       operation                                            output
==========  ===================================================  ===============
c1          Conv 4x4 s2 -> 64, LeakyReLU(0.2) (no norm)          512 x 512 x 64
c2          Conv 4x4 s2 -> 128, Norm, LeakyReLU(0.2)             256 x 256 x 128
c3          Conv 4x4 s2 -> 256, Norm, LeakyReLU(0.2)             128 x 128 x 256
c4          zero-pad 1, Conv 4x4 s1 valid -> 512, Norm, LReLU    127 x 127 x 512
patch       zero-pad 1, Conv 4x4 s1 valid -> 1 (logits)          126 x 126 x 1
==========  ===================================================  ===============

The seed's last layer is a sigmoid; here the network returns logits and the sigmoid is
applied inside a numerically stable binary cross-entropy (``from_logits=True``, see
``solarmaggan.losses``), which is mathematically the seed's Sigmoid + BCE.
"""

from __future__ import annotations

from typing import Iterator

import keras

from data_prep.geometry import check_image_size
from solarmaggan.models.layers import (
    LEAKY_SLOPE,
    check_precision,
    conv_layer,
    normalization,
    seed_stream,
)


def build_discriminator(
    image_size: int = 1024,
    input_channels: int = 1,
    target_channels: int = 1,
    base_filters: int = 64,
    max_filters: int = 512,
    strided_layers: int = 3,
    norm: str = "batch",
    precision: str = "float32",
    seed: int | None = None,
    name: str = "patchgan_discriminator",
) -> keras.Model:
    """Build the conditional PatchGAN (Keras functional API).

    Args:
        image_size: height = width in pixels; a power of two >= 32 (seed: 1024).
        input_channels: EUV channels (seed: 1).
        target_channels: magnetogram channels (seed: 1).
        base_filters, max_filters: filters of c1 and the cap (64, 512); each layer doubles.
        strided_layers: stride-2 layers before the two stride-1 ones (3 gives the seed's
            70 x 70 receptive field).
        norm: "batch" (seed) or "instance".
        precision: Keras dtype policy; the logits layer always computes in float32.
        seed: seed of the weight initialisers (None: random).

    Returns:
        ``keras.Model`` taking ``[euv, magnetogram]``, each (batch, size, size, channels)
        float32 in [-1, 1], and returning patch logits (batch, P, P, 1) float32, with
        P = size / 2**strided_layers - 2 (126 at 1024).
    """
    check_image_size(image_size)
    check_precision(precision)
    if image_size // 2**strided_layers < 3:
        raise ValueError(
            f"image_size {image_size} is too small for {strided_layers} stride-2 layers "
            "followed by two 4x4 valid convolutions"
        )
    euv = keras.Input((image_size, image_size, input_channels), name="euv")
    magnetogram = keras.Input((image_size, image_size, target_channels), name="magnetogram")
    pair = keras.layers.Concatenate(name="pair", dtype=precision)([euv, magnetogram])
    outputs = patchgan_layers(pair, base_filters, max_filters, strided_layers, norm, precision,
                              seed_stream(seed))
    return keras.Model([euv, magnetogram], outputs[-1], name=name)


def patchgan_layers(pair, base_filters: int, max_filters: int, strided_layers: int, norm: str,
                    precision: str, seeds: Iterator[int | None], prefix: str = "") -> list:
    """Apply the PatchGAN's layers (named ``prefix`` + c1, c2, ..., patch) to the
    concatenated (EUV, magnetogram) tensor ``pair``.

    Returns the output of every LeakyReLU (c1 first: the features that pix2pixHD's feature
    matching compares) and, last, the patch logits (float32, no sigmoid).
    """
    x, outputs = pair, []
    for level in range(1, strided_layers + 2):
        block = f"{prefix}c{level}"
        n_filters = min(base_filters * 2 ** (level - 1), max_filters)
        strided = level <= strided_layers
        if not strided:
            x = keras.layers.ZeroPadding2D(1, name=f"{block}_pad", dtype=precision)(x)
        x = conv_layer(
            n_filters,
            block,
            strides=2 if strided else 1,
            padding="same" if strided else "valid",
            use_bias=level == 1,
            precision=precision,
            seed=next(seeds),
        )(x)
        if level > 1:
            x = normalization(norm, f"{block}_norm", precision, next(seeds))(x)
        x = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"{block}_lrelu", dtype=precision)(x)
        outputs.append(x)

    x = keras.layers.ZeroPadding2D(1, name=f"{prefix}patch_pad", dtype=precision)(x)
    logits = conv_layer(
        1, f"{prefix}patch", strides=1, padding="valid", precision="float32", seed=next(seeds)
    )(x)
    return [*outputs, logits]


def receptive_field(model: keras.Model) -> int:
    """Receptive field in input pixels of one output value of a plain conv stack.

    Walks the model's Conv2D layers in order: each adds (kernel - 1) * jump, where jump is
    the product of the strides before it. Padding layers do not change it.
    """
    field, jump = 1, 1
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            field += (layer.kernel_size[0] - 1) * jump
            jump *= layer.strides[0]
    return field
