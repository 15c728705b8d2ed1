"""The small demo end to end: every stage's outputs exist and are valid."""

import json

import astropy.units as u
import numpy as np
import pytest
import sunpy.map
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from data_prep.fitsio import read_layers
from data_prep.latitude import sin_latitude_image
from data_prep.pairs import PairFile
from solarmaggan.demo import ERROR_MODEL, run_demo

@pytest.fixture(scope="module")
def small_demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    return out, run_demo(out, small=True, seed=0, progress=False)


def test_small_demo_runs_every_stage(small_demo):
    out, summary = small_demo
    saved = json.loads((out / "summary.json").read_text())
    assert saved["pixel_cc"] == pytest.approx(summary["pixel_cc"])
    assert set(saved["stages"]) == {"campaign", "prep", "train", "evaluate", "generate",
                                    "far_side", "corona", "regions", "export"}
    # the real path: campaign FITS files -> prep -> pair file
    campaign = json.loads((out / "data" / "campaign" / "campaign.json").read_text())
    assert len(campaign["times"]) == 24
    with PairFile(saved["stages"]["prep"]["pairs"]) as pairs:
        # the first time has no AIA + HMI pair 6.5-40.5 days earlier for its reference
        assert len(pairs) == 23 and all(len(pairs.split_indices(s)) for s in ("train", "val", "test"))
        assert all(name.endswith(".fits") for name in pairs.text("input_files", 0))
        # the demo's preset: the latitude channel, from each AIA file's B0, and the reference
        assert pairs.input_channels == ["AIA 304", "sin latitude", "reference AIA 304",
                                        "reference HMI LOS", "reference mask"]
        header = pairs.header(0, "input")
        assert 6.5 <= header["REFLAG"] <= 40.5
        np.testing.assert_allclose(pairs.read(0)["input"][..., 1], sin_latitude_image(
            64, 24.5, header["hglt_obs"], header["dsun_obs"] / header["rsun_ref"]), atol=1e-3)
    events = EventAccumulator(str(out / "run" / "logs" / "train"),
                              size_guidance={"tensors": 0})
    events.Reload()
    assert [e.step for e in events.Tensors("g_l1")] == [10, 20, 30, 40, 50, 60]
    report = json.loads((out / "evaluation" / "report.json").read_text())
    assert report["aggregate"]["pixel_cc_mean"] == pytest.approx(saved["pixel_cc"])
    # far side: every held-out STEREO view generated and compared with its truth
    far_report = json.loads((out / "far_side_evaluation" / "report.json").read_text())
    assert far_report["aggregate"]["pixel_cc_mean"] == pytest.approx(saved["far_side_pixel_cc"])
    assert len(far_report["per_image"]) == len(saved["stages"]["generate"]["inputs"]) >= 2
    assert not far_report["unmatched"]
    # corona: the four synchronic maps through PFSS, scored against the truth
    corona = json.loads((out / "corona.json").read_text())
    assert saved["corona"]["times"] == corona["times"] == 1
    assert set(corona["mean"]) == {"truth", "synoptic", "ai", "true_far", "sft_near", "sft_ai",
                                   "sft_true_far"}
    assert set(saved["corona"]["gap_closed_assimilated"]) == {"open_jaccard", "source_surface_cc",
                                                              "hcs_distance_deg", "far_cc"}
    assert saved["corona"]["assimilation"]["error_model"] == ERROR_MODEL
    assert corona["mean"]["truth"]["open_jaccard"] == 1.0
    assert corona["mean"]["truth"]["source_surface_cc"] == pytest.approx(1.0)
    assert corona["mean"]["true_far"]["far_cc"] > corona["mean"]["synoptic"]["far_cc"]
    assert set(saved["corona"]["gap_closed"]) >= {"open_jaccard", "source_surface_cc"}
    ai_map = sunpy.map.Map(out / "corona" / "synchronic_ai.fits")
    assert ai_map.meta["ikind1"] == "observed" and ai_map.meta["ikind2"] == "generated"
    assert np.isfinite(ai_map.data).all()
    pfss_summary = json.loads((out / "corona" / "pfss_ai" / "summary.json").read_text())
    assert 0 < pfss_summary["open_flux_mx"] <= pfss_summary["unsigned_flux_mx"]
    for fits_path, source in zip(saved["stages"]["generate"]["fits"],
                                 saved["stages"]["generate"]["inputs"]):
        generated, euvi = sunpy.map.Map(fits_path), sunpy.map.Map(source)
        assert generated.meta["bunit"] == "Gauss" and generated.data.shape == (64, 64)
        assert generated.observer_coordinate.lon.to_value(u.deg) == pytest.approx(
            euvi.observer_coordinate.lon.to_value(u.deg))
        centre = generated.wcs.world_to_pixel(generated.center)
        np.testing.assert_allclose(centre, (31.5, 31.5), atol=1e-6)
        b0 = euvi.observer_coordinate.lat.to_value(u.deg)
        assert f"sin latitude: from the observer's B0 {b0:.3f} deg" in str(generated.meta["history"])
        assert "reference pair: " in str(generated.meta["history"]) and generated.meta["reftime"] != "none"
    export = saved["stages"]["export"]
    served = tf.saved_model.load(f"{export['folder']}/serving/1")
    assert "serving_default" in served.signatures
    manifest = json.loads((out / "export" / "manifest.json").read_text())
    assert manifest["outputs"]["magnetogram_samples"]["samples"] == 10
    assert manifest["outputs"]["magnetogram_samples"]["calibration_scale"] == pytest.approx(
        saved["stages"]["evaluate"]["uncertainty_scale"])
    assert "magnetogram_samples" in served.signatures
    assert manifest["input"]["channels"] == ["AIA 304", "sin latitude", "reference AIA 304",
                                             "reference HMI LOS", "reference mask"]
    assert manifest["input"]["shape"] == [None, 64, 64, 5] and manifest["input"]["reference_pair"]
    assert export["parity_max_abs"]["savedmodel"] <= 1e-5 and export["parity_max_abs"]["fp32"] <= 1e-4


def test_small_demo_reports_the_uncertainty(small_demo):
    """Coverage near and far, the far side's samples and uncertainty, and the open-field
    probability of the AI synchronic map."""
    out, summary = small_demo
    assert 0 <= summary["coverage_1sigma"] <= 1 and 0 <= summary["far_side_coverage_1sigma"] <= 1
    near = json.loads((out / "evaluation" / "report.json").read_text())["uncertainty"]
    assert near["method"] == "mc_dropout" and near["samples"] == 10 and near["scale"] > 0
    assert (out / "evaluation" / "spread_skill.png").is_file()
    for path in summary["stages"]["generate"]["fits"]:
        layers = read_layers(path, ("UNCERTAINTY", "SAMPLES"))
        assert layers["SAMPLES"].shape == (10, 64, 64)
        disk = np.isfinite(layers["UNCERTAINTY"])
        assert disk.any() and (layers["UNCERTAINTY"][disk] >= 0).all()
    probability = sunpy.map.Map(out / "corona" / "pfss_ai" / "open_probability.fits").data
    assert probability.min() >= 0 and probability.max() <= 1
    assert summary["corona"]["open_probability"]["mean"] == pytest.approx(probability.mean(),
                                                                         rel=1e-5)
    assert "UNCERTAINTY" in read_layers(out / "corona" / "synchronic_ai.fits")


def test_small_demo_catalogues_regions_and_writes_the_bulletin(small_demo):
    """The regions stage: the test split's catalogue with the named columns, its scores,
    flux coverage and flicker in summary.json, and a self-contained bulletin."""
    import csv

    from solarmaggan.regions.catalogue import ARRIVAL_COLUMNS, REGION_COLUMNS

    out, summary = small_demo
    regions = summary["regions"]
    folder = out / "regions" / "catalogue"
    for name, columns in (("regions.csv", REGION_COLUMNS), ("arrivals.csv", ARRIVAL_COLUMNS)):
        with open(folder / name, newline="") as handle:
            assert tuple(csv.DictReader(handle).fieldnames) == columns
    assert set(regions["classes"]) == {">=1e+21", ">=5e+21", ">=1e+22"}
    assert set(regions["calibration"]) == {"far", "near"}
    for calibration in regions["calibration"].values():  # fitted, or why not, said
        assert "log_ratio_low" in calibration or "needs at least" in calibration["error"]
    flicker = regions["flicker"]  # the small demo's frames are 15.2 days apart: all skipped
    assert flicker["pairs"] + flicker["skipped_gaps"] >= 1 and flicker["truth_clipped"]
    page = (out / "bulletin" / "bulletin.html").read_text()
    assert "data:image/png;base64," in page and "http" not in page
    record = json.loads((out / "bulletin" / "bulletin.json").read_text())
    assert {"time", "map", "regions", "arrivals"} <= set(record)


def test_demo_is_deterministic_with_a_seed(small_demo, tmp_path):
    first_out, first = small_demo
    again = run_demo(tmp_path / "again", small=True, seed=0, progress=False)
    assert again["pixel_cc"] == first["pixel_cc"]
    assert again["far_side_pixel_cc"] == first["far_side_pixel_cc"]
    assert again["coverage_1sigma"] == first["coverage_1sigma"]
    assert again["far_side_coverage_1sigma"] == first["far_side_coverage_1sigma"]
    assert again["stages"]["train"]["best"] == first["stages"]["train"]["best"]
    for one, other in zip(first["stages"]["generate"]["fits"], again["stages"]["generate"]["fits"]):
        np.testing.assert_array_equal(sunpy.map.Map(one).data, sunpy.map.Map(other).data)
