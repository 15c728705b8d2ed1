"""The Pix2Pix trainer: learning, mixed precision, saving, inference mode, bad input."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import SMALL_SIZE, small_pix2pix, smooth_pair
from data_prep.geometry import disk_mask
from solarmaggan.metrics import pixel_correlation
from solarmaggan.models import Pix2Pix, build_discriminator, build_generator


def test_train_steps_drive_l1_down():
    model = small_pix2pix()
    model.compile()
    euv, magnetogram = smooth_pair()
    l1_before = model.evaluate(euv, magnetogram, return_dict=True, verbose=0)["l1"]
    pairs = tf.data.Dataset.from_tensors((euv, magnetogram)).repeat(300)
    history = model.fit(pairs, epochs=1, verbose=0)
    assert set(history.history) == {"d_loss", "g_loss", "g_gan", "g_l1"}
    after = model.evaluate(euv, magnetogram, return_dict=True, verbose=0)
    assert after["l1"] < l1_before / 4
    assert after["pixel_cc"] > 0.9


@pytest.mark.parametrize("precision", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_train_steps(precision):
    model = small_pix2pix(precision)
    model.compile()
    float16 = precision == "mixed_float16"
    assert isinstance(model.g_optimizer, keras.optimizers.LossScaleOptimizer) == float16
    assert isinstance(model.d_optimizer, keras.optimizers.LossScaleOptimizer) == float16
    assert model.generator.get_layer("e2").compute_dtype == precision.removeprefix("mixed_")
    euv, magnetogram = smooth_pair()
    weights_before = model.generator.get_layer("e2").kernel.numpy().copy()
    # 8 steps: with float16 the first few overflow and are skipped while the scale drops.
    history = model.fit(np.repeat(euv, 8, 0), np.repeat(magnetogram, 8, 0), batch_size=1, verbose=0)
    assert all(np.isfinite(values[-1]) for values in history.history.values())
    assert not np.array_equal(model.generator.get_layer("e2").kernel.numpy(), weights_before)
    if float16:
        assert 0 < float(model.g_optimizer.dynamic_scale) < 2.0**15  # dynamic scaling at work
    assert model.generator.get_layer("e2").kernel.dtype == "float32"  # float32 master weights
    assert model.predict(euv, verbose=0).dtype == np.float32
    assert model.discriminator([euv, magnetogram]).dtype == "float32"


def test_keras_round_trip_and_generator_weights(tmp_path):
    model = small_pix2pix(cc_radius_px=12.0)
    model.compile(d_optimizer=keras.optimizers.Adam(1e-4, beta_1=0.5), lambda_l1=50.0)
    euv, magnetogram = smooth_pair()
    model.fit(euv, magnetogram, epochs=2, verbose=0)
    path = tmp_path / "pix2pix.keras"
    model.save(path)

    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, Pix2Pix)
    np.testing.assert_array_equal(loaded.predict(euv, verbose=0), model.predict(euv, verbose=0))
    assert loaded.lambda_l1 == 50.0 and loaded.cc_radius_px == 12.0
    assert float(loaded.d_optimizer.learning_rate) == pytest.approx(1e-4)
    assert int(loaded.g_optimizer.iterations) == int(model.g_optimizer.iterations) == 2
    for saved, restored in zip(model.g_optimizer.variables, loaded.g_optimizer.variables):
        np.testing.assert_array_equal(saved.numpy(), restored.numpy())

    weights = tmp_path / "generator.weights.h5"
    model.generator.save_weights(weights)
    fresh = small_pix2pix().generator
    fresh.load_weights(weights)
    np.testing.assert_array_equal(fresh.predict(euv, verbose=0), model.predict(euv, verbose=0))


def test_stochastic_inference_is_an_explicit_option():
    model = small_pix2pix()
    model.compile()
    euv, magnetogram = smooth_pair()
    model.fit(euv, magnetogram, epochs=3, verbose=0)
    batch = np.repeat(euv, 2, axis=0)
    deterministic = model.predict(batch, verbose=0)
    np.testing.assert_array_equal(deterministic, model.predict(batch, verbose=0))

    norm = model.generator.get_layer("d1_norm")
    moving_mean = norm.moving_mean.numpy().copy()
    model.stochastic_inference = True  # the original code's behaviour
    stochastic = model.predict(batch, verbose=0)
    assert not np.allclose(stochastic[0], stochastic[1])  # dropout differs per sample
    assert not np.allclose(stochastic, deterministic)
    np.testing.assert_array_equal(norm.moving_mean.numpy(), moving_mean)  # statistics kept

    model.stochastic_inference = False
    np.testing.assert_array_equal(model.predict(batch, verbose=0), deterministic)


def test_mismatched_channels_and_sizes_raise_clear_errors():
    model = small_pix2pix()
    model.compile()
    three_channel = np.zeros((1, SMALL_SIZE, SMALL_SIZE, 3), "float32")
    one_channel = np.zeros((1, SMALL_SIZE, SMALL_SIZE, 1), "float32")
    with pytest.raises(ValueError, match=r"EUV batch has shape \(32, 32, 3\).*expects \(32, 32, 1\)"):
        model.fit(three_channel, one_channel, verbose=0)
    with pytest.raises(ValueError, match=r"magnetogram batch has shape \(64, 64, 1\)"):
        model.fit(one_channel, np.zeros((1, 64, 64, 1), "float32"), verbose=0)
    with pytest.raises(ValueError, match="do not fit together"):
        Pix2Pix(build_generator(32, input_channels=3, depth=3), build_discriminator(32))


def test_pixel_correlation_matches_numpy_on_the_disk():
    rng = np.random.default_rng(1)
    target = rng.normal(size=(2, 32, 32, 1)).astype("float32")
    generated = (0.5 * target + rng.normal(size=target.shape)).astype("float32")
    generated[:, 0, :, :] = 50.0  # off-disk outliers that must not count
    mask = disk_mask(32, 12.0)
    expected = [np.corrcoef(t[..., 0][mask], g[..., 0][mask])[0, 1] for t, g in zip(target, generated)]
    np.testing.assert_allclose(pixel_correlation(target, generated, mask), expected, rtol=1e-5)
    constant = np.zeros_like(target)
    np.testing.assert_array_equal(pixel_correlation(target, constant), [0.0, 0.0])


def test_aisfm_losses_train_a_pix2pixhd_on_three_channels():
    from solarmaggan.models import build_hd_generator, build_multiscale_discriminator

    size = 64
    generator = build_hd_generator(size, 3, 1, base_filters=8, max_filters=32, downsamplings=2,
                                   residual_blocks=2, padding="replicate",
                                   output_activation="linear", seed=1)
    discriminator = build_multiscale_discriminator(size, 3, 1, scales=2, base_filters=8,
                                                   max_filters=16, seed=2)
    model = Pix2Pix(generator, discriminator, cc_radius_px=28.0)
    model.compile(lambda_l1=0.0, adversarial="lsgan", lambda_adversarial=2.0,
                  lambda_feature_matching=10.0, lambda_cc=5.0, cc_kind="concordance",
                  cc_scales=4)
    euv, magnetogram = smooth_pair(size)
    euv = np.concatenate([euv, euv**2, -euv], axis=-1)
    first = model.train_on_batch(euv, magnetogram, return_dict=True)
    assert set(first) == {"d_loss", "g_loss", "g_gan", "g_l1", "g_fm", "g_cc"}
    pairs = tf.data.Dataset.from_tensors((euv, magnetogram)).repeat(120)
    history = model.fit(pairs, epochs=1, verbose=0)
    assert history.history["g_cc"][-1] < first["g_cc"] / 2
    assert model.evaluate(euv, magnetogram, return_dict=True, verbose=0)["pixel_cc"] > 0.8

    # feature matching needs the features: a single PatchGAN has none
    plain = Pix2Pix(build_generator(size, 3, 1, depth=3, base_filters=8, max_filters=16),
                    build_discriminator(size, 3, 1, base_filters=8, max_filters=16))
    with pytest.raises(ValueError, match="feature matching needs"):
        plain.compile(lambda_feature_matching=10.0)
