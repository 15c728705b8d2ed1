"""The declared schema of a configuration: every setting of every section, its type, its
range or allowed values, and whether it may be null.

A configuration (a preset file in this folder, with command-line overrides) has three
sections: ``data`` (the frame, channels, scaling and splits; read by ``data_prep`` and
``solarmaggan``), ``model`` (the networks) and ``training`` (the losses, optimiser,
schedule, precision, logging). :func:`check_config` checks a whole configuration against
:data:`SCHEMA` and returns one line per problem, each naming the setting and what it may
be, so a command can refuse bad settings in full before it touches the disk. The allowed
values of the closed sets (precisions, strategies, ...) are defined here once; the code
that uses them imports them from here.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from data_prep.geometry import check_image_size

SECTIONS = ("data", "model", "training")

# closed sets of values, one definition each
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
NORMS = ("batch", "instance")
ARCHITECTURES = ("unet", "pix2pixhd")
UPSAMPLINGS = ("transpose", "resize")
PADDINGS = ("reflect", "replicate", "zero")
OUTPUT_ACTIVATIONS = ("tanh", "linear")
ADVERSARIAL_LOSSES = ("bce", "lsgan")
CC_KINDS = ("pearson", "concordance")
LR_SCHEDULES = ("constant", "linear_decay")
STRATEGIES = ("default", "mirrored", "multiworker")
EUV_KINDS = ("aia", "euvi", "fsi")  # SDO/AIA, STEREO/EUVI, Solar Orbiter EUI/FSI level 2


@dataclasses.dataclass(frozen=True)
class Setting:
    """One setting: its kind and what values it may take.

    Attributes:
        kind: "int", "float", "bool", "choice", "channels" (a list of EUV channel
            records ``{"name", "kind", "wavelength"}``), "channel" (one record
            ``{"name", "kind"}``), "months" (a list of months 1-12) or "range" (a
            ``[low, high]`` pair of numbers, low < high).
        minimum, maximum: inclusive bounds of a number ("int", "float"; "range" for both
            ends).
        above: exclusive lower bound of a number (a value must be > above).
        below: exclusive upper bound of a number.
        choices: the allowed values of a "choice".
        nullable: whether null (None) is allowed.
        meaning: what it holds, with units (for error messages and help).
    """

    kind: str
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None
    below: float | None = None
    choices: tuple[str, ...] = ()
    nullable: bool = False
    meaning: str = ""

    def allowed(self) -> str:
        """What values are allowed, in words: 'an integer >= 1', 'one of a, b', ..."""
        if self.kind == "choice":
            text = "one of " + ", ".join(self.choices)
        elif self.kind in ("int", "float", "range"):
            noun = {"int": "an integer", "float": "a number",
                    "range": "a pair [low, high] of numbers, low < high, each"}[self.kind]
            bounds = []
            if self.above is not None:
                bounds.append(f"> {self.above:g}")
            if self.minimum is not None:
                bounds.append(f">= {self.minimum:g}")
            if self.below is not None:
                bounds.append(f"< {self.below:g}")
            if self.maximum is not None:
                bounds.append(f"<= {self.maximum:g}")
            text = " ".join([noun, " and ".join(bounds)]).strip()
        else:
            text = {"bool": "true or false",
                    "channels": ('a list of {"name", "kind" (' + ", ".join(EUV_KINDS)
                                 + '), "wavelength"} records'),
                    "channel": 'a {"name", "kind"} record',
                    "months": "a list of months 1..12"}[self.kind]
        return text + (" or null" if self.nullable else "")

    def problem(self, value: Any) -> str | None:
        """None if ``value`` is allowed, else why not (without the setting's name)."""
        if value is None:
            return None if self.nullable else "may not be null"
        ok = {
            "int": lambda: _is_int(value) and self._in_bounds(value),
            "float": lambda: _is_number(value) and self._in_bounds(value),
            "bool": lambda: isinstance(value, bool),
            "choice": lambda: value in self.choices,
            "channels": lambda: _channel_list(value),
            "channel": lambda: isinstance(value, dict) and isinstance(value.get("name"), str),
            "months": lambda: isinstance(value, list) and all(
                _is_int(m) and 1 <= m <= 12 for m in value) and len(set(value)) == len(value),
            "range": lambda: (isinstance(value, list) and len(value) == 2
                              and all(_is_number(v) and self._in_bounds(v) for v in value)
                              and value[0] < value[1]),
        }[self.kind]()
        return None if ok else f"{value!r} is not {self.allowed()}"

    def _in_bounds(self, value: float) -> bool:
        return ((self.minimum is None or value >= self.minimum)
                and (self.maximum is None or value <= self.maximum)
                and (self.above is None or value > self.above)
                and (self.below is None or value < self.below))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _channel_list(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(record, dict) and isinstance(record.get("name"), str)
        and record.get("kind") in EUV_KINDS
        and (record.get("wavelength") is None or _is_int(record.get("wavelength")))
        for record in value)


def _int(minimum: int | None = 1, **options: Any) -> Setting:
    return Setting("int", minimum=minimum, **options)


def _choice(choices: tuple[str, ...], meaning: str) -> Setting:
    return Setting("choice", choices=choices, meaning=meaning)


SCHEMA: dict[str, dict[str, Setting]] = {
    "data": {
        "image_size": _int(32, meaning="frame side, pixels (a power of two)"),
        "radius_px": Setting("float", above=0, meaning="solar radius in the frame, pixels"),
        "disk_rsun": Setting("float", above=0, maximum=1,
                             meaning="the disk every metric counts, fraction of R_sun"),
        "input_channels": Setting("channels", meaning="EUV input channels, in order"),
        "latitude_channel": Setting("bool", meaning="sin(heliographic latitude) of each pixel, "
                                                    "from the observer's B0, as one more "
                                                    "input channel"),
        "reference_pair": Setting("bool", meaning="AISFM 3.0's reference pair: the most recent "
                                                  "SDO AIA + HMI pair of the same part of the "
                                                  "Sun, rotated to the input's time and view, "
                                                  "as three more input channels"),
        "reference_lag_days": Setting("range", minimum=0, meaning="training: the reference's "
                                                                  "age, days (drawn uniformly); "
                                                                  "far side: the oldest used"),
        "far_side_channels": Setting("channels", meaning="far-side EUV channels, in order"),
        "target_channel": Setting("channel", meaning="the magnetogram channel"),
        "magnetogram_limit_gauss": Setting("float", above=0, meaning="clip limit, G"),
        "euv_clip_dn_s": Setting("range", above=0, meaning="EUV log10 clip range, DN/s"),
        "euv_median_dn_s": Setting("float", above=0, nullable=True,
                                   meaning="on-disk EUV median after scaling, DN/s"),
        "magnetogram_mask_rsun": Setting("float", above=0, maximum=2, nullable=True,
                                         meaning="magnetogram mask radius, R_sun"),
        "euv_mask_rsun": Setting("float", above=0, maximum=2, nullable=True,
                                 meaning="EUV mask radius, R_sun"),
        "pair_tolerance_s": Setting("float", minimum=0, meaning="EUV-magnetogram time gap, s"),
        "test_months": Setting("months", meaning="months of the test split"),
        "val_months": Setting("months", meaning="months of the validation split"),
    },
    "model": {
        "architecture": _choice(ARCHITECTURES, "generator and discriminator family"),
        "depth": _int(2, nullable=True, meaning="U-Net levels (null: down to 4 x 4)"),
        "base_filters": _int(meaning="generator filters of the first level"),
        "max_filters": _int(meaning="generator filter cap"),
        "norm": _choice(NORMS, "normalisation layers"),
        "dropout_rate": Setting("float", minimum=0, below=1, meaning="decoder dropout"),
        "upsampling": _choice(UPSAMPLINGS, "decoder upsampling"),
        "discriminator_base_filters": _int(meaning="PatchGAN filters of the first layer"),
        "discriminator_max_filters": _int(meaning="PatchGAN filter cap"),
        "discriminator_strided_layers": _int(meaning="PatchGAN stride-2 layers"),
        "stochastic_inference": Setting("bool", meaning="dropout and batch statistics at "
                                                        "inference"),
        "downsamplings": _int(meaning="pix2pixHD stride-2 downsamplings"),
        "residual_blocks": _int(0, meaning="pix2pixHD residual blocks"),
        "padding": _choice(PADDINGS, "pix2pixHD padding"),
        "output_activation": _choice(OUTPUT_ACTIVATIONS, "generator output"),
        "discriminator_scales": _int(meaning="pix2pixHD discriminator scales"),
    },
    "training": {
        "steps": _int(meaning="training steps"),
        "batch_size": _int(meaning="global batch"),
        "learning_rate": Setting("float", above=0, meaning="Adam learning rate"),
        "beta_1": Setting("float", minimum=0, below=1, meaning="Adam beta_1"),
        "adversarial_loss": _choice(ADVERSARIAL_LOSSES, "adversarial loss"),
        "lambda_adversarial": Setting("float", minimum=0, meaning="adversarial weight"),
        "lambda_l1": Setting("float", minimum=0, meaning="L1 weight"),
        "lambda_feature_matching": Setting("float", minimum=0, meaning="feature matching "
                                                                      "weight"),
        "lambda_cc": Setting("float", minimum=0, meaning="CC loss weight"),
        "cc_kind": _choice(CC_KINDS, "CC of the CC loss"),
        "cc_scales": _int(meaning="scales of the CC loss"),
        "lambda_large_scale": Setting("float", minimum=0, meaning="weight of the L1 of coarse "
                                                                 "block means on the disk"),
        "large_scale_block_px": _int(2, meaning="block side of the large-scale loss, pixels "
                                                "(a power of two)"),
        "lr_schedule": _choice(LR_SCHEDULES, "learning-rate schedule"),
        "decay_steps": _int(0, meaning="linear-decay steps"),
        "augment": Setting("bool", meaning="random shifts"),
        "max_shift_px": _int(0, meaning="largest shift, pixels"),
        "precision": _choice(PRECISIONS, "Keras dtype policy"),
        "xla": Setting("bool", meaning="XLA-compiled train step"),
        "steps_per_execution": _int(meaning="steps a tf.function call"),
        "seed": _int(0, nullable=True, meaning="random seed"),
        "deterministic": Setting("bool", meaning="deterministic TensorFlow ops"),
        "strategy": _choice(STRATEGIES, "tf.distribute strategy"),
        "log_every": _int(meaning="steps between TensorBoard losses"),
        "validation_every": _int(meaning="steps between validations"),
        "validation_pairs": _int(nullable=True, meaning="pairs a validation (null: all)"),
        "image_every": _int(meaning="steps between TensorBoard image panels"),
        "image_pairs": _int(0, meaning="image panels"),
        "checkpoint_every": _int(meaning="steps between checkpoints"),
        "keep_checkpoints": _int(meaning="checkpoints kept"),
    },
}


def check_config(config: dict[str, Any], sections: tuple[str, ...] = SECTIONS) -> list[str]:
    """Every problem of ``config``'s ``sections``, one line each naming the setting:
    missing, unknown or ill-typed settings, values out of range, and settings that do not
    fit together (the U-Net depth or the CC scales for the image size, the decay steps
    for the steps, ...). An empty list means the configuration is good."""
    problems = []
    for section in sections:
        values = config.get(section)
        if not isinstance(values, dict):
            problems.append(f"{section}: missing section")
            continue
        for name, setting in SCHEMA[section].items():
            if name not in values:
                problems.append(f"{section}.{name}: missing ({setting.allowed()})")
            elif (problem := setting.problem(values[name])) is not None:
                problems.append(f"{section}.{name}: {problem}")
        for name in sorted(set(values) - set(SCHEMA[section])):
            problems.append(f"{section}.{name}: unknown setting; known: "
                            + ", ".join(sorted(SCHEMA[section])))
    if not problems:
        problems = _relations(config, sections)
    return problems


def _relations(config: dict[str, Any], sections: tuple[str, ...]) -> list[str]:
    """Problems between settings of an otherwise well-typed configuration."""
    problems = []
    data = config["data"]
    try:
        levels = check_image_size(data["image_size"])
    except ValueError as err:
        return [f"data.image_size: {err}"]
    if not data["radius_px"] <= data["image_size"] / 2:
        problems.append(f"data.radius_px: {data['radius_px']!r} is not <= half the image size "
                        f"({data['image_size'] / 2:g})")
    if not data["input_channels"]:
        problems.append("data.input_channels: give at least one channel")
    if set(data["test_months"]) & set(data["val_months"]):
        problems.append(f"data.val_months: {data['val_months']} overlap data.test_months "
                        f"{data['test_months']}")
    if "model" in sections:
        model = config["model"]
        if model["depth"] is not None and not model["depth"] <= levels:
            problems.append(f"model.depth: {model['depth']!r} is not an integer in 2..{levels} "
                            f"or null for {data['image_size']} px images")
        if data["image_size"] // 2 ** model["discriminator_strided_layers"] < 3:
            problems.append(f"model.discriminator_strided_layers: "
                            f"{model['discriminator_strided_layers']} stride-2 layers leave "
                            f"less than 3 px of a {data['image_size']} px image")
    if "training" in sections:
        training = config["training"]
        if training["lambda_cc"] and not training["cc_scales"] <= levels:
            problems.append(f"training.cc_scales: {training['cc_scales']!r} is not an integer "
                            f"in 1..{levels} for {data['image_size']} px images")
        block = training["large_scale_block_px"]
        if training["lambda_large_scale"] and (block & (block - 1)
                                               or not block <= data["image_size"] // 4):
            problems.append(f"training.large_scale_block_px: {block!r} is not a power of two "
                            f"<= {data['image_size'] // 4} for {data['image_size']} px images")
        if (training["lr_schedule"] == "linear_decay"
                and not 1 <= training["decay_steps"] <= training["steps"]):
            problems.append(f"training.decay_steps: {training['decay_steps']!r} is not in "
                            f"1..training.steps ({training['steps']}) for linear_decay")
        if not training["max_shift_px"] < data["image_size"] // 2:
            problems.append(f"training.max_shift_px: {training['max_shift_px']!r} is not < "
                            f"{data['image_size'] // 2} for {data['image_size']} px images")
        if ("model" in sections and training["lambda_feature_matching"]
                and config["model"]["architecture"] != "pix2pixhd"):
            problems.append("training.lambda_feature_matching: feature matching needs "
                            "model.architecture pix2pixhd (a discriminator with features)")
    return problems
