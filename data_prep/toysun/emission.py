"""EUV emission of the toy Sun from its field, in the image plane of one view.

Given a view's geometry (:class:`data_prep.toysun.views.ViewGeometry`: for every pixel
whether it is on the disk, mu, the distance of its line of sight from the Sun's centre)
and the radial field at its pixels, these functions make:

EUV 304 A (DN/s), the chromosphere and transition region:
    * quiet Sun ~100 DN/s (on-disk median near 100, as after AISFM's median scaling) with
      limb brightening ``1 + 0.5 (1 - mu)^2`` and a weak chromospheric mottle;
    * brightening that grows, saturating, with the true ``|B_r|`` smoothed over 0.7 deg
      (the canopy): network ~1.35x the cell interiors, plage up to 10x
      (:func:`plage_brightening`);
    * dark filaments; a bright limb (spicules, 0.015 R_sun) and a faint corona above it;
    * Poisson-like noise (variance ``noise_gain`` x intensity).

Coronal EUV 171 and 193/195 A (DN/s), optically thin (:class:`CoronalChannel`):
    * a diffuse quiet corona with limb brightening and an off-limb corona from the
      line-of-sight depth through a stratified corona (:func:`coronal_depth`), with a weak
      random structure;
    * active regions: a diffuse corona saturating with ``sqrt(P N)``, the geometric mean of
      the two polarities' smoothed field (:func:`bipolar_field`), and loops from the leading
      to the following polarity, drawn in 3-D and projected (they rise above the limb);
    * coronal holes: the diffuse corona dimmed where the field is weak and unipolar over a
      large area (:func:`open_field_fraction`);
    * Poisson-like noise.

Smoothing scales are given in heliographic degrees and applied in the image plane with the
view's pixels per degree at disk centre (numpy FFT, periodic; the disk stays clear of the
frame edges in full-disk views). Only numpy is needed.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, Sequence

import numpy as np

# EUV 304 A (DN/s).
QUIET_DN_S = 77.0  # cell interiors at disk centre; with the network the disk median is ~100
LIMB_BRIGHTENING = 0.5  # I(mu) = QUIET * (1 + 0.5 (1 - mu)^2)
MOTTLE_CONTRAST = 0.05  # rms of the log-normal chromospheric mottle
MOTTLE_DEG = 0.3  # its scale
CANOPY_DEG = 0.7  # Gaussian smoothing of |B| before it brightens the EUV
PLAGE_MAX_BRIGHTENING = 14.0  # brightening factor for very strong field (saturation)
PLAGE_HALF_GAUSS = 600.0  # smoothed |B| at which the brightening reaches half its range
PLAGE_EXPONENT = 0.7  # f = 1 + (14 - 1) s / (1 + s), s = (|B|_smooth / 600 G)^0.7
SPICULE_SCALE_RSUN = 0.015  # e-folding height of the bright limb (chromosphere, spicules)
CORONA_SCALE_RSUN = 0.3  # e-folding height of the faint off-limb corona
CORONA_DN_S = 12.0  # off-limb corona just above the limb
MIN_DN_S = 0.05  # floor after noise: the intensity is never zero or negative
EUV_NOISE_GAIN = 0.3  # noise variance per unit intensity (DN/s)

# Coronal EUV channels (see CoronalChannel).
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


@dataclasses.dataclass(frozen=True)
class CoronalChannel:
    """How an optically thin coronal EUV channel of the toy Sun responds to the field.

    The intensity (DN/s) is ``quiet_dn_s * G(r) * mottle * (1 - hole_depth * open)`` (the
    diffuse corona, ``open`` in [0, 1] the coronal-hole proxy) plus ``quiet_dn_s *
    active_gain * s / (1 + s)`` (the diffuse active-region corona) plus loops of peak
    ``quiet_dn_s * loop_gain * sqrt(peak_gauss / 1000 G)``.

    Attributes:
        wavelength: A.
        quiet_dn_s: diffuse quiet corona at disk centre, DN/s.
        scale_height_rsun: emission-measure scale height (R_sun): the limb brightening
            ``G(r)`` and the fall-off above the limb.
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
# (AIA level 1 of 2011-2014), holes at ~1/3 and ~1/10 of the quiet corona. EUVI's 195 A
# passband sees the same Fe XII lines as AIA 193 and has the same response here.
CORONAL_CHANNELS = {
    171: CoronalChannel(171, quiet_dn_s=185.0, scale_height_rsun=0.07, active_gain=8.0,
                        loop_gain=4.0, loop_width_deg=0.3, hole_depth=0.65),
    193: CoronalChannel(193, quiet_dn_s=125.0, scale_height_rsun=0.1, active_gain=30.0,
                        loop_gain=3.0, loop_width_deg=0.5, hole_depth=0.9),
}
CORONAL_CHANNELS[195] = dataclasses.replace(CORONAL_CHANNELS[193], wavelength=195)
EUV_WAVELENGTHS = (304, 193, 195, 171)


# -- smoothing (numpy FFT, periodic) ----------------------------------------------------------
@functools.lru_cache(maxsize=32)
def _gaussian_ft(shape: tuple[int, int], sigma_px: float) -> np.ndarray:
    """rfft2 of a periodic Gaussian kernel of peak 1 and sigma ``sigma_px`` (read-only)."""
    profiles = []
    for n in shape:
        distance = np.minimum(np.arange(n), n - np.arange(n))
        profiles.append(np.exp(-0.5 * (distance / sigma_px) ** 2))
    kernel_ft = np.fft.rfft2(profiles[0][:, None] * profiles[1][None, :])
    kernel_ft.setflags(write=False)
    return kernel_ft


def convolve_peak_one(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """Convolve with a Gaussian of peak 1: a one-pixel impulse of amplitude A becomes a blob
    of peak A (for sigma >~ 0.5 px)."""
    kernel_ft = _gaussian_ft(tuple(image.shape), round(float(sigma_px), 6))
    return np.fft.irfft2(np.fft.rfft2(image) * kernel_ft, s=image.shape)


def gaussian_smooth(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian smoothing (unit-sum kernel, sigma in pixels) of a 2-D image with numpy's
    FFT; the image is treated as periodic."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {image.shape}")
    if sigma_px <= 0:
        return image.copy()
    kernel_ft = _gaussian_ft(tuple(image.shape), round(float(sigma_px), 6))
    return np.fft.irfft2(np.fft.rfft2(image) * kernel_ft, s=image.shape) / kernel_ft[0, 0].real


def _polarities(radial_gauss: np.ndarray, sigma_px: float) -> tuple[np.ndarray, np.ndarray]:
    """(P, N): the positive and the negative field's magnitude (G), each smoothed with a
    Gaussian of ``sigma_px`` and kept >= 0 (the FFT leaves tiny negative ripples)."""
    positive = gaussian_smooth(np.clip(radial_gauss, 0.0, None), sigma_px)
    negative = gaussian_smooth(np.clip(-radial_gauss, 0.0, None), sigma_px)
    return np.clip(positive, 0.0, None), np.clip(negative, 0.0, None)


def bipolar_field(
    radial_gauss: np.ndarray, px_per_deg: float, scale_deg: float = LOOP_SCALE_DEG
) -> np.ndarray:
    """Closed-field (loop) proxy (H, W, G): ``sqrt(P N)`` of each polarity of the radial
    field smoothed over ``scale_deg``; large only where strong field of both signs is
    near, i.e. over and between the polarities of an active region."""
    positive, negative = _polarities(radial_gauss, scale_deg * px_per_deg)
    return np.sqrt(positive * negative)


def open_field_fraction(radial_gauss: np.ndarray, px_per_deg: float) -> np.ndarray:
    """Coronal-hole proxy in [0, 1] from the radial field (H, W, G): each polarity smoothed
    over ``HOLE_SCALE_DEG`` (P, N), the unipolarity ``|P - N| / (P + N + 0.3 G)`` ramped
    from 0 at 0.35 to 1 at 0.7, times ``1 / (1 + ((P + N) / 30 G)^2)`` so that only weak
    unipolar field (not a spot) opens, times 1 - (``sqrt(P N)`` over ``HOLE_CLOSURE_DEG``
    ramped from 0 at 4 G to 1 at 8 G) so that field with an active region's opposite
    polarity nearby stays closed; then only where that holds over a large area: the
    map smoothed over ``HOLE_EXTENT_DEG`` ramped from 0 at 0.55 to 1 at 0.85."""
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


def plage_brightening(field_gauss: np.ndarray) -> np.ndarray:
    """EUV brightening factor for a smoothed ``|B|`` (G): 1 + 13 s / (1 + s) with
    s = (``|B|`` / 600 G)^0.7; 1.3 for 3 G (network), 1.7 for 10 G, 3.9 at 100 G, 7.1 at
    500 G, 10 at 2000 G, -> 14. It multiplies the cell-interior intensity (77 DN/s at disk
    centre)."""
    s = (np.asarray(field_gauss) / PLAGE_HALF_GAUSS) ** PLAGE_EXPONENT
    return 1.0 + (PLAGE_MAX_BRIGHTENING - 1.0) * s / (1.0 + s)


def coronal_depth(rho: np.ndarray, scale_height_rsun: float) -> np.ndarray:
    """Line-of-sight depth through an exponentially stratified corona of emission-measure
    scale height ``h`` (R_sun), relative to disk centre, at distances ``rho`` (R_sun) of the
    line of sight from the Sun's centre. On the disk (front half only)
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


def _noisy(image: np.ndarray, rng: np.random.Generator | None, noise_gain: float) -> np.ndarray:
    """Poisson-like noise (variance ``noise_gain`` x intensity), floored at MIN_DN_S."""
    if noise_gain > 0 and rng is not None:
        image = image + np.sqrt(noise_gain * image) * rng.standard_normal(image.shape)
    return np.clip(image, MIN_DN_S, None).astype(np.float32)


def _mottle(rng: np.random.Generator | None, geometry: Any, scale_deg: float,
            contrast: float) -> np.ndarray:
    """Log-intensity mottle (the view's shape): white noise smoothed over ``scale_deg``,
    scaled to an rms of ``contrast`` on the disk; zeros without ``rng``."""
    if rng is None:
        return np.zeros(geometry.shape)
    mottle = gaussian_smooth(rng.standard_normal(geometry.shape), scale_deg * geometry.px_per_deg)
    return mottle * contrast / max(float(mottle[geometry.on_disk].std()), 1e-12)


# -- the channels -----------------------------------------------------------------------------
def chromosphere_304(
    radial_gauss: np.ndarray, geometry: Any, filament_factor: np.ndarray,
    rng: np.random.Generator | None, noise_gain: float = EUV_NOISE_GAIN,
) -> np.ndarray:
    """EUV 304 A (DN/s, float32, the view's shape) from the radial field at its pixels (G,
    0 off the disk); ``filament_factor``: the filaments' darkening at the on-disk pixels
    (1-D, in ``geometry.on_disk`` order); ``rng``: the mottle and noise (None: neither)."""
    px_per_deg = geometry.px_per_deg
    on_disk, mu, rho = geometry.on_disk, geometry.mu, geometry.rho
    mottle = _mottle(rng, geometry, MOTTLE_DEG, MOTTLE_CONTRAST)
    smoothed = gaussian_smooth(np.abs(radial_gauss), CANOPY_DEG * px_per_deg)
    euv = (QUIET_DN_S * (1.0 + LIMB_BRIGHTENING * (1.0 - mu) ** 2)
           * np.exp(mottle) * plage_brightening(np.clip(smoothed, 0.0, None)))
    euv[on_disk] *= filament_factor
    height = np.clip(rho - 1.0, 0.0, None)  # above the limb, solar radii
    rim = on_disk & (rho > 0.97)
    limb = float(np.median(euv[rim])) if rim.any() else QUIET_DN_S * (1.0 + LIMB_BRIGHTENING)
    off_limb = limb * np.exp(-height / SPICULE_SCALE_RSUN) + CORONA_DN_S * np.exp(
        -height / CORONA_SCALE_RSUN)
    return _noisy(np.where(on_disk, euv, off_limb), rng, noise_gain)


def corona(
    wavelengths: Sequence[int], radial_gauss: np.ndarray, geometry: Any,
    loop_impulses: np.ndarray, mottle_rng: np.random.Generator | None,
    noise_rngs: dict[int, np.random.Generator | None], noise_gain: float = EUV_NOISE_GAIN,
) -> dict[int, np.ndarray]:
    """The coronal images (DN/s, float32) asked for (171, 193, 195) from the radial field
    (see :class:`CoronalChannel`); ``loop_impulses``: the projected loops (see
    :func:`data_prep.toysun.views.loop_impulses`), ``noise_rngs`` one stream per channel."""
    if not wavelengths:
        return {}
    px_per_deg = geometry.px_per_deg
    on_disk, rho = geometry.on_disk, geometry.rho
    mottle = _mottle(mottle_rng, geometry, CORONAL_MOTTLE_DEG, CORONAL_MOTTLE_CONTRAST)
    opened = np.where(on_disk, open_field_fraction(radial_gauss, px_per_deg), 0.0)
    s = (bipolar_field(radial_gauss, px_per_deg) / ACTIVE_HALF_GAUSS) ** ACTIVE_EXPONENT
    active = s / (1.0 + s)
    images = {}
    for wavelength in wavelengths:
        channel = CORONAL_CHANNELS[wavelength]
        width_px = max(channel.loop_width_deg * px_per_deg, 0.5)
        loops = convolve_peak_one(loop_impulses, width_px) / (width_px * math.sqrt(2.0 * math.pi))
        image = channel.quiet_dn_s * (
            coronal_depth(rho, channel.scale_height_rsun) * np.exp(mottle)
            * (1.0 - channel.hole_depth * opened)
            + channel.active_gain * active
            + channel.loop_gain * np.clip(loops, 0.0, None)
        )
        images[wavelength] = _noisy(image, noise_rngs.get(wavelength), noise_gain)
    return images
