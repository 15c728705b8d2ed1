"""
A synchronic map from three views
=================================

``solarmaggan.fullsun.synchronic.build_synchronic`` combines line-of-sight magnetograms
from any observers into one full-Sun map of the radial field B_r (G) on a heliographic CEA
grid: each input is turned into B_r = B_LOS / mu where mu >= ``mu_min``, reprojected, and
blended with weights mu**2. Here the inputs are one toy-Sun time seen by HMI and the
line-of-sight field that STEREO-A and STEREO-B would have measured (the campaign's
truth), on a coarse 90 x 180 Carrington grid. No TensorFlow is involved.
"""

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from data_prep.toysun.campaign import CampaignSettings, run_campaign
from solarmaggan.fullsun.synchronic import SynchronicSettings, build_synchronic

out = Path(tempfile.mkdtemp())
run_campaign(out, CampaignSettings(start="2011-03-01", days=1, size=128,
                                   observers=("earth", "stereo-a", "stereo-b"),
                                   carrington_shape=(90, 180)), progress=False, workers=1)
inputs = [sorted(out.glob(pattern))[0] for pattern in
          ("sdo/hmi/*.fits", "truth/stereo-a/magnetogram/*.fits", "truth/stereo-b/magnetogram/*.fits")]
synchronic = build_synchronic(inputs, SynchronicSettings(shape=(90, 180)))
covered = synchronic.source >= 0
print(f"B_r range {synchronic.br_gauss.min():.0f} .. {synchronic.br_gauss.max():.0f} G; "
      f"{covered.mean():.1%} of the map observed, the rest filled")
for index, item in enumerate(synchronic.inputs):
    print(f"input {index}: {item['instrument']}, Stonyhurst lon {item['observer_lon_deg']:.0f} deg, "
          f"{(synchronic.source == index).mean():.1%} of the map")

# %%
# B_r and which input each pixel comes from (-1: filled).
extent = (0, 360, -1, 1)  # Carrington longitude (deg), sine latitude
fig, axes = plt.subplots(2, 1, figsize=(9, 7.5))
image = axes[0].imshow(synchronic.br_gauss, origin="lower", cmap="hmimag", vmin=-100, vmax=100,
                       extent=extent, aspect="auto")
fig.colorbar(image, ax=axes[0], label="B_r (G)")
axes[0].set_title("synchronic B_r: HMI + STEREO-A + STEREO-B")
source = axes[1].imshow(synchronic.source, origin="lower", cmap="viridis", extent=extent,
                        aspect="auto", vmin=-1, vmax=len(inputs) - 1)
fig.colorbar(source, ax=axes[1], label="SOURCE (input index, -1 filled)", ticks=range(-1, len(inputs)))
axes[1].set_title("SOURCE layer")
for ax in axes:
    ax.set_xlabel("Carrington longitude (deg)")
    ax.set_ylabel("sin(latitude)")
fig.tight_layout()
