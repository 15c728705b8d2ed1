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
from typing import Any

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
