"""``solarmaggan demo``: the whole system on the built-in toy Sun, on a CPU, in minutes,
along the path real data take (FITS files -> ``prep`` -> HDF5 -> ``train`` -> ...).

Stages (each reported on the console and in ``DIR/summary.json``):

1. campaign: one evolving toy Sun observed for a year by SDO (AIA 304 level 1, HMI
   line-of-sight magnetograms as JSOC exports them), by STEREO-A and STEREO-B (EUVI 304
   level 0, at their real positions) and by Solar Orbiter over the far side at 0.35 au
   (EUI/FSI 304 level 2), with the truth for evaluation (each far-side view's true
   line-of-sight field, Solar Orbiter's as SO/PHI would see it; Carrington maps):
   ``solarmaggan toysun campaign``;
2. prep: the AIA and HMI files paired by time, calibrated, aligned, normalised into the
   HDF5 pair format, with the latitude channel and the reference pair (``solarmaggan
   prep``, the ``quick_reference`` preset: ``quick``'s frame plus sin(latitude) from each
   image's B0, plus AISFM 3.0's reference pair: an AIA + HMI pair of the same files
   6.5-40.5 days older, rotated to the pair's time);
3. train: the ``quick_reference`` preset for 2,000 steps (TensorBoard logs, checkpoints,
   best generator);
4. evaluate: the held-out test months, near side (pixel CC on the disk, SSIM, RMSE, flux),
   with ``SAMPLES`` Monte Carlo dropout samples an image: the spread scale fitted on the
   validation month and stored with the model, coverage of the truth by +-1 sigma
   (``coverage_1sigma``);
5. generate: far-side magnetograms (FITS + PNG) from the STEREO EUVI and Solar Orbiter
   EUI/FSI files of the held-out months, with their samples and uncertainty (``generate --samples
   --keep-samples``), each with its reference pair from the campaign's SDO files
   (``--reference-archive``: the last time that part of the Sun faced Earth);
6. far side: those magnetograms against the truth each spacecraft would have measured
   (``solarmaggan evaluate --generated --truth --samples``; ``far_side_coverage_1sigma``;
   by observer and by distance: ``far_side_pixel_cc_by_observer``, ``..._by_distance``);
7. corona: the experiment of Jeong et al. (2020) at test-month times
   (:mod:`solarmaggan.fullsun.experiment`): synchronic maps (a) the truth, (b) HMI + a
   27-day synoptic far side, (c) HMI + the AI far side, (d) HMI + the true far side, and
   the assimilations (b') HMI alone by surface flux transport, (c') + the AI far side,
   (d') + the true far side (:mod:`solarmaggan.fullsun.assimilation`), each through PFSS,
   compared with the truth (``summary.json``: ``corona``, with ``gap_closed_assimilated``; the first time's
   maps as synchronic FITS + PNG and the PFSS corona of (c) in ``DIR/corona/``, solved
   for each sample too: the open-field probability, ``DIR/corona/pfss_ai/open_probability.fits``);
8. regions: far-side active regions (:mod:`solarmaggan.regions.study`): AI magnetograms of
   the validation month (far side, and AIA's near side) calibrate the region-flux range
   (split conformal), the test months' far side + HMI give the catalogue and its arrival
   forecasts, scored against ``truth/regions.csv`` near and far, with the far side's
   flicker (``summary.json``: ``regions``), and the forecasters' bulletin from the
   catalogue and the synchronic map (c) (``DIR/bulletin``);
9. export: SavedModel and TFLite, with parity checked;
10. the summary: where everything is, ``pixel_cc`` (near side), ``far_side_pixel_cc`` and
    ``far_side_pixel_cc_by_observer``.

``small=True`` runs the same stages on 64 x 64 frames with a shallow network in well under
a minute (for the tests). The same seed gives the same results.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from data_prep.atomic import write_json_atomically
from data_prep.fitsio import observation_time, read_header
from data_prep.splits import SplitRule

SETTINGS = {
    # campaign (detector pixels, days, times, far-side cadence), prep frame, preset overrides,
    # the far side's reference rule (its SDO files are 3.8 days apart, 50 deg of rotation, so
    # the nearest Earth-facing meridian can lie 25 deg from a far-side centre; the small
    # demo's 15 days apart: any pair of the last 40.5 days)
    # 2,000 steps of the preset's 3,000: the demo stays within 15 minutes on the slower
    # 2-core AMD EPYC VMs (3.1-3.45 steps/s; an Intel Xeon with AMX VM trains at 4.5 steps/s)
    "full": {"size": 512, "days": 365.0, "times": 96, "far_side_every": 2, "frame": None,
             "overrides": ["training.steps=2000"], "reference_max_offset_deg": 26.0,
             "corona": {"times": 2, "shape": (90, 180), "nr": 25,
                                         "seeds": (90, 46)}, "regions_shape": (180, 360)},
    "small": {"size": 128, "days": 365.0, "times": 24, "far_side_every": 1, "frame": (64, 24.5),
              "overrides": [
        "model.base_filters=8", "model.max_filters=32", "model.discriminator_base_filters=8",
        "model.discriminator_max_filters=32", "training.steps=60", "training.log_every=10",
        "training.validation_every=30", "training.image_every=30",
        "training.checkpoint_every=30", "training.validation_pairs=4"],
              "reference_max_offset_deg": 180.0,
              "corona": {"times": 1, "shape": (30, 60), "nr": 10, "seeds": (30, 16)},
              "regions_shape": (60, 120)},
}
# The assimilation's error model (sigma_0 in G, G in G^2/day) in the corona stage: measured
# by `solarmaggan assimilate` from the innovations of the 88 daily HMI files of a held-out
# toy-Sun campaign (docs/guide/assimilation.md). The demo's own HMI files are 3.8 (full) and
# 15 (small) days apart: too few lags within 0.5-10 days to measure it (it is refused then).
ERROR_MODEL = {"observed_sigma_gauss": 3.1, "growth_gauss2_per_day": 223.0}
# Solar Orbiter (EUI/FSI 304 level 2, the truth as SO/PHI would see it) at a fixed place
# over the far side, 0.35 au from the Sun, where its disk is 2.9 times the size seen from 1 au
SOLAR_ORBITER = "solo=150,4,0.35"
OBSERVERS = ("earth", "stereo-a", "stereo-b", SOLAR_ORBITER)
# quick with the latitude channel (without it the test months' B0, +6.5 deg against the
# training months' -2.1 deg, costs the near side its equatorial polarities) and the reference
# pair (without it the far side carries one polarity across each hemisphere): see
# docs/benchmarks.md and docs/guide/large_scale.md
PRESET = "quick_reference"
# samples an image for the per-pixel uncertainty (Monte Carlo dropout)
SAMPLES = 10


def euv_files(campaign: Path, record: dict[str, Any], months: tuple[int, ...],
              far_side: bool = True) -> list[Path]:
    """The 304 A files of the campaign observed in ``months``: the far-side ones (STEREO
    EUVI, Solar Orbiter EUI/FSI), or with ``far_side=False`` SDO/AIA's."""
    files = []
    folders = ([*record["files"]["euvi"].values(), *record["files"].get("fsi", {}).values()]
               if far_side else [record["files"]["aia"]])
    for folder in folders:
        for path in sorted((campaign / folder).glob("*.f*ts")):
            header = read_header(path)
            if (int(header.get("WAVELNTH", 0)) == 304 and observation_time(
                    header, str(path)).datetime.month in months):
                files.append(path)
    return files


def held_out_far_side(campaign: Path, record: dict[str, Any], split_rule: SplitRule) -> list[Path]:
    """The far-side EUV files of the campaign (STEREO EUVI, Solar Orbiter EUI/FSI 304)
    observed in the test months."""
    return euv_files(campaign, record, split_rule.test_months)


def regions_stage(out: Path, campaign: Path, record: dict[str, Any], split_rule: SplitRule,
                  settings: dict[str, Any], seed: int, progress: bool) -> dict[str, Any]:
    """The demo's regions stage: AI magnetograms of the validation month (far side and
    AIA's near side) and of the test months' near side are generated (the test far side
    is there already), the study of :mod:`solarmaggan.regions.study` runs on them, and
    the bulletin is written from its catalogue and the corona stage's synchronic map
    (c). Returns ``summary["regions"]``."""
    from solarmaggan.generate import generate
    from solarmaggan.regions.bulletin import write_bulletin
    from solarmaggan.regions.detection import DetectionSettings
    from solarmaggan.regions.scores import scores_table
    from solarmaggan.regions.study import regions_study

    sdo_archive = [campaign / record["files"]["aia"], campaign / record["files"]["hmi"]]
    made = {}
    for name, months, far_side in (("far_val", split_rule.val_months, True),
                                   ("near_val", split_rule.val_months, False),
                                   ("near_test", split_rule.test_months, False)):
        inputs = euv_files(campaign, record, months, far_side)
        generated = generate(out / "run", inputs, out / "regions" / "magnetograms" / name,
                             overwrite=True, progress=progress, samples=SAMPLES,
                             keep_samples=True, seed=seed, reference_archive=sdo_archive,
                             reference_max_offset_deg=settings["reference_max_offset_deg"],
                             quicklook=False)
        made[name] = [Path(path) for path in generated["written"]]
    far_test = sorted((out / "far_side_magnetograms").glob("*.fits"))
    test_months = split_rule.test_months
    hmi_test = [path for path in sorted((campaign / record["files"]["hmi"]).glob("*.fits"))
                if observation_time(read_header(path), str(path)).datetime.month in test_months]
    study = regions_study(campaign, out / "regions", far_test, hmi_test, made["far_val"],
                          made["near_test"], made["near_val"],
                          DetectionSettings(shape=settings["regions_shape"]), progress=progress)
    for side in ("far", "near"):
        if side in study:
            print(f"{side} side (test months):")
            print(scores_table(study[side]))
    flicker = study["flicker"]
    if flicker["ratio"] is None:
        print(f"far-side flicker: not measured ({flicker['skipped_gaps']} pairs of frames more "
              f"than {flicker['max_gap_days']:g} days apart)")
    else:
        print(f"far-side flicker: {flicker['generated_rms_gauss']:.1f} G frame to frame against "
              f"the truth's {flicker['truth_rms_gauss']:.1f} G (clipped as the generated files): "
              f"ratio {flicker['ratio']:.2f} (target <= {flicker['target_ratio']:g}) over "
              f"{flicker['pairs']} pairs {flicker['median_cadence_days']:.1f} days apart")
    bulletin = write_bulletin(out / "regions" / "catalogue", out / "corona" / "synchronic_ai.fits",
                              out / "bulletin")
    print(f"bulletin: {out / 'bulletin' / 'bulletin.html'} ({len(bulletin['regions'])} regions, "
          f"{len(bulletin['arrivals'])} on the far side, at {bulletin['time'][:16]} UTC)")
    far = study.get("far", {})
    return {"study": str(out / "regions" / "study.json"),
            "catalogue": str(out / "regions" / "catalogue"),
            "classes": far.get("classes"), "arrivals": {
                key: value for key, value in (far.get("arrivals") or {}).items() if key != "errors"},
            "near_classes": study.get("near", {}).get("classes"),
            "flux_coverage_68": study["flux_coverage_68"], "calibration": study["calibration"],
            "flicker": {key: value for key, value in flicker.items() if key != "by_observer"},
            "bulletin": str(out / "bulletin")}


def _stage(name: str, number: int, total: int) -> float:
    print(f"\n== [{number}/{total}] {name}", flush=True)
    return time.monotonic()


def run_demo(out: str | os.PathLike = "demo", small: bool = False, seed: int = 0,
             progress: bool = True) -> dict[str, Any]:
    """Run every stage into ``out``; returns (and writes) ``out/summary.json``."""
    from data_prep.prep import PrepSettings, build_pair_file, summary_text
    from data_prep.toysun.campaign import CampaignSettings, run_campaign
    from solarmaggan.config import resolve_config
    from solarmaggan.evaluate import (evaluate, group_table, large_scale_table, summary_table,
                                      uncertainty_table)
    from solarmaggan.evaluate_fits import evaluate_fits
    from solarmaggan.export import export
    from solarmaggan.fullsun.experiment import ExperimentSettings, comparison_table, run_experiment
    from solarmaggan.generate import generate
    from solarmaggan.training import train

    settings = SETTINGS["small" if small else "full"]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"small": small, "seed": seed, "stages": {}}
    total = 10

    start = _stage("campaign: the toy Sun seen by SDO, STEREO-A/B and Solar Orbiter (FITS files, "
                   "truth)", 1, total)
    campaign = out / "data" / "campaign"
    record = run_campaign(campaign, CampaignSettings(
        days=settings["days"], cadence_hours=settings["days"] * 24.0 / settings["times"],
        observers=OBSERVERS,
        far_side_every=settings["far_side_every"], size=settings["size"], seed=seed),
        progress=progress)
    summary["stages"]["campaign"] = {"folder": str(campaign), "times": len(record["times"]),
                                     "seconds": round(time.monotonic() - start, 1)}
    print(f"{campaign}: {len(record['times'])} times, observers {', '.join(record['observers'])}")

    start = _stage("prep: AIA 304 + HMI FITS -> calibrated, aligned HDF5 pairs (+ latitude, "
                   "+ reference pair)", 2, total)
    frame = settings["frame"]
    prep_settings = PrepSettings.from_preset(
        PRESET, **({"image_size": frame[0], "radius_px": frame[1]} if frame else {}))
    pairs = out / "data" / "pairs.h5"
    prep_record = build_pair_file([campaign / record["files"]["aia"]],
                                  [campaign / record["files"]["hmi"]], pairs, prep_settings,
                                  progress=progress)
    print(summary_text(prep_record))
    summary["stages"]["prep"] = {"pairs": str(pairs), "samples": prep_record["samples"],
                                 "seconds": round(time.monotonic() - start, 1)}

    start = _stage(f"train: the {PRESET} preset on the CPU", 3, total)
    config = resolve_config(PRESET, [f"training.seed={seed}", *settings["overrides"]],
                            data_file=pairs)
    result = train(config, pairs, out / "run", progress=progress)
    summary["stages"]["train"] = {"run_dir": str(out / "run"), "step": result["step"],
                                  "best": result["best"],
                                  "seconds": round(time.monotonic() - start, 1)}

    start = _stage("evaluate: the held-out test months, near side", 4, total)
    report = evaluate(out / "run", pairs, out / "evaluation", split="test", progress=progress,
                      samples=SAMPLES, seed=seed)
    print(summary_table(report))
    print(large_scale_table(report))
    print(uncertainty_table(report))
    scores = report["aggregate"]
    summary["pixel_cc"] = scores["pixel_cc_mean"]
    summary["coverage_1sigma"] = scores["coverage_1sigma"]
    summary["stages"]["evaluate"] = {
        "report": str(out / "evaluation" / "report.json"),
        "pixel_cc": scores["pixel_cc_mean"], "pixel_cc_binned": scores["pixel_cc_binned_mean"],
        "ssim": scores["ssim_mean"], "rmse_gauss": scores["rmse_gauss_mean"],
        "flux_cc": scores.get("flux_cc"), "uncertainty": report["uncertainty"]["summary"],
        "uncertainty_scale": report["uncertainty"]["scale"],
        "large_scale": report["large_scale"]["bands"],
        "seconds": round(time.monotonic() - start, 1)}

    start = _stage("generate: far-side magnetograms from STEREO EUVI and Solar Orbiter EUI/FSI "
                   "(held-out months)", 5, total)
    far_side = held_out_far_side(campaign, record, prep_settings.split_rule)
    sdo_archive = [campaign / record["files"]["aia"], campaign / record["files"]["hmi"]]
    generated = generate(out / "run", far_side, out / "far_side_magnetograms",
                         overwrite=True, progress=progress, samples=SAMPLES, keep_samples=True,
                         seed=seed, reference_archive=sdo_archive,
                         reference_max_offset_deg=settings["reference_max_offset_deg"])
    if generated["failed"]:
        raise RuntimeError(f"far-side generation failed: {generated['failed']}")
    summary["stages"]["generate"] = {"inputs": [str(path) for path in far_side],
                                     "fits": generated["written"],
                                     "seconds": round(time.monotonic() - start, 1)}

    start = _stage("far side: generated magnetograms against the truth", 6, total)
    far_report = evaluate_fits(out / "far_side_magnetograms", campaign / "truth",
                               out / "far_side_evaluation", progress=progress, samples=SAMPLES)
    print(summary_table(far_report))
    print(large_scale_table(far_report))
    print(uncertainty_table(far_report))
    print(group_table(far_report))
    far_scores = far_report["aggregate"]
    summary["far_side_pixel_cc"] = far_scores["pixel_cc_mean"]
    summary["far_side_pixel_cc_by_observer"] = {
        name: scores["pixel_cc_mean"] for name, scores in far_report["by_observer"].items()}
    summary["far_side_pixel_cc_by_distance"] = {
        name: scores["pixel_cc_mean"] for name, scores in far_report["by_distance"].items()}
    summary["far_side_coverage_1sigma"] = far_scores["coverage_1sigma"]
    summary["far_side_band_bias_gauss"] = {row["band"]: row["bias_gauss"]
                                           for row in far_report["large_scale"]["bands"]}
    summary["stages"]["far_side"] = {
        "report": str(out / "far_side_evaluation" / "report.json"),
        "pairs": len(far_report["per_image"]), "unmatched": len(far_report["unmatched"]),
        "pixel_cc": far_scores["pixel_cc_mean"],
        "pixel_cc_binned": far_scores["pixel_cc_binned_mean"],
        "rmse_gauss": far_scores["rmse_gauss_mean"], "flux_cc": far_scores.get("flux_cc"),
        "uncertainty": far_report["uncertainty"]["summary"],
        "large_scale": far_report["large_scale"]["bands"],
        "seconds": round(time.monotonic() - start, 1)}

    start = _stage("corona: synchronic maps and PFSS, AI far side against the truth", 7, total)
    corona = run_experiment(campaign, out / "far_side_magnetograms",
                            ExperimentSettings(**{key: value for key, value in settings["corona"].items()
                                                  if key != "times"}),
                            max_times=settings["corona"]["times"], progress=progress,
                            example=out / "corona", **ERROR_MODEL)
    print(comparison_table(corona))
    write_json_atomically(out / "corona.json", corona, default=str)
    summary["corona"] = {"times": corona["times"], "mean": corona["mean"],
                         "gap_closed": corona["gap_closed"],
                         "gap_closed_assimilated": corona["gap_closed_assimilated"],
                         "assimilation": corona["assimilation"],
                         "large_scale_targets": corona["large_scale_targets"]}
    example = corona["example_pfss"] or {}
    if "open_probability" in example:
        summary["corona"]["open_probability"] = {
            "file": str(out / "corona" / "pfss_ai" / "open_probability.fits"),
            **example["open_probability"],
            "hcs_latitude_spread_deg": example.get("hcs_latitude_spread_deg")}
        print(f"open-field probability of (c) over {example['samples']} samples: "
              + ", ".join(f"{key} {value:.3f}" for key, value in example["open_probability"].items()
                          if isinstance(value, float))
              + f"; current-sheet latitude spread {example.get('hcs_latitude_spread_deg') or float('nan'):.2f} deg")
    summary["stages"]["corona"] = {"report": str(out / "corona.json"),
                                   "seconds": round(time.monotonic() - start, 1)}

    start = _stage("regions: far-side active regions, arrival forecasts, flicker, the bulletin",
                   8, total)
    summary["regions"] = regions_stage(out, campaign, record, prep_settings.split_rule,
                                       settings, seed, progress)
    summary["stages"]["regions"] = {"folder": str(out / "regions"),
                                    "bulletin": str(out / "bulletin" / "bulletin.html"),
                                    "seconds": round(time.monotonic() - start, 1)}

    start = _stage("export: SavedModel and TFLite, parity checked", 9, total)
    manifest = export(out / "run", out / "export", "all")
    summary["stages"]["export"] = {"folder": str(out / "export"),
                                   "parity_max_abs": manifest["parity_max_abs"],
                                   "seconds": round(time.monotonic() - start, 1)}

    _stage("summary", 10, total)
    summary["seconds"] = round(sum(stage["seconds"] for stage in summary["stages"].values()), 1)
    write_json_atomically(out / "summary.json", summary, default=str)
    print(f"campaign FITS:       {campaign}\npair file:           {pairs}\n"
          f"run directory:       {out / 'run'}\n"
          f"near side:           {out / 'evaluation'} (held-out pixel CC {summary['pixel_cc']:.3f}, "
          f"coverage at +-1 sigma {summary['coverage_1sigma']:.3f})\n"
          f"far side:            {out / 'far_side_evaluation'} (pixel CC against the truth "
          f"{summary['far_side_pixel_cc']:.3f}, coverage at +-1 sigma "
          f"{summary['far_side_coverage_1sigma']:.3f}; by observer: "
          + ", ".join(f"{name} {cc:.3f}" for name, cc in
                      summary["far_side_pixel_cc_by_observer"].items()) + ")\n"
          f"corona:              {out / 'corona.json'} (synchronic maps + PFSS: "
          f"{out / 'corona'})\n"
          f"active regions:      {out / 'regions' / 'catalogue'} (regions.csv, arrivals.csv); "
          f"bulletin {out / 'bulletin' / 'bulletin.html'}\n"
          f"far-side FITS + PNG: {out / 'far_side_magnetograms'}\nexports:             "
          f"{out / 'export'}\nsummary:             {out / 'summary.json'}\n"
          f"TensorBoard:         tensorboard --logdir {out / 'run' / 'logs'}")
    return summary
