"""Run configuration: a preset (data file) plus command-line overrides, checked, resolved
and saved; and what a configuration says about the data (normalisation, disk, checks).

A configuration is a dict with the sections of a preset file (``data_prep/presets/*.json``):

    ``data``      image size, solar radius, the disk the metrics count, channels,
                  normalisation (see data_prep.prep)
    ``model``     architecture (U-Net + PatchGAN, or pix2pixHD + multi-scale PatchGAN) and
                  its settings (depth, filters, normalisation, dropout, upsampling, padding)
    ``training``  steps, batch, optimiser, loss terms and weights, schedule, precision,
                  XLA, strategy, logging, validation, checkpoints

Overrides are ``section.key=value`` strings; the value is read as JSON when it parses
(``training.steps=2000``, ``model.depth=null``, ``training.xla=true``), else as text
(``training.precision=mixed_bfloat16``). Every setting is checked against the declared
schema (:mod:`data_prep.presets.schema`) before anything is written: a bad configuration
raises :class:`ConfigError` listing every problem, one line each. Importing this module
does not import TensorFlow.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any, Iterable

from data_prep.atomic import write_json_atomically
from data_prep.latitude import LATITUDE_CHANNEL, input_channel_names, input_normalizations
from data_prep.normalization import Normalization, euv_normalization, magnetogram_normalization
from data_prep.pairs import PairFile
from data_prep.presets import load_preset
from data_prep.presets.schema import SECTIONS, check_config
from data_prep.reference import reference_channel_names, reference_normalizations

# settings that may change between the runs of one run directory (extending a run)
RESUMABLE_CHANGES = ("training.steps", "training.strategy")


class ConfigError(ValueError):
    """A configuration with problems; ``problems`` holds one line per bad setting."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def parse_override(text: str) -> tuple[str, str, Any]:
    """``"training.steps=2000"`` -> ("training", "steps", 2000)."""
    key, separator, raw = text.partition("=")
    section, dot, name = key.strip().partition(".")
    if not (separator and dot and section and name):
        raise ValueError(f"override {text!r} is not of the form section.key=value")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return section, name, value


def resolve_config(preset: str, overrides: Iterable[str] = (),
                   data_file: str | os.PathLike | None = None) -> dict[str, Any]:
    """The preset ``preset`` (name or JSON path) with ``overrides`` applied, checked.

    With ``data_file`` (an HDF5 pair file) the data's frame (``data.image_size`` and
    ``data.radius_px``) is taken from the file before the overrides: the user need not
    repeat it, and an override that contradicts the file is refused later by
    :func:`check_data`.

    Raises:
        ConfigError: every problem, one line each (unknown settings, wrong types, values
            out of range, settings that do not fit together).
    """
    config = copy.deepcopy(load_preset(preset))
    problems = [f"preset {preset!r} lacks the section {section!r}"
                for section in SECTIONS if not isinstance(config.get(section), dict)]
    if problems:
        raise ConfigError(problems)
    if data_file is not None:
        with PairFile(data_file) as pairs:
            config["data"]["image_size"] = pairs.image_size
            config["data"]["radius_px"] = pairs.rsun_px
    for text in overrides:
        try:
            section, name, value = parse_override(text)
        except ValueError as err:
            problems.append(str(err))
            continue
        if section not in SECTIONS:
            problems.append(f"{section}.{name}: unknown section {section!r}; one of "
                            f"{', '.join(SECTIONS)}")
            continue
        config[section][name] = value
    problems += check_config(config)
    if problems:
        raise ConfigError(problems)
    return config


def save_config(config: dict[str, Any], path: str | os.PathLike) -> None:
    """Write the resolved configuration as JSON, atomically."""
    write_json_atomically(path, config)


# settings added after the first runs were saved: a saved configuration without them gets
# the seed's values (those of the kim2019 preset), which is what those runs used
ADDED_SETTINGS = {
    "data": ("disk_rsun", "latitude_channel", "reference_pair", "reference_lag_days"),
    "model": ("architecture", "downsamplings", "residual_blocks", "padding",
              "output_activation", "discriminator_scales", "upsampling"),
    "training": ("strategy", "adversarial_loss", "lambda_adversarial",
                 "lambda_feature_matching", "lambda_cc", "cc_kind", "cc_scales",
                 "lambda_large_scale", "large_scale_block_px"),
}
# settings removed since: training.cc_radius_rsun (the validation disk) became data.disk_rsun
REMOVED_SETTINGS = {"training": ("cc_radius_rsun",)}


def load_config(path: str | os.PathLike) -> dict[str, Any]:
    """A saved configuration (``config.json`` of a run, or a model's), with the settings
    added since it was written filled in with the seed's values (ADDED_SETTINGS) and those
    removed since dropped; checked like a new one."""
    try:
        config = json.loads(Path(path).read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not a valid configuration file ({err})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a configuration file (not text)") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path}: not a configuration file (not a JSON object)")
    seed = load_preset("kim2019")
    for section, keys in ADDED_SETTINGS.items():
        if isinstance(config.get(section), dict):
            for key in keys:
                config[section].setdefault(key, seed[section][key])
    for section, keys in REMOVED_SETTINGS.items():
        for key in keys:
            config.get(section, {}).pop(key, None)
    problems = check_config(config)
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    return config


def config_differences(saved: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """``section.key: saved -> new`` for each setting that differs, except those a resumed
    run may change (RESUMABLE_CHANGES)."""
    differences = []
    for section in SECTIONS:
        keys = set(saved.get(section, {})) | set(new.get(section, {}))
        for key in sorted(keys):
            old_value = saved.get(section, {}).get(key)
            new_value = new.get(section, {}).get(key)
            if old_value != new_value and f"{section}.{key}" not in RESUMABLE_CHANGES:
                differences.append(f"{section}.{key}: {old_value!r} -> {new_value!r}")
    return differences


def data_normalizations(config: dict[str, Any]) -> tuple[Normalization, Normalization]:
    """(EUV, magnetogram) normalisation that the configuration's data must have."""
    data = config["data"]
    return (euv_normalization(*data["euv_clip_dn_s"]),
            magnetogram_normalization(data["magnetogram_limit_gauss"]))


def model_input_channels(config: dict[str, Any]) -> list[str]:
    """The names of the network's input channels: the EUV channels, then the latitude
    channel with ``data.latitude_channel`` (:mod:`data_prep.latitude`)."""
    data = config["data"]
    return input_channel_names([channel["name"] for channel in data["input_channels"]],
                               data["latitude_channel"], reference_names(config))


def reference_names(config: dict[str, Any]) -> list[str]:
    """The reference pair's three channel names with ``data.reference_pair``, else []."""
    data = config["data"]
    if not data["reference_pair"]:
        return []
    return reference_channel_names(data["input_channels"][0]["name"], data["target_channel"]["name"])


def disk_radius_px(config: dict[str, Any]) -> float:
    """Radius in pixels of the disk that every metric counts: ``data.disk_rsun`` of the
    solar radius ``data.radius_px``."""
    return float(config["data"]["radius_px"]) * float(config["data"]["disk_rsun"])


def check_data(path: str | os.PathLike, config: dict[str, Any],
               splits: tuple[str, ...] = ("train", "val")) -> None:
    """Refuse a pair file that does not fit the configuration (image size, channels,
    normalisations, solar radius) or whose ``splits`` (those the caller reads) are empty."""
    data = config["data"]
    euv, magnetogram = data_normalizations(config)
    with PairFile(path) as pairs:
        problems = []
        if pairs.image_size != data["image_size"]:
            problems.append(f"image size {pairs.image_size}, the model needs {data['image_size']}")
        channels = model_input_channels(config)
        latitude_in_file = LATITUDE_CHANNEL in pairs.input_channels
        if latitude_in_file != data["latitude_channel"]:
            problems.append(
                f"input channels {pairs.input_channels}, the model needs {channels}: "
                + ("the file has the latitude channel, the model does not use it"
                   if latitude_in_file else "the model uses the latitude channel, the file "
                   "lacks it (make the file with prep --latitude-channel, or a preset that "
                   "sets data.latitude_channel)"))
        elif len(pairs.input_channels) != len(channels):
            problems.append(f"{len(pairs.input_channels)} input channels {pairs.input_channels}, "
                            f"the model needs {len(channels)} {channels}")
        elif pairs.input_channels != channels:
            problems.append(f"input channels {pairs.input_channels}, the model needs {channels}"
                            + (" (make the file with a preset that sets data.reference_pair)"
                               if data["reference_pair"] else ""))
        elif pairs.input_normalization != input_normalizations(
                euv, len(data["input_channels"]), data["latitude_channel"],
                reference_normalizations(euv, magnetogram) if data["reference_pair"] else ()):
            problems.append(f"input normalisation {pairs.input_normalization}, the "
                            f"configuration says {euv} for the EUV channels"
                            + (" and the identity for the latitude channel"
                               if data["latitude_channel"] else ""))
        if len(pairs.target_channels) != 1:
            problems.append(f"{len(pairs.target_channels)} target channels, the model needs 1")
        if pairs.target_normalization[0] != magnetogram:
            problems.append(f"target normalisation {pairs.target_normalization[0]}, the "
                            f"configuration says {magnetogram}")
        if abs(pairs.rsun_px - float(data["radius_px"])) > 0.5:
            problems.append(f"solar radius {pairs.rsun_px:g} px, the configuration says "
                            f"{data['radius_px']:g} px")
        for split in splits:
            if len(pairs.split_indices(split)) == 0:
                problems.append(f"the {split!r} split is empty")
    if problems:
        preset = config.get("name", "the configuration")
        raise ValueError(f"{path} does not fit {preset}: " + "; ".join(problems))
