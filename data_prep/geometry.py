"""Geometry of the preprocessed frame: the solar disk centred in a square image.

Convention used throughout the package: the disk centre sits at the frame centre, pixel
coordinate ((n - 1) / 2, (n - 1) / 2) counting from 0 (FITS CRPIX = (n + 1) / 2), and its
radius in pixels is a file-level attribute of the HDF5 pairs (392 at 1024 in the seed).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: Nominal photospheric solar radius (IAU 2015 B3, sunpy.sun.constants.radius), metres; the
#: value for headers without RSUN_REF.
RSUN_REF_M = 695_700_000.0
#: the Carrington frame's sidereal rotation rate, deg/day (sunpy.sun.constants
#: sidereal_rotation_rate, Archinal et al. 2018)
CARRINGTON_SIDEREAL_RATE_DEG_DAY = 14.1844


def angular_radius_arcsec(distance_m: float, rsun_m: float = RSUN_REF_M) -> float:
    """Angular radius (arcsec) of a sphere of radius ``rsun_m`` seen from ``distance_m`` (m)
    from its centre: asin(rsun / distance); ~959.2 arcsec for the Sun at 1 au."""
    return math.degrees(math.asin(float(rsun_m) / float(distance_m))) * 3600.0

#: The frames a full-Sun heliographic map may be in (``full_sun_header``).
FULL_SUN_FRAMES = ("carrington", "stonyhurst")


def check_full_sun_shape(shape: Any) -> tuple[int, int]:
    """``(rows, columns)`` = (latitude, longitude) pixels of a full-Sun map, each an even
    integer >= 2; anything else raises ValueError naming the shape."""
    if (not isinstance(shape, (tuple, list)) or len(shape) != 2
            or any(isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2 or n % 2
                   for n in shape)):
        raise ValueError(f"shape must be (rows, columns), two even integers >= 2, got {shape!r}")
    return int(shape[0]), int(shape[1])


def full_sun_header(time: Any, shape: tuple[int, int] = (180, 360), frame: str = "carrington"):
    """The header (``astropy.io.fits.Header``) of a full-Sun heliographic map at ``time``:
    cylindrical equal-area (CEA: rows equal in sine latitude, CDELT2 = (180 / pi) x 2 / rows),
    ``shape`` = (rows, columns) = (latitude, longitude) pixels, (180, 360) by default, even.

    Made by ``sunpy.map.header_helper.make_heliographic_header`` with the Earth as observer.
    ``frame`` 'carrington': longitude 0..360 deg increasing to the right (CRVAL1 180 at the
    centre), the grid of HMI's synoptic maps (hmi.Synoptic_Mr) and of sunkit-magex's
    ``carr_cea_wcs_header``; 'stonyhurst': -180..180 deg, central meridian as seen from Earth
    at the centre. sunpy reads it as a full-Sun CEA map and sunkit-magex's ``pfss.Input``
    accepts it. BUNIT 'Gauss'.
    """
    import astropy.units as u
    from astropy.io import fits
    from astropy.time import Time
    from sunpy.coordinates import get_earth
    from sunpy.map.header_helper import make_heliographic_header

    rows, columns = check_full_sun_shape(tuple(shape))
    if frame not in FULL_SUN_FRAMES:
        raise ValueError(f"frame must be one of {FULL_SUN_FRAMES}, got {frame!r}")
    time = Time(time)
    meta = make_heliographic_header(time, get_earth(time), (rows, columns), frame=frame,
                                    projection_code="CEA",
                                    map_center_longitude=(180 if frame == "carrington" else 0) * u.deg)
    header = fits.Header()
    for key, value in meta.items():
        if key.lower() not in ("naxis", "keycomments"):
            header[key.upper()] = value
    header["BUNIT"] = "Gauss"
    return header


def full_sun_pixel_area_cm2(shape: tuple[int, int], rsun_m: float = RSUN_REF_M) -> float:
    """Area (cm^2) on the sphere of radius ``rsun_m`` of one pixel of a full-Sun CEA map of
    ``shape`` (rows, columns): every pixel has the same area, 4 pi R^2 / (rows x columns).
    Flux (Mx) = B_r (G) x this area."""
    rows, columns = shape
    return 4.0 * math.pi * (float(rsun_m) * 100.0) ** 2 / (int(rows) * int(columns))


def full_sun_longitudes_deg(header) -> np.ndarray:
    """(columns,) longitudes (deg) of the pixel centres of a full-Sun CEA map, from its
    header (CRVAL1, CRPIX1, CDELT1; FITS pixels count from 1)."""
    columns = int(round(360.0 / abs(float(header["CDELT1"]))))
    return float(header["CRVAL1"]) + (np.arange(columns) + 1.0 - float(header["CRPIX1"])) * float(
        header["CDELT1"])


def full_sun_latitudes_deg(rows: int) -> np.ndarray:
    """(rows,) latitudes (deg) of the pixel centres of a full-Sun CEA map of ``rows`` rows,
    south to north: rows equal in sine latitude, centres at sin(lat) = -1 + (i + 0.5) 2 / rows
    (:func:`full_sun_header`)."""
    return np.degrees(np.arcsin(-1.0 + (np.arange(int(rows)) + 0.5) * 2.0 / int(rows)))


def longitude_distance_deg(a: Any, b: Any) -> np.ndarray:
    """abs(a - b) of longitudes (deg) wrapped to [0, 180]."""
    return np.abs((np.asarray(a) - np.asarray(b) + 180.0) % 360.0 - 180.0)


#: The fraction of the solar radius within which every metric counts pixels (validation
#: pixel CC and model selection, the CC loss, evaluation, figures): 0.95 R_sun, inside the
#: 0.98 R_sun magnetogram mask, so the masked ring and the limb never count. A preset may
#: set another (``data.disk_rsun``); reports record the one used.
DISK_RSUN = 0.95

#: The smallest frame the networks take: five stride-2 levels down to 1 x 1 (32 px).
MIN_IMAGE_SIZE = 32


def check_image_size(image_size: Any) -> int:
    """Return log2(image_size); raise ValueError unless it is a power of two >= 32, the
    frames the networks (U-Net, PatchGAN, pix2pixHD) take."""
    if (
        isinstance(image_size, bool)
        or not isinstance(image_size, (int, np.integer))
        or image_size < MIN_IMAGE_SIZE
        or image_size & (image_size - 1)
    ):
        raise ValueError(f"image size must be a power of two >= {MIN_IMAGE_SIZE} "
                         f"(e.g. 256 or 1024), got {image_size!r}")
    return int(math.log2(image_size))


def disk_mask(image_size: int, radius_px: float) -> np.ndarray:
    """Boolean (image_size, image_size) mask, True where a pixel centre lies within
    ``radius_px`` pixels of the frame centre."""
    if image_size < 1:
        raise ValueError(f"image_size must be >= 1, got {image_size}")
    if not radius_px > 0:
        raise ValueError(f"radius_px must be > 0 pixels, got {radius_px}")
    centre = (image_size - 1) / 2.0
    offsets = np.arange(image_size) - centre
    return offsets[:, None] ** 2 + offsets[None, :] ** 2 <= float(radius_px) ** 2


def radial_distance(image_size: int) -> np.ndarray:
    """(image_size, image_size) distance of each pixel centre from the frame centre, px."""
    centre = (image_size - 1) / 2.0
    offsets = np.arange(image_size) - centre
    return np.hypot(offsets[:, None], offsets[None, :])


#: Floor on mu = cos(heliocentric angle) when de-projecting fluxes (at most a 10x boost,
#: reached at r = 0.995 R_sun).
MU_FLOOR = 0.1

def mu_map(image_size: int, radius_px: float) -> np.ndarray:
    """mu = cos(heliocentric angle) = sqrt(1 - (r / R)^2) for each pixel of the frame.

    Args:
        image_size: frame side n, pixels (Sun centre at ((n - 1) / 2, (n - 1) / 2)).
        radius_px: solar radius R in pixels.

    Returns:
        (image_size, image_size) float64: 1 at disk centre, 0 on the limb, NaN for pixel
        centres off the disk (r > R, as :func:`data_prep.geometry.disk_mask`).
    """
    disk = disk_mask(image_size, radius_px)
    mu = np.full((image_size, image_size), np.nan)
    rho = radial_distance(image_size)[disk] / float(radius_px)
    mu[disk] = np.sqrt(np.clip(1.0 - rho * rho, 0.0, 1.0))
    return mu


def block_mean(data: np.ndarray, factor: int) -> np.ndarray:
    """Average ``factor`` x ``factor`` blocks of the last two axes of ``data`` (..., H, W).

    Rows and columns that do not fill a whole block (the bottom and right edges) are
    dropped. Pixel (i, j) of the result is centred on source pixel
    (factor * i + (factor - 1) / 2, factor * j + (factor - 1) / 2). float64 input stays
    float64; anything else is averaged in float32. A block holding a NaN is NaN.
    """
    factor = int(factor)
    if factor < 1:
        raise ValueError(f"block factor must be >= 1, got {factor}")
    dtype = np.float64 if np.asarray(data).dtype == np.float64 else np.float32
    data = np.asarray(data, dtype=dtype)
    if data.ndim < 2:
        raise ValueError(f"block_mean needs at least 2 dimensions, got shape {data.shape}")
    height, width = data.shape[-2] // factor, data.shape[-1] // factor
    if height == 0 or width == 0:
        raise ValueError(f"an image of shape {data.shape} is smaller than one "
                         f"{factor} x {factor} block")
    if factor == 1:
        return data
    blocks = data[..., : height * factor, : width * factor].reshape(
        *data.shape[:-2], height, factor, width, factor)
    # sum along rows of each block first (contiguous memory), then down the columns
    return (blocks.sum(axis=-1, dtype=dtype).sum(axis=-2) / factor**2).astype(dtype)


def binned_disk_mask(image_size: int, radius_px: float, factor: int) -> np.ndarray:
    """(image_size // factor, image_size // factor) boolean mask of the ``factor`` x
    ``factor`` blocks that lie wholly on the disk of ``radius_px`` (every pixel centre
    within it): the pixels that binned metrics and figures count."""
    return block_mean(disk_mask(image_size, radius_px).astype(np.float32), factor) == 1.0


def resample_to_frame(
    data: np.ndarray,
    pixel_to_arcsec: np.ndarray,
    reference_pixel: tuple[float, float],
    reference_arcsec: tuple[float, float],
    image_size: int,
    frame_scale_arcsec: float,
    fill_value: float = 0.0,
) -> np.ndarray:
    """Resample an image onto the standard frame: north up, Sun centre (helioprojective
    (0", 0")) at the frame centre, ``frame_scale_arcsec`` arcsec a pixel.

    Args:
        data: (H, W) source image, physical units; NaNs (and averaging blocks holding
            one) become ``fill_value``.
        pixel_to_arcsec: 2x2 matrix, source pixel offsets (x, y) -> helioprojective offsets
            (Tx, Ty) in arcsec (that is diag(CDELT) @ PC; it carries CROTA2 and rolls).
        reference_pixel: (x, y) 0-based source pixel of the reference coordinate.
        reference_arcsec: (Tx, Ty) of the reference pixel, arcsec.
        image_size: output pixels a side.
        frame_scale_arcsec: output arcsec a pixel.

    Returns:
        (image_size, image_size) float32. The source is first block-averaged by the integer
        part of the scale ratio (anti-aliasing, so every source pixel counts), then
        interpolated bilinearly; output pixels outside the source get ``fill_value``.
        Helioprojective offsets are treated as linear in pixels (the gnomonic distortion is
        below 0.01 arcsec within 1.1 solar radii).
    """
    from scipy import ndimage

    source_scale = float(np.sqrt(abs(np.linalg.det(pixel_to_arcsec))))
    factor = max(int(frame_scale_arcsec / source_scale + 1e-6), 1)
    binned = block_mean(np.asarray(data, dtype=np.float32), factor)
    binned = np.where(np.isfinite(binned), binned, np.float32(fill_value))
    # output pixel (row i, col j) -> helioprojective (Tx, Ty) = ((j - c), (i - c)) * scale
    centre = (image_size - 1) / 2.0
    arcsec_to_pixel = np.linalg.inv(pixel_to_arcsec)
    # source pixel (x, y) = reference + A ((Tx, Ty) - reference_arcsec); binned = (p - (f-1)/2) / f
    frame_to_source = arcsec_to_pixel * frame_scale_arcsec / factor  # d(x, y)/d(col, row)
    source_at_centre = (
        np.asarray(reference_pixel)
        + arcsec_to_pixel @ (-np.asarray(reference_arcsec, dtype=np.float64))
        - (factor - 1) / 2.0
    ) / factor
    # ndimage works in (row, col) = (y, x) order on both sides
    matrix = frame_to_source[::-1, ::-1]
    offset = source_at_centre[::-1] - matrix @ np.array([centre, centre])
    resampled = ndimage.affine_transform(
        binned, matrix, offset=offset, output_shape=(image_size, image_size), order=1,
        mode="constant", cval=fill_value, prefilter=False,
    )
    return resampled.astype(np.float32)
