#!/usr/bin/env python
"""The best held-out pixel CC a generator can reach on the toy Sun.

Usage:
    python scripts/toysun_cc_bound.py [--image-size 256] [--suns 40] [--seed 0]
        [--network-gauss G] [--noise-gauss G]

The network's polarity is random and the noise is noise, so neither can be predicted from
an EUV image (304 A brightens with |B|, not with its sign). This script correlates each
toy Sun's full magnetogram with a perfect copy of its active-region field alone (same seed,
network and noise removed), on the disk within 0.95 R_sun after the +-100 G clip of the
kim2019 / quick presets: an upper bound for the pixel CC of ``solarmaggan evaluate`` on
toy-Sun data. Prints the mean and the worst Sun. Results go into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from data_prep.geometry import disk_mask
from data_prep.toysun import make_toy_sun
from solarmaggan.metrics import pearson

LIMIT_GAUSS = 100.0
DISK_FRACTION = 0.95


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--suns", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--network-gauss", type=float, default=None,
                        help="median network element peak, G (toy Sun default: 6.5)")
    parser.add_argument("--noise-gauss", type=float, default=None,
                        help="magnetogram noise, G (toy Sun default: HMI's, averaged)")
    args = parser.parse_args()
    correlations = []
    for number in range(args.suns):
        full = make_toy_sun(args.image_size, np.random.default_rng([args.seed, number]),
                            network_gauss=args.network_gauss, noise_gauss=args.noise_gauss)
        active_only = make_toy_sun(args.image_size, np.random.default_rng([args.seed, number]),
                                   network_elements=0, noise_gauss=0.0)
        disk = disk_mask(args.image_size, DISK_FRACTION * full.rsun_px)
        correlations.append(pearson(
            np.clip(full.magnetogram_gauss, -LIMIT_GAUSS, LIMIT_GAUSS)[disk],
            np.clip(active_only.magnetogram_gauss, -LIMIT_GAUSS, LIMIT_GAUSS)[disk]))
    print(json.dumps({"image_size": args.image_size, "suns": args.suns,
                      "network_gauss": args.network_gauss, "noise_gauss": args.noise_gauss,
                      "pixel_cc_bound_mean": round(float(np.mean(correlations)), 3),
                      "pixel_cc_bound_worst": round(float(np.min(correlations)), 3)}))


if __name__ == "__main__":
    main()
