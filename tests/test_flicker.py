"""Temporal coherence (solarmaggan.regions.flicker): differential-rotation compensation,
the flicker ratio of map sequences, and of generated FITS sequences against the truth."""

import math
import subprocess
import sys

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.time import Time

from data_prep.geometry import full_sun_header, full_sun_latitudes_deg, full_sun_longitudes_deg
from data_prep.toysun.evolution import carrington_drift_deg_per_day, carrington_offset_deg
from data_prep.toysun.instruments import (Detector, default_detector, instrument_header,
                                          truth_magnetogram_header, write_float_image)
from data_prep.toysun.views import ViewGeometry
from solarmaggan.regions import flicker
from solarmaggan.regions.detection import DetectionSettings

SHAPE = (60, 120)
TIME = Time("2011-03-01T00:00:00")
LATITUDE = full_sun_latitudes_deg(SHAPE[0])
LONGITUDE = full_sun_longitudes_deg(full_sun_header(TIME, SHAPE, "carrington"))
# (Carrington latitude, longitude, peak B_r G, sigma deg) of broad spots at mid latitudes,
# where the drift is about -1 to -2 deg/day
SPOTS = [(30, 60, 300, 10), (35, 90, -300, 10), (-40, 200, -250, 12), (-35, 230, 250, 12)]


def spots(lat_deg, lon_deg, days=0.0, growth=0.0):
    """B_r (G) at Carrington (lat, lon) deg of :data:`SPOTS` carried ``days`` by the
    differential rotation, each spot's peak times (1 + growth x days x its own sign)."""
    lat, lon = np.radians(lat_deg), np.asarray(lon_deg, dtype=np.float64)
    field = np.zeros(np.broadcast(lat, lon).shape)
    for number, (spot_lat, spot_lon, peak, sigma) in enumerate(SPOTS):
        centre = spot_lon + float(carrington_drift_deg_per_day(spot_lat)) * days
        cosine = (np.sin(lat) * math.sin(math.radians(spot_lat)) + np.cos(lat)
                  * math.cos(math.radians(spot_lat)) * np.cos(np.radians(lon - centre)))
        angle = np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))
        change = 1.0 + growth * days * (-1) ** number
        field = field + peak * change * np.exp(-0.5 * (angle / sigma) ** 2)
    return field


def sheared(days):
    """A smooth field that each latitude carries at its own drift: after ``days`` it is
    exactly the first one moved by the differential rotation."""
    lat = LATITUDE[:, None]
    lon = LONGITUDE[None, :] - carrington_drift_deg_per_day(lat) * days
    return 100.0 * np.sin(np.radians(2 * lat)) ** 2 * (np.cos(np.radians(2 * lon))
                                                  + 0.5 * np.sin(np.radians(3 * lon + 40.0)))


def test_rotate_to_shifts_each_row_by_its_drift_and_keeps_nan():
    field = np.zeros(SHAPE)
    field[:, 40] = 1.0
    field[10, 80] = np.nan
    assert np.array_equal(flicker.rotate_to(field, LONGITUDE, 0.0), field, equal_nan=True)
    days = 6.0
    rotated = flicker.rotate_to(field, LONGITUDE, days)
    shift_deg = carrington_drift_deg_per_day(LATITUDE) * days
    centroid = np.nansum(rotated * LONGITUDE[None, :], axis=1) / np.nansum(rotated, axis=1)
    assert centroid == pytest.approx(LONGITUDE[40] + shift_deg, abs=1e-9)  # no row wraps
    assert np.nansum(rotated, axis=1) == pytest.approx(np.ones(SHAPE[0]))
    # the NaN at row 10 spreads to the two columns that use it, nothing else is NaN
    assert np.isnan(rotated).sum() == 2 and np.isnan(rotated[10]).sum() == 2
    with pytest.raises(ValueError, match="360 deg"):
        flicker.rotate_to(field, LONGITUDE[:60].repeat(2), days)


def test_a_differentially_rotated_field_has_no_change_after_compensation():
    days = 8.0
    earlier, later = sheared(0.0), sheared(days)
    unseen = np.zeros(SHAPE, bool)
    unseen[:, 100:] = True  # a part of the map never seen
    earlier[unseen], later[unseen] = np.nan, np.nan
    compensated = flicker.frame_change(earlier, later, LONGITUDE, days)
    plain = flicker.frame_change(earlier, later, LONGITUDE, 0.0)
    assert compensated["days"] == days and plain["days"] == 0.0
    assert plain["rms_gauss"] > 20.0  # a large change without compensation
    assert compensated["rms_gauss"] < 0.01 * plain["rms_gauss"]
    assert 0 < compensated["pixels"] < plain["pixels"] == (~unseen).sum()  # the rotated hole is wider
    empty = flicker.frame_change(np.full(SHAPE, np.nan), later, LONGITUDE, days)
    assert empty["pixels"] == 0 and math.isnan(empty["rms_gauss"])


def truth_sequence(days):
    """True maps of :func:`spots`, evolving (5 %/day) and rotating, at ``days``."""
    return [spots(LATITUDE[:, None], LONGITUDE[None, :], day, growth=0.05) for day in days]


def test_independent_noise_in_each_frame_makes_the_ratio_grow_with_the_noise():
    days = [0.0, 1.0, 2.5, 3.5, 5.0]
    times = [TIME + day * u.day for day in days]
    truths = truth_sequence(days)
    for truth, day in zip(truths, days):  # the far side: a window that moves with time
        truth[:, (np.arange(SHAPE[1]) + int(day * 4)) % SHAPE[1] >= 80] = np.nan
    rng = np.random.default_rng(1)
    ratios = []
    for noise in (0.0, 5.0, 20.0, 60.0):
        maps = [truth + noise * rng.standard_normal(SHAPE) for truth in truths]
        result = flicker.map_sequence_flicker(maps, truths, LONGITUDE, times)
        assert result["pairs"] == 4 and len(result["per_pair"]) == 4
        assert result["median_cadence_days"] == pytest.approx(1.25)
        weights = np.array([p["pixels"] for p in result["per_pair"]])
        truth_rms = np.array([p["truth_rms_gauss"] for p in result["per_pair"]])
        assert result["truth_rms_gauss"] == pytest.approx(
            math.sqrt((truth_rms ** 2 * weights).sum() / weights.sum()))
        ratios.append(result["ratio"])
        assert result["meets_target"] == (result["ratio"] <= 1.2)
    assert ratios[0] == pytest.approx(1.0)  # the truth itself
    assert 1.0 < ratios[1] < ratios[2] < ratios[3] and ratios[3] > 2.0
    assert result["target_ratio"] == 1.2 and not result["meets_target"]


def test_pairs_are_taken_in_time_order_and_long_gaps_are_skipped():
    days = [0.0, 2.0, 4.0, 24.0, 26.0]
    times = [TIME + day * u.day for day in days]
    truths = truth_sequence(days)
    maps = [truth + 10.0 * np.random.default_rng(n).standard_normal(SHAPE) for n, truth in enumerate(truths)]
    result = flicker.map_sequence_flicker(maps, truths, LONGITUDE, times)
    assert (result["pairs"], result["skipped_gaps"]) == (3, 1)
    order = [4, 1, 3, 0, 2]
    shuffled = flicker.map_sequence_flicker([maps[i] for i in order], [truths[i] for i in order],
                                            LONGITUDE, [times[i] for i in order])
    assert shuffled["ratio"] == pytest.approx(result["ratio"])
    assert [p["time_earlier"] for p in shuffled["per_pair"]] == [times[i].isot for i in (0, 1, 3)]
    north = np.zeros(SHAPE, bool)
    north[SHAPE[0] // 2:] = True
    masked = flicker.map_sequence_flicker(maps, truths, LONGITUDE, times, mask=north)
    assert [p["pixels"] for p in masked["per_pair"]] == [SHAPE[0] * SHAPE[1] // 2] * 3
    assert flicker.map_sequence_flicker(maps, truths, LONGITUDE, times, max_gap_days=30)["pairs"] == 4
    with pytest.raises(ValueError, match="as many truths"):
        flicker.map_sequence_flicker(maps, truths[:3], LONGITUDE, times)


def view_files(folder, days, noise, lon_deg=60.0, growth=0.3, clip=None):
    """Truth and generated LOS magnetograms (B_r mu, NaN off the disk) of :func:`spots`
    (growing or decaying by ``growth`` a day) seen from Stonyhurst longitude ``lon_deg``
    (STEREO-A; its disk holds the southern spots) at TIME + ``days``:
    the truth on EUVI's rolled, offset 64-px detector (the toy Sun's truth header), the
    generated file on the standard frame (square, north up, Sun centred) plus Gaussian
    noise of ``noise`` G drawn anew for each file; with ``clip`` G the generated field is
    clipped to +-clip and says so (CLIPMIN / CLIPMAX), as generate writes it."""
    rng = np.random.default_rng(7)
    generated, truths = [], []
    for day in days:
        time = TIME + day * u.day
        observer = SkyCoord(lon_deg * u.deg, 0 * u.deg, 1.0 * u.au, frame="heliographic_stonyhurst",
                            obstime=time)
        stamp = time.strftime("%Y%m%d_%H%M%S")
        for kind, detector in (("truth", default_detector("euvi", 64)), ("generated", Detector(64, 50.0))):
            header = truth_magnetogram_header(instrument_header("euvi", time, observer, detector))
            geometry = ViewGeometry(header, carrington_offset_deg(time))
            br = spots(geometry.latitude_deg, geometry.longitude_deg, day, growth)
            if kind == "generated":
                header.update({"TELESCOP": "solarmaggan", "INSTRUME": "AI-generated LOS magnetogram",
                               "CONTENT": "AI-GENERATED LINE-OF-SIGHT MAGNETOGRAM"})
                br = br + noise * rng.standard_normal(br.shape)
            los = np.full(geometry.shape, np.nan)
            los[geometry.on_disk] = br * geometry.mu[geometry.on_disk]
            if kind == "generated" and clip is not None:
                los = np.clip(los, -clip, clip)
                header.update({"CLIPMIN": -clip, "CLIPMAX": clip})
            (folder / kind).mkdir(parents=True, exist_ok=True)
            path = write_float_image(folder / kind / f"{stamp}_{kind}.fits", los, header)
            (generated if kind == "generated" else truths).append(path)
    return generated, truths


def test_sequence_flicker_matches_each_generated_file_with_its_truth(tmp_path):
    settings = DetectionSettings(shape=SHAPE)
    generated, truths = view_files(tmp_path, [0.0, 1.0, 2.0], noise=0.0)
    truths[2].unlink()  # the last generated file has no truth
    result = flicker.sequence_flicker(tmp_path / "generated", tmp_path / "truth", settings)
    assert list(result["by_observer"]) == ["STEREO_A"]
    one = result["by_observer"]["STEREO_A"]
    assert one["files"] == [str(path) for path in generated[:2]] and one["pairs"] == 1
    assert one["median_cadence_days"] == pytest.approx(1.0, abs=1e-6)
    assert [item["path"] for item in result["unmatched"]] == [str(generated[2])]
    assert result["pairs"] == 1 and result["grid"] == list(SHAPE)
    assert result["truth_rms_gauss"] > 10.0
    assert result["ratio"] == pytest.approx(1.0, abs=0.05)  # the same field on another detector
    assert result["meets_target"]

    noisy, truths = view_files(tmp_path / "noisy", [0.0, 1.0, 2.0], noise=40.0)
    flickering = flicker.sequence_flicker(noisy, dict(zip(noisy, truths)), settings)
    assert flickering["pairs"] == 2 and flickering["unmatched"] == []
    assert flickering["ratio"] > 1.5 and not flickering["meets_target"]
    with pytest.raises(ValueError, match="no generated magnetogram has a truth"):
        flicker.sequence_flicker(generated[2:], tmp_path / "truth", settings)


def test_the_truth_is_clipped_to_the_generated_files_range(tmp_path):
    settings = DetectionSettings(shape=SHAPE)
    generated, _ = view_files(tmp_path, [0.0, 1.0, 2.0], noise=0.0, clip=15.0)
    clipped = flicker.sequence_flicker(generated, tmp_path / "truth", settings)
    unclipped = flicker.sequence_flicker(generated, tmp_path / "truth", settings,
                                         clip_truth=False)
    assert clipped["truth_clipped"] and not unclipped["truth_clipped"]
    assert clipped["ratio"] == pytest.approx(1.0, abs=0.1)
    assert unclipped["truth_rms_gauss"] > 1.3 * clipped["truth_rms_gauss"]
    assert unclipped["ratio"] < 0.8


def test_the_flicker_module_imports_no_tensorflow():
    code = ("import sys, solarmaggan.regions.flicker; "
            "assert not {'tensorflow', 'keras'} & set(sys.modules), sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=120)
