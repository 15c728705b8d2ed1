"""The large-scale field: what PFSS and the heliosphere feel, and pixel CC hardly does.

A far-side magnetogram can score a high pixel CC and still carry a few Gauss of one
polarity across a whole hemisphere; PFSS's open flux is set by exactly that low-order part
(dipole, quadrupole), and B_r = B_LOS / mu amplifies it towards the poles. The figures here
measure it, in Gauss and Maxwell with the geometry from the headers:

* :func:`band_means`: the mean field in the latitude bands :data:`LATITUDE_BANDS_DEG`
  (and in any finer bins, for the band profile figure);
* :func:`hemisphere_net_flux`: the net flux of the northern and southern hemispheres (Mx);
* :func:`harmonic_coefficients`: the low-order spherical-harmonic coefficients (l <= 4,
  Schmidt semi-normalised, as geomagnetism and solar dynamo work write them) of a full-Sun
  B_r map by least squares on its CEA grid, and :func:`axial_dipole_gauss` (g_1^0: B_r =
  g_1^0 sin(latitude) for a pure axial dipole, the polar-field proxy of flux-transport work).

Two kinds of images are measured: line-of-sight magnetograms on the standard frame
(:func:`disk_latitude_deg` and :func:`disk_area_cm2` give each pixel's heliographic
latitude and its area on the sphere from the observer's B0 and distance), and full-Sun CEA
maps of B_r (:func:`data_prep.geometry.full_sun_latitudes_deg`, equal-area pixels).

Numpy only (no TensorFlow): used by ``evaluate`` (both modes) and by the corona experiment
(:mod:`solarmaggan.fullsun.experiment`).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from data_prep.geometry import (MU_FLOOR, disk_mask, full_sun_latitudes_deg,
                                full_sun_longitudes_deg, full_sun_pixel_area_cm2, mu_map)
from data_prep.latitude import sin_latitude_image

#: The latitude bands (deg, south to north) of the band means: polar caps, the activity
#: belts and the equator (the bands of issue 29's table).
LATITUDE_BANDS_DEG = ((-90.0, -40.0), (-40.0, -10.0), (-10.0, 10.0), (10.0, 40.0), (40.0, 90.0))
#: The bins (deg) of the band profile figure: 10 deg wide.
PROFILE_EDGES_DEG = tuple(float(edge) for edge in range(-90, 91, 10))
#: The largest degree of the harmonic fit.
HARMONIC_LMAX = 4


def band_label(band: tuple[float, float]) -> str:
    """A key-friendly name of a band: (-90, -40) -> "s90_s40", (-10, 10) -> "s10_n10"."""

    def side(latitude: float) -> str:
        return f"{'s' if latitude < 0 else 'n'}{abs(latitude):g}"

    return f"{side(band[0])}_{side(band[1])}"


def band_means(field_gauss: np.ndarray, latitude_deg: np.ndarray, counted: np.ndarray | None = None,
               bands: Sequence[tuple[float, float]] = LATITUDE_BANDS_DEG) -> np.ndarray:
    """The mean of ``field_gauss`` over the pixels of each latitude band.

    Args:
        field_gauss: any shape, Gauss (non-finite pixels are left out).
        latitude_deg: the same shape (or broadcastable), each pixel's heliographic latitude.
        counted: optional bool mask of the pixels that count (the disk, the far hemisphere).
        bands: (low, high) deg each; a pixel belongs to a band when low <= lat < high (the
            top band includes +90).

    Returns:
        (len(bands),) float64, Gauss; NaN for a band without a counted pixel. The pixels
        are weighted equally: pass equal-area pixels (CEA maps) or accept the projection's
        weighting (disk images: the mean over the visible pixels of the band).
    """
    field = np.asarray(field_gauss, dtype=np.float64)
    latitude = np.broadcast_to(np.asarray(latitude_deg, dtype=np.float64), field.shape)
    keep = np.isfinite(field) & np.isfinite(latitude)
    if counted is not None:
        keep &= np.broadcast_to(np.asarray(counted, dtype=bool), field.shape)
    means = np.full(len(bands), math.nan)
    for number, (low, high) in enumerate(bands):
        inside = keep & (latitude >= low) & ((latitude < high) | (high >= 90.0) & (latitude <= high))
        if inside.any():
            means[number] = float(field[inside].mean())
    return means


def hemisphere_net_flux(field_gauss: np.ndarray, latitude_deg: np.ndarray, area_cm2: Any,
                        counted: np.ndarray | None = None) -> dict[str, float]:
    """Net flux (Mx) of the northern (latitude >= 0) and southern hemispheres: the sum of
    field x area over the counted, finite pixels. ``area_cm2``: each pixel's area on the
    sphere (a scalar for equal-area maps, an array for disk images: :func:`disk_area_cm2`)."""
    field = np.asarray(field_gauss, dtype=np.float64)
    latitude = np.broadcast_to(np.asarray(latitude_deg, dtype=np.float64), field.shape)
    area = np.broadcast_to(np.asarray(area_cm2, dtype=np.float64), field.shape)
    keep = np.isfinite(field) & np.isfinite(latitude) & np.isfinite(area)
    if counted is not None:
        keep &= np.broadcast_to(np.asarray(counted, dtype=bool), field.shape)
    flux = np.where(keep, field * area, 0.0)
    return {"north_mx": float(flux[latitude >= 0].sum()), "south_mx": float(flux[latitude < 0].sum())}


def disk_latitude_deg(image_size: int, radius_px: float, b0_deg: float, distance_rsun: float,
                      disk_fraction: float = 1.0) -> np.ndarray:
    """Heliographic latitude (deg) of each pixel of the standard frame as an observer at
    heliographic latitude ``b0_deg`` (B0) and ``distance_rsun`` solar radii sees the Sun
    (:func:`data_prep.latitude.sin_latitude_image`); NaN beyond ``disk_fraction`` of the
    solar radius ``radius_px``. (image_size, image_size) float64."""
    sine = sin_latitude_image(image_size, radius_px, b0_deg, distance_rsun).astype(np.float64)
    latitude = np.degrees(np.arcsin(sine))
    latitude[~disk_mask(image_size, disk_fraction * float(radius_px))] = math.nan
    return latitude


def disk_area_cm2(image_size: int, radius_px: float, centre_area_cm2: float) -> np.ndarray:
    """Area on the sphere (cm^2) of each disk pixel of the standard frame: the projected
    area at disk centre (``centre_area_cm2``, :func:`solarmaggan.metrics.pixel_area_cm2`)
    over max(mu, :data:`data_prep.geometry.MU_FLOOR`), the de-projection of
    :func:`solarmaggan.metrics.magnetic_flux`; NaN off the disk."""
    mu = mu_map(image_size, radius_px)
    return float(centre_area_cm2) / np.maximum(mu, MU_FLOOR)


def disk_large_scale(field_gauss: np.ndarray, latitude_deg: np.ndarray,
                     area_cm2: np.ndarray | None, prefix: str) -> dict[str, float]:
    """The large-scale figures of one line-of-sight magnetogram on the disk (``latitude_deg``
    NaN off it), as flat keys for an evaluation record: ``band_mean_<prefix>_gauss_<band>``
    (B_LOS, G, :data:`LATITUDE_BANDS_DEG`) and, with pixel areas,
    ``net_flux_<north|south>_<prefix>_mx`` (B_LOS x the de-projected area, Mx)."""
    record = {f"band_mean_{prefix}_gauss_{band_label(band)}": float(value) for band, value in
              zip(LATITUDE_BANDS_DEG, band_means(field_gauss, latitude_deg))}
    if area_cm2 is not None:
        flux = hemisphere_net_flux(field_gauss, latitude_deg, area_cm2)
        record[f"net_flux_north_{prefix}_mx"] = flux["north_mx"]
        record[f"net_flux_south_{prefix}_mx"] = flux["south_mx"]
    return record


def band_table(records: Sequence[dict[str, Any]], generated: str = "generated",
               truth: str = "true") -> list[dict[str, Any]]:
    """One row per :data:`LATITUDE_BANDS_DEG` band from per-image records carrying
    :func:`disk_large_scale` keys: the mean over the images of the generated and the true
    band means (G), their difference (the bias, G) and the mean absolute difference per
    image (G), and how many images had pixels in the band."""
    rows = []
    for band in LATITUDE_BANDS_DEG:
        label = band_label(band)
        pairs = np.array([(r.get(f"band_mean_{generated}_gauss_{label}", math.nan),
                           r.get(f"band_mean_{truth}_gauss_{label}", math.nan)) for r in records],
                         dtype=np.float64).reshape(-1, 2)
        pairs = pairs[np.isfinite(pairs).all(axis=1)]
        generated_mean, true_mean = (pairs.mean(axis=0) if len(pairs) else (math.nan, math.nan))
        rows.append({"band": label, "latitude_deg": list(band), "images": int(len(pairs)),
                     "generated_gauss": float(generated_mean), "true_gauss": float(true_mean),
                     "bias_gauss": float(generated_mean - true_mean),
                     "mean_abs_difference_gauss": float(np.abs(pairs[:, 0] - pairs[:, 1]).mean())
                     if len(pairs) else math.nan})
    return rows


def _schmidt_legendre(lmax: int, sine_latitude: np.ndarray) -> dict[tuple[int, int], np.ndarray]:
    """Schmidt semi-normalised associated Legendre functions P_l^m(sin latitude), no
    Condon-Shortley phase, for 0 <= m <= l <= lmax."""
    from scipy.special import lpmv

    values = {}
    for degree in range(lmax + 1):
        for order in range(degree + 1):
            plain = lpmv(order, degree, sine_latitude) * (-1.0) ** order  # remove CS phase
            norm = 1.0 if order == 0 else math.sqrt(
                2.0 * math.factorial(degree - order) / math.factorial(degree + order))
            values[(degree, order)] = norm * plain
    return values


def harmonic_design(latitude_deg: np.ndarray, longitude_deg: np.ndarray,
                    lmax: int = HARMONIC_LMAX) -> tuple[np.ndarray, list[tuple[str, int, int]]]:
    """The least-squares design matrix of the real Schmidt semi-normalised harmonics at the
    points (latitude, longitude in deg, any equal shapes): (points, terms), and the terms'
    names ("g", l, m) for cos(m lon) P_l^m and ("h", l, m) for sin(m lon) P_l^m (m > 0)."""
    latitude = np.radians(np.ravel(latitude_deg))
    longitude = np.radians(np.ravel(longitude_deg))
    legendre = _schmidt_legendre(lmax, np.sin(latitude))
    columns, terms = [], []
    for degree in range(lmax + 1):
        for order in range(degree + 1):
            columns.append(legendre[(degree, order)] * np.cos(order * longitude))
            terms.append(("g", degree, order))
            if order > 0:
                columns.append(legendre[(degree, order)] * np.sin(order * longitude))
                terms.append(("h", degree, order))
    return np.stack(columns, axis=1), terms


def harmonic_coefficients(br_gauss: np.ndarray, header, lmax: int = HARMONIC_LMAX) -> dict[str, float]:
    """The spherical-harmonic coefficients (G) up to degree ``lmax`` of a full-Sun B_r map on
    a CEA grid (``header``: :func:`data_prep.geometry.full_sun_header`'s conventions, the
    longitudes from CRVAL1 / CRPIX1 / CDELT1), by least squares over its finite pixels
    (equal in area, so equally weighted):

        B_r(lat, lon) = sum_l sum_m P_l^m(sin lat) (g_l^m cos(m lon) + h_l^m sin(m lon))

    with P_l^m Schmidt semi-normalised. Returns ``{"g_l_m": value, "h_l_m": value}``, e.g.
    ``g_1_0`` the axial dipole. On a full grid the fit equals the projection of the map on
    the harmonics up to the pixels' quadrature error."""
    field = np.asarray(br_gauss, dtype=np.float64)
    rows, columns = field.shape
    latitude = np.broadcast_to(full_sun_latitudes_deg(rows)[:, None], field.shape)
    longitude = np.broadcast_to(full_sun_longitudes_deg(header)[None, :columns], field.shape)
    keep = np.isfinite(field)
    design, terms = harmonic_design(latitude[keep], longitude[keep], lmax)
    solution, *_ = np.linalg.lstsq(design, field[keep], rcond=None)
    return {f"{kind}_{degree}_{order}": float(value)
            for (kind, degree, order), value in zip(terms, solution)}


def axial_dipole_gauss(coefficients: dict[str, float]) -> float:
    """g_1^0 (G): B_r = g_1^0 sin(latitude) for a pure axial dipole, so +-g_1^0 is the
    field at the poles."""
    return coefficients["g_1_0"]


def dipole_strength_gauss(coefficients: dict[str, float]) -> float:
    """sqrt(g_1^0^2 + g_1^1^2 + h_1^1^2) (G): the dipole's strength whatever its tilt."""
    return math.sqrt(sum(coefficients[key] ** 2 for key in ("g_1_0", "g_1_1", "h_1_1")))


def map_large_scale(br_gauss: np.ndarray, header, counted: np.ndarray | None = None
                    ) -> dict[str, Any]:
    """The large-scale figures of one full-Sun B_r map (G, CEA ``header``): band means over
    the ``counted`` pixels (e.g. the far hemisphere; all by default), the net flux of each
    hemisphere over the whole map (Mx), the harmonic coefficients (l <= 4), the axial dipole
    and the dipole strength (G)."""
    field = np.asarray(br_gauss, dtype=np.float64)
    latitude = full_sun_latitudes_deg(field.shape[0])[:, None]
    coefficients = harmonic_coefficients(field, header)
    flux = hemisphere_net_flux(field, latitude, full_sun_pixel_area_cm2(field.shape))
    return {
        "band_means_gauss": band_means(field, latitude, counted).tolist(),
        "profile_gauss": band_means(field, latitude, counted, profile_bins()).tolist(),
        "net_flux_north_mx": flux["north_mx"], "net_flux_south_mx": flux["south_mx"],
        "harmonics_gauss": coefficients,
        "axial_dipole_gauss": axial_dipole_gauss(coefficients),
        "dipole_gauss": dipole_strength_gauss(coefficients),
    }


def profile_bins() -> list[tuple[float, float]]:
    """The (low, high) deg bins of :data:`PROFILE_EDGES_DEG`."""
    return list(zip(PROFILE_EDGES_DEG[:-1], PROFILE_EDGES_DEG[1:]))


def harmonic_error_gauss(coefficients: dict[str, float], truth: dict[str, float],
                         degrees: Sequence[int] = (1, 2, 3, 4)) -> float:
    """Root of the summed squared coefficient differences (G) over ``degrees`` (default
    1-4: the monopole, which is the net flux, is reported on its own)."""
    return math.sqrt(sum((coefficients[key] - truth[key]) ** 2 for key in coefficients
                         if int(key.split("_")[1]) in degrees))
