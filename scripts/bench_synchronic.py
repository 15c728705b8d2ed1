"""Time ``build_synchronic``: a 360 x 180 Carrington map from three 1024 x 1024 line-of-sight
magnetograms (an HMI file from Earth and two EUVI-view truth files 120 deg east and west) of
the analytic field of tests/test_synchronic.py, for each reprojection algorithm; prints JSON
with the seconds, the CC with the known field and the unsigned-flux error on covered pixels.

    python scripts/bench_synchronic.py [--size 1024] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_synchronic import TIME, map_coordinates, true_br, view  # noqa: E402  (the analytic Sun)

from solarmaggan.fullsun import synchronic as sm  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    record = {"size": args.size, "shape": [180, 360], "cpus": os.cpu_count(),
              "load_average_1min": os.getloadavg()[0], "algorithms": {}}
    with tempfile.TemporaryDirectory() as folder:
        inputs = [view(Path(folder) / "hmi.fits", 0.0, kind="hmi", size=args.size),
                  view(Path(folder) / "east.fits", -120.0, instrument="euvi", size=args.size),
                  view(Path(folder) / "west.fits", 120.0, instrument="euvi", size=args.size)]
        settings = sm.SynchronicSettings(time=TIME.isot)
        for algorithm in sm.REPROJECTIONS:
            seconds = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                result = sm.build_synchronic(inputs, settings, algorithm=algorithm)
                seconds.append(time.perf_counter() - start)
            lat, lon = map_coordinates(result)
            truth = true_br(lat, lon)
            covered = result.source >= 0
            record["algorithms"][algorithm] = {
                "seconds": [round(s, 3) for s in seconds], "best_s": round(min(seconds), 3),
                "cc": round(float(np.corrcoef(result.br_gauss[covered], truth[covered])[0, 1]), 5),
                "unsigned_flux_error": round(float(np.abs(result.br_gauss[covered]).sum()
                                                   / np.abs(truth[covered]).sum() - 1.0), 5),
                "covered_fraction": round(float(covered.mean()), 4),
            }
    record["default"] = sm.REPROJECTION
    record["load_average_1min_after"] = os.getloadavg()[0]
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
