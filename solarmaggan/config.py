"""Run configuration: a preset (data file) plus command-line overrides, resolved and saved.

A configuration is a dict with the sections of a preset file (``data_prep/presets/*.json``):

    ``data``      image size, solar radius, channels, normalisation (see data_prep.prep)
    ``model``     architecture (U-Net + PatchGAN, or pix2pixHD + multi-scale PatchGAN) and
                  its settings (depth, filters, normalisation, dropout, padding, scales)
    ``training``  steps, batch, optimiser, loss terms and weights, schedule, precision,
                  XLA, strategy, logging, validation, checkpoints

Overrides are ``section.key=value`` strings; the value is read as JSON when it parses
(``training.steps=2000``, ``model.depth=null``, ``training.xla=true``), else as text
(``training.precision=mixed_bfloat16``). Unknown sections or keys are refused.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any, Iterable

from data_prep.atomic import write_json_atomically
from data_prep.presets import load_preset

SECTIONS = ("data", "model", "training")
# settings that may change between the runs of one run directory (extending a run)
RESUMABLE_CHANGES = ("training.steps", "training.strategy")


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


def resolve_config(preset: str, overrides: Iterable[str] = ()) -> dict[str, Any]:
    """The preset ``preset`` (name or JSON path) with ``overrides`` applied."""
    config = copy.deepcopy(load_preset(preset))
    missing = [section for section in SECTIONS if section not in config]
    if missing:
        raise ValueError(f"preset {preset!r} lacks the section(s) {', '.join(missing)}")
    for text in overrides:
        section, name, value = parse_override(text)
        if section not in SECTIONS:
            raise ValueError(f"override {text!r}: unknown section {section!r}; one of {SECTIONS}")
        if name not in config[section]:
            known = ", ".join(sorted(config[section]))
            raise ValueError(f"override {text!r}: unknown setting {section}.{name}; known: {known}")
        config[section][name] = value
    return config


def save_config(config: dict[str, Any], path: str | os.PathLike) -> None:
    """Write the resolved configuration as JSON, atomically."""
    write_json_atomically(path, config)


# settings added after the first runs were saved: a saved configuration without them gets
# the seed's values (those of the kim2019 preset), which is what those runs used
ADDED_SETTINGS = {
    "model": ("architecture", "downsamplings", "residual_blocks", "padding",
              "output_activation", "discriminator_scales"),
    "training": ("strategy", "adversarial_loss", "lambda_adversarial",
                 "lambda_feature_matching", "lambda_cc", "cc_kind", "cc_scales"),
}


def load_config(path: str | os.PathLike) -> dict[str, Any]:
    """A saved configuration (``config.json`` of a run, or a model's), with the settings
    added since it was written filled in with the seed's values (ADDED_SETTINGS)."""
    try:
        config = json.loads(Path(path).read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not a valid configuration file ({err})") from None
    seed = load_preset("kim2019")
    for section, keys in ADDED_SETTINGS.items():
        if isinstance(config.get(section), dict):
            for key in keys:
                config[section].setdefault(key, seed[section][key])
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
