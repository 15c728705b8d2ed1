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

from data_prep.fitsio import layer_hdu, read_layers
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


# --------------------------------------------------------------------------- samples


def with_samples(br_map, samples, path: Path) -> Path:
    """Save ``br_map`` with a SAMPLES layer (N, NLAT, NLON) G, as synchronic writes it."""
    from astropy.io import fits

    save(br_map, path)
    with fits.open(path, mode="append") as hdus:
        hdus.append(layer_hdu("SAMPLES", np.asarray(samples, dtype=np.float32), "G"))
    return path


def quadrupole_samples(br_map, factors):
    """Samples = the map + c x an axisymmetric quadrupole 5 (3 sin^2 lat - 1) / 2 G, one per
    c of ``factors``: c > 0 moves the current sheet south and widens the northern hole."""
    nlat = br_map.data.shape[0]
    sin_lat = (np.arange(nlat) + 0.5) / nlat * 2 - 1
    quadrupole = 5.0 * (3 * sin_lat**2 - 1) / 2
    return np.stack([br_map.data + c * quadrupole[:, None] for c in factors])


def test_samples_give_open_probability_and_current_sheet_spread(tmp_path):
    br_map = dipole_map()
    path = with_samples(br_map, quadrupole_samples(br_map, (-0.4, 0.0, 0.4)), tmp_path / "br.fits")
    out = tmp_path / "out"
    summary = pfss.run_pfss(path, out, nr=12, seeds=(48, 24), progress=False, figures=False,
                            samples=pfss.ALL_SAMPLES)
    for name in pfss.SAMPLE_OUTPUT_FILES[:2]:
        assert (out / name).is_file(), name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        probability_map = sunpy.map.Map(out / "open_probability.fits")  # one map: SIGNED is a table
        open_map = sunpy.map.Map(out / "open_field.fits")
    probability = probability_map.data
    assert probability.dtype.name == "float32" and probability.shape == (24, 48)
    assert probability_map.meta["ctype1"] == open_map.meta["ctype1"]
    assert probability_map.meta["crval1"] == open_map.meta["crval1"]
    assert probability_map.meta["nsamples"] == 3
    assert np.all(probability[:2] == 1) and np.all(probability[-2:] == 1)  # polar caps
    assert np.all(probability[8:16] == 0)  # around the equator
    between = (probability > 0) & (probability < 1)
    assert between.any() and np.all(between.any(axis=1) == between.all(axis=1))  # by latitude
    signed = read_layers(out / "open_probability.fits", ("SIGNED",))["SIGNED"]
    assert np.all(signed[:2] == -1) and np.all(signed[-2:] == 1)
    np.testing.assert_array_equal(np.abs(signed), probability)  # one polarity per hemisphere

    spread = np.loadtxt(out / "hcs_spread.csv", delimiter=",", skiprows=1, ndmin=2)
    assert (out / "hcs_spread.csv").read_text().splitlines()[0] == (
        "lon_deg,lat_deg,samples,mean_lat_deg,std_lat_deg")
    assert len(spread) == SHAPE[1]  # one crossing at each column of the source-surface map
    assert np.all(np.abs(spread[:, 1]) < 1.0) and np.all(spread[:, 2] == 3)
    assert np.all(np.abs(spread[:, 3]) < 1.0)  # the sheets at +-c straddle the mean's
    print(f"current sheet latitude spread {spread[:, 4].mean():.2f} deg")
    assert np.all((spread[:, 4] > 2.0) & (spread[:, 4] < 8.0))
    assert summary["samples"] == 3
    assert summary["hcs_latitude_spread_deg"] == pytest.approx(spread[:, 4].mean(), abs=1e-3)
    assert summary["open_probability"]["area_fraction_p_between_0.1_0.9"] == pytest.approx(between.mean())
    assert summary["open_probability"]["area_fraction_p_ge_0.9"] == pytest.approx(np.mean(probability == 1))
    assert summary["open_flux_mx_samples"]["std"] > 0 and summary["seconds_samples"] > 0


def test_identical_samples_reproduce_the_mean_corona(tmp_path):
    br_map = dipole_map(shape=(20, 40), bipole=True)
    path = with_samples(br_map, quadrupole_samples(br_map, (0.0, 0.0, 0.0, 0.4)), tmp_path / "br.fits")
    out = tmp_path / "out"
    summary = pfss.run_pfss(path, out, nr=10, seeds=(24, 12), progress=False, samples=2)
    for name in pfss.OUTPUT_FILES + pfss.SAMPLE_OUTPUT_FILES:
        assert (out / name).is_file(), name
    from astropy.io import fits

    open_field = fits.getdata(out / "open_field.fits")
    np.testing.assert_array_equal(fits.getdata(out / "open_probability.fits"), open_field != 0)
    spread = np.loadtxt(out / "hcs_spread.csv", delimiter=",", skiprows=1, ndmin=2)
    assert len(spread) >= 40 and np.all(spread[:, 2] == 2) and np.all(spread[:, 4] == 0)
    np.testing.assert_allclose(spread[:, 3], spread[:, 1], atol=1e-4)
    assert summary["samples"] == 2 and summary["hcs_latitude_spread_deg"] == 0
    assert summary["open_flux_mx_samples"]["mean"] == pytest.approx(summary["open_flux_mx"])


def test_sheet_crossings_interpolate_along_each_contour():
    # one contour from (10, -4) to (30, 6), one from (350, 0) to (10, 2) across the edge
    sheet = np.array([[10, -4, 0], [20, 0, 0], [30, 6, 0], [350, 0, 1], [359, 1, 1], [9, 2, 1]], float)
    crossings = pfss.sheet_crossings(sheet, np.array([15.0, 20.0, 25.0, 5.0, 355.0]))
    np.testing.assert_allclose(crossings[0], [-2.0])
    np.testing.assert_allclose(crossings[1], [0.0])
    np.testing.assert_allclose(crossings[2], [3.0])
    assert len(crossings[3]) == 0  # the pair across the map's edge is not joined
    np.testing.assert_allclose(crossings[4], [5 / 9])
    spread = pfss.hcs_spread(sheet[:3], [sheet[:3] + [0, 2, 0], sheet[:3] - [0, 2, 0], sheet[3:]],
                             np.array([15.0, 40.0]))
    np.testing.assert_allclose(spread, [[15.0, -2.0, 2, -2.0, 2.0]])


@pytest.mark.parametrize("samples, message", [
    (0, "samples must be a positive integer or 'all', got 0"),
    (4, "samples must be 1 to 3 (its SAMPLES layer has 3), got 4"),
    ("some", "samples must be a positive integer or 'all'"),
    (None, "no SAMPLES layer"),
])
def test_bad_samples_are_one_line_naming_the_file(tmp_path, samples, message):
    br_map = dipole_map(shape=(20, 40))
    if samples is None:
        path, samples = save(br_map, tmp_path / "plain.fits"), 2
    else:
        path = with_samples(br_map, quadrupole_samples(br_map, (0.0, 0.1, 0.2)), tmp_path / "br.fits")
    out = tmp_path / "out"
    with pytest.raises(ValueError) as caught:
        pfss.run_pfss(path, out, nr=10, seeds=(24, 12), progress=False, samples=samples)
    text = str(caught.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text
    assert not out.exists()


def test_cli_samples_exit_2_on_bad_use_and_no_tensorflow(tmp_path):
    """A real process: --samples on a map without samples ends with exit status 2 and one
    line naming the file, nothing written; a good --samples run imports no TensorFlow."""
    br_map = dipole_map(shape=(20, 40))
    plain = save(br_map, tmp_path / "plain.fits")
    sampled = with_samples(br_map, quadrupole_samples(br_map, (-0.3, 0.3)), tmp_path / "br.fits")
    common = ["--nr", "8", "--seeds", "24", "12", "--quiet"]
    good = ["pfss", str(sampled), "--out", str(tmp_path / "good"), "--samples", *common]
    bad = ["pfss", str(plain), "--out", str(tmp_path / "bad"), "--samples", "2", *common]
    code = (f"import sys; from solarmaggan.cli import main; assert main({good!r}) == 0; "
            "assert not {'tensorflow', 'keras'} & set(sys.modules), 'tensorflow imported'; "
            f"sys.exit(main({bad!r}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300, cwd=Path(__file__).parents[1])
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"solarmaggan pfss: error: {plain}: no SAMPLES layer"), lines
    assert "2 samples" in result.stdout
    assert (tmp_path / "good" / "open_probability.png").is_file() and not (tmp_path / "bad").exists()
