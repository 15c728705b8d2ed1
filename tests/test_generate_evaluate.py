"""`generate` (real EUVI / AIA headers, synthetic pixels) and `evaluate` (toy-Sun split)."""

import json
import subprocess
import sys

import astropy.units as u
import numpy as np
import pytest
import sunpy.map
from astropy.coordinates import SkyCoord
from astropy.io import fits
from sunpy.data.test import get_test_filepath

from data_prep.geometry import radial_distance
from solarmaggan.evaluate import evaluate, summary_table
from solarmaggan.generate import generate
from solarmaggan.metrics import mu_map

from conftest import TINY_SIZE, linear_output_run

SIZE = TINY_SIZE
RADIUS = 392 / 1024 * SIZE
EUVI_HEADER = get_test_filepath("euvi_20090615_000900_n4euA_s.header")


def euvi_file(path, wavelength=304, drop=()):
    """A STEREO-A EUVI file from sunpy's real header with synthetic level-0 pixels."""
    header = fits.Header.fromtextfile(EUVI_HEADER)
    header["WAVELNTH"] = wavelength
    header.remove("BLANK", ignore_missing=True)  # an integer-data keyword; pixels are float
    for key in drop:
        header.remove(key, ignore_missing=True)
    rng = np.random.default_rng(0)
    data = header["BIASMEAN"] + rng.uniform(50, 500, (128, 128)) * header["EXPTIME"]
    fits.writeto(path, data.astype(np.float64), header)
    return path


def aia_file(path):
    header = fits.getheader(get_test_filepath("aia_171_level1.fits"))
    header.remove("BLANK", ignore_missing=True)
    header["WAVELNTH"] = 304
    fits.writeto(path, fits.getdata(get_test_filepath("aia_171_level1.fits")).astype(np.float32),
                 header)
    return path


def test_generated_fits_sit_on_the_sun_with_the_input_observer(tiny_run, tmp_path):
    run_dir, _ = tiny_run
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    euvi_file(inputs / "20090615_000900_n4euA.fts")
    aia_file(inputs / "aia.lev1.304A.fits")
    out = tmp_path / "out"
    report = generate(run_dir, [inputs], out, batch_size=2, progress=False)
    assert report["failed"] == [] and len(report["written"]) == 2
    source_header = fits.Header.fromtextfile(EUVI_HEADER)
    generated = sunpy.map.Map(out / "20090615_000900_n4euA_magnetogram.fits")
    source = sunpy.map.Map(np.zeros((128, 128)), source_header)
    assert generated.data.shape == (SIZE, SIZE) and generated.data.dtype.name == "float32"
    assert generated.meta["bunit"] == "Gauss" and generated.meta["telescop"] == "solarmaggan"
    assert generated.meta["srcobs"] == "STEREO_A" and generated.meta["srcdet"] == "EUVI"
    assert generated.meta["srcwave"] == 304
    assert "HMI" not in generated.meta["instrume"] and "wavelnth" not in generated.meta
    observer = generated.observer_coordinate
    assert observer.lon.to_value(u.deg) == pytest.approx(source_header["HGLN_OBS"])
    assert observer.lat.to_value(u.deg) == pytest.approx(source_header["HGLT_OBS"])
    assert observer.radius.to_value(u.m) == pytest.approx(source_header["DSUN_OBS"])
    assert generated.meta["date-obs"][:19] == source_header["DATE-OBS"][:19]
    rsun_arcsec = np.degrees(np.arcsin(source.rsun_meters / source.dsun)).to_value(u.deg) * 3600
    assert generated.scale.axis1.to_value(u.arcsec / u.pix) == pytest.approx(rsun_arcsec / RADIUS)
    centre = generated.wcs.world_to_pixel(
        SkyCoord(0 * u.arcsec, 0 * u.arcsec, frame=generated.coordinate_frame))
    np.testing.assert_allclose(centre, ((SIZE - 1) / 2, (SIZE - 1) / 2), atol=1e-6)
    off_disk = radial_distance(SIZE) > 0.98 * RADIUS
    assert np.isnan(generated.data[off_disk]).all() and np.isfinite(generated.data[~off_disk]).all()
    assert any("euvi bias" in line for line in generated.meta["history"].splitlines())
    assert (out / "20090615_000900_n4euA_magnetogram.png").stat().st_size > 1000
    aia_generated = sunpy.map.Map(out / "aia.lev1.304A_magnetogram.fits")
    assert aia_generated.meta["srcinst"].startswith("AIA")

    again = generate(run_dir, [inputs], out, progress=False)
    assert again["written"] == [] and len(again["skipped"]) == 2


def test_bad_inputs_are_reported_and_the_rest_still_written(tiny_run, tmp_path):
    run_dir, _ = tiny_run
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    euvi_file(inputs / "good.fts")
    euvi_file(inputs / "euvi171.fts", wavelength=171)
    euvi_file(inputs / "no_observer.fts", drop=("DSUN_OBS",))
    (inputs / "notes.fits").write_text("not FITS at all\n" * 100)
    run = subprocess.run(
        [sys.executable, "-m", "solarmaggan", "generate", "--model", str(run_dir), "--out",
         str(tmp_path / "out"), "--quiet", str(inputs)],
        capture_output=True, text=True, timeout=180)
    assert run.returncode == 1
    assert "1 magnetograms written" in run.stdout and "3 failed" in run.stdout
    assert "euvi171.fts: wrong wavelength: 171 A, expected 304 A" in run.stderr
    assert "no_observer.fts: missing observer keyword DSUN_OBS" in run.stderr
    assert "notes.fits: not a readable FITS file" in run.stderr
    assert "Traceback" not in run.stderr
    assert (tmp_path / "out" / "good_magnetogram.fits").exists()


def test_evaluate_writes_the_report_and_figures(tiny_run, tmp_path):
    run_dir, toy = tiny_run
    report = evaluate(run_dir, toy, tmp_path / "eval", split="test", progress=False,
                      tensorboard=True)
    saved = json.loads((tmp_path / "eval" / "report.json").read_text())
    assert saved["split"] == "test" and len(saved["per_image"]) == 4
    first = saved["per_image"][0]
    for key in ("pixel_cc", "pixel_cc_binned", "rmse_gauss", "mae_gauss", "ssim",
                "unsigned_flux_true_mx", "unsigned_flux_generated_mx", "net_flux_true_mx"):
        assert key in first
    assert 1e20 < first["unsigned_flux_true_mx"] < 1e24  # a toy Sun at 32 px, in Maxwell
    assert saved["aggregate"]["n_images"] == 4
    assert set(report["figures"]) == {"scatter.png", "flux.png", "examples.png", "band_profile.png"}
    for figure in report["figures"]:
        assert (tmp_path / "eval" / figure).stat().st_size > 1000
    assert list((tmp_path / "eval" / "logs").glob("events.out.tfevents.*"))


# -- models of several EUV channels (AISFM: AIA 304, 193, 171; EUVI 304, 195, 171) ----------
@pytest.fixture(scope="module")
def three_channel_run(tmp_path_factory):
    """A tiny 3-channel model (AIA 304, 193, 171; far side EUVI 304, 195, 171), 10 steps
    on a 3-channel toy-Sun file."""
    from conftest import tiny_config
    from data_prep.toysun import write_toy_dataset
    from solarmaggan.training import train

    folder = tmp_path_factory.mktemp("three")
    toy = write_toy_dataset(folder / "toy3.h5", 12, SIZE, seed=0, input_channels=(304, 193, 171))
    near = [{"name": f"AIA {w}", "kind": "aia", "wavelength": w} for w in (304, 193, 171)]
    far = [{"name": f"EUVI {w}", "kind": "euvi", "wavelength": w} for w in (304, 195, 171)]
    config = tiny_config("training.steps=10", f"data.input_channels={json.dumps(near)}",
                         f"data.far_side_channels={json.dumps(far)}")
    train(config, toy, folder / "run", progress=False)
    return folder / "run"


def euvi_set(folder, minute, wavelengths=(304, 195, 171)):
    """EUVI files of one set: the 304 image at 00:MM:00, the others 30 and 60 s later and
    seen from 1 deg further west (so the output's observer tells whose geometry it has);
    names that lie about the channel. Returns {wavelength: path}."""
    paths = {}
    for offset, wavelength in enumerate(wavelengths):
        path = folder / f"euvi_{(304, 195, 171)[offset - 1]}_{minute:02d}.fts"
        euvi_file(path, wavelength)
        with fits.open(path, mode="update") as hdus:
            seconds = 60 * minute + 30 * offset
            hdus[0].header["DATE-OBS"] = (f"2009-06-15T01:{seconds // 60:02d}:"
                                          f"{seconds % 60:02d}.000")
            hdus[0].header["HGLN_OBS"] += offset
        paths[wavelength] = path
    return paths


def test_three_channel_model_generates_from_sets_of_euvi_files(three_channel_run, tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    complete = euvi_set(inputs, 0)
    incomplete = euvi_set(inputs, 30, wavelengths=(304, 195))
    out = tmp_path / "out"
    report = generate(three_channel_run, [inputs], out, progress=False, quicklook=False)
    assert report["written"] == [str(out / f"{complete[304].stem}_magnetogram.fits")]
    failed = {entry["path"].split("/")[-1]: entry["reason"] for entry in report["failed"]}
    assert set(failed) == {incomplete[304].name, incomplete[195].name}
    assert incomplete[304].name in failed[incomplete[304].name]
    assert "no EUVI 171 file within 300 s" in failed[incomplete[304].name]
    assert "not in a complete EUVI 304 + EUVI 195 + EUVI 171 set" in failed[incomplete[195].name]
    generated = sunpy.map.Map(report["written"][0])
    assert generated.data.shape == (SIZE, SIZE) and generated.meta["srcwave"] == 304
    source_header = fits.getheader(complete[304])
    assert generated.observer_coordinate.lon.to_value(u.deg) == pytest.approx(
        source_header["HGLN_OBS"])
    history = generated.meta["history"].splitlines()
    assert [line for line in history if line.startswith("input channel")] == [
        f"input channel {w} A: {complete[w].name}" for w in (304, 195, 171)]
    off_disk = radial_distance(SIZE) > 0.98 * RADIUS
    assert np.isfinite(generated.data[~off_disk]).all()
    with pytest.raises(ValueError, match="one-channel model"):
        generate(three_channel_run, [inputs], out, progress=False, any_wavelength=True)


def test_off_disk_zero_and_clipping_to_the_stated_limits(tmp_path):
    run_dir, _ = linear_output_run(tmp_path / "run")
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    euvi_file(inputs / "far.fts")
    report = generate(run_dir, [inputs], tmp_path / "zero", off_disk="zero", progress=False,
                      quicklook=False)
    zero = sunpy.map.Map(report["written"][0])
    off_disk = radial_distance(SIZE) > 0.98 * RADIUS
    assert (zero.data[off_disk] == 0.0).all() and np.isfinite(zero.data).all()
    # the linear output exceeds +-100 G; the file holds what CLIPMIN / CLIPMAX say
    assert zero.meta["clipmin"] == -100.0 and zero.meta["clipmax"] == 100.0
    assert zero.data.min() == -100.0 and zero.data.max() == 100.0
    default = sunpy.map.Map(generate(run_dir, [inputs], tmp_path / "nan", progress=False,
                                     quicklook=False)["written"][0])
    assert np.isnan(default.data[off_disk]).all()
    np.testing.assert_array_equal(default.data[~off_disk], zero.data[~off_disk])


def test_evaluate_deproject_reads_only_its_split_and_records_the_disk(tiny_run, tmp_path):
    run_dir, _ = tiny_run
    from data_prep.splits import SplitRule
    from data_prep.toysun import write_toy_dataset

    # a file with a test split only (every month a test month): evaluate needs no more
    test_only = write_toy_dataset(tmp_path / "test_only.h5", 6, SIZE, seed=3,
                                  split_rule=SplitRule(tuple(range(1, 13)), ()))
    plain = evaluate(run_dir, test_only, tmp_path / "plain", progress=False)
    deprojected = evaluate(run_dir, test_only, tmp_path / "deprojected", progress=False,
                           deproject=True)
    assert plain["settings"]["disk_rsun"] == 0.95 and deprojected["settings"]["deproject"]
    mu = mu_map(SIZE, RADIUS)
    disk = radial_distance(SIZE) <= 0.95 * RADIUS
    boost_range = (1.0, 1.0 / mu[disk].min())
    for before, after in zip(plain["per_image"], deprojected["per_image"]):
        ratio = after["unsigned_flux_true_mx"] / before["unsigned_flux_true_mx"]
        assert boost_range[0] < ratio < boost_range[1]  # 1/mu > 1 off centre, bounded
        assert after["pixel_cc"] == before["pixel_cc"]  # only fluxes are de-projected
    assert "0.95 R_sun" in summary_table(plain)


def test_summary_table_prints_n_a_for_undefined_values():
    report = {"split": "test", "settings": {"disk_rsun": 0.95, "bin_factor": 8},
              "aggregate": {"n_images": 2, "pixel_cc_mean": 0.5, "cc_active_mean": float("nan"),
                            "cc_quiet_mean": 0.4, "flux_cc": None}}
    table = summary_table(report)
    assert "| CC active / quiet | n/a / 0.400 |" in table
    assert "| unsigned-flux CC | n/a |" in table and "nan" not in table
