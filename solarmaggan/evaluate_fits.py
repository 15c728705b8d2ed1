"""``solarmaggan evaluate --generated DIR --truth DIR``: generated magnetogram FITS files
against true ones, e.g. far-side magnetograms against the toy Sun's truth.

Inputs:
    * generated: the FITS files of ``solarmaggan generate`` (Gauss, the standard frame:
      north up, Sun centre at pixel ((n - 1) / 2, (n - 1) / 2), the input's observer and
      DATE-OBS; NaN or 0 G beyond the 0.98 R_sun mask; CLIPMIN / CLIPMAX);
    * truth (searched recursively): line-of-sight magnetograms in Gauss with a
      helioprojective WCS and the observer keywords (HGLN_OBS / HGLT_OBS or CRLN_OBS /
      CRLT_OBS, DSUN_OBS, DATE-OBS or T_OBS), on any detector (size, scale, pointing,
      roll), e.g. ``OUT/truth/<observer>/magnetogram/*.fits`` of a toy-Sun campaign. Files
      that are not helioprojective LOS magnetograms (Carrington maps, CTYPE CRLN-CEA; EUV
      images) are skipped and listed.

Matching: each generated file with the truth file of the same observer (Stonyhurst
direction within ``observer_tolerance_deg``, 0.01 deg, and distance within
``distance_tolerance``, 1e-4 relative) nearest in time within ``tolerance_s`` (60 s);
each truth file used once. Generated files without a partner are listed with the reason;
none matched is an error.

Same frame: the truth goes onto the generated file's frame through both WCSs with prep's
own resampling (:func:`data_prep.geometry.resample_to_frame`: block mean by the integer
part of the scale ratio, then bilinear), then prep's magnetogram mask (0 G beyond
0.98 R_sun, :func:`data_prep.prepare.finish_frame`), then the generated file's clip range
(CLIPMIN / CLIPMAX, as the HDF5 targets were clipped; ``clip_truth=False`` keeps the full
range). With the observers equal, the two frames differ only by a 2-D affine map of
helioprojective coordinates (scale, roll, pointing), so this is exact up to the
interpolation, and it is what a real magnetogram of the training data went through
(sunpy's ``reproject_to`` would transform every pixel through 3-D coordinates without the
anti-aliasing block mean). Pixels of the disk that the truth's detector does not cover are
left out of every metric, in both images (``truth_coverage`` says which fraction of the
disk counted).

The metrics, figures and report are the HDF5 mode's (:mod:`solarmaggan.evaluate`):
:func:`solarmaggan.metrics.compare_magnetograms` on the disk (``disk_fraction``, default
:data:`data_prep.geometry.DISK_RSUN`, 0.95 R_sun), the pixel area from the generated
header (CDELT1, DSUN_OBS), SSIM and figures on the +-CLIPMAX scale. Output in ``out``:
``report.json`` (settings with ``mode`` "fits", ``per_image``: one entry a pair with the
generated and truth files, observer, times and metrics, ``aggregate``, ``unmatched``,
``truth_unused``, ``truth_skipped``, and the far-side accuracy by observer and by the
observer's distance from the Sun: ``by_observer`` ({observer: n_images, mean dsun_au,
pixel CC, binned CC, RMSE, ...}; :func:`observer_group`) and ``by_distance`` (the same for
the bins :data:`DISTANCE_BINS_AU`: Solar Orbiter sees the Sun from 0.28-1 au, at 1 to 3.5
times the resolution of a 1-au imager)), ``scatter.png``, ``flux.png``, ``examples.png``
(generated | truth | difference).

This module imports TensorFlow only inside :func:`evaluate_fits`; :func:`read_inputs`
checks the folders and headers without it.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import re
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from data_prep.fitsio import (FitsInputError, check_observer, is_los_magnetogram,
                              observation_time, read_header)
from data_prep.geometry import DISK_RSUN, radial_distance, resample_to_frame
from data_prep.pairing import FITS_SUFFIXES, require_fits_files
from data_prep.prepare import DEFAULT_MASK_RADIUS_RSUN, finish_frame, solar_radius_arcsec
from data_prep.progress import Progress

TOLERANCE_S = 60.0
OBSERVER_TOLERANCE_DEG = 0.01
DISTANCE_TOLERANCE = 1e-4
MASK_RSUN = DEFAULT_MASK_RADIUS_RSUN["hmi"]  # 0.98, as prep masks magnetograms
AU_M = 149_597_870_700.0
#: Edges (au) of the observer-distance bins of ``report["by_distance"]``: Solar Orbiter's
#: perihelia (0.28-0.4 au), its inner orbit, and the 1-au imagers (STEREO, SDO)
DISTANCE_BINS_AU = (0.0, 0.4, 0.6, 0.8, 1.2, math.inf)
#: The aggregate metrics reported per group (observer, distance bin)
GROUP_METRICS = ("pixel_cc_mean", "pixel_cc_median", "pixel_cc_binned_mean", "rmse_gauss_mean",
                 "mae_gauss_mean", "ssim_mean", "flux_cc", "coverage_1sigma_mean")
RESAMPLING = ("truth onto the generated frame through both WCSs: block mean by the integer "
              "scale ratio, then bilinear (data_prep.geometry.resample_to_frame, as prep); "
              "prep's magnetogram mask; disk pixels outside the truth's detector left out")


@dataclasses.dataclass
class Magnetogram:
    """A magnetogram file's header facts: time, observer (Stonyhurst longitude and
    latitude in degrees, distance in metres) and the observer's name where known."""

    path: Path
    time: Any  # astropy Time
    lon_deg: float
    lat_deg: float
    distance_m: float
    name: str
    header: Any = dataclasses.field(repr=False, default=None)
    #: generated files: (pixels a side, arcsec a pixel, solar radius in pixels)
    frame: tuple[int, float, float] | None = None

    def observer(self) -> dict[str, Any]:
        return {"name": self.name, "hgln_deg": self.lon_deg, "hglt_deg": self.lat_deg,
                "dsun_au": self.distance_m / AU_M}


def observer_group(record: dict[str, Any]) -> str:
    """The observer a per-image record belongs to, folder-style: the source's OBSRVTRY
    ("STEREO_A" -> "stereo-a", "Solar Orbiter" -> "solar-orbiter"); observers without a
    name (or the toy Sun's "SYNTHETIC" spacecraft) by their Stonyhurst position to the
    degree and 0.01 au, e.g. "hgs+150+4-0.42au"."""
    observer = record["observer"]
    label = re.sub(r"[^a-z0-9.]+", "-", str(observer["name"]).strip().lower()).strip("-")
    if label and label != "synthetic":
        return label
    return f"hgs{observer['hgln_deg']:+.0f}{observer['hglt_deg']:+.0f}-{observer['dsun_au']:.2f}au"


def distance_bin(distance_au: float) -> str:
    """The :data:`DISTANCE_BINS_AU` bin of an observer distance, e.g. "0.8-1.2 au"."""
    for low, high in zip(DISTANCE_BINS_AU[:-1], DISTANCE_BINS_AU[1:]):
        if low <= distance_au < high:
            return f"{low:g}-{high:g} au" if math.isfinite(high) else f">= {low:g} au"
    raise ValueError(f"observer distance {distance_au} au is not a positive number")


def group_scores(records: list[dict[str, Any]], key) -> dict[str, dict[str, Any]]:
    """{group: the :data:`GROUP_METRICS` of its records' aggregate, with ``n_images`` and the
    observers' mean distance ``dsun_au``} for the groups ``key(record)`` makes, in order
    of first appearance."""
    from solarmaggan.metrics import aggregate

    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(key(record), []).append(record)
    table = {}
    for name, members in groups.items():
        scores = aggregate(members)
        table[name] = {"n_images": len(members),
                       "dsun_au": float(np.mean([m["observer"]["dsun_au"] for m in members])),
                       **{metric: scores[metric] for metric in GROUP_METRICS if metric in scores}}
    return table


def fits_files_below(folder: str | os.PathLike, what: str) -> list[Path]:
    """The FITS files (:data:`data_prep.pairing.FITS_SUFFIXES`) in ``folder`` and its
    subfolders, hidden ones skipped, sorted; FileNotFoundError naming the folder when it
    is missing or holds none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder ({what} expected)"
                                if not folder.exists() else f"{folder}: not a folder")
    found = sorted(path for path in folder.rglob("*")
                   if path.is_file() and path.name.lower().endswith(FITS_SUFFIXES)
                   and not any(part.startswith(".") for part in path.relative_to(folder).parts))
    if not found:
        raise FileNotFoundError(f"{folder}: no FITS file in the folder or below ({what} "
                                "expected)")
    return found


def magnetogram_problem(header) -> str | None:
    """Why a header is not a helioprojective line-of-sight magnetogram, or None."""
    ctypes = [str(header.get(f"CTYPE{axis}", "")).strip().upper() for axis in (1, 2)]
    if not (ctypes[0].startswith("HPLN") and ctypes[1].startswith("HPLT")):
        return (f"not a helioprojective image (CTYPE1 = {ctypes[0] or 'none'}, "
                f"CTYPE2 = {ctypes[1] or 'none'})")
    content = str(header.get("CONTENT", "")).upper()
    if not is_los_magnetogram(header) or any(word in content for word in ("RADIAL", "VECTOR")):
        return (f"not a line-of-sight magnetogram (BUNIT = {header.get('BUNIT')!r}, "
                f"CONTENT = {header.get('CONTENT')!r})")
    return None


def describe(path: Path, header) -> Magnetogram:
    """The :class:`Magnetogram` of a checked header; FitsInputError naming the file when it
    is not a helioprojective LOS magnetogram with an observer and a time."""
    name = str(path)
    problem = magnetogram_problem(header)
    if problem:
        raise FitsInputError(f"{name}: {problem}")
    check_observer(header, name)
    time = observation_time(header, name)
    try:
        distance = float(header["DSUN_OBS"])
        if "HGLN_OBS" in header and "HGLT_OBS" in header:
            lon, lat = float(header["HGLN_OBS"]), float(header["HGLT_OBS"])
        else:  # Carrington: to Stonyhurst at the observation time
            import astropy.units as u
            from astropy.coordinates import SkyCoord
            from sunpy.coordinates import frames

            stonyhurst = SkyCoord(
                float(header["CRLN_OBS"]) * u.deg, float(header["CRLT_OBS"]) * u.deg,
                distance * u.m, frame=frames.HeliographicCarrington(observer="self",
                                                                   obstime=time),
            ).transform_to(frames.HeliographicStonyhurst(obstime=time))
            lon, lat = stonyhurst.lon.to_value(u.deg), stonyhurst.lat.to_value(u.deg)
    except (TypeError, ValueError) as err:
        raise FitsInputError(f"{name}: unusable observer keywords ({err})") from None
    if not (math.isfinite(lon) and math.isfinite(lat) and distance > 0):
        raise FitsInputError(f"{name}: unusable observer position ({lon}, {lat}, {distance})")
    label = next((str(header[key]).strip() for key in ("SRCOBS", "OBSRVTRY", "TELESCOP")
                  if str(header.get(key, "")).strip()), "")
    return Magnetogram(path, time, lon, lat, distance, label, header)


def read_inputs(
    generated: str | os.PathLike | Sequence[str | os.PathLike],
    truth: str | os.PathLike,
) -> tuple[list[Magnetogram], list[Magnetogram], list[dict[str, str]]]:
    """Headers of the generated files (a folder, not recursive, or files) and of the truth
    folder (recursive); no TensorFlow.

    Returns ``(generated, truth, skipped)``: the generated and true magnetograms, and the
    truth folder's other files as ``{"path", "reason"}``. Raises FileNotFoundError for a
    missing folder or one without FITS files, and ValueError (one line a file) for an
    unreadable FITS file or a generated file that is not a magnetogram with an observer on
    the standard frame."""
    sources = [generated] if isinstance(generated, (str, os.PathLike)) else list(generated)
    generated_paths = [Path(p) for p in require_fits_files(sources, "generated magnetogram")]
    truth_paths = fits_files_below(truth, "true magnetogram FITS files")
    problems: list[str] = []
    found: list[Magnetogram] = []
    for path in generated_paths:
        try:
            item = describe(path, _quiet_header(path))
            item.frame = frame_geometry(item.header, str(path))
            found.append(item)
        except FitsInputError as err:
            problems.append(str(err))
    truths: list[Magnetogram] = []
    skipped: list[dict[str, str]] = []
    for path in truth_paths:
        try:
            header = _quiet_header(path)
        except FitsInputError as err:
            problems.append(str(err))
            continue
        try:
            truths.append(describe(path, header))
        except FitsInputError as err:
            skipped.append({"path": str(path), "reason": str(err)})
    if problems:
        raise FitsInputError("\n".join(problems))
    return found, truths, skipped


def _quiet_header(path: Path):
    """:func:`read_header` without astropy's warnings (a truncated file is reported once,
    as an error, when its pixels are read)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_header(path)


def observer_separation(a: Magnetogram, b: Magnetogram) -> tuple[float, float]:
    """(angle between the two observers' directions from the Sun centre, degrees;
    relative difference of their distances)."""
    lon1, lat1, lon2, lat2 = np.radians([a.lon_deg, a.lat_deg, b.lon_deg, b.lat_deg])
    haversine = (np.sin((lat2 - lat1) / 2) ** 2
                 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2)
    angle = float(np.degrees(2 * np.arcsin(np.sqrt(min(haversine, 1.0)))))
    return angle, abs(a.distance_m - b.distance_m) / a.distance_m


def match(
    generated: list[Magnetogram],
    truths: list[Magnetogram],
    tolerance_s: float = TOLERANCE_S,
    observer_tolerance_deg: float = OBSERVER_TOLERANCE_DEG,
    distance_tolerance: float = DISTANCE_TOLERANCE,
) -> tuple[list[tuple[Magnetogram, Magnetogram, float]], list[dict[str, str]],
           list[Magnetogram]]:
    """Pair each generated magnetogram (in time order) with the unused truth of the same
    observer nearest in time within ``tolerance_s``.

    Returns ``(pairs, unmatched, unused)``: (generated, truth, truth - generated seconds)
    each; ``{"path", "reason"}`` for each generated file without a partner, the reason
    naming it and the nearest candidate; the truth files not used."""
    pairs: list[tuple[Magnetogram, Magnetogram, float]] = []
    unmatched: list[dict[str, str]] = []
    used: set[int] = set()
    for item in sorted(generated, key=lambda g: (g.time.unix, str(g.path))):
        same, other = [], []
        for number, truth in enumerate(truths):
            offset = float((truth.time - item.time).sec)
            angle, distance = observer_separation(item, truth)
            if angle <= observer_tolerance_deg and distance <= distance_tolerance:
                same.append((abs(offset), offset, number))
            elif abs(offset) <= tolerance_s:
                other.append((angle, distance, number))
        free = sorted(entry for entry in same if entry[0] <= tolerance_s and entry[2] not in used)
        if free:
            _, offset, number = free[0]
            used.add(number)
            pairs.append((item, truths[number], offset))
            continue
        where = (f"observer {item.name + ' ' if item.name else ''}at Stonyhurst "
                 f"{item.lon_deg:.3f}, {item.lat_deg:.3f} deg, {item.distance_m / AU_M:.4f} AU")
        if any(entry[0] <= tolerance_s for entry in same):
            taken = min(entry for entry in same if entry[0] <= tolerance_s)
            reason = f"its truth file {truths[taken[2]].path} is already matched to another file"
        elif same:
            nearest = min(same)
            reason = (f"no truth file of its {where} within {tolerance_s:g} s (nearest: "
                      f"{nearest[1]:+.0f} s, {truths[nearest[2]].path})")
        elif other:
            angle, distance, number = min(other)
            reason = (f"no truth file of its {where}: the nearest observer within "
                      f"{tolerance_s:g} s ({truths[number].path}) is {angle:.3g} deg away, "
                      f"distance {distance:.2g} relative (tolerance {observer_tolerance_deg:g} "
                      f"deg, {distance_tolerance:g})")
        else:
            reason = f"no truth file of its {where} within {tolerance_s:g} s"
        unmatched.append({"path": str(item.path), "reason": f"{item.path}: {reason}"})
    return pairs, unmatched, [truth for number, truth in enumerate(truths) if number not in used]


def read_solar_map(path: Path):
    """``sunpy.map.Map`` of a FITS file; FitsInputError naming it when sunpy cannot read
    it or it holds no 2-D image."""
    import sunpy.map

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sunpy's metadata chatter
            solar_map = sunpy.map.Map(str(path))
            if isinstance(solar_map, list):
                solar_map = solar_map[0]
            data = np.asarray(solar_map.data)
    except Exception as err:  # sunpy and astropy raise many types for bad files
        reason = " ".join(str(err).split())  # one line, whatever sunpy's message
        raise FitsInputError(f"{path}: sunpy cannot read it as a map ({reason})") from None
    if data.ndim != 2:
        raise FitsInputError(f"{path}: expected a 2-D image, got shape {data.shape}")
    return solar_map


def frame_geometry(header, name: str) -> tuple[int, float, float]:
    """(pixels a side, arcsec a pixel, solar radius in pixels) of the image a FITS header
    describes, on the standard frame (square, north up, Sun centre at ((n - 1) / 2,
    (n - 1) / 2)); FitsInputError naming the file otherwise."""
    import astropy.units as u
    import sunpy.map
    from astropy.coordinates import SkyCoord

    rows, columns = int(header.get("NAXIS2", 0)), int(header.get("NAXIS1", 0))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sunpy's metadata chatter
            solar_map = sunpy.map.Map(np.zeros((1, 1), np.float32), header)  # the WCS only
        scales = (solar_map.scale.axis1.to_value(u.arcsec / u.pix),
                  solar_map.scale.axis2.to_value(u.arcsec / u.pix))
        rotation = np.asarray(solar_map.rotation_matrix, dtype=np.float64)
        centre = np.asarray(solar_map.wcs.world_to_pixel(
            SkyCoord(0 * u.arcsec, 0 * u.arcsec, frame=solar_map.coordinate_frame)), float)
        radius_px = solar_radius_arcsec(solar_map) / scales[0]
    except Exception as err:  # sunpy and astropy raise many types for bad headers
        raise FitsInputError(f"{name}: the header does not describe a usable geometry "
                             f"({err})") from None
    expected = (rows - 1) / 2.0
    if (rows != columns or not math.isclose(scales[0], scales[1], rel_tol=1e-6)
            or not np.allclose(rotation, np.eye(2), atol=1e-6)
            or not np.allclose(centre, expected, atol=1e-3)):
        raise FitsInputError(
            f"{name}: not on the standard frame of `solarmaggan generate` (square, north up, "
            f"Sun centre at pixel ({expected:g}, {expected:g})): {rows} x {columns} px, "
            f"Sun centre at ({centre[0]:.3f}, {centre[1]:.3f})")
    return rows, float(scales[0]), float(radius_px)


def truth_on_frame(truth_map, size: int, scale_arcsec: float, radius_px: float,
                   mask_rsun: float | None = MASK_RSUN) -> np.ndarray:
    """A true magnetogram (any detector) on the standard frame of ``size`` pixels,
    ``scale_arcsec`` a pixel, solar radius ``radius_px``: prep's geometry step
    (:func:`resample_to_frame` through the map's WCS, which carries roll and pointing;
    its NaNs read as 0 G, as prep reads HMI's) and mask (0 G beyond ``mask_rsun``).
    Frame pixels outside the truth's detector are NaN. float32 (size, size), Gauss."""
    import astropy.units as u

    data = np.nan_to_num(np.asarray(truth_map.data, dtype=np.float32), nan=0.0, posinf=0.0,
                         neginf=0.0)
    pixel_to_arcsec = (np.diag([truth_map.scale.axis1.to_value(u.arcsec / u.pix),
                                truth_map.scale.axis2.to_value(u.arcsec / u.pix)])
                       @ np.asarray(truth_map.rotation_matrix))
    reference_pixel = (truth_map.reference_pixel.x.to_value(u.pix),
                       truth_map.reference_pixel.y.to_value(u.pix))
    reference = truth_map.reference_coordinate
    frame = resample_to_frame(data, pixel_to_arcsec, reference_pixel,
                              (reference.Tx.to_value(u.arcsec), reference.Ty.to_value(u.arcsec)),
                              size, scale_arcsec, fill_value=np.nan)
    frame, _ = finish_frame(frame, "hmi", radius_px, mask_rsun, fill_value=0.0)
    return frame


def evaluate_fits(
    generated_dir: str | os.PathLike | Sequence[str | os.PathLike],
    truth_dir: str | os.PathLike,
    out: str | os.PathLike,
    disk_fraction: float | None = None,
    bin_factor: int = 8,
    tolerance_s: float | None = None,
    examples: int = 4,
    clip_truth: bool = True,
    mask_rsun: float | None = MASK_RSUN,
    observer_tolerance_deg: float = OBSERVER_TOLERANCE_DEG,
    distance_tolerance: float = DISTANCE_TOLERANCE,
    tensorboard: bool = False,
    progress: bool = True,
    samples: int | None = None,
    **metric_options: Any,
) -> dict[str, Any]:
    """Compare the generated magnetogram FITS files in ``generated_dir`` with the truth
    below ``truth_dir`` (see the module notes); writes ``out/report.json`` and figures and
    returns the report.

    ``disk_fraction``: the disk, a fraction of R_sun (default 0.95, ``DISK_RSUN``; the
    generated files do not record their model's). ``bin_factor`` and ``metric_options``
    (active_threshold_gauss, flux_threshold_gauss, deproject) go to
    :func:`compare_magnetograms`. ``tolerance_s``: the largest time difference of a pair
    (default 60 s). ``clip_truth``: clip the truth to the generated file's
    CLIPMIN / CLIPMAX as the HDF5 targets were. ``tensorboard`` writes the aggregate to
    ``out/logs``. ``samples`` N: the first N samples of each generated file's SAMPLES
    extension (``generate --samples --keep-samples``) are scored against the truth as in
    the HDF5 mode (``report["uncertainty"]``: coverage, CRPS, spread-skill, the unsigned
    flux's 68 % range), with the calibration scale the files were written with.

    Raises:
        FileNotFoundError: a missing folder, or one without FITS files.
        ValueError: unreadable FITS files or generated files that are not magnetograms on
            the standard frame (one line each, naming the file); no generated file matched.
    """
    tolerance_s = TOLERANCE_S if tolerance_s is None else float(tolerance_s)
    if not tolerance_s >= 0:
        raise ValueError(f"tolerance_s must be >= 0 seconds, got {tolerance_s}")
    generated, truths, skipped = read_inputs(generated_dir, truth_dir)
    pairs, unmatched, unused = match(generated, truths, tolerance_s, observer_tolerance_deg,
                                     distance_tolerance)
    if not pairs:
        example = f"; {unmatched[0]['reason']}" if unmatched else ""
        raise ValueError(f"no generated magnetogram matched a truth file ({len(generated)} "
                         f"generated, {len(truths)} true magnetograms in {truth_dir}){example}")
    from solarmaggan.evaluate import (_write_tensorboard, flux_interval_scores,
                                      large_scale_summary, sample_pixel_area_cm2, score_pair,
                                      uncertainty_summary, write_report)
    from solarmaggan.metrics import aggregate
    from solarmaggan.plotting import examples_figure
    from solarmaggan.uncertainty import flux_calibration_from_header

    disk = DISK_RSUN if disk_fraction is None else float(disk_fraction)
    if not disk > 0:
        raise ValueError(f"disk_fraction must be > 0, got {disk}")
    out = Path(out)
    clip_limits = [clip_range(item.header) for item, _, _ in pairs]
    limits = [high for _, high in filter(None, clip_limits)]
    bar = Progress(len(pairs), "evaluate against the truth", unit="pairs", enabled=progress)
    records, shown, true_maxima, profiles = [], [], [], []
    sampled: list[tuple[np.ndarray, np.ndarray]] = []  # (truth, samples) on the disk
    scatter: tuple[list, list] = ([], [])
    for (item, truth, offset), clip in zip(pairs, clip_limits):
        generated_map = read_solar_map(item.path)
        size, scale, radius_px = item.frame
        generated_gauss = np.asarray(generated_map.data, dtype=np.float32)
        if generated_gauss.shape != (size, size):
            raise FitsInputError(f"{item.path}: image of {generated_gauss.shape} pixels, the "
                                 f"header says {size} x {size}")
        true_gauss = truth_on_frame(read_solar_map(truth.path), size, scale, radius_px,
                                    mask_rsun)
        if clip_truth and clip is not None:
            true_gauss = np.clip(true_gauss, *clip)
        # where the truth's detector does not reach, neither image counts (fluxes too)
        generated_gauss[np.isnan(true_gauss)] = np.nan
        disk_pixels = radial_distance(size) <= disk * radius_px
        coverage = float(np.isfinite(true_gauss[disk_pixels]).mean())
        if coverage == 0.0:
            unmatched.append({"path": str(item.path), "reason": (
                f"{item.path}: its truth file {truth.path} does not cover its disk")})
            unused.append(truth)
            bar.update()
            continue
        true_maxima.append(float(np.nanmax(np.abs(true_gauss[disk_pixels]))))
        scores = score_pair(true_gauss, generated_gauss, radius_px,
                            sample_pixel_area_cm2(generated_map.meta), scatter, disk=disk,
                            bin_factor=bin_factor, limit=clip[1] if clip else None,
                            observer=item.header, profiles=profiles, **metric_options)
        if samples is not None:
            drawn = file_samples(item.path, samples, size)
            area = sample_pixel_area_cm2(generated_map.meta)
            outside = ~disk_pixels | np.isnan(true_gauss)
            drawn[:, outside] = np.nan
            sampled.append((np.where(outside, np.nan, true_gauss), drawn))
            if area is not None:
                scores.update(flux_interval_scores(drawn, true_gauss, 1.0, area, disk_pixels,
                                                   metric_options,
                                                   flux_calibration_from_header(item.header)))
        records.append({
            "generated": str(item.path), "truth": str(truth.path),
            "observer": item.observer(), "time": item.time.isot, "truth_time": truth.time.isot,
            "time_offset_s": offset, "frame": {"size": size, "radius_px": radius_px},
            "truth_coverage": coverage,
            **scores,
        })
        if len(shown) < examples:
            shown.append((None, true_gauss, generated_gauss,
                          f"{item.name or item.path.stem} {item.time.isot[:16]}"))
        bar.update()
    bar.close()
    if not records:
        raise ValueError(f"no truth file covers the disk of a generated magnetogram; "
                         f"{unmatched[-1]['reason']}")
    limit = max(limits) if limits else max(max(true_maxima), 1.0)
    out.mkdir(parents=True, exist_ok=True)  # nothing written before every pair is scored
    radii = {round(record["frame"]["radius_px"], 6) for record in records}
    report = {
        "generated": str(generated_dir), "truth": str(truth_dir),
        "settings": {
            "mode": "fits", "radius_px": radii.pop() if len(radii) == 1 else None,
            "disk_rsun": disk, "bin_factor": bin_factor, "magnetogram_limit_gauss": limit,
            "truth_clipped": bool(clip_truth and limits), "mask_rsun": mask_rsun,
            "tolerance_s": tolerance_s, "observer_tolerance_deg": observer_tolerance_deg,
            "distance_tolerance": distance_tolerance, "resampling": RESAMPLING,
            **metric_options,
        },
        "aggregate": aggregate(records), "per_image": records,
        "large_scale": large_scale_summary(records, profiles),
        "by_observer": group_scores(records, observer_group),
        "by_distance": group_scores(records, lambda r: distance_bin(r["observer"]["dsun_au"])),
        "unmatched": unmatched,
        "truth_unused": [str(truth.path) for truth in unused], "truth_skipped": skipped,
    }
    if samples is not None:
        from solarmaggan.plotting import spread_skill_figure
        from solarmaggan.uncertainty import calibration_report

        headers = [item.header for item, _, _ in pairs]
        methods = sorted({str(h.get("UNCMETH")) for h in headers})
        scales = sorted({float(h.get("UNCSCALE", 1.0)) for h in headers})
        calibration = calibration_report(sampled, None, factor=bin_factor)
        report["uncertainty"] = uncertainty_summary(
            ", ".join(methods), samples, None, [], scales[0] if len(scales) == 1 else scales,
            calibration, records, scaled="raw")
        report["aggregate"].update(report["uncertainty"]["summary"])
        out.mkdir(parents=True, exist_ok=True)
        spread_skill_figure(out / "spread_skill.png",
                            {"as written": calibration["raw"]["pixel"]["spread_skill"]},
                            f"far side against the truth, {samples} samples, disk pixels")
    write_report(out, report, scatter, shown, limit,
                 examples_writer=functools.partial(examples_figure, reference="true"))
    if tensorboard:
        _write_tensorboard(out / "logs", report["aggregate"], [])
    return report


def file_samples(path: Path, samples: int, size: int) -> np.ndarray:
    """The first ``samples`` samples (Gauss, float32 (samples, size, size)) of a generated
    file's SAMPLES extension; FitsInputError naming the file if it has fewer."""
    from data_prep.fitsio import read_layers

    try:
        stack = read_layers(path, ("SAMPLES",))["SAMPLES"]
    except FitsInputError as err:
        raise FitsInputError(f"{err}; write the samples with generate --samples N "
                             "--keep-samples") from None
    if stack.ndim != 3 or stack.shape[1:] != (size, size) or len(stack) < samples:
        raise FitsInputError(f"{path}: its SAMPLES extension holds {stack.shape}, not "
                             f"{samples} samples of {size} x {size}")
    return stack[:samples].astype(np.float32)


def clip_range(header) -> tuple[float, float] | None:
    """(CLIPMIN, CLIPMAX) of a generated file's header, or None."""
    try:
        low, high = float(header["CLIPMIN"]), float(header["CLIPMAX"])
    except (KeyError, TypeError, ValueError):
        return None
    return (low, high) if low < high else None
