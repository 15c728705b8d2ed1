"""Temporal coherence ("flicker") of magnetogram sequences (issue 31, part 6).

A generated far-side sequence should change from one frame to the next about as much as
the Sun does, no more: independent errors in each frame make it flicker. The measure:

1. Each map is B_r (G) on a Carrington CEA grid (rows equal steps in sine latitude from
   -1 to 1, columns Carrington longitude; NaN where not seen). Line-of-sight files are put
   on it by :func:`solarmaggan.regions.catalogue.grid_input` (B_r = B_los / mu where
   mu >= ``DetectionSettings.mu_min``).
2. For two consecutive frames of one observer, ``days`` apart, the earlier map is carried
   forward by differential rotation (:func:`rotate_to`: each row shifted in Carrington
   longitude by :func:`data_prep.toysun.evolution.carrington_drift_deg_per_day` x
   ``days``, sunpy's Howard et al. 1990 profile minus the Carrington rate, as the
   catalogue's tracking does), and the change is the rms of ``later - rotated earlier``.
3. The generated change and the truth's own change are taken on the same pixels: those
   finite in all four maps (generated earlier rotated and later, truth earlier rotated
   and later). CEA pixels have equal areas, so the rms is a plain mean.
4. Over many pairs: ``ratio = sqrt(sum(gen_rms^2 pixels) / sum(truth_rms^2 pixels))``,
   the pixel-weighted ratio of the generated change to the truth's. The target is
   ``ratio <= TARGET_RATIO`` (1.2). A ratio well below 1 means the generated sequence
   changes less than the Sun does (e.g. it misses emergence and decay); the target does
   not penalise that.

Pairs more than ``max_gap_days`` apart (default :data:`MAX_GAP_DAYS`) are skipped and
counted: over long gaps the Sun's own evolution dominates and the measure says little.

No TensorFlow.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from data_prep.geometry import full_sun_latitudes_deg
from solarmaggan.regions.detection import DetectionSettings

#: The generated change may be at most this many times the truth's own change.
TARGET_RATIO = 1.2
#: Consecutive frames farther apart than this (days) are not compared.
MAX_GAP_DAYS = 15.0


def rotate_to(br_gauss: np.ndarray, longitude_deg: np.ndarray, days: float) -> np.ndarray:
    """A Carrington CEA map carried ``days`` forward by differential rotation.

    Args:
        br_gauss: (nlat, nlon) B_r (G); rows equal steps in sine latitude from -1 (south)
            to 1, NaN where not seen.
        longitude_deg: (nlon,) Carrington longitudes (deg) of the columns, evenly spaced
            over 360 deg (increasing or decreasing).
        days: how far forward (days; negative carries the map back).

    Returns:
        (nlat, nlon) float64 map (G): row ``i`` at latitude ``arcsin(-1 + (i + 0.5) 2 / nlat)``
        shifted in Carrington longitude by ``carrington_drift_deg_per_day(lat) * days`` with
        periodic linear interpolation between the two nearest columns; a pixel is NaN where
        a column it uses is NaN.
    """
    from data_prep.toysun.evolution import carrington_drift_deg_per_day

    field = np.asarray(br_gauss, dtype=np.float64)
    longitude = np.asarray(longitude_deg, dtype=np.float64)
    if field.ndim != 2 or longitude.shape != (field.shape[1],):
        raise ValueError(f"need an (nlat, nlon) map and (nlon,) longitudes, got {field.shape} "
                         f"and {longitude.shape}")
    nlat, nlon = field.shape
    step = (longitude[-1] - longitude[0]) / (nlon - 1)
    if not math.isclose(abs(step) * nlon, 360.0, rel_tol=1e-6):
        raise ValueError(f"the longitudes must cover 360 deg in even steps, got {nlon} columns "
                         f"{step:g} deg apart")
    shifts_px = carrington_drift_deg_per_day(full_sun_latitudes_deg(nlat)) * float(days) / step
    rotated = np.empty_like(field)
    for row, shift in enumerate(shifts_px):
        # rotated[j] = field[j - shift]: between columns j - whole and j - whole - 1
        whole = math.floor(shift)
        fraction = shift - whole
        rotated[row] = np.roll(field[row], whole)
        if fraction > 0:
            rotated[row] = (1.0 - fraction) * rotated[row] + fraction * np.roll(field[row], whole + 1)
    return rotated


def _rms_change(rotated: np.ndarray, later: np.ndarray, use: np.ndarray) -> float:
    """rms (G) of ``later - rotated`` over the pixels ``use`` (NaN where none)."""
    if not use.any():
        return math.nan
    return float(np.sqrt(np.mean((later[use] - rotated[use]) ** 2)))


def frame_change(earlier: np.ndarray, later: np.ndarray, longitude_deg: np.ndarray,
                 days: float) -> dict[str, Any]:
    """The change from ``earlier`` to ``later`` (two (nlat, nlon) Carrington CEA maps of B_r
    in G, NaN where not seen, ``days`` apart) after differential-rotation compensation.

    Returns ``{"rms_gauss": rms of later - rotate_to(earlier, longitude_deg, days) (G; NaN
    where no pixel is finite in both), "pixels": the number of pixels finite in both,
    "days": days}``.
    """
    rotated = rotate_to(earlier, longitude_deg, days)
    later = np.asarray(later, dtype=np.float64)
    use = np.isfinite(rotated) & np.isfinite(later)
    return {"rms_gauss": _rms_change(rotated, later, use), "pixels": int(use.sum()),
            "days": float(days)}


def _summary(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Pixel-weighted rms changes and their ratio over pair ``records``."""
    pixels = sum(record["pixels"] for record in records)
    if not pixels:
        generated = truth = ratio = None
    else:
        generated = math.sqrt(sum(r["generated_rms_gauss"] ** 2 * r["pixels"] for r in records) / pixels)
        truth = math.sqrt(sum(r["truth_rms_gauss"] ** 2 * r["pixels"] for r in records) / pixels)
        ratio = generated / truth if truth > 0 else None
    return {"pairs": len(records),
            "median_cadence_days": float(np.median([r["days"] for r in records])) if records else None,
            "generated_rms_gauss": generated, "truth_rms_gauss": truth, "ratio": ratio,
            "target_ratio": TARGET_RATIO,
            "meets_target": ratio is not None and ratio <= TARGET_RATIO}


def map_sequence_flicker(maps: Sequence[np.ndarray], truths: Sequence[np.ndarray],
                         longitude_deg: np.ndarray, times: Sequence[Any],
                         mask: np.ndarray | None = None,
                         max_gap_days: float = MAX_GAP_DAYS) -> dict[str, Any]:
    """The flicker of a sequence of maps against the true maps of the same times.

    Args:
        maps: the generated (or assimilated, synchronic) maps, each (nlat, nlon) B_r (G) on
            a Carrington CEA grid (rows equal in sine latitude), NaN where not seen.
        truths: the true maps of the same times, in the same order, same shape.
        longitude_deg: (nlon,) Carrington longitudes (deg) of the columns.
        times: the maps' times (astropy Times, or anything ``astropy.time.Time`` takes);
            any order: the maps are compared in time order.
        mask: optional (nlat, nlon) bool, True where pixels may count (e.g. a latitude band).
        max_gap_days: consecutive maps farther apart than this (days) are skipped.

    Returns:
        JSON-able dict: ``pairs`` (compared pairs), ``median_cadence_days``,
        ``generated_rms_gauss`` and ``truth_rms_gauss`` (pixel-weighted rms changes, G),
        ``ratio`` (their ratio; None without pixels), ``target_ratio``, ``meets_target``,
        ``skipped_gaps`` (pairs farther apart than ``max_gap_days``), ``skipped_no_overlap``
        (pairs with no pixel finite in all four maps), ``max_gap_days`` and ``per_pair``:
        for each pair ``time_earlier``, ``time_later`` (ISO UTC), ``days``, ``pixels``,
        ``generated_rms_gauss``, ``truth_rms_gauss``, ``ratio``.
    """
    from astropy.time import Time

    if len(maps) != len(truths) or len(maps) != len(times):
        raise ValueError(f"need as many truths and times as maps, got {len(maps)} maps, "
                         f"{len(truths)} truths, {len(times)} times")
    times = Time(list(times)).utc
    order = np.argsort(times.jd, kind="stable")
    records: list[dict[str, Any]] = []
    skipped_gaps = skipped_no_overlap = 0
    for first, second in zip(order[:-1], order[1:]):
        days = float((times[second] - times[first]).jd)
        if days > max_gap_days:
            skipped_gaps += 1
            continue
        generated_rotated = rotate_to(maps[first], longitude_deg, days)
        truth_rotated = rotate_to(truths[first], longitude_deg, days)
        generated_later = np.asarray(maps[second], dtype=np.float64)
        truth_later = np.asarray(truths[second], dtype=np.float64)
        use = (np.isfinite(generated_rotated) & np.isfinite(generated_later)
               & np.isfinite(truth_rotated) & np.isfinite(truth_later))
        if mask is not None:
            use &= np.asarray(mask, dtype=bool)
        if not use.any():
            skipped_no_overlap += 1
            continue
        generated = _rms_change(generated_rotated, generated_later, use)
        truth = _rms_change(truth_rotated, truth_later, use)
        records.append({"time_earlier": times[first].isot, "time_later": times[second].isot,
                        "days": days, "pixels": int(use.sum()), "generated_rms_gauss": generated,
                        "truth_rms_gauss": truth, "ratio": generated / truth if truth > 0 else None})
    return {**_summary(records), "skipped_gaps": skipped_gaps,
            "skipped_no_overlap": skipped_no_overlap, "max_gap_days": float(max_gap_days),
            "per_pair": records}


def matched_truth_paths(generated: str | os.PathLike | Sequence[str | os.PathLike],
                        truth_dir: str | os.PathLike) -> tuple[dict[Path, Path], list[dict[str, str]]]:
    """``({generated file: its truth file}, unmatched)``: the generated files (a folder or
    files) matched with the truth folder's magnetograms (searched recursively) as
    ``solarmaggan evaluate`` matches them (:func:`solarmaggan.evaluate_fits.read_inputs`
    and :func:`~solarmaggan.evaluate_fits.match`: same observer, nearest in time within
    60 s); ``unmatched`` lists ``{"path", "reason"}`` for the others."""
    from solarmaggan.evaluate_fits import match, read_inputs

    found, truths, _ = read_inputs(generated, truth_dir)
    pairs, unmatched, _ = match(found, truths)
    return {item.path: truth.path for item, truth, _ in pairs}, unmatched


def sequence_flicker(generated_paths: str | os.PathLike | Sequence[str | os.PathLike],
                     truth_paths_for: str | os.PathLike | Mapping[Any, str | os.PathLike],
                     settings: DetectionSettings = DetectionSettings(),
                     max_gap_days: float = MAX_GAP_DAYS, clip_truth: bool = True) -> dict[str, Any]:
    """The flicker of generated line-of-sight magnetogram sequences against the truth.

    Args:
        generated_paths: the generated FITS files (``solarmaggan generate`` output), or
            their folder.
        truth_paths_for: the truth folder (e.g. a toy-Sun campaign's ``truth/``, searched
            recursively; each generated file gets the truth magnetogram of its view by
            :func:`matched_truth_paths`), or a mapping {generated path: truth path}
            (generated files missing from it are listed as unmatched).
        settings: the grid (``shape``) and ``mu_min`` of
            :func:`solarmaggan.regions.catalogue.grid_input`.
        max_gap_days: consecutive files of one observer farther apart are skipped.
        clip_truth: clip each truth file's line-of-sight field to its generated file's
            CLIPMIN / CLIPMAX before it goes on the grid (as ``solarmaggan evaluate``
            does: a generator trained on +-100 G targets cannot change by more).

    Each file goes on the Carrington CEA grid (B_r in G); the generated files are grouped
    by observer (``Gridded.observer``: SRCOBS, OBSRVTRY or TELESCOP) and each observer's
    sequence goes through :func:`map_sequence_flicker` with its truths.

    Returns:
        JSON-able dict: the overall summary (``pairs``, ``median_cadence_days``,
        ``generated_rms_gauss``, ``truth_rms_gauss``, ``ratio`` pixel-weighted over every
        pair of every observer, ``target_ratio``, ``meets_target``, ``skipped_gaps``,
        ``skipped_no_overlap``), ``by_observer`` ({observer: :func:`map_sequence_flicker`'s
        dict plus ``files``, the generated files in time order}), ``unmatched``
        (generated files without a truth, with the reason), ``grid`` (nlat, nlon) and
        ``mu_min``. ValueError when no generated file has a truth.
    """
    from data_prep.fitsio import read_header
    from solarmaggan.evaluate_fits import clip_range
    from solarmaggan.regions.catalogue import grid_input

    if isinstance(truth_paths_for, Mapping):
        from data_prep.pairing import require_fits_files

        given = {Path(key): Path(value) for key, value in truth_paths_for.items()}
        files = [Path(path) for path in require_fits_files(generated_paths, "generated magnetogram")]
        truth_of = {path: given[path] for path in files if path in given}
        unmatched = [{"path": str(path), "reason": f"{path}: not in the truth mapping"}
                     for path in files if path not in given]
    else:
        truth_of, unmatched = matched_truth_paths(generated_paths, truth_paths_for)
    if not truth_of:
        raise ValueError("no generated magnetogram has a truth file"
                         + "".join(f"\n{item['reason']}" for item in unmatched))
    sequences: dict[str, list[tuple[Any, Any]]] = {}
    for generated_path, truth_path in truth_of.items():
        generated = grid_input(generated_path, settings)
        clip = clip_range(read_header(generated_path)) if clip_truth else None
        sequences.setdefault(generated.observer, []).append(
            (generated, grid_input(truth_path, settings, clip_gauss=clip)))
    by_observer: dict[str, dict[str, Any]] = {}
    records: list[dict[str, Any]] = []
    for observer, items in sorted(sequences.items()):
        items.sort(key=lambda pair: pair[0].time.jd)
        result = map_sequence_flicker([g.br_gauss for g, _ in items], [t.br_gauss for _, t in items],
                                      items[0][0].longitude_deg, [g.time for g, _ in items],
                                      max_gap_days=max_gap_days)
        by_observer[observer] = {**result, "files": [str(g.path) for g, _ in items]}
        records.extend(result["per_pair"])
    return {**_summary(records),
            "skipped_gaps": sum(r["skipped_gaps"] for r in by_observer.values()),
            "skipped_no_overlap": sum(r["skipped_no_overlap"] for r in by_observer.values()),
            "max_gap_days": float(max_gap_days), "by_observer": by_observer,
            "unmatched": unmatched, "grid": list(settings.shape), "mu_min": settings.mu_min,
            "truth_clipped": bool(clip_truth)}
