#!/usr/bin/env python
"""Pairs per second delivered by ``solarmaggan.data.make_dataset`` against a naive reader.

Usage:
    python scripts/bench_data.py --sizes 1024 256 --pairs 96 [--batch-size 1]
        [--storage float16 float32 float16+lzf float16+gzip] [--dir /tmp]

For each image size it makes 8 toy-Sun pairs (``data_prep.toysun``, realistic for
compression: noise on the disk, constant sky), writes ``--pairs`` of them (cycled) in each
storage variant (dtype, optional compression; always one chunk per sample), reads each file
once so it sits in the page cache, then times shuffled, augmented passes (after one
warm-up batch; the best of ``--repeats``) through

* ``make_dataset`` (memory-mapped batch reads of raw chunks, or h5py for compressed
  files), and
* a naive ``tf.data.Dataset.from_generator`` over h5py (read, cast, ``np.roll`` shift),
  on the first variant.

It prints one JSON line per size and variant. Results go into docs/benchmarks.md by hand.
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

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from data_prep.normalization import euv_normalization, magnetogram_normalization  # noqa: E402
from data_prep.pairs import PairWriter  # noqa: E402
from data_prep.toysun import make_toy_sun  # noqa: E402
from solarmaggan.data import DEFAULT_MAX_SHIFT_PX, make_dataset  # noqa: E402


def write_toy_pairs(path: Path, image_size: int, n_pairs: int, storage: str) -> None:
    """``n_pairs`` pairs cycling through 8 toy-Sun pairs, one a day, in ``storage``
    ("float16", "float32", optionally "+lzf" or "+gzip")."""
    dtype, _, compression = storage.partition("+")
    euv_scaling, magnetogram_scaling = euv_normalization(), magnetogram_normalization(100.0)
    suns = [make_toy_sun(image_size, seed=seed) for seed in range(8)]
    with PairWriter(
        path, image_size, ["AIA 304"], ["HMI LOS"], [euv_scaling], [magnetogram_scaling],
        rsun_px=suns[0].rsun_px, storage_dtype=dtype, compression=compression or None,
    ) as writer:
        for index in range(n_pairs):
            sun = suns[index % len(suns)]
            time_iso = (np.datetime64("2011-01-01T00:00") + np.timedelta64(index, "D")).astype(str)
            writer.add(euv_scaling.normalize(sun.euv_dn_s), magnetogram_scaling.normalize(
                sun.magnetogram_gauss), time_iso, time_iso)


def naive_dataset(path: Path, image_size: int, batch_size: int) -> tf.data.Dataset:
    """The straightforward reader: a Python generator over h5py, shift with np.roll."""
    def pairs():
        rng = np.random.default_rng(0)
        with h5py.File(path, "r") as handle:
            for index in rng.permutation(handle["input"].shape[0]):
                euv = handle["input"][index].astype(np.float32)
                magnetogram = handle["target"][index].astype(np.float32)
                shift = rng.integers(-DEFAULT_MAX_SHIFT_PX, DEFAULT_MAX_SHIFT_PX + 1, 2)
                yield np.roll(euv, shift, (0, 1)), np.roll(magnetogram, shift, (0, 1))

    spec = tf.TensorSpec((image_size, image_size, 1), tf.float32)
    dataset = tf.data.Dataset.from_generator(pairs, output_signature=(spec, spec))
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def pairs_per_second(dataset: tf.data.Dataset) -> float:
    """Pairs a second over one pass, after a first (warm-up) batch."""
    iterator = iter(dataset)
    next(iterator)
    count, start = 0, time.perf_counter()
    for inputs, _ in iterator:
        count += int(inputs.shape[0])
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 256])
    parser.add_argument("--pairs", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--storage", nargs="+",
                        default=["float16", "float32", "float16+lzf", "float16+gzip"])
    parser.add_argument("--repeats", type=int, default=3, help="passes timed; the best is kept")
    parser.add_argument("--dir", default=None, help="where the temporary files go")
    args = parser.parse_args()
    print(json.dumps({"machine": {"cpu": platform.machine(), "cores": os.cpu_count(),
                                  "tensorflow": tf.__version__}}))
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        for image_size in args.sizes:
            for number, storage in enumerate(args.storage):
                path = Path(folder) / f"pairs{image_size}_{storage}.h5"
                write_toy_pairs(path, image_size, args.pairs, storage)
                path.read_bytes()  # into the page cache
                record = {"image_size": image_size, "storage": storage, "pairs": args.pairs,
                          "batch_size": args.batch_size,
                          "file_mb": round(path.stat().st_size / 2**20, 1)}
                record["make_dataset_pairs_per_s"] = round(max(
                    pairs_per_second(make_dataset(path, None, args.batch_size, seed=1))
                    for _ in range(args.repeats)
                ), 1)
                if number == 0:
                    naive = max(pairs_per_second(naive_dataset(path, image_size, args.batch_size))
                                for _ in range(args.repeats))
                    record["naive_pairs_per_s"] = round(naive, 1)
                    record["speed_up"] = round(record["make_dataset_pairs_per_s"] / naive, 2)
                print(json.dumps(record), flush=True)
                path.unlink()


if __name__ == "__main__":
    main()
