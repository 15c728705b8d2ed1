"""
The seed's networks, built and counted
======================================

``build_generator`` and ``build_discriminator`` are Keras functional-API builders of the
U-Net generator (8 levels down to 4 x 4 at 1024 x 1024) and the 70 x 70 PatchGAN of Kim et
al. (2019). Building them at the paper's size is symbolic and quick; this counts their
parameters, the patch map and the receptive field (what ``solarmaggan summary`` prints),
and plots the parameters of each layer.
"""

# %%
import matplotlib.pyplot as plt

import solarmaggan  # noqa: F401  (selects Keras' TensorFlow backend)
from solarmaggan.console import load_tensorflow

load_tensorflow()  # TensorFlow without its start-up lines
from solarmaggan.models import build_discriminator, build_generator, receptive_field  # noqa: E402

generator = build_generator(1024, input_channels=1, output_channels=1)
discriminator = build_discriminator(1024, input_channels=1, target_channels=1)
patch = discriminator.output.shape[1:3]
print(f"generator parameters:     {generator.count_params():,}")
print(f"discriminator parameters: {discriminator.count_params():,}")
print(f"patch map {patch[0]} x {patch[1]}, receptive field {receptive_field(discriminator)} px")

# %%
# Parameters of each layer that has any.
fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
for ax, model, title in ((axes[0], generator, "U-Net generator"),
                         (axes[1], discriminator, "PatchGAN discriminator")):
    layers = [layer for layer in model.layers if layer.count_params()]
    ax.bar(range(len(layers)), [layer.count_params() / 1e6 for layer in layers])
    ax.set_xticks(range(len(layers)), [layer.name for layer in layers], rotation=90, fontsize=7)
    ax.set_ylabel("parameters (millions)")
    ax.set_title(f"{title} at 1024 x 1024: {model.count_params() / 1e6:.1f} M")
fig.tight_layout()
