"""``solarmaggan evaluate``: a trained generator on an HDF5 split, with the field's metrics.

For every pair of the split the generated and observed magnetograms are turned back into
Gauss with the file's recorded normalisation and compared with
:func:`solarmaggan.metrics.compare_magnetograms` (pixel CC on the disk, raw and binned; RMSE
and MAE in Gauss; SSIM; active / quiet region CC and RMSE; total unsigned and net flux in
Maxwell with the pixel area from each sample's header: CDELT1 and DSUN_OBS). Output in
``out``::

    report.json          settings (the disk among them), per-image metrics (with
                         observation times), aggregate
    scatter.png          generated vs observed field on the disk (8x8 binned), 2-D histogram
    flux.png             total unsigned flux, observed and generated, against time
    examples.png         the first few pairs: EUV | observed | generated | difference
    logs/                (with tensorboard=True) the aggregate as scalars, the panels as images

The disk is the model's (``data.disk_rsun`` of its configuration, 0.95 R_sun in every
preset, the one its validation and model selection used) unless ``disk_fraction`` is
given; every metric and figure uses the same one, and the report records it.

The FITS mode (generated magnetogram FITS files against true ones, e.g. the far side
against the toy Sun's truth) is :mod:`solarmaggan.evaluate_fits`; it shares
:func:`score_pair`, :func:`write_report` and :func:`summary_table` with this one.
"""

from __future__ import annotations

import functools
import math
import os
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from data_prep.atomic import write_json_atomically
from data_prep.geometry import RSUN_REF_M, binned_disk_mask, block_mean, disk_mask
from data_prep.pairs import PairFile
from data_prep.progress import Progress
from solarmaggan import largescale
from solarmaggan.config import check_data, data_normalizations
from solarmaggan.data import make_dataset
from solarmaggan.metrics import (FLUX_THRESHOLD_GAUSS, aggregate, compare_magnetograms,
                                  pixel_area_cm2)
from solarmaggan.model_files import as_model_list, load_models, write_calibration
from solarmaggan.plotting import (band_profile_figure, colour_panel, examples_figure,
                                  flux_figure, scatter_figure,
                                  spread_skill_figure)
from solarmaggan.sampling import check_samples, draw_samples, sampling_method
from solarmaggan.uncertainty import (apply_scale, calibrated_flux_range, calibration_report,
                                     fit_flux_calibration, fit_scale, flux_interval,
                                     sample_summary)


def sample_pixel_area_cm2(header: dict[str, Any]) -> float | None:
    """Pixel area (cm^2) at disk centre from a prepared frame's header, or None."""
    lower = {key.lower(): value for key, value in header.items()}
    if lower.get("cdelt1") is None or lower.get("dsun_obs") is None:
        return None
    scale = float(lower["cdelt1"])
    if str(lower.get("cunit1", "arcsec")).strip().lower().startswith("deg"):
        scale *= 3600.0
    return pixel_area_cm2(scale, float(lower["dsun_obs"]),
                          float(lower.get("rsun_ref", RSUN_REF_M)))


def evaluate(
    model: str | os.PathLike | Sequence[str | os.PathLike],
    data_path: str | os.PathLike,
    out: str | os.PathLike,
    split: str = "test",
    batch_size: int = 4,
    examples: int = 4,
    tensorboard: bool = False,
    progress: bool = True,
    disk_fraction: float | None = None,
    bin_factor: int = 8,
    samples: int | None = None,
    dropout: bool | None = None,
    seed: int = 0,
    **metric_options: Any,
) -> dict[str, Any]:
    """Evaluate a run directory's best generator (or a generator file) on ``split`` of
    ``data_path``; writes ``out/report.json`` and figures and returns the report.

    ``disk_fraction``: the disk, as a fraction of the solar radius (default: the model's
    ``data.disk_rsun``). ``bin_factor`` and ``metric_options`` (active_threshold_gauss,
    flux_threshold_gauss, deproject) go to :func:`compare_magnetograms`; SSIM maps every
    image with the same range, the data's clip limit (+-100 G for kim2019). Only the
    split read must hold samples.

    With ``samples`` N (``model`` may then be several: an ensemble), each image gets N
    samples (:func:`solarmaggan.sampling.draw_samples`, ``dropout`` and ``seed`` as
    there): the metrics score their mean, and ``report["uncertainty"]`` holds their
    calibration (:func:`solarmaggan.uncertainty.calibration_report`: coverage of the
    truth by +-1 and +-2 sigma on the disk, raw and 8x8 binned, CRPS, spread-skill, drawn
    in spread_skill.png) before and after one scale factor fitted on the validation split
    (:func:`solarmaggan.uncertainty.fit_scale`) and stored with the (first) model
    (:func:`solarmaggan.model_files.write_calibration`, used by ``generate``), and the
    fraction of images whose true unsigned flux lies in the samples' 68 % range."""
    models = as_model_list(model)
    generators, config, model_file = load_models(models)
    method = None
    if samples is not None:
        method = sampling_method(generators, dropout)
        samples = check_samples(samples, len(generators), method)
        if method == "deterministic":
            raise ValueError(f"{model_file}: one model without dropout has no spread to "
                             "calibrate; sample with dropout or an ensemble of --models")
    elif len(generators) > 1:
        raise ValueError("several models (an ensemble) need samples")
    # the scale is fitted on the validation split: with samples it must hold pairs too
    check_data(data_path, config, splits=(split,) if samples is None else (split, "val"))
    disk = float(config["data"]["disk_rsun"] if disk_fraction is None else disk_fraction)
    _, magnetogram_scaling = data_normalizations(config)
    limit = float(config["data"]["magnetogram_limit_gauss"])
    with PairFile(data_path) as pairs:
        indices = pairs.split_indices(split)
        radius_px = pairs.rsun_px
        times = pairs.times()
        headers = [pairs.header(int(i), "target") for i in indices]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    disk_pixels = disk_mask(int(config["data"]["image_size"]), disk * float(radius_px))
    draw = functools.partial(_generated_samples, generators, samples, dropout, seed,
                             magnetogram_scaling, config)
    scale = flux_calibration = None
    if samples is not None:
        scale, flux_calibration = _fit_scale(draw, data_path, disk_pixels, batch_size, progress,
                                             sample_pixel_area_cm2, metric_options)
        write_calibration(models[0], method, {
            "scale": scale, "samples": samples, "seed": seed, "fitted_on": "val",
            "data": str(data_path), "models": [str(m) for m in models],
            "flux": flux_calibration})
    bar = Progress(len(indices), f"evaluate {split}", unit="images", enabled=progress)
    records, shown, profiles = [], [], []
    scatter: tuple[list, list] = ([], [])

    def scored_pairs():
        """Score each image of the split (the samples' mean with ``samples``), yielding
        (truth, samples) for the calibration."""
        position = 0
        for euv, true_gauss, drawn in draw(data_path, split, batch_size):
            generated_gauss = drawn.mean(axis=0)
            for row in range(true_gauss.shape[0]):
                index = int(indices[position])
                area = sample_pixel_area_cm2(headers[position])
                scores = score_pair(true_gauss[row], generated_gauss[row], radius_px, area,
                                    scatter, disk=disk, bin_factor=bin_factor, limit=limit,
                                    observer=headers[position], profiles=profiles,
                                    **metric_options)
                if samples is not None and area is not None:
                    scores.update(flux_interval_scores(drawn[:, row], true_gauss[row], scale,
                                                        area, disk_pixels, metric_options,
                                                        flux_calibration))
                records.append({"index": index, "time": times[index], **scores})
                if len(shown) < examples:
                    shown.append((euv[row, ..., 0], true_gauss[row], generated_gauss[row],
                                  times[index][:16]))
                position += 1
                bar.update()
                yield true_gauss[row], drawn[:, row]

    if samples is None:
        for _ in scored_pairs():
            pass
    else:
        calibration = calibration_report(scored_pairs(), disk_pixels, scale=scale,
                                         factor=bin_factor)
    bar.close()
    report = {
        "model": str(model_file), "data": str(data_path), "split": split,
        "settings": {"mode": "hdf5", "radius_px": radius_px, "disk_rsun": disk,
                     "bin_factor": bin_factor,
                     "magnetogram_limit_gauss": limit, **metric_options},
        "aggregate": aggregate(records), "per_image": records,
        "large_scale": large_scale_summary(records, profiles),
    }
    if samples is not None:
        report["uncertainty"] = uncertainty_summary(
            method, samples, seed, models, scale, calibration, records)
        report["aggregate"].update(report["uncertainty"]["summary"])
        spread_skill_figure(out / "spread_skill.png", {
            "as sampled": calibration["raw"]["pixel"]["spread_skill"],
            f"x {scale:.3g} (fitted on val)": calibration["scaled"]["pixel"]["spread_skill"]},
            f"{split} split, {samples} samples ({method}), disk pixels")
    write_report(out, report, scatter, shown, limit)
    if tensorboard:
        _write_tensorboard(out / "logs", report["aggregate"],
                           [colour_panel(*example[:3], limit) for example in shown])
    return report


def _generated_samples(generators: list[Any], samples: int | None, dropout: bool | None,
                       seed: int, magnetogram_scaling: Any, config: dict[str, Any],
                       data_path: str | os.PathLike, split: str, batch_size: int):
    """(euv (B, H, W, C) normalised, truth (B, H, W) G, samples (N, B, H, W) G) batches of
    ``split``: N = ``samples`` draws, or the one deterministic output (N = 1)."""
    modes = [config["model"]["stochastic_inference"]] * len(generators)
    for batch, (euv, magnetogram) in enumerate(make_dataset(
            data_path, split, batch_size=batch_size, shuffle=False, augment=False)):
        euv = euv.numpy()
        if samples is None:
            generated = np.asarray(generators[0](euv, training=False))[None]
        else:
            generated = draw_samples(generators, euv, samples, dropout=dropout,
                                     seed=seed + 10_000 * batch, stochastic_inference=modes)
        yield (euv, magnetogram_scaling.denormalize(magnetogram.numpy())[..., 0],
               magnetogram_scaling.denormalize(generated)[..., 0])


def _fit_scale(draw: Callable, data_path: str | os.PathLike, disk_pixels: np.ndarray,
               batch_size: int, progress: bool, area_of: Callable,
               metric_options: dict[str, Any]) -> tuple[float, dict[str, Any] | None]:
    """Fitted on the validation split: the spread scale (:func:`fit_scale`: +-1 sigma then
    covers 68.27 % of the disk pixels) and the whole-disk flux calibration
    (:func:`fit_flux_calibration` of the mean image's unsigned flux, :func:`disk_flux_mx`,
    against the truth's; None when the split has too few images with a pixel area)."""
    truths, means, sigmas, predicted_mx, true_mx = [], [], [], [], []
    with PairFile(data_path) as pairs:
        indices = pairs.split_indices("val")
        headers = [pairs.header(int(i), "target") for i in indices]
        bar = Progress(len(indices), "fit the spread on val", unit="images", enabled=progress)
    for _, true_gauss, drawn in draw(data_path, "val", batch_size):
        mean, sigma = sample_summary(drawn)
        for row in range(true_gauss.shape[0]):
            area = area_of(headers[len(truths) + row])
            if area is not None:
                predicted_mx.append(disk_flux_mx(mean[row], area, disk_pixels, metric_options))
                true_mx.append(disk_flux_mx(true_gauss[row], area, disk_pixels, metric_options))
        truths += list(true_gauss)
        means += list(mean)
        sigmas += list(sigma)
        bar.update(len(true_gauss))
    bar.close()
    try:
        flux_calibration = fit_flux_calibration(predicted_mx, true_mx)
    except ValueError:
        flux_calibration = None
    return fit_scale(truths, means, sigmas, disk_pixels), flux_calibration


def disk_flux_mx(gauss: np.ndarray, area_cm2: float, disk_pixels: np.ndarray,
                 metric_options: dict[str, Any]) -> float:
    """The unsigned flux (Mx) of one (H, W) image in G: ``|B|`` above the flux threshold
    on the disk (:func:`solarmaggan.uncertainty.flux_interval` of one sample)."""
    threshold = float(metric_options.get("flux_threshold_gauss", FLUX_THRESHOLD_GAUSS))
    return flux_interval(np.asarray(gauss)[None], area_cm2, disk_pixels,
                         threshold_gauss=threshold)["median_mx"]


def flux_interval_scores(drawn: np.ndarray, true_gauss: np.ndarray, scale: float,
                         area_cm2: float, disk_pixels: np.ndarray,
                         metric_options: dict[str, Any],
                         flux_calibration: dict[str, Any] | None = None) -> dict[str, Any]:
    """The unsigned flux (Mx, ``|B|`` above the flux threshold, on the disk) of the samples
    ``drawn`` (N, H, W) G spread by ``scale``: median and 68 % range, and whether the
    truth's lies in it; with ``flux_calibration`` (fitted on the validation split) also
    the calibrated range about the mean image's flux and whether the truth lies in it.
    Shared with the FITS mode."""
    threshold = float(metric_options.get("flux_threshold_gauss", FLUX_THRESHOLD_GAUSS))
    interval = flux_interval(apply_scale(drawn, scale), area_cm2, disk_pixels,
                             threshold_gauss=threshold)
    true_flux = disk_flux_mx(true_gauss, area_cm2, disk_pixels, metric_options)
    scores = {"unsigned_flux_median_mx": interval["median_mx"],
              "unsigned_flux_68_mx": [interval["low_mx"], interval["high_mx"]],
              "unsigned_flux_true_mx": true_flux,
              "unsigned_flux_true_in_68": bool(interval["low_mx"] <= true_flux
                                               <= interval["high_mx"])}
    if flux_calibration is not None:
        with np.errstate(invalid="ignore"):
            mean_flux = disk_flux_mx(np.nanmean(drawn, axis=0), area_cm2, disk_pixels,
                                     metric_options)
        low, high = calibrated_flux_range(mean_flux, flux_calibration)
        scores.update({"unsigned_flux_mx": mean_flux,
                       "unsigned_flux_68_calibrated_mx": [low, high],
                       "unsigned_flux_true_in_68_calibrated": bool(low <= true_flux <= high)})
    return scores


def uncertainty_summary(method: str, samples: int, seed: int | None, models: list,
                        scale: Any, calibration: dict[str, Any], records: list[dict],
                        scaled: str = "scaled") -> dict[str, Any]:
    """``report["uncertainty"]``: how the samples were drawn, their calibration
    (:func:`solarmaggan.uncertainty.calibration_report`) and the headline figures
    (``summary``, also put in the aggregate) from its ``scaled`` part ("scaled": after the
    scale fitted on the validation split; "raw": the samples as they came, e.g. files
    written with the scale already applied). Shared with the FITS mode."""
    inside = [r["unsigned_flux_true_in_68"] for r in records if "unsigned_flux_true_in_68" in r]
    calibrated = [r["unsigned_flux_true_in_68_calibrated"] for r in records
                  if "unsigned_flux_true_in_68_calibrated" in r]
    scaled, raw = calibration[scaled], calibration["raw"]
    return {
        "method": method, "samples": samples, "seed": seed,
        "models": [str(m) for m in models], "scale": scale,
        "scale_fitted_on": "val" if "scaled" in calibration else None,
        "calibration": calibration,
        "summary": {
            "coverage_1sigma": scaled["pixel"]["coverage_1sigma"],
            "coverage_2sigma": scaled["pixel"]["coverage_2sigma"],
            "coverage_1sigma_raw": raw["pixel"]["coverage_1sigma"],
            "coverage_1sigma_binned": scaled["binned"]["coverage_1sigma"],
            "crps_gauss": scaled["pixel"]["crps_gauss"],
            "flux_true_in_68": float(np.mean(inside)) if inside else None,
            "flux_true_in_68_calibrated": float(np.mean(calibrated)) if calibrated else None},
    }


@functools.lru_cache(maxsize=8)
def _binned_disk(image_size: int, radius_px: float, bin_factor: int) -> np.ndarray:
    return binned_disk_mask(image_size, radius_px, bin_factor)


def score_pair(true_gauss: np.ndarray, generated_gauss: np.ndarray, radius_px: float,
               area_cm2: float | None, scatter: tuple[list, list], *, disk: float,
               bin_factor: int, limit: float | None, observer: dict[str, Any] | None = None,
               profiles: list | None = None, **metric_options: Any) -> dict[str, float]:
    """The metrics of one pair (:func:`compare_magnetograms` on the disk ``disk`` R_sun,
    SSIM on the +-``limit`` G range) on the standard frame of radius ``radius_px``; appends
    the pair's binned disk pixels (observed, generated) to ``scatter`` for scatter.png.
    With ``observer`` (a prepared frame's header, or one with ``hglt_obs`` and ``dsun_obs``
    in metres), the large-scale figures too (:func:`solarmaggan.largescale.disk_large_scale`:
    band means of B_LOS, net flux of each hemisphere), and each image's band profile
    (true, generated; :data:`solarmaggan.largescale.PROFILE_EDGES_DEG`) appended to
    ``profiles``. Shared by the HDF5 and the FITS (:mod:`solarmaggan.evaluate_fits`) modes."""
    scores = compare_magnetograms(true_gauss, generated_gauss, radius_px, area_cm2,
                                  disk_fraction=disk, bin_factor=bin_factor,
                                  ssim_range_gauss=limit, **metric_options)
    bins = _binned_disk(int(true_gauss.shape[0]), disk * float(radius_px), int(bin_factor))
    scatter[0].append(block_mean(true_gauss, bin_factor)[bins])
    scatter[1].append(block_mean(generated_gauss, bin_factor)[bins])
    if observer is not None:
        latitude = observer_latitude_deg(observer, int(true_gauss.shape[0]), radius_px, disk)
        area = (None if area_cm2 is None
                else largescale.disk_area_cm2(int(true_gauss.shape[0]), radius_px, area_cm2))
        for prefix, image in (("true", true_gauss), ("generated", generated_gauss)):
            scores.update(largescale.disk_large_scale(image, latitude, area, prefix))
        if profiles is not None:
            profiles.append([largescale.band_means(image, latitude, bands=largescale.profile_bins())
                             for image in (true_gauss, generated_gauss)])
    return scores


def observer_latitude_deg(header: dict[str, Any], image_size: int, radius_px: float,
                          disk: float) -> np.ndarray:
    """Each pixel's heliographic latitude (deg, NaN beyond ``disk`` R_sun) on the standard
    frame, for the observer of a header (``hglt_obs``: B0, deg; ``dsun_obs``, m;
    ``rsun_ref``, m, default the nominal radius)."""
    lower = {key.lower(): value for key, value in header.items()}
    distance_rsun = float(lower["dsun_obs"]) / float(lower.get("rsun_ref") or RSUN_REF_M)
    return largescale.disk_latitude_deg(image_size, radius_px, float(lower["hglt_obs"]),
                                        distance_rsun, disk)


def large_scale_summary(records: list[dict[str, Any]], profiles: list) -> dict[str, Any]:
    """``report["large_scale"]``: the band table (:func:`solarmaggan.largescale.band_table`),
    the hemispheres' net flux (means over the images, Mx) and the mean band profile
    (true, generated; G) of the images. Shared with the FITS mode."""
    hemispheres = {}
    for side in ("north", "south"):
        for prefix in ("true", "generated"):
            values = [r[f"net_flux_{side}_{prefix}_mx"] for r in records
                      if f"net_flux_{side}_{prefix}_mx" in r]
            hemispheres[f"{side}_{prefix}_mx"] = float(np.mean(values)) if values else math.nan
    stacked = np.array(profiles, dtype=np.float64).reshape(-1, 2, len(largescale.profile_bins()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a bin without pixels is NaN
        mean_profile = np.nanmean(stacked, axis=0)
    return {"field": "B_LOS on the disk", "bands": largescale.band_table(records),
            "hemisphere_net_flux": hemispheres,
            "profile": {"edges_deg": list(largescale.PROFILE_EDGES_DEG),
                        "true_gauss": mean_profile[0].tolist(),
                        "generated_gauss": mean_profile[1].tolist()}}


def write_report(out: Path, report: dict[str, Any], scatter: tuple[list, list],
                 examples: list[tuple], limit: float,
                 examples_writer: Callable[..., None] = examples_figure) -> dict[str, Any]:
    """The figures (scatter.png, flux.png, examples.png drawn by ``examples_writer``) and
    ``out/report.json`` (NaN as null) of a report holding ``settings`` (``disk_rsun``,
    ``bin_factor``) and ``per_image``; sets ``report["figures"]`` and returns the report."""
    settings = report["settings"]
    factor, disk = settings["bin_factor"], settings["disk_rsun"]
    report["figures"] = _write_figures(
        out, report["per_image"], (np.concatenate(scatter[0]), np.concatenate(scatter[1])),
        examples, limit, f"{factor}x{factor} binned, within {disk:g} R_sun", examples_writer)
    if "large_scale" in report:
        profile = report["large_scale"]["profile"]
        band_profile_figure(out / "band_profile.png", profile["edges_deg"],
                            {"truth": profile["true_gauss"],
                             "generated": profile["generated_gauss"]},
                            f"mean B_LOS by latitude, {len(report['per_image'])} images, "
                            f"within {disk:g} R_sun", "mean B_LOS [G]")
        report["figures"].append("band_profile.png")
    write_json_atomically(out / "report.json", _finite_or_null(report), allow_nan=False)
    return report


def _write_figures(out: Path, records: list[dict], scatter: tuple[np.ndarray, np.ndarray],
                   examples: list[tuple], limit: float, scatter_pixels: str,
                   examples_writer: Callable[..., None] = examples_figure) -> list[str]:
    """scatter.png, flux.png (when fluxes were measured) and examples.png; their names."""
    scatter_figure(out / "scatter.png", *scatter, limit, scatter_pixels)
    written = ["scatter.png"]
    if records and "unsigned_flux_true_mx" in records[0]:
        flux_figure(out / "flux.png", [r["time"] for r in records],
                    [r["unsigned_flux_true_mx"] for r in records],
                    [r["unsigned_flux_generated_mx"] for r in records])
        written.append("flux.png")
    if examples:
        examples_writer(out / "examples.png", examples, limit)
        written.append("examples.png")
    return written


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
    """The main aggregate metrics as a Markdown table ("n/a" where report.json has null)."""
    scores, settings = report["aggregate"], report["settings"]
    factor = settings["bin_factor"]
    rows = [("images", "n_images", "{:.0f}"),
            (f"pixel CC (disk, {settings['disk_rsun']:g} R_sun)", "pixel_cc_mean", "{:.3f}"),
            (f"pixel CC, {factor}x{factor} binned", "pixel_cc_binned_mean", "{:.3f}"),
            ("CC active / quiet", ("cc_active_mean", "cc_quiet_mean"), "{:.3f}"),
            ("RMSE [G]", "rmse_gauss_mean", "{:.2f}"), ("MAE [G]", "mae_gauss_mean", "{:.2f}"),
            ("SSIM", "ssim_mean", "{:.3f}"), ("unsigned-flux CC", "flux_cc", "{:.3f}")]
    title = f"{report['split']} split" if report.get("split") else "generated vs truth"
    lines = [f"| {title} | value |", "|---|---|"]
    for label, keys, form in rows:
        keys = keys if isinstance(keys, tuple) else (keys,)
        values = [scores.get(key) for key in keys]
        text = " / ".join(form.format(v) if isinstance(v, (int, float)) and math.isfinite(v)
                          else "n/a" for v in values)
        lines.append(f"| {label} | {text} |")
    return "\n".join(lines)


def group_table(report: dict[str, Any]) -> str:
    """The far-side scores by observer and by observer distance (``report["by_observer"]``,
    ``report["by_distance"]`` of ``evaluate --generated --truth``) as one Markdown table."""
    factor = report["settings"]["bin_factor"]
    lines = [f"| observer / distance | images | distance [au] | pixel CC | {factor}x{factor} "
             "binned CC | RMSE [G] |", "|---|---|---|---|---|---|"]
    for part in ("by_observer", "by_distance"):
        for name, scores in report.get(part, {}).items():
            values = [scores.get(key) for key in ("pixel_cc_mean", "pixel_cc_binned_mean",
                                                  "rmse_gauss_mean")]
            text = [form.format(v) if isinstance(v, float) and math.isfinite(v) else "n/a"
                    for v, form in zip(values, ("{:.3f}", "{:.3f}", "{:.2f}"))]
            lines.append(f"| {name} | {scores['n_images']} | {scores['dsun_au']:.2f} | "
                         + " | ".join(text) + " |")
    return "\n".join(lines)


def uncertainty_table(report: dict[str, Any]) -> str:
    """The calibration of a report with samples (``report["uncertainty"]``) as a Markdown
    table: coverage of the truth by +-1 and +-2 sigma (Gaussian: 0.683, 0.954), raw and
    8x8 binned, CRPS, mean sigma and RMSE, as sampled and, where a scale was fitted, after
    it; and how often the true unsigned flux lies in the samples' 68 % range."""
    uncertainty = report["uncertainty"]
    calibration = uncertainty["calibration"]
    parts = [("as sampled", calibration["raw"])]
    if "scaled" in calibration:
        parts.append((f"x {uncertainty['scale']:.3g} (val)", calibration["scaled"]))
    title = (f"{uncertainty['samples']} samples ({uncertainty['method']})")
    lines = [f"| {title} | " + " | ".join(label for label, _ in parts) + " |",
             "|---|" + "---|" * len(parts)]
    rows = [("coverage +-1 sigma (0.683)", "pixel", "coverage_1sigma", "{:.3f}"),
            ("coverage +-2 sigma (0.954)", "pixel", "coverage_2sigma", "{:.3f}"),
            (f"coverage +-1 sigma, {calibration['bin_factor']}x binned", "binned",
             "coverage_1sigma", "{:.3f}"),
            ("CRPS [G]", "pixel", "crps_gauss", "{:.2f}"),
            ("mean sigma / RMSE [G]", "pixel", ("mean_sigma_gauss", "rmse_gauss"), "{:.2f}")]
    for label, level, keys, form in rows:
        keys = keys if isinstance(keys, tuple) else (keys,)
        cells = [" / ".join(form.format(part[level][key]) for key in keys) for _, part in parts]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    inside = uncertainty["summary"].get("flux_true_in_68")
    if inside is not None:
        lines.append(f"| true unsigned flux in the 68 % range | {inside:.2f} |"
                     + " |" * (len(parts) - 1))
    calibrated = uncertainty["summary"].get("flux_true_in_68_calibrated")
    if calibrated is not None:
        lines.append(f"| true unsigned flux in the 68 % range calibrated on val (conformal) | "
                     f"{calibrated:.2f} |" + " |" * (len(parts) - 1))
    return "\n".join(lines)



def large_scale_table(report: dict[str, Any]) -> str:
    """The band means (``report["large_scale"]``) as a Markdown table: generated, truth,
    their difference and the mean absolute difference per image, in Gauss; then the
    hemispheres' mean net flux."""
    part = report["large_scale"]
    lines = ["| latitude | images | generated [G] | truth [G] | bias [G] | mean abs difference [G] |",
             "|---|---:|---:|---:|---:|---:|"]

    def number(value: Any, form: str = "{:+.2f}") -> str:
        return form.format(value) if isinstance(value, float) and math.isfinite(value) else "n/a"

    for row in part["bands"]:
        low, high = row["latitude_deg"]
        lines.append(f"| {low:+.0f} to {high:+.0f} | {row['images']} | {number(row['generated_gauss'])} "
                     f"| {number(row['true_gauss'])} | {number(row['bias_gauss'])} "
                     f"| {number(row['mean_abs_difference_gauss'], '{:.2f}')} |")
    flux = part["hemisphere_net_flux"]
    if all(isinstance(v, float) and math.isfinite(v) for v in flux.values()):
        lines += ["", "Net flux (mean over the images, 1e21 Mx): north generated "
                      f"{flux['north_generated_mx'] / 1e21:+.2f}, truth {flux['north_true_mx'] / 1e21:+.2f}; "
                      f"south generated {flux['south_generated_mx'] / 1e21:+.2f}, truth "
                      f"{flux['south_true_mx'] / 1e21:+.2f}"]
    return "\n".join(lines)
