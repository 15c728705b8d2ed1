"""``solarmaggan demo``: the whole system on the built-in toy Sun, on a CPU, in minutes.

Stages (each reported on the console and in ``DIR/summary.json``):

1. data: near-side toy-Sun pairs (AIA-304-like input, HMI-like magnetogram) in the HDF5
   pair format with time-based splits, and far-side STEREO/EUVI 304 FITS files whose
   geometry (observer, roll, scale, pointing) comes from a real EUVI header (sunpy's test
   data) with toy-Sun pixels mapped into it through the WCS;
2. train: the ``quick`` preset (TensorBoard logs, checkpoints, best generator);
3. evaluate: the held-out test split (pixel CC on the disk, SSIM, RMSE, flux);
4. generate: far-side magnetogram FITS files and PNG quicklooks;
5. export: SavedModel and TFLite, with parity checked;
6. the summary: where everything is and how to open TensorBoard.

``small=True`` runs the same stages on 64 x 64 images with a shallow network in ~15 s
(for the tests). The same seed gives the same results.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from data_prep.atomic import write_json_atomically
from data_prep.geometry import RSUN_REF_M
from data_prep.prepare import solar_radius_arcsec
from data_prep.toysun import make_toy_sun, write_toy_dataset

EUVI_HEADER = "euvi_20090615_000900_n4euA_s.header"  # STEREO-A EUVI, in sunpy's test data

SETTINGS = {
    # image size, pairs, far-side files, preset overrides
    "full": {"image_size": 256, "n_pairs": 96, "far_side": 3, "overrides": []},
    "small": {"image_size": 64, "n_pairs": 24, "far_side": 2, "overrides": [
        "model.base_filters=8", "model.max_filters=32", "model.discriminator_base_filters=8",
        "model.discriminator_max_filters=32", "training.steps=60", "training.log_every=10",
        "training.validation_every=30", "training.image_every=30",
        "training.checkpoint_every=30", "training.validation_pairs=4"]},
}


def far_side_files(folder: Path, count: int, image_size: int, seed: int) -> list[Path]:
    """EUVI 304 level-1-like FITS files: the real EUVI header's geometry (observer, roll,
    pointing, scale; resized to ``2 * image_size`` pixels) with toy-Sun EUV pixels in DN/s
    placed through the header's WCS, one a day."""
    import astropy.units as u
    import sunpy.map
    from astropy.io import fits
    from scipy import ndimage
    from sunpy.data.test import get_test_filepath

    folder.mkdir(parents=True, exist_ok=True)
    detector = 2 * image_size
    header = fits.Header.fromtextfile(get_test_filepath(EUVI_HEADER))
    factor = header["NAXIS1"] / detector
    for axis in (1, 2):
        header[f"CDELT{axis}"] *= factor
        header[f"CRPIX{axis}"] = (header[f"CRPIX{axis}"] - 0.5) / factor + 0.5
        header[f"NAXIS{axis}"] = detector
    header.update({"WAVELNTH": 304, "BUNIT": "DN/s", "RSUN_REF": RSUN_REF_M})
    header.remove("BLANK", ignore_missing=True)  # an integer-data keyword; pixels are float32
    geometry = sunpy.map.Map(np.zeros((detector, detector), np.float32), header)
    rsun_arcsec = solar_radius_arcsec(geometry)
    y, x = np.mgrid[0:detector, 0:detector]
    world = geometry.pixel_to_world(x * u.pix, y * u.pix)
    paths = []
    for number in range(count):
        sun = make_toy_sun(image_size, np.random.default_rng([seed, 10_000 + number]))
        scale = rsun_arcsec / sun.rsun_px  # arcsec per toy-Sun pixel
        centre = (image_size - 1) / 2.0
        rows = world.Ty.to_value(u.arcsec) / scale + centre
        cols = world.Tx.to_value(u.arcsec) / scale + centre
        pixels = ndimage.map_coordinates(sun.euv_dn_s, [rows, cols], order=1, mode="nearest")
        date = (np.datetime64("2011-06-01T00:00") + np.timedelta64(number, "D")).astype(str)
        header["DATE-OBS"] = f"{date}:00.000"
        path = folder / f"euvi_{date[:10].replace('-', '')}_304_toy.fts"
        fits.writeto(path, pixels.astype(np.float32), header, overwrite=True)
        paths.append(path)
    return paths


def _stage(name: str, number: int, total: int = 6) -> float:
    print(f"\n== [{number}/{total}] {name}", flush=True)
    return time.monotonic()


def run_demo(out: str | os.PathLike = "demo", small: bool = False, seed: int = 0,
             progress: bool = True) -> dict[str, Any]:
    """Run every stage into ``out``; returns (and writes) ``out/summary.json``."""
    from solarmaggan.config import resolve_config
    from solarmaggan.evaluate import evaluate, summary_table
    from solarmaggan.export import export
    from solarmaggan.generate import generate
    from solarmaggan.training import train

    settings = SETTINGS["small" if small else "full"]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    size = settings["image_size"]
    summary: dict[str, Any] = {"small": small, "seed": seed, "stages": {}}

    start = _stage("data: toy-Sun pairs (HDF5) and far-side EUVI FITS files", 1)
    pairs = write_toy_dataset(out / "data" / "toy_sun.h5", settings["n_pairs"], size, seed=seed)
    far_side = far_side_files(out / "data" / "far_side_euvi", settings["far_side"], size, seed)
    summary["stages"]["data"] = {"pairs": str(pairs), "far_side_fits": [str(p) for p in far_side],
                                 "seconds": round(time.monotonic() - start, 1)}
    print(f"{pairs}: {settings['n_pairs']} pairs; {len(far_side)} far-side files in "
          f"{out / 'data' / 'far_side_euvi'}")

    start = _stage("train: the quick preset on the CPU", 2)
    config = resolve_config("quick", [f"training.seed={seed}", *settings["overrides"]],
                            data_file=pairs)
    result = train(config, pairs, out / "run", progress=progress)
    summary["stages"]["train"] = {"run_dir": str(out / "run"), "step": result["step"],
                                  "best": result["best"],
                                  "seconds": round(time.monotonic() - start, 1)}

    start = _stage("evaluate: the held-out test split", 3)
    report = evaluate(out / "run", pairs, out / "evaluation", split="test", progress=progress)
    print(summary_table(report))
    scores = report["aggregate"]
    summary["pixel_cc"] = scores["pixel_cc_mean"]
    summary["stages"]["evaluate"] = {
        "report": str(out / "evaluation" / "report.json"),
        "pixel_cc": scores["pixel_cc_mean"], "pixel_cc_binned": scores["pixel_cc_binned_mean"],
        "ssim": scores["ssim_mean"], "rmse_gauss": scores["rmse_gauss_mean"],
        "flux_cc": scores.get("flux_cc"), "seconds": round(time.monotonic() - start, 1)}

    start = _stage("generate: far-side magnetograms (FITS + PNG)", 4)
    generated = generate(out / "run", far_side, out / "far_side_magnetograms",
                         overwrite=True, progress=progress)
    if generated["failed"]:
        raise RuntimeError(f"far-side generation failed: {generated['failed']}")
    summary["stages"]["generate"] = {"fits": generated["written"],
                                     "seconds": round(time.monotonic() - start, 1)}

    start = _stage("export: SavedModel and TFLite, parity checked", 5)
    manifest = export(out / "run", out / "export", "all")
    summary["stages"]["export"] = {"folder": str(out / "export"),
                                   "parity_max_abs": manifest["parity_max_abs"],
                                   "seconds": round(time.monotonic() - start, 1)}

    _stage("summary", 6)
    summary["seconds"] = round(sum(stage["seconds"] for stage in summary["stages"].values()), 1)
    write_json_atomically(out / "summary.json", summary, default=str)
    print(f"pair file:           {pairs}\nrun directory:       {out / 'run'}\n"
          f"evaluation:          {out / 'evaluation'} (held-out pixel CC {summary['pixel_cc']:.3f})\n"
          f"far-side FITS + PNG: {out / 'far_side_magnetograms'}\nexports:             "
          f"{out / 'export'}\nsummary:             {out / 'summary.json'}\n"
          f"TensorBoard:         tensorboard --logdir {out / 'run' / 'logs'}")
    return summary
