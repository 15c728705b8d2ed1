#!/usr/bin/env python
"""Far-side active regions scored against the toy Sun's truth (issue 31): runs
``solarmaggan regions`` on a finished demo's (or campaign's) AI far-side magnetograms and
its HMI files over the same months, then :func:`solarmaggan.regions.scores.score`.

Usage:
    python scripts/regions_scores.py DEMO_DIR [--campaign DIR] [--generated DIR]
        [--out DIR] [--json FILE]

``DIR/truth/regions.csv`` is written from the campaign's settings if the campaign has none
(campaigns made before it existed). Prints the scores table and writes the JSON.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demo", type=Path, help="a finished `solarmaggan demo` folder")
    parser.add_argument("--campaign", type=Path, default=None, help="default DEMO_DIR/data/campaign")
    parser.add_argument("--generated", type=Path, default=None, help="default DEMO_DIR/far_side_magnetograms")
    parser.add_argument("--out", type=Path, default=None, help="default DEMO_DIR/regions")
    parser.add_argument("--json", type=Path, default=None, help="default OUT/scores.json")
    args = parser.parse_args()

    from astropy.time import Time

    from data_prep.atomic import write_json_atomically
    from data_prep.fitsio import observation_time, read_header
    from data_prep.toysun.region_truth import write_truth_regions
    from solarmaggan.regions.catalogue import catalogue
    from solarmaggan.regions.detection import DetectionSettings
    from solarmaggan.regions.scores import coverage_functions, score

    campaign = args.campaign or args.demo / "data" / "campaign"
    generated = sorted((args.generated or args.demo / "far_side_magnetograms").glob("*.fits"))
    times = [observation_time(read_header(path), str(path)).utc for path in generated]
    first, last = min(times), max(times)
    hmi = [path for path in sorted((campaign / "sdo" / "hmi").glob("*.fits"))
           if first.jd - 1.0 <= observation_time(read_header(path), str(path)).utc.jd <= last.jd + 30.0]
    truth = write_truth_regions(campaign)
    out = args.out or args.demo / "regions"
    settings = DetectionSettings()
    record = catalogue([*generated, *hmi], out, settings)
    scores = score(out, truth, coverage_functions(generated, settings), settings.min_area_msh)
    scores.update(catalogue=record, far_side_files=len(generated), hmi_files=len(hmi),
                  period=[first.isot, last.isot], computed=Time.now().isot)
    print("| flux class | truths | POD | detections | FAR | position error (deg) | flux error (%) | flux bias (%) | 68 % coverage |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")

    def shown(value, form="{:.2f}"):
        return "-" if value is None else form.format(value)

    for name, item in scores["classes"].items():
        print(f"| {name} Mx | {item['truths']} | {shown(item['probability_of_detection'])} | "
              f"{item['detections']} | {shown(item['false_alarm_ratio'])} | "
              f"{shown(item['position_error_deg_median'], '{:.1f}')} | "
              f"{shown(item['flux_error_percent_median'], '{:.0f}')} | "
              f"{shown(item['flux_bias_percent_median'], '{:+.0f}')} | {shown(item['flux_coverage_68'])} |")
    arrivals = scores["arrivals"]
    print(f"arrivals: {arrivals['forecasts']} forecasts, {arrivals['verified']} verified against the truth, "
          f"median |error| {shown(arrivals['abs_error_hours_median'], '{:.1f}')} h; by lead: "
          + ", ".join(f"{key} {shown(value['abs_error_hours_median'], '{:.1f}')} h ({value['forecasts']})"
                      for key, value in arrivals["by_lead"].items()))
    far = arrivals["far_vs_hmi"]
    print(f"far side then HMI (same track): {far['pairs']} pairs, flux ratio median "
          f"{shown(far['flux_ratio_median'])}, log-flux CC {shown(far['log_flux_cc'])}")
    path = args.json or out / "scores.json"
    write_json_atomically(path, scores, default=str)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
