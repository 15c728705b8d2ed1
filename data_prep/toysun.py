"""The "toy Sun": synthetic pairs of EUV 304 A images and line-of-sight magnetograms.

Training, tests and demonstrations need data that look solar without any download. A toy
Sun is a full-disk frame (north up, west to the right, i.e. +x = increasing column index)
with the disk centred at pixel ((n - 1) / 2, (n - 1) / 2) and a radius of ``rsun_fraction``
of the frame (392/1024, as in the seed's preprocessing). It holds:

Magnetogram (Gauss, line of sight):
    * bipolar active regions in the activity belts (5-35 deg latitude), each a compact
      leading spot, a more diffuse following polarity and a weak plage halo, flux balanced;
      peak radial fields 300-3000 G;
    * Joy's law: the bipole axis is tilted by ``joy_tilt_deg(latitude)`` = 0.5 |latitude|
      (times a random factor 0.55-1.8), the leading (western) spot nearer the equator;
    * Hale's law: the leading polarity is ``north_leading_polarity`` in the north and the
      opposite in the south (default -1: solar cycle 24);
    * a mixed-polarity network of weak elements along the boundaries of supergranule-sized
      cells: each element carries ~1.5e19 Mx (log-normal, the flux of a network
      concentration) spread over a Gaussian of sigma 0.5 deg, a peak of ~6.5 G
      (typically 3-12 G) at any image size;
    * the field is radial, so the line-of-sight field is B_r * mu with mu = cos(heliocentric
      angle) (foreshortening), plus Gaussian noise: HMI's ~10 G per native 0.5 arcsec pixel
      (hmi.M_45s) averaged down to the toy frame's pixels (0.5 G at 256 x 256, 2 G at
      1024 x 1024, see :func:`hmi_noise_gauss`); exactly 0 off the disk.

EUV 304 A intensity (DN/s):
    * quiet Sun ~100 DN/s (on-disk median near 100, as after AISFM's median scaling) with
      limb brightening and a weak chromospheric mottle;
    * a faint off-limb emission falling off with height, never zero;
    * brightening that grows, saturating, with the smoothed true (radial) |B|: network
      elements ~1.35x the cell interiors, plage up to ~4-7x the quiet-Sun median (10x the cell
      interiors);
    * optional dark filaments (elongated, on by default);
    * Poisson-like noise (variance proportional to the intensity).

:func:`make_toy_sun` draws one such Sun; :func:`write_toy_dataset` writes a pair file with
the same scaling as real data (:func:`~data_prep.normalization.euv_normalization` for the
input, :func:`~data_prep.normalization.magnetogram_normalization` +-100 G for the target).
Heliographic positions are projected orthographically (observer at 1 au, latitude
``b0_deg`` of the disk centre, 0 by default). Only numpy is needed.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from data_prep.geometry import disk_mask
from data_prep.normalization import euv_normalization, magnetogram_normalization
from data_prep.pairs import PairWriter, iso_time
from data_prep.splits import SplitRule

RSUN_FRACTION = 392 / 1024  # solar radius / frame size of the seed's preprocessed images
RSUN_REF_M = 695_700_000.0  # nominal solar radius (IAU 2015), m
AU_M = 149_597_870_700.0  # 1 astronomical unit, m
RSUN_OBS_ARCSEC = math.degrees(math.asin(RSUN_REF_M / AU_M)) * 3600.0  # ~959.2 arcsec
MIN_IMAGE_SIZE = 16

# Magnetic field (Gauss, radial field unless said otherwise).
ACTIVE_LATITUDES_DEG = (5.0, 35.0)  # the activity belts
PEAK_GAUSS_RANGE = (300.0, 3000.0)  # leading-spot peak, drawn log-uniformly
JOY_COEFFICIENT = 0.5  # tilt = 0.5 |latitude| (deg)
MIN_REGION_SPACING_DEG = 16.0  # between the centres of two random active regions
MIN_REGION_MU = 0.3  # random regions keep their centre within ~73 deg of disk centre
NETWORK_ELEMENT_DEG = 0.5  # Gaussian sigma of a network element
SUPERGRANULE_DEG = 1.0  # smoothing scale of the random field whose zero lines form the network
NETWORK_CELL_WIDTH = 0.3  # network elements lie where |cell field| < ~0.3 of its std
NETWORK_FLUX_MX = 1.5e19  # median flux of a network element (network concentrations ~1e19 Mx)
HMI_NOISE_NATIVE_GAUSS = 10.0  # LOS noise of one native hmi.M_45s pixel (nominally 5-10 G)
HMI_NATIVE_SCALE_ARCSEC = 0.504  # HMI's native pixel (4096 x 4096 full disk)

# EUV 304 A (DN/s).
QUIET_DN_S = 77.0  # cell interiors at disk centre; with the network the disk median is ~100
LIMB_BRIGHTENING = 0.5  # I(mu) = QUIET * (1 + 0.5 (1 - mu)^2)
MOTTLE_CONTRAST = 0.05  # rms of the log-normal chromospheric mottle
CANOPY_DEG = 0.7  # Gaussian smoothing of |B| before it brightens the EUV
PLAGE_MAX_BRIGHTENING = 14.0  # brightening factor for very strong field (saturation)
PLAGE_HALF_GAUSS = 600.0  # smoothed |B| at which the brightening reaches half its range
PLAGE_EXPONENT = 0.7  # f = 1 + (14 - 1) s / (1 + s), s = (|B|_smooth / 600 G)^0.7
SPICULE_SCALE_RSUN = 0.015  # e-folding height of the bright limb (chromosphere, spicules)
CORONA_SCALE_RSUN = 0.3  # e-folding height of the faint off-limb corona
CORONA_DN_S = 12.0  # off-limb corona just above the limb
MIN_DN_S = 0.05  # floor after noise: the intensity is never zero or negative


@dataclasses.dataclass
class ActiveRegion:
    """A bipolar active region, placed in heliographic coordinates.

    Attributes:
        latitude_deg, longitude_deg: heliographic position of the bipole's centre (deg);
            longitude 0 faces the observer, positive to the west (right).
        tilt_deg: Joy's-law tilt of the bipole axis to the east-west line (deg); positive
            means the leading (western) spot is nearer the equator, in either hemisphere.
        peak_gauss: radial field at the centre of the leading spot (G, > 0).
        separation_deg: distance between the leading and following centres (deg).
        leading_polarity: sign (+1 / -1) of the leading (western) polarity.
        spot_sigma_deg: Gaussian sigma of the leading spot (deg).
        structure_seed: seed of the fragments' layout, so a region keeps its shape wherever
            it is placed.
    """

    latitude_deg: float
    longitude_deg: float
    tilt_deg: float
    peak_gauss: float
    separation_deg: float
    leading_polarity: int
    spot_sigma_deg: float = 1.3
    structure_seed: int = 0

    def __post_init__(self) -> None:
        if self.leading_polarity not in (1, -1):
            raise ValueError(f"leading_polarity must be +1 or -1, got {self.leading_polarity}")
        for name in ("peak_gauss", "separation_deg", "spot_sigma_deg"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not -80.0 <= self.latitude_deg <= 80.0:
            raise ValueError(f"latitude_deg must be within +-80 deg, got {self.latitude_deg}")

    def _offset(self, west_deg: np.ndarray, north_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(latitude, longitude) in deg of points offset west / north (deg of arc) from the
        centre (a local flat approximation, good for offsets of a few degrees)."""
        latitude = self.latitude_deg + np.asarray(north_deg, dtype=np.float64)
        longitude = self.longitude_deg + np.asarray(west_deg, dtype=np.float64) / math.cos(
            math.radians(self.latitude_deg)
        )
        return latitude, longitude

    def _leading_offset(self) -> tuple[float, float]:
        """(west, north) offset in deg of the leading centre; the following one is opposite."""
        half = 0.5 * self.separation_deg
        tilt = math.radians(self.tilt_deg)
        towards_equator = -1.0 if self.latitude_deg >= 0 else 1.0
        return half * math.cos(tilt), towards_equator * half * math.sin(tilt)

    def leading_position(self) -> tuple[float, float]:
        """(latitude, longitude) in deg of the leading spot's centre."""
        west, north = self._leading_offset()
        latitude, longitude = self._offset(west, north)
        return float(latitude), float(longitude)

    def following_position(self) -> tuple[float, float]:
        """(latitude, longitude) in deg of the following polarity's centre."""
        west, north = self._leading_offset()
        latitude, longitude = self._offset(-west, -north)
        return float(latitude), float(longitude)

    def flux_elements(self) -> dict[str, np.ndarray]:
        """The Gaussian field concentrations making up the region, as 1-D arrays:
        ``latitude_deg``, ``longitude_deg``, ``sigma_deg`` and ``gauss`` (signed radial peak
        field, G). The leading side is a compact spot with two satellites and a plage halo;
        the following side a weaker, wider core with four fragments and a halo; the
        following amplitudes are scaled so the region's net flux is zero."""
        rng = np.random.default_rng(self.structure_seed)
        sigma = self.spot_sigma_deg
        west, north = self._leading_offset()
        halo_gauss = 60.0 + 0.03 * self.peak_gauss
        # leading: core, 2 satellites, halo; following: core, 4 fragments, halo
        lead_west = np.concatenate([[west], west + rng.normal(0, sigma, 2), [west]])
        lead_north = np.concatenate([[north], north + rng.normal(0, sigma, 2), [north]])
        lead_sigma = np.array([sigma, *rng.uniform(0.4, 0.7, 2) * sigma, 2.5 * sigma])
        lead_gauss = np.array(
            [self.peak_gauss, *rng.uniform(0.1, 0.3, 2) * self.peak_gauss, halo_gauss]
        )
        follow_sigma_core = 1.4 * sigma
        follow_west = np.concatenate([[-west], -west + rng.normal(0, 1.5 * sigma, 4), [-west]])
        follow_north = np.concatenate([[-north], -north + rng.normal(0, 1.5 * sigma, 4), [-north]])
        follow_sigma = np.array(
            [follow_sigma_core, *rng.uniform(0.5, 0.9, 4) * sigma, 2.5 * follow_sigma_core]
        )
        follow_gauss = np.array(
            [0.5 * self.peak_gauss, *rng.uniform(0.15, 0.4, 4) * self.peak_gauss, halo_gauss]
        )
        # flux of a Gaussian ~ peak * sigma^2: balance the following side against the leading
        follow_gauss *= np.sum(lead_gauss * lead_sigma**2) / np.sum(follow_gauss * follow_sigma**2)
        latitude, longitude = self._offset(
            np.concatenate([lead_west, follow_west]), np.concatenate([lead_north, follow_north])
        )
        polarity = self.leading_polarity
        return {
            "latitude_deg": latitude,
            "longitude_deg": longitude,
            "sigma_deg": np.concatenate([lead_sigma, follow_sigma]),
            "gauss": np.concatenate([polarity * lead_gauss, -polarity * follow_gauss]),
        }


@dataclasses.dataclass
class ToySun:
    """One synthetic observation.

    Attributes:
        euv_dn_s: (H, W) float32, EUV 304 A intensity in DN/s, > 0 everywhere.
        magnetogram_gauss: (H, W) float32, line-of-sight field in Gauss (positive towards
            the observer), exactly 0 off the disk.
        rsun_px: solar radius in pixels; the disk is centred at ((H - 1) / 2, (W - 1) / 2).
        active_regions: the bipoles drawn on the visible hemisphere.
        b0_deg: heliographic latitude of the disk centre (deg).
    """

    euv_dn_s: np.ndarray
    magnetogram_gauss: np.ndarray
    rsun_px: float
    active_regions: list[ActiveRegion]
    b0_deg: float = 0.0


# -- geometry ---------------------------------------------------------------------------------
def heliographic_to_observer(
    latitude_deg: Any, longitude_deg: Any, b0_deg: float = 0.0
) -> np.ndarray:
    """Unit vectors (..., 3) towards heliographic (latitude, longitude) in deg, in the
    observer's frame: x west, y north (both in the image plane), z towards the observer
    (so z = mu on the visible hemisphere). ``b0_deg``: latitude of the disk centre."""
    lat = np.radians(np.asarray(latitude_deg, dtype=np.float64))
    lon = np.radians(np.asarray(longitude_deg, dtype=np.float64))
    b0 = math.radians(b0_deg)
    x = np.cos(lat) * np.sin(lon)
    y = np.sin(lat) * math.cos(b0) - np.cos(lat) * np.cos(lon) * math.sin(b0)
    z = np.sin(lat) * math.sin(b0) + np.cos(lat) * np.cos(lon) * math.cos(b0)
    return np.stack([x, y, z], axis=-1)


def heliographic_to_pixel(
    latitude_deg: Any, longitude_deg: Any, image_size: int, rsun_px: float, b0_deg: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, column, mu) of heliographic points (deg) in a frame of ``image_size`` pixels with
    the disk of radius ``rsun_px`` centred; north up (row 0 at the top), west to the right.
    mu <= 0 marks points on the far side."""
    vectors = heliographic_to_observer(latitude_deg, longitude_deg, b0_deg)
    centre = (image_size - 1) / 2.0
    return (
        centre - vectors[..., 1] * rsun_px,
        centre + vectors[..., 0] * rsun_px,
        vectors[..., 2],
    )


def _image_plane(image_size: int, rsun_px: float) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of every pixel centre in solar radii, (H, W) each: x west, y north."""
    offsets = (np.arange(image_size) - (image_size - 1) / 2.0) / rsun_px
    return np.broadcast_to(offsets[None, :], (image_size,) * 2), np.broadcast_to(
        -offsets[:, None], (image_size,) * 2
    )


def _px_per_deg(rsun_px: float) -> float:
    """Pixels per heliographic degree at disk centre."""
    return rsun_px * math.pi / 180.0


def network_peak_gauss(flux_mx: float = NETWORK_FLUX_MX) -> float:
    """Peak radial field (G) of a network element of ``flux_mx`` Mx spread over a Gaussian of
    sigma ``NETWORK_ELEMENT_DEG`` on the solar surface: flux / (2 pi sigma^2); 6.5 G for the
    default 1.5e19 Mx."""
    sigma_cm = math.radians(NETWORK_ELEMENT_DEG) * RSUN_REF_M * 100.0
    return float(flux_mx) / (2.0 * math.pi * sigma_cm**2)


def hmi_noise_gauss(rsun_px: float) -> float:
    """LOS noise (G) of an HMI magnetogram averaged down to a frame whose solar radius is
    ``rsun_px`` pixels: the native pixel noise over the square root of the number of native
    pixels averaged into one frame pixel (0.51 G for 256 x 256 toy frames, 2.1 G for
    1024 x 1024)."""
    native_rsun_px = RSUN_OBS_ARCSEC / HMI_NATIVE_SCALE_ARCSEC
    return HMI_NOISE_NATIVE_GAUSS * min(1.0, float(rsun_px) / native_rsun_px)


# -- smoothing (numpy FFT, periodic; the disk stays clear of the frame edges) -----------------
@functools.lru_cache(maxsize=32)
def _gaussian_ft(image_size: int, sigma_px: float) -> np.ndarray:
    """rfft2 of a periodic Gaussian kernel of peak 1 and sigma ``sigma_px`` (read-only)."""
    distance = np.minimum(np.arange(image_size), image_size - np.arange(image_size))
    profile = np.exp(-0.5 * (distance / sigma_px) ** 2)
    kernel_ft = np.fft.rfft2(profile[:, None] * profile[None, :])
    kernel_ft.setflags(write=False)
    return kernel_ft


def _convolve_peak_one(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """Convolve with a Gaussian of peak 1: a one-pixel impulse of amplitude A becomes a blob
    of peak A (for sigma >~ 0.5 px)."""
    kernel_ft = _gaussian_ft(image.shape[0], round(float(sigma_px), 6))
    return np.fft.irfft2(np.fft.rfft2(image) * kernel_ft, s=image.shape)


def gaussian_smooth(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian smoothing (unit-sum kernel, sigma in pixels) of a square (n, n) image with
    numpy's FFT; the image is treated as periodic."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2 or image.shape[0] != image.shape[1]:
        raise ValueError(f"expected a square 2-D image, got shape {image.shape}")
    if sigma_px <= 0:
        return image.copy()
    kernel_ft = _gaussian_ft(image.shape[0], round(float(sigma_px), 6))
    return np.fft.irfft2(np.fft.rfft2(image) * kernel_ft, s=image.shape) / kernel_ft[0, 0].real


# -- drawing the ingredients -----------------------------------------------------------------
def joy_tilt_deg(latitude_deg: float) -> float:
    """Mean Joy's-law tilt (deg) of a bipole at ``latitude_deg``: 0.5 |latitude|."""
    return JOY_COEFFICIENT * abs(float(latitude_deg))


def random_active_region(
    rng: np.random.Generator,
    north_leading_polarity: int = -1,
    *,
    latitude_deg: float | None = None,
    longitude_deg: float | None = None,
) -> ActiveRegion:
    """Draw one bipole: |latitude| ~ N(17, 7) deg clipped to the 5-35 deg belts (random
    hemisphere), longitude uniform in +-70 deg, peak field log-uniform in 300-3000 G,
    separation 4-12 deg growing with the peak, Joy tilt 0.5 |lat| times a log-normal factor
    (sigma 0.3), leading polarity from Hale's law."""
    low, high = ACTIVE_LATITUDES_DEG
    if latitude_deg is None:
        latitude_deg = float(np.clip(rng.normal(17.0, 7.0), low, high) * rng.choice([-1.0, 1.0]))
    if longitude_deg is None:
        longitude_deg = float(rng.uniform(-70.0, 70.0))
    peak = float(np.exp(rng.uniform(*np.log(PEAK_GAUSS_RANGE))))
    strength = math.sqrt(peak / PEAK_GAUSS_RANGE[1])
    hemisphere = 1 if latitude_deg >= 0 else -1
    return ActiveRegion(
        latitude_deg=latitude_deg,
        longitude_deg=longitude_deg,
        tilt_deg=joy_tilt_deg(latitude_deg) * float(np.exp(rng.normal(0.0, 0.3))),
        peak_gauss=peak,
        separation_deg=(4.0 + 8.0 * strength) * float(rng.uniform(0.85, 1.15)),
        leading_polarity=int(north_leading_polarity) * hemisphere,
        spot_sigma_deg=0.8 + 0.9 * strength,
        structure_seed=int(rng.integers(2**31)),
    )


def _place_active_regions(
    rng: np.random.Generator, count: int, north_leading_polarity: int, b0_deg: float
) -> list[ActiveRegion]:
    """``count`` random bipoles on the visible hemisphere, centres at mu >= 0.3 and (where
    possible) at least 16 deg apart."""
    regions: list[ActiveRegion] = []
    centres: list[np.ndarray] = []
    min_cos = math.cos(math.radians(MIN_REGION_SPACING_DEG))
    for _ in range(count):
        attempt = 0
        while True:  # visible always; apart from the others unless the disk is crowded
            attempt += 1
            region = random_active_region(rng, north_leading_polarity)
            ends = heliographic_to_observer(
                *zip(region.leading_position(), region.following_position()), b0_deg
            )
            centre = heliographic_to_observer(region.latitude_deg, region.longitude_deg, b0_deg)
            visible = centre[2] >= MIN_REGION_MU and ends[:, 2].min() >= MIN_REGION_MU - 0.1
            apart = all(float(centre @ other) < min_cos for other in centres)
            if visible and (apart or attempt > 100):
                break
        regions.append(region)
        centres.append(centre)
    return regions


def _active_region_field(
    regions: Sequence[ActiveRegion], pixels: np.ndarray, b0_deg: float
) -> np.ndarray:
    """Radial field (G) of the regions at on-disk pixels given as unit vectors (N, 3)."""
    field = np.zeros(len(pixels))
    for region in regions:
        elements = region.flux_elements()
        centres = heliographic_to_observer(
            elements["latitude_deg"], elements["longitude_deg"], b0_deg
        )
        sigma_rad = np.radians(elements["sigma_deg"])
        # only pixels within 4 sigma of some element matter (exp(-8) ~ 3e-4)
        middle = heliographic_to_observer(region.latitude_deg, region.longitude_deg, b0_deg)
        reach = np.arccos(np.clip(centres @ middle, -1.0, 1.0)) + 4.0 * sigma_rad
        near = np.flatnonzero(pixels @ middle > math.cos(min(float(reach.max()), math.pi)))
        # Gaussian in the chord distance |p - q|^2 = 2 (1 - p.q), the angle for small angles
        weights = np.exp((pixels[near] @ centres.T - 1.0) / sigma_rad**2)
        field[near] += weights @ elements["gauss"]
    return field


def _network_field(
    rng: np.random.Generator, image_size: int, rsun_px: float, n_elements: int, gauss: float
) -> np.ndarray:
    """Radial field (G), (H, W), of a mixed-polarity network: ~``n_elements`` small elements
    of random sign and log-normal strength (median ``gauss``) on the visible hemisphere,
    kept where a random supergranule-scale field is near zero so that they outline cells."""
    impulses = np.zeros((image_size, image_size))
    if n_elements <= 0 or gauss <= 0:
        return impulses
    px_per_deg = _px_per_deg(rsun_px)
    cells = gaussian_smooth(rng.standard_normal((image_size, image_size)),
                            SUPERGRANULE_DEG * px_per_deg)
    cells /= cells.std()
    acceptance = NETWORK_CELL_WIDTH / math.sqrt(1.0 + NETWORK_CELL_WIDTH**2)  # E[keep]
    n_candidates = int(round(n_elements / acceptance))
    # uniform on the visible hemisphere: mu uniform in [0, 1], azimuth uniform
    mu = rng.uniform(0.0, 1.0, n_candidates)
    azimuth = rng.uniform(0.0, 2.0 * math.pi, n_candidates)
    rho = np.sqrt(1.0 - mu**2)
    centre = (image_size - 1) / 2.0
    rows = np.clip(np.rint(centre - rho * np.sin(azimuth) * rsun_px), 0, image_size - 1).astype(int)
    cols = np.clip(np.rint(centre + rho * np.cos(azimuth) * rsun_px), 0, image_size - 1).astype(int)
    keep = rng.uniform(size=n_candidates) < np.exp(
        -0.5 * (cells[rows, cols] / NETWORK_CELL_WIDTH) ** 2
    )
    strength = gauss * np.exp(rng.normal(0.0, 0.4, n_candidates))
    sign = rng.choice([-1.0, 1.0], n_candidates)
    np.add.at(impulses, (rows[keep], cols[keep]), (sign * strength)[keep])
    return _convolve_peak_one(impulses, NETWORK_ELEMENT_DEG * px_per_deg)


def _filament_darkening(
    rng: np.random.Generator, pixels: np.ndarray, b0_deg: float
) -> np.ndarray:
    """Multiplicative EUV factor (<= 1) at on-disk pixels (unit vectors (N, 3)) from 0-3 dark
    filaments: gently curved strands 8-25 deg long and 0.6-1.2 deg wide at 15-55 deg
    latitude, absorbing 40-75 % of the emission along their spine."""
    factor = np.ones(len(pixels))
    for _ in range(int(rng.integers(0, 4))):
        latitude = float(rng.uniform(15.0, 55.0) * rng.choice([-1.0, 1.0]))
        longitude = float(rng.uniform(-60.0, 60.0))
        length = float(rng.uniform(8.0, 25.0))
        angle = math.radians(rng.uniform(-60.0, 60.0))  # to the east-west line
        bend = float(rng.uniform(-2.0, 2.0))
        width = math.radians(rng.uniform(0.6, 1.2))
        depth = float(rng.uniform(0.4, 0.75))
        t = np.linspace(-0.5, 0.5, max(8, int(length / 0.4)))
        along, across = t * length, bend * (1.0 - 4.0 * t**2)
        west = along * math.cos(angle) - across * math.sin(angle)
        north = along * math.sin(angle) + across * math.cos(angle)
        spine = heliographic_to_observer(
            latitude + north, longitude + west / math.cos(math.radians(latitude)), b0_deg
        )
        middle = spine[len(spine) // 2]
        reach = math.radians(0.5 * length + abs(bend)) + 4.0 * width
        near = np.flatnonzero(pixels @ middle > math.cos(reach))
        nearest = (pixels[near] @ spine.T).max(axis=1)  # cos of the angle to the spine
        factor[near] *= 1.0 - depth * np.exp((nearest - 1.0) / width**2)
    return factor


def _plage_brightening(field_gauss: np.ndarray) -> np.ndarray:
    """EUV brightening factor for a smoothed |B| (G): 1 + 13 s / (1 + s) with
    s = (|B| / 600 G)^0.7; 1.3 for 3 G (network), 1.7 for 10 G, 3.9 at 100 G, 7.1 at
    500 G, 10 at 2000 G, -> 14. It multiplies the cell-interior intensity (77 DN/s at disk
    centre)."""
    s = (np.asarray(field_gauss) / PLAGE_HALF_GAUSS) ** PLAGE_EXPONENT
    return 1.0 + (PLAGE_MAX_BRIGHTENING - 1.0) * s / (1.0 + s)


# -- the toy Sun ------------------------------------------------------------------------------
def make_toy_sun(
    image_size: int = 256,
    seed: int | Sequence[int] | np.random.Generator = 0,
    n_active_regions: int | None = None,
    north_leading_polarity: int = -1,
    filaments: bool = True,
    rsun_fraction: float = RSUN_FRACTION,
    *,
    active_regions: Sequence[ActiveRegion] | None = None,
    b0_deg: float = 0.0,
    network_elements: int = 3000,
    network_gauss: float | None = None,
    noise_gauss: float | None = None,
    euv_noise_gain: float = 0.3,
) -> ToySun:
    """Draw one toy Sun: a paired EUV 304 A image and line-of-sight magnetogram.

    Args:
        image_size: pixels a side (>= 16); both images are (image_size, image_size).
        seed: an int, a sequence of ints or a numpy Generator; the same seed gives the same
            arrays.
        n_active_regions: number of random bipoles; None draws 1-6.
        north_leading_polarity: +1 or -1, the leading polarity in the northern hemisphere
            (Hale's law; the south has the opposite). -1: solar cycle 24.
        filaments: draw 0-3 dark filaments in the EUV image.
        rsun_fraction: solar radius as a fraction of the frame size.
        active_regions: place exactly these regions instead of random ones.
        b0_deg: heliographic latitude of the disk centre (deg).
        network_elements: number of network elements on the visible hemisphere (0: none).
        network_gauss: median peak radial field of a network element (G); None:
            :func:`network_peak_gauss` of ``NETWORK_FLUX_MX`` (6.5 G).
        noise_gauss: rms of the magnetogram noise (G); None: :func:`hmi_noise_gauss` for
            this frame's solar radius.
        euv_noise_gain: EUV noise variance per unit intensity (DN/s); 0: no noise.

    Returns:
        A :class:`ToySun` with float32 (image_size, image_size) images in DN/s and Gauss.
    """
    image_size = _check_image_size(image_size)
    if north_leading_polarity not in (1, -1):
        raise ValueError(f"north_leading_polarity must be +1 or -1, got {north_leading_polarity}")
    if not 0.05 <= rsun_fraction <= 0.5:
        raise ValueError(f"rsun_fraction must be within [0.05, 0.5], got {rsun_fraction}")
    rsun_px = float(rsun_fraction * image_size)
    network_gauss = network_peak_gauss() if network_gauss is None else float(network_gauss)
    noise_gauss = hmi_noise_gauss(rsun_px) if noise_gauss is None else float(noise_gauss)
    if noise_gauss < 0 or euv_noise_gain < 0 or network_gauss < 0:
        raise ValueError("noise_gauss, network_gauss and euv_noise_gain must be >= 0")
    if not -30.0 <= b0_deg <= 30.0:
        raise ValueError(f"b0_deg must be within +-30 deg (the Sun's: +-7.3), got {b0_deg}")
    rng = np.random.default_rng(seed)
    # independent streams, so switching one ingredient off leaves the others unchanged
    region_rng, network_rng, filament_rng, euv_rng, noise_rng = rng.spawn(5)
    px_per_deg = _px_per_deg(rsun_px)

    if active_regions is not None:
        if n_active_regions is not None and n_active_regions != len(active_regions):
            raise ValueError("give either n_active_regions or active_regions, not both")
        regions = list(active_regions)
    else:
        count = int(region_rng.integers(1, 7)) if n_active_regions is None else n_active_regions
        if count < 0:
            raise ValueError(f"n_active_regions must be >= 0, got {count}")
        regions = _place_active_regions(region_rng, count, north_leading_polarity, b0_deg)

    # geometry: unit vectors of the on-disk pixels, mu = z
    x, y = _image_plane(image_size, rsun_px)
    on_disk = disk_mask(image_size, rsun_px)
    rho = np.hypot(x, y)
    mu = np.sqrt(np.clip(1.0 - rho**2, 0.0, None)) * on_disk
    pixels = np.stack([x[on_disk], y[on_disk], mu[on_disk]], axis=-1)

    # radial field (G): active regions + network; line of sight: B_r * mu, plus noise
    radial = _network_field(network_rng, image_size, rsun_px, network_elements, network_gauss)
    radial[on_disk] += _active_region_field(regions, pixels, b0_deg)
    radial[~on_disk] = 0.0
    magnetogram = radial * mu + noise_rng.normal(0.0, noise_gauss, radial.shape)
    magnetogram = np.where(on_disk, magnetogram, 0.0)

    # EUV 304 (DN/s): limb-brightened quiet Sun, mottle, brightening by the smoothed |B|
    mottle = gaussian_smooth(euv_rng.standard_normal(radial.shape), 0.3 * px_per_deg)
    mottle *= MOTTLE_CONTRAST / max(float(mottle[on_disk].std()), 1e-12)
    smoothed = gaussian_smooth(np.abs(radial), CANOPY_DEG * px_per_deg)
    euv = (
        QUIET_DN_S * (1.0 + LIMB_BRIGHTENING * (1.0 - mu) ** 2)
        * np.exp(mottle) * _plage_brightening(np.clip(smoothed, 0.0, None))
    )
    if filaments:
        euv[on_disk] *= _filament_darkening(filament_rng, pixels, b0_deg)
    height = np.clip(rho - 1.0, 0.0, None)  # above the limb, solar radii
    limb = float(np.median(euv[on_disk & (rho > 0.97)]))  # continuous across the limb
    off_limb = limb * np.exp(-height / SPICULE_SCALE_RSUN) + CORONA_DN_S * np.exp(
        -height / CORONA_SCALE_RSUN
    )
    euv = np.where(on_disk, euv, off_limb)
    if euv_noise_gain > 0:
        euv = euv + np.sqrt(euv_noise_gain * euv) * euv_rng.standard_normal(euv.shape)
    euv = np.clip(euv, MIN_DN_S, None)

    return ToySun(
        euv_dn_s=euv.astype(np.float32),
        magnetogram_gauss=magnetogram.astype(np.float32),
        rsun_px=rsun_px,
        active_regions=regions,
        b0_deg=float(b0_deg),
    )


# -- headers, times, pair files ---------------------------------------------------------------
def toy_header(
    image_size: int, rsun_px: float, time: Any, kind: str, b0_deg: float = 0.0
) -> dict[str, Any]:
    """A FITS-like header (dict) for a toy image: helioprojective TAN WCS with the disk
    centre at CRPIX = (n + 1) / 2 and CDELT chosen so ``rsun_px`` pixels = RSUN_OBS; an
    observer at 1 au. ``kind``: "euv" (304 A, DN/s) or "magnetogram" (6173 A, Gauss)."""
    if kind not in ("euv", "magnetogram"):
        raise ValueError(f"kind must be 'euv' or 'magnetogram', got {kind!r}")
    if not rsun_px > 0:
        raise ValueError(f"rsun_px must be > 0, got {rsun_px}")
    euv = kind == "euv"
    cdelt = RSUN_OBS_ARCSEC / float(rsun_px)
    return {
        "NAXIS": 2,
        "NAXIS1": int(image_size),
        "NAXIS2": int(image_size),
        "CTYPE1": "HPLN-TAN",
        "CTYPE2": "HPLT-TAN",
        "CUNIT1": "arcsec",
        "CUNIT2": "arcsec",
        "CDELT1": cdelt,
        "CDELT2": cdelt,
        "CRPIX1": (image_size + 1) / 2.0,
        "CRPIX2": (image_size + 1) / 2.0,
        "CRVAL1": 0.0,
        "CRVAL2": 0.0,
        "CROTA2": 0.0,
        "DATE-OBS": iso_time(time),
        "TELESCOP": "toy Sun",
        "INSTRUME": "toy AIA" if euv else "toy HMI",
        "WAVELNTH": 304 if euv else 6173,
        "WAVEUNIT": "angstrom",
        "BUNIT": "DN/s" if euv else "Gauss",
        "CONTENT": "synthetic EUV 304 A intensity" if euv else "synthetic LOS magnetogram",
        "RSUN_OBS": RSUN_OBS_ARCSEC,
        "R_SUN": float(rsun_px),
        "RSUN_REF": RSUN_REF_M,
        "DSUN_OBS": AU_M,
        "HGLN_OBS": 0.0,
        "HGLT_OBS": float(b0_deg),
    }


def toy_times(
    n_pairs: int, start: str = "2011-01-01T00:00:00", split_rule: SplitRule = SplitRule()
) -> list[str]:
    """``n_pairs`` distinct ISO 8601 UTC times, ascending, evenly spread over the 365 days
    from ``start``; for ``n_pairs`` >= 3 a few are moved to mid-month so that every split of
    ``split_rule`` (default: test = September, October; validation = August) is non-empty."""
    if n_pairs < 1:
        raise ValueError(f"n_pairs must be >= 1, got {n_pairs}")
    first = datetime.fromisoformat(iso_time(start))
    year_s = 365 * 86400
    times = [first + timedelta(seconds=round(i * year_s / n_pairs)) for i in range(n_pairs)]
    if n_pairs >= 3:
        groups = {
            "test": set(split_rule.test_months),
            "val": set(split_rule.val_months),
        }
        groups["train"] = set(range(1, 13)) - groups["test"] - groups["val"]

        def members(months: set[int]) -> list[int]:
            return [i for i, t in enumerate(times) if t.month in months]

        for name, months in groups.items():
            if not months or members(months):
                continue
            month = min(months)
            candidates = [datetime(first.year + k, month, 15, 12) for k in (0, 1)]
            inside = [c for c in candidates if first <= c < first + timedelta(days=365)]
            target = (inside or candidates)[0]
            # take the time nearest to the target from the largest other split
            donor = max(
                (other for key, other in groups.items() if key != name),
                key=lambda other: len(members(other)),
            )
            index = min(members(donor), key=lambda i: abs(times[i] - target))
            while target in times:
                target += timedelta(minutes=1)
            times[index] = target
        times.sort()
    return [t.isoformat(timespec="milliseconds") for t in times]


def _check_image_size(image_size: Any) -> int:
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)):
        raise ValueError(f"image_size must be an integer, got {image_size!r}")
    if image_size < MIN_IMAGE_SIZE:
        raise ValueError(f"image_size must be >= {MIN_IMAGE_SIZE} pixels, got {image_size}")
    return int(image_size)


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return value


def write_toy_dataset(
    path: str | os.PathLike,
    n_pairs: int,
    image_size: int = 256,
    seed: int = 0,
    split_rule: SplitRule = SplitRule(),
    **toy_kwargs: Any,
) -> Path:
    """Write ``n_pairs`` toy-Sun pairs to the HDF5 pair file ``path`` (see data_prep.pairs).

    Input: channel "AIA 304", log10 scaling of 1-1000 DN/s; target: channel "HMI LOS",
    linear +-100 G (the seed's scaling). Sample ``i`` is drawn from
    ``np.random.default_rng([seed, i])`` at time ``toy_times(n_pairs)[i]``, so a run that
    was interrupted resumes (samples already present are skipped) with identical results;
    resume with the same arguments. ``toy_kwargs`` go to :func:`make_toy_sun`. Raises
    ValueError for ``n_pairs`` < 1 or an image size that is not an integer >= 16. Returns
    the finished file's path.
    """
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, (int, np.integer)) or n_pairs < 1:
        raise ValueError(f"n_pairs must be an integer >= 1, got {n_pairs!r}")
    image_size = _check_image_size(image_size)
    for reserved in ("image_size", "seed"):
        if reserved in toy_kwargs:
            raise ValueError(f"give {reserved} as an argument of write_toy_dataset")
    rsun_px = float(toy_kwargs.get("rsun_fraction", RSUN_FRACTION) * image_size)
    b0_deg = float(toy_kwargs.get("b0_deg", 0.0))
    euv_scaling, magnetogram_scaling = euv_normalization(), magnetogram_normalization(100.0)
    metadata = {
        "source": "toy Sun",
        "creator": "data_prep.toysun.write_toy_dataset",
        "seed": int(seed),
        "toy_parameters": json.loads(json.dumps(_jsonable(toy_kwargs), default=str)),
    }
    times = toy_times(n_pairs, split_rule=split_rule)
    with PairWriter(
        path, image_size, ["AIA 304"], ["HMI LOS"], [euv_scaling], [magnetogram_scaling],
        rsun_px=rsun_px, split_rule=split_rule, metadata=metadata,
    ) as writer:
        for index, time in enumerate(times):
            if writer.has(time):
                continue
            sun = make_toy_sun(image_size, np.random.default_rng([seed, index]), **toy_kwargs)
            writer.add(
                euv_scaling.normalize(sun.euv_dn_s)[..., None],
                magnetogram_scaling.normalize(sun.magnetogram_gauss)[..., None],
                input_time=time,
                target_time=time,
                input_files=[f"toysun-{index}-euv"],
                target_files=[f"toysun-{index}-mag"],
                input_header=toy_header(image_size, rsun_px, time, "euv", b0_deg),
                target_header=toy_header(image_size, rsun_px, time, "magnetogram", b0_deg),
            )
    return writer.path
