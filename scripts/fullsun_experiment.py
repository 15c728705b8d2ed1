#!/usr/bin/env python
"""The experiment of Jeong et al. (2020) on the whole-Sun toy model, on a finished demo
folder: synchronic maps (a) truth, (b) HMI + 27-day synoptic far side, (c) HMI + AI far side,
(d) HMI + true far side, and the assimilations (b') SFT of HMI alone, (c') SFT + AI far side,
(d') SFT + true far side, each through PFSS, scored against the truth
(:mod:`solarmaggan.fullsun.experiment`).

Usage:
    python scripts/fullsun_experiment.py DEMO_DIR [--times N] [--shape NLAT NLON]
        [--nr 35] [--rss 2.5] [--seeds NLON NLAT] [--out FILE.json]
        [--campaign DIR --generated DIR] [--variance-growth G2_PER_DAY] [--observed-sigma GAUSS]
        [--ai-large-scale ai|state] [--no-assimilation]

DEMO_DIR is the folder of ``solarmaggan demo`` (it reads ``DEMO_DIR/data/campaign`` and the
AI magnetograms in ``DEMO_DIR/far_side_magnetograms``, or ``--campaign`` and
``--generated``: another toy-Sun campaign, e.g. the held-out one of
scripts/largescale_study.py, and AI magnetograms of it made with ``generate --samples``).
Prints the comparison table; writes every figure to ``--out`` (default
``DEMO_DIR/corona_full.json``). Figures: docs/guide/fullsun.md, docs/guide/assimilation.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demo", type=Path, help="a finished `solarmaggan demo` folder")
    parser.add_argument("--times", type=int, default=None, help="at most this many times")
    parser.add_argument("--shape", type=int, nargs=2, default=(180, 360), metavar=("NLAT", "NLON"))
    parser.add_argument("--nr", type=int, default=35)
    parser.add_argument("--rss", type=float, default=2.5)
    parser.add_argument("--seeds", type=int, nargs=2, default=(180, 90), metavar=("NLON", "NLAT"))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--campaign", type=Path, default=None, help="default DEMO_DIR/data/campaign")
    parser.add_argument("--generated", type=Path, default=None,
                        help="default DEMO_DIR/far_side_magnetograms")
    parser.add_argument("--variance-growth", type=float, default=None, metavar="G2_PER_DAY",
                        help="the assimilation's variance growth (default: measured)")
    parser.add_argument("--observed-sigma", type=float, default=None, metavar="GAUSS",
                        help="the assimilation's observed noise at disk centre (default: measured)")
    parser.add_argument("--ai-large-scale", choices=("ai", "state"), default="ai",
                        help="where map (c')'s far-side band means come from (default: the "
                             "per-pixel update)")
    parser.add_argument("--no-assimilation", action="store_true", help="maps (a)-(d) only")
    args = parser.parse_args()

    from data_prep.atomic import write_json_atomically
    from solarmaggan.fullsun.experiment import ExperimentSettings, comparison_table, run_experiment

    settings = ExperimentSettings(shape=tuple(args.shape), nr=args.nr, rss=args.rss,
                                  seeds=tuple(args.seeds))
    result = run_experiment(args.campaign or args.demo / "data" / "campaign",
                            args.generated or args.demo / "far_side_magnetograms",
                            settings, max_times=args.times, assimilate=not args.no_assimilation,
                            growth_gauss2_per_day=args.variance_growth,
                            observed_sigma_gauss=args.observed_sigma,
                            ai_large_scale=args.ai_large_scale)
    print(comparison_table(result))
    out = args.out or args.demo / "corona_full.json"
    write_json_atomically(out, result, default=str)
    print(json.dumps({"out": str(out), "times": result["times"], "seconds": result["seconds"],
                      "gap_closed": result["gap_closed"],
                      "gap_closed_assimilated": result["gap_closed_assimilated"]}))


if __name__ == "__main__":
    main()
