"""Metrics computed inside the TensorFlow graph during training and validation.

``pixel_correlation`` is the authors' model-selection rule: the pixel-to-pixel Pearson
correlation between generated and observed magnetograms, per image.
``root_mean_square_error`` (pass Gauss) and ``structural_similarity`` complete the
validation set; all are per image, (batch,) float32.
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
    weights = _weights(target, mask)
    axes = (1, 2, 3)
    count = ops.sum(weights, axis=axes, keepdims=True)
    target_anomaly = target - ops.sum(weights * target, axis=axes, keepdims=True) / count
    generated_anomaly = generated - ops.sum(weights * generated, axis=axes, keepdims=True) / count
    covariance = ops.sum(weights * target_anomaly * generated_anomaly, axis=axes)
    variance_product = ops.sum(weights * target_anomaly**2, axis=axes) * ops.sum(
        weights * generated_anomaly**2, axis=axes
    )
    return ops.divide_no_nan(covariance, ops.sqrt(variance_product))


def _weights(target, mask):
    if mask is None:
        return ops.ones_like(target)
    weights = ops.cast(ops.convert_to_tensor(mask), "float32")[None, :, :, None]
    return ops.broadcast_to(weights, ops.shape(target))


def root_mean_square_error(target, generated, mask=None):
    """Per-image RMSE over the masked pixels, in the units of the inputs (pass Gauss).

    Args:
        target, generated: (batch, height, width, channels) tensors in the same units.
        mask: optional (height, width) boolean array (e.g. the solar disk).

    Returns:
        (batch,) float32.
    """
    target = ops.cast(target, "float32")
    generated = ops.cast(generated, "float32")
    weights = _weights(target, mask)
    squared = ops.sum(weights * (generated - target) ** 2, axis=(1, 2, 3))
    return ops.sqrt(ops.divide_no_nan(squared, ops.sum(weights, axis=(1, 2, 3))))


def structural_similarity(target, generated):
    """Per-image SSIM (Wang et al. 2004) of images normalised to [-1, 1], whole frame.

    The images are mapped to [0, 1] and compared with ``tf.image.ssim`` (11 x 11 Gaussian
    window, sigma 1.5, k1 0.01, k2 0.03, max_val 1), which expects non-negative images.

    Returns:
        (batch,) float32.
    """
    import tensorflow as tf

    target = (tf.cast(target, tf.float32) + 1.0) / 2.0
    generated = (tf.cast(generated, tf.float32) + 1.0) / 2.0
    return tf.image.ssim(target, generated, max_val=1.0)
