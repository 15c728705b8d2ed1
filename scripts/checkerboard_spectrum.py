#!/usr/bin/env python
"""The stride lattice ("checkerboard") of a generator, measured in the quiet-Sun field.

Usage:
    python scripts/checkerboard_spectrum.py MODEL DATA.h5 [--split test] [--png spectra.png]
        [--tile 32] [--max-radius-rsun 0.9] [--quiet-gauss 30] [--periods 2 4 8 16]
        [--equalize-phases d6 d5 ...]

MODEL is a run directory or a ``.keras`` generator with its ``config.json`` beside it
(``solarmaggan.model_files.load_trained_generator``); DATA.h5 an HDF5 pair file that fits
it. The generator runs on every pair of the split; generated and observed magnetograms are
turned back into Gauss with the configuration's normalisation, then compared where the Sun
is quiet and the disk nearly flat:

* **Quiet-Sun tiles.** Both images are cut into ``tile`` x ``tile`` squares whose corners
  lie on a grid of the longest period (16 px by default; tiles of 32 px overlap by half),
  anchored at pixel (0, 0), so that every tile has the same phase with respect to the
  decoder's stride grids. A tile counts when it lies wholly within ``max_radius_rsun``
  of the disk centre (default 0.9 R_sun: no limb, little foreshortening) and the
  *observed* |B| stays below ``quiet_gauss`` on all of its pixels (default 30 G: active
  regions and their plage excluded; the network, <= ~12 G in the toy Sun, and the noise
  kept). Tiles rather than a masked full disk, because a mask's edges would spread
  power over every frequency.
* **Power spectra.** Each tile, less its mean, is multiplied by a 2-D Hann window and
  Fourier transformed; |FFT|^2 / sum(window^2) is averaged over all tiles of all images
  (Welch's method), separately for the generated and the observed field. Frequencies are
  k / tile cycles/px, so 1/2, 1/4, 1/8, 1/16 fall on exact bins when ``tile`` is a
  multiple of 16.
* **Lattice contrast.** At each stride frequency f (period P = 2, 4, 8, 16 px: x = (0, 1/P),
  y = (1/P, 0) and the diagonals (1/P, +-1/P) in (f_y, f_x)) the ratio
  R(f) = P_generated(f) / P_observed(f) is divided by the same ratio summed over the
  neighbouring bins at Chebyshev distance 2..3 from f (the Hann window spreads a line over
  +-1 bin only). A generator that merely over- or under-produces small-scale power has a
  contrast near 1; a lattice tied to the output grid is a peak: contrast >> 1, and a
  deficit (as nearest-neighbour upsampling leaves at exactly 1/2) is < 1. With 32 px
  tiles the neighbours of 1/16 reach down to the large scales, so the 1/16 contrast is
  rough; the phase pattern below measures every period directly.
* **Phase pattern.** The mean over tiles of each P x P phase class (pixel (i, j) in class
  (i mod P, j mod P)), less the overall mean: the lattice itself, in Gauss, with all its
  harmonics (the period-16 pattern contains those of periods 8, 4, 2). Its rms is given
  for the generated and the observed field (the observed one is the noise floor of this
  estimate: a field without a lattice averages to ~0), and as a fraction of the field's
  variance in the same tiles (how much of the generated quiet Sun is lattice).

With ``--equalize-phases LAYER ...`` the named stride-2 Conv2DTranspose layers are edited
in memory so that their four stride phases have the same DC gain (for each input and
output channel, the 2 x 2 taps feeding each output phase get their sum set to the mean of
the four sums, the differences spread evenly over the taps), and the measurement is
repeated. A decoder layer whose output pixels are s image pixels apart makes a lattice of
period 2 s (at 256 x 256 with the quick preset: d6 -> 2 px, d5 -> 4, d4 -> 8, d3 -> 16):
if the lattice goes when the layers' phases are equalised, their unequal phases are its
cause.

Prints a table and one JSON line (``{"checkerboard": ...}``); ``--png`` writes the two mean
spectra and their ratio. A 256 x 256 run on 16 test pairs takes ~10 s of CPU time (about
a minute of wall clock, TensorFlow's start-up included, on a busy 2-core machine).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script: the repository root on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_PERIODS = (2, 4, 8, 16)


def quiet_tiles(true_gauss: np.ndarray, radius_px: float, tile: int,
                max_radius_rsun: float = 0.9, quiet_gauss: float = 30.0,
                step: int | None = None) -> list[tuple[int, int]]:
    """(row, col) of the top-left corners, multiples of ``step`` (default ``tile``), of the
    quiet, near-centre tiles of one image."""
    size = true_gauss.shape[0]
    centre = (size - 1) / 2.0
    limit = max_radius_rsun * radius_px
    step = step or tile
    corners = []
    for row in range(0, size - tile + 1, step):
        for col in range(0, size - tile + 1, step):
            dy = max(abs(row - centre), abs(row + tile - 1 - centre))
            dx = max(abs(col - centre), abs(col + tile - 1 - centre))
            if math.hypot(dy, dx) > limit:
                continue
            if np.abs(true_gauss[row:row + tile, col:col + tile]).max() >= quiet_gauss:
                continue
            corners.append((row, col))
    return corners


class SpectrumAccumulator:
    """Mean Hann-windowed power spectrum and mean phase patterns of square tiles."""

    def __init__(self, tile: int, periods=DEFAULT_PERIODS):
        self.tile = tile
        self.periods = tuple(periods)
        window = np.hanning(tile + 2)[1:-1]  # no zero end points
        self.window = np.outer(window, window)
        self.window_power = float((self.window**2).sum())
        self.power = np.zeros((tile, tile))
        self.patterns = {p: np.zeros((p, p)) for p in self.periods}
        self.variance = 0.0
        self.count = 0

    def add(self, image: np.ndarray, corners) -> None:
        for row, col in corners:
            patch = np.asarray(image[row:row + self.tile, col:col + self.tile], np.float64)
            patch = patch - patch.mean()
            self.variance += float((patch**2).mean())
            spectrum = np.fft.fft2(patch * self.window)
            self.power += np.abs(spectrum) ** 2 / self.window_power
            for period, pattern in self.patterns.items():
                # tiles start on multiples of every period: the same phases
                pattern += patch.reshape(self.tile // period, period, self.tile // period,
                                         period).mean(axis=(0, 2))
            self.count += 1

    def mean_power(self) -> np.ndarray:
        return self.power / max(self.count, 1)

    def mean_variance(self) -> float:
        return self.variance / max(self.count, 1)

    def mean_pattern(self, period: int) -> np.ndarray:
        pattern = self.patterns[period] / max(self.count, 1)
        return pattern - pattern.mean()


def stride_bins(period: int, tile: int) -> dict[str, list[tuple[int, int]]]:
    """FFT bins (ky, kx) of the lattice frequencies of one period, per direction."""
    if tile % period:
        raise ValueError(f"the tile ({tile} px) must be a multiple of the period {period}")
    k = tile // period
    return {"x": [(0, k)], "y": [(k, 0)], "diagonal": sorted({(k, k), (k, (-k) % tile)})}


def ring_bins(centre: tuple[int, int], tile: int, inner: int = 2, outer: int = 3,
              exclude: set | None = None) -> list[tuple[int, int]]:
    """Bins at Chebyshev distance inner..outer from ``centre`` (indices modulo tile),
    without the DC bin and without ``exclude`` (other lattice lines)."""
    bins = set()
    for dy in range(-outer, outer + 1):
        for dx in range(-outer, outer + 1):
            if inner <= max(abs(dy), abs(dx)):
                b = ((centre[0] + dy) % tile, (centre[1] + dx) % tile)
                # a real image's spectrum is symmetric: count each bin once
                mirror = ((-b[0]) % tile, (-b[1]) % tile)
                bins.add(min(b, mirror))
    bins.discard((0, 0))
    for b in exclude or ():
        bins.discard(min(b, ((-b[0]) % tile, (-b[1]) % tile)))
    return sorted(bins)


def lattice_table(generated: np.ndarray, observed: np.ndarray, periods=DEFAULT_PERIODS
                  ) -> list[dict[str, Any]]:
    """One row per (period, direction): power ratio at the lattice line, the ratio over its
    neighbours, and their quotient, the lattice contrast."""
    tile = generated.shape[0]
    lines = {b for period in periods for bins in stride_bins(period, tile).values() for b in bins}
    rows = []
    for period in periods:
        for direction, bins in stride_bins(period, tile).items():
            on_generated = sum(generated[b] for b in bins)
            on_observed = sum(observed[b] for b in bins)
            ring = sorted({r for b in bins for r in ring_bins(b, tile, exclude=lines)})
            ring_generated = sum(generated[r] for r in ring)
            ring_observed = sum(observed[r] for r in ring)
            ratio = on_generated / on_observed
            neighbours = ring_generated / ring_observed
            rows.append({
                "period_px": period, "direction": direction,
                "frequency_cycles_px": 1 / period,
                "power_generated_g2": on_generated / len(bins),
                "power_observed_g2": on_observed / len(bins),
                "ratio": ratio, "ratio_neighbours": neighbours,
                "contrast": ratio / neighbours,
            })
    return rows


def summarize(rows: list[dict[str, Any]], patterns: dict[str, dict[int, np.ndarray]],
              variances: dict[str, float]) -> dict[str, Any]:
    """Per period: the geometric mean of the contrasts and ratios over x, y and diagonal,
    the rms of the phase patterns in Gauss and their share of the tiles' variance."""
    summary = {}
    for period in sorted({row["period_px"] for row in rows}):
        mine = [row for row in rows if row["period_px"] == period]
        rms = {kind: float(np.sqrt(np.mean(patterns[kind][period] ** 2))) for kind in patterns}
        summary[f"p{period}"] = {
            "contrast": float(np.exp(np.mean([np.log(r["contrast"]) for r in mine]))),
            "ratio": float(np.exp(np.mean([np.log(r["ratio"]) for r in mine]))),
            "ratio_neighbours": float(np.exp(np.mean([np.log(r["ratio_neighbours"])
                                                      for r in mine]))),
            "pattern_rms_generated_g": rms["generated"],
            "pattern_rms_observed_g": rms["observed"],
            "variance_fraction_generated": rms["generated"] ** 2 / variances["generated"],
            "variance_fraction_observed": rms["observed"] ** 2 / variances["observed"],
        }
    return summary


def equalize_phases(generator, layer_names) -> None:
    """Give the four stride phases of each named stride-2 Conv2DTranspose the same DC gain
    (in place): for every (output, input) channel, the taps that feed one output phase
    (kernel rows and columns of one parity) get their sum set to the mean of the four sums."""
    import keras

    for name in layer_names:
        layer = generator.get_layer(name)
        if not isinstance(layer, keras.layers.Conv2DTranspose) or layer.strides != (2, 2):
            raise ValueError(f"{name} is not a stride-2 Conv2DTranspose layer")
        weights = layer.get_weights()
        kernel = np.array(weights[0], np.float64)  # (kh, kw, out, in)
        kh, kw = kernel.shape[:2]
        sums = np.zeros((2, 2) + kernel.shape[2:])
        counts = np.zeros((2, 2))
        for a in range(2):
            for b in range(2):
                sums[a, b] = kernel[a::2, b::2].sum(axis=(0, 1))
                counts[a, b] = kernel[a::2, b::2].shape[0] * kernel[a::2, b::2].shape[1]
        target = sums.mean(axis=(0, 1))
        for a in range(2):
            for b in range(2):
                kernel[a::2, b::2] -= (sums[a, b] - target) / counts[a, b]
        weights[0] = kernel.astype(np.float32)
        layer.set_weights(weights)


def default_tile(image_size: int, radius_px: float, max_radius_rsun: float = 0.9,
                 periods=DEFAULT_PERIODS) -> int:
    """32 px, or the largest smaller multiple of the longest period of which at least four
    tiles lie within ``max_radius_rsun`` (small test images)."""
    for tile in (32, 16, 8):
        if tile % max(periods) == 0 and len(quiet_tiles(
                np.zeros((image_size, image_size)), radius_px, tile, max_radius_rsun, 1.0,
                max(periods))) >= 4:
            return tile
    raise ValueError(f"no tile of 8 px or more fits within {max_radius_rsun} R_sun "
                     f"({radius_px:g} px) in {image_size} x {image_size} images")


def measure(generator, config: dict[str, Any], data_path: str | os.PathLike,
            split: str = "test", tile: int | None = None, max_radius_rsun: float = 0.9,
            quiet_gauss: float = 30.0, periods=DEFAULT_PERIODS, batch_size: int = 4
            ) -> dict[str, Any]:
    """Run ``generator`` on ``split`` and measure its lattice (see the module docstring)."""
    from data_prep.pairs import PairFile
    from solarmaggan.config import data_normalizations
    from solarmaggan.data import make_dataset
    from solarmaggan.metrics import pixel_correlation

    from data_prep import geometry

    _, scaling = data_normalizations(config)
    with PairFile(data_path) as pairs:
        radius_px = pairs.rsun_px
        image_size = pairs.image_size
    if tile is None:
        tile = default_tile(image_size, radius_px, max_radius_rsun, periods)
    for period in periods:
        if tile % period:
            raise ValueError(f"--tile {tile} must be a multiple of every period {periods}")
    # the disk that solarmaggan.evaluate counts (data.disk_rsun)
    disk = geometry.disk_mask(image_size, float(config["data"]["disk_rsun"]) * radius_px)
    accumulators = {"generated": SpectrumAccumulator(tile, periods),
                    "observed": SpectrumAccumulator(tile, periods)}
    images, ccs = 0, []
    for euv, magnetogram in make_dataset(data_path, split, batch_size=batch_size,
                                         shuffle=False, augment=False):
        generated = scaling.denormalize(np.asarray(generator(euv, training=False)))
        observed = scaling.denormalize(magnetogram.numpy())
        ccs.extend(np.asarray(pixel_correlation(observed, generated, disk)).tolist())
        for row in range(generated.shape[0]):
            corners = quiet_tiles(observed[row, ..., 0], radius_px, tile, max_radius_rsun,
                                  quiet_gauss, max(periods))
            accumulators["generated"].add(generated[row, ..., 0], corners)
            accumulators["observed"].add(observed[row, ..., 0], corners)
            images += 1
    if accumulators["observed"].count == 0:
        raise ValueError(f"no quiet tile of {tile} px within {max_radius_rsun} R_sun and "
                         f"below {quiet_gauss} G in the {split!r} split")
    spectra = {kind: acc.mean_power() for kind, acc in accumulators.items()}
    patterns = {kind: {p: acc.mean_pattern(p) for p in periods}
                for kind, acc in accumulators.items()}
    rows = lattice_table(spectra["generated"], spectra["observed"], periods)
    variances = {kind: acc.mean_variance() for kind, acc in accumulators.items()}
    return {
        "split": split, "images": images, "tiles": accumulators["observed"].count,
        "tile_px": tile, "max_radius_rsun": max_radius_rsun, "quiet_gauss": quiet_gauss,
        "pixel_cc_mean": float(np.mean(ccs)),
        "quiet_rms_generated_g": float(np.sqrt(variances["generated"])),
        "quiet_rms_observed_g": float(np.sqrt(variances["observed"])),
        "summary": summarize(rows, patterns, variances), "rows": rows,
        "patterns_gauss": {kind: {str(p): np.round(v, 3).tolist() for p, v in pats.items()}
                           for kind, pats in patterns.items()},
        "_spectra": spectra,
    }


def format_table(result: dict[str, Any], title: str = "") -> str:
    lines = [f"{title}{result['images']} images, {result['tiles']} quiet tiles of "
             f"{result['tile_px']} px (|B_obs| < {result['quiet_gauss']:g} G, within "
             f"{result['max_radius_rsun']:g} R_sun); pixel CC on the disk "
             f"{result['pixel_cc_mean']:.3f}",
             f"{'period':>6} {'dir':>8} {'f [c/px]':>8} {'P_gen [G2]':>11} {'P_obs [G2]':>11} "
             f"{'gen/obs':>8} {'neighb.':>8} {'contrast':>9}"]
    for row in result["rows"]:
        lines.append(
            f"{row['period_px']:>6} {row['direction']:>8} {row['frequency_cycles_px']:>8.4f} "
            f"{row['power_generated_g2']:>11.4g} {row['power_observed_g2']:>11.4g} "
            f"{row['ratio']:>8.3f} {row['ratio_neighbours']:>8.3f} {row['contrast']:>9.2f}")
    lines += ["", f"quiet-Sun rms in the tiles: {result['quiet_rms_generated_g']:.2f} G generated, "
              f"{result['quiet_rms_observed_g']:.2f} G observed",
              f"{'period':>6} {'contrast':>9} {'lattice rms gen [G]':>20} {'obs [G]':>8} "
              f"{'share of variance gen':>22} {'obs':>7}"]
    for period, values in result["summary"].items():
        lines.append(
            f"{period[1:]:>6} {values['contrast']:>9.2f} "
            f"{values['pattern_rms_generated_g']:>20.3f} "
            f"{values['pattern_rms_observed_g']:>8.3f} "
            f"{100 * values['variance_fraction_generated']:>21.1f}% "
            f"{100 * values['variance_fraction_observed']:>6.1f}%")
    lines.append("(contrast: geometric mean over x, y, diagonal; lattice rms: the mean P x P "
                 "phase pattern; observed = noise floor)")
    return "\n".join(lines)


def write_png(path: Path, results: dict[str, dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(results), 3, figsize=(12, 3.8 * len(results)), dpi=100,
                                squeeze=False)
    for line, (label, result) in zip(axes, results.items()):
        spectra = result["_spectra"]
        tile = spectra["observed"].shape[0]
        extent = [-0.5, 0.5 - 1 / tile, 0.5 - 1 / tile, -0.5]
        images = {"generated": np.log10(spectra["generated"]),
                  "observed": np.log10(spectra["observed"])}
        low = min(v.min() for v in images.values())
        high = max(v.max() for v in images.values())
        for axis, (name, image) in zip(line[:2], images.items()):
            shown = axis.imshow(np.fft.fftshift(image), extent=extent, vmin=low, vmax=high,
                                cmap="magma")
            axis.set_title(f"{label}\nlog10 power [G^2], {name}", fontsize=9)
            figure.colorbar(shown, ax=axis, fraction=0.046)
        ratio = np.log10(spectra["generated"] / spectra["observed"])
        shown = line[2].imshow(np.fft.fftshift(ratio), extent=extent, cmap="RdBu_r",
                               vmin=-1.5, vmax=1.5)
        line[2].set_title(f"{label}\nlog10 power ratio, generated / observed", fontsize=9)
        figure.colorbar(shown, ax=line[2], fraction=0.046)
        for axis in line:
            axis.set_xlabel("f_x [cycles/px]")
            axis.set_ylabel("f_y [cycles/px]")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def main(argv=None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="run directory or .keras generator (config.json beside)")
    parser.add_argument("data", help="HDF5 pair file")
    parser.add_argument("--split", default="test")
    parser.add_argument("--which", default="best", choices=("best", "last"))
    parser.add_argument("--tile", type=int, help="tile side, px (default 32, smaller when "
                        "32 px tiles do not fit on the disk)")
    parser.add_argument("--max-radius-rsun", type=float, default=0.9)
    parser.add_argument("--quiet-gauss", type=float, default=30.0)
    parser.add_argument("--periods", type=int, nargs="+", default=list(DEFAULT_PERIODS))
    parser.add_argument("--equalize-phases", nargs="+", default=[], metavar="LAYER",
                        help="Conv2DTranspose layers whose stride phases get the same DC "
                        "gain before a second measurement (the cause test)")
    parser.add_argument("--png", type=Path, help="write the mean spectra and their ratio")
    args = parser.parse_args(argv)

    from solarmaggan.model_files import load_trained_generator

    generator, config, model_file = load_trained_generator(args.model, args.which)
    options = {"split": args.split, "tile": args.tile, "max_radius_rsun": args.max_radius_rsun,
               "quiet_gauss": args.quiet_gauss, "periods": args.periods}
    results = {"as trained": measure(generator, config, args.data, **options)}
    if args.equalize_phases:
        equalize_phases(generator, args.equalize_phases)
        results[f"phases equalised ({', '.join(args.equalize_phases)})"] = measure(
            generator, config, args.data, **options)
    for label, result in results.items():
        print(format_table(result, f"{model_file} [{label}]: "), end="\n\n")
    if args.png:
        write_png(args.png, results)
    output = {"model": str(model_file), "data": str(args.data),
              "upsampling": config.get("model", {}).get("upsampling", "transpose"),
              **{label: {k: v for k, v in result.items() if not k.startswith("_")}
                 for label, result in results.items()}}
    print(json.dumps({"checkerboard": output}))
    return results


if __name__ == "__main__":
    main()
