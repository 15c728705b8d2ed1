#!/usr/bin/env python
"""Far-side active regions scored against the toy Sun's truth (issue 31): the study of
:mod:`solarmaggan.regions.study` (region-flux calibration on the validation split, the
test split's catalogue and scores near and far, the far side's flicker) on a finished
demo, or on any campaign with AI magnetograms generated for it.

Usage:
    python scripts/regions_scores.py DEMO_DIR [--campaign DIR] [--generated DIR]
        [--far-validation DIR] [--near DIR] [--near-validation DIR] [--out DIR] [--json FILE]

Defaults are the demo's folders (``DEMO_DIR/far_side_magnetograms``,
``DEMO_DIR/regions/magnetograms/{far_val,near_test,near_val}``). The HMI files of the
campaign from the first test file's day to 30 days after the last join the far-side
catalogue (arrivals verified, the seed's claim). ``truth/regions.csv`` is written from the
campaign's settings if the campaign has none. Prints the tables, writes the JSON.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def fits_in(folder: Path | None) -> list[Path]:
    return sorted(folder.glob("*.fits")) if folder and folder.is_dir() else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demo", type=Path, help="a finished `solarmaggan demo` folder")
    parser.add_argument("--campaign", type=Path, default=None, help="default DEMO_DIR/data/campaign")
    parser.add_argument("--generated", type=Path, default=None,
                        help="test far side, default DEMO_DIR/far_side_magnetograms")
    parser.add_argument("--far-validation", type=Path, default=None,
                        help="validation far side, default DEMO_DIR/regions/magnetograms/far_val")
    parser.add_argument("--near", type=Path, default=None,
                        help="test near side (AIA in), default DEMO_DIR/regions/magnetograms/near_test")
    parser.add_argument("--near-validation", type=Path, default=None,
                        help="validation near side, default DEMO_DIR/regions/magnetograms/near_val")
    parser.add_argument("--out", type=Path, default=None, help="default DEMO_DIR/regions_scores")
    parser.add_argument("--json", type=Path, default=None, help="default OUT/scores.json")
    args = parser.parse_args()

    from astropy.time import Time

    from data_prep.atomic import write_json_atomically
    from data_prep.fitsio import observation_time, read_header
    from solarmaggan.regions.scores import scores_table
    from solarmaggan.regions.study import regions_study

    made = args.demo / "regions" / "magnetograms"
    campaign = args.campaign or args.demo / "data" / "campaign"
    far_test = fits_in(args.generated or args.demo / "far_side_magnetograms")
    times = [observation_time(read_header(path), str(path)).utc for path in far_test]
    first, last = min(times), max(times)
    hmi = [path for path in sorted((campaign / "sdo" / "hmi").glob("*.fits"))
           if first.jd - 1.0 <= observation_time(read_header(path), str(path)).utc.jd <= last.jd + 30.0]
    out = args.out or args.demo / "regions_scores"
    study = regions_study(campaign, out, far_test, hmi, fits_in(args.far_validation or made / "far_val"),
                          fits_in(args.near or made / "near_test"),
                          fits_in(args.near_validation or made / "near_val"))
    for side in ("far", "near"):
        if side in study:
            print(f"\n{side} side ({study[side]['files']} AI files):")
            print(scores_table(study[side]))
    for side, calibration in study["calibration"].items():
        print(f"calibration ({side}): {calibration}")
    flicker = study["flicker"]
    print(f"flicker: ratio {flicker['ratio']:.2f} ({flicker['generated_rms_gauss']:.1f} G against "
          f"{flicker['truth_rms_gauss']:.1f} G, {flicker['pairs']} pairs)")
    study.update(far_side_files=len(far_test), hmi_files=len(hmi), period=[first.isot, last.isot],
                 computed=Time.now().isot)
    path = args.json or out / "scores.json"
    write_json_atomically(path, study, default=str)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
