"""
Reading the FITS layers of a synchronic map
===========================================

Files that carry a per-pixel layer beside their image (a synchronic map's ``SOURCE`` and
``AGE``; a generated magnetogram's ``UNCERTAINTY`` and ``SAMPLES``) store each as a
one-row binary table on the primary HDU's grid, so ``sunpy.map.Map(file)`` still opens
the image alone. ``data_prep.fitsio.read_layers`` reads them back by name. Here a
synchronic map of the toy Sun (HMI and STEREO-A, the STEREO view 3 days older than HMI's)
is written and its layers read.
"""

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import sunpy.map

from data_prep.fitsio import read_layers
from data_prep.toysun.campaign import CampaignSettings, run_campaign
from solarmaggan.fullsun.synchronic import SynchronicSettings, build_synchronic, write_synchronic

out = Path(tempfile.mkdtemp())
run_campaign(out, CampaignSettings(start="2011-03-01", days=4, cadence_hours=72, size=128,
                                   observers=("earth", "stereo-a"), carrington_shape=(90, 180)),
             progress=False, workers=1)
inputs = [sorted(out.glob("sdo/hmi/*.fits"))[-1], sorted(out.glob("truth/stereo-a/magnetogram/*.fits"))[0]]
path = write_synchronic(out / "synchronic.fits",
                        build_synchronic(inputs, SynchronicSettings(shape=(90, 180))), quicklook=False)

# %%
layers = read_layers(path)
br_map = sunpy.map.Map(path)
for name, values in layers.items():
    print(f"{name}: {values.dtype}, shape {values.shape}, values {np.nanmin(values):g} .. {np.nanmax(values):g}")
print(f"primary image: {br_map.data.shape}, {br_map.unit}, map time {br_map.date.isot}")

fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
extent = (0, 360, -1, 1)
panels = [(br_map.data, "B_r (G)", "hmimag", (-100, 100)),
          (layers["SOURCE"], "SOURCE (input index, -1 filled)", "viridis", (-1, 1)),
          (layers["AGE"], "AGE (h)", "cividis", (None, None))]
for ax, (values, label, cmap, (vmin, vmax)) in zip(axes, panels):
    image = ax.imshow(values, origin="lower", cmap=cmap, vmin=vmin, vmax=vmax, extent=extent, aspect="auto")
    fig.colorbar(image, ax=ax, label=label)
    ax.set_xlabel("Carrington longitude (deg)")
    ax.set_ylabel("sin(latitude)")
fig.tight_layout()
