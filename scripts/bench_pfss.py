"""Benchmark the PFSS corona (solarmaggan.fullsun.pfss) on a realistic full-Sun map.

    python scripts/bench_pfss.py [--shape 180 360] [--nr 35] [--seeds 180 90]
                                 [--rss 2.5] [--run-pfss]

The map: a 5 G axial dipole plus 12 bipolar active regions (Gaussian spots of 80-250 G,
separations 6-12 deg, Joy's-law tilts, latitudes +/-5..35 deg; fixed random seed) on the
CEA grid of ``data_prep.geometry.full_sun_header`` (Carrington), net flux removed.

Times (wall-clock seconds, one run each, after a warm-up on a tiny map so imports and
first calls do not count):

* ``solve``: ``pfss_solution`` plus the field on the grid points (``output.bg``, which
  the tracer needs);
* ``trace``: ``open_field_map`` from the ``--seeds`` grid (NLON NLAT) at 1 R_sun;
* ``current_sheet``: the source-surface polarity inversion lines;
* with ``--run-pfss``: the whole ``run_pfss`` on the map saved as FITS (files and figures).

Prints one JSON object. The target: solve + trace <= 30 s on a 2-core machine
(360 x 180, nr 35, 180 x 90 seeds).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from data_prep.geometry import full_sun_header  # noqa: E402
from solarmaggan.fullsun import pfss  # noqa: E402

TIME = "2023-03-01T00:00:00"


def realistic_br(shape: tuple[int, int], regions: int = 12, seed: int = 0) -> np.ndarray:
    """(nlat, nlon) B_r (G): a 5 G dipole plus ``regions`` tilted bipoles, zero net flux."""
    rng = np.random.default_rng(seed)
    nlat, nlon = shape
    sin_lat = (np.arange(nlat) + 0.5) / nlat * 2 - 1
    lat = np.degrees(np.arcsin(sin_lat))[:, None]
    lon = ((np.arange(nlon) + 0.5) * 360 / nlon)[None, :]
    br = 5.0 * sin_lat[:, None] * np.ones((1, nlon))
    for _ in range(regions):
        hemisphere = rng.choice([-1, 1])
        centre_lat = hemisphere * rng.uniform(5, 35)
        centre_lon = rng.uniform(0, 360)
        separation = rng.uniform(6, 12)
        tilt = np.radians(0.5 * abs(centre_lat)) * hemisphere  # Joy's law: leader equatorward
        strength = rng.uniform(80, 250)
        width = rng.uniform(2.5, 4.5)
        for sign in (1, -1):  # leader, follower; Hale's law: opposite leaders N/S
            offset = sign * separation / 2
            spot_lon = centre_lon + offset * np.cos(tilt)
            spot_lat = centre_lat - offset * np.sin(tilt) * hemisphere
            dlon = (lon - spot_lon + 180) % 360 - 180
            polarity = sign * hemisphere
            br = br + polarity * strength * np.exp(-(dlon**2 + (lat - spot_lat) ** 2) / (2 * width**2))
    return br - br.mean()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=2, default=[180, 360], metavar=("NLAT", "NLON"))
    parser.add_argument("--nr", type=int, default=35)
    parser.add_argument("--rss", type=float, default=2.5)
    parser.add_argument("--seeds", type=int, nargs=2, default=[180, 90], metavar=("NLON", "NLAT"))
    parser.add_argument("--run-pfss", action="store_true", help="also time the whole run_pfss")
    args = parser.parse_args()

    import sunpy.map

    shape = tuple(args.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        br_map = sunpy.map.Map(realistic_br(shape), full_sun_header(TIME, shape))
        warm = sunpy.map.Map(realistic_br((20, 40), regions=2), full_sun_header(TIME, (20, 40)))
    pfss.open_field_map(pfss.pfss_solution(warm, nr=4), seeds=(8, 4))  # warm-up

    result: dict = {"shape": list(shape), "nr": args.nr, "rss": args.rss, "seeds": args.seeds,
                    "cpus": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2)}
    start = time.perf_counter()
    output = pfss.pfss_solution(br_map, nr=args.nr, rss=args.rss)
    output.bg
    result["solve_s"] = round(time.perf_counter() - start, 2)

    start = time.perf_counter()
    open_field = pfss.open_field_map(output, seeds=tuple(args.seeds))
    result["trace_s"] = round(time.perf_counter() - start, 2)
    result["lines_per_s"] = round(open_field.size / result["trace_s"])
    result["open_area_fraction"] = round(float(np.mean(open_field != 0)), 4)

    start = time.perf_counter()
    sheet = pfss.current_sheet(output)
    result["current_sheet_s"] = round(time.perf_counter() - start, 2)
    result["current_sheet_segments"] = int(len(np.unique(sheet[:, 2])))
    result["solve_plus_trace_s"] = round(result["solve_s"] + result["trace_s"], 2)

    if args.run_pfss:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "br.fits"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                br_map.save(str(path))
            start = time.perf_counter()
            summary = pfss.run_pfss(path, Path(folder) / "out", rss=args.rss, nr=args.nr,
                                    seeds=tuple(args.seeds), progress=False)
            result["run_pfss_s"] = round(time.perf_counter() - start, 2)
            result["lines_out_of_steps"] = summary["lines_out_of_steps"]
            result["open_flux_mx"] = summary["open_flux_mx"]
            result["unsigned_flux_mx"] = summary["unsigned_flux_mx"]
    result["load_average_1min_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
