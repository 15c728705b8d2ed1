"""``solarmaggan export``: a trained generator as a SavedModel (TensorFlow Serving) and as
TFLite models (edge), self-describing, with the parity measured at export time.

Layout of an export folder (default ``saved_models/<run name>/``)::

    serving/1/                 SavedModel, version 1 (TensorFlow Serving's layout)
        assets.extra/solarmaggan.json   the run's configuration (preparation, normalisation)
    generator_fp32.tflite      float32
    generator_fp16.tflite      float16 weights
    generator_int8.tflite      dynamic-range int8 weights
    manifest.json              versions, signatures, normalisation, file sizes, parity

SavedModel signatures (both take ``euv``: float32 (batch, H, W, C) in [-1, 1], the output
of the run's preparation and EUV normalisation, :func:`data_prep.prep.input_image`; for a
model with the latitude channel the last of the C channels is the latitude plane of the
image's observer, which the client computes from the header, as the manifest says; for a
model with the reference pair, AISFM 3.0, the last three are the rotated reference AIA,
HMI and mask channels of :mod:`data_prep.reference`)::

    serving_default      -> magnetogram: float32 (batch, H, W, 1) in [-1, 1]
    magnetogram_gauss    -> magnetogram_gauss: the same in Gauss, clipped to the
                                recorded clip limits (as solarmaggan generate writes)
    magnetogram_samples  (models with dropout; N = samples, 10 by default) ->
                                samples_gauss (N, batch, H, W, 1), mean_gauss and
                                sigma_gauss (batch, H, W, 1): N passes with dropout
                                active (Monte Carlo dropout), each in Gauss as above, their
                                mean and standard deviation; the deviations from the mean
                                and sigma are multiplied by the calibration scale stored
                                with the model (evaluate --samples; 1 if none), as
                                generate --samples does

The generator alone is rebuilt in float32 from the configuration and the trained weights
are copied in, so a model trained in mixed precision exports in float32 (and converts to
TFLite). What each exported graph does at inference is stated in the manifest
(``inference``): for a run with ``model.stochastic_inference`` the SavedModel keeps the
run's behaviour (each image normalised with its own statistics, dropout active: a new
draw each call, so repeated calls differ), and its parity is measured with the dropout
draws pinned to the Keras model's (the same seed state); TFLite cannot hold dropout
(stateless random ops are not TFLite built-ins), so its files keep the per-image
statistics with dropout off (the dropout's expectation), measured against the Keras model
in that mode. Everything is written into a temporary folder first and moved into place
only when complete, so a failed export never replaces a good one.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

import solarmaggan  # noqa: F401  (selects the TensorFlow backend)
import keras
import tensorflow as tf

from solarmaggan._version import __version__
from solarmaggan.config import data_normalizations, model_input_channels
from solarmaggan.console import native_output_quieted
from solarmaggan.model_files import load_trained_generator, read_calibration
from solarmaggan.models.from_config import generator_from_config
from solarmaggan.models.layers import dropout_seed_states, has_dropout, set_stochastic_inference
from solarmaggan.uncertainty import apply_scale

AU_RSUN = 215.03  # 1 au in solar radii (the parity input's observer distance)
TFLITE_VARIANTS = {"tflite": "fp32", "tflite-fp16": "fp16", "tflite-int8": "int8"}
FORMATS = ("savedmodel", *TFLITE_VARIANTS, "all")
# parity limits (max |difference| of normalised outputs in [-1, 1]), see the README
TOLERANCES = {"savedmodel": 1e-5, "samples": 1e-5, "fp32": 1e-4, "fp16": 2e-2, "int8": 1e-1}
DEFAULT_EXPORT_SAMPLES = 10  # N of the magnetogram_samples signature


def float32_generator(generator: keras.Model, config: dict[str, Any]) -> keras.Model:
    """The configuration's generator (only it) built in float32, holding ``generator``'s
    weights."""
    rebuilt = generator_from_config(config, precision="float32")
    rebuilt.set_weights([np.asarray(weight, np.float32) for weight in generator.get_weights()])
    return rebuilt


def pin_dropout(served, generator: keras.Model) -> None:
    """Set the dropout seed states of a loaded SavedModel to those of ``generator``, so
    that their next calls draw the same dropout masks (the parity check of a stochastic
    graph)."""
    saved = dropout_seed_states(served.variables)
    for path, variable in dropout_seed_states(generator.variables).items():
        saved[path].assign(variable.numpy())


def inference_modes(config: dict[str, Any]) -> dict[str, str]:
    """What the exported graphs do at inference, for the manifest."""
    if not config["model"]["stochastic_inference"]:
        deterministic = ("deterministic: batch normalisation with the moving statistics of "
                         "training, no dropout")
        return {"savedmodel": deterministic, "tflite": deterministic}
    return {
        "savedmodel": "stochastic, as the run (model.stochastic_inference): each image "
                      "normalised with its own statistics, dropout active with a new draw "
                      "each call, so repeated calls on the same image differ",
        "tflite": "deterministic: each image normalised with its own statistics as the run, "
                  "dropout off (its expectation); TFLite cannot hold the dropout's random "
                  "ops",
    }


def write_savedmodel(generator: keras.Model, config: dict[str, Any], folder: Path,
                     samples: int = 0, scale: float = 1.0) -> None:
    """SavedModel with the two signatures (Keras' ExportArchive) and the configuration as
    an extra asset.

    ExportArchive (Keras 3.15) stores every variable twice, doubling the file (416 MiB for
    the 218 MB kim2019 generator). A ``tf.Module`` saved with ``tf.saved_model.save`` is half
    the size but its variables are not found by TF1-style loaders (``saved_model_cli run``,
    hence TensorFlow Serving's loader too) and its TFLite conversion gives NaN, so the
    larger, working format is kept.
    """
    _, magnetogram_scaling = data_normalizations(config)
    low, high = magnetogram_scaling.clip_min, magnetogram_scaling.clip_max
    spec = tf.TensorSpec((None, *generator.input_shape[1:]), tf.float32, name="euv")
    archive = keras.export.ExportArchive()
    archive.track(generator)

    def normalised(euv):
        return {"magnetogram": generator(euv, training=False)}

    def gauss(euv):
        magnetogram = tf.clip_by_value(generator(euv, training=False), -1.0, 1.0)
        return {"magnetogram_gauss": (magnetogram + 1.0) / 2.0 * (high - low) + low}

    def sampled(euv):
        # dropout on while this function is traced only: the other signatures stay exact
        set_stochastic_inference(generator, stochastic, dropout=True)
        try:
            draws = tf.stack([gauss(euv)["magnetogram_gauss"] for _ in range(samples)])
        finally:
            set_stochastic_inference(generator, stochastic)
        mean = tf.reduce_mean(draws, axis=0)
        spread = scale * (draws - mean)
        return {"samples_gauss": mean + spread, "mean_gauss": mean,
                "sigma_gauss": tf.sqrt(tf.reduce_mean(tf.square(spread), axis=0))}

    stochastic = bool(config["model"]["stochastic_inference"])
    archive.add_endpoint("serving_default", normalised, input_signature=[spec])
    archive.add_endpoint("magnetogram_gauss", gauss, input_signature=[spec])
    if samples:
        archive.add_endpoint("magnetogram_samples", sampled, input_signature=[spec])
    archive.write_out(str(folder), verbose=False)
    (folder / "assets.extra").mkdir(exist_ok=True)
    (folder / "assets.extra" / "solarmaggan.json").write_text(json.dumps(config, indent=2))


def write_tflite(savedmodel: Path, variant: str, path: Path) -> None:
    """Convert the SavedModel's ``serving_default`` to TFLite: fp32, fp16 weights, or
    dynamic-range int8 weights."""
    converter = tf.lite.TFLiteConverter.from_saved_model(str(savedmodel),
                                                         signature_keys=["serving_default"])
    if variant in ("fp16", "int8"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    path.write_bytes(converter.convert())


def interpreter_class():
    """LiteRT's ``Interpreter`` (``ai_edge_litert``), or ``tf.lite.Interpreter`` without it."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        Interpreter = tf.lite.Interpreter
    return Interpreter


def run_tflite(path: Path, euv: np.ndarray) -> np.ndarray:
    """Run a TFLite generator on a (batch, H, W, C) float32 batch, one image at a time."""
    with native_output_quieted():  # LiteRT's C++ notice of its CPU delegate
        runner = interpreter_class()(model_path=str(path)).get_signature_runner("serving_default")
        return np.concatenate([runner(euv=euv[i: i + 1])["magnetogram"]
                               for i in range(len(euv))])


def parity_input(config: dict[str, Any]) -> np.ndarray:
    """A realistic normalised input (toy Sun, seed 0, in every EUV channel; with the
    latitude channel, the plane seen from B0 = 5 deg at 1 au; with the reference pair, the
    toy Sun of seed 1 as the reference, seen on the disk), (1, H, W, C) float32."""
    from data_prep.latitude import sin_latitude_image
    from data_prep.toysun import make_toy_sun

    data = config["data"]
    size, radius_px = int(data["image_size"]), float(data["radius_px"])
    euv_scaling, magnetogram_scaling = data_normalizations(config)
    sun = make_toy_sun(size, seed=0, rsun_fraction=radius_px / size)
    channels = [euv_scaling.normalize(sun.euv_dn_s)] * len(data["input_channels"])
    if data["latitude_channel"]:
        channels.append(sin_latitude_image(size, radius_px, 5.0, AU_RSUN))
    if data["reference_pair"]:
        from data_prep.geometry import disk_mask

        earlier = make_toy_sun(size, seed=1, rsun_fraction=radius_px / size)
        seen = disk_mask(size, radius_px)
        channels += [np.where(seen, euv_scaling.normalize(earlier.euv_dn_s), 0.0),
                     np.where(seen, magnetogram_scaling.normalize(earlier.magnetogram_gauss), 0.0),
                     seen.astype(np.float32)]
    return np.stack(channels, axis=-1)[None].astype(np.float32)


def _replace_folder(new: Path, target: Path) -> None:
    """Move ``new`` to ``target``; an existing ``target`` is removed only afterwards."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    os.replace(new, target)
    if old is not None:
        shutil.rmtree(old)


def keras_samples(generator: keras.Model, euv: np.ndarray, samples: int, scale: float,
                  config: dict[str, Any]) -> np.ndarray:
    """The ``magnetogram_samples`` signature's ``samples_gauss`` computed with the Keras
    generator (the parity reference): ``samples`` passes with dropout active from the
    dropout layers' current seed states, (samples, batch, H, W, 1) Gauss."""
    _, magnetogram_scaling = data_normalizations(config)
    stochastic = bool(config["model"]["stochastic_inference"])
    set_stochastic_inference(generator, stochastic, dropout=True)
    try:
        draws = np.stack([magnetogram_scaling.denormalize(np.asarray(generator(euv, training=False)))
                          for _ in range(samples)])
    finally:
        set_stochastic_inference(generator, stochastic)
    return apply_scale(draws, scale)


def export(model: str | os.PathLike, out: str | os.PathLike | None = None,
           formats: str = "all", which: str = "best", samples: int | None = None) -> dict[str, Any]:
    """Export a run directory's (or file's) generator; returns the manifest. ``samples``:
    the N of the ``magnetogram_samples`` signature (default 10 for a model with dropout, 0:
    none); its calibration scale is the one stored with the model for ``mc_dropout``."""
    if formats not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {formats!r}")
    wanted = list(TFLITE_VARIANTS) + ["savedmodel"] if formats == "all" else [formats]
    trained, config, model_file = load_trained_generator(model, which)
    name = Path(model).name if Path(model).is_dir() else Path(model).stem
    out = Path(out) if out is not None else Path("saved_models") / name
    stochastic = bool(config["model"]["stochastic_inference"])
    generator = float32_generator(trained, config)
    if samples is None:
        samples = DEFAULT_EXPORT_SAMPLES if has_dropout(generator) else 0
    if samples and not has_dropout(generator):
        raise ValueError(f"{model_file}: has no dropout, so a samples signature would repeat "
                         "one magnetogram; export without samples")
    calibration = read_calibration(model, "mc_dropout") if samples else None
    scale = float(calibration["scale"]) if calibration else 1.0
    euv = parity_input(config)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        savedmodel = work / "serving" / "1"
        write_savedmodel(generator, config, savedmodel, samples, scale)
        served = tf.saved_model.load(str(savedmodel))
        if stochastic:
            pin_dropout(served, generator)
        reference = np.asarray(generator(euv, training=False))
        result = served.signatures["serving_default"](euv=tf.constant(euv))["magnetogram"]
        parity = {"savedmodel": float(np.max(np.abs(result.numpy() - reference)))}
        if samples:
            pin_dropout(served, generator)
            served_samples = served.signatures["magnetogram_samples"](euv=tf.constant(euv))
            limit = float(config["data"]["magnetogram_limit_gauss"])
            parity["samples"] = float(np.max(np.abs(
                served_samples["samples_gauss"].numpy()
                - keras_samples(generator, euv, samples, scale, config)))) / limit
        files = {}
        tflite_variants = [TFLITE_VARIANTS[fmt] for fmt in wanted if fmt in TFLITE_VARIANTS]
        if tflite_variants:
            tflite_source = savedmodel
            if stochastic:  # TFLite holds no dropout: convert the generator without it
                set_stochastic_inference(generator, True, dropout=False)
                tflite_source = work / "tflite_source"
                write_savedmodel(generator, config, tflite_source)
                reference = np.asarray(generator(euv, training=False))
            for variant in tflite_variants:
                path = work / f"generator_{variant}.tflite"
                write_tflite(tflite_source, variant, path)
                parity[variant] = float(np.max(np.abs(run_tflite(path, euv) - reference)))
                files[path.name] = path.stat().st_size
            if tflite_source != savedmodel:
                shutil.rmtree(tflite_source)
        if "savedmodel" in wanted:
            files["serving/1"] = sum(f.stat().st_size for f in savedmodel.rglob("*") if f.is_file())
        else:
            shutil.rmtree(work / "serving")
        euv_scaling, magnetogram_scaling = data_normalizations(config)
        data = config["data"]
        manifest = {
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "source_model": str(model_file), "preset": config.get("name"),
            "versions": {"solarmaggan": __version__, "tensorflow": tf.__version__,
                         "keras": keras.__version__},
            "input": {"name": "euv", "dtype": "float32",
                      "shape": [None, data["image_size"], data["image_size"],
                                len(model_input_channels(config))],
                      "channels": model_input_channels(config),
                      "latitude_channel": (
                          "the last channel: sin(heliographic latitude) of each pixel seen "
                          "from the image's observer (data_prep.latitude.sin_latitude_image "
                          "with the header's B0 and distance), not normalised further"
                          if data["latitude_channel"] else None),
                      "reference_pair": (
                          "the last three channels: the reference AIA image (normalised as "
                          "the EUV), the reference HMI field (normalised as the output) and "
                          "the mask (1 seen, 0 not; the other two 0 there), rotated to the "
                          "input's time and view (data_prep.reference.rotated_reference); all "
                          "three 0 without a reference"
                          if data["reference_pair"] else None)},
            "outputs": {
                "serving_default": {
                    "name": "magnetogram", "dtype": "float32", "unit": "normalised",
                    "meaning": f"the generator's output ({config['model']['output_activation']}"
                               " output: a tanh stays within [-1, 1], a linear one may not)"},
                "magnetogram_gauss": {
                    "name": "magnetogram_gauss", "dtype": "float32", "unit": "Gauss",
                    "range": [magnetogram_scaling.clip_min, magnetogram_scaling.clip_max],
                    "meaning": "the output clipped to [-1, 1] and de-normalised: values "
                               "within the clip limits, as solarmaggan generate writes"},
                **({"magnetogram_samples": {
                    "names": ["samples_gauss", "mean_gauss", "sigma_gauss"], "dtype": "float32",
                    "unit": "Gauss", "samples": samples, "method": "mc_dropout",
                    "calibration_scale": scale, "calibration": calibration,
                    "meaning": f"{samples} passes with dropout active, each as "
                               "magnetogram_gauss, shape (samples, batch, H, W, 1); their "
                               "mean and standard deviation (batch, H, W, 1); deviations "
                               "from the mean and sigma times calibration_scale, as "
                               "solarmaggan generate --samples writes"}} if samples else {})},
            "normalization": {"euv": euv_scaling.to_dict(),
                              "magnetogram": magnetogram_scaling.to_dict()},
            "preparation": {key: data[key] for key in ("image_size", "radius_px",
                            "euv_median_dn_s", "euv_mask_rsun", "magnetogram_mask_rsun")},
            "stochastic_inference": stochastic,
            "inference": {kind: text for kind, text in inference_modes(config).items()
                          if kind in wanted or (kind == "tflite" and tflite_variants)},
            "files_bytes": files,
            "parity_max_abs": parity, "parity_tolerances": TOLERANCES,
            "parity_input": "toy Sun (seed 0) EUV image, normalised" + (
                "; the SavedModel's dropout draws pinned to the Keras model's" if stochastic
                or samples else "") + ("; samples parity in units of the clip limit"
                                       if samples else ""),
            "tflite_interpreter": interpreter_class().__module__,
        }
        failed = {k: v for k, v in parity.items() if not v <= TOLERANCES[k]}
        if failed:
            raise ValueError(f"export parity outside tolerance: {failed} (limits {TOLERANCES})")
        (work / "manifest.json").write_text(json.dumps(manifest, indent=2))
        _replace_folder(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    manifest["out"] = str(out)
    return manifest
