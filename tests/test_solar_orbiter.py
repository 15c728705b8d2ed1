"""Solar Orbiter's EUI/FSI 304 as a far-side eye: `generate` on a real FSI header, the same
toy Sun seen from 0.3 and 1 au, refusals, and the far-side scores by observer and distance.

The FSI files are level 2 as euiprep writes them: sunpy's real FSI 304 header (level 1,
turned into level 2: LEVEL 'L2', BUNIT 'DN/s') with synthetic pixels (tests/test_fsi_reading.py),
or the toy Sun's FSI files (data_prep/toysun/instruments.py)."""

import warnings

import astropy.units as u
import numpy as np
import pytest
import sunpy.map
from astropy.coordinates import SkyCoord
from astropy.io import fits
from sunpy.coordinates import HeliographicStonyhurst

from data_prep.geometry import radial_distance
from data_prep.toysun import instruments
from data_prep.toysun.evolution import WholeSun
from data_prep.toysun.instruments import (default_detector, instrument_header, phi_fdt_detector,
                                          phi_view_header, truth_magnetogram_header,
                                          write_instrument_file)
from data_prep.toysun.views import render
from solarmaggan.evaluate_fits import (distance_bin, frame_geometry, group_scores, observer_group,
                                       truth_on_frame)
from solarmaggan.metrics import pearson

from conftest import untrained_run
from test_bad_inputs import expect, run_cli
from test_fsi_reading import at_distance, level2_header, real_l1_header, write_fsi

SIZE, RADIUS_PX = 64, 24.5  # the tiny model's standard frame
FRAME = [f"data.image_size={SIZE}", f"data.radius_px={RADIUS_PX}"]
TIME = "2011-03-01T00:00:00"
# the two far-side maps of the same Sun seen from 0.3 and from 1 au must agree to this CC on
# the common disk: the inputs differ only in resolution (3.3x) and photon noise
GENERATED_CC_TOLERANCE = 0.9


def open_map(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sunpy's metadata chatter
        return sunpy.map.Map(str(path))


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """An untrained tiny generator (seeded) on a 64 px frame; its preset (quick) takes EUVI
    304 and FSI 304 on the far side."""
    folder, _ = untrained_run(tmp_path_factory.mktemp("solo_model") / "run", *FRAME)
    return folder


def test_generate_from_a_real_fsi_header_keeps_its_observer_and_the_standard_frame(
        model, tmp_path, capsys):
    source = write_fsi(tmp_path / "solo_L2_eui-fsi304-image_20201021T145510206_V03.fits",
                       level2_header())
    status, lines = run_cli(["generate", "--model", model, "--out", tmp_path / "out",
                             "--quiet", source], capsys)
    assert status == 0, lines
    output = tmp_path / "out" / f"{source.stem}_magnetogram.fits"
    header = fits.getheader(output)
    expected = open_map(source).observer_coordinate.transform_to(
        HeliographicStonyhurst(obstime=open_map(source).reference_date))
    found = open_map(output).observer_coordinate
    assert found.separation_3d(expected) < 1 * u.m  # 1 m in 1.47e11 m: the same observer
    assert header["HGLN_OBS"] == pytest.approx(expected.lon.to_value(u.deg), abs=1e-9)
    assert header["HGLT_OBS"] == pytest.approx(expected.lat.to_value(u.deg), abs=1e-9)
    assert header["DSUN_OBS"] == pytest.approx(expected.radius.to_value(u.m), rel=1e-12)
    size, _, radius_px = frame_geometry(header, str(output))  # raises unless centred, north up
    assert (size, radius_px) == (SIZE, pytest.approx(RADIUS_PX, rel=1e-9))
    assert header["SRCOBS"] == "Solar Orbiter" and header["SRCDET"] == "FSI"
    gauss = fits.getdata(output)
    assert np.isfinite(gauss[radial_distance(SIZE) <= 0.98 * RADIUS_PX]).all()
    assert np.isnan(gauss[radial_distance(SIZE) > 0.98 * RADIUS_PX]).all()


def toy_solar_orbiter(folder, state, distance_au, detector_px=384, phi_px=192):
    """(FSI 304 level-2 file, PHI-view truth file) of the toy Sun seen by Solar Orbiter at
    Stonyhurst (150, 4) deg and ``distance_au``."""
    observer = SkyCoord(150 * u.deg, 4 * u.deg, distance_au * u.au,
                        frame=HeliographicStonyhurst(obstime=TIME))
    header = instrument_header("fsi", TIME, observer, default_detector("fsi", detector_px), 304)
    euv = render(state, header, [304], np.random.default_rng(1), euv_noise_gain=0.0)[304]
    folder.mkdir(parents=True, exist_ok=True)
    fsi = write_instrument_file(folder / header["FILENAME"], "fsi", euv, header,
                                np.random.default_rng(2))
    view = phi_view_header(TIME, observer, phi_fdt_detector(phi_px))
    truth = instruments.write_float_image(folder / "truth.fits", render(state, view, ["los"])["los"],
                                          truth_magnetogram_header(view))
    return fsi, truth


def test_the_same_sun_from_0_3_and_1_au_gives_the_same_far_side(model, tmp_path, capsys):
    state = WholeSun(3, grid_deg=0.5).state(TIME)
    files = {distance: toy_solar_orbiter(tmp_path / f"{distance}au", state, distance)
             for distance in (0.3, 1.0)}
    disk = radial_distance(SIZE) <= 0.95 * RADIUS_PX
    # the truths, each on the standard frame of its own observer: the same field
    truths = {}
    for distance, (_, truth) in files.items():
        truth_map = open_map(truth)
        scale = truth_map.rsun_obs.to_value(u.arcsec) / RADIUS_PX
        truths[distance] = truth_on_frame(truth_map, SIZE, scale, RADIUS_PX)
    truth_cc = pearson(truths[0.3][disk], truths[1.0][disk])
    assert truth_cc >= 0.95, truth_cc
    # the far-side maps generated from the two FSI files, on the same frame
    generated = {}
    for distance, (fsi, _) in files.items():
        out = tmp_path / f"out{distance}"  # the same file name: the same time
        status, lines = run_cli(["generate", "--model", model, "--out", out, "--quiet",
                                 "--no-quicklook", fsi], capsys)
        assert status == 0, lines
        output = out / f"{fsi.stem}_magnetogram.fits"
        assert open_map(output).dsun.to_value(u.au) == pytest.approx(distance, rel=1e-9)
        generated[distance] = fits.getdata(output)
    generated_cc = pearson(generated[0.3][disk], generated[1.0][disk])
    print(f"0.3 vs 1 au: truths CC {truth_cc:.4f}, generated CC {generated_cc:.4f}")
    assert generated_cc >= GENERATED_CC_TOLERANCE, generated_cc


def test_bad_fsi_inputs_get_one_line_and_exit_2(model, tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    tiny = np.ones((8, 8), np.float32)
    fsi_174 = level2_header()
    fsi_174.update(WAVELNTH=174, FILTER="Zirconium_174_n25")
    no_observer = level2_header()
    for key in ("HGLN_OBS", "HGLT_OBS", "CRLN_OBS", "CRLT_OBS", "DSUN_OBS", "HCIX_OBS",
                "HCIY_OBS", "HCIZ_OBS"):
        no_observer.remove(key)
    cases = {
        "fsi174.fits": (fsi_174, "wrong wavelength: 174 A, expected 304 A"),
        "level1.fits": (real_l1_header(), "a level-1 EUI/FSI file (uncalibrated raw DN)"),
        "no_observer.fits": (no_observer, "missing observer keyword"),
    }
    for name, (header, needle) in cases.items():
        header["NAXIS1"] = header["NAXIS2"] = 8
        path = write_fsi(bad / name, header, tiny)
        status, lines = run_cli(["generate", "--model", model, "--out", tmp_path / "out",
                                 "--quiet", path], capsys)
        expect(status, lines, 2, str(path), needle, command="generate")
        assert len(lines) == 1  # the file and its problem (the count goes to stdout)
    assert not list((tmp_path / "out").glob("*.fits"))


def test_a_multi_channel_model_refuses_fsi_304_alone():
    from solarmaggan.config import resolve_config
    from solarmaggan.generate import channel_for

    header = level2_header()
    with pytest.raises(ValueError) as refused:
        channel_for(header, resolve_config("jeong2020"), "solo_fsi304.fits")
    message = str(refused.value)
    assert "\n" not in message and message.startswith("solo_fsi304.fits: ")
    assert "EUI/FSI observes only 174 and 304 A" in message and "3 channels" in message
    assert channel_for(header, resolve_config("kim2019"), "x")["name"] == "FSI 304"
    near = at_distance(header, 0.3)
    assert channel_for(near, resolve_config("quick"), "x")["kind"] == "fsi"


def test_far_side_scores_are_grouped_by_observer_and_distance():
    def record(name, lon, distance_au, cc):
        return {"observer": {"name": name, "hgln_deg": lon, "hglt_deg": 4.0,
                             "dsun_au": distance_au}, "pixel_cc": cc, "rmse_gauss": 10 * cc}

    records = [record("STEREO_A", 95.0, 0.96, 0.9), record("Solar Orbiter", 150.0, 0.35, 0.6),
               record("STEREO_A", 96.0, 0.97, 0.8), record("SYNTHETIC", -150.4, 0.42, 0.5),
               record("Solar Orbiter", 150.0, 0.29, 0.7)]
    by_observer = group_scores(records, observer_group)
    assert list(by_observer) == ["stereo-a", "solar-orbiter", "hgs-150+4-0.42au"]
    assert by_observer["stereo-a"]["n_images"] == 2
    assert by_observer["stereo-a"]["pixel_cc_mean"] == pytest.approx(0.85)
    assert by_observer["solar-orbiter"]["dsun_au"] == pytest.approx(0.32)
    by_distance = group_scores(records, lambda r: distance_bin(r["observer"]["dsun_au"]))
    assert {name: scores["n_images"] for name, scores in by_distance.items()} == {
        "0.8-1.2 au": 2, "0-0.4 au": 2, "0.4-0.6 au": 1}
    assert by_distance["0-0.4 au"]["pixel_cc_mean"] == pytest.approx(0.65)
    assert distance_bin(1.5) == ">= 1.2 au"
    with pytest.raises(ValueError, match="not a positive number"):
        distance_bin(float("nan"))


def test_histogram_reference_matches_far_side_intensities_to_an_aia_image(model, tmp_path, capsys):
    state = WholeSun(3, grid_deg=0.5).state(TIME)
    fsi, _ = toy_solar_orbiter(tmp_path / "solo", state, 0.5, detector_px=256, phi_px=64)
    header = instrument_header("aia", TIME, SkyCoord(0 * u.deg, 0 * u.deg, 1 * u.au,
                                                     frame=HeliographicStonyhurst(obstime=TIME)),
                               default_detector("aia", 128), 304)
    aia = write_instrument_file(tmp_path / "aia_304.fits", "aia",
                                render(state, header, [304], euv_noise_gain=0.0)[304], header)
    outputs = {}
    for name, extra in (("median", []), ("histogram", ["--histogram-reference", aia])):
        status, lines = run_cli(["generate", "--model", model, "--out", tmp_path / name,
                                 "--quiet", "--no-quicklook", *extra, fsi], capsys)
        assert status == 0, lines
        outputs[name] = tmp_path / name / f"{fsi.stem}_magnetogram.fits"
    history = "\n".join(fits.getheader(outputs["histogram"])["HISTORY"])
    assert "histogram: on-disk intensities matched" in history and "aia_304.fits" in history
    assert "median:" not in history
    assert "median:" in "\n".join(fits.getheader(outputs["median"])["HISTORY"])
    assert not np.allclose(fits.getdata(outputs["median"]), fits.getdata(outputs["histogram"]),
                           equal_nan=True)
    # a multi-channel model cannot take one reference image
    from solarmaggan.config import resolve_config
    from solarmaggan.generate import aia_histogram_reference

    with pytest.raises(ValueError, match="this model has 3 input channels"):
        aia_histogram_reference(aia, resolve_config("jeong2020"))
