"""The pix2pixHD networks of the AISFM 2.0 / 3.0 models (Jeong et al. 2020, 2022).

Global generator (pix2pixHD, as used by Pix2PixCC), at 1024 x 1024 with the defaults
(64 base filters, 4 downsamplings, 9 residual blocks):

===========  ====================================================  ===========================
layers       operation                                             output
===========  ====================================================  ===========================
in_*         pad 3, Conv 7x7 s1 valid, Norm, ReLU                  1024 x 1024 x 64
down1..4     Conv 3x3 s2 same, Norm, ReLU (filters doubling)       512^2 x 128 ... 64^2 x 1024
res1..9      pad 1, Conv 3x3, Norm, ReLU, pad 1, Conv 3x3, Norm,   64 x 64 x 1024
             + input (identity skip)
up1..4       ConvT 3x3 s2 same, Norm, ReLU (filters halving)       128^2 x 512 ... 1024^2 x 64
out_*        pad 3, Conv 7x7 s1 valid                              1024 x 1024 x 1
magnetogram  tanh (or linear)                                      1024 x 1024 x 1
===========  ====================================================  ===========================

With ``upsampling="resize"`` each ConvT of up1..4 becomes a nearest-neighbour 2x upsampling
(``upK_upsample``), pad 1 (``upK_pad``) and a Conv 3x3 s1 valid named ``upK``: the same
parameters, 4 x those layers' multiply-adds, and no stride lattice. A 3x3 stride-2
transposed convolution overlaps unevenly (an output pixel of one parity receives 2 taps
along an axis, the other 1: a checkerboard even with equal weights; Odena et al. 2016);
after a nearest-neighbour upsampling a flat input stays flat whatever the weights.

"pad" is reflection (pix2pixHD's default), replication or zero padding: see
:class:`SpatialPadding2D`. Convolutions followed by a normalisation have no bias (the
normalisation's offset replaces it); the last one has. Strided convolutions use Keras'
"same" padding, which pads the bottom/right edge where PyTorch's ``padding=1`` pads both
edges: the same sizes and receptive fields, the sampling grid shifted by one pixel.

Multi-scale discriminator (pix2pixHD): ``scales`` conditional PatchGANs with the
layers of :func:`solarmaggan.models.build_discriminator`'s (``patchgan_layers``); scale k sees the
(EUV, magnetogram) pair average-pooled k times (3x3, stride 2, "same", padding excluded
from the mean). Each scale returns every intermediate feature map, for the feature
matching loss, and its patch logits.

All layers are top-level layers of one flat functional model (no nested sub-models), so
``solarmaggan.models.flops.forward_flops`` counts every convolution and
``set_synchronized_batch_norm`` reaches every normalisation.
"""

from __future__ import annotations

import keras
from keras import ops

from data_prep.geometry import check_image_size
from data_prep.presets.schema import NORMS, OUTPUT_ACTIVATIONS, PADDINGS, UPSAMPLINGS
from solarmaggan.models.discriminator import patchgan_layers
from solarmaggan.models.layers import (
    check_precision,
    conv_initializer,
    normalization,
    seed_stream,
)


@keras.saving.register_keras_serializable(package="solarmaggan")
class SpatialPadding2D(keras.layers.Layer):
    """Pad height and width of a (batch, height, width, channels) tensor by ``padding``
    pixels on each side.

    ``mode``: "reflect" mirrors about the edge pixel without repeating it (PyTorch's
    ``ReflectionPad2d``, NumPy's "reflect"; needs ``padding`` < height and width);
    "replicate" repeats the edge pixel (``ReplicationPad2d``, NumPy's "edge"); "zero"
    pads with zeros (``ZeroPad2d``, NumPy's "constant").
    """

    def __init__(self, padding: int = 1, mode: str = "reflect", **kwargs):
        super().__init__(**kwargs)
        if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
            raise ValueError(f"padding must be an integer >= 0, got {padding!r}")
        if mode not in PADDINGS:
            raise ValueError(f"padding mode must be one of {PADDINGS}, got {mode!r}")
        self.padding = padding
        self.mode = mode

    def call(self, inputs):
        p = self.padding
        if p == 0:
            return inputs
        if self.mode == "replicate":
            # Concatenating repeated edge rows, then columns (tf.pad's SYMMETRIC mode would
            # mirror p pixels, which equals replication only for p = 1).
            x = inputs
            for axis in (1, 2):
                first = ops.take(x, [0], axis=axis)
                last = ops.take(x, [ops.shape(x)[axis] - 1], axis=axis)
                x = ops.concatenate(
                    [ops.repeat(first, p, axis=axis), x, ops.repeat(last, p, axis=axis)],
                    axis=axis,
                )
            return x
        widths = [[0, 0], [p, p], [p, p], [0, 0]]
        return ops.pad(inputs, widths, mode="reflect" if self.mode == "reflect" else "constant")

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        grow = 2 * self.padding
        return (
            batch,
            None if height is None else height + grow,
            None if width is None else width + grow,
            channels,
        )

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "mode": self.mode}


def _conv(
    filters: int,
    kernel_size: int,
    name: str,
    precision: str,
    seed: int | None,
    *,
    strides: int = 1,
    transpose: bool = False,
    use_bias: bool = False,
) -> keras.layers.Layer:
    """A square Conv2D / Conv2DTranspose with pix2pix's N(0, 0.02) initialiser; "valid"
    at stride 1 (the padding is an explicit layer), "same" at stride 2."""
    options = {
        "kernel_size": kernel_size,
        "kernel_initializer": conv_initializer(seed),
        "padding": "valid" if strides == 1 else "same",
        "strides": strides,
        "use_bias": use_bias,
        "dtype": precision,
    }
    if transpose:
        return keras.layers.Conv2DTranspose(filters, name=name, **options)
    return keras.layers.Conv2D(filters, name=name, **options)


def _check_ints(minimum: int = 1, **values) -> None:
    """Raise ValueError unless every keyword value is an integer >= ``minimum``."""
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{key} must be an integer >= {minimum}, got {value!r}")


def _check_norm(norm: str) -> None:
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")


def build_hd_generator(
    image_size: int,
    input_channels: int = 1,
    output_channels: int = 1,
    base_filters: int = 64,
    max_filters: int = 1024,
    downsamplings: int = 4,
    residual_blocks: int = 9,
    norm: str = "instance",
    padding: str = "reflect",
    output_activation: str = "tanh",
    precision: str = "float32",
    seed: int | None = None,
    upsampling: str = "transpose",
) -> keras.Model:
    """Build the pix2pixHD global generator (Keras functional API), see the module table.

    Args:
        image_size: height = width in pixels; divisible by 2**downsamplings, with a
            bottleneck of at least 2 x 2 pixels (e.g. 1024, or 32 for tests).
        input_channels: EUV channels of the input (1 for AIA 304 A, 3 for Jeong et al. 2022).
        output_channels: magnetogram channels of the output (1: the LOS field).
        base_filters: filters of the first 7x7 convolution (64).
        max_filters: cap on the filters of the downsampling levels (1024: no cap at the
            defaults); level k has min(base_filters * 2**k, max_filters) and the
            upsampling levels mirror them.
        downsamplings: stride-2 levels, each halving the image (4).
        residual_blocks: residual blocks at the bottleneck (9; 0 allowed).
        norm: "instance" (pix2pixHD) or "batch".
        padding: "reflect" (pix2pixHD), "replicate" or "zero", before the 7x7 and the
            residual 3x3 convolutions.
        output_activation: "tanh" (output in [-1, 1]) or "linear" (unbounded).
        precision: Keras dtype policy, "float32", "mixed_float16" or "mixed_bfloat16";
            the last convolution and the activation always compute in float32.
        seed: seed of the weight initialisers (None: random).
        upsampling: "transpose" (pix2pixHD: ConvT 3x3 s2) or "resize" (nearest-neighbour
            2x upsampling, pad 1, Conv 3x3 s1; no checkerboard, see the module docstring).

    Returns:
        ``keras.Model`` "pix2pixhd_generator" mapping input "euv" (batch, size, size,
        input_channels) float32 in [-1, 1] (normalised DN/s) to "magnetogram" (batch,
        size, size, output_channels) float32 (normalised Gauss; in [-1, 1] with tanh).
    """
    _check_ints(
        image_size=image_size,
        input_channels=input_channels,
        output_channels=output_channels,
        base_filters=base_filters,
        max_filters=max_filters,
        downsamplings=downsamplings,
    )
    _check_ints(0, residual_blocks=residual_blocks)
    if image_size % 2**downsamplings or image_size // 2**downsamplings < 2:
        raise ValueError(
            f"image_size must be divisible by 2**downsamplings = {2**downsamplings} with a "
            f"bottleneck of at least 2 x 2 pixels, got image_size {image_size} and "
            f"downsamplings {downsamplings}"
        )
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    if output_activation not in OUTPUT_ACTIVATIONS:
        raise ValueError(
            f"output_activation must be one of {OUTPUT_ACTIVATIONS}, got {output_activation!r}"
        )
    if upsampling not in UPSAMPLINGS:
        raise ValueError(f"upsampling must be one of {UPSAMPLINGS}, got {upsampling!r}")
    check_precision(precision)
    _check_norm(norm)
    seeds = seed_stream(seed)

    def pad(x, width: int, name: str):
        return SpatialPadding2D(width, padding, name=name, dtype=precision)(x)

    def norm_relu(x, block: str, relu: bool = True):
        x = normalization(norm, f"{block}_norm", precision, next(seeds))(x)
        if relu:
            x = keras.layers.ReLU(name=f"{block}_relu", dtype=precision)(x)
        return x

    filters = [min(base_filters * 2**level, max_filters) for level in range(downsamplings + 1)]
    euv = keras.Input((image_size, image_size, input_channels), name="euv")
    x = pad(euv, 3, "in_pad")
    x = norm_relu(_conv(filters[0], 7, "in_conv", precision, next(seeds))(x), "in")

    for level in range(1, downsamplings + 1):
        block = f"down{level}"
        x = _conv(filters[level], 3, block, precision, next(seeds), strides=2)(x)
        x = norm_relu(x, block)

    for index in range(1, residual_blocks + 1):
        block, skip = f"res{index}", x
        for part in (1, 2):
            x = pad(x, 1, f"{block}_pad{part}")
            x = _conv(filters[-1], 3, f"{block}_conv{part}", precision, next(seeds))(x)
            x = norm_relu(x, f"{block}_{part}", relu=part == 1)
        x = keras.layers.Add(name=f"{block}_add", dtype=precision)([skip, x])

    for level in range(1, downsamplings + 1):
        block = f"up{level}"
        n_filters = filters[downsamplings - level]
        if upsampling == "transpose":
            x = _conv(n_filters, 3, block, precision, next(seeds), strides=2, transpose=True)(x)
        else:
            x = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"{block}_upsample",
                                          dtype=precision)(x)
            x = _conv(n_filters, 3, block, precision, next(seeds))(pad(x, 1, f"{block}_pad"))
        x = norm_relu(x, block)

    x = pad(x, 3, "out_pad")
    x = _conv(output_channels, 7, "out_conv", "float32", next(seeds), use_bias=True)(x)
    activation = keras.layers.Activation(output_activation, name="magnetogram", dtype="float32")
    return keras.Model(euv, activation(x), name="pix2pixhd_generator")


def build_multiscale_discriminator(
    image_size: int,
    input_channels: int = 1,
    output_channels: int = 1,
    scales: int = 2,
    base_filters: int = 64,
    max_filters: int = 512,
    strided_layers: int = 3,
    norm: str = "instance",
    precision: str = "float32",
    seed: int | None = None,
) -> keras.Model:
    """Build the pix2pixHD multi-scale conditional PatchGAN (Keras functional API).

    Scale k has the layers of :func:`solarmaggan.models.build_discriminator`'s PatchGAN
    (:func:`solarmaggan.models.discriminator.patchgan_layers`), named with the prefix
    ``s{k}_`` (``s0_c1`` ... ``s0_patch``), applied to the pair average-pooled k times
    (layer ``s{k}_downsample``): c1..c{strided_layers}:
    Conv 4x4 s2 (c1 without norm), then zero-pad 1 + Conv 4x4 s1 valid, each with
    LeakyReLU(0.2); then zero-pad 1 + Conv 4x4 s1 valid -> 1 channel of logits (no sigmoid:
    the loss takes logits). The layers are flat in this model, not nested.

    Receptive field of one logit, in full-resolution pixels: r = 9 * 2**strided_layers - 2
    at scale 0 (70 for 3 strided layers) and (r + 1) * 2**k - 1 at scale k, the k poolings
    included: 70, 141, 283, ... pixels. The coarse scales judge the large-scale structure,
    scale 0 the fine detail. (``receptive_field`` walks every Conv2D of a model in order,
    so it does not apply to this multi-scale model.)

    Args:
        image_size: height = width in pixels; a power of two whose coarsest scale,
            image_size / 2**(scales - 1), is >= 32 and >= 3 * 2**strided_layers (at least
            64 for the defaults; 1024 in the papers).
        input_channels: EUV channels.
        output_channels: magnetogram channels (the generator's output channels).
        scales: number of PatchGANs (pix2pixHD and Pix2PixCC: 2).
        base_filters, max_filters: filters of c1 and the cap (64, 512); each layer doubles.
        strided_layers: stride-2 layers of each PatchGAN (3: 70 x 70 at scale 0).
        norm: "instance" (pix2pixHD) or "batch".
        precision: Keras dtype policy; every output is cast to float32.
        seed: seed of the weight initialisers (None: random).

    Returns:
        ``keras.Model`` "multiscale_patchgan" taking ``[euv, magnetogram]`` (inputs "euv"
        (batch, size, size, input_channels) and "magnetogram" (batch, size, size,
        output_channels), as ``build_discriminator``) and returning a list of ``scales``
        lists, scale 0 (full resolution) first. The list of scale k holds the
        ``strided_layers + 1`` feature maps after each LeakyReLU, c1 first, with shapes
        (batch, size_k / 2**l, ..., filters) for the strided layers l and
        (batch, size_k / 2**strided_layers - 1, ..., filters) for the stride-1 layer, and
        last the patch logits (batch, P_k, P_k, 1), where size_k = size / 2**k and
        P_k = size_k / 2**strided_layers - 2. All float32.
    """
    _check_ints(
        image_size=image_size,
        input_channels=input_channels,
        output_channels=output_channels,
        scales=scales,
        base_filters=base_filters,
        max_filters=max_filters,
        strided_layers=strided_layers,
    )
    check_image_size(image_size)
    coarsest = image_size // 2 ** (scales - 1)
    if coarsest < max(32, 3 * 2**strided_layers):
        raise ValueError(
            f"image_size {image_size} is too small for {scales} scales of PatchGANs with "
            f"{strided_layers} stride-2 layers: the coarsest scale sees {coarsest} x {coarsest} "
            f"pixels, which must be >= 32 and >= 3 * 2**strided_layers "
            f"= {3 * 2**strided_layers} to leave patch logits"
        )
    check_precision(precision)
    _check_norm(norm)
    seeds = seed_stream(seed)

    euv = keras.Input((image_size, image_size, input_channels), name="euv")
    magnetogram = keras.Input((image_size, image_size, output_channels), name="magnetogram")
    pair = keras.layers.Concatenate(name="pair", dtype=precision)([euv, magnetogram])

    outputs = []
    for scale in range(scales):
        if scale:
            pair = keras.layers.AveragePooling2D(
                3, strides=2, padding="same", name=f"s{scale}_downsample", dtype=precision
            )(pair)
        *features, logits = patchgan_layers(
            pair, base_filters, max_filters, strided_layers, norm, precision,
            seed_stream(next(seeds)), prefix=f"s{scale}_")
        # float32 copies for the feature-matching loss; the next layer reads the original
        features = [keras.layers.Identity(name=f"s{scale}_c{level}_features", dtype="float32")(f)
                    for level, f in enumerate(features, start=1)]
        outputs.append([*features, logits])
    return keras.Model([euv, magnetogram], outputs, name="multiscale_patchgan")
