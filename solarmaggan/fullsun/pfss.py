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
rss^2 R_sun^2 x sum |B_r(rss)| dOmega, in Mx (every open field line crosses the source
surface once, so this is the flux of all open field); it is at most the unsigned
photospheric flux.

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


# --------------------------------------------------------------------------- files


def read_br_map(path: str | os.PathLike):
    """Read a full-Sun B_r map from a FITS file: the first HDU holding a 2-D image (the
    primary HDU of the synchronic maps, whose SOURCE and AGE extensions are ignored; the
    compressed image HDU of HMI synoptic maps). Unreadable files raise ValueError
    "PATH: problem"."""
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


def _write_open_field(open_field: np.ndarray, header, output, path: Path) -> None:
    from astropy.io import fits

    header = header.copy()
    for key in ("NAXIS1", "NAXIS2"):  # the HDU writes its own, in their place
        header.remove(key, ignore_missing=True)
    header["BUNIT"] = ""
    header["CONTENT"] = ("PFSS open field", "+1/-1 open with that polarity, 0 closed")
    header["SEEDR"] = (SEED_RADIUS_RSUN, "[R_sun] radius of the traced seeds")
    header["RSS"] = (float(output.grid.rss), "[R_sun] source-surface radius")
    header["PFSS_NR"] = (int(output.grid.nr), "radial cells of the PFSS grid")
    with atomic_path(path) as temporary:
        fits.PrimaryHDU(open_field.astype(np.int8), header).writeto(temporary)


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


def _image_panel(ax, data: np.ndarray, lon_deg: np.ndarray, cmap: str, limit: float):
    """Show a full-Sun CEA image on (longitude, sine latitude) axes."""
    step = (lon_deg[-1] - lon_deg[0]) / max(len(lon_deg) - 1, 1)
    return ax.imshow(data, origin="lower", cmap=cmap, vmin=-limit, vmax=limit, aspect="auto",
                     extent=[lon_deg[0] - step / 2, lon_deg[-1] + step / 2, -1, 1],
                     interpolation="nearest")


def _save_figure(figure, path: Path) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=110, format="png")
    plt.close(figure)


def write_figures(br_map, output, open_field: np.ndarray, seed_lon: np.ndarray,
                  seed_lat: np.ndarray, sheet: np.ndarray, out_dir: Path, title: str) -> None:
    """The three PNG figures of ``run_pfss`` (see OUTPUT_FILES)."""
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
    for segment in np.unique(sheet[:, 2]):
        points = sheet[sheet[:, 2] == segment]
        # break the line where it jumps across the map's longitude edge
        jumps = np.flatnonzero(np.abs(np.diff(points[:, 0])) > 180) + 1
        for piece in np.split(points, jumps):
            ax.plot(piece[:, 0], np.sin(np.radians(piece[:, 1])), "k-", lw=1.5)
    ax.set_xlabel(lon_name)
    _lat_axis(ax)
    ax.set_title(f"{title}: B_r at the source surface ({output.grid.rss:g} R_sun), "
                 "current sheet in black")
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


# --------------------------------------------------------------------------- the whole run


def run_pfss(map_path: str | os.PathLike, out_dir: str | os.PathLike, rss: float = DEFAULT_RSS,
             nr: int = DEFAULT_NR, seeds: tuple[int, int] = DEFAULT_SEEDS, progress: bool = True,
             figures: bool = True) -> dict:
    """PFSS of the full-Sun B_r map in ``map_path`` (FITS); writes into ``out_dir``:

    - ``source_surface_br.fits``: B_r (G) at the source surface on the input's pixels;
    - ``hcs.csv``: the current sheet, ``lon_deg,lat_deg,segment`` (``current_sheet``);
    - ``open_field.fits``: int8 (NLAT, NLON) open field (+1/-1/0, ``open_field_map``), a
      CEA map with the header ``full_sun_header(time, (NLAT, NLON), frame of the input)``;
    - ``summary.json`` (returned): fluxes (Mx), open area fraction, settings, timings;
    - PNG figures, unless ``figures`` is False (see ``OUTPUT_FILES``).

    Args:
        map_path: full-Sun heliographic CEA B_r map (G), Carrington or Stonyhurst.
        out_dir: output folder (made if missing).
        rss: source-surface radius, R_sun (> 1).
        nr: radial cells (>= 2).
        seeds: (NLON, NLAT) seed grid of the open/closed tracing, two even integers.
        progress: a progress bar for the tracing on stderr.
        figures: write the PNG figures.

    The map and settings are checked before anything is written; a problem raises
    ValueError "MAP_PATH: problem". Each file is written atomically.
    """
    started = time.monotonic()
    label = str(map_path)
    check_settings(rss, nr, seeds, label=label)
    seeds = (int(seeds[0]), int(seeds[1]))
    br_map = read_br_map(map_path)

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

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _save_map(ss_map, out_dir / "source_surface_br.fits")
    _write_current_sheet(sheet, out_dir / "hcs.csv")
    _write_open_field(open_field, seed_header, output, out_dir / "open_field.fits")

    import astropy.units as u

    gauss = 1.0 if br_map.unit is None else float((1 * br_map.unit).to_value(u.G))
    br = np.asarray(br_map.data, dtype=np.float64) * gauss
    ss_br = np.asarray(ss_map.data, dtype=np.float64) * gauss
    pixel_cm2 = full_sun_pixel_area_cm2(br.shape)
    # the source-surface map has the input's pixels, on a sphere of radius rss
    ss_pixel_cm2 = full_sun_pixel_area_cm2(ss_br.shape, float(rss) * RSUN_REF_M)
    summary = {
        "map": label,
        "frame": frame,
        "time": br_map.date.isot,
        "shape": list(br.shape),
        "rss": float(rss),
        "nr": int(nr),
        "seeds": list(seeds),
        "seed_radius_rsun": SEED_RADIUS_RSUN,
        "open_flux_mx": float(np.abs(ss_br).sum() * ss_pixel_cm2),
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
    if figures:
        write_figures(br_map, output, open_field, seed_lon, seed_lat, sheet, out_dir,
                      title=Path(map_path).name)
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
                        help=f"source-surface radius, R_sun (default {DEFAULT_RSS})")
    parser.add_argument("--nr", type=int, default=DEFAULT_NR,
                        help=f"radial cells of the PFSS grid (default {DEFAULT_NR})")
    parser.add_argument("--seeds", type=int, nargs=2, metavar=("NLON", "NLAT"),
                        default=list(DEFAULT_SEEDS),
                        help="open/closed seed grid, even integers (default %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Run ``solarmaggan pfss``: write the outputs, print a short summary."""
    summary = run_pfss(args.map, args.out, rss=args.rss, nr=args.nr, seeds=tuple(args.seeds),
                       progress=not args.quiet)
    print(f"PFSS rss {summary['rss']:g} R_sun, nr {summary['nr']}: open flux "
          f"{summary['open_flux_mx']:.3e} Mx of {summary['unsigned_flux_mx']:.3e} Mx unsigned, "
          f"{100 * summary['open_area_fraction']:.1f}% of the surface open, "
          f"{summary['current_sheet_segments']} current-sheet segment(s); "
          f"{summary['seconds']:.1f} s -> {args.out}")
    return 0
