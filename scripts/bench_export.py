#!/usr/bin/env python
"""CPU latency of one generation in Keras, SavedModel and each TFLite variant, model sizes,
and the achieved GFLOP/s.

Usage:
    python scripts/bench_export.py [--preset kim2019] [--repeats 3] [--dir /tmp]

Builds the preset's generator (untrained, seed 0: timings do not depend on the weights),
saves it as a run directory, exports it with ``solarmaggan.export.export`` (all formats,
parity checked), then times one batch-1 generation per runtime (best of ``--repeats``
after a warm-up): Keras (``tf.function`` of the generator), the SavedModel's
``serving_default`` signature, and the TFLite fp32 / fp16 / int8 models through the LiteRT
interpreter (XNNPACK, all cores). FLOPs are counted from the layers (2 x multiply-adds of
every convolution and transposed convolution). Results go into docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from solarmaggan.config import resolve_config, save_config  # noqa: E402
from solarmaggan.export import export, interpreter_class, parity_input  # noqa: E402
from solarmaggan.models.flops import forward_flops  # noqa: E402
from solarmaggan.models.from_config import generator_from_config  # noqa: E402
from bench_prep import best_seconds  # noqa: E402  (scripts/ is on the path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="kim2019")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()
    config = resolve_config(args.preset)
    generator = generator_from_config(config)
    flops = forward_flops(generator)
    euv = parity_input(config)
    results = {"preset": args.preset, "image_size": config["data"]["image_size"],
               "gflop_per_generation": round(flops / 1e9, 1), "cores": os.cpu_count(),
               "machine": platform.processor() or platform.machine(),
               "tensorflow": tf.__version__, "interpreter": interpreter_class().__module__}
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        run_dir = Path(folder) / "run"
        run_dir.mkdir()
        generator.save(run_dir / "best_generator.keras")
        save_config(config, run_dir / "config.json")
        start = time.perf_counter()
        manifest = export(run_dir, Path(folder) / "export", "all")
        results["export_seconds"] = round(time.perf_counter() - start, 1)
        results["parity_max_abs"] = manifest["parity_max_abs"]
        results["sizes_mib"] = {k: round(v / 2**20, 1) for k, v in manifest["files_bytes"].items()}
        keras_call = tf.function(lambda x: generator(x, training=False))
        served = tf.saved_model.load(str(Path(folder) / "export" / "serving" / "1"))
        signature = served.signatures["serving_default"]
        tensor = tf.constant(euv)
        latency = {
            "keras": best_seconds(lambda: keras_call(tensor).numpy(), args.repeats, warmup=True),
            "savedmodel": best_seconds(lambda: signature(euv=tensor)["magnetogram"].numpy(),
                                       args.repeats, warmup=True),
        }
        for variant in ("fp32", "fp16", "int8"):
            interpreter = interpreter_class()(
                model_path=str(Path(folder) / "export" / f"generator_{variant}.tflite"),
                num_threads=os.cpu_count())
            runner = interpreter.get_signature_runner("serving_default")
            latency[f"tflite_{variant}"] = best_seconds(lambda: runner(euv=euv), args.repeats,
                                                         warmup=True)
    results["latency_s"] = {k: round(v, 3) for k, v in latency.items()}
    results["gflop_per_s"] = {k: round(flops / 1e9 / v, 1) for k, v in latency.items()}
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
