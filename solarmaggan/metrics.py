"""Metrics computed inside the TensorFlow graph during training and validation.

``pixel_correlation`` is the authors' model-selection rule: the pixel-to-pixel Pearson
correlation between generated and observed magnetograms, per image.
"""

from __future__ import annotations

from keras import ops


def pixel_correlation(target, generated, mask=None):
    """Per-image Pearson correlation coefficient between two batches of images.

    Args:
        target, generated: (batch, height, width, channels) tensors, any units (CC is
            invariant to the linear normalisation to [-1, 1]).
        mask: optional (height, width) boolean or 0/1 array; only pixels where it is true
            count (e.g. the solar disk, so that off-disk zeros do not inflate the CC).

    Returns:
        (batch,) float32. An image whose masked pixels are all equal has no defined
        correlation; 0 is returned for it.
    """
    target = ops.cast(target, "float32")
    generated = ops.cast(generated, "float32")
    if mask is None:
        weights = ops.ones_like(target)
    else:
        weights = ops.cast(ops.convert_to_tensor(mask), "float32")[None, :, :, None]
        weights = ops.broadcast_to(weights, ops.shape(target))
    axes = (1, 2, 3)
    count = ops.sum(weights, axis=axes, keepdims=True)
    target_anomaly = target - ops.sum(weights * target, axis=axes, keepdims=True) / count
    generated_anomaly = generated - ops.sum(weights * generated, axis=axes, keepdims=True) / count
    covariance = ops.sum(weights * target_anomaly * generated_anomaly, axis=axes)
    variance_product = ops.sum(weights * target_anomaly**2, axis=axes) * ops.sum(
        weights * generated_anomaly**2, axis=axes
    )
    return ops.divide_no_nan(covariance, ops.sqrt(variance_product))
