"""Calibration of per-pixel uncertainty (solarmaggan.uncertainty) on synthetic ensembles
whose error distributions are known.

Tolerances on fractions are about 5 binomial standard errors, sqrt(p (1 - p) / n) for n
counted pixels, so a correct implementation fails about once in a few million runs (and
the seeds are fixed), while an interval off by 10 % in sigma moves the 1-sigma coverage
by about 0.05, far outside them.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
from scipy import special, stats

from data_prep.geometry import binned_disk_mask, block_mean, disk_mask
from solarmaggan import uncertainty as un

P1, P2 = un.GAUSSIAN_COVERAGE[1], un.GAUSSIAN_COVERAGE[2]


def binomial_tolerance(p: float, n: int, errors: float = 5.0) -> float:
    return errors * math.sqrt(p * (1.0 - p) / n)


def predictive_coverage(k: float, n_samples: int) -> float:
    """P(|y - mean| <= k sigma) when the truth y and the N samples are independent draws
    of one normal distribution and sigma is the ddof=0 sample spread: (y - mean) /
    (s_{ddof=1} sqrt(1 + 1/N)) is Student t with N - 1 degrees of freedom."""
    return float(2 * stats.t.cdf(k * math.sqrt((n_samples - 1) / (n_samples + 1)),
                                 n_samples - 1) - 1)


def gaussian_crps(mu, sigma, y):
    """Closed-form CRPS of N(mu, sigma^2) at y (Gneiting & Raftery 2007)."""
    z = (y - mu) / sigma
    return sigma * (z * (2 * special.ndtr(z) - 1) + 2 * np.exp(-0.5 * z * z) / math.sqrt(
        2 * math.pi) - 1 / math.sqrt(math.pi))


def naive_crps(samples, truth):
    """E|X - y| - 0.5 E|X - X'| over all N^2 pairs, O(N^2) memory."""
    samples = samples.astype(np.float64)
    first = np.abs(samples - truth).mean(axis=0)
    second = np.abs(samples[:, None] - samples[None, :]).mean(axis=(0, 1))
    return first - 0.5 * second


def field(rng, shape, low=1.0, high=100.0):
    """A positive field spanning [low, high] log-uniformly (sigmas of quiet Sun to
    active regions)."""
    return np.exp(rng.uniform(math.log(low), math.log(high), shape))


# --------------------------------------------------------------------------------------
# coverage and sample_summary
# --------------------------------------------------------------------------------------

def test_coverage_of_known_gaussian_errors_and_the_mask():
    rng = np.random.default_rng(1)
    shape = (400, 500)
    mean = rng.normal(0, 200, shape)
    sigma = field(rng, shape)
    truth = mean + sigma * rng.standard_normal(shape)
    mask = np.zeros(shape, dtype=bool)
    mask[:, :400] = True  # 160 000 counted pixels
    # outside the mask: far off, or not finite; neither may count
    truth[:, 400:450] = mean[:, 400:450] + 50 * sigma[:, 400:450]
    truth[:, 450:] = np.nan
    n = int(mask.sum())
    one, two = un.coverage(truth, mean, sigma, 1, mask), un.coverage(truth, mean, sigma, 2, mask)
    assert one == pytest.approx(P1, abs=binomial_tolerance(P1, n))
    assert two == pytest.approx(P2, abs=binomial_tolerance(P2, n))
    # without the mask the far pixels count as misses (the NaN ones still never count)
    unmasked = un.coverage(truth, mean, sigma, 1)
    assert unmasked == pytest.approx(P1 * 400 / 450, abs=binomial_tolerance(P1, n))
    # a list of images pools their pixels
    halves = un.coverage([truth[:200], truth[200:]], [mean[:200], mean[200:]],
                         [sigma[:200], sigma[200:]], 1, [mask[:200], mask[200:]])
    assert halves == pytest.approx(one, abs=1e-12)
    # an interval 10 % too narrow is detected
    assert un.coverage(truth, mean, 0.9 * sigma, 1, mask) < P1 - 0.04
    assert math.isnan(un.coverage(truth, mean, sigma, 1, np.zeros(shape, dtype=bool)))


@pytest.mark.parametrize("n_samples", [10, 200])
def test_sample_summary_of_an_ensemble_from_the_truths_distribution(n_samples):
    rng = np.random.default_rng(2 + n_samples)
    shape = (300, 300)
    mu = rng.normal(0, 100, shape)
    spread = field(rng, shape, 2, 50)
    samples = (mu + spread * rng.standard_normal((n_samples, *shape))).astype(np.float32)
    truth = mu + spread * rng.standard_normal(shape)
    mean, sigma = un.sample_summary(samples)
    assert mean.shape == sigma.shape == shape and mean.dtype == np.float64
    np.testing.assert_allclose(mean, samples.mean(axis=0, dtype=np.float64), rtol=0, atol=1e-9)
    np.testing.assert_allclose(sigma, samples.astype(np.float64).std(axis=0, ddof=0),
                               rtol=1e-10)
    n = truth.size
    for k in (1, 2):
        expected = predictive_coverage(k, n_samples)  # 0.61 / 0.92 for N = 10
        assert un.coverage(truth, mean, sigma, k) == pytest.approx(
            expected, abs=binomial_tolerance(expected, n))
    if n_samples == 200:
        assert un.coverage(truth, mean, sigma, 1) == pytest.approx(P1, abs=0.01)


def test_identical_samples_have_zero_sigma_and_cover_only_exact_matches():
    rng = np.random.default_rng(3)
    image = rng.normal(0, 50, (40, 40))
    samples = np.repeat(image[None], 5, axis=0)
    mean, sigma = un.sample_summary(samples)
    assert np.all(sigma == 0.0)
    np.testing.assert_array_equal(mean, image)
    truth = image.copy()
    truth[:10] += 1e-9  # a quarter of the pixels differ, by almost nothing
    for k in (1, 2, 100):
        assert un.coverage(truth, mean, sigma, k) == 0.75
    single_mean, single_sigma = un.sample_summary(image[None])
    assert np.all(single_sigma == 0.0) and np.array_equal(single_mean, image)
    with pytest.raises(ValueError, match="sigma > 0"):
        un.fit_scale(truth, mean, sigma)


# --------------------------------------------------------------------------------------
# binned
# --------------------------------------------------------------------------------------

def test_binned_sigma_comes_from_the_binned_samples():
    rng = np.random.default_rng(4)
    size, n_samples = 256, 50
    disk = disk_mask(size, 0.95 * 100)
    mu = rng.normal(0, 100, (size, size))
    # independent 8 G noise on every pixel: an 8x8 block mean has sigma 8 / 8 = 1 G
    samples = mu + 8.0 * rng.standard_normal((n_samples, size, size))
    truth = mu + 8.0 * rng.standard_normal((size, size))
    truth[~disk] = np.nan  # off-disk NaN: those blocks never count
    binned_truth, binned_samples, binned_mask = un.bin_images(truth, samples, disk)
    assert binned_samples.shape == (n_samples, 32, 32) and binned_truth.shape == (32, 32)
    np.testing.assert_array_equal(binned_mask, binned_disk_mask(size, 0.95 * 100, 8))
    np.testing.assert_allclose(binned_samples[3], block_mean(samples[3], 8))
    _, binned_sigma = un.sample_summary(binned_samples)
    assert np.median(binned_sigma[binned_mask]) == pytest.approx(1.0, abs=0.1)
    result = un.binned_coverage(truth, samples, disk)
    assert set(result) == {"coverage_1sigma", "coverage_2sigma"}
    n = int(binned_mask.sum())  # about 440 blocks
    for k in (1, 2):
        expected = predictive_coverage(k, n_samples)
        assert result[f"coverage_{k}sigma"] == pytest.approx(
            expected, abs=binomial_tolerance(expected, n))
    # averaging the pixel sigmas instead would give 8 G intervals: everything covered
    pixel_sigma = un.sample_summary(samples)[1]
    assert un.coverage(binned_truth, un.sample_summary(binned_samples)[0],
                       block_mean(pixel_sigma, 8), 1, binned_mask) > 0.99


# --------------------------------------------------------------------------------------
# fit_scale and apply_scale
# --------------------------------------------------------------------------------------

def test_fit_scale_recovers_a_known_miscalibration():
    rng = np.random.default_rng(5)
    shape = (200, 250)

    def split(count):
        images = []
        for _ in range(count):
            mean = rng.normal(0, 100, shape)
            sigma = field(rng, shape)
            truth = mean + 2.0 * sigma * rng.standard_normal(shape)  # reported 2x too small
            images.append((truth, mean, sigma))
        return [list(column) for column in zip(*images)]

    validation, test = split(3), split(1)
    scale = un.fit_scale(*validation)
    # the 0.6827 quantile of |2 Z| is 2; its standard error with 150 000 pixels is
    # sqrt(p (1 - p) / n) / f(2) = 0.0012 / 0.24 = 0.005
    assert scale == pytest.approx(2.0, abs=0.03)
    truth, mean, sigma = (column[0] for column in test)
    n = truth.size
    assert un.coverage(truth, mean, sigma, 1) == pytest.approx(
        0.3829, abs=binomial_tolerance(0.38, n))
    scaled = un.scale_sigma(sigma, scale)
    assert un.coverage(truth, mean, scaled, 1) == pytest.approx(P1, abs=0.01)
    assert un.coverage(truth, mean, scaled, 2) == pytest.approx(P2, abs=0.006)
    # another target: the 95.45 % quantile of |2 Z| is 4
    assert un.fit_scale(*validation, target=P2) == pytest.approx(4.0, abs=0.08)
    with pytest.raises(ValueError, match="target"):
        un.fit_scale(*validation, target=1.0)


def test_apply_scale_recalibrates_an_overconfident_ensemble():
    rng = np.random.default_rng(6)
    shape, n_samples = (150, 150), 20

    def image():
        mu = rng.normal(0, 100, shape)
        spread = field(rng, shape, 2, 50)
        samples = mu + 0.5 * spread * rng.standard_normal((n_samples, *shape))  # 2x too narrow
        return mu + spread * rng.standard_normal(shape), samples.astype(np.float32)

    validation = [image() for _ in range(3)]
    summaries = [un.sample_summary(samples) for _, samples in validation]
    scale = un.fit_scale([truth for truth, _ in validation], [m for m, _ in summaries],
                         [s for _, s in summaries])
    # 2 sqrt((N + 1) / (N - 1)) = 2.10 for the finite ensemble, roughly
    assert 1.9 < scale < 2.3
    truth, samples = image()
    mean, sigma = un.sample_summary(samples)
    assert un.coverage(truth, mean, sigma, 1) < 0.45
    scaled = un.apply_scale(samples, scale)
    assert scaled.dtype == np.float32 and scaled.shape == samples.shape
    scaled_mean, scaled_sigma = un.sample_summary(scaled)
    np.testing.assert_allclose(scaled_mean, mean, atol=1e-3)
    np.testing.assert_allclose(scaled_sigma, scale * sigma, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(un.scale_sigma(sigma, scale), scale * sigma)
    n = truth.size
    assert un.coverage(truth, scaled_mean, scaled_sigma, 1) == pytest.approx(
        P1, abs=binomial_tolerance(P1, n) + 0.01)  # + the fit's own error
    np.testing.assert_array_equal(un.apply_scale(samples, 1.0), samples)
    with pytest.raises(ValueError):
        un.apply_scale(samples, -1.0)


# --------------------------------------------------------------------------------------
# CRPS
# --------------------------------------------------------------------------------------

def test_crps_matches_the_gaussian_closed_form_for_many_samples():
    rng = np.random.default_rng(7)
    shape, n_samples = (20, 25), 2000
    mu = rng.normal(0, 100, shape)
    spread = field(rng, shape, 2, 50)
    truth = mu + spread * rng.normal(0, 1.5, shape)
    samples = mu + spread * rng.standard_normal((n_samples, *shape))
    values = un.crps_map(samples, truth)
    exact = gaussian_crps(mu, spread, truth)
    # the ensemble approximates the distribution to ~1/sqrt(N) of sigma per pixel
    np.testing.assert_allclose(values, exact, atol=0.1 * spread.max(), rtol=0)
    assert np.max(np.abs(values - exact) / spread) < 0.08
    assert un.crps(samples, truth) == pytest.approx(exact.mean(), rel=0.01)
    # a shifted ensemble scores worse
    assert un.crps(samples + 3 * spread, truth) > 1.5 * exact.mean()


def test_crps_of_one_sample_is_the_absolute_error():
    rng = np.random.default_rng(8)
    sample, truth = rng.normal(0, 10, (1, 16, 16)), rng.normal(0, 10, (16, 16))
    np.testing.assert_allclose(un.crps_map(sample, truth), np.abs(sample[0] - truth),
                               rtol=1e-12)
    mask = disk_mask(16, 6)
    assert un.crps(sample, truth, mask) == pytest.approx(np.abs(sample[0] - truth)[mask].mean())


@pytest.mark.parametrize("n_samples", [2, 3, 7])
def test_sorted_crps_equals_the_naive_pairwise_formula(n_samples, monkeypatch):
    rng = np.random.default_rng(9 + n_samples)
    samples = rng.normal(0, 5, (n_samples, 2, 5, 6)).astype(np.float32)
    samples[:, 0, 0, 0] = 1.5  # ties
    truth = rng.normal(0, 5, (2, 5, 6)).astype(np.float32)
    expected = naive_crps(samples, truth)
    np.testing.assert_allclose(un.crps_map(samples, truth), expected, rtol=1e-10, atol=1e-12)
    # chunked (a few pixels at a time) gives the same numbers
    monkeypatch.setattr(un, "CRPS_CHUNK_ELEMENTS", 5)
    np.testing.assert_allclose(un.crps_map(samples, truth), expected, rtol=1e-10, atol=1e-12)
    # a non-finite truth or sample leaves the pixel out
    truth[0, 1, 1] = np.nan
    samples[1, 1, 2, 2] = np.inf
    values = un.crps_map(samples, truth)
    assert np.isnan(values[0, 1, 1]) and np.isnan(values[1, 2, 2])
    assert np.isfinite(values).sum() == values.size - 2
    assert un.crps(samples, truth) == pytest.approx(values[np.isfinite(values)].mean())


def test_crps_memory_stays_bounded_by_the_chunk(monkeypatch):
    rng = np.random.default_rng(10)
    samples = rng.standard_normal((20, 256, 256), dtype=np.float32)  # 5 MiB
    truth = rng.standard_normal((256, 256), dtype=np.float32)
    monkeypatch.setattr(un, "CRPS_CHUNK_ELEMENTS", 1 << 16)
    tracemalloc.start()
    try:
        un.crps(samples, truth)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # float64 copy of the samples: 10 MiB; pairwise differences: 200 MiB; result plus a
    # chunk of 64 Ki values: about 2 MiB
    assert peak < 4 * 2**20, peak


# --------------------------------------------------------------------------------------
# spread-skill
# --------------------------------------------------------------------------------------

def test_spread_skill_of_calibrated_and_overconfident_data():
    rng = np.random.default_rng(11)
    shape = (300, 300)
    mean = rng.normal(0, 100, shape)
    sigma = field(rng, shape)
    errors = sigma * rng.standard_normal(shape)
    mask = disk_mask(300, 140)  # 61 500 pixels, 6 150 a bin
    result = un.spread_skill(mean + errors, mean, sigma, mask, n_bins=10)
    json.dumps(result, allow_nan=False)
    assert result["n_bins"] == 10 and sum(result["count"]) == int(mask.sum())
    assert max(result["count"]) - min(result["count"]) <= 1
    assert np.all(np.diff(result["sigma_mean_gauss"]) > 0)
    assert np.all(np.array(result["sigma_max_gauss"][:-1]) <= result["sigma_min_gauss"][1:])
    # the RMSE of n Gaussian errors has a relative standard error of 1 / sqrt(2 n) = 0.9 %
    np.testing.assert_allclose(result["rmse_gauss"], result["sigma_rms_gauss"], rtol=0.04)
    np.testing.assert_allclose(result["rmse_gauss"], result["sigma_mean_gauss"], rtol=0.05)
    overconfident = un.spread_skill(mean + errors, mean, sigma / 2, mask, n_bins=10)
    ratio = np.array(overconfident["rmse_gauss"]) / overconfident["sigma_rms_gauss"]
    np.testing.assert_allclose(ratio, 2.0, rtol=0.04)
    few = un.spread_skill(mean[:1, :3], mean[:1, :3] + 1, sigma[:1, :3], n_bins=10)
    assert few["n_bins"] == 3 and few["count"] == [1, 1, 1] and few["rmse_gauss"] == [1.0] * 3


# --------------------------------------------------------------------------------------
# flux
# --------------------------------------------------------------------------------------

def test_flux_interval_of_known_fields():
    size, area = 20, 1e16
    mask = np.zeros((size, size), dtype=bool)
    mask[5:15, 5:15] = True  # 100 pixels
    levels = np.array([10.0, -20.0, 30.0, -40.0, 50.0])
    samples = levels[:, None, None] * np.ones((5, size, size))
    samples[:, 0, 0] = np.nan  # off the mask anyway
    samples[:, 5, 5] = np.nan  # on the mask: not counted
    result = un.flux_interval(samples, area, mask)
    json.dumps(result, allow_nan=False)
    expected = np.abs(levels) * 99 * area
    np.testing.assert_allclose(result["per_sample_mx"], expected, rtol=1e-12)
    assert result["median_mx"] == pytest.approx(30 * 99 * area)
    # numpy's linear interpolation: the 16th percentile of 5 values sits 0.64 of the way
    # from the 1st to the 2nd, the 84th 0.36 of the way from the 4th to the 5th
    assert result["low_mx"] == pytest.approx(16.4 * 99 * area)
    assert result["high_mx"] == pytest.approx(43.6 * 99 * area)
    assert result["quantile_mx"][1] == pytest.approx(result["median_mx"])
    # an area map: the left half of the frame counts double
    area_map = np.full((size, size), area)
    area_map[:, :10] *= 2
    doubled = un.flux_interval(samples, area_map, mask)
    np.testing.assert_allclose(doubled["per_sample_mx"], np.abs(levels) * (49 * 2 + 50) * area)
    # a threshold leaves out the weak samples' pixels
    strong = un.flux_interval(samples, area, mask, threshold_gauss=25.0)
    np.testing.assert_allclose(strong["per_sample_mx"], [0, 0, 30 * 99 * area,
                                                          40 * 99 * area, 50 * 99 * area])
    with pytest.raises(ValueError, match="pixel_area_cm2"):
        un.flux_interval(samples, np.ones((3, 3)), mask)


# --------------------------------------------------------------------------------------
# the report over a set of images
# --------------------------------------------------------------------------------------

def test_calibration_report_before_and_after_scaling():
    rng = np.random.default_rng(12)
    size, n_samples = 128, 12
    disk = disk_mask(size, 0.95 * 60)

    def pairs(count):
        for _ in range(count):
            mu = rng.normal(0, 100, (size, size))
            spread = field(rng, (size, size), 2, 50)
            samples = mu + 0.5 * spread * rng.standard_normal((n_samples, size, size))
            truth = mu + spread * rng.standard_normal((size, size))
            truth[~disk] = np.nan
            yield truth, samples.astype(np.float32)

    validation = list(pairs(3))
    summaries = [un.sample_summary(samples) for _, samples in validation]
    scale = un.fit_scale([truth for truth, _ in validation], [m for m, _ in summaries],
                         [s for _, s in summaries], disk)
    test = list(pairs(3))
    report = un.calibration_report(iter(test), disk, scale=scale, n_bins=5)
    json.dumps(report, allow_nan=False)
    assert report["n_images"] == 3 and report["n_samples"] == [n_samples] * 3
    assert report["scale"] == scale and report["bin_factor"] == 8
    raw, scaled = report["raw"]["pixel"], report["scaled"]["pixel"]
    n = 3 * int(disk.sum())
    assert raw["n_pixels"] == scaled["n_pixels"] == n
    assert raw["coverage_1sigma"] < 0.45 and raw["coverage_2sigma"] < 0.8
    assert scaled["coverage_1sigma"] == pytest.approx(P1, abs=binomial_tolerance(P1, n) + 0.015)
    assert scaled["coverage_2sigma"] == pytest.approx(P2, abs=0.03)
    assert scaled["mean_sigma_gauss"] == pytest.approx(scale * raw["mean_sigma_gauss"])
    assert scaled["rmse_gauss"] == raw["rmse_gauss"]
    assert scaled["crps_gauss"] < raw["crps_gauss"]  # a wider, right ensemble scores better
    assert sum(raw["spread_skill"]["count"]) == n
    # the pixel CRPS is the pooled mean of crps() over the images (equal disks)
    expected_crps = np.mean([un.crps(samples, truth, disk) for truth, samples in test])
    assert raw["crps_gauss"] == pytest.approx(expected_crps, rel=1e-9)
    binned = report["raw"]["binned"]
    assert binned["n_pixels"] == 3 * int(binned_disk_mask(size, 0.95 * 60, 8).sum())
    # a report without a scale has no "scaled" part
    plain = un.calibration_report(test[:1], disk)
    assert plain["scale"] is None and "scaled" not in plain
    assert plain["raw"]["pixel"]["coverage_1sigma"] == pytest.approx(
        un.coverage(test[0][0], *un.sample_summary(test[0][1]), 1, disk))


# --------------------------------------------------------------------------------------
# figure and imports
# --------------------------------------------------------------------------------------

def test_spread_skill_figure(tmp_path):
    from solarmaggan.plotting import spread_skill_figure

    rng = np.random.default_rng(13)
    mean = rng.normal(0, 100, (64, 64))
    sigma = field(rng, (64, 64))
    truth = mean + 2 * sigma * rng.standard_normal((64, 64))
    raw = un.spread_skill(truth, mean, sigma)
    scaled = un.spread_skill(truth, mean, 2 * sigma)
    spread_skill_figure(tmp_path / "one.png", raw, "one curve")
    spread_skill_figure(tmp_path / "two.png", {"raw": raw, "scaled x2": scaled}, "two")
    flat = un.spread_skill(mean, mean, np.zeros_like(sigma), n_bins=3)  # linear axes
    spread_skill_figure(tmp_path / "flat.png", flat)
    for name in ("one", "two", "flat"):
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["flat.png", "one.png",
                                                                "two.png"]


def test_the_module_imports_no_tensorflow():
    code = ("import sys, solarmaggan.uncertainty; "
            "assert not {'tensorflow', 'keras', 'solarmaggan.metrics', 'solarmaggan.models'} "
            "& set(sys.modules), sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=120)


def test_flux_calibration_covers_held_out_pairs_despite_a_bias():
    from solarmaggan.uncertainty import calibrated_flux_range, fit_flux_calibration

    rng = np.random.default_rng(3)

    def pairs(n):  # predictions half the truth on average, with a 40 % log-normal scatter
        true = 10 ** rng.uniform(21, 22.5, n)
        return true * 0.5 * np.exp(rng.normal(0.0, 0.4, n)), true

    calibration = fit_flux_calibration(*pairs(300))
    assert calibration["log_ratio_low"] < math.log(2.0) < calibration["log_ratio_high"]
    predicted, true = pairs(4000)
    low, high = calibrated_flux_range(predicted, calibration)
    assert 0.64 < np.mean((low <= true) & (true <= high)) < 0.73
    # the raw +-1 sigma of the scatter without the bias would cover far less
    assert np.mean(np.abs(np.log(true / predicted)) <= 0.4) < 0.3
    with pytest.raises(ValueError, match="needs at least 10"):
        fit_flux_calibration(*pairs(6))
