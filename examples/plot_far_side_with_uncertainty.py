"""
A far-side magnetogram with its uncertainty
===========================================

The whole path of a far-side magnetogram, shrunk to seconds: a toy-Sun pair file scaled as
``prep`` scales real data with the ``quick`` preset (64 x 64 here), a tiny generator
trained by ``solarmaggan.training.train`` for 60 steps, then ``solarmaggan.generate`` on a
STEREO-A EUVI 304 A file of the toy Sun with 10 Monte Carlo dropout samples: the FITS it
writes holds the samples' mean (G) and an ``UNCERTAINTY`` layer (their standard
deviation, G). A model trained this briefly is a check of the machinery, not of the
science: the demo trains 2,000 steps at 256 x 256 (see the quick start).
"""

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import sunpy.map

import solarmaggan  # noqa: F401  (selects Keras' TensorFlow backend)
from data_prep.fitsio import read_layers
from data_prep.toysun.campaign import CampaignSettings, run_campaign
from data_prep.toysun.pairfile import write_toy_dataset
from solarmaggan.config import resolve_config
from solarmaggan.console import load_tensorflow

load_tensorflow()  # TensorFlow without its start-up lines
from solarmaggan.generate import generate  # noqa: E402
from solarmaggan.training import train  # noqa: E402

work = Path(tempfile.mkdtemp())
pairs = write_toy_dataset(work / "pairs.h5", n_pairs=24, image_size=64, preset="quick")
config = resolve_config("quick", [
    "model.base_filters=8", "model.max_filters=32", "model.discriminator_base_filters=8",
    "model.discriminator_max_filters=32", "training.steps=60", "training.log_every=10",
    "training.validation_every=30", "training.image_every=30", "training.checkpoint_every=30",
    "training.validation_pairs=4", "training.seed=0"], data_file=pairs)
result = train(config, pairs, work / "run", progress=False)
print(f"trained {result['step']} steps; best validation: {result['best']}")

# %%
# The far side: one STEREO-A EUVI 304 file of the toy Sun, and its truth.
run_campaign(work / "campaign", CampaignSettings(start="2011-03-01", days=1, size=128,
                                                 observers=("stereo-a",),
                                                 carrington_shape=(90, 180)),
             progress=False, workers=1)
euvi_file = sorted((work / "campaign").glob("stereo-a/euvi/*.fts"))[0]
written = generate(work / "run", [euvi_file], work / "far_side", samples=10, progress=False)
magnetogram_file = Path(written["written"][0])
mean_map = sunpy.map.Map(magnetogram_file)
sigma_gauss = read_layers(magnetogram_file, ("UNCERTAINTY",))["UNCERTAINTY"]
on_disk = np.isfinite(mean_map.data)
print(f"{magnetogram_file.name}: {mean_map.data.shape[0]} px, observer "
      f"lon {mean_map.observer_coordinate.lon.to_value('deg'):.0f} deg; mean sigma on the disk "
      f"{np.nanmean(sigma_gauss[on_disk]):.1f} G, mean |B| {np.nanmean(np.abs(mean_map.data)):.1f} G")

# %%
fig, axes = plt.subplots(1, 3, figsize=(12, 4))
euv_map = sunpy.map.Map(euvi_file)
axes[0].imshow(np.log10(np.clip(euv_map.data, 1, None)), origin="lower", cmap="sdoaia304")
axes[0].set_title("STEREO-A EUVI 304 (input)")
image = axes[1].imshow(mean_map.data, origin="lower", cmap="hmimag", vmin=-100, vmax=100)
fig.colorbar(image, ax=axes[1], label="B_LOS (G)")
axes[1].set_title("generated: mean of 10 samples")
image = axes[2].imshow(np.where(on_disk, sigma_gauss, np.nan), origin="lower", cmap="magma")
fig.colorbar(image, ax=axes[2], label="sigma (G)")
axes[2].set_title("UNCERTAINTY layer")
for ax in axes:
    ax.set_xticks([])
    ax.set_yticks([])
fig.tight_layout()
