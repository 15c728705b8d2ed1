#!/usr/bin/env python
"""Time the FITS -> standard-frame chain on full-size (4096 x 4096) SDO images.

Usage:
    python scripts/bench_prep.py [--size 4096] [--out-size 1024] [--repeats 3] [--dir /tmp]

No full-size file ships offline, so the script synthesises two, from sunpy's real test
headers rescaled to 4096 x 4096 (CDELT, CRPIX): an HMI line-of-sight magnetogram (float32,
NaN off the disk, Rice-compressed in HDU 1 as JSOC exports it) and an AIA 304 level-1
image (int16, Rice-compressed in HDU 1). For each it times, in one run, the bare read
(``sunpy.map.Map(path)`` and touching its data: decompression) and the whole
``data_prep.prepare_map`` chain to 1024 x 1024 (read, checks, calibration, resampling,
masking, median scaling), best of ``--repeats``. The target is chain <= 2 x bare read.
Results go into docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import sunpy.map
from astropy.io import fits
from sunpy.data.test import get_test_filepath

from data_prep.prepare import prepare_map


def full_size_header(path: str, size: int, **updates) -> fits.Header:
    """A real header rescaled to ``size`` x ``size`` pixels covering the same field."""
    header = fits.getheader(path)
    factor = header["NAXIS1"] / size
    for axis in (1, 2):
        header[f"CDELT{axis}"] = header[f"CDELT{axis}"] * factor
        header[f"CRPIX{axis}"] = (header[f"CRPIX{axis}"] - 0.5) / factor + 0.5
        header[f"NAXIS{axis}"] = size
    header.update(updates)
    return header


def solar_texture(size: int, header: fits.Header, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(texture, on_disk): a smooth random pattern with small-scale noise, and the disk."""
    solar_map = sunpy.map.Map(np.zeros((8, 8)), header)
    centre = solar_map.wcs.world_to_pixel(solar_map.center)
    radius = (solar_map.rsun_obs / solar_map.scale.axis1).value
    y, x = np.ogrid[0:size, 0:size]
    on_disk = np.hypot(x - float(centre[0]), y - float(centre[1])) <= radius
    coarse = rng.normal(0, 1, (size // 64, size // 64))
    texture = np.kron(coarse, np.ones((64, 64))) + 0.3 * rng.normal(0, 1, (size, size))
    return texture.astype(np.float32), on_disk


def write_files(folder: Path, size: int) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    hmi_header = full_size_header(get_test_filepath("resampled_hmi.fits"), size,
                                  CONTENT="MAGNETOGRAM", BUNIT="Gauss")
    texture, on_disk = solar_texture(size, hmi_header, rng)
    field = np.where(on_disk, 30.0 * texture, np.nan).astype(np.float32)
    aia_header = full_size_header(get_test_filepath("aia_171_level1.fits"), size, WAVELNTH=304)
    aia_header.remove("BLANK", ignore_missing=True)
    texture, on_disk = solar_texture(size, aia_header, rng)
    counts = np.clip(np.where(on_disk, 200 + 60 * texture, 5 + rng.poisson(3, (size, size))), 0, 16000)
    files = {"hmi": folder / "hmi.M_720s.magnetogram.fits", "aia": folder / "aia.lev1.304A.image.fits"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(field, hmi_header, compression_type="RICE_1")]
                     ).writeto(files["hmi"])
        fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(counts.astype(np.int16), aia_header,
                                                           compression_type="RICE_1")]
                     ).writeto(files["aia"])
    return files


def best_seconds(function, repeats: int, warmup: bool = False) -> float:
    """Best wall time of ``repeats`` calls (after one untimed call if ``warmup``)."""
    if warmup:
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--out-size", type=int, default=1024)
    parser.add_argument("--radius-px", type=float, default=392.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()
    print(json.dumps({"machine": {"cpu": platform.machine(), "cores": os.cpu_count(),
                                  "python": platform.python_version()}}))
    with tempfile.TemporaryDirectory(dir=args.dir) as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        files = write_files(Path(folder), args.size)
        for kind, path in files.items():
            path.read_bytes()  # page cache
            bare = best_seconds(lambda: np.asarray(sunpy.map.Map(path).data).sum(), args.repeats)
            chain = best_seconds(
                lambda: prepare_map(path, kind, size=args.out_size, radius_px=args.radius_px),
                args.repeats)
            print(json.dumps({"kind": kind, "input": f"{args.size}x{args.size}",
                              "output": f"{args.out_size}x{args.out_size}",
                              "file_mb": round(path.stat().st_size / 2**20, 1),
                              "bare_read_s": round(bare, 3), "prepare_map_s": round(chain, 3),
                              "ratio": round(chain / bare, 2)}), flush=True)


if __name__ == "__main__":
    main()
