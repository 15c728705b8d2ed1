"""Presets: named settings shipped as JSON data files in this folder.

Each ``NAME.json`` holds ``name``, ``description`` and sections; ``data`` holds the
preparation settings that :class:`data_prep.prep.PrepSettings` reads (image size, solar
radius in pixels, channels, clip limits, masks, pairing tolerance, split months). Later
sections (model, training) are read by ``solarmaggan``. A path to a JSON file of the same
shape works wherever a preset name does.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

PRESET_FOLDER = Path(__file__).parent


def preset_names() -> list[str]:
    """Names of the presets shipped with the package."""
    return sorted(path.stem for path in PRESET_FOLDER.glob("*.json"))


def load_preset(name_or_path: str | os.PathLike) -> dict[str, Any]:
    """The preset ``name_or_path`` (a shipped name such as "kim2019", or a JSON file)."""
    path = Path(name_or_path)
    if not path.suffix == ".json":
        path = PRESET_FOLDER / f"{name_or_path}.json"
        if not path.is_file():
            raise ValueError(f"unknown preset {str(name_or_path)!r}; shipped: {', '.join(preset_names())}")
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{path}: no such preset file") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None
