"""Atomic file writes: write a temporary file beside the target, then rename it.

A crash or kill during a write leaves the previous file (or none) under the target name,
never a half-written one. Used for every JSON record, FITS, PNG and model file the
packages write.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path (same folder, same suffix, so writers that check the suffix
    accept it); on success it replaces ``path``, on an exception it is removed."""
    path = Path(path)
    temporary = path.with_name(f"{path.stem}.tmp{path.suffix}")
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_json_atomically(path: str | os.PathLike, record: Any, **json_options: Any) -> Path:
    """Write ``record`` as indented JSON to ``path`` atomically; ``json_options`` go to
    ``json.dumps`` (e.g. ``default=str``, ``allow_nan=False``)."""
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(record, indent=2, **json_options) + "\n")
    return Path(path)
