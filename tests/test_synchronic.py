"""Synchronic full-Sun maps (solarmaggan.fullsun.synchronic) from line-of-sight
magnetograms of a known analytic radial field, seen from observers around the Sun."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.time import Time
import sunpy.coordinates  # noqa: F401  (registers the solar frames)

from data_prep.toysun.instruments import (default_detector, instrument_header,
                                          truth_magnetogram_header, write_float_image,
                                          write_instrument_file)
from data_prep.toysun.views import ViewGeometry
from solarmaggan.fullsun import synchronic as sm

TIME = Time("2011-03-01T00:00:00")
SIZE = 256
SHAPE = (90, 180)
# (Carrington latitude, longitude, peak B_r G, sigma deg) of the bipoles' spots
SPOTS = [(15, 40, 300, 5), (12, 52, -300, 5), (-20, 160, -250, 6), (-18, 175, 250, 6),
         (25, 280, 200, 6), (20, 295, -200, 6), (-5, 100, 150, 8), (55, 220, 200, 6)]


def true_br(lat_deg, lon_deg):
    """The analytic B_r (G) at Carrington latitude, longitude (deg): a 10 G dipole and
    Gaussian spots."""
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    field = 10.0 * np.sin(lat)
    for spot_lat, spot_lon, peak, sigma in SPOTS:
        cos_angle = (np.sin(lat) * np.sin(np.radians(spot_lat)) + np.cos(lat)
                     * np.cos(np.radians(spot_lat)) * np.cos(lon - np.radians(spot_lon)))
        angle = np.degrees(np.arccos(np.clip(cos_angle, -1, 1)))
        field = field + peak * np.exp(-0.5 * (angle / sigma) ** 2)
    return field


def carrington_offset(time) -> float:
    """Carrington longitude (deg) of Stonyhurst longitude 0 at ``time`` (sunpy's frames)."""
    from sunpy.coordinates import HeliographicCarrington

    point = SkyCoord(0 * u.deg, 0 * u.deg, frame="heliographic_stonyhurst", obstime=time)
    return float(point.transform_to(HeliographicCarrington(observer="earth", obstime=time)).lon.deg)


def observer(lon_deg, time=TIME, lat_deg=0.0, distance_au=1.0):
    return SkyCoord(lon_deg * u.deg, lat_deg * u.deg, distance_au * u.au,
                    frame="heliographic_stonyhurst", obstime=time)


def view(path, lon_deg, time=TIME, kind="truth", size=SIZE, field=true_br, instrument="hmi"):
    """Write the true LOS magnetogram (B_r mu, NaN off the disk) of ``field`` seen from
    Stonyhurst longitude ``lon_deg`` at ``time``: kind 'hmi' (a JSOC-style HMI file),
    'truth' (the toy Sun's truth file) or 'generated' (as solarmaggan generate labels it)."""
    header = instrument_header(instrument, time, observer(lon_deg, time),
                               default_detector(instrument, size))
    geometry = ViewGeometry(header, carrington_offset(time))
    los = np.full(geometry.shape, np.nan)
    los[geometry.on_disk] = field(geometry.latitude_deg, geometry.longitude_deg) * geometry.mu[geometry.on_disk]
    if kind == "hmi":
        return write_instrument_file(path, "hmi", los, header)
    truth = truth_magnetogram_header(header)
    if kind == "generated":
        truth["TELESCOP"] = "solarmaggan"
        truth["INSTRUME"] = "AI-generated LOS magnetogram"
        truth["CONTENT"] = "AI-GENERATED LINE-OF-SIGHT MAGNETOGRAM"
    return write_float_image(path, los, truth)


def map_coordinates(result):
    """Carrington (lat, lon) deg of the map's pixel centres."""
    import sunpy.map

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coords = sunpy.map.all_coordinates_from_map(result.to_map())
        if result.header["FRAME"] != "carrington":
            from sunpy.coordinates import HeliographicCarrington

            coords = coords.transform_to(HeliographicCarrington(observer="earth", obstime=coords.obstime))
    return coords.lat.deg, coords.lon.deg % 360.0


@pytest.fixture(scope="module")
def three_views(tmp_path_factory):
    folder = tmp_path_factory.mktemp("views")
    return [view(folder / "hmi.fits", 0.0, kind="hmi"),
            view(folder / "east.fits", -120.0, instrument="euvi"),
            view(folder / "west.fits", 120.0, instrument="euvi")]


@pytest.mark.parametrize("algorithm", sm.REPROJECTIONS)
def test_three_observers_recover_the_known_field(three_views, algorithm):
    settings = sm.SynchronicSettings(shape=SHAPE, time=TIME.isot)
    result = sm.build_synchronic(three_views, settings, algorithm=algorithm)
    lat, lon = map_coordinates(result)
    truth = true_br(lat, lon)
    covered = result.source >= 0
    assert covered.mean() > 0.85  # all longitudes, all but the polar caps
    assert set(np.unique(result.source)) == {-1, 0, 1, 2}
    assert np.isfinite(result.br_gauss).all()
    cc = np.corrcoef(result.br_gauss[covered], truth[covered])[0, 1]
    flux_error = np.abs(result.br_gauss[covered]).sum() / np.abs(truth[covered]).sum() - 1.0
    print(f"{algorithm}: CC {cc:.4f}, unsigned flux error {100 * flux_error:+.2f}%")
    assert cc >= 0.99
    assert abs(flux_error) <= 0.02


def spot_longitude(result, lat_range=(50.0, 70.0)):
    """B_r-weighted mean Carrington longitude (deg) of the positive spot in ``lat_range``."""
    lat, lon = map_coordinates(result)
    band = (lat >= lat_range[0]) & (lat <= lat_range[1]) & (result.source >= 0)
    weights = np.where(band, np.clip(result.br_gauss, 0.0, None), 0.0)
    weights = np.where(weights > 0.3 * weights.max(), weights, 0.0)
    return float((weights * lon).sum() / weights.sum())


def test_differential_rotation_moves_a_high_latitude_spot(tmp_path):
    from sunpy.sun.constants import sidereal_rotation_rate
    from sunpy.sun.models import differential_rotation

    before = TIME - 2 * u.day
    centre = carrington_offset(before) % 360.0  # the Earth's central meridian then

    def spot(lat, lon):
        angle = np.degrees(np.arccos(np.clip(
            np.sin(np.radians(lat)) * np.sin(np.radians(60.0)) + np.cos(np.radians(lat))
            * np.cos(np.radians(60.0)) * np.cos(np.radians(lon - centre)), -1, 1)))
        return 400.0 * np.exp(-0.5 * (angle / 4.0) ** 2)

    path = view(tmp_path / "early.fits", 0.0, time=before, kind="hmi", field=spot)
    at_once = sm.build_synchronic([path], sm.SynchronicSettings(shape=SHAPE, time=before.isot))
    later = sm.build_synchronic([path], sm.SynchronicSettings(shape=SHAPE, time=TIME.isot))
    assert later.age_hours[later.source == 0] == pytest.approx(48.0, abs=0.01)
    shift = (spot_longitude(later) - spot_longitude(at_once) + 180.0) % 360.0 - 180.0
    expected = float((differential_rotation(2 * u.day, 60 * u.deg)
                      - 2 * u.day * sidereal_rotation_rate).to_value(u.deg))
    print(f"differential rotation over 2 days at 60 deg: {shift:+.2f} deg, sunpy {expected:+.2f} deg")
    assert expected < -4.0  # the spot falls behind the Carrington frame
    assert shift == pytest.approx(expected, abs=0.5)


@pytest.mark.parametrize("frame", ["carrington", "stonyhurst"])
def test_written_map_opens_as_a_full_sun_map_pfss_accepts(three_views, tmp_path, frame):
    import sunpy.map
    from sunkit_magex import pfss

    out = tmp_path / f"sync_{frame}.fits"
    settings = sm.SynchronicSettings(shape=SHAPE, time=TIME.isot, frame=frame)
    record = sm.synchronic(out, three_views, settings, progress=False)
    assert record["out"] == str(out) and Path(record["quicklook"]).stat().st_size > 10_000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        synchronic_map = sunpy.map.Map(out)  # one map: the layers are tables
        pfss.Input(synchronic_map, 10, 2.5)
    assert synchronic_map.coordinate_frame.name == f"heliographic_{frame}"
    assert synchronic_map.data.shape == SHAPE
    assert synchronic_map.meta["ctype1"].endswith("CEA")
    with fits.open(out) as hdus:
        header = hdus[0].header
        assert header["NINPUTS"] == 3 and header["FRAME"] == frame
        assert [header[f"IKIND{i}"] for i in (1, 2, 3)] == ["observed"] * 3
        assert header["IFILE1"] == "hmi.fits" and header["ILON2"] == pytest.approx(-120.0, abs=1e-6)
        assert header["IDIST1"] == pytest.approx(1.0, abs=1e-6)
    layers = sm.read_layers(out)
    source = layers["SOURCE"]
    assert source.dtype == np.int16 and source.shape == SHAPE
    assert layers["AGE"].dtype == np.float32 and layers["AGE"].shape == SHAPE
    lat, lon = map_coordinates(sm.SynchronicMap(synchronic_map.data.astype(float), source, None,
                                                header, []))
    covered = source >= 0
    assert np.corrcoef(synchronic_map.data[covered], true_br(lat, lon)[covered])[0, 1] >= 0.99


def test_gaps_are_filled_from_a_full_sun_map(tmp_path):
    from data_prep.toysun.instruments import carrington_header

    fill_header = carrington_header(TIME - 10 * u.day, (60, 120))
    import sunpy.map
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coords = sunpy.map.all_coordinates_from_map(sunpy.map.Map(np.zeros((60, 120)), fill_header))
    fill = write_float_image(tmp_path / "synoptic.fits", true_br(coords.lat.deg, coords.lon.deg),
                             fill_header)
    path = view(tmp_path / "hmi.fits", 0.0, kind="hmi")
    settings = sm.SynchronicSettings(shape=SHAPE, time=TIME.isot, frame="stonyhurst")
    result = sm.build_synchronic([path], settings, fill=fill)
    filled = result.source == -1
    assert 0.4 < filled.mean() < 0.7
    lat, lon = map_coordinates(result)
    assert np.corrcoef(result.br_gauss[filled], true_br(lat, lon)[filled])[0, 1] > 0.95
    assert result.age_hours[filled] == pytest.approx(240.0, abs=0.01)
    assert result.header["FILLFILE"] == "synoptic.fits"
    without = sm.build_synchronic([path], settings)
    assert without.header["FILLMOD"] == "row mean" and np.isnan(without.age_hours[filled]).all()
    assert np.isfinite(without.br_gauss).all()
    row = np.flatnonzero(filled.any(axis=1) & ~filled.all(axis=1))[0]
    assert without.br_gauss[row][filled[row]] == pytest.approx(
        without.br_gauss[row][~filled[row]].mean())


def test_observed_data_win_over_generated_where_both_cover(tmp_path):
    observed = view(tmp_path / "hmi.fits", 0.0, kind="hmi")
    doubled = view(tmp_path / "ai.fits", 60.0, kind="generated", field=lambda la, lo: 2 * true_br(la, lo))
    settings = sm.SynchronicSettings(shape=SHAPE, time=TIME.isot)
    result = sm.build_synchronic([observed, doubled], settings)
    assert [item["kind"] for item in result.inputs] == ["observed", "generated"]
    alone = sm.build_synchronic([observed], settings)
    both = alone.source == 0
    assert (result.source[both] == 0).all()
    np.testing.assert_allclose(result.br_gauss[both], alone.br_gauss[both])
    only_ai = result.source == 1
    assert only_ai.sum() > 100 and not (both & only_ai).any()
    lat, lon = map_coordinates(result)
    assert np.corrcoef(result.br_gauss[only_ai], 2 * true_br(lat, lon)[only_ai])[0, 1] > 0.99
    blended = sm.build_synchronic([observed, doubled], dataclasses_replace(settings, blend_generated=True))
    assert (blended.source[both] == 1).any()
    assert not np.allclose(blended.br_gauss[both], alone.br_gauss[both])


def dataclasses_replace(settings, **changes):
    import dataclasses

    return dataclasses.replace(settings, **changes)


def test_balance_removes_the_net_flux_and_records_it(three_views):
    from data_prep.geometry import full_sun_pixel_area_cm2

    settings = sm.SynchronicSettings(shape=SHAPE, time=TIME.isot, balance=True)
    balanced = sm.build_synchronic(three_views, settings)
    plain = sm.build_synchronic(three_views, dataclasses_replace(settings, balance=False))
    assert balanced.balance_gauss == pytest.approx(plain.br_gauss.mean())
    assert abs(balanced.balance_gauss) > 0.01
    assert abs(balanced.br_gauss.sum()) < 1e-6 * np.abs(plain.br_gauss).sum()
    assert balanced.header["BALANCE"] == pytest.approx(balanced.balance_gauss)
    assert balanced.header["NETFLUX"] == pytest.approx(plain.br_gauss.sum() * full_sun_pixel_area_cm2(SHAPE))
    assert plain.balance_gauss is None and "BALANCE" not in plain.header


def parse(*argv):
    import argparse

    parser = argparse.ArgumentParser(prog="solarmaggan synchronic")
    sm.add_arguments(parser)
    return parser.parse_args([str(arg) for arg in argv])


def one_line_error(args, *expected):
    """run(args) raises a one-line ValueError containing ``expected``, writing nothing."""
    with pytest.raises(ValueError) as caught:
        sm.run(args)
    message = str(caught.value)
    assert "\n" not in message
    for text in expected:
        assert str(text) in message
    assert not Path(args.out).exists() and not Path(args.out).with_suffix(".png").exists()


def test_bad_inputs_are_refused_naming_the_file(tmp_path):
    good = view(tmp_path / "hmi.fits", 0.0, kind="hmi")
    out = tmp_path / "out.fits"
    header = truth_magnetogram_header(instrument_header("euvi", TIME, observer(90.0),
                                                        default_detector("euvi", 64)))
    blind = header.copy()
    for key in ("HGLN_OBS", "HGLT_OBS", "CRLN_OBS", "CRLT_OBS"):
        blind.remove(key)
    no_observer = write_float_image(tmp_path / "blind.fits", np.ones((64, 64)), blind)
    one_line_error(parse(out, good, no_observer), "blind.fits: missing observer keyword HGLN_OBS")
    empty = write_float_image(tmp_path / "empty.fits", np.full((64, 64), np.nan), header)
    one_line_error(parse(out, good, empty), "empty.fits: the image has no finite pixel")
    aia = instrument_header("aia", TIME, observer(0.0), default_detector("aia", 64), wavelength=304)
    euv = write_instrument_file(tmp_path / "aia304.fits", "aia", np.full((64, 64), 50.0), aia)
    one_line_error(parse(out, good, euv), "aia304.fits: not a line-of-sight magnetogram",
                   "BUNIT 'DN'", "WAVELNTH 304")
    late = view(tmp_path / "late.fits", 0.0, time=TIME + 8 * u.day, size=64)
    one_line_error(parse(out, good, late), "late.fits:", "days after", "7 days")
    one_line_error(parse(out, good, "--time", (TIME - 8 * u.day).isot), "hmi.fits:",
                   "days from the map time")
    one_line_error(parse(out, good, "--shape", 91, 180), "even integers", "91")
    one_line_error(parse(out, good, "--fill", good), "hmi.fits: not a full-Sun map")
    one_line_error(parse(out, good, "--mu-min", 1.5), "mu_min")
    one_line_error(parse(out, good, "--weight-power", -1), "weight_power")
    one_line_error(parse(out, good, "--time", "yesterday"), "time: cannot read")
    one_line_error(parse(tmp_path / "no" / "out.fits", good), "does not exist")


def test_the_full_sun_modules_import_no_tensorflow():
    code = ("import sys, solarmaggan.fullsun.synchronic, solarmaggan.fullsun.transport, "
            "solarmaggan.fullsun.assimilation, solarmaggan.fullsun.experiment; "
            "assert not {'tensorflow', 'keras', 'solarmaggan.generate', 'solarmaggan.models'} "
            "& set(sys.modules), sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=120)


@pytest.mark.parametrize("template", ["hmi_synoptic.header", "gong_synoptic.header"])
def test_real_synoptic_map_headers_serve_as_fill(tmp_path, template):
    from sunpy.data.test import get_test_filepath

    header = fits.Header.fromtextfile(get_test_filepath(template))
    shape = (int(header["NAXIS2"]), int(header["NAXIS1"]))
    for key in ("SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "BSCALE", "BZERO", "BLANK", "EXTEND"):
        header.remove(key, ignore_missing=True)
    fill = tmp_path / "synoptic.fits"
    fits.PrimaryHDU(np.full(shape, 7.0, dtype=np.float32), header).writeto(fill)
    path = view(tmp_path / "hmi.fits", 0.0, kind="hmi", size=64)
    settings = sm.SynchronicSettings(shape=SHAPE, time=TIME.isot, frame="stonyhurst")
    result = sm.build_synchronic([path], settings, fill=fill)
    filled = result.source == -1
    assert filled.mean() > 0.4
    assert result.br_gauss[filled] == pytest.approx(7.0)
    assert np.isfinite(result.age_hours[filled]).all()


def test_carrington_observer_keywords_alone_place_the_observer(tmp_path):
    """JSOC's HMI headers give the observer as CRLN_OBS / CRLT_OBS only."""
    header = truth_magnetogram_header(instrument_header("euvi", TIME, observer(-120.0),
                                                        default_detector("euvi", 128)))
    full = view(tmp_path / "full.fits", -120.0, instrument="euvi", size=128)
    with fits.open(full) as hdus:
        data = np.array(hdus[0].data)
    header.remove("HGLN_OBS")
    header.remove("HGLT_OBS")
    carrington_only = write_float_image(tmp_path / "crln.fits", data, header)
    settings = sm.SynchronicSettings(shape=SHAPE, time=TIME.isot)
    expected = sm.build_synchronic([full], settings)
    result = sm.build_synchronic([carrington_only], settings)
    assert result.inputs[0]["observer_lon_deg"] == pytest.approx(-120.0, abs=1e-3)
    np.testing.assert_array_equal(result.source, expected.source)
    np.testing.assert_allclose(result.br_gauss, expected.br_gauss, atol=0.5)


def test_one_view_covers_its_disk_out_to_mu_min_on_a_coarse_grid(tmp_path):
    """Blocks cut by the mu_min boundary keep their valid part: a 512-px EUVI view on a coarse
    (46, 90) grid (6-px blocks) covers its disk out towards mu_min, not a block short of it
    (measured: 97 % of the pixels with mu > 0.15 and 99 % with mu > 0.2; a plain block mean
    79 % and 85 %)."""
    single = [view(tmp_path / "east.fits", -60.0, size=512, instrument="euvi")]
    result = sm.build_synchronic(single, sm.SynchronicSettings(shape=(46, 90), time=TIME.isot))
    lat, lon = map_coordinates(result)
    centre_lon = (carrington_offset(TIME) - 60.0) % 360.0
    cos_angle = np.cos(np.radians(lat)) * np.cos(np.radians(lon - centre_lon))  # mu at 1 au ~ this
    assert (result.source[cos_angle > 0.15] == 0).mean() > 0.95
    assert (result.source[cos_angle > 0.2] == 0).mean() > 0.98


# --------------------------------------------------------------------------- uncertainty

#: sample patterns: +-1 per sample index, each summing to zero; A and B orthogonal (their
#: population covariance is 0), so the spreads they cause add as independent errors
PATTERN_A = np.array([1.0, -1.0, 1.0, -1.0])
PATTERN_B = np.array([1.0, 1.0, -1.0, -1.0])


def with_uncertainty(path, out, pattern=None, d_gauss=20.0, sigma=False, method="mc_dropout"):
    """Copy the generated file ``path`` to ``out`` as ``solarmaggan generate --samples``
    writes it: with ``pattern`` a SAMPLES layer (image + pattern[k] x d, G) and an
    UNCERTAINTY layer (their std, d); with ``sigma`` only the UNCERTAINTY layer (d); NaN
    off the disk; keywords UNCMETH, NSAMPLES, UNCSCALE."""
    from data_prep.fitsio import layer_hdu

    with fits.open(path) as hdus:
        image, header = np.array(hdus[0].data, dtype=np.float32), hdus[0].header.copy()
    off_disk = ~np.isfinite(image)
    count = len(pattern) if pattern is not None else 8
    header["UNCMETH"], header["NSAMPLES"], header["UNCSCALE"] = method, count, 1.0
    layers = []
    if pattern is not None or sigma:
        layers.append(layer_hdu("UNCERTAINTY", np.where(off_disk, np.nan, d_gauss).astype(np.float32), "G"))
    if pattern is not None:
        samples = image[None] + np.asarray(pattern, dtype=np.float32)[:, None, None] * np.float32(d_gauss)
        layers.append(layer_hdu("SAMPLES", samples.astype(np.float32), "G"))
    fits.HDUList([fits.PrimaryHDU(image, header), *layers]).writeto(out)
    return out


@pytest.fixture(scope="module")
def ai_views(tmp_path_factory):
    """HMI at Stonyhurst 0 and two AI-generated views (A at +120 deg, B at -120 deg), plain
    and with samples (patterns A / B, 20 and 30 G) or sigma layers."""
    folder = tmp_path_factory.mktemp("ai_views")
    views = {"hmi": view(folder / "hmi.fits", 0.0, kind="hmi")}
    for name, lon, pattern, d in (("a", 120.0, PATTERN_A, 20.0), ("b", -120.0, PATTERN_B, 30.0)):
        plain = views[name] = view(folder / f"ai_{name}.fits", lon, kind="generated")
        views[f"{name}_samples"] = with_uncertainty(plain, folder / f"ai_{name}_samples.fits", pattern, d)
        views[f"{name}_sigma"] = with_uncertainty(plain, folder / f"ai_{name}_sigma.fits", d_gauss=d,
                                                  sigma=True)
    views["a_three"] = with_uncertainty(views["a"], folder / "ai_a_three.fits", [1.0, 0.0, -1.0])
    return views


def test_sample_maps_give_the_spread_of_the_samples(ai_views):
    """One AI view whose samples are its image +-20 G: the primary B_r is that of the plain
    files, the SAMPLES average to it, UNCERTAINTY is 0 where HMI wins, about 20 G / mu on the
    AI-only region, and equals the sigma propagation (same linear path) everywhere,
    the row-model gaps included."""
    settings = sm.SynchronicSettings(shape=SHAPE, time=TIME.isot)
    plain = sm.build_synchronic([ai_views["hmi"], ai_views["a"]], settings)
    sampled = sm.build_synchronic([ai_views["hmi"], ai_views["a_samples"]], settings)
    propagated = sm.build_synchronic([ai_views["hmi"], ai_views["a_sigma"]], settings)
    assert plain.uncertainty_gauss is None and plain.samples_gauss is None
    assert "UNCMODE" not in plain.header and "NSAMPLES" not in plain.header
    np.testing.assert_array_equal(sampled.br_gauss, plain.br_gauss)
    np.testing.assert_array_equal(propagated.br_gauss, plain.br_gauss)
    np.testing.assert_array_equal(sampled.source, plain.source)
    assert sampled.samples_gauss.shape == (4, *SHAPE) and propagated.samples_gauss is None
    np.testing.assert_allclose(sampled.samples_gauss.mean(axis=0), plain.br_gauss, atol=1e-3)
    assert (sampled.header["UNCMODE"], sampled.header["NSAMPLES"], sampled.header["UNCMETH"]) == (
        "samples", 4, "mc_dropout")
    assert (propagated.header["UNCMODE"], propagated.header["NSAMPLES"]) == ("propagated", 8)

    sigma = sampled.uncertainty_gauss
    assert sigma.shape == SHAPE and np.isfinite(sigma).all()
    assert np.abs(sigma[plain.source == 0]).max() < 1e-9  # HMI wins where it covers
    lat, lon = map_coordinates(plain)
    centre = (carrington_offset(TIME) + 120.0) % 360.0
    cos_angle = np.cos(np.radians(lat)) * np.cos(np.radians(lon - centre))  # ~ mu at 1 au
    ai_only = (plain.source == 1) & (cos_angle > 0.3)
    assert ai_only.sum() > 500
    ratio = sigma[ai_only] * cos_angle[ai_only] / 20.0
    print(f"UNCERTAINTY x mu / d on the AI region: median {np.median(ratio):.4f}, "
          f"range {ratio.min():.4f}..{ratio.max():.4f}")
    assert np.median(ratio) == pytest.approx(1.0, abs=0.01)
    assert np.all(np.abs(ratio - 1.0) < 0.05)
    filled = plain.source == -1
    assert filled.any() and (sigma[filled] > 1.0).any()  # the row model carries the spread
    np.testing.assert_allclose(propagated.uncertainty_gauss, sigma, rtol=1e-4, atol=1e-4)


def test_two_ai_views_blend_their_spreads_as_independent_errors(ai_views, tmp_path):
    """A and B (orthogonal sample patterns) overlap: the std over the sample maps is
    sqrt(sum w_i^2 sigma_i^2) / sum w_i, the propagation formula, on every covered pixel;
    pixels filled from a fill map have no spread."""
    from data_prep.toysun.instruments import carrington_header

    fill_header = carrington_header(TIME - 10 * u.day, (30, 60))
    fill = write_float_image(tmp_path / "fill.fits", np.full((30, 60), 3.0), fill_header)
    settings = sm.SynchronicSettings(shape=SHAPE, time=TIME.isot)
    inputs = ["hmi", "a", "b"]
    sampled = sm.build_synchronic([ai_views[f"{n}_samples" if n != "hmi" else n] for n in inputs],
                                  settings, fill=fill)
    propagated = sm.build_synchronic([ai_views[f"{n}_sigma" if n != "hmi" else n] for n in inputs],
                                     settings, fill=fill)
    covered = sampled.source >= 0
    assert {1, 2} <= set(np.unique(sampled.source[covered]))
    np.testing.assert_allclose(sampled.uncertainty_gauss[covered],
                               propagated.uncertainty_gauss[covered], rtol=1e-4, atol=1e-4)
    # overlap of A and B (far side): the blend is below the larger single-input sigma
    lat, lon = map_coordinates(sampled)
    far = (np.abs(lat) < 30) & (np.abs(((lon - carrington_offset(TIME)) % 360.0) - 180.0) < 5)
    assert far.sum() > 10 and np.all(sampled.source[far] >= 1)
    assert np.all(sampled.uncertainty_gauss[far] < 0.95 * 30.0 / np.cos(np.radians(60.0)))
    assert np.all(sampled.uncertainty_gauss[far] > 0.5 * 20.0)
    assert np.abs(sampled.uncertainty_gauss[~covered]).max() < 1e-9
    assert np.abs(propagated.uncertainty_gauss[~covered]).max() == 0.0


def test_written_uncertainty_layers_round_trip(ai_views, tmp_path):
    import sunpy.map
    from matplotlib.image import imread

    out = tmp_path / "sync.fits"
    settings = sm.SynchronicSettings(shape=SHAPE, time=TIME.isot, balance=True)
    record = sm.synchronic(out, [ai_views["hmi"], ai_views["a_samples"]], settings, progress=False)
    assert (record["uncertainty"], record["samples"]) == ("samples", 4)
    layers = sm.read_uncertainty(out)
    assert layers["UNCERTAINTY"].dtype == np.float32 and layers["UNCERTAINTY"].shape == SHAPE
    assert layers["SAMPLES"].dtype == np.float32 and layers["SAMPLES"].shape == (4, *SHAPE)
    assert set(sm.read_layers(out)) == {"SOURCE", "AGE"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        synchronic_map = sunpy.map.Map(out)  # still one map
    assert synchronic_map.data.shape == SHAPE and synchronic_map.meta["nsamples"] == 4
    # each sample balanced by its own mean; their mean is the balanced primary map
    assert np.abs(layers["SAMPLES"].astype(float).mean(axis=(1, 2))).max() < 1e-3
    np.testing.assert_allclose(layers["SAMPLES"].mean(axis=0), synchronic_map.data, atol=2e-3)
    np.testing.assert_allclose(layers["UNCERTAINTY"], layers["SAMPLES"].std(axis=0), atol=2e-3)

    plain = tmp_path / "plain.fits"
    sm.synchronic(plain, [ai_views["hmi"], ai_views["a"]], settings, progress=False)
    assert sm.read_uncertainty(plain) == {}
    # the quicklook gains the uncertainty panel below the map
    assert imread(out.with_suffix(".png")).shape[0] > 1.5 * imread(plain.with_suffix(".png")).shape[0]


def test_inconsistent_uncertainty_inputs_are_refused_naming_the_file(ai_views, tmp_path):
    out = tmp_path / "out.fits"
    one_line_error(parse(out, ai_views["hmi"], ai_views["b_samples"], ai_views["a_three"]),
                   "ai_a_three.fits: 3 samples, but", "ai_b_samples.fits has 4")
    one_line_error(parse(out, ai_views["a_sigma"], ai_views["b"]),
                   "ai_b.fits: AI-generated without an UNCERTAINTY or SAMPLES layer",
                   "ai_a_sigma.fits")
    # SAMPLES and sigma-only inputs together: propagated, no SAMPLES layer
    mixed = sm.build_synchronic([ai_views["a_samples"], ai_views["b_sigma"]],
                                sm.SynchronicSettings(shape=SHAPE, time=TIME.isot))
    assert mixed.header["UNCMODE"] == "propagated" and mixed.samples_gauss is None
    assert np.nanmax(mixed.uncertainty_gauss) >= 30.0
