"""solarmaggan: solar far-side magnetograms from EUV images with a pix2pix conditional GAN.

Kim et al. (2019, Nature Astronomy) trained pix2pix on SDO/AIA 304 A -> SDO/HMI line-of-sight
magnetogram pairs and applied it to STEREO/EUVI 304 A images of the far side. This package
re-implements that model in Keras 3 on the TensorFlow backend.

Importing the package selects the TensorFlow backend for Keras; the heavy modules
(``solarmaggan.models`` and friends) import Keras and TensorFlow only when used.
"""

import os
import sys

from solarmaggan._version import __version__

_BACKEND = "tensorflow"

if "keras" in sys.modules:
    # Keras fixes its backend at import time: too late to choose it, so check it.
    _active = sys.modules["keras"].backend.backend()
    if _active != _BACKEND:
        raise ImportError(
            f"solarmaggan needs the Keras '{_BACKEND}' backend, but Keras was already imported "
            f"with the '{_active}' backend (KERAS_BACKEND={os.environ.get('KERAS_BACKEND')!r}). "
            "Import solarmaggan before keras, or set KERAS_BACKEND=tensorflow."
        )
elif os.environ.get("KERAS_BACKEND", _BACKEND) != _BACKEND:
    raise ImportError(
        f"solarmaggan needs the Keras '{_BACKEND}' backend, but KERAS_BACKEND="
        f"{os.environ['KERAS_BACKEND']!r}. Unset it or set KERAS_BACKEND=tensorflow."
    )
os.environ["KERAS_BACKEND"] = _BACKEND

__all__ = ["__version__"]
