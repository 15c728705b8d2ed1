"""Benchmark the whole-Sun toy model: one 1024 x 1024 view, and a campaign at the demo's size.

    python scripts/bench_toysun.py [--size 1024] [--repeats 3] [--campaign-times 24]
                                   [--campaign-size 512] [--workers 1 2]

Measures (wall-clock seconds, median of ``--repeats``):

* the Sun's state at one time (the Carrington grid of the field: ``WholeSun.state`` +
  ``radial_grid``), computed once per time and shared by every view of that time;
* one view of ``--size`` pixels through a real instrument header: the geometry
  (``ViewGeometry``: WCS, ray tracing) plus the rendering of AIA 304, of the HMI
  magnetogram, and of EUVI 304 with its truth LOS magnetogram (STEREO-A);
* a campaign of ``--campaign-times`` times with observers earth, stereo-a, stereo-b at
  ``--campaign-size`` pixels (4 views a time: AIA 304, HMI, two EUVI 304; plus their truth and
  a Carrington map), written to a temporary folder, for each ``--workers`` value.

Prints a Markdown table (for docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from data_prep.toysun import instruments, observers  # noqa: E402
from data_prep.toysun.campaign import CampaignSettings, run_campaign  # noqa: E402
from data_prep.toysun.evolution import WholeSun  # noqa: E402
from data_prep.toysun.views import ViewGeometry, render  # noqa: E402

TIME = "2011-03-01T00:00:00"


def seconds(function, repeats: int) -> float:
    """Median wall-clock seconds of ``function()`` over ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--campaign-times", type=int, default=24)
    parser.add_argument("--campaign-size", type=int, default=512)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()

    grid_deg = 0.1 if args.size >= 1024 else 0.25
    rows = []
    sun = WholeSun(0, grid_deg=grid_deg)
    state = sun.state(TIME)
    state.radial_grid()  # warm-up (imports, caches)
    state_s = seconds(lambda: WholeSun(0, grid_deg=grid_deg).state(TIME).radial_grid(), args.repeats)
    rows.append((f"Sun state at one time (grid {grid_deg} deg)", state_s))
    views = {
        "AIA 304": ("aia", "earth", [304], 304),
        "HMI magnetogram": ("hmi", "earth", ["magnetogram"], None),
        "EUVI 304 + truth LOS (STEREO-A)": ("euvi", "stereo-a", [304, "los"], 304),
    }
    for name, (kind, observer, products, wavelength) in views.items():
        header = instruments.instrument_header(
            kind, TIME, observers.observer_coordinate(observer, TIME),
            instruments.default_detector(kind, args.size), wavelength)

        def view() -> None:
            geometry = ViewGeometry(header, state.carrington_offset_deg)
            render(state, header, products, np.random.default_rng(0), geometry=geometry)

        view()
        rows.append((f"one {args.size} x {args.size} view: {name} (geometry + rendering)",
                     seconds(view, args.repeats)))
    for workers in args.workers:
        settings = CampaignSettings(days=float(args.campaign_times), cadence_hours=24.0,
                                    size=args.campaign_size, far_side_every=1)
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            run_campaign(Path(folder) / "campaign", settings, progress=False, workers=workers)
            elapsed = time.perf_counter() - start
        rows.append((f"campaign: {args.campaign_times} times x 4 views at {args.campaign_size} px "
                     f"(+ truth, Carrington maps), {workers} worker(s)", elapsed))
    print("| what | seconds |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value:.2f} |")


if __name__ == "__main__":
    main()
