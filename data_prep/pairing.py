"""Pair EUV images with magnetograms by observation time, read from the FITS headers::

    report = pair_by_time(["aia304/"], ["hmi/"], tolerance_s=300)
    print(report.summary())
    for pair in report.pairs:
        ...  # pair.euv_path, pair.magnetogram_path, pair.euv_time, pair.separation_s

Files are paired by the observation time in their headers
(:func:`data_prep.fitsio.observation_time`), never by file name or listing order: each EUV
image goes with the magnetogram nearest in time within ``tolerance_s``, and a magnetogram
is used at most once (the closest pairs overall are made first). Only headers are read, so
scanning thousands of files is quick.

Every file that is not paired is reported with a reason:

``rejected``
    files refused before pairing: no such file, not a readable FITS file, no 2-D image, the
    wrong instrument, wavelength or product (e.g. an HMI continuum image instead of a
    magnetogram; an EUI/FSI file not a level-2 solar image), a missing keyword (geometry,
    observer distance, observation time, exposure time), an unreadable time, ``QUALITY``
    not 0, a header saying no pixel holds data (``DATAVALS = 0``), a duplicate observation
    time, or an exposure anomaly (AIA / EUVI: not a ``LIGHT`` frame; AIA / EUVI / FSI: an
    exposure time (``EXPTIME``, EUI's ``XPOSURE``) <= 0, or below half the median of the
    scanned files of the same wavelength: the short exposures of flare mode / automatic
    exposure control).
``unmatched``
    valid files with no partner within the tolerance; the reason gives the nearest
    partner and its time offset.

Images whose pixels are all NaN can only be found by reading the data, which scanning does
not do: they are refused later by the preparation step
(:func:`data_prep.fitsio.read_map` raises ``FitsInputError`` "... no finite pixel").

The matching itself (:func:`match_by_time`) works on plain arrays of times.

Several EUV channels (AISFM: AIA 304, 193, 171 A): :func:`pair_channels_by_time` pairs each
magnetogram with one file of every channel, each the closest in time within the tolerance
(:func:`match_channels`: every channel matched one to one with the magnetograms by
:func:`match_by_time`, magnetograms lacking a channel dropped and reported). A file's channel
is decided by its header (instrument and WAVELNTH, :func:`scan_channels`), never by its
name or place in a listing. :func:`group_channels` forms the same sets without
magnetograms, around the first channel's files (far-side generation).
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import os
import warnings
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
from astropy.io import fits
from astropy.time import Time
from astropy.utils.exceptions import AstropyWarning

from data_prep.fitsio import KINDS, FitsInputError, check_header, observation_time, read_header
from data_prep.presets.schema import EUV_KINDS
# names taken from folders (lower case); JSOC names such as
# "hmi.m_720s.20240101_000000_tai.3.magnetogram.fits" end in ".fits" too
FITS_SUFFIXES = (".fits", ".fts", ".fit", ".fits.gz", ".fts.gz", ".fit.gz", ".fits.fz", ".fz")
SCAN_OPTIONS = ("expected_wavelength", "require_magnetogram", "quality_check", "exposure_check")
# an exposure below this fraction of the median of its wavelength is an anomaly
SHORT_EXPOSURE_FRACTION = 0.5
#: the header keyword of each EUV kind's exposure time, s (EUI has no EXPTIME)
EXPOSURE_KEYWORDS = {"aia": "EXPTIME", "euvi": "EXPTIME", "fsi": "XPOSURE"}


@dataclasses.dataclass
class Rejected:
    """A file left out, and why (the reason does not repeat the path)."""

    path: str
    reason: str


@dataclasses.dataclass
class Pair:
    """An EUV image and its magnetogram. Times are ISO 8601 UTC with milliseconds;
    ``separation_s`` is the absolute time difference in seconds."""

    euv_path: str
    magnetogram_path: str
    euv_time: str
    magnetogram_time: str
    separation_s: float

    @property
    def euv_paths(self) -> list[str]:
        """The EUV file as a one-channel list (as :attr:`ChannelSet.euv_paths`)."""
        return [self.euv_path]


@dataclasses.dataclass
class ChannelSet:
    """One file of each of several EUV channels, and the magnetogram they go with (None
    when grouping EUV files without magnetograms, as for far-side generation).

    Lists are in the order of the channels; times ISO 8601 UTC with milliseconds;
    ``separations_s`` the absolute time difference of each EUV file from the magnetogram
    (or, without magnetograms, from the first channel's file), seconds. The first channel's
    file is the set's key: :attr:`euv_path`, :attr:`euv_time`.
    """

    euv_paths: list[str]
    euv_times: list[str]
    separations_s: list[float]
    magnetogram_path: str | None = None
    magnetogram_time: str | None = None

    @property
    def euv_path(self) -> str:
        """The first channel's file."""
        return self.euv_paths[0]

    @property
    def euv_time(self) -> str:
        """The first channel's observation time (the sample's key in a pair file)."""
        return self.euv_times[0]

    @property
    def separation_s(self) -> float:
        """The largest separation of the set, seconds."""
        return max(self.separations_s)


@dataclasses.dataclass
class PairingReport:
    """What :func:`pair_by_time` made of its inputs.

    Attributes:
        pairs: sorted by ``euv_time``; :class:`ChannelSet` items for several EUV channels
            (:func:`pair_channels_by_time`).
        unmatched: valid files (EUV first, then magnetograms, each sorted by path) with no
            partner within the tolerance; the reason gives the nearest partner's offset.
        rejected: files refused (EUV first, then magnetograms, each sorted by path).
        tolerance_s: the tolerance used.
    """

    pairs: list[Pair] | list[ChannelSet]
    unmatched: list[Rejected]
    rejected: list[Rejected]
    tolerance_s: float | None = None

    def summary(self) -> str:
        """Counts, then each rejected and unmatched file with its reason."""
        tolerance = "" if self.tolerance_s is None else f" (tolerance {self.tolerance_s:g} s)"
        lines = [
            f"pairing{tolerance}: {len(self.pairs)} pairs, {len(self.unmatched)} unmatched "
            f"files, {len(self.rejected)} rejected files"
        ]
        if self.pairs:
            largest = max(pair.separation_s for pair in self.pairs)
            lines.append(
                f"  pairs from {self.pairs[0].euv_time} to {self.pairs[-1].euv_time}, "
                f"largest time separation {largest:.1f} s"
            )
        for title, entries in (("rejected", self.rejected), ("unmatched", self.unmatched)):
            if entries:
                lines.append(f"{title}:")
                lines.extend(f"  - {entry.path}: {entry.reason}" for entry in entries)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able record: ``pairs``, ``unmatched``, ``rejected`` (lists of dicts with
        ``path`` and ``reason``), ``tolerance_s`` and ``counts``."""
        return {
            "tolerance_s": self.tolerance_s,
            "counts": {"pairs": len(self.pairs), "unmatched": len(self.unmatched),
                       "rejected": len(self.rejected)},
            "pairs": [dataclasses.asdict(pair) for pair in self.pairs],
            "unmatched": [dataclasses.asdict(entry) for entry in self.unmatched],
            "rejected": [dataclasses.asdict(entry) for entry in self.rejected],
        }


def expand_paths(paths_or_dirs: str | os.PathLike | Iterable[str | os.PathLike]) -> list[str]:
    """File paths from files and folders, each once, in a fixed order.

    A folder gives its FITS files (names ending in one of :data:`FITS_SUFFIXES`, any case;
    hidden files skipped; not recursive), sorted by name. A file given by name is kept
    whatever its name, and so is a path that does not exist (scanning reports it).
    """
    if isinstance(paths_or_dirs, (str, os.PathLike)):
        paths_or_dirs = [paths_or_dirs]
    found: list[str] = []
    seen: set[str] = set()
    for entry in paths_or_dirs:
        entry = Path(entry)
        if entry.is_dir():
            names = sorted(
                child for child in entry.iterdir()
                if child.is_file() and not child.name.startswith(".")
                and child.name.lower().endswith(FITS_SUFFIXES)
            )
        else:
            names = [entry]
        for name in names:
            key = os.path.realpath(name)
            if key not in seen:
                seen.add(key)
                found.append(str(name))
    return found



def require_fits_files(sources: str | os.PathLike | Iterable[str | os.PathLike],
                       what: str = "") -> list[str]:
    """:func:`expand_paths` of ``sources``; FileNotFoundError naming them when none of the
    paths exists (no such file, or a folder without FITS files). ``what`` (e.g. "EUV")
    says which files were expected."""
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    paths = expand_paths(sources)
    if not any(Path(path).exists() for path in paths):
        kind = f"{what} FITS" if what else "FITS"
        raise FileNotFoundError(f"{', '.join(str(source) for source in sources)}: no {kind} "
                                "file (no such file, or no FITS file in the folder)")
    return paths


def scan_files(
    paths_or_dirs: str | os.PathLike | Iterable[str | os.PathLike],
    kind: str,
    expected_wavelength: int | None | str = "default",
    require_magnetogram: bool = True,
    quality_check: bool = True,
    exposure_check: bool = True,
    *,
    per_wavelength: bool = False,
) -> tuple[list[tuple[str, Time, fits.Header]], list[Rejected]]:
    """Read and check the headers of FITS files (no data is read).

    Args:
        paths_or_dirs: files and folders (see :func:`expand_paths`).
        kind: ``"aia"``, ``"hmi"``, ``"euvi"`` or ``"fsi"``.
        expected_wavelength, require_magnetogram: as for
            :func:`data_prep.fitsio.check_header` (which also refuses EUI/FSI files that
            are not level-2 solar images).
        quality_check: refuse ``QUALITY`` other than 0 (a missing QUALITY is fine) and
            headers saying no pixel holds data (``DATAVALS = 0``).
        exposure_check: for EUV kinds, refuse a missing or non-positive exposure time
            (:data:`EXPOSURE_KEYWORDS`: ``EXPTIME``, EUI's ``XPOSURE``) and exposures below
            half the median of the accepted files of the same wavelength; for AIA and EUVI
            also frames that are not ``LIGHT`` (``IMG_TYPE``).
        per_wavelength: judge duplicate observation times within each wavelength
            (WAVELNTH) only, for files of several channels that may share a time.

    Returns:
        ``(accepted, rejected)``: accepted ``(path, time, header)`` sorted by time (then
        path), the time in UTC; rejected files sorted by path. Of files with the same
        observation time the first by path is kept and the others are rejected as
        duplicates. All-NaN images are not detected here (see the module notes).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    accepted: list[tuple[str, Time, fits.Header]] = []
    rejected: list[Rejected] = []
    for path in expand_paths(paths_or_dirs):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", AstropyWarning)  # header verification chatter
                header = read_header(path)
                check_header(header, kind, path, expected_wavelength, require_magnetogram)
                time = observation_time(header, path)
            problem = None
            if quality_check:
                problem = _quality_problem(header)
            if problem is None and exposure_check and kind in EUV_KINDS:
                problem = _exposure_problem(header, kind)
        except FitsInputError as err:
            problem = _without_name(str(err), path)
        except Exception as err:  # a strange header must not stop a scan of many files
            problem = f"cannot use the header ({type(err).__name__}: {err})"
        if problem is None:
            accepted.append((path, time, header))
        else:
            rejected.append(Rejected(path, problem))

    if exposure_check and kind in EUV_KINDS:
        accepted, short = _short_exposures(accepted, EXPOSURE_KEYWORDS[kind])
        rejected.extend(short)

    accepted.sort(key=lambda item: item[0])  # duplicates: the first by path is kept
    kept: dict[str, str] = {}
    unique = []
    for path, time, header in accepted:
        key = (_wavelength_key(header), time.isot) if per_wavelength else time.isot
        if key in kept:
            rejected.append(Rejected(path, f"duplicate: the same observation time {time.isot} "
                                           f"as {kept[key]}"))
        else:
            kept[key] = path
            unique.append((path, time, header))
    unique.sort(key=lambda item: (item[1].isot, item[0]))
    rejected.sort(key=lambda entry: entry.path)
    return unique, rejected


def match_by_time(
    times_a: Sequence[float], times_b: Sequence[float], tolerance_s: float
) -> list[tuple[int, int, float]]:
    """One-to-one matching of two lists of times (seconds on a common scale).

    Every pair closer than or equal to ``tolerance_s`` is a candidate; candidates are taken
    from the smallest separation up (ties by index), skipping items already used. Returns
    ``(index_a, index_b, separation_s)`` sorted by ``index_a``; the order of the inputs
    does not change which items are matched, except among exactly equal separations.
    """
    a = np.asarray(times_a, dtype=float)
    b = np.asarray(times_b, dtype=float)
    order_b = np.argsort(b, kind="stable")
    sorted_b = b[order_b].tolist()
    candidates = []
    for i, t in enumerate(a.tolist()):
        lo = bisect.bisect_left(sorted_b, t - tolerance_s)
        hi = bisect.bisect_right(sorted_b, t + tolerance_s)
        for k in range(lo, hi):
            j = int(order_b[k])
            candidates.append((abs(sorted_b[k] - t), i, j))
    candidates.sort()
    used_a: set[int] = set()
    used_b: set[int] = set()
    matches = []
    for separation, i, j in candidates:
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            matches.append((i, j, separation))
    matches.sort()
    return matches


def pair_by_time(
    euv_files: str | os.PathLike | Iterable[str | os.PathLike],
    magnetogram_files: str | os.PathLike | Iterable[str | os.PathLike],
    tolerance_s: float = 300.0,
    euv_kind: str = "aia",
    **scan_options: Any,
) -> PairingReport:
    """Pair each EUV image with the magnetogram (HMI) nearest in time within ``tolerance_s``.

    Args:
        euv_files, magnetogram_files: files and folders (see :func:`expand_paths`).
        tolerance_s: the largest time separation of a pair, in seconds.
        euv_kind: ``"aia"``, ``"euvi"`` or ``"fsi"``.
        scan_options: ``expected_wavelength`` (for the EUV files), ``require_magnetogram``
            (for the magnetograms), ``quality_check`` and ``exposure_check`` (both); see
            :func:`scan_files`.

    A magnetogram is used at most once: the pairs with the smallest separation overall are
    made first (:func:`match_by_time`). File names and listing order play no part.
    """
    tolerance_s = _check_request(tolerance_s, scan_options, SCAN_OPTIONS)
    if euv_kind not in EUV_KINDS:
        raise ValueError(f"euv_kind must be one of {EUV_KINDS}, got {euv_kind!r}")
    checks = {key: scan_options[key] for key in ("quality_check", "exposure_check")
              if key in scan_options}
    euv, euv_rejected = scan_files(
        euv_files, euv_kind,
        expected_wavelength=scan_options.get("expected_wavelength", "default"), **checks,
    )
    magnetograms, magnetogram_rejected = scan_files(
        magnetogram_files, "hmi",
        require_magnetogram=scan_options.get("require_magnetogram", True), **checks,
    )

    euv_s, magnetogram_s = _seconds([t for _, t, _ in euv], [t for _, t, _ in magnetograms])
    matches = match_by_time(euv_s, magnetogram_s, tolerance_s)
    pairs = [
        Pair(euv[i][0], magnetograms[j][0], euv[i][1].isot, magnetograms[j][1].isot,
             round(float(separation), 3))
        for i, j, separation in matches
    ]
    pairs.sort(key=lambda pair: (pair.euv_time, pair.euv_path))

    paired_euv = {i for i, _, _ in matches}
    paired_magnetograms = {j for _, j, _ in matches}
    unmatched = [
        Rejected(euv[i][0], _unmatched_reason(euv_s[i], magnetogram_s, magnetograms,
                                              tolerance_s, "magnetogram"))
        for i in sorted(set(range(len(euv))) - paired_euv, key=lambda i: euv[i][0])
    ] + [
        Rejected(magnetograms[j][0], _unmatched_reason(magnetogram_s[j], euv_s, euv,
                                                       tolerance_s, "EUV image"))
        for j in sorted(set(range(len(magnetograms))) - paired_magnetograms,
                        key=lambda j: magnetograms[j][0])
    ]
    return PairingReport(pairs, unmatched, euv_rejected + magnetogram_rejected, tolerance_s)


# --- several EUV channels --------------------------------------------------------------


def match_channels(
    reference_s: Sequence[float], channels_s: Sequence[Sequence[float]], tolerance_s: float
) -> tuple[dict[int, list[tuple[int, float]]], dict[int, list[int]]]:
    """One item of every channel for each reference time (seconds on a common scale).

    Each channel is matched to the references on its own with :func:`match_by_time`
    (one-to-one, closest first). References that get no item of some channel are dropped
    and the matching is repeated without them, so that the items they held can go to the
    others: first those with no item of some channel within ``tolerance_s`` at all, then
    those whose every candidate item of a lacking channel went to a complete reference;
    when references only block each other, one at a time (the one with the fewest
    channels, then the latest).

    Returns:
        ``(complete, incomplete)``: ``complete`` maps each kept reference index to one
        ``(item index, separation_s)`` per channel; ``incomplete`` maps each dropped
        reference index to the channels (indices) it lacked.
    """
    channels_s = [np.asarray(times, dtype=float) for times in channels_s]
    order = [np.argsort(times, kind="stable") for times in channels_s]
    ordered = [times[o] for times, o in zip(channels_s, order)]

    def candidates(i: int, c: int) -> np.ndarray:
        """Indices of the channel-c items within the tolerance of reference i."""
        lo = np.searchsorted(ordered[c], reference_s[i] - tolerance_s, side="left")
        hi = np.searchsorted(ordered[c], reference_s[i] + tolerance_s, side="right")
        return order[c][lo:hi]

    incomplete: dict[int, list[int]] = {}
    remaining = []
    for i in range(len(reference_s)):
        hopeless = [c for c in range(len(channels_s)) if not len(candidates(i, c))]
        if hopeless:
            incomplete[i] = hopeless
        else:
            remaining.append(i)
    while True:
        times = [reference_s[i] for i in remaining]
        matched = []
        for channel_s in channels_s:
            pairs = match_by_time(times, channel_s, tolerance_s)
            matched.append({remaining[k]: (j, separation) for k, j, separation in pairs})
        lacking = {i: [c for c, found in enumerate(matched) if i not in found] for i in remaining}
        losers = [i for i in remaining if lacking[i]]
        if not losers:
            return {i: [found[i] for found in matched] for i in remaining}, incomplete
        owner = [{j: i for i, (j, _) in found.items()} for found in matched]

        def held_by_complete(c: int, j: int) -> bool:
            holder = owner[c].get(int(j))
            return holder is not None and not lacking[holder]

        beaten = [i for i in losers
                  if all(held_by_complete(c, j) for c in lacking[i] for j in candidates(i, c))]
        drop = beaten or [max(losers, key=lambda i: (len(lacking[i]), i))]
        incomplete.update({i: lacking[i] for i in drop})
        remaining = [i for i in remaining if i not in set(drop)]


def scan_channels(
    paths_or_dirs: str | os.PathLike | Iterable[str | os.PathLike],
    channels: Sequence[tuple[str, int]],
    kind: str = "aia",
    **checks: Any,
) -> tuple[list[list[tuple[str, Time, fits.Header]]], list[Rejected]]:
    """Scan EUV files of several channels and sort them by channel from their headers.

    Args:
        paths_or_dirs: files and folders, of every channel mixed (see :func:`expand_paths`).
        channels: ``(name, wavelength in A)`` of each channel, e.g. ``("AIA 193", 193)``.
        kind: ``"aia"``, ``"euvi"`` or ``"fsi"``: the instrument every file must be.
        checks: ``quality_check``, ``exposure_check`` (see :func:`scan_files`).

    A file's channel is its header's WAVELNTH (with the instrument checked), never its
    name or place in a listing; duplicate times are judged per wavelength. Files of
    another wavelength, or without WAVELNTH, are rejected with the reason.

    Returns:
        ``(files, rejected)``: for each channel its accepted ``(path, time, header)`` sorted
        by time; the rejected files sorted by path.
    """
    if kind not in EUV_KINDS:
        raise ValueError(f"kind must be one of {EUV_KINDS}, got {kind!r}")
    wavelengths = [int(wavelength) for _, wavelength in channels]
    if len(set(wavelengths)) != len(wavelengths):
        raise ValueError(f"the channels' wavelengths must differ, got {wavelengths}")
    accepted, rejected = scan_files(paths_or_dirs, kind, expected_wavelength=None,
                                    per_wavelength=True, **checks)
    listed = ", ".join(f"{name} ({wavelength} A)" for name, wavelength in channels)
    files: list[list[tuple[str, Time, fits.Header]]] = [[] for _ in channels]
    for item in accepted:
        wavelength = _number(item[2], "WAVELNTH")
        if wavelength is None:
            rejected.append(Rejected(item[0], "missing header keyword WAVELNTH, which decides "
                                              "the file's channel"))
        elif int(round(wavelength)) not in wavelengths:
            rejected.append(Rejected(item[0], f"wrong wavelength: {wavelength:g} A is none of "
                                              f"the input channels {listed}"))
        else:
            files[wavelengths.index(int(round(wavelength)))].append(item)
    rejected.sort(key=lambda entry: entry.path)
    return files, rejected


def _match_to_reference(
    reference: list[tuple[str, Time, fits.Header]],
    reference_what: str,
    groups: list[list[tuple[str, Time, fits.Header]]],
    names: Sequence[str],
    tolerance_s: float,
) -> tuple[list[tuple[int, list[tuple[int, float]]]], list[Rejected], list[Rejected],
           list[float], list[list[float]]]:
    """:func:`match_channels` on scanned files: ``(sets, unmatched references, unmatched
    channel files, reference seconds, channel seconds)``; ``sets`` holds (reference index,
    [(file index, separation_s) per channel]) sorted by reference index."""
    reference_s, *groups_s = _seconds([t for _, t, _ in reference],
                                      *[[t for _, t, _ in group] for group in groups])
    complete, incomplete = match_channels(reference_s, groups_s, tolerance_s)
    lonely_references = [
        Rejected(reference[i][0], "lacks a channel: " + "; ".join(
            _unmatched_reason(reference_s[i], groups_s[c], groups[c], tolerance_s,
                              f"{names[c]} file")
            for c in incomplete[i]))
        for i in sorted(incomplete, key=lambda i: reference[i][0])
    ]
    lonely_files = []
    for c, group in enumerate(groups):
        used = {found[c][0] for found in complete.values()}
        for j in sorted(set(range(len(group))) - used, key=lambda j: group[j][0]):
            reason = _unmatched_reason(groups_s[c][j], reference_s, reference, tolerance_s,
                                       reference_what)
            within = [i for i, t in enumerate(reference_s)
                      if abs(t - groups_s[c][j]) <= tolerance_s]
            if within and not any(i in complete for i in within):
                where = _nearest(groups_s[c][j], reference_s, reference, reference_what)[1]
                reason = (f"every {reference_what} within {tolerance_s:g} s lacks a file of "
                          f"another channel; {where}")
            lonely_files.append(Rejected(group[j][0], reason))
    return sorted(complete.items()), lonely_references, lonely_files, reference_s, groups_s


def _check_request(tolerance_s: float, scan_options: dict[str, Any],
                   allowed: Sequence[str]) -> float:
    """The tolerance as a float, after refusing unknown scan options and a tolerance that is
    not a finite number >= 0."""
    unknown = sorted(set(scan_options) - set(allowed))
    if unknown:
        raise TypeError(f"unknown scan options {unknown}; known: {list(allowed)}")
    tolerance_s = float(tolerance_s)
    if not (math.isfinite(tolerance_s) and tolerance_s >= 0):
        raise ValueError(f"tolerance_s must be a finite number >= 0, got {tolerance_s!r}")
    return tolerance_s


def _check_channel_request(channels: Sequence[tuple[str, int]], tolerance_s: float,
                           scan_options: dict[str, Any], allowed: Sequence[str]) -> float:
    if not channels:
        raise ValueError("give at least one channel")
    return _check_request(tolerance_s, scan_options, allowed)


def pair_channels_by_time(
    euv_files: str | os.PathLike | Iterable[str | os.PathLike],
    magnetogram_files: str | os.PathLike | Iterable[str | os.PathLike],
    channels: Sequence[tuple[str, int]],
    tolerance_s: float = 300.0,
    euv_kind: str = "aia",
    **scan_options: Any,
) -> PairingReport:
    """Pair each magnetogram with one EUV file of every channel, the closest in time within
    ``tolerance_s`` (AISFM: AIA 304, 193 and 171 A with each HMI magnetogram).

    Args:
        euv_files: files and folders of all channels mixed; each file's channel is decided
            by its header (instrument and WAVELNTH; :func:`scan_channels`).
        magnetogram_files: HMI files and folders.
        channels: ``(name, wavelength)`` of each channel, in the order of the input's
            channels, e.g. ``[("AIA 304", 304), ("AIA 193", 193), ("AIA 171", 171)]``.
        tolerance_s: the largest time separation of an EUV file from its magnetogram, s.
        euv_kind: ``"aia"``, ``"euvi"`` or ``"fsi"``.
        scan_options: ``require_magnetogram``, ``quality_check``, ``exposure_check`` (see
            :func:`scan_files`).

    Returns:
        A :class:`PairingReport` whose ``pairs`` are :class:`ChannelSet` items sorted by
        the first channel's time. Each channel's files are matched to the magnetograms one
        to one, closest first (:func:`match_channels`); a magnetogram lacking a channel is
        reported in ``unmatched`` with the reason for each channel it lacks, and the EUV
        files not used are reported there too.
    """
    tolerance_s = _check_channel_request(
        channels, tolerance_s, scan_options,
        ("require_magnetogram", "quality_check", "exposure_check"))
    checks = {key: scan_options[key] for key in ("quality_check", "exposure_check")
              if key in scan_options}
    groups, euv_rejected = scan_channels(euv_files, channels, euv_kind, **checks)
    magnetograms, magnetogram_rejected = scan_files(
        magnetogram_files, "hmi",
        require_magnetogram=scan_options.get("require_magnetogram", True), **checks,
    )
    sets, lonely_magnetograms, lonely_euv, magnetogram_s, groups_s = _match_to_reference(
        magnetograms, "magnetogram", groups, [name for name, _ in channels], tolerance_s)
    pairs = [
        ChannelSet(
            euv_paths=[groups[c][j][0] for c, (j, _) in enumerate(found)],
            euv_times=[groups[c][j][1].isot for c, (j, _) in enumerate(found)],
            separations_s=[round(float(separation), 3) for _, separation in found],
            magnetogram_path=magnetograms[i][0], magnetogram_time=magnetograms[i][1].isot,
        )
        for i, found in sets
    ]
    pairs.sort(key=lambda pair: (pair.euv_time, pair.euv_path))
    return PairingReport(pairs, lonely_euv + lonely_magnetograms,
                         euv_rejected + magnetogram_rejected, tolerance_s)


def group_channels(
    euv_files: str | os.PathLike | Iterable[str | os.PathLike],
    channels: Sequence[tuple[str, int]],
    tolerance_s: float = 300.0,
    euv_kind: str = "euvi",
    **scan_options: Any,
) -> PairingReport:
    """Group EUV files of several channels into sets, one file of each channel, by header
    time, without magnetograms (far-side generation from EUVI 304, 195 and 171 A).

    Each file of the first channel starts a set; every other channel's file closest in time
    within ``tolerance_s`` joins it (one to one, :func:`match_channels`). Arguments as for
    :func:`pair_channels_by_time`. Returns a :class:`PairingReport` of :class:`ChannelSet`
    items (``magnetogram_path`` None; ``separations_s`` from the first channel's file),
    and, in ``unmatched``, first-channel files lacking a channel and other files left over,
    each with the reason.
    """
    tolerance_s = _check_channel_request(channels, tolerance_s, scan_options,
                                         ("quality_check", "exposure_check"))
    groups, rejected = scan_channels(euv_files, channels, euv_kind, **scan_options)
    names = [name for name, _ in channels]
    sets, lonely_first, lonely_others, _, _ = _match_to_reference(
        groups[0], f"{names[0]} file", groups[1:], names[1:], tolerance_s)
    found_sets = [
        ChannelSet(
            euv_paths=[groups[0][i][0]] + [groups[c + 1][j][0] for c, (j, _) in enumerate(found)],
            euv_times=[groups[0][i][1].isot] + [groups[c + 1][j][1].isot
                                               for c, (j, _) in enumerate(found)],
            separations_s=[0.0] + [round(float(separation), 3) for _, separation in found],
        )
        for i, found in sets
    ]
    found_sets.sort(key=lambda item: (item.euv_time, item.euv_path))
    return PairingReport(found_sets, lonely_first + lonely_others, rejected, tolerance_s)


# --- helpers ---------------------------------------------------------------------------


def _without_name(message: str, path: str) -> str:
    """A FitsInputError message without its leading "<file name>: "."""
    for name in (str(path), str(Path(path))):
        if message.startswith(name + ": "):
            return message[len(name) + 2:]
    return message


def _number(header: fits.Header, key: str) -> float | None:
    value = header.get(key)
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _quality_problem(header: fits.Header) -> str | None:
    value = header.get("QUALITY")
    if value is not None:
        try:
            quality = int(float(value)) if not isinstance(value, str) else int(value, 0)
        except (TypeError, ValueError):
            return f"unreadable QUALITY = {value!r}"
        if quality != 0:
            return (f"bad QUALITY = {quality} (0x{quality & 0xFFFFFFFF:08X}); "
                    "pass quality_check=False to accept it")
    if _number(header, "DATAVALS") == 0:
        return (f"no valid pixel: the header says DATAVALS = 0 "
                f"(MISSVALS = {header.get('MISSVALS')})")
    return None


def _exposure_problem(header: fits.Header, kind: str) -> str | None:
    """Why an EUV header of ``kind`` shows an exposure anomaly, or None. (EUI/FSI's image
    type, IMGTYPE, is checked by :func:`data_prep.fitsio.check_fsi_image`.)"""
    image_type = header.get("IMG_TYPE")
    if kind != "fsi" and image_type is not None and str(image_type).strip().upper() != "LIGHT":
        return f"exposure anomaly: not a light frame (IMG_TYPE = {str(image_type).strip()!r})"
    key = EXPOSURE_KEYWORDS[kind]
    if key not in header:
        return f"missing header keyword {key} (exposure time)"
    exposure = _number(header, key)
    if exposure is None or not math.isfinite(exposure):
        return f"unreadable {key} = {header.get(key)!r}"
    if exposure <= 0:
        return f"exposure anomaly: {key} = {exposure:g} s"
    return None


def _short_exposures(accepted, key: str):
    """Split off exposures (header keyword ``key``, s) below half the median of their
    wavelength."""
    groups: dict[Any, list[float]] = {}
    for _, _, header in accepted:
        groups.setdefault(_wavelength_key(header), []).append(_number(header, key))
    medians = {band: (float(np.median(values)), len(values)) for band, values in groups.items()}
    kept, short = [], []
    for item in accepted:
        header = item[2]
        band = _wavelength_key(header)
        median, count = medians[band]
        exposure = _number(header, key)
        if exposure < SHORT_EXPOSURE_FRACTION * median:
            at = "" if band is None else f" at {band:g} A"
            short.append(Rejected(item[0], (
                f"exposure anomaly: {key} = {exposure:g} s is below "
                f"{SHORT_EXPOSURE_FRACTION:g} x the median {median:g} s of the {count} scanned "
                f"files{at} (flare mode / automatic exposure control); "
                "pass exposure_check=False to accept it"
            )))
        else:
            kept.append(item)
    return kept, short


def _wavelength_key(header: fits.Header) -> float | None:
    wavelength = _number(header, "WAVELNTH")
    return None if wavelength is None else round(wavelength, 1)


def _seconds(*time_lists: list[Time]) -> list[list[float]]:
    """Each list of times as seconds from one common origin (leap seconds counted)."""
    everything = [time for times in time_lists for time in times]
    if not everything:
        return [[] for _ in time_lists]
    joined = Time(everything)
    seconds = (joined - joined[0]).to_value("s")
    seconds = [float(value) for value in np.atleast_1d(seconds)]
    split, start = [], 0
    for times in time_lists:
        split.append(seconds[start: start + len(times)])
        start += len(times)
    return split


def _nearest(t: float, others_s: list[float], others, what: str) -> tuple[float, str]:
    """(signed offset in s, "the nearest <what>, <path>, is <offset> away") of the item of
    ``others`` nearest in time to ``t`` (``others_s`` not empty)."""
    offsets = np.asarray(others_s) - t
    nearest = int(np.argmin(np.abs(offsets)))
    offset = float(offsets[nearest])
    return offset, f"the nearest {what}, {others[nearest][0]}, is {_offset_text(offset)} away"


def _unmatched_reason(t: float, others_s: list[float], others, tolerance_s: float,
                      what: str) -> str:
    if not others_s:
        return f"no {what} was accepted to pair with"
    offset, where = _nearest(t, others_s, others, what)
    if abs(offset) > tolerance_s:
        return f"no {what} within {tolerance_s:g} s; {where}"
    # within the tolerance but not paired: greedy matching gave it to a closer partner
    return (f"every {what} within {tolerance_s:g} s is paired with a file closer in time; "
            f"{where}")


def _offset_text(seconds: float) -> str:
    """E.g. "+3600.0 s (1.0 h)"; positive when the partner is later."""
    text = f"{seconds:+.1f} s"
    size = abs(seconds)
    if size >= 86400:
        text += f" ({size / 86400:.1f} days)"
    elif size >= 3600:
        text += f" ({size / 3600:.1f} h)"
    elif size >= 120:
        text += f" ({size / 60:.1f} min)"
    return text
