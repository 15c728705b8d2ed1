"""Finding a trained generator and the configuration it was trained with.

``--model`` of ``evaluate``, ``generate`` and ``export`` accepts a run directory (its
``best_generator.keras``, or ``generator_last.keras`` with ``which="last"``) or a ``.keras``
generator file; the configuration is the ``config.json`` beside it (a run directory always
has one). The configuration carries the data preparation and normalisation, so a model is
never fed differently scaled data.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from solarmaggan.config import load_config, model_input_channels

GENERATOR_FILES = {"best": "best_generator.keras", "last": "generator_last.keras"}


def resolve_model_path(model: str | os.PathLike, which: str = "best") -> tuple[Path, Path]:
    """(generator .keras file, config.json) for a run directory or a generator file."""
    path = Path(model)
    if which not in GENERATOR_FILES:
        raise ValueError(f"which must be one of {tuple(GENERATOR_FILES)}, got {which!r}")
    if path.is_dir():
        generator_file = path / GENERATOR_FILES[which]
        if not generator_file.is_file():
            raise FileNotFoundError(f"{path}: run directory without {GENERATOR_FILES[which]} "
                                    "(has the run validated or finished yet?)")
    elif path.is_file():
        generator_file = path
    else:
        raise FileNotFoundError(f"{path}: no such run directory or model file")
    config_file = generator_file.parent / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(
            f"{generator_file}: no config.json beside it, so its data preparation and "
            "normalisation are unknown; keep generators in their run directory"
        )
    return generator_file, config_file


def load_trained_generator(model: str | os.PathLike, which: str = "best") -> tuple[Any, dict, Path]:
    """(Keras generator, configuration, generator file) of a run directory or file; checks
    that the generator's input matches the configuration's image size and channels."""
    from solarmaggan.models import load_model

    generator_file, config_file = resolve_model_path(model, which)
    config = load_config(config_file)
    generator = load_model(generator_file)
    data = config["data"]
    expected = (data["image_size"], data["image_size"], len(model_input_channels(config)))
    if tuple(generator.input_shape[1:]) != expected:
        raise ValueError(
            f"{generator_file}: takes inputs of shape {tuple(generator.input_shape[1:])}, but "
            f"its config.json describes {expected}"
        )
    return generator, config, generator_file


def as_model_list(model: str | os.PathLike | Sequence[str | os.PathLike]) -> list[str | os.PathLike]:
    """One model (a run directory or generator file) or several (an ensemble) as a list."""
    return [model] if isinstance(model, (str, os.PathLike)) else list(model)


def load_models(models: Sequence[str | os.PathLike]) -> tuple[list[Any], dict[str, Any], Path]:
    """(generators, configuration, first generator file) of one model or an ensemble; the
    models of an ensemble must share their data settings (frame, channels, scaling)."""
    generators, configs, files = [], [], []
    for model in models:
        generator, config, model_file = load_trained_generator(model)
        if configs and config["data"] != configs[0]["data"]:
            differing = sorted(key for key in config["data"]
                               if config["data"][key] != configs[0]["data"].get(key))
            raise ValueError(f"{model_file}: its data settings differ from {files[0]}'s "
                             f"({', '.join(differing)}); an ensemble needs one preparation")
        generators.append(generator)
        configs.append(config)
        files.append(model_file)
    return generators, configs[0], files[0]

#: The uncertainty calibration stored with a model: beside its config.json
CALIBRATION_FILE = "uncertainty_calibration.json"


def calibration_file(model: str | os.PathLike) -> Path:
    """Where the uncertainty calibration of a run directory or generator file lives (beside
    its ``config.json``)."""
    path = Path(model)
    return (path if path.is_dir() else path.parent) / CALIBRATION_FILE


def read_calibration(model: str | os.PathLike, method: str) -> dict[str, Any] | None:
    """The stored calibration record of ``method`` (``scale``: the factor on the samples'
    standard deviation, and how it was fitted) for a model, or None if none was fitted."""
    import json

    path = calibration_file(model)
    if not path.is_file():
        return None
    try:
        records = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not a valid calibration file ({err})") from None
    record = records.get(method) if isinstance(records, dict) else None
    if record is not None and not (isinstance(record.get("scale"), (int, float))
                                   and record["scale"] > 0):
        raise ValueError(f"{path}: the {method} scale must be a number > 0, got "
                         f"{record.get('scale')!r}")
    return record


def write_calibration(model: str | os.PathLike, method: str, record: dict[str, Any]) -> Path:
    """Store ``record`` (with ``scale``) as the calibration of ``method`` beside the model's
    configuration, atomically, keeping the other methods' records."""
    import json

    from data_prep.atomic import write_json_atomically

    path = calibration_file(model)
    records = json.loads(path.read_text()) if path.is_file() else {}
    records[method] = record
    write_json_atomically(path, records)
    return path
