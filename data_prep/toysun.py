"""The "toy Sun": synthetic pairs of EUV images (304 A; 171, 193 A on request) and line-of-sight
magnetograms.

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

Coronal EUV 171 and 193 A intensity (DN/s, on request: ``coronal_wavelengths``), optically
thin emission from the same field (:class:`CoronalChannel`, :data:`CORONAL_CHANNELS`):
    * a diffuse quiet corona (on-disk medians ~250 DN/s at 171, ~180 at 193, as AIA level 1)
      with limb brightening and an off-limb corona from the line-of-sight depth through a
      stratified corona;
    * active regions: a diffuse corona that grows, saturating, with the geometric mean of
      the two polarities' smoothed field (bright over and between opposite polarities),
      and loops from the leading to the following polarity, which may rise above the limb;
    * coronal holes: unipolar patches of weak field (:class:`CoronalHole`, mean 4-10 G,
      1-2 per Sun when coronal channels are made, polar ones with the polar field's sign)
      are added to the field, and the diffuse corona is dimmed wherever the field is weak and
      unipolar over a large area (to ~1/10 at 193, ~1/3 at 171);
    * Poisson-like noise.
They draw from random streams of their own, so the 304 image and the magnetogram of a Sun
without coronal holes do not depend on them.

:func:`make_toy_sun` draws one such Sun; :func:`write_toy_dataset` writes a pair file with
the same scaling as real data (:func:`~data_prep.normalization.euv_normalization` for the
input, :func:`~data_prep.normalization.magnetogram_normalization` +-100 G for the target),
or with a preset's scaling (``preset="jeong2020"``: AISFM's three channels, median scaling).
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

from data_prep.geometry import RSUN_REF_M, check_image_size, disk_mask
from data_prep.normalization import euv_normalization, magnetogram_normalization
from data_prep.pairs import PairWriter, iso_time
from data_prep.splits import SplitRule

RSUN_FRACTION = 392 / 1024  # solar radius / frame size of the seed's preprocessed images
AU_M = 149_597_870_700.0  # 1 astronomical unit, m
RSUN_OBS_ARCSEC = math.degrees(math.asin(RSUN_REF_M / AU_M)) * 3600.0  # ~959.2 arcsec
MIN_TOY_SIZE = 16  # the smallest image make_toy_sun draws (any size, e.g. a detector)

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

# Coronal holes: unipolar patches of weak field (radial field, G).
HOLE_RADIUS_DEG = (7.0, 14.0)  # radius of the patch, drawn uniformly
HOLE_GAUSS = (4.0, 10.0)  # mean radial field over the patch (coronal holes: a few G)
HOLE_ELEMENT_AREA_DEG2 = 4.0  # one unipolar concentration per 4 deg^2 of the patch
POLAR_HOLE_LATITUDES_DEG = (58.0, 70.0)  # centres of polar holes (random holes: half of them)
MIN_HOLE_REGION_SPACING_DEG = 15.0  # between a hole's edge and an active region's centre

# Coronal EUV channels, 171 and 193 A (DN/s; optically thin, see :class:`CoronalChannel`).
LOOP_SCALE_DEG = 3.5  # smoothing of each polarity's field for the loop proxy sqrt(P N)
ACTIVE_HALF_GAUSS = 40.0  # sqrt(P N) at which the diffuse active corona is half saturated
ACTIVE_EXPONENT = 1.5  # s = (sqrt(P N) / 40 G)^1.5; active emission ~ s / (1 + s)
HOLE_SCALE_DEG = 4.0  # smoothing of each polarity's field for the unipolarity |P - N| / (P + N)
HOLE_UNIPOLARITY = (0.35, 0.7)  # unipolarity ramp from closed (0) to fully open (1) field
HOLE_MAX_GAUSS = 30.0  # smoothed P + N above which unipolar field is closed (a spot, not a hole)
HOLE_CLOSURE_DEG = 8.0  # scale of the closed-field test sqrt(P N) around a unipolar area
HOLE_CLOSURE_GAUSS = (4.0, 8.0)  # sqrt(P N) over 8 deg: ramp from open to closed (near an AR)
HOLE_EXTENT_DEG = 3.0  # a hole is unipolar over this scale: thin unipolar rims do not open
HOLE_EXTENT_FRACTION = (0.55, 0.85)  # unipolar fraction over 3 deg: ramp from closed to open
LOOPS_PER_REGION = (8, 16)  # number of loops drawn per active region
CORONAL_MOTTLE_DEG = 2.0  # scale of the diffuse quiet corona's random structure
CORONAL_MOTTLE_CONTRAST = 0.12  # its rms (log-normal)


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
class CoronalHole:
    """A coronal hole: a unipolar patch of weak field, in heliographic coordinates.

    Attributes:
        latitude_deg, longitude_deg: heliographic position of the patch centre (deg).
        radius_deg: radius of the patch (deg of arc).
        gauss: mean radial field over the patch (G, > 0; coronal holes: a few G).
        polarity: its sign (+1 / -1).
        structure_seed: seed of the layout of its unipolar concentrations.
    """

    latitude_deg: float
    longitude_deg: float
    radius_deg: float
    gauss: float
    polarity: int
    structure_seed: int = 0

    def __post_init__(self) -> None:
        if self.polarity not in (1, -1):
            raise ValueError(f"polarity must be +1 or -1, got {self.polarity}")
        for name in ("radius_deg", "gauss"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not -85.0 <= self.latitude_deg <= 85.0:
            raise ValueError(f"latitude_deg must be within +-85 deg, got {self.latitude_deg}")

    def flux_elements(self) -> dict[str, np.ndarray]:
        """The patch's field as Gaussian concentrations of one sign (as
        :meth:`ActiveRegion.flux_elements`): one per ``HOLE_ELEMENT_AREA_DEG2``, placed
        uniformly over the patch, sigma 0.4-0.8 deg, log-normal peaks (sigma 0.4) scaled so
        that the mean field over the patch is ``gauss``."""
        rng = np.random.default_rng(self.structure_seed)
        area = math.pi * self.radius_deg**2
        count = max(8, int(round(area / HOLE_ELEMENT_AREA_DEG2)))
        distance = self.radius_deg * np.sqrt(rng.uniform(0.0, 1.0, count))
        angle = rng.uniform(0.0, 2.0 * math.pi, count)
        sigma = NETWORK_ELEMENT_DEG * rng.uniform(0.8, 1.6, count)
        weight = np.exp(rng.normal(0.0, 0.4, count))
        # flux of a Gaussian: peak * 2 pi sigma^2; total flux = gauss * area
        peak = weight * self.gauss * area / np.sum(weight * 2.0 * math.pi * sigma**2)
        latitude = np.clip(self.latitude_deg + distance * np.sin(angle), -89.0, 89.0)
        longitude = self.longitude_deg + distance * np.cos(angle) / math.cos(
            math.radians(self.latitude_deg)
        )
        return {
            "latitude_deg": latitude,
            "longitude_deg": longitude,
            "sigma_deg": sigma,
            "gauss": self.polarity * peak,
        }


@dataclasses.dataclass(frozen=True)
class CoronalChannel:
    """How an optically thin coronal EUV channel of the toy Sun responds to the field.

    The intensity (DN/s) is ``quiet_dn_s * G(r) * mottle * (1 - hole_depth * open)`` (the
    diffuse corona, ``open`` in [0, 1] the coronal-hole proxy) plus ``quiet_dn_s *
    active_gain * s / (1 + s)`` (the diffuse active-region corona) plus loops of peak
    ``quiet_dn_s * loop_gain * sqrt(peak_gauss / 1000 G)`` (see :func:`make_toy_sun`).

    Attributes:
        wavelength: A.
        quiet_dn_s: diffuse quiet corona at disk centre, DN/s.
        scale_height_rsun: emission-measure scale height (R_sun): the limb brightening
            ``G(r)`` (line-of-sight depth through a stratified corona) and the fall-off above
            the limb.
        active_gain: saturated diffuse active-region emission, in units of ``quiet_dn_s``.
        loop_gain: peak of one loop of a 1000 G region, in units of ``quiet_dn_s``.
        loop_width_deg: Gaussian sigma of a loop's cross-section (deg).
        hole_depth: fraction of the diffuse corona missing where the field is open.
    """

    wavelength: int
    quiet_dn_s: float
    scale_height_rsun: float
    active_gain: float
    loop_gain: float
    loop_width_deg: float
    hole_depth: float


# Fe IX 171 A (~0.7 MK): fine loops, shallow coronal holes; Fe XII 193 A (~1.5 MK): bright
# diffuse active-region cores, dark coronal holes. On-disk medians ~250 and ~170 DN/s
# (AIA level 1 of 2011-2014), holes at ~1/3 and ~1/10 of the quiet corona.
CORONAL_CHANNELS = {
    171: CoronalChannel(171, quiet_dn_s=185.0, scale_height_rsun=0.07, active_gain=8.0,
                        loop_gain=4.0, loop_width_deg=0.3, hole_depth=0.65),
    193: CoronalChannel(193, quiet_dn_s=125.0, scale_height_rsun=0.1, active_gain=30.0,
                        loop_gain=3.0, loop_width_deg=0.5, hole_depth=0.9),
}
TOY_WAVELENGTHS = (304, 193, 171)
TOY_CHANNELS = {f"AIA {wavelength}": wavelength for wavelength in TOY_WAVELENGTHS}


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
        coronal_dn_s: the coronal channels asked for, by wavelength (171, 193 A): (H, W)
            float32 intensities in DN/s, > 0 everywhere.
        coronal_holes: the unipolar coronal-hole patches in the field.
    """

    euv_dn_s: np.ndarray
    magnetogram_gauss: np.ndarray
    rsun_px: float
    active_regions: list[ActiveRegion]
    b0_deg: float = 0.0
    coronal_dn_s: dict[int, np.ndarray] = dataclasses.field(default_factory=dict)
    coronal_holes: list[CoronalHole] = dataclasses.field(default_factory=list)

    def channel(self, wavelength: int) -> np.ndarray:
        """The (H, W) DN/s image at ``wavelength`` (304, or a coronal channel made)."""
        if int(wavelength) == 304:
            return self.euv_dn_s
        if int(wavelength) not in self.coronal_dn_s:
            raise KeyError(
                f"this toy Sun has no {wavelength} A image (made: "
                f"{[304, *sorted(self.coronal_dn_s)]}); pass coronal_wavelengths to make_toy_sun"
            )
        return self.coronal_dn_s[int(wavelength)]


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


def _flux_field(structures: Sequence[Any], pixels: np.ndarray, b0_deg: float) -> np.ndarray:
    """Radial field (G) at on-disk pixels given as unit vectors (N, 3) of structures (active
    regions, coronal holes) that have a centre (``latitude_deg``, ``longitude_deg``) and
    ``flux_elements()``: Gaussian concentrations on the sphere."""
    field = np.zeros(len(pixels))
    for structure in structures:
        elements = structure.flux_elements()
        centres = heliographic_to_observer(
            elements["latitude_deg"], elements["longitude_deg"], b0_deg
        )
        sigma_rad = np.radians(elements["sigma_deg"])
        # only pixels within 4 sigma of some element matter (exp(-8) ~ 3e-4)
        middle = heliographic_to_observer(structure.latitude_deg, structure.longitude_deg, b0_deg)
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


# -- the corona (171, 193 A) ------------------------------------------------------------------
def random_coronal_hole(
    rng: np.random.Generator,
    north_leading_polarity: int = -1,
    *,
    polar: bool | None = None,
) -> CoronalHole:
    """Draw one coronal hole: polar (half of them unless ``polar`` is given; centre at
    58-70 deg latitude, the polarity of the following spots of that hemisphere, i.e. the
    polar field after the reversal) or at low latitude (within +-40 deg, either polarity);
    longitude uniform in +-50 deg; radius 7-14 deg; mean field 4-10 G."""
    if polar is None:
        polar = bool(rng.uniform() < 0.5)
    hemisphere = float(rng.choice([-1.0, 1.0]))
    if polar:
        latitude = hemisphere * float(rng.uniform(*POLAR_HOLE_LATITUDES_DEG))
        polarity = -int(north_leading_polarity) * int(hemisphere)
    else:
        latitude = float(rng.uniform(-40.0, 40.0))
        polarity = int(rng.choice([-1, 1]))
    return CoronalHole(
        latitude_deg=latitude,
        longitude_deg=float(rng.uniform(-50.0, 50.0)),
        radius_deg=float(rng.uniform(*HOLE_RADIUS_DEG)),
        gauss=float(rng.uniform(*HOLE_GAUSS)),
        polarity=polarity,
        structure_seed=int(rng.integers(2**31)),
    )


def _place_coronal_holes(
    rng: np.random.Generator, count: int, north_leading_polarity: int, b0_deg: float,
    regions: Sequence[ActiveRegion],
) -> list[CoronalHole]:
    """``count`` random holes with their centre at mu >= 0.3, their edge (where possible) at
    least 15 deg from every active region's centre and clear of the other holes."""
    holes: list[CoronalHole] = []
    region_centres = [heliographic_to_observer(r.latitude_deg, r.longitude_deg, b0_deg)
                      for r in regions]
    for _ in range(count):
        attempt = 0
        while True:
            attempt += 1
            hole = random_coronal_hole(rng, north_leading_polarity)
            centre = heliographic_to_observer(hole.latitude_deg, hole.longitude_deg, b0_deg)
            clear = all(
                math.degrees(math.acos(min(1.0, float(centre @ other))))
                > hole.radius_deg + MIN_HOLE_REGION_SPACING_DEG for other in region_centres
            ) and all(
                math.degrees(math.acos(min(1.0, float(centre @ heliographic_to_observer(
                    other.latitude_deg, other.longitude_deg, b0_deg)))))
                > hole.radius_deg + other.radius_deg for other in holes
            )
            if centre[2] >= MIN_REGION_MU and (clear or attempt > 100):
                break
        holes.append(hole)
    return holes


def _loop_impulses(
    rng: np.random.Generator, regions: Sequence[ActiveRegion], image_size: int, rsun_px: float,
    b0_deg: float,
) -> np.ndarray:
    """(H, W) impulse image of coronal loops: for each region 8-16 semicircular-like arcs
    from the leading to the following polarity (footpoints scattered over the spots),
    apex heights 0.4-1.0 x half the footpoint separation, brightness 0.4-1.2 x
    sqrt(peak_gauss / 1000 G). Points are spaced <= 0.5 px with weights brightness x
    spacing (px), so a line convolved with a peak-one Gaussian of sigma s px and divided by
    s sqrt(2 pi) has a ridge of the loop's brightness; an optically thin loop seen edge-on
    is brighter. Points behind the disk are hidden; loops may rise above the limb."""
    impulses = np.zeros((image_size, image_size))
    centre = (image_size - 1) / 2.0
    for region in regions:
        west, north = region._leading_offset()
        jitter = 1.5 * region.spot_sigma_deg
        for _ in range(int(rng.integers(LOOPS_PER_REGION[0], LOOPS_PER_REGION[1] + 1))):
            ends = [
                heliographic_to_observer(*region._offset(
                    sign * west + rng.normal(0.0, jitter), sign * north + rng.normal(0.0, jitter)
                ), b0_deg)
                for sign in (1.0, -1.0)
            ]
            span = math.acos(min(1.0, float(ends[0] @ ends[1])))
            if span < 1e-6:
                continue
            height = 0.5 * span * float(rng.uniform(0.4, 1.0))
            brightness = float(rng.uniform(0.4, 1.2)) * math.sqrt(region.peak_gauss / 1000.0)
            length_px = (span + 2.0 * height) * rsun_px
            t = np.linspace(0.0, 1.0, max(16, int(math.ceil(2.0 * length_px))))
            # spherical interpolation between the footpoints, lifted to 1 + h sin(pi t)
            direction = (np.sin((1.0 - t) * span)[:, None] * ends[0]
                         + np.sin(t * span)[:, None] * ends[1]) / math.sin(span)
            points = direction * (1.0 + height * np.sin(math.pi * t))[:, None]
            step_px = np.linalg.norm(np.diff(points, axis=0), axis=1) * rsun_px
            points = points[1:]
            visible = (points[:, 2] >= 0.0) | (np.hypot(points[:, 0], points[:, 1]) > 1.0)
            rows = np.rint(centre - points[:, 1] * rsun_px).astype(int)
            cols = np.rint(centre + points[:, 0] * rsun_px).astype(int)
            inside = visible & (rows >= 0) & (rows < image_size) & (cols >= 0) & (cols < image_size)
            np.add.at(impulses, (rows[inside], cols[inside]), brightness * step_px[inside])
    return impulses


def coronal_depth(rho: np.ndarray, scale_height_rsun: float) -> np.ndarray:
    """Line-of-sight depth through an exponentially stratified corona of emission-measure
    scale height ``h`` (R_sun), relative to disk centre, at distances ``rho`` (R_sun) from
    the disk centre in the image plane. On the disk (front half only)
    ``sqrt(1 + 2h/pi) / sqrt(mu^2 + 2h/pi)`` (1 at the centre, ~sqrt(pi / 2h) at the limb);
    above the limb the whole line of sight, ``sqrt(2 pi h rho) exp(-(rho - 1) / h)`` over the
    centre's depth ``h / sqrt(1 + 2h/pi)`` (twice the on-disk value at the limb)."""
    h = float(scale_height_rsun)
    rho = np.asarray(rho, dtype=np.float64)
    mu_squared = np.clip(1.0 - rho**2, 0.0, None)
    centre_depth = h / math.sqrt(1.0 + 2.0 * h / math.pi)
    on_disk = h / np.sqrt(mu_squared + 2.0 * h / math.pi)
    above = np.sqrt(2.0 * math.pi * h * rho) * np.exp(-np.clip(rho - 1.0, 0.0, None) / h)
    return np.where(rho <= 1.0, on_disk, above) / centre_depth


def open_field_fraction(radial_gauss: np.ndarray, px_per_deg: float) -> np.ndarray:
    """Coronal-hole proxy in [0, 1] from the radial field (H, W, G): each polarity smoothed
    over ``HOLE_SCALE_DEG`` (P, N), the unipolarity ``|P - N| / (P + N + 0.3 G)`` ramped
    from 0 at 0.35 to 1 at 0.7, times ``1 / (1 + ((P + N) / 30 G)^2)`` so that only weak
    unipolar field (not a spot) opens, times 1 - (``sqrt(P N)`` over ``HOLE_CLOSURE_DEG``
    ramped from 0 at 4 G to 1 at 8 G) so that field with an active region's opposite
    polarity nearby stays closed; then only where that holds over a large area: the
    map smoothed over ``HOLE_EXTENT_DEG`` ramped from 0 at 0.55 to 1 at 0.85 (the thin
    unipolar rims around active regions stay closed, a hole's interior opens)."""
    positive, negative = _polarities(radial_gauss, HOLE_SCALE_DEG * px_per_deg)
    total = positive + negative
    unipolarity = np.abs(positive - negative) / (total + 0.3)
    low, high = HOLE_UNIPOLARITY
    ramp = np.clip((unipolarity - low) / (high - low), 0.0, 1.0)
    weak = 1.0 / (1.0 + (total / HOLE_MAX_GAUSS) ** 2)
    low, high = HOLE_CLOSURE_GAUSS
    closed = np.clip((bipolar_field(radial_gauss, px_per_deg, HOLE_CLOSURE_DEG) - low)
                     / (high - low), 0.0, 1.0)
    extent = gaussian_smooth(ramp * weak * (1.0 - closed), HOLE_EXTENT_DEG * px_per_deg)
    low, high = HOLE_EXTENT_FRACTION
    return np.clip((extent - low) / (high - low), 0.0, 1.0)


def bipolar_field(
    radial_gauss: np.ndarray, px_per_deg: float, scale_deg: float = LOOP_SCALE_DEG
) -> np.ndarray:
    """Closed-field (loop) proxy (H, W, G): ``sqrt(P N)`` of each polarity of the radial
    field smoothed over ``scale_deg``; large only where strong field of both signs is
    near, i.e. over and between the polarities of an active region."""
    positive, negative = _polarities(radial_gauss, scale_deg * px_per_deg)
    return np.sqrt(positive * negative)


def _polarities(radial_gauss: np.ndarray, sigma_px: float) -> tuple[np.ndarray, np.ndarray]:
    """(P, N): the positive and the negative field's magnitude (G), each smoothed with a
    Gaussian of ``sigma_px`` and kept >= 0 (the FFT leaves tiny negative ripples)."""
    positive = gaussian_smooth(np.clip(radial_gauss, 0.0, None), sigma_px)
    negative = gaussian_smooth(np.clip(-radial_gauss, 0.0, None), sigma_px)
    return np.clip(positive, 0.0, None), np.clip(negative, 0.0, None)


def _coronal_images(
    wavelengths: Sequence[int], radial: np.ndarray, rho: np.ndarray, on_disk: np.ndarray,
    regions: Sequence[ActiveRegion], rsun_px: float, b0_deg: float,
    streams: Sequence[np.random.Generator], noise_gain: float,
) -> dict[int, np.ndarray]:
    """The 171 / 193 A images (DN/s, float32) asked for, from the radial field (see
    :class:`CoronalChannel`). ``streams``: loop, mottle and one noise stream per channel of
    ``CORONAL_CHANNELS`` (so each channel's noise does not depend on the others asked)."""
    if not wavelengths:
        return {}
    loop_rng, mottle_rng, *noise_rngs = streams
    noise_by_wavelength = dict(zip(sorted(CORONAL_CHANNELS), noise_rngs))
    image_size = radial.shape[0]
    px_per_deg = _px_per_deg(rsun_px)
    impulses = _loop_impulses(loop_rng, regions, image_size, rsun_px, b0_deg)
    mottle = gaussian_smooth(mottle_rng.standard_normal(radial.shape),
                             CORONAL_MOTTLE_DEG * px_per_deg)
    mottle *= CORONAL_MOTTLE_CONTRAST / max(float(mottle[on_disk].std()), 1e-12)
    opened = np.where(on_disk, open_field_fraction(radial, px_per_deg), 0.0)
    s = (bipolar_field(radial, px_per_deg) / ACTIVE_HALF_GAUSS) ** ACTIVE_EXPONENT
    active = s / (1.0 + s)
    images = {}
    for wavelength in sorted(set(wavelengths)):
        channel = CORONAL_CHANNELS[wavelength]
        width_px = max(channel.loop_width_deg * px_per_deg, 0.5)
        loops = _convolve_peak_one(impulses, width_px) / (width_px * math.sqrt(2.0 * math.pi))
        image = channel.quiet_dn_s * (
            coronal_depth(rho, channel.scale_height_rsun) * np.exp(mottle)
            * (1.0 - channel.hole_depth * opened)
            + channel.active_gain * active
            + channel.loop_gain * np.clip(loops, 0.0, None)
        )
        if noise_gain > 0:
            noise = noise_by_wavelength[wavelength].standard_normal(image.shape)
            image = image + np.sqrt(noise_gain * image) * noise
        images[wavelength] = np.clip(image, MIN_DN_S, None).astype(np.float32)
    return images


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
    coronal_wavelengths: Sequence[int] = (),
    n_coronal_holes: int | None = None,
    coronal_holes: Sequence[CoronalHole] | None = None,
) -> ToySun:
    """Draw one toy Sun: a paired EUV 304 A image and line-of-sight magnetogram, and on
    request 171 / 193 A coronal images of the same field.

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
        coronal_wavelengths: coronal channels to make besides 304 A: any of 171, 193
            (:data:`CORONAL_CHANNELS`), in ``ToySun.coronal_dn_s``.
        n_coronal_holes: number of random coronal holes (unipolar weak-field patches,
            :func:`random_coronal_hole`); None: 1-2 when coronal channels are made, else
            none (so the 304-only toy Sun is the same as before coronal channels existed).
        coronal_holes: place exactly these holes instead of random ones.

    The new ingredients draw from random streams of their own, spawned after the others:
    for a given seed, a Sun without coronal holes has the same field and 304 image whatever
    coronal channels are made, and each coronal channel's noise is its own.

    Coronal channels (optically thin; :class:`CoronalChannel` gives each one's numbers):
        * a diffuse quiet corona with limb brightening and an off-limb corona from the
          line-of-sight depth through a stratified corona (:func:`coronal_depth`) and a
          weak random structure (12 % rms on 2 deg);
        * coronal holes: the diffuse corona is dimmed (193: by 90 %, 171: by 65 %) where
          the field is weak and unipolar on a 4 deg scale (:func:`open_field_fraction`);
        * active regions: a diffuse corona saturating with ``sqrt(P N)``, the geometric
          mean of the two polarities' field smoothed over 2.5 deg (:func:`bipolar_field`),
          bright over and between opposite polarities, plus loops from the leading to the
          following polarity (finer and more contrasted in 171);
        * Poisson-like noise with the same ``euv_noise_gain``.

    Returns:
        A :class:`ToySun` with float32 (image_size, image_size) images in DN/s and Gauss.
    """
    image_size = _toy_size(image_size)
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
    coronal = _coronal_wavelengths(coronal_wavelengths)
    rng = np.random.default_rng(seed)
    # independent streams, so switching one ingredient off leaves the others unchanged
    region_rng, network_rng, filament_rng, euv_rng, noise_rng = rng.spawn(5)
    # the corona's streams come after (spawned only when needed, so a 304-only Sun drawn
    # from a caller's Generator leaves it as it always did)
    corona_streams: list[np.random.Generator] = []
    if coronal or n_coronal_holes or coronal_holes:
        corona_streams = rng.spawn(3 + len(CORONAL_CHANNELS))
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
    holes = _choose_coronal_holes(corona_streams, coronal, n_coronal_holes, coronal_holes,
                                  north_leading_polarity, b0_deg, regions)

    # geometry: unit vectors of the on-disk pixels, mu = z
    x, y = _image_plane(image_size, rsun_px)
    on_disk = disk_mask(image_size, rsun_px)
    rho = np.hypot(x, y)
    mu = np.sqrt(np.clip(1.0 - rho**2, 0.0, None)) * on_disk
    pixels = np.stack([x[on_disk], y[on_disk], mu[on_disk]], axis=-1)

    # radial field (G): active regions + network; line of sight: B_r * mu, plus noise
    radial = _network_field(network_rng, image_size, rsun_px, network_elements, network_gauss)
    radial[on_disk] += _flux_field(regions, pixels, b0_deg)
    if holes:
        radial[on_disk] += _flux_field(holes, pixels, b0_deg)
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
        coronal_dn_s=_coronal_images(
            coronal, radial, rho, on_disk, regions, rsun_px, b0_deg, corona_streams[1:],
            euv_noise_gain,
        ),
        coronal_holes=holes,
    )


def _coronal_wavelengths(wavelengths: Sequence[int]) -> tuple[int, ...]:
    """The coronal wavelengths asked for, checked, without duplicates (304 is dropped: the
    304 image is always made)."""
    if isinstance(wavelengths, (int, str)):
        wavelengths = [wavelengths]
    chosen: list[int] = []
    for value in wavelengths:
        try:
            wavelength = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"not a wavelength: {value!r}; the toy Sun makes "
                             f"{list(TOY_WAVELENGTHS)} A") from None
        if wavelength != 304 and wavelength not in CORONAL_CHANNELS:
            raise ValueError(f"the toy Sun has no {wavelength} A channel; it makes "
                             f"{list(TOY_WAVELENGTHS)} A")
        if wavelength != 304 and wavelength not in chosen:
            chosen.append(wavelength)
    return tuple(chosen)


def _choose_coronal_holes(
    streams: Sequence[np.random.Generator], coronal: tuple[int, ...],
    n_coronal_holes: int | None, coronal_holes: Sequence[CoronalHole] | None,
    north_leading_polarity: int, b0_deg: float, regions: Sequence[ActiveRegion],
) -> list[CoronalHole]:
    """The holes of :func:`make_toy_sun` (see its arguments)."""
    if coronal_holes is not None:
        if n_coronal_holes is not None and n_coronal_holes != len(coronal_holes):
            raise ValueError("give either n_coronal_holes or coronal_holes, not both")
        return list(coronal_holes)
    if n_coronal_holes is None:
        if not coronal:
            return []
        n_coronal_holes = int(streams[0].integers(1, 3))
    if n_coronal_holes < 0:
        raise ValueError(f"n_coronal_holes must be >= 0, got {n_coronal_holes}")
    if n_coronal_holes == 0:
        return []
    return _place_coronal_holes(streams[0], n_coronal_holes, north_leading_polarity, b0_deg,
                                regions)


# -- headers, times, pair files ---------------------------------------------------------------
def toy_header(
    image_size: int, rsun_px: float, time: Any, kind: str, b0_deg: float = 0.0,
    wavelength: int = 304,
) -> dict[str, Any]:
    """A FITS-like header (dict) for a toy image: helioprojective TAN WCS with the disk
    centre at CRPIX = (n + 1) / 2 and CDELT chosen so ``rsun_px`` pixels = RSUN_OBS; an
    observer at 1 au. ``kind``: "euv" (``wavelength`` A, one of 304, 193, 171; DN/s) or
    "magnetogram" (6173 A, Gauss)."""
    if kind not in ("euv", "magnetogram"):
        raise ValueError(f"kind must be 'euv' or 'magnetogram', got {kind!r}")
    if kind == "euv" and wavelength not in TOY_WAVELENGTHS:
        raise ValueError(f"the toy Sun has no {wavelength} A channel; it makes "
                         f"{list(TOY_WAVELENGTHS)} A")
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
        "WAVELNTH": int(wavelength) if euv else 6173,
        "WAVEUNIT": "angstrom",
        "BUNIT": "DN/s" if euv else "Gauss",
        "CONTENT": f"synthetic EUV {wavelength} A intensity" if euv else "synthetic LOS magnetogram",
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


def _toy_size(image_size: Any) -> int:
    """``image_size`` as an int, for :func:`make_toy_sun` (any image, not only a network
    frame); ValueError unless it is an integer >= MIN_TOY_SIZE."""
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)):
        raise ValueError(f"image_size must be an integer, got {image_size!r}")
    if image_size < MIN_TOY_SIZE:
        raise ValueError(f"image_size must be >= {MIN_TOY_SIZE} pixels, got {image_size}")
    return int(image_size)


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return value


def toy_channel_names(channels: Sequence[str | int]) -> list[str]:
    """Toy-Sun channel names ("AIA 304", "AIA 193", "AIA 171") from names or wavelengths
    (``304``, ``"193"``, ``"AIA 171"``), in the order given. Raises ValueError for another
    channel or a repeated one."""
    if isinstance(channels, (str, int)):
        channels = [channels]
    names: list[str] = []
    for channel in channels:
        text = str(channel).strip()
        name = f"AIA {text}" if text.isdigit() else " ".join(text.split()).upper()
        if name not in TOY_CHANNELS:
            raise ValueError(f"the toy Sun has no channel {channel!r}; it makes "
                             f"{', '.join(TOY_CHANNELS)} (or give the wavelengths)")
        if name in names:
            raise ValueError(f"the channel {name} is asked for twice")
        names.append(name)
    if not names:
        raise ValueError("give at least one input channel")
    return names


def write_toy_dataset(
    path: str | os.PathLike,
    n_pairs: int,
    image_size: int = 256,
    seed: int = 0,
    split_rule: SplitRule | None = None,
    *,
    input_channels: Sequence[str | int] | None = None,
    preset: str | os.PathLike | None = None,
    **toy_kwargs: Any,
) -> Path:
    """Write ``n_pairs`` toy-Sun pairs to the HDF5 pair file ``path`` (see data_prep.pairs).

    Without ``preset``: the seed's scaling, input log10 of 1-1000 DN/s per channel (no
    median scaling), target linear +-100 G, solar radius 392/1024 of the frame, splits of
    ``split_rule`` (default: test September, October; validation August).

    With ``preset`` (a preset name such as "jeong2020", or a JSON path): the scaling that
    ``prep`` applies to real data with that preset (:class:`data_prep.prep.PrepSettings`,
    :func:`data_prep.prepare.finish_frame`): EUV pixels beyond ``euv_mask_rsun`` set to 0,
    each channel's on-disk median scaled to ``euv_median_dn_s`` DN/s before its log10 of
    ``euv_clip_dn_s``, the magnetogram masked beyond ``magnetogram_mask_rsun`` and clipped
    to +-``magnetogram_limit_gauss``; the solar radius is the preset's fraction of the
    frame (450/1024 for jeong2020) at ``image_size``; the preset's input channels and split
    months unless given. ``metadata["settings"]`` records the settings (with this file's
    image size and solar radius).

    Args:
        input_channels: channel names or wavelengths, in the order of the input's last
            axis: any of "AIA 304", "AIA 193", "AIA 171" (or 304, 193, 171). Default: the
            preset's, else ("AIA 304",), the seed's single-channel file, unchanged.
        toy_kwargs: go to :func:`make_toy_sun` (the coronal channels it makes follow
            ``input_channels``; coronal holes are drawn when a coronal channel is asked for).

    Sample ``i`` is drawn from ``np.random.default_rng([seed, i])`` at time
    ``toy_times(n_pairs)[i]``, so a run that was interrupted resumes (samples already
    present are skipped) with identical results; resume with the same arguments. Each
    sample's ``input_files`` names one file per channel; its ``input_header`` is that of
    the first channel. Raises ValueError for ``n_pairs`` < 1, an image size the networks
    cannot take (not a power of two >= 32, :func:`data_prep.geometry.check_image_size`),
    or an unknown channel or preset. Returns the finished file's path.
    """
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, (int, np.integer)) or n_pairs < 1:
        raise ValueError(f"n_pairs must be an integer >= 1, got {n_pairs!r}")
    check_image_size(image_size)  # a pair file is for the networks
    image_size = int(image_size)
    for reserved in ("image_size", "seed", "coronal_wavelengths"):
        if reserved in toy_kwargs:
            raise ValueError(f"give {reserved} as an argument of write_toy_dataset"
                             if reserved != "coronal_wavelengths" else
                             "choose the channels with input_channels, not coronal_wavelengths")
    settings = None
    if preset is not None:
        from data_prep.prep import PrepSettings

        settings = PrepSettings.from_preset(str(preset))
        toy_kwargs.setdefault("rsun_fraction", settings.radius_px / settings.image_size)
        # the recorded settings describe this file: its frame, not the preset's
        settings = dataclasses.replace(settings, image_size=image_size, radius_px=float(
            toy_kwargs["rsun_fraction"] * image_size))
    if input_channels is not None:
        names = toy_channel_names(input_channels)
    else:
        names = toy_channel_names(settings.channel_names) if settings else ["AIA 304"]
    wavelengths = [TOY_CHANNELS[name] for name in names]
    coronal = [wavelength for wavelength in wavelengths if wavelength != 304]
    if coronal:
        toy_kwargs["coronal_wavelengths"] = coronal
    if split_rule is None:
        split_rule = settings.split_rule if settings else SplitRule()
    rsun_px = float(toy_kwargs.get("rsun_fraction", RSUN_FRACTION) * image_size)
    b0_deg = float(toy_kwargs.get("b0_deg", 0.0))
    if settings:
        euv_scaling, magnetogram_scaling = settings.input_normalization, settings.target_normalization
    else:
        euv_scaling, magnetogram_scaling = euv_normalization(), magnetogram_normalization(100.0)
    metadata = {
        "source": "toy Sun",
        "creator": "data_prep.toysun.write_toy_dataset",
        "seed": int(seed),
        "toy_parameters": json.loads(json.dumps(_jsonable(toy_kwargs), default=str)),
    }
    if settings:
        metadata["settings"] = settings.to_dict()
    files = ["euv"] if names == ["AIA 304"] else [f"euv{wavelength}" for wavelength in wavelengths]
    times = toy_times(n_pairs, split_rule=split_rule)
    with PairWriter(
        path, image_size, names, ["HMI LOS"], [euv_scaling] * len(names), [magnetogram_scaling],
        rsun_px=rsun_px, split_rule=split_rule, metadata=metadata,
    ) as writer:
        for index, time in enumerate(times):
            if writer.has(time):
                continue
            sun = make_toy_sun(image_size, np.random.default_rng([seed, index]), **toy_kwargs)
            euv = [sun.channel(wavelength) for wavelength in wavelengths]
            magnetogram = sun.magnetogram_gauss
            if settings:
                euv, magnetogram = _prep_scaled(euv, magnetogram, rsun_px, settings)
            writer.add(
                np.stack([euv_scaling.normalize(image) for image in euv], axis=-1),
                magnetogram_scaling.normalize(magnetogram)[..., None],
                input_time=time,
                target_time=time,
                input_files=[f"toysun-{index}-{name}" for name in files],
                target_files=[f"toysun-{index}-mag"],
                input_header=toy_header(image_size, rsun_px, time, "euv", b0_deg, wavelengths[0]),
                target_header=toy_header(image_size, rsun_px, time, "magnetogram", b0_deg),
            )
    return writer.path


def _prep_scaled(
    euv_dn_s: Sequence[np.ndarray], magnetogram_gauss: np.ndarray, rsun_px: float, settings: Any
) -> tuple[list[np.ndarray], np.ndarray]:
    """The toy images after the mask and median scaling that ``prep`` applies with
    ``settings`` (a :class:`data_prep.prep.PrepSettings`), in DN/s and Gauss."""
    from data_prep.prepare import finish_frame

    euv = [
        finish_frame(np.array(image, dtype=np.float32), "aia", rsun_px, settings.euv_mask_rsun,
                     median_scale_to=settings.euv_median_dn_s)[0]
        for image in euv_dn_s
    ]
    magnetogram = finish_frame(np.array(magnetogram_gauss, dtype=np.float32), "hmi", rsun_px,
                               settings.magnetogram_mask_rsun)[0]
    return euv, magnetogram
