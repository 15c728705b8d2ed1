#!/usr/bin/env python
"""Map (d') of the synchronic-map experiment: the true far side clipped at +-G (an AI far
side without errors within the training range of a +-G preset), scored like (a)-(d).

Usage:
    python scripts/fullsun_clip_study.py DEMO_DIR [--limit-gauss 100]

For every usable time of the demo's campaign (:func:`solarmaggan.fullsun.experiment.
campaign_times`), the true STEREO line-of-sight magnetograms are clipped at
+-``--limit-gauss`` and combined with HMI and the synoptic fill as map (d) is (360 x 180,
nr 35, 180 x 90 seeds); prints one JSON line per time and their means (the figures of
:func:`solarmaggan.fullsun.experiment.score_map`). Figures: docs/benchmarks.md
(issue 18).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demo", type=Path)
    parser.add_argument("--limit-gauss", type=float, default=100.0)
    args = parser.parse_args()

    from astropy.io import fits

    from solarmaggan.fullsun import experiment

    settings = experiment.ExperimentSettings()
    rows = []
    for moment in experiment.campaign_times(args.demo / "data" / "campaign",
                                            args.demo / "far_side_magnetograms"):
        with tempfile.TemporaryDirectory() as folder:
            clipped = []
            for path in moment.true_far:
                with fits.open(path) as hdus:
                    fits.PrimaryHDU(np.clip(hdus[0].data, -args.limit_gauss, args.limit_gauss),
                                    hdus[0].header).writeto(Path(folder) / path.name)
                clipped.append(Path(folder) / path.name)
            moment.true_far = clipped
            maps, header = experiment.build_maps(moment, settings.shape)
        far = experiment.far_hemisphere(header, moment.time)
        truth = experiment.corona(maps["truth"], header, settings)
        model = experiment.corona(maps["true_far"], header, settings)
        rows.append(experiment.score_map(maps["true_far"], model, maps["truth"], truth, far))
        print(json.dumps({"time": moment.time.isot, **rows[-1]}), flush=True)
    print(json.dumps({"mean": {key: float(np.mean([row[key] for row in rows])) for key in rows[0]}}))


if __name__ == "__main__":
    main()
