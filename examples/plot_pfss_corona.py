"""
The PFSS corona of a synchronic map
===================================

``solarmaggan.fullsun.pfss`` solves the potential-field source-surface model with
sunkit-magex on a full-Sun B_r map and traces field lines from a grid of photospheric
seeds to find where the field is open. Here the map is a toy-Sun synchronic map (HMI and
the STEREO-A/B line-of-sight truth) on a coarse 60 x 120 grid, solved with 12 radial cells
and a 60 x 30 seed grid, small enough for seconds on a laptop.
"""

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import sunpy.map

from data_prep.toysun.campaign import CampaignSettings, run_campaign
from solarmaggan.fullsun.pfss import open_field_map, pfss_solution
from solarmaggan.fullsun.synchronic import SynchronicSettings, build_synchronic, write_synchronic

out = Path(tempfile.mkdtemp())
run_campaign(out, CampaignSettings(start="2011-03-01", days=1, size=128,
                                   observers=("earth", "stereo-a", "stereo-b"),
                                   carrington_shape=(90, 180)), progress=False, workers=1)
inputs = [sorted(out.glob(pattern))[0] for pattern in
          ("sdo/hmi/*.fits", "truth/stereo-a/magnetogram/*.fits", "truth/stereo-b/magnetogram/*.fits")]
map_path = write_synchronic(out / "synchronic.fits",
                            build_synchronic(inputs, SynchronicSettings(shape=(60, 120))),
                            quicklook=False)

# %%
# Solve, and classify each seed as closed (0) or open with the sign of B_r (+1/-1).
solution = pfss_solution(sunpy.map.Map(map_path), nr=12, rss=2.5)
open_field = open_field_map(solution, seeds=(60, 30))
source_surface = solution.source_surface_br.data
print(f"open area: {(open_field != 0).mean():.1%} of the seeds "
      f"({(open_field > 0).mean():.1%} positive, {(open_field < 0).mean():.1%} negative)")
print(f"source-surface B_r: {source_surface.min():.2f} .. {source_surface.max():.2f} G")

# %%
extent = (0, 360, -1, 1)
fig, axes = plt.subplots(2, 1, figsize=(9, 7.5))
image = axes[0].imshow(source_surface, origin="lower", cmap="RdBu_r", extent=extent, aspect="auto",
                       vmin=-np.abs(source_surface).max(), vmax=np.abs(source_surface).max())
axes[0].contour(source_surface, levels=[0], colors="k", origin="lower", extent=extent)
fig.colorbar(image, ax=axes[0], label="B_r at 2.5 R_sun (G)")
axes[0].set_title("source surface (black: the current sheet)")
image = axes[1].imshow(open_field, origin="lower", cmap="coolwarm", vmin=-1, vmax=1,
                       extent=extent, aspect="auto")
fig.colorbar(image, ax=axes[1], label="open field (+1/-1), closed (0)", ticks=[-1, 0, 1])
axes[1].set_title("open field at the photosphere")
for ax in axes:
    ax.set_xlabel("Carrington longitude (deg)")
    ax.set_ylabel("sin(latitude)")
fig.tight_layout()
