"""Speed of the assimilation (issue 30's target: a year of 6-hourly assimilation at
360 x 180 within 60 s on one core).

    OMP_NUM_THREADS=1 python scripts/bench_assimilation.py [--rows 180] [--columns 360]
        [--days 365.25] [--hmi FILE]

A year of 6-hourly times (1,461), each: the state propagated 6 hours by the SFT (B_r, its
variance and the unknown mask: three transports), then updated by one observation covering
a near-side disk (mu >= 0.1 of an Earth view, moving with the Carrington rotation) with the
(sigma_0 / mu)^2 variance, and every 4th time by two AI far-side views as well
(:func:`solarmaggan.fullsun.assimilation.assimilate_time`). The observations are on the
grid already: putting a FITS file on the grid (reprojection) is timed apart, once, on
``--hmi`` (default: a 512-px toy-Sun HMI file written for the purpose), and reported per
file, since it depends on the image size. Prints JSON. Figures: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from solarmaggan.fullsun import assimilation as asm  # noqa: E402
from solarmaggan.fullsun.transport import DAY_S, FluxTransport  # noqa: E402


def disk_mu(shape: tuple[int, int], centre_lon_deg: float) -> np.ndarray:
    """mu of an observer in the equatorial plane at Carrington longitude ``centre_lon_deg``
    (infinitely far), on the CEA grid."""
    rows, columns = shape
    sine = -1.0 + (np.arange(rows) + 0.5) * 2.0 / rows
    lon = np.radians((np.arange(columns) + 0.5) * 360.0 / columns - centre_lon_deg)
    return np.sqrt(1.0 - sine[:, None] ** 2) * np.cos(lon)[None, :]


def main() -> int:
    from astropy.time import Time
    import astropy.units as u

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=180)
    parser.add_argument("--columns", type=int, default=360)
    parser.add_argument("--days", type=float, default=365.25)
    parser.add_argument("--hmi", type=Path, default=None)
    args = parser.parse_args()
    shape = (args.rows, args.columns)
    model = FluxTransport(shape)
    errors = asm.ErrorModel(5.0, 30.0)
    rng = np.random.default_rng(0)
    field = rng.normal(0.0, 20.0, shape)
    start_time = Time("2011-01-01T00:00:00")
    steps = int(round(args.days * 4))
    state = asm.unknown_state(start_time, shape)
    started = time.perf_counter()
    for step in range(1, steps + 1):
        when = start_time + step * 0.25 * u.day
        earth_lon = (-13.2 * step * 0.25) % 360.0  # the sub-Earth point drifts ~13.2 deg/day
        observations = []
        for offset, kind in ((0.0, "observed"), (120.0, "generated"), (-120.0, "generated")):
            if kind == "generated" and step % 4:
                continue
            mu = disk_mu(shape, earth_lon + offset)
            br = np.where(mu >= 0.1, field, np.nan)
            sigma = np.where(mu >= 0.1, 10.0 / np.clip(mu, 0.1, None), np.nan) if kind == "generated" else None
            observations.append(asm.GriddedObservation(Path(kind), when, kind, kind, 0.0, 0.0, 1.0,
                                                       br, mu, sigma))
        state, _ = asm.assimilate_time(state, observations, model, errors, when)
    year_s = time.perf_counter() - started
    result = {"shape": list(shape), "times": steps, "days": args.days,
              "assimilation_s": round(year_s, 2), "per_time_ms": round(1000 * year_s / steps, 2),
              "machine": platform.processor() or platform.machine(), "numpy": np.__version__}
    hmi = args.hmi
    with tempfile.TemporaryDirectory() as scratch:
        if hmi is None:
            from data_prep.toysun.campaign import CampaignSettings, run_campaign

            run_campaign(Path(scratch) / "c", CampaignSettings(days=1.0, cadence_hours=24.0,
                                                               observers=("earth",), size=512),
                         progress=False)
            hmi = sorted((Path(scratch) / "c" / "sdo" / "hmi").glob("*.fits"))[0]
        asm.grid_observation(hmi, shape)  # warm-up (imports, caches)
        started = time.perf_counter()
        for _ in range(3):
            asm.grid_observation(hmi, shape)
        result["grid_one_file_s"] = round((time.perf_counter() - started) / 3, 3)
        result["grid_file"] = Path(hmi).name
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
