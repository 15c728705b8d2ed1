"""Figures: TensorBoard image panels, the evaluation figures and the generated
magnetograms' quicklooks.

Magnetograms are shown in sunpy's HMI colours on a fixed +-limit Gauss scale, EUV images
in sunpy's AIA 304 colours, north up (FITS rows run south to north). Figures are drawn
with matplotlib's object-oriented ``Figure`` (no pyplot, no global backend switch) and
written atomically.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from data_prep.atomic import atomic_path

EUV_COLOURS = "sdoaia304"
MAGNETOGRAM_COLOURS = "hmimag"


def _colour_maps() -> None:
    import sunpy.visualization.colormaps  # noqa: F401  (registers the solar colour maps)


def _save(figure, path: str | os.PathLike) -> None:
    with atomic_path(path) as temporary:
        figure.savefig(temporary, bbox_inches="tight")


def colour_panel(euv: np.ndarray, true_gauss: np.ndarray, generated_gauss: np.ndarray,
                 limit_gauss: float) -> np.ndarray:
    """One RGB panel (H, 4 W + 6, 3) in [0, 1] for TensorBoard: EUV input (normalised,
    AIA 304 colours) | true | generated | generated - true magnetograms (HMI colours,
    fixed +-limit_gauss), north up."""
    import matplotlib

    _colour_maps()
    euv_rgb = matplotlib.colormaps[EUV_COLOURS](np.clip((euv + 1.0) / 2.0, 0, 1))[..., :3]
    magnetogram_colours = matplotlib.colormaps[MAGNETOGRAM_COLOURS]

    def field(gauss):
        return magnetogram_colours(np.clip((gauss / limit_gauss + 1.0) / 2.0, 0, 1))[..., :3]

    gap = np.ones((euv.shape[0], 2, 3))
    panels = [euv_rgb, gap, field(true_gauss), gap, field(generated_gauss), gap,
              field(generated_gauss - true_gauss)]
    return np.concatenate(panels, axis=1)[::-1].astype(np.float32)


def examples_figure(path: str | os.PathLike,
                    examples: Sequence[tuple[np.ndarray | None, np.ndarray, np.ndarray, str]],
                    limit_gauss: float, reference: str = "observed") -> None:
    """PNG of example pairs, one row each: EUV input | observed | generated | generated -
    observed, with column titles and colour bars (the magnetograms' in Gauss).

    Args:
        examples: (euv normalised to [-1, 1] or None, observed G, generated G, row label)
            each, (H, W) arrays; without EUV images (None) the EUV column is left out.
        limit_gauss: the magnetograms' colour scale, +-limit G (the data's clip limit).
        reference: what the observed column is called ("observed", "true").
    """
    from matplotlib.figure import Figure

    _colour_maps()
    with_euv = examples[0][0] is not None
    titles = (("EUV input (normalised)",) if with_euv else ()) + (
        f"{reference} B_LOS", "generated B_LOS", f"generated - {reference}")
    figure = Figure(figsize=(3.0 * len(titles), 3.0 * len(examples) + 1.0), dpi=100,
                    layout="constrained")
    axes = np.atleast_2d(figure.subplots(len(examples), len(titles)))
    images = None
    for row, (euv, observed, generated, label) in enumerate(examples):
        panels = ((euv,) if with_euv else ()) + (observed, generated, generated - observed)
        images = []
        for column, image in enumerate(panels):
            is_euv = with_euv and column == 0
            scale = (-1.0, 1.0) if is_euv else (-limit_gauss, limit_gauss)
            images.append(axes[row, column].imshow(
                image, origin="lower", cmap=EUV_COLOURS if is_euv else MAGNETOGRAM_COLOURS,
                vmin=scale[0], vmax=scale[1]))
            axes[row, column].set_xticks([])
            axes[row, column].set_yticks([])
            if row == 0:
                axes[row, column].set_title(titles[column], fontsize=10)
        axes[row, 0].set_ylabel(label, fontsize=8)
    if with_euv:
        figure.colorbar(images[0], ax=axes[:, 0], label="log10 intensity, normalised",
                        location="bottom", shrink=0.9)
    figure.colorbar(images[-1], ax=axes[:, int(with_euv):], label="B_LOS [G]",
                    location="bottom", shrink=0.6)
    _save(figure, path)


def scatter_figure(path: str | os.PathLike, observed_gauss: np.ndarray,
                   generated_gauss: np.ndarray, limit_gauss: float, what: str) -> None:
    """PNG: 2-D histogram of generated against observed field (counts on a logarithmic
    colour scale, with its colour bar), with the one-to-one line; ``what`` describes the
    pixels (e.g. "8x8 binned, within 0.95 R_sun")."""
    import matplotlib.colors
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.2, 5), dpi=100, layout="constrained")
    axes = figure.subplots()
    *_, image = axes.hist2d(observed_gauss, generated_gauss, bins=80,
                            range=[[-limit_gauss, limit_gauss]] * 2, cmap="Greys",
                            norm=matplotlib.colors.LogNorm(), cmin=1)
    axes.plot([-limit_gauss, limit_gauss], [-limit_gauss, limit_gauss], "r-", lw=0.8)
    axes.set_xlabel(f"observed B_LOS [G] ({what})")
    axes.set_ylabel("generated B_LOS [G]")
    axes.set_aspect("equal")
    figure.colorbar(image, ax=axes, label="pixels per bin (log scale)")
    _save(figure, path)


def flux_figure(path: str | os.PathLike, times: Sequence[str], observed_mx: Sequence[float],
                generated_mx: Sequence[float]) -> None:
    """PNG: total unsigned flux (Mx), observed and generated, against observation time."""
    from matplotlib.figure import Figure

    when = np.array([np.datetime64(time[:19]) for time in times])
    figure = Figure(figsize=(7, 3.5), dpi=100, layout="constrained")
    axes = figure.subplots()
    axes.plot(when, observed_mx, "k.-", label="observed")
    axes.plot(when, generated_mx, "r.-", label="generated")
    axes.set_ylabel("total unsigned flux [Mx]")
    axes.legend()
    figure.autofmt_xdate()
    _save(figure, path)


def quicklook(path: str | os.PathLike, gauss: np.ndarray, limit_gauss: float,
              title: str, uncertainty_gauss: np.ndarray | None = None) -> None:
    """PNG of a magnetogram (HMI colours, fixed +-limit_gauss, north up, colour bar in G)
    and, given ``uncertainty_gauss`` (H, W), a second panel with the per-pixel standard
    deviation (0 to its 99th percentile on the disk, G)."""
    from matplotlib.figure import Figure

    _colour_maps()
    panels = 1 if uncertainty_gauss is None else 2
    figure = Figure(figsize=(6 * panels, 5.2), dpi=100, layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, panels))
    image = axes[0].imshow(gauss, origin="lower", cmap=MAGNETOGRAM_COLOURS,
                           vmin=-limit_gauss, vmax=limit_gauss)
    figure.colorbar(image, ax=axes[0], label="B_LOS [G]")
    if uncertainty_gauss is not None:
        finite = uncertainty_gauss[np.isfinite(uncertainty_gauss)]
        top = float(np.percentile(finite, 99)) if finite.size and finite.max() > 0 else 1.0
        image = axes[1].imshow(uncertainty_gauss, origin="lower", cmap="magma", vmin=0, vmax=top)
        figure.colorbar(image, ax=axes[1], label="uncertainty (1 sigma) [G]")
        axes[1].set_title("per-pixel standard deviation of the samples", fontsize=9)
        axes[1].set_axis_off()
    axes[0].set_title(title, fontsize=9)
    axes[0].set_axis_off()
    _save(figure, path)


def spread_skill_figure(path: str | os.PathLike, results, title: str = "") -> None:
    """PNG: spread-skill diagram, the RMSE of the ensemble mean against the predicted
    sigma in each sigma bin, with the one-to-one line (perfect calibration).

    Args:
        results: one :func:`solarmaggan.uncertainty.spread_skill` dict, or a mapping
            ``{label: dict}`` drawn as labelled curves (e.g. "raw" and "scaled").
            Each bin is placed at its RMS sigma (``sigma_rms_gauss``; the mean sigma
            where a dict lacks it), the sigma that equals the RMSE under calibration.
        title: the figure's title.

    Both axes are logarithmic when every plotted value is positive and they span more
    than a factor of 20, linear otherwise.
    """
    from matplotlib.figure import Figure

    curves = {"": results} if "rmse_gauss" in results else dict(results)
    points = []
    for label, result in curves.items():
        sigma = np.asarray(result.get("sigma_rms_gauss", result["sigma_mean_gauss"]), float)
        points.append((str(label), sigma, np.asarray(result["rmse_gauss"], float)))
    values = np.concatenate([np.concatenate([sigma, rmse]) for _, sigma, rmse in points])
    values = values[np.isfinite(values)]
    logarithmic = bool(values.size) and values.min() > 0 and values.max() > 20 * values.min()
    low = values.min() / 1.2 if logarithmic else 0.0
    high = (values.max() * 1.1 if values.size and values.max() > 0 else 1.0)

    figure = Figure(figsize=(5.2, 5), dpi=100, layout="constrained")
    axes = figure.subplots()
    axes.plot([low, high], [low, high], "k--", lw=0.8, label="1:1 (calibrated)")
    for label, sigma, rmse in points:
        axes.plot(sigma, rmse, "o-", ms=4, label=label or None)
    if logarithmic:
        axes.set_xscale("log")
        axes.set_yscale("log")
    axes.set_xlim(low, high)
    axes.set_ylim(low, high)
    axes.set_aspect("equal")
    axes.set_xlabel("predicted sigma (RMS in bin) [G]")
    axes.set_ylabel("RMSE of ensemble mean [G]")
    if title:
        axes.set_title(title, fontsize=9)
    axes.legend(fontsize=8)
    _save(figure, path)


def band_profile_figure(path: str | os.PathLike, edges_deg: Sequence[float],
                        profiles: dict[str, Sequence[float]], title: str = "",
                        ylabel: str = "mean field [G]") -> None:
    """PNG: the mean field in latitude bins (one step curve a map or image set, e.g. truth
    and generated), latitude on the horizontal axis, Gauss on the vertical, a zero line.

    Args:
        edges_deg: the bins' edges, deg, south to north (len = bins + 1).
        profiles: ``{label: (bins,) mean field in G}``, NaN where a bin had no pixel.
    """
    from matplotlib.figure import Figure

    edges = np.asarray(edges_deg, dtype=np.float64)
    figure = Figure(figsize=(6.4, 3.6), dpi=100, layout="constrained")
    axes = figure.subplots()
    axes.axhline(0.0, color="0.6", lw=0.8)
    for label, values in profiles.items():
        values = np.asarray(values, dtype=np.float64)
        axes.stairs(np.where(np.isfinite(values), values, np.nan), edges, label=label, lw=1.6)
    axes.set_xlim(edges[0], edges[-1])
    axes.set_xticks(edges[::3])
    axes.set_xlabel("heliographic latitude [deg]")
    axes.set_ylabel(ylabel)
    if title:
        axes.set_title(title, fontsize=9)
    axes.legend(fontsize=8)
    _save(figure, path)
