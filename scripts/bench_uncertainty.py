#!/usr/bin/env python
"""Calibration and cost of the per-pixel uncertainty: Monte Carlo dropout, an ensemble of
independently trained models, and both (issue 19).

Usage:
    python scripts/bench_uncertainty.py DEMO_DIR --runs RUN0 RUN1 RUN2 [--samples 10]
        [--out runs/bench_uncertainty] [--cost-only]

DEMO_DIR is a finished ``solarmaggan demo`` folder (its ``data/pairs.h5`` and campaign);
RUN0.. are run directories trained on that pair file with different seeds (RUN0 may be
DEMO_DIR/run). For each method the script evaluates the test split with samples (the
spread scale fitted on the validation split, :func:`solarmaggan.evaluate.evaluate`),
generates the far side of the test months with samples (the scale applied) and scores it
against the truth (:func:`solarmaggan.evaluate_fits.evaluate_fits`), and prints one JSON
line per method: coverage at +-1 and +-2 sigma (raw, after the scale; pixels and 8x8
bins), CRPS, mean sigma, RMSE and pixel CC of the mean. Then the cost of sampling, seconds
an image, for the demo's network at 256 x 256 and for the kim2019 generator at 1024 x 1024
(untrained; the cost does not depend on the weights): one pass, and each method.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_prep


def calibration_row(method: str, models: list[Path], samples: int, dropout: bool, demo: Path,
                    out: Path) -> dict:
    from solarmaggan.demo import held_out_far_side
    from solarmaggan.evaluate import evaluate
    from solarmaggan.evaluate_fits import evaluate_fits
    from solarmaggan.generate import generate
    from data_prep.splits import SplitRule

    pairs = demo / "data" / "pairs.h5"
    start = time.monotonic()
    near = evaluate(models, pairs, out / method / "near", samples=samples, dropout=dropout,
                    progress=False)
    near_seconds = time.monotonic() - start
    campaign = demo / "data" / "campaign"
    record = json.loads((campaign / "campaign.json").read_text())
    far_inputs = held_out_far_side(campaign, record, SplitRule((9, 10), (8,)))
    generate(models, far_inputs, out / method / "far_side", samples=samples, dropout=dropout,
             keep_samples=True, overwrite=True, progress=False)
    far = evaluate_fits(out / method / "far_side", campaign / "truth", out / method / "far",
                        samples=samples, progress=False)

    def part(report: dict, level: str) -> dict:
        calibration = report["uncertainty"]["calibration"]
        picked = calibration[level]
        return {key: {name: picked[key][name] for name in (
            "coverage_1sigma", "coverage_2sigma", "crps_gauss", "mean_sigma_gauss", "rmse_gauss")}
            for key in ("pixel", "binned")}

    return {"method": method, "models": [str(m) for m in models], "samples": samples,
            "scale": near["uncertainty"]["scale"],
            "near_raw": part(near, "raw"), "near_scaled": part(near, "scaled"),
            "near_pixel_cc_of_mean": near["aggregate"]["pixel_cc_mean"],
            "near_flux_true_in_68": near["uncertainty"]["summary"]["flux_true_in_68"],
            "far_scaled": part(far, "raw"),
            "far_pixel_cc_of_mean": far["aggregate"]["pixel_cc_mean"],
            "far_flux_true_in_68": far["uncertainty"]["summary"]["flux_true_in_68"],
            "near_seconds": round(near_seconds, 1)}


def cost(preset: str, samples: int, members: int = 3, repeats: int = 3) -> dict:
    """Seconds an image (batch 1) of one deterministic pass and of each method: ``samples``
    Monte Carlo dropout passes, an ensemble of ``members`` models (one pass each; the same
    network stands in for each member: the cost does not depend on the weights) and both
    (``members`` models with dropout, the largest multiple of ``members`` <= ``samples``)."""
    from bench_prep import best_seconds

    from solarmaggan.config import resolve_config
    from solarmaggan.export import parity_input
    from solarmaggan.models.from_config import generator_from_config
    from solarmaggan.sampling import draw_samples

    config = resolve_config(preset)
    generator = generator_from_config(config)
    euv = parity_input(config)
    generator(euv, training=False)  # build, warm up
    draw_samples([generator], euv, 2)
    both = samples - samples % members or members
    runs = {
        "one_pass": lambda: generator(euv, training=False),
        f"mc_dropout_{samples}": lambda: draw_samples([generator], euv, samples),
        f"ensemble_{members}": lambda: draw_samples([generator] * members, euv, members,
                                                     dropout=False),
        f"ensemble+mc_dropout_{both}": lambda: draw_samples([generator] * members, euv, both),
    }
    return {"preset": preset, "image_size": config["data"]["image_size"],
            **{f"{name}_s": round(best_seconds(run, repeats), 3) for name, run in runs.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demo", type=Path)
    parser.add_argument("--runs", type=Path, nargs="+", default=[])
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("runs/bench_uncertainty"))
    parser.add_argument("--cost-only", action="store_true")
    args = parser.parse_args()

    import solarmaggan  # noqa: F401  (selects the TensorFlow backend)

    if not args.cost_only:
        runs = args.runs or [args.demo / "run"]
        rows = [calibration_row("mc_dropout", runs[:1], args.samples, True, args.demo, args.out)]
        if len(runs) > 1:
            rows.append(calibration_row("ensemble", runs, len(runs), False, args.demo, args.out))
            both = args.samples - args.samples % len(runs) or len(runs)
            rows.append(calibration_row("ensemble+mc_dropout", runs, both, True, args.demo,
                                        args.out))
        for row in rows:
            print(json.dumps(row))
    for preset in ("quick_latitude", "kim2019"):
        print(json.dumps(cost(preset, args.samples, max(len(args.runs), 3))))


if __name__ == "__main__":
    main()
