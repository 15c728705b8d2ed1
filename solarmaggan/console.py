"""What the console shows: progress, results and clear errors, without TensorFlow's
start-up lines unless asked for.

On import TensorFlow prints several lines on a CPU machine (absl's pre-initialisation
notice, oneDNN, "could not find cuda drivers", then ``failed call to cuInit`` and others
at the first operation). :func:`load_tensorflow` imports TensorFlow and Keras with those
kept off the console: ``TF_CPP_MIN_LOG_LEVEL=3`` before the import silences TensorFlow's
C++ log (errors included: a real failure still raises a Python exception, which is
shown), the absl lines printed while the library loads are sent to /dev/null for the
duration of the import, and TensorFlow's Python logger is set to errors only. Commands
call it after their cheap checks, so a wrong path is answered before TensorFlow loads.

The same quiet is kept around the TFLite interpreter (LiteRT logs "Created TensorFlow Lite
XNNPACK delegate for CPU" from C++): :func:`native_output_quieted`. :func:`configure`,
called by the command line first, also keeps sunpy's INFO notices (e.g. "Missing metadata
for solar radius: assuming the standard radius", once per map made) and astropy's FITS
verification warnings (a corrupt file is reported as one error line naming it) off the
console.

``--verbose`` (or ``SOLARMAGGAN_VERBOSE=1``; :func:`configure` sets it for ``--verbose``)
leaves all of it on.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator

from data_prep.progress import VERBOSE_VARIABLE, quiet_libraries, verbose_requested


@contextlib.contextmanager
def native_output_quieted() -> Iterator[None]:
    """Unless verbose: send the process's file descriptor 2 (where C++ libraries log) to
    /dev/null for the duration. Python exceptions still propagate and are shown."""
    if verbose_requested():
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def configure(verbose: bool = False) -> None:
    """Set up the console of a command: ``verbose`` is recorded in SOLARMAGGAN_VERBOSE for
    the rest of the process; unless verbose, TensorFlow's C++ log is limited to fatal
    errors and sunpy's notices and astropy's FITS warnings are kept off."""
    if verbose:
        os.environ[VERBOSE_VARIABLE] = "1"
    if verbose_requested():
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    quiet_libraries()


def load_tensorflow() -> None:
    """Import TensorFlow and Keras (the TensorFlow backend), quietly unless verbose."""
    if "tensorflow" in sys.modules or verbose_requested():
        import tensorflow  # noqa: F401
        return
    with native_output_quieted():
        import keras  # noqa: F401  (solarmaggan has selected the TensorFlow backend)
        import tensorflow as tf
    tf.get_logger().setLevel("ERROR")


def quiet_worker() -> None:
    """The console set-up of a Dask worker that runs the networks (``generate --scheduler``):
    :func:`configure`, then TensorFlow imported quietly, before the worker's first task
    imports it with its start-up lines."""
    configure()
    load_tensorflow()
