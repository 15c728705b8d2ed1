#!/usr/bin/env python
"""The U-Net decoder's upsampling on the toy Sun: transposed convolutions against resize +
convolution, with the same data, seed and budget.

Usage:
    python scripts/compare_upsampling.py --out /tmp/upsampling [--data PAIRS.h5]
        [--pairs 96] [--size 256] [--steps 3000] [--seed 0]
        [--variants transpose resize] [--set section.key=value ...]
        [--existing VARIANT=RUN_DIR ...]

Without ``--data`` it writes ``OUT/toy_sun.h5``: ``--pairs`` toy-Sun pairs at ``--size``
(``data_prep.toysun.write_toy_dataset``, the demo's data with the default 96 pairs, 256 px
and seed 0). Each variant trains the ``quick`` preset with ``model.upsampling`` set to it
(``transpose``: the seed's ConvT 4x4 s2; ``resize``: nearest-neighbour 2x + Conv 4x4 s1)
and otherwise the demo's settings (image size and solar radius of the pair file,
``training.seed``, 3,000 steps unless ``--steps``), so ``transpose`` at the defaults is the
demo's training run. Then it evaluates the best-validation generator on the held-out test
split (``solarmaggan.evaluate``: pixel CC on the disk, 8x8 binned CC, RMSE, SSIM) and
measures its stride lattice in the quiet Sun (``scripts/checkerboard_spectrum.py``: the
generated / observed power ratio at 1/2 and 1/4 cycles/px over the ratio at the
neighbouring frequencies, 1 = no line; the rms of the mean 2 x 2 and 16 x 16 phase
patterns in Gauss, the lattice's amplitude, and the 16 x 16 pattern's share of the
generated quiet-Sun variance).

``--existing transpose=demo/run`` takes that variant from a finished run directory (e.g.
the demo's, which is the ``transpose`` variant at the defaults) instead of training it;
its configuration must say that upsampling (a configuration without the setting is
"transpose").

Prints one JSON line a variant and a table at the end; writes ``OUT/comparison.json`` and,
per variant, ``OUT/VARIANT/{run,evaluation}`` and ``OUT/VARIANT/spectrum.png``. A variant
takes ~10-15 min (transpose) to ~25 min (resize) on 2 CPU cores at the defaults. Results go
into docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

from data_prep.atomic import write_json_atomically  # noqa: E402

VARIANTS = ("transpose", "resize")
PRESET = "quick"


def spectrum_module():
    """scripts/checkerboard_spectrum.py, imported from its path."""
    path = Path(__file__).resolve().parent / "checkerboard_spectrum.py"
    spec = importlib.util.spec_from_file_location("checkerboard_spectrum", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def variant_config(upsampling: str, image_size: int, radius_px: float, steps: int | None,
                   seed: int, extra: list[str]) -> dict:
    """The quick preset with the demo's overrides and ``model.upsampling``."""
    from solarmaggan.config import resolve_config

    overrides = [f"data.image_size={image_size}", f"data.radius_px={radius_px}",
                 f"training.seed={seed}", f"model.upsampling={upsampling}", *extra]
    if steps is not None:
        overrides.append(f"training.steps={steps}")
    return resolve_config(PRESET, overrides)


def format_table(results: dict) -> str:
    header = ("| upsampling | steps | pixel CC | binned CC | RMSE [G] | SSIM | contrast 1/2 | "
              "contrast 1/4 | lattice rms, 2 / 16 px [G] | lattice share | quiet rms [G] | "
              "train s |")
    lines = [header, "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        seconds = "-" if r["train_seconds"] is None else f"{r['train_seconds']:.0f}"
        lines.append(
            f"| {name} | {r['steps']:,} | {r['pixel_cc']:.3f} | {r['pixel_cc_binned']:.3f} | "
            f"{r['rmse_gauss']:.2f} | {r['ssim']:.3f} | {r['lattice_contrast_half']:.2f} | "
            f"{r['lattice_contrast_quarter']:.2f} | {r['pattern_rms_p2_generated_g']:.3f} / "
            f"{r['pattern_rms_p16_generated_g']:.2f} | "
            f"{100 * r['variance_fraction_p16_generated']:.1f} % | "
            f"{r['quiet_rms_generated_g']:.2f} (obs. {r['quiet_rms_observed_g']:.2f}) | "
            f"{seconds} |")
    lines.append(
        "(contrast: generated/observed power at the stride frequency over that ratio at its "
        "neighbours, 1 = no line; lattice rms: the mean 2x2 / 16x16 phase pattern of the "
        "quiet-Sun field (observed: "
        + ", ".join(f"{r['pattern_rms_p2_observed_g']:.3f} / {r['pattern_rms_p16_observed_g']:.2f}"
                    for r in list(results.values())[:1])
        + " G, the noise floor); lattice share: the 16 px pattern's share of the generated "
        "quiet-Sun variance)")
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data", type=Path, help="existing pair file (default: write one)")
    parser.add_argument("--pairs", type=int, default=96)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, help="training steps (default: the preset's 3,000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=VARIANTS,
                        help="variants to train (none: only the --existing runs)")
    parser.add_argument("--existing", action="append", default=[], metavar="VARIANT=RUN_DIR",
                        help="evaluate a finished run as that variant instead of training")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="SECTION.KEY=VALUE", help="more overrides for every variant")
    args = parser.parse_args(argv)

    from data_prep.pairs import PairFile
    from data_prep.toysun import write_toy_dataset
    from solarmaggan.evaluate import evaluate
    from solarmaggan.model_files import load_trained_generator
    from solarmaggan.training import train

    spectrum = spectrum_module()
    args.out.mkdir(parents=True, exist_ok=True)
    data = args.data or write_toy_dataset(args.out / "toy_sun.h5", args.pairs, args.size,
                                          seed=args.seed)
    with PairFile(data) as pairs:
        image_size, radius_px = pairs.image_size, pairs.rsun_px
    existing = {}
    for text in args.existing:
        name, _, run = text.partition("=")
        if name not in VARIANTS or not run:
            parser.error(f"--existing {text!r}: expected VARIANT=RUN_DIR, VARIANT one of "
                         f"{VARIANTS}")
        existing[name] = Path(run)
    results = {}
    for name in dict.fromkeys([*args.variants, *existing]):
        folder = args.out / name
        if name in existing:
            run = existing[name]
            generator, config, _ = load_trained_generator(run)
            if config["model"].get("upsampling", "transpose") != name:
                raise SystemExit(f"{run}: trained with upsampling "
                                 f"{config['model'].get('upsampling')!r}, not {name!r}")
            summary = json.loads((run / "best.json").read_text()) if (
                run / "best.json").is_file() else {}
            summary = {"best": summary}
            train_seconds = None
        else:
            config = variant_config(name, image_size, radius_px, args.steps, args.seed,
                                    args.overrides)
            run = folder / "run"
            start = time.monotonic()
            summary = train(config, data, run, progress=False)
            train_seconds = time.monotonic() - start
        report = evaluate(run, data, folder / "evaluation", split="test", progress=False)
        scores = report["aggregate"]
        generator, saved_config, _ = load_trained_generator(run)
        lattice = spectrum.measure(generator, saved_config, data, split="test")
        spectrum.write_png(folder / "spectrum.png", {name: lattice})
        print(spectrum.format_table(lattice, f"[{name}] "), flush=True)
        summary_lattice = lattice["summary"]
        results[name] = {
            "upsampling": name, "run": str(run), "steps": int(config["training"]["steps"]),
            "best_step": summary.get("best", {}).get("step") if isinstance(
                summary.get("best"), dict) else summary.get("best"),
            "image_size": image_size, "test_pairs": scores["n_images"],
            "pixel_cc": scores["pixel_cc_mean"], "pixel_cc_binned": scores["pixel_cc_binned_mean"],
            "rmse_gauss": scores["rmse_gauss_mean"], "ssim": scores["ssim_mean"],
            "cc_quiet": scores.get("cc_quiet_mean"), "flux_cc": scores.get("flux_cc"),
            "lattice_contrast_half": summary_lattice["p2"]["contrast"],
            "lattice_contrast_quarter": summary_lattice["p4"]["contrast"],
            "lattice_contrast_eighth": summary_lattice["p8"]["contrast"],
            "power_ratio_half": summary_lattice["p2"]["ratio"],
            "power_ratio_quarter": summary_lattice["p4"]["ratio"],
            "pattern_rms_p2_generated_g": summary_lattice["p2"]["pattern_rms_generated_g"],
            "pattern_rms_p2_observed_g": summary_lattice["p2"]["pattern_rms_observed_g"],
            "pattern_rms_p4_generated_g": summary_lattice["p4"]["pattern_rms_generated_g"],
            "pattern_rms_p16_generated_g": summary_lattice["p16"]["pattern_rms_generated_g"],
            "pattern_rms_p16_observed_g": summary_lattice["p16"]["pattern_rms_observed_g"],
            "variance_fraction_p16_generated":
                summary_lattice["p16"]["variance_fraction_generated"],
            "quiet_rms_generated_g": lattice["quiet_rms_generated_g"],
            "quiet_rms_observed_g": lattice["quiet_rms_observed_g"],
            "quiet_tiles": lattice["tiles"],
            "train_seconds": None if train_seconds is None else round(train_seconds, 1),
        }
        print(json.dumps(results[name]), flush=True)
        write_json_atomically(args.out / "comparison.json", results)
    print(format_table(results))
    return results


if __name__ == "__main__":
    main()
