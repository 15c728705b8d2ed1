"""Package set-up: the console command, the Keras backend, and data_prep's independence."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import solarmaggan
from data_prep.geometry import disk_mask

SOLARMAGGAN = str(Path(sys.executable).parent / "solarmaggan")


def run(*args, env=None):
    return subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)


def test_console_command_version_and_help():
    version = run(SOLARMAGGAN, "--version")
    assert version.returncode == 0 and version.stdout.strip() == f"solarmaggan {solarmaggan.__version__}"
    usage = run(SOLARMAGGAN, "--help")
    assert usage.returncode == 0 and "summary" in usage.stdout


def test_summary_command_and_its_errors():
    summary = run(SOLARMAGGAN, "summary", "--image-size", "64")
    assert summary.returncode == 0, summary.stderr
    assert "patch map: 6 x 6, receptive field 70 px" in summary.stdout
    bad = run(SOLARMAGGAN, "summary", "--image-size", "100")
    assert bad.returncode == 2
    assert "image size must be a power of two >= 32" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_keras_backend_is_set_by_the_package():
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    probe = "import solarmaggan, keras; print(keras.backend.backend())"
    assert run(sys.executable, "-c", probe, env=env).stdout.strip() == "tensorflow"
    refused = run(sys.executable, "-c", "import solarmaggan", env={**env, "KERAS_BACKEND": "jax"})
    assert refused.returncode != 0 and "needs the Keras 'tensorflow' backend" in refused.stderr


def test_data_prep_never_imports_tensorflow():
    probe = (
        "import sys, pkgutil, importlib, data_prep;"
        "[importlib.import_module('data_prep.' + m.name) for m in pkgutil.iter_modules(data_prep.__path__)];"
        "print(sorted(m for m in ('tensorflow', 'keras', 'solarmaggan') if m in sys.modules))"
    )
    assert run(sys.executable, "-c", probe).stdout.strip() == "[]"


def test_disk_mask_geometry():
    mask = disk_mask(8, 2.0)
    # Centre at pixel (3.5, 3.5): pixel (2, 3) is 1.58 px away, (2, 2) 2.12 px, (1, 3) 2.55 px.
    assert mask[3:5, 3:5].all() and mask[2, 3] and not mask[2, 2] and not mask[1, 3]
    assert mask.sum() == 12 and (mask == mask.T).all() and (mask == mask[::-1]).all()


def test_atomic_writes_keep_the_old_file_when_interrupted(tmp_path):
    from data_prep.atomic import atomic_path, write_json_atomically

    target = write_json_atomically(tmp_path / "record.json", {"step": 1})
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as temporary:
            temporary.write_text('{"step": 2, "trunc')
            raise KeyboardInterrupt
    assert target.read_text() == '{\n  "step": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]


def test_two_writers_of_one_file_never_share_a_temporary_file(tmp_path):
    from data_prep.atomic import atomic_path

    target = tmp_path / "model.keras"
    with atomic_path(target) as first, atomic_path(target) as second:
        assert first != second and first.suffix == second.suffix == ".keras"
        first.write_text("one")
        second.write_text("two")
    # the writer that finished last (the outer one) wins; no temporary file is left
    assert target.read_text() == "one" and [p.name for p in tmp_path.iterdir()] == ["model.keras"]


def test_commands_print_no_library_start_up_lines_unless_verbose():
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", "SOLARMAGGAN_VERBOSE")}
    quiet = run(SOLARMAGGAN, "summary", "--image-size", "32", "--depth", "2", env=env)
    assert quiet.returncode == 0 and "patch map" in quiet.stdout
    assert quiet.stderr == ""
    verbose = run(SOLARMAGGAN, "summary", "--image-size", "32", "--depth", "2", "--verbose",
                  env=env)
    assert verbose.returncode == 0 and verbose.stdout == quiet.stdout
    assert verbose.stderr != ""  # TensorFlow's start-up lines, shown on request


def test_wrong_paths_are_answered_before_tensorflow_loads(tmp_path):
    probe = (
        "import sys; from solarmaggan.cli import main; code = main(sys.argv[1:]);"
        "print('tensorflow' in sys.modules); sys.exit(code)"
    )
    missing = str(tmp_path / "missing")
    for args in (["train", "--data", missing + ".h5", "--run-dir", str(tmp_path / "run")],
                 ["evaluate", "--model", missing, "--data", missing + ".h5", "--out", missing],
                 ["generate", "--model", missing, "--out", missing, missing + ".fits"],
                 ["export", "--model", missing]):
        result = run(sys.executable, "-c", probe, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stdout.strip() == "False", args  # answered without TensorFlow
        assert result.stderr.count("\n") == 1 and missing in result.stderr, result.stderr
