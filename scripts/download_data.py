#!/usr/bin/env python
"""Download the Kim et al. (2019) data with sunpy's Fido: SDO/AIA 304 A images, SDO/HMI
line-of-sight magnetograms and STEREO-A/-B SECCHI/EUVI 304 A images; and Solar Orbiter
EUI/FSI 304 A level-2 images, a second far-side view, from the Solar Orbiter Archive.

Kim et al. (2019, Nature Astronomy 3, 397) trained on AIA 304 A / HMI line-of-sight
magnetogram pairs from 2011 January to 2017 June at a 12-hour cadence and applied the model
to STEREO/EUVI 304 A images of the far side. The defaults (``--start 2011-01-01 --end
2017-06-30 --cadence-hours 12 --wavelength 304``) reproduce that period and cadence.

Usage:
    # SDO/AIA 304 A, level 1, from the VSO (no account needed)
    python scripts/download_data.py aia --start 2011-01-01 --end 2017-06-30 \\
        --cadence-hours 12 --out data/aia304

    # SDO/HMI line-of-sight magnetograms: hmi.M_45s from the VSO ...
    python scripts/download_data.py hmi --out data/hmi
    # ... or hmi.M_720s exported by JSOC, which needs an email address registered at
    # http://jsoc.stanford.edu/ajax/register_email.html (Rice-compressed FITS files)
    python scripts/download_data.py hmi --series hmi.M_720s --jsoc-email you@example.org \\
        --out data/hmi

    # STEREO-A (or B: its data end 2014-09-27, contact was lost 2014-10-01) EUVI 304 A
    python scripts/download_data.py euvi --spacecraft A --out data/euvi_a

    # Solar Orbiter EUI/FSI 304 A, level 2, from SOAR (needs: pip install sunpy-soar);
    # --start and --end are required for fsi (the defaults are the paper's SDO period)
    python scripts/download_data.py fsi --start 2022-03-01 --end 2022-03-31 \\
        --cadence-hours 12 --out data/fsi304

    # print the queries only: no network access, nothing downloaded
    python scripts/download_data.py aia --out data/aia304 --dry-run
    # search the archive and count the records per time chunk, without downloading
    python scripts/download_data.py aia --out data/aia304 --end 2011-01-31 --list

Then pair and preprocess the SDO files (the same --start/--cadence-hours for aia and hmi
give records within seconds of each other, well inside prep's pairing tolerance):
    solarmaggan prep --preset kim2019 --euv data/aia304 --magnetogram data/hmi --out pairs.h5

The far-side imagers and the years they cover:

* STEREO-B SECCHI/EUVI: launched October 2006, science data from early 2007 to
  2014-09-27 (contact lost 2014-10-01);
* STEREO-A SECCHI/EUVI: from early 2007 on; it passed Earth in August 2023 (around then
  it saw the near side) and by 2026 is some 60-70 deg west of Earth, so it sees only the
  part of the far side beyond the west limb;
* Solar Orbiter EUI/FSI (174 and 304 A only): launched February 2020, first light May
  2020, nominal science phase from November 2021; on its eccentric 0.28-1 au orbit it is
  over the far side for periods of weeks, not continuously.

Sources. Without ``--jsoc-email`` every query goes to the VSO: AIA as level 1 files,
HMI as hmi.M_45s (``Instrument(HMI) & Physobs(LOS_MAGNETIC_FIELD)``), EUVI from the
STEREO Science Center. With ``--jsoc-email`` the SDO queries go to JSOC instead
(aia.lev1_euv_12s segment image, or the hmi series of ``--series``, default hmi.M_720s):
JSOC stages an export per search and mails the address; the script waits for it.
EUI/FSI comes from the Solar Orbiter Archive (SOAR) through the ``sunpy-soar`` Fido client
(``Instrument(EUI) & Level(2) & soar.Product(eui-fsi304-image)``), always level 2
(calibrated, DN/s; level 1 is raw DN, which solarmaggan refuses). Files keep SOAR's names,
``solo_L2_eui-fsi304-image_<start time>_V<version>.fits``. ``--wavelength 174``
(``eui-fsi174-image``) is allowed, but solarmaggan's models take 304 A images.

Cadence. The VSO and JSOC thin a search to ``--cadence-hours`` on the server
(``Sample``). SOAR cannot (sunpy-soar accepts no ``Sample``): its search lists every FSI
image of the window (often minutes apart), and the script keeps, for each
``--cadence-hours`` step counted from ``--start``, the first image at or after the step's
start, and downloads only those. A chunk boundary that does not fall on a cadence step can
give one extra image at that boundary (the default 30-day chunks at 12 h do not).

Time range. ``--end`` given as a bare date means the end of that day. The range is split
into ``--chunk-days`` windows (30 by default): one search, and for JSOC one export request,
per window, which keeps VSO responses and JSOC exports small.

Resumable. Re-running the same command continues where it stopped:

* files already in ``--out`` are not downloaded again (``Fido.fetch(..., overwrite=False)``:
  parfive skips a file whose name already exists); parfive deletes partly written files when
  a download fails or is interrupted with Ctrl-C, and FITS files left truncated by a hard
  kill (size not a multiple of the 2880-byte FITS record) are deleted before the next run;
* each chunk that finished without errors is recorded in ``OUT/.download_done/`` with its
  file names and sizes, so a re-run neither searches it again nor, for JSOC, asks for a new
  export. Delete that folder to check every chunk again.

``--max-files N`` stops after N files. VSO and SOAR results (SOAR's after thinning to
the cadence) are cut to N records; JSOC cannot download part of a search, so there the time
window is shortened to N cadence steps.

Exit status: 0 done; 1 some files failed (re-run to retry them); 2 bad arguments,
sunpy's net extras (or, for fsi, sunpy-soar) missing, or a search/export that failed
(e.g. no network); 130 interrupted. Needs ``pip install "sunpy[net]"`` (bs4, drms, zeep),
and for fsi ``pip install sunpy-soar``, which solarmaggan itself does not require
(``pip install "solarmaggan[download]"`` installs both).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import sys
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import astropy.units as u
from sunpy.util.exceptions import SunpyConnectionWarning

INSTRUMENTS = ("aia", "hmi", "euvi", "fsi")
# series name -> instrument; the VSO serves hmi.M_45s, JSOC serves all of them
SERIES = {"hmi.M_45s": "hmi", "hmi.M_720s": "hmi", "aia.lev1_euv_12s": "aia"}
JSOC_ONLY_SERIES = ("hmi.M_720s", "aia.lev1_euv_12s")
JSOC_SEGMENT = {"hmi": "magnetogram", "aia": "image"}
AIA_WAVELENGTHS = (94, 131, 171, 193, 211, 304, 335, 1600, 1700, 4500)
AIA_EUV_WAVELENGTHS = (94, 131, 171, 193, 211, 304, 335)  # aia.lev1_euv_12s
EUVI_WAVELENGTHS = (171, 195, 284, 304)
FSI_WAVELENGTHS = (174, 304)  # EUI's Full Sun Imager has these two channels only
FSI_LEVEL = 2  # calibrated DN/s; level 1 (raw DN) is refused by solarmaggan
# Solar Orbiter was launched in February 2020; EUI saw first light in May 2020
FSI_FIRST_LIGHT = datetime(2020, 5, 1)
STEREO_B_LAST_DATA = datetime(2014, 9, 27, 23, 59, 59)
PAPER_START, PAPER_END, PAPER_CADENCE_HOURS, PAPER_WAVELENGTH = (
    "2011-01-01", "2017-06-30", 12.0, 304)
JSOC_REGISTER_URL = "http://jsoc.stanford.edu/ajax/register_email.html"
FITS_BLOCK = 2880
FITS_SUFFIXES = (".fits", ".fts", ".fit")
DONE_DIR = ".download_done"


@dataclass(frozen=True)
class Request:
    """A validated download request (what ``build_query`` turns into sunpy attrs)."""

    instrument: str  # aia, hmi, euvi or fsi
    start: datetime  # UTC, naive
    end: datetime
    cadence_hours: float
    wavelength: int | None  # Angstrom; None for HMI
    spacecraft: str | None  # "A" or "B" for EUVI, else None
    series: str | None  # JSOC series, or hmi.M_45s for HMI from the VSO; None otherwise
    jsoc_email: str | None
    warnings: tuple[str, ...] = ()
    level: int | None = None  # data level: 2 for fsi, None (the source's default) otherwise

    @property
    def uses_jsoc(self) -> bool:
        return self.jsoc_email is not None

    @property
    def uses_soar(self) -> bool:
        return self.instrument == "fsi"

    @property
    def source(self) -> str:
        if self.uses_soar:
            return "SOAR (Solar Orbiter Archive)"
        return "JSOC" if self.uses_jsoc else "the VSO"


def _to_datetime(value, name: str) -> datetime:
    """A UTC datetime from a string, datetime or astropy Time; ValueError naming ``name``."""
    from sunpy.time import parse_time

    try:
        return parse_time(value).utc.to_datetime()
    except Exception:  # noqa: BLE001 (astropy/sunpy raise several types, long messages)
        raise ValueError(f"{name}: cannot read {value!r} as a date/time "
                         "(use e.g. 2011-01-01 or 2011-01-01T12:00)") from None


def normalize_spacecraft(value: str) -> str:
    """'A', 'b', 'STEREO_A', 'stereo-b', 'STEREO B' -> 'A' or 'B'; ValueError otherwise."""
    text = re.sub(r"^STEREO[\s_-]*", "", str(value).strip().upper())
    if text not in ("A", "B"):
        raise ValueError(f"unknown spacecraft {value!r}: choose A (STEREO-A) or B (STEREO-B)")
    return text


def resolve_request(instrument: str, start, end, cadence_hours: float = PAPER_CADENCE_HOURS,
                    wavelength: float | None = None, spacecraft: str | None = None,
                    series: str | None = None, jsoc_email: str | None = None,
                    level: int | None = None) -> Request:
    """Check the arguments, fill in the defaults and return a ``Request``.

    Raises ValueError with a message that names the bad argument. Needs no network and no
    ``sunpy.net``.
    """
    notes = []
    instrument = str(instrument).lower()
    if instrument not in INSTRUMENTS:
        raise ValueError(f"unknown instrument {instrument!r}: choose aia, hmi, euvi or fsi")
    start_dt = _to_datetime(start, "start")
    end_dt = _to_datetime(end, "end")
    if end_dt <= start_dt:
        raise ValueError(f"end {end_dt:%Y-%m-%d %H:%M:%S} is not after "
                         f"start {start_dt:%Y-%m-%d %H:%M:%S}")
    try:
        cadence = float(cadence_hours)
    except (TypeError, ValueError):
        raise ValueError(f"cadence must be a number of hours, got {cadence_hours!r}") from None
    if not math.isfinite(cadence) or cadence <= 0:
        raise ValueError(f"cadence must be a positive number of hours, got {cadence_hours!r}")

    if jsoc_email is not None:
        if instrument in ("euvi", "fsi"):
            raise ValueError("--jsoc-email applies to aia and hmi only (JSOC serves SDO data; "
                             "EUVI comes from the VSO, EUI/FSI from SOAR)")
        if "@" not in str(jsoc_email):
            raise ValueError(f"--jsoc-email {jsoc_email!r} is not an email address")

    if series is not None:
        if instrument in ("euvi", "fsi"):
            raise ValueError("--series applies to aia and hmi only")
        if series not in SERIES:
            raise ValueError(f"unknown series {series!r}: choose one of {', '.join(SERIES)}")
        if SERIES[series] != instrument:
            choices = ", ".join(s for s, i in SERIES.items() if i == instrument)
            raise ValueError(f"series {series} is not an {instrument} series: choose {choices}")
        if series in JSOC_ONLY_SERIES and jsoc_email is None:
            raise ValueError(f"{series} comes from JSOC, which needs a registered email: add "
                             f"--jsoc-email (register at {JSOC_REGISTER_URL})")
    elif instrument == "hmi":
        series = "hmi.M_720s" if jsoc_email else "hmi.M_45s"
    elif instrument == "aia" and jsoc_email:
        series = "aia.lev1_euv_12s"

    if spacecraft is not None and instrument != "euvi":
        raise ValueError("--spacecraft applies to euvi only")
    if instrument == "euvi":
        spacecraft = normalize_spacecraft(spacecraft if spacecraft is not None else "A")
        if spacecraft == "B" and end_dt > STEREO_B_LAST_DATA:
            notes.append(f"STEREO-B data end {STEREO_B_LAST_DATA:%Y-%m-%d} (contact was lost "
                         "2014-10-01): searches after that find nothing")

    if level is not None and instrument != "fsi":
        raise ValueError("--level applies to fsi only")
    if instrument == "fsi":
        if level is None:
            level = FSI_LEVEL
        if str(level).strip().upper().removeprefix("L") != str(FSI_LEVEL):
            raise ValueError(f"EUI/FSI level {level} is not supported: only level 2 "
                             "(calibrated, DN/s; the default); level 1 is raw DN, which "
                             "solarmaggan refuses")
        level = FSI_LEVEL
        if start_dt < FSI_FIRST_LIGHT:
            notes.append("Solar Orbiter was launched in February 2020 and EUI saw first light "
                         "in May 2020: searches before that find nothing")

    if instrument == "hmi":
        if wavelength is not None:
            raise ValueError("--wavelength does not apply to hmi (magnetograms)")
    else:
        wavelength = PAPER_WAVELENGTH if wavelength is None else wavelength
        if isinstance(wavelength, u.Quantity):
            wavelength = wavelength.to_value(u.AA, equivalencies=u.spectral())
        try:
            wavelength_value = float(wavelength)
        except (TypeError, ValueError):
            raise ValueError(
                f"wavelength must be a number of Angstrom, got {wavelength!r}") from None
        if instrument == "euvi":
            allowed, what = EUVI_WAVELENGTHS, "EUVI"
        elif instrument == "fsi":
            allowed, what = FSI_WAVELENGTHS, "EUI/FSI"
        elif series == "aia.lev1_euv_12s":
            allowed, what = AIA_EUV_WAVELENGTHS, "aia.lev1_euv_12s"
        else:
            allowed, what = AIA_WAVELENGTHS, "AIA"
        if not math.isfinite(wavelength_value) or round(wavelength_value) not in allowed:
            raise ValueError(f"{what} has no {wavelength_value:g} A channel: choose one of "
                             f"{', '.join(map(str, allowed))}")
        wavelength = int(round(wavelength_value))
        if instrument == "fsi" and wavelength != PAPER_WAVELENGTH:
            notes.append(f"EUI/FSI {wavelength} A: solarmaggan's models take 304 A images, "
                         "so these files are not model inputs")

    return Request(instrument, start_dt, end_dt, cadence, wavelength, spacecraft, series,
                   jsoc_email, tuple(notes), level)


def _sunpy_net(soar: bool = False):
    """(Fido, attrs) from sunpy.net, or ImportError that says how to install them. With
    ``soar``, also import sunpy_soar, which registers the SOAR client with Fido and adds
    ``attrs.soar``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sunpy's "missing extra dependencies" warning
            from sunpy.net import Fido, attrs
    except ImportError as error:
        raise ImportError(f"sunpy.net cannot be imported ({error}); downloads need sunpy's "
                          "net extras: pip install 'sunpy[net]'") from None
    if soar:
        try:
            import sunpy_soar  # noqa: F401  (registers the SOAR client and attrs.soar)
        except ImportError as error:
            raise ImportError(f"sunpy_soar cannot be imported ({error}); EUI/FSI downloads "
                              "from the Solar Orbiter Archive need: pip install sunpy-soar"
                              ) from None
    return Fido, attrs


def query_attrs(request: Request, start: datetime | None = None,
                end: datetime | None = None) -> tuple:
    """The sunpy.net attrs for ``request`` (or for its sub-window ``start``-``end``)."""
    _, a = _sunpy_net(soar=request.uses_soar)
    time = a.Time(start or request.start, end or request.end)
    if request.uses_soar:
        # sunpy-soar takes no a.Sample (Fido would find no client): thinned client-side by
        # thin_to_cadence. The product names the channel (FSI only), so no a.Wavelength.
        return (time, a.Instrument("EUI"), a.Level(request.level),
                a.soar.Product(f"eui-fsi{request.wavelength}-image"))
    sample = a.Sample(request.cadence_hours * u.hour)
    if request.instrument == "euvi":
        return (time, a.Instrument.secchi, a.Detector.euvi,
                a.Source(f"STEREO_{request.spacecraft}"),
                a.Wavelength(request.wavelength * u.AA), sample)
    if request.uses_jsoc:
        # JSOC queries name the series, not the instrument: the JSOC client refuses
        # a.Instrument, and the VSO client refuses a.jsoc.*, so Fido picks JSOC only.
        parts = [time, a.jsoc.Series(request.series)]
        if request.instrument == "aia":
            parts.append(a.Wavelength(request.wavelength * u.AA))
        parts += [a.jsoc.Segment(JSOC_SEGMENT[request.instrument]), sample,
                  a.jsoc.Notify(request.jsoc_email)]
        return tuple(parts)
    if request.instrument == "aia":
        return (time, a.Instrument.aia, a.Wavelength(request.wavelength * u.AA), sample)
    return (time, a.Instrument.hmi, a.Physobs.los_magnetic_field, sample)


def build_query(instrument: str, start, end, cadence_hours: float = PAPER_CADENCE_HOURS,
                wavelength: float | None = None, spacecraft: str | None = None,
                series: str | None = None, jsoc_email: str | None = None,
                level: int | None = None) -> tuple:
    """The tuple of sunpy.net attrs for ``Fido.search(*query)``; no network access.

    Raises ValueError for bad arguments (see ``resolve_request``), ImportError when
    sunpy.net's extras (or, for fsi, sunpy-soar) are missing; warns (UserWarning) e.g. for
    STEREO-B after 2014-09-27. For fsi the query has no cadence: see ``thin_to_cadence``.
    """
    request = resolve_request(instrument, start, end, cadence_hours, wavelength, spacecraft,
                              series, jsoc_email, level)
    for note in request.warnings:
        warnings.warn(note, UserWarning, stacklevel=2)
    return query_attrs(request)


def describe_attr(attr) -> str:
    """One attr as short readable text, e.g. ``Wavelength(304 Angstrom)``."""
    cls = type(attr)
    prefix = ("jsoc." if cls.__module__.endswith("jsoc.attrs")
              else "soar." if cls.__module__.startswith("sunpy_soar") else "")
    name = prefix + cls.__name__
    if hasattr(attr, "start") and hasattr(attr, "end"):
        return f"{name}({attr.start.utc.iso[:19]}, {attr.end.utc.iso[:19]})"
    if hasattr(attr, "min") and hasattr(attr, "max"):
        low, high = attr.min.to_value(u.AA), attr.max.to_value(u.AA)
        return f"{name}({low:g} Angstrom)" if low == high else f"{name}({low:g}-{high:g} Angstrom)"
    if name == "Sample":
        return f"Sample({attr.value:g} s = {attr.value / 3600:g} h)"
    return f"{name}({attr.value})"


def describe_query(query) -> str:
    return " & ".join(describe_attr(attr) for attr in query)


def jsoc_recordset(request: Request, start: datetime, end: datetime) -> str:
    """The JSOC record-set string sunpy sends for a JSOC request (to check it by hand on
    http://jsoc.stanford.edu/ajax/lookdata.html); built offline."""
    from astropy.time import Time

    def tai(moment):
        return Time(moment, scale="utc").tai.strftime("%Y.%m.%d_%H:%M:%S_TAI")

    sample = request.cadence_hours * 3600
    text = f"{request.series}[{tai(start)}-{tai(end)}@{sample:g}s]"
    if request.instrument == "aia":
        text += f"[{request.wavelength}]"
    return text + f"{{{JSOC_SEGMENT[request.instrument]}}}"


def time_chunks(start: datetime, end: datetime, days: float) -> list[tuple[datetime, datetime]]:
    """Consecutive windows of ``days`` covering start..end; each ends 1 s before the next
    starts so that no record falls into two windows."""
    if not days > 0:
        raise ValueError(f"chunk length must be positive, got {days!r} days")
    step, second = timedelta(days=days), timedelta(seconds=1)
    chunks, moment = [], start
    while moment <= end:
        chunks.append((moment, min(moment + step - second, end)))
        moment += step
    return chunks


def expected_records(request: Request) -> int:
    """Records at the cadence between start and end, if none is missing."""
    span_h = (request.end - request.start).total_seconds() / 3600
    return math.floor(span_h / request.cadence_hours) + 1


def count_records(results) -> int:
    """Records in a Fido search result (a UnifiedResponse: an iterable of tables)."""
    return sum(len(table) for table in results)


def thin_to_cadence(results, origin: datetime, cadence_hours: float) -> list:
    """For SOAR, which cannot thin a search by cadence: the records of ``results`` (an
    iterable of tables with a "Start time" column) to keep, as sliced tables: for each
    ``cadence_hours`` step counted from ``origin``, the first record that starts at or
    after the step's start (and before the next step's). Tables left empty are dropped."""
    from sunpy.time import parse_time

    step_s = cadence_hours * 3600
    best = {}  # step -> (start time, table index, row index)
    tables = list(results)
    for t_index, table in enumerate(tables):
        if not len(table):
            continue
        times = parse_time(table["Start time"]).utc.to_datetime()
        for r_index, moment in enumerate(times):
            step = math.floor((moment - origin).total_seconds() / step_s)
            if step not in best or moment < best[step][0]:
                best[step] = (moment, t_index, r_index)
    keep = {}
    for _, t_index, r_index in sorted(best.values()):
        keep.setdefault(t_index, []).append(r_index)
    return [tables[t_index][rows] for t_index, rows in sorted(keep.items())]


def limit_results(results, max_records: int | None) -> list:
    """The blocks to pass to ``Fido.fetch``: all of ``results``, or its first
    ``max_records`` records as sliced tables (VSO only: JSOC exports whole searches)."""
    if max_records is None or count_records(results) <= max_records:
        return [results]
    blocks, left = [], max_records
    for table in results:
        if left <= 0:
            break
        blocks.append(table[:left])
        left -= len(blocks[-1])
    return blocks


def remove_partial_fits(out: Path, keep: set[str] = frozenset()) -> list[Path]:
    """Delete FITS files in ``out`` (not in ``keep``) whose size is 0 or not a multiple of
    the 2880-byte FITS record: downloads cut off by a hard kill. Returns the deleted paths."""
    removed = []
    if not out.is_dir():
        return removed
    for path in sorted(out.iterdir()):
        if (path.is_file() and path.suffix.lower() in FITS_SUFFIXES and path.name not in keep
                and (path.stat().st_size == 0 or path.stat().st_size % FITS_BLOCK)):
            path.unlink()
            removed.append(path)
    return removed


def fetch_files(blocks, out: Path, fido, *, max_conn: int = 4, retries: int = 2,
                progress: bool = True) -> tuple[list[str], list]:
    """Download ``blocks`` (search results) into ``out``, skipping files already there
    (``overwrite=False``), retrying failed files ``retries`` times.

    Returns (paths of the files now present, errors left)."""
    path = str(out / "{file}")
    results = fido.fetch(*blocks, path=path, max_conn=max_conn, overwrite=False,
                         progress=progress)
    files = [str(f) for f in results]
    for _ in range(retries):
        if not results.errors:
            break
        results = fido.fetch(results, path=path, max_conn=max_conn, overwrite=False,
                             progress=progress)
        files += [str(f) for f in results]
    return files, list(results.errors)


def _chunk_key(request: Request, start: datetime, end: datetime) -> str:
    where = "soar" if request.uses_soar else "jsoc" if request.uses_jsoc else "vso"
    fields = [request.instrument, where, request.series,
              request.wavelength, request.spacecraft, f"{request.cadence_hours:g}",
              start.isoformat(), end.isoformat()]
    if request.level is not None:
        fields.append(f"level{request.level}")
    return "|".join(str(field) for field in fields)


def chunk_marker(out: Path, request: Request, start: datetime, end: datetime) -> Path:
    """Where a finished chunk is recorded: OUT/.download_done/<instrument>_<start>_<hash>.json"""
    digest = hashlib.sha1(_chunk_key(request, start, end).encode()).hexdigest()[:12]
    return out / DONE_DIR / f"{request.instrument}_{start:%Y%m%dT%H%M%S}_{digest}.json"


def read_marker(marker: Path) -> dict | None:
    """The files a finished chunk left ({name: size}), or None when the chunk must be
    (re)done: no marker, an unreadable one, or a file missing or of another size."""
    try:
        files = json.loads(marker.read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    folder = marker.parent.parent
    for name, size in files.items():
        path = folder / name
        if not path.is_file() or path.stat().st_size != size:
            return None
    return files


def write_marker(marker: Path, request: Request, start: datetime, end: datetime,
                 files: list[str]) -> None:
    marker.parent.mkdir(parents=True, exist_ok=True)
    sizes = {Path(f).name: Path(f).stat().st_size for f in files if Path(f).is_file()}
    marker.write_text(json.dumps({"query": _chunk_key(request, start, end), "files": sizes},
                                 indent=1))


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or "no message"
    return f"{type(error).__name__}: {text[:300]}"


def print_plan(request: Request, out: Path, chunks, query) -> None:
    """The --dry-run report: what would be searched and where files would go."""
    what = {"aia": f"SDO/AIA {request.wavelength} A",
            "hmi": f"SDO/HMI line-of-sight magnetograms ({request.series})",
            "euvi": f"STEREO-{request.spacecraft} SECCHI/EUVI {request.wavelength} A",
            "fsi": f"Solar Orbiter EUI/FSI {request.wavelength} A, level {request.level}"}
    print("dry run: no network access, nothing downloaded")
    print(f"data: {what[request.instrument]} from {request.source}"
          + (f", series {request.series}" if request.uses_jsoc else ""))
    print(f"period: {request.start:%Y-%m-%d %H:%M:%S} to {request.end:%Y-%m-%d %H:%M:%S} UTC, "
          f"one record per {request.cadence_hours:g} h: at most {expected_records(request)} files")
    print(f"searches: {len(chunks)} time chunk(s)"
          + (" (one JSOC export each)" if request.uses_jsoc else ""))
    if request.uses_soar:
        print(f"cadence: SOAR lists every image; the script keeps the first at or after each "
              f"{request.cadence_hours:g} h step from the start and downloads only those")
    print(f"first query: {describe_query(query)}")
    if request.uses_jsoc:
        print(f"JSOC record set (first chunk): {jsoc_recordset(request, *chunks[0])}")
    print(f"files go to: {out / '{file}'} (files already there are skipped: re-run to resume)")
    for note in request.warnings:
        print(f"warning: {note}")


def run(request: Request, out: Path, fido, *, chunk_days: float = 30,
        max_files: int | None = None, max_conn: int = 4, retries: int = 2,
        list_only: bool = False, progress: bool = True) -> int:
    """Search (and unless ``list_only`` download) ``request`` chunk by chunk; exit status."""
    chunks = time_chunks(request.start, request.end, chunk_days)
    if not list_only:
        out.mkdir(parents=True, exist_ok=True)
        keep = set()
        for marker in (out / DONE_DIR).glob("*.json"):
            keep |= set(read_marker(marker) or ())
        for path in remove_partial_fits(out, keep):
            print(f"removed truncated file {path.name} (it will be downloaded again)")
    total, failed = 0, 0
    for index, (start, end) in enumerate(chunks, 1):
        label = f"chunk {index}/{len(chunks)} {start:%Y-%m-%d %H:%M}..{end:%Y-%m-%d %H:%M}"
        left = None if max_files is None else max_files - total
        if left is not None and left <= 0:
            break
        marker = chunk_marker(out, request, start, end)
        if not list_only:
            done = read_marker(marker)
            if done is not None:
                total += len(done)
                print(f"{label}: {len(done)} files, done earlier")
                continue
        truncated = False
        if left is not None and request.uses_jsoc:
            # JSOC exports whole searches, so shorten the window to `left` cadence steps
            short_end = start + timedelta(hours=request.cadence_hours * left,
                                          seconds=-1)
            if short_end < end:
                end, truncated = short_end, True
        try:
            with warnings.catch_warnings():
                # sunpy warns once per unreachable VSO mirror; the error below says it all
                warnings.filterwarnings("ignore", category=SunpyConnectionWarning)
                results = fido.search(*query_attrs(request, start, end))
        except Exception as error:  # noqa: BLE001 (network errors come in many types)
            print(f"error: search failed for {label} at {request.source}: "
                  f"{_one_line(error)}", file=sys.stderr)
            return 2
        found = shown = count_records(results)
        found_text = f"{found} records"
        if request.uses_soar:
            # SOAR lists every image: keep one per cadence step (counted from --start)
            results = thin_to_cadence(results, request.start, request.cadence_hours)
            found = count_records(results)
            if shown:
                found_text += f" ({found} at the {request.cadence_hours:g} h cadence)"
        if list_only:
            total += found
            print(f"{label}: {found_text}")
            continue
        if found == 0:
            print(f"{label}: no records")
            continue
        if left is not None and found > left and not request.uses_jsoc:
            truncated = True
        if request.uses_soar:  # already a list of tables, each a block for Fido.fetch
            blocks = results if left is None or found <= left else limit_results(results, left)
        else:
            blocks = limit_results(results, None if request.uses_jsoc else left)
        try:
            files, errors = fetch_files(blocks, out, fido, max_conn=max_conn, retries=retries,
                                        progress=progress)
        except Exception as error:  # noqa: BLE001 (JSOC export errors, permissions, ...)
            print(f"error: download failed for {label}: {_one_line(error)}; "
                  "re-run the same command to resume", file=sys.stderr)
            return 2
        total += len(files)
        failed += len(errors)
        print(f"{label}: {found_text}, {len(files)} files"
              + (f", {len(errors)} failed" if errors else ""))
        if not errors and not truncated:
            write_marker(marker, request, start, end, files)
    if list_only:
        print(f"{total} records"
              + (f" at the {request.cadence_hours:g} h cadence" if request.uses_soar else "")
              + f" in {len(chunks)} chunk(s); nothing downloaded")
        return 0
    print(f"{total} files in {out}"
          + (f"; {failed} failed: re-run the same command to retry them" if failed else ""))
    return 1 if failed else 0


def _positive(kind):
    def convert(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value
    return convert


def _end_of_day_if_date(text: str):
    """A bare date (2017-06-30) as an --end means the end of that day."""
    if re.fullmatch(r"\d{4}[-/]\d{2}[-/]\d{2}", text.strip()):
        return _to_datetime(text, "--end") + timedelta(days=1, seconds=-1)
    return text


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="download_data.py",
        description="Download SDO/AIA, SDO/HMI, STEREO/EUVI or Solar Orbiter EUI/FSI data "
                    "for solarmaggan with sunpy's Fido (resumable: re-run the same command "
                    "to continue).",
        epilog="Next: solarmaggan prep --preset kim2019 --euv DIR --magnetogram DIR "
               "--out pairs.h5")
    parser.add_argument("instrument", choices=INSTRUMENTS,
                        help="aia: SDO/AIA; hmi: SDO/HMI LOS magnetograms; euvi: STEREO/EUVI; "
                             "fsi: Solar Orbiter EUI/FSI level 2 from SOAR (needs sunpy-soar)")
    parser.add_argument("--start",
                        help=f"UTC start ({PAPER_START}; required for fsi)")
    parser.add_argument("--end",
                        help=f"UTC end; a bare date means the end of that day ({PAPER_END}; "
                             "required for fsi)")
    parser.add_argument("--cadence-hours", type=float, default=PAPER_CADENCE_HOURS,
                        help=f"one record per this many hours ({PAPER_CADENCE_HOURS:g})")
    parser.add_argument("--out", required=True, type=Path, help="folder for the files")
    parser.add_argument("--spacecraft", help="euvi only: A (STEREO-A, default) or B")
    parser.add_argument("--jsoc-email",
                        help="aia/hmi: get SDO data from JSOC with this registered email")
    parser.add_argument("--series", choices=tuple(SERIES),
                        help="hmi.M_45s (VSO, or JSOC with --jsoc-email), hmi.M_720s (JSOC), "
                             "aia.lev1_euv_12s (JSOC); default hmi.M_45s, or the JSOC "
                             "series with --jsoc-email")
    parser.add_argument("--wavelength", type=float,
                        help=f"aia/euvi/fsi: Angstrom ({PAPER_WAVELENGTH}); fsi: 304 or 174, "
                             "but the models take 304")
    parser.add_argument("--level", type=int,
                        help="fsi only: data level, 2 (the default and the only one: level 1 "
                             "is raw DN, which solarmaggan refuses)")
    parser.add_argument("--chunk-days", type=_positive(float), default=30.0,
                        help="days per search / JSOC export (30)")
    parser.add_argument("--max-files", type=_positive(int), help="stop after this many files")
    parser.add_argument("--max-conn", type=_positive(int), default=4,
                        help="parallel downloads (4; JSOC always uses 1)")
    parser.add_argument("--retries", type=int, default=2, help="retries of failed files (2)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true",
                      help="print the queries and the plan; no network access, no download")
    mode.add_argument("--list", action="store_true",
                      help="search and count the records per chunk; no download")
    return parser


def parse_args(argv=None) -> argparse.Namespace:
    """Parse and check the command line; bad arguments exit with status 2 and a message.
    The result has ``request`` (a ``Request``) besides the plain options."""
    parser = make_parser()
    args = parser.parse_args(argv)
    if args.instrument == "fsi":
        missing = [f"--{name}" for name in ("start", "end") if getattr(args, name) is None]
        if missing:
            parser.error(f"fsi needs {' and '.join(missing)} (the defaults are the paper's SDO "
                         "period; EUI/FSI data start in 2020)")
    start = PAPER_START if args.start is None else args.start
    end = PAPER_END if args.end is None else args.end
    try:
        args.request = resolve_request(
            args.instrument, start, _end_of_day_if_date(end), args.cadence_hours,
            args.wavelength, args.spacecraft, args.series, args.jsoc_email, args.level)
    except ValueError as error:
        parser.error(str(error))
    if args.retries < 0:
        parser.error(f"--retries must be 0 or more, got {args.retries}")
    return args


def main(argv=None, *, fido=None) -> int:
    """Command line entry; ``fido`` replaces sunpy's Fido (tests)."""
    args = parse_args(argv)
    request = args.request
    try:
        net_fido, _ = _sunpy_net(soar=request.uses_soar)
        chunks = time_chunks(request.start, request.end, args.chunk_days)
        first_query = query_attrs(request, *chunks[0])
    except ImportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.dry_run:
        print_plan(request, args.out, chunks, first_query)
        return 0
    for note in request.warnings:
        print(f"warning: {note}", file=sys.stderr)
    try:
        return run(request, args.out, fido or net_fido, chunk_days=args.chunk_days,
                   max_files=args.max_files, max_conn=args.max_conn, retries=args.retries,
                   list_only=args.list, progress=not args.no_progress)
    except KeyboardInterrupt:
        print("interrupted: re-run the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
