#!/usr/bin/env python
"""The B0 effect on the demo's near side, and its cure: the same pairs with each pixel's
heliographic latitude as a second input channel.

Usage:
    python scripts/latitude_channel.py DEMO_DIR [--steps 2500] [--out runs/latitude]

Reads a finished ``solarmaggan demo`` folder (its ``data/pairs.h5`` and ``run``), writes
``OUT/pairs.h5``: the same pairs with a second input channel, sin(heliographic latitude) of
each pixel from the pair's B0 (``hglt_obs``) and the frame's solar radius (orthographic:
sin(lat) = y cos B0 + z sin B0 on the disk, y cos B0 off it), trains the ``quick`` preset
with that channel (seed 0, ``--steps``) in ``OUT/run``, evaluates the test split, and prints
one JSON line: the test pixel CC of both models and, for each, the fraction of strong pixels
(|B| > 30 G) whose generated sign is right, by latitude. Not part of the package: the
channel is not in ``prep`` or ``generate`` (docs/benchmarks.md, issue 17 continued).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

LATITUDE_BINS_DEG = [-40, -20, -12, -6, 0, 6, 12, 20, 40]


def disk_coordinates(size: int, radius_px: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, z) in solar radii of the frame's pixels (z = 0 off the disk), north up."""
    rows, cols = np.indices((size, size))
    x = (cols - (size - 1) / 2) / radius_px
    y = (rows - (size - 1) / 2) / radius_px
    return x, y, np.sqrt(np.clip(1 - x * x - y * y, 0, None))


def sin_latitude(b0_deg: float, size: int, radius_px: float) -> np.ndarray:
    """(size, size) sin(heliographic latitude) seen from B0 = ``b0_deg``."""
    _, y, z = disk_coordinates(size, radius_px)
    b0 = np.radians(b0_deg)
    return np.clip(y * np.cos(b0) + z * np.sin(b0), -1.0, 1.0)


def b0_deg(pairs, index: int) -> float:
    return float(pairs.read(index)["target_header"]["hglt_obs"])


def with_latitude_channel(source: Path, target: Path) -> Path:
    """Copy the pair file ``source`` to ``target`` with the latitude channel added."""
    import h5py

    from data_prep.pairs import PairFile

    with PairFile(source) as pairs:
        latitude = np.stack([sin_latitude(b0_deg(pairs, i), pairs.image_size, pairs.rsun_px)
                             for i in range(len(pairs))])
    shutil.copy(source, target)
    with h5py.File(target, "r+") as file:
        euv = file["input"][...]
        size = euv.shape[1]
        del file["input"]
        file.create_dataset("input", data=np.concatenate(
            [euv, latitude[..., None].astype(euv.dtype)], -1), chunks=(1, size, size, 2))
        file.attrs["input_channels"] = json.dumps(["AIA 304", "sin latitude"])
        file.attrs["input_normalization"] = json.dumps(json.loads(file.attrs["input_normalization"]) * 2)
    return target


def sign_agreement(run: Path, pair_file: Path) -> list[float | None]:
    """Per latitude bin, the fraction of test-split disk pixels with |B| > 30 G whose
    generated sign is the true one."""
    from data_prep.pairs import PairFile
    from solarmaggan.model_files import load_trained_generator

    generator, _, _ = load_trained_generator(run)
    agree = np.zeros(len(LATITUDE_BINS_DEG) - 1)
    total = np.zeros_like(agree)
    with PairFile(pair_file) as pairs:
        x, y, _ = disk_coordinates(pairs.image_size, pairs.rsun_px)
        disk = x * x + y * y < 0.95**2
        for index in pairs.split_indices("test"):
            sample = pairs.read(index)
            latitude = np.degrees(np.arcsin(sin_latitude(b0_deg(pairs, index), pairs.image_size,
                                                         pairs.rsun_px)))
            true = sample["target"][..., 0]
            generated = np.asarray(generator(sample["input"][None], training=False))[0, ..., 0]
            strong = disk & (np.abs(true) > 0.3)  # 30 G of the +-100 G range
            bins = np.digitize(latitude, LATITUDE_BINS_DEG) - 1
            for k in range(len(agree)):
                chosen = strong & (bins == k)
                total[k] += chosen.sum()
                agree[k] += (np.sign(generated[chosen]) == np.sign(true[chosen])).sum()
    return [round(float(a / t), 3) if t else None for a, t in zip(agree, total)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demo", type=Path)
    parser.add_argument("--steps", type=int, default=2500)
    parser.add_argument("--out", type=Path, default=Path("runs/latitude"))
    args = parser.parse_args()

    import solarmaggan  # noqa: F401  (selects the TensorFlow backend)
    from solarmaggan.config import resolve_config
    from solarmaggan.evaluate import evaluate
    from solarmaggan.training import train

    args.out.mkdir(parents=True, exist_ok=True)
    pairs = with_latitude_channel(args.demo / "data" / "pairs.h5", args.out / "pairs.h5")
    preset = json.loads((Path(__file__).resolve().parents[1] / "data_prep" / "presets"
                         / "quick.json").read_text())
    preset["name"] = "quick_latitude"
    preset["data"]["input_channels"].append({"name": "sin latitude", "kind": "aia", "wavelength": 304})
    (args.out / "quick_latitude.json").write_text(json.dumps(preset, indent=1))
    config = resolve_config(str(args.out / "quick_latitude.json"),
                            ["training.seed=0", f"training.steps={args.steps}"], data_file=pairs)
    result = train(config, pairs, args.out / "run", progress=False)
    report = evaluate(args.out / "run", pairs, args.out / "evaluation", split="test", progress=False)
    demo_report = json.loads((args.demo / "evaluation" / "report.json").read_text())
    print(json.dumps({
        "latitude_bins_deg": LATITUDE_BINS_DEG,
        "demo": {"test_pixel_cc": demo_report["aggregate"]["pixel_cc_mean"],
                 "sign_agreement": sign_agreement(args.demo / "run", args.demo / "data" / "pairs.h5")},
        "latitude_channel": {"best": result["best"], "test_pixel_cc": report["aggregate"]["pixel_cc_mean"],
                             "test_pixel_cc_median": report["aggregate"]["pixel_cc_median"],
                             "test_pixel_cc_binned": report["aggregate"]["pixel_cc_binned_mean"],
                             "sign_agreement": sign_agreement(args.out / "run", pairs)}}))


if __name__ == "__main__":
    main()
