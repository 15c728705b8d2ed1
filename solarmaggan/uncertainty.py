"""Per-pixel uncertainty from samples of generated magnetograms, and how well it is
calibrated against the observed ones (issue 19, "Calibration, measured").

A stochastic generator gives N samples of one magnetogram; their per-pixel spread is its
uncertainty. This module measures whether that spread means what it says:

* :func:`sample_summary`: per-pixel ensemble mean and standard deviation;
* :func:`coverage`: the fraction of pixels whose truth lies within +-k sigma of the mean
  (0.6827 at k = 1 and 0.9545 at k = 2 for calibrated Gaussian errors);
* :func:`bin_images` and :func:`binned_coverage`: the same on 8x8 blocks, as the binned
  metrics of :func:`solarmaggan.metrics.compare_magnetograms`;
* :func:`spread_skill`: RMSE of the mean against the predicted sigma, in bins of sigma;
* :func:`crps_map` and :func:`crps`: the ensemble continuous ranked probability score;
* :func:`fit_scale`, :func:`apply_scale`, :func:`scale_sigma`: one spread-scale factor,
  fitted on the validation split and applied to the samples in ``generate``;
* :func:`flux_interval`: the unsigned flux of each sample and its 68 % range;
* :func:`fit_flux_calibration`, :func:`calibrated_flux_range`: a flux range calibrated
  on validation pairs (split conformal on the log ratio), for the whole disk and for
  active regions;
* :func:`calibration_report`: all of it over a set of images, JSON-able.

Units and shapes: magnetograms in Gauss; ``samples`` is (N, H, W), N samples of one image
(functions noted as such also take (N, B, H, W): N samples of B images); ``truth``,
``mean`` and ``sigma`` are (H, W) (or (B, H, W)); ``mask`` is a boolean (H, W) array, True
on the pixels that count (the solar disk, e.g. ``data_prep.geometry.disk_mask(size,
disk_rsun * radius_px)``), broadcast over leading axes; None counts every pixel.
Non-finite pixels (in the truth, the mean or sigma) never count. :func:`coverage`,
:func:`spread_skill` and :func:`fit_scale` also take lists of images (a validation or test
split), whose pixels they pool.

NumPy only: imports no TensorFlow or Keras.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from data_prep.geometry import block_mean

#: Fraction of a normal distribution within +-1 and +-2 standard deviations.
GAUSSIAN_COVERAGE = {1: 0.6826894921370859, 2: 0.9544997361036416}

#: Block size of the binned metrics (8x8, as solarmaggan.metrics.compare_magnetograms).
BIN_FACTOR = 8

#: Elements (samples x pixels) handled at once by :func:`crps_map`: 4 Mi float64 values,
#: 32 MiB a temporary array.
CRPS_CHUNK_ELEMENTS = 1 << 22


# --------------------------------------------------------------------------------------
# Ensemble summary
# --------------------------------------------------------------------------------------

def sample_summary(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel mean and standard deviation of N samples.

    Args:
        samples: (N, ...) array, Gauss: N samples along axis 0, e.g. (N, H, W) or
            (N, B, H, W).

    Returns:
        (mean, sigma), each of shape ``samples.shape[1:]``, float64, Gauss. sigma is the
        population standard deviation of the samples (ddof=0: the spread of the ensemble
        as it is, defined for N = 1, where it is exactly 0). For N samples of a
        calibrated ensemble, truth - mean has variance sigma_true^2 (1 + 1 / N) while
        E[sigma^2] = sigma_true^2 (N - 1) / N, so the +-k sigma coverage of a small
        ensemble falls short of the Gaussian value; :func:`fit_scale` absorbs that.
    """
    samples = np.asarray(samples)
    if samples.ndim < 1 or samples.shape[0] < 1:
        raise ValueError(f"samples must be (N, ...) with N >= 1, got shape {samples.shape}")
    # Two passes over the deviations from the first sample, one sample at a time (no
    # (N, ...) float64 temporary): identical samples give exactly their value and sigma 0.
    count = samples.shape[0]
    first = samples[0].astype(np.float64)
    offset = np.zeros_like(first)
    for sample in samples[1:]:
        offset += sample - first
    offset /= count
    variance = offset**2  # the first sample's own term, (0 - offset)^2
    for sample in samples[1:]:
        variance += (sample - first - offset) ** 2
    return first + offset, np.sqrt(variance / count)


# --------------------------------------------------------------------------------------
# Pixel selection (single images or lists of images)
# --------------------------------------------------------------------------------------

def _is_list(value: Any) -> bool:
    return isinstance(value, (list, tuple))


def _pixels(truth, mean, sigma, mask=None) -> tuple[np.ndarray, np.ndarray]:
    """(error = mean - truth, sigma), 1-D float64, over the counted pixels: where
    ``mask`` holds and truth, mean and sigma are finite.

    ``truth``, ``mean``, ``sigma`` are arrays of one shape, or lists of such arrays (one
    per image; their pixels are pooled); ``mask`` None, one array broadcast over each
    image, or a list with one mask per image.
    """
    if _is_list(truth):
        count = len(truth)
        if not (_is_list(mean) and _is_list(sigma) and len(mean) == len(sigma) == count):
            raise ValueError("truth, mean and sigma must be lists of one length, or arrays")
        masks = list(mask) if _is_list(mask) else [mask] * count
        if len(masks) != count:
            raise ValueError(f"{len(masks)} masks for {count} images")
        parts = [_pixels(*items) for items in zip(truth, mean, sigma, masks)]
        if not parts:
            return np.zeros(0), np.zeros(0)
        return (np.concatenate([part[0] for part in parts]),
                np.concatenate([part[1] for part in parts]))
    truth = np.asarray(truth, dtype=np.float64)
    mean = np.asarray(mean, dtype=np.float64)
    sigma = np.asarray(sigma, dtype=np.float64)
    if not truth.shape == mean.shape == sigma.shape:
        raise ValueError(f"truth, mean and sigma differ in shape: {truth.shape}, "
                         f"{mean.shape}, {sigma.shape}")
    counted = np.isfinite(truth) & np.isfinite(mean) & np.isfinite(sigma)
    if mask is not None:
        counted &= np.broadcast_to(np.asarray(mask, dtype=bool), truth.shape)
    return mean[counted] - truth[counted], sigma[counted]


def _coverage(error: np.ndarray, sigma: np.ndarray, k: float) -> float:
    if error.size == 0:
        return math.nan
    return float(np.count_nonzero(np.abs(error) <= k * sigma) / error.size)


def coverage(truth, mean, sigma, k: float = 1.0, mask: np.ndarray | None = None) -> float:
    """Fraction of the counted pixels whose truth lies within +-k sigma of the mean.

    A pixel is covered when ``|truth - mean| <= k * sigma``; where sigma is 0 only an
    exact match counts. Calibrated Gaussian errors give 0.6827 at k = 1 and 0.9545 at
    k = 2 (:data:`GAUSSIAN_COVERAGE`).

    Args:
        truth, mean, sigma: arrays of one shape (Gauss), e.g. (H, W), or lists of them
            (pooled pixel by pixel).
        k: half-width of the interval in units of sigma.
        mask: None, a boolean (H, W) array, or a list of them (one per image).

    Returns:
        The fraction in [0, 1]; nan when no pixel counts.
    """
    return _coverage(*_pixels(truth, mean, sigma, mask), float(k))


# --------------------------------------------------------------------------------------
# 8x8 binned
# --------------------------------------------------------------------------------------

def bin_mask(mask: np.ndarray, factor: int = BIN_FACTOR) -> np.ndarray:
    """(H // factor, W // factor) boolean: the ``factor`` x ``factor`` blocks lying wholly
    in ``mask`` (for a disk mask this is :func:`data_prep.geometry.binned_disk_mask`)."""
    return block_mean(np.asarray(mask, dtype=np.float32), factor) == 1.0


def bin_images(truth: np.ndarray, samples: np.ndarray, mask: np.ndarray | None = None,
               factor: int = BIN_FACTOR) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The truth, every sample and the mask on ``factor`` x ``factor`` blocks.

    Images are averaged with :func:`data_prep.geometry.block_mean` (as the binned metrics
    of :func:`solarmaggan.metrics.compare_magnetograms`; a block holding a NaN is NaN,
    and so never counts); the mask keeps the blocks lying wholly in it
    (:func:`bin_mask`). Binning each sample before :func:`sample_summary` gives the
    spread of the block means, not the (larger) mean of the pixels' sigmas.

    Args:
        truth: (H, W) or (B, H, W), Gauss; samples: (N, H, W) or (N, B, H, W), Gauss;
        mask: (H, W) boolean or None.

    Returns:
        (truth, samples, mask) binned: (H // f, W // f) shapes on the last two axes; the
        mask None when none was given.
    """
    binned_mask = None if mask is None else bin_mask(mask, factor)
    return block_mean(truth, factor), block_mean(samples, factor), binned_mask


def binned_coverage(truth: np.ndarray, samples: np.ndarray, mask: np.ndarray | None = None,
                    ks: Sequence[float] = (1.0, 2.0),
                    factor: int = BIN_FACTOR) -> dict[str, float]:
    """Coverage on ``factor`` x ``factor`` blocks: truth and each sample binned
    (:func:`bin_images`), then :func:`sample_summary` and :func:`coverage`.

    Returns:
        ``{"coverage_{k}sigma": fraction}`` for each k in ``ks`` (k written as ``%g``:
        ``coverage_1sigma``, ``coverage_2sigma``).
    """
    truth, samples, mask = bin_images(truth, samples, mask, factor)
    error, sigma = _pixels(truth, *sample_summary(samples), mask)
    return {f"coverage_{k:g}sigma": _coverage(error, sigma, float(k)) for k in ks}


# --------------------------------------------------------------------------------------
# Spread-skill
# --------------------------------------------------------------------------------------

def _spread_skill(error: np.ndarray, sigma: np.ndarray, n_bins: int) -> dict[str, Any]:
    if int(n_bins) < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    order = np.argsort(sigma, kind="stable")
    result: dict[str, Any] = {key: [] for key in (
        "sigma_mean_gauss", "sigma_rms_gauss", "rmse_gauss", "count", "sigma_min_gauss",
        "sigma_max_gauss")}
    for members in np.array_split(order, int(n_bins)):
        if members.size == 0:
            continue
        spread, miss = sigma[members], error[members]
        result["sigma_mean_gauss"].append(float(spread.mean()))
        result["sigma_rms_gauss"].append(float(np.sqrt(np.mean(spread * spread))))
        result["rmse_gauss"].append(float(np.sqrt(np.mean(miss * miss))))
        result["count"].append(int(members.size))
        result["sigma_min_gauss"].append(float(spread[0]))
        result["sigma_max_gauss"].append(float(spread[-1]))
    result["n_bins"] = len(result["count"])
    return result


def spread_skill(truth, mean, sigma, mask: np.ndarray | None = None,
                 n_bins: int = 10) -> dict[str, Any]:
    """RMSE of the ensemble mean against the predicted sigma, in quantile bins of sigma.

    The counted pixels are sorted by sigma and split into ``n_bins`` bins of equal count
    (quantile bins; ties may straddle a bin edge; fewer pixels than bins gives fewer,
    non-empty bins). For calibrated errors E[(mean - truth)^2] = sigma^2 pixel by pixel,
    so each bin's RMSE equals its RMS sigma (``sigma_rms_gauss``); in narrow bins that is
    close to the mean sigma.

    Args:
        truth, mean, sigma: arrays of one shape (Gauss) or lists of them (pooled).
        mask: None, a boolean (H, W) array or a list of them.
        n_bins: number of quantile bins.

    Returns:
        JSON-able dict of per-bin lists, lowest sigma first: ``sigma_mean_gauss``,
        ``sigma_rms_gauss``, ``rmse_gauss``, ``count`` (pixels), ``sigma_min_gauss``,
        ``sigma_max_gauss``; and ``n_bins`` (the non-empty bins).
    """
    return _spread_skill(*_pixels(truth, mean, sigma, mask), n_bins)


# --------------------------------------------------------------------------------------
# CRPS
# --------------------------------------------------------------------------------------

def crps_map(samples: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per-pixel CRPS of the ensemble (its empirical distribution) against the truth.

    ``CRPS = E|X - y| - 0.5 E|X - X'|``, both expectations over the N samples (the second over
    all N^2 ordered pairs, i = j included): the exact CRPS of the empirical CDF, equal to
    ``|x - y|`` for N = 1. The pair term uses the sorted samples x_(1) <= ... <= x_(N):
    ``0.5 E|X - X'| = sum_i (2 i - N - 1) x_(i) / N^2``, O(N log N) time and O(N) memory a
    pixel. Computed in float64, ``CRPS_CHUNK_ELEMENTS`` values at a time (under 100 MiB
    of temporaries whatever the image size).

    Args:
        samples: (N, ..., H, W), Gauss; truth: samples.shape[1:], Gauss.

    Returns:
        float64 array of truth's shape, Gauss; nan where the truth or a sample is not
        finite.
    """
    samples = np.asarray(samples)
    truth = np.asarray(truth)
    if samples.ndim < 2 or samples.shape[1:] != truth.shape:
        raise ValueError(f"samples must be (N, *truth.shape) = (N, {truth.shape}), got "
                         f"{samples.shape}")
    count = samples.shape[0]
    flat_samples = samples.reshape(count, -1)
    flat_truth = truth.reshape(-1)
    weights = (2.0 * np.arange(1, count + 1) - count - 1) / float(count) ** 2
    result = np.empty(flat_truth.shape, dtype=np.float64)
    step = max(1, CRPS_CHUNK_ELEMENTS // count)
    for start in range(0, flat_truth.size, step):
        stop = min(start + step, flat_truth.size)
        chunk = np.sort(flat_samples[:, start:stop].astype(np.float64), axis=0)
        target = flat_truth[start:stop].astype(np.float64)
        bad = ~(np.isfinite(target) & np.isfinite(chunk).all(axis=0))
        spread = weights @ chunk
        np.subtract(chunk, target, out=chunk)
        np.abs(chunk, out=chunk)
        with np.errstate(invalid="ignore"):  # inf - inf: nan, and left out below
            values = chunk.mean(axis=0) - spread
        values[bad] = math.nan
        result[start:stop] = values
    return result.reshape(truth.shape)


def crps(samples: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Ensemble CRPS (:func:`crps_map`, Gauss) averaged over the counted pixels (mask,
    finite); nan when none counts. samples (N, ..., H, W), truth samples.shape[1:]."""
    values = crps_map(samples, truth)
    counted = np.isfinite(values)
    if mask is not None:
        counted &= np.broadcast_to(np.asarray(mask, dtype=bool), values.shape)
    return float(values[counted].mean()) if counted.any() else math.nan


# --------------------------------------------------------------------------------------
# Recalibration
# --------------------------------------------------------------------------------------

def fit_scale(truth, mean, sigma, mask: np.ndarray | None = None,
              target: float = GAUSSIAN_COVERAGE[1]) -> float:
    """The factor s by which to multiply sigma (and the samples' spread) so that the
    +-1 s sigma interval covers ``target`` of the pixels.

    s is the ``target`` quantile (numpy's linear interpolation) of ``|truth - mean|`` / sigma
    over the counted pixels with sigma > 0. It is fitted once on the validation split
    (pass lists of its truths, means and sigmas: their pixels are pooled) and applied to
    the samples in ``generate`` (:func:`apply_scale`); a test split is then scored with
    the same s. s > 1: the ensemble was over-confident.

    Args:
        truth, mean, sigma: arrays of one shape (Gauss) or lists of them.
        mask: None, a boolean (H, W) array or a list of them.
        target: the coverage wanted, in (0, 1); default 0.6827 (one Gaussian sigma).

    Raises:
        ValueError: no counted pixel has sigma > 0 (a deterministic model has no spread
            to scale), or ``target`` is outside (0, 1).
    """
    if not 0.0 < float(target) < 1.0:
        raise ValueError(f"target coverage must be in (0, 1), got {target}")
    error, sigma = _pixels(truth, mean, sigma, mask)
    spread = sigma > 0
    if not spread.any():
        raise ValueError("no counted pixel has sigma > 0: there is no spread to scale")
    return float(np.quantile(np.abs(error[spread]) / sigma[spread], float(target)))


def apply_scale(samples: np.ndarray, scale: float) -> np.ndarray:
    """Samples with their spread scaled by ``scale`` about the ensemble mean:
    ``mean + scale * (samples - mean)``, the mean over axis 0. The ensemble mean is
    unchanged and :func:`sample_summary`'s sigma becomes ``scale * sigma``.

    Args:
        samples: (N, ...) array, Gauss; scale: factor >= 0 (from :func:`fit_scale`).

    Returns:
        Array of samples' shape; float32 input stays float32, anything else float64.
    """
    scale = float(scale)
    if not scale >= 0:
        raise ValueError(f"scale must be >= 0, got {scale}")
    samples = np.asarray(samples)
    dtype = np.float32 if samples.dtype == np.float32 else np.float64
    mean = samples.mean(axis=0, dtype=np.float64)
    scaled = np.empty(samples.shape, dtype=dtype)
    for index, sample in enumerate(samples):
        scaled[index] = mean + scale * (sample.astype(np.float64) - mean)
    return scaled


def scale_sigma(sigma: np.ndarray, scale: float) -> np.ndarray:
    """sigma scaled by ``scale`` (Gauss, float64): the sigma of :func:`apply_scale`'s
    samples."""
    scale = float(scale)
    if not scale >= 0:
        raise ValueError(f"scale must be >= 0, got {scale}")
    return scale * np.asarray(sigma, dtype=np.float64)


# --------------------------------------------------------------------------------------
# Flux
# --------------------------------------------------------------------------------------

def flux_interval(samples: np.ndarray, pixel_area_cm2: float | np.ndarray,
                  mask: np.ndarray | None = None,
                  quantiles: Sequence[float] = (0.16, 0.5, 0.84),
                  threshold_gauss: float = 0.0) -> dict[str, Any]:
    """Total unsigned flux of each sample and its spread over the samples.

    Each sample's flux is ``sum |B| * area`` (Mx = G cm^2) over the pixels where ``mask``
    holds, B is finite and ``|B| > threshold_gauss`` (default 0: every pixel; pass 10 G
    to match :func:`solarmaggan.metrics.magnetic_flux`'s default).

    Args:
        samples: (N, H, W), Gauss.
        pixel_area_cm2: area of a pixel, cm^2: a scalar (e.g.
            :func:`solarmaggan.metrics.pixel_area_cm2`) or an (H, W) array (e.g. that
            divided by mu, for de-projected fluxes).
        mask: boolean (H, W) or None.
        quantiles: of the per-sample fluxes to report, each in [0, 1] (numpy's linear
            interpolation); by default the 16th, 50th and 84th percentiles.

    Returns:
        JSON-able: ``per_sample_mx`` (N floats), ``median_mx``, ``low_mx`` and
        ``high_mx`` (the first and last of ``quantiles``: by default the 68 % range),
        ``quantiles`` and ``quantile_mx`` (the flux at each).
    """
    samples = np.asarray(samples)
    if samples.ndim != 3 or samples.shape[0] < 1:
        raise ValueError(f"samples must be (N, H, W) with N >= 1, got shape {samples.shape}")
    quantiles = [float(q) for q in quantiles]
    if not quantiles or any(not 0.0 <= q <= 1.0 for q in quantiles):
        raise ValueError(f"quantiles must be in [0, 1], got {quantiles}")
    area = np.asarray(pixel_area_cm2, dtype=np.float64)
    if area.ndim not in (0, 2) or (area.ndim == 2 and area.shape != samples.shape[1:]):
        raise ValueError(f"pixel_area_cm2 must be a scalar or an array of shape "
                         f"{samples.shape[1:]}, got shape {area.shape}")
    counted = (np.ones(samples.shape[1:], dtype=bool) if mask is None
               else np.broadcast_to(np.asarray(mask, dtype=bool), samples.shape[1:]))
    per_sample = []
    for sample in samples:
        field = np.abs(sample.astype(np.float64))
        selected = counted & np.isfinite(field) & (field > float(threshold_gauss))
        per_sample.append(float(np.sum(np.where(selected, field * area, 0.0))))
    values = np.array(per_sample)
    quantile_mx = [float(v) for v in np.quantile(values, quantiles)]
    return {
        "per_sample_mx": per_sample,
        "median_mx": float(np.median(values)),
        "low_mx": quantile_mx[0],
        "high_mx": quantile_mx[-1],
        "quantiles": quantiles,
        "quantile_mx": quantile_mx,
    }


#: Fewest validation pairs :func:`fit_flux_calibration` accepts (with fewer the split-
#: conformal ranks of a 68 % range fall outside the sample).
MIN_CALIBRATION_PAIRS = 10

#: What :func:`fit_flux_calibration` does, as recorded with its result.
FLUX_CALIBRATION_METHOD = "split conformal on ln(true / predicted flux)"


def fit_flux_calibration(predicted_mx: Sequence[float], true_mx: Sequence[float],
                         coverage: float = GAUSSIAN_COVERAGE[1]) -> dict[str, Any]:
    """A flux range calibrated on held-out pairs (a validation split): split conformal
    prediction on the log ratio ``r = ln(true / predicted)``.

    With the n residuals sorted, the range of a new prediction F is
    ``F * exp([r_(k_lo), r_(k_hi)])`` with ``k_lo = floor((n + 1) a / 2)`` and
    ``k_hi = ceil((n + 1) (1 - a / 2))`` (1-based ranks, a = 1 - coverage): for pairs
    exchangeable with the validation ones each side misses with probability <= a / 2.
    The range is multiplicative (a bias in the predicted flux moves it; the samples'
    own spread does not enter).

    Args:
        predicted_mx, true_mx: fluxes (Mx) of the same n regions or images; pairs where
            either is not finite and > 0 are left out.
        coverage: the central probability (default 0.6827, +-1 sigma).

    Returns:
        JSON-able: ``method``, ``coverage``, ``pairs``, ``log_ratio_low``,
        ``log_ratio_high`` (the bounds on ln(true / predicted)), ``log_ratio_median``.

    Raises:
        ValueError: fewer than :data:`MIN_CALIBRATION_PAIRS` usable pairs, or coverage
            outside (0, 1).
    """
    if not 0.0 < coverage < 1.0:
        raise ValueError(f"coverage must lie in (0, 1), got {coverage}")
    predicted = np.asarray(predicted_mx, dtype=np.float64)
    true = np.asarray(true_mx, dtype=np.float64)
    usable = np.isfinite(predicted) & np.isfinite(true) & (predicted > 0) & (true > 0)
    residuals = np.sort(np.log(true[usable] / predicted[usable]))
    n = residuals.size
    alpha = 1.0 - coverage
    low_rank, high_rank = math.floor((n + 1) * alpha / 2.0), math.ceil((n + 1) * (1.0 - alpha / 2.0))
    if n < MIN_CALIBRATION_PAIRS or low_rank < 1 or high_rank > n:
        raise ValueError(f"{n} usable (predicted, true) flux pairs: a {coverage:.0%} range "
                         f"needs at least {MIN_CALIBRATION_PAIRS}")
    return {"method": FLUX_CALIBRATION_METHOD, "coverage": float(coverage), "pairs": int(n),
            "log_ratio_low": float(residuals[low_rank - 1]),
            "log_ratio_high": float(residuals[high_rank - 1]),
            "log_ratio_median": float(np.median(residuals))}


def calibrated_flux_range(flux_mx: Any, calibration: dict[str, Any]) -> tuple[Any, Any]:
    """(low, high) Mx: the range of :func:`fit_flux_calibration` about the predicted
    flux ``flux_mx`` (a number or an array)."""
    flux = np.asarray(flux_mx, dtype=np.float64)
    low = flux * math.exp(float(calibration["log_ratio_low"]))
    high = flux * math.exp(float(calibration["log_ratio_high"]))
    return (float(low), float(high)) if flux.ndim == 0 else (low, high)


#: The header cards of the whole-disk flux calibration (fitted on the validation split,
#: :func:`solarmaggan.uncertainty.fit_flux_calibration`): bounds on ln(true / predicted).
FLUX_CALIBRATION_CARDS = {"FLXCLO": ("log_ratio_low", "ln(true/predicted disk flux), 68 % low"),
                          "FLXCHI": ("log_ratio_high", "ln(true/predicted disk flux), 68 % high"),
                          "FLXCN": ("pairs", "validation images of the flux calibration")}


def flux_calibration_cards(calibration: dict[str, Any]) -> dict[str, Any]:
    """FITS cards ({KEY: (value, comment)}) of a whole-disk flux calibration."""
    return {key: (calibration[name], comment)
            for key, (name, comment) in FLUX_CALIBRATION_CARDS.items()}


def flux_calibration_from_header(header: Any) -> dict[str, Any] | None:
    """The whole-disk flux calibration a generated file's header carries, or None."""
    if not all(key in header for key in FLUX_CALIBRATION_CARDS):
        return None
    return {name: header[key] for key, (name, _) in FLUX_CALIBRATION_CARDS.items()}


# --------------------------------------------------------------------------------------
# Report over a set of images
# --------------------------------------------------------------------------------------

class _Pool:
    """Pixels (error, sigma) and CRPS sums gathered image by image, for one binning and
    the spread factors ``scales``."""

    def __init__(self, scales: Sequence[float]) -> None:
        self.scales = list(scales)
        self.errors: list[np.ndarray] = []
        self.sigmas: list[np.ndarray] = []
        self.crps_sums = [0.0] * len(self.scales)
        self.crps_count = 0

    def add(self, truth: np.ndarray, samples: np.ndarray, mask: np.ndarray | None) -> None:
        mean, sigma = sample_summary(samples)
        error, spread = _pixels(truth, mean, sigma, mask)
        self.errors.append(error)
        self.sigmas.append(spread)
        for index, scale in enumerate(self.scales):
            values = crps_map(samples if scale == 1.0 else apply_scale(samples, scale), truth)
            counted = np.isfinite(values)
            if mask is not None:
                counted &= np.broadcast_to(np.asarray(mask, dtype=bool), values.shape)
            self.crps_sums[index] += float(values[counted].sum())
            if index == 0:
                self.crps_count += int(np.count_nonzero(counted))

    def summary(self, index: int, ks: Sequence[float], n_bins: int) -> dict[str, Any]:
        error = np.concatenate(self.errors) if self.errors else np.zeros(0)
        sigma = self.scales[index] * (np.concatenate(self.sigmas) if self.sigmas
                                      else np.zeros(0))
        empty = error.size == 0
        result: dict[str, Any] = {f"coverage_{k:g}sigma": _coverage(error, sigma, float(k))
                                  for k in ks}
        result.update({
            "crps_gauss": (self.crps_sums[index] / self.crps_count if self.crps_count
                           else math.nan),
            "mean_sigma_gauss": math.nan if empty else float(sigma.mean()),
            "rms_sigma_gauss": math.nan if empty else float(np.sqrt(np.mean(sigma**2))),
            "rmse_gauss": math.nan if empty else float(np.sqrt(np.mean(error**2))),
            "n_pixels": int(error.size),
            "spread_skill": _spread_skill(error, sigma, n_bins),
        })
        return result


def calibration_report(pairs: Iterable[tuple[np.ndarray, np.ndarray]],
                       mask: np.ndarray | None = None, *, scale: float | None = None,
                       ks: Sequence[float] = (1.0, 2.0), factor: int = BIN_FACTOR,
                       n_bins: int = 10) -> dict[str, Any]:
    """Calibration of the ensembles of a set of images, pixels pooled over the images.

    Args:
        pairs: iterable (a generator is fine: one image at a time is held) of
            ``(truth, samples)``: truth (H, W) Gauss, samples (N, H, W) Gauss.
        mask: boolean (H, W), the pixels that count (the disk), or None for all.
        scale: a spread factor from :func:`fit_scale` (fitted on the validation split):
            the report then also scores the scaled samples (:func:`apply_scale`).
        ks: the coverage intervals, +-k sigma.
        factor: block size of the binned scores (8: 8x8 as the binned metrics).
        n_bins: quantile bins of :func:`spread_skill`.

    Returns:
        JSON-able dict: ``n_images``, ``n_samples`` (per image), ``scale`` (or None) and
        ``raw`` (the samples as generated) and, with a scale, ``scaled``; each of those
        holds ``pixel`` and ``binned`` (:func:`bin_images`) scores:
        ``coverage_1sigma``, ``coverage_2sigma`` (one per k), ``crps_gauss`` (mean over
        pixels), ``mean_sigma_gauss``, ``rms_sigma_gauss``, ``rmse_gauss`` (ensemble
        mean against truth), ``n_pixels`` and ``spread_skill``. Everything is pooled
        pixel by pixel (an image with more counted pixels weighs more). Memory: 16 bytes
        per counted pixel and level, kept for the spread-skill bins.
    """
    if scale is not None and not float(scale) >= 0:
        raise ValueError(f"scale must be >= 0, got {scale}")
    labels = {"raw": 1.0} if scale is None else {"raw": 1.0, "scaled": float(scale)}
    pools = {"pixel": _Pool(list(labels.values())), "binned": _Pool(list(labels.values()))}
    n_samples: list[int] = []
    for truth, samples in pairs:
        truth = np.asarray(truth)
        samples = np.asarray(samples)
        if samples.ndim != truth.ndim + 1 or samples.shape[1:] != truth.shape:
            raise ValueError(f"samples {samples.shape} do not match truth {truth.shape}")
        n_samples.append(int(samples.shape[0]))
        pools["pixel"].add(truth, samples, mask)
        pools["binned"].add(*bin_images(truth, samples, mask, factor))
    report: dict[str, Any] = {
        "n_images": len(n_samples),
        "n_samples": n_samples,
        "scale": None if scale is None else float(scale),
        "bin_factor": int(factor),
    }
    for index, label in enumerate(labels):
        report[label] = {level: pool.summary(index, ks, n_bins)
                         for level, pool in pools.items()}
    return report
