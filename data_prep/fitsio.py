"""Reading solar FITS files: SDO/AIA, SDO/HMI line-of-sight magnetograms, STEREO/EUVI,
Solar Orbiter EUI/FSI.

Every problem with an input file raises :class:`FitsInputError`, whose message starts with
the file name and says what is wrong (not a FITS file, missing keyword, wrong instrument or
wavelength, an unusable EUI level or image, no finite pixel), instead of a traceback from
deep inside astropy or sunpy.

Kinds of input (``kind``)::

    "aia"  SDO/AIA level 1 or 1.5 (default wavelength 304 A)
    "hmi"  SDO/HMI line-of-sight magnetogram, hmi.M_45s or hmi.M_720s, also the
               Rice-compressed HDU 1 of JSOC exports (CROTA2 ~ 180 is handled by the WCS)
    "euvi" STEREO-A or -B SECCHI/EUVI level 0 or 1 (default wavelength 304 A)
    "fsi"  Solar Orbiter EUI Full Sun Imager level 2 (euiprep-calibrated DN/s; sunpy's
               EUIMap; default wavelength 304 A, the other FSI channel is 174 A). Level 1
               (raw DN, uncorrected) is refused, naming the level-2 product to use instead.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.time import Time

KINDS = ("aia", "hmi", "euvi", "fsi")
DEFAULT_WAVELENGTH = {"aia": 304, "euvi": 304, "fsi": 304, "hmi": None}
#: What each kind is, in words (for messages)
KIND_NAMES = {"aia": "SDO/AIA", "hmi": "SDO/HMI", "euvi": "STEREO/EUVI", "fsi": "Solar Orbiter EUI/FSI"}
# keywords without which the geometry or the time cannot be known
REQUIRED_KEYWORDS = ("CDELT1", "CDELT2", "CRPIX1", "CRPIX2", "CRVAL1", "CRVAL2")


class FitsInputError(ValueError):
    """A FITS input that cannot be used; the message names the file and the problem."""


def source_name(source: Any) -> str:
    """A printable name for a file path or a map (its file name if known)."""
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    meta = getattr(source, "meta", {}) or {}
    return str(meta.get("filename") or meta.get("FILENAME") or f"<{type(source).__name__}>")


def read_header(path: str | os.PathLike) -> fits.Header:
    """The header of the image HDU of a FITS file (the first HDU with 2-D data; HDU 1 for
    JSOC's Rice-compressed exports), without reading the data."""
    path = Path(path)
    if not path.is_file():
        raise FitsInputError(f"{path}: no such file")
    try:
        with fits.open(path, lazy_load_hdus=True) as hdus:
            for hdu in hdus:
                if hdu.header.get("NAXIS", 0) == 2 or hdu.header.get("ZNAXIS", 0) == 2:
                    return hdu.header.copy()
    except (OSError, ValueError, TypeError) as err:
        raise FitsInputError(f"{path}: not a readable FITS file ({err})") from None
    raise FitsInputError(f"{path}: no 2-D image in any HDU")


def observation_time(header: fits.Header, name: str = "") -> Time:
    """Observation time (UTC): T_OBS, the middle of the exposure, where the header has it
    (SDO: AIA, and HMI as ``2011.03.01_00:00:00_TAI``), else DATE-OBS (or DATE_OBS)."""
    for key in ("T_OBS", "DATE-OBS", "DATE_OBS"):
        value = header.get(key)
        if not value:
            continue
        text = str(value).strip()
        scale = "tai" if text.endswith("_TAI") else "utc"
        text = text.removesuffix("_TAI").removesuffix("_UTC").rstrip("Z")
        if len(text) > 10 and text[4] == "." and text[7] == ".":  # JSOC: 2011.03.01_00:00:00
            text = f"{text[:4]}-{text[5:7]}-{text[8:10]}T{text[11:]}"
        try:
            return Time(text, scale=scale).utc
        except ValueError:
            raise FitsInputError(f"{name}: cannot read {key} = {value!r} as a time") from None
    raise FitsInputError(f"{name}: missing header keyword DATE-OBS (observation time)")


def identify(header: fits.Header) -> str | None:
    """``"aia"``, ``"hmi"``, ``"euvi"`` or ``"fsi"`` from TELESCOP / INSTRUME / DETECTOR,
    else None (EUI's high-resolution imagers, HRI, are not full-disk: None)."""
    instrument = str(header.get("INSTRUME", "")).strip().upper()
    telescope = str(header.get("TELESCOP", "")).strip().upper()
    detector = str(header.get("DETECTOR", "")).strip().upper()
    if detector == "EUVI":
        return "euvi"
    if instrument.startswith("EUI") and (detector == "FSI" or telescope.endswith("/FSI")):
        return "fsi"
    if instrument.startswith("AIA") or detector == "AIA":
        return "aia"
    if instrument.startswith("HMI") or telescope.endswith("HMI") or detector == "HMI":
        return "hmi"
    return None


def describe_source(header: fits.Header) -> str:
    parts = [str(header.get(k)) for k in ("TELESCOP", "INSTRUME", "DETECTOR") if header.get(k)]
    wavelength = header.get("WAVELNTH")
    return " ".join(dict.fromkeys(parts)) + (f" {wavelength} A" if wavelength else "")


def is_los_magnetogram(header: fits.Header) -> bool:
    """True for an HMI line-of-sight magnetogram (CONTENT or BUNIT say so)."""
    content = str(header.get("CONTENT", "")).upper()
    unit = str(header.get("BUNIT", "")).strip().lower()
    return "MAGNETOGRAM" in content or unit in ("gauss", "g", "mx/cm^2", "mx/cm2")


def check_observer(header, name: str) -> None:
    """Refuse a header without the observer position (DSUN_OBS and HGLN/HGLT_OBS or
    CRLN/CRLT_OBS): sunpy would silently assume an Earth observer, wrong for STEREO."""
    has_longitude = all(k in header for k in ("HGLN_OBS", "HGLT_OBS")) or all(
        k in header for k in ("CRLN_OBS", "CRLT_OBS"))
    for key, present in (("DSUN_OBS", "DSUN_OBS" in header), ("HGLN_OBS/HGLT_OBS", has_longitude)):
        if not present:
            raise FitsInputError(f"{name}: missing observer keyword {key} (observer position)")


#: What euiprep makes of an FSI image: the only EUI level solarmaggan reads (``{band}``:
#: the header's WAVELNTH, 304 or 174 A)
FSI_LEVEL2_PRODUCT = "level 2 (euiprep-calibrated DN/s, product eui-fsi{band}-image at level L2)"
#: EUI keywords that, when present, must have this value (any case) in a usable image,
#: and what another value means
FSI_IMAGE_STATES = (
    ("DOORINT", "open", "the internal door was not open"),
    ("DOOREXT", "open", "the external door was not open"),
    ("COMPLETE", "C", "an incomplete image"),
    ("LEDSTATE", "all off", "calibration LEDs were on"),
)


def check_fsi_image(header, name: str) -> None:
    """Refuse an EUI/FSI header that is not a usable level-2 solar image, one line naming
    the file and the keyword: LEVEL missing or not 'L2' (level 1 is raw DN, not corrected
    by euiprep), IMGTYPE missing or not 'solar image' (darks, LED images), or a keyword of
    :data:`FSI_IMAGE_STATES` present with another value (a door not open, an incomplete
    image, LEDs on)."""
    band = header.get("WAVELNTH")
    band = int(round(float(band))) if isinstance(band, (int, float)) else DEFAULT_WAVELENGTH["fsi"]
    needs = FSI_LEVEL2_PRODUCT.format(band=band)
    level = str(header.get("LEVEL", "")).strip().upper()
    if not level:
        raise FitsInputError(f"{name}: missing header keyword LEVEL (EUI processing level); "
                             f"solarmaggan needs {needs}")
    if level == "L1":
        raise FitsInputError(f"{name}: a level-1 EUI/FSI file (uncalibrated raw DN); "
                             f"solarmaggan needs {needs}")
    if level != "L2":
        raise FitsInputError(f"{name}: an EUI/FSI file of level {level!r}; solarmaggan needs "
                             f"{needs}")
    if "IMGTYPE" not in header:
        raise FitsInputError(f"{name}: missing header keyword IMGTYPE ('solar image' expected)")
    states = (("IMGTYPE", "solar image", "not a solar image"),) + FSI_IMAGE_STATES
    for key, usable, problem in states:
        value = str(header.get(key, usable)).strip()
        if value.lower() != usable.lower():
            raise FitsInputError(f"{name}: {problem} ({key} = {value!r}, {usable!r} expected)")


def check_header(
    header: fits.Header,
    kind: str,
    name: str,
    expected_wavelength: int | None | str = "default",
    require_magnetogram: bool = True,
) -> None:
    """Refuse a header that is not of ``kind``, not a usable EUI/FSI level-2 solar image
    for "fsi" (:func:`check_fsi_image`), not at ``expected_wavelength`` (A; the default 304
    for "aia", "euvi" and "fsi", None accepts any), not a line-of-sight magnetogram for
    "hmi" (unless ``require_magnetogram`` is False), or lacks the geometry keywords."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    found = identify(header)
    if found != kind:
        raise FitsInputError(
            f"{name}: expected a {kind.upper()} file, the header says "
            f"{describe_source(header) or 'no known instrument'}"
        )
    if kind == "fsi":
        check_fsi_image(header, name)
    wavelength = DEFAULT_WAVELENGTH[kind] if expected_wavelength == "default" else expected_wavelength
    if wavelength is not None:
        observed = header.get("WAVELNTH")
        if observed is None:
            raise FitsInputError(f"{name}: missing header keyword WAVELNTH")
        if int(round(float(observed))) != int(wavelength):
            raise FitsInputError(
                f"{name}: wrong wavelength: {float(observed):g} A, expected {wavelength} A "
                "(pass expected_wavelength=None to accept any)"
            )
    if kind == "hmi" and require_magnetogram and not is_los_magnetogram(header):
        raise FitsInputError(
            f"{name}: not a line-of-sight magnetogram (CONTENT = {header.get('CONTENT')!r}, "
            f"BUNIT = {header.get('BUNIT')!r}); pass require_magnetogram=False to accept it"
        )
    for key in REQUIRED_KEYWORDS:
        if key not in header:
            raise FitsInputError(f"{name}: missing header keyword {key}")
    if not any(key in header for key in ("DSUN_OBS", "DSUN")):
        raise FitsInputError(f"{name}: missing header keyword DSUN_OBS (observer distance)")
    if kind == "fsi":  # Solar Orbiter anywhere from 0.28 to 1 au: never assume the Earth
        check_observer(header, name)
    observation_time(header, name)


def open_map(path: str | os.PathLike):
    """``sunpy.map.Map(path)`` (the first map of a file that holds several) without sunpy's
    metadata chatter. Where sunpy cannot open the whole file (an extension without a WCS:
    a mask or an age layer), the first HDU with a 2-D image alone. FitsInputError "PATH:
    sunpy cannot read it as a map (...)" for a file sunpy cannot open either way. No checks
    of what the map holds."""
    import sunpy.map

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sunpy's metadata chatter
        try:
            solar_map = sunpy.map.Map(str(path))
        except Exception as err:  # sunpy raises many types for bad files
            try:
                with fits.open(path) as hdus:
                    image = next(hdu for hdu in hdus if hdu.is_image and hdu.data is not None
                                 and hdu.data.ndim == 2)
                    solar_map = sunpy.map.Map((np.array(image.data), image.header.copy()))
            except Exception:  # the first error says more
                raise FitsInputError(f"{path}: sunpy cannot read it as a map "
                                     f"({' '.join(str(err).split())})") from None
    return solar_map[0] if isinstance(solar_map, list) else solar_map


def read_map(
    source: Any,
    kind: str,
    expected_wavelength: int | None | str = "default",
    require_magnetogram: bool = True,
):
    """A checked ``sunpy.map.GenericMap`` from a FITS path or a map.

    Raises FitsInputError (naming the file) for unreadable files, the wrong instrument,
    wavelength or product, missing geometry keywords, or an image without finite pixels.
    """
    name = source_name(source)
    if isinstance(source, (str, os.PathLike)):
        header = read_header(source)  # clear errors before sunpy sees the file
        check_header(header, kind, name, expected_wavelength, require_magnetogram)
        solar_map = open_map(source)
    else:
        solar_map = source
        check_header(fits.Header(_fits_cards(solar_map.meta)), kind, name, expected_wavelength,
                     require_magnetogram)
    data = np.asarray(solar_map.data)
    if data.ndim != 2:
        raise FitsInputError(f"{name}: expected a 2-D image, got shape {data.shape}")
    # integers are always finite; a sparse look finds a finite pixel in most images
    if data.dtype.kind == "f" and not (np.isfinite(data[::64, ::64]).any() or np.isfinite(data).any()):
        raise FitsInputError(f"{name}: the image has no finite pixel (all NaN or inf)")
    return solar_map


def _fits_cards(meta: Any) -> list[tuple[str, Any]]:
    """(key, value) cards of a map's metadata that a FITS header can hold."""
    cards = []
    for key, value in dict(meta).items():
        if key.lower() in ("comment", "history", "keycomments") or isinstance(value, (dict, list)):
            continue
        if len(key) <= 8 or key.upper().startswith("HIERARCH"):
            cards.append((key.upper(), value))
    return cards


#: FITS binary-table column formats of the numpy dtypes a layer may have
_LAYER_FORMATS = {np.dtype(np.int16): "I", np.dtype(np.int32): "J", np.dtype(np.float32): "E",
                  np.dtype(np.float64): "D"}


def layer_hdu(name: str, values: np.ndarray, unit: str = "", meaning: str = "") -> fits.BinTableHDU:
    """A per-pixel layer (a 2-D (rows, columns) array on the primary HDU's grid, or a stack
    (n, rows, columns) of them) as a one-row binary table named ``name`` whose one cell holds
    the array (TDIM). A table, not an image extension: ``sunpy.map.Map(file)`` then still
    opens the file as its one primary map (with image extensions it returns a list of maps).
    ``values`` must be int16, int32, float32 or float64."""
    values = np.asarray(values)
    if values.dtype not in _LAYER_FORMATS:
        raise ValueError(f"layer {name}: dtype {values.dtype} is not one of "
                         f"{', '.join(str(d) for d in _LAYER_FORMATS)}")
    dim = "(" + ",".join(str(n) for n in reversed(values.shape)) + ")"
    column = fits.Column(name=name, format=f"{values.size}{_LAYER_FORMATS[values.dtype]}",
                         unit=unit or None, dim=dim, array=values[None])
    hdu = fits.BinTableHDU.from_columns([column], name=name)
    if meaning:
        hdu.header["COMMENT"] = meaning
    hdu.header["COMMENT"] = ("one row; the cell is the layer on the primary HDU's grid "
                             "(TDIM: columns, rows[, layers])")
    return hdu


def read_layers(path: str | os.PathLike, names: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """The layers (:func:`layer_hdu`) of a FITS file: ``{name: array}`` for ``names`` (None:
    every layer the file has), each as written ((rows, columns) or (n, rows, columns)), in
    native byte order.

    Raises:
        FitsInputError: a named layer is missing, naming the file and the layer.
    """
    with fits.open(path) as hdus:
        present = [hdu.name for hdu in hdus[1:] if isinstance(hdu, fits.BinTableHDU)
                   and hdu.columns.names == [hdu.name]]
        missing = [name for name in names or () if name not in present]
        if missing:
            raise FitsInputError(f"{path}: no {', '.join(missing)} layer (the file has "
                                 f"{', '.join(present) or 'none'})")
        layers = {name: np.asarray(hdus[name].data[name][0]) for name in names or present}
        return {name: array.astype(array.dtype.newbyteorder("=")) for name, array in layers.items()}
