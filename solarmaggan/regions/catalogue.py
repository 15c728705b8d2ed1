"""A tracked catalogue of active regions and their east-limb arrival forecasts
(``solarmaggan regions FILES --out DIR``), from line-of-sight magnetograms of any observer
(observed HMI, AI far side with SAMPLES or UNCERTAINTY, toy-Sun truth) and full-Sun
Carrington CEA maps (synchronic, assimilated, truth).

1. **Detection** (:mod:`solarmaggan.regions.detection`) on each input's B_r on the
   Carrington CEA grid. An AI input with SAMPLES is detected again on each sample:
   ``detection_probability`` is the fraction of samples with a region whose centroid lies
   in the region's footprint, and ``flux_lo_mx`` / ``flux_hi_mx`` the flux of the mean
   image minus / plus the distance of the 16th / 84th percentile of the samples' unsigned
   flux over the footprint from their median (raw, not yet calibrated on a validation
   split: the samples' own sums lie above the mean image's, their noise adds ``|B|``).
   With UNCERTAINTY only: flux -+ sum(sigma dA) (errors taken as fully correlated),
   probability 1. Observed inputs and full-Sun maps: the range is the flux itself,
   probability 1. With a flux calibration (``--flux-calibration FILE``: the JSON of
   :func:`solarmaggan.uncertainty.fit_flux_calibration`, fitted on the validation split's
   regions by :func:`fit_region_calibration`) the range of every AI input (one with
   SAMPLES or UNCERTAINTY) is the calibrated one instead: flux x exp(the fitted bounds on
   ln(true / detected flux)).
2. **Tracking** (:func:`track`): inputs in time order, one (time, observer) at a time;
   each live track (seen within ``MAX_GAP_DAYS``) is predicted to the new time by the
   differential rotation at its latitude (sunpy's Howard et al. 1990 profile, the one of
   the toy Sun, the synchronic maps and the SFT: :func:`data_prep.toysun.evolution.
   carrington_drift_deg_per_day`), and detections are assigned to predictions by the
   smallest total distance (scipy's ``linear_sum_assignment``) within the gate
   ``GATE_DEG``; an unassigned detection starts a new track. ``region_id`` is the track's.
3. **Arrivals** (:func:`arrival_forecast`): at each time a track is seen on the side of
   the Sun Earth does not see (Stonyhurst longitude beyond +-90 deg), a forecast from its
   history up to then (so ``arrivals.csv`` holds the forecast issued at each far-side
   sighting, ``last_seen_time``; the latest per region is the current one): the first time its
   centroid, carried by the rotation at its latitude, reaches Stonyhurst longitude -90 deg
   (Earth's east limb; sunpy's L0 for Earth's view), and its flux then: the last flux
   times exp(-lead / tau), tau fitted to the track's flux history (log-linear, at least
   two sightings 2 days apart, decaying), else the last flux (persistence).

Outputs (each atomic): ``DIR/regions.csv`` (:data:`REGION_COLUMNS`), ``DIR/arrivals.csv``
(:data:`ARRIVAL_COLUMNS`), ``DIR/regions.json`` (settings, inputs, tracks). No TensorFlow.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from data_prep.fitsio import FitsInputError
from data_prep.geometry import full_sun_longitudes_deg, full_sun_pixel_area_cm2
from data_prep.scheduler import add_scheduler_argument, open_scheduler
from data_prep.toysun.region_truth import csv_text
from solarmaggan.regions.detection import DetectedRegion, DetectionSettings, detect_regions, grid_index
from solarmaggan.uncertainty import calibrated_flux_range

REGION_COLUMNS = ("region_id", "time", "observer", "carrington_lon_deg", "carrington_lat_deg",
                  "stonyhurst_lon_deg", "stonyhurst_lat_deg", "area_msh", "flux_mx", "flux_lo_mx",
                  "flux_hi_mx", "leading_polarity", "tilt_deg", "detection_probability",
                  "source_file")
ARRIVAL_COLUMNS = ("region_id", "last_seen_time", "predicted_arrival_time", "carrington_lat_deg",
                   "flux_mx", "flux_lo_mx", "flux_hi_mx")
#: A track is continued by a detection within this distance (deg) of its prediction.
GATE_DEG = 10.0
#: A track not seen for this long (days) is closed.
MAX_GAP_DAYS = 27.0
#: Earth's east limb (Stonyhurst longitude, deg).
EAST_LIMB_DEG = -90.0
#: Arrival times are searched this far ahead (days) in steps of SEARCH_STEP_HOURS.
SEARCH_DAYS = 30.0
SEARCH_STEP_HOURS = 1.0
#: The decay time is fitted to sightings spanning at least this (days).
MIN_HISTORY_DAYS = 2.0


@dataclasses.dataclass
class Gridded:
    """One input on the CEA grid: B_r (nlat, nlon) (G, NaN where not seen), its samples
    (N, nlat, nlon) or sigma (nlat, nlon) (G) where it has them, time, observer label,
    the grid's Carrington longitudes (nlon,) (deg)."""

    path: Path
    time: Any
    observer: str
    br_gauss: np.ndarray
    longitude_deg: np.ndarray
    samples_gauss: np.ndarray | None = None
    sigma_gauss: np.ndarray | None = None


def _is_full_sun(header) -> bool:
    return str(header.get("CTYPE1", "")).upper().startswith("CRLN")


def check_region_input(path: str | os.PathLike):
    """The header of one input, checked: a full-Sun Carrington map, or a helioprojective
    line-of-sight magnetogram with observer keywords and a time (FitsInputError naming
    the file otherwise)."""
    from data_prep.fitsio import read_header
    from solarmaggan.fullsun.synchronic import check_input

    if not Path(path).is_file():
        raise FitsInputError(f"{path}: no such file")
    header = read_header(path)
    if _is_full_sun(header):
        return header
    return check_input(path)


def grid_input(path: str | os.PathLike, settings: DetectionSettings,
               clip_gauss: tuple[float, float] | None = None) -> Gridded:
    """One input on the CEA grid (full-Sun maps as they are). ``clip_gauss``: a
    line-of-sight input's field (G) is clipped to (low, high) first, as a generated file's
    CLIPMIN / CLIPMAX clip the truth it is compared with."""
    import sunpy.map
    from astropy.time import Time

    from data_prep.geometry import full_sun_header
    from solarmaggan.fullsun.synchronic import input_on_grid, quiet, read_input
    from solarmaggan.fullsun.transport import read_full_sun_map

    header = check_region_input(path)
    if _is_full_sun(header):
        full_sun = read_full_sun_map(path)
        time = Time(full_sun.date).utc
        return Gridded(Path(path), time, "full-Sun map", np.asarray(full_sun.data, dtype=np.float64),
                       full_sun_longitudes_deg(full_sun.fits_header))
    item = read_input(path)
    if clip_gauss is not None:
        with quiet():
            item.map = sunpy.map.Map(np.clip(np.asarray(item.map.data, dtype=np.float64), *clip_gauss),
                                     item.map.meta)
    stack = item.layers.get("SAMPLES")
    if stack is None and "UNCERTAINTY" in item.layers:
        stack = item.layers["UNCERTAINTY"][None]
    grid_header = full_sun_header(item.time, settings.shape, "carrington")
    with quiet():
        grid = sunpy.map.Map(np.zeros(settings.shape), grid_header)
        coords = sunpy.map.all_coordinates_from_map(grid)
    br, extra, _ = input_on_grid(item, grid.wcs, coords, settings.mu_min, stack)
    if not np.isfinite(br).any():
        raise FitsInputError(f"{path}: covers no pixel of the grid with mu >= {settings.mu_min:g}")
    samples = extra if "SAMPLES" in item.layers else None
    sigma = extra[0] if extra is not None and samples is None else None
    observer = str(item.header.get("SRCOBS") or item.header.get("OBSRVTRY")
                   or item.header.get("TELESCOP") or item.instrument).strip()
    return Gridded(Path(path), item.time, observer, br, full_sun_longitudes_deg(grid_header),
                   samples, sigma)


def stonyhurst_longitude_deg(carrington_lon_deg: Any, time: Any) -> np.ndarray:
    """Stonyhurst longitude (deg, [-180, 180)) of Carrington longitudes at ``time`` (one
    or an array of astropy Times): Carrington minus sunpy's L0 (Earth's view)."""
    from sunpy.coordinates import sun

    offset = np.asarray(sun.L0(time).to_value("deg"))
    return (np.asarray(carrington_lon_deg) - offset + 180.0) % 360.0 - 180.0


def read_flux_calibration(path: str | os.PathLike) -> dict[str, Any]:
    """A region-flux calibration (the JSON of
    :func:`solarmaggan.uncertainty.fit_flux_calibration`), checked; ValueError "PATH:
    problem" otherwise."""
    import json

    try:
        record = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file (a flux calibration JSON expected)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a flux calibration JSON ({err})") from None
    bounds = [record.get(key) if isinstance(record, dict) else None
              for key in ("log_ratio_low", "log_ratio_high")]
    if not all(isinstance(value, (int, float)) and math.isfinite(value) for value in bounds) \
            or bounds[0] > bounds[1]:
        raise ValueError(f"{path}: needs numbers log_ratio_low <= log_ratio_high (the bounds on "
                         f"ln(true / detected flux)), got {bounds}")
    return record


def _region_rows(item: Gridded, settings: DetectionSettings,
                 flux_calibration: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    regions = detect_regions(item.br_gauss, item.longitude_deg, settings)
    area = full_sun_pixel_area_cm2(item.br_gauss.shape)
    sample_regions = ([detect_regions(sample, item.longitude_deg, settings) for sample in item.samples_gauss]
                      if item.samples_gauss is not None else None)
    rows = []
    for region in regions:
        flux, low, high, probability = region.flux_mx, region.flux_mx, region.flux_mx, 1.0
        if sample_regions is not None:
            fluxes = np.nansum(np.abs(item.samples_gauss[:, region.footprint]), axis=1) * area
            # the samples' spread about their median, about the mean image's flux (the
            # samples' own ``|B|`` sums carry their noise: they lie above the mean's)
            low, middle, high = np.percentile(fluxes, [15.865, 50.0, 84.135])
            low, high = max(flux - float(middle - low), 0.0), flux + float(high - middle)
            probability = float(np.mean([_found(region, found, item.longitude_deg) for found in sample_regions]))
        elif item.sigma_gauss is not None:
            spread = float(np.nansum(item.sigma_gauss[region.footprint])) * area
            low, high = max(flux - spread, 0.0), flux + spread
        if flux_calibration is not None and (sample_regions is not None or item.sigma_gauss is not None):
            low, high = calibrated_flux_range(flux, flux_calibration)
        rows.append({
            "time": item.time.isot, "observer": item.observer,
            "carrington_lon_deg": region.carrington_lon_deg, "carrington_lat_deg": region.carrington_lat_deg,
            "stonyhurst_lon_deg": float(stonyhurst_longitude_deg(region.carrington_lon_deg, item.time)),
            "stonyhurst_lat_deg": region.carrington_lat_deg, "area_msh": region.area_msh,
            "flux_mx": flux, "flux_lo_mx": low, "flux_hi_mx": high,
            "leading_polarity": region.leading_polarity, "tilt_deg": region.tilt_deg,
            "detection_probability": probability, "source_file": item.path.name})
    return rows


def _found(region: DetectedRegion, candidates: Sequence[DetectedRegion], longitude_deg: np.ndarray) -> bool:
    """Whether one of ``candidates`` has its centroid inside ``region``'s footprint."""
    rows = region.footprint.shape[0]
    return any(region.footprint[grid_index(candidate.carrington_lat_deg, candidate.carrington_lon_deg,
                                           rows, longitude_deg)] for candidate in candidates)


def angular_distance_deg(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> np.ndarray:
    """Great-circle distance (deg) between positions (deg), broadcast."""
    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(value, dtype=np.float64)) for value in (lat1, lon1, lat2, lon2))
    cosine = np.sin(lat1) * np.sin(lat2) + np.cos(lat1) * np.cos(lat2) * np.cos(lon1 - lon2)
    return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))


def predicted_longitude_deg(carrington_lon_deg: Any, carrington_lat_deg: Any, days: Any) -> np.ndarray:
    """Carrington longitude (deg, [0, 360)) of a feature ``days`` later, carried by the
    differential rotation at its latitude."""
    from data_prep.toysun.evolution import carrington_drift_deg_per_day

    return (np.asarray(carrington_lon_deg) + carrington_drift_deg_per_day(carrington_lat_deg)
            * np.asarray(days)) % 360.0


def track(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` (detections, with ``time`` ISO) with ``region_id`` set by tracking (module
    docstring, step 2), in time order."""
    from astropy.time import Time
    from scipy.optimize import linear_sum_assignment

    ordered = sorted(rows, key=lambda row: (row["time"], row["observer"]))
    tracks: list[dict[str, Any]] = []  # last lat, lon, time (jd)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in ordered:
        groups.setdefault((row["time"], row["observer"]), []).append(row)
    for (time, _), detections in groups.items():
        now = float(Time(time).jd)
        live = [number for number, item in enumerate(tracks) if now - item["jd"] <= MAX_GAP_DAYS]
        cost = np.full((len(detections), len(live)), np.inf)
        for column, number in enumerate(live):
            item = tracks[number]
            longitude = predicted_longitude_deg(item["lon"], item["lat"], now - item["jd"])
            cost[:, column] = angular_distance_deg([row["carrington_lat_deg"] for row in detections],
                                         [row["carrington_lon_deg"] for row in detections],
                                         item["lat"], longitude)
        assigned = {}
        if live:
            gated = np.where(cost <= GATE_DEG, cost, 1e6)
            for row_index, column in zip(*linear_sum_assignment(gated)):
                if gated[row_index, column] < 1e6:
                    assigned[row_index] = live[column]
        for index, row in enumerate(detections):
            if index not in assigned:
                tracks.append({"id": f"R{len(tracks) + 1:04d}"})
                assigned[index] = len(tracks) - 1
            item = tracks[assigned[index]]
            item.update(lat=row["carrington_lat_deg"], lon=row["carrington_lon_deg"], jd=now)
            row["region_id"] = item["id"]
    return ordered


def decay_rate_per_day(history: Sequence[dict[str, Any]]) -> float:
    """d ln(flux) / dt (per day) fitted to a track's sightings (least squares), 0 when
    they span less than MIN_HISTORY_DAYS or the flux does not decay."""
    from astropy.time import Time

    days = np.array([float(Time(row["time"]).jd) for row in history])
    flux = np.array([row["flux_mx"] for row in history])
    use = flux > 0
    if use.sum() < 2 or np.ptp(days[use]) < MIN_HISTORY_DAYS:
        return 0.0
    slope = float(np.polyfit(days[use], np.log(flux[use]), 1)[0])
    return min(slope, 0.0)


def arrival_time(carrington_lon_deg: float, carrington_lat_deg: float, time: Any):
    """The first time after ``time`` at which a feature at the given Carrington position,
    carried by the differential rotation, reaches Earth's east limb (Stonyhurst -90 deg),
    to a minute (linear interpolation between hourly steps); None within SEARCH_DAYS."""
    import astropy.units as u
    from astropy.time import Time

    start = Time(time).utc
    hours = np.arange(0.0, SEARCH_DAYS * 24.0 + SEARCH_STEP_HOURS, SEARCH_STEP_HOURS)
    times = start + hours * u.hour
    longitude = predicted_longitude_deg(carrington_lon_deg, carrington_lat_deg, hours / 24.0)
    # the distance past the east limb, in [-180, 180): crosses 0 going up at the arrival
    past = (stonyhurst_longitude_deg(longitude, times) - EAST_LIMB_DEG + 180.0) % 360.0 - 180.0
    crossing = np.flatnonzero((past[:-1] < 0) & (past[1:] >= 0) & (past[1:] - past[:-1] < 90.0))
    if crossing.size == 0:
        return None
    k = int(crossing[0])
    fraction = -past[k] / (past[k + 1] - past[k])
    return times[k] + fraction * SEARCH_STEP_HOURS * u.hour


def arrival_forecast(history: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The arrival forecast (:data:`ARRIVAL_COLUMNS`) of one track from its sightings
    ``history`` (time order), if it was last seen beyond Earth's limbs, else None."""
    from astropy.time import Time

    last = history[-1]
    if abs(last["stonyhurst_lon_deg"]) <= 90.0:
        return None
    arrival = arrival_time(last["carrington_lon_deg"], last["carrington_lat_deg"], last["time"])
    if arrival is None:
        return None
    lead = float(arrival.jd - Time(last["time"]).jd)
    factor = math.exp(decay_rate_per_day(history) * lead)
    return {"region_id": last["region_id"], "last_seen_time": last["time"],
            "predicted_arrival_time": arrival.isot, "carrington_lat_deg": last["carrington_lat_deg"],
            "flux_mx": last["flux_mx"] * factor, "flux_lo_mx": last["flux_lo_mx"] * factor,
            "flux_hi_mx": last["flux_hi_mx"] * factor}


def far_side_forecasts(tracked: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The forecasts issued at every far-side sighting of every track (the history up to
    that time; at one time the sighting with the most flux)."""
    forecasts = []
    for history in tracked.values():
        times = sorted({row["time"] for row in history})
        for time in times:
            upto = [row for row in history if row["time"] <= time]
            now = max((row for row in upto if row["time"] == time), key=lambda row: row["flux_mx"])
            forecast = arrival_forecast([*(row for row in upto if row is not now), now])
            if forecast:
                forecasts.append(forecast)
    return forecasts


def histories(rows: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Tracked rows by ``region_id``, each in time order."""
    by_id: dict[str, list[dict[str, Any]]] = {}
    for row in sorted(rows, key=lambda row: row["time"]):
        by_id.setdefault(row["region_id"], []).append(row)
    return by_id


def file_rows(path: str | os.PathLike, settings: DetectionSettings,
              flux_calibration: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The detections of one input file (step 1 of the module docstring): one task of a
    :func:`catalogue` run on a Dask cluster."""
    return _region_rows(grid_input(path, settings), settings, flux_calibration)


def catalogue(inputs: Sequence[str | os.PathLike], out: str | os.PathLike,
              settings: DetectionSettings = DetectionSettings(), progress: bool = True,
              flux_calibration: dict[str, Any] | None = None, scheduler: str = "processes",
              workers: int | None = None) -> dict[str, Any]:
    """Detect, track and forecast (module docstring); write the CSVs and ``regions.json``
    into ``out``. ``flux_calibration``: the calibrated range of AI inputs (module
    docstring, step 1). Every input and setting is checked before anything is written.

    ``scheduler`` (:mod:`data_prep.scheduler`): where the files are detected, one task a
    file, by ``workers`` processes (default: 1, this process, with ``processes``; all
    cores for a local Dask cluster) or a Dask cluster's workers; tracking and
    forecasts then run here on the detections in input order, so the catalogue is the
    same whatever the scheduler."""
    from data_prep.atomic import atomic_path, write_json_atomically
    from data_prep.progress import Progress

    problems = settings.check()
    if problems:
        raise ValueError("; ".join(problems))
    if not inputs:
        raise ValueError("no input files given")
    for path in inputs:
        check_region_input(path)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: exists and is not a folder")
    rows: list[dict[str, Any]] = []
    with open_scheduler(scheduler, workers, processes_default=1) as runner:
        bar = Progress(len(inputs), "regions", unit="files", enabled=progress, every=1)
        for found in runner.map(file_rows, [(path, settings, flux_calibration) for path in inputs]):
            rows.extend(found)
            bar.update()
        bar.close()
    rows = track(rows)
    tracked = histories(rows)
    arrivals = sorted(far_side_forecasts(tracked), key=lambda row: (row["last_seen_time"], row["region_id"]))
    out.mkdir(parents=True, exist_ok=True)
    for name, table, columns in (("regions.csv", rows, REGION_COLUMNS), ("arrivals.csv", arrivals, ARRIVAL_COLUMNS)):
        with atomic_path(out / name) as temporary:
            Path(temporary).write_text(csv_text(table, columns))
    record = {"settings": dataclasses.asdict(settings), "inputs": [str(path) for path in inputs],
              "detections": len(rows), "tracks": len(tracked), "arrivals": len(arrivals),
              "gate_deg": GATE_DEG, "max_gap_days": MAX_GAP_DAYS,
              "flux_range": "calibrated" if flux_calibration else "raw",
              "flux_calibration": flux_calibration}
    write_json_atomically(out / "regions.json", record)
    return record


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``solarmaggan regions`` arguments."""
    defaults = DetectionSettings()
    parser.add_argument("files", nargs="*", help="line-of-sight magnetogram FITS files (HMI, AI far "
                        "side with SAMPLES or UNCERTAINTY, truth) and full-Sun Carrington CEA maps")
    parser.add_argument("--out", required=True, help="output folder (regions.csv, arrivals.csv)")
    parser.add_argument("--threshold", type=float, default=defaults.threshold_gauss, metavar="GAUSS",
                        help=f"core threshold on the smoothed ``|B_r|`` (default {defaults.threshold_gauss:g} G)")
    parser.add_argument("--min-area", type=float, default=defaults.min_area_msh, metavar="MSH",
                        help=f"smallest core area (default {defaults.min_area_msh:g} msh)")
    parser.add_argument("--shape", type=int, nargs=2, default=defaults.shape, metavar=("NLAT", "NLON"),
                        help="the CEA grid line-of-sight inputs are put on (default 180 360)")
    parser.add_argument("--mu-min", type=float, default=defaults.mu_min,
                        help=f"line-of-sight pixels used where mu >= this (default {defaults.mu_min:g})")
    parser.add_argument("--flux-calibration", default=None, metavar="JSON",
                        help="a region-flux calibration (fitted on the validation split: "
                             "scripts/regions_scores.py --calibrate-on); the 68 %% range of AI "
                             "inputs is then the calibrated one")
    add_scheduler_argument(parser)
    parser.add_argument("--workers", type=int, default=None,
                        help="processes detecting files in parallel, local or of a --scheduler "
                             "dask cluster (default: 1 with processes, all cores with dask)")
    parser.add_argument("--quiet", action="store_true", help="no progress, no summary line")


def run(args: argparse.Namespace) -> int:
    """Run ``solarmaggan regions`` (ValueError / FitsInputError for bad inputs)."""
    settings = DetectionSettings(threshold_gauss=args.threshold, min_area_msh=args.min_area,
                                 shape=tuple(args.shape), mu_min=args.mu_min)
    calibration = read_flux_calibration(args.flux_calibration) if args.flux_calibration else None
    record = catalogue(args.files, args.out, settings, progress=not args.quiet,
                       flux_calibration=calibration, scheduler=args.scheduler,
                       workers=args.workers)
    if not args.quiet:
        print(f"wrote {Path(args.out) / 'regions.csv'} ({record['detections']} detections, "
              f"{record['tracks']} tracked regions) and {Path(args.out) / 'arrivals.csv'} "
              f"({record['arrivals']} arrival forecasts)")
    return 0
