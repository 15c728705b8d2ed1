"""
The HDF5 pair format and the tf.data stream
===========================================

Training pairs live in one HDF5 file (``data_prep.pairs``): EUV inputs and magnetogram
targets normalised to [-1, 1], with their scaling, headers, times and splits.
``solarmaggan.data.make_dataset`` streams a split of it through ``tf.data``. Here a small
toy-Sun pair file (12 pairs of 64 x 64, the seed's scaling: log10 of 1-1000 DN/s and
+-100 G) is written, described as ``solarmaggan info`` describes it, and one batch of the
stream is shown, converted back to Gauss.
"""

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import sunpy.visualization.colormaps  # noqa: F401  (registers the sdoaia304 and hmimag colour maps)

import solarmaggan  # noqa: F401  (selects Keras' TensorFlow backend)
from data_prep.pairs import describe
from data_prep.toysun.pairfile import write_toy_dataset
from solarmaggan.console import load_tensorflow

load_tensorflow()  # TensorFlow without its start-up lines
from solarmaggan.data import make_dataset  # noqa: E402

pair_file = write_toy_dataset(Path(tempfile.mkdtemp()) / "toy.h5", n_pairs=12, image_size=64)
print(describe(pair_file))

# %%
# One batch of four pairs from the whole file (no shuffling or shifts, for the figure).
euv_batch, magnetogram_batch = next(iter(make_dataset(pair_file, split=None, batch_size=4,
                                                      shuffle=False, augment=False)))
print("batch shapes:", tuple(euv_batch.shape), tuple(magnetogram_batch.shape), euv_batch.dtype)
fig, axes = plt.subplots(2, 4, figsize=(11, 5.5))
for column in range(4):
    axes[0, column].imshow(euv_batch[column, ..., 0], origin="lower", cmap="sdoaia304", vmin=-1, vmax=1)
    image = axes[1, column].imshow(100.0 * magnetogram_batch[column, ..., 0], origin="lower",
                                   cmap="hmimag", vmin=-100, vmax=100)
    for ax in axes[:, column]:
        ax.set_xticks([])
        ax.set_yticks([])
axes[0, 0].set_ylabel("EUV input ([-1, 1])")
axes[1, 0].set_ylabel("target")
fig.colorbar(image, ax=axes[1, :].tolist(), label="B_LOS (G)", shrink=0.8)
