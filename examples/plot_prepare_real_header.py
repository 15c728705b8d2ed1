"""
A real AIA file onto the standard frame
=======================================

``data_prep.prepare.prepare_map`` puts any AIA, HMI, EUVI or EUI/FSI image onto the
standard frame: north up, the Sun centred, a fixed solar radius in pixels, calibrated
(DN/s) and masked as the preset says. Here it prepares the real AIA 171 A level-1 file that
ships with sunpy's test data (128 x 128, the whole disk) onto a 128 x 128 frame with the
solar radius at 49 px (the seed's 392 px of 1024, scaled).
"""

# %%
# Open the real file with the project's checked reader, then prepare it.
import matplotlib.pyplot as plt
import numpy as np
from sunpy.data.test import get_test_filepath

from data_prep.fitsio import read_map
from data_prep.prepare import prepare_map

aia_path = get_test_filepath("aia_171_level1.fits")
raw_map = read_map(aia_path, "aia", expected_wavelength=171)
prepared_map = prepare_map(aia_path, "aia", size=128, radius_px=49.0, expected_wavelength=171)
print(f"raw: {raw_map.data.shape} px, {raw_map.scale.axis1.value:.2f} arcsec/px, "
      f"rotation {raw_map.rotation_matrix[0, 1]:+.4f}")
print(f"prepared: {prepared_map.data.shape} px, {prepared_map.scale.axis1.value:.2f} arcsec/px, "
      f"unit {prepared_map.unit}")

# %%
# The raw and the prepared image; the circle is the solar radius the frame promises.
fig, axes = plt.subplots(1, 2, figsize=(9, 4.2))
for ax, data, title in ((axes[0], raw_map.data, "AIA 171 level 1 (raw, DN)"),
                        (axes[1], prepared_map.data, "prepared (DN/s), radius 49 px")):
    image = ax.imshow(np.log10(np.clip(data, 1, None)), origin="lower", cmap="sdoaia171")
    ax.set_title(title)
    ax.set_xlabel("x (px)")
    ax.set_ylabel("y (px)")
    fig.colorbar(image, ax=ax, label="log10 intensity")
centre = (128 - 1) / 2
axes[1].add_patch(plt.Circle((centre, centre), 49.0, fill=False, color="cyan", lw=1))
fig.tight_layout()
