"""`prep`: folders of FITS files (real AIA / HMI headers) -> a resumable HDF5 pair file."""

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
from astropy.io import fits
from sunpy.data.test import get_test_filepath

from data_prep.pairs import PairFile
from data_prep.prep import PrepSettings, build_pair_file

pytestmark = pytest.mark.filterwarnings("ignore")
SIZE, RADIUS = 64, 24.0
MONTHS = [1, 3, 8, 9, 10, 12]


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
    y, x = np.mgrid[0:100, 0:100]
    for index, month in enumerate(MONTHS):
        aia_header.update({"WAVELNTH": 304, "DATE-OBS": f"2012-{month:02d}-03T00:00:00.00",
                           "T_OBS": f"2012-{month:02d}-03T00:00:01.00Z"})
        fits.writeto(euv_dir / f"aia_{len(MONTHS) - index:02d}.fits", aia_data, aia_header)
        hmi_header.update({"CONTENT": "MAGNETOGRAM", "BUNIT": "Gauss",
                           "DATE-OBS": f"2012-{month:02d}-03T00:00:40.00",
                           "T_OBS": f"2012.{month:02d}.03_00:01:15_TAI"})
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
         "--radius-px", str(RADIUS), "--workers", "2"],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert f"{len(MONTHS)} pairs" in run.stdout and "aia_171.fits" in run.stdout
    with PairFile(out) as pairs:
        assert len(pairs) == len(MONTHS)
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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert seed.target_normalization.denormalize(np.array([1.0])) == pytest.approx(100.0)
