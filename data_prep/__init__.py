"""data_prep: solar FITS files to training pairs, with no TensorFlow import.

This package runs on data-processing machines without a deep-learning stack: FITS reading,
calibration, geometry, normalisation, pairing, the HDF5 pair format and the synthetic
"toy Sun" data. ``solarmaggan`` may import it; it never imports ``solarmaggan``,
``keras`` or ``tensorflow``.
"""
