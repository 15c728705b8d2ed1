"""Observers of the toy Sun: names, explicit positions and FITS files parsed; Earth, the
offline STEREO table and fixed positions placed in heliographic Stonyhurst coordinates."""

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time
from sunpy.coordinates import HeliographicStonyhurst, get_earth
from sunpy.data.test import get_test_filepath

from data_prep.toysun.observers import (
    OBSERVER_NAMES, ObserverSpec, observer_coordinate, parse_observer, stereo_position,
)

#: sunpy's real STEREO-A headers, with the observer position they record.
STEREO_A_HEADERS = (
    "euvi_20090615_000900_n4euA_s.header",
    "cor1_20090615_000500_s4c1A.header",
    "hi_20110910_114721_s7h2A.header",
)
#: The documented accuracy of the table for STEREO-A (model + interpolation).
A_ANGLE_DEG, A_DISTANCE_AU = 0.1, 5e-4


def _header(name: str) -> fits.Header:
    return fits.Header.fromtextfile(get_test_filepath(name))


def _lon_lat_au(coord):
    return (coord.lon.wrap_at(180 * u.deg).to_value(u.deg), coord.lat.to_value(u.deg),
            coord.radius.to_value(u.au))


@pytest.mark.parametrize("text, name, kind", [
    ("earth", "earth", "earth"), (" EARTH ", "earth", "earth"),
    ("stereo-a", "stereo-a", "table"), ("STEREO_A", "stereo-a", "table"),
    ("sta", "stereo-a", "table"), ("Stereo A", "stereo-a", "table"),
    ("stereo-b", "stereo-b", "table"), ("stb", "stereo-b", "table"),
    ("stereo_b", "stereo-b", "table"),
])
def test_names_and_aliases(text, name, kind):
    spec = parse_observer(text)
    assert (spec.name, spec.kind) == (name, kind)
    assert spec.name in OBSERVER_NAMES


def test_explicit_positions():
    spec = parse_observer("quadrature=90,0,1.0")
    assert spec == ObserverSpec("quadrature", "explicit", 90.0, 0.0, u.au.to(u.m))
    assert parse_observer("90,-3,0.95").name == "hgs-lon090-lat-03-0.95au"
    assert parse_observer("270, 5, 1.2").lon_deg == -90.0  # HGS longitude in [-180, 180)

    coord = observer_coordinate("90,-3,0.95", "2013-05-01T12:00")
    assert isinstance(coord.frame, HeliographicStonyhurst)
    assert coord.obstime == Time("2013-05-01T12:00")
    np.testing.assert_allclose(_lon_lat_au(coord), (90.0, -3.0, 0.95), atol=1e-9)


def test_fits_file_places_the_observer_where_its_header_says(tmp_path):
    header = _header("euvi_20090615_000900_n4euA_s.header")
    data = np.zeros((8, 8), np.float32)
    plain = tmp_path / "euvi.fts"
    fits.PrimaryHDU(data, header).writeto(plain)
    rice = tmp_path / "euvi_rice.fits"  # as JSOC exports: Rice-compressed image in HDU 1
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data, header)]).writeto(rice)

    expected = (header["HGLN_OBS"], header["HGLT_OBS"], header["DSUN_OBS"])
    for path in (plain, rice):
        spec = parse_observer(str(path))
        assert (spec.name, spec.kind, spec.header_path) == ("stereo-a", "header", str(path))
        for time in (header["DATE-OBS"], "2012-07-01"):  # the same position at any time
            coord = observer_coordinate(spec, time)
            assert coord.obstime == Time(time)
            np.testing.assert_allclose(
                (coord.lon.to_value(u.deg), coord.lat.to_value(u.deg),
                 coord.radius.to_value(u.m)), expected, rtol=1e-12)


def test_fits_file_name_from_observatory_or_file(tmp_path):
    data = np.zeros((4, 4), np.float32)
    position = {"HGLN_OBS": 10.0, "HGLT_OBS": 1.0, "DSUN_OBS": 1.5e11}
    hmi = tmp_path / "hmi.fits"
    fits.PrimaryHDU(data, fits.Header({**position, "TELESCOP": "SDO/HMI"})).writeto(hmi)
    anonymous = tmp_path / "My Observer.fits.gz"
    fits.PrimaryHDU(data, fits.Header(position)).writeto(anonymous)
    assert parse_observer(str(hmi)).name == "sdo"
    assert parse_observer(str(anonymous)).name == "my-observer"


@pytest.mark.parametrize("text, fragment", [
    ("stereo-c", "unknown observer 'stereo-c'"),
    ("", "unknown observer ''"),
    ("1,2", "unknown observer '1,2'"),
    ("10,95,1", "latitude 95.0 deg"),
    ("10,0,0.001", "not outside the Sun"),
    ("my observer=10,0,1", "not folder-safe"),
])
def test_bad_text_is_refused_clearly(text, fragment):
    with pytest.raises(ValueError) as error:
        parse_observer(text)
    message = str(error.value)
    assert fragment in message and "\n" not in message
    if "unknown" in fragment:
        assert "stereo-a" in message and "LON,LAT,DIST_AU" in message and "FITS" in message


def test_bad_fits_files_are_named_with_their_problem(tmp_path):
    missing = tmp_path / "nowhere.fits"
    with pytest.raises(ValueError, match="nowhere.fits.*does not exist"):
        parse_observer(str(missing))
    blind = tmp_path / "blind.fits"
    fits.PrimaryHDU(np.zeros((4, 4), np.float32),
                    fits.Header({"DATE-OBS": "2012-01-01T00:00:00"})).writeto(blind)
    with pytest.raises(ValueError, match="blind.fits.*has no observer position"):
        parse_observer(str(blind))
    broken = tmp_path / "broken.fits"
    broken.write_text("not a FITS file")
    with pytest.raises(ValueError, match="broken.fits.*cannot be read"):
        parse_observer(str(broken))


@pytest.mark.parametrize("name", STEREO_A_HEADERS)
def test_table_reproduces_stereo_a_in_real_headers(name):
    header = _header(name)
    lon, lat, distance_au = _lon_lat_au(observer_coordinate("stereo-a", header["DATE-OBS"]))
    assert abs(lon - header["HGLN_OBS"]) < A_ANGLE_DEG
    assert abs(lat - header["HGLT_OBS"]) < A_ANGLE_DEG
    assert abs(distance_au - header["DSUN_OBS"] / u.au.to(u.m)) < A_DISTANCE_AU


def test_earth_is_sunpys_earth():
    times = Time(["2010-03-20T00:00", "2018-09-01T06:30"])
    coord = observer_coordinate("earth", times)
    earth = get_earth(times)
    np.testing.assert_allclose(coord.lon.to_value(u.deg), earth.lon.to_value(u.deg), atol=1e-9)
    np.testing.assert_allclose(coord.lat.to_value(u.deg), earth.lat.to_value(u.deg), atol=1e-9)
    np.testing.assert_allclose(coord.radius.to_value(u.m), earth.radius.to_value(u.m),
                               rtol=1e-12)
    assert coord.shape == (2,) and np.all(coord.obstime == times)


def test_stereo_b_is_refused_after_contact_was_lost():
    stereo_position("B", "2014-09-30T12:00")  # inside the table
    with pytest.raises(ValueError, match="STEREO-B.*2014-10-02.*2014-10-01"):
        stereo_position("B", "2014-10-02")
    with pytest.raises(ValueError, match="STEREO-B"):
        observer_coordinate("stereo-b", Time(["2013-01-01", "2016-01-01"]))
    with pytest.raises(ValueError, match="STEREO-A.*2006-06-01.*2007-01-01"):
        stereo_position("A", "2006-06-01")
    with pytest.raises(ValueError, match="'A' or 'B'"):
        stereo_position("C", "2010-01-01")


def test_stereo_geometry_is_sane():
    years = Time([f"{year}-06-01" for year in range(2008, 2015)])
    a_lon = _lon_lat_au(stereo_position("A", years))[0]
    b_lon = _lon_lat_au(stereo_position("B", years))[0]
    assert np.all(a_lon > 0) and np.all(np.diff(a_lon) > 0)  # Ahead: ahead, drifting on
    assert np.all(b_lon < 0) and np.all(np.diff(b_lon) < 0)  # Behind: behind, falling back
    # NASA: A and B 180 deg apart on 2011-02-06; STEREO-A crossed the Sun-Earth line on
    # 2023-08-12 (its Earth flyby)
    separation = (_lon_lat_au(stereo_position("A", "2011-02-06T12:00"))[0]
                  - _lon_lat_au(stereo_position("B", "2011-02-06T12:00"))[0])
    assert abs(separation - 180.0) < 1.0
    assert abs(_lon_lat_au(stereo_position("A", "2023-08-12T12:00"))[0]) < 0.5
    # near 1 au: A inside Earth's orbit, B outside it
    assert 0.95 < _lon_lat_au(stereo_position("A", "2011-02-06"))[2] < 0.98
    assert 1.0 < _lon_lat_au(stereo_position("B", "2011-02-06"))[2] < 1.09
