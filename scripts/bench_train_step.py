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
a step come from :func:`solarmaggan.models.flops.train_step_flops` (4 G + 8 D forward
passes: 1.59 TFLOP at 1024 x 1024). MFU = achieved FLOP/s / the device's peak for that
precision: ``--peak-tflops``, else the dense peak of a known GPU (H100 / H200 SXM: TF32
494.7, bf16 / fp16 989.4 TFLOP/s; TensorFlow runs float32 convolutions as TF32 on these
GPUs), else not reported (CPUs). One JSON line per combination; results go into
docs/benchmarks.md by hand. Runs on a CPU too (use small sizes), so it is tested.
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
    args = parser.parse_args()
    strategy = make_strategy(args.strategy)
    machine = {
        "cpu": cpu_name(), "cores": os.cpu_count(),
        "gpu": gpu_name(), "gpus": len(tf.config.list_physical_devices("GPU")),
        "tensorflow": tf.__version__, "keras": keras.__version__,
    }
    print(json.dumps({"machine": machine}), flush=True)
    for image_size in args.sizes:
        for precision in args.precisions:
            for xla in args.xla:
                print(json.dumps(bench(image_size, precision, xla == "on", args, strategy)),
                      flush=True)


if __name__ == "__main__":
    main()
