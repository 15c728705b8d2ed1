"""`evaluate --generated DIR --truth DIR`: generated magnetogram FITS files against true ones
on another detector (sunpy's real STEREO-A EUVI header, rolled and pointed off the Sun
centre), matched by observer and time, put on one frame through both WCSs.

The field is a known pattern of bipoles placed at helioprojective positions and evaluated
at each file's pixel centres through that file's own WCS (sunpy), independently of the
resampling under test."""

import json
import shutil
import sys

import astropy.units as u
import numpy as np
import pytest
import sunpy.map
from astropy.io import fits
from sunpy.data.test import get_test_filepath

from data_prep.geometry import radial_distance
from data_prep.prepare import prepare_map
from solarmaggan.cli import main
from solarmaggan.evaluate import summary_table
from solarmaggan.evaluate_fits import evaluate_fits
from solarmaggan.generate import generate, output_header, write_fits

from conftest import untrained_run
from test_bad_inputs import expect, run_cli
from test_generate_evaluate import euvi_file

SIZE = 64
RADIUS = 392 / 1024 * SIZE
EUVI_HEADER = get_test_filepath("euvi_20090615_000900_n4euA_s.header")
TIME = "2009-06-15T00:09:00.006"  # the EUVI header's DATE-OBS
SIGMA_ARCSEC = 110.0
# (Tx, Ty) arcsec, sign: two bipoles in the north-west and south-east quadrants
BIPOLES = [(300.0, 250.0, 1.0), (450.0, 170.0, -1.0), (-250.0, -350.0, 1.0),
           (-380.0, -300.0, -1.0)]


def field(solar_map, amplitude=80.0, flip=False):
    """The known LOS field (G) at each pixel centre of ``solar_map`` (through its WCS);
    ``flip`` mirrors it east-west (Tx -> -Tx)."""
    coordinates = sunpy.map.all_coordinates_from_map(solar_map)
    tx, ty = coordinates.Tx.to_value(u.arcsec), coordinates.Ty.to_value(u.arcsec)
    if flip:
        tx = -tx
    gauss = np.zeros(tx.shape)
    for x, y, sign in BIPOLES:
        squared = ((tx - x) ** 2 + (ty - y) ** 2) / SIGMA_ARCSEC ** 2
        gauss += sign * amplitude * np.exp(-squared / 2)
    return gauss.astype(np.float32), np.hypot(tx, ty)


@pytest.fixture(scope="module")
def frame_header(tmp_path_factory):
    """The header `generate` writes for the EUVI file at 64 px (its own header function on
    prep's frame of that file, the EUVI observer and DATE-OBS)."""
    folder = tmp_path_factory.mktemp("frame")
    source = euvi_file(folder / "20090615_000900_n4euA.fts")
    prepared = prepare_map(source, "euvi", SIZE, RADIUS)
    return output_header(prepared, {}, folder / "untrained.keras", source, 100.0)


def write_generated(path, header, amplitude=80.0, flip=False, clip=100.0, **changes):
    """A generate-like magnetogram: the known field on the standard frame, NaN beyond
    0.98 R_sun, clipped to +-clip; header keywords (lower case) changed by ``changes``."""
    header = {**header, **changes}
    gauss, _ = field(sunpy.map.Map(np.zeros((SIZE, SIZE), np.float32), header), amplitude, flip)
    gauss = np.clip(gauss, -clip, clip)
    gauss[radial_distance(SIZE) > 0.98 * RADIUS] = np.nan
    path.parent.mkdir(parents=True, exist_ok=True)
    write_fits(path, gauss, header, ["test: known field"])
    return path


def write_truth(path, pixels=100, roll_deg=25.0, pointing=(250.0, -180.0), amplitude=80.0,
                whole_disk=True, **changes):
    """A true LOS magnetogram on a STEREO-A-like detector: sunpy's real EUVI header with
    ``pixels`` a side (CDELT scaled to the same field of view), rolled by ``roll_deg`` and
    pointed at helioprojective ``pointing`` (arcsec); NaN off the disk; ``whole_disk``:
    check that the disk lies wholly on the detector."""
    header = fits.Header.fromtextfile(EUVI_HEADER)
    for key in ("BLANK", "CROTA", "WAVELNTH", "BIASMEAN"):
        header.remove(key, ignore_missing=True)
    scale = header["CDELT1"] * header["NAXIS1"] / pixels
    header.update({"NAXIS1": pixels, "NAXIS2": pixels, "CDELT1": scale, "CDELT2": scale,
                   "CRPIX1": (pixels + 1) / 2, "CRPIX2": (pixels + 1) / 2,
                   "CRVAL1": pointing[0], "CRVAL2": pointing[1], "BUNIT": "Gauss",
                   "INSTRUME": "toy Sun truth", "DETECTOR": "LOS magnetogram",
                   "CONTENT": "LOS MAGNETOGRAM (TRUTH)"})
    cos, sin = np.cos(np.radians(roll_deg)), np.sin(np.radians(roll_deg))
    header.update({"PC1_1": cos, "PC1_2": -sin, "PC2_1": sin, "PC2_2": cos})
    header.update(changes)
    solar_map = sunpy.map.Map(np.zeros((pixels, pixels), np.float32), header)
    gauss, distance = field(solar_map, amplitude)
    gauss[distance > solar_map.rsun_obs.to_value(u.arcsec)] = np.nan
    if whole_disk:
        assert np.isnan(gauss[[0, -1]]).all() and np.isnan(gauss[:, [0, -1]]).all()
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.writeto(path, gauss, header)
    return path


def carrington_map(path):
    """A Carrington map (CRLN-CEA), as a campaign's truth/carrington/ holds."""
    header = fits.Header({"CTYPE1": "CRLN-CEA", "CTYPE2": "CRLT-CEA", "CUNIT1": "deg",
                          "CUNIT2": "deg", "CDELT1": 1.0, "CDELT2": 2 / np.pi,
                          "CRPIX1": 180.5, "CRPIX2": 90.5, "CRVAL1": 180.0, "CRVAL2": 0.0,
                          "BUNIT": "Gauss", "DATE-OBS": TIME})
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.writeto(path, np.zeros((180, 360), np.float32), header)
    return path


def test_truth_on_a_rolled_offset_detector_agrees_with_the_same_field(frame_header, tmp_path):
    generated = write_generated(tmp_path / "generated" / "a_magnetogram.fits", frame_header)
    truth = write_truth(tmp_path / "truth" / "stereo-a" / "magnetogram" / "a.fits")
    carrington_map(tmp_path / "truth" / "carrington" / "cr.fits")
    report = evaluate_fits(tmp_path / "generated", tmp_path / "truth", tmp_path / "out",
                           progress=False)
    [pair] = report["per_image"]
    assert pair["generated"] == str(generated) and pair["truth"] == str(truth)
    assert pair["pixel_cc"] >= 0.99 and pair["pixel_cc_binned"] >= 0.99
    assert pair["truth_coverage"] == 1.0 and pair["time"].startswith(TIME[:19])
    assert pair["observer"]["name"] == "STEREO_A"
    assert pair["observer"]["hgln_deg"] == pytest.approx(51.801012885)
    assert pair["unsigned_flux_generated_mx"] == pytest.approx(
        pair["unsigned_flux_true_mx"], rel=0.03)
    assert pair["unsigned_flux_true_mx"] > 1e22  # the bipoles, not an empty disk
    assert report["unmatched"] == [] and report["truth_unused"] == []
    assert [entry["path"] for entry in report["truth_skipped"]] == [
        str(tmp_path / "truth" / "carrington" / "cr.fits")]
    assert "not a helioprojective image" in report["truth_skipped"][0]["reason"]

    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["settings"]["mode"] == "fits" and saved["settings"]["disk_rsun"] == 0.95
    assert saved["settings"]["radius_px"] == pytest.approx(RADIUS)
    assert saved["settings"]["magnetogram_limit_gauss"] == 100.0
    assert saved["aggregate"]["n_images"] == 1
    assert saved["aggregate"]["pixel_cc_mean"] == pytest.approx(pair["pixel_cc"])
    assert set(saved["figures"]) == {"scatter.png", "flux.png", "examples.png", "band_profile.png"}
    for figure in saved["figures"]:
        assert (tmp_path / "out" / figure).stat().st_size > 1000
    assert "| generated vs truth | value |" in summary_table(report)


def test_disk_pixels_off_the_truth_detector_are_left_out(frame_header, tmp_path):
    """A detector pointed 1300 arcsec west sees only part of the disk: the rest counts in
    neither image (CC and fluxes agree on the part seen); one that misses the disk is
    reported as unmatched."""
    write_generated(tmp_path / "generated" / "a_magnetogram.fits", frame_header)
    write_truth(tmp_path / "partial" / "a.fits", pointing=(1300.0, 0.0), whole_disk=False)
    [pair] = evaluate_fits(tmp_path / "generated", tmp_path / "partial", tmp_path / "out",
                           progress=False)["per_image"]
    assert 0.4 < pair["truth_coverage"] < 0.9
    assert pair["pixel_cc"] >= 0.99
    assert pair["unsigned_flux_generated_mx"] == pytest.approx(
        pair["unsigned_flux_true_mx"], rel=0.03)
    write_truth(tmp_path / "elsewhere" / "a.fits", pointing=(3500.0, 0.0), whole_disk=False)
    with pytest.raises(ValueError, match="a.fits does not cover its disk"):
        evaluate_fits(tmp_path / "generated", tmp_path / "elsewhere", tmp_path / "none",
                      progress=False)
    assert not (tmp_path / "none").exists()


def test_a_field_flipped_east_west_does_not_match(frame_header, tmp_path):
    write_generated(tmp_path / "generated" / "a_magnetogram.fits", frame_header, flip=True)
    write_truth(tmp_path / "truth" / "a.fits")
    [pair] = evaluate_fits(tmp_path / "generated", tmp_path / "truth", tmp_path / "out",
                           progress=False)["per_image"]
    assert abs(pair["pixel_cc"]) < 0.3


def test_the_truth_is_clipped_to_the_generated_range(frame_header, tmp_path):
    """A 250 G truth against a generated file clipped to +-100 G (CLIPMIN / CLIPMAX), as the
    HDF5 targets are: equal after clipping; the full range on request."""
    write_generated(tmp_path / "generated" / "a_magnetogram.fits", frame_header, amplitude=250.0)
    write_truth(tmp_path / "truth" / "a.fits", amplitude=250.0)
    clipped = evaluate_fits(tmp_path / "generated", tmp_path / "truth", tmp_path / "clipped",
                            progress=False)
    full = evaluate_fits(tmp_path / "generated", tmp_path / "truth", tmp_path / "full",
                         progress=False, clip_truth=False)
    assert clipped["settings"]["truth_clipped"] and not full["settings"]["truth_clipped"]
    assert clipped["per_image"][0]["rmse_gauss"] < 2.0
    assert full["per_image"][0]["rmse_gauss"] > 5 * clipped["per_image"][0]["rmse_gauss"]


def test_files_are_matched_by_observer_and_time(frame_header, tmp_path, capsys):
    generated, truth = tmp_path / "generated", tmp_path / "truth"
    matched = write_generated(generated / "a_0040.fits", frame_header,
                              **{"date-obs": "2009-06-15T00:09:40.006"})
    hour_later = write_generated(generated / "a_1000.fits", frame_header,
                                 **{"date-obs": "2009-06-15T01:09:00.006"})
    second = write_generated(generated / "a_0050.fits", frame_header,
                             **{"date-obs": "2009-06-15T00:09:50.006"})
    elsewhere = write_generated(generated / "c_0000.fits", frame_header,
                                hgln_obs=frame_header["hgln_obs"] + 30.0)
    stereo_a = write_truth(truth / "stereo-a" / "magnetogram" / "a.fits")
    stereo_b = write_truth(truth / "stereo-b" / "magnetogram" / "b.fits", HGLN_OBS=-48.0,
                           HGLT_OBS=-6.0, DSUN_OBS=1.5e11)
    carrington_map(truth / "carrington" / "cr.fits")
    (truth / "notes.txt").write_text("not FITS")
    report = evaluate_fits(generated, truth, tmp_path / "out", progress=False)
    assert [(p["generated"], p["truth"]) for p in report["per_image"]] == [
        (str(matched), str(stereo_a))]
    assert report["per_image"][0]["time_offset_s"] == pytest.approx(-40.0)
    reasons = {entry["path"]: entry["reason"] for entry in report["unmatched"]}
    assert set(reasons) == {str(hour_later), str(second), str(elsewhere)}
    assert "within 60 s (nearest: -3600 s" in reasons[str(hour_later)]
    assert "already matched" in reasons[str(second)]
    assert "29.8 deg away" in reasons[str(elsewhere)]  # 30 deg of longitude at 6.4 deg
    assert report["truth_unused"] == [str(stereo_b)]
    assert report["settings"]["tolerance_s"] == 60.0

    # the tolerance: 30 s leaves the file 40 s off unmatched too; none matched -> exit 2
    expect(*run_cli(["evaluate", "--generated", generated, "--truth", truth, "--out",
                     tmp_path / "strict", "--tolerance-s", "30", "--quiet"], capsys), 2,
           "no generated magnetogram matched a truth file", command="evaluate")
    assert not (tmp_path / "strict").exists()

    # the command line: the table, the unmatched files with their reasons
    status = main(["evaluate", "--generated", str(generated), "--truth", str(truth), "--out",
                   str(tmp_path / "cli"), "--quiet"])
    printed = capsys.readouterr().out
    assert status == 0
    assert "| generated vs truth | value |" in printed and "| images | 1 |" in printed
    assert f"unmatched: {hour_later}: no truth file" in printed
    assert "1 pairs, 3 generated files unmatched; 1 true magnetograms unused" in printed
    assert json.loads((tmp_path / "cli" / "report.json").read_text())["unmatched"]


def test_generate_output_is_evaluated_from_the_command_line(tmp_path, capsys):
    """The real chain: `generate` (an untrained tiny model at 64 px) on a far-side EUVI
    file, then `evaluate --generated --truth` against that view's truth."""
    run_dir, _ = untrained_run(tmp_path / "run", f"data.image_size={SIZE}",
                               f"data.radius_px={RADIUS}")
    inputs = tmp_path / "euvi"
    inputs.mkdir()
    euvi_file(inputs / "20090615_000900_n4euA.fts")
    written = generate(run_dir, [inputs], tmp_path / "generated", progress=False)["written"]
    assert len(written) == 1
    write_truth(tmp_path / "truth" / "stereo-a" / "magnetogram" / "a.fits")
    status = main(["evaluate", "--generated", str(tmp_path / "generated"), "--truth",
                   str(tmp_path / "truth"), "--out", str(tmp_path / "out"), "--quiet",
                   "--examples", "1"])
    printed = capsys.readouterr().out
    assert status == 0 and "| generated vs truth | value |" in printed
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    [pair] = report["per_image"]
    assert pair["generated"] == written[0] and pair["observer"]["name"] == "STEREO_A"
    assert np.isfinite(pair["pixel_cc"]) and pair["truth_coverage"] == 1.0
    assert (tmp_path / "out" / "examples.png").stat().st_size > 1000


def test_command_line_refusals(frame_header, tmp_path, capsys):
    generated = tmp_path / "generated"
    write_generated(generated / "a_magnetogram.fits", frame_header)
    truth = tmp_path / "truth"
    write_truth(truth / "a.fits")
    out = tmp_path / "out"

    def refused(arguments, *needles):
        status, lines = run_cli(["evaluate", "--out", out, *arguments], capsys)
        expect(status, lines, 2, *needles, command="evaluate")
        assert len(lines) == 1 and not out.exists()

    refused(["--generated", generated], "--generated and --truth go together")
    refused(["--truth", truth], "--generated and --truth go together")
    refused(["--generated", generated, "--truth", truth, "--model", tmp_path],
            "exclude --model and --data")
    refused(["--generated", generated, "--truth", truth, "--data", tmp_path / "x.h5"],
            "exclude --model and --data")
    refused([], "--model and --data (an HDF5 split) are required")
    refused(["--model", tmp_path], "--model and --data (an HDF5 split) are required")
    refused(["--model", tmp_path, "--data", tmp_path / "x.h5", "--tolerance-s", "5"],
            "--tolerance-s is for FITS files")
    status, lines = run_cli(["evaluate", "--out", out, "--generated", generated, "--truth",
                             truth, "--tolerance-s", "soon"], capsys)
    assert status == 2 and "invalid float value: 'soon'" in lines[-1]

    # folders: missing, without FITS files
    refused(["--generated", tmp_path / "missing", "--truth", truth],
            f"{tmp_path / 'missing'}: no generated magnetogram FITS file")
    refused(["--generated", generated, "--truth", tmp_path / "nowhere"],
            f"{tmp_path / 'nowhere'}: no such folder")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "sub").mkdir()
    (tmp_path / "empty" / "sub" / "notes.txt").write_text("no FITS here")
    refused(["--generated", tmp_path / "empty", "--truth", truth],
            "no generated magnetogram FITS file")
    refused(["--generated", generated, "--truth", tmp_path / "empty"],
            f"{tmp_path / 'empty'}: no FITS file in the folder or below")

    # files: corrupt (either side), not a magnetogram, not on the standard frame
    bad_generated = tmp_path / "bad_generated"
    shutil.copytree(generated, bad_generated)
    (bad_generated / "notes.fits").write_text("plain text, not FITS\n" * 50)
    euvi_file(bad_generated / "euvi.fts")
    write_truth(bad_generated / "truth_as_generated.fits")
    status, lines = run_cli(["evaluate", "--out", out, "--generated", bad_generated,
                             "--truth", truth], capsys)
    expect(status, lines, 2, "notes.fits: not a readable FITS file",
           "euvi.fts: not a line-of-sight magnetogram",
           "truth_as_generated.fits: not on the standard frame of `solarmaggan generate`",
           command="evaluate")
    assert len(lines) == 3 and not out.exists()  # one line a file, the good one unused
    bad_truth = tmp_path / "bad_truth"
    shutil.copytree(truth, bad_truth)
    (bad_truth / "deep").mkdir()
    good = (truth / "a.fits").read_bytes()
    (bad_truth / "deep" / "truncated.fits").write_bytes(good[:2000])
    refused(["--generated", generated, "--truth", bad_truth],
            "truncated.fits: not a readable FITS file")
    # a truth file whose header reads but whose pixels are cut off, matched and then read
    (bad_truth / "deep" / "truncated.fits").unlink()
    (bad_truth / "a.fits").write_bytes(good[:len(good) // 2])
    refused(["--generated", generated, "--truth", bad_truth],
            f"{bad_truth / 'a.fits'}: sunpy cannot read it as a map")


def test_a_real_process_answers_before_loading_tensorflow(tmp_path):
    """A wrong folder is answered at once, one line, exit 2, TensorFlow never imported."""
    import subprocess

    code = ("import sys; from solarmaggan.cli import main; status = main(sys.argv[1:]); "
            "assert 'tensorflow' not in sys.modules; sys.exit(status)")
    result = subprocess.run(
        [sys.executable, "-c", code, "evaluate", "--generated", str(tmp_path / "missing"),
         "--truth", str(tmp_path), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "missing: no generated magnetogram" in result.stderr
