"""`solarmaggan train`: TensorBoard logs, best-CC generator, kill -9 and resume, data checks."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from data_prep.geometry import disk_mask
from solarmaggan.data import make_dataset
from solarmaggan.metrics import pixel_correlation
from solarmaggan.models import load_model
from solarmaggan.training import LinearDecaySchedule, check_data, train

from conftest import TINY_OVERRIDES as TINY, TINY_SIZE, tiny_config

SIZE = TINY_SIZE


def event_tensors(folder):
    events = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    events.Reload()
    return {tag: events.Tensors(tag) for tag in events.Tags()["tensors"]}


def test_short_run_logs_scalars_and_panels_and_keeps_the_best_generator(toy_file, tmp_path):
    run_dir = tmp_path / "run"
    summary = train(tiny_config("training.steps=20"), toy_file, run_dir, progress=False)
    assert summary["step"] == 20
    train_logs = event_tensors(run_dir / "logs" / "train")
    for tag in ("d_loss", "g_loss", "g_gan", "g_l1", "learning_rate_g", "learning_rate_d",
                "steps_per_second"):
        assert [event.step for event in train_logs[tag]] == [5, 10, 15, 20], tag
        assert all(np.isfinite(tf.make_ndarray(e.tensor_proto)) for e in train_logs[tag])
    assert tf.make_ndarray(train_logs["learning_rate_g"][0].tensor_proto) == pytest.approx(2e-4)
    validation_logs = event_tensors(run_dir / "logs" / "validation")
    for tag in ("pixel_cc", "rmse_gauss", "ssim", "l1"):
        assert [event.step for event in validation_logs[tag]] == [10, 20], tag
    for tag in ("pair_0", "pair_1"):
        width, height, png = tf.make_ndarray(validation_logs[tag][-1].tensor_proto)
        image = tf.io.decode_png(png).numpy()
        assert (int(width), int(height)) == (4 * SIZE + 6, SIZE) and image.shape[2] == 3
        assert image.std() > 0

    # the kept generator is the one with the highest recorded validation pixel CC
    history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    best = json.loads((run_dir / "best.json").read_text())
    top = max(history, key=lambda record: record["pixel_cc"])
    assert best["step"] == top["step"] and best["pixel_cc"] == pytest.approx(top["pixel_cc"])
    generator = load_model(run_dir / "best_generator.keras")
    scores = []
    for euv, magnetogram in make_dataset(toy_file, "val", batch_size=1, shuffle=False,
                                         augment=False):
        scores.append(pixel_correlation(magnetogram, generator(euv, training=False),
                                        disk_mask(SIZE, 392 / 1024 * SIZE)))
    assert float(np.mean(np.concatenate(scores))) == pytest.approx(best["pixel_cc"], abs=1e-4)
    assert json.loads((run_dir / "config.json").read_text())["training"]["steps"] == 20


def test_killed_run_resumes_with_a_continuous_step_axis(toy_file, tmp_path):
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "solarmaggan", "train", "--preset", "quick",
               "--data", str(toy_file), "--run-dir", str(run_dir), "--steps", "200",
               "--checkpoint-every", "20", "--validation-every", "100", "--quiet"]
    for override in TINY:
        if not override.startswith(("training.checkpoint_every", "training.validation_every")):
            command += ["--set", override]
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while not (run_dir / "checkpoints" / "ckpt-40.index").exists():
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (run_dir / "checkpoints" / "ckpt-200.index").exists()

    finished = subprocess.run(command, env=environment, capture_output=True, text=True,
                              timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert "finished at step 200" in finished.stdout
    assert tf.train.latest_checkpoint(str(run_dir / "checkpoints")).endswith("ckpt-200")
    steps = {event.step for event in event_tensors(run_dir / "logs" / "train")["g_l1"]}
    assert steps == set(range(5, 201, 5))  # continuous: no gap, no restart from 0


def test_mismatched_data_or_run_directory_is_refused(toy_file, tmp_path):
    with pytest.raises(ValueError, match=r"image size 32, the model needs 64"):
        check_data(toy_file, tiny_config("data.image_size=64", "data.radius_px=24.5"))
    with pytest.raises(ValueError, match=r"target normalisation .* configuration says"):
        check_data(toy_file, tiny_config("data.magnetogram_limit_gauss=3000"))
    run_dir = tmp_path / "run"
    train(tiny_config("training.steps=10"), toy_file, run_dir, progress=False)
    with pytest.raises(ValueError, match=r"belongs to a different configuration \(model.depth: 3 -> 2"):
        train(tiny_config("training.steps=10", "model.depth=2"), toy_file, run_dir, progress=False)
    with pytest.raises(ValueError, match="nothing to resume"):
        train(tiny_config(), toy_file, tmp_path / "empty", resume=True, progress=False)
    with pytest.raises(ValueError, match="unknown setting training.stepz"):
        tiny_config("training.stepz=3")


def test_linear_decay_schedule():
    schedule = LinearDecaySchedule(2e-4, total_steps=100, decay_steps=40)
    values = [float(schedule(step)) for step in (0, 60, 80, 100, 120)]
    assert values == pytest.approx([2e-4, 2e-4, 1e-4, 0.0, 0.0])


def test_mixed_float16_checkpoint_holds_the_loss_scale(toy_file, tmp_path):
    from solarmaggan.training import Trainer

    config = tiny_config("training.steps=10", "training.precision=mixed_float16")
    train(config, toy_file, tmp_path / "run", progress=False)
    saved = tf.train.load_checkpoint(str(tmp_path / "run" / "checkpoints" / "ckpt-10"))
    scale = saved.get_tensor("g_optimizer/dynamic_scale/.ATTRIBUTES/VARIABLE_VALUE")
    resumed = Trainer(config, toy_file, tmp_path / "run", resume=True, progress=False)
    assert int(resumed.step.numpy()) == 10
    assert float(resumed.model.g_optimizer.dynamic_scale.numpy()) == scale


def test_three_channel_jeong2022_run_on_the_toy_sun_lowers_its_losses(tmp_path):
    from data_prep.toysun import write_toy_dataset
    from solarmaggan.config import resolve_config

    size = 64
    pairs = write_toy_dataset(tmp_path / "toy3.h5", 20, size, seed=0, preset="jeong2022")
    config = resolve_config("jeong2022", [
        f"data.image_size={size}", f"data.radius_px={450 / 1024 * size}",
        "model.base_filters=8", "model.max_filters=32", "model.downsamplings=2",
        "model.residual_blocks=2", "model.discriminator_base_filters=8",
        "model.discriminator_max_filters=16", "training.steps=120", "training.log_every=20",
        "training.validation_every=120", "training.image_every=120",
        "training.checkpoint_every=120", "training.validation_pairs=2", "training.image_pairs=1",
    ])
    run_dir = tmp_path / "run"
    train(config, pairs, run_dir, progress=False)
    logs = event_tensors(run_dir / "logs" / "train")
    assert {"g_fm", "g_cc", "g_gan", "d_loss"} <= set(logs)
    for tag in ("g_loss", "g_cc", "g_fm"):
        values = [float(tf.make_ndarray(event.tensor_proto)) for event in logs[tag]]
        assert values[-1] < values[0], (tag, values)
    generator = load_model(run_dir / "best_generator.keras")
    assert generator.input_shape[1:] == (size, size, 3)


def test_configuration_saved_before_the_aisfm_settings_loads_with_the_seed_values(tmp_path):
    from solarmaggan.config import ADDED_SETTINGS, load_config, resolve_config

    old = resolve_config("quick")
    for section, keys in ADDED_SETTINGS.items():
        for key in keys:
            del old[section][key]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(old))
    loaded = load_config(path)
    assert loaded == resolve_config("quick")  # quick uses the seed's values for all of them
    assert loaded["model"]["architecture"] == "unet"
    assert loaded["training"]["lambda_cc"] == 0.0
