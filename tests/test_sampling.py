"""Per-pixel uncertainty from samples: Monte Carlo dropout, ensembles, the calibration scale
stored with a model, the samples signature of the export, and bad --samples values."""

import json

import numpy as np
import pytest
import sunpy.map
import tensorflow as tf
from astropy.io import fits

from conftest import untrained_run
from data_prep.fitsio import read_layers
from solarmaggan.cli import main
from solarmaggan.evaluate import evaluate
from solarmaggan.export import export, keras_samples, parity_input
from solarmaggan.generate import generate
from solarmaggan.model_files import calibration_file, load_trained_generator, read_calibration
from solarmaggan.sampling import draw_samples
from test_generate_evaluate import euvi_file


@pytest.fixture
def euvi_inputs(tmp_path):
    folder = tmp_path / "inputs"
    folder.mkdir()
    euvi_file(folder / "20090615_000900_n4euA.fts")
    return folder


def test_samples_repeat_with_a_seed_and_differ_between_seeds(tmp_path):
    _, generator = untrained_run(tmp_path / "run")
    euv = parity_input(load_trained_generator(tmp_path / "run")[1])
    first, again, other = (draw_samples([generator], euv, 4, seed=seed) for seed in (3, 3, 4))
    np.testing.assert_array_equal(first, again)
    assert first.shape == (4, 1, 32, 32, 1)
    size = np.abs(first).max()  # an untrained network's output is small
    assert np.abs(first[0] - first[1]).max() > 0.01 * size  # dropout: the passes differ
    assert np.abs(first - other).max() > 0.01 * size
    # the generator is left as it was: deterministic at inference
    np.testing.assert_array_equal(generator(euv, training=False), generator(euv, training=False))


def test_one_model_without_dropout_has_exactly_zero_uncertainty(tmp_path, euvi_inputs):
    run_dir, _ = untrained_run(tmp_path / "run")
    report = generate(run_dir, [euvi_inputs], tmp_path / "out", samples=3, dropout=False,
                      keep_samples=True, progress=False)
    assert report["failed"] == []
    path = report["written"][0]
    layers = read_layers(path, ("UNCERTAINTY", "SAMPLES"))
    disk = np.isfinite(layers["UNCERTAINTY"])
    assert disk.sum() > 100 and np.all(layers["UNCERTAINTY"][disk] == 0.0)
    assert layers["SAMPLES"].shape == (3, 32, 32)
    header = fits.getheader(path)
    assert header["UNCMETH"] == "deterministic" and header["NSAMPLES"] == 3
    plain = generate(run_dir, [euvi_inputs], tmp_path / "plain", progress=False)["written"][0]
    np.testing.assert_allclose(fits.getdata(path), fits.getdata(plain), atol=1e-4)


def test_the_scale_fitted_on_validation_is_stored_and_used_downstream(tiny_run, tmp_path,
                                                                      euvi_inputs):
    """evaluate --samples fits one spread scale on the validation split and stores it with
    the model; generate and the export's samples signature apply it."""
    run_dir, toy_file = tiny_run
    report = evaluate(run_dir, toy_file, tmp_path / "evaluation", samples=4, progress=False)
    scale = report["uncertainty"]["scale"]
    stored = read_calibration(run_dir, "mc_dropout")
    assert stored["scale"] == scale > 0 and stored["fitted_on"] == "val"
    assert "flux" in stored  # the whole-disk flux calibration (None with < 10 val images)
    calibration = report["uncertainty"]["calibration"]
    assert calibration["raw"]["pixel"]["n_pixels"] == calibration["scaled"]["pixel"]["n_pixels"] > 0
    assert (tmp_path / "evaluation" / "spread_skill.png").stat().st_size > 5_000
    assert 0 <= report["aggregate"]["coverage_1sigma"] <= 1
    # generate: UNCERTAINTY = scale x the samples' standard deviation
    written = generate(run_dir, [euvi_inputs], tmp_path / "out", samples=4, keep_samples=True,
                       progress=False)["written"][0]
    layers = read_layers(written, ("UNCERTAINTY", "SAMPLES"))
    assert fits.getheader(written)["UNCSCALE"] == pytest.approx(scale)
    disk = np.isfinite(layers["UNCERTAINTY"])
    np.testing.assert_allclose(layers["UNCERTAINTY"][disk],
                               layers["SAMPLES"].std(axis=0)[disk], rtol=1e-4, atol=1e-4)
    assert isinstance(sunpy.map.Map(written), sunpy.map.GenericMap)  # one map, not a list
    # the export's samples signature: the same scale, the Keras model's samples
    manifest = export(run_dir, tmp_path / "export", "savedmodel", samples=3)
    signature = manifest["outputs"]["magnetogram_samples"]
    assert signature["calibration_scale"] == pytest.approx(scale) and signature["samples"] == 3
    assert manifest["parity_max_abs"]["samples"] <= 1e-5
    served = tf.saved_model.load(str(tmp_path / "export" / "serving" / "1"))
    euv = parity_input(load_trained_generator(run_dir)[1])
    outputs = served.signatures["magnetogram_samples"](euv=tf.constant(euv))
    assert outputs["samples_gauss"].shape == (3, 1, 32, 32, 1)
    np.testing.assert_allclose(outputs["sigma_gauss"].numpy()[0],
                               outputs["samples_gauss"].numpy().std(axis=0)[0], atol=1e-3)
    calibration_file(run_dir).unlink()  # the session's tiny run stays as other tests expect


def test_keras_reference_samples_follow_the_scale(tmp_path):
    _, generator = untrained_run(tmp_path / "run")
    config = load_trained_generator(tmp_path / "run")[1]
    euv = parity_input(config)
    generator_states = [v.numpy() for v in generator.variables if "seed_generator_state" in v.name]
    one = keras_samples(generator, euv, 5, 1.0, config)
    for variable, state in zip([v for v in generator.variables
                                if "seed_generator_state" in v.name], generator_states):
        variable.assign(state)
    two = keras_samples(generator, euv, 5, 2.0, config)
    np.testing.assert_allclose(two.std(axis=0), 2 * one.std(axis=0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(two.mean(axis=0), one.mean(axis=0), atol=1e-4)


@pytest.mark.parametrize("value", ["0", "-3", "1", "2.5", "many"])
def test_bad_sample_counts_are_refused_in_one_line(value, tmp_path, capsys, euvi_inputs):
    run_dir, _ = untrained_run(tmp_path / "run")
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", "--model", str(run_dir), "--out", str(tmp_path / "out"),
              "--samples", value, str(euvi_inputs)])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--samples" in error and "integer >= 2" in error and repr(value) in error
    assert not (tmp_path / "out").exists()


def test_an_ensemble_without_samples_or_of_mismatched_models_is_refused(tmp_path, capsys,
                                                                        euvi_inputs):
    one, _ = untrained_run(tmp_path / "one")
    other, _ = untrained_run(tmp_path / "other", "data.magnetogram_limit_gauss=300")
    status = main(["generate", "--model", str(one), "--model", str(one), "--out",
                   str(tmp_path / "out"), str(euvi_inputs)])
    assert status == 2 and "need --samples" in capsys.readouterr().err
    status = main(["generate", "--model", str(one), "--model", str(other), "--samples", "4",
                   "--out", str(tmp_path / "out"), str(euvi_inputs)])
    error = capsys.readouterr().err
    assert status == 2 and "magnetogram_limit_gauss" in error and len(error.strip().splitlines()) == 1


def test_an_ensemble_draws_each_model_in_turn(tmp_path):
    _, first = untrained_run(tmp_path / "a", seed=0)
    _, second = untrained_run(tmp_path / "b", seed=1)
    euv = parity_input(load_trained_generator(tmp_path / "a")[1])
    samples = draw_samples([first, second], euv, 4, dropout=False)
    np.testing.assert_array_equal(samples[0], samples[2])
    np.testing.assert_array_equal(samples[0], np.asarray(first(euv, training=False)))
    np.testing.assert_array_equal(samples[1], np.asarray(second(euv, training=False)))
    with pytest.raises(ValueError, match="multiple of 2"):
        draw_samples([first, second], euv, 3, dropout=False)


def test_the_whole_disk_flux_range_is_the_calibrated_one_about_the_mean_image():
    from astropy.io import fits as afits

    from solarmaggan.evaluate import flux_interval_scores
    from solarmaggan.uncertainty import flux_calibration_cards, flux_calibration_from_header

    rng = np.random.default_rng(0)
    truth = np.full((16, 16), 50.0)
    drawn = 40.0 + rng.normal(0.0, 1.0, (5, 16, 16))  # a 20 % low, overconfident ensemble
    disk = np.ones((16, 16), bool)
    calibration = {"log_ratio_low": -0.1, "log_ratio_high": 0.4, "pairs": 20}
    header = afits.Header()
    header.update(flux_calibration_cards(calibration))
    assert flux_calibration_from_header(header) == calibration
    assert flux_calibration_from_header(afits.Header()) is None
    scores = flux_interval_scores(drawn, truth, 1.0, 1e16, disk, {}, calibration)
    mean_flux = np.abs(drawn.mean(axis=0)).sum() * 1e16
    assert scores["unsigned_flux_mx"] == pytest.approx(mean_flux)
    assert scores["unsigned_flux_68_calibrated_mx"] == pytest.approx(
        [mean_flux * np.exp(-0.1), mean_flux * np.exp(0.4)])
    assert scores["unsigned_flux_true_in_68_calibrated"] and not scores["unsigned_flux_true_in_68"]
