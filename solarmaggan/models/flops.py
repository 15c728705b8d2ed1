"""Floating-point operation counts of the networks and of one pix2pix training step.

Counted from the layers: 2 x the multiply-adds of every convolution and transposed
convolution (normalisation, activations and the optimizer are left out, < 1 %). Used by the
benchmarks to turn a measured time into achieved FLOP/s and model FLOP utilisation.
"""

from __future__ import annotations

import keras
import numpy as np


def forward_flops(model: keras.Model) -> float:
    """FLOPs of one forward pass of ``model`` on one image (batch 1)."""
    total = 0.0
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
            kernel = np.prod(layer.kernel.shape)  # kh * kw * c_in * c_out
            if isinstance(layer, keras.layers.Conv2DTranspose):
                positions = np.prod(layer.input.shape[1:3])  # each input pixel scatters
            else:
                positions = np.prod(layer.output.shape[1:3])
            total += 2.0 * kernel * positions
    return float(total)


def train_step_flops(generator: keras.Model, discriminator: keras.Model) -> float:
    """FLOPs of one ``Pix2Pix.train_step`` on one pair (batch 1), a backward pass counted
    as 2 forward passes (input and weight gradients), 1 where only input gradients are
    needed.

    Discriminator update: G forward (once, shared with the generator update), D forward on
    the real and the fake pair, D backward for both -> G + 6 D. Generator update: D forward
    on the fake pair with the updated discriminator, D backward to its input only, G
    backward -> 2 G + 2 D. In all 3 G + 8 D: 1.39 TFLOP at 1024 x 1024 for the seed's
    networks (G 190 GFLOP, D 103 GFLOP; the seed's "about 1.5" counted a second G forward,
    4 G + 8 D = 1.59, the step before issue 16).
    """
    return 3.0 * forward_flops(generator) + 8.0 * forward_flops(discriminator)
