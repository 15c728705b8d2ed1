"""The toy Sun's active regions as a catalogue: ``truth/regions.csv`` of a campaign.

Every active region of the whole Sun at every campaign time, from the toy Sun's own state
(:meth:`~data_prep.toysun.evolution.WholeSun.active_regions`), not from images. Each
region's own field (its flux elements alone, without the network, the other regions or the
polar fields) is evaluated on a Carrington grid of ``TRUTH_GRID_DEG`` and gives:

* ``flux_mx``: its unsigned flux on the sphere, the integral of ``|B_r|`` (Mx);
* ``carrington_lon_deg``, ``carrington_lat_deg``: its flux-weighted centroid (the mean of
  the unit vectors weighted by ``|B_r| dA``, deg);
* ``area_msh``: the area where ``|B_r| >= AREA_GAUSS``, in millionths of a hemisphere;
* ``leading_polarity``: the sign of its leading (western) polarity.

Columns: :data:`TRUTH_COLUMNS`. Only numpy is needed.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from data_prep.geometry import RSUN_REF_M

TRUTH_COLUMNS = ("region_id", "time", "carrington_lon_deg", "carrington_lat_deg", "area_msh",
                 "flux_mx", "leading_polarity")
#: Grid (deg) the regions' own fields are integrated on. The smallest element of a region
#: (a satellite spot) has sigma >= 0.5 deg: sampled at one sigma, the sum of a Gaussian's
#: values is its integral to better than 1e-6 (Poisson summation), and 0.5 deg costs a
#: quarter of 0.25 deg (about 0.1 s a campaign time).
TRUTH_GRID_DEG = 0.5
#: A region's area counts the pixels where its own ``|B_r|`` is at least this (G): plage and
#: spots, above the network (peaks of ~6 G) and the toy HMI's noise; `solarmaggan regions`
#: detects regions where the smoothed ``|B_r|`` reaches it.
AREA_GAUSS = 25.0
#: A millionth of a hemisphere (cm^2) of the Sun (RSUN_REF).
MSH_CM2 = 2.0 * math.pi * (RSUN_REF_M * 100.0) ** 2 * 1e-6


def unit_vectors(latitude_deg: Any, longitude_deg: Any) -> np.ndarray:
    """(..., 3) unit vectors of heliographic positions (deg)."""
    latitude, longitude = np.radians(latitude_deg), np.radians(longitude_deg)
    return np.stack([np.cos(latitude) * np.cos(longitude), np.cos(latitude) * np.sin(longitude),
                     np.sin(latitude)], axis=-1)


def weighted_centroid_deg(vectors: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """(latitude, longitude in [0, 360)) deg of the weighted mean of unit ``vectors`` (N, 3)."""
    mean = np.sum(vectors * weights[:, None], axis=0)
    mean = mean / np.linalg.norm(mean)
    return (float(np.degrees(np.arcsin(np.clip(mean[2], -1.0, 1.0)))),
            float(np.degrees(np.arctan2(mean[1], mean[0])) % 360.0))


def region_record(elements: dict[str, np.ndarray], leading_polarity: int,
                  grid_deg: float = TRUTH_GRID_DEG) -> dict[str, float]:
    """Flux (Mx), flux-weighted centroid (deg), area (msh) and leading polarity of one
    region's flux elements (see the module docstring)."""
    from data_prep.toysun.field import CarringtonGrid

    grid = CarringtonGrid(grid_deg)
    field = grid.gaussians(elements)
    rows, cols = np.nonzero(field)
    latitude, longitude = grid.latitude_deg[rows], grid.longitude_deg[cols]
    half = math.radians(grid_deg) / 2.0
    cell_cm2 = ((RSUN_REF_M * 100.0) ** 2 * math.radians(grid_deg)
                * (np.sin(np.radians(latitude) + half) - np.sin(np.radians(latitude) - half)))
    strength = np.abs(field[rows, cols])
    flux = strength * cell_cm2
    lat, lon = weighted_centroid_deg(unit_vectors(latitude, longitude), flux)
    return {"carrington_lon_deg": lon, "carrington_lat_deg": lat,
            "area_msh": float(np.sum(cell_cm2[strength >= AREA_GAUSS]) / MSH_CM2),
            "flux_mx": float(flux.sum()), "leading_polarity": int(leading_polarity)}


def truth_rows(seed: int, times: Sequence[str], grid_deg: float) -> list[dict[str, Any]]:
    """The catalogue rows (:data:`TRUTH_COLUMNS`) of the toy Sun ``seed`` (field grid
    ``grid_deg``) at ``times`` (ISO, UTC)."""
    from data_prep.toysun.evolution import WholeSun

    sun = WholeSun(seed, grid_deg=grid_deg)
    rows = []
    for time in times:
        for region_id, region, _, elements in sun.active_regions(time):
            rows.append({"region_id": region_id, "time": time,
                         **region_record(elements, region.leading_polarity)})
    return rows


def csv_text(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """``rows`` as CSV text with the header ``columns`` (floats with 6 significant digits
    for positions and areas, fluxes in %.4e)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _formatted(key, row[key]) for key in columns})
    return buffer.getvalue()


def _formatted(key: str, value: Any) -> Any:
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        return f"{value:.4e}" if key.endswith("_mx") else f"{value:.6g}"
    return value


def write_truth_regions(campaign: str | Path, progress: bool = False) -> Path:
    """Write ``campaign/truth/regions.csv`` of a campaign folder (its ``campaign.json``:
    seed, times, field grid) atomically, unless it is there; returns its path."""
    from data_prep.atomic import atomic_path

    campaign = Path(campaign)
    path = campaign / "truth" / "regions.csv"
    if path.is_file():
        return path
    record = json.loads((campaign / "campaign.json").read_text())
    rows = truth_rows(record["settings"]["seed"], record["times"], record["grid_deg"])
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        Path(temporary).write_text(csv_text(rows, TRUTH_COLUMNS))
    return path


def read_truth_regions(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a ``truth/regions.csv`` (numbers as float, leading_polarity int)."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for key in ("carrington_lon_deg", "carrington_lat_deg", "area_msh", "flux_mx"):
            row[key] = float(row[key])
        row["leading_polarity"] = int(row["leading_polarity"])
    return rows
