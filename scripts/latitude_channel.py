#!/usr/bin/env python
"""What the latitude channel buys on the demo's near side: the same pairs without it.

Usage:
    python scripts/latitude_channel.py DEMO_DIR [--steps 2500] [--out runs/no_latitude]

Reads a finished ``solarmaggan demo`` folder (its ``data/pairs.h5``, made by ``prep`` with
the ``quick_latitude`` preset, and its ``run``), writes ``OUT/pairs.h5``: the same pairs
without the latitude channel (the EUV channel only), trains the ``quick`` preset on it
(seed 0, ``--steps``) in ``OUT/run``, evaluates the test split, and prints one JSON line:
the test pixel CC of both models and, for each, the fraction of strong pixels (|B| > 30 G)
whose generated sign is right, by heliographic latitude (from each pair's B0 in its
prepared header, :func:`data_prep.latitude.sin_latitude_image`).
See docs/benchmarks.md, "Why the near side missed 0.8: the Sun's B0 angle".
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


def header_latitude_deg(pairs, index: int) -> np.ndarray:
    """(H, W) heliographic latitude (deg) of the frame's pixels, from the pair's input
    header (B0 = HGLT_OBS, distance DSUN_OBS / RSUN_REF)."""
    from data_prep.latitude import sin_latitude_image

    header = pairs.header(index, "input")
    plane = sin_latitude_image(pairs.image_size, pairs.rsun_px, float(header["hglt_obs"]),
                               float(header["dsun_obs"]) / float(header["rsun_ref"]))
    return np.degrees(np.arcsin(plane))


def without_latitude_channel(source: Path, target: Path) -> Path:
    """Copy the pair file ``source`` to ``target`` without its last (latitude) channel."""
    import h5py

    from data_prep.latitude import LATITUDE_CHANNEL

    shutil.copy(source, target)
    with h5py.File(target, "r+") as file:
        channels = json.loads(file.attrs["input_channels"])
        if channels[-1] != LATITUDE_CHANNEL:
            raise SystemExit(f"{source}: has no latitude channel (input channels {channels})")
        euv = file["input"][..., :-1]
        size = euv.shape[1]
        del file["input"]
        file.create_dataset("input", data=euv, chunks=(1, size, size, euv.shape[-1]))
        file.attrs["input_channels"] = json.dumps(channels[:-1])
        file.attrs["input_normalization"] = json.dumps(
            json.loads(file.attrs["input_normalization"])[:-1])
    return target


def sign_agreement(run: Path, pair_file: Path) -> list[float | None]:
    """Per latitude bin, the fraction of test-split disk pixels with |B| > 30 G whose
    generated sign is the true one."""
    from data_prep.geometry import disk_mask
    from data_prep.pairs import PairFile
    from solarmaggan.model_files import load_trained_generator

    generator, _, _ = load_trained_generator(run)
    agree = np.zeros(len(LATITUDE_BINS_DEG) - 1)
    total = np.zeros_like(agree)
    with PairFile(pair_file) as pairs:
        disk = disk_mask(pairs.image_size, 0.95 * pairs.rsun_px)
        limit = pairs.target_normalization[0].clip_max
        for index in pairs.split_indices("test"):
            sample = pairs.read(index)
            true = sample["target"][..., 0]
            generated = np.asarray(generator(sample["input"][None], training=False))[0, ..., 0]
            strong = disk & (np.abs(true) > 30.0 / limit)
            bins = np.digitize(header_latitude_deg(pairs, index), LATITUDE_BINS_DEG) - 1
            for k in range(len(agree)):
                chosen = strong & (bins == k)
                total[k] += chosen.sum()
                agree[k] += (np.sign(generated[chosen]) == np.sign(true[chosen])).sum()
    return [round(float(a / t), 3) if t else None for a, t in zip(agree, total)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demo", type=Path)
    parser.add_argument("--steps", type=int, default=2500)
    parser.add_argument("--out", type=Path, default=Path("runs/no_latitude"))
    args = parser.parse_args()

    import solarmaggan  # noqa: F401  (selects the TensorFlow backend)
    from solarmaggan.config import resolve_config
    from solarmaggan.evaluate import evaluate
    from solarmaggan.training import train

    args.out.mkdir(parents=True, exist_ok=True)
    demo_pairs = args.demo / "data" / "pairs.h5"
    pairs = without_latitude_channel(demo_pairs, args.out / "pairs.h5")
    config = resolve_config("quick", ["training.seed=0", f"training.steps={args.steps}"],
                            data_file=pairs)
    result = train(config, pairs, args.out / "run", progress=False)
    report = evaluate(args.out / "run", pairs, args.out / "evaluation", split="test", progress=False)
    demo_report = json.loads((args.demo / "evaluation" / "report.json").read_text())
    print(json.dumps({
        "latitude_bins_deg": LATITUDE_BINS_DEG,
        "demo_with_latitude_channel": {
            "test_pixel_cc": demo_report["aggregate"]["pixel_cc_mean"],
            "test_pixel_cc_median": demo_report["aggregate"]["pixel_cc_median"],
            "test_pixel_cc_binned": demo_report["aggregate"]["pixel_cc_binned_mean"],
            "sign_agreement": sign_agreement(args.demo / "run", demo_pairs)},
        "without_latitude_channel": {
            "best": result["best"], "test_pixel_cc": report["aggregate"]["pixel_cc_mean"],
            "test_pixel_cc_median": report["aggregate"]["pixel_cc_median"],
            "test_pixel_cc_binned": report["aggregate"]["pixel_cc_binned_mean"],
            "sign_agreement": sign_agreement(args.out / "run", pairs)}}))


if __name__ == "__main__":
    main()
