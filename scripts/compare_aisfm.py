#!/usr/bin/env python
"""The AISFM 3.0 ingredients on the toy Sun: the CC loss and the three EUV channels.

Usage:
    python scripts/compare_aisfm.py --out /tmp/aisfm_compare [--size 128] [--pairs 64]
        [--steps 1500] [--seed 0] [--variants 3ch_cc 3ch_no_cc 1ch_cc 1ch_no_cc]

Each variant trains the ``jeong2022`` recipe (pix2pixHD generator, LSGAN + feature
matching, +-3000 G, 0.98 R_sun mask, median-100 log10 EUV scaling), made small for a CPU
(the same networks and budget for every variant: ``--steps`` steps of batch 1), on toy-Sun
pairs written with the preset's scaling, and evaluates its best-validation generator on the
held-out test split with ``solarmaggan evaluate``'s metrics in Gauss and Maxwell:

    3ch_cc      AIA 304 + 193 + 171, 5 x (1 - concordance CC) over 4 scales (AISFM 3.0)
    3ch_no_cc   the same without the CC loss (AISFM 2.0's losses)
    1ch_cc      AIA 304 only, with the CC loss
    1ch_no_cc   AIA 304 only, without it

Prints one JSON line a variant (disk pixel CC raw and 8x8 binned, RMSE in G, unsigned-flux
CC, seconds) and writes ``OUT/comparison.json``. Results go into docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from data_prep.atomic import write_json_atomically
from data_prep.toysun import write_toy_dataset

VARIANTS = {
    "3ch_cc": {"channels": 3, "cc": True},
    "3ch_no_cc": {"channels": 3, "cc": False},
    "1ch_cc": {"channels": 1, "cc": True},
    "1ch_no_cc": {"channels": 1, "cc": False},
}
PRESET = "jeong2022"
# the small networks every variant shares (CPU budget)
SMALL_NETWORKS = [
    "model.base_filters=16", "model.max_filters=128", "model.downsamplings=3",
    "model.residual_blocks=3", "model.discriminator_base_filters=16",
    "model.discriminator_max_filters=64",
]


def variant_config(name: str, size: int, steps: int, seed: int) -> dict:
    """The resolved jeong2022 configuration of one variant at ``size``."""
    from data_prep.presets import load_preset
    from solarmaggan.config import resolve_config

    variant = VARIANTS[name]
    preset = load_preset(PRESET)
    radius = preset["data"]["radius_px"] / preset["data"]["image_size"] * size
    channels = preset["data"]["input_channels"][: variant["channels"]]
    overrides = [
        f"data.image_size={size}", f"data.radius_px={radius}",
        f"data.input_channels={json.dumps(channels)}", *SMALL_NETWORKS,
        f"training.steps={steps}", f"training.seed={seed}",
        f"training.validation_every={max(steps // 6, 1)}", "training.validation_pairs=16",
        f"training.checkpoint_every={max(steps // 6, 1)}", "training.log_every=50",
        f"training.image_every={steps}",
    ]
    if not variant["cc"]:
        overrides.append("training.lambda_cc=0.0")
    return resolve_config(PRESET, overrides)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--pairs", type=int, default=64)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args()

    from solarmaggan.evaluate import evaluate
    from solarmaggan.training import train

    args.out.mkdir(parents=True, exist_ok=True)
    data = {
        channels: write_toy_dataset(
            args.out / f"toy_{channels}ch.h5", args.pairs, args.size, seed=args.seed,
            preset=PRESET, input_channels=["AIA 304", "AIA 193", "AIA 171"][:channels])
        for channels in sorted({VARIANTS[name]["channels"] for name in args.variants})
    }
    results = {}
    for name in args.variants:
        start = time.monotonic()
        config = variant_config(name, args.size, args.steps, args.seed)
        pairs = data[VARIANTS[name]["channels"]]
        train(config, pairs, args.out / name / "run", progress=False)
        report = evaluate(args.out / name / "run", pairs, args.out / name / "evaluation",
                          split="test", progress=False)
        scores = report["aggregate"]
        results[name] = {
            "variant": name, "steps": args.steps, "image_size": args.size,
            "test_pairs": scores["n_images"],
            "pixel_cc": scores["pixel_cc_mean"], "pixel_cc_binned": scores["pixel_cc_binned_mean"],
            "rmse_gauss": scores["rmse_gauss_mean"], "flux_cc": scores.get("flux_cc"),
            "seconds": round(time.monotonic() - start, 1),
        }
        print(json.dumps(results[name]), flush=True)
    write_json_atomically(args.out / "comparison.json", results)


if __name__ == "__main__":
    main()
