"""Geometry of the preprocessed frame: the solar disk centred in a square image.

Convention used throughout the package: the disk centre sits at the frame centre, pixel
coordinate ((n - 1) / 2, (n - 1) / 2) counting from 0 (FITS CRPIX = (n + 1) / 2), and its
radius in pixels is a file-level attribute of the HDF5 pairs (392 at 1024 in the seed).
"""

from __future__ import annotations

import numpy as np


def disk_mask(image_size: int, radius_px: float) -> np.ndarray:
    """Boolean (image_size, image_size) mask, True where a pixel centre lies within
    ``radius_px`` pixels of the frame centre."""
    if image_size < 1:
        raise ValueError(f"image_size must be >= 1, got {image_size}")
    if not radius_px > 0:
        raise ValueError(f"radius_px must be > 0 pixels, got {radius_px}")
    centre = (image_size - 1) / 2.0
    offsets = np.arange(image_size) - centre
    return offsets[:, None] ** 2 + offsets[None, :] ** 2 <= float(radius_px) ** 2
