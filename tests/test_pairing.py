"""Pairing AIA and HMI files by the observation time in their (real) headers."""

import json
import subprocess
import sys

import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time, TimeDelta
from sunpy.data.test import get_test_filepath

from data_prep import fitsio
from data_prep.pairing import (
    ChannelSet,
    Pair,
    PairingReport,
    Rejected,
    expand_paths,
    group_channels,
    match_by_time,
    match_channels,
    pair_by_time,
    pair_channels_by_time,
    scan_channels,
    scan_files,
)

T0 = Time("2012-03-04T05:00:00", scale="utc")
RNG = np.random.default_rng(0)


def at(seconds: float) -> Time:
    return T0 + TimeDelta(seconds, format="sec")


def aia_header(seconds: float = 0.0, **updates) -> fits.Header:
    """The real AIA level 1 header, made 304 A, observed at T0 + seconds (T_OBS, the
    middle of the exposure, which fitsio reads first; DATE-OBS, its start, 1 s earlier)."""
    header = fits.getheader(get_test_filepath("aia_171_level1.fits"))
    header.remove("BLANK", ignore_missing=True)  # float data below
    time = at(seconds)
    header.update({"WAVELNTH": 304, "DATE-OBS": (time - TimeDelta(1.0, format="sec")).isot,
                   "T_OBS": time.isot + "Z"})
    header.update(updates)
    return header


def hmi_header(seconds: float = 0.0, **updates) -> fits.Header:
    """The real HMI header, made a line-of-sight magnetogram, observed at T0 + seconds
    (T_OBS in HMI's own TAI format, read first by fitsio; DATE-OBS 22.5 s earlier)."""
    header = fits.getheader(get_test_filepath("resampled_hmi.fits"))
    header.remove("BLANK", ignore_missing=True)
    time = at(seconds)
    t_obs = time.tai.strftime("%Y.%m.%d_%H:%M:%S") + "_TAI"
    header.update({"CONTENT": "MAGNETOGRAM", "BUNIT": "Gauss",
                   "DATE-OBS": (time - TimeDelta(22.5, format="sec")).isot, "T_OBS": t_obs})
    header.update(updates)
    return header


def write_aia(path, seconds=0.0, remove=(), **updates):
    header = aia_header(seconds, **updates)
    for key in remove:
        header.remove(key, ignore_missing=True)
    data = RNG.uniform(0, 100, (8, 8)).astype(np.float32)
    fits.PrimaryHDU(data, header).writeto(path)
    return str(path)


def write_hmi(path, seconds=0.0, compressed=False, remove=(), **updates):
    """A magnetogram; ``compressed``: Rice-compressed HDU 1 as in JSOC exports."""
    header = hmi_header(seconds, **updates)
    for key in remove:
        header.remove(key, ignore_missing=True)
    data = RNG.normal(0, 50, (8, 8)).astype(np.float32)
    if compressed:
        fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(
            data, header, compression_type="RICE_1")]).writeto(path)
    else:
        fits.PrimaryHDU(data, header).writeto(path)
    return str(path)


def reasons(entries):
    return {entry.path.split("/")[-1]: entry.reason for entry in entries}


# --- pairing by time ----------------------------------------------------------------------


def test_pairs_follow_header_times_not_file_names(tmp_path):
    euv_dir, hmi_dir = tmp_path / "aia", tmp_path / "hmi"
    euv_dir.mkdir()
    hmi_dir.mkdir()
    hours = [0, 1, 2, 3]
    hmi_names = ["hmi_c.fits", "hmi_a.fits", "hmi_d.fits", "hmi_b.fits"]
    for hour in hours:
        # names sorted against time, and a JSOC-style name with a misleading time in it
        euv_name = (f"aia_{9 - hour}.fits" if hour
                    else "aia.lev1_euv_12s.2012-03-04T080007Z.304.image_lev1.fits")
        write_aia(euv_dir / euv_name, 3600 * hour)
        write_hmi(hmi_dir / hmi_names[hour], 3600 * hour + 40, compressed=hour % 2 == 1)

    report = pair_by_time([euv_dir], [hmi_dir])
    assert isinstance(report, PairingReport)
    assert report.rejected == [] and report.unmatched == []
    assert [pair.euv_time for pair in report.pairs] == [at(3600 * h).isot for h in hours]
    assert [pair.magnetogram_path.split("/")[-1] for pair in report.pairs] == hmi_names
    euv_names = [pair.euv_path.split("/")[-1] for pair in report.pairs]
    assert euv_names[1:] == ["aia_8.fits", "aia_7.fits", "aia_6.fits"]
    for hour, pair in zip(hours, report.pairs):
        assert pair.magnetogram_time == at(3600 * hour + 40).isot
        assert pair.separation_s == pytest.approx(40.0, abs=1e-3)

    # the order of the inputs plays no part
    euv_files = expand_paths(euv_dir)[::-1]
    hmi_files = expand_paths(hmi_dir)[::-1]
    assert pair_by_time(euv_files, hmi_files).to_dict() == report.to_dict()


def test_rice_compressed_jsoc_magnetogram_is_read(tmp_path):
    path = write_hmi(tmp_path / "hmi.m_720s.20120304_050000_tai.3.magnetogram.fits", 12.0,
                     compressed=True)
    accepted, rejected = scan_files([tmp_path], "hmi")
    assert rejected == [] and [item[0] for item in accepted] == [path]
    assert accepted[0][1].isot == at(12.0).isot and accepted[0][2]["BUNIT"] == "Gauss"


def test_tolerance_and_unmatched_reasons(tmp_path):
    euv = write_aia(tmp_path / "aia.fits", 0)
    hmi = write_hmi(tmp_path / "hmi.fits", 400)
    report = pair_by_time([euv], [hmi], tolerance_s=300)
    assert report.pairs == [] and report.rejected == []
    unmatched = reasons(report.unmatched)
    assert "no magnetogram within 300 s" in unmatched["aia.fits"]
    assert "hmi.fits" in unmatched["aia.fits"] and "+400.0 s" in unmatched["aia.fits"]
    assert "no EUV image within 300 s" in unmatched["hmi.fits"]
    assert "-400.0 s" in unmatched["hmi.fits"]
    assert [entry.path for entry in report.unmatched] == [euv, hmi]

    wide = pair_by_time([euv], [hmi], tolerance_s=400)
    assert len(wide.pairs) == 1 and wide.unmatched == []
    assert wide.pairs[0].separation_s == pytest.approx(400.0)


def test_each_magnetogram_used_once_closest_pairs_first(tmp_path):
    early = write_aia(tmp_path / "aia_early.fits", 0)
    late = write_aia(tmp_path / "aia_late.fits", 100)
    near = write_hmi(tmp_path / "hmi_near.fits", 60)
    report = pair_by_time([early, late], [near], tolerance_s=300)
    assert [(p.euv_path, p.magnetogram_path) for p in report.pairs] == [(late, near)]
    reason = reasons(report.unmatched)["aia_early.fits"]
    assert "paired with a file closer in time" in reason and "hmi_near.fits" in reason

    # greedy by the smallest separation overall, not EUV by EUV in time order
    far = write_hmi(tmp_path / "hmi_far.fits", 250)
    report = pair_by_time([early, late], [near, far], tolerance_s=300)
    assert {(p.euv_path, p.magnetogram_path) for p in report.pairs} == {(late, near), (early, far)}
    assert len({p.magnetogram_path for p in report.pairs}) == len(report.pairs)


def test_rejected_files_with_reasons(tmp_path):
    euv_dir, hmi_dir = tmp_path / "aia", tmp_path / "hmi"
    euv_dir.mkdir()
    hmi_dir.mkdir()
    # eight good exposures, so the median EXPTIME is the nominal one
    for k in range(8):
        write_aia(euv_dir / f"good_{k}.fits", 600 * k, EXPTIME=2.9)
        write_hmi(hmi_dir / f"hmi_{k}.fits", 600 * k + 30, compressed=k % 2 == 0)
    write_aia(euv_dir / "wave171.fits", 7000, WAVELNTH=171)
    write_aia(euv_dir / "no_time.fits", 7100, remove=("DATE-OBS", "T_OBS"))
    write_aia(euv_dir / "no_cdelt.fits", 7200, remove=("CDELT1",))
    write_aia(euv_dir / "quality.fits", 7300, QUALITY=0x40000000)
    write_aia(euv_dir / "short.fits", 7400, EXPTIME=0.4)
    write_aia(euv_dir / "zero.fits", 7500, EXPTIME=0.0)
    write_aia(euv_dir / "dark.fits", 7600, IMG_TYPE="DARK")
    write_aia(euv_dir / "no_exptime.fits", 7700, remove=("EXPTIME",))
    write_aia(euv_dir / "empty.fits", 7800, DATAVALS=0, MISSVALS=16777216)
    write_aia(euv_dir / "bad_date.fits", 7900, remove=("T_OBS",), **{"DATE-OBS": "yesterday"})
    (euv_dir / "junk.fits").write_text("this is not a FITS file\n" * 200)
    (euv_dir / "notes.txt").write_text("ignored: not a FITS name")
    notes = tmp_path / "listed.txt"
    notes.write_text("a file given by name is scanned whatever its name")
    write_hmi(hmi_dir / "continuum.fits", 90, CONTENT="CONTINUUM INTENSITY", BUNIT="DN/s")
    write_hmi(hmi_dir / "hmi_quality.fits", 150, compressed=True, QUALITY=0x200)
    write_aia(hmi_dir / "aia_in_hmi.fits", 120)

    report = pair_by_time([euv_dir, notes, tmp_path / "missing.fits"], [hmi_dir])
    assert len(report.pairs) == 8 and report.unmatched == []
    got = reasons(report.rejected)
    assert "wrong wavelength" in got["wave171.fits"] and "171" in got["wave171.fits"]
    assert "DATE-OBS" in got["no_time.fits"]
    assert "missing header keyword CDELT1" in got["no_cdelt.fits"]
    assert "QUALITY" in got["quality.fits"] and "0x40000000" in got["quality.fits"]
    assert "exposure anomaly" in got["short.fits"] and "0.4" in got["short.fits"]
    assert "median 2.9" in got["short.fits"]
    assert "exposure anomaly" in got["zero.fits"] and "EXPTIME = 0" in got["zero.fits"]
    assert "DARK" in got["dark.fits"]
    assert "missing header keyword EXPTIME" in got["no_exptime.fits"]
    assert "DATAVALS = 0" in got["empty.fits"]
    assert "DATE-OBS" in got["bad_date.fits"] and "yesterday" in got["bad_date.fits"]
    assert "not a readable FITS file" in got["junk.fits"]
    assert "not a readable FITS file" in got["listed.txt"]
    assert "no such file" in got["missing.fits"]
    assert "line-of-sight magnetogram" in got["continuum.fits"]
    assert "QUALITY = 512" in got["hmi_quality.fits"]
    assert "expected a HMI file" in got["aia_in_hmi.fits"]
    assert "notes.txt" not in got
    assert len(got) == len(report.rejected) == 16
    for entry in report.rejected:  # reasons do not repeat the path
        assert not entry.reason.startswith(entry.path)

    summary = report.summary()
    assert summary.splitlines()[0].startswith(
        "pairing (tolerance 300 s): 8 pairs, 0 unmatched files, 16 rejected")
    for entry in report.rejected:
        assert f"{entry.path}: {entry.reason}" in summary
    record = json.loads(json.dumps(report.to_dict()))
    assert record["counts"] == {"pairs": 8, "unmatched": 0, "rejected": 16}
    assert ({e["path"]: e["reason"] for e in record["rejected"]}
            == {e.path: e.reason for e in report.rejected})
    assert record["pairs"][0] == {
        "euv_path": str(euv_dir / "good_0.fits"), "magnetogram_path": str(hmi_dir / "hmi_0.fits"),
        "euv_time": at(0).isot, "magnetogram_time": at(30).isot, "separation_s": 30.0,
    }


def test_checks_can_be_switched_off(tmp_path):
    files = [write_aia(tmp_path / f"good_{k}.fits", 600 * k) for k in range(4)]
    files.append(write_aia(tmp_path / "quality.fits", 3000, QUALITY=1))
    files.append(write_aia(tmp_path / "short.fits", 3600, EXPTIME=0.1))
    accepted, rejected = scan_files(files, "aia")
    assert len(accepted) == 4 and sorted(reasons(rejected)) == ["quality.fits", "short.fits"]
    accepted, rejected = scan_files(files, "aia", quality_check=False, exposure_check=False)
    assert len(accepted) == 6 and rejected == []
    # also through pair_by_time; any wavelength when asked
    files.append(write_aia(tmp_path / "wave171.fits", 4200, WAVELNTH=171))
    hmi = write_hmi(tmp_path / "hmi.fits", 4210)
    report = pair_by_time(files, [hmi], expected_wavelength=None, quality_check=False,
                          exposure_check=False)
    assert len(report.rejected) == 0 and [p.euv_path for p in report.pairs] == [files[-1]]
    assert len(report.unmatched) == 6


def test_short_exposures_are_judged_per_wavelength(tmp_path):
    files = [write_aia(tmp_path / f"w304_{k}.fits", 60 * k, EXPTIME=2.9) for k in range(3)]
    files += [write_aia(tmp_path / f"w171_{k}.fits", 60 * k + 1, WAVELNTH=171, EXPTIME=1.0)
              for k in range(3)]
    accepted, rejected = scan_files(files, "aia", expected_wavelength=None)
    assert rejected == [] and len(accepted) == 6


def test_scan_expands_folders_deterministically(tmp_path):
    names = {"b.fits": 300, "a.FITS": 200, "c.fts": 100, "d.fit": 0,
             "aia.lev1_euv_12s.2012-03-04T050007Z.304.image_lev1.fits": 400}
    for name, seconds in names.items():
        write_aia(tmp_path / name, seconds)
    gz = tmp_path / "e.fits.gz"
    fits.PrimaryHDU(np.ones((8, 8), np.float32), aia_header(500)).writeto(gz)
    (tmp_path / "readme.md").write_text("not scanned")
    (tmp_path / ".hidden.fits").write_text("not scanned")
    listed = expand_paths([tmp_path, tmp_path / "b.fits"])  # b.fits only once
    assert [p.split("/")[-1] for p in listed] == sorted(list(names) + ["e.fits.gz"])
    accepted, rejected = scan_files(tmp_path, "aia")
    assert rejected == []
    assert [item[0].split("/")[-1] for item in accepted] == [
        "d.fit", "c.fts", "a.FITS", "b.fits",
        "aia.lev1_euv_12s.2012-03-04T050007Z.304.image_lev1.fits", "e.fits.gz"]
    assert all(item[1].scale == "utc" for item in accepted)


def test_duplicate_observation_times_are_rejected(tmp_path):
    first = write_aia(tmp_path / "a.fits", 0)
    write_aia(tmp_path / "b.fits", 0)
    accepted, rejected = scan_files(tmp_path, "aia")
    assert [item[0] for item in accepted] == [first]
    assert "duplicate" in rejected[0].reason and "a.fits" in rejected[0].reason


def test_no_partner_at_all(tmp_path):
    euv = write_aia(tmp_path / "aia.fits", 0)
    report = pair_by_time([euv], [])
    assert reasons(report.unmatched) == {"aia.fits": "no magnetogram was accepted to pair with"}
    assert "aia.fits: no magnetogram" in report.summary()


def test_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match="unknown scan options"):
        pair_by_time([], [], expected_wavelenth=304)
    with pytest.raises(ValueError, match="euv_kind"):
        pair_by_time([], [], euv_kind="hmi")
    with pytest.raises(ValueError, match="tolerance_s"):
        pair_by_time([], [], tolerance_s=-1)
    with pytest.raises(ValueError, match="kind"):
        scan_files([], "xrt")
    empty = pair_by_time([], [])
    assert empty.pairs == [] and "0 pairs" in empty.summary()


def test_match_by_time_is_one_to_one_and_order_free():
    rng = np.random.default_rng(3)
    a = rng.uniform(0, 10000, 40)
    b = rng.uniform(0, 10000, 30)
    matches = match_by_time(a, b, 200.0)
    assert len({j for _, j, _ in matches}) == len(matches)
    assert all(abs(a[i] - b[j]) == pytest.approx(s) and s <= 200 for i, j, s in matches)
    pa, pb = rng.permutation(len(a)), rng.permutation(len(b))
    shuffled = match_by_time(a[pa], b[pb], 200.0)
    assert sorted((pa[i], pb[j]) for i, j, _ in shuffled) == sorted((i, j) for i, j, _ in matches)
    assert match_by_time([0.0, 100.0], [60.0, 250.0], 300.0) == [(0, 1, 250.0), (1, 0, 40.0)]


def test_dataclasses():
    pair = Pair("a.fits", "h.fits", "2012-01-01T00:00:00.000", "2012-01-01T00:00:30.000", 30.0)
    report = PairingReport([pair], [Rejected("x.fits", "why")], [])
    assert report.to_dict()["pairs"][0]["separation_s"] == 30.0
    assert "x.fits: why" in report.summary()


def test_hmi_time_from_the_real_header():
    """fitsio reads T_OBS (the middle of the exposure, HMI's own TAI format) first; TAI - UTC
    was 35 s in 2014; DATE-OBS (UTC) is used when T_OBS is absent."""
    header = fits.getheader(get_test_filepath("resampled_hmi.fits"))
    assert header["T_OBS"] == "2014.03.01_00:01:25_TAI"
    assert fitsio.observation_time(header, "hmi").isot == "2014-03-01T00:00:50.000"
    del header["T_OBS"]
    assert fitsio.observation_time(header, "hmi").isot == "2014-03-01T00:00:27.900"


def test_pairing_imports_no_deep_learning_stack():
    code = ("import sys, data_prep.pairing; "
            "bad = {m.split('.')[0] for m in sys.modules} "
            "& {'tensorflow', 'keras', 'solarmaggan'}; "
            "sys.exit(sorted(bad) or 0)")
    subprocess.run([sys.executable, "-c", code], check=True)


# --- several EUV channels -----------------------------------------------------------------
CHANNELS = [("AIA 304", 304), ("AIA 193", 193), ("AIA 171", 171)]


def test_match_channels_one_of_each_channel_closest_first():
    reference = [0.0, 1000.0, 2000.0, 3000.0]
    channels = [
        [5.0, 1003.0, 2001.0, 2990.0, 1010.0],  # 1000 gets the closer 1003
        [2005.0, -20.0, 1030.0, 3001.0],
        [990.0, 1990.0, 0.0, 1400.0],           # nothing near 3000: that reference is dropped
    ]
    complete, incomplete = match_channels(reference, channels, tolerance_s=60.0)
    assert incomplete == {3: [2]}
    assert complete == {
        0: [(0, 5.0), (1, 20.0), (2, 0.0)],
        1: [(1, 3.0), (2, 30.0), (0, 10.0)],
        2: [(2, 1.0), (0, 5.0), (1, 10.0)],
    }
    # a reference dropped for a missing channel frees its files for the others: 0 has no
    # second channel within 30 s, so 10, the file both want in the first channel, goes to 30
    complete, incomplete = match_channels([0.0, 30.0], [[10.0], [55.0]], tolerance_s=30.0)
    assert complete == {1: [(0, 20.0), (0, 25.0)]} and incomplete == {0: [1]}
    # competition: each item once; the loser is dropped with the channel it lacked
    complete, incomplete = match_channels([0.0, 30.0], [[10.0], [5.0, 31.0]], tolerance_s=60.0)
    assert complete == {0: [(0, 10.0), (0, 5.0)]} and incomplete == {1: [0]}
    complete, incomplete = match_channels([0.0, 30.0], [[10.0], [5.0]], tolerance_s=60.0)
    assert complete == {0: [(0, 10.0), (0, 5.0)]} and incomplete == {1: [0, 1]}
    # references blocking each other (each holds the other's file): one is dropped, the
    # latest, and the other gets both files
    complete, incomplete = match_channels([0.0, 30.0], [[10.0], [35.0]], tolerance_s=60.0)
    assert complete == {0: [(0, 10.0), (0, 35.0)]} and incomplete == {1: [0]}
    assert match_channels([], [[1.0]], 10.0) == ({}, {})


def write_channels(folder, seconds, wavelengths=(304, 193, 171), prefix="aia"):
    """One AIA file per wavelength, observed at T0 + seconds + a few seconds per channel
    (AIA's channels are not simultaneous), named so that names and channels disagree."""
    paths = {}
    misleading = {304: 171, 193: 304, 171: 193}
    for offset, wavelength in enumerate(wavelengths):
        name = f"{prefix}_{misleading.get(wavelength, wavelength)}_{int(seconds)}_{offset}.fits"
        paths[wavelength] = write_aia(folder / name, seconds + 4 * offset, WAVELNTH=wavelength)
    return paths


def test_pair_channels_by_header_wavelength_and_time(tmp_path):
    euv_dir, hmi_dir = tmp_path / "aia", tmp_path / "hmi"
    euv_dir.mkdir()
    hmi_dir.mkdir()
    sets = [write_channels(euv_dir, 3600 * hour) for hour in range(3)]
    write_aia(euv_dir / "aia_193_extra.fits", 3600 + 100, WAVELNTH=193)  # farther: not used
    write_aia(euv_dir / "aia_211.fits", 3600, WAVELNTH=211)  # not an input channel
    for hour in range(3):
        write_hmi(hmi_dir / f"hmi_{hour}.fits", 3600 * hour + 30)
    # an hour whose 171 image is too late, and a magnetogram with no EUV file at all
    late = write_channels(euv_dir, 4 * 3600, wavelengths=(304, 193))
    write_aia(euv_dir / "aia_late_171.fits", 4 * 3600 + 700, WAVELNTH=171)
    write_hmi(hmi_dir / "hmi_4.fits", 4 * 3600)
    write_hmi(hmi_dir / "hmi_9.fits", 9 * 3600)

    report = pair_channels_by_time([euv_dir], [hmi_dir], CHANNELS, tolerance_s=300)
    assert all(isinstance(pair, ChannelSet) for pair in report.pairs)
    assert len(report.pairs) == 3
    for hour, (expected, pair) in enumerate(zip(sets, report.pairs)):
        assert pair.euv_paths == [expected[304], expected[193], expected[171]]
        assert pair.euv_path == expected[304] and pair.euv_time == at(3600 * hour).isot
        assert pair.euv_times == [at(3600 * hour + 4 * k).isot for k in range(3)]
        assert pair.magnetogram_path.endswith(f"hmi_{hour}.fits")
        assert pair.separations_s == pytest.approx([30.0, 26.0, 22.0], abs=1e-3)
        assert pair.separation_s == pytest.approx(30.0, abs=1e-3)
    rejected = reasons(report.rejected)
    assert list(rejected) == ["aia_211.fits"] and "211 A is none of the input channels" in \
        rejected["aia_211.fits"]
    unmatched = reasons(report.unmatched)
    assert "no AIA 171 file within 300 s" in unmatched["hmi_4.fits"]
    assert "aia_late_171.fits" in unmatched["hmi_4.fits"]
    assert "AIA 304" in unmatched["hmi_9.fits"] and "AIA 193" in unmatched["hmi_9.fits"]
    assert "lacks a file of another channel" in unmatched[late[304].split("/")[-1]]
    assert "paired with a file closer in time" in unmatched["aia_193_extra.fits"]
    assert "no magnetogram within 300 s" in unmatched["aia_late_171.fits"]
    record = report.to_dict()
    assert record["pairs"][0]["euv_paths"] == report.pairs[0].euv_paths
    assert "3 pairs" in report.summary()
    # the order of the inputs plays no part
    shuffled = pair_channels_by_time(expand_paths(euv_dir)[::-1], expand_paths(hmi_dir)[::-1],
                                     CHANNELS, tolerance_s=300)
    assert shuffled.to_dict() == record


def test_scan_channels_keeps_simultaneous_channels_and_checks_the_instrument(tmp_path):
    same_time = [write_aia(tmp_path / f"aia_{w}.fits", 0, WAVELNTH=w) for w in (304, 171)]
    hmi = write_hmi(tmp_path / "hmi.fits", 0)
    files, rejected = scan_channels([tmp_path], [("AIA 304", 304), ("AIA 171", 171)])
    assert [[item[0] for item in group] for group in files] == [[same_time[0]], [same_time[1]]]
    assert reasons(rejected) == {"hmi.fits": reasons(rejected)["hmi.fits"]}
    assert "expected a AIA file" in reasons(rejected)["hmi.fits"] and hmi
    with pytest.raises(ValueError, match="differ"):
        scan_channels([tmp_path], [("A", 304), ("B", 304)])


def test_group_channels_without_magnetograms(tmp_path):
    first = write_channels(tmp_path, 0)
    second = write_channels(tmp_path, 3600)
    lonely = write_channels(tmp_path, 7200, wavelengths=(304, 171))
    report = group_channels([tmp_path], CHANNELS, tolerance_s=60, euv_kind="aia")
    assert [pair.euv_paths for pair in report.pairs] == [
        [paths[304], paths[193], paths[171]] for paths in (first, second)]
    assert report.pairs[0].magnetogram_path is None
    assert report.pairs[0].separations_s == [0.0, 4.0, 8.0]
    unmatched = reasons(report.unmatched)
    assert "no AIA 193 file within 60 s" in unmatched[lonely[304].split("/")[-1]]
    assert "lacks a file of another channel" in unmatched[lonely[171].split("/")[-1]]
    with pytest.raises(TypeError, match="unknown scan options"):
        group_channels([tmp_path], CHANNELS, require_magnetogram=False)
