"""Training runs: ``solarmaggan train``, watchable in TensorBoard, resumable, reproducible.

A run directory holds::

    config.json            the resolved configuration (preset + overrides)
    checkpoints/           tf.train checkpoints: both networks, both optimizers (with the
                           loss-scale state), the step counter; the last K kept
    best_generator.keras   the generator with the best validation pixel CC so far
    best.json              its step and scores
    generator_last.keras   the generator at the end of the run
    history.jsonl          one JSON line per validation
    logs/train/            TensorBoard: losses, learning rates, steps per second
    logs/validation/       TensorBoard: pixel CC on the disk, RMSE in Gauss, SSIM, L1, and
                           image panels (EUV | true | generated | generated - true)

Every setting, the data file and the run directory are checked before anything is
written: a refused command leaves the run directory as it was.

Resuming: the data stream is deterministic given the seed, so the checkpointed step is also
the data position (``make_dataset(..., skip_batches=step)``). TensorFlow writes a
checkpoint's files before it updates the ``checkpoint`` index, so a kill during a save
leaves the previous checkpoint in force. Steps logged after the last checkpoint of a killed
run are logged again when it resumes (TensorBoard shows both points for those steps);
``history.jsonl`` drops its lines after the restored step, so each validation appears once.
The best generator and ``best.json`` are kept as written (a validated model). With
``training.deterministic`` and a seed, a resumed run equals an uninterrupted one.

Distributed runs (``training.strategy`` mirrored / multiworker, see
``solarmaggan.distribute``): the networks and optimizers are built in the strategy's
scope with batch normalisation synchronised over the replicas, each input pipeline reads
its shard of the stream, and every worker runs the same training loop and saves its
checkpoints (collectively); only the chief validates and writes the run directory,
TensorBoard logs and models.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import solarmaggan  # noqa: F401  (selects the TensorFlow backend)
import keras
import tensorflow as tf

from data_prep.atomic import atomic_path, write_json_atomically
from data_prep.geometry import disk_mask
from data_prep.progress import Progress
from solarmaggan.config import (
    check_data,
    config_differences,
    data_normalizations,
    disk_radius_px,
    load_config,
    save_config,
)
from solarmaggan.data import make_dataset
from solarmaggan.distribute import is_chief, make_strategy
from solarmaggan.metrics import (
    mean_absolute_error,
    pixel_correlation,
    root_mean_square_error,
    structural_similarity,
)
from solarmaggan.models import Pix2Pix, set_synchronized_batch_norm
from solarmaggan.models.layers import dropout_seed_states
from solarmaggan.models.from_config import discriminator_from_config, generator_from_config
from solarmaggan.plotting import colour_panel

SCRATCH_PREFIX = "solarmaggan-worker-"


@keras.saving.register_keras_serializable(package="solarmaggan")
class LinearDecaySchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Constant learning rate, then linear decay to zero over the last ``decay_steps`` of
    ``total_steps`` (pix2pix's schedule)."""

    def __init__(self, initial_learning_rate: float, total_steps: int, decay_steps: int):
        self.initial_learning_rate = float(initial_learning_rate)
        self.total_steps = int(total_steps)
        self.decay_steps = int(decay_steps)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        remaining = (self.total_steps - step) / float(max(self.decay_steps, 1))
        return self.initial_learning_rate * keras.ops.clip(remaining, 0.0, 1.0)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "total_steps": self.total_steps, "decay_steps": self.decay_steps}


def learning_rate(training: dict[str, Any]):
    """The learning rate (float) or schedule of the (checked) ``training`` settings."""
    if training["lr_schedule"] == "constant":
        return float(training["learning_rate"])
    return LinearDecaySchedule(training["learning_rate"], training["steps"],
                               training["decay_steps"])


def build_pix2pix(config: dict[str, Any]) -> Pix2Pix:
    """The compiled Pix2Pix model that ``config`` describes (networks, loss terms and
    weights, optimizers), in the current ``tf.distribute`` strategy (batch normalisation
    synchronised when it has several replicas)."""
    model, training = config["model"], config["training"]
    generator, discriminator = generator_from_config(config), discriminator_from_config(config)
    if tf.distribute.get_strategy().num_replicas_in_sync > 1:
        set_synchronized_batch_norm(generator, True)
        set_synchronized_batch_norm(discriminator, True)
    pix2pix = Pix2Pix(generator, discriminator, stochastic_inference=model["stochastic_inference"],
                      cc_radius_px=disk_radius_px(config))
    optimizers = [keras.optimizers.Adam(learning_rate(training), beta_1=training["beta_1"])
                  for _ in range(2)]
    pix2pix.compile(
        *optimizers, lambda_l1=training["lambda_l1"], adversarial=training["adversarial_loss"],
        lambda_adversarial=training["lambda_adversarial"],
        lambda_feature_matching=training["lambda_feature_matching"],
        lambda_cc=training["lambda_cc"], cc_kind=training["cc_kind"],
        cc_scales=training["cc_scales"], lambda_large_scale=training["lambda_large_scale"],
        large_scale_block_px=training["large_scale_block_px"], jit_compile=False,
    )
    pix2pix.g_optimizer.build(generator.trainable_variables)
    pix2pix.d_optimizer.build(discriminator.trainable_variables)
    return pix2pix


def check_run_directory(run_dir: Path, config: dict[str, Any], resume: bool) -> str | None:
    """Refuse a run directory of another configuration, or ``resume`` without a checkpoint
    there; returns the latest checkpoint (None for a new run). Writes nothing."""
    config_path = run_dir / "config.json"
    if config_path.exists():
        differences = config_differences(load_config(config_path), config)
        if differences:
            raise ValueError(
                f"{run_dir} belongs to a different configuration ({'; '.join(differences)}); "
                "use another --run-dir"
            )
    elif resume:
        raise ValueError(f"{run_dir}: nothing to resume (no config.json)")
    latest = tf.train.latest_checkpoint(str(run_dir / "checkpoints"))
    if resume and latest is None:
        raise ValueError(f"{run_dir}: nothing to resume (no checkpoint)")
    return latest


def _atomic_keras_save(model: keras.Model, path: Path) -> None:
    with atomic_path(path) as temporary:
        model.save(temporary)


def _history_step(line: str) -> float:
    """The step of a ``history.jsonl`` line; infinity for a line cut short by a kill."""
    try:
        return float(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return float("inf")


def _remove_stale_scratch() -> None:
    """Remove the scratch folders of non-chief workers that died without cleaning up
    (their process no longer exists)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*-*"):
        pid = folder.name.removeprefix(SCRATCH_PREFIX).split("-")[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:
            pass  # another user's live process


class Trainer:
    """Runs (or resumes) the training that a configuration describes, in ``run_dir``.

    Everything is checked (batch against replicas, the data file, the run directory, the
    networks built) before the run directory is created or changed."""

    def __init__(self, config: dict[str, Any], data_path: str | os.PathLike,
                 run_dir: str | os.PathLike, resume: bool = False, progress: bool = True):
        self.config, self.training = config, config["training"]
        self.data_path, self.run_dir = Path(data_path), Path(run_dir)
        # first: a multi-worker strategy must exist before TensorFlow runs any operation
        self.strategy = make_strategy(self.training["strategy"])
        self.is_chief = is_chief(self.strategy)
        self.progress = progress and self.is_chief
        replicas = self.strategy.num_replicas_in_sync
        if int(self.training["batch_size"]) % replicas:
            raise ValueError(
                f"training.batch_size {self.training['batch_size']} cannot be split evenly over "
                f"{replicas} replicas; use a multiple of {replicas} (e.g. --batch-size {replicas})")
        check_data(self.data_path, config)
        latest = check_run_directory(self.run_dir, config, resume)
        seed = self.training["seed"]
        if seed is not None:
            keras.utils.set_random_seed(int(seed))
        if self.training["deterministic"]:
            tf.config.experimental.enable_op_determinism()
        with self.strategy.scope():
            self.model = build_pix2pix(config)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        # the dropout layers' random-number states too (Keras does not track them for
        # tf.train.Checkpoint): a resumed run draws the masks an uninterrupted one would
        dropout_states = list(dropout_seed_states(self.model.generator.variables).values())
        self.checkpoint = tf.train.Checkpoint(
            generator=self.model.generator, discriminator=self.model.discriminator,
            g_optimizer=self.model.g_optimizer, d_optimizer=self.model.d_optimizer, step=self.step,
            dropout_states=dropout_states,
        )
        if latest:
            self.checkpoint.restore(latest).assert_existing_objects_matched()
        # all checked: from here on the run directory is written
        if self.is_chief:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            save_config(config, self.run_dir / "config.json")
            self._forget_history_after(int(self.step.numpy()))
            self._scratch = None
        else:  # other workers must save too (collective reads), into a scratch folder
            _remove_stale_scratch()
            self._scratch = tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-")
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, self._scratch or str(self.run_dir / "checkpoints"),
            max_to_keep=int(self.training["keep_checkpoints"]),
        )
        self.best = self._read_json("best.json") or {"step": None, "pixel_cc": -np.inf}
        _, self.magnetogram_normalization = data_normalizations(config)
        self.limit_gauss = float(config["data"]["magnetogram_limit_gauss"])
        self.disk = disk_mask(int(config["data"]["image_size"]), disk_radius_px(config))
        self.writers = {
            name: tf.summary.create_file_writer(str(self.run_dir / "logs" / name))
            if self.is_chief else tf.summary.create_noop_writer()
            for name in ("train", "validation")}

    def _read_json(self, name: str) -> dict | None:
        path = self.run_dir / name
        return json.loads(path.read_text()) if path.exists() else None

    def _forget_history_after(self, step: int) -> None:
        """Drop the ``history.jsonl`` lines of validations after ``step`` (those of a
        killed run after its last checkpoint, which the resumed run repeats)."""
        path = self.run_dir / "history.jsonl"
        if not path.exists():
            return
        lines = path.read_text().splitlines()
        kept = [line for line in lines if _history_step(line) <= step]
        if len(kept) != len(lines):
            with atomic_path(path) as temporary:
                temporary.write_text("".join(line + "\n" for line in kept))

    # -- steps ----------------------------------------------------------------------------
    def _step_function(self):
        train_step = tf.function(self.model.train_step, jit_compile=bool(self.training["xla"]))

        def distributed_step(iterator):
            self.strategy.run(train_step, args=(next(iterator),))

        @tf.function
        def run_steps(iterator, count):
            for _ in tf.range(count):
                distributed_step(iterator)

        return run_steps

    def _next_stop(self, step: int, total: int) -> int:
        """The next step at which something is logged, validated or saved."""
        stop = min(total, step + int(self.training["steps_per_execution"]))
        for key in ("log_every", "validation_every", "image_every", "checkpoint_every"):
            every = int(self.training[key])
            stop = min(stop, (step // every + 1) * every)
        return stop

    def run(self) -> dict[str, Any]:
        """Train up to ``training.steps``; returns the final summary. A non-chief worker's
        scratch folder is removed however the run ends."""
        try:
            return self._run()
        finally:
            if self._scratch is not None:
                shutil.rmtree(self._scratch, ignore_errors=True)

    def _run(self) -> dict[str, Any]:
        total = int(self.training["steps"])
        start = int(self.step.numpy())
        iterator = iter(self.strategy.distribute_datasets_from_function(
            lambda context: self._train_stream(context, start)))
        run_steps = self._step_function()
        bar = Progress(max(total - start, 0), f"train from step {start} to {total}", unit="steps",
                       enabled=self.progress, every=int(self.training["log_every"]))
        # steps_per_second counts the training steps' time only, not validation or saving
        interval_seconds, interval_steps = 0.0, 0
        step = start
        while step < total:
            stop = self._next_stop(step, total)
            began = time.monotonic()
            run_steps(iterator, tf.constant(stop - step, tf.int64))
            self.model.g_optimizer.iterations.numpy()  # wait for the steps to finish
            interval_seconds += time.monotonic() - began
            interval_steps += stop - step
            bar.update(stop - step)
            step = stop
            self.step.assign(step)
            if step % int(self.training["log_every"]) == 0 or step == total:
                self._log_training(step, interval_steps / max(interval_seconds, 1e-9))
                interval_seconds, interval_steps = 0.0, 0
            if step % int(self.training["validation_every"]) == 0 or step == total:
                self._validate(step, total, bar)
            if step % int(self.training["image_every"]) == 0 or step == total:
                self._log_images(step)
            if step % int(self.training["checkpoint_every"]) == 0 or step == total:
                self.manager.save(checkpoint_number=step)
        bar.close()
        if self.is_chief:
            _atomic_keras_save(self.model.generator, self.run_dir / "generator_last.keras")
        for writer in self.writers.values():
            writer.flush()
        return {"step": int(self.step.numpy()), "best": self.best,
                "run_dir": str(self.run_dir)}

    def _train_stream(self, context: tf.distribute.InputContext, start: int) -> tf.data.Dataset:
        """This input pipeline's shard of the training stream, in per-replica batches,
        positioned after ``start`` global steps."""
        replicas_per_pipeline = context.num_replicas_in_sync // context.num_input_pipelines
        return make_dataset(
            self.data_path, "train",
            batch_size=context.get_per_replica_batch_size(int(self.training["batch_size"])),
            shuffle=True, augment=bool(self.training["augment"]), seed=self.training["seed"],
            max_shift_px=int(self.training["max_shift_px"]), repeat=True,
            skip_batches=start * replicas_per_pipeline, drop_remainder=True,
            shard=(context.num_input_pipelines, context.input_pipeline_id),
        )

    # -- logging --------------------------------------------------------------------------
    def _log_training(self, step: int, steps_per_second: float) -> None:
        with self.writers["train"].as_default(step=step):
            for metric in self.model.train_metrics:
                tf.summary.scalar(metric.name, metric.result())
                metric.reset_state()
            for name, optimizer in (("g", self.model.g_optimizer), ("d", self.model.d_optimizer)):
                tf.summary.scalar(f"learning_rate_{name}", optimizer.learning_rate)
            tf.summary.scalar("steps_per_second", steps_per_second)

    def _validation_stream(self):
        return make_dataset(self.data_path, "val", batch_size=int(self.training["batch_size"]),
                            shuffle=False, augment=False)

    def _generate(self, euv):
        return self.model(euv, training=False)

    def validate(self) -> dict[str, float]:
        """Mean validation metrics over the first ``validation_pairs`` (all when None)
        validation pairs, with the evaluation's definitions (``solarmaggan.metrics``): pixel
        CC and RMSE in Gauss on the disk (``data.disk_rsun``), SSIM over the frame with the
        data's clip range, and L1 of the normalised images."""
        limit = self.training["validation_pairs"]
        scores: dict[str, list] = {"pixel_cc": [], "rmse_gauss": [], "ssim": [], "l1": []}
        seen = 0
        for euv, magnetogram in self._validation_stream():
            if limit is not None and seen >= int(limit):
                break
            generated = self._generate(euv)
            true_gauss = self.magnetogram_normalization.denormalize(magnetogram.numpy())
            generated_gauss = self.magnetogram_normalization.denormalize(np.asarray(generated))
            scores["pixel_cc"].append(pixel_correlation(true_gauss, generated_gauss, self.disk))
            scores["rmse_gauss"].append(
                root_mean_square_error(true_gauss, generated_gauss, self.disk))
            scores["ssim"].append(structural_similarity(
                true_gauss, generated_gauss, -self.limit_gauss, self.limit_gauss))
            scores["l1"].append(mean_absolute_error(magnetogram, generated))
            seen += int(euv.shape[0])
        return {name: float(np.mean(np.concatenate([np.asarray(v) for v in values])))
                for name, values in scores.items()}

    def _validate(self, step: int, total: int, bar: Progress) -> None:
        if not self.is_chief:  # inference needs no other worker; only the chief writes
            return
        scores = self.validate()
        with self.writers["validation"].as_default(step=step):
            for name, value in scores.items():
                tf.summary.scalar(name, value)
        improved = scores["pixel_cc"] > self.best["pixel_cc"]
        if improved:
            _atomic_keras_save(self.model.generator, self.run_dir / "best_generator.keras")
            self.best = {"step": step, **scores,
                         "disk_rsun": float(self.config["data"]["disk_rsun"])}
            write_json_atomically(self.run_dir / "best.json", self.best)
        with open(self.run_dir / "history.jsonl", "a") as history:
            history.write(json.dumps({"step": step, **scores}) + "\n")
        if self.progress:
            if bar.interactive:
                sys.stderr.write("\n")
            print(f"step {step}/{total}  validation: pixel_cc {scores['pixel_cc']:.4f}  "
                  f"rmse {scores['rmse_gauss']:.2f} G  ssim {scores['ssim']:.4f}  "
                  f"l1 {scores['l1']:.4f}  best pixel_cc {self.best['pixel_cc']:.4f} "
                  f"at step {self.best['step']}{'  (new best)' if improved else ''}", flush=True)

    def _log_images(self, step: int) -> None:
        if not self.is_chief:
            return
        count = int(self.training["image_pairs"])
        limit = self.limit_gauss
        with self.writers["validation"].as_default(step=step):
            shown = 0
            for euv, magnetogram in self._validation_stream():
                generated = np.asarray(self._generate(euv))
                true_gauss = self.magnetogram_normalization.denormalize(magnetogram.numpy())
                generated_gauss = self.magnetogram_normalization.denormalize(generated)
                for row in range(int(euv.shape[0])):
                    if shown >= count:
                        return
                    panel = colour_panel(euv.numpy()[row, ..., 0], true_gauss[row, ..., 0],
                                         generated_gauss[row, ..., 0], limit)
                    tf.summary.image(f"pair_{shown}", panel[None], step=step)
                    shown += 1


def train(config: dict[str, Any], data_path: str | os.PathLike, run_dir: str | os.PathLike,
          resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """Train (or resume) in ``run_dir``; see :class:`Trainer`."""
    return Trainer(config, data_path, run_dir, resume=resume, progress=progress).run()
