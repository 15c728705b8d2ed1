"""Atomic file writes: write a temporary file beside the target, flush it to the disk,
then rename it over the target.

A crash, kill or power cut during a write leaves the previous file (or none) under the
target name, never a half-written one. Each write gets its own temporary name, so two
processes writing the same target never share a temporary file. Used for every JSON
record, FITS, PNG and model file the packages write.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator


def _fsync(path: Path) -> None:
    """Flush a file's (or a folder's) contents to the disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a new temporary path beside ``path`` (same folder, same suffix, so writers
    that check the suffix accept it); on success the file is flushed to the disk and
    replaces ``path`` (and the rename itself is flushed); on an exception it is removed."""
    path = Path(path)
    descriptor, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}",
                                        dir=path.parent)
    os.close(descriptor)
    temporary = Path(name)
    temporary.unlink()  # writers create it themselves (some refuse an existing file)
    try:
        yield temporary
        _fsync(temporary)
        os.replace(temporary, path)
        _fsync(path.parent)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_json_atomically(path: str | os.PathLike, record: Any, **json_options: Any) -> Path:
    """Write ``record`` as indented JSON to ``path`` atomically; ``json_options`` go to
    ``json.dumps`` (e.g. ``default=str``, ``allow_nan=False``)."""
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(record, indent=2, **json_options) + "\n")
    return Path(path)
