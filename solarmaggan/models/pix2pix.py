"""The ``Pix2Pix`` conditional GAN trainer (keras-io GAN guide pattern).

One training step on a batch of (EUV, magnetogram) pairs, as in the original code:

1. discriminator update on BCE(D(x, y), 1) + BCE(D(x, G(x)), 0);
2. generator update, against the discriminator just updated, on
   BCE(D(x, G(x)), 1) + lambda_l1 * L1(y, G(x)), lambda_l1 = 100.

The AISFM models use the same step with other terms, chosen in ``compile`` (see
``solarmaggan.losses``): LSGAN instead of BCE; a multi-scale discriminator (its adversarial
terms averaged over the scales); feature matching, lambda_fm * FM; and the CC loss,
lambda_cc * mean over scales of (1 - CC) per sample on the disk. The generator loss is
lambda_adversarial * adversarial + lambda_l1 * L1 + lambda_fm * FM + lambda_cc * CC
(+ lambda_large_scale * the L1 of coarse block means on the disk, an option of ours), the
seed's when the defaults are kept (1, 100, 0, 0, 0).

Both networks run in training mode (batch statistics, dropout on). The generator runs once
a step, as in the reference pix2pix: its output, detached, is the discriminator's fake
input, and the generator's gradients flow back through that same forward pass (one dropout
mask, one update of the batch-norm moving statistics a step). Under a ``tf.distribute``
strategy each replica divides its mean losses by the number of replicas before taking
gradients, which Keras sums over the replicas: the update is that of the mean loss over
the global batch (see ``solarmaggan.distribute``). Adam(2e-4, beta_1=0.5) for
each network. Losses are logged unscaled as ``d_loss``, ``g_loss``, ``g_gan``, ``g_l1``
(and ``g_fm``, ``g_cc``, ``g_large_scale`` when their weights are not 0); validation logs ``l1`` and ``pixel_cc`` (Keras prefixes them with ``val_``).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from solarmaggan.losses import (
    ADVERSARIAL_LOSSES,
    adversarial_loss,
    correlation_loss,
    feature_matching_loss,
    l1_loss,
    large_scale_loss,
    large_scale_masks,
    pooled_disk_masks,
)
from solarmaggan.metrics import CC_KINDS, pixel_correlation
from solarmaggan.models.layers import (
    set_stochastic_inference,
    stochastic_inference_of,
)

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
        discriminator: from :func:`solarmaggan.models.build_discriminator` (one output: the
            patch logits) or :func:`solarmaggan.models.build_multiscale_discriminator` (one
            list a scale: intermediate features, then the logits), with the same image
            size and channels.
        stochastic_inference: if True, inference keeps dropout and batch statistics active
            as the original code did (non-deterministic outputs); False turns it off; None
            (default) keeps the generator's layers as they are (the flag reads True if any
            of its ``SolarBatchNormalization`` / ``SolarDropout`` layers has it on, as
            ``build_generator(..., stochastic_inference=True)`` builds them).
        cc_radius_px: validation ``pixel_cc`` counts only pixels within this radius (in
            pixels) of the frame centre, i.e. the solar disk; None counts the whole frame.
            The CC loss uses the same disk.

    Calling the model runs the generator: ``model(euv)`` returns the magnetogram in [-1, 1].
    """

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        stochastic_inference: bool | None = None,
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
        if stochastic_inference is None:  # the generator's layers stay as they are
            self._stochastic_inference = stochastic_inference_of(generator)
        else:
            self.stochastic_inference = stochastic_inference

        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.g_gan_tracker = keras.metrics.Mean(name="g_gan")
        self.g_l1_tracker = keras.metrics.Mean(name="g_l1")
        self.g_fm_tracker = keras.metrics.Mean(name="g_fm")
        self.g_cc_tracker = keras.metrics.Mean(name="g_cc")
        self.g_large_scale_tracker = keras.metrics.Mean(name="g_large_scale")
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
        adversarial: str = "bce",
        lambda_adversarial: float = 1.0,
        lambda_feature_matching: float = 0.0,
        lambda_cc: float = 0.0,
        cc_kind: str = "pearson",
        cc_scales: int = 4,
        lambda_large_scale: float = 0.0,
        large_scale_block_px: int = 16,
        loss_scaling: str = "auto",
        jit_compile: bool = False,
        **kwargs,
    ) -> None:
        """Set the optimizers and the loss terms and weights (the seed's by default).

        Args:
            g_optimizer, d_optimizer: default Adam(2e-4, beta_1=0.5) each, as in the seed.
            lambda_l1: weight of the L1 term in the generator loss (seed: 100).
            adversarial: "bce" (seed) or "lsgan" (pix2pixHD, Pix2PixCC).
            lambda_adversarial: weight of the generator's adversarial term (seed 1,
                Pix2PixCC 2).
            lambda_feature_matching: weight of feature matching (pix2pixHD 10); needs a
                discriminator that exposes its features.
            lambda_cc: weight of the CC loss (Pix2PixCC 5).
            cc_kind: "pearson" or "concordance" (Pix2PixCC's default).
            cc_scales: scales of the CC loss, the full image and cc_scales - 1 further
                2 x 2 average pools (Pix2PixCC: 4).
            lambda_large_scale: weight of the large-scale term (not in the papers; 0 off):
                L1 of the ``large_scale_block_px`` block means on the disk
                (:func:`solarmaggan.losses.large_scale_loss`).
            large_scale_block_px: block side of that term, pixels (a power of two that
                divides the image).
            loss_scaling: "auto" wraps both optimizers in ``LossScaleOptimizer`` when a
                network computes in float16 (``mixed_float16``); "on" / "off" force it.
                ``mixed_bfloat16`` needs none.
            jit_compile: XLA-compile the train/test steps. Explicit, never "auto" (Keras'
                "auto" turns XLA on silently on GPUs).
        """
        if loss_scaling not in LOSS_SCALING:
            raise ValueError(f"loss_scaling must be one of {LOSS_SCALING}, got {loss_scaling!r}")
        if adversarial not in ADVERSARIAL_LOSSES:
            raise ValueError(f"adversarial must be one of {ADVERSARIAL_LOSSES}, got {adversarial!r}")
        if cc_kind not in CC_KINDS:
            raise ValueError(f"cc_kind must be one of {CC_KINDS}, got {cc_kind!r}")
        weights = {"lambda_l1": lambda_l1, "lambda_adversarial": lambda_adversarial,
                   "lambda_feature_matching": lambda_feature_matching, "lambda_cc": lambda_cc,
                   "lambda_large_scale": lambda_large_scale}
        for name, weight in weights.items():
            if not float(weight) >= 0:
                raise ValueError(f"{name} must be >= 0, got {weight}")
        image_size = int(self.generator.output_shape[1])
        if lambda_cc and not 1 <= int(cc_scales) <= int(np.log2(image_size)):
            raise ValueError(f"cc_scales must be 1..{int(np.log2(image_size))} for "
                             f"{image_size} x {image_size} images, got {cc_scales}")
        if lambda_feature_matching and not all(
                len(scale) > 1 for scale in _as_scales(self.discriminator.output)):
            raise ValueError(
                "feature matching needs a discriminator that outputs its intermediate "
                "features (build_multiscale_discriminator); this one outputs logits only")
        super().compile(jit_compile=bool(jit_compile), **kwargs)
        scale = loss_scaling == "on" or (
            loss_scaling == "auto"
            and (uses_float16(self.generator) or uses_float16(self.discriminator))
        )
        self.g_optimizer = _with_loss_scaling(g_optimizer or default_optimizer(), scale)
        self.d_optimizer = _with_loss_scaling(d_optimizer or default_optimizer(), scale)
        self.lambda_l1 = float(lambda_l1)
        self.adversarial = adversarial
        self.lambda_adversarial = float(lambda_adversarial)
        self.lambda_feature_matching = float(lambda_feature_matching)
        self.lambda_cc = float(lambda_cc)
        self.cc_kind = cc_kind
        self.cc_scales = int(cc_scales)
        self._cc_masks = pooled_disk_masks(self._cc_mask, self.cc_scales)
        self.lambda_large_scale = float(lambda_large_scale)
        self.large_scale_block_px = int(large_scale_block_px)
        self._large_scale_weights = (
            large_scale_masks(self._cc_mask, self.large_scale_block_px)[1]
            if self.lambda_large_scale else None)
        self.loss_scaling = loss_scaling

    def get_compile_config(self) -> dict | None:
        if not self.compiled:
            return None
        return {
            "g_optimizer": keras.optimizers.serialize(self.g_optimizer),
            "d_optimizer": keras.optimizers.serialize(self.d_optimizer),
            "lambda_l1": self.lambda_l1,
            "adversarial": self.adversarial,
            "lambda_adversarial": self.lambda_adversarial,
            "lambda_feature_matching": self.lambda_feature_matching,
            "lambda_cc": self.lambda_cc,
            "cc_kind": self.cc_kind,
            "cc_scales": self.cc_scales,
            "lambda_large_scale": self.lambda_large_scale,
            "large_scale_block_px": self.large_scale_block_px,
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
    def train_metrics(self) -> list[keras.metrics.Metric]:
        """The losses ``train_step`` logs: d_loss, g_loss, g_gan, g_l1, then g_fm and g_cc
        when their weights are not 0."""
        trackers = [self.d_loss_tracker, self.g_loss_tracker, self.g_gan_tracker,
                    self.g_l1_tracker]
        if getattr(self, "lambda_feature_matching", 0.0):
            trackers.append(self.g_fm_tracker)
        if getattr(self, "lambda_cc", 0.0):
            trackers.append(self.g_cc_tracker)
        if getattr(self, "lambda_large_scale", 0.0):
            trackers.append(self.g_large_scale_tracker)
        return trackers

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return [*self.train_metrics, self.l1_tracker, self.pixel_cc_tracker]

    # --- computation ---------------------------------------------------------------------

    def call(self, euv, training=False):
        """Generate magnetograms (batch, size, size, out_channels) in [-1, 1] from EUV."""
        self._check_batch(euv, "EUV", self.generator.input_shape)
        return self.generator(euv, training=training)

    def _discriminate(self, euv, magnetogram) -> list[list]:
        """The discriminator's outputs, one list a scale: features..., logits."""
        return _as_scales(self.discriminator([euv, magnetogram], training=True))

    def _adversarial(self, scales: list[list], real: bool):
        """The adversarial loss of every scale's logits, averaged over the scales."""
        return tf.add_n([adversarial_loss(scale[-1], real, self.adversarial)
                         for scale in scales]) / len(scales)

    def train_step(self, data):
        """One discriminator update, then one generator update against the updated
        discriminator, from a single generator forward pass."""
        euv, magnetogram = self._unpack(data)
        # gradients are summed over replicas: 1 / replicas makes them those of the global mean
        replica_share = 1.0 / tf.distribute.get_strategy().num_replicas_in_sync
        d_variables = self.discriminator.trainable_variables
        g_variables = self.generator.trainable_variables
        with tf.GradientTape() as g_tape:
            generated = self.generator(euv, training=True)  # the step's one forward of G
            # The discriminator update takes G(x) detached, off the generator's tape: the
            # tape need not hold the activations of these two discriminator passes.
            with g_tape.stop_recording():
                fake = tf.stop_gradient(generated)
                with tf.GradientTape() as d_tape:
                    d_loss = (
                        self._adversarial(self._discriminate(euv, magnetogram), real=True)
                        + self._adversarial(self._discriminate(euv, fake), real=False))
                    scaled_d_loss = self.d_optimizer.scale_loss(d_loss * replica_share)
                self.d_optimizer.apply(d_tape.gradient(scaled_d_loss, d_variables),
                                       d_variables)
            # the generator's loss, from the discriminator just updated
            fake_scales = self._discriminate(euv, generated)
            g_gan = self._adversarial(fake_scales, real=True)
            g_l1 = l1_loss(magnetogram, generated)
            g_loss = self.lambda_adversarial * g_gan + self.lambda_l1 * g_l1
            terms = {}
            if self.lambda_feature_matching:
                with g_tape.stop_recording():  # fixed targets: no gradient flows into them
                    real_scales = self._discriminate(euv, magnetogram)
                terms[self.g_fm_tracker] = feature_matching_loss(
                    [scale[:-1] for scale in real_scales], [scale[:-1] for scale in fake_scales])
                g_loss += self.lambda_feature_matching * terms[self.g_fm_tracker]
            if self.lambda_cc:
                terms[self.g_cc_tracker] = correlation_loss(
                    magnetogram, generated, self._cc_masks, self.cc_kind)
                g_loss += self.lambda_cc * terms[self.g_cc_tracker]
            if self.lambda_large_scale:
                terms[self.g_large_scale_tracker] = large_scale_loss(
                    magnetogram, generated, self._large_scale_weights, self.large_scale_block_px)
                g_loss += self.lambda_large_scale * terms[self.g_large_scale_tracker]
            scaled_g_loss = self.g_optimizer.scale_loss(g_loss * replica_share)
        self.g_optimizer.apply(g_tape.gradient(scaled_g_loss, g_variables), g_variables)

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.g_gan_tracker.update_state(g_gan)
        self.g_l1_tracker.update_state(g_l1)
        for tracker, value in terms.items():
            tracker.update_state(value)
        return {m.name: m.result() for m in self.train_metrics}

    def test_step(self, data):
        euv, magnetogram = self._unpack(data)
        generated = self(euv, training=False)
        self.l1_tracker.update_state(l1_loss(magnetogram, generated))
        self.pixel_cc_tracker.update_state(
            pixel_correlation(magnetogram, generated, self._cc_mask)
        )
        return {m.name: m.result() for m in (self.l1_tracker, self.pixel_cc_tracker)}

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


def _as_scales(outputs) -> list[list]:
    """Discriminator outputs as one list a scale (features..., logits): a single PatchGAN's
    logits tensor becomes [[logits]], a flat list (one scale) [[features..., logits]]."""
    if not isinstance(outputs, (list, tuple)):
        return [[outputs]]
    if not any(isinstance(scale, (list, tuple)) for scale in outputs):
        return [list(outputs)]  # Keras returns a one-scale model's [[...]] as [...]
    if not all(isinstance(scale, (list, tuple)) and scale for scale in outputs):
        raise ValueError("a discriminator's outputs must be one tensor or one list a scale")
    return [list(scale) for scale in outputs]


def _with_loss_scaling(optimizer: keras.optimizers.Optimizer, scale: bool):
    """Wrap ``optimizer`` in a dynamic ``LossScaleOptimizer`` (once) when ``scale``."""
    if scale and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer
