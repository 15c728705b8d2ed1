#!/usr/bin/env python
"""Ablations of the whole-Sun toy model: what in the Sun makes the demo's near-side figure.

Usage:
    python scripts/toysun_ablation.py {baseline,no_holes_no_poles,fewer_regions} [--out runs]

Renders the Sun of seed 0 seen from Earth straight into a 96-pair file at 256 x 256
(``write_toy_dataset``: no FITS files, no ``prep``), changed as named, trains the ``quick``
preset on it with seed 0 (3,000 steps, as ``solarmaggan demo``) and evaluates the held-out
test months. Prints one JSON line (the best validation figures and the test pixel CC).

* ``baseline``: the demo's Sun;
* ``no_holes_no_poles``: no coronal holes (``evolution.HOLES_PER_ROTATION = 0``) and no
  polar fields (``polar_gauss=0``);
* ``fewer_regions``: a third of the active regions (``emergence_per_day=0.1``).

Figures: docs/benchmarks.md (issue 17).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ABLATIONS = {"baseline": {}, "no_holes_no_poles": {"polar_gauss": 0.0},
             "fewer_regions": {"emergence_per_day": 0.1}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=sorted(ABLATIONS))
    parser.add_argument("--out", default="runs", help="parent folder of ablation_NAME/")
    args = parser.parse_args()

    import data_prep.toysun.evolution as evolution
    from data_prep.toysun import write_toy_dataset

    if args.name == "no_holes_no_poles":
        evolution.HOLES_PER_ROTATION = 0.0
    import solarmaggan  # noqa: F401  (selects the TensorFlow backend)
    from solarmaggan.config import resolve_config
    from solarmaggan.evaluate import evaluate
    from solarmaggan.training import train

    out = Path(args.out) / f"ablation_{args.name}"
    pairs = write_toy_dataset(out / "pairs.h5", 96, 256, seed=0, **ABLATIONS[args.name])
    config = resolve_config("quick", ["training.seed=0"], data_file=pairs)
    result = train(config, pairs, out / "run", progress=False)
    report = evaluate(out / "run", pairs, out / "evaluation", split="test", progress=False)
    test = {key: report["aggregate"][key]
            for key in ("pixel_cc_mean", "pixel_cc_median", "pixel_cc_binned_mean")}
    print(json.dumps({"name": args.name, "options": ABLATIONS[args.name],
                      "best": result["best"], "test": test}))


if __name__ == "__main__":
    main()
