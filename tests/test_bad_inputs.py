"""The bad-input corpus: every command, given a bad file or setting, ends with exit status 2
(1 where other inputs were still processed) and one line per problem on stderr, naming the
file or setting and the problem; never a traceback; nothing good overwritten or lost."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from astropy.io import fits
from sunpy.data.test import get_test_filepath

from solarmaggan.cli import main

from conftest import TINY_OVERRIDES, untrained_run
from test_generate_evaluate import euvi_file
from test_prep import write_observations


def tree(folder: Path) -> dict[str, str]:
    """{relative path: sha256} of every file below ``folder`` (empty if it is missing)."""
    if not folder.exists():
        return {}
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, tiny_run):
    """Bad files of every kind, beside good ones."""
    folder = tmp_path_factory.mktemp("corpus")
    run_dir, toy = tiny_run
    files = {"run": run_dir, "toy": toy}
    files["not_fits"] = folder / "notes.fits"
    files["not_fits"].write_text("plain text, not FITS\n" * 50)
    good = euvi_file(folder / "good_euvi.fts")
    files["truncated"] = folder / "truncated.fts"
    files["truncated"].write_bytes(good.read_bytes()[:5000])
    files["euvi_171"] = euvi_file(folder / "euvi_171.fts", wavelength=171)
    files["no_observer"] = euvi_file(folder / "no_observer.fts", drop=("DSUN_OBS",))
    files["all_nan"] = folder / "all_nan.fts"
    header = fits.getheader(good)
    fits.writeto(files["all_nan"], np.full((128, 128), np.nan, np.float32), header)
    files["continuum"] = folder / "hmi_continuum.fits"
    hmi = fits.getheader(get_test_filepath("resampled_hmi.fits"))  # a continuum image
    hmi.remove("BLANK", ignore_missing=True)
    fits.writeto(files["continuum"], np.ones((100, 100), np.float32), hmi)
    files["corrupt_h5"] = folder / "corrupt.h5"
    files["corrupt_h5"].write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 300)
    files["wrong_shape_h5"] = folder / "wrong_shape.h5"
    with h5py.File(toy, "r") as source, h5py.File(files["wrong_shape_h5"], "w") as target:
        for key, value in source.attrs.items():
            target.attrs[key] = value
        for name in source:
            if name in ("input", "target"):
                target[name] = source[name][..., 0]  # (N, H, W): no channel axis
            else:
                source.copy(name, target)
    from data_prep.toysun import write_toy_dataset

    files["three_channel_h5"] = write_toy_dataset(folder / "three.h5", 6, 32, seed=0,
                                                  input_channels=(304, 193, 171))
    files["not_a_model"] = folder / "not_a_model"
    files["not_a_model"].mkdir()
    (files["not_a_model"] / "best_generator.keras").write_text("not a Keras archive")
    (files["not_a_model"] / "config.json").write_text((run_dir / "config.json").read_text())
    files["bad_config"] = folder / "bad_config"
    untrained_run(files["bad_config"])
    (files["bad_config"] / "config.json").write_text('{"data": {"image_size": ')
    files["empty"] = folder / "empty"
    files["empty"].mkdir()
    files["bad_euv"] = folder / "bad_euv"
    files["bad_euv"].mkdir()
    for name in ("not_fits", "truncated", "euvi_171", "continuum"):
        (files["bad_euv"] / files[name].name).write_bytes(files[name].read_bytes())
    files["observations"] = write_observations(folder)  # (AIA dir, HMI dir), good
    files["folder"] = folder
    return files


def run_cli(args, capsys):
    """(exit status, stderr lines) of ``solarmaggan ARGS`` run in this process."""
    try:
        status = main([str(arg) for arg in args])
    except SystemExit as exit_:  # argparse's own refusals
        status = exit_.code
    return status, capsys.readouterr().err.splitlines()


def expect(status, lines, code, *needles, command):
    """The status, one line per problem with the command's prefix, every needle present,
    no traceback."""
    assert status == code, lines
    assert lines and not any("Traceback" in line for line in lines), lines
    text = "\n".join(lines)
    for needle in needles:
        assert str(needle) in text, (needle, lines)
    if code == 2 and not lines[0].startswith("usage:"):
        assert all(line.startswith(f"solarmaggan {command}: error: ") for line in lines), lines


TRAIN_BASE = ["--quiet", "--steps", "10"] + sum(
    (["--set", o] for o in TINY_OVERRIDES if not o.startswith("data.")), [])


def test_toysun_refuses_sizes_and_counts_it_cannot_use(corpus, capsys):
    out = corpus["folder"] / "toy48.h5"
    expect(*run_cli(["toysun", out, "--image-size", "48"], capsys), 2,
           "image size must be a power of two >= 32", "got 48", command="toysun")
    expect(*run_cli(["toysun", out, "--n-pairs", "0"], capsys), 2, "n_pairs", command="toysun")
    expect(*run_cli(["toysun", out, "--preset", "kim2020"], capsys), 2,
           "unknown preset 'kim2020'", command="toysun")
    assert not out.exists() and not list(corpus["folder"].glob("toy48*"))


def test_prep_refuses_bad_settings_and_names_each_bad_file(corpus, capsys):
    aia, hmi = corpus["observations"]
    out = corpus["folder"] / "pairs.h5"
    expect(*run_cli(["prep", "--euv", aia, "--magnetogram", hmi, "--out", out,
                     "--preset", "nosuch"], capsys), 2, "unknown preset 'nosuch'",
           command="prep")
    expect(*run_cli(["prep", "--euv", aia, "--magnetogram", hmi, "--out", out,
                     "--image-size", "100"], capsys), 2, "data.image_size", "got 100",
           command="prep")
    expect(*run_cli(["prep", "--euv", corpus["empty"], "--magnetogram", hmi, "--out", out],
                    capsys), 2, str(corpus["empty"]), "no FITS file", command="prep")
    status, lines = run_cli(["prep", "--euv", corpus["bad_euv"], "--magnetogram",
                             corpus["continuum"], "--out", out, "--quiet"], capsys)
    expect(status, lines, 2, "notes.fits: not a readable FITS file", "truncated.fts",
           "euvi_171.fts", "hmi_continuum.fits", "not a line-of-sight magnetogram",
           command="prep")
    assert not out.exists()  # nothing to write: no file at all


def test_train_refuses_bad_pair_files_and_settings(corpus, capsys):
    run_dir = corpus["folder"] / "train_run"
    base = ["train", "--run-dir", run_dir] + TRAIN_BASE
    cases = [
        (["--data", corpus["folder"] / "missing.h5"], "missing.h5: no such pair file"),
        (["--data", corpus["not_fits"]], "notes.fits: not a readable HDF5 file"),
        (["--data", corpus["corrupt_h5"]], "corrupt.h5: not a readable HDF5 file"),
        (["--data", corpus["wrong_shape_h5"]], "wrong_shape.h5"),
        (["--data", corpus["three_channel_h5"]], "3 input channels"),
        (["--data", corpus["toy"], "--preset", "kim2020"], "unknown preset 'kim2020'"),
        (["--data", corpus["toy"], "--set", "training.learning_rate=-1"],
         "training.learning_rate: -1 is not a number > 0"),
        (["--data", corpus["toy"], "--set", "model.norm=layer"],
         "model.norm: 'layer' is not one of batch, instance"),
    ]
    for extra, needle in cases:
        expect(*run_cli(base + extra, capsys), 2, needle, command="train")
    assert not run_dir.exists()
    status, lines = run_cli(base + ["--data", corpus["toy"], "--lr-schedule", "cosine"], capsys)
    assert status == 2 and "invalid choice: 'cosine'" in lines[-1]
    # the run directory of another configuration is refused and kept as it was
    before = tree(corpus["run"])
    expect(*run_cli(["train", "--run-dir", corpus["run"], "--data", corpus["toy"], "--quiet",
                     "--set", "model.depth=2"], capsys), 2, "belongs to a different "
           "configuration", command="train")
    assert tree(corpus["run"]) == before


def test_evaluate_and_export_refuse_what_is_not_a_model(corpus, capsys):
    out = corpus["folder"] / "eval"
    expect(*run_cli(["evaluate", "--model", corpus["not_a_model"], "--data", corpus["toy"],
                     "--out", out], capsys), 2, "best_generator.keras: not a readable "
           "solarmaggan .keras model", command="evaluate")
    expect(*run_cli(["evaluate", "--model", corpus["bad_config"], "--data", corpus["toy"],
                     "--out", out], capsys), 2, "config.json: not a valid configuration file",
           command="evaluate")
    expect(*run_cli(["evaluate", "--model", corpus["run"], "--data", corpus["corrupt_h5"],
                     "--out", out], capsys), 2, "corrupt.h5: not a readable HDF5 file",
           command="evaluate")
    expect(*run_cli(["evaluate", "--model", corpus["run"], "--data",
                     corpus["three_channel_h5"], "--out", out], capsys), 2,
           "three.h5 does not fit", "3 input channels", command="evaluate")
    assert not out.exists()
    exported = corpus["folder"] / "exported"
    expect(*run_cli(["export", "--model", corpus["not_a_model"], "--out", exported], capsys),
           2, "not a readable solarmaggan .keras model", command="export")
    expect(*run_cli(["export", "--model", corpus["empty"], "--out", exported], capsys), 2,
           "run directory without best_generator.keras", command="export")
    expect(*run_cli(["export", "--model", corpus["run"], "--format", "onnx"], capsys), 2,
           "invalid choice: 'onnx'", command="export")
    assert not exported.exists()


def test_generate_names_each_bad_input_and_keeps_what_it_wrote(corpus, capsys):
    out = corpus["folder"] / "generated"
    expect(*run_cli(["generate", "--model", corpus["run"], "--out", out, corpus["empty"]],
                    capsys), 2, str(corpus["empty"]), "no FITS file", command="generate")
    bad = [corpus[name] for name in ("not_fits", "truncated", "euvi_171", "no_observer",
                                     "all_nan", "continuum")]
    status, lines = run_cli(["generate", "--model", corpus["run"], "--out", out, "--quiet",
                             *bad], capsys)
    expect(status, lines, 2, "notes.fits: not a readable FITS file", "truncated.fts",
           "euvi_171.fts: wrong wavelength: 171 A", "no_observer.fts: missing observer "
           "keyword DSUN_OBS", "all_nan.fts: the image has no finite pixel",
           "hmi_continuum.fits", command="generate")
    assert len(lines) == len(bad)  # one line each
    good = euvi_file(corpus["folder"] / "good_far_side.fts")
    status, lines = run_cli(["generate", "--model", corpus["run"], "--out", out, "--quiet",
                             good, corpus["truncated"]], capsys)
    expect(status, lines, 1, "truncated.fts", command="generate")  # the good one written
    written = out / "good_far_side_magnetogram.fits"
    before = written.read_bytes()
    status, _ = run_cli(["generate", "--model", corpus["run"], "--out", out, "--quiet",
                         good, corpus["not_fits"]], capsys)
    assert status == 1 and written.read_bytes() == before  # kept, not redone


def test_a_real_process_exits_2_with_one_line(corpus):
    """The same through the installed command: exit status and stderr of a real process."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "solarmaggan"), "train", "--data",
         str(corpus["corrupt_h5"]), "--run-dir", str(corpus["folder"] / "process_run")],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "corrupt.h5: not a readable HDF5 file" in (
        result.stderr)
    assert json.dumps(result.stdout) == '""'


def test_synchronic_and_pfss_refuse_what_is_not_a_magnetogram_or_a_full_sun_map(corpus, capsys):
    out = corpus["folder"] / "synchronic.fits"
    expect(*run_cli(["synchronic", out, corpus["euvi_171"]], capsys), 2,
           "euvi_171.fts: not a line-of-sight magnetogram", command="synchronic")
    expect(*run_cli(["synchronic", out, corpus["not_fits"]], capsys), 2, "notes.fits",
           command="synchronic")
    assert not out.exists()
    expect(*run_cli(["pfss", corpus["euvi_171"], "--out", corpus["folder"] / "pfss"], capsys), 2,
           "euvi_171.fts: not a full-Sun", command="pfss")
    assert not (corpus["folder"] / "pfss").exists()
