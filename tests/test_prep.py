"""`prep`: folders of FITS files (real AIA / HMI headers) -> a resumable HDF5 pair file."""

import json
import subprocess
import sys

import numpy as np
import pytest
from astropy.io import fits
from sunpy.data.test import get_test_filepath

from data_prep.latitude import latitude_normalization, sin_latitude_image
from data_prep.pairs import PairFile
from data_prep.prep import PrepSettings, build_pair_file

SIZE, RADIUS = 64, 24.0
MONTHS = [1, 3, 8, 9, 10, 12]


def magnetogram_at(header, month):
    """Make the real HMI header a line-of-sight magnetogram of 2012-MM-03T00:00:40 UTC."""
    header.update({"CONTENT": "MAGNETOGRAM", "BUNIT": "Gauss",
                   "DATE-OBS": f"2012-{month:02d}-03T00:00:40.00",
                   "T_OBS": f"2012.{month:02d}.03_00:01:15_TAI"})


def write_observations(folder):
    """AIA 304 and HMI magnetogram files, one pair per month, HMI 40 s after AIA; file names
    sorted against time; HMI as JSOC's Rice-compressed HDU 1. Returns (euv dir, hmi dir)."""
    euv_dir, hmi_dir = folder / "aia", folder / "hmi"
    euv_dir.mkdir()
    hmi_dir.mkdir()
    aia_header = fits.getheader(get_test_filepath("aia_171_level1.fits"))
    aia_header.remove("BLANK", ignore_missing=True)
    aia_data = fits.getdata(get_test_filepath("aia_171_level1.fits")).astype(np.float32)
    hmi_header = fits.getheader(get_test_filepath("resampled_hmi.fits"))
    hmi_header.remove("BLANK", ignore_missing=True)  # float data below
    y, x = np.mgrid[0:100, 0:100]
    for index, month in enumerate(MONTHS):
        aia_header.update({"WAVELNTH": 304, "DATE-OBS": f"2012-{month:02d}-03T00:00:00.00",
                           "T_OBS": f"2012-{month:02d}-03T00:00:01.00Z"})
        fits.writeto(euv_dir / f"aia_{len(MONTHS) - index:02d}.fits", aia_data, aia_header)
        magnetogram_at(hmi_header, month)
        # a positive spot at HMI pixel (40, 55): left of and above the centre of the upside-down
        # image (CROTA2 ~ 180), i.e. south-west on the Sun
        field = 80.0 * np.exp(-((x - 40) ** 2 + (y - 55) ** 2) / 20.0) + 0.5 * index
        fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(
            field.astype(np.float32), hmi_header, compression_type="RICE_1")]
        ).writeto(hmi_dir / f"hmi_{index:02d}.fits")
    aia_header.update({"DATE-OBS": "2012-05-03T00:00:00.00", "T_OBS": "2012-05-03T00:00:01Z"})
    fits.writeto(euv_dir / "aia_lonely.fits", aia_data, aia_header)  # no magnetogram
    aia_header.update({"WAVELNTH": 171, "DATE-OBS": "2012-06-03T00:00:00.00"})
    fits.writeto(euv_dir / "aia_171.fits", aia_data, aia_header)  # wrong wavelength
    return euv_dir, hmi_dir


def settings() -> PrepSettings:
    return PrepSettings.from_preset("quick", image_size=SIZE, radius_px=RADIUS)


def test_prep_pairs_by_time_writes_splits_and_resumes(tmp_path):
    euv_dir, hmi_dir = write_observations(tmp_path)
    out = tmp_path / "pairs.h5"
    record = build_pair_file([euv_dir], [hmi_dir], out, settings(), workers=1, progress=False)
    assert record["samples"] == len(MONTHS) and record["written_now"] == len(MONTHS)
    reasons = {entry["path"].split("/")[-1]: entry["reason"]
               for entry in record["pairing"]["rejected"] + record["pairing"]["unmatched"]}
    assert "304" in reasons["aia_171.fits"] and "aia_lonely.fits" in reasons
    with PairFile(out) as pairs:
        times = pairs.times()
        assert times == sorted(times) and [int(t[5:7]) for t in times] == MONTHS
        assert [int(pairs.read(i)["target_time"][5:7]) for i in range(len(pairs))] == MONTHS
        # each AIA file went with the magnetogram of its own time, despite the file names
        for index in range(len(pairs)):
            sample = pairs.read(index)
            assert sample["target_files"] == [f"hmi_{index:02d}.fits"]
            assert sample["input_header"]["wavelnth"] == 304
            assert sample["target_header"]["bunit"] == "Gauss"
        assert [pairs.read(i)["input_time"][5:7] for i in pairs.split_indices("test")] == ["09", "10"]
        assert len(pairs.split_indices("val")) == 1 and len(pairs.split_indices("train")) == 3
        gauss = pairs.target_normalization[0].denormalize(pairs.read(0)["target"][..., 0])
        assert pairs.rsun_px == RADIUS and pairs.metadata["settings"]["preset"] == "quick"
    # the spot keeps its sign and lands south-west (lower right) of the disk centre
    row, col = np.unravel_index(np.argmax(gauss), gauss.shape)
    assert gauss[row, col] > 40 and row < SIZE / 2 and col > SIZE / 2
    assert gauss.min() > -5
    report = json.loads((tmp_path / "pairs.h5.report.json").read_text())
    assert report["samples"] == len(MONTHS)

    again = build_pair_file([euv_dir], [hmi_dir], out, settings(), workers=1, progress=False)
    assert again["written_now"] == 0 and again["already_present"] == len(MONTHS)


def test_prep_command_line_in_parallel(tmp_path):
    euv_dir, hmi_dir = write_observations(tmp_path)
    out = tmp_path / "cli.h5"
    run = subprocess.run(
        [sys.executable, "-m", "data_prep", "prep", "--preset", "quick", "--euv", str(euv_dir),
         "--magnetogram", str(hmi_dir), "--out", str(out), "--image-size", str(SIZE),
         "--radius-px", str(RADIUS), "--workers", "2", "--latitude-channel"],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert f"{len(MONTHS)} pairs" in run.stdout and "aia_171.fits" in run.stdout
    with PairFile(out) as pairs:
        assert len(pairs) == len(MONTHS)
        # the latitude channel, from each AIA file's own observer keywords
        assert pairs.input_channels == ["AIA 304", "sin latitude"]
        assert pairs.input_normalization[1] == latitude_normalization()
        for index in range(len(pairs)):
            header = pairs.header(index, "input")
            expected = sin_latitude_image(SIZE, RADIUS, header["hglt_obs"],
                                          header["dsun_obs"] / header["rsun_ref"])
            np.testing.assert_allclose(pairs.read(index)["input"][..., 1], expected, atol=1e-3)
    bad = subprocess.run(
        [sys.executable, "-m", "data_prep", "prep", "--preset", "nope", "--euv", str(euv_dir),
         "--magnetogram", str(hmi_dir), "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert bad.returncode == 2 and "unknown preset 'nope'" in bad.stderr


def test_presets_hold_the_seed_settings():
    seed = PrepSettings.from_preset("kim2019")
    assert (seed.image_size, seed.radius_px, seed.magnetogram_limit_gauss) == (1024, 392.0, 100.0)
    assert seed.input_channel == "AIA 304" and seed.input_wavelength == 304
    assert seed.test_months == (9, 10) and seed.magnetogram_mask_rsun == 0.98
    with pytest.raises(ValueError, match="unknown setting"):
        PrepSettings.from_preset("kim2019", radius=3)
    assert seed.target_normalization.denormalize(np.array([1.0])) == pytest.approx(100.0)


# -- several EUV channels (AISFM 2.0/3.0: AIA 304, 193, 171) ----------------------------------
CHANNEL_SCALE = {304: 0.1, 193: 0.6, 171: 1.0}  # DN/s levels that differ, as the channels do


def write_channel_observations(folder, months=(1, 8, 9, 12)):
    """The real AIA 171 level-1 image as three channels per month (304 at 0.1 x, 193 at
    0.6 x with a bright marker, 171 as is; 2 and 5 s apart), file names that lie about the
    channel, and an HMI magnetogram 40 s later; in the last month the 171 image is 20 min
    late. Returns (euv dir, hmi dir)."""
    euv_dir, hmi_dir = folder / "aia", folder / "hmi"
    euv_dir.mkdir()
    hmi_dir.mkdir()
    header = fits.getheader(get_test_filepath("aia_171_level1.fits"))
    header.remove("BLANK", ignore_missing=True)
    data = fits.getdata(get_test_filepath("aia_171_level1.fits")).astype(np.float32)
    marked = data.copy()
    marked[38:43, 88:93] = 5.0 * data.max()  # on the disk, south-west (FITS rows go north)
    hmi_header = fits.getheader(get_test_filepath("resampled_hmi.fits"))
    names = {304: "171", 193: "304", 171: "193"}
    for month in months:
        for wavelength, seconds in ((304, 0), (193, 2), (171, 5)):
            if month == months[-1] and wavelength == 171:
                seconds += 1200
            header.update({"WAVELNTH": wavelength,
                           "DATE-OBS": f"2012-{month:02d}-03T00:{seconds // 60:02d}:{seconds % 60:02d}",
                           "T_OBS": f"2012-{month:02d}-03T00:{seconds // 60:02d}:{seconds % 60:02d}Z"})
            image = (marked if wavelength == 193 else data) * CHANNEL_SCALE[wavelength]
            fits.writeto(euv_dir / f"aia_{names[wavelength]}_{month:02d}.fits", image, header)
        magnetogram_at(hmi_header, month)
        fits.writeto(hmi_dir / f"hmi_{month:02d}.fits", np.full((100, 100), 50.0, np.float32),
                     hmi_header)
    header.update({"WAVELNTH": 211})
    fits.writeto(euv_dir / "aia_211.fits", data, header)
    return euv_dir, hmi_dir


def test_prep_three_channels_by_header_each_median_scaled(tmp_path):
    euv_dir, hmi_dir = write_channel_observations(tmp_path)
    out = tmp_path / "aisfm.h5"
    settings = PrepSettings.from_preset("jeong2020", image_size=SIZE, radius_px=RADIUS)
    assert settings.channel_names == ["AIA 304", "AIA 193", "AIA 171"]
    record = build_pair_file([euv_dir], [hmi_dir], out, settings, workers=1, progress=False)
    assert record["samples"] == 3 and record["failed_preparation"] == []
    reasons = {entry["path"].split("/")[-1]: entry["reason"]
               for entry in record["pairing"]["rejected"] + record["pairing"]["unmatched"]}
    assert "no AIA 171 file within 300 s" in reasons["hmi_12.fits"]
    assert "211 A is none of the input channels" in reasons["aia_211.fits"]
    with PairFile(out) as pairs:
        assert pairs.input_channels == ["AIA 304", "AIA 193", "AIA 171"]
        assert [n.to_dict() for n in pairs.input_normalization] == [
            {"kind": "log10", "clip_min": 1.0, "clip_max": 200.0, "unit": "DN/s"}] * 3
        assert pairs.target_normalization[0].clip_max == 3000.0
        assert pairs.metadata["settings"]["input_channels"][1] == {
            "name": "AIA 193", "kind": "aia", "wavelength": 193}
        sample = pairs.read(0)
        euv = sample["input"]
        assert euv.shape == (SIZE, SIZE, 3) and np.isfinite(euv).all()
        # one file per channel in the channel order, whatever the names say
        assert sample["input_files"] == ["aia_171_01.fits", "aia_304_01.fits", "aia_193_01.fits"]
        assert sample["input_header"]["wavelnth"] == 304
        assert sample["input_time"] == "2012-01-03T00:00:00.000"
        distance = np.hypot(*np.meshgrid(np.arange(SIZE) - (SIZE - 1) / 2,
                                         np.arange(SIZE) - (SIZE - 1) / 2)) / RADIUS
        for channel, norm in enumerate(pairs.input_normalization):
            dn_s = norm.denormalize(euv[..., channel])
            # the median scaling in DN/s, before the log, for each channel on its own
            assert np.median(dn_s[distance <= 1.0]) == pytest.approx(100.0, rel=0.02)
            assert np.all(euv[distance > 0.98, channel] == -1.0)  # masked beyond 0.98 R_sun
        # 304 at 0.1 x the 171 level: identical once each is scaled; 193 differs at its marker
        np.testing.assert_allclose(euv[..., 0], euv[..., 2], atol=2e-3)
        difference = euv[..., 1] - euv[..., 2]
        row, col = np.unravel_index(np.argmax(difference), difference.shape)
        assert difference[row, col] > 0.3 and row < SIZE / 2 and col > SIZE / 2
        assert np.sum(difference > 0.1) < 20


def test_multichannel_settings_and_command_line_errors(tmp_path, capsys):
    from data_prep.__main__ import main

    settings = PrepSettings.from_preset("jeong2020")
    assert settings.input_channel == "AIA 304" and settings.input_kind == "aia"
    assert len(settings.input_normalizations) == 3
    with pytest.raises(ValueError, match="needs one channel"):
        settings.any_wavelength()
    assert PrepSettings.from_preset("kim2019").any_wavelength().input_wavelength is None
    assert "input_channels" not in PrepSettings.from_preset("kim2019").to_dict()
    code = main(["prep", "--preset", "jeong2020", "--euv", str(tmp_path), "--magnetogram",
                 str(tmp_path), "--out", str(tmp_path / "x.h5"), "--any-wavelength"])
    assert code == 2 and "accepting any wavelength needs one channel" in capsys.readouterr().err
