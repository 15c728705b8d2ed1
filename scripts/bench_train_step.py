#!/usr/bin/env python
"""Time one Pix2Pix training step (one D update + one G update, batch 1) with the seed networks.

Usage:
    python scripts/bench_train_step.py --sizes 256 1024 --steps 5 [--precision float32] [--xla]

For each image size it builds the seed's U-Net (depth down to 4x4) and PatchGAN, runs
``--warmup`` steps (tracing, allocation) and then ``--steps`` timed steps through
``Pix2Pix.fit`` on a repeated random pair, and prints the median and min seconds a step,
the parameter counts and the machine. Results go into docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import numpy as np

import solarmaggan  # noqa: F401  (selects the TensorFlow backend)
import keras
import tensorflow as tf

from solarmaggan.models import Pix2Pix, build_discriminator, build_generator


class StepTimer(keras.callbacks.Callback):
    """Wall-clock seconds of each training batch."""

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def bench(image_size: int, steps: int, warmup: int, precision: str, xla: bool) -> dict:
    keras.utils.set_random_seed(0)
    generator = build_generator(image_size, precision=precision, seed=0)
    discriminator = build_discriminator(image_size, precision=precision, seed=1)
    model = Pix2Pix(generator, discriminator)
    model.compile(jit_compile=xla)
    pair = np.random.default_rng(0).uniform(-1, 1, (2, 1, image_size, image_size, 1))
    dataset = tf.data.Dataset.from_tensors(tuple(pair.astype("float32"))).repeat()
    timer = StepTimer()
    model.fit(dataset, steps_per_epoch=warmup + steps, epochs=1, verbose=0, callbacks=[timer])
    timed = timer.seconds[warmup:]
    return {
        "image_size": image_size,
        "precision": precision,
        "xla": xla,
        "steps": steps,
        "median_s_per_step": statistics.median(timed),
        "min_s_per_step": min(timed),
        "generator_params": generator.count_params(),
        "discriminator_params": discriminator.count_params(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument(
        "--precision", default="float32", choices=["float32", "mixed_float16", "mixed_bfloat16"]
    )
    parser.add_argument("--xla", action="store_true", help="jit_compile the train step")
    args = parser.parse_args()
    machine = {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "gpus": len(tf.config.list_physical_devices("GPU")),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }
    print(json.dumps({"machine": machine}))
    for image_size in args.sizes:
        print(json.dumps(bench(image_size, args.steps, args.warmup, args.precision, args.xla)))


if __name__ == "__main__":
    main()
