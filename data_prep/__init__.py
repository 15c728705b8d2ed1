"""data_prep: solar FITS files to training pairs, with no TensorFlow import.

This package runs on data-processing machines without a deep-learning stack: FITS reading,
calibration, geometry, normalisation, pairing, the HDF5 pair format and the synthetic
"toy Sun" data. ``solarmaggan`` may import it; it never imports ``solarmaggan``,
``keras`` or ``tensorflow``.
"""

__all__ = ["prepare_map"]


def __getattr__(name: str):
    # data_prep.prepare_map without importing astropy and sunpy at package import
    if name == "prepare_map":
        from data_prep.prepare import prepare_map

        return prepare_map
    raise AttributeError(f"module 'data_prep' has no attribute {name!r}")
