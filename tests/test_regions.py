"""Far-side active regions (solarmaggan.regions): truth catalogue, detection, tracking,
arrival forecasts, the command."""

import csv
import math
import subprocess
import sys

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time

from data_prep.geometry import full_sun_header, full_sun_latitudes_deg, full_sun_longitudes_deg
from data_prep.toysun.region_truth import TRUTH_COLUMNS, region_record, truth_rows
from solarmaggan.regions import catalogue as cat
from solarmaggan.regions.detection import DetectionSettings, detect_regions

SHAPE = (90, 180)
TIME = "2011-03-01T00:00:00"


def bipole_map(regions, shape=SHAPE):
    """B_r (G) on a CEA grid: each region (lat, lon, peak G, separation deg, leading sign)
    as two Gaussians of sigma 2 deg, the leading one to the west, no tilt."""
    latitude = full_sun_latitudes_deg(shape[0])[:, None]
    longitude = full_sun_longitudes_deg(full_sun_header(TIME, shape, "carrington"))[None, :]
    field = np.zeros(shape)
    for lat, lon, peak, separation, leading in regions:
        for offset, sign in ((separation / 2, leading), (-separation / 2, -leading)):
            centre = lon + offset / math.cos(math.radians(lat))
            cosine = (np.sin(np.radians(latitude)) * math.sin(math.radians(lat))
                      + np.cos(np.radians(latitude)) * math.cos(math.radians(lat))
                      * np.cos(np.radians(longitude - centre)))
            field += sign * peak * np.exp((cosine - 1.0) / math.radians(2.0) ** 2)
    return field


def test_the_truth_catalogue_holds_each_region_with_its_flux_and_centroid():
    from data_prep.toysun.evolution import WholeSun

    rows = truth_rows(0, [TIME], 0.2)
    assert rows and set(rows[0]) == set(TRUTH_COLUMNS)
    living = WholeSun(0, grid_deg=0.2).active_regions(TIME)
    assert [row["region_id"] for row in rows] == [name for name, *_ in living]
    # one isolated Gaussian element: flux 2 pi sigma^2 R^2 peak, centroid at its centre
    element = {"latitude_deg": np.array([20.0]), "longitude_deg": np.array([100.0]),
               "sigma_deg": np.array([1.5]), "gauss": np.array([500.0])}
    record = region_record(element, -1)
    expected = 2 * math.pi * (math.radians(1.5) * 6.957e10) ** 2 * 500.0
    assert record["flux_mx"] == pytest.approx(expected, rel=0.01)
    assert (record["carrington_lat_deg"], record["carrington_lon_deg"]) == pytest.approx((20.0, 100.0), abs=0.05)


def test_bipoles_are_detected_with_their_position_flux_and_polarity():
    regions = [(15.0, 40.0, 400.0, 8.0, -1), (-20.0, 200.0, 300.0, 8.0, 1), (10.0, 358.0, 300.0, 8.0, 1)]
    field = bipole_map(regions)
    longitude = full_sun_longitudes_deg(full_sun_header(TIME, SHAPE, "carrington"))
    found = detect_regions(field, longitude, DetectionSettings(shape=SHAPE))
    assert len(found) == 3
    for lat, lon, peak, _, leading in regions:
        region = min(found, key=lambda item: float(cat.angular_distance_deg(lat, lon, item.carrington_lat_deg,
                                                                  item.carrington_lon_deg)))
        assert float(cat.angular_distance_deg(lat, lon, region.carrington_lat_deg, region.carrington_lon_deg)) < 1.0
        flux = 2 * 2 * math.pi * (math.radians(2.0) * 6.957e10) ** 2 * peak  # two polarities
        assert region.flux_mx == pytest.approx(flux, rel=0.1)
        assert region.leading_polarity == leading and abs(region.tilt_deg) < 3.0
    # a unipolar patch is not an active region
    lonely = bipole_map([(0.0, 100.0, 300.0, 8.0, 1)]) * (bipole_map([(0.0, 100.0, 300.0, 8.0, 1)]) > 0)
    assert detect_regions(lonely, longitude, DetectionSettings(shape=SHAPE)) == []


def test_a_region_rotating_from_the_far_side_keeps_its_id_and_arrives_when_sunpy_says():
    from sunpy.coordinates import HeliographicCarrington, HeliographicStonyhurst, RotatedSunFrame
    from astropy.coordinates import SkyCoord

    start = Time("2011-03-01T00:00:00")
    lat = -15.0
    # a region at Stonyhurst +150 (far side) at the start
    from sunpy.coordinates import sun

    lon = float((150.0 + sun.L0(start).to_value("deg")) % 360.0)

    def row(time, longitude, observer, flux=1e22):
        return {"time": Time(time).isot, "observer": observer, "carrington_lat_deg": lat,
                "carrington_lon_deg": longitude, "flux_mx": flux, "flux_lo_mx": 0.8 * flux,
                "flux_hi_mx": 1.2 * flux,
                "stonyhurst_lon_deg": float(cat.stonyhurst_longitude_deg(longitude, Time(time)))}

    later = start + 12 * u.day  # on the disk by then
    moved = float(cat.predicted_longitude_deg(lon, lat, 12.0)) + 1.5  # a little off the prediction
    other = (lon + 60.0) % 360.0  # another region, far away
    tracked = cat.track([row(start, lon, "STEREO_B", 2e22), row(start, other, "STEREO_B"),
                         row(later, moved, "SDO/HMI", 1.5e22)])
    ids = {(item["time"], item["carrington_lon_deg"]): item["region_id"] for item in tracked}
    assert ids[(start.isot, lon)] == ids[(later.isot, moved)] != ids[(start.isot, other)]
    forecast = cat.arrival_forecast([row(start, lon, "STEREO_B") | {"region_id": "R1"}])
    arrival = Time(forecast["predicted_arrival_time"])
    assert 8.5 < (arrival - start).to_value("day") < 9.5  # 120 deg at ~13.2 deg/day
    rotated = SkyCoord(RotatedSunFrame(lon=lon * u.deg, lat=lat * u.deg, rotated_time=arrival,
                                       base=HeliographicCarrington(observer="earth", obstime=start)))
    seen = rotated.transform_to(HeliographicStonyhurst(obstime=arrival))
    # sunpy's RotatedSunFrame puts it 0.29 deg short of the limb (about 30 minutes)
    assert seen.lon.wrap_at("180d").deg == pytest.approx(-90.0, abs=0.5)
    # decay fitted to the history: flux halves in 4 days -> the forecast flux follows
    history = [row(start - 4 * u.day, lon, "STEREO_B", 2e22) | {"region_id": "R1"},
               row(start, lon, "STEREO_B", 1e22) | {"region_id": "R1"}]
    decayed = cat.arrival_forecast(history)
    lead = (arrival - start).to_value("day")
    assert decayed["flux_mx"] == pytest.approx(1e22 * 0.5 ** (lead / 4.0), rel=1e-3)


def write_full_sun(path, field, time=TIME):
    header = full_sun_header(time, field.shape, "carrington")
    for key in ("NAXIS", "NAXIS1", "NAXIS2"):
        header.remove(key, ignore_missing=True)
    fits.PrimaryHDU(field.astype(np.float32), header).writeto(path)
    return path


def test_the_command_writes_the_named_columns_and_refuses_bad_inputs(tmp_path, capsys):
    from test_bad_inputs import expect, run_cli

    first = write_full_sun(tmp_path / "map_1.fits", bipole_map([(15.0, 40.0, 400.0, 8.0, -1)]))
    second = write_full_sun(tmp_path / "map_2.fits",
                            bipole_map([(15.0, float(cat.predicted_longitude_deg(40.0, 15.0, 1.0)), 380.0, 8.0, -1)]),
                            "2011-03-02T00:00:00")
    out = tmp_path / "regions"
    status, lines = run_cli(["regions", first, second, "--out", out, "--quiet"], capsys)
    assert status == 0, lines
    with open(out / "regions.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == cat.REGION_COLUMNS and len(rows) == 2
    assert rows[0]["region_id"] == rows[1]["region_id"]
    with open(out / "arrivals.csv", newline="") as handle:
        assert tuple(csv.DictReader(handle).fieldnames) == cat.ARRIVAL_COLUMNS
    bad_out = tmp_path / "bad"
    status, lines = run_cli(["regions", "--out", bad_out], capsys)
    expect(status, lines, 2, "no input files given", command="regions")
    no_observer = tmp_path / "no_observer.fits"
    header = fits.Header({"CTYPE1": "HPLN-TAN", "CTYPE2": "HPLT-TAN", "CUNIT1": "arcsec", "CUNIT2": "arcsec",
                          "CDELT1": 4.0, "CDELT2": 4.0, "CRPIX1": 32.5, "CRPIX2": 32.5, "CRVAL1": 0.0,
                          "CRVAL2": 0.0, "DATE-OBS": TIME, "BUNIT": "Gauss", "CONTENT": "MAGNETOGRAM",
                          "INSTRUME": "HMI_FRONT2", "TELESCOP": "SDO/HMI", "WAVELNTH": 6173.0})
    fits.PrimaryHDU(np.zeros((64, 64), np.float32), header).writeto(no_observer)
    status, lines = run_cli(["regions", first, no_observer, "--out", bad_out], capsys)
    expect(status, lines, 2, "no_observer.fits", command="regions")
    assert not bad_out.exists()


def test_the_region_modules_import_no_tensorflow():
    code = ("import sys, solarmaggan.regions.catalogue, solarmaggan.regions.scores, "
            "solarmaggan.regions.study, solarmaggan.regions.bulletin, solarmaggan.regions.flicker; "
            "assert not {'tensorflow', 'keras'} & set(sys.modules), sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=120)


def test_a_flux_calibration_sets_the_range_of_ai_inputs_only(tmp_path):
    from solarmaggan.uncertainty import calibrated_flux_range

    settings = DetectionSettings(shape=SHAPE)
    field = bipole_map([(15.0, 40.0, 400.0, 8.0, -1)])
    longitude = full_sun_longitudes_deg(full_sun_header(TIME, SHAPE, "carrington"))
    calibration = {"log_ratio_low": -0.2, "log_ratio_high": 0.9}
    ai = cat.Gridded(tmp_path / "ai.fits", Time(TIME), "STEREO_A", field, longitude,
                     sigma_gauss=np.full(SHAPE, 5.0))
    observed = cat.Gridded(tmp_path / "hmi.fits", Time(TIME), "SDO/HMI", field, longitude)
    (row,) = cat._region_rows(ai, settings, calibration)
    assert (row["flux_lo_mx"], row["flux_hi_mx"]) == pytest.approx(
        calibrated_flux_range(row["flux_mx"], calibration))
    (raw,) = cat._region_rows(ai, settings)
    assert raw["flux_hi_mx"] - raw["flux_mx"] == pytest.approx(raw["flux_mx"] - raw["flux_lo_mx"])
    (seen,) = cat._region_rows(observed, settings, calibration)
    assert seen["flux_lo_mx"] == seen["flux_mx"] == seen["flux_hi_mx"]
    bad = tmp_path / "calibration.json"
    bad.write_text('{"log_ratio_low": 1.0, "log_ratio_high": 0.5}')
    with pytest.raises(ValueError, match="calibration.json: needs numbers"):
        cat.read_flux_calibration(bad)
