#!/usr/bin/env python
"""The demo's spread over seeds: run ``solarmaggan demo`` with several seeds and report
each run's held-out figures (near side, and far side against the truth), their mean and
their range.

Usage:
    python scripts/demo_seeds.py --seeds 0 1 2 [--out runs/demo_seeds] [--small]

Each seed gets its own folder ``OUT/seed_S`` (a finished demo there is read again, not
redone: the command resumes). The seed changes the toy-Sun data (pairs and far-side
campaign), the initial weights, the data order and the shifts. Prints one JSON line per seed
and a summary line with the mean, minimum and maximum of each figure; the figures go into
docs/benchmarks.md and the README by hand.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

FIGURES = ("pixel_cc", "pixel_cc_binned", "ssim", "rmse_gauss", "flux_cc",
           "far_side_pixel_cc", "far_side_pixel_cc_binned", "far_side_rmse_gauss")


def run_seed(seed: int, out: Path, small: bool) -> dict:
    """The demo's summary for one seed (running it when it has not finished)."""
    folder = out / f"seed_{seed}"
    summary_path = folder / "summary.json"
    if not summary_path.exists():
        command = [str(Path(sys.executable).parent / "solarmaggan"), "demo", "--out",
                   str(folder), "--seed", str(seed), "--quiet"] + (["--small"] if small else [])
        started = time.monotonic()
        subprocess.run(command, check=True)
        print(f"seed {seed}: {time.monotonic() - started:.0f} s", file=sys.stderr)
    summary = json.loads(summary_path.read_text())
    near, far = summary["stages"]["evaluate"], summary["stages"]["far_side"]
    scores = {**near, **{f"far_side_{name}": value for name, value in far.items()}}
    return {"seed": seed, **{name: scores[name] for name in FIGURES},
            "best_step": summary["stages"]["train"]["best"]["step"],
            "seconds": summary["seconds"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", default="runs/demo_seeds")
    parser.add_argument("--small", action="store_true", help="the 64 x 64 plumbing demo")
    args = parser.parse_args()
    rows = [run_seed(seed, Path(args.out), args.small) for seed in args.seeds]
    for row in rows:
        print(json.dumps(row))
    spread = {name: {"mean": round(sum(r[name] for r in rows) / len(rows), 4),
                     "min": round(min(r[name] for r in rows), 4),
                     "max": round(max(r[name] for r in rows), 4)} for name in FIGURES}
    print(json.dumps({"seeds": args.seeds, **spread}))


if __name__ == "__main__":
    main()
