"""The HDF5 pair format: round trip, validation, atomic and resumable writes, splits.

These tests import data_prep only (no TensorFlow)."""

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest
from astropy.io import fits
from sunpy.data.test import get_test_filepath

from data_prep.normalization import Normalization, euv_normalization, magnetogram_normalization
from data_prep.pairs import PairFile, PairFormatError, PairWriter, describe, partial_path, resplit
from data_prep.splits import SplitRule, assign_splits

SIZE = 16


def writer(path, **kwargs) -> PairWriter:
    return PairWriter(
        path, SIZE, ["AIA 304"], ["HMI LOS"], [euv_normalization()],
        [magnetogram_normalization(100.0)], rsun_px=6.125, **kwargs,
    )


def pair(index: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(index)
    euv = rng.uniform(-1, 1, (SIZE, SIZE, 1)).astype(np.float32)
    return euv, -euv


def month_time(month: int, day: int = 1) -> str:
    return f"2012-{month:02d}-{day:02d}T06:30:00"


def write_months(path, months, **kwargs) -> Path:
    with writer(path, **kwargs) as w:
        for index, month in enumerate(months):
            w.add(*pair(index), month_time(month, index + 1), month_time(month, index + 1))
    return Path(path)


def test_round_trip_keeps_values_times_headers_and_attributes(tmp_path):
    aia_header = fits.getheader(get_test_filepath("aia_171_level1.fits"))
    path = tmp_path / "pairs.h5"
    with writer(path, storage_dtype="float32", metadata={"calibration": ["exposure"]}) as w:
        for index in range(3):
            w.add(*pair(index), f"2011-02-0{index + 1}T00:00:00Z", f"2011-02-0{index + 1}T00:00:45",
                  input_files=[f"aia{index}.fits"], target_files=[f"hmi{index}.fits"],
                  input_header=aia_header, target_header={"BUNIT": "Gauss", "CROTA2": 180.0})
    with PairFile(path) as pairs:
        assert len(pairs) == 3 and pairs.image_size == SIZE and pairs.rsun_px == 6.125
        assert pairs.input_channels == ["AIA 304"] and pairs.target_channels == ["HMI LOS"]
        assert pairs.input_normalization == [Normalization("log10", 1.0, 1000.0, "DN/s")]
        assert pairs.target_normalization == [Normalization("linear", -100.0, 100.0, "G")]
        assert pairs.metadata == {"calibration": ["exposure"]}
        sample = pairs.read(1)
        np.testing.assert_array_equal(sample["input"], pair(1)[0])
        np.testing.assert_array_equal(sample["target"], pair(1)[1])
        assert sample["input_time"] == "2011-02-02T00:00:00.000"
        assert sample["target_time"] == "2011-02-02T00:00:45.000"
        assert sample["input_files"] == ["aia1.fits"]
        assert sample["input_header"]["WAVELNTH"] == aia_header["WAVELNTH"] == 171
        assert sample["input_header"]["DATE-OBS"] == aia_header["DATE-OBS"]
        assert sample["input_header"]["CDELT1"] == pytest.approx(aia_header["CDELT1"])
        assert sample["target_header"] == {"BUNIT": "Gauss", "CROTA2": 180.0}
        assert pairs.header(1, "target") == sample["target_header"]
        inputs, targets = pairs.read_arrays()
        assert inputs.shape == (3, SIZE, SIZE, 1) and inputs.dtype == np.float32


def test_float16_storage_rounds_like_numpy(tmp_path):
    # HDF5's own float32 -> float16 conversion rounds 0.795166 up (numpy: 0.795) and was
    # seen to halve values just below a power of two
    euv = np.full((SIZE, SIZE, 1), 0.795166, np.float32)
    euv[2:4] = 0.99983
    euv[0, :, 0] = np.linspace(-1, 1, SIZE)
    euv[1, :, 0] = -0.12499
    path = tmp_path / "pairs.h5"
    with writer(path) as w:
        w.add(euv, -euv, month_time(1), month_time(1))
    with PairFile(path) as pairs:
        assert pairs.storage_dtype == "float16"
        np.testing.assert_array_equal(pairs.read(0)["input"], euv.astype(np.float16))
        np.testing.assert_allclose(pairs.read(0)["target"], -euv, atol=5e-4)


@pytest.mark.parametrize(
    "change, problem",
    [
        (lambda euv, mag, t: (euv[:8], mag, t), "shape (8, 16, 1)"),
        (lambda euv, mag, t: (np.where(euv > 0.9, np.nan, euv), mag, t), "non-finite"),
        (lambda euv, mag, t: (euv, (mag * 100).astype(np.int16), t), "dtype int16"),
        (lambda euv, mag, t: (euv, mag * 3, t), "normalised to [-1, 1]"),
        (lambda euv, mag, t: (euv, mag, ""), "time is missing"),
        (lambda euv, mag, t: (euv, mag, "yesterday"), "ISO 8601"),
    ],
)
def test_bad_samples_are_refused_naming_the_sample(tmp_path, change, problem):
    euv, magnetogram = pair(0)
    euv, magnetogram, time = change(euv, magnetogram, month_time(3))
    with writer(tmp_path / "pairs.h5") as w:
        w.add(*pair(1), month_time(1), month_time(1))
        with pytest.raises(PairFormatError, match="sample 1") as error:
            w.add(euv, magnetogram, time, month_time(3))
        assert problem in str(error.value)
        assert w.n_samples == 1


def test_interrupted_write_leaves_no_final_file_and_resumes(tmp_path):
    path = tmp_path / "pairs.h5"
    with pytest.raises(KeyboardInterrupt):
        with writer(path) as w:
            for index in range(3):
                w.add(*pair(index), month_time(index + 1), month_time(index + 1))
            raise KeyboardInterrupt
    assert not path.exists() and partial_path(path).exists()
    added = []
    with writer(path) as w:
        for index in range(5):
            added.append(w.add(*pair(index), month_time(index + 1), month_time(index + 1)))
    assert added == [False, False, False, True, True]
    assert path.exists() and not partial_path(path).exists()
    with PairFile(path) as pairs:
        assert len(pairs) == 5
        np.testing.assert_allclose(pairs.read(4)["input"], pair(4)[0], atol=5e-4)


def test_killed_writer_resumes_from_the_partial_file(tmp_path):
    """A writer killed with SIGKILL mid-run: no final file; a re-run completes it."""
    path = tmp_path / "pairs.h5"
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_pairs import writer, pair, month_time
        w = writer({str(path)!r})
        for index in range(12):
            if index == 4:
                os.kill(os.getpid(), signal.SIGKILL)
            w.add(*pair(index), month_time(index + 1, index + 1), month_time(index + 1))
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert run.returncode == -signal.SIGKILL, run.stderr.decode()
    assert not path.exists()
    with PairFile(partial_path(path)) as unfinished:
        assert len(unfinished) == 4
    write_months(path, range(1, 13))
    with PairFile(path) as pairs:
        assert len(pairs) == 12
        assert pairs.times() == [f"2012-{m:02d}-{m:02d}T06:30:00.000" for m in range(1, 13)]


def test_appending_to_a_finished_file_keeps_it_valid_until_the_rename(tmp_path):
    path = write_months(tmp_path / "pairs.h5", [1, 2])
    with writer(path) as w:
        w.add(*pair(7), month_time(7), month_time(7))
        with PairFile(path) as finished:  # the finished file is untouched meanwhile
            assert len(finished) == 2
    with PairFile(path) as pairs:
        assert len(pairs) == 3


def test_incompatible_append_is_refused(tmp_path):
    path = write_months(tmp_path / "pairs.h5", [1])
    with pytest.raises(ValueError, match="image_size = 16, this writer has 32"):
        PairWriter(path, 2 * SIZE, ["AIA 304"], ["HMI LOS"], [euv_normalization()],
                   [magnetogram_normalization()], rsun_px=6.125)


def test_corrupt_truncated_and_foreign_files_give_clear_errors(tmp_path):
    path = write_months(tmp_path / "pairs.h5", [1, 2, 3])
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"this is not HDF5" * 100)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as handle:
        handle["input"] = np.zeros((2, 4, 4, 1))
    for bad, message in [(truncated, "truncated or corrupt"), (garbage, "truncated or corrupt"),
                         (foreign, "not a solarmaggan-pairs file")]:
        with pytest.raises(PairFormatError, match=message) as error:
            PairFile(bad)
        assert str(bad) in str(error.value)
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        PairFile(tmp_path / "missing.h5")


def test_splits_follow_the_months_and_are_disjoint(tmp_path):
    months = [1, 2, 8, 9, 10, 11, 12, 8, 9]
    path = write_months(tmp_path / "pairs.h5", months)
    with PairFile(path) as pairs:
        splits = {name: pairs.split_indices(name) for name in ("train", "val", "test")}
    assert [months[i] for i in splits["test"]] == [9, 10, 9]
    assert [months[i] for i in splits["val"]] == [8, 8]
    assert [months[i] for i in splits["train"]] == [1, 2, 11, 12]
    assert sorted(np.concatenate(list(splits.values()))) == list(range(len(months)))

    resplit(path, SplitRule(test_months=(1,), val_months=(2, 12)))
    with PairFile(path) as pairs:
        assert [months[i] for i in pairs.split_indices("val")] == [2, 12]
        assert pairs.split_rule == SplitRule((1,), (2, 12))
    with pytest.raises(ValueError, match=r"months \[9\] are in both"):
        SplitRule(test_months=(9, 10), val_months=(9,))
    # months are taken in UTC
    assert list(assign_splits(["2012-08-31T23:59:59", "2012-09-01T00:00:00"])["test"]) == [1]


def test_describe_and_command_line_info(tmp_path):
    path = write_months(tmp_path / "pairs.h5", [1, 8, 9])
    text = describe(path)
    for expected in ("samples         3", "AIA 304: log10 scaling, clip [1, 1000] DN/s",
                     "HMI LOS: linear scaling, clip [-100, 100] G", "split test      1 samples"):
        assert expected in text
    run = subprocess.run([sys.executable, "-m", "data_prep", "info", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "split val       1 samples" in run.stdout
    run = subprocess.run([sys.executable, "-m", "data_prep", "info", str(tmp_path / "none.h5")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "none.h5: no such pair file" in run.stderr
    assert "Traceback" not in run.stderr


def test_normalization_inverts_within_the_clip_limits():
    magnetogram = magnetogram_normalization(3000.0)
    gauss = np.array([-5000.0, -3000.0, -10.0, 0.0, 2500.0])
    np.testing.assert_allclose(magnetogram.normalize(gauss), [-1, -1, -10 / 3000, 0, 2500 / 3000],
                               rtol=1e-6)
    np.testing.assert_allclose(magnetogram.denormalize(magnetogram.normalize(gauss)),
                               np.clip(gauss, -3000, 3000), rtol=1e-5, atol=1e-3)
    euv = euv_normalization(1.0, 200.0)
    dn_per_s = np.array([0.01, 1.0, 100.0, 200.0, 900.0])
    np.testing.assert_allclose(euv.normalize(dn_per_s)[[1, 3]], [-1.0, 1.0])
    np.testing.assert_allclose(euv.normalize([100.0]), [2 * 2 / np.log10(200) - 1], rtol=1e-6)
    np.testing.assert_allclose(euv.denormalize(euv.normalize(dn_per_s)),
                               np.clip(dn_per_s, 1, 200), rtol=1e-5)
    with pytest.raises(ValueError, match="clip_min > 0"):
        Normalization("log10", 0.0, 10.0, "DN/s")
    assert Normalization.from_dict(json.loads(json.dumps(euv.to_dict()))) == euv
