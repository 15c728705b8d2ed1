"""What long jobs show on the console: a text progress bar with rate and ETA (on stderr),
and nothing of the libraries' start-up notices unless asked for (``SOLARMAGGAN_VERBOSE``,
the commands' ``--verbose``)."""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

VERBOSE_VARIABLE = "SOLARMAGGAN_VERBOSE"


def verbose_requested() -> bool:
    """True when ``SOLARMAGGAN_VERBOSE`` is set to anything but 0 / empty (``--verbose``)."""
    return os.environ.get(VERBOSE_VARIABLE, "0") not in ("", "0")


def quiet_libraries() -> None:
    """Unless verbose, keep sunpy's INFO notices (e.g. "Missing metadata for solar radius",
    once per map made) and astropy's FITS verification warnings (a corrupt file is reported
    as one error line naming it) off the console: part of the set-up of every command and
    of every Dask worker (:mod:`data_prep.scheduler`)."""
    if verbose_requested():
        return
    import warnings

    import sunpy
    from astropy.io.fits.verify import VerifyWarning

    sunpy.log.setLevel("WARNING")
    warnings.filterwarnings("ignore", category=VerifyWarning)


def format_seconds(seconds: float) -> str:
    """``3725`` -> ``"1h02m"``, ``125`` -> ``"2m05s"``, ``7.2`` -> ``"7s"``."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class Progress:
    """``label  done/total [#####.....]  rate/s  ETA``, redrawn in place on a terminal,
    one line every ``every`` items elsewhere (logs of batch jobs)."""

    def __init__(self, total: int, label: str, unit: str = "items", stream: TextIO | None = None,
                 enabled: bool = True, every: int = 10):
        self.total, self.label, self.unit = max(int(total), 0), label, unit
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.every = max(int(every), 1)
        self.done = 0
        self.start = time.monotonic()
        self.interactive = hasattr(self.stream, "isatty") and self.stream.isatty()

    def line(self) -> str:
        elapsed = time.monotonic() - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else float("nan")
        filled = int(20 * self.done / self.total) if self.total else 20
        eta_text = format_seconds(eta) if eta == eta else "?"
        return (f"{self.label}  {self.done}/{self.total} [{'#' * filled}{'.' * (20 - filled)}]  "
                f"{rate:.2f} {self.unit}/s  elapsed {format_seconds(elapsed)}  ETA {eta_text}")

    def update(self, count: int = 1) -> None:
        self.done += count
        if not self.enabled:
            return
        if self.interactive:
            self.stream.write("\r" + self.line())
        elif self.done % self.every == 0 or self.done == self.total:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.interactive:
            self.stream.write("\n")
            self.stream.flush()
