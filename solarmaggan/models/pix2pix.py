"""The ``Pix2Pix`` conditional GAN trainer (keras-io GAN guide pattern).

One training step on a batch of (EUV, magnetogram) pairs, as in the original code:

1. discriminator update on BCE(D(x, y), 1) + BCE(D(x, G(x)), 0);
2. generator update, against the discriminator just updated, on
   BCE(D(x, G(x)), 1) + lambda_l1 * L1(y, G(x)), lambda_l1 = 100.

Both networks run in training mode in both updates (batch statistics, dropout on), so
the generator is evaluated twice a step, as in the original. Under a ``tf.distribute``
strategy each replica divides its mean losses by the number of replicas before taking
gradients, which Keras sums over the replicas: the update is that of the mean loss over
the global batch (see ``solarmaggan.distribute``). Adam(2e-4, beta_1=0.5) for
each network. Losses are logged unscaled as ``d_loss``, ``g_loss``, ``g_gan``, ``g_l1``;
validation logs ``l1`` and ``pixel_cc`` (Keras prefixes them with ``val_``).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from solarmaggan.losses import adversarial_loss, l1_loss
from solarmaggan.metrics import pixel_correlation
from solarmaggan.models.layers import set_stochastic_inference

LOSS_SCALING = ("auto", "on", "off")


def default_optimizer() -> keras.optimizers.Optimizer:
    """Adam(learning_rate=2e-4, beta_1=0.5), the seed's optimizer for both networks."""
    return keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5)


def uses_float16(model: keras.Model) -> bool:
    """True if any layer of ``model`` computes in float16 (and so needs loss scaling)."""
    return any(layer.dtype_policy.compute_dtype == "float16" for layer in model.layers)


@keras.saving.register_keras_serializable(package="solarmaggan")
class Pix2Pix(keras.Model):
    """pix2pix GAN: a generator G(euv) -> magnetogram and a discriminator D(euv, magnetogram).

    Args:
        generator: from :func:`solarmaggan.models.build_generator`.
        discriminator: from :func:`solarmaggan.models.build_discriminator`, with the same
            image size and channels.
        stochastic_inference: if True, inference keeps dropout and batch statistics active
            as the original code did (non-deterministic outputs); default False.
        cc_radius_px: validation ``pixel_cc`` counts only pixels within this radius (in
            pixels) of the frame centre, i.e. the solar disk; None counts the whole frame.

    Calling the model runs the generator: ``model(euv)`` returns the magnetogram in [-1, 1].
    """

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        stochastic_inference: bool = False,
        cc_radius_px: float | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        g_in, g_out = generator.input_shape, generator.output_shape
        d_euv, d_magnetogram = (tuple(shape) for shape in discriminator.input_shape)
        if (tuple(g_in), tuple(g_out)) != (d_euv, d_magnetogram):
            raise ValueError(
                "generator and discriminator do not fit together: the generator maps "
                f"{tuple(g_in)} to {tuple(g_out)} but the discriminator takes EUV "
                f"{d_euv} and magnetogram {d_magnetogram} (batch, height, width, channels)"
            )
        self.generator = generator
        self.discriminator = discriminator
        self.cc_radius_px = cc_radius_px
        self._cc_mask = None
        if cc_radius_px is not None:
            from data_prep.geometry import disk_mask

            self._cc_mask = disk_mask(g_in[1], cc_radius_px)
        self.stochastic_inference = stochastic_inference

        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.g_gan_tracker = keras.metrics.Mean(name="g_gan")
        self.g_l1_tracker = keras.metrics.Mean(name="g_l1")
        self.l1_tracker = keras.metrics.Mean(name="l1")
        self.pixel_cc_tracker = keras.metrics.Mean(name="pixel_cc")
        self.built = True

    # --- configuration -------------------------------------------------------------------

    @property
    def stochastic_inference(self) -> bool:
        """Whether dropout and batch statistics stay active at inference (the original did)."""
        return self._stochastic_inference

    @stochastic_inference.setter
    def stochastic_inference(self, enabled: bool) -> None:
        self._stochastic_inference = bool(enabled)
        set_stochastic_inference(self.generator, self._stochastic_inference)
        # Functions traced under the old setting must be traced again.
        self.predict_function = None
        self.test_function = None

    def compile(
        self,
        g_optimizer: keras.optimizers.Optimizer | None = None,
        d_optimizer: keras.optimizers.Optimizer | None = None,
        lambda_l1: float = 100.0,
        loss_scaling: str = "auto",
        jit_compile: bool = False,
        **kwargs,
    ) -> None:
        """Set the optimizers and the L1 weight.

        Args:
            g_optimizer, d_optimizer: default Adam(2e-4, beta_1=0.5) each, as in the seed.
            lambda_l1: weight of the L1 term in the generator loss (seed: 100).
            loss_scaling: "auto" wraps both optimizers in ``LossScaleOptimizer`` when a
                network computes in float16 (``mixed_float16``); "on" / "off" force it.
                ``mixed_bfloat16`` needs none.
            jit_compile: XLA-compile the train/test steps. Explicit, never "auto" (Keras'
                "auto" turns XLA on silently on GPUs).
        """
        if loss_scaling not in LOSS_SCALING:
            raise ValueError(f"loss_scaling must be one of {LOSS_SCALING}, got {loss_scaling!r}")
        super().compile(jit_compile=bool(jit_compile), **kwargs)
        scale = loss_scaling == "on" or (
            loss_scaling == "auto"
            and (uses_float16(self.generator) or uses_float16(self.discriminator))
        )
        self.g_optimizer = _with_loss_scaling(g_optimizer or default_optimizer(), scale)
        self.d_optimizer = _with_loss_scaling(d_optimizer or default_optimizer(), scale)
        self.lambda_l1 = float(lambda_l1)
        self.loss_scaling = loss_scaling

    def get_compile_config(self) -> dict | None:
        if not self.compiled:
            return None
        return {
            "g_optimizer": keras.optimizers.serialize(self.g_optimizer),
            "d_optimizer": keras.optimizers.serialize(self.d_optimizer),
            "lambda_l1": self.lambda_l1,
            "loss_scaling": self.loss_scaling,
            "jit_compile": bool(self.jit_compile),
        }

    def compile_from_config(self, config: dict) -> None:
        config = dict(config)
        for key in ("g_optimizer", "d_optimizer"):
            config[key] = keras.optimizers.deserialize(config[key])
        self.compile(**config)
        # Build the optimizer slots now so that a saved optimizer state can be loaded.
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "stochastic_inference": self.stochastic_inference,
            "cc_radius_px": self.cc_radius_px,
        }

    @classmethod
    def from_config(cls, config: dict) -> "Pix2Pix":
        config = dict(config)
        for key in ("generator", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return [
            self.d_loss_tracker,
            self.g_loss_tracker,
            self.g_gan_tracker,
            self.g_l1_tracker,
            self.l1_tracker,
            self.pixel_cc_tracker,
        ]

    # --- computation ---------------------------------------------------------------------

    def call(self, euv, training=False):
        """Generate magnetograms (batch, size, size, out_channels) in [-1, 1] from EUV."""
        self._check_batch(euv, "EUV", self.generator.input_shape)
        return self.generator(euv, training=training)

    def train_step(self, data):
        euv, magnetogram = self._unpack(data)
        # gradients are summed over replicas: 1 / replicas makes them those of the global mean
        replica_share = 1.0 / tf.distribute.get_strategy().num_replicas_in_sync
        generated = self.generator(euv, training=True)
        with tf.GradientTape() as tape:
            real_logits = self.discriminator([euv, magnetogram], training=True)
            fake_logits = self.discriminator([euv, generated], training=True)
            d_loss = adversarial_loss(real_logits, real=True) + adversarial_loss(
                fake_logits, real=False
            )
            scaled_d_loss = self.d_optimizer.scale_loss(d_loss * replica_share)
        d_variables = self.discriminator.trainable_variables
        self.d_optimizer.apply(tape.gradient(scaled_d_loss, d_variables), d_variables)

        with tf.GradientTape() as tape:
            generated = self.generator(euv, training=True)
            fake_logits = self.discriminator([euv, generated], training=True)
            g_gan = adversarial_loss(fake_logits, real=True)
            g_l1 = l1_loss(magnetogram, generated)
            g_loss = g_gan + self.lambda_l1 * g_l1
            scaled_g_loss = self.g_optimizer.scale_loss(g_loss * replica_share)
        g_variables = self.generator.trainable_variables
        self.g_optimizer.apply(tape.gradient(scaled_g_loss, g_variables), g_variables)

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.g_gan_tracker.update_state(g_gan)
        self.g_l1_tracker.update_state(g_l1)
        return {m.name: m.result() for m in self.metrics[:4]}

    def test_step(self, data):
        euv, magnetogram = self._unpack(data)
        generated = self(euv, training=False)
        self.l1_tracker.update_state(l1_loss(magnetogram, generated))
        self.pixel_cc_tracker.update_state(
            pixel_correlation(magnetogram, generated, self._cc_mask)
        )
        return {m.name: m.result() for m in self.metrics[4:]}

    def _unpack(self, data):
        euv, magnetogram, _ = keras.utils.unpack_x_y_sample_weight(data)
        if magnetogram is None:
            raise ValueError("Pix2Pix trains on (euv, magnetogram) pairs; got inputs only")
        self._check_batch(euv, "EUV", self.generator.input_shape)
        self._check_batch(magnetogram, "magnetogram", self.generator.output_shape)
        return euv, magnetogram

    @staticmethod
    def _check_batch(images, what: str, expected) -> None:
        """Raise ValueError if a batch's (height, width, channels) differs from the model's."""
        if tuple(images.shape[1:]) != tuple(expected[1:]):
            raise ValueError(
                f"{what} batch has shape {tuple(images.shape[1:])} (height, width, channels) "
                f"but the model expects {tuple(expected[1:])}"
            )


def _with_loss_scaling(optimizer: keras.optimizers.Optimizer, scale: bool):
    """Wrap ``optimizer`` in a dynamic ``LossScaleOptimizer`` (once) when ``scale``."""
    if scale and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer
