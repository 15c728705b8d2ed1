"""The forecasters' bulletin (``solarmaggan bulletin REGIONS_DIR --map FULLSUN.fits --out
DIR``): one page saying which active regions are on the Sun now, which of them are on the
far side, and when each far-side region is forecast to come round Earth's east limb, with
how much flux.

Inputs:

* ``REGIONS_DIR/regions.csv`` (:data:`REGION_COLUMNS`; one row per detection: a region at
  a time seen by an observer; times ISO 8601 UTC, ``flux_mx`` unsigned flux in Mx,
  ``area_msh`` in millionths of a hemisphere, ``flux_lo_mx`` / ``flux_hi_mx`` the 68 %
  range) and ``REGIONS_DIR/arrivals.csv`` (:data:`ARRIVAL_COLUMNS`; the forecast issued at
  each far-side sighting: the time the region's centroid reaches Stonyhurst longitude
  -90 deg, Earth's east limb), as ``solarmaggan regions`` writes them
  (:mod:`solarmaggan.regions.catalogue`);
* ``--map``: a full-Sun Carrington CEA map of B_r in G (its first map; a synchronic or
  assimilated map, or any map on the grid of :func:`data_prep.geometry.full_sun_header`);
* ``--time``: the bulletin time (default the map's DATE-OBS).

Each region is shown by its *current* row: its latest row at or before the bulletin time,
at most ``MAX_GAP_DAYS`` (27) before it (:func:`current_rows`: what was known then; later
sightings in the catalogue are not used); the same rule picks
each far-side region's current arrival forecast (by ``last_seen_time``). The far-side
regions are those with a forecast in ``arrivals.csv``.

Outputs in ``DIR`` (each written atomically; ``DIR`` is made only once every input has been
read and checked, so a refused input leaves nothing):

* ``bulletin.png``: (top) the map (Carrington longitude 0-360 deg x sine latitude, grey,
  +-:data:`MAP_LIMIT_GAUSS`), each region outlined by the circle on the sphere of its area
  and labelled with its ``region_id`` (far-side regions in their own colour), Earth's
  central meridian and east and west limbs at the bulletin time (sunpy's L0); (bottom) the
  arrivals: predicted arrival date against flux (log scale, 68 % range as error bars);
* ``bulletin.html``: one self-contained page (the PNG embedded as a ``data:`` URI, inline
  CSS, no scripts, fonts or links to anywhere): the far-side table sorted by arrival and a
  table of all regions on the map;
* ``bulletin.json``: ``{"time", "map", "regions", "arrivals"}`` (:func:`write_bulletin`).

No TensorFlow.
"""

from __future__ import annotations

import argparse
import base64
import csv
import html
import math
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from data_prep.fitsio import FitsInputError

from solarmaggan.regions.catalogue import ARRIVAL_COLUMNS, MAX_GAP_DAYS, REGION_COLUMNS

#: Columns read as text; every other column is a number (float; an empty cell is NaN).
TEXT_COLUMNS = frozenset({"region_id", "time", "observer", "leading_polarity", "source_file",
                          "last_seen_time", "predicted_arrival_time"})
#: Columns read as times (ISO 8601, UTC).
TIME_COLUMNS = ("time", "last_seen_time", "predicted_arrival_time")
#: The map's grey scale, +- this (G).
MAP_LIMIT_GAUSS = 100.0
#: Outline colours: regions on the side Earth sees, far-side regions (in arrivals.csv).
NEAR_COLOUR = "#1f9bde"
FAR_COLOUR = "#e8308a"
DAY_S = 86400.0
FILES = ("bulletin.png", "bulletin.html", "bulletin.json")


# ---------------------------------------------------------------------------------------
# inputs


def _number(text: str, name: str, line: int, column: str) -> float:
    """A CSV cell as a float (empty: NaN); ValueError "FILE line N: ..." otherwise."""
    text = text.strip()
    if not text:
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{name} line {line}: {column} {text!r} is not a number") from None


def _time(text: str, name: str, line: int, column: str):
    """A CSV cell as an astropy Time (UTC); ValueError "FILE line N: ..." otherwise."""
    from astropy.time import Time

    try:
        return Time(text.strip(), scale="utc")
    except ValueError:
        raise ValueError(f"{name} line {line}: {column} {text!r} is not a time "
                         "(ISO 8601, UTC)") from None


def read_table(path: str | os.PathLike, columns: Sequence[str],
               allow_empty: bool = False) -> list[dict[str, Any]]:
    """The rows of the CSV file ``path`` with (at least) ``columns``: text columns as str,
    time columns also parsed (key ``_<column>``: astropy Time, UTC), the rest as floats
    (an empty cell: NaN). Extra columns are kept as text. ValueError (one line naming the
    file) for a missing file, a missing column, a bad cell or (unless ``allow_empty``) no
    rows."""
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise ValueError(f"{name}: no such file (solarmaggan regions writes it)"
                         if not path.exists() else f"{name}: not a file")
    try:
        with open(path, newline="", encoding="utf-8") as stream:
            reader = csv.DictReader(stream)
            header = [field.strip() for field in reader.fieldnames or []]
            missing = [column for column in columns if column not in header]
            if not header:
                raise ValueError(f"{name}: empty file (no header line)")
            if missing:
                raise ValueError(f"{name}: missing column(s) {', '.join(missing)} (has: "
                                 f"{', '.join(header)})")
            reader.fieldnames = header
            raw = list(reader)
    except (UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"{name}: not a readable CSV file ({err})") from None
    if not raw and not allow_empty:
        raise ValueError(f"{name}: no rows (only the header)")
    rows = []
    for line, cells in enumerate(raw, start=2):
        if None in cells or any(cells.get(column) is None for column in columns):
            raise ValueError(f"{name} line {line}: {len(header)} cells expected")
        row: dict[str, Any] = {}
        for column in header:
            text = cells[column]
            if column in TEXT_COLUMNS or column not in columns:
                row[column] = text.strip()
            else:
                row[column] = _number(text, name, line, column)
        if not row.get("region_id"):
            raise ValueError(f"{name} line {line}: empty region_id")
        for column in TIME_COLUMNS:
            if column in columns:
                row["_" + column] = _time(row[column], name, line, column)
        rows.append(row)
    return rows


def read_arrivals(path: str | os.PathLike) -> list[dict[str, Any]]:
    """:func:`read_table` of ``arrivals.csv``; a header-only file (no region on the far
    side: the catalogue writes one then) gives no rows."""
    return read_table(path, ARRIVAL_COLUMNS, allow_empty=True)


def read_bulletin_map(path: str | os.PathLike):
    """The full-Sun map ``path`` as a sunpy map: a full-Sun Carrington CEA map (the checks
    of the synchronic maps' fill maps, :func:`solarmaggan.fullsun.synchronic.read_fill`,
    then CTYPE CRLN-CEA, CRLT-CEA and an even number of rows and columns); gaps (NaN) are
    allowed. FitsInputError "PATH: problem" otherwise."""
    from data_prep.geometry import check_full_sun_shape
    from solarmaggan.fullsun.synchronic import check_carrington_cea, read_fill

    full_sun = read_fill(path, needed_by="the bulletin needs")
    check_carrington_cea(full_sun, path, "the bulletin needs")
    try:
        check_full_sun_shape(tuple(int(n) for n in full_sun.data.shape))
    except ValueError as err:
        raise FitsInputError(f"{path}: {err}") from None
    return full_sun


def map_time(full_sun, path: str | os.PathLike):
    """The map's DATE-OBS (sunpy's ``date``, UTC); FitsInputError if its header has no
    time (then ``--time`` is needed)."""
    from solarmaggan.fullsun.synchronic import quiet

    if not any(key in full_sun.meta for key in ("date-obs", "date_obs", "t_obs", "date-avg")):
        raise FitsInputError(f"{path}: no DATE-OBS in the header; give the bulletin time "
                             "with --time")
    with quiet():
        return full_sun.date.utc


def current_rows(rows: Sequence[dict[str, Any]], time_key: str, time) -> list[dict[str, Any]]:
    """One row per ``region_id``: its latest row whose ``time_key`` (``_time`` or
    ``_last_seen_time``: astropy Times) lies at or before ``time`` and at most
    :data:`~solarmaggan.regions.catalogue.MAX_GAP_DAYS` before it (what was known at the
    bulletin time, from tracks still open); regions without one are left out; in the
    order the regions first appear."""
    by_id: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_id.setdefault(row["region_id"], []).append(row)
    chosen = []
    for history in by_id.values():
        known = [row for row in history
                 if 0.0 <= float((time - row[time_key]).to_value("s")) + 1.0 <= MAX_GAP_DAYS * DAY_S + 1.0]
        if known:
            chosen.append(max(known, key=lambda row: row[time_key].jd))
    return chosen


# ---------------------------------------------------------------------------------------
# geometry and the figure


def area_radius_deg(area_msh: float) -> float:
    """The angular radius (deg) of the spherical cap of ``area_msh`` millionths of a
    hemisphere: cap area 2 pi R^2 (1 - cos theta) = area_msh 1e-6 2 pi R^2."""
    fraction = min(max(float(area_msh), 0.0) * 1e-6, 2.0)
    return math.degrees(math.acos(1.0 - fraction))


def circle_outline(lon_deg: float, lat_deg: float, radius_deg: float,
                   points: int = 97) -> tuple[np.ndarray, np.ndarray]:
    """(longitude deg, sine latitude) of the circle of angular radius ``radius_deg`` about
    (``lon_deg``, ``lat_deg``) on the sphere: the outline as drawn in CEA axes. Longitudes
    run continuously about ``lon_deg`` (they may pass below 0 or above 360)."""
    lat0, theta = math.radians(lat_deg), math.radians(radius_deg)
    bearing = np.linspace(0.0, 2.0 * np.pi, points)
    sin_lat = np.clip(math.sin(lat0) * math.cos(theta)
                      + math.cos(lat0) * math.sin(theta) * np.cos(bearing), -1.0, 1.0)
    dlon = np.arctan2(np.sin(bearing) * math.sin(theta) * math.cos(lat0),
                      math.cos(theta) - math.sin(lat0) * sin_lat)
    return lon_deg + np.degrees(dlon), sin_lat


def map_image(full_sun) -> tuple[np.ndarray, list[float]]:
    """The map's B_r (G) with columns in Carrington longitude 0-360 increasing and rows in
    sine latitude -1..1 increasing, and its imshow extent [lon0, lon1, -1, 1] (deg)."""
    from data_prep.geometry import full_sun_longitudes_deg

    data = np.asarray(full_sun.data, dtype=np.float64)
    longitudes = full_sun_longitudes_deg(full_sun.meta)[: data.shape[1]] % 360.0
    order = np.argsort(longitudes, kind="stable")
    data, longitudes = data[:, order], longitudes[order]
    if float(full_sun.meta.get("cdelt2", 1.0)) < 0:
        data = data[::-1]
    step = 360.0 / data.shape[1]
    return data, [float(longitudes[0]) - step / 2, float(longitudes[-1]) + step / 2, -1.0, 1.0]


def limb_longitudes_deg(time) -> dict[str, float]:
    """Carrington longitudes (deg, 0-360) of Earth's central meridian (sunpy's L0) and of
    the east (L0 - 90) and west (L0 + 90) limbs at ``time``."""
    from sunpy.coordinates import sun

    centre = float(sun.L0(time).to_value("deg")) % 360.0
    return {"central meridian": centre, "east limb": (centre - 90.0) % 360.0,
            "west limb": (centre + 90.0) % 360.0}


def _finite(value: Any) -> bool:
    return isinstance(value, float) and math.isfinite(value)


def bulletin_figure(path: str | os.PathLike, full_sun, time, regions: Sequence[dict[str, Any]],
                    arrivals: Sequence[dict[str, Any]], title: str) -> None:
    """Write the bulletin's PNG (module docstring): the map with the regions' outlines and
    Earth's meridian and limbs on top, the arrivals' timeline (flux in Mx, log) below."""
    import matplotlib.dates as mdates
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from solarmaggan.plotting import _save

    far_ids = {row["region_id"] for row in arrivals}
    figure = Figure(figsize=(11.0, 9.0), dpi=100, layout="constrained")
    top, bottom = figure.subplots(2, 1, height_ratios=[1.25, 1.0])
    data, extent = map_image(full_sun)
    image = top.imshow(data, origin="lower", extent=extent, aspect="auto", cmap="gray",
                       vmin=-MAP_LIMIT_GAUSS, vmax=MAP_LIMIT_GAUSS, interpolation="nearest")
    figure.colorbar(image, ax=top, label="B_r [G]", pad=0.01, extend="both")
    for label, longitude in limb_longitudes_deg(time).items():
        style = "-" if label == "central meridian" else "--"
        top.axvline(longitude, color="#f2c511", linestyle=style, linewidth=1.2)
        top.text(longitude, 0.985, label, color="#5c4800", fontsize=7, va="top", ha="center",
                 transform=top.get_xaxis_transform(), clip_on=True,
                 bbox={"boxstyle": "round,pad=0.2", "facecolor": "#fff4c2", "edgecolor": "none",
                       "alpha": 0.85})
    for row in regions:
        lon, lat = row["carrington_lon_deg"], row["carrington_lat_deg"]
        if not (_finite(lon) and _finite(lat)):
            continue
        colour = FAR_COLOUR if row["region_id"] in far_ids else NEAR_COLOUR
        radius = area_radius_deg(row["area_msh"]) if _finite(row["area_msh"]) else 0.0
        xs, ys = circle_outline(lon % 360.0, lat, max(radius, 0.5))
        for shift in (-360.0, 0.0, 360.0):  # an outline across 0/360 is drawn on both sides
            if np.any((xs + shift >= 0.0) & (xs + shift <= 360.0)):
                top.plot(xs + shift, ys, color=colour, linewidth=1.3)
        top.text(min(max(lon % 360.0, 6.0), 354.0), min(float(np.max(ys)) + 0.03, 0.9),
                 row["region_id"], color=colour,
                 fontsize=8, fontweight="bold", ha="center", va="bottom", clip_on=True)
    top.set_xlim(0.0, 360.0)
    top.set_ylim(-1.0, 1.0)
    top.set_xticks(np.arange(0, 361, 30))
    latitudes = np.array([-90, -60, -30, -15, 0, 15, 30, 60, 90])
    top.set_yticks(np.sin(np.radians(latitudes)), [f"{v:d}" for v in latitudes])
    top.set_xlabel("Carrington longitude [deg]")
    top.set_ylabel("latitude [deg] (sine scale)")
    top.set_title(title, fontsize=10)
    top.legend(handles=[Line2D([], [], color=NEAR_COLOUR, label="region (side Earth sees)"),
                        Line2D([], [], color=FAR_COLOUR, label="far-side region (arrival forecast)"),
                        Line2D([], [], color="#f2c511", label="Earth's central meridian"),
                        Line2D([], [], color="#f2c511", linestyle="--", label="Earth's limbs")],
               loc="lower left", fontsize=7, framealpha=0.8)

    plotted = [row for row in arrivals if _finite(row["flux_mx"]) and row["flux_mx"] > 0]
    bottom.axvline(time.to_datetime(), color="0.4", linestyle=":", linewidth=1.0)
    bottom.text(time.to_datetime(), 1.0, " bulletin time", color="0.3", fontsize=7, va="top",
                transform=bottom.get_xaxis_transform())
    if plotted:
        when = [row["_predicted_arrival_time"].to_datetime() for row in plotted]
        flux = np.array([row["flux_mx"] for row in plotted])
        low = np.array([row["flux_lo_mx"] if _finite(row["flux_lo_mx"]) else row["flux_mx"]
                        for row in plotted])
        high = np.array([row["flux_hi_mx"] if _finite(row["flux_hi_mx"]) else row["flux_mx"]
                         for row in plotted])
        errors = np.vstack([np.clip(flux - low, 0, None), np.clip(high - flux, 0, None)])
        bottom.set_yscale("log", nonpositive="clip")
        bottom.errorbar(when, flux, yerr=errors, fmt="o", color=FAR_COLOUR, ecolor=FAR_COLOUR,
                        capsize=3, markersize=5)
        for moment, value, row in zip(when, flux, plotted):
            bottom.annotate(row["region_id"], (moment, value), textcoords="offset points",
                            xytext=(5, 5), fontsize=7)
        bottom.set_ylabel("flux at arrival [Mx] (68 % range)")
    else:
        bottom.text(0.5, 0.5, "no far-side region forecast to arrive", ha="center", va="center",
                    transform=bottom.transAxes, fontsize=10, color="0.3")
        bottom.set_yticks([])
    locator = mdates.AutoDateLocator()
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    bottom.set_xlabel("predicted arrival at Earth's east limb (UTC)")
    bottom.set_title("far-side regions: east-limb arrivals", fontsize=10)
    bottom.grid(True, which="major", alpha=0.3)
    _save(figure, path)


# ---------------------------------------------------------------------------------------
# the page and the record

STYLE = """
body { font-family: sans-serif; margin: 1.5em auto; max-width: 72em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.4em; }
img { max-width: 100%; border: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: right; }
th { background: #eee; } td.text { text-align: left; }
tr.far td { background: #fbe3ef; }
p.note { color: #555; font-size: 0.85em; }
"""


def _e21(value: float) -> str:
    """A flux (Mx) in units of 1e21 Mx, or a dash."""
    return f"{value / 1e21:.2f}" if _finite(value) else "–"


def _fixed(value: float, digits: int = 1) -> str:
    return f"{value:.{digits}f}" if _finite(value) else "–"


def _utc(time) -> str:
    return time.utc.isot[:16].replace("T", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], text_columns: Sequence[int],
           classes: Sequence[str] | None = None) -> str:
    """An HTML table of already formatted cells (escaped here)."""
    lines = ["<table>", "<tr>" + "".join(f"<th>{html.escape(cell)}</th>" for cell in header) + "</tr>"]
    for index, cells in enumerate(rows):
        kind = f' class="{html.escape(classes[index])}"' if classes and classes[index] else ""
        lines.append(f"<tr{kind}>" + "".join(
            f'<td class="text">{html.escape(cell)}</td>' if column in text_columns
            else f"<td>{html.escape(cell)}</td>" for column, cell in enumerate(cells)) + "</tr>")
    lines.append("</table>")
    return "\n".join(lines)


def bulletin_html(png: bytes, time, map_path: str, regions: Sequence[dict[str, Any]],
                  arrivals: Sequence[dict[str, Any]], regions_dir: str) -> str:
    """The self-contained page: the PNG as a data URI, inline CSS, the far-side table
    (sorted by arrival; fluxes in 1e21 Mx) and the table of all regions on the map."""
    far_ids = {row["region_id"] for row in arrivals}
    stamp = _utc(time)
    far_rows = [[row["region_id"], _utc(row["_last_seen_time"]), _utc(row["_predicted_arrival_time"]),
                 f"{row['days_to_arrival']:+.1f}", _fixed(row["carrington_lat_deg"]),
                 _e21(row["flux_mx"]), f"{_e21(row['flux_lo_mx'])} – {_e21(row['flux_hi_mx'])}"]
                for row in arrivals]
    far_table = (_table(["region", "last seen (UTC)", "predicted arrival (UTC)",
                         "days from bulletin", "latitude [deg]", "flux [1e21 Mx]",
                         "68 % range [1e21 Mx]"], far_rows, text_columns=(0, 1, 2))
                 if far_rows else "<p>No far-side region is forecast to arrive.</p>")
    all_rows = sorted(regions, key=lambda row: (row["region_id"] not in far_ids, row["region_id"]))
    map_rows = [[row["region_id"], "far side" if row["region_id"] in far_ids else "Earth side",
                 _utc(row["_time"]), row["observer"], _fixed(row["carrington_lon_deg"] % 360.0),
                 _fixed(row["carrington_lat_deg"]), _fixed(row["stonyhurst_lon_deg"]),
                 _fixed(row["area_msh"], 0), _e21(row["flux_mx"]),
                 _fixed(row["detection_probability"], 2)] for row in all_rows]
    map_table = _table(["region", "side", "seen (UTC)", "observer", "Carrington lon [deg]",
                        "latitude [deg]", "Stonyhurst lon [deg]", "area [MSH]",
                        "flux [1e21 Mx]", "detection probability"], map_rows,
                       text_columns=(0, 1, 2, 3),
                       classes=["far" if row["region_id"] in far_ids else "" for row in all_rows])
    image = base64.b64encode(png).decode("ascii")
    title = f"Far-side active regions: bulletin of {stamp} UTC"
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="note">Map: {html.escape(Path(map_path).name)}; regions and arrival forecasts: '
        f"{html.escape(regions_dir)} (solarmaggan regions). Arrival: the predicted time the "
        "region's centroid reaches Earth's east limb (Stonyhurst longitude -90 deg). Fluxes "
        "unsigned, with their 68 % range.</p>",
        f'<img alt="{html.escape(title)}" src="data:image/png;base64,{image}">',
        f"<h2>Far-side regions ({len(arrivals)}), by arrival</h2>",
        far_table,
        f"<h2>All regions on the map ({len(regions)})</h2>",
        map_table,
        '<p class="note">Each region as last seen at or before the bulletin time (within '
        f"{MAX_GAP_DAYS:g} days); far-side regions are those with an arrival forecast.</p>",
        "</body>",
        "</html>",
        "",
    ])


def _record_row(row: dict[str, Any], columns: Sequence[str]) -> dict[str, Any]:
    """A row for the JSON record: the columns only, numbers as floats (NaN: null)."""
    record = {}
    for column in columns:
        value = row[column]
        if isinstance(value, float):
            value = value if math.isfinite(value) else None
        record[column] = value
    return record


def write_bulletin(regions_dir: str | os.PathLike, map_path: str | os.PathLike,
                   out: str | os.PathLike, time: Any = None) -> dict[str, Any]:
    """Write ``out/bulletin.png``, ``bulletin.html`` and ``bulletin.json`` (module
    docstring) from ``regions_dir`` (``regions.csv``, ``arrivals.csv``) and the full-Sun
    map ``map_path``, for the bulletin ``time`` (ISO 8601 UTC or astropy Time; default the
    map's DATE-OBS). Every input is checked before ``out`` is made. Returns the JSON record:
    ``time`` (ISO), ``map`` (path), ``regions`` (the current row of each region, with
    ``far_side``), ``arrivals`` (the current forecast of each far-side region, sorted by
    arrival, with ``days_to_arrival``: days from the bulletin time, negative if past)."""
    from astropy.time import Time

    from data_prep.atomic import atomic_path, write_json_atomically

    regions_dir = Path(regions_dir)
    if not regions_dir.is_dir():
        raise ValueError(f"{regions_dir}: no such folder" if not regions_dir.exists()
                         else f"{regions_dir}: not a folder (the output of solarmaggan regions expected)")
    if time is not None:
        try:
            time = Time(time).utc
        except ValueError:
            raise ValueError(f"--time: not a time: {time!r} (ISO 8601, e.g. 2011-03-01T00:00)") from None
    rows = read_table(regions_dir / "regions.csv", REGION_COLUMNS, allow_empty=True)
    forecasts = read_arrivals(regions_dir / "arrivals.csv")
    known = {row["region_id"] for row in rows}
    for line, row in enumerate(forecasts, start=2):
        if row["region_id"] not in known:
            raise ValueError(f"{regions_dir / 'arrivals.csv'} line {line}: region_id "
                             f"{row['region_id']!r} is not in regions.csv")
    full_sun = read_bulletin_map(map_path)
    if time is None:
        time = map_time(full_sun, map_path)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: exists and is not a folder")

    regions = current_rows(rows, "_time", time)
    arrivals = current_rows(forecasts, "_last_seen_time", time)
    for row in arrivals:
        row["days_to_arrival"] = float((row["_predicted_arrival_time"] - time).to_value("s")) / DAY_S
    arrivals.sort(key=lambda row: (row["_predicted_arrival_time"].jd, row["region_id"]))
    far_ids = {row["region_id"] for row in arrivals}
    stamp = _utc(time)

    out.mkdir(parents=True, exist_ok=True)
    png_path, html_path, json_path = (out / name for name in FILES)
    bulletin_figure(png_path, full_sun, time, regions, arrivals,
                    f"B_r {Path(map_path).name} and active regions at {stamp} UTC")
    page = bulletin_html(png_path.read_bytes(), time, str(map_path), regions, arrivals,
                         str(regions_dir))
    with atomic_path(html_path) as temporary:
        Path(temporary).write_text(page, encoding="utf-8")
    record = {
        "time": time.isot,
        "map": str(map_path),
        "regions": [{**_record_row(row, REGION_COLUMNS), "far_side": row["region_id"] in far_ids}
                    for row in regions],
        "arrivals": [{**_record_row(row, ARRIVAL_COLUMNS), "days_to_arrival": row["days_to_arrival"]}
                     for row in arrivals],
    }
    write_json_atomically(json_path, record, allow_nan=False)
    return record


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``solarmaggan bulletin`` arguments."""
    parser.add_argument("regions_dir", metavar="REGIONS_DIR",
                        help="folder with regions.csv and arrivals.csv (solarmaggan regions --out)")
    parser.add_argument("--map", required=True, metavar="FULLSUN_FITS",
                        help="a full-Sun Carrington CEA map of B_r in G (synchronic, "
                             "assimilated; its first map)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output folder (bulletin.png, bulletin.html, bulletin.json)")
    parser.add_argument("--time", default=None, metavar="TIME",
                        help="the bulletin time, ISO 8601 UTC (default: the map's DATE-OBS)")


def run(args: argparse.Namespace) -> int:
    """Run ``solarmaggan bulletin`` (ValueError for bad inputs)."""
    record = write_bulletin(args.regions_dir, args.map, args.out, time=args.time)
    out = Path(args.out)
    print(f"wrote {', '.join(str(out / name) for name in FILES)}: {len(record['regions'])} "
          f"regions, {len(record['arrivals'])} on the far side, at {record['time'][:16]} UTC")
    return 0
