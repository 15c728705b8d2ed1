"""The U-Net generator against the seed's layer table."""

import keras
import pytest

from solarmaggan.models import SolarBatchNormalization, SolarDropout, build_generator

# Seed table at 1024: (layer, output height, output channels before the skip concatenation).
SEED_ENCODER = [("e1", 512, 64), ("e2", 256, 128), ("e3", 128, 256), ("e4", 64, 512),
                ("e5", 32, 512), ("e6", 16, 512), ("e7", 8, 512), ("e8", 4, 512)]
SEED_DECODER = [("d1", 8, 512), ("d2", 16, 512), ("d3", 32, 512), ("d4", 64, 512),
                ("d5", 128, 256), ("d6", 256, 128), ("d7", 512, 64), ("d8", 1024, 1)]


@pytest.fixture(scope="module")
def seed_generator():
    return build_generator(1024)


def test_seed_layer_table_at_1024(seed_generator):
    layers = {layer.name: layer for layer in seed_generator.layers}
    assert seed_generator.input_shape == (None, 1024, 1024, 1)
    assert seed_generator.output_shape == (None, 1024, 1024, 1)
    for name, size, channels in SEED_ENCODER + SEED_DECODER:
        assert layers[name].output.shape[1:] == (size, size, channels), name
    # Each decoder block but the last is concatenated with the mirrored encoder output.
    for (d_name, size, channels), (_, _, skip_channels) in zip(SEED_DECODER[:-1], SEED_ENCODER[-2::-1]):
        assert layers[f"{d_name}_skip"].output.shape[1:] == (size, size, channels + skip_channels)
    assert seed_generator.get_layer("magnetogram").get_config()["activation"] == "tanh"
    assert [l.name for l in seed_generator.layers if isinstance(l, SolarDropout)] == [
        "d1_dropout", "d2_dropout", "d3_dropout"]
    assert all(l.rate == 0.5 for l in seed_generator.layers if isinstance(l, SolarDropout))


def test_seed_parameter_count_from_the_table(seed_generator):
    """Parameter count computed independently from the seed table: 4x4 kernels, a bias only
    on e1, e8 and d8, and gamma + beta (+ 2 moving statistics) on each normalised layer."""
    expected, channels_in = 0, 1
    for name, _, channels in SEED_ENCODER:
        expected += 16 * channels_in * channels + (channels if name in ("e1", "e8") else 4 * channels)
        channels_in = channels
    skips = [c for _, _, c in SEED_ENCODER[-2::-1]] + [0]
    for (name, _, channels), skip in zip(SEED_DECODER, skips):
        expected += 16 * channels_in * channels + (channels if name == "d8" else 4 * channels)
        channels_in = channels + skip
    assert seed_generator.count_params() == expected


def test_keras_defaults_replaced_by_pix2pix_settings(seed_generator):
    layers = seed_generator.layers
    slopes = [l.negative_slope for l in layers if isinstance(l, keras.layers.LeakyReLU)]
    assert len(slopes) == 7 and slopes == pytest.approx([0.2] * 7)
    norms = [l for l in layers if isinstance(l, SolarBatchNormalization)]
    assert len(norms) == 6 + 7
    for norm in norms:
        assert norm.momentum == pytest.approx(0.9) and norm.epsilon == pytest.approx(1e-5)
        assert norm.gamma_initializer.get_config()["mean"] == 1.0
        assert norm.gamma_initializer.get_config()["stddev"] == pytest.approx(0.02)
    convs = [l for l in layers if isinstance(l, (keras.layers.Conv2D, keras.layers.Conv2DTranspose))]
    assert len(convs) == 16
    for conv in convs:
        assert conv.kernel_size == (4, 4) and conv.strides == (2, 2)
        assert conv.kernel_initializer.get_config()["stddev"] == pytest.approx(0.02)
    assert sorted(c.name for c in convs if c.use_bias) == ["d8", "e1", "e8"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"image_size": 1000}, "power of two"),
        ({"image_size": 16}, "power of two"),
        ({"image_size": 64, "depth": 7}, "depth must be between 2 and 6"),
        ({"image_size": 64, "input_channels": 0}, "input_channels"),
        ({"image_size": 64, "norm": "layer"}, "norm must be one of"),
        ({"image_size": 64, "precision": "float16"}, "precision must be one of"),
    ],
)
def test_bad_settings_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_generator(**kwargs)


def test_instance_norm_and_depth_options():
    generator = build_generator(64, input_channels=3, depth=6, norm="instance")
    assert generator.get_layer("e6").output.shape[1:] == (1, 1, 512)
    assert generator.output_shape == (None, 64, 64, 1)
    assert not any(isinstance(l, SolarBatchNormalization) for l in generator.layers)
    assert any(isinstance(l, keras.layers.GroupNormalization) for l in generator.layers)
