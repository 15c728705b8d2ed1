"""Shared building blocks of the pix2pix networks: initialisers, normalisation, dropout.

The settings are the original SolarMagGAN / pix2pix ones, which differ from Keras 3 defaults:
conv weights N(0, 0.02); BatchNorm gamma N(1, 0.02), momentum 0.9, epsilon 1e-5; LeakyReLU
slope 0.2 (Keras' default is 0.3).

The original called BatchNorm and Dropout with ``training=1`` everywhere, so its inference
was stochastic and used the statistics of the (size 1) batch. Here that is the explicit
``stochastic_inference`` flag of :class:`SolarBatchNormalization` and :class:`SolarDropout`:
off by default (moving statistics, no dropout at inference), on to reproduce the original.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import keras
import numpy as np
from keras import ops

from data_prep.presets.schema import NORMS, PRECISIONS

LEAKY_SLOPE = 0.2
BN_MOMENTUM = 0.9
NORM_EPSILON = 1e-5
INIT_STDDEV = 0.02


def conv_initializer(seed: int | None = None) -> keras.initializers.Initializer:
    """N(0, 0.02) kernel initialiser of pix2pix."""
    return keras.initializers.RandomNormal(mean=0.0, stddev=INIT_STDDEV, seed=seed)


def gamma_initializer(seed: int | None = None) -> keras.initializers.Initializer:
    """N(1, 0.02) normalisation scale initialiser of pix2pix."""
    return keras.initializers.RandomNormal(mean=1.0, stddev=INIT_STDDEV, seed=seed)


def seed_stream(seed: int | None) -> Iterator[int | None]:
    """Distinct initialiser seeds derived from one seed; all None when ``seed`` is None."""
    return itertools.count(seed * 1000) if seed is not None else itertools.repeat(None)


def conv_layer(
    filters: int,
    name: str,
    *,
    strides: int = 2,
    padding: str = "same",
    use_bias: bool = True,
    transpose: bool = False,
    precision: str = "float32",
    seed: int | None = None,
) -> keras.layers.Layer:
    """A 4x4 Conv2D (or Conv2DTranspose) with the N(0, 0.02) initialiser of pix2pix."""
    layer_class = keras.layers.Conv2DTranspose if transpose else keras.layers.Conv2D
    return layer_class(
        filters,
        kernel_size=4,
        strides=strides,
        padding=padding,
        use_bias=use_bias,
        kernel_initializer=conv_initializer(seed),
        name=name,
        dtype=precision,
    )


def check_precision(precision: str) -> str:
    """Return ``precision`` if it is a supported Keras dtype policy name, else raise."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return precision


@keras.saving.register_keras_serializable(package="solarmaggan")
class SolarBatchNormalization(keras.layers.BatchNormalization):
    """BatchNormalization that can keep using the data's own statistics at inference.

    With ``stochastic_inference=False`` it is Keras' BatchNormalization. With ``True``, calls
    with ``training`` false or None normalise each image with its own statistics (over
    height and width, per channel), as the original code did with its batch of one, and
    leave the moving averages untouched: an image's output does not depend on the other
    images of its batch.
    """

    def __init__(self, stochastic_inference: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.stochastic_inference = bool(stochastic_inference)

    def call(self, inputs, training=None, mask=None):
        if training or not self.stochastic_inference:
            return super().call(inputs, training=training, mask=mask)
        values = ops.cast(inputs, "float32")
        channel_axis = self.axis % len(values.shape)
        reduction_axes = [axis for axis in range(1, len(values.shape)) if axis != channel_axis]
        mean, variance = ops.moments(values, axes=reduction_axes, keepdims=True)
        outputs = ops.batch_normalization(
            values,
            mean=mean,
            variance=variance,
            axis=self.axis,
            offset=ops.cast(self.beta, "float32") if self.center else None,
            scale=ops.cast(self.gamma, "float32") if self.scale else None,
            epsilon=self.epsilon,
        )
        return ops.cast(outputs, self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "stochastic_inference": self.stochastic_inference}


@keras.saving.register_keras_serializable(package="solarmaggan")
class SolarDropout(keras.layers.Dropout):
    """Dropout that, with ``stochastic_inference=True``, stays active at inference too."""

    def __init__(self, rate: float, stochastic_inference: bool = False, **kwargs):
        super().__init__(rate, **kwargs)
        self.stochastic_inference = bool(stochastic_inference)

    def call(self, inputs, training=False):
        return super().call(inputs, training=bool(training) or self.stochastic_inference)

    def get_config(self):
        return {**super().get_config(), "stochastic_inference": self.stochastic_inference}


def normalization(
    norm: str,
    name: str,
    precision: str = "float32",
    seed: int | None = None,
    stochastic_inference: bool = False,
) -> keras.layers.Layer:
    """The normalisation layer of a conv block.

    ``"batch"``: BatchNorm with the original's momentum 0.9 and epsilon 1e-5. ``"instance"``:
    per-sample, per-channel normalisation (GroupNormalization with one group a channel),
    which needs no statistics shared across replicas in multi-GPU training.
    """
    if norm == "batch":
        return SolarBatchNormalization(
            stochastic_inference=stochastic_inference,
            momentum=BN_MOMENTUM,
            epsilon=NORM_EPSILON,
            gamma_initializer=gamma_initializer(seed),
            name=name,
            dtype=precision,
        )
    if norm == "instance":
        return keras.layers.GroupNormalization(
            groups=-1,
            epsilon=NORM_EPSILON,
            gamma_initializer=gamma_initializer(seed),
            name=name,
            dtype=precision,
        )
    raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")


def set_stochastic_inference(model: keras.Model, enabled: bool,
                             dropout: bool | None = None) -> None:
    """Switch dropout and per-image statistics at inference on or off in every layer of
    ``model``; ``dropout`` (default: ``enabled``) sets the dropout layers apart (the
    TFLite export keeps the per-image statistics without dropout).

    Keras caches traced functions; a model's ``predict`` must be re-traced afterwards
    (:class:`solarmaggan.models.Pix2Pix` does this itself).
    """
    dropout = enabled if dropout is None else dropout
    for layer in _nested_layers(model):
        if isinstance(layer, SolarBatchNormalization):
            layer.stochastic_inference = bool(enabled)
        elif isinstance(layer, SolarDropout):
            layer.stochastic_inference = bool(dropout)


def dropout_seed_states(variables) -> dict[str, object]:
    """The dropout layers' random-seed state variables among ``variables``, by path (a Keras
    variable's ``path``; a loaded SavedModel variable's name without ":0"). Keras does not
    track them for ``tf.train.Checkpoint``; they decide the next dropout masks."""
    return {getattr(variable, "path", variable.name).removesuffix(":0"): variable
            for variable in variables if "seed_generator_state" in variable.name}


def has_dropout(model: keras.Model) -> bool:
    """True if ``model`` (nested models included) has a dropout layer with a rate above 0."""
    return any(isinstance(layer, SolarDropout) and layer.rate > 0
               for layer in _nested_layers(model))


def seed_dropout(model: keras.Model, seed: int) -> None:
    """Set the seed state of every dropout layer of ``model`` from ``seed`` (each layer its
    own stream), so that the next dropout masks are a function of ``seed`` alone."""
    layers = [layer for layer in _nested_layers(model) if isinstance(layer, SolarDropout)]
    for number, layer in enumerate(layers):
        layer.seed_generator.state.assign(np.array([seed * 1_000 + number + 1, 0], np.int64))


def stochastic_inference_of(model: keras.Model) -> bool:
    """True if any ``SolarBatchNormalization`` or ``SolarDropout`` layer of ``model`` (nested
    models included) keeps dropout or per-image statistics active at inference."""
    return any(layer.stochastic_inference for layer in _nested_layers(model)
               if isinstance(layer, (SolarBatchNormalization, SolarDropout)))


def set_synchronized_batch_norm(model: keras.Model, enabled: bool) -> None:
    """Make every batch normalisation in ``model`` compute its training statistics over the
    global batch of all replicas of the ``tf.distribute`` strategy (Keras'
    ``synchronized``), so a distributed step equals the single-device step over the same
    batch. Without a strategy, or with one replica, it changes nothing."""
    for layer in _nested_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = bool(enabled)


def _nested_layers(model: keras.Layer):
    """Every layer inside ``model``, descending into nested models."""
    for layer in getattr(model, "layers", []):
        yield layer
        yield from _nested_layers(layer)
