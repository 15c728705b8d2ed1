"""The conditional PatchGAN against the seed's table."""

import numpy as np
import pytest
import tensorflow as tf

from solarmaggan.models import build_discriminator, receptive_field

SEED_LAYERS = [("c1", 512, 64), ("c2", 256, 128), ("c3", 128, 256), ("c4", 127, 512),
               ("patch", 126, 1)]


def test_seed_patchgan_at_1024():
    discriminator = build_discriminator(1024)
    assert [tuple(s) for s in discriminator.input_shape] == [(None, 1024, 1024, 1)] * 2
    for name, size, channels in SEED_LAYERS:
        assert discriminator.get_layer(name).output.shape[1:] == (size, size, channels), name
    assert receptive_field(discriminator) == 70
    # Parameters from the table: a bias on c1 and on the logits layer, BN elsewhere.
    expected, channels_in = 0, 2
    for name, _, channels in SEED_LAYERS:
        expected += 16 * channels_in * channels + (channels if name in ("c1", "patch") else 4 * channels)
        channels_in = channels
    assert discriminator.count_params() == expected
    # Logits, not probabilities: the sigmoid lives in the loss.
    assert discriminator.get_layer("patch").get_config()["activation"] == "linear"


def test_receptive_field_measured_by_gradient():
    """One output logit depends on exactly a 70 x 70 input window."""
    discriminator = build_discriminator(256, base_filters=8, max_filters=32, seed=3)
    euv = tf.Variable(np.random.default_rng(0).normal(size=(1, 256, 256, 1)).astype("float32"))
    magnetogram = tf.zeros((1, 256, 256, 1))
    with tf.GradientTape() as tape:
        logits = discriminator([euv, magnetogram], training=False)
        centre = logits[0, 15, 15, 0]
    gradient = np.abs(tape.gradient(centre, euv).numpy()[0, :, :, 0])
    rows, cols = np.nonzero(gradient.sum(axis=1))[0], np.nonzero(gradient.sum(axis=0))[0]
    assert rows.max() - rows.min() + 1 == 70
    assert cols.max() - cols.min() + 1 == 70


def test_too_small_for_the_patch_layers():
    with pytest.raises(ValueError, match="power of two"):
        build_discriminator(24)
