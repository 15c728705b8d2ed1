"""The PFSS corona of a full-Sun B_r map, on sunkit-magex: source-surface field, current
sheet, open/closed field (the modelled coronal holes), open flux.

The potential-field source-surface model (Altschuler & Newkirk 1969; Schatten et al. 1969)
fills the corona between the photosphere (r = 1 R_sun, where B_r is the input map) and a
spherical source surface (r = rss R_sun, 2.5 by default, where the field is forced radial)
with a current-free field. sunkit-magex solves it on its own grid: the input map's
cylindrical-equal-area (CEA) pixels in longitude and sine latitude times ``nr`` cells
equally spaced in ln(r); it drops the monopole (net flux) of the input.

Open and closed field: a field line is traced both ways (sunkit-magex's
``PerformanceTracer``, the compiled streamtracer) from every seed of a CEA seed grid of
(NLAT, NLON) pixels -- the pixel centres of ``data_prep.geometry.full_sun_header(time,
(NLAT, NLON), frame of the input)``, equal steps in longitude and in sine latitude, so each
seed stands for the same area -- placed on the photosphere, r = 1 R_sun
(``SEED_RADIUS_RSUN``). A line that reaches the source surface is open, with the polarity
of B_r at its photospheric foot (+1 or -1); one whose both ends return to the photosphere
is closed (0). The open pixels are the model's coronal holes.

Open flux: the unsigned flux through the source surface,
rss^2 R_sun^2 x sum ``|B_r(rss)|`` dOmega, in Mx (every open field line crosses the source
surface once, so this is the flux of all open field); it is at most the unsigned
photospheric flux.

Samples (``run_pfss(..., samples=N)``, ``solarmaggan pfss --samples [N]``): a synchronic map
built from AI-generated inputs with samples carries a ``SAMPLES`` layer, (N, NLAT, NLON)
B_r maps (:mod:`solarmaggan.fullsun.synchronic`). PFSS is then solved and traced for each
sample too (same settings, same seed grid), giving the open-field probability of each seed
(the fraction of samples whose field line from it is open, :func:`open_probability`) and
the spread of the current sheet's latitude (:func:`hcs_spread`).

Importing this module loads no TensorFlow: it runs on data machines.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import time
import warnings
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from data_prep import fitsio
from data_prep.atomic import atomic_path, write_json_atomically
from data_prep.geometry import RSUN_REF_M, check_full_sun_shape, full_sun_header, full_sun_pixel_area_cm2
from data_prep.progress import Progress

#: Defaults: source-surface radius (R_sun), radial cells, seed grid (NLON, NLAT).
DEFAULT_RSS = 2.5
DEFAULT_NR = 35
DEFAULT_SEEDS = (180, 90)

#: Radius (R_sun) of the seeds of the open/closed tracing: the photosphere itself, the
#: inner boundary of the model (the tracer keeps the seed as the line's photospheric end).
SEED_RADIUS_RSUN = 1.0

#: Seeds traced at once: bounds the tracer's memory (seeds x 2 x MAX_STEPS x 3 floats,
#: about 50 MB) and paces the progress bar.
TRACE_CHUNK = 1000

#: Steps a field line may take each way, each as long as one radial cell (in the tracer's
#: coordinates: longitude, sine latitude, ln r). Ample for the longest loops of a 360 x 180
#: map with nr = 35. A few percent of the lines, low closed loops whose ends stall a hair
#: above the photosphere, use them all; they are counted in the summary
#: (``lines_out_of_steps``) and still classified by their ends (closed): on the benchmark
#: map the open/closed map is the same with 500, 2000 and 6000 steps. Time grows with it
#: (the stalled lines), memory too (seeds x 2 x steps x 3 floats).
MAX_STEPS = 1000

#: The field-line figure traces this seed grid (NLON, NLAT): 96 lines.
FIGURE_SEEDS = (12, 8)

#: Files ``run_pfss`` writes into its output folder.
OUTPUT_FILES = ("source_surface_br.fits", "hcs.csv", "open_field.fits", "summary.json",
                "input_open_field.png", "source_surface_hcs.png", "field_lines.png")
#: Files it writes as well with ``samples`` (the PNG with ``figures``).
SAMPLE_OUTPUT_FILES = ("open_probability.fits", "hcs_spread.csv", "open_probability.png")
#: ``samples`` meaning every sample of the map's SAMPLES layer (``--samples`` alone).
ALL_SAMPLES = "all"
#: Open-probability classes of the summary: p >= CERTAIN (open in nearly every sample),
#: p <= 1 - CERTAIN (closed in nearly every one), uncertain in between.
CERTAIN = 0.9


# --------------------------------------------------------------------------- checks


def _frame_name(br_map) -> str | None:
    """'carrington' or 'stonyhurst' for a heliographic map, else None."""
    from sunpy.coordinates import HeliographicCarrington, HeliographicStonyhurst

    frame = br_map.coordinate_frame
    if isinstance(frame, HeliographicCarrington):
        return "carrington"
    if isinstance(frame, HeliographicStonyhurst):
        return "stonyhurst"
    return None


def check_br_map(br_map, label: str = "input map") -> str:
    """Check that ``br_map`` (a sunpy Map) is a full-Sun heliographic CEA map of B_r with
    finite pixels, in Gauss (or Mx/cm^2, or no unit); return its frame, 'carrington' or
    'stonyhurst'. Anything else raises ValueError "LABEL: problem" (one line)."""
    import astropy.units as u
    import sunpy.map
    from sunkit_magex.pfss.utils import is_cea_map, is_full_sun_synoptic_map

    if not isinstance(br_map, sunpy.map.GenericMap):
        raise ValueError(f"{label}: not a sunpy Map (got {type(br_map).__name__})")
    if br_map.data.ndim != 2:
        raise ValueError(f"{label}: not a 2-D image (shape {br_map.data.shape})")
    frame = _frame_name(br_map)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cea = frame is not None and is_cea_map(br_map) and is_full_sun_synoptic_map(br_map)
    if not cea:
        ctype = f"{br_map.meta.get('ctype1')}, {br_map.meta.get('ctype2')}"
        raise ValueError(f"{label}: not a full-Sun cylindrical-equal-area heliographic map "
                         f"(CTYPE {ctype}, shape {br_map.data.shape}); PFSS needs B_r over "
                         "360 deg of longitude x sine latitude -1..1 (CRLN-CEA/CRLT-CEA or "
                         "HGLN-CEA/HGLT-CEA)")
    bad = int(np.count_nonzero(~np.isfinite(br_map.data)))
    if bad:
        raise ValueError(f"{label}: {bad} NaN or infinite pixel(s); PFSS needs B_r on the "
                         "whole sphere (fill the gaps first)")
    if br_map.unit is not None and not br_map.unit.is_equivalent(u.G):
        raise ValueError(f"{label}: unit {br_map.unit} is not a magnetic flux density (G)")
    return frame


def check_settings(rss: Any, nr: Any, seeds: Any = DEFAULT_SEEDS, label: str = "input map") -> None:
    """Raise ValueError "LABEL: problem" unless rss > 1 (R_sun, finite), nr >= 2 (an
    integer) and seeds = (NLON, NLAT), two even integers >= 2."""
    if isinstance(rss, bool) or not isinstance(rss, (int, float, np.integer, np.floating)) \
            or not math.isfinite(rss) or rss <= 1:
        raise ValueError(f"{label}: source-surface radius rss must be > 1 (solar radii), got {rss!r}")
    if isinstance(nr, bool) or not isinstance(nr, (int, np.integer)) or nr < 2:
        raise ValueError(f"{label}: nr (radial cells) must be an integer >= 2, got {nr!r}")
    try:
        check_full_sun_shape(tuple(seeds)[::-1] if isinstance(seeds, (tuple, list)) else seeds)
    except ValueError:
        raise ValueError(f"{label}: seeds must be NLON NLAT, two positive even integers, "
                         f"got {seeds!r}") from None


# --------------------------------------------------------------------------- solving


@contextlib.contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """Run numpy's BLAS on one thread inside the block (threadpoolctl).

    The solver does ~nlon/2 dense eigen-decompositions and products of nlat x nlat
    matrices; at that size OpenBLAS threads only contend, by 20x on a busy 2-core machine
    (360 x 180: ~1 s on one thread, ~25 s on two).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):
        yield


def pfss_solution(br_map, nr: int = DEFAULT_NR, rss: float = DEFAULT_RSS, *, label: str = "input map"):
    """The PFSS solution (a ``sunkit_magex.pfss.Output``) of a full-Sun B_r map.

    Args:
        br_map: sunpy Map of B_r (G) at the photosphere, full-Sun heliographic CEA
            (Carrington or Stonyhurst), (NLAT, NLON) pixels, finite everywhere.
        nr: radial cells between 1 R_sun and the source surface (equal in ln r).
        rss: source-surface radius, R_sun (> 1).
        label: how errors name the map (e.g. its file).

    Returns:
        The sunkit-magex Output: B on the (NLON, NLAT, nr) grid, ``source_surface_br``
        (B_r at rss, G, on the input's pixels), ``source_surface_pils``. A bad map or
        setting raises ValueError "LABEL: problem" before any solving.
    """
    import sunkit_magex.pfss as magex

    check_settings(rss, nr, label=label)
    check_br_map(br_map, label)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with _single_threaded_blas():
            return magex.pfss(magex.Input(br_map, int(nr), float(rss)))


# --------------------------------------------------------------------------- tracing


def _open_field_tracer():
    """sunkit-magex's PerformanceTracer that builds its streamtracer grid once per PFSS
    output (the base class rebuilds it, ~0.4 s at 360 x 180, on every ``trace`` call,
    and the seeds are traced in chunks)."""
    from sunkit_magex.pfss.tracing import PerformanceTracer

    class ChunkTracer(PerformanceTracer):
        def __init__(self):
            super().__init__(max_steps=MAX_STEPS, step_size=1)
            self._grid_of = self._grid = None

        def vector_grid(self, output):
            if self._grid_of is not output:
                self._grid, self._grid_of = PerformanceTracer.vector_grid(output), output
            return self._grid

    return ChunkTracer()


def _output_frame_name(output) -> str:
    return _frame_name(output.input_map)


def _seed_header(output, seeds: tuple[int, int]):
    """The CEA header of the seed grid, (NLAT, NLON) = seeds[::-1], in the input's frame
    at the input's time (``full_sun_header``)."""
    nlon, nlat = seeds
    return full_sun_header(output.input_map.date, (nlat, nlon), frame=_output_frame_name(output))


def _seed_lonlat_deg(output, seeds: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, Any]:
    """Pixel-centre (lon, lat) in deg, each (NLAT, NLON), of the seed grid, and its header."""
    import astropy.units as u
    import sunpy.map

    nlon, nlat = seeds
    header = _seed_header(output, seeds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coords = sunpy.map.all_coordinates_from_map(sunpy.map.Map(np.zeros((nlat, nlon)), header))
    return coords.lon.to_value(u.deg), coords.lat.to_value(u.deg), header


def trace_polarities(output, lon_deg: np.ndarray, lat_deg: np.ndarray,
                     radius_rsun: float = SEED_RADIUS_RSUN, progress: bool = False,
                     label: str = "tracing field lines") -> tuple[np.ndarray, int]:
    """Trace field lines from seeds at (lon, lat) (deg, in the input map's frame, any
    shape S) at ``radius_rsun``: returns (polarities int8 of shape S: +1/-1 open with that
    photospheric polarity, 0 closed; the number of lines that ran out of steps)."""
    import astropy.constants as const
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    shape = np.shape(lon_deg)
    lon, lat = np.ravel(lon_deg), np.ravel(lat_deg)
    tracer = _open_field_tracer()
    polarities = np.zeros(lon.size, dtype=np.int8)
    out_of_steps = 0
    bar = Progress(lon.size, label, unit="lines", enabled=progress)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for start in range(0, lon.size, TRACE_CHUNK):
            chunk = slice(start, start + TRACE_CHUNK)
            seeds = SkyCoord(lon[chunk] * u.deg, lat[chunk] * u.deg,
                             radius_rsun * const.R_sun, frame=output.coordinate_frame)
            lines = tracer.trace(seeds, output)
            polarities[chunk] = lines.polarities
            out_of_steps += int(np.count_nonzero(np.any(tracer.tracer.ROT == 1, axis=-1)))
            bar.update(len(lines))
    bar.close()
    return polarities.reshape(shape), out_of_steps


def open_field_map(output, seeds: tuple[int, int] = DEFAULT_SEEDS, progress: bool = False) -> np.ndarray:
    """The open/closed field at the photosphere on a CEA seed grid.

    Args:
        output: a PFSS solution (``pfss_solution``).
        seeds: (NLON, NLAT), two even integers: the seed grid, the pixel centres of
            ``full_sun_header(time, (NLAT, NLON), frame of the input)`` at r = 1 R_sun
            (``SEED_RADIUS_RSUN``): equal steps in longitude and sine latitude, each seed
            the same area.
        progress: a progress bar on stderr.

    Returns:
        int8 array (NLAT, NLON), rows south to north, columns in the longitude of that
        header (Carrington 0..360 deg, Stonyhurst -180..180 deg): +1 / -1 where the field
        line is open with that polarity of B_r at its foot, 0 where it is closed.
    """
    check_settings(output.grid.rss, output.grid.nr, seeds, label="open_field_map")
    lon, lat, _ = _seed_lonlat_deg(output, tuple(seeds))
    return trace_polarities(output, lon, lat, progress=progress)[0]


# --------------------------------------------------------------------------- current sheet


def _wrap_lon_deg(lon_deg: np.ndarray, frame: str) -> np.ndarray:
    """Longitudes wrapped to [0, 360) (Carrington) or [-180, 180) (Stonyhurst), deg."""
    lon = np.mod(np.asarray(lon_deg, dtype=np.float64), 360.0)
    return np.where(lon >= 180.0, lon - 360.0, lon) if frame == "stonyhurst" else lon


def current_sheet(output) -> np.ndarray:
    """The heliospheric current sheet: the polarity inversion line(s) of B_r on the
    source surface (sunkit-magex's ``source_surface_pils``, contours at B_r = 0 through
    the source-surface pixel centres).

    Returns:
        float64 array (N, 3): longitude (deg, Carrington 0..360 or Stonyhurst -180..180 as
        the input's frame), latitude (deg), and the index (0, 1, ...) of the contour the
        point belongs to (points of one contour in order along it; a contour may wrap
        through the map's edge as two pieces). (0, 3) when B_r has one sign everywhere.
    """
    import astropy.units as u

    frame = _output_frame_name(output)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        contours = output.source_surface_pils
    rows = [np.column_stack([_wrap_lon_deg(c.lon.to_value(u.deg), frame), c.lat.to_value(u.deg),
                             np.full(len(c), index, dtype=np.float64)])
            for index, c in enumerate(contours) if len(c)]
    return np.concatenate(rows) if rows else np.zeros((0, 3))


# --------------------------------------------------------------------------- samples


def open_flux_mx(ss_map, rss: float, gauss: float = 1.0) -> float:
    """The open flux (Mx): the unsigned flux through the source surface, sum ``|B_r(rss)|`` x
    pixel area at rss, of the source-surface map ``ss_map`` (the input's CEA pixels on the
    sphere of radius ``rss`` R_sun; its data times ``gauss`` in G)."""
    ss_br = np.asarray(ss_map.data, dtype=np.float64) * gauss
    return float(np.abs(ss_br).sum() * full_sun_pixel_area_cm2(ss_br.shape, float(rss) * RSUN_REF_M))


def read_samples(path: str | os.PathLike, shape: tuple[int, int],
                 samples: int | str = ALL_SAMPLES) -> np.ndarray:
    """The first ``samples`` maps (:data:`ALL_SAMPLES`: all) of the SAMPLES layer of the
    synchronic map file ``path``, float64 (N, NLAT, NLON) B_r (G) on the grid of its primary
    HDU of ``shape`` (NLAT, NLON).

    Raises:
        ValueError "PATH: problem" (one line): ``samples`` not a positive integer or 'all'
        or more than the layer has, no SAMPLES layer, a layer of another grid or with NaN.
    """
    label = str(path)
    whole = isinstance(samples, (int, np.integer)) and not isinstance(samples, bool)
    if samples != ALL_SAMPLES and not (whole and samples >= 1):
        raise ValueError(f"{label}: samples must be a positive integer or {ALL_SAMPLES!r}, "
                         f"got {samples!r}")
    layers = fitsio.read_layers(path)
    if "SAMPLES" not in layers:
        raise ValueError(f"{label}: no SAMPLES layer (the file has {', '.join(layers) or 'none'}); "
                         "samples need a synchronic map of AI-generated inputs that kept their "
                         "samples (solarmaggan generate --samples N --keep-samples)")
    stack = layers["SAMPLES"]
    if stack.ndim != 3 or stack.shape[1:] != tuple(shape):
        raise ValueError(f"{label}: its SAMPLES layer has shape {stack.shape}, not (N, "
                         f"{shape[0]}, {shape[1]}) as the map")
    count = len(stack) if samples == ALL_SAMPLES else int(samples)
    if count > len(stack):
        raise ValueError(f"{label}: samples must be 1 to {len(stack)} (its SAMPLES layer has "
                         f"{len(stack)}), got {count}")
    stack = np.asarray(stack[:count], dtype=np.float64)
    bad = np.count_nonzero(~np.isfinite(stack), axis=(1, 2))
    if bad.any():
        raise ValueError(f"{label}: sample {int(np.argmax(bad > 0))} of its SAMPLES layer has "
                         f"{int(bad.max())} NaN or infinite pixel(s); PFSS needs B_r everywhere")
    return stack


def sample_coronas(br_map, samples: np.ndarray, nr: int, rss: float, seed_lon: np.ndarray,
                   seed_lat: np.ndarray, label: str = "input map",
                   progress: bool = False) -> dict[str, Any]:
    """PFSS of each sample: ``samples`` (N, NLAT, NLON) B_r maps (G) on the grid (header) of
    ``br_map``, solved with ``nr``, ``rss`` (:func:`pfss_solution`) and traced from the seeds
    at (``seed_lon``, ``seed_lat``) deg (each (NLAT_seeds, NLON_seeds),
    :func:`trace_polarities`).

    Returns:
        {"open_fields": int8 (N, NLAT_seeds, NLON_seeds) +1/-1/0 as :func:`open_field_map`,
        "sheets": N arrays (M_k, 3) of :func:`current_sheet`, "open_flux_mx": float64 (N,),
        "lines_out_of_steps": int, all samples together}.
    """
    import astropy.units as u
    import sunpy.map

    gauss = 1.0 if br_map.unit is None else float((1 * br_map.unit).to_value(u.G))
    open_fields = np.zeros((len(samples), *np.shape(seed_lon)), dtype=np.int8)
    sheets, fluxes, out_of_steps = [], np.zeros(len(samples)), 0
    bar = Progress(len(samples), "PFSS of the samples", unit="samples", enabled=progress, every=1)
    for index, values in enumerate(samples):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sample_map = sunpy.map.Map(values, br_map.meta)
        output = pfss_solution(sample_map, nr=nr, rss=rss, label=f"{label} sample {index}")
        open_fields[index], steps = trace_polarities(output, seed_lon, seed_lat)
        out_of_steps += steps
        sheets.append(current_sheet(output))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fluxes[index] = open_flux_mx(output.source_surface_br, rss, gauss)
        bar.update()
    bar.close()
    return {"open_fields": open_fields, "sheets": sheets, "open_flux_mx": fluxes,
            "lines_out_of_steps": out_of_steps}


def open_probability(open_fields: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(probability, signed), each float32 (NLAT, NLON), of ``open_fields`` (N, NLAT, NLON)
    int8 +1/-1/0 maps of N samples: the fraction of samples open at each seed (0..1), and
    the fraction open with positive minus that open with negative polarity (-1..1)."""
    open_fields = np.asarray(open_fields)
    return ((open_fields != 0).mean(axis=0).astype(np.float32),
            open_fields.mean(axis=0, dtype=np.float64).astype(np.float32))


def sheet_crossings(sheet: np.ndarray, lon_deg: np.ndarray,
                    tolerance_deg: float = 1e-6) -> list[np.ndarray]:
    """The latitudes (deg, ascending) where the current sheet ``sheet`` (:func:`current_sheet`,
    (M, 3)) crosses each longitude of ``lon_deg`` (K,), deg: the sheet's points within
    ``tolerance_deg`` of it, and linear interpolation between consecutive points of one
    contour on either side of it (not across the map's longitude edge). A list of K arrays."""
    lon, lat, segment = np.asarray(sheet, dtype=np.float64).reshape(-1, 3).T
    first, second = slice(None, -1), slice(1, None)
    pairs = (segment[first] == segment[second]) & (np.abs(lon[second] - lon[first]) <= 180.0)
    crossings = []
    for value in np.ravel(lon_deg):
        offset = lon - value
        on = np.abs(offset) <= tolerance_deg
        cross = (pairs & (offset[first] * offset[second] < 0) & ~on[first] & ~on[second])
        a, b = offset[first][cross], offset[second][cross]
        lat_a, lat_b = lat[first][cross], lat[second][cross]
        crossings.append(np.sort(np.concatenate([lat[on], lat_a + a / (a - b) * (lat_b - lat_a)])))
    return crossings


def hcs_spread(mean_sheet: np.ndarray, sample_sheets: list[np.ndarray],
               lon_deg: np.ndarray) -> np.ndarray:
    """The spread of the current sheet's latitude over samples, per longitude.

    At each longitude L of ``lon_deg`` (deg, e.g. the source-surface map's column centres)
    and each latitude where the mean map's sheet ``mean_sheet`` crosses L
    (:func:`sheet_crossings`; a warped sheet crosses some longitudes several times, each
    crossing its own row), every sample whose sheet (``sample_sheets``) crosses L at all
    gives the latitude of its crossing nearest to the mean map's; those latitudes' mean and
    population standard deviation (ddof 0, deg) over the samples. A sample missing that
    part of the sheet thus counts with its nearest other part.

    Returns:
        float64 (R, 5): lon_deg, lat_deg (the mean map's crossing), samples (how many
        crossed L), mean_lat_deg, std_lat_deg (NaN when none did); rows by longitude, then
        latitude. (0, 5) when the mean map has no current sheet.
    """
    mean_crossings = sheet_crossings(mean_sheet, lon_deg)
    sample_crossings = [sheet_crossings(sheet, lon_deg) for sheet in sample_sheets]
    rows = []
    for index, value in enumerate(np.ravel(lon_deg)):
        for lat in mean_crossings[index]:
            nearest = np.array([c[index][np.argmin(np.abs(c[index] - lat))]
                                for c in sample_crossings if len(c[index])])
            rows.append((value, lat, len(nearest), nearest.mean() if len(nearest) else np.nan,
                         nearest.std() if len(nearest) else np.nan))
    return np.array(rows, dtype=np.float64).reshape(-1, 5)


# --------------------------------------------------------------------------- files


def read_br_map(path: str | os.PathLike):
    """Read a full-Sun B_r map from a FITS file: the first HDU holding a 2-D image (the
    primary HDU of the synchronic maps, whose layer tables (SOURCE, AGE, UNCERTAINTY,
    SAMPLES) are ignored; the compressed image HDU of HMI synoptic maps). Unreadable files
    raise ValueError "PATH: problem"."""
    import sunpy.map
    from astropy.io import fits

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with fits.open(path) as hdus:
                for hdu in hdus:
                    if hdu.is_image and hdu.data is not None and hdu.data.ndim == 2:
                        data, header = np.array(hdu.data, dtype=np.float64), hdu.header.copy()
                        break
                else:
                    raise ValueError(f"{path}: no 2-D image in the FITS file")
            return sunpy.map.Map(data, header)
    except (OSError, TypeError) as error:
        first_line = (str(error).splitlines() or [type(error).__name__])[0]
        raise ValueError(f"{path}: not a readable FITS image ({first_line})") from None


def _save_map(br_map, path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with atomic_path(path) as temporary:
            br_map.save(str(temporary))


def _seed_grid_header(header, output, content: tuple[str, str]):
    """The header of a map on the seed grid (``header``, from :func:`_seed_header`) with
    CONTENT ``content`` (value, comment) and the PFSS settings of ``output``."""
    header = header.copy()
    for key in ("NAXIS1", "NAXIS2"):  # the HDU writes its own, in their place
        header.remove(key, ignore_missing=True)
    header["BUNIT"] = ""
    header["CONTENT"] = content
    header["SEEDR"] = (SEED_RADIUS_RSUN, "[R_sun] radius of the traced seeds")
    header["RSS"] = (float(output.grid.rss), "[R_sun] source-surface radius")
    header["PFSS_NR"] = (int(output.grid.nr), "radial cells of the PFSS grid")
    return header


def _write_open_field(open_field: np.ndarray, header, output, path: Path) -> None:
    from astropy.io import fits

    header = _seed_grid_header(header, output,
                               ("PFSS open field", "+1/-1 open with that polarity, 0 closed"))
    with atomic_path(path) as temporary:
        fits.PrimaryHDU(open_field.astype(np.int8), header).writeto(temporary)


def _write_open_probability(probability: np.ndarray, signed: np.ndarray, count: int, header,
                            output, path: Path) -> None:
    """open_probability.fits: float32 probability in the primary HDU (a CEA map on the seed
    grid, as open_field.fits), the signed one as layer SIGNED (:func:`open_probability`)."""
    from astropy.io import fits

    header = _seed_grid_header(header, output, ("PFSS open-field probability",
                                                "fraction of samples open, 0..1"))
    header["NSAMPLES"] = (int(count), "samples of the SAMPLES layer solved")
    signed_hdu = fitsio.layer_hdu("SIGNED", signed.astype(np.float32), "",
                                  "fraction of samples open with B_r > 0 minus that open with B_r < 0")
    with atomic_path(path) as temporary:
        fits.HDUList([fits.PrimaryHDU(probability.astype(np.float32), header),
                      signed_hdu]).writeto(temporary)


def _write_hcs_spread(spread: np.ndarray, path: Path) -> None:
    with atomic_path(path) as temporary:
        with open(temporary, "w") as handle:
            handle.write("lon_deg,lat_deg,samples,mean_lat_deg,std_lat_deg\n")
            for lon, lat, count, mean, std in spread:
                handle.write(f"{lon:.4f},{lat:.4f},{int(count)},{mean:.4f},{std:.4f}\n")


def _write_current_sheet(sheet: np.ndarray, path: Path) -> None:
    with atomic_path(path) as temporary:
        with open(temporary, "w") as handle:
            handle.write("lon_deg,lat_deg,segment\n")
            for lon, lat, segment in sheet:
                handle.write(f"{lon:.4f},{lat:.4f},{int(segment)}\n")


# --------------------------------------------------------------------------- figures


def _sorted_lon(lon_deg: np.ndarray, frame: str) -> np.ndarray:
    """Column order that makes a row of pixel longitudes (wrapped as the frame) ascend."""
    return np.argsort(_wrap_lon_deg(lon_deg, frame), kind="stable")


def _lat_axis(ax) -> None:
    """Label a sine-latitude y axis in degrees of latitude."""
    ticks = np.array([-90, -60, -30, 0, 30, 60, 90])
    ax.set_yticks(np.sin(np.radians(ticks)))
    ax.set_yticklabels([f"{t}" for t in ticks])
    ax.set_ylim(-1, 1)
    ax.set_ylabel("latitude (deg)")


def _image_panel(ax, data: np.ndarray, lon_deg: np.ndarray, cmap: str, limit: float,
                 low: float | None = None):
    """Show a full-Sun CEA image on (longitude, sine latitude) axes, colours from ``low``
    (default -``limit``) to ``limit``."""
    step = (lon_deg[-1] - lon_deg[0]) / max(len(lon_deg) - 1, 1)
    low = -limit if low is None else low
    return ax.imshow(data, origin="lower", cmap=cmap, vmin=low, vmax=limit, aspect="auto",
                     extent=[lon_deg[0] - step / 2, lon_deg[-1] + step / 2, -1, 1],
                     interpolation="nearest")


def _save_figure(figure, path: Path) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=110, format="png")
    plt.close(figure)


def _plot_sheet(ax, sheet: np.ndarray, **style) -> None:
    """Draw a current sheet (:func:`current_sheet`) on (longitude, sine latitude) axes."""
    for segment in np.unique(sheet[:, 2]):
        points = sheet[sheet[:, 2] == segment]
        # break the line where it jumps across the map's longitude edge
        jumps = np.flatnonzero(np.abs(np.diff(points[:, 0])) > 180) + 1
        for piece in np.split(points, jumps):
            ax.plot(piece[:, 0], np.sin(np.radians(piece[:, 1])), **style)


def write_figures(br_map, output, open_field: np.ndarray, seed_lon: np.ndarray,
                  seed_lat: np.ndarray, sheet: np.ndarray, out_dir: Path, title: str,
                  sample_sheets: list[np.ndarray] | None = None) -> None:
    """The three PNG figures of ``run_pfss`` (see OUTPUT_FILES); the current sheets of
    ``sample_sheets`` (:func:`sample_coronas`) drawn thin under the mean map's."""
    import matplotlib

    matplotlib.use("Agg")
    import astropy.units as u
    import matplotlib.pyplot as plt
    import sunpy.map

    frame = _output_frame_name(output)
    lon_name = "Carrington longitude (deg)" if frame == "carrington" else "Stonyhurst longitude (deg)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        map_lon = sunpy.map.all_coordinates_from_map(br_map)[0].lon.to_value(u.deg)
    order = _sorted_lon(map_lon, frame)
    map_lon = _wrap_lon_deg(map_lon, frame)[order]
    seed_order = _sorted_lon(seed_lon[0], frame)
    seed_x = _wrap_lon_deg(seed_lon[0], frame)[seed_order]
    seed_y = np.sin(np.radians(seed_lat[:, 0]))

    # 1. the input map with the open-field regions outlined
    br = np.asarray(br_map.data, dtype=np.float64)[:, order]
    limit = max(float(np.percentile(np.abs(br), 99)), 1e-6)
    figure, ax = plt.subplots(figsize=(10, 5), constrained_layout=True)
    image = _image_panel(ax, br, map_lon, "gray", limit)
    figure.colorbar(image, ax=ax, label="B_r (G)", shrink=0.85)
    for polarity, colour in ((1, "tab:red"), (-1, "tab:blue")):
        mask = (open_field[:, seed_order] == polarity).astype(float)
        if mask.any() and not mask.all():
            ax.contour(seed_x, seed_y, mask, levels=[0.5], colors=colour, linewidths=1.2)
    ax.set_xlabel(lon_name)
    _lat_axis(ax)
    ax.set_title(f"{title}: B_r at 1 R_sun, open field outlined (red +, blue -), "
                 f"{100 * np.mean(open_field != 0):.1f}% open")
    _save_figure(figure, out_dir / "input_open_field.png")

    # 2. the source-surface field with the current sheet
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ss = output.source_surface_br
        ss_lon = sunpy.map.all_coordinates_from_map(ss)[0].lon.to_value(u.deg)
    ss_order = _sorted_lon(ss_lon, frame)
    ss_data = np.asarray(ss.data, dtype=np.float64)[:, ss_order]
    figure, ax = plt.subplots(figsize=(10, 5), constrained_layout=True)
    image = _image_panel(ax, ss_data, _wrap_lon_deg(ss_lon, frame)[ss_order], "RdBu_r",
                         max(float(np.abs(ss_data).max()), 1e-9))
    figure.colorbar(image, ax=ax, label="B_r (G)", shrink=0.85)
    for sample_sheet in sample_sheets or []:
        _plot_sheet(ax, sample_sheet, color="0.45", lw=0.6, alpha=0.7)
    _plot_sheet(ax, sheet, color="k", lw=1.5)
    ax.set_xlabel(lon_name)
    _lat_axis(ax)
    samples_note = f", those of {len(sample_sheets)} samples grey" if sample_sheets else ""
    ax.set_title(f"{title}: B_r at the source surface ({output.grid.rss:g} R_sun), "
                 f"current sheet in black{samples_note}")
    _save_figure(figure, out_dir / "source_surface_hcs.png")

    # 3. a selection of field lines: longitude-latitude and a side view
    lon, lat, _ = _seed_lonlat_deg(output, FIGURE_SEEDS)
    import astropy.constants as const
    from astropy.coordinates import SkyCoord

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seeds = SkyCoord(lon.ravel() * u.deg, lat.ravel() * u.deg, SEED_RADIUS_RSUN * const.R_sun,
                         frame=output.coordinate_frame)
        lines = _open_field_tracer().trace(seeds, output)
        polarities = lines.polarities
        paths = [line.coords for line in lines]
    centre = float(np.mean(map_lon))
    colours = {1: "tab:red", -1: "tab:blue", 0: "0.35"}
    figure, (ax_map, ax_side) = plt.subplots(1, 2, figsize=(13, 5.2), constrained_layout=True,
                                             gridspec_kw={"width_ratios": [1.6, 1]})
    for path, polarity in zip(paths, polarities):
        if len(path) < 2:
            continue
        line_lon = _wrap_lon_deg(path.lon.to_value(u.deg), frame)
        line_lat = path.lat.to_value(u.deg)
        r = path.radius.to_value(u.m) / RSUN_REF_M
        jumps = np.flatnonzero(np.abs(np.diff(line_lon)) > 180) + 1
        for piece_lon, piece_lat in zip(np.split(line_lon, jumps), np.split(line_lat, jumps)):
            ax_map.plot(piece_lon, piece_lat, color=colours[int(polarity)], lw=0.8)
        # side view from the map's central longitude: x towards the viewer's right, z north
        phi = np.radians(line_lon - centre)
        ax_side.plot(r * np.cos(np.radians(line_lat)) * np.sin(phi), r * np.sin(np.radians(line_lat)),
                     color=colours[int(polarity)], lw=0.8, alpha=0.8)
    circle = np.linspace(0, 2 * np.pi, 200)
    ax_side.plot(np.cos(circle), np.sin(circle), "k-", lw=1)
    rss = float(output.grid.rss)
    ax_side.plot(rss * np.cos(circle), rss * np.sin(circle), "k--", lw=0.8)
    ax_side.set_aspect("equal")
    ax_side.set_xlabel("R_sun (seen from the map's central longitude)")
    ax_side.set_ylabel("R_sun (north up)")
    ax_map.set_xlabel(lon_name)
    ax_map.set_ylabel("latitude (deg)")
    ax_map.set_ylim(-90, 90)
    ax_map.set_xlim(map_lon[0], map_lon[-1])
    ax_map.set_title(f"{len(paths)} field lines from a {FIGURE_SEEDS[0]} x {FIGURE_SEEDS[1]} seed grid: "
                     "open + red, open - blue, closed grey")
    ax_side.set_title(f"side view; dashed: source surface {rss:g} R_sun")
    _save_figure(figure, out_dir / "field_lines.png")


def write_probability_figure(probability: np.ndarray, open_field: np.ndarray, seed_lon: np.ndarray,
                             seed_lat: np.ndarray, frame: str, count: int, out_dir: Path,
                             title: str) -> None:
    """open_probability.png: the open-field probability on the seed grid (0..1) with the
    mean map's open-field boundaries (white; dashed: negative polarity)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lon_name = "Carrington longitude (deg)" if frame == "carrington" else "Stonyhurst longitude (deg)"
    order = _sorted_lon(seed_lon[0], frame)
    seed_x = _wrap_lon_deg(seed_lon[0], frame)[order]
    figure, ax = plt.subplots(figsize=(10, 5), constrained_layout=True)
    image = _image_panel(ax, probability[:, order], seed_x, "viridis", 1.0, low=0.0)
    figure.colorbar(image, ax=ax, label="fraction of samples open", shrink=0.85)
    for polarity, style in ((1, "solid"), (-1, "dashed")):
        mask = (open_field[:, order] == polarity).astype(float)
        if mask.any() and not mask.all():
            ax.contour(seed_x, np.sin(np.radians(seed_lat[:, 0])), mask, levels=[0.5],
                       colors="white", linestyles=style, linewidths=1.5)
    ax.set_xlabel(lon_name)
    _lat_axis(ax)
    uncertain = np.mean((probability > 1 - CERTAIN) & (probability < CERTAIN))
    ax.set_title(f"{title}: open-field probability over {count} samples; mean map's open field "
                 f"outlined white (dashed -); {100 * uncertain:.1f}% of the area uncertain",
                 fontsize=10)
    _save_figure(figure, out_dir / "open_probability.png")


# --------------------------------------------------------------------------- the whole run


def run_pfss(map_path: str | os.PathLike, out_dir: str | os.PathLike, rss: float = DEFAULT_RSS,
             nr: int = DEFAULT_NR, seeds: tuple[int, int] = DEFAULT_SEEDS, progress: bool = True,
             figures: bool = True, samples: int | str | None = None) -> dict:
    """PFSS of the full-Sun B_r map in ``map_path`` (FITS); writes into ``out_dir``:

    - ``source_surface_br.fits``: B_r (G) at the source surface on the input's pixels;
    - ``hcs.csv``: the current sheet, ``lon_deg,lat_deg,segment`` (``current_sheet``);
    - ``open_field.fits``: int8 (NLAT, NLON) open field (+1/-1/0, ``open_field_map``), a
      CEA map with the header ``full_sun_header(time, (NLAT, NLON), frame of the input)``;
    - ``summary.json`` (returned): fluxes (Mx), open area fraction, settings, timings;
    - PNG figures, unless ``figures`` is False (see ``OUTPUT_FILES``).

    With ``samples`` (N, or :data:`ALL_SAMPLES`), PFSS of the first N maps of the file's
    SAMPLES layer as well (:func:`sample_coronas`), and (``SAMPLE_OUTPUT_FILES``):

    - ``open_probability.fits``: float32 (NLAT, NLON) fraction of the samples whose field
      line from the seed is open, a CEA map with open_field.fits's header conventions
      (NSAMPLES), and the layer SIGNED, float32 -1..1, the fraction open with positive
      minus that open with negative polarity (:func:`open_probability`);
    - ``hcs_spread.csv``: ``lon_deg,lat_deg,samples,mean_lat_deg,std_lat_deg`` at the
      source-surface map's column longitudes (:func:`hcs_spread`);
    - ``open_probability.png``, and the samples' current sheets in source_surface_hcs.png;
    - summary keys ``samples``, ``open_probability`` (mean, area fractions with
      p >= CERTAIN, between, p <= 1 - CERTAIN), ``open_area_fraction_samples`` and
      ``open_flux_mx_samples`` (mean, std), ``hcs_latitude_spread_deg`` (mean of
      std_lat_deg), ``lines_out_of_steps_samples``, ``seconds_samples``.

    Args:
        map_path: full-Sun heliographic CEA B_r map (G), Carrington or Stonyhurst.
        out_dir: output folder (made if missing).
        rss: source-surface radius, R_sun (> 1).
        nr: radial cells (>= 2).
        seeds: (NLON, NLAT) seed grid of the open/closed tracing, two even integers.
        progress: a progress bar for the tracing on stderr.
        figures: write the PNG figures.
        samples: None (no samples), a number N >= 1 of the SAMPLES layer's maps, or
            :data:`ALL_SAMPLES`.

    The map, its samples and the settings are checked, and everything solved, before
    anything is written; a problem raises ValueError "MAP_PATH: problem". Each file is
    written atomically.
    """
    started = time.monotonic()
    label = str(map_path)
    check_settings(rss, nr, seeds, label=label)
    seeds = (int(seeds[0]), int(seeds[1]))
    br_map = read_br_map(map_path)
    sample_maps = None if samples is None else read_samples(map_path, br_map.data.shape, samples)

    t0 = time.monotonic()
    output = pfss_solution(br_map, nr=int(nr), rss=float(rss), label=label)  # checks the map
    frame = _output_frame_name(output)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        output.bg  # the field on the grid points (cached), part of the solving time
        ss_map = output.source_surface_br
    seconds_solve = time.monotonic() - t0

    t0 = time.monotonic()
    seed_lon, seed_lat, seed_header = _seed_lonlat_deg(output, seeds)
    open_field, out_of_steps = trace_polarities(output, seed_lon, seed_lat, progress=progress)
    seconds_trace = time.monotonic() - t0
    sheet = current_sheet(output)
    if sample_maps is not None:
        t0 = time.monotonic()
        coronas = sample_coronas(br_map, sample_maps, int(nr), float(rss), seed_lon, seed_lat,
                                 label=label, progress=progress)
        probability, signed = open_probability(coronas["open_fields"])
        import sunpy.map

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ss_lon = sunpy.map.all_coordinates_from_map(ss_map)[0].lon.deg
        spread = hcs_spread(sheet, coronas["sheets"], np.sort(_wrap_lon_deg(ss_lon, frame)))
        seconds_samples = time.monotonic() - t0

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _save_map(ss_map, out_dir / "source_surface_br.fits")
    _write_current_sheet(sheet, out_dir / "hcs.csv")
    _write_open_field(open_field, seed_header, output, out_dir / "open_field.fits")
    if sample_maps is not None:
        _write_open_probability(probability, signed, len(sample_maps), seed_header, output,
                                out_dir / "open_probability.fits")
        _write_hcs_spread(spread, out_dir / "hcs_spread.csv")

    import astropy.units as u

    gauss = 1.0 if br_map.unit is None else float((1 * br_map.unit).to_value(u.G))
    br = np.asarray(br_map.data, dtype=np.float64) * gauss
    pixel_cm2 = full_sun_pixel_area_cm2(br.shape)
    summary = {
        "map": label,
        "frame": frame,
        "time": br_map.date.isot,
        "shape": list(br.shape),
        "rss": float(rss),
        "nr": int(nr),
        "seeds": list(seeds),
        "seed_radius_rsun": SEED_RADIUS_RSUN,
        "open_flux_mx": open_flux_mx(ss_map, rss, gauss),
        "open_flux_definition": "unsigned flux through the source surface: "
                                "sum of |B_r(rss)| x pixel area at rss",
        "unsigned_flux_mx": float(np.abs(br).sum() * pixel_cm2),
        "net_flux_mx": float(br.sum() * pixel_cm2),
        "open_area_fraction": float(np.mean(open_field != 0)),
        "open_area_fraction_positive": float(np.mean(open_field > 0)),
        "open_area_fraction_negative": float(np.mean(open_field < 0)),
        "current_sheet_points": int(len(sheet)),
        "current_sheet_segments": int(len(np.unique(sheet[:, 2]))),
        "lines_out_of_steps": int(out_of_steps),
        "seconds_solve": round(seconds_solve, 3),
        "seconds_trace": round(seconds_trace, 3),
    }
    if sample_maps is not None:
        open_fraction = (coronas["open_fields"] != 0).mean(axis=(1, 2))
        summary.update({
            "samples": len(sample_maps),
            "open_probability": {
                "mean": float(probability.mean()),
                f"area_fraction_p_ge_{CERTAIN:g}": float(np.mean(probability >= CERTAIN)),
                f"area_fraction_p_between_{1 - CERTAIN:g}_{CERTAIN:g}": float(
                    np.mean((probability > 1 - CERTAIN) & (probability < CERTAIN))),
                f"area_fraction_p_le_{1 - CERTAIN:g}": float(np.mean(probability <= 1 - CERTAIN)),
            },
            "open_area_fraction_samples": {"mean": float(open_fraction.mean()),
                                           "std": float(open_fraction.std())},
            "open_flux_mx_samples": {"mean": float(coronas["open_flux_mx"].mean()),
                                     "std": float(coronas["open_flux_mx"].std())},
            "hcs_latitude_spread_deg": (float(np.nanmean(spread[:, 4]))
                                        if np.isfinite(spread[:, 4]).any() else None),
            "lines_out_of_steps_samples": int(coronas["lines_out_of_steps"]),
            "seconds_samples": round(seconds_samples, 3),
        })
    if figures:
        write_figures(br_map, output, open_field, seed_lon, seed_lat, sheet, out_dir,
                      title=Path(map_path).name,
                      sample_sheets=None if sample_maps is None else coronas["sheets"])
        if sample_maps is not None:
            write_probability_figure(probability, open_field, seed_lon, seed_lat, frame,
                                     len(sample_maps), out_dir, title=Path(map_path).name)
    summary["seconds"] = round(time.monotonic() - started, 3)
    write_json_atomically(out_dir / "summary.json", summary)
    return summary


# --------------------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``solarmaggan pfss``."""
    parser.add_argument("map", help="full-Sun B_r map (FITS, heliographic CEA, Carrington or "
                                    "Stonyhurst, G): a synchronic map, hmi.Synoptic_Mr, GONG")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--rss", type=float, default=DEFAULT_RSS,
                        help="source-surface radius, R_sun")
    parser.add_argument("--nr", type=int, default=DEFAULT_NR,
                        help="radial cells of the PFSS grid")
    parser.add_argument("--seeds", type=int, nargs=2, metavar=("NLON", "NLAT"),
                        default=list(DEFAULT_SEEDS),
                        help="open/closed seed grid, even integers")
    parser.add_argument("--samples", nargs="?", const=ALL_SAMPLES, default=None, type=sample_count,
                        metavar="N", help="also solve the first N maps of the map's SAMPLES layer "
                        "(all without N): open_probability.fits, hcs_spread.csv")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def sample_count(text: str) -> int | str:
    """``--samples`` N: an integer (run_pfss checks its range), or 'all'."""
    if text == ALL_SAMPLES:
        return ALL_SAMPLES
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of samples or {ALL_SAMPLES!r}, got "
                                         f"{text!r} (give the map before --samples)") from None


def run(args: argparse.Namespace) -> int:
    """Run ``solarmaggan pfss``: write the outputs, print a short summary."""
    summary = run_pfss(args.map, args.out, rss=args.rss, nr=args.nr, seeds=tuple(args.seeds),
                       progress=not args.quiet, samples=args.samples)
    print(f"PFSS rss {summary['rss']:g} R_sun, nr {summary['nr']}: open flux "
          f"{summary['open_flux_mx']:.3e} Mx of {summary['unsigned_flux_mx']:.3e} Mx unsigned, "
          f"{100 * summary['open_area_fraction']:.1f}% of the surface open, "
          f"{summary['current_sheet_segments']} current-sheet segment(s); "
          f"{summary['seconds']:.1f} s -> {args.out}")
    if "samples" in summary:
        spread = summary["hcs_latitude_spread_deg"]
        uncertain = next(value for key, value in summary["open_probability"].items()
                         if key.startswith("area_fraction_p_between"))
        print(f"{summary['samples']} samples: open flux {summary['open_flux_mx_samples']['mean']:.3e} "
              f"+- {summary['open_flux_mx_samples']['std']:.3e} Mx, {100 * uncertain:.1f}% of the "
              f"surface open in some samples only, current-sheet latitude spread "
              f"{'n/a' if spread is None else f'{spread:.2f} deg'}")
    return 0
