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
    history = model.fit(pairs, epochs=1, shuffle=False, verbose=0)
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
    history = model.fit(pairs, epochs=1, shuffle=False, verbose=0)
    assert history.history["g_cc"][-1] < first["g_cc"] / 2
    assert model.evaluate(euv, magnetogram, return_dict=True, verbose=0)["pixel_cc"] > 0.8

    # feature matching needs the features: a single PatchGAN has none
    plain = Pix2Pix(build_generator(size, 3, 1, depth=3, base_filters=8, max_filters=16),
                    build_discriminator(size, 3, 1, base_filters=8, max_filters=16))
    with pytest.raises(ValueError, match="feature matching needs"):
        plain.compile(lambda_feature_matching=10.0)


# --- the training step (issue 16) -------------------------------------------------------

def deterministic_networks():
    """conftest.small_pix2pix's networks without dropout: the forward pass is deterministic."""
    generator = build_generator(SMALL_SIZE, depth=3, base_filters=16, max_filters=64,
                                dropout_rate=0.0, seed=1)
    discriminator = build_discriminator(SMALL_SIZE, base_filters=8, max_filters=32, seed=2)
    return generator, discriminator


def random_pairs(count, seed=0):
    rng = np.random.default_rng(seed)
    return tuple(rng.uniform(-1, 1, (count, SMALL_SIZE, SMALL_SIZE, 1)).astype("float32")
                 for _ in range(2))


def values(variables):
    return [variable.numpy().copy() for variable in variables]


@pytest.mark.parametrize("frozen", ["generator", "discriminator"])
def test_each_update_moves_only_its_own_network(frozen):
    # a learning rate of 0 freezes one network: the other network's update must not touch it
    model = small_pix2pix()
    model.compile(
        g_optimizer=keras.optimizers.Adam(0.0 if frozen == "generator" else 2e-4, beta_1=0.5),
        d_optimizer=keras.optimizers.Adam(0.0 if frozen == "discriminator" else 2e-4,
                                          beta_1=0.5))
    networks = {"generator": model.generator, "discriminator": model.discriminator}
    before = {name: values(network.trainable_variables) for name, network in networks.items()}
    model.train_on_batch(*smooth_pair())
    for name, network in networks.items():
        after = values(network.trainable_variables)
        if name == frozen:
            for old, new in zip(before[name], after, strict=True):
                np.testing.assert_array_equal(new, old)
        else:
            assert all(not np.array_equal(new, old) for old, new in zip(before[name], after))


def reference_step(generator, discriminator, euv, magnetogram, learning_rate, sequential=True):
    """The seed's step written out with plain tf.GradientTape, eagerly: one generator
    forward; the discriminator update on the detached output; then (sequential) the
    generator update through that same forward against the updated discriminator, or
    (not sequential) against the discriminator as it was before its update."""
    euv, magnetogram = tf.constant(euv), tf.constant(magnetogram)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    g_variables, d_variables = generator.trainable_variables, discriminator.trainable_variables
    with tf.GradientTape() as g_tape:
        generated = generator(euv, training=True)
        if not sequential:
            fake_logits = discriminator([euv, generated], training=True)
    with tf.GradientTape() as d_tape:
        real = discriminator([euv, magnetogram], training=True)
        fake = discriminator([euv, tf.stop_gradient(generated)], training=True)
        d_loss = bce(tf.ones_like(real), real) + bce(tf.zeros_like(fake), fake)
    d_gradients = d_tape.gradient(d_loss, d_variables)
    keras.optimizers.SGD(learning_rate).apply(d_gradients, d_variables)
    with g_tape:  # record again on the generator's tape
        if sequential:
            fake_logits = discriminator([euv, generated], training=True)
        g_loss = (bce(tf.ones_like(fake_logits), fake_logits)
                  + 100.0 * tf.reduce_mean(tf.abs(magnetogram - generated)))
    keras.optimizers.SGD(learning_rate).apply(g_tape.gradient(g_loss, g_variables), g_variables)


def test_train_step_equals_a_plain_gradient_tape_step():
    euv, magnetogram = random_pairs(2)
    rate = 0.05  # SGD: the weights move by rate x gradient, so any change of gradient shows
    model = Pix2Pix(*deterministic_networks())
    model.compile(g_optimizer=keras.optimizers.SGD(rate), d_optimizer=keras.optimizers.SGD(rate))
    model.train_on_batch(euv, magnetogram)
    trained = values(model.generator.weights) + values(model.discriminator.weights)

    references = {}
    for sequential in (True, False):
        generator, discriminator = deterministic_networks()  # the same initial weights
        reference_step(generator, discriminator, euv, magnetogram, rate, sequential)
        references[sequential] = values(generator.weights) + values(discriminator.weights)
    # all weights, BatchNorm moving statistics included: they move once per generator
    # forward, so a second generator forward in the step would show
    for ours, reference in zip(trained, references[True], strict=True):
        np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-6)
    # the comparison can tell the two update orders apart
    assert max(np.max(np.abs(a - b)) for a, b in zip(references[True], references[False])) > 1e-5


def test_steps_per_execution_gives_the_same_weights():
    euv, magnetogram = random_pairs(6, seed=3)
    weights = []
    for steps_per_execution in (1, 3):
        keras.utils.set_random_seed(0)  # the same initial weights and dropout masks
        model = small_pix2pix()
        model.compile(steps_per_execution=steps_per_execution)
        model.fit(euv, magnetogram, batch_size=1, epochs=1, shuffle=False, verbose=0)
        assert int(model.g_optimizer.iterations) == int(model.d_optimizer.iterations) == 6
        weights.append(values(model.generator.weights) + values(model.discriminator.weights))
    for one, three in zip(*weights, strict=True):
        np.testing.assert_allclose(three, one, rtol=1e-5, atol=1e-6)


def test_constructor_keeps_the_generators_stochastic_inference():
    from solarmaggan.models.layers import SolarBatchNormalization, SolarDropout

    def flags(generator):
        return {layer.stochastic_inference for layer in generator.layers
                if isinstance(layer, (SolarBatchNormalization, SolarDropout))}

    generator = build_generator(SMALL_SIZE, depth=3, base_filters=8, max_filters=16,
                                stochastic_inference=True, seed=1)
    discriminator = build_discriminator(SMALL_SIZE, base_filters=8, max_filters=16, seed=2)
    model = Pix2Pix(generator, discriminator)
    assert model.stochastic_inference and flags(generator) == {True}
    batch = np.repeat(smooth_pair()[0], 2, axis=0)
    outputs = model.predict(batch, verbose=0)
    assert not np.allclose(outputs[0], outputs[1])  # dropout on at inference
    restored = Pix2Pix.from_config(model.get_config())
    assert restored.stochastic_inference and flags(restored.generator) == {True}

    # an explicit setting still wins, and round-trips
    model = Pix2Pix(generator, discriminator, stochastic_inference=False)
    assert not model.stochastic_inference and flags(generator) == {False}
    assert not Pix2Pix.from_config(model.get_config()).stochastic_inference
    assert not Pix2Pix(generator, discriminator).stochastic_inference  # read again: off now
    assert Pix2Pix(generator, discriminator, stochastic_inference=True).stochastic_inference
    assert not small_pix2pix().stochastic_inference  # build_generator's default
