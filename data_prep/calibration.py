"""Intensity calibration of EUV images: DN/s (AIA, EUVI; EUI/FSI level 2 already is), AIA
degradation, matching EUVI and EUI/FSI intensities to AIA's.

Each function returns the calibrated values together with a short text record of what it
did (or why it did nothing); :func:`data_prep.prepare.prepare_map` writes these records as
HISTORY cards of the output header and the pair file keeps them.

Pixel arrays are numpy (H, W); units are stated per function.
"""

from __future__ import annotations

from typing import Any

import numpy as np

MEDIAN_TARGET_DN_S = 100.0  # AISFM 2.0: scale EUV images so the on-disk median is 100


def _header_value(meta: Any, key: str, name: str) -> float:
    value = meta.get(key.lower(), meta.get(key.upper()))
    if value is None:
        from data_prep.fitsio import FitsInputError

        raise FitsInputError(f"{name}: missing header keyword {key.upper()}")
    return float(value)


def is_per_second(meta: Any) -> bool:
    """True if BUNIT says the data are already a rate (DN/s, counts/s)."""
    unit = str(meta.get("bunit", meta.get("BUNIT", ""))).replace(" ", "").lower()
    return unit.endswith("/s") or unit.endswith("s-1") or unit.endswith("s^-1")


def exposure_normalize(data: np.ndarray, meta: Any, name: str) -> tuple[np.ndarray, str]:
    """DN -> DN/s: divide by EXPTIME (s), unless BUNIT already says per second."""
    if is_per_second(meta):
        return data, "exposure: already per second (BUNIT), unchanged"
    exposure_s = _header_value(meta, "EXPTIME", name)
    if not exposure_s > 0:
        from data_prep.fitsio import FitsInputError

        raise FitsInputError(f"{name}: exposure anomaly: EXPTIME = {exposure_s} s")
    rate = np.divide(data, np.float32(exposure_s), dtype=np.float32)  # one pass, any input dtype
    return rate, f"exposure: divided by EXPTIME = {exposure_s:g} s -> DN/s"


def euvi_calibrate(data: np.ndarray, meta: Any, name: str) -> tuple[np.ndarray, list[str]]:
    """A minimal stand-in for SolarSoft's secchi_prep on level-0 EUVI images.

    Subtracts BIASMEAN (DN) unless the header says the bias is already removed (OFFSETCR
    non-zero, or BUNIT per second), divides by EXPTIME (s), and divides by 4**(SUMMED - 1)
    so that 2x2-summed images are per unsummed pixel (DN/s). Level-1 inputs (already DN/s)
    are left as they are.
    """
    if is_per_second(meta):
        return data, ["euvi: already per second (level 1), unchanged"]
    steps = []
    offset_corrected = float(meta.get("offsetcr", 0.0) or 0.0)
    if offset_corrected:
        steps.append(f"euvi bias: already subtracted on board (OFFSETCR = {offset_corrected:g})")
    else:
        bias_dn = _header_value(meta, "BIASMEAN", name)
        data = data - bias_dn
        steps.append(f"euvi bias: subtracted BIASMEAN = {bias_dn:g} DN")
    data, step = exposure_normalize(data, meta, name)
    steps.append(step)
    summed = float(meta.get("summed", 1.0) or 1.0)
    if summed > 1:
        data = data / 4.0 ** (summed - 1)
        steps.append(f"euvi summing: divided by 4**(SUMMED - 1) = {4.0 ** (summed - 1):g}")
    return data, steps


def fsi_calibrate(data: np.ndarray, meta: Any, name: str) -> tuple[np.ndarray, list[str]]:
    """Solar Orbiter EUI/FSI level 2: already calibrated to DN/s by euiprep (dark, flat
    field, exposure, pointing), so the values are kept as they are.

    Raises FitsInputError (naming the file) when BUNIT does not say a rate (DN/s): such a
    file is not what euiprep writes, and its values cannot be matched to AIA's DN/s.
    (Level 1, raw DN, is refused before this by :func:`data_prep.fitsio.check_fsi_image`.)
    """
    unit = meta.get("bunit", meta.get("BUNIT"))
    if not is_per_second(meta):
        from data_prep.fitsio import FitsInputError

        raise FitsInputError(f"{name}: an EUI/FSI level-2 file whose BUNIT = {unit!r} is not "
                             "a rate; euiprep's level 2 is in DN/s")
    return data, [f"fsi: level 2, {str(unit).strip()} as calibrated by euiprep, unchanged"]


def aia_degradation(solar_map: Any, correction_table: Any = None) -> tuple[Any, str]:
    """AIA degradation correction through aiapy, when it is installed and a correction
    table (a file path or an astropy Table) is given; never downloads. Returns the map
    (corrected or unchanged) and the record."""
    if correction_table is None:
        return solar_map, "aia degradation: not applied (no correction table given)"
    try:
        from aiapy.calibrate import correct_degradation
    except ImportError:
        return solar_map, "aia degradation: not applied (aiapy is not installed)"
    if isinstance(correction_table, (str, bytes)) or hasattr(correction_table, "__fspath__"):
        from astropy.table import QTable

        correction_table = QTable.read(correction_table)
    corrected = correct_degradation(solar_map, correction_table=correction_table)
    return corrected, "aia degradation: corrected with aiapy and the given table"


def median_normalize(
    data_dn_s: np.ndarray, on_disk: np.ndarray, target_dn_s: float = MEDIAN_TARGET_DN_S
) -> tuple[np.ndarray, str]:
    """Scale an EUV image so its on-disk median is ``target_dn_s`` (AISFM 2.0's EUVI-to-AIA
    intercalibration; it also removes AIA's slow degradation).

    ``on_disk``: boolean (H, W) mask of the pixels whose median counts.
    """
    median = float(np.nanmedian(data_dn_s[on_disk]))
    if not median > 0:
        raise ValueError(f"the on-disk median is {median:g} DN/s; cannot scale it to {target_dn_s}")
    factor = target_dn_s / median
    return data_dn_s * factor, f"median: on-disk median {median:.4g} DN/s scaled to {target_dn_s:g} (x{factor:.4g})"


def histogram_match(
    data_dn_s: np.ndarray, on_disk: np.ndarray, reference_dn_s: np.ndarray
) -> tuple[np.ndarray, str]:
    """Map the on-disk intensity distribution onto that of ``reference_dn_s`` (on-disk
    values of an AIA reference image, any shape) by quantile matching; off-disk pixels go
    through the same monotonic mapping, values beyond the on-disk range clamped to the
    reference's extremes."""
    reference = np.sort(np.asarray(reference_dn_s, dtype=np.float64).ravel())
    reference = reference[np.isfinite(reference)]
    source = np.sort(data_dn_s[on_disk & np.isfinite(data_dn_s)].astype(np.float64))
    if len(reference) < 2 or len(source) < 2:
        raise ValueError("histogram matching needs finite on-disk pixels in both images")
    quantiles = np.linspace(0.0, 1.0, 1001)
    source_levels = np.quantile(source, quantiles)
    reference_levels = np.quantile(reference, quantiles)
    source_levels, unique = np.unique(source_levels, return_index=True)
    matched = np.interp(data_dn_s, source_levels, reference_levels[unique])
    return matched, "histogram: on-disk intensities matched to the reference's quantiles"
