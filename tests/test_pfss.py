"""solarmaggan.fullsun.pfss: the PFSS corona of a full-Sun B_r map (sunkit-magex).

Small grids (60 x 120 maps, <= 72 x 36 seeds) so each test takes seconds on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import astropy.units as u
import pytest
import sunpy.map
from astropy.coordinates import SkyCoord

from data_prep.geometry import full_sun_header
from solarmaggan.fullsun import pfss

TIME = "2023-03-01T00:00:00"
SHAPE = (60, 120)  # (nlat, nlon)


def dipole_map(shape=SHAPE, frame="carrington", b0=5.0, bipole=False):
    """B_r = b0 sin(lat) (G) on a CEA grid (rows equal in sine latitude); with ``bipole``
    a +/- pair of Gaussian spots near the equator as well (net flux kept zero)."""
    nlat, nlon = shape
    sin_lat = (np.arange(nlat) + 0.5) / nlat * 2 - 1
    br = np.repeat(b0 * sin_lat[:, None], nlon, axis=1)
    if bipole:
        lat = np.degrees(np.arcsin(sin_lat))[:, None]
        lon = (np.arange(nlon) + 0.5) * 360 / nlon
        for centre, sign in ((80.0, 1.0), (100.0, -1.0)):
            br = br + sign * 40.0 * np.exp(-((lon - centre) ** 2 + (lat - 10.0) ** 2) / (2 * 6.0**2))
        br = br - br.mean()
    return sunpy.map.Map(br, full_sun_header(TIME, shape, frame=frame))


def save(br_map, path: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        br_map.save(str(path), overwrite=True)
    return path


@pytest.fixture(scope="module")
def dipole_output():
    return pfss.pfss_solution(dipole_map(), nr=20, rss=2.5)


def test_dipole_polar_caps_open_equator_closed(dipole_output):
    open_field = pfss.open_field_map(dipole_output, seeds=(72, 36))
    assert open_field.shape == (36, 72) and open_field.dtype == np.int8
    # rows run south to north: the southern cap is open with B_r < 0, the northern with > 0
    assert np.all(open_field[:3] == -1)
    assert np.all(open_field[-3:] == 1)
    assert np.all(open_field[14:22] == 0)
    assert not np.any(open_field[:18] == 1) and not np.any(open_field[18:] == -1)
    # the analytic PFSS dipole (rss 2.5) is open poleward of |sin lat| = 0.647: 35% of the area
    assert 0.30 < np.mean(open_field != 0) < 0.42


def test_dipole_current_sheet_on_the_equator(dipole_output):
    sheet = pfss.current_sheet(dipole_output)
    assert sheet.ndim == 2 and sheet.shape[1] == 3 and len(sheet) > 50
    assert np.all(np.abs(sheet[:, 1]) < 2.0)
    assert sheet[:, 0].min() < 10 and sheet[:, 0].max() > 350  # all the way round
    assert np.all((sheet[:, 0] >= 0) & (sheet[:, 0] < 360))


def test_run_pfss_writes_everything(tmp_path):
    path = save(dipole_map(bipole=True), tmp_path / "br.fits")
    out = tmp_path / "out"
    summary = pfss.run_pfss(path, out, rss=2.5, nr=12, seeds=(24, 12), progress=False)
    for name in pfss.OUTPUT_FILES:
        assert (out / name).is_file(), name
    assert not [p for p in out.iterdir() if ".tmp" in p.name]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        open_map = sunpy.map.Map(out / "open_field.fits")
        ss_map = sunpy.map.Map(out / "source_surface_br.fits")
    assert open_map.data.shape == (12, 24)
    assert open_map.meta["ctype1"].endswith("CEA") and open_map.meta["ctype2"].endswith("CEA")
    assert open_map.coordinate_frame.name == "heliographic_carrington"
    assert set(np.unique(open_map.data)) <= {-1, 0, 1}
    assert np.all(open_map.data[0] == -1) and np.all(open_map.data[-1] == 1)
    assert ss_map.data.shape == SHAPE

    sheet = np.loadtxt(out / "hcs.csv", delimiter=",", skiprows=1, ndmin=2)
    assert sheet.shape[1] == 3 and len(sheet) == summary["current_sheet_points"] > 0
    assert (out / "hcs.csv").read_text().splitlines()[0] == "lon_deg,lat_deg,segment"

    on_disk = json.loads((out / "summary.json").read_text())
    for key in ("open_flux_mx", "unsigned_flux_mx", "open_area_fraction", "rss", "nr",
                "seeds", "seconds", "frame", "open_flux_definition"):
        assert key in on_disk, key
    assert on_disk["seeds"] == [24, 12] and on_disk["nr"] == 12 and on_disk["rss"] == 2.5
    # the open flux is part of the photospheric flux
    assert 0 < on_disk["open_flux_mx"] <= on_disk["unsigned_flux_mx"]
    assert 0 < on_disk["open_area_fraction"] < 1


def test_stonyhurst_frame_is_kept_through_the_cli(tmp_path, capsys):
    path = save(dipole_map(frame="stonyhurst"), tmp_path / "hgs.fits")
    parser = argparse.ArgumentParser()
    pfss.add_arguments(parser)
    args = parser.parse_args([str(path), "--out", str(tmp_path / "out"), "--nr", "12",
                              "--seeds", "24", "12", "--quiet"])
    assert pfss.run(args) == 0
    assert "open flux" in capsys.readouterr().out
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["frame"] == "stonyhurst"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        open_map = sunpy.map.Map(tmp_path / "out" / "open_field.fits")
        ss_map = sunpy.map.Map(tmp_path / "out" / "source_surface_br.fits")
    assert open_map.coordinate_frame.name == "heliographic_stonyhurst"
    assert ss_map.coordinate_frame.name == "heliographic_stonyhurst"
    assert np.all(open_map.data[0] == -1) and np.all(open_map.data[-1] == 1)
    sheet = np.loadtxt(tmp_path / "out" / "hcs.csv", delimiter=",", skiprows=1, ndmin=2)
    assert np.all((sheet[:, 0] >= -180) & (sheet[:, 0] < 180)) and np.all(np.abs(sheet[:, 1]) < 3)


def helioprojective_map():
    from sunpy.coordinates import Helioprojective
    from sunpy.map.header_helper import make_fitswcs_header

    data = np.zeros((32, 32))
    centre = SkyCoord(0 * u.arcsec, 0 * u.arcsec,
                      frame=Helioprojective(observer="earth", obstime=TIME))
    return sunpy.map.Map(data, make_fitswcs_header(data, centre, scale=[64, 64] * u.arcsec / u.pix))


@pytest.mark.parametrize("case, settings, message", [
    ("helioprojective", {}, "not a full-Sun cylindrical-equal-area"),
    ("nan", {}, "NaN"),
    ("ok", {"rss": 1.0}, "rss must be > 1"),
    ("ok", {"rss": 0.5}, "rss must be > 1"),
    ("ok", {"nr": 1}, "nr (radial cells) must be an integer >= 2"),
    ("ok", {"seeds": (0, 12)}, "seeds must be NLON NLAT"),
    ("ok", {"seeds": (25, 12)}, "seeds must be NLON NLAT"),
])
def test_bad_input_is_one_line_naming_the_file(tmp_path, case, settings, message):
    if case == "helioprojective":
        br_map = helioprojective_map()
    else:
        br_map = dipole_map(shape=(20, 40))
        if case == "nan":
            br_map.data[3, 5] = np.nan
    path = save(br_map, tmp_path / f"{case}.fits")
    out = tmp_path / "out"
    with pytest.raises(ValueError) as caught:
        pfss.run_pfss(path, out, progress=False, **settings)
    text = str(caught.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text
    assert not out.exists()  # checked before writing anything


def test_missing_file_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="missing.fits: not a readable FITS"):
        pfss.run_pfss(tmp_path / "missing.fits", tmp_path / "out", progress=False)


def test_no_tensorflow_imported():
    code = ("import sys, solarmaggan.fullsun.pfss; "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, "
            "sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])
