"""Speed of the surface flux-transport model (issue 30's targets: one step on 360 x 180 in
at most 10 ms; a year of 6-hourly steps at 360 x 180 within 60 s on one core).

    python scripts/bench_transport.py [--rows 180] [--columns 360] [--repeats 200]

Prints the median time of one 6-hour step (rotation, flow, diffusion; the default
parameters) and the wall time of one year of 6-hourly steps (1,461 steps) of a random
field; run it with OMP_NUM_THREADS=1 for the one-core figure (numpy's FFT is single-threaded).
The year is transport only: scripts/bench_assimilation.py times the year of assimilation.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from solarmaggan.fullsun.transport import DAY_S, FluxTransport  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=180)
    parser.add_argument("--columns", type=int, default=360)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    shape = (args.rows, args.columns)
    model = FluxTransport(shape)
    field = np.random.default_rng(0).normal(0.0, 20.0, shape)
    step_s = model.parameters.step_hours * 3600.0
    model.step(field, step_s)  # warm-up
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        model.step(field, step_s)
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    evolved = model.evolve(field, 365.25 * DAY_S)
    year_s = time.perf_counter() - start
    result = {"shape": list(shape), "substeps_per_step": model.substeps(step_s),
              "step_ms_median": 1000 * float(np.median(times)),
              "year_of_6_hourly_steps_s": year_s,
              "net_flux_relative_change": float(abs(evolved.sum() - field.sum()) / np.abs(field).sum()),
              "machine": platform.processor() or platform.machine(), "numpy": np.__version__}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
