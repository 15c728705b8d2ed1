"""Losses of the pix2pix objective (Isola et al. 2017; Kim et al. 2019).

Discriminator: BCE(D(x, y), 1) + BCE(D(x, G(x)), 0). Generator: BCE(D(x, G(x)), 1) +
lambda * L1(y, G(x)), lambda = 100. All terms are means over pixels (or patches) and the
batch, as in the original.
"""

from __future__ import annotations

from keras import ops


def adversarial_loss(logits, real: bool):
    """Binary cross-entropy of PatchGAN logits against all-real or all-fake labels.

    The sigmoid of the seed's last discriminator layer is applied here, inside a
    numerically stable BCE (``from_logits=True``). Returns a float32 scalar: the mean over
    patches and batch.
    """
    logits = ops.cast(logits, "float32")
    labels = ops.ones_like(logits) if real else ops.zeros_like(logits)
    return ops.mean(ops.binary_crossentropy(labels, logits, from_logits=True))


def l1_loss(target, generated):
    """Mean absolute difference over pixels, channels and batch (normalised units)."""
    return ops.mean(ops.abs(ops.cast(target, "float32") - ops.cast(generated, "float32")))
