"""
A full-Sun map carried forward by surface flux transport
=========================================================

``solarmaggan.fullsun.transport`` evolves a full-Sun B_r map (G) with differential
rotation, a meridional flow and supergranular diffusion (``solarmaggan transport MAP.fits
--to TIME --out OUT.fits`` on the command line). Here the toy Sun's own Carrington map of
2011-03-01 is carried 27 days forward and compared with the toy Sun's map of 2011-03-28,
and with the unevolved map (persistence: what a synoptic map assumes). The toy Sun has no
meridional flow or diffusion and its regions emerge and decay by their own rules, so the
model's error here is a real one. No TensorFlow is involved.
"""

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import sunpy.map

from data_prep.toysun.campaign import CampaignSettings, run_campaign
from solarmaggan.fullsun.transport import transport_file

out = Path(tempfile.mkdtemp())
run_campaign(out, CampaignSettings(start="2011-03-01", days=27.1, cadence_hours=27 * 24.0,
                                   size=64, observers=("earth",), carrington_shape=(90, 180)),
             progress=False, workers=1)
first, later = sorted((out / "truth" / "carrington").glob("*.fits"))
record = transport_file(first, "2011-03-28T00:00:00", out / "transported.fits")
start, truth, evolved = (sunpy.map.Map(path).data.astype(float)
                         for path in (first, later, out / "transported.fits"))


def cc(a, b):
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


print(f"{record['days']:.0f} days in {record['steps']} steps; mean B_r "
      f"{record['mean_br_before_gauss']:+.4f} -> {record['mean_br_after_gauss']:+.4f} G")
print(f"CC with the toy Sun's map 27 days later: transported {cc(evolved, truth):.3f}, "
      f"persistence {cc(start, truth):.3f}")

# %%
# The map, the map transported 27 days, and the toy Sun 27 days later (Carrington
# longitude against sine latitude; +-50 G).
extent = (0, 360, -1, 1)
fig, axes = plt.subplots(3, 1, figsize=(8, 9), sharex=True)
for axis, image, title in zip(axes, (start, evolved, truth), (
        "2011-03-01 (toy Sun)", "2011-03-01 transported to 2011-03-28", "2011-03-28 (toy Sun)")):
    shown = axis.imshow(image, origin="lower", extent=extent, aspect="auto", cmap="gray",
                        vmin=-50, vmax=50)
    axis.set_title(title)
    axis.set_ylabel("sine latitude")
axes[-1].set_xlabel("Carrington longitude [deg]")
fig.colorbar(shown, ax=axes, label="B_r [G]", shrink=0.6)
plt.show()
