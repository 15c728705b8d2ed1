"""The AISFM loss terms against independent NumPy computations."""

import numpy as np
import pytest

from data_prep.geometry import disk_mask
from solarmaggan.losses import (
    adversarial_loss,
    correlation_loss,
    feature_matching_loss,
    large_scale_loss,
    large_scale_masks,
    pooled_disk_masks,
)

SIZE = 16


def numpy_cc(x, y, kind):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if kind == "pearson":
        return np.corrcoef(x, y)[0, 1]
    covariance = np.mean((x - x.mean()) * (y - y.mean()))
    return 2 * covariance / (x.var() + y.var() + (x.mean() - y.mean()) ** 2)


def block_mean(image, factor):
    size = image.shape[0] // factor * factor
    return image[:size, :size].reshape(size // factor, factor, size // factor, factor).mean((1, 3))


@pytest.mark.parametrize("kind", ["pearson", "concordance"])
def test_cc_loss_is_one_minus_cc_per_sample_on_the_disk_over_scales(kind):
    rng = np.random.default_rng(1)
    target = rng.normal(size=(3, SIZE, SIZE, 1)).astype(np.float32)
    generated = (0.6 * target + 0.3 + rng.normal(scale=0.5, size=target.shape)).astype(np.float32)
    disk = disk_mask(SIZE, 7.0)
    # off the disk the images disagree wildly: a loss that counted those pixels would differ
    target[:, ~disk] = 5.0
    generated[:, ~disk] = -5.0
    masks = pooled_disk_masks(disk, 3)

    expected_per_sample = []
    for t, g in zip(target[..., 0], generated[..., 0]):
        terms = []
        for scale, mask in enumerate(masks):
            t_scaled, g_scaled = block_mean(t, 2**scale), block_mean(g, 2**scale)
            terms.append(1 - numpy_cc(t_scaled[mask], g_scaled[mask], kind))
        expected_per_sample.append(np.mean(terms))
    loss = float(correlation_loss(target, generated, masks, kind))
    assert loss == pytest.approx(np.mean(expected_per_sample), rel=1e-4)
    # per sample, then averaged: not the CC of the whole batch pooled together
    per_sample = np.mean([1 - numpy_cc(target[i, ..., 0][disk], generated[i, ..., 0][disk], kind)
                          for i in range(3)])
    whole_batch = 1 - numpy_cc(target[:, disk].ravel(), generated[:, disk].ravel(), kind)
    full_scale_loss = float(correlation_loss(target, generated, masks[:1], kind))
    assert full_scale_loss == pytest.approx(per_sample, rel=1e-4)
    assert abs(per_sample - whole_batch) > 1e-3
    # only blocks wholly on the disk count at the coarser scales
    assert masks[1].sum() < block_mean(disk.astype(float), 2).astype(bool).sum()


def test_concordance_penalises_gain_and_offset_where_pearson_does_not():
    rng = np.random.default_rng(2)
    target = rng.normal(size=(1, SIZE, SIZE, 1)).astype(np.float32)
    masks = pooled_disk_masks(None, 1)
    shifted = 2.0 * target + 1.0
    assert float(correlation_loss(target, shifted, masks, "pearson")) == pytest.approx(0, abs=1e-6)
    assert float(correlation_loss(target, shifted, masks, "concordance")) > 0.3
    assert float(correlation_loss(target, target, masks, "concordance")) == pytest.approx(0, abs=1e-6)


def test_feature_matching_counts_each_scale_and_layer_once():
    rng = np.random.default_rng(3)
    shapes = [[(2, 8, 8, 4), (2, 4, 4, 8)], [(2, 4, 4, 4), (2, 2, 2, 8)]]
    real = [[rng.normal(size=s).astype(np.float32) for s in scale] for scale in shapes]
    fake = [[rng.normal(size=s).astype(np.float32) for s in scale] for scale in shapes]
    expected = np.mean([np.mean(np.abs(r - f)) for rs, fs in zip(real, fake)
                        for r, f in zip(rs, fs)])
    assert float(feature_matching_loss(real, fake)) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError):
        feature_matching_loss(real, [fake[0]])  # a scale missing is an error, not a truncation


def test_lsgan_and_bce_adversarial_losses():
    logits = np.array([[[[0.5]], [[-1.0]]]], np.float32)
    assert float(adversarial_loss(logits, True, "lsgan")) == pytest.approx(np.mean((logits - 1) ** 2))
    assert float(adversarial_loss(logits, False, "lsgan")) == pytest.approx(np.mean(logits**2))
    bce = np.mean(np.log1p(np.exp(-logits)))
    assert float(adversarial_loss(logits, True)) == pytest.approx(bce, rel=1e-5)
    with pytest.raises(ValueError, match="lsgan"):
        adversarial_loss(logits, True, "wgan")


def test_large_scale_loss_sees_a_hemisphere_offset_that_pixel_l1_does_not():
    """The block-mean L1 on the disk, against NumPy: a +-0.3 checkerboard error plus an
    offset of 0.03 over the southern half (3 G of +-100 G) leaves the pixel L1 at 0.3 with
    or without the offset, while the block term is the offset times the southern share of
    the disk's blocks."""
    size, block = 64, 8
    mask = disk_mask(size, 30.0)
    rng = np.random.default_rng(0)
    target = rng.normal(0.0, 0.3, (2, size, size, 1)).astype(np.float32)
    rows, columns = np.indices((size, size))
    checkerboard = np.where((rows + columns) % 2, 0.3, -0.3)[None, :, :, None]
    south = (rows >= size // 2)[None, :, :, None]
    generated = (target + checkerboard + 0.03 * south).astype(np.float32)
    on_disk, weights = large_scale_masks(mask, block)
    expected = np.mean([np.abs(block_mean(target[i, ..., 0] - generated[i, ..., 0], block))[on_disk]
                        for i in range(2)])
    got = float(large_scale_loss(target, generated, weights, block))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    south_share = on_disk[on_disk.shape[0] // 2:].sum() / on_disk.sum()
    np.testing.assert_allclose(got, 0.03 * south_share, rtol=1e-4)
    np.testing.assert_allclose(np.abs(target - generated).mean(), 0.3, rtol=1e-5)
    with pytest.raises(ValueError, match="wholly on the disk"):
        large_scale_masks(disk_mask(size, 3.0), 16)
