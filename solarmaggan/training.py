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

Resuming: the data stream is deterministic given the seed, so the checkpointed step is also
the data position (``make_dataset(..., skip_batches=step)``). TensorFlow writes a
checkpoint's files before it updates the ``checkpoint`` index, so a kill during a save
leaves the previous checkpoint in force. Steps logged after the last checkpoint of a killed
run are logged again when it resumes (TensorBoard shows both points for those steps).

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
from data_prep.normalization import Normalization, euv_normalization, magnetogram_normalization
from data_prep.pairs import PairFile
from data_prep.progress import Progress
from solarmaggan.config import config_differences, load_config, save_config
from solarmaggan.data import make_dataset
from solarmaggan.distribute import is_chief, make_strategy
from solarmaggan.metrics import pixel_correlation, root_mean_square_error, structural_similarity
from solarmaggan.models import (
    Pix2Pix,
    build_discriminator,
    build_generator,
    build_hd_generator,
    build_multiscale_discriminator,
    set_synchronized_batch_norm,
)

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
LR_SCHEDULES = ("constant", "linear_decay")
ARCHITECTURES = ("unet", "pix2pixhd")


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
    """The learning rate (float) or schedule of the ``training`` settings."""
    schedule = training["lr_schedule"]
    if schedule not in LR_SCHEDULES:
        raise ValueError(f"training.lr_schedule must be one of {LR_SCHEDULES}, got {schedule!r}")
    if schedule == "constant":
        return float(training["learning_rate"])
    decay_steps = int(training["decay_steps"])
    if not 0 < decay_steps <= int(training["steps"]):
        raise ValueError(f"training.decay_steps must be in 1..training.steps, got {decay_steps}")
    return LinearDecaySchedule(training["learning_rate"], training["steps"], decay_steps)


def build_networks(config: dict[str, Any]) -> tuple[keras.Model, keras.Model]:
    """(generator, discriminator) that ``config["model"]`` describes: the seed's U-Net and
    PatchGAN (``architecture`` "unet") or pix2pixHD's ResNet generator and multi-scale
    PatchGAN ("pix2pixhd", AISFM 2.0 / 3.0)."""
    data, model, training = config["data"], config["model"], config["training"]
    precision = training["precision"]
    if precision not in PRECISIONS:
        raise ValueError(f"training.precision must be one of {PRECISIONS}, got {precision!r}")
    image_size, channels = int(data["image_size"]), len(data["input_channels"])
    seed = training["seed"]
    discriminator_seed = None if seed is None else seed + 1
    common = {"precision": precision, "norm": model["norm"]}
    if model["architecture"] == "unet":
        generator = build_generator(
            image_size, channels, 1, depth=model["depth"], base_filters=model["base_filters"],
            max_filters=model["max_filters"], dropout_rate=model["dropout_rate"],
            stochastic_inference=model["stochastic_inference"], seed=seed, **common,
        )
        discriminator = build_discriminator(
            image_size, channels, 1, base_filters=model["discriminator_base_filters"],
            max_filters=model["discriminator_max_filters"],
            strided_layers=model["discriminator_strided_layers"], seed=discriminator_seed,
            **common,
        )
    elif model["architecture"] == "pix2pixhd":
        generator = build_hd_generator(
            image_size, channels, 1, base_filters=model["base_filters"],
            max_filters=model["max_filters"], downsamplings=model["downsamplings"],
            residual_blocks=model["residual_blocks"], padding=model["padding"],
            output_activation=model["output_activation"], seed=seed, **common,
        )
        discriminator = build_multiscale_discriminator(
            image_size, channels, 1, scales=model["discriminator_scales"],
            base_filters=model["discriminator_base_filters"],
            max_filters=model["discriminator_max_filters"],
            strided_layers=model["discriminator_strided_layers"], seed=discriminator_seed,
            **common,
        )
    else:
        raise ValueError(f"model.architecture must be one of {ARCHITECTURES}, "
                         f"got {model['architecture']!r}")
    return generator, discriminator


def build_pix2pix(config: dict[str, Any]) -> Pix2Pix:
    """The compiled Pix2Pix model that ``config`` describes (networks, loss terms and
    weights, optimizers), in the current ``tf.distribute`` strategy (batch normalisation
    synchronised when it has several replicas)."""
    data, model, training = config["data"], config["model"], config["training"]
    generator, discriminator = build_networks(config)
    if tf.distribute.get_strategy().num_replicas_in_sync > 1:
        set_synchronized_batch_norm(generator, True)
        set_synchronized_batch_norm(discriminator, True)
    pix2pix = Pix2Pix(
        generator, discriminator, stochastic_inference=model["stochastic_inference"],
        cc_radius_px=float(data["radius_px"]) * float(training["cc_radius_rsun"]),
    )
    optimizers = [keras.optimizers.Adam(learning_rate(training), beta_1=training["beta_1"])
                  for _ in range(2)]
    pix2pix.compile(
        *optimizers, lambda_l1=training["lambda_l1"], adversarial=training["adversarial_loss"],
        lambda_adversarial=training["lambda_adversarial"],
        lambda_feature_matching=training["lambda_feature_matching"],
        lambda_cc=training["lambda_cc"], cc_kind=training["cc_kind"],
        cc_scales=training["cc_scales"], jit_compile=False,
    )
    pix2pix.g_optimizer.build(generator.trainable_variables)
    pix2pix.d_optimizer.build(discriminator.trainable_variables)
    return pix2pix


def data_normalizations(config: dict[str, Any]) -> tuple[Normalization, Normalization]:
    """(EUV, magnetogram) normalisation that the configuration's data must have."""
    data = config["data"]
    return (euv_normalization(*data["euv_clip_dn_s"]),
            magnetogram_normalization(data["magnetogram_limit_gauss"]))


def check_data(path: str | os.PathLike, config: dict[str, Any]) -> None:
    """Refuse, before training, a pair file that does not fit the configuration."""
    data = config["data"]
    euv, magnetogram = data_normalizations(config)
    with PairFile(path) as pairs:
        problems = []
        if pairs.image_size != data["image_size"]:
            problems.append(f"image size {pairs.image_size}, the model needs {data['image_size']}")
        if len(pairs.input_channels) != len(data["input_channels"]):
            problems.append(f"{len(pairs.input_channels)} input channels {pairs.input_channels}, "
                            f"the model needs {len(data['input_channels'])}")
        if len(pairs.target_channels) != 1:
            problems.append(f"{len(pairs.target_channels)} target channels, the model needs 1")
        if any(norm != euv for norm in pairs.input_normalization):
            problems.append(f"input normalisation {pairs.input_normalization[0]}, the "
                            f"configuration says {euv}")
        if pairs.target_normalization[0] != magnetogram:
            problems.append(f"target normalisation {pairs.target_normalization[0]}, the "
                            f"configuration says {magnetogram}")
        if abs(pairs.rsun_px - float(data["radius_px"])) > 0.5:
            problems.append(f"solar radius {pairs.rsun_px:g} px, the configuration says "
                            f"{data['radius_px']:g} px")
        for split in ("train", "val"):
            if len(pairs.split_indices(split)) == 0:
                problems.append(f"the {split!r} split is empty")
    if problems:
        preset = config.get("name", "the configuration")
        raise ValueError(f"{path} does not fit {preset}: " + "; ".join(problems))


def open_run_directory(run_dir: Path, config: dict[str, Any], resume: bool) -> None:
    """Create the run directory, or check that an existing one has the same configuration;
    then save the configuration there."""
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
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, config_path)


def _atomic_keras_save(model: keras.Model, path: Path) -> None:
    with atomic_path(path) as temporary:
        model.save(temporary)


def colour_panel(euv: np.ndarray, true_gauss: np.ndarray, generated_gauss: np.ndarray,
                 limit_gauss: float) -> np.ndarray:
    """One RGB panel (H, 4 W + 6, 3) in [0, 1]: EUV input (normalised, AIA 304 colours) |
    true | generated | generated - true magnetograms (HMI colours, fixed +-limit_gauss)."""
    import matplotlib
    import sunpy.visualization.colormaps  # noqa: F401  (registers the solar colour maps)

    euv_rgb = matplotlib.colormaps["sdoaia304"](np.clip((euv + 1.0) / 2.0, 0, 1))[..., :3]
    magnetogram_colours = matplotlib.colormaps["hmimag"]

    def field(gauss):
        return magnetogram_colours(np.clip((gauss / limit_gauss + 1.0) / 2.0, 0, 1))[..., :3]

    gap = np.ones((euv.shape[0], 2, 3))
    panels = [euv_rgb, gap, field(true_gauss), gap, field(generated_gauss), gap,
              field(generated_gauss - true_gauss)]
    # FITS rows run south to north: flip so that north is up on screen
    return np.concatenate(panels, axis=1)[::-1].astype(np.float32)


class Trainer:
    """Runs (or resumes) the training that a configuration describes, in ``run_dir``."""

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
        if self.is_chief:
            open_run_directory(self.run_dir, config, resume)
        seed = self.training["seed"]
        if seed is not None:
            keras.utils.set_random_seed(int(seed))
        if self.training["deterministic"]:
            tf.config.experimental.enable_op_determinism()
        with self.strategy.scope():
            self.model = build_pix2pix(config)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.checkpoint = tf.train.Checkpoint(
            generator=self.model.generator, discriminator=self.model.discriminator,
            g_optimizer=self.model.g_optimizer, d_optimizer=self.model.d_optimizer, step=self.step,
        )
        checkpoints = self.run_dir / "checkpoints"
        latest = tf.train.latest_checkpoint(str(checkpoints))
        # other workers must save too (collective reads); they write to a scratch folder
        self._scratch = None if self.is_chief else tempfile.mkdtemp(prefix="solarmaggan-worker-")
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, self._scratch or str(checkpoints),
            max_to_keep=int(self.training["keep_checkpoints"]),
        )
        if resume and latest is None:
            raise ValueError(f"{self.run_dir}: nothing to resume (no checkpoint)")
        if latest:
            self.checkpoint.restore(latest).assert_existing_objects_matched()
        self.best = self._read_json("best.json") or {"step": None, "pixel_cc": -np.inf}
        self.euv_normalization, self.magnetogram_normalization = data_normalizations(config)
        radius_px = float(config["data"]["radius_px"]) * float(self.training["cc_radius_rsun"])
        self.disk = disk_mask(int(config["data"]["image_size"]), radius_px)
        self.writers = {
            name: tf.summary.create_file_writer(str(self.run_dir / "logs" / name))
            if self.is_chief else tf.summary.create_noop_writer()
            for name in ("train", "validation")}

    def _read_json(self, name: str) -> dict | None:
        path = self.run_dir / name
        return json.loads(path.read_text()) if path.exists() else None

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
        """Train up to ``training.steps``; returns the final summary."""
        total = int(self.training["steps"])
        start = int(self.step.numpy())
        iterator = iter(self.strategy.distribute_datasets_from_function(
            lambda context: self._train_stream(context, start)))
        run_steps = self._step_function()
        bar = Progress(max(total - start, 0), f"train from step {start} to {total}", unit="steps",
                       enabled=self.progress, every=int(self.training["log_every"]))
        interval_start, interval_steps = time.monotonic(), 0
        step = start
        while step < total:
            stop = self._next_stop(step, total)
            run_steps(iterator, tf.constant(stop - step, tf.int64))
            interval_steps += stop - step
            bar.update(stop - step)
            step = stop
            self.step.assign(step)
            if step % int(self.training["log_every"]) == 0 or step == total:
                elapsed = time.monotonic() - interval_start
                self._log_training(step, interval_steps / max(elapsed, 1e-9))
                interval_start, interval_steps = time.monotonic(), 0
            if step % int(self.training["validation_every"]) == 0 or step == total:
                self._validate(step, total, bar)
            if step % int(self.training["image_every"]) == 0 or step == total:
                self._log_images(step)
            if step % int(self.training["checkpoint_every"]) == 0 or step == total:
                self.manager.save(checkpoint_number=step)
        bar.close()
        if self.is_chief:
            _atomic_keras_save(self.model.generator, self.run_dir / "generator_last.keras")
        else:
            shutil.rmtree(self._scratch, ignore_errors=True)
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
        validation pairs: pixel CC on the disk, RMSE in Gauss on the disk, SSIM, L1."""
        limit = self.training["validation_pairs"]
        scores: dict[str, list] = {"pixel_cc": [], "rmse_gauss": [], "ssim": [], "l1": []}
        seen = 0
        for euv, magnetogram in self._validation_stream():
            if limit is not None and seen >= int(limit):
                break
            generated = self._generate(euv)
            true_gauss = self.magnetogram_normalization.denormalize(magnetogram.numpy())
            generated_gauss = self.magnetogram_normalization.denormalize(np.asarray(generated))
            scores["pixel_cc"].append(pixel_correlation(magnetogram, generated, self.disk))
            scores["rmse_gauss"].append(root_mean_square_error(true_gauss, generated_gauss, self.disk))
            scores["ssim"].append(structural_similarity(magnetogram, generated))
            scores["l1"].append(np.mean(np.abs(np.asarray(generated) - magnetogram.numpy()),
                                        axis=(1, 2, 3)))
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
            self.best = {"step": step, **scores}
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
        limit = self.config["data"]["magnetogram_limit_gauss"]
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
