#!/usr/bin/env python
"""Training steps per second of a preset through ``solarmaggan train``, on toy-Sun data.

Usage:
    python scripts/bench_train_preset.py --preset quick --steps 200 [--log-every 50]
    python scripts/bench_train_preset.py --preset kim2019 --steps 12 --log-every 4

Writes a toy-Sun pair file at the preset's image size, runs the real training loop
(``solarmaggan.training.train``: data stream, train steps, logging; validation and image
panels only at the end) in a temporary run directory, and reports the ``steps_per_second``
that the loop logged to TensorBoard for each logging interval; the first interval includes
tracing and is left out of the median. Results go into docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from data_prep.toysun import write_toy_dataset  # noqa: E402
from solarmaggan.config import resolve_config  # noqa: E402
from solarmaggan.training import train  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--pairs", type=int, default=24, help="toy-Sun pairs in the file")
    parser.add_argument("--set", action="append", default=[], help="extra overrides")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        config = resolve_config(args.preset, [
            f"training.steps={args.steps}", f"training.log_every={args.log_every}",
            f"training.validation_every={args.steps}", f"training.image_every={args.steps}",
            f"training.checkpoint_every={args.steps}", "training.validation_pairs=1",
            *args.set])
        data = write_toy_dataset(Path(folder) / "toy.h5", args.pairs,
                                 config["data"]["image_size"], seed=0)
        train(config, data, Path(folder) / "run", progress=False)
        events = EventAccumulator(str(Path(folder) / "run" / "logs" / "train"),
                                  size_guidance={"tensors": 0})
        events.Reload()
        rates = [float(tf.make_ndarray(e.tensor_proto)) for e in events.Tensors("steps_per_second")]
    print(json.dumps({
        "preset": args.preset, "image_size": config["data"]["image_size"], "steps": args.steps,
        "precision": config["training"]["precision"], "xla": config["training"]["xla"],
        "cores": os.cpu_count(), "machine": platform.machine(), "tensorflow": tf.__version__,
        "steps_per_second_by_interval": [round(rate, 3) for rate in rates],
        "median_steps_per_second": round(statistics.median(rates[1:] or rates), 3),
    }))


if __name__ == "__main__":
    main()
