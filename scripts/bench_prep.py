#!/usr/bin/env python
"""Time the FITS -> standard-frame chain on full-size SDO images (4096 x 4096) and on a
full-size Solar Orbiter EUI/FSI 304 level-2 image at perihelion (3072 x 3072, 0.293 au).

Usage:
    python scripts/bench_prep.py [--size 4096] [--out-size 1024] [--repeats 3] [--dir /tmp]

No full-size file ships offline, so the script synthesises two, from sunpy's real test
headers rescaled to 4096 x 4096 (CDELT, CRPIX): an HMI line-of-sight magnetogram (float32,
NaN off the disk, Rice-compressed in HDU 1 as JSOC exports it) and an AIA 304 level-1
image (int16, Rice-compressed in HDU 1); and from sunpy's real EUI/FSI 304 header
(``solo_L1_eui-fsi304-image_20201021T145510206_V03.header``, 768 px binned 4 x 4) an FSI
304 level-2 image at FSI's native 3072 x 3072 (CDELT / 4, LEVEL 'L2', BUNIT 'DN/s',
float32, Rice-compressed in HDU 1 as EUI files are) with the observer moved along its own
direction to 0.293 au (Solar Orbiter's perihelion: DSUN_OBS, RSUN_ARC and the Cartesian
observer keywords scaled), where the disk is 3,280" in radius, 740 native pixels, against
3.4 times less at 1 au. For each it times, in one run, the bare read
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
    files["fsi"] = folder / "solo_L2_eui-fsi304-image_20201021T145510206_V01.fits"
    fsi_header = perihelion_fsi_header()
    texture, on_disk = solar_texture(FSI_NATIVE_PX, fsi_header, rng)
    rate = np.where(on_disk, 80 + 25 * texture, 2 + rng.gamma(2.0, 1.0, texture.shape))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(rate.astype(np.float32), fsi_header,
                                                           compression_type="RICE_1")]
                     ).writeto(files["fsi"])
    return files


FSI_NATIVE_PX = 3072  # EUI/FSI's detector, pixels a side
PERIHELION_AU = 0.293


def perihelion_fsi_header() -> fits.Header:
    """sunpy's real FSI 304 level-1 header as the level-2 file of the full 3072 x 3072
    detector, its observer moved along its own direction to :data:`PERIHELION_AU`."""
    import astropy.units as u

    header = fits.Header.fromtextfile(get_test_filepath(
        "solo_L1_eui-fsi304-image_20201021T145510206_V03.header"))
    factor = header["NAXIS1"] / FSI_NATIVE_PX
    for axis in (1, 2):
        header[f"CDELT{axis}"] = header[f"CDELT{axis}"] * factor
        header[f"CRPIX{axis}"] = (header[f"CRPIX{axis}"] - 0.5) / factor + 0.5
        header[f"NAXIS{axis}"] = FSI_NATIVE_PX
    scale = PERIHELION_AU * u.au.to(u.m) / header["DSUN_OBS"]
    for key in [key for key in header if key[:4] in ("HEEX", "HEEY", "HEEZ", "HCIX", "HCIY", "HCIZ",
                                                     "HAEX", "HAEY", "HAEZ", "HEQX", "HEQY", "HEQZ")
                and key.endswith("_OBS")]:
        header[key] = header[key] * scale
    for key in ("GSEX_OBS", "GSEY_OBS", "GSEZ_OBS", "BLANK", "BZERO", "BSCALE"):
        header.remove(key, ignore_missing=True)  # geocentric: not scaled along the Sun's ray
    header["DSUN_OBS"] = header["DSUN_OBS"] * scale
    header["DSUN_AU"] = PERIHELION_AU
    radius_arcsec = float(np.degrees(np.arcsin(header["RSUN_REF"] / header["DSUN_OBS"])) * 3600)
    header["RSUN_ARC"] = header["RSUN_OBS"] = radius_arcsec
    header.update(LEVEL="L2", BUNIT="DN/s", BITPIX=-32,
                  FILENAME="solo_L2_eui-fsi304-image_20201021T145510206_V01.fits")
    return header


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
            rows, columns = sunpy.map.Map(path).data.shape
            print(json.dumps({"kind": kind, "input": f"{columns}x{rows}",
                              "output": f"{args.out_size}x{args.out_size}",
                              "file_mb": round(path.stat().st_size / 2**20, 1),
                              "bare_read_s": round(bare, 3), "prepare_map_s": round(chain, 3),
                              "ratio": round(chain / bare, 2)}), flush=True)


if __name__ == "__main__":
    main()
