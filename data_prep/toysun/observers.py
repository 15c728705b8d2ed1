"""Where the observers of the toy Sun are: Earth, STEREO-A, STEREO-B, Solar Orbiter,
explicit positions and real FITS files.

An observer is given as text (the campaign's ``--observer``) and parsed once by
:func:`parse_observer` into an :class:`ObserverSpec`; :func:`observer_coordinate` then places
it at any time as a heliographic Stonyhurst (HGS) coordinate: longitude and latitude in
degrees, distance from the Sun's centre in metres, ``obstime`` the requested time.

* ``earth``: sunpy's built-in ephemeris (:func:`sunpy.coordinates.get_earth`).
* ``stereo-a``, ``stereo-b``: the built-in offline table ``stereo_positions.csv`` (every
  10 days, interpolated linearly; see :func:`stereo_position`). It covers STEREO-A from
  2007-01-01 to 2027-01-01 and STEREO-B from 2007-01-01 to 2014-10-01, when contact with
  STEREO-B was lost; times outside are refused.
* ``[NAME=]LON,LAT,DIST_AU``: a fixed HGS longitude and latitude (deg) and distance (au,
  anything outside the Sun: Solar Orbiter's 0.28 au perihelion works), the same at every
  time (a fixed place relative to the Sun-Earth line, e.g. quadrature).
* Solar Orbiter: ``solo=LON,LAT,DIST_AU`` (NAME ``solo``, ``solar-orbiter``, or starting
  with ``solo-`` / ``solo_``, any case, e.g. ``solo=150,4,0.42``), an explicit position
  whose observer carries EUI/FSI (``ObserverSpec.instrument`` "fsi"; the others carry
  EUVI, "euvi"). A bare ``solo`` is refused: there is no offline ephemeris of Solar Orbiter.
* a FITS file (``.fits``/``.fts``/``.fit``, optionally ``.gz``/``.fz``) or a text header
  file (``.header``, as sunpy's test headers): the observer its header gives (HGLN_OBS,
  HGLT_OBS, DSUN_OBS, or whatever sunpy reads the observer from). Like an explicit position
  it keeps that Earth-relative position (HGS longitude, latitude, distance) at every time;
  its detector is the caller's (:func:`read_observer_header`). A Solar Orbiter file
  (OBSRVTRY 'Solar Orbiter', e.g. EUI/FSI) is named ``solo`` and carries FSI.

Accuracy of the STEREO table
----------------------------
The table is made by ``scripts/make_stereo_table.py`` (offline) from an N-body model: each
spacecraft a test particle of the Sun perturbed by Venus, the Earth-Moon barycentre, Mars,
Jupiter and Saturn (astropy's built-in ephemeris). STEREO-A is integrated from a published
state vector (2020-01-01, in the GMAT script ``STEREO_A.script`` of
github.com/ScottTilley/stereo_a, read as barycentric J2000-ecliptic); nothing of it is
fitted. STEREO-B, for which no state vector was found, is an orbit in the ecliptic plane
whose 2011-02-06 state is fitted to published A-B geometries and to the STEREO Science
Center's (SSC) 2015 blackout dates. Model minus published value, for every published
position found (the CSV's header lists them with their full sources):

STEREO-A (all independent checks):

* sunpy's test headers (HGLN_OBS, HGLT_OBS, DSUN_OBS): EUVI and COR1 2009-06-15: -0.053 deg
  longitude, -0.003 deg latitude, <1e-5 au; HI-2 2011-09-10: -0.028 deg, +0.004 deg,
  <1e-5 au;
* crosses the Sun-Earth line on 2023-08-12 (NASA GSFC): +0.06 deg; behind the Sun (longitude
  180) mid 2015-05-13..27 (SSC): +0.07 deg; the SSC's 2015 blackout starts and ends
  (03-17, 07-14) fall at one elongation from the Sun (2.15, 2.16 deg);
* orbital period 346 d (Wikipedia): 344.5 d (osculating, 2011).

So STEREO-A is good to about 0.1 deg in longitude and latitude and 1e-4 au in distance.

STEREO-B (only separations and dates are published; its latitude and distance follow from
the model, whose orbit lies in the ecliptic, to which STEREO-A's is inclined 0.13 deg):

* fitted: 44 deg from A on 2008-01-08 (NASA STEREO gallery): +0.14 deg; 180 deg from A on
  2011-02-06 (NASA): -0.23 deg; behind the Sun mid 2015-02-15..22 (SSC): -0.10 deg; its
  four 2015 blackout boundaries at A's elongation: 2.35, 2.33, 2.00, 2.33 deg (about
  +0.4, +0.35, -0.3, +0.35 deg in longitude);
* checks: quadrature with A on 2009-01-24 (secondary source): -0.09 deg; A, B and Earth
  "almost exactly equidistant" on 2012-09-01 (NASA gallery): 123.8 (A, itself accurate),
  116.2 and 120.0 deg apart; one pass behind the Sun in 2015 (SSC: "only once"): yes;
  period 388 d (Wikipedia): 388.9 d; integrated back to its lunar swingby of 2007-01-21
  (JHU APL): 0.012 au from the Moon.

So STEREO-B is good to about 0.3 deg in longitude where it is anchored (2008-2015) and
probably to a degree or so in between (0.012 au, ~0.7 deg, at its 2007 start). Linear
interpolation between the table's 10-day rows adds at most 0.03 deg and 0.0002 au. Ample for
a synthetic campaign (renders use the coordinate returned here, so the geometry is
self-consistent whatever the error), not for pointing real STEREO data.

Only numpy, astropy and sunpy are needed (no TensorFlow).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import warnings
from importlib import resources
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.time import Time
from sunpy.coordinates import HeliographicStonyhurst, get_earth
from sunpy.time import parse_time

__all__ = [
    "OBSERVER_NAMES", "ObserverSpec", "observer_coordinate", "parse_observer",
    "read_observer_header", "stereo_position",
]

#: The observers known by name.
OBSERVER_NAMES = ("earth", "stereo-a", "stereo-b")

#: Other spellings of the names (compared in lower case without " ", "-" and "_").
_ALIASES = {
    "earth": "earth",
    "stereoa": "stereo-a", "sta": "stereo-a", "stereoahead": "stereo-a", "ahead": "stereo-a",
    "stereob": "stereo-b", "stb": "stereo-b", "stereobehind": "stereo-b", "behind": "stereo-b",
}

#: File names read as FITS files.
FITS_SUFFIXES = (".fits", ".fts", ".fit")
_COMPRESSION_SUFFIXES = (".gz", ".fz")
#: File names read as text headers (``astropy.io.fits.Header.fromtextfile``).
HEADER_SUFFIXES = (".header",)
#: The instruments an observer may carry: STEREO's EUVI, Solar Orbiter's EUI/FSI.
OBSERVER_INSTRUMENTS = ("euvi", "fsi")

_AU_M = u.au.to(u.m)
_RSUN_AU = u.R_sun.to(u.au)
_STEREO_TABLE = "stereo_positions.csv"
_FOLDER_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_EXPLICIT = re.compile(rf"^(?:(?P<name>[^=,]+)=)?\s*(?P<lon>{_NUMBER})\s*,\s*(?P<lat>{_NUMBER})"
                       rf"\s*,\s*(?P<dist>{_NUMBER})\s*$")

_ACCEPTED = ("accepted: earth, stereo-a, stereo-b (also sta, stb, stereo_a, ...), "
             "[NAME=]LON,LAT,DIST_AU (HGS deg, deg, au; e.g. quadrature=90,0,1.0; "
             "solo=LON,LAT,DIST_AU for Solar Orbiter with EUI/FSI), "
             "or an existing FITS file (.fits/.fts/.fit, optionally .gz/.fz) or .header file")


@dataclasses.dataclass(frozen=True)
class ObserverSpec:
    """One observer, as parsed from text by :func:`parse_observer`.

    ``name``: folder-safe name ("earth", "stereo-a", "stereo-b", the user's, or derived from
    a FITS file). ``kind``: "earth" (ephemeris), "table" (STEREO-A/B table), "explicit"
    (fixed position) or "header" (fixed position from a FITS header). For "explicit" and
    "header": ``lon_deg``, ``lat_deg`` the HGS longitude and latitude (deg) and
    ``distance_m`` the distance from the Sun's centre (m). ``header_path``: the FITS (or
    text header) file of a "header" observer (whose detector the caller uses).
    ``instrument``: the EUV imager an observer other than Earth carries: "euvi"
    (STEREO-like, the default) or "fsi" (Solar Orbiter's EUI/FSI); Earth carries SDO's
    whatever it says.
    """

    name: str
    kind: str
    lon_deg: float | None = None
    lat_deg: float | None = None
    distance_m: float | None = None
    header_path: str | None = None
    instrument: str = "euvi"

    def __post_init__(self) -> None:
        if self.instrument not in OBSERVER_INSTRUMENTS:
            raise ValueError(f"observer {self.name!r}: instrument must be one of "
                             f"{OBSERVER_INSTRUMENTS}, got {self.instrument!r}")


def parse_observer(text: str) -> ObserverSpec:
    """The observer named or described by ``text`` (see the module docstring for the forms).

    Raises ValueError, with a one-line message naming ``text`` and what is accepted, for
    anything else; for a FITS file that is missing or has no observer position, the message
    names the file and the problem.
    """
    stripped = str(text).strip()
    alias = _ALIASES.get(re.sub(r"[\s_-]", "", stripped.lower()))
    if alias is not None:
        return ObserverSpec(alias, "earth" if alias == "earth" else "table")
    if _is_fits_name(stripped) or stripped.lower().endswith(HEADER_SUFFIXES):
        return _header_observer(Path(stripped))
    match = _EXPLICIT.match(stripped)
    if match is not None:
        return _explicit_observer(stripped, match)
    if _is_solar_orbiter_name(stripped):
        raise ValueError(f"observer {text!r}: Solar Orbiter needs its position: give "
                         f"solo=LON,LAT,AU (HGS deg, deg, au; e.g. solo=150,4,0.42) or an "
                         f"EUI FITS file (there is no offline ephemeris of Solar Orbiter)")
    if Path(stripped).is_file():
        raise ValueError(f"observer {text!r}: not a FITS file name; {_ACCEPTED}")
    raise ValueError(f"unknown observer {text!r}; {_ACCEPTED}")


def observer_coordinate(spec: ObserverSpec | str, time: Any) -> SkyCoord:
    """The observer's HGS position (lon, lat in deg; radius in m; obstime ``time``) at
    ``time`` (astropy Time, ISO string or anything sunpy's parse_time reads; scalar or
    array). ``spec``: an :class:`ObserverSpec` or text for :func:`parse_observer`.

    Raises ValueError for a STEREO time outside the built-in table (see
    :func:`stereo_position`).
    """
    if not isinstance(spec, ObserverSpec):
        spec = parse_observer(spec)
    time = parse_time(time)
    if spec.kind == "earth":
        earth = get_earth(time)
        return _stonyhurst(earth.lon.to_value(u.deg), earth.lat.to_value(u.deg),
                           earth.radius.to_value(u.m), time)
    if spec.kind == "table":
        return stereo_position(spec.name[-1], time)
    if spec.kind in ("explicit", "header"):
        return _stonyhurst(spec.lon_deg, spec.lat_deg, spec.distance_m, time)
    raise ValueError(f"observer {spec.name!r} has an unknown kind {spec.kind!r}")


def stereo_position(spacecraft: str, time: Any) -> SkyCoord:
    """STEREO-A (``spacecraft`` "A") or STEREO-B ("B") at ``time``, from the built-in table
    interpolated linearly: HGS lon, lat (deg), radius (m), obstime ``time``.

    Raises ValueError naming the spacecraft, the time and the covered range when ``time``
    lies outside the table (STEREO-B: contact ended 2014-10-01).
    """
    key = str(spacecraft).strip().upper()
    if key not in ("A", "B"):
        raise ValueError(f"spacecraft must be 'A' or 'B' (STEREO-A or STEREO-B), "
                         f"got {spacecraft!r}")
    time = parse_time(time)
    mjd, lon, lat, distance_au = _stereo_table()[key]
    wanted = np.asarray(time.utc.mjd, float)
    if wanted.min() < mjd[0] or wanted.max() > mjd[-1]:
        outside = wanted.min() if wanted.min() < mjd[0] else wanted.max()
        covered = Time([mjd[0], mjd[-1]], format="mjd", scale="utc").iso
        lost = " (contact with STEREO-B ended 2014-10-01)" if key == "B" else ""
        raise ValueError(
            f"no STEREO-{key} position at {Time(outside, format='mjd', scale='utc').iso}: the "
            f"built-in table covers {covered[0][:10]} to {covered[1][:10]}{lost}")
    return _stonyhurst(np.interp(wanted, mjd, lon), np.interp(wanted, mjd, lat),
                       np.interp(wanted, mjd, distance_au) * _AU_M, time)


def _stonyhurst(lon_deg, lat_deg, distance_m, time: Time) -> SkyCoord:
    """An HGS coordinate (deg, deg, m) at ``time``, the position broadcast to its shape."""
    shape = np.shape(time)
    lon, lat, distance = (np.broadcast_to(np.asarray(v, float), shape)
                          for v in (lon_deg, lat_deg, distance_m))
    return SkyCoord(lon * u.deg, lat * u.deg, distance * u.m,
                    frame=HeliographicStonyhurst(obstime=time))


@functools.lru_cache(maxsize=1)
def _stereo_table() -> dict[str, tuple[np.ndarray, ...]]:
    """{"A"|"B": (mjd UTC, lon deg unwrapped, lat deg, distance au)} from the package CSV."""
    text = resources.files("data_prep.toysun").joinpath(_STEREO_TABLE).read_text()
    rows = [line.split(",") for line in text.splitlines()
            if line.strip() and not line.startswith("#")][1:]  # after the column names
    table = {}
    for key in ("A", "B"):
        mine = [row for row in rows if row[0] == key]
        mjd = Time([row[1] for row in mine], format="isot", scale="utc").mjd
        lon, lat, distance = (np.array([float(row[i]) for row in mine]) for i in (2, 3, 4))
        table[key] = (mjd, np.degrees(np.unwrap(np.radians(lon))), lat, distance)
    return table


def _explicit_observer(text: str, match: re.Match) -> ObserverSpec:
    """An explicit ``[NAME=]LON,LAT,DIST_AU`` observer, checked."""
    lon, lat, distance_au = (float(match[key]) for key in ("lon", "lat", "dist"))
    if not all(math.isfinite(v) for v in (lon, lat, distance_au)):
        raise ValueError(f"observer {text!r}: LON, LAT and DIST_AU must be finite numbers")
    if not -90.0 <= lat <= 90.0:
        raise ValueError(f"observer {text!r}: latitude {lat} deg is outside [-90, 90]")
    if not distance_au > _RSUN_AU:
        raise ValueError(f"observer {text!r}: distance {distance_au} au is not outside the "
                         f"Sun (> {_RSUN_AU:.4f} au)")
    lon = _wrap180(lon)
    name = (match["name"] or "").strip() or (
        f"hgs-lon{_name_number(lon, 3)}-lat{_name_number(lat, 2)}-{distance_au:.2f}au")
    if not _FOLDER_SAFE.match(name):
        raise ValueError(f"observer {text!r}: name {name!r} is not folder-safe (letters, "
                         f"digits, '.', '_', '-')")
    return ObserverSpec(name, "explicit", lon, lat, distance_au * _AU_M,
                        instrument="fsi" if _is_solar_orbiter_name(name) else "euvi")


def _is_solar_orbiter_name(name: str) -> bool:
    """Whether ``name`` names Solar Orbiter: solo, solar-orbiter (any case, any of " ", "-",
    "_" or none between the words), or solo-... / solo_...."""
    lower = name.strip().lower()
    return (re.sub(r"[\s_-]", "", lower) in ("solo", "solarorbiter")
            or lower.startswith(("solo-", "solo_")))


def _wrap180(lon_deg: float) -> float:
    """A longitude (deg) in [-180, 180), unchanged when already there."""
    return lon_deg if -180.0 <= lon_deg < 180.0 else (lon_deg + 180.0) % 360.0 - 180.0


def _name_number(value: float, digits: int) -> str:
    """``value`` for a name: zero-padded integer digits ("090", "-03"), decimals only if any."""
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    if magnitude == round(magnitude):
        return f"{sign}{int(round(magnitude)):0{digits}d}"
    return f"{sign}{magnitude:0{digits + 3}.2f}".rstrip("0")


def _is_fits_name(text: str) -> bool:
    """Whether ``text`` ends like a FITS file (.fits/.fts/.fit, optionally .gz/.fz)."""
    lower = text.lower()
    for suffix in _COMPRESSION_SUFFIXES:
        lower = lower.removesuffix(suffix)
    return lower.endswith(FITS_SUFFIXES)


def _header_observer(path: Path) -> ObserverSpec:
    """The observer of a FITS file: its HGS position and a name from its observatory."""
    if not path.is_file():
        raise ValueError(f"observer FITS file {str(path)!r} does not exist")
    header = _observer_header(path)
    if all(key in header for key in ("HGLN_OBS", "HGLT_OBS", "DSUN_OBS")):
        lon, lat, distance = (float(header[key]) for key in ("HGLN_OBS", "HGLT_OBS",
                                                              "DSUN_OBS"))
    else:
        observer = _sunpy_observer(path)
        lon, lat, distance = (float(observer.lon.to_value(u.deg)),
                              float(observer.lat.to_value(u.deg)),
                              float(observer.radius.to_value(u.m)))
    if not (math.isfinite(lon) and math.isfinite(lat) and distance > 0):
        raise ValueError(f"observer FITS file {str(path)!r}: invalid observer position "
                         f"(lon {lon}, lat {lat} deg, distance {distance} m)")
    solar_orbiter = "solar orbiter" in str(header.get("OBSRVTRY", "")).strip().lower()
    return ObserverSpec("solo" if solar_orbiter else _header_name(header, path), "header",
                        _wrap180(lon), lat, distance, str(path),
                        "fsi" if solar_orbiter else "euvi")


def read_observer_header(path: str | Path) -> fits.Header:
    """The image header of an observer's file, for its detector: a text header file's
    (``.header``) or that of the FITS file's image HDU (:func:`data_prep.fitsio.read_header`;
    HDU 1 of Rice-compressed files). ValueError naming the file where it cannot be read."""
    path = Path(path)
    if path.name.lower().endswith(HEADER_SUFFIXES):
        return _observer_header(path)
    from data_prep.fitsio import read_header

    return read_header(path)


def _observer_header(path: Path) -> fits.Header:
    """The header of the first HDU with an image or observer keywords (HDU 1 for
    Rice-compressed files as JSOC writes them), read without the data; a text header file
    (``.header``) as it is."""
    try:
        if path.name.lower().endswith(HEADER_SUFFIXES):
            return fits.Header.fromtextfile(str(path))
        with fits.open(path) as hdul:
            for hdu in hdul:
                if "DSUN_OBS" in hdu.header or hdu.header.get("NAXIS", 0) >= 2:
                    return hdu.header.copy()
            return hdul[0].header.copy()
    except (OSError, ValueError, fits.VerifyError) as error:
        raise ValueError(f"observer FITS file {str(path)!r} cannot be read: "
                         f"{str(error).splitlines()[0]}") from None


def _sunpy_observer(path: Path) -> SkyCoord:
    """The observer sunpy reads from the file's metadata where HGLN_OBS/HGLT_OBS/DSUN_OBS
    are missing (e.g. CRLN_OBS/CRLT_OBS/DSUN_OBS, or an instrument's own keywords); a
    ValueError where sunpy finds none (it would assume Earth) or cannot map the file."""
    import sunpy.map
    from sunpy.util.exceptions import SunpyMetadataWarning

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SunpyMetadataWarning)
            if path.name.lower().endswith(HEADER_SUFFIXES):  # a header without its data
                solar_map = sunpy.map.Map(np.zeros((1, 1)), _observer_header(path))
            else:
                solar_map = sunpy.map.Map(str(path))
            observer = solar_map.observer_coordinate
        missing = any("Missing metadata for observer" in str(w.message) for w in caught)
        problem = "sunpy finds no observer metadata either" if missing else None
    except Exception as error:  # sunpy raises many kinds for files it cannot map
        problem = f"sunpy cannot map it: {type(error).__name__}"
    if problem:
        raise ValueError(f"observer FITS file {str(path)!r} has no observer position (no "
                         f"HGLN_OBS/HGLT_OBS/DSUN_OBS; {problem})")
    return observer.transform_to(HeliographicStonyhurst(obstime=observer.obstime))


def _header_name(header: fits.Header, path: Path) -> str:
    """A folder-safe observer name from OBSRVTRY or TELESCOP ("STEREO_A" -> "stereo-a",
    "SDO/HMI" -> "sdo"), else from the file name."""
    for key in ("OBSRVTRY", "TELESCOP"):
        value = str(header.get(key, "")).split("/")[0]
        name = _slug(value)
        if name:
            return _ALIASES.get(name.replace("-", ""), name)
    stem = path.name
    for suffix in _COMPRESSION_SUFFIXES + FITS_SUFFIXES:
        stem = stem.removesuffix(suffix).removesuffix(suffix.upper())
    return _slug(stem) or "fits-observer"


def _slug(text: str) -> str:
    """Lower case, runs of anything but letters, digits and '.' as '-', no edge dashes."""
    return re.sub(r"[^a-z0-9.]+", "-", text.strip().lower()).strip("-.")
