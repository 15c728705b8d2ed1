"""The pix2pixHD generator and multi-scale discriminator (Jeong et al. 2020, 2022)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from solarmaggan.models import (
    SpatialPadding2D,
    build_hd_generator,
    build_multiscale_discriminator,
    load_model,
    set_synchronized_batch_norm,
)
from solarmaggan.models.flops import forward_flops


def small_generator(**kwargs) -> keras.Model:
    """32 x 32, 3 EUV channels, 2 downsamplings (8 x 8 bottleneck), 2 residual blocks."""
    options = dict(input_channels=3, base_filters=4, downsamplings=2, residual_blocks=2, seed=1)
    return build_hd_generator(32, **{**options, **kwargs})


def small_discriminator(**kwargs) -> keras.Model:
    """64 x 64, 2 scales of 3-strided-layer PatchGANs with 4 .. 32 filters."""
    options = dict(input_channels=3, base_filters=4, max_filters=32, seed=2)
    return build_multiscale_discriminator(64, **{**options, **kwargs})


def random_pair(size: int, channels: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    euv = rng.uniform(-1, 1, (2, size, size, channels)).astype("float32")
    magnetogram = rng.uniform(-1, 1, (2, size, size, 1)).astype("float32")
    return euv, magnetogram


def test_generator_layer_table_and_shapes():
    generator = small_generator()
    assert generator.name == "pix2pixhd_generator"
    assert generator.input_shape == (None, 32, 32, 3)
    assert generator.output_shape == (None, 32, 32, 1)
    assert generator.inputs[0].name == "euv"
    expected = {"in_conv": (32, 4), "down1": (16, 8), "down2": (8, 16), "res1_add": (8, 16),
                "res2_add": (8, 16), "up1": (16, 8), "up2": (32, 4), "out_conv": (32, 1)}
    for name, (size, channels) in expected.items():
        assert generator.get_layer(name).output.shape[1:] == (size, size, channels), name
    conv_classes = (keras.layers.Conv2D, keras.layers.Conv2DTranspose)
    convs = {l.name: l for l in generator.layers if isinstance(l, conv_classes)}
    assert {n: c.kernel_size for n, c in convs.items()} == {
        "in_conv": (7, 7), "down1": (3, 3), "down2": (3, 3), "res1_conv1": (3, 3),
        "res1_conv2": (3, 3), "res2_conv1": (3, 3), "res2_conv2": (3, 3), "up1": (3, 3),
        "up2": (3, 3), "out_conv": (7, 7)}
    assert isinstance(convs["up1"], keras.layers.Conv2DTranspose)
    assert [n for n, c in convs.items() if c.use_bias] == ["out_conv"]
    pads = [l for l in generator.layers if isinstance(l, SpatialPadding2D)]
    assert [(l.padding, l.mode) for l in pads] == [(3, "reflect")] + [(1, "reflect")] * 4 + [
        (3, "reflect")]
    assert generator.predict(random_pair(32)[0], verbose=0).shape == (2, 32, 32, 1)


def test_filters_capped_at_max_filters():
    generator = small_generator(max_filters=8, downsamplings=3, residual_blocks=1)
    assert [generator.get_layer(f"down{k}").filters for k in (1, 2, 3)] == [8, 8, 8]
    assert [generator.get_layer(f"up{k}").filters for k in (1, 2, 3)] == [8, 8, 4]


def test_tanh_output_bounded_and_linear_output_unbounded():
    euv = random_pair(32)[0]
    outputs = {}
    for activation in ("tanh", "linear"):
        generator = small_generator(output_activation=activation)
        assert generator.get_layer("magnetogram").get_config()["activation"] == activation
        out_conv = generator.get_layer("out_conv")
        out_conv.kernel.assign(out_conv.kernel * 1000.0)
        outputs[activation] = generator(euv, training=False).numpy()
    assert np.abs(outputs["tanh"]).max() <= 1.0
    assert np.abs(outputs["linear"]).max() > 10.0
    np.testing.assert_allclose(np.tanh(outputs["linear"]), outputs["tanh"], atol=1e-5)


@pytest.mark.parametrize("mode, numpy_mode", [("replicate", "edge"), ("reflect", "reflect"),
                                              ("zero", "constant")])
def test_padding_layer_matches_numpy(mode, numpy_mode):
    x = np.random.default_rng(0).normal(size=(2, 5, 6, 3)).astype("float32")
    padded = SpatialPadding2D(3, mode)(x).numpy()
    np.testing.assert_array_equal(padded, np.pad(x, [(0, 0), (3, 3), (3, 3), (0, 0)], numpy_mode))
    if mode == "replicate":  # the whole top border repeats the first row
        np.testing.assert_array_equal(padded[:, :3, 3:-3], np.repeat(x[:, :1], 3, axis=1))


def test_multiscale_discriminator_structure():
    discriminator = small_discriminator()
    assert discriminator.name == "multiscale_patchgan"
    assert [tuple(s) for s in discriminator.input_shape] == [(None, 64, 64, 3), (None, 64, 64, 1)]
    assert [t.name for t in discriminator.inputs] == ["euv", "magnetogram"]
    outputs = discriminator(list(random_pair(64)), training=False)
    assert len(outputs) == 2
    for scale, features in enumerate(outputs):
        size = 64 // 2**scale
        sides_channels = [(size // 2, 4), (size // 4, 8), (size // 8, 16), (size // 8 - 1, 32),
                          (size // 8 - 2, 1)]
        assert [tuple(f.shape) for f in features] == [(2, n, n, c) for n, c in sides_channels]
        assert all(f.dtype == tf.float32 for f in features)
    assert [outputs[s][-1].shape[1] for s in (0, 1)] == [6, 2]
    assert discriminator.get_layer("s1_downsample").pool_size == (3, 3)
    # Features are taken after each LeakyReLU; the logits come from the 1-channel conv.
    for scale in (0, 1):
        for level in range(1, 5):
            features = discriminator.get_layer(f"s{scale}_c{level}_features")
            assert features.input is discriminator.get_layer(f"s{scale}_c{level}_lrelu").output
        logits = discriminator.get_layer(f"s{scale}_patch").output
        assert discriminator.outputs[5 * scale + 4] is logits


def test_seeded_builds_reproducible_and_scales_initialised_apart():
    first, second = small_discriminator(), small_discriminator()
    assert all(np.array_equal(a, b) for a, b in zip(first.get_weights(), second.get_weights()))
    kernels = [first.get_layer(f"s{scale}_c2").kernel.numpy() for scale in (0, 1)]
    assert not np.array_equal(*kernels)
    generators = small_generator(seed=5), small_generator(seed=5)
    assert all(np.array_equal(a, b) for a, b in zip(*(g.get_weights() for g in generators)))


def test_receptive_field_per_scale_measured_by_gradient():
    """One logit sees 70 x 70 pixels at scale 0 and 141 x 141 at scale 1."""
    discriminator = build_multiscale_discriminator(
        256, base_filters=4, max_filters=8, norm="batch", seed=3
    )
    euv = tf.Variable(np.random.default_rng(0).normal(size=(1, 256, 256, 1)).astype("float32"))
    with tf.GradientTape(persistent=True) as tape:
        outputs = discriminator([euv, tf.zeros((1, 256, 256, 1))], training=False)
        centres = [outputs[0][-1][0, 15, 15, 0], outputs[1][-1][0, 7, 7, 0]]
    for centre, field in zip(centres, (70, 141)):
        gradient = np.abs(tape.gradient(centre, euv).numpy()[0, :, :, 0])
        rows, cols = np.nonzero(gradient.sum(axis=1))[0], np.nonzero(gradient.sum(axis=0))[0]
        assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == (field, field)


def test_layers_flat_for_flops_and_synchronized_batch_norm():
    generator = small_generator(norm="batch")
    discriminator = small_discriminator(norm="batch")
    for model in (generator, discriminator):
        assert not any(isinstance(l, keras.Model) for l in model.layers)
    # Generator FLOPs from the table: 2 x kernel x output pixels (input pixels for ConvT).
    kernels = [(7, 3, 4, 32), (3, 4, 8, 16), (3, 8, 16, 8)] + [(3, 16, 16, 8)] * 4 + [
        (3, 16, 8, 8), (3, 8, 4, 16), (7, 4, 1, 32)]
    assert forward_flops(generator) == sum(2 * k * k * i * o * s * s for k, i, o, s in kernels)
    assert forward_flops(discriminator) > 0
    assert sum(isinstance(l, keras.layers.Conv2D) for l in discriminator.layers) == 2 * 5
    set_synchronized_batch_norm(discriminator, True)
    norms = [l for l in discriminator.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert len(norms) == 2 * 3 and all(l.synchronized for l in norms)


def test_keras_round_trip_identical_outputs(tmp_path):
    generator = small_generator(padding="replicate")
    discriminator = small_discriminator()
    euv, magnetogram = random_pair(64)
    for model, inputs in ((generator, euv[:, :32, :32]), (discriminator, [euv, magnetogram])):
        path = tmp_path / f"{model.name}.keras"
        model.save(path)
        loaded = load_model(path)
        assert loaded.name == model.name
        expected = tf.nest.flatten(model(inputs, training=False))
        actual = tf.nest.flatten(loaded(inputs, training=False))
        assert len(actual) == len(expected)
        for want, got in zip(expected, actual):
            np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert [tuple(s) for s in loaded.input_shape] == [(None, 64, 64, 3), (None, 64, 64, 1)]


def test_mixed_bfloat16_builds_with_float32_outputs():
    generator = small_generator(precision="mixed_bfloat16")
    discriminator = small_discriminator(precision="mixed_bfloat16")
    assert generator.get_layer("res1_conv1").compute_dtype == "bfloat16"
    assert generator.get_layer("res1_pad1").compute_dtype == "bfloat16"
    assert generator.get_layer("out_conv").compute_dtype == "float32"
    assert discriminator.get_layer("s0_c2").compute_dtype == "bfloat16"
    euv, magnetogram = random_pair(64)
    assert generator(euv[:, :32, :32]).dtype == tf.float32
    outputs = tf.nest.flatten(discriminator([euv, magnetogram]))
    assert len(outputs) == 10 and all(o.dtype == tf.float32 for o in outputs)


G, D = build_hd_generator, build_multiscale_discriminator


@pytest.mark.parametrize(
    "build, kwargs, message",
    [
        (G, {"image_size": 36, "downsamplings": 3}, r"divisible by 2\*\*downsamplings = 8"),
        (G, {"image_size": 16, "downsamplings": 4}, "bottleneck of at least 2 x 2"),
        (G, {"image_size": 32, "padding": "mirror"}, "padding must be one of"),
        (G, {"image_size": 32, "output_activation": "sigmoid"}, "output_activation must be"),
        (G, {"image_size": 32, "norm": "layer"}, "norm must be one of"),
        (G, {"image_size": 32, "precision": "float16"}, "precision must be one of"),
        (G, {"image_size": 32, "input_channels": 0}, "input_channels must be an integer >= 1"),
        (G, {"image_size": 32, "residual_blocks": -1}, "residual_blocks must be an integer >= 0"),
        (D, {"image_size": 32}, "coarsest scale sees 16 x 16 pixels"),
        (D, {"image_size": 96}, "power of two"),
        (D, {"image_size": 64, "scales": 0}, "scales must be an integer >= 1"),
        (D, {"image_size": 64, "norm": "group"}, "norm must be one of"),
        (SpatialPadding2D, {"padding": 1, "mode": "symmetric"}, "padding mode must be one of"),
        (SpatialPadding2D, {"padding": -1}, "padding must be an integer >= 0"),
    ],
)
def test_bad_arguments_raise_clear_errors(build, kwargs, message):
    with pytest.raises(ValueError, match=message):
        build(**kwargs)
