"""`solarmaggan export`: SavedModel and TFLite parity, saved_model_cli, mixed precision, errors."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from solarmaggan.export import TOLERANCES, export, parity_input, run_tflite
from solarmaggan.model_files import load_trained_generator
from solarmaggan.training import train

from conftest import linear_output_run, tiny_config, untrained_run

@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory):
    run_dir, _ = tiny_run
    out = tmp_path_factory.mktemp("export") / "tiny"
    return export(run_dir, out, "all"), out, run_dir


def test_savedmodel_and_tflite_match_keras(exported):
    manifest, out, run_dir = exported
    generator, config, _ = load_trained_generator(run_dir)
    euv = np.concatenate([parity_input(config), -parity_input(config) * 0.5])
    reference = np.asarray(generator(euv, training=False))
    served = tf.saved_model.load(str(out / "serving" / "1"))
    normalised = served.signatures["serving_default"](euv=tf.constant(euv))["magnetogram"].numpy()
    assert np.max(np.abs(normalised - reference)) <= 1e-5
    gauss = served.signatures["magnetogram_gauss"](euv=tf.constant(euv))["magnetogram_gauss"].numpy()
    np.testing.assert_allclose(gauss, reference * 100.0, atol=1e-3)  # +-100 G, symmetric
    for variant, tolerance in (("fp32", 1e-4), ("fp16", TOLERANCES["fp16"]), ("int8", TOLERANCES["int8"])):
        result = run_tflite(out / f"generator_{variant}.tflite", euv)
        assert np.max(np.abs(result - reference)) <= tolerance, variant
    saved = json.loads((out / "manifest.json").read_text())
    assert saved["input"]["shape"] == [None, 32, 32, 1] and saved["input"]["name"] == "euv"
    assert saved["normalization"]["magnetogram"]["clip_max"] == 100.0
    assert set(saved["files_bytes"]) == {"serving/1", "generator_fp32.tflite",
                                         "generator_fp16.tflite", "generator_int8.tflite"}
    assert saved["files_bytes"]["generator_int8.tflite"] < saved["files_bytes"]["generator_fp32.tflite"]
    assert json.loads((out / "serving" / "1" / "assets.extra" / "solarmaggan.json").read_text()
                      )["data"]["image_size"] == 32


def test_saved_model_cli_gives_the_same_numbers(exported, tmp_path):
    _, out, run_dir = exported
    generator, config, _ = load_trained_generator(run_dir)
    euv = parity_input(config)
    np.save(tmp_path / "euv.npy", euv)
    cli = Path(sys.executable).parent / "saved_model_cli"
    shown = subprocess.run([str(cli), "show", "--all", "--dir", str(out / "serving" / "1")],
                           capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0 and "magnetogram_gauss" in shown.stdout and "euv" in shown.stdout
    run = subprocess.run(
        [str(cli), "run", "--dir", str(out / "serving" / "1"), "--tag_set", "serve",
         "--signature_def", "serving_default", "--inputs", f"euv={tmp_path / 'euv.npy'}",
         "--outdir", str(tmp_path / "cli"), "--overwrite"],
        capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-2000:]
    result = np.load(tmp_path / "cli" / "magnetogram.npy")
    assert np.max(np.abs(result - np.asarray(generator(euv, training=False)))) <= 1e-5


def test_mixed_precision_model_exports_in_float32(toy_file, tmp_path):
    run_dir = tmp_path / "bf16"
    train(tiny_config("training.steps=10", "training.precision=mixed_bfloat16"), toy_file,
          run_dir, progress=False)
    manifest = export(run_dir, tmp_path / "out", "tflite")
    assert manifest["parity_max_abs"]["fp32"] <= 1e-4
    assert (tmp_path / "out" / "generator_fp32.tflite").exists()
    assert not (tmp_path / "out" / "serving").exists()  # only what was asked for


def test_bad_requests_fail_clearly_and_keep_a_good_export(exported, tmp_path):
    _, out, run_dir = exported
    before = (out / "manifest.json").read_text()
    with pytest.raises(ValueError, match="format must be one of"):
        export(run_dir, out, "onnx")
    with pytest.raises(FileNotFoundError, match="no such run directory or model file"):
        export(tmp_path / "missing", out)
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "best_generator.keras").write_bytes(b"PK\x03\x04 not really a zip")
    (corrupt / "config.json").write_text((run_dir / "config.json").read_text())
    with pytest.raises(ValueError, match="not a readable solarmaggan .keras model"):
        export(corrupt, out)
    assert (out / "manifest.json").read_text() == before
    assert not list(out.parent.glob(".tiny.partial-*"))


def test_magnetogram_gauss_of_a_linear_output_model_is_clipped(tmp_path):
    run_dir, generator = linear_output_run(tmp_path / "run")
    manifest = export(run_dir, tmp_path / "out", "savedmodel")
    euv = parity_input(tiny_config())
    raw = np.asarray(generator(euv, training=False))
    assert np.abs(raw).max() > 1.5  # the model's own output leaves the clip range
    served = tf.saved_model.load(str(tmp_path / "out" / "serving" / "1"))
    gauss = served.signatures["magnetogram_gauss"](euv=tf.constant(euv))["magnetogram_gauss"]
    np.testing.assert_allclose(gauss.numpy(), np.clip(raw, -1, 1) * 100.0, atol=1e-3)
    assert manifest["outputs"]["magnetogram_gauss"]["range"] == [-100.0, 100.0]
    normalised = served.signatures["serving_default"](euv=tf.constant(euv))["magnetogram"]
    np.testing.assert_allclose(normalised.numpy(), raw, atol=1e-5)  # the raw output, as said


def test_stochastic_run_exports_and_the_manifest_says_what_the_graphs_do(tmp_path):
    run_dir, generator = untrained_run(tmp_path / "run", "model.stochastic_inference=true")
    manifest = export(run_dir, tmp_path / "out", "all")
    assert manifest["stochastic_inference"] is True
    assert "dropout active" in manifest["inference"]["savedmodel"]
    assert "dropout off" in manifest["inference"]["tflite"]
    assert manifest["parity_max_abs"]["savedmodel"] <= TOLERANCES["savedmodel"]
    euv = np.repeat(parity_input(tiny_config()), 2, axis=0)
    served = tf.saved_model.load(str(tmp_path / "out" / "serving" / "1"))
    signature = served.signatures["serving_default"]
    first, second = (signature(euv=tf.constant(euv))["magnetogram"].numpy() for _ in range(2))
    assert np.abs(first - second).max() > 1e-3  # a new dropout draw each call
    assert np.abs(first[0] - first[1]).max() > 1e-3  # and each image of a batch its own
    # TFLite: per-image statistics, no dropout: repeatable, and independent of the batch
    tflite = run_tflite(tmp_path / "out" / "generator_fp32.tflite", euv)
    np.testing.assert_array_equal(tflite, run_tflite(tmp_path / "out" / "generator_fp32.tflite", euv))
    np.testing.assert_allclose(tflite[0], tflite[1], atol=1e-6)


def test_which_last_exports_the_last_generator(tmp_path):
    run_dir, best = untrained_run(tmp_path / "run", seed=1)
    _, last = untrained_run(tmp_path / "other", seed=2)
    last.save(run_dir / "generator_last.keras")
    manifest = export(run_dir, tmp_path / "out", "savedmodel", which="last")
    assert manifest["source_model"].endswith("generator_last.keras")
    euv = parity_input(tiny_config())
    served = tf.saved_model.load(str(tmp_path / "out" / "serving" / "1"))
    result = served.signatures["serving_default"](euv=tf.constant(euv))["magnetogram"].numpy()
    np.testing.assert_allclose(result, np.asarray(last(euv, training=False)), atol=1e-5)
    assert np.abs(result - np.asarray(best(euv, training=False))).max() > 1e-3
