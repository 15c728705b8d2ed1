"""The U-Net generator against the seed's layer table."""

import keras
import numpy as np
import pytest

from solarmaggan.models import (
    SolarBatchNormalization,
    SolarDropout,
    build_generator,
    build_hd_generator,
)

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


# Decoder upsampling (issue 16 item 13): the seed's transposed convolutions, or
# nearest-neighbour resize + convolution, which leaves no stride lattice.

SMALL = {"image_size": 64, "depth": 3, "base_filters": 8, "max_filters": 16, "seed": 1}
SMALL_LAYERS = [
    ("euv", "InputLayer"), ("e1", "Conv2D"), ("e1_lrelu", "LeakyReLU"), ("e2", "Conv2D"),
    ("e2_norm", "SolarBatchNormalization"), ("e2_lrelu", "LeakyReLU"), ("e3", "Conv2D"),
    ("e3_relu", "ReLU"), ("d1", "Conv2DTranspose"), ("d1_norm", "SolarBatchNormalization"),
    ("d1_dropout", "SolarDropout"), ("d1_relu", "ReLU"), ("d1_skip", "Concatenate"),
    ("d2", "Conv2DTranspose"), ("d2_norm", "SolarBatchNormalization"),
    ("d2_dropout", "SolarDropout"), ("d2_relu", "ReLU"), ("d2_skip", "Concatenate"),
    ("d3", "Conv2DTranspose"), ("magnetogram", "Activation"),
]


def _layer_table(model):
    return [(layer.name, type(layer).__name__) for layer in model.layers]


def _phase_spread(image, period: int = 2, border: int = 4) -> float:
    """Peak-to-peak of the mean of each period x period phase class of an image's interior
    (the lattice's amplitude; 0 for an image without one)."""
    image = np.asarray(image)[0, border:-border, border:-border, 0]
    n = image.shape[0] // period * period
    means = image[:n, :n].reshape(n // period, period, n // period, period).mean(axis=(0, 2))
    return float(np.ptp(means))


def test_default_upsampling_is_the_seed_decoder():
    default = build_generator(**SMALL)
    assert _layer_table(default) == SMALL_LAYERS
    explicit = build_generator(**SMALL, upsampling="transpose")
    assert [l.get_config() for l in explicit.layers] == [l.get_config() for l in default.layers]
    assert all(np.array_equal(a, b) for a, b in zip(default.get_weights(), explicit.get_weights()))
    for name in ("d1", "d2", "d3"):
        layer = default.get_layer(name)
        assert layer.kernel_size == (4, 4) and layer.strides == (2, 2)


def test_resize_upsampling_replaces_each_transposed_convolution():
    transpose = build_generator(**SMALL)
    resize = build_generator(**SMALL, upsampling="resize")
    expected = []
    for name, kind in SMALL_LAYERS:
        if kind == "Conv2DTranspose":
            expected += [(f"{name}_upsample", "UpSampling2D"), (name, "Conv2D")]
        else:
            expected.append((name, kind))
    assert _layer_table(resize) == expected
    assert not any(isinstance(l, keras.layers.Conv2DTranspose) for l in resize.layers)
    assert resize.output_shape == (None, 64, 64, 1)
    for level, channels in ((1, 16), (2, 8), (3, 1)):
        conv, upsample = resize.get_layer(f"d{level}"), resize.get_layer(f"d{level}_upsample")
        assert upsample.size == (2, 2) and upsample.interpolation == "nearest"
        assert conv.kernel_size == (4, 4) and conv.strides == (1, 1) and conv.padding == "same"
        assert conv.filters == channels and conv.use_bias == (level == 3)
        assert conv.kernel_initializer.get_config()["stddev"] == pytest.approx(0.02)
        assert conv.output.shape[1:3] == transpose.get_layer(f"d{level}").output.shape[1:3]
    # a 4x4 kernel either way: the same parameter count
    assert resize.count_params() == transpose.count_params()


def test_bad_upsampling_names_the_choices():
    with pytest.raises(ValueError, match=r"upsampling must be one of \('transpose', 'resize'\)"):
        build_generator(**SMALL, upsampling="bilinear")
    with pytest.raises(ValueError, match="upsampling must be one of"):
        build_hd_generator(32, downsamplings=2, residual_blocks=0, upsampling="nearest")


def test_the_lattice_comes_from_the_transposed_convolutions_phases():
    """A stride-2 ConvT is four 2x2 convolutions interleaved, one per output parity. Its
    random (initialised) phases differ, so a flat input gives a period-2 lattice; with equal
    weights a 4x4 kernel covers every output pixel twice per axis (even overlap) and the
    output is flat. After a nearest-neighbour upsampling, any kernel keeps a flat input flat."""
    transpose = build_generator(**SMALL)
    resize = build_generator(**SMALL, upsampling="resize")
    flat = np.full((1, 32, 32, transpose.get_layer("d2_skip").output.shape[-1]), 0.5, "float32")
    lattice = _phase_spread(transpose.get_layer("d3")(flat))
    assert lattice > 0.02
    resized = resize.get_layer("d3")(resize.get_layer("d3_upsample")(flat))
    assert _phase_spread(resized) < 1e-6
    assert float(np.ptp(np.asarray(resized)[0, 4:-4, 4:-4])) < 1e-6
    # the whole networks on a flat EUV image, borders excluded
    euv = np.full((1, 64, 64, 1), 0.3, "float32")
    lattice = _phase_spread(transpose(euv, training=False), border=8)
    assert lattice > 1e-3
    assert _phase_spread(resize(euv, training=False), border=8) < lattice / 100
    assert _phase_spread(resize(euv, training=False), period=4, border=8) < lattice / 100
    # equal weights in every tap of the transposed convolution: no lattice
    layer = transpose.get_layer("d3")
    kernel, bias = layer.get_weights()
    layer.set_weights([np.full_like(kernel, 0.01), bias])
    assert _phase_spread(layer(flat)) < 1e-6


def test_pix2pixhd_upsampling_option():
    """pix2pixHD's ConvT 3x3 s2 overlaps unevenly: a checkerboard even with equal weights."""
    options = {"base_filters": 8, "max_filters": 16, "downsamplings": 2, "residual_blocks": 1,
               "seed": 1}
    transpose = build_hd_generator(32, **options)
    resize = build_hd_generator(32, **options, upsampling="resize")
    assert [l.get_config() for l in build_hd_generator(32, **options, upsampling="transpose").layers
            ] == [l.get_config() for l in transpose.layers]
    assert not any(isinstance(l, keras.layers.Conv2DTranspose) for l in resize.layers)
    assert [l.name for l in resize.layers if l.name.startswith("up2")] == [
        "up2_upsample", "up2_pad", "up2", "up2_norm", "up2_relu"]
    assert resize.count_params() == transpose.count_params()
    assert resize.output_shape == transpose.output_shape == (None, 32, 32, 1)
    flat = np.full((1, 16, 16, transpose.get_layer("up2").input.shape[-1]), 0.5, "float32")
    for model in (transpose, resize):
        kernel = model.get_layer("up2").get_weights()[0]
        model.get_layer("up2").set_weights([np.full_like(kernel, 0.01)])
    assert _phase_spread(transpose.get_layer("up2")(flat)) > 0.1
    upsampled = resize.get_layer("up2_pad")(resize.get_layer("up2_upsample")(flat))
    assert _phase_spread(resize.get_layer("up2")(upsampled)) < 1e-6


def test_resize_generator_saves_and_loads(tmp_path):
    from solarmaggan.models import load_model

    generator = build_generator(32, depth=2, base_filters=4, max_filters=8, seed=2,
                                upsampling="resize")
    generator.save(tmp_path / "g.keras")
    loaded = load_model(tmp_path / "g.keras")
    euv = np.random.default_rng(0).uniform(-1, 1, (1, 32, 32, 1)).astype("float32")
    np.testing.assert_array_equal(generator(euv), loaded(euv))
    assert loaded.get_layer("d2_upsample").interpolation == "nearest"


def test_checkerboard_spectrum_finds_a_lattice():
    """scripts/checkerboard_spectrum.py's measure: a period-2 lattice added to a field is a
    peak of the generated / observed power ratio at 1/2 cycles/px, not at 1/4."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[1] / "scripts" / "checkerboard_spectrum.py"
    spec = importlib.util.spec_from_file_location("checkerboard_spectrum", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rng = np.random.default_rng(0)
    tile, periods = 32, (2, 4)
    observed, generated = module.SpectrumAccumulator(tile, periods), module.SpectrumAccumulator(
        tile, periods)
    lattice = 0.5 * np.array([[1.0, -1.0], [-1.0, 1.0]])  # (1/2, 1/2): the checkerboard
    for _ in range(8):
        field = rng.normal(0, 2, (64, 64))
        corners = module.quiet_tiles(field, radius_px=60, tile=tile, quiet_gauss=100)
        assert corners == [(0, 0), (0, 32), (32, 0), (32, 32)]
        observed.add(field, corners)
        generated.add(0.8 * field + np.tile(lattice, (32, 32)), corners)
    rows = {(row["period_px"], row["direction"]): row for row in module.lattice_table(
        generated.mean_power(), observed.mean_power(), periods)}
    assert rows[(2, "diagonal")]["contrast"] > 10
    assert rows[(2, "x")]["contrast"] == pytest.approx(1, abs=0.3)
    assert rows[(4, "diagonal")]["contrast"] == pytest.approx(1, abs=0.3)
    assert np.abs(generated.mean_pattern(2)).max() == pytest.approx(0.5, abs=0.1)
    assert np.abs(observed.mean_pattern(2)).max() < 0.1
    # its cause test: equal DC gains of the four phases leave a flat input flat
    generator = build_generator(**SMALL)
    flat = np.full((1, 32, 32, generator.get_layer("d2_skip").output.shape[-1]), 0.5, "float32")
    assert _phase_spread(generator.get_layer("d3")(flat)) > 0.02
    module.equalize_phases(generator, ["d3"])
    assert _phase_spread(generator.get_layer("d3")(flat)) < 1e-5
    with pytest.raises(ValueError, match="not a stride-2 Conv2DTranspose"):
        module.equalize_phases(generator, ["e1"])


def test_compare_upsampling_configurations():
    """scripts/compare_upsampling.py trains the quick preset with the demo's overrides, the
    variants differing only in model.upsampling."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[1] / "scripts" / "compare_upsampling.py"
    spec = importlib.util.spec_from_file_location("compare_upsampling", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    configs = {name: module.variant_config(name, 256, 98.0, 100, 0, ["training.log_every=10"])
               for name in module.VARIANTS}
    assert configs["transpose"]["model"]["upsampling"] == "transpose"
    assert configs["resize"]["model"]["upsampling"] == "resize"
    configs["resize"]["model"]["upsampling"] = "transpose"
    assert configs["resize"] == configs["transpose"]
    assert configs["transpose"]["training"]["steps"] == 100
    assert configs["transpose"]["training"]["log_every"] == 10
