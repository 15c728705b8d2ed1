"""Scores of a region catalogue (``solarmaggan regions``) against the toy Sun's
``truth/regions.csv``.

* **Matching.** At each input file's time (within ``TIME_TOLERANCE_S`` of a campaign
  time), each truth region is given to the nearest detection of that file within
  ``MATCH_DEG`` (great-circle distance of the centroids). A detection's true flux is the
  sum of the truth regions given to it (a detection of a complex of regions counts them
  all); a detection given none is a false alarm.
* **Detectable truth**: a truth region whose centroid the file's observer sees (mu >=
  the catalogue's mu_min on the grid) and whose own field reaches the detection threshold
  over at least the catalogue's minimum area (its ``area_msh``): the definition of an
  active region the detector uses, applied to the truth's own state. Decayed regions
  spread below the threshold are not active regions by it, whatever their flux.
* **By flux class** (>= 1e21, 5e21, 1e22 Mx): probability of detection (detectable truth
  regions of the class with a detection within MATCH_DEG), false-alarm ratio (detections
  whose flux is in the class that are false alarms), the median position error (deg) and
  the median absolute flux error (%, detection against its true flux), the fraction of
  true fluxes inside the 68 % range.
* **Arrivals**: each forecast (``arrivals.csv``) is matched to the truth region nearest
  the region at ``last_seen_time``; the true arrival is the time its centroid reaches
  Stonyhurst -90 deg, interpolated between campaign times; the error (h) by lead time.
  The seed's claim ("far-side regions rotate to the near side with consistent magnetic
  features"): the far-side flux at the last far-side sighting against the same track's
  first HMI flux within 60 deg of disk centre after it.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Sequence

import numpy as np

FLUX_CLASSES_MX = (1e21, 5e21, 1e22)
MATCH_DEG = 10.0
TIME_TOLERANCE_S = 3600.0
LEAD_BINS_DAYS = ((0.0, 3.0), (3.0, 7.0), (7.0, 14.0), (14.0, 30.0))
#: HMI sightings within this Stonyhurst longitude of disk centre verify a far-side flux
HMI_VERIFY_DEG = 60.0


def read_csv(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a CSV file, numbers as floats where they parse."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for key, value in row.items():
            try:
                row[key] = float(value)
            except (TypeError, ValueError):
                pass
    return rows


def _jd(time: str) -> float:
    from astropy.time import Time

    return float(Time(time).jd)


def _distance(a: dict[str, Any], b: dict[str, Any]) -> float:
    from solarmaggan.regions.catalogue import angular_distance_deg

    return float(angular_distance_deg(a["carrington_lat_deg"], a["carrington_lon_deg"],
                            b["carrington_lat_deg"], b["carrington_lon_deg"]))


def _median(values: Sequence[float]) -> float | None:
    return float(np.median(values)) if len(values) else None


def truth_at(truth: Sequence[dict[str, Any]], time: str) -> list[dict[str, Any]]:
    """The truth rows of the campaign time nearest ``time`` (within TIME_TOLERANCE_S)."""
    moment = _jd(time)
    times = sorted({row["time"] for row in truth}, key=lambda item: abs(_jd(item) - moment))
    if not times or abs(_jd(times[0]) - moment) * 86400.0 > TIME_TOLERANCE_S:
        return []
    return [row for row in truth if row["time"] == times[0]]


def match_file(detections: Sequence[dict[str, Any]], truths: Sequence[dict[str, Any]]
               ) -> tuple[list[list[dict[str, Any]]], list[float | None]]:
    """Per detection, the truth regions given to it; per truth region, the distance (deg)
    to its nearest detection (None without detections)."""
    given: list[list[dict[str, Any]]] = [[] for _ in detections]
    nearest: list[float | None] = []
    for truth in truths:
        distances = [_distance(truth, detection) for detection in detections]
        if not distances:
            nearest.append(None)
            continue
        best = int(np.argmin(distances))
        nearest.append(distances[best])
        if distances[best] <= MATCH_DEG:
            given[best].append(truth)
    return given, nearest


def true_arrival_jd(history: Sequence[dict[str, Any]], after_jd: float) -> float | None:
    """The time (jd) after ``after_jd`` at which a truth region's centroid reaches
    Stonyhurst -90 deg, interpolated between its rows (time order); None if it does not
    while it lives."""
    from astropy.time import Time

    from solarmaggan.regions.catalogue import EAST_LIMB_DEG, stonyhurst_longitude_deg

    times = [row["time"] for row in history]
    days = np.array([_jd(time) for time in times])
    stony = stonyhurst_longitude_deg(np.array([row["carrington_lon_deg"] for row in history]), Time(times))
    past = (stony - EAST_LIMB_DEG + 180.0) % 360.0 - 180.0
    for k in range(len(history) - 1):
        if days[k + 1] <= after_jd:
            continue
        if past[k] < 0 <= past[k + 1] and past[k + 1] - past[k] < 180.0:
            return float(days[k] + (days[k + 1] - days[k]) * (-past[k]) / (past[k + 1] - past[k]))
    return None


def _side(stonyhurst_lon_deg: float, side: str) -> bool:
    """Whether a position at this Stonyhurst longitude is on ``side`` ("far": beyond
    Earth's limbs, "near": on the disk Earth sees)."""
    return (abs(stonyhurst_lon_deg) > 90.0) == (side == "far")


def matched_detections(rows: Sequence[dict[str, Any]], truth: Sequence[dict[str, Any]],
                       covered: dict[str, Any], min_area_msh: float, side: str = "far"
                       ) -> tuple[list[tuple[dict[str, Any], float | None]],
                                  list[tuple[dict[str, Any], list[dict[str, Any]]]]]:
    """The matching of the module docstring on ``side`` ("far" or "near") of Earth's
    limbs: (detectable truth regions with the distance to their nearest detection or
    None, detections with the truth regions given to them)."""
    from solarmaggan.regions.catalogue import stonyhurst_longitude_deg

    if side not in ("far", "near"):
        raise ValueError(f"side must be 'far' or 'near', got {side!r}")
    by_file: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_file.setdefault(row["source_file"], []).append(row)
    pairs = []  # (truth, distance or None) of detectable truths
    detections = []  # (detection, given truths)
    for name, sees in covered.items():
        found = [row for row in by_file.get(name, []) if _side(row["stonyhurst_lon_deg"], side)]
        time = (by_file.get(name) or [{}])[0].get("time") or sees.time
        truths = [row for row in truth_at(truth, time)
                  if _side(float(stonyhurst_longitude_deg(row["carrington_lon_deg"], time)), side)
                  and sees(row["carrington_lat_deg"], row["carrington_lon_deg"])]
        given, nearest = match_file(found, truths)
        detections.extend(zip(found, given))
        pairs.extend((item, distance) for item, distance in zip(truths, nearest)
                     if item["area_msh"] >= min_area_msh)
    return pairs, detections


def calibration_pairs(regions_dir: str | Path, truth_csv: str | Path, covered: dict[str, Any],
                      min_area_msh: float, side: str = "far") -> tuple[list[float], list[float]]:
    """(detected flux, true flux) in Mx of every detection of ``regions_dir`` on ``side``
    given a truth region (its true flux: the sum of those given to it): the pairs a
    region-flux calibration is fitted on
    (:func:`solarmaggan.uncertainty.fit_flux_calibration`)."""
    rows = read_csv(Path(regions_dir) / "regions.csv")
    _, detections = matched_detections(rows, read_csv(truth_csv), covered, min_area_msh, side)
    matched = [(row["flux_mx"], sum(item["flux_mx"] for item in given))
               for row, given in detections if given]
    return [flux for flux, _ in matched], [flux for _, flux in matched]


def score(regions_dir: str | Path, truth_csv: str | Path, covered: dict[str, Any],
          min_area_msh: float, side: str = "far") -> dict[str, Any]:
    """The scores (module docstring) of ``regions_dir`` against ``truth_csv``.
    ``covered``: source file name -> function (lat, lon) -> bool, whether that file's
    observer sees the position (mu >= mu_min). Only detections and truths on ``side``
    count ("far": ``|Stonyhurst longitude|`` > 90 deg; "near": the disk Earth sees)."""
    rows = read_csv(Path(regions_dir) / "regions.csv")
    arrivals = read_csv(Path(regions_dir) / "arrivals.csv")
    truth = read_csv(truth_csv)
    pairs, detections = matched_detections(rows, truth, covered, min_area_msh, side)
    classes = {}
    for floor in FLUX_CLASSES_MX:
        members = [(item, distance) for item, distance in pairs if item["flux_mx"] >= floor]
        hits = [distance for _, distance in members if distance is not None and distance <= MATCH_DEG]
        flagged = [(row, given) for row, given in detections if row["flux_mx"] >= floor]
        matched = [(row, given) for row, given in flagged if given]
        true_flux = [sum(item["flux_mx"] for item in given) for _, given in matched]
        classes[f">={floor:.0e}"] = {
            "truths": len(members), "detected": len(hits),
            "probability_of_detection": len(hits) / len(members) if members else None,
            "detections": len(flagged),
            "false_alarm_ratio": (len(flagged) - len(matched)) / len(flagged) if flagged else None,
            "position_error_deg_median": _median(hits),
            "flux_error_percent_median": _median([100.0 * abs(row["flux_mx"] - value) / value
                                                  for (row, _), value in zip(matched, true_flux)]),
            "flux_bias_percent_median": _median([100.0 * (row["flux_mx"] - value) / value
                                                 for (row, _), value in zip(matched, true_flux)]),
            "flux_coverage_68": (float(np.mean([row["flux_lo_mx"] <= value <= row["flux_hi_mx"]
                                                for (row, _), value in zip(matched, true_flux)]))
                                 if matched else None)}
    return {"classes": classes, "match_deg": MATCH_DEG, "min_area_msh": min_area_msh, "side": side,
            "arrivals": score_arrivals(rows, arrivals, truth)}


def score_arrivals(rows: Sequence[dict[str, Any]], arrivals: Sequence[dict[str, Any]],
                   truth: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Arrival-time errors by lead time and the far-side / HMI flux comparison (module
    docstring)."""
    by_truth: dict[str, list[dict[str, Any]]] = {}
    for row in truth:
        by_truth.setdefault(row["region_id"], []).append(row)
    for history in by_truth.values():
        history.sort(key=lambda row: row["time"])
    errors, unverified = [], 0
    for forecast in arrivals:
        seen = [row for row in rows if row["region_id"] == forecast["region_id"]
                and row["time"] == forecast["last_seen_time"]]
        candidates = truth_at(truth, forecast["last_seen_time"])
        if not seen or not candidates:
            unverified += 1
            continue
        distances = [_distance(seen[0], item) for item in candidates]
        best = int(np.argmin(distances))
        arrival = (true_arrival_jd(by_truth[candidates[best]["region_id"]], _jd(forecast["last_seen_time"]))
                   if distances[best] <= MATCH_DEG else None)
        if arrival is None:
            unverified += 1
            continue
        predicted = _jd(forecast["predicted_arrival_time"])
        errors.append({"lead_days": predicted - _jd(forecast["last_seen_time"]),
                       "error_hours": (predicted - arrival) * 24.0})
    by_lead = {}
    for low, high in LEAD_BINS_DAYS:
        chosen = [item["error_hours"] for item in errors if low <= item["lead_days"] < high]
        by_lead[f"{low:g}-{high:g} d"] = {"forecasts": len(chosen),
                                          "abs_error_hours_median": _median(np.abs(chosen).tolist())}
    # the seed's claim: far-side flux, then the same track's flux seen by HMI
    comparisons = []
    tracks: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        tracks.setdefault(row["region_id"], []).append(row)
    for history in tracks.values():
        history.sort(key=lambda row: row["time"])
        far = [row for row in history if abs(row["stonyhurst_lon_deg"]) > 90.0]
        if not far:
            continue
        later = [row for row in history if row["time"] > far[-1]["time"]
                 and abs(row["stonyhurst_lon_deg"]) <= HMI_VERIFY_DEG and "HMI" in str(row["observer"])]
        if later:
            comparisons.append((far[-1]["flux_mx"], later[0]["flux_mx"]))
    ratio = [far / near for far, near in comparisons]
    return {"forecasts": len(arrivals), "verified": len(errors), "unverified": unverified,
            "abs_error_hours_median": _median(np.abs([item["error_hours"] for item in errors]).tolist()),
            "by_lead": by_lead, "errors": errors,
            "far_vs_hmi": {"pairs": len(comparisons),
                           "flux_ratio_median": _median(ratio),
                           "log_flux_cc": (float(np.corrcoef(np.log([c[0] for c in comparisons]),
                                                             np.log([c[1] for c in comparisons]))[0, 1])
                                           if len(comparisons) > 2 else None)}}


def coverage_functions(paths: Sequence[str | Path], settings) -> dict[str, Any]:
    """Source file name -> callable (lat, lon) -> bool: whether that file's observer sees
    the position on the catalogue's grid (with the file's time as ``.time``)."""
    from solarmaggan.regions.catalogue import grid_input
    from solarmaggan.regions.detection import grid_index

    functions = {}
    for path in paths:
        item = grid_input(path, settings)
        seen = np.isfinite(item.br_gauss)

        def sees(lat: float, lon: float, seen=seen, longitudes=item.longitude_deg) -> bool:
            return bool(seen[grid_index(lat, lon, seen.shape[0], longitudes)])

        sees.time = item.time.isot
        functions[Path(path).name] = sees
    return functions


def _shown(value: Any, form: str = "{:.2f}") -> str:
    return "-" if value is None else form.format(value)


def scores_table(scores: dict[str, Any]) -> str:
    """The scores of :func:`score` as Markdown: one row per flux class, then the arrivals
    and the far side / HMI comparison."""
    lines = ["| flux class | truths | POD | detections | FAR | position error (deg) | "
             "flux error (%) | flux bias (%) | 68 % coverage |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, item in scores["classes"].items():
        lines.append(
            f"| {name} Mx | {item['truths']} | {_shown(item['probability_of_detection'])} | "
            f"{item['detections']} | {_shown(item['false_alarm_ratio'])} | "
            f"{_shown(item['position_error_deg_median'], '{:.1f}')} | "
            f"{_shown(item['flux_error_percent_median'], '{:.0f}')} | "
            f"{_shown(item['flux_bias_percent_median'], '{:+.0f}')} | "
            f"{_shown(item['flux_coverage_68'])} |")
    if scores.get("side", "far") == "far":
        arrivals = scores["arrivals"]
        lines.append(
            f"arrivals: {arrivals['forecasts']} forecasts, {arrivals['verified']} verified against "
            f"the truth, median |error| {_shown(arrivals['abs_error_hours_median'], '{:.1f}')} h; "
            "by lead: " + ", ".join(
                f"{key} {_shown(value['abs_error_hours_median'], '{:.1f}')} h ({value['forecasts']})"
                for key, value in arrivals["by_lead"].items()))
        far = arrivals["far_vs_hmi"]
        lines.append(f"far side then HMI (same track): {far['pairs']} pairs, flux ratio median "
                     f"{_shown(far['flux_ratio_median'])}, log-flux CC {_shown(far['log_flux_cc'])}")
    return "\n".join(lines)

