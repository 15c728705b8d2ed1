"""Synchronic full-Sun maps of the radial field from several line-of-sight magnetograms
(Jeong et al. 2020 style): observed ones (SDO/HMI near side, ...) and AI-generated far-side
ones (``solarmaggan generate``), combined on one full-Sun grid at one time.

Steps, per input magnetogram (a FITS file sunpy opens as a helioprojective map in Gauss or
Mx/cm^2, with observer keywords):

1. Radial field B_r = B_LOS / mu (G) on the disk where mu >= ``mu_min`` (mu: cosine between
   the local vertical and the direction to the observer, at the observer's finite
   distance; :class:`data_prep.toysun.views.ViewGeometry` traces the rays through the
   header's WCS). Elsewhere NaN.
2. Rotated to the map time with differential rotation (sunpy's
   ``propagate_with_solar_surface``, Howard et al. rates) and reprojected onto the full-Sun
   cylindrical equal-area grid of :func:`data_prep.geometry.full_sun_header` (Carrington
   or Stonyhurst): B_r is first block-averaged to about the map's pixel size at disk centre
   (sunpy's ``superpixel``, the mean of the block's finite pixels, so that blocks cut by the
   ``mu_min`` boundary keep their valid part), then interpolated bilinearly (``reproject_interp``). A
   1024-px full-disk image has ~8 pixels per heliographic degree at disk centre, far finer
   than a 1-degree map pixel: plain point interpolation aliases, averaging first keeps the
   unsigned flux. reproject's adaptive (averaging, ``conserve_flux=False`` since B_r is a
   flux density) algorithm is the alternative (``algorithm="adaptive"``); measured on three
   1024-px views of the analytic field of tests/test_synchronic.py onto 180 x 360: both keep
   the unsigned flux of covered pixels (block average -0.03 %, adaptive -0.17 %; with 300
   0.8-deg spots against the pixel-averaged truth -0.9 % and -1.9 %), the block average
   in 1.4 s against 4.8 s (docs/benchmarks.md), so it is the default (:data:`REPROJECTION`).
   Output pixels whose mu (towards that observer, at its time) is below ``mu_min``,
   including all of its far side, are not covered by it.
3. Blended with weights mu**K (K = ``weight_power``, default 2): the LOS noise sigma of a
   magnetogram becomes sigma / mu in B_r, so mu**2 is the inverse-variance weight. Where
   observed and generated inputs both cover a pixel, the observed data win (the generated
   ones only fill pixels no observed input covers) unless ``blend_generated``.
4. Gaps (poles, longitudes no input covers) are filled from an older full-Sun map
   (``fill``: synoptic or synchronic, CEA or CAR, e.g. hmi.Synoptic_Mr, GONG; not ADAPT's
   3-D files of realisations),
   treated as fixed in Carrington longitude, else by the row model: each latitude row's
   gap pixels take the mean of that row's covered pixels, rows without coverage the mean
   of the nearest covered row (also for pixels the fill map leaves NaN). The result is
   finite everywhere.
5. ``balance`` subtracts the mean B_r (CEA pixels have equal areas), removing the monopole.

Output FITS: primary HDU float32 B_r (G) with the full-Sun CEA header (``sunpy.map.Map(OUT)``
opens it as the full-Sun map, sunkit-magex's ``pfss.Input`` takes that map unchanged),
provenance keywords (per input i:
IFILEi, IINSTi, IKINDi observed/generated, ILONi/ILATi Stonyhurst observer longitude and
latitude (deg), IDISTi distance (AU), IDATEi; NINPUTS, FILLFILE or FILLMOD, MUMIN,
WPOWER, FRAME, BLENDGEN, BALANCE/NETFLUX), and the extensions ``SOURCE`` (int16: the index,
0-based in input order, of the input with the largest weight at each pixel; -1 where
filled) and ``AGE`` (float32 hours: map time minus that input's observation time; at
filled pixels the fill map's age, NaN for the row model or a fill map without a time), each
a one-row binary table whose cell is the (rows, columns) layer on the primary grid, so that
sunpy does not open them as maps (:func:`read_layers` reads them).
A PNG quicklook beside it (OUT.png).

Uncertainty (from ``solarmaggan generate --samples``: AI-generated inputs whose primary HDU
is the mean of N samples, with an ``UNCERTAINTY`` layer, their per-pixel standard deviation
in G, and optionally a ``SAMPLES`` layer, the (N, rows, columns) samples; see
:func:`uncertainty_mode`). The primary B_r is always the map of the mean files, as above.

- ``samples`` (every AI-generated input has SAMPLES, all with the same N): one synchronic
  map per sample index k, made as the primary one from sample k of each generated input and
  the unchanged observed inputs (same weights, observed-win rule, fill, row model and
  ``balance``, each sample balanced by its own mean). The samples go through the same
  reprojection call as the mean (reproject's leading broadcast dimension: the coordinate
  transforms are made once per input). Layers ``SAMPLES`` (float32 (N, rows, columns), G)
  and ``UNCERTAINTY``: their population standard deviation per pixel (ddof 0, as generate).
- ``propagated`` (every AI-generated input has UNCERTAINTY, not all SAMPLES): sigma_Br =
  sigma_LOS / mu goes the path of B_r (block average, bilinear interpolation: the errors
  are taken as fully correlated within a block, an upper bound for independent pixel
  errors), blended as sqrt(sum w_i^2 sigma_i^2) / sum w_i (independent inputs, observed
  ones sigma 0); row-model pixels take the row's mean sigma (correlated again), fill-map
  pixels 0; ``balance`` leaves it unchanged. Layer ``UNCERTAINTY`` only.

Either way UNCERTAINTY is 0 where only observed inputs contribute (or the fill map) and
covers only the spread of the AI-generated inputs, not that of the observations or of the
fill model. Header: UNCMODE (samples / propagated), UNCMETH (the inputs' sampling method),
NSAMPLES, UNCSCALE (the inputs' calibration scale, when they share one).
:func:`read_uncertainty` reads the layers.

Imports no TensorFlow.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import math
import os
import warnings
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
from astropy.io import fits

from data_prep import fitsio
from data_prep.atomic import atomic_path
from data_prep.fitsio import (FitsInputError, check_observer, is_los_magnetogram,
                              observation_time, open_map, read_header)
from data_prep.geometry import (FULL_SUN_FRAMES, RSUN_REF_M, check_full_sun_shape,
                                full_sun_header, full_sun_pixel_area_cm2)
from data_prep.progress import Progress

#: Inputs may lie at most this far apart in time, and from the map time (hours): beyond a
#: week differential rotation shears active regions by tens of degrees and they evolve.
MAX_SPAN_HOURS = 7 * 24.0
#: How each input's B_r reaches the map grid: "interpolation" (block-average B_r to about
#: the map's pixel size, then bilinear reproject_interp; the default, faster and at least as
#: flux-faithful, see the module docstring) or "adaptive" (reproject_adaptive, averaging).
REPROJECTION = "interpolation"
REPROJECTIONS = ("interpolation", "adaptive")
#: At most this many inputs: the provenance keys (IFILE999) have 8 characters.
MAX_INPUTS = 999
AU_M = 149_597_870_700.0
KINDS = ("observed", "generated")


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence sunpy's and astropy's warnings and log chatter (metadata fixes, ...)."""
    loggers = [logging.getLogger(name) for name in ("sunpy", "astropy", "reproject")]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels):
                logger.setLevel(level)


@dataclasses.dataclass
class SynchronicSettings:
    """Settings of a synchronic map.

    Attributes:
        time: the map time (ISO, UTC); None: the latest input's observation time.
        frame: 'carrington' (longitude 0..360 deg) or 'stonyhurst' (-180..180 deg, Earth's
            central meridian at 0).
        shape: (rows, columns) = (latitude, longitude) pixels, each even.
        mu_min: inputs are used where mu >= mu_min (0 < mu_min < 1).
        weight_power: K of the weights mu**K (>= 0; 2 = inverse variance).
        balance: subtract the mean B_r (zero net flux).
        blend_generated: blend generated with observed data where both cover (default:
            observed win).
    """

    time: str | None = None
    frame: str = "carrington"
    shape: tuple[int, int] = (180, 360)
    mu_min: float = 0.1
    weight_power: float = 2.0
    balance: bool = False
    blend_generated: bool = False

    def check(self) -> list[str]:
        """The problems of these settings (empty if none), one line each."""
        problems = []
        if self.time is not None:
            try:
                _time(self.time)
            except ValueError:
                problems.append(f"time: cannot read {self.time!r} as a time (ISO, UTC)")
        if self.frame not in FULL_SUN_FRAMES:
            problems.append(f"frame must be one of {FULL_SUN_FRAMES}, got {self.frame!r}")
        try:
            check_full_sun_shape(tuple(self.shape) if isinstance(self.shape, list) else self.shape)
        except ValueError as err:
            problems.append(str(err))
        if not (isinstance(self.mu_min, (int, float)) and 0.0 < self.mu_min < 1.0):
            problems.append(f"mu_min must be between 0 and 1 (exclusive), got {self.mu_min!r}")
        if not (isinstance(self.weight_power, (int, float)) and math.isfinite(self.weight_power)
                and self.weight_power >= 0.0):
            problems.append(f"weight_power must be a finite number >= 0, got {self.weight_power!r}")
        return problems


@dataclasses.dataclass
class SynchronicMap:
    """A synchronic map (see the module docstring).

    Attributes:
        br_gauss: (nlat, nlon) float64 radial field (G), finite everywhere.
        source: (nlat, nlon) int16 index of the input with the largest weight, -1 filled.
        age_hours: (nlat, nlon) float32 map time minus the source's observation time (h).
        header: the primary HDU's header (full-Sun CEA WCS, provenance).
        inputs: per input: path, instrument, kind, observer_lon_deg, observer_lat_deg
            (Stonyhurst), observer_distance_au, time (ISO), age_hours.
        balance_gauss: the mean removed by ``balance`` (G), None without it.
        uncertainty_gauss: (nlat, nlon) float64 standard deviation of B_r (G) from the
            AI-generated inputs' samples or sigma (module docstring), None without them.
        samples_gauss: (N, nlat, nlon) float64 B_r (G) of each sample index (mode
            'samples'), None otherwise.
    """

    br_gauss: np.ndarray
    source: np.ndarray
    age_hours: np.ndarray
    header: fits.Header
    inputs: list[dict[str, Any]]
    balance_gauss: float | None = None
    uncertainty_gauss: np.ndarray | None = None
    samples_gauss: np.ndarray | None = None

    def to_map(self):
        """The map as a ``sunpy.map.GenericMap`` (B_r in G)."""
        import sunpy.map

        with quiet():
            return sunpy.map.Map(self.br_gauss, self.header)


@dataclasses.dataclass
class _Input:
    """One checked input magnetogram."""

    path: Path
    map: Any  # sunpy.map.GenericMap
    header: fits.Header
    kind: str  # observed / generated
    instrument: str
    time: Any  # astropy Time, the map's reference date
    observer: Any  # SkyCoord, HeliographicStonyhurst
    #: generated inputs: their UNCERTAINTY (rows, cols) and SAMPLES (N, rows, cols) layers, G
    layers: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)


def _time(value: Any):
    from astropy.time import Time

    return Time(value, scale="utc")


def is_generated(header: fits.Header) -> bool:
    """True for an AI-generated magnetogram (TELESCOP 'solarmaggan' or CONTENT starting
    'AI-GENERATED'), False for an observed (or toy-truth) one."""
    return (str(header.get("TELESCOP", "")).strip().lower() == "solarmaggan"
            or str(header.get("CONTENT", "")).strip().upper().startswith("AI-GENERATED"))


def check_input(path: str | os.PathLike) -> fits.Header:
    """The header of one input magnetogram, checked without reading its image: a
    helioprojective line-of-sight magnetogram with observer keywords and a readable time;
    FitsInputError "PATH: problem" otherwise."""
    name = str(path)
    header = read_header(path)
    if not is_los_magnetogram(header):
        raise FitsInputError(f"{name}: not a line-of-sight magnetogram (BUNIT "
                             f"{header.get('BUNIT')!r}, WAVELNTH {header.get('WAVELNTH')!r})")
    if not str(header.get("CTYPE1", "")).upper().startswith("HPLN"):
        raise FitsInputError(f"{name}: not a helioprojective image (CTYPE1 "
                             f"{header.get('CTYPE1')!r}); synchronic takes line-of-sight "
                             "magnetograms as observed")
    check_observer(header, name)
    observation_time(header, name)  # a readable time, or a one-line error
    return header


def read_input(path: str | os.PathLike) -> _Input:
    """Read and check one input magnetogram; FitsInputError "PATH: problem" if it is not a
    helioprojective line-of-sight magnetogram with observer keywords and finite pixels."""
    from sunpy.coordinates import HeliographicStonyhurst

    name = str(path)
    header = check_input(path)
    with quiet():
        solar_map = open_map(path)
    data = np.asarray(solar_map.data, dtype=np.float64)
    if data.ndim != 2 or not np.isfinite(data).any():
        raise FitsInputError(f"{name}: the image has no finite pixel (all NaN or inf)")
    with quiet():
        observer = solar_map.observer_coordinate.transform_to(
            HeliographicStonyhurst(obstime=solar_map.reference_date))
    generated = is_generated(header)
    labels = ("SRCOBS", "SRCTELE") if generated else ("OBSRVTRY", "TELESCOP", "INSTRUME")
    label = " ".join(dict.fromkeys(str(header[k]) for k in labels if header.get(k)))
    if generated:
        label = f"AI from {label or 'unknown'}"
    layers = _input_layers(name, data.shape) if generated else {}
    return _Input(Path(path), solar_map, header, "generated" if generated else "observed",
                  label or "unknown", solar_map.reference_date.utc, observer, layers)


def _input_layers(name: str, shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """The UNCERTAINTY and SAMPLES layers an AI-generated input has (:func:`read_uncertainty`),
    checked against its image ``shape`` (rows, columns); FitsInputError "PATH: problem"."""
    layers = read_uncertainty(name)
    for layer, values in layers.items():
        stack = layer == "SAMPLES"
        if values.ndim != 2 + stack or values.shape[-2:] != shape or values.shape[0] < 1:
            raise FitsInputError(f"{name}: its {layer} layer has shape {values.shape}, not "
                                 f"({'N, ' if stack else ''}{shape[0]}, {shape[1]}) as the image")
    return layers


def read_fill(path: str | os.PathLike, needed_by: str = "a fill map must be"):
    """A full-Sun map (synoptic/synchronic, CEA or CAR) to fill gaps from, checked;
    FitsInputError "PATH: problem" otherwise (``needed_by`` begins the reason: "a fill
    map must be", "transport needs", ...)."""
    from sunkit_magex.pfss.utils import is_full_sun_synoptic_map

    name = str(path)
    read_header(path)  # a readable FITS image, or a one-line error
    with quiet():
        fill = open_map(path)
    try:
        with quiet():
            full = bool(is_full_sun_synoptic_map(fill))
    except (NotImplementedError, ValueError, KeyError, TypeError):
        full = False
    if not full:
        raise FitsInputError(f"{name}: not a full-Sun map ({needed_by} a CEA or CAR "
                             f"map spanning 360 x 180 deg; CTYPE {fill.meta.get('ctype1')!r}, "
                             f"{fill.meta.get('ctype2')!r})")
    if not np.isfinite(np.asarray(fill.data, dtype=np.float64)).any():
        raise FitsInputError(f"{name}: the image has no finite pixel (all NaN or inf)")
    return fill


def check_carrington_cea(full_sun, path: str | os.PathLike, needed_by: str) -> None:
    """FitsInputError "PATH: NEEDED_BY a Carrington CEA map ..." unless ``full_sun`` (a
    sunpy map) is in Carrington longitude and sine latitude (CTYPE CRLN-CEA, CRLT-CEA)."""
    ctype = (str(full_sun.meta.get("ctype1", "")).upper(), str(full_sun.meta.get("ctype2", "")).upper())
    if ctype != ("CRLN-CEA", "CRLT-CEA"):
        raise FitsInputError(f"{path}: {needed_by} a Carrington CEA map (CTYPE CRLN-CEA, "
                             f"CRLT-CEA: rows equal in sine latitude), got {ctype[0]!r}, {ctype[1]!r}")


def _fill_time(fill):
    """The fill map's time (sunpy's reference date, UTC), or None if its header has none."""
    if not any(key in fill.meta for key in ("date-obs", "date_obs", "t_obs", "date-avg", "date")):
        return None
    with quiet():
        return fill.reference_date.utc


def check_times(inputs: Sequence[_Input], map_time) -> None:
    """Refuse inputs further than MAX_SPAN_HOURS apart, or from ``map_time``."""
    limit = f"the limit is {MAX_SPAN_HOURS / 24:g} days (MAX_SPAN_HOURS)"
    first = min(inputs, key=lambda item: item.time)
    for item in inputs:
        apart = (item.time - first.time).to_value("h")
        if apart > MAX_SPAN_HOURS:
            raise ValueError(f"{item.path}: observed {item.time.isot[:19]}, {apart / 24:.2f} days "
                             f"after {first.path} ({first.time.isot[:19]}); {limit}")
    for item in inputs:
        offset = abs((item.time - map_time).to_value("h"))
        if offset > MAX_SPAN_HOURS:
            raise ValueError(f"{item.path}: observed {item.time.isot[:19]}, {offset / 24:.2f} days "
                             f"from the map time {map_time.isot[:19]}; {limit}")


def radial_field(item: _Input, mu_min: float, data: np.ndarray | None = None) -> np.ndarray:
    """(NAXIS2, NAXIS1) B_r = B_LOS / mu (G) of one input, NaN where mu < ``mu_min``, off
    the disk or where the data are NaN. ``data``: (..., NAXIS2, NAXIS1) line-of-sight values
    on the input's pixels instead of its image (a stack of samples, or sigma: sigma / mu),
    giving (..., NAXIS2, NAXIS1)."""
    from data_prep.toysun.views import ViewGeometry

    header = fits.Header([card for card in item.header.cards
                          if card.keyword not in ("HISTORY", "COMMENT", "")])
    observer = item.observer
    header["HGLN_OBS"] = float(observer.lon.wrap_at("180d").deg)
    header["HGLT_OBS"] = float(observer.lat.deg)
    header["DSUN_OBS"] = float(observer.radius.to_value("m"))
    if "RSUN_REF" not in header:
        header["RSUN_REF"] = RSUN_REF_M
    with quiet():
        mu = ViewGeometry(header, carrington_offset_deg=0.0).mu
    data = np.asarray(item.map.data if data is None else data, dtype=np.float64)
    if mu.shape != data.shape[-2:]:
        raise FitsInputError(f"{item.path}: the header's NAXIS1/2 {mu.shape[::-1]} do not match "
                             f"the image {data.shape[:-3:-1]}")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(mu >= mu_min, data / mu, np.nan)


def _mu_towards(coords, item: _Input) -> np.ndarray:
    """mu of the map's pixel coordinates ``coords`` (SkyCoord on the surface at the map
    time) towards ``item``'s observer at its time (negative on its far side); call inside
    ``propagate_with_solar_surface``."""
    from sunpy.coordinates import Heliocentric

    local = coords.transform_to(Heliocentric(observer=item.observer, obstime=item.time))
    x, y, z = (getattr(local, axis).to_value("m") for axis in ("x", "y", "z"))
    distance = float(item.observer.radius.to_value("m"))
    rsun = np.sqrt(x**2 + y**2 + z**2)
    return (z * distance - rsun**2) / (rsun * np.sqrt(x**2 + y**2 + (distance - z) ** 2))


def reproject_input(br: np.ndarray, item: _Input, out_wcs, shape: tuple[int, int],
                    algorithm: str = REPROJECTION) -> np.ndarray:
    """(nlat, nlon) B_r of one input on the map grid (G, NaN where it has no data), after
    differential rotation to the map time; call inside ``propagate_with_solar_surface``.
    ``br`` may be a stack (K, NAXIS2, NAXIS1) on the input's pixels (B_r of samples, sigma):
    each layer takes the same path, the coordinate transforms are made once (reproject's
    broadcast leading dimension), giving (K, nlat, nlon)."""
    if algorithm == "adaptive":
        from reproject import reproject_adaptive

        result, _ = reproject_adaptive((br, item.map.wcs), out_wcs, shape_out=shape,
                                       conserve_flux=False, bad_value_mode="ignore",
                                       boundary_mode="strict")
        return result
    if algorithm != "interpolation":
        raise ValueError(f"algorithm must be one of {REPROJECTIONS}, got {algorithm!r}")
    import astropy.units as u
    import sunpy.map
    from reproject import reproject_interp

    # block-average to about the map's smallest pixel size at disk centre
    map_pixel_deg = min(360.0 / shape[1], math.degrees(2.0 / shape[0]))
    px_per_deg = (item.map.rsun_obs.to_value("arcsec") * math.pi / 180.0
                  / float(item.map.scale.axis1.to_value("arcsec / pix")))
    factor = max(int(map_pixel_deg * px_per_deg), 1)
    layers = [sunpy.map.Map(layer, item.map.meta) for layer in np.reshape(br, (-1, *br.shape[-2:]))]
    if factor > 1:
        layers = [layer.superpixel([factor, factor] * u.pix, func=np.nanmean) for layer in layers]
    binned = np.stack([layer.data for layer in layers]).reshape(*br.shape[:-2], *layers[0].data.shape)
    result, _ = reproject_interp((binned, layers[0].wcs), out_wcs, shape_out=shape)
    return result


def input_on_grid(item: _Input, grid_wcs, coords, mu_min: float,
                  stack: np.ndarray | None = None, algorithm: str = REPROJECTION
                  ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """One input on the full-Sun grid (WCS ``grid_wcs``, pixel coordinates ``coords``, the
    grid's time): its B_r (nlat, nlon) (G; steps 1-2 of the module docstring, NaN where
    the input does not cover the pixel, mu < ``mu_min``), the line-of-sight layers ``stack``
    (K, NAXIS2, NAXIS1) (samples or sigma, G) taken the same path, (K, nlat, nlon) (NaN
    where not covered; None without a stack), and mu towards the input's observer
    (nlat, nlon; negative on its far side)."""
    from sunpy.coordinates import propagate_with_solar_surface

    data = None if stack is None else np.concatenate([item.map.data[None], stack])
    radial = radial_field(item, mu_min, data)
    shape = coords.shape
    with quiet(), propagate_with_solar_surface():
        reprojected = reproject_input(radial, item, grid_wcs, shape, algorithm)
        mu = _mu_towards(coords, item)
    br = reprojected if stack is None else reprojected[0]
    covered = np.isfinite(br) & (mu >= mu_min)
    br = np.where(covered, br, np.nan)
    extra = None if stack is None else np.where(covered, reprojected[1:], np.nan)
    return br, extra, mu


def row_model(br: np.ndarray, covered: np.ndarray) -> np.ndarray:
    """(nlat, nlon) gap model: each row's mean of its ``covered`` pixels, rows without any
    the mean of the nearest covered row (ties: the lower row). Needs a covered pixel."""
    counts = covered.sum(axis=1)
    rows = np.flatnonzero(counts)
    if rows.size == 0:
        raise ValueError("no input covers any pixel of the map")
    means = np.where(covered, br, 0.0).sum(axis=1)[rows] / counts[rows]
    nearest = rows[np.abs(np.arange(br.shape[0])[:, None] - rows[None, :]).argmin(axis=1)]
    row_means = np.zeros(br.shape[0])
    row_means[rows] = means
    return np.repeat(row_means[nearest][:, None], br.shape[1], axis=1)


def blend(br: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The weighted mean over inputs of ``br`` (count, nlat, nlon) (G) with ``weight``
    (count, nlat, nlon), an input counting only where its B_r is finite: (blended, NaN where
    no input counts; covered, bool), each (nlat, nlon)."""
    weight = np.where(np.isfinite(br), weight, 0.0)
    total = weight.sum(axis=0)
    covered = total > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(covered, (weight * np.nan_to_num(br)).sum(axis=0) / total, np.nan), covered


def complete(blended: np.ndarray, covered: np.ndarray, fill_values: np.ndarray | None) -> np.ndarray:
    """(nlat, nlon) finite map: ``blended`` where ``covered``, else the fill map's values
    (``fill_values``, on the map grid, None without a fill map) where finite, else the
    :func:`row_model`."""
    result = np.where(covered, blended, row_model(blended, covered))
    if fill_values is not None:
        result = np.where(~covered & np.isfinite(fill_values), fill_values, result)
    return result


def uncertainty_mode(items: Sequence[_Input]) -> str | None:
    """How the map's uncertainty comes from its AI-generated inputs (module docstring):
    'samples' when each has a SAMPLES layer, 'propagated' when each has an UNCERTAINTY (or
    SAMPLES) layer but not all SAMPLES, None when none has either.

    Raises:
        FitsInputError: SAMPLES layers of different lengths, or some generated inputs with
            a layer and others without (their spread would be left out), naming the file.
    """
    generated = [item for item in items if item.kind == "generated"]
    sampled = [item for item in generated if "SAMPLES" in item.layers]
    for item in sampled[1:]:
        count, first = len(item.layers["SAMPLES"]), len(sampled[0].layers["SAMPLES"])
        if count != first:
            raise FitsInputError(f"{item.path}: {count} samples, but {sampled[0].path} has "
                                 f"{first}; the AI-generated inputs must have the same number "
                                 "(generate --samples N)")
    layered = [item for item in generated if item.layers]
    if not layered:
        return None
    for item in generated:
        if not item.layers:
            raise FitsInputError(f"{item.path}: AI-generated without an UNCERTAINTY or SAMPLES "
                                 f"layer, while {layered[0].path} has one; the map's uncertainty "
                                 "would leave it out (give all generated inputs layers, or none)")
    return "samples" if len(sampled) == len(generated) else "propagated"


def _uncertainty_stack(item: _Input, mode: str | None) -> np.ndarray | None:
    """The line-of-sight layers (K, rows, cols) (G) of ``item`` that go beside its image:
    its samples ('samples'), its sigma as (1, rows, cols) ('propagated': UNCERTAINTY, or
    the samples' standard deviation); None for observed inputs or without a mode."""
    if mode is None or item.kind != "generated":
        return None
    if mode == "samples":
        return item.layers["SAMPLES"]
    if "UNCERTAINTY" in item.layers:
        return item.layers["UNCERTAINTY"][None]
    return np.std(item.layers["SAMPLES"], axis=0, dtype=np.float64)[None]


def _common(items: Sequence[_Input], key: str) -> Any:
    """The value of header ``key`` shared by every AI-generated input, else None."""
    values = {item.header.get(key) for item in items if item.kind == "generated"}
    return values.pop() if len(values) == 1 else None


def build_synchronic(
    inputs: Sequence[str | os.PathLike],
    settings: SynchronicSettings,
    fill: str | os.PathLike | None = None,
    progress: bool = False,
    *,
    algorithm: str = REPROJECTION,
) -> SynchronicMap:
    """Combine line-of-sight magnetograms ``inputs`` (FITS paths) into a synchronic map.

    Checks everything first (settings, every input, the fill map, the times) and raises
    ValueError / FitsInputError "PATH: problem" (see the module docstring for the method).
    AI-generated inputs with UNCERTAINTY / SAMPLES layers give the map an uncertainty
    (``uncertainty_gauss``, and ``samples_gauss`` in mode 'samples'; :func:`uncertainty_mode`).
    ``algorithm``: :data:`REPROJECTIONS`, for comparisons only.
    """
    import astropy.units as u
    import sunpy.map

    problems = settings.check()
    if problems:
        raise ValueError("; ".join(problems))
    if not inputs:
        raise ValueError("no input magnetograms given")
    if len(inputs) > MAX_INPUTS:
        raise ValueError(f"{len(inputs)} inputs: at most {MAX_INPUTS} (8-character provenance keys)")
    shape = check_full_sun_shape(tuple(settings.shape))
    items = [read_input(path) for path in inputs]
    fill_map = read_fill(fill) if fill is not None else None
    map_time = _time(settings.time) if settings.time else max(item.time for item in items)
    check_times(items, map_time)
    mode = uncertainty_mode(items)

    header = full_sun_header(map_time, shape, settings.frame)
    with quiet():
        grid = sunpy.map.Map(np.zeros(shape), header)
        coords = sunpy.map.all_coordinates_from_map(grid)
    count = len(items)
    br = np.full((count, *shape), np.nan)
    weight = np.zeros((count, *shape))
    # per input: its samples (K, nlat, nlon) or sigma (1, nlat, nlon) B_r on the map grid
    extra: list[np.ndarray | None] = [None] * count
    bar = Progress(count, "synchronic", unit="inputs", enabled=progress, every=1)
    for index, item in enumerate(items):
        br[index], extra[index], mu = input_on_grid(item, grid.wcs, coords, settings.mu_min,
                                                    _uncertainty_stack(item, mode), algorithm)
        covered = np.isfinite(br[index])
        weight[index] = np.where(covered, np.clip(mu, 0.0, 1.0) ** settings.weight_power, 0.0)
        bar.update()
    bar.close()

    generated = np.array([item.kind == "generated" for item in items])
    if not settings.blend_generated and generated.any() and (~generated).any():
        observed_cover = (weight[~generated] > 0).any(axis=0)
        weight[generated] = np.where(observed_cover, 0.0, weight[generated])
    blended, covered = blend(br, weight)
    source = np.where(covered, weight.argmax(axis=0), -1).astype(np.int16)
    ages = np.array([(map_time - item.time).to_value(u.h) for item in items])
    age = np.where(covered, ages[np.clip(source, 0, None)], np.nan).astype(np.float32)

    fill_record: dict[str, Any] = {"FILLMOD": "row mean"}
    values = None
    if fill_map is not None:
        fill_time = _fill_time(fill_map)
        with quiet():
            # fixed in Carrington longitude: the fill map's WCS dated to the map time
            wcs = fill_map.wcs.deepcopy()
            wcs.wcs.dateobs = wcs.wcs.dateavg = map_time.isot
            wcs.wcs.mjdobs = wcs.wcs.mjdavg = map_time.mjd
            from reproject import reproject_interp

            values, _ = reproject_interp((np.asarray(fill_map.data, dtype=np.float64), wcs),
                                         grid.wcs, shape_out=shape)
        if fill_time is not None:
            usable = ~covered & np.isfinite(values)
            age = np.where(usable, np.float32((map_time - fill_time).to_value(u.h)), age)
        fill_record = {"FILLFILE": Path(fill).name[-68:], "FILLMOD": "fill file, row mean"}
    result = complete(blended, covered, values)
    balance = None
    area = full_sun_pixel_area_cm2(shape)
    net_flux = float(result.sum() * area)
    if settings.balance:
        balance = float(result.mean())
        result = result - balance

    uncertainty = samples = None
    if mode == "samples":
        count_samples = next(len(stack) for stack in extra if stack is not None)
        samples = np.empty((count_samples, *shape))
        for k in range(count_samples):
            layer = np.stack([b if stack is None else stack[k] for b, stack in zip(br, extra)])
            samples[k] = complete(*blend(layer, weight), values)
            if settings.balance:
                samples[k] -= samples[k].mean()
        uncertainty = samples.std(axis=0)
    elif mode == "propagated":
        sigma = np.stack([np.zeros(shape) if stack is None else stack[0] for stack in extra])
        with np.errstate(invalid="ignore", divide="ignore"):
            blended_sigma = np.where(covered, np.sqrt((weight**2 * np.nan_to_num(sigma) ** 2)
                                                      .sum(axis=0)) / weight.sum(axis=0), np.nan)
        fill_sigma = None if values is None else np.where(np.isfinite(values), 0.0, np.nan)
        uncertainty = complete(blended_sigma, covered, fill_sigma)

    header["TELESCOP"] = "solarmaggan"
    header["CONTENT"] = "SYNCHRONIC RADIAL FIELD"
    header["BUNIT"] = "Gauss"
    header["NINPUTS"] = (count, "input magnetograms")
    records = []
    for number, item in enumerate(items, start=1):
        record = {
            "path": str(item.path), "instrument": item.instrument, "kind": item.kind,
            "observer_lon_deg": float(item.observer.lon.wrap_at(180 * u.deg).deg),
            "observer_lat_deg": float(item.observer.lat.deg),
            "observer_distance_au": float(item.observer.radius.to_value(u.m)) / AU_M,
            "time": item.time.isot, "age_hours": float(ages[number - 1]),
        }
        records.append(record)
        header[f"IFILE{number}"] = item.path.name[-68:]
        header[f"IINST{number}"] = item.instrument[:68]
        header[f"IKIND{number}"] = item.kind
        header[f"ILON{number}"] = (record["observer_lon_deg"], "Stonyhurst observer lon, deg")
        header[f"ILAT{number}"] = (record["observer_lat_deg"], "Stonyhurst observer lat, deg")
        header[f"IDIST{number}"] = (record["observer_distance_au"], "observer distance, AU")
        header[f"IDATE{number}"] = item.time.isot
    header.update(fill_record)
    header["FILLFRAC"] = (float(1.0 - covered.mean()), "fraction of pixels filled")
    header["MUMIN"] = (float(settings.mu_min), "inputs used where mu >= MUMIN")
    header["WPOWER"] = (float(settings.weight_power), "blending weights mu**WPOWER")
    header["FRAME"] = settings.frame
    header["BLENDGEN"] = (bool(settings.blend_generated), "generated blended with observed")
    header["REPROJ"] = (algorithm, "reprojection algorithm")
    header["NETFLUX"] = (net_flux, "net flux before any balance, Mx")
    if balance is not None:
        header["BALANCE"] = (balance, "mean B_r removed, G")
    if mode is not None:
        header["UNCMODE"] = (mode, "UNCERTAINTY: std of SAMPLES, or propagated")
        methods = sorted({str(item.header.get("UNCMETH", "unknown")) for item in items
                          if item.kind == "generated"})
        header["UNCMETH"] = (", ".join(methods)[:68], "inputs' sampling method")
        count_samples = len(samples) if samples is not None else _common(items, "NSAMPLES")
        if count_samples is not None:
            header["NSAMPLES"] = (int(count_samples), "samples behind UNCERTAINTY")
        if _common(items, "UNCSCALE") is not None:
            header["UNCSCALE"] = (float(_common(items, "UNCSCALE")), "inputs' calibration scale")
    return SynchronicMap(result, source, age, header, records, balance, uncertainty, samples)


#: The per-pixel layers written beside B_r: extension name -> (unit, meaning).
LAYERS = {
    "SOURCE": ("", "index (0-based, input order) of the input with the largest weight; -1 filled"),
    "AGE": ("h", "map time minus the source's observation time, hours"),
}


#: The uncertainty layers, of a synchronic map (module docstring) as of an AI-generated
#: input (solarmaggan generate --samples): extension name -> (unit, meaning).
UNCERTAINTY_LAYERS = {
    "UNCERTAINTY": ("G", "per-pixel standard deviation of B_r from the AI-generated inputs "
                         "(UNCMODE: std of SAMPLES, or propagated), Gauss"),
    "SAMPLES": ("G", "the NSAMPLES synchronic B_r maps, one per sample index of the "
                     "AI-generated inputs, Gauss"),
}


def read_layers(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The SOURCE (int16) and AGE (float32, h) layers of a synchronic map file, each
    (rows, columns) on the grid of its primary HDU (:func:`data_prep.fitsio.read_layers`)."""
    return fitsio.read_layers(path, tuple(LAYERS))


def read_uncertainty(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The uncertainty layers a file has (a synchronic map, or an AI-generated input):
    ``UNCERTAINTY`` (rows, columns) and ``SAMPLES`` (N, rows, columns), float32, G; an empty
    dict when it has neither."""
    layers = fitsio.read_layers(path)
    return {name: layers[name] for name in UNCERTAINTY_LAYERS if name in layers}


def write_synchronic(out: str | os.PathLike, result: SynchronicMap, quicklook: bool = True) -> Path:
    """Write ``result`` to ``out`` (FITS, atomically) and, if ``quicklook``, OUT.png; the
    UNCERTAINTY and SAMPLES layers when ``result`` has them."""
    out = Path(out)
    primary = result.header.copy()
    for key in ("SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "EXTEND"):
        primary.remove(key, ignore_missing=True, remove_all=True)
    hdus = fits.HDUList([
        fits.PrimaryHDU(result.br_gauss.astype(np.float32), primary),
        fitsio.layer_hdu("SOURCE", result.source.astype(np.int16), *LAYERS["SOURCE"]),
        fitsio.layer_hdu("AGE", result.age_hours.astype(np.float32), *LAYERS["AGE"]),
    ])
    for name, values in (("UNCERTAINTY", result.uncertainty_gauss), ("SAMPLES", result.samples_gauss)):
        if values is not None:
            hdus.append(fitsio.layer_hdu(name, values.astype(np.float32), *UNCERTAINTY_LAYERS[name]))
    with atomic_path(out) as temporary:
        hdus.writeto(temporary)
    if quicklook:
        write_quicklook(out.with_suffix(".png"), result)
    return out


def write_quicklook(path: str | os.PathLike, result: SynchronicMap) -> Path:
    """PNG of the map (longitude x sine latitude) with each observer's central meridian at
    the map time and the region filled from generated inputs outlined; below it, when the
    map has one, its uncertainty (G)."""
    import astropy.units as u
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from astropy.coordinates import SkyCoord
    from sunpy.coordinates import propagate_with_solar_surface

    header = result.header
    rows, cols = result.br_gauss.shape
    lon0 = float(header["CRVAL1"]) - (float(header["CRPIX1"]) - 0.5) * float(header["CDELT1"])
    extent = (lon0, lon0 + cols * float(header["CDELT1"]), -1.0, 1.0)
    grid = result.to_map()
    limit = float(np.nanpercentile(np.abs(result.br_gauss), 99.5)) or 1.0
    sigma = result.uncertainty_gauss
    if sigma is None:
        figure, axes = plt.subplots(figsize=(10, 5.2))
    else:
        figure, (axes, sigma_axes) = plt.subplots(2, 1, figsize=(10, 10), sharex=True)
    image = axes.imshow(result.br_gauss, origin="lower", extent=extent, aspect="auto",
                        cmap="gray", vmin=-limit, vmax=limit)
    figure.colorbar(image, ax=axes, label="B_r (G)")
    generated = np.array([item["kind"] == "generated" for item in result.inputs] + [False])
    from_ai = generated[result.source]  # source -1 picks the appended False
    if from_ai.any():
        axes.contour(from_ai.astype(float), levels=[0.5], colors="yellow", linewidths=1.0,
                     extent=extent, origin="lower")
    if sigma is not None:
        top = float(np.nanpercentile(sigma, 99.5)) or 1.0
        image = sigma_axes.imshow(sigma, origin="lower", extent=extent, aspect="auto",
                                  cmap="magma", vmin=0.0, vmax=top)
        figure.colorbar(image, ax=sigma_axes, label="uncertainty of B_r (G)")
        if from_ai.any():
            sigma_axes.contour(from_ai.astype(float), levels=[0.5], colors="cyan",
                               linewidths=1.0, extent=extent, origin="lower")
        how = {"samples": f"std of {header.get('NSAMPLES')} sample maps, {header.get('UNCMETH')}",
               "assimilated": "the assimilation state's sigma"}.get(
            header.get("UNCMODE"), f"propagated from the inputs' UNCERTAINTY, {header.get('UNCMETH')}")
        sigma_axes.set_title(f"uncertainty ({how}; cyan: AI-generated)")
        sigma_axes.set_xlabel(f"{header['FRAME']} longitude (deg)")
        sigma_axes.set_ylabel("sine latitude")
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, item in enumerate(result.inputs):
        with quiet(), propagate_with_solar_surface():
            sub = SkyCoord(item["observer_lon_deg"] * u.deg, 0 * u.deg, frame="heliographic_stonyhurst",
                           obstime=item["time"], rsun=grid.rsun_meters).transform_to(grid.coordinate_frame)
        lon = float(sub.lon.deg) % 360.0
        if lon > extent[1]:
            lon -= 360.0
        colour = colours[index % len(colours)]
        axes.axvline(lon, color=colour, linestyle="--", linewidth=1.0)
        right = lon > 0.5 * (extent[0] + extent[1])  # labels towards the middle
        axes.text(lon, 0.97 - 0.06 * (index % 4), f" {index}: {item['instrument']} ",
                  color=colour, fontsize=8, va="top", ha="right" if right else "left", clip_on=True)
    axes.set_xlabel(f"{header['FRAME']} longitude (deg)")
    axes.set_ylabel("sine latitude")
    if header.get("UNCMODE") == "assimilated":
        axes.set_title(f"assimilated B_r {header['DATE-OBS'][:19]}  (yellow outline: AI-generated "
                       "data outweighed the state)")
    else:
        axes.set_title(f"synchronic B_r {header['DATE-OBS'][:19]}  (yellow outline: from AI-generated "
                       "inputs)")
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=100, format="png")
    plt.close(figure)
    return Path(path)


def synchronic(
    out: str | os.PathLike,
    inputs: Sequence[str | os.PathLike],
    settings: SynchronicSettings | None = None,
    fill: str | os.PathLike | None = None,
    progress: bool = True,
    quicklook: bool = True,
) -> dict[str, Any]:
    """Check everything, build the map of ``inputs`` and write it to ``out`` (+ OUT.png).
    Returns {out, quicklook, time, shape, frame, inputs, filled_fraction, balance_gauss,
    uncertainty (UNCMODE: 'samples', 'propagated' or None), samples (N or None)}."""
    settings = settings or SynchronicSettings()
    out = Path(out)
    if out.suffix.lower() not in (".fits", ".fts", ".fit"):
        raise ValueError(f"{out}: the output must be a .fits file")
    if not out.parent.is_dir():
        raise ValueError(f"{out}: folder {out.parent} does not exist")
    result = build_synchronic(inputs, settings, fill=fill, progress=progress)
    write_synchronic(out, result, quicklook=quicklook)
    return {"out": str(out), "quicklook": str(out.with_suffix(".png")) if quicklook else None,
            "time": result.header["DATE-OBS"], "shape": list(result.br_gauss.shape),
            "frame": settings.frame, "inputs": result.inputs,
            "filled_fraction": float(result.header["FILLFRAC"]),
            "balance_gauss": result.balance_gauss, "uncertainty": result.header.get("UNCMODE"),
            "samples": None if result.samples_gauss is None else len(result.samples_gauss)}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``solarmaggan synchronic`` arguments."""
    parser.add_argument("out", help="output FITS file (a PNG quicklook goes beside it)")
    parser.add_argument("inputs", nargs="+", help="line-of-sight magnetogram FITS files "
                        "(observed, or AI-generated by 'solarmaggan generate')")
    parser.add_argument("--fill", help="an older full-Sun map (synoptic/synchronic) for the gaps; "
                        "default: each latitude row's mean")
    parser.add_argument("--time", help="map time (ISO, UTC); default: the latest input's")
    parser.add_argument("--frame", choices=FULL_SUN_FRAMES, default="carrington")
    parser.add_argument("--shape", nargs=2, type=int, default=(180, 360), metavar=("NLAT", "NLON"),
                        help="latitude and longitude pixels, even")
    parser.add_argument("--mu-min", type=float, default=0.1,
                        help="use inputs where mu >= this")
    parser.add_argument("--weight-power", type=float, default=2.0,
                        help="blend with weights mu**K (2: inverse variance)")
    parser.add_argument("--balance", action="store_true", help="subtract the mean (zero net flux)")
    parser.add_argument("--blend-generated", action="store_true",
                        help="blend generated with observed data (default: observed win)")
    parser.add_argument("--quiet", action="store_true", help="no progress or summary")


def run(args: argparse.Namespace) -> int:
    """Run ``solarmaggan synchronic`` (ValueError for bad inputs or settings)."""
    settings = SynchronicSettings(time=args.time, frame=args.frame, shape=tuple(args.shape),
                                  mu_min=args.mu_min, weight_power=args.weight_power,
                                  balance=args.balance, blend_generated=args.blend_generated)
    record = synchronic(args.out, args.inputs, settings, fill=args.fill, progress=not args.quiet)
    if not args.quiet:
        uncertainty = {None: "", "propagated": ", UNCERTAINTY propagated",
                       "samples": f", UNCERTAINTY and {record['samples']} SAMPLES"}
        uncertainty = uncertainty[record["uncertainty"]]
        print(f"wrote {record['out']} ({record['shape'][0]} x {record['shape'][1]}, "
              f"{len(record['inputs'])} inputs, {100 * record['filled_fraction']:.1f}% filled"
              f"{uncertainty})")
    return 0
