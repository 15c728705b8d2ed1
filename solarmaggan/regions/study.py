"""The regions study of a toy-Sun campaign (the demo's ``regions`` stage and
``scripts/regions_scores.py``): calibrate the region-flux range on the validation split,
catalogue the test split, score it against ``truth/regions.csv``, measure the far side's
flicker.

1. **Calibration** (validation split): ``solarmaggan regions`` on the validation months'
   AI magnetograms (raw ranges), each detection matched to the truth regions
   (:func:`solarmaggan.regions.scores.calibration_pairs`), and the 68 % range fitted by
   split conformal prediction on ln(true / detected flux)
   (:func:`solarmaggan.uncertainty.fit_flux_calibration`), one for the far side and one
   for the near side, written as ``OUT/flux_calibration_far.json`` / ``_near.json``
   (``solarmaggan regions --flux-calibration`` takes them). The raw ranges' coverage on
   the validation split is reported beside.
2. **Test split**: ``OUT/catalogue``: the far-side AI magnetograms and the HMI files of
   the same months with the far calibration (the forecasters' catalogue, arrivals and
   the seed's claim), scored on the far side; ``OUT/near``: near-side AI magnetograms
   (AIA in, same model) with the near calibration, scored on the near side.
3. **Flicker** of the far-side sequences against the truth's
   (:func:`solarmaggan.regions.flicker.sequence_flicker`; the truth clipped to the
   generated files' CLIPMIN / CLIPMAX as ``evaluate`` clips it, and, beside, unclipped).

No TensorFlow: the AI magnetograms are made beforehand (``solarmaggan generate --samples
--keep-samples``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from solarmaggan.regions.detection import DetectionSettings

SIDES = ("far", "near")


def _catalogue_and_score(files: Sequence[Path], out: Path, truth: Path, side: str,
                         settings: DetectionSettings, progress: bool,
                         flux_calibration: dict[str, Any] | None = None,
                         scored: Sequence[Path] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``catalogue`` of ``files`` into ``out`` and its scores on ``side`` over the
    ``scored`` files (default all); returns (catalogue record, scores)."""
    from solarmaggan.regions.catalogue import catalogue
    from solarmaggan.regions.scores import coverage_functions, score

    record = catalogue(files, out, settings, progress=progress, flux_calibration=flux_calibration)
    covered = coverage_functions(list(scored if scored is not None else files), settings)
    return record, score(out, truth, covered, settings.min_area_msh, side)


def fit_region_calibration(files: Sequence[str | os.PathLike], out: str | os.PathLike,
                           truth: str | os.PathLike, side: str,
                           settings: DetectionSettings = DetectionSettings(),
                           progress: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """The region-flux calibration of ``side`` fitted on the validation-split AI
    magnetograms ``files`` against ``truth`` (``truth/regions.csv``); the catalogue is
    written into ``out``, the calibration into ``out/flux_calibration.json``. Returns
    (calibration, the raw catalogue's scores on that split)."""
    from data_prep.atomic import write_json_atomically
    from solarmaggan.regions.scores import calibration_pairs, coverage_functions
    from solarmaggan.uncertainty import fit_flux_calibration

    out = Path(out)
    _, raw_scores = _catalogue_and_score([Path(p) for p in files], out, Path(truth), side,
                                         settings, progress)
    covered = coverage_functions(list(files), settings)
    predicted, true = calibration_pairs(out, truth, covered, settings.min_area_msh, side)
    calibration = {**fit_flux_calibration(predicted, true), "side": side, "fitted_on": "val",
                   "files": len(files)}
    write_json_atomically(out / "flux_calibration.json", calibration)
    return calibration, raw_scores


def regions_study(campaign: str | os.PathLike, out: str | os.PathLike,
                  far_test: Sequence[Path], hmi_test: Sequence[Path],
                  far_val: Sequence[Path], near_test: Sequence[Path] = (),
                  near_val: Sequence[Path] = (), settings: DetectionSettings = DetectionSettings(),
                  progress: bool = True) -> dict[str, Any]:
    """The study of the module docstring into ``out``; returns (and writes as
    ``out/study.json``) its record: ``calibration`` (per side), ``far`` and ``near``
    (scores, :func:`solarmaggan.regions.scores.score`), ``flux_coverage_68`` (test split,
    by side, all flux classes >= 1e21 Mx), ``flicker``, the folders."""
    from data_prep.atomic import write_json_atomically
    from data_prep.toysun.region_truth import write_truth_regions
    from solarmaggan.regions.flicker import sequence_flicker

    campaign, out = Path(campaign), Path(out)
    truth = write_truth_regions(campaign)
    record: dict[str, Any] = {"truth": str(truth), "calibration": {}, "validation_raw": {}}
    sides = {"far": (far_val, far_test, [*far_test, *hmi_test]), "near": (near_val, near_test, near_test)}
    for side in SIDES:
        val, test, files = sides[side]
        if not (val and test):
            continue
        try:
            calibration, raw = fit_region_calibration(val, out / f"validation_{side}", truth,
                                                      side, settings, progress)
            record["calibration"][side] = calibration
            record["validation_raw"][side] = raw["classes"]
        except ValueError as err:  # too few validation regions: the raw ranges stay, said so
            calibration = None
            record["calibration"][side] = {"error": str(err)}
        folder = out / ("catalogue" if side == "far" else "near")
        catalogued, scores = _catalogue_and_score(files, folder, truth, side, settings, progress,
                                                  calibration, scored=test)
        record[side] = {"folder": str(folder), "catalogue": catalogued, **scores,
                        "files": len(test)}
    record["flux_coverage_68"] = {side: record[side]["classes"][">=1e+21"]["flux_coverage_68"]
                                  for side in SIDES if side in record}
    record["flicker"] = sequence_flicker(list(far_test), campaign / "truth", settings)
    unclipped = sequence_flicker(list(far_test), campaign / "truth", settings, clip_truth=False)
    record["flicker_unclipped_truth"] = {key: unclipped[key] for key in
                                         ("ratio", "generated_rms_gauss", "truth_rms_gauss", "pairs")}
    write_json_atomically(out / "study.json", record, default=str)
    return record
