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
    assert "image_size must be a power of two >= 32" in bad.stderr
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
