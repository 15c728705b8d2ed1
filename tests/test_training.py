"""`solarmaggan train`: TensorBoard logs, best-CC generator, kill -9 and resume, data checks."""

import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from data_prep.geometry import disk_mask
from solarmaggan.data import make_dataset
from solarmaggan.metrics import pixel_correlation
from solarmaggan.models import load_model
from solarmaggan.config import check_data
from solarmaggan.training import LinearDecaySchedule, train

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
    # selection counts the disk that evaluation counts: 0.95 R_sun, not the masked ring
    assert best["disk_rsun"] == 0.95
    disk = disk_mask(SIZE, 0.95 * 392 / 1024 * SIZE)
    for euv, magnetogram in make_dataset(toy_file, "val", batch_size=1, shuffle=False,
                                         augment=False):
        scores.append(pixel_correlation(magnetogram, generator(euv, training=False), disk))
    assert float(np.mean(np.concatenate(scores))) == pytest.approx(best["pixel_cc"], abs=1e-4)
    assert json.loads((run_dir / "config.json").read_text())["training"]["steps"] == 20


def _train_command(toy_file, run_dir):
    """``solarmaggan train`` of the tiny configuration, 100 steps, deterministic."""
    command = [sys.executable, "-m", "solarmaggan", "train", "--preset", "quick",
               "--data", str(toy_file), "--run-dir", str(run_dir), "--steps", "100",
               "--checkpoint-every", "20", "--validation-every", "30", "--deterministic",
               "--quiet"]
    for override in TINY:
        if not override.startswith(("training.checkpoint_every", "training.validation_every",
                                    "data.")):
            command += ["--set", override]
    return command


def test_killed_run_resumes_to_the_uninterrupted_result(toy_file, tmp_path):
    run_dir = tmp_path / "killed"
    command = _train_command(toy_file, run_dir)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while not (run_dir / "checkpoints" / "ckpt-40.index").exists():
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (run_dir / "checkpoints" / "ckpt-100.index").exists()

    finished = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert "finished at step 100" in finished.stdout
    assert tf.train.latest_checkpoint(str(run_dir / "checkpoints")).endswith("ckpt-100")
    steps = {event.step for event in event_tensors(run_dir / "logs" / "train")["g_l1"]}
    assert steps == set(range(5, 101, 5))  # continuous: no gap, no restart from 0

    uninterrupted = tmp_path / "uninterrupted"
    reference = subprocess.run(_train_command(toy_file, uninterrupted), capture_output=True,
                               text=True, timeout=300)
    assert reference.returncode == 0, reference.stderr[-2000:]
    # the same validations, once each, with the same figures; the same final weights
    assert (run_dir / "history.jsonl").read_text() == (uninterrupted / "history.jsonl").read_text()
    history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    assert [record["step"] for record in history] == [30, 60, 90, 100]
    resumed, straight = (load_model(folder / "generator_last.keras")
                         for folder in (run_dir, uninterrupted))
    for got, expected in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_array_equal(got, expected)


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
    with pytest.raises(ValueError, match="training.stepz: unknown setting"):
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
    old["training"]["cc_radius_rsun"] = 1.0  # removed since: the disk is data.disk_rsun
    path = tmp_path / "config.json"
    path.write_text(json.dumps(old))
    loaded = load_config(path)
    assert loaded == resolve_config("quick")  # quick uses the seed's values for all of them
    assert loaded["model"]["architecture"] == "unet"
    assert loaded["training"]["lambda_cc"] == 0.0


def test_steps_per_second_counts_training_time_only(toy_file, tmp_path, monkeypatch):
    """A validation that takes 1000 s (on a patched clock) must not lower the training
    speed logged for the interval after it."""
    import solarmaggan.training as training

    offset = [0.0]
    monkeypatch.setattr(training.time, "monotonic", lambda: time.perf_counter() + offset[0])
    validate = training.Trainer.validate

    def slow_validate(self):
        offset[0] += 1000.0
        return validate(self)

    monkeypatch.setattr(training.Trainer, "validate", slow_validate)
    run_dir = tmp_path / "run"
    train(tiny_config("training.steps=10", "training.validation_every=5"), toy_file, run_dir,
          progress=False)
    speeds = [float(tf.make_ndarray(e.tensor_proto))
              for e in event_tensors(run_dir / "logs" / "train")["steps_per_second"]]
    assert len(speeds) == 2 and min(speeds) > 0.1  # 5 steps / 1000 s would be 0.005


def test_a_failed_worker_removes_its_scratch_folder(toy_file, tmp_path, monkeypatch):
    import solarmaggan.training as training

    stale = Path(tempfile.mkdtemp(prefix=f"{training.SCRATCH_PREFIX}999999999-"))
    monkeypatch.setattr(training, "is_chief", lambda strategy: False)
    trainer = training.Trainer(tiny_config("training.steps=10"), toy_file, tmp_path / "run",
                               progress=False)
    assert not stale.exists()  # a dead worker's folder is cleaned up at the next start
    scratch = Path(trainer._scratch)
    assert scratch.is_dir() and not (tmp_path / "run").exists()  # only the chief writes

    def crash(self):
        raise RuntimeError("worker lost")

    monkeypatch.setattr(training.Trainer, "_run", crash)
    with pytest.raises(RuntimeError, match="worker lost"):
        trainer.run()
    assert not scratch.exists()


def test_a_kill_between_validation_and_checkpoint_leaves_no_duplicate_history(
        toy_file, tmp_path, monkeypatch):
    """The validation at step 20 is written to history.jsonl, then the process dies before
    checkpoint 20; the resumed run repeats that validation and must not log it twice."""
    import solarmaggan.training as training

    config = tiny_config("training.steps=20")
    run_dir = tmp_path / "run"
    save = tf.train.CheckpointManager.save

    def die_at_20(manager, checkpoint_number=None, **kwargs):
        if checkpoint_number == 20:
            raise KeyboardInterrupt("killed")
        return save(manager, checkpoint_number=checkpoint_number, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(tf.train.CheckpointManager, "save", die_at_20)
        with pytest.raises(KeyboardInterrupt):
            train(config, toy_file, run_dir, progress=False)
    with open(run_dir / "history.jsonl", "a") as history:
        history.write('{"step": 2')  # and a line cut short by the kill
    assert _history_steps(run_dir)[:2] == [10, 20]

    training.train(config, toy_file, run_dir, progress=False)
    assert _history_steps(run_dir) == [10, 20]


def _history_steps(run_dir):
    lines = (run_dir / "history.jsonl").read_text().splitlines()
    return [json.loads(line)["step"] if line.endswith("}") else line for line in lines]
