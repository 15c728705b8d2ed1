"""Detectors, headers and FITS files of the toy Sun's instruments, as the instruments write them.

This module makes the detector geometry and the complete header of one observation, and
writes the pixel values that a renderer computed on that header's pixel grid into the file
the instrument would deliver:

    detector = default_detector("euvi", 128)
    header = instrument_header("euvi", time, observer, detector, wavelength=304)
    image = ...  # (naxis, naxis) DN/s on sunpy.map.Map(data, header)'s pixel grid
    write_instrument_file("20110301_000000_euvi304.fts", "euvi", image, header)

Instruments (``INSTRUMENTS``) and their files:

``"aia"``   SDO/AIA level 1: int16 DN with BLANK = -32768 in the primary HDU, DN = DN/s x
            EXPTIME; helioprojective TAN WCS with CROTA2; T_OBS (middle of the exposure, UTC).
``"hmi"``   SDO/HMI line-of-sight magnetogram as JSOC exports hmi.M_45s: an empty primary
            HDU and a RICE_1 compressed image in HDU 1, int32 with BSCALE = 0.1 G, BZERO = 0
            and BLANK = -2147483648 (NaN off the disk); CROTA2 ~ 180; T_OBS in TAI.
``"euvi"``  STEREO/SECCHI EUVI level 0: uint16 DN (BITPIX 16, BZERO 32768) =
            DN/s x EXPTIME x 4**(SUMMED - 1) + BIASMEAN; the roll in the PCi_j matrix and CROTA.
``"fsi"``   Solar Orbiter EUI/FSI level 2 (what euiprep makes of level 1): an empty primary
            HDU and a RICE_1 compressed float32 image (quantised, subtractive dither) in
            HDU 1, BUNIT 'DN/s' (Poisson noise drawn in DN for XPOSURE, then divided by it),
            LEVEL 'L2'; named ``solo_L2_eui-fsi304-image_20201021T145510206_V01.fits``
            (DATE-BEG to the millisecond, :func:`fsi_file_name`). 304 and 174 A; the toy
            Sun has no 174 A emission of its own and renders its 171 A for it
            (:data:`FSI_EMISSION_WAVELENGTH`: Fe IX/X, nearly the same temperatures).

Times. ``time`` is the middle of the exposure: the time at which sunpy places the observer
and the Sun for the map (``map.reference_date``: T_OBS for SDO, DATE-AVG for EUVI and FSI).
DATE-OBS is the start of the exposure as the instruments write it (SDO: T_OBS - EXPTIME / 2,
JSOC's definition; EUVI: shutter open, DATE-END = shutter close; FSI: DATE-OBS = DATE-BEG =
start, DATE-END = end of XPOSURE). ``data_prep.fitsio.observation_time`` therefore reads
``time`` back from AIA and HMI files (T_OBS) and ``time - exposure / 2`` from EUVI and FSI
files (DATE-OBS, as from real SECCHI and EUI files).

Pointing. AIA, HMI and EUVI write the WCS as level-1 SDO files do: CRVAL = (0", 0") at the
Sun centre and CRPIX = the Sun centre's pixel (1-based), which a detector places
``sun_offset_px`` away from the detector centre. FSI writes it as EUI files do: CRPIX at the
detector centre, CRVAL its helioprojective position (the Sun centre is then EUXCEN,
EUYCEN).

Observer. Every header has HGLN_OBS, HGLT_OBS, DSUN_OBS, CRLN_OBS, CRLT_OBS; FSI headers
also HCIX/HCIY/HCIZ_OBS (Heliocentric Inertial at DATE-AVG, m), from which sunpy's EUIMap
takes the observer before the others, so the two always agree (computed with sunpy from the
same coordinate), and DSUN_AU, RSUN_ARC, SOLAR_B0.

Solar Orbiter's magnetograph. :func:`phi_fdt_detector` and :func:`phi_view_header` give the
view of SO/PHI's Full Disk Telescope (2048 px, 3.61", a 2 deg field, the Sun centred), for
the truth magnetogram (:func:`truth_magnetogram_header`) of a Solar Orbiter observer; the
toy writes no PHI instrument file.

The kept keyword values come from sunpy's real test headers (``aia_171_level1.fits``,
``resampled_hmi.fits`` (an hmi.Ic_45s record), ``euvi_20090615_000900_n4euA_s.header``,
``solo_L1_eui-fsi304-image_20201021T145510206_V03.header``); keywords a toy cannot know
(image statistics, pointing tables, velocities, positions in other frames, the EUVI RA/Dec
alternate WCS, EUI's light-time keywords) are left out rather than left wrong.

Never imports TensorFlow; sunpy is imported where it is used.
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from data_prep.atomic import atomic_path
from data_prep.fitsio import DEFAULT_WAVELENGTH, KINDS, describe_source, identify
from data_prep.geometry import RSUN_REF_M, angular_radius_arcsec

INSTRUMENTS = KINDS  # ("aia", "hmi", "euvi", "fsi")

#: The wavelengths (A) each instrument takes.
WAVELENGTHS = {"aia": (304, 193, 171), "hmi": (6173,), "euvi": (304, 195, 171),
               "fsi": (304, 174)}
#: The toy Sun's emission rendered for each FSI channel: 171 A stands for 174 A (both Fe IX/X,
#: ~0.8 MK; the toy has no separate 174 A response).
FSI_EMISSION_WAVELENGTH = {304: 304, 174: 171}

#: EUI/FSI template (``solo_L1_eui-fsi304-image_20201021T145510206_V03``): 768 px binned 4x4
#: on board (NBIN1 = NBIN2 = 4) from the native 3072; CDELT1 = 17.7413644" (CDELT2 =
#: 17.7796312", 0.2% more: the toy's pixels are square, CDELT1's); CROTA = 0.76774 deg; the
#: Sun centre at EUXCEN, EUYCEN = 378.2024, 378.2928 (1-based; the centre is 384.5).
FSI_TEMPLATE_BINNING = 4
FSI_TEMPLATE_CDELT1 = 17.7413644
FSI_TEMPLATE_CROTA = 0.7677434135716757
FSI_TEMPLATE_SUN_CENTRE = (378.2023801648368, 378.2927576174591)

#: Native full frame: pixels a side, arcsec a pixel, roll (deg), Sun centre offset from the
#: detector centre (pixels x, y). AIA: the 171 template's CROTA2 = 0.019413 and X0_MP,
#: Y0_MP = 2055.06, 2042.72 (0-based Sun centre; the centre is 2047.5). HMI: the template's
#: CROTA2 = 179.929779; the Sun centred. EUVI-A: the template's CROTA = 3.8454651 (PC2_1 =
#: 0.06707) and CRVAL = (4.27", 155.08") at the detector centre, i.e. the Sun centre 97 px
#: below it (EUVI-A's real pointing offset). FSI: the template's 768 binned pixels as 3072
#: native ones (scale / 4, offset x 4: -25.19, -24.83 px), its CROTA.
NATIVE_DETECTORS = {
    "aia": (4096, 0.600, 0.019413, (7.56, -4.78)),
    "hmi": (4096, 0.504, 179.929779, (0.0, 0.0)),
    "euvi": (2048, 1.588, 3.8454651, (-9.24, -97.29)),
    "fsi": (768 * FSI_TEMPLATE_BINNING, FSI_TEMPLATE_CDELT1 / FSI_TEMPLATE_BINNING,
            FSI_TEMPLATE_CROTA, tuple((centre - 384.5) * FSI_TEMPLATE_BINNING
                                      for centre in FSI_TEMPLATE_SUN_CENTRE)),
}

#: SO/PHI's Full Disk Telescope: pixels a side and arcsec a pixel (a 2.05 deg field, the
#: whole disk down to 0.28 au); the toy centres the Sun and has no roll.
PHI_FDT_NATIVE = (2048, 3.61)

#: Exposure times (s). AIA: typical level-1 values (the 171 template: EXPTIME = 2.000191).
#: EUVI: the 171 template's 16.0074 s; 195 and 304: typical synoptic values (approximate).
#: FSI (XPOSURE): the 304 template's 6.0 s; 174: 10 s, a typical synoptic value (approximate).
EXPOSURE_S = {
    "aia": {304: 2.90, 193: 2.00, 171: 2.00},
    "euvi": {304: 6.0, 195: 8.0, 171: 16.0074},
    "fsi": {304: 6.0, 174: 10.0},
}

#: AIA camera (INSTRUME 'AIA_n', CAMERA n) of each wavelength: telescope 2 takes 193 (and
#: 211), 3 takes 171 (the template: INSTRUME = 'AIA_3'), 4 takes 304 (and 94).
AIA_CAMERA = {304: 4, 193: 2, 171: 3}

#: HMI: DATE-OBS precedes T_OBS by this much (s); the template: T_OBS =
#: 2014.03.01_00:01:25_TAI (= 00:00:50 UTC), DATE-OBS = 2014-03-01T00:00:27.90.
HMI_DATE_OBS_BEFORE_T_OBS_S = 22.10
#: HMI's T_REC slots: epoch and step (hmi.M_45s; the template's TRECEPOC, TRECSTEP).
HMI_T_REC_EPOCH = "1993-01-01T00:00:00"  # TAI
HMI_CADENCE_S = 45.0
#: hmi.M_45s stores the field as int32 in units of 0.1 G (JSOC series definition:
#: bzero 0, bscale 0.1), missing pixels (off the disk) as BLANK.
HMI_BSCALE_GAUSS = 0.1
HMI_BLANK = -2147483648
#: AIA level 1: int16 with BLANK = -32768 (the template), the largest value 32767.
AIA_BLANK = -32768
AIA_MAX_DN = 32767

#: EUVI level 0: 2x2-summed frames (SUMMED = 2) are 1024 px a side, full frames (SUMMED = 1)
#: 2048. A toy frame of at most this many pixels counts as summed 2x2.
EUVI_SUMMED_MAX_NAXIS = 1024
EUVI_MAX_DN = 65535

#: A STEREO-like observer: within these distances (au) and latitudes (deg) of the Sun.
STEREO_DISTANCE_AU = (0.9, 1.1)
STEREO_MAX_LATITUDE_DEG = 10.0
#: After STEREO-B was lost (last data 2014-09-27), every STEREO-like observer is STEREO-A,
#: which has since been at negative Stonyhurst longitudes too; before, A was west (> 0).
STEREO_B_LOST = "2014-10-01T00:00:00"

# Keyword values kept from the real templates (only those that are true of any observation).
TEMPLATE_KEYWORDS = {
    "aia": {  # aia_171_level1.fits
        "TELESCOP": "SDO/AIA", "DETECTOR": "AIA", "ORIGIN": "SDO/JSOC-SDP", "LVL_NUM": 1.0,
        "WAVEUNIT": "angstrom", "PIXLUNIT": "DN", "IMG_TYPE": "LIGHT", "ACS_MODE": "SCIENCE",
        "ACS_SUNP": "YES", "ACS_ECLP": "NO", "ACS_SAFE": "NO", "AECMODE": "ON",
        "QUALLEV0": 0, "TRECEPOC": "1977.01.01_00:00:00_TAI", "TRECSTEP": 1.0,
        "DSUN_REF": 149597870691.0,
        "KEYWDDOC": "http://www.lmsal.com/sdodocs/aiafitskeywords.pdf",
    },
    "hmi": {  # resampled_hmi.fits (hmi.Ic_45s; hmi.M_45s differs in CONTENT and BUNIT)
        "TELESCOP": "SDO/HMI", "INSTRUME": "HMI_FRONT2", "CAMERA": 2, "DETECTOR": "HMI",
        "ORIGIN": "SDO/JSOC-SDP", "CADENCE": 45.0, "TRECEPOC": "1993.01.01_00:00:00_TAI",
        "TRECSTEP": 45.0, "TRECUNIT": "secs", "DATASIGN": 1, "QUALLEV1": 0, "QLOOK": 0,
        "WCSNAME": "Helioprojective-cartesian", "DSUN_REF": 149597870691.0,
    },
    "euvi": {  # euvi_20090615_000900_n4euA_s.header
        "INSTRUME": "SECCHI", "DETECTOR": "EUVI", "ORIGIN": "NRL", "VERSION": 4, "BUNIT": "DN",
        "OFFSETCR": 0.0, "BIASMEAN": 724.545, "BIASSDEV": 0.022, "GAINMODE": "HIGH",
        "READPORT": "L", "DOWNLINK": "SSR1", "LONPOLE": 180,
    },
    "fsi": {  # solo_L1_eui-fsi304-image_20201021T145510206_V03.header
        "TIMESYS": "UTC", "ORIGIN": "Royal Observatory of Belgium", "IMGTYPE": "solar image",
        "COMPLETE": "C", "OBSRVTRY": "Solar Orbiter", "TELESCOP": "SOLO/EUI/FSI",
        "INSTRUME": "EUI", "DETECTOR": "FSI", "DOORINT": "open", "DOOREXT": "open",
        "WAVEUNIT": "Angstrom", "BTYPE": "Intensity", "WCSNAME": "Helioprojective-cartesian",
        "LONPOLE": 180.0, "LEDSTATE": "all off", "INFO_URL": "http://sidc.be/EUI/data",
    },
}

#: FSI's channel keywords: 304 from the template; 174: the filter as EUI names its default
#: 174 filter position (Zirconium_174_n25), WAVEMIN/WAVEMAX (response > 5% of its maximum)
#: approximate.
FSI_CHANNEL_KEYWORDS = {
    304: {"FILTER": "Magnesium_304_n4", "WAVEMIN": 250, "WAVEMAX": 350},
    174: {"FILTER": "Zirconium_174_n25", "WAVEMIN": 160, "WAVEMAX": 190},
}
#: The version of the toy's FSI files (VERSION, and _V01 in the file name).
FSI_VERSION = 1
#: FSI's float32 quantisation (FITS tiled compression): SUBTRACTIVE_DITHER_1, the dither
#: seeded from the image's checksum (-1), so that a file's bytes depend on its image only.
FSI_QUANTIZE_METHOD = 1
FSI_DITHER_SEED = -1

# Keywords a truth map shares with the view it belongs to.
_TRUTH_KEYWORDS = (
    "NAXIS1", "NAXIS2", "CTYPE1", "CTYPE2", "CUNIT1", "CUNIT2", "CDELT1", "CDELT2",
    "CRPIX1", "CRPIX2", "CRVAL1", "CRVAL2", "CROTA2", "PC1_1", "PC1_2", "PC2_1", "PC2_2",
    "LONPOLE", "DATE-OBS", "DATE-AVG", "DATE-END", "T_OBS", "HGLN_OBS", "HGLT_OBS",
    "DSUN_OBS", "CRLN_OBS", "CRLT_OBS", "RSUN_REF", "RSUN_OBS", "OBSRVTRY",
)


@dataclasses.dataclass(frozen=True)
class Detector:
    """A square detector and its pointing.

    Attributes:
        naxis: pixels a side.
        scale_arcsec: arcsec a pixel (CDELT1 = CDELT2).
        roll_deg: rotation of the image (deg, CROTA2 / the PC matrix, counter-clockwise from
            solar north to the detector's +y axis as FITS defines it): AIA ~0, HMI ~180,
            EUVI the spacecraft roll.
        sun_offset_px: the Sun centre's position relative to the detector centre, pixels
            along the detector's (x, y) = (column, row) axes.
    """

    naxis: int
    scale_arcsec: float
    roll_deg: float = 0.0
    sun_offset_px: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        if (isinstance(self.naxis, bool) or not isinstance(self.naxis, (int, np.integer))
                or self.naxis < 2):
            raise ValueError(f"naxis must be an integer >= 2 pixels, got {self.naxis!r}")
        if not (math.isfinite(self.scale_arcsec) and self.scale_arcsec > 0):
            raise ValueError(f"scale_arcsec must be > 0, got {self.scale_arcsec!r}")
        if not math.isfinite(self.roll_deg) or len(self.sun_offset_px) != 2 or not all(
                math.isfinite(value) for value in self.sun_offset_px):
            raise ValueError(f"roll_deg and sun_offset_px must be finite, got {self.roll_deg!r}, "
                             f"{self.sun_offset_px!r}")

    @property
    def sun_centre_crpix(self) -> tuple[float, float]:
        """FITS (1-based) pixel (x, y) of the Sun centre: CRPIX1, CRPIX2."""
        centre = (self.naxis + 1) / 2.0
        return centre + float(self.sun_offset_px[0]), centre + float(self.sun_offset_px[1])

    def pc_matrix(self) -> np.ndarray:
        """2x2 PCi_j matrix of ``roll_deg`` (FITS: PC1_1 = cos, PC1_2 = -sin, PC2_1 = sin)."""
        roll = math.radians(self.roll_deg)
        return np.array([[math.cos(roll), -math.sin(roll)], [math.sin(roll), math.cos(roll)]])


def _check_instrument(instrument: str) -> None:
    if instrument not in INSTRUMENTS:
        raise ValueError(f"unknown instrument {instrument!r}; expected one of {INSTRUMENTS}")


def default_detector(instrument: str, size: int) -> Detector:
    """The instrument's real full-frame field of view on ``size`` pixels a side.

    Scale = native scale x native size / size (AIA 4096 px at 0.600"; HMI 4096 px at 0.504",
    CROTA2 179.93; EUVI 2048 px at 1.588", roll 3.85 deg, the Sun 97 native pixels below the
    centre as in EUVI-A's template; FSI 3072 px at 4.435", a 3.8 deg field, roll 0.77 deg);
    the roll is kept and the pointing offset scaled to the new pixels
    (:data:`NATIVE_DETECTORS`).
    """
    _check_instrument(instrument)
    return _scaled_detector(size, *NATIVE_DETECTORS[instrument])


def phi_fdt_detector(size: int) -> Detector:
    """SO/PHI's Full Disk Telescope on ``size`` pixels a side: 2048 native pixels at 3.61"
    (:data:`PHI_FDT_NATIVE`, a 2.05 deg field), the Sun centred, no roll."""
    return _scaled_detector(size, *PHI_FDT_NATIVE)


def _scaled_detector(size: int, native_size: int, native_scale: float, roll_deg: float = 0.0,
                     offset_px: tuple[float, float] = (0.0, 0.0)) -> Detector:
    """A native detector's field of view on ``size`` pixels (offset scaled, roll kept)."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 2:
        raise ValueError(f"size must be an integer >= 2 pixels, got {size!r}")
    factor = native_size / int(size)
    return Detector(int(size), native_scale * factor, roll_deg,
                    (offset_px[0] / factor, offset_px[1] / factor))


def _header_value(header: Any, key: str, default: Any = None) -> Any:
    value = header.get(key, header.get(key.lower(), default))
    return default if value is None else value


def detector_from_header(header: Any) -> Detector:
    """The detector of a real (or generated) image header: size (NAXIS1, or ZNAXIS1 of a
    compressed HDU; must be square), scale (CDELT1 in arcsec: where CDELT2 differs, as in
    EUI/FSI's 17.741"/17.780", the detector's square pixels take CDELT1), roll (from PCi_j:
    atan2(PC2_1 - PC1_2, PC1_1 + PC2_2), the mean rotation of a PC matrix that is not quite
    a rotation, as FSI's; else CROTA2, else CROTA) and pointing (the Sun centre,
    helioprojective (0", 0"), from CRPIX/CRVAL with the full diag(CDELT) PC matrix, linear
    in the pixels, relative to the detector centre)."""
    naxis1 = _header_value(header, "ZNAXIS1", _header_value(header, "NAXIS1"))
    naxis2 = _header_value(header, "ZNAXIS2", _header_value(header, "NAXIS2"))
    if naxis1 is None or int(naxis1) != int(naxis2 or -1):
        raise ValueError(f"need a square image, the header says {naxis1} x {naxis2} pixels")
    import astropy.units as u

    to_arcsec = [u.Unit(str(_header_value(header, f"CUNIT{i}", "arcsec")).strip() or "arcsec")
                 .to(u.arcsec) for i in (1, 2)]
    cdelt = np.array([float(_header_value(header, f"CDELT{i}")) * to_arcsec[i - 1]
                      for i in (1, 2)])
    crval = np.array([float(_header_value(header, f"CRVAL{i}", 0.0)) * to_arcsec[i - 1]
                      for i in (1, 2)])
    crpix = np.array([float(_header_value(header, f"CRPIX{i}")) for i in (1, 2)])
    if _header_value(header, "PC1_1") is not None:
        pc = np.array([[float(_header_value(header, f"PC{i}_{j}", float(i == j))) for j in (1, 2)]
                       for i in (1, 2)])
        roll_deg = math.degrees(math.atan2(pc[1, 0] - pc[0, 1], pc[0, 0] + pc[1, 1]))
    else:
        roll_deg = float(_header_value(header, "CROTA2", _header_value(header, "CROTA", 0.0)))
        pc = Detector(2, 1.0, roll_deg).pc_matrix()
    # world offset (arcsec) = diag(CDELT) PC (pixel - CRPIX); the Sun centre is world (0, 0)
    sun_centre = crpix + np.linalg.solve(np.diag(cdelt) @ pc, -crval)
    centre = (int(naxis1) + 1) / 2.0
    return Detector(int(naxis1), float(abs(cdelt[0])), roll_deg,
                    (float(sun_centre[0] - centre), float(sun_centre[1] - centre)))


def _wavelength(instrument: str, wavelength: int | None) -> int:
    if wavelength is None:
        return DEFAULT_WAVELENGTH[instrument] or WAVELENGTHS[instrument][0]
    if wavelength not in WAVELENGTHS[instrument]:
        raise ValueError(f"{instrument.upper()} has no {wavelength} A channel; it takes "
                         f"{list(WAVELENGTHS[instrument])} A")
    return int(wavelength)


def _time(value: Any):
    from sunpy.time import parse_time

    return parse_time(value).utc


def _iso(time: Any, decimals: int) -> str:
    """UTC ISO 8601 with ``decimals`` decimals of a second, as the instruments write it."""
    from astropy.time import Time

    return Time(time.utc, precision=decimals).isot


def _jsoc_tai(time: Any, decimals: int = 2) -> str:
    """'YYYY.MM.DD_hh:mm:ss.ss_TAI' (JSOC's T_OBS, in TAI)."""
    from astropy.time import Time

    text = Time(time.tai, precision=decimals).isot
    return f"{text[:4]}.{text[5:7]}.{text[8:10]}_{text[11:]}_TAI"


def _hmi_t_rec(time: Any) -> str:
    """The hmi.M_45s record slot nearest to ``time`` (T_REC, TAI)."""
    import astropy.units as u
    from astropy.time import Time

    epoch = Time(HMI_T_REC_EPOCH, scale="tai")
    slots = round(float((time.tai - epoch).sec) / HMI_CADENCE_S)
    return _jsoc_tai(epoch + slots * HMI_CADENCE_S * u.s, decimals=0)


def stereo_observatory(observer: Any) -> str | None:
    """'STEREO_A' or 'STEREO_B' for a STEREO-like observer (a HeliographicStonyhurst
    SkyCoord with obstime: 0.9-1.1 au from the Sun, within 10 deg of its equator), else None.
    Before STEREO-B was lost (2014-10), A is the one at positive (western) Stonyhurst
    longitude; after it, any STEREO-like observer is STEREO-A."""
    import astropy.units as u

    distance_au = observer.radius.to_value(u.au)
    if not (STEREO_DISTANCE_AU[0] <= distance_au <= STEREO_DISTANCE_AU[1]
            and abs(observer.lat.to_value(u.deg)) <= STEREO_MAX_LATITUDE_DEG):
        return None
    if observer.obstime is not None and observer.obstime >= _time(STEREO_B_LOST):
        return "STEREO_A"
    return "STEREO_A" if observer.lon.wrap_at(180 * u.deg).to_value(u.deg) >= 0 else "STEREO_B"


def _stonyhurst(observer: Any, time: Any):
    """``observer`` in HeliographicStonyhurst at its obstime (``time`` if it has none)."""
    from astropy.coordinates import SkyCoord
    from sunpy.coordinates import HeliographicStonyhurst

    if getattr(observer, "obstime", None) is None:
        observer = SkyCoord(observer.frame.replicate(obstime=time))
    return observer.transform_to(HeliographicStonyhurst(obstime=observer.obstime))


def _observer_cards(observer: Any) -> dict[str, Any]:
    """HGLN_OBS, HGLT_OBS, DSUN_OBS, CRLN_OBS, CRLT_OBS (deg, m) of a Stonyhurst observer,
    and the photospheric radius it sees: RSUN_REF (m), RSUN_OBS (arcsec)."""
    import astropy.units as u
    from sunpy.coordinates import HeliographicCarrington

    carrington = observer.transform_to(HeliographicCarrington(observer="self",
                                                              obstime=observer.obstime))
    dsun_m = float(observer.radius.to_value(u.m))
    return {
        "HGLN_OBS": float(observer.lon.wrap_at(180 * u.deg).to_value(u.deg)),
        "HGLT_OBS": float(observer.lat.to_value(u.deg)),
        "DSUN_OBS": dsun_m,
        "CRLN_OBS": float(carrington.lon.wrap_at(360 * u.deg).to_value(u.deg)),
        "CRLT_OBS": float(carrington.lat.to_value(u.deg)),
        "RSUN_REF": RSUN_REF_M,
        "RSUN_OBS": angular_radius_arcsec(dsun_m),
    }


def instrument_header(
    instrument: str,
    time: Any,
    observer: Any,
    detector: Detector,
    wavelength: int | None = None,
    *,
    observatory: str | None = None,
) -> fits.Header:
    """The complete header of one observation, as the instrument writes it.

    Args:
        instrument: "aia", "hmi", "euvi" or "fsi".
        time: middle of the exposure (anything astropy's Time takes; UTC): the time sunpy
            places the observer and the Sun at (see the module notes for DATE-OBS).
        observer: the spacecraft, a SkyCoord (HeliographicStonyhurst or any frame sunpy can
            transform; its obstime should be ``time``, which is used if it has none).
        detector: size, scale, roll and pointing.
        wavelength: A; AIA 304/193/171, EUVI 304/195/171, FSI 304/174 (default 304); HMI
            None or 6173.
        observatory: EUVI only: OBSRVTRY ('STEREO_A', 'STEREO_B' or the name of a synthetic
            spacecraft); default :func:`stereo_observatory`, or 'SYNTHETIC' for an observer
            that is not STEREO-like (with a COMMENT saying so).

    Returns:
        ``astropy.io.fits.Header`` with NAXIS1/2, the helioprojective TAN WCS (CRVAL (0", 0")
        at the Sun centre CRPIX; AIA/HMI CROTA2, EUVI PCi_j and CROTA), the times, the
        observer keywords (HGLN_OBS, HGLT_OBS, DSUN_OBS, CRLN_OBS, CRLT_OBS computed with
        sunpy), RSUN_REF = 695.7 Mm, RSUN_OBS (arcsec), WAVELNTH/WAVEUNIT, the instrument
        keywords, QUALITY = 0, and per instrument: AIA level 1 (LVL_NUM 1.0, BUNIT 'DN',
        EXPTIME, R_SUN px); HMI CONTENT 'MAGNETOGRAM', BUNIT 'Gauss', T_OBS/T_REC in TAI;
        EUVI level 0 (BUNIT 'DN', EXPTIME, BIASMEAN, SUMMED, RSUN arcsec, XCEN/YCEN).
        FSI level 2 is its own (:func:`fsi_header`; no QUALITY or EXPTIME, XPOSURE instead).

    Raises:
        ValueError: an unknown instrument, a wavelength the instrument lacks, or
            ``observatory`` for AIA/HMI/FSI.
    """
    _check_instrument(instrument)
    wavelength = _wavelength(instrument, wavelength)
    if observatory is not None and instrument != "euvi":
        raise ValueError(f"observatory applies to EUVI headers only, not {instrument!r}")
    if not isinstance(detector, Detector):
        raise ValueError(f"detector must be a Detector, got {type(detector).__name__}")
    import astropy.units as u
    from sunpy.coordinates import sun

    time = _time(time)
    observer = _stonyhurst(observer, time)
    if instrument == "fsi":
        return fsi_header(time, observer, detector, wavelength)
    exposure_s = EXPOSURE_S.get(instrument, {}).get(wavelength)

    header = fits.Header()
    header["NAXIS1"] = detector.naxis
    header["NAXIS2"] = detector.naxis
    header.update(TEMPLATE_KEYWORDS[instrument])
    if instrument == "aia":
        header["INSTRUME"] = f"AIA_{AIA_CAMERA[wavelength]}"
        header["CAMERA"] = AIA_CAMERA[wavelength]
        header["WAVE_STR"] = f"{wavelength}_THIN"
        header["BUNIT"] = "DN"
        header["T_OBS"] = _iso(time, 2) + "Z"
        header["DATE-OBS"] = _iso(time - exposure_s / 2 * u.s, 2)
    elif instrument == "hmi":
        header["WAVEUNIT"] = "angstrom"
        header["CONTENT"] = "MAGNETOGRAM"
        header["BUNIT"] = "Gauss"
        header["T_OBS"] = _jsoc_tai(time)
        header["T_REC"] = _hmi_t_rec(time)
        header["DATE-OBS"] = _iso(time - HMI_DATE_OBS_BEFORE_T_OBS_S * u.s, 2)
    else:
        name = observatory or stereo_observatory(observer)
        header["OBSRVTRY"] = name or "SYNTHETIC"
        if header["OBSRVTRY"] not in ("STEREO_A", "STEREO_B"):
            header["COMMENT"] = ("toy Sun: a synthetic spacecraft (not STEREO) carrying "
                                 "SECCHI/EUVI")
        header["WAVEUNIT"] = "angstrom"
        header["DATE-OBS"] = _iso(time - exposure_s / 2 * u.s, 3)
        header["DATE-AVG"] = _iso(time, 3)
        header["DATE-END"] = _iso(time + exposure_s / 2 * u.s, 3)
        header["SUMMED"] = 2.0 if detector.naxis <= EUVI_SUMMED_MAX_NAXIS else 1.0
    header["WAVELNTH"] = float(wavelength) if instrument == "hmi" else wavelength  # as templates
    if exposure_s is not None:
        header["EXPTIME"] = exposure_s
    header["QUALITY"] = 0

    header.update(_wcs_cards(detector, detector.sun_centre_crpix, (0.0, 0.0)))
    if instrument == "euvi":
        header.update(_pc_cards(detector))
        header["CROTA"] = float(detector.roll_deg)
        header["XCEN"], header["YCEN"] = _detector_centre_arcsec(detector)
    else:
        header["CROTA2"] = float(detector.roll_deg)

    cards = _observer_cards(observer)
    header.update(cards)
    if instrument == "euvi":
        header["RSUN"] = cards["RSUN_OBS"]
    else:
        header["CAR_ROT"] = int(sun.carrington_rotation_number(time))
    if instrument == "aia":
        header["R_SUN"] = cards["RSUN_OBS"] / detector.scale_arcsec
    return header


def _wcs_cards(detector: Detector, crpix: tuple[float, float],
               crval: tuple[float, float]) -> dict[str, Any]:
    """The helioprojective TAN WCS of ``detector``: CTYPE, CUNIT, CDELT (arcsec), CRPIX,
    CRVAL (arcsec)."""
    return {
        "CTYPE1": "HPLN-TAN", "CTYPE2": "HPLT-TAN", "CUNIT1": "arcsec", "CUNIT2": "arcsec",
        "CDELT1": float(detector.scale_arcsec), "CDELT2": float(detector.scale_arcsec),
        "CRPIX1": float(crpix[0]), "CRPIX2": float(crpix[1]),
        "CRVAL1": float(crval[0]), "CRVAL2": float(crval[1]),
    }


def _pc_cards(detector: Detector) -> dict[str, float]:
    """PC1_1, PC1_2, PC2_1, PC2_2 of the detector's roll."""
    pc = detector.pc_matrix()
    return {f"PC{i}_{j}": float(pc[i - 1, j - 1]) for i in (1, 2) for j in (1, 2)}


def _detector_centre_arcsec(detector: Detector) -> tuple[float, float]:
    """Helioprojective (Tx, Ty) (arcsec) of the detector centre, linear in the pixels."""
    centre = (detector.naxis + 1) / 2.0
    offset = np.array([centre, centre]) - detector.sun_centre_crpix
    xcen, ycen = detector.scale_arcsec * detector.pc_matrix() @ offset
    return float(xcen), float(ycen)


def fsi_file_name(time: Any, wavelength: int = 304) -> str:
    """The level-2 FSI file name of an exposure whose middle is ``time``:
    ``solo_L2_eui-fsi304-image_YYYYMMDDThhmmssmmm_V01.fits``, the start (DATE-BEG, UTC) to
    the millisecond, as EUI names its files."""
    import astropy.units as u

    wavelength = _wavelength("fsi", wavelength)
    start = _iso(_time(time) - EXPOSURE_S["fsi"][wavelength] / 2 * u.s, 3)
    stamp = start.replace("-", "").replace(":", "").replace(".", "")
    return f"solo_L2_eui-fsi{wavelength}-image_{stamp}_V{FSI_VERSION:02d}.fits"


def fsi_header(time: Any, observer: Any, detector: Detector, wavelength: int = 304) -> fits.Header:
    """The level-2 EUI/FSI header of one exposure (see :func:`instrument_header`, which
    calls it; the arguments the same).

    Keywords: FILENAME (:func:`fsi_file_name`), DATE-OBS = DATE-BEG (start), DATE-AVG
    (``time``), DATE-END (UTC, ms), LEVEL 'L2', VERSION, the template's
    (:data:`TEMPLATE_KEYWORDS`), XPOSURE (s), FILTER, WAVELNTH, WAVEMIN, WAVEMAX (A),
    BUNIT 'DN/s'; the WCS as EUI writes it (CRPIX the detector centre, CRVAL its position
    (arcsec), PCi_j and CROTA (deg)); EUXCEN, EUYCEN (the Sun centre, 1-based pixels);
    RSUN_ARC = RSUN_OBS (arcsec), RSUN_REF (m), SOLAR_B0 = HGLT_OBS, CAR_ROT (the
    observer's own fractional rotation number, Earth's minus HGLN_OBS / 360, as the
    template's to 3e-4), HGLT_OBS, HGLN_OBS, CRLT_OBS, CRLN_OBS (deg), DSUN_OBS (m),
    DSUN_AU, HCIX_OBS, HCIY_OBS, HCIZ_OBS (m, Heliocentric Inertial at DATE-AVG).
    """
    import astropy.units as u
    from sunpy.coordinates import HeliocentricInertial, sun

    wavelength = _wavelength("fsi", wavelength)
    time = _time(time)
    observer = _stonyhurst(observer, time)
    exposure_s = EXPOSURE_S["fsi"][wavelength]

    header = fits.Header()
    header["NAXIS1"] = detector.naxis
    header["NAXIS2"] = detector.naxis
    header["FILENAME"] = fsi_file_name(time, wavelength)
    header["DATE-OBS"] = _iso(time - exposure_s / 2 * u.s, 3)
    header["DATE-BEG"] = header["DATE-OBS"]
    header["DATE-AVG"] = _iso(time, 3)
    header["DATE-END"] = _iso(time + exposure_s / 2 * u.s, 3)
    header["LEVEL"] = "L2"
    header["VERSION"] = f"{FSI_VERSION:02d}"
    header.update(TEMPLATE_KEYWORDS["fsi"])
    header["XPOSURE"] = exposure_s
    header["WAVELNTH"] = wavelength
    header.update(FSI_CHANNEL_KEYWORDS[wavelength])
    header["BUNIT"] = "DN/s"
    centre = (detector.naxis + 1) / 2.0
    header.update(_wcs_cards(detector, (centre, centre), _detector_centre_arcsec(detector)))
    header.update(_pc_cards(detector))
    header["CROTA"] = float(detector.roll_deg)
    header["EUXCEN"], header["EUYCEN"] = detector.sun_centre_crpix

    cards = _observer_cards(observer)
    hci = observer.transform_to(HeliocentricInertial(obstime=time)).cartesian
    header["RSUN_ARC"] = cards["RSUN_OBS"]
    header.update({key: cards[key] for key in ("RSUN_OBS", "RSUN_REF")})
    header["SOLAR_B0"] = cards["HGLT_OBS"]
    header["CAR_ROT"] = float(sun.carrington_rotation_number(time)) - cards["HGLN_OBS"] / 360.0
    header.update({key: cards[key] for key in ("HGLT_OBS", "HGLN_OBS", "CRLT_OBS", "CRLN_OBS",
                                               "DSUN_OBS")})
    header["DSUN_AU"] = cards["DSUN_OBS"] / u.au.to(u.m)
    for axis in ("x", "y", "z"):
        header[f"HCI{axis.upper()}_OBS"] = float(getattr(hci, axis).to_value(u.m))
    return header


def phi_view_header(time: Any, observer: Any, detector: Detector | None = None) -> fits.Header:
    """The view of SO/PHI's Full Disk Telescope from ``observer`` at ``time``, for a Solar
    Orbiter observer's truth magnetogram (``truth_magnetogram_header(phi_view_header(...))``
    rendered with ``render(state, header, ["los"])``). Not an instrument file: it names no
    instrument (``prep`` would refuse it), only OBSRVTRY 'Solar Orbiter' and SRCVIEW
    'SO/PHI-FDT view (toy)'.

    Args:
        time: the instant of the view (DATE-OBS = DATE-AVG, UTC).
        observer: a SkyCoord as for :func:`instrument_header`.
        detector: default :func:`phi_fdt_detector` (2048) pixels.

    Returns:
        NAXIS1/2, the helioprojective TAN WCS (CRVAL (0", 0") at the Sun centre, PCi_j), the
        times, HGLN_OBS, HGLT_OBS, DSUN_OBS, CRLN_OBS, CRLT_OBS, RSUN_REF, RSUN_OBS.
    """
    detector = phi_fdt_detector(PHI_FDT_NATIVE[0]) if detector is None else detector
    if not isinstance(detector, Detector):
        raise ValueError(f"detector must be a Detector, got {type(detector).__name__}")
    time = _time(time)
    header = fits.Header()
    header["NAXIS1"] = detector.naxis
    header["NAXIS2"] = detector.naxis
    header["OBSRVTRY"] = "Solar Orbiter"
    header["SRCVIEW"] = ("SO/PHI-FDT view (toy)", "the view this truth belongs to")
    header["DATE-OBS"] = _iso(time, 3)
    header["DATE-AVG"] = header["DATE-OBS"]
    header.update(_wcs_cards(detector, detector.sun_centre_crpix, (0.0, 0.0)))
    header.update(_pc_cards(detector))
    header.update(_observer_cards(_stonyhurst(observer, time)))
    return header


def write_instrument_file(
    path: str | os.PathLike,
    instrument: str,
    image: np.ndarray,
    header: fits.Header,
    rng: np.random.Generator | None = None,
) -> Path:
    """Write ``image`` as the instrument's file, atomically (a temporary file in the same
    folder, then renamed over ``path``).

    Args:
        path: the FITS file to write (its folder must exist).
        instrument: "aia", "hmi", "euvi" or "fsi"; ``header`` must be of it.
        image: (NAXIS2, NAXIS1) physical values on the header's pixel grid (array [row, col] =
            FITS pixel (y, x)): DN/s per native (unsummed) pixel for "aia" and "euvi",
            DN/s per pixel for "fsi", Gauss for "hmi" (NaN off the disk, kept as BLANK as
            HMI files have it).
        header: from :func:`instrument_header`.
        rng: if given, AIA/EUVI/FSI counts get photon (Poisson) noise in DN; HMI's noise
            belongs to the rendering (B_r mu + noise) and ``rng`` is not used for it.

    Files: AIA level 1, int16 DN = DN/s x EXPTIME rounded, clipped to 0..32767, BLANK -32768;
    HMI: empty primary HDU + RICE_1 CompImageHDU of int32, BSCALE 0.1 G, BLANK where NaN;
    EUVI level 0: uint16 DN = DN/s x EXPTIME x 4**(SUMMED - 1) + BIASMEAN, rounded, clipped
    to 0..65535; FSI level 2: empty primary HDU + RICE_1 CompImageHDU of float32 DN/s =
    DN / XPOSURE (DN = DN/s x XPOSURE, or a Poisson draw around it), quantised (1/16 of the
    noise, SUBTRACTIVE_DITHER_1 seeded from the data: the same image gives the same bytes).
    AIA, EUVI and FSI images must be finite (no telemetry gaps in the toy).

    Returns:
        ``path`` as a Path.

    Raises:
        ValueError: unknown instrument, a header of another instrument, a wrong image shape,
            or non-finite AIA/EUVI values.
    """
    _check_instrument(instrument)
    path = Path(path)
    if identify(header) != instrument:
        raise ValueError(f"the header is not an {instrument.upper()} header "
                         f"({describe_source(header) or 'no known instrument'})")
    image = np.asarray(image, dtype=np.float64)
    shape = (int(header["NAXIS2"]), int(header["NAXIS1"]))
    if image.shape != shape:
        raise ValueError(f"image shape {image.shape} does not match the header's {shape}")
    header = header.copy()
    for key in ("NAXIS1", "NAXIS2", "BLANK"):  # the HDU writes its own from the data
        header.remove(key, ignore_missing=True)

    if instrument == "hmi":
        finite = np.isfinite(image)
        hdu = fits.CompImageHDU(np.where(finite, image, 0.0).astype(np.float32), header,
                                compression_type="RICE_1")
        hdu.scale("int32", bscale=HMI_BSCALE_GAUSS, bzero=0.0)
        hdu.data[~finite] = HMI_BLANK
        hdu.header["BLANK"] = HMI_BLANK
        hdus = fits.HDUList([fits.PrimaryHDU(), hdu])
    elif not np.isfinite(image).all():
        # AIA's BLANK marks telemetry gaps, which sunpy reads as -32768 DN, not NaN
        raise ValueError(f"{instrument.upper()} images must be finite (NaN or inf found)")
    elif instrument == "fsi":
        exposure_s = float(header["XPOSURE"])
        data = (_counts(image * exposure_s, rng) / exposure_s).astype(np.float32)
        hdu = fits.CompImageHDU(data, header, compression_type="RICE_1",
                                quantize_method=FSI_QUANTIZE_METHOD,
                                dither_seed=FSI_DITHER_SEED)
        hdus = fits.HDUList([fits.PrimaryHDU(), hdu])
    elif instrument == "aia":
        dn = _counts(image * float(header["EXPTIME"]), rng)
        data = np.clip(np.round(dn), 0, AIA_MAX_DN).astype(np.int16)
        header["BLANK"] = AIA_BLANK  # as the template; no pixel is missing
        hdus = fits.HDUList([fits.PrimaryHDU(data, header)])
    else:
        summing = 4.0 ** (float(header["SUMMED"]) - 1.0)
        dn = _counts(image * float(header["EXPTIME"]) * summing, rng) + float(header["BIASMEAN"])
        data = np.clip(np.round(dn), 0, EUVI_MAX_DN).astype(np.uint16)
        hdus = fits.HDUList([fits.PrimaryHDU(data, header)])  # uint16: BITPIX 16, BZERO 32768

    with atomic_path(path) as temporary:
        hdus.writeto(temporary)
    return path


def _counts(expected_dn: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
    """The expected DN, or a Poisson draw around them (negative expectations as 0)."""
    if rng is None:
        return expected_dn
    return rng.poisson(np.clip(expected_dn, 0.0, None)).astype(np.float64)


def truth_magnetogram_header(header: Any) -> fits.Header:
    """Header of the toy Sun's true line-of-sight magnetogram for the view ``header``
    describes (e.g. an EUVI view): the same pixel grid, WCS, times and observer, BUNIT
    'Gauss', TELESCOP 'toy Sun', INSTRUME 'toy truth', CONTENT saying it is for evaluation
    only, no exposure or bias keywords. It names no real instrument, so ``prep`` refuses it.
    SRCVIEW: the view's own (:func:`phi_view_header`'s), else its TELESCOP, INSTRUME,
    DETECTOR and wavelength.

    DATE-AVG is the view's reference time (T_OBS of SDO views), so that sunpy places the
    observer at the same time for both; T_OBS is kept where the view has one.
    """
    source = fits.Header(header) if not isinstance(header, fits.Header) else header
    truth = fits.Header()
    for key in _TRUTH_KEYWORDS:
        value = _header_value(source, key)
        if value is not None:
            truth[key] = value
    if "T_OBS" in truth:  # the reference time of SDO views
        from data_prep.fitsio import observation_time

        truth["DATE-AVG"] = _iso(observation_time(source), 3)
    crota = _header_value(source, "CROTA")
    if crota is not None and not any(key in truth for key in ("PC1_1", "CROTA2")):
        pc = Detector(2, 1.0, float(crota)).pc_matrix()
        for i in (1, 2):
            for j in (1, 2):
                truth[f"PC{i}_{j}"] = float(pc[i - 1, j - 1])
    truth["TELESCOP"] = "toy Sun"
    truth["INSTRUME"] = "toy truth"
    truth["BUNIT"] = "Gauss"
    truth["CONTENT"] = "toy Sun true LOS field, for evaluation only"
    truth["SRCVIEW"] = (_header_value(source, "SRCVIEW") or describe_source(source) or "unknown",
                        "the view this truth belongs to")
    return truth


def write_float_image(path: str | os.PathLike, image: np.ndarray, header: Any) -> Path:
    """Write ``image`` ((NAXIS2, NAXIS1), or any 2-D shape for a header without NAXIS) as
    float32 in the primary HDU with ``header``, atomically; NaN kept. Returns the path."""
    path = Path(path)
    image = np.asarray(image, dtype=np.float32)
    header = fits.Header(header) if not isinstance(header, fits.Header) else header.copy()
    if image.ndim != 2:
        raise ValueError(f"need a 2-D image, got shape {image.shape}")
    if "NAXIS1" in header and (int(header["NAXIS2"]), int(header["NAXIS1"])) != image.shape:
        raise ValueError(f"image shape {image.shape} does not match the header's "
                         f"({header['NAXIS2']}, {header['NAXIS1']})")
    for key in ("NAXIS1", "NAXIS2", "BLANK", "BSCALE", "BZERO"):
        header.remove(key, ignore_missing=True)
    with atomic_path(path) as temporary:
        fits.PrimaryHDU(image, header).writeto(temporary)
    return path


def carrington_header(time: Any, shape: tuple[int, int] = (180, 360)) -> fits.Header:
    """Header of a whole-Sun radial-field map in Carrington coordinates at ``time``.

    Cylindrical equal-area (CEA, pixels equal in sine latitude) over 360 x 180 deg:
    ``shape`` = (rows, columns) = (latitude, longitude) pixels, (180, 360) by default. Made
    by ``sunpy.map.header_helper.make_heliographic_header`` (frame 'carrington', the Earth
    as observer) with longitude 0..360 deg increasing to the right (CRVAL1 = 180 at the
    centre), the standard FITS CEA encoding (CDELT2 = (180 / pi) x 2 / rows deg, PV2_1 = 1
    by default): HMI's synoptic maps (hmi.Synoptic_Mr) hold the same pixel grid with their
    own CUNIT2 'Sine Latitude' and CRVAL1 in Carrington time, which sunpy translates.
    BUNIT 'Gauss', CONTENT 'radial field', CAR_ROT the rotation number at ``time``.
    """
    from sunpy.coordinates import sun

    from data_prep.geometry import full_sun_header

    time = _time(time)
    header = full_sun_header(time, tuple(shape), frame="carrington")
    header["TELESCOP"] = "toy Sun"
    header["CONTENT"] = "radial field"
    header["CAR_ROT"] = int(sun.carrington_rotation_number(time))
    return header
