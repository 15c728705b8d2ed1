"""``solarmaggan evaluate``: a trained generator on an HDF5 split, with the field's metrics.

For every pair of the split the generated and observed magnetograms are turned back into
Gauss with the file's recorded normalisation and compared with
:func:`solarmaggan.metrics.compare_magnetograms` (pixel CC on the disk, raw and binned; RMSE
and MAE in Gauss; SSIM; active / quiet region CC and RMSE; total unsigned and net flux in
Maxwell with the pixel area from each sample's header: CDELT1 and DSUN_OBS). Output in
``out``:

    report.json          settings, per-image metrics (with observation times), aggregate
    scatter.png          generated vs observed field on the disk (8x8 binned), 2-D histogram
    flux.png             total unsigned flux, observed and generated, against time
    examples.png         the first few pairs: EUV | observed | generated | difference
    logs/                (with tensorboard=True) the aggregate as scalars, the panels as images
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from data_prep.atomic import write_json_atomically
from data_prep.pairs import PairFile
from data_prep.progress import Progress
from solarmaggan.data import make_dataset
from solarmaggan.metrics import aggregate, bin_image, compare_magnetograms, pixel_area_cm2
from solarmaggan.model_files import load_trained_generator
from solarmaggan.training import check_data, colour_panel, data_normalizations

RSUN_M = 6.957e8


def sample_pixel_area_cm2(header: dict[str, Any]) -> float | None:
    """Pixel area (cm^2) at disk centre from a prepared frame's header, or None."""
    lower = {key.lower(): value for key, value in header.items()}
    if lower.get("cdelt1") is None or lower.get("dsun_obs") is None:
        return None
    scale = float(lower["cdelt1"])
    if str(lower.get("cunit1", "arcsec")).strip().lower().startswith("deg"):
        scale *= 3600.0
    return pixel_area_cm2(scale, float(lower["dsun_obs"]), float(lower.get("rsun_ref", RSUN_M)))


def _write_figures(out: Path, records: list[dict], scatter: tuple[np.ndarray, np.ndarray],
                   panels: list[np.ndarray], limit: float) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    observed, generated = scatter
    figure, axes = plt.subplots(figsize=(5, 5), dpi=100)
    axes.hist2d(observed, generated, bins=80, range=[[-limit, limit]] * 2, cmap="Greys",
                norm=matplotlib.colors.LogNorm())
    axes.plot([-limit, limit], [-limit, limit], "r-", lw=0.8)
    axes.set_xlabel("observed B_LOS [G] (8x8 binned, on disk)")
    axes.set_ylabel("generated B_LOS [G]")
    figure.savefig(out / "scatter.png")
    plt.close(figure)
    written.append("scatter.png")
    if records and "unsigned_flux_true_mx" in records[0]:
        times = np.array([np.datetime64(r["time"][:19]) for r in records])
        figure, axes = plt.subplots(figsize=(7, 3.5), dpi=100)
        axes.plot(times, [r["unsigned_flux_true_mx"] for r in records], "k.-", label="observed")
        axes.plot(times, [r["unsigned_flux_generated_mx"] for r in records], "r.-", label="generated")
        axes.set_ylabel("total unsigned flux [Mx]")
        axes.legend()
        figure.autofmt_xdate()
        figure.savefig(out / "flux.png")
        plt.close(figure)
        written.append("flux.png")
    if panels:
        matplotlib.image.imsave(out / "examples.png", np.clip(np.concatenate(panels, axis=0), 0, 1))
        written.append("examples.png")
    return written


def evaluate(
    model: str | os.PathLike,
    data_path: str | os.PathLike,
    out: str | os.PathLike,
    split: str = "test",
    batch_size: int = 4,
    examples: int = 4,
    tensorboard: bool = False,
    progress: bool = True,
    **metric_options: Any,
) -> dict[str, Any]:
    """Evaluate a run directory's best generator (or a generator file) on ``split`` of
    ``data_path``; writes ``out/report.json`` and figures and returns the report.
    ``metric_options`` go to :func:`compare_magnetograms` (disk_fraction, bin_factor,
    active_threshold_gauss, flux_threshold_gauss, deproject); SSIM maps every image with
    the same range, the data's clip limit (+-100 G for kim2019)."""
    generator, config, model_file = load_trained_generator(model)
    check_data(data_path, config)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _, magnetogram_scaling = data_normalizations(config)
    limit = float(config["data"]["magnetogram_limit_gauss"])
    with PairFile(data_path) as pairs:
        indices = pairs.split_indices(split)
        radius_px = pairs.rsun_px
        image_size = pairs.image_size
        times = pairs.times()
        headers = [pairs.header(int(i), "target") for i in indices]
    if len(indices) == 0:
        raise ValueError(f"{data_path}: the split {split!r} holds no samples")
    bar = Progress(len(indices), f"evaluate {split}", unit="images", enabled=progress)
    records, panels = [], []
    scatter_true, scatter_generated = [], []
    disk_bins, bin_factor = _disk_bins(image_size, radius_px, metric_options.get("bin_factor", 8))
    position = 0
    for euv, magnetogram in make_dataset(data_path, split, batch_size=batch_size,
                                         shuffle=False, augment=False):
        generated = np.asarray(generator(euv, training=False))
        true_gauss = magnetogram_scaling.denormalize(magnetogram.numpy())
        generated_gauss = magnetogram_scaling.denormalize(generated)
        for row in range(generated.shape[0]):
            index = int(indices[position])
            area = sample_pixel_area_cm2(headers[position])
            scores = compare_magnetograms(true_gauss[row, ..., 0], generated_gauss[row, ..., 0],
                                          radius_px, area, **metric_options,
                                          ssim_range_gauss=limit)
            records.append({"index": index, "time": times[index], **scores})
            scatter_true.append(bin_image(true_gauss[row, ..., 0], bin_factor)[disk_bins])
            scatter_generated.append(
                bin_image(generated_gauss[row, ..., 0], bin_factor)[disk_bins])
            if len(panels) < examples:
                panels.append(colour_panel(euv.numpy()[row, ..., 0], true_gauss[row, ..., 0],
                                           generated_gauss[row, ..., 0], limit))
            position += 1
            bar.update()
    bar.close()
    report = {
        "model": str(model_file), "data": str(data_path), "split": split,
        "settings": {"radius_px": radius_px, "magnetogram_limit_gauss": limit, **metric_options},
        "aggregate": aggregate(records), "per_image": records,
    }
    report["figures"] = _write_figures(
        out, records, (np.concatenate(scatter_true), np.concatenate(scatter_generated)), panels,
        limit)
    write_json_atomically(out / "report.json", _finite_or_null(report), allow_nan=False)
    if tensorboard:
        _write_tensorboard(out / "logs", report["aggregate"], panels)
    return report


def _finite_or_null(value: Any) -> Any:
    """The report with NaN / inf (e.g. CC of an empty active-region class) as JSON null."""
    if isinstance(value, dict):
        return {key: _finite_or_null(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_null(item) for item in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _disk_bins(image_size: int, radius_px: float, factor: int) -> tuple[np.ndarray, int]:
    """(mask of binned pixels whose centre lies on the disk, factor)."""
    from data_prep.geometry import disk_mask

    return bin_image(disk_mask(image_size, radius_px).astype(np.float32), factor) > 0.999, factor


def _write_tensorboard(folder: Path, scores: dict[str, Any], panels: list[np.ndarray]) -> None:
    import tensorflow as tf

    writer = tf.summary.create_file_writer(str(folder))
    with writer.as_default(step=0):
        for name, value in scores.items():
            if isinstance(value, (int, float)) and np.isfinite(value):
                tf.summary.scalar(f"evaluate/{name}", value)
        for number, panel in enumerate(panels):
            tf.summary.image(f"evaluate/pair_{number}", panel[None])
    writer.flush()


def summary_table(report: dict[str, Any]) -> str:
    """The main aggregate metrics as a Markdown table."""
    scores = report["aggregate"]
    rows = [("images", "n_images", "{:.0f}"), ("pixel CC (disk)", "pixel_cc_mean", "{:.3f}"),
            ("pixel CC, 8x8 binned", "pixel_cc_binned_mean", "{:.3f}"),
            ("CC active / quiet", ("cc_active_mean", "cc_quiet_mean"), "{:.3f}"),
            ("RMSE [G]", "rmse_gauss_mean", "{:.2f}"), ("MAE [G]", "mae_gauss_mean", "{:.2f}"),
            ("SSIM", "ssim_mean", "{:.3f}"), ("unsigned-flux CC", "flux_cc", "{:.3f}")]
    lines = [f"| {report['split']} split | value |", "|---|---|"]
    for label, keys, form in rows:
        keys = keys if isinstance(keys, tuple) else (keys,)
        values = [scores.get(key) for key in keys]
        text = " / ".join(form.format(v) if isinstance(v, (int, float)) else "n/a" for v in values)
        lines.append(f"| {label} | {text} |")
    return "\n".join(lines)
