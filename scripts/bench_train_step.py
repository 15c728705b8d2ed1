#!/usr/bin/env python
"""Training throughput of the seed's networks: steps/s, images/s, TFLOP/s and model FLOP
utilisation, for each image size, precision and XLA setting.

Usage:
    python scripts/bench_train_step.py --sizes 256 1024 \
        --precisions float32 mixed_float16 mixed_bfloat16 --xla off on \
        [--steps 50] [--warmup 10] [--batch-size 1] [--steps-per-execution 1] \
        [--peak-tflops T] [--strategy default|mirrored]

For each combination it builds the seed's U-Net (depth down to 4x4) and PatchGAN at that
size and precision, compiles ``Pix2Pix`` (XLA on or off), runs ``--warmup`` steps (tracing,
XLA compilation, allocation) through ``Pix2Pix.fit`` on a repeated random pair, then times
``--steps`` steps in one ``fit`` call (wall clock, results fetched at the end). The FLOPs of
a step come from :func:`solarmaggan.models.flops.train_step_flops` (3 G + 8 D forward
passes: 1.39 TFLOP at 1024 x 1024). MFU = achieved FLOP/s / the device's peak for that
precision: ``--peak-tflops``, else the dense peak of a known GPU (H100 / H200 SXM: TF32
494.7, bf16 / fp16 989.4 TFLOP/s; TensorFlow runs float32 convolutions as TF32 on these
GPUs), else not reported (CPUs). One JSON line per combination; results go into
docs/benchmarks.md by hand. Runs on a CPU too (use small sizes), so it is tested.

``--compare-plain`` (issue 16) instead times, in one process and on the same networks,
``Pix2Pix.train_step`` wrapped as ``solarmaggan.training`` wraps it
(``tf.function(model.train_step, jit_compile=False)``) against plain ``tf.GradientTape``
steps: ``plain_simultaneous`` (the TF pix2pix tutorial's step: one generator forward, one
D(real) and one D(fake), both updates from that pass) and ``plain_sequential`` (the same
algorithm as ours: discriminator update on the detached generator output, then the
generator update against the updated discriminator). ``--with-two-forward`` adds the
train_step from before issue 16, which ran the generator twice. ``--warmup`` steps of each
variant, then ``--rounds`` rounds of ``--steps`` steps each, the variants' order rotated
from round to round; it reports the best round's seconds per step, the ratios of the bests
and the median over the rounds of each round's ratio (steadier on a shared machine):

    python scripts/bench_train_step.py --compare-plain --with-two-forward \
        --sizes 256 1024 --precisions float32 mixed_bfloat16 --steps 2 --warmup 2 --rounds 8
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import solarmaggan  # noqa: E402,F401  (selects the TensorFlow backend)
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from solarmaggan.distribute import STRATEGIES, make_strategy  # noqa: E402
from solarmaggan.models import (  # noqa: E402
    Pix2Pix,
    build_discriminator,
    build_generator,
    set_synchronized_batch_norm,
)
from solarmaggan.losses import l1_loss  # noqa: E402
from solarmaggan.models.flops import train_step_flops  # noqa: E402

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
# dense peak TFLOP/s by GPU name fragment (most specific first) and precision
PEAK_TFLOPS = {
    "H100 PCIe": {"float32": 378.0, "mixed_float16": 756.0, "mixed_bfloat16": 756.0},
    "H100": {"float32": 494.7, "mixed_float16": 989.4, "mixed_bfloat16": 989.4},
    "H200": {"float32": 494.7, "mixed_float16": 989.4, "mixed_bfloat16": 989.4},
}


def significant(value: float) -> float:
    """``value`` to 4 significant digits."""
    return float(f"{value:.4g}")


def cpu_name() -> str:
    """The CPU model (from /proc/cpuinfo on Linux), else the architecture."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_name() -> str | None:
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return None
    return tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")


def peak_tflops(precision: str, given: float | None) -> float | None:
    if given:
        return given
    name = gpu_name() or ""
    for fragment, peaks in PEAK_TFLOPS.items():
        if fragment in name:
            return peaks[precision]
    return None


def bench(image_size: int, precision: str, xla: bool, args: argparse.Namespace,
          strategy: tf.distribute.Strategy) -> dict:
    keras.utils.set_random_seed(0)
    with strategy.scope():
        generator = build_generator(image_size, precision=precision, seed=0)
        discriminator = build_discriminator(image_size, precision=precision, seed=1)
        if strategy.num_replicas_in_sync > 1:
            set_synchronized_batch_norm(generator, True)
            set_synchronized_batch_norm(discriminator, True)
        model = Pix2Pix(generator, discriminator)
        model.compile(jit_compile=xla, steps_per_execution=args.steps_per_execution)
    shape = (args.batch_size, image_size, image_size, 1)
    pair = np.random.default_rng(0).uniform(-1, 1, (2, *shape)).astype("float32")
    dataset = tf.data.Dataset.from_tensors(tuple(pair)).repeat()
    model.fit(dataset, steps_per_epoch=args.warmup, epochs=1, verbose=0, shuffle=False)
    start = time.perf_counter()
    history = model.fit(dataset, steps_per_epoch=args.steps, epochs=1, verbose=0,
                        shuffle=False)
    seconds = time.perf_counter() - start
    steps_per_second = args.steps / seconds
    flops = train_step_flops(generator, discriminator) * args.batch_size
    peak = peak_tflops(precision, args.peak_tflops)
    achieved = flops * steps_per_second / 1e12
    return {
        "image_size": image_size, "precision": precision, "xla": xla,
        "batch_size": args.batch_size, "replicas": strategy.num_replicas_in_sync,
        "steps": args.steps, "seconds": round(seconds, 3),
        "steps_per_second": significant(steps_per_second),
        "images_per_second": significant(steps_per_second * args.batch_size),
        "tflop_per_step": significant(flops / 1e12), "achieved_tflops": significant(achieved),
        "peak_tflops": peak, "mfu": significant(achieved / peak) if peak else None,
        "final_g_l1": float(history.history["g_l1"][-1]),
    }


# --- ours against a plain tf.GradientTape loop (issue 16) ---------------------------------

class TwoForwardPix2Pix(Pix2Pix):
    """``Pix2Pix`` with the train_step it had before issue 16, for the before / after
    figures of ``--compare-plain --with-two-forward``: the generator runs twice a step,
    once (untaped) for the discriminator update and again inside the generator's tape.
    Only the seed's loss terms (BCE + L1), which is what the benchmark compiles."""

    def train_step(self, data):
        euv, magnetogram = self._unpack(data)
        replica_share = 1.0 / tf.distribute.get_strategy().num_replicas_in_sync
        generated = self.generator(euv, training=True)
        with tf.GradientTape() as tape:
            d_loss = (self._adversarial(self._discriminate(euv, magnetogram), real=True)
                      + self._adversarial(self._discriminate(euv, generated), real=False))
            scaled_d_loss = self.d_optimizer.scale_loss(d_loss * replica_share)
        d_variables = self.discriminator.trainable_variables
        self.d_optimizer.apply(tape.gradient(scaled_d_loss, d_variables), d_variables)
        with tf.GradientTape() as tape:
            generated = self.generator(euv, training=True)
            g_gan = self._adversarial(self._discriminate(euv, generated), real=True)
            g_l1 = l1_loss(magnetogram, generated)
            g_loss = self.lambda_adversarial * g_gan + self.lambda_l1 * g_l1
            scaled_g_loss = self.g_optimizer.scale_loss(g_loss * replica_share)
        g_variables = self.generator.trainable_variables
        self.g_optimizer.apply(tape.gradient(scaled_g_loss, g_variables), g_variables)
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.g_gan_tracker.update_state(g_gan)
        self.g_l1_tracker.update_state(g_l1)
        return {m.name: m.result() for m in self.train_metrics}


def plain_step(generator: keras.Model, discriminator: keras.Model, update: str):
    """A plain ``tf.GradientTape`` pix2pix step over the same networks (BCE + 100 L1, two
    Adam(2e-4, 0.5)), ``tf.function``-compiled, returning the generator loss.

    ``"simultaneous"``: the TF pix2pix tutorial's step: one generator forward, D(real) and
    D(fake) once, both losses from that pass, both updates. ``"sequential"``: one generator
    forward, the discriminator update on the detached output, then the generator loss from
    the updated discriminator (one more D forward), as ``Pix2Pix.train_step``.
    """
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    g_optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)
    d_optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)
    g_variables = generator.trainable_variables
    d_variables = discriminator.trainable_variables

    def d_loss_of(real_logits, fake_logits):
        real_logits, fake_logits = tf.cast(real_logits, "float32"), tf.cast(fake_logits, "float32")
        return (bce(tf.ones_like(real_logits), real_logits)
                + bce(tf.zeros_like(fake_logits), fake_logits))

    def g_loss_of(fake_logits, target, generated):
        fake_logits = tf.cast(fake_logits, "float32")
        return (bce(tf.ones_like(fake_logits), fake_logits)
                + 100.0 * tf.reduce_mean(tf.abs(target - tf.cast(generated, "float32"))))

    def simultaneous(euv, magnetogram):
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            generated = generator(euv, training=True)
            real_logits = discriminator([euv, magnetogram], training=True)
            fake_logits = discriminator([euv, generated], training=True)
            g_loss = g_loss_of(fake_logits, magnetogram, generated)
            d_loss = d_loss_of(real_logits, fake_logits)
        g_gradients = g_tape.gradient(g_loss, g_variables)
        d_gradients = d_tape.gradient(d_loss, d_variables)
        g_optimizer.apply(g_gradients, g_variables)
        d_optimizer.apply(d_gradients, d_variables)
        return g_loss

    def sequential(euv, magnetogram):
        with tf.GradientTape() as g_tape:
            generated = generator(euv, training=True)
            with g_tape.stop_recording():
                with tf.GradientTape() as d_tape:
                    d_loss = d_loss_of(
                        discriminator([euv, magnetogram], training=True),
                        discriminator([euv, tf.stop_gradient(generated)], training=True))
                d_optimizer.apply(d_tape.gradient(d_loss, d_variables), d_variables)
            g_loss = g_loss_of(discriminator([euv, generated], training=True), magnetogram,
                               generated)
        g_optimizer.apply(g_tape.gradient(g_loss, g_variables), g_variables)
        return g_loss

    step = {"simultaneous": simultaneous, "sequential": sequential}[update]
    return tf.function(step, jit_compile=False)


def compare_plain(image_size: int, precision: str, args: argparse.Namespace) -> dict:
    """Seconds per step of ``Pix2Pix.train_step`` (``tf.function``-wrapped as
    ``solarmaggan.training`` does) against plain ``tf.GradientTape`` steps over the same
    networks, timed in alternating rounds in this one process; best of the rounds."""
    keras.utils.set_random_seed(0)
    generator = build_generator(image_size, precision=precision, seed=0)
    discriminator = build_discriminator(image_size, precision=precision, seed=1)
    model = Pix2Pix(generator, discriminator)
    model.compile(jit_compile=False)
    steps = {"ours": tf.function(model.train_step, jit_compile=False)}
    if args.with_two_forward:
        before = TwoForwardPix2Pix(generator, discriminator)
        before.compile(jit_compile=False)
        steps["two_forward"] = tf.function(before.train_step, jit_compile=False)
    steps["plain_simultaneous"] = plain_step(generator, discriminator, "simultaneous")
    steps["plain_sequential"] = plain_step(generator, discriminator, "sequential")
    shape = (args.batch_size, image_size, image_size, 1)
    euv, magnetogram = (tf.constant(array) for array in
                        np.random.default_rng(0).uniform(-1, 1, (2, *shape)).astype("float32"))

    def run(name: str, count: int) -> tuple[float, float]:
        """Wall-clock and process CPU seconds per step of ``count`` steps of ``name``."""
        start, cpu_start = time.perf_counter(), time.process_time()
        for _ in range(count):
            if name in ("ours", "two_forward"):
                result = steps[name]((euv, magnetogram))["g_loss"]
            else:
                result = steps[name](euv, magnetogram)
        float(result)  # wait for the last step
        return ((time.perf_counter() - start) / count,
                (time.process_time() - cpu_start) / count)

    for name in steps:
        run(name, args.warmup)
    rounds = {name: [] for name in steps}
    cpu_rounds = {name: [] for name in steps}
    names = list(steps)
    for index in range(args.rounds):
        # rotate the order each round so that no variant always runs first or last
        for name in names[index % len(names):] + names[:index % len(names)]:
            wall, cpu = run(name, args.steps)
            rounds[name].append(wall)
            cpu_rounds[name].append(cpu)
    best = {name: min(seconds) for name, seconds in rounds.items()}
    best_cpu = {name: min(seconds) for name, seconds in cpu_rounds.items()}
    result = {"image_size": image_size, "precision": precision, "batch_size": args.batch_size,
              "rounds": args.rounds, "steps_per_round": args.steps}
    for name, seconds in best.items():
        result[f"{name}_s_per_step"] = significant(seconds)
    for name in best:
        if name.startswith("plain"):
            continue
        for plain in ("plain_simultaneous", "plain_sequential"):
            result[f"{name}_over_{plain}"] = significant(best[name] / best[plain])
            # the same ratio within each round (the variants of a round ran minutes apart at
            # most, under much the same load), median over the rounds: steadier than the
            # ratio of the bests when other jobs share the cores
            result[f"{name}_over_{plain}_round_median"] = significant(float(np.median(
                np.divide(rounds[name], rounds[plain]))))
    if "two_forward" in best:
        result["two_forward_over_ours"] = significant(best["two_forward"] / best["ours"])
        result["two_forward_over_ours_round_median"] = significant(float(np.median(
            np.divide(rounds["two_forward"], rounds["ours"]))))
    # process CPU seconds (all threads): less sensitive than wall clock to other jobs
    # sharing the cores, though not immune to them
    for name, seconds in best_cpu.items():
        result[f"{name}_cpu_s_per_step"] = significant(seconds)
    result["ours_over_plain_simultaneous_cpu"] = significant(
        best_cpu["ours"] / best_cpu["plain_simultaneous"])
    result["all_rounds_s_per_step"] = {
        name: [significant(seconds) for seconds in values] for name, values in rounds.items()}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--precisions", nargs="+", default=["float32"], choices=PRECISIONS)
    parser.add_argument("--xla", nargs="+", default=["off"], choices=["off", "on"])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--steps-per-execution", type=int, default=1)
    parser.add_argument("--peak-tflops", type=float, default=None,
                        help="the device's peak for MFU (default: known GPUs only)")
    parser.add_argument("--strategy", default="default", choices=STRATEGIES)
    parser.add_argument("--compare-plain", action="store_true",
                        help="time Pix2Pix.train_step against plain tf.GradientTape steps "
                             "(--steps per round, --warmup per variant; no XLA, default "
                             "strategy)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="alternating rounds of --compare-plain (best of them is kept)")
    parser.add_argument("--with-two-forward", action="store_true",
                        help="--compare-plain also times the train_step from before issue "
                             "16 (the generator run twice a step)")
    args = parser.parse_args()
    strategy = make_strategy(args.strategy)
    machine = {
        "cpu": cpu_name(), "cores": os.cpu_count(),
        "gpu": gpu_name(), "gpus": len(tf.config.list_physical_devices("GPU")),
        "tensorflow": tf.__version__, "keras": keras.__version__,
    }
    print(json.dumps({"machine": machine}), flush=True)
    if args.compare_plain:
        for image_size in args.sizes:
            for precision in args.precisions:
                print(json.dumps(compare_plain(image_size, precision, args)), flush=True)
        return
    for image_size in args.sizes:
        for precision in args.precisions:
            for xla in args.xla:
                print(json.dumps(bench(image_size, precision, xla == "on", args, strategy)),
                      flush=True)


if __name__ == "__main__":
    main()
