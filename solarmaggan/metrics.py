"""The metrics of the field, one definition each, for training (inside the TensorFlow
graph, on batches) and for evaluation (finished magnetograms in Gauss and Maxwell).

Batch functions (Keras ops; (batch, height, width, channels) tensors or arrays, an optional
(height, width) mask such as the solar disk, non-finite pixels left out; (batch,) out):
:func:`correlation_coefficients` (Pearson, or Lin's concordance for the CC loss of AISFM
3.0), :func:`pixel_correlation` (Pearson: the authors' model-selection rule),
:func:`root_mean_square_error`, :func:`mean_absolute_error` and
:func:`structural_similarity`. float64 arrays are computed in float64, everything else in
float32.

Evaluation functions (NumPy in, Python floats out), one (H, W) magnetogram at a time on the
standard frame (north up, Sun centre at pixel ((n - 1) / 2, (n - 1) / 2), solar radius
``radius_px``), built on the batch functions: :func:`compare_magnetograms` (pixel CC on the
disk, raw and binned, RMSE, MAE, active/quiet split, SSIM, unsigned and net flux),
:func:`pearson`, :func:`magnetic_flux`, :func:`aggregate` over a test set, and the helpers
:func:`pixel_area_cm2` and :func:`mu_map`. The disk is the pixels within
``disk_fraction`` (default :data:`data_prep.geometry.DISK_RSUN`, 0.95) of the solar radius.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from keras import backend, ops

from data_prep.geometry import (  # noqa: F401  (mu_map, MU_FLOOR: re-exported)
    DISK_RSUN,
    MU_FLOOR,
    RSUN_REF_M,
    mu_map,
    binned_disk_mask,
    block_mean,
    disk_mask,
    radial_distance,
)
from data_prep.presets.schema import CC_KINDS

# added to the variances: keeps the CC (and its gradient, in the CC loss) finite for a flat
# image; in normalised units 1e-8 is far below any real signal
CC_EPSILON = 1e-8


#: ``|B|`` above which a pixel counts in the fluxes, G (the original code's 10 G)
FLUX_THRESHOLD_GAUSS = 10.0

def _float(values):
    """``values`` as a float tensor: float64 stays float64, anything else float32."""
    dtype = "float64" if backend.standardize_dtype(values.dtype) == "float64" else "float32"
    return ops.cast(values, dtype)


def _masked(target, generated, mask):
    """(weights, target, generated): weights 1 where ``mask`` (broadcast over batch and
    channels; None: everywhere) holds and both images are finite, else 0; non-finite
    values replaced by 0 so that they cannot reach a sum."""
    target, generated = _float(target), _float(generated)
    finite = ops.logical_and(ops.isfinite(target), ops.isfinite(generated))
    weights = ops.cast(finite, target.dtype)
    if mask is not None:
        weights = weights * ops.cast(ops.convert_to_tensor(mask), target.dtype)[None, :, :, None]
    zeros = ops.zeros_like(target)
    return weights, ops.where(finite, target, zeros), ops.where(finite, generated, zeros)


def _masked_mean(weights, values):
    """Per-sample weighted mean over height, width and channels."""
    return ops.divide_no_nan(ops.sum(weights * values, axis=(1, 2, 3)),
                             ops.sum(weights, axis=(1, 2, 3)))


def correlation_coefficients(target, generated, mask=None, kind: str = "pearson"):
    """Per-sample correlation of two image batches over the masked, finite pixels.

    Args:
        target, generated: (batch, height, width, channels), any units.
        mask: optional (height, width) array, 1 / True where a pixel counts (the solar
            disk); None counts every pixel.
        kind: "pearson" (covariance / (sigma_t sigma_g)) or "concordance" (Lin's
            concordance, 2 covariance / (sigma_t^2 + sigma_g^2 + (mean_t - mean_g)^2), which
            also penalises offsets and gains).

    Returns:
        (batch,) tensor. A flat image gives ~0 (the variances get CC_EPSILON).
    """
    if kind not in CC_KINDS:
        raise ValueError(f"CC kind must be one of {CC_KINDS}, got {kind!r}")
    weights, target, generated = _masked(target, generated, mask)
    target_mean = _masked_mean(weights, target)
    generated_mean = _masked_mean(weights, generated)
    target_anomaly = target - target_mean[:, None, None, None]
    generated_anomaly = generated - generated_mean[:, None, None, None]
    covariance = _masked_mean(weights, target_anomaly * generated_anomaly)
    target_variance = _masked_mean(weights, target_anomaly**2)
    generated_variance = _masked_mean(weights, generated_anomaly**2)
    if kind == "pearson":
        return covariance / ops.sqrt(
            (target_variance + CC_EPSILON) * (generated_variance + CC_EPSILON))
    return 2.0 * covariance / (target_variance + generated_variance
                               + (target_mean - generated_mean) ** 2 + CC_EPSILON)


def pixel_correlation(target, generated, mask=None):
    """Per-image Pearson correlation coefficient (the authors' model selection) over the
    masked pixels: :func:`correlation_coefficients` with ``kind="pearson"``."""
    return correlation_coefficients(target, generated, mask, "pearson")


def root_mean_square_error(target, generated, mask=None):
    """Per-image RMSE over the masked, finite pixels, in the units of the inputs (pass
    Gauss); (batch,). 0 when no pixel counts."""
    weights, target, generated = _masked(target, generated, mask)
    return ops.sqrt(_masked_mean(weights, (generated - target) ** 2))


def mean_absolute_error(target, generated, mask=None):
    """Per-image mean absolute difference over the masked, finite pixels, in the units
    of the inputs; (batch,). 0 when no pixel counts."""
    weights, target, generated = _masked(target, generated, mask)
    return _masked_mean(weights, ops.abs(generated - target))


def structural_similarity(target, generated, low: float = -1.0, high: float = 1.0):
    """Per-image SSIM (Wang et al. 2004) over the whole frame; (batch,).

    Both images are mapped to [0, 1] with the same fixed range, ``x -> clip((x - low) /
    (high - low), 0, 1)`` (the data's clip range: [-1, 1] for normalised images, +-100 G
    for kim2019 magnetograms in Gauss; non-finite pixels read as 0), and compared with
    ``tf.image.ssim`` (11 x 11 Gaussian window, sigma 1.5, k1 0.01, k2 0.03, max_val 1),
    which expects non-negative images. Frames must be at least 11 pixels a side.
    """
    import tensorflow as tf

    if not high > low:
        raise ValueError(f"SSIM needs high > low, got [{low}, {high}]")

    def unit(images):
        images = tf.cast(images, tf.float32)
        images = tf.where(tf.math.is_finite(images), images, tf.zeros_like(images))
        return tf.clip_by_value((images - low) / (high - low), 0.0, 1.0)

    return tf.image.ssim(unit(target), unit(generated), max_val=1.0, filter_size=11,
                         filter_sigma=1.5, k1=0.01, k2=0.03)


# --------------------------------------------------------------------------------------
# Physical-unit evaluation metrics (NumPy in, Python floats out)
# --------------------------------------------------------------------------------------

#: Fewest binned pixels for which a class correlation (cc_active, cc_quiet) is reported;
#: two points always correlate perfectly.
MIN_CLASS_PIXELS = 3

_ARCSEC_TO_RAD = math.pi / (180.0 * 3600.0)


def _one(image: np.ndarray) -> np.ndarray:
    """An (H, W) image (or a 1-D series, as (N, 1)) as a batch of one, (1, H, W, 1)."""
    image = np.asarray(image, dtype=np.float64)
    return (image[:, None] if image.ndim == 1 else image)[None, :, :, None]


def pearson(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None,
            min_pixels: int = 2) -> float:
    """Pearson correlation coefficient of two equally shaped arrays (1-D series or 2-D
    images), pixel to pixel, over the positions where ``mask`` (if given) holds and both
    values are finite (:func:`pixel_correlation` in float64).

    Returns nan when fewer than ``min_pixels`` such positions remain or when either array
    is constant over them: the correlation is then undefined.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim not in (1, 2):
        raise ValueError(f"pearson needs two 1-D or 2-D arrays of one shape, got {a.shape} "
                         f"and {b.shape}")
    counted = np.isfinite(a) & np.isfinite(b)
    if mask is not None:
        counted &= np.asarray(mask, dtype=bool)
    if np.count_nonzero(counted) < max(min_pixels, 2) or np.ptp(a[counted]) == 0 or np.ptp(
            b[counted]) == 0:
        return math.nan
    mask_2d = counted[:, None] if counted.ndim == 1 else counted
    score = float(pixel_correlation(_one(a), _one(b), mask_2d)[0])
    return float(np.clip(score, -1.0, 1.0))


def pixel_area_cm2(scale_arcsec: float, dsun_m: float, rsun_m: float = RSUN_REF_M) -> float:
    """Area on the Sun of one image pixel at disk centre, cm^2.

    The pixel subtends ``scale_arcsec`` (the WCS CDELT, arcsec/pixel) as seen from the
    observer at ``dsun_m`` (DSUN_OBS, metres from Sun centre); at disk centre the surface
    lies ``dsun_m - rsun_m`` from the observer, so the side is
    ``scale[rad] * (dsun_m - rsun_m)`` and the area its square (small-angle, square
    pixels). ``rsun_m`` is the photospheric radius (RSUN_REF, default the IAU nominal
    :data:`data_prep.geometry.RSUN_REF_M`). About 5.2e15 cm^2 (722 km squared) for 1
    arcsec at 1 au. Away from disk centre this is the projected (plane-of-sky) area; see
    ``deproject`` in :func:`magnetic_flux`.
    """
    scale_arcsec, dsun_m, rsun_m = float(scale_arcsec), float(dsun_m), float(rsun_m)
    if not scale_arcsec > 0:
        raise ValueError(f"scale_arcsec must be > 0, got {scale_arcsec}")
    if not dsun_m > rsun_m >= 0:
        raise ValueError(f"need dsun_m > rsun_m >= 0, got dsun_m={dsun_m}, rsun_m={rsun_m}")
    side_cm = scale_arcsec * _ARCSEC_TO_RAD * (dsun_m - rsun_m) * 100.0
    return side_cm * side_cm


def _square_image(image: np.ndarray, name: str) -> np.ndarray:
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2 or image.shape[0] != image.shape[1]:
        raise ValueError(f"{name} must be a square (H, W) image, got shape {image.shape}")
    return image


def magnetic_flux(
    gauss: np.ndarray,
    radius_px: float,
    pixel_area_cm2: float,
    threshold_gauss: float = FLUX_THRESHOLD_GAUSS,
    disk_fraction: float = 1.0,
    deproject: bool = False,
) -> dict[str, float]:
    """Total unsigned, net, positive and negative magnetic flux of a LOS magnetogram.

    Each selected pixel contributes ``B * pixel_area_cm2`` Mx (G cm^2). A pixel is
    selected when its centre lies within ``disk_fraction * radius_px`` of the Sun centre,
    its value is finite and ``|B| > threshold_gauss`` (strictly; the original code used
    10 G inside the disk, which is the default here).

    De-projection (``deproject=True``): each pixel's flux is multiplied by
    ``1 / max(mu, 0.1)`` with mu from :func:`mu_map` (relative to the full ``radius_px``).
    That one factor of 1/mu is the usual first-order correction: the LOS field over the
    foreshortened surface area (``A / mu``), or equivalently the radial-field estimate
    ``B_los / mu`` over the projected area. It is not the full radial-field surface flux
    (``B_los A / mu^2``), which would amplify limb noise further. The floor 0.1 caps the
    boost at 10x (reached at r = 0.995 R). Without de-projection the flux is the LOS
    field through the plane-of-sky pixel areas.

    Args:
        gauss: (n, n) LOS magnetogram, Gauss, on the standard frame.
        radius_px: solar radius in pixels.
        pixel_area_cm2: area of one pixel at disk centre, cm^2 (:func:`pixel_area_cm2`).
        threshold_gauss: weakest ``|B|`` counted, Gauss.
        disk_fraction: radius of the counted region as a fraction of ``radius_px``.
        deproject: multiply each pixel's flux by 1 / max(mu, 0.1).

    Returns:
        ``{"unsigned_mx", "net_mx", "positive_mx", "negative_mx"}`` as floats in Mx;
        ``negative_mx <= 0`` so that ``net_mx = positive_mx + negative_mx`` and
        ``unsigned_mx = positive_mx - negative_mx``.
    """
    gauss = _square_image(gauss, "gauss")
    if not disk_fraction > 0:
        raise ValueError(f"disk_fraction must be > 0, got {disk_fraction}")
    if not pixel_area_cm2 > 0:
        raise ValueError(f"pixel_area_cm2 must be > 0, got {pixel_area_cm2}")
    size = gauss.shape[0]
    selected = disk_mask(size, disk_fraction * float(radius_px)) & np.isfinite(gauss)
    selected &= np.abs(np.where(selected, gauss, 0.0)) > float(threshold_gauss)
    flux = gauss[selected] * float(pixel_area_cm2)
    if deproject:
        mu = mu_map(size, radius_px)[selected]
        # disk_fraction > 1 would select off-disk pixels (mu NaN): give them the floor.
        flux = flux / np.maximum(np.nan_to_num(mu, nan=MU_FLOOR), MU_FLOOR)
    positive = float(flux[flux > 0].sum())
    negative = float(flux[flux < 0].sum())
    return {
        "unsigned_mx": positive - negative,
        "net_mx": positive + negative,
        "positive_mx": positive,
        "negative_mx": negative,
    }


def compare_magnetograms(
    true_gauss: np.ndarray,
    generated_gauss: np.ndarray,
    radius_px: float,
    pixel_area_cm2: float | None = None,
    *,
    disk_fraction: float = DISK_RSUN,
    bin_factor: int = 8,
    active_threshold_gauss: float = 50.0,
    flux_threshold_gauss: float = FLUX_THRESHOLD_GAUSS,
    deproject: bool = False,
    ssim_range_gauss: float | None = None,
) -> dict[str, float]:
    """Compare a generated magnetogram with the observed one, in physical units.

    Both images are (n, n) LOS magnetograms in Gauss on the standard frame (Sun centre at
    pixel ((n - 1) / 2, (n - 1) / 2), solar radius ``radius_px`` pixels). Non-finite pixels
    are left out of every metric (SSIM reads them as 0 G).

    The *disk* is the pixels whose centres lie within ``disk_fraction * radius_px``
    (default :data:`data_prep.geometry.DISK_RSUN`, 0.95 R_sun: the limb, where projection
    effects and noise dominate, and the 0.98 R_sun mask edge are left out). Off-disk
    pixels never count, except in SSIM, which is over the whole frame.

    *Binned* metrics average ``bin_factor`` x ``bin_factor`` blocks (default 8x8, as
    AISFM and Kim et al. 2019) with :func:`data_prep.geometry.block_mean` and keep only
    the blocks lying wholly on the disk (:func:`data_prep.geometry.binned_disk_mask`).

    The *active* class is the binned disk pixels where the binned observed ``|B|`` is
    ``>= active_threshold_gauss``; the *quiet* class is the other binned disk pixels.
    The default 50 G is half the +-100 G clip of the Kim et al. 2019 training data;
    AISFM papers, working with +-3000 G data, use higher thresholds (e.g. 250 G).
    A class CC is nan with fewer than 3 binned pixels, a class RMSE when it is empty.

    SSIM is ``tf.image.ssim`` over the whole frame (11 x 11 Gaussian window, sigma 1.5,
    k1 0.01, k2 0.03, max_val 1) after mapping both images to [0, 1] with the same fixed
    range: ``B -> clip((B + S) / (2 S), 0, 1)`` with ``S = ssim_range_gauss`` or, by
    default, ``S = max(max |true|, 1 G)`` over the frame's finite pixels (pass the
    data's clip value, e.g. 100 G, to compare across images). The frame must be at least
    11 pixels a side.

    Fluxes (only when ``pixel_area_cm2`` is given) are :func:`magnetic_flux` of each
    image over the same disk, with ``flux_threshold_gauss`` (default 10 G as the
    original code) and ``deproject``.

    Args:
        true_gauss, generated_gauss: (n, n) arrays, Gauss.
        radius_px: solar radius, pixels.
        pixel_area_cm2: area of one pixel at disk centre, cm^2 (:func:`pixel_area_cm2`).

    Returns:
        A dict of Python floats: ``pixel_cc``, ``pixel_cc_binned``, ``rmse_gauss``,
        ``rmse_gauss_binned``, ``mae_gauss``, ``cc_active``, ``cc_quiet``,
        ``rmse_active_gauss``, ``rmse_quiet_gauss``, ``ssim``, and with a pixel area
        ``unsigned_flux_true_mx``, ``unsigned_flux_generated_mx``, ``net_flux_true_mx``,
        ``net_flux_generated_mx`` (Mx). Undefined metrics are nan.
    """
    true_gauss = _square_image(true_gauss, "true_gauss")
    generated_gauss = _square_image(generated_gauss, "generated_gauss")
    if true_gauss.shape != generated_gauss.shape:
        raise ValueError(
            f"images differ in shape: {true_gauss.shape} and {generated_gauss.shape}")
    if not disk_fraction > 0:
        raise ValueError(f"disk_fraction must be > 0, got {disk_fraction}")
    size = true_gauss.shape[0]
    disk_radius = disk_fraction * float(radius_px)
    disk = disk_mask(size, disk_radius)
    scores: dict[str, float] = {
        "pixel_cc": pearson(true_gauss, generated_gauss, disk),
        "rmse_gauss": _error(root_mean_square_error, true_gauss, generated_gauss, disk),
        "mae_gauss": _error(mean_absolute_error, true_gauss, generated_gauss, disk),
    }

    binned_disk = binned_disk_mask(size, disk_radius, bin_factor)
    true_binned = block_mean(true_gauss, bin_factor)
    generated_binned = block_mean(generated_gauss, bin_factor)
    scores["pixel_cc_binned"] = pearson(true_binned, generated_binned, binned_disk)
    scores["rmse_gauss_binned"] = _error(root_mean_square_error, true_binned,
                                         generated_binned, binned_disk)
    usable = binned_disk & np.isfinite(true_binned) & np.isfinite(generated_binned)
    active = usable & (np.abs(np.where(usable, true_binned, 0.0)) >= active_threshold_gauss)
    for name, members in (("active", active), ("quiet", usable & ~active)):
        scores[f"cc_{name}"] = pearson(true_binned, generated_binned, members,
                                       min_pixels=MIN_CLASS_PIXELS)
        scores[f"rmse_{name}_gauss"] = _error(root_mean_square_error, true_binned,
                                              generated_binned, members)

    if ssim_range_gauss is None:
        finite_true = np.abs(true_gauss[np.isfinite(true_gauss)])
        ssim_range_gauss = max(float(finite_true.max()) if finite_true.size else 0.0, 1.0)
    elif not ssim_range_gauss > 0:
        raise ValueError(f"ssim_range_gauss must be > 0, got {ssim_range_gauss}")
    scores["ssim"] = float(structural_similarity(
        _one(true_gauss), _one(generated_gauss), -ssim_range_gauss, ssim_range_gauss)[0])

    if pixel_area_cm2 is not None:
        for label, image in (("true", true_gauss), ("generated", generated_gauss)):
            flux = magnetic_flux(image, radius_px, pixel_area_cm2,
                                 threshold_gauss=flux_threshold_gauss,
                                 disk_fraction=disk_fraction, deproject=deproject)
            scores[f"unsigned_flux_{label}_mx"] = flux["unsigned_mx"]
            scores[f"net_flux_{label}_mx"] = flux["net_mx"]
    return scores


def _error(metric, true_gauss: np.ndarray, generated_gauss: np.ndarray,
           mask: np.ndarray) -> float:
    """An error metric (:func:`root_mean_square_error`, :func:`mean_absolute_error`) of
    one image over the masked, finite pixels, as a float; nan when none counts."""
    counted = mask & np.isfinite(true_gauss) & np.isfinite(generated_gauss)
    if not counted.any():
        return math.nan
    return float(metric(_one(true_gauss), _one(generated_gauss), mask)[0])


def aggregate(records: list[dict[str, Any]]) -> dict[str, float | int]:
    """Summarise per-image metric dicts (from :func:`compare_magnetograms`) over a set.

    Args:
        records: one dict per image. Keys whose values are floats (Python or NumPy
            floating) are metrics; others (integer indices, times, strings, bools) are
            ignored. A key missing from some records counts as nan there.

    Returns:
        ``{key}_mean`` and ``{key}_median`` for every metric key, ignoring nans (nan when
        a key has no finite value); ``n_images`` (int, the number of records); and when
        the records carry ``unsigned_flux_true_mx`` and ``unsigned_flux_generated_mx``,
        ``flux_cc``: the Pearson CC of generated against observed unsigned flux over the
        images where both are finite (nan with fewer than 3).
    """
    keys: list[str] = []
    for record in records:
        for key, value in record.items():
            if (key not in keys and isinstance(value, (float, np.floating))
                    and not isinstance(value, bool)):
                keys.append(key)
    summary: dict[str, float | int] = {"n_images": len(records)}
    for key in keys:
        values = np.array([_as_float(record.get(key)) for record in records], dtype=np.float64)
        values = values[np.isfinite(values)]
        summary[f"{key}_mean"] = float(values.mean()) if values.size else math.nan
        summary[f"{key}_median"] = float(np.median(values)) if values.size else math.nan
    pair = ("unsigned_flux_true_mx", "unsigned_flux_generated_mx")
    if all(key in keys for key in pair):
        true_flux, generated_flux = (
            np.array([_as_float(record.get(key)) for record in records]) for key in pair)
        summary["flux_cc"] = pearson(true_flux, generated_flux, min_pixels=3)
    return summary


def _as_float(value: Any) -> float:
    if isinstance(value, (float, np.floating)) and not isinstance(value, bool):
        return float(value)
    return math.nan
