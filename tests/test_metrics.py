"""The metrics (solarmaggan.metrics) and the block mean (data_prep.geometry), each checked
against an independent computation with a known answer."""

import math

import numpy as np
import pytest
from astropy import constants, units

from data_prep.geometry import binned_disk_mask, block_mean
from solarmaggan.metrics import (
    aggregate,
    compare_magnetograms,
    magnetic_flux,
    mu_map,
    pearson,
    pixel_area_cm2,
    pixel_correlation,
    root_mean_square_error,
    structural_similarity,
)

SIZE = 64
RADIUS = 28.0
CENTRE = (SIZE - 1) / 2


def _pixels_within(radius):
    """(row, col) of the pixel centres within ``radius`` of the centre, by a plain loop."""
    return [(i, j) for i in range(SIZE) for j in range(SIZE)
            if math.sqrt((i - CENTRE) ** 2 + (j - CENTRE) ** 2) <= radius]


def _smooth_field(seed=0):
    """A smooth bipolar-ish field in Gauss, plus a little noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    return 80 * np.sin(7 * x + 1) * np.cos(5 * y) + rng.normal(0, 3, (SIZE, SIZE))


def test_pearson_matches_numpy_and_is_nan_when_undefined():
    rng = np.random.default_rng(1)
    a = rng.normal(size=500)
    b = 0.6 * a + rng.normal(size=500)
    # the CC's epsilon (1e-8 on the variances) is the only difference from numpy's
    assert pearson(a, b) == pytest.approx(np.corrcoef(a, b)[0, 1], abs=1e-7)
    a_holed, b_holed = a.copy(), b.copy()
    a_holed[:10], b_holed[-5:] = np.nan, np.inf
    keep = slice(10, -5)
    assert pearson(a_holed, b_holed) == pytest.approx(np.corrcoef(a[keep], b[keep])[0, 1])
    assert math.isnan(pearson(np.full(50, 3.0), b[:50]))
    assert math.isnan(pearson(np.array([1.0]), np.array([2.0])))


def test_block_mean_of_a_ramp_and_of_a_batch():
    ramp = np.arange(5 * 7, dtype=float).reshape(5, 7)  # value = 7 * row + col
    # 2x2 blocks, ragged last row and column dropped: mean = 7 * (2i + 0.5) + (2j + 0.5)
    expected = np.array([[4.0, 6.0, 8.0], [18.0, 20.0, 22.0]])
    np.testing.assert_allclose(block_mean(ramp, 2), expected)
    assert block_mean(ramp, 2).dtype == np.float64
    holed = ramp.copy()
    holed[0, 0] = np.nan
    binned = block_mean(holed, 2)
    assert np.isnan(binned[0, 0]) and np.isfinite(binned).sum() == 5
    # leading axes are kept: a batch of two ramps gives two binned ramps, in float32
    batch = np.stack([ramp, 2 * ramp]).astype(np.float32)
    np.testing.assert_allclose(block_mean(batch, 2), np.stack([expected, 2 * expected]))
    assert block_mean(batch, 2).dtype == np.float32


def test_binned_disk_mask_keeps_the_blocks_wholly_on_the_disk():
    mask = binned_disk_mask(SIZE, RADIUS, 8)
    whole = np.array([[all(math.hypot(8 * p + a - CENTRE, 8 * q + b - CENTRE) <= RADIUS
                           for a in range(8) for b in range(8)) for q in range(8)]
                      for p in range(8)])
    np.testing.assert_array_equal(mask, whole)


def test_batch_metrics_count_only_masked_finite_pixels():
    rng = np.random.default_rng(4)
    target = rng.normal(size=(2, SIZE, SIZE, 1))
    generated = 0.5 * target + rng.normal(size=target.shape)
    inside = np.zeros((SIZE, SIZE), bool)
    for i, j in _pixels_within(RADIUS):
        inside[i, j] = True
    garbage = generated.copy()
    garbage[:, ~inside] = 1e6
    garbage[0, 0, 0, 0] = np.nan  # off the disk anyway
    cc = np.asarray(pixel_correlation(target, garbage, inside))
    rmse = np.asarray(root_mean_square_error(target, garbage, inside))
    for k in range(2):
        t, g = target[k, ..., 0][inside], generated[k, ..., 0][inside]
        assert cc[k] == pytest.approx(np.corrcoef(t, g)[0, 1], abs=1e-7)
        assert rmse[k] == pytest.approx(np.sqrt(np.mean((g - t) ** 2)), rel=1e-9)
    # a NaN inside the disk is left out too
    holed = generated.copy()
    holed[1, 32, 32, 0] = np.nan
    keep = inside.copy()
    keep[32, 32] = False
    assert float(np.asarray(pixel_correlation(target, holed, inside))[1]) == pytest.approx(
        np.corrcoef(target[1, ..., 0][keep], generated[1, ..., 0][keep])[0, 1], abs=1e-7)


def test_ssim_depends_on_the_range_only_through_the_scaling():
    field = _smooth_field()[None, :, :, None]
    noisy = field + np.random.default_rng(5).normal(0, 10, field.shape)
    in_gauss = float(structural_similarity(field, noisy, -100.0, 100.0)[0])
    normalised = float(structural_similarity(field / 100.0, noisy / 100.0)[0])
    assert in_gauss == pytest.approx(normalised, abs=1e-6)
    assert float(structural_similarity(field, field, -100.0, 100.0)[0]) == pytest.approx(1.0)
    assert in_gauss < 0.99


def test_pixel_area_one_arcsec_at_one_au():
    side = (1 * units.arcsec).to(units.rad).value * (constants.au - constants.R_sun)
    expected = side.to(units.cm).value ** 2
    area = pixel_area_cm2(1.0, constants.au.to(units.m).value)
    assert area == pytest.approx(expected, rel=1e-9)
    assert 5.1e15 < area < 5.3e15  # (~722 km)^2


def test_magnetic_flux_uniform_disk_threshold_and_antisymmetric_net():
    area = 1e16
    inside = _pixels_within(RADIUS)
    disk = np.zeros((SIZE, SIZE))
    for i, j in inside:
        disk[i, j] = 1.0
    uniform = 100.0 * disk + 500.0 * (1 - disk)  # strong field off the disk must not count
    flux = magnetic_flux(uniform, RADIUS, area)
    assert flux["unsigned_mx"] == pytest.approx(100.0 * area * len(inside))
    assert flux["net_mx"] == pytest.approx(flux["unsigned_mx"])
    assert flux["negative_mx"] == 0.0

    weak = uniform.copy()
    weak[:, : SIZE // 2] = 5.0 * disk[:, : SIZE // 2]  # left half at 5 G, below 10 G
    strong_count = sum(1 for i, j in inside if j >= SIZE // 2)
    assert magnetic_flux(weak, RADIUS, area)["unsigned_mx"] == pytest.approx(
        100.0 * area * strong_count)
    assert magnetic_flux(weak, RADIUS, area, threshold_gauss=4.0)["unsigned_mx"] == (
        pytest.approx(area * (100.0 * strong_count + 5.0 * (len(inside) - strong_count))))

    field = _smooth_field()
    antisymmetric = (field - field[:, ::-1]) * disk  # B(x) = -B(mirror x): net flux 0
    flux = magnetic_flux(antisymmetric, RADIUS, area)
    assert flux["unsigned_mx"] > 0
    assert abs(flux["net_mx"]) < 1e-9 * flux["unsigned_mx"]
    assert flux["positive_mx"] == pytest.approx(-flux["negative_mx"])


def test_magnetic_flux_deprojection_of_a_uniform_field():
    inside = _pixels_within(RADIUS)
    uniform = np.full((SIZE, SIZE), 100.0)
    boosts = [1 / max(math.sqrt(max(0.0, 1 - ((i - CENTRE) ** 2 + (j - CENTRE) ** 2)
                                    / RADIUS**2)), 0.1) for i, j in inside]
    plain = magnetic_flux(uniform, RADIUS, 1.0)["unsigned_mx"]
    deprojected = magnetic_flux(uniform, RADIUS, 1.0, deproject=True)["unsigned_mx"]
    assert deprojected / plain == pytest.approx(np.mean(boosts))
    mu = mu_map(SIZE, RADIUS)
    assert np.isfinite(mu).sum() == len(inside) and np.nanmax(mu) <= 1.0


def test_compare_identical_offset_and_negated():
    true = _smooth_field()
    same = compare_magnetograms(true, true.copy(), RADIUS)
    assert same["pixel_cc"] == pytest.approx(1.0) and same["pixel_cc_binned"] == pytest.approx(1.0)
    assert same["rmse_gauss"] == 0.0 and same["mae_gauss"] == 0.0
    assert same["ssim"] == pytest.approx(1.0, abs=1e-5)
    assert "unsigned_flux_true_mx" not in same

    offset = compare_magnetograms(true, true + 10.0, RADIUS)
    assert offset["rmse_gauss"] == pytest.approx(10.0)
    assert offset["mae_gauss"] == pytest.approx(10.0)
    assert offset["rmse_gauss_binned"] == pytest.approx(10.0)
    assert offset["pixel_cc"] == pytest.approx(1.0)

    assert compare_magnetograms(true, -true, RADIUS)["pixel_cc"] == pytest.approx(-1.0)


def test_compare_ignores_pixels_beyond_the_disk_fraction():
    rng = np.random.default_rng(2)
    true = _smooth_field()
    generated = true + rng.normal(0, 20, true.shape)
    clean = compare_magnetograms(true, generated, RADIUS, 1e16)
    outside = np.ones((SIZE, SIZE), dtype=bool)
    for i, j in _pixels_within(0.95 * RADIUS):
        outside[i, j] = False
    garbage = generated.copy()
    garbage[outside] = rng.normal(0, 3000, outside.sum())
    garbage[0, 0] = np.nan
    dirty = compare_magnetograms(true, garbage, RADIUS, 1e16)
    for key in ("pixel_cc", "pixel_cc_binned", "rmse_gauss", "rmse_gauss_binned", "mae_gauss",
                "cc_active", "cc_quiet", "unsigned_flux_generated_mx", "net_flux_generated_mx"):
        assert dirty[key] == pytest.approx(clean[key], rel=1e-12), key
    assert clean["pixel_cc"] < 1.0


def test_compare_active_quiet_split():
    rng = np.random.default_rng(3)
    true = rng.normal(0, 5, (SIZE, SIZE))  # quiet Sun: weak noise
    true[24:40, 24:40] = 800.0 + 100 * rng.normal(size=(16, 16))  # a strong spot: 2x2 bins of 8x8
    generated = true.copy()
    generated[24:40, 24:40] += 30.0  # only the spot is off, by 30 G
    scores = compare_magnetograms(true, generated, RADIUS, bin_factor=8,
                                  active_threshold_gauss=250.0)
    assert scores["rmse_active_gauss"] == pytest.approx(30.0)
    assert scores["rmse_quiet_gauss"] == pytest.approx(0.0, abs=1e-12)
    assert scores["cc_active"] == pytest.approx(1.0) and scores["cc_quiet"] == pytest.approx(1.0)
    # the 4 spot bins and the quiet bins wholly on the 0.95 R disk, counted independently
    binned = true[:64, :64].reshape(8, 8, 8, 8).mean(axis=(1, 3))
    whole = [(p, q) for p in range(8) for q in range(8)
             if all(math.hypot(8 * p + a - CENTRE, 8 * q + b - CENTRE) <= 0.95 * RADIUS
                    for a in range(8) for b in range(8))]
    assert sum(abs(binned[p, q]) >= 250 for p, q in whole) == 4
    # a threshold above the spot leaves the active class empty
    none_active = compare_magnetograms(true, generated, RADIUS, active_threshold_gauss=5000.0)
    assert math.isnan(none_active["cc_active"]) and math.isnan(none_active["rmse_active_gauss"])


def test_aggregate_means_medians_and_flux_cc():
    true_flux = [1e21, 3e21, 2e21, 5e21]
    records = [{"index": k, "time": "2011-01-01", "pixel_cc": cc, "unsigned_flux_true_mx": f,
                "unsigned_flux_generated_mx": 2 * f}
               for k, (cc, f) in enumerate(zip([0.9, 0.7, 0.8, math.nan], true_flux))]
    summary = aggregate(records)
    assert summary["n_images"] == 4
    assert summary["pixel_cc_mean"] == pytest.approx(0.8)
    assert summary["pixel_cc_median"] == pytest.approx(0.8)
    assert summary["unsigned_flux_true_mx_median"] == pytest.approx(2.5e21)
    assert summary["flux_cc"] == pytest.approx(1.0)
    assert "index_mean" not in summary and "time_mean" not in summary
    assert math.isnan(aggregate(records[:2])["flux_cc"])
