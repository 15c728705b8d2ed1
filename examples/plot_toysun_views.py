"""
One toy Sun seen from Earth, STEREO-A and Solar Orbiter
=======================================================

The toy Sun (``data_prep.toysun``) is one evolving magnetic field on the whole sphere,
seen through each instrument's own header: here a one-time campaign (``run_campaign``,
as ``solarmaggan toysun campaign`` writes it) on 128-pixel detectors, from SDO at Earth,
STEREO-A at its 2011 position and Solar Orbiter 150 deg from Earth at 0.35 au. The top row
is what each EUV imager records (AIA, EUVI and EUI/FSI 304 A); the bottom row the
line-of-sight field in Gauss: HMI's, and the truth the two far-side spacecraft would have
measured, which no real magnetograph gives.
"""

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import sunpy.map

from data_prep.toysun.campaign import CampaignSettings, run_campaign

out = Path(tempfile.mkdtemp())
record = run_campaign(out, CampaignSettings(
    start="2011-03-01", days=1, size=128, observers=("earth", "stereo-a", "solo=150,4,0.35"),
    carrington_shape=(90, 180)), progress=False, workers=1)
print("observers:", ", ".join(record["observers"]))


def first(pattern: str) -> sunpy.map.GenericMap:
    return sunpy.map.Map(sorted(out.glob(pattern))[0])


views = [("SDO", first("sdo/aia/*.fits"), first("sdo/hmi/*.fits")),
         ("STEREO-A", first("stereo-a/euvi/*.fts"), first("truth/stereo-a/magnetogram/*.fits")),
         ("Solar Orbiter, 0.35 au", first("solo/fsi/*.fits"), first("truth/solo/magnetogram/*.fits"))]

# %%
# EUV 304 A (top) and the line-of-sight field (bottom) of each spacecraft.
fig, axes = plt.subplots(2, 3, figsize=(11, 7.5))
for column, (name, euv_map, field_map) in enumerate(views):
    observer = euv_map.observer_coordinate
    axes[0, column].imshow(np.log10(np.clip(euv_map.data, 1, None)), origin="lower", cmap="sdoaia304")
    axes[0, column].set_title(f"{name}: {euv_map.instrument} 304\n"
                              f"lon {observer.lon.to_value('deg'):.0f} deg, "
                              f"{observer.radius.to_value('AU'):.2f} au")
    image = axes[1, column].imshow(field_map.data, origin="lower", cmap="hmimag", vmin=-100, vmax=100)
    axes[1, column].set_title("line-of-sight field" + (" (truth)" if column else " (HMI)"))
    for ax in axes[:, column]:
        ax.set_xticks([])
        ax.set_yticks([])
    print(f"{name}: {euv_map.data.shape[0]} px, |B_LOS| max {np.nanmax(np.abs(field_map.data)):.0f} G")
fig.colorbar(image, ax=axes[1, :].tolist(), label="B_LOS (G)", shrink=0.8)
