"""One FITS image to the standard frame: calibrated, north up, disk centred, fixed radius.

:func:`prepare_map` is the single entry point for AIA, HMI, EUVI and EUI/FSI images; its
output is a ``sunpy.map.Map`` in physical units (DN/s or Gauss) with a valid WCS describing
the new frame (observer coordinate, scale, reference pixel), so prepared images and the
magnetograms generated from them can be placed on the Sun. Normalisation to [-1, 1] is a
separate, invertible step (:mod:`data_prep.normalization`).

Order of the steps (each recorded as a HISTORY card of the output header):
    1. read and check (instrument, wavelength, product, keywords, finite pixels);
    2. calibrate: AIA degradation (optional, aiapy) and exposure -> DN/s; EUVI bias,
       exposure and summing -> DN/s; EUI/FSI level 2: DN/s as calibrated by euiprep; HMI:
       Gauss as delivered;
    3. geometry: block-average then bilinear resampling onto the frame (north up, Sun centre
       at ((n - 1) / 2, (n - 1) / 2), radius ``radius_px``) through the WCS, which carries
       HMI's CROTA2 ~ 180 and EUVI's and FSI's rolls, and the scale from the observer's
       distance (Solar Orbiter: 0.28 to 1 au); NaNs (HMI off-disk) and pixels outside the
       source become ``fill_value``;
    4. mask: pixels beyond ``mask_radius_rsun`` solar radii set to ``fill_value``
       (default 0.98 R_sun and 0 G for magnetograms; EUV images keep the off-limb corona);
    5. EUV intensity matching: on-disk median scaled to 100 DN/s (default, AISFM 2.0's
       EUVI-to-AIA intercalibration, used for EUI/FSI too) or histogram matching against an
       AIA reference.
"""

from __future__ import annotations

from typing import Any

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord

from data_prep import calibration
from data_prep.fitsio import FitsInputError, read_map, source_name
from data_prep.geometry import angular_radius_arcsec, radial_distance, resample_to_frame

DEFAULT_MASK_RADIUS_RSUN = {"hmi": 0.98, "aia": None, "euvi": None, "fsi": None}
UNITS = {"hmi": "Gauss", "aia": "DN/s", "euvi": "DN/s", "fsi": "DN/s"}
# header keywords copied from the source so a prepared map still says what it is; T_OBS
# (SDO) and DATE-AVG (others) are the times sunpy gives the observer, which the frame
# header writes as it is at that time (without them, sunpy would read it at DATE-OBS)
KEPT_KEYWORDS = ("TELESCOP", "INSTRUME", "DETECTOR", "OBSRVTRY", "WAVELNTH", "WAVEUNIT",
                 "EXPTIME", "QUALITY", "T_OBS", "DATE-AVG", "CONTENT", "LVL_NUM", "FILENAME")


def solar_radius_arcsec(solar_map: Any) -> float:
    """Angular photospheric radius seen by the map's observer, arcsec, from RSUN_REF
    (sunpy's 695.7 Mm when absent) and DSUN_OBS."""
    return angular_radius_arcsec(solar_map.dsun.to_value(u.m), solar_map.rsun_meters.to_value(u.m))


def frame_header(solar_map: Any, image_size: int, radius_px: float, unit: str) -> dict:
    """FITS header of the standard frame for the observer of ``solar_map``."""
    import sunpy.map
    from sunpy.coordinates import frames

    scale = solar_radius_arcsec(solar_map) / radius_px
    centre = (image_size - 1) / 2.0
    sun_centre = SkyCoord(0 * u.arcsec, 0 * u.arcsec, frame=frames.Helioprojective(
        observer=solar_map.observer_coordinate, obstime=solar_map.date))
    header = sunpy.map.make_fitswcs_header(
        (image_size, image_size), sun_centre, reference_pixel=[centre, centre] * u.pix,
        scale=[scale, scale] * u.arcsec / u.pix, rotation_angle=0 * u.deg,
    )
    for key in KEPT_KEYWORDS:
        value = solar_map.meta.get(key.lower())
        if value is not None and str(value) != "":
            header[key.lower()] = value
    header["bunit"] = unit
    header["rsun_ref"] = float(solar_map.rsun_meters.to_value(u.m))
    header["rsun_obs"] = solar_radius_arcsec(solar_map)
    header["prep_rpx"] = float(radius_px)
    return header


def finish_frame(
    frame: np.ndarray,
    kind: str,
    radius_px: float,
    mask_radius_rsun: float | None | str = "default",
    fill_value: float = 0.0,
    median_scale_to: float | None | str = "default",
    histogram_reference: np.ndarray | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Steps 4 and 5 of :func:`prepare_map` on an image already on the standard frame
    (square (n, n), Sun centred at ((n - 1) / 2, (n - 1) / 2), radius ``radius_px``):
    the mask beyond ``mask_radius_rsun`` and, for EUV kinds, the intensity matching (on-disk
    median scaled to ``median_scale_to`` DN/s, or histogram matching). Arguments as for
    :func:`prepare_map`; synthetic frames (the toy Sun) go through the same code.

    Returns the finished frame (the input array may be modified in place) and the records of
    the steps.
    """
    steps: list[str] = []
    distance_rsun = radial_distance(frame.shape[0]) / radius_px
    mask_radius = DEFAULT_MASK_RADIUS_RSUN[kind] if mask_radius_rsun == "default" else mask_radius_rsun
    if mask_radius is not None:
        frame[distance_rsun > mask_radius] = fill_value
        steps.append(f"mask: beyond {mask_radius:g} R_sun set to {fill_value:g} {UNITS[kind]}")

    if kind != "hmi":
        on_disk = distance_rsun <= 1.0
        if histogram_reference is not None:
            frame, step = calibration.histogram_match(frame, on_disk, histogram_reference)
            steps.append(step)
        else:
            target = calibration.MEDIAN_TARGET_DN_S if median_scale_to == "default" else median_scale_to
            if target is not None:
                frame, step = calibration.median_normalize(frame, on_disk, target)
                steps.append(step)
    return frame, steps


def prepare_map(
    source: Any,
    kind: str,
    size: int = 1024,
    radius_px: float = 392.0,
    expected_wavelength: int | None | str = "default",
    require_magnetogram: bool = True,
    mask_radius_rsun: float | None | str = "default",
    fill_value: float = 0.0,
    exposure_normalization: bool = True,
    degradation_table: Any = None,
    median_scale_to: float | None | str = "default",
    histogram_reference: np.ndarray | None = None,
):
    """Prepare one AIA, HMI, EUVI or EUI/FSI image on the standard frame.

    Args:
        source: FITS path or ``sunpy.map.GenericMap``.
        kind: "aia", "hmi", "euvi" or "fsi" (EUI/FSI level 2).
        size: output pixels a side (seed: 1024).
        radius_px: solar radius in output pixels (seed: 392; AISFM: 450).
        expected_wavelength: A; default 304 for "aia", "euvi" and "fsi"; None accepts any.
        require_magnetogram: for "hmi", refuse anything but a line-of-sight magnetogram.
        mask_radius_rsun: pixels beyond this many solar radii are set to ``fill_value``;
            default 0.98 for "hmi", None (keep the corona) for EUV.
        fill_value: value of masked pixels and pixels outside the source (0 G; 0 DN/s,
            which the log scaling clips to its lower limit).
        exposure_normalization: EUV only: convert to DN/s (AIA: / EXPTIME; EUVI: bias,
            EXPTIME, SUMMED; FSI level 2: already DN/s, BUNIT checked); False keeps the
            values as delivered.
        degradation_table: AIA degradation correction table for aiapy (path or Table);
            None skips the correction.
        median_scale_to: EUV only: scale the on-disk median to this many DN/s (default 100,
            AISFM 2.0); None skips. Ignored when ``histogram_reference`` is given.
        histogram_reference: EUV only: on-disk DN/s values of an AIA reference image to
            match the intensity distribution to.

    Returns:
        ``sunpy.map.GenericMap``: float32 (size, size) data in DN/s or Gauss, north up,
        Sun centre at pixel ((size - 1) / 2, (size - 1) / 2), radius ``radius_px``, no NaN,
        a WCS of this frame with the input's observer, HISTORY cards of every step.

    Raises:
        FitsInputError: unreadable file, wrong instrument / wavelength / product (EUI/FSI:
            not a level-2 solar image in DN/s), missing keyword, no finite pixel (the
            message names the file).
    """
    import sunpy.map

    name = source_name(source)
    if size < 8 or not radius_px > 0 or radius_px >= size / 2:
        raise ValueError(f"need size >= 8 and 0 < radius_px < size / 2, got {size}, {radius_px}")
    solar_map = read_map(source, kind, expected_wavelength, require_magnetogram)
    steps: list[str] = []
    if kind == "aia":
        solar_map, step = calibration.aia_degradation(solar_map, degradation_table)
        steps.append(step)
    if kind != "hmi" and not exposure_normalization:
        data = np.asarray(solar_map.data, np.float32)
        steps.append("exposure: not normalised (values as delivered)")
    elif kind == "aia":
        data, step = calibration.exposure_normalize(solar_map.data, solar_map.meta, name)
        steps.append(step)
    elif kind == "euvi":
        data, euvi_steps = calibration.euvi_calibrate(
            np.asarray(solar_map.data, np.float32), solar_map.meta, name)
        steps += euvi_steps
    elif kind == "fsi":
        data, fsi_steps = calibration.fsi_calibrate(
            np.asarray(solar_map.data, np.float32), solar_map.meta, name)
        steps += fsi_steps
    else:
        data = np.asarray(solar_map.data, np.float32)
        steps.append("hmi: line-of-sight field in Gauss as delivered")

    try:
        cdelt_arcsec = [solar_map.scale.axis1.to_value(u.arcsec / u.pix),
                        solar_map.scale.axis2.to_value(u.arcsec / u.pix)]
        pixel_to_arcsec = np.diag(cdelt_arcsec) @ np.asarray(solar_map.rotation_matrix)
        reference_pixel = (solar_map.reference_pixel.x.to_value(u.pix),
                           solar_map.reference_pixel.y.to_value(u.pix))
        reference = solar_map.reference_coordinate
        reference_arcsec = (reference.Tx.to_value(u.arcsec), reference.Ty.to_value(u.arcsec))
        header = frame_header(solar_map, size, radius_px, UNITS[kind])
    except (AttributeError, KeyError, ValueError, TypeError) as err:
        raise FitsInputError(f"{name}: the header does not describe a usable geometry ({err})") from None
    frame_scale = float(header["cdelt1"])  # arcsec/px, R_sun over radius_px
    frame = resample_to_frame(data, pixel_to_arcsec, reference_pixel, reference_arcsec, size,
                              frame_scale, fill_value)
    steps.append(
        f"geometry: north up, centred, radius {radius_px:g} px ({frame_scale:.4g} arcsec/px), "
        f"{size} x {size}, block mean + bilinear"
    )

    frame, finishing = finish_frame(frame, kind, radius_px, mask_radius_rsun, fill_value,
                                    median_scale_to, histogram_reference)
    steps += finishing
    if not np.isfinite(frame).all():  # cannot happen by construction; never write a NaN
        raise FitsInputError(f"{name}: non-finite values after preparation")
    prepared = sunpy.map.Map(frame.astype(np.float32), header)
    prepared.meta["history"] = "\n".join(steps)
    return prepared
