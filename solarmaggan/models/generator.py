"""The U-Net generator of Kim et al. (2019): EUV image in, line-of-sight magnetogram out.

Seed table at 1024 x 1024 (depth 8, base 64 filters, at most 512):

======  =======================================  =========================
layer   operation                                output
======  =======================================  =========================
e1      Conv 4x4 s2, LeakyReLU(0.2) (no norm)    512 x 512 x 64
e2..e7  Conv 4x4 s2, Norm, LeakyReLU(0.2)        256^2 x 128 ... 8^2 x 512
e8      Conv 4x4 s2, ReLU (no norm)              4 x 4 x 512
d1..d3  ConvT 4x4 s2, Norm, Dropout(0.5), ReLU   8^2 ... 32^2 x 512, + e7, e6, e5
d4..d7  ConvT 4x4 s2, Norm, ReLU                 64^2 x 512 ... 512^2 x 64, + e4 .. e1
d8      ConvT 4x4 s2, tanh                       1024 x 1024 x 1
======  =======================================  =========================

With ``upsampling="resize"`` each decoder ConvT 4x4 s2 becomes a nearest-neighbour 2x
upsampling (layer ``dK_upsample``) followed by a Conv 4x4 s1 "same" named ``dK``: the same
filters, initialiser, bias rule and parameter count, 3 x the generator's FLOPs (571
instead of 190 GFLOP at 1024; a training step 2.54 instead of 1.40 TFLOP). Why: a ConvT
4x4 s2 is four interleaved 2x2 convolutions, one per output-pixel parity, with independent
weights (each output pixel gets 2 taps per axis, so the overlap itself is even); where
their sums differ, a flat input comes out as a lattice whose period is twice the layer's
output pixel spacing (the last layer: 2 px; the one before: 4 px; ...). The adversarial
loss asks the generator for quiet-Sun texture, and this lattice is what the transposed
decoder supplies: in the demo (quick preset, 256 x 256, 3,000 steps) a 16 px lattice is
30-41 % of the generated quiet-Sun variance over two seeds, with lines at 2, 4 and 8 px
too (``scripts/checkerboard_spectrum.py``, docs/benchmarks.md). After a nearest-neighbour upsampling every output pixel sees the
same kernel, so a flat input stays flat whatever the weights (Odena et al. 2016,
"Deconvolution and checkerboard artifacts"). The default, "transpose", is the seed's
network, and weights saved from it load unchanged.

"+ eK" is a channel concatenation of the decoder output with the encoder output eK (the
U-Net skip), so d1 hands 512 + 512 channels to d2. Only the convolutions not followed by a
normalisation (e1, e8, d8) have a bias, as in the original. Input and output are in
[-1, 1] (normalised DN/s and Gauss; see ``data_prep``), shape (batch, size, size, channels).

The original code (recursive pix2pix-keras) concatenated the encoder features before their
activation and applied the decoder ReLU to the concatenation; the blocks here follow the
seed's layer table (activation inside each block, as in the TensorFlow pix2pix tutorial).
"""

from __future__ import annotations

import keras

from data_prep.geometry import check_image_size
from data_prep.presets.schema import UPSAMPLINGS
from solarmaggan.models.layers import (
    LEAKY_SLOPE,
    SolarDropout,
    check_precision,
    conv_layer,
    normalization,
    seed_stream,
)


def default_depth(image_size: int) -> int:
    """Number of U-Net levels that takes ``image_size`` down to a 4x4 bottleneck (8 at 1024)."""
    return check_image_size(image_size) - 2


def build_generator(
    image_size: int = 1024,
    input_channels: int = 1,
    output_channels: int = 1,
    depth: int | None = None,
    base_filters: int = 64,
    max_filters: int = 512,
    norm: str = "batch",
    dropout_rate: float = 0.5,
    dropout_layers: int = 3,
    stochastic_inference: bool = False,
    precision: str = "float32",
    seed: int | None = None,
    name: str = "unet_generator",
    upsampling: str = "transpose",
) -> keras.Model:
    """Build the pix2pix U-Net generator (Keras functional API).

    Args:
        image_size: height = width in pixels; a power of two >= 32 (seed: 1024).
        input_channels: EUV channels of the input (seed: 1, AIA 304 A).
        output_channels: channels of the output (seed: 1, the LOS field).
        depth: number of stride-2 levels; default down to a 4x4 bottleneck (8 at 1024);
            at most log2(image_size) (a 1x1 bottleneck, as the original code had).
        base_filters, max_filters: filters of e1 and the cap for deeper levels (64, 512);
            level k has min(base_filters * 2**(k-1), max_filters).
        norm: "batch" (seed) or "instance" (no statistics shared across replicas).
        dropout_rate: dropout of the innermost decoder blocks (0.5).
        dropout_layers: how many innermost decoder blocks have dropout (3: d1..d3).
        stochastic_inference: keep dropout and batch statistics active at inference, as
            the original code did (see ``solarmaggan.models.layers``).
        precision: Keras dtype policy, "float32", "mixed_float16" or "mixed_bfloat16". The
            output layers (d8 and tanh) always compute in float32.
        seed: seed of the weight initialisers (None: random).
        upsampling: how the decoder doubles the image: "transpose" (the seed: ConvT 4x4
            s2) or "resize" (nearest-neighbour 2x upsampling, then Conv 4x4 s1 "same";
            no stride lattice, see the module docstring).

    Returns:
        ``keras.Model`` mapping (batch, size, size, input_channels) float32 in [-1, 1] to
        (batch, size, size, output_channels) float32 in [-1, 1]. Layers are named e1..eN,
        d1..dN as in the seed table (with "resize", dK is the Conv after dK_upsample).
    """
    max_depth = check_image_size(image_size)
    depth = default_depth(image_size) if depth is None else depth
    if not 2 <= depth <= max_depth:
        raise ValueError(
            f"depth must be between 2 and {max_depth} for image_size {image_size} "
            f"(each level halves the image: {image_size} reaches 1x1 after {max_depth} "
            f"levels), got {depth}"
        )
    if input_channels < 1 or output_channels < 1:
        raise ValueError(
            "input_channels and output_channels must be >= 1, got "
            f"{input_channels} and {output_channels}"
        )
    if upsampling not in UPSAMPLINGS:
        raise ValueError(f"upsampling must be one of {UPSAMPLINGS}, got {upsampling!r}")
    check_precision(precision)
    seeds = seed_stream(seed)
    filters = [min(base_filters * 2**level, max_filters) for level in range(depth)]

    euv = keras.Input((image_size, image_size, input_channels), name="euv")
    x = euv
    skips = []
    for level, n_filters in enumerate(filters, start=1):
        block = f"e{level}"
        has_norm = 1 < level < depth
        x = conv_layer(
            n_filters, block, use_bias=not has_norm, precision=precision, seed=next(seeds)
        )(x)
        if has_norm:
            x = normalization(
                norm, f"{block}_norm", precision, next(seeds), stochastic_inference
            )(x)
        if level == depth:
            x = keras.layers.ReLU(name=f"{block}_relu", dtype=precision)(x)
        else:
            x = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"{block}_lrelu", dtype=precision)(x)
            skips.append(x)

    for level, skip in enumerate(reversed(skips), start=1):
        block = f"d{level}"
        x = _upsample(x, skip.shape[-1], block, upsampling, False, precision, next(seeds))
        x = normalization(norm, f"{block}_norm", precision, next(seeds), stochastic_inference)(x)
        if level <= dropout_layers and dropout_rate > 0:
            x = SolarDropout(
                dropout_rate,
                stochastic_inference=stochastic_inference,
                seed=next(seeds),
                name=f"{block}_dropout",
                dtype=precision,
            )(x)
        x = keras.layers.ReLU(name=f"{block}_relu", dtype=precision)(x)
        x = keras.layers.Concatenate(name=f"{block}_skip", dtype=precision)([x, skip])

    x = _upsample(x, output_channels, f"d{depth}", upsampling, True, "float32", next(seeds))
    magnetogram = keras.layers.Activation("tanh", name="magnetogram", dtype="float32")(x)
    return keras.Model(euv, magnetogram, name=name)


def _upsample(x, filters: int, block: str, upsampling: str, use_bias: bool, precision: str,
              seed: int | None):
    """Double the image: ConvT 4x4 s2 named ``block`` ("transpose"), or nearest-neighbour
    2x upsampling ``{block}_upsample`` then Conv 4x4 s1 "same" named ``block`` ("resize")."""
    if upsampling == "transpose":
        return conv_layer(filters, block, use_bias=use_bias, transpose=True,
                          precision=precision, seed=seed)(x)
    x = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"{block}_upsample",
                                  dtype=precision)(x)
    return conv_layer(filters, block, strides=1, use_bias=use_bias, precision=precision,
                      seed=seed)(x)
