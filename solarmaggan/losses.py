"""Losses of the pix2pix objective (Isola et al. 2017; Kim et al. 2019) and of its AISFM
successors (pix2pixHD, Jeong et al. 2020; Pix2PixCC, Jeong et al. 2022).

Seed (Kim et al. 2019): discriminator BCE(D(x, y), 1) + BCE(D(x, G(x)), 0); generator
BCE(D(x, G(x)), 1) + 100 L1(y, G(x)). All terms are means over pixels (or patches) and the
batch, as in the original.

AISFM: LSGAN instead of BCE, feature matching between the discriminator's features of the
real and the generated pair, and the correlation-coefficient (CC) loss. Two defects of the
reference PyTorch code are fixed here: feature matching is a plain mean over every
(scale, layer) pair, counted once (the reference summed it over the scales a second time),
and the CC is computed per sample on the solar disk only and then averaged over the batch
(the reference correlated the whole batch at once, off-disk zeros included, which rewards
getting the disk's outline right rather than its field).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from keras import ops

from data_prep.geometry import block_mean
from data_prep.presets.schema import ADVERSARIAL_LOSSES
from solarmaggan.metrics import correlation_coefficients


def adversarial_loss(logits, real: bool, kind: str = "bce"):
    """Adversarial loss of discriminator outputs against all-real or all-fake labels.

    Args:
        logits: PatchGAN outputs (batch, h, w, 1), before any sigmoid.
        real: compare with label 1 (True) or 0 (False).
        kind: "bce" (seed: sigmoid cross-entropy, computed stably from the logits) or
            "lsgan" (least squares, (D - label)^2, as pix2pixHD and Pix2PixCC).

    Returns:
        float32 scalar: the mean over patches and batch.
    """
    logits = ops.cast(logits, "float32")
    labels = ops.ones_like(logits) if real else ops.zeros_like(logits)
    if kind == "bce":
        return ops.mean(ops.binary_crossentropy(labels, logits, from_logits=True))
    if kind == "lsgan":
        return ops.mean(ops.square(logits - labels))
    raise ValueError(f"adversarial loss must be one of {ADVERSARIAL_LOSSES}, got {kind!r}")


def l1_loss(target, generated):
    """Mean absolute difference over pixels, channels and batch (normalised units)."""
    return ops.mean(ops.abs(ops.cast(target, "float32") - ops.cast(generated, "float32")))


def feature_matching_loss(real_features: Sequence[Sequence], fake_features: Sequence[Sequence]):
    """pix2pixHD's feature-matching loss: the mean, over every scale and every intermediate
    layer of the discriminator, of the mean absolute difference between the features of the
    real pair and those of the generated pair. Each (scale, layer) counts once.

    Args:
        real_features, fake_features: one list per discriminator scale of its intermediate
            feature maps (the patch logits left out). The real features act as fixed targets
            (no gradient flows into them).

    Returns:
        float32 scalar.
    """
    differences = [
        l1_loss(ops.stop_gradient(real), fake)
        for real_scale, fake_scale in zip(real_features, fake_features, strict=True)
        for real, fake in zip(real_scale, fake_scale, strict=True)
    ]
    if not differences:
        raise ValueError("feature matching needs intermediate discriminator features")
    return ops.mean(ops.stack(differences))


def pooled_disk_masks(mask: np.ndarray | None, scales: int) -> list[np.ndarray | None]:
    """The disk mask at each CC scale: scale 0 is ``mask`` itself, scale k its 2^k x 2^k
    block mean, keeping only blocks lying wholly on the disk. None stays None."""
    if mask is None:
        return [None] * scales
    mask = np.asarray(mask, dtype=np.float32)
    return [mask.astype(bool)] + [block_mean(mask, 2**scale) == 1.0 for scale in range(1, scales)]


def correlation_loss(target, generated, masks: Sequence[np.ndarray | None],
                     kind: str = "pearson"):
    """Pix2PixCC's CC loss, per sample on the disk: the mean over the scales (scale 0 the
    full image, each next one a further 2 x 2 average pool, ``len(masks)`` in all; see
    :func:`pooled_disk_masks`) of 1 - CC(target, generated), then over the batch.

    Args:
        target, generated: (batch, height, width, channels) in normalised units.
        masks: one mask a scale (from :func:`pooled_disk_masks`).
        kind: "pearson" or "concordance".

    Returns:
        float32 scalar in [0, 2].
    """
    target = ops.cast(target, "float32")
    generated = ops.cast(generated, "float32")
    per_scale = []
    for scale, mask in enumerate(masks):
        if scale:
            target = ops.average_pool(target, 2, strides=2, padding="valid")
            generated = ops.average_pool(generated, 2, strides=2, padding="valid")
        per_scale.append(1.0 - correlation_coefficients(target, generated, mask, kind))
    return ops.mean(ops.stack(per_scale, axis=1))


def large_scale_masks(mask: np.ndarray | None, block_px: int) -> tuple[np.ndarray, np.ndarray]:
    """The blocks of the large-scale loss: a (height/block, width/block) bool array of the
    ``block_px`` x ``block_px`` blocks lying wholly on the disk (every block where ``mask``
    is None), and its float32 copy as weights."""
    if mask is None:
        raise ValueError("the large-scale loss needs the disk (a model built with cc_radius_px)")
    on_disk = block_mean(np.asarray(mask, dtype=np.float32), block_px) == 1.0
    if not on_disk.any():
        raise ValueError(f"no {block_px} x {block_px} px block lies wholly on the disk")
    return on_disk, on_disk.astype(np.float32)


def large_scale_loss(target, generated, block_weights: np.ndarray, block_px: int):
    """The large-scale term: the mean absolute difference of the ``block_px`` x
    ``block_px`` block means of target and generated field over the blocks on the disk
    (``block_weights`` from :func:`large_scale_masks`), then over the batch.

    Pixel L1 hardly feels a field offset of a few Gauss spread over a hemisphere, which is
    what the PFSS corona's open flux depends on; the block means see little else. In
    normalised units (a 1 G offset over a block is 1 / magnetogram_limit_gauss).

    Args:
        target, generated: (batch, height, width, 1) in normalised units.
        block_weights: (height / block_px, width / block_px) float32, 1 on the disk.
        block_px: block side, pixels (the pooling size).

    Returns:
        float32 scalar.
    """
    target = ops.average_pool(ops.cast(target, "float32"), block_px, strides=block_px,
                              padding="valid")
    generated = ops.average_pool(ops.cast(generated, "float32"), block_px, strides=block_px,
                                 padding="valid")
    weights = ops.convert_to_tensor(block_weights[None, :, :, None])
    return ops.sum(ops.abs(target - generated) * weights) / (
        ops.sum(weights) * ops.cast(ops.shape(target)[0], "float32"))
