"""Scaling between physical units (DN/s, Gauss) and the networks' [-1, 1] range.

Every HDF5 pair file records one :class:`Normalization` per channel, so its numbers can be
turned back into physical units, and a trained model carries the same record so it is never
fed data scaled differently.

Kinds:
    ``"linear"``: clip to [clip_min, clip_max], then map linearly onto [-1, 1]
        (magnetograms: +-100 G in Kim et al. 2019, +-3000 G in AISFM 2.0/3.0).
    ``"log10"``: clip to [clip_min, clip_max] (clip_min > 0), take log10, then map linearly
        onto [-1, 1] (EUV intensities in DN/s).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

KINDS = ("linear", "log10")


@dataclasses.dataclass(frozen=True)
class Normalization:
    """How one channel's physical values map onto [-1, 1].

    Attributes:
        kind: ``"linear"`` or ``"log10"``.
        clip_min, clip_max: clip limits in ``unit`` (physical values outside are clipped).
        unit: the physical unit, e.g. ``"G"`` or ``"DN/s"``.
    """

    kind: str
    clip_min: float
    clip_max: float
    unit: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"normalisation kind must be one of {KINDS}, got {self.kind!r}")
        if not (math.isfinite(self.clip_min) and math.isfinite(self.clip_max)):
            raise ValueError(f"clip limits must be finite, got {self.clip_min}, {self.clip_max}")
        if not self.clip_min < self.clip_max:
            raise ValueError(
                f"clip_min must be below clip_max, got {self.clip_min} and {self.clip_max}"
            )
        if self.kind == "log10" and self.clip_min <= 0:
            raise ValueError(f"log10 scaling needs clip_min > 0, got {self.clip_min}")

    def _bounds(self) -> tuple[float, float]:
        if self.kind == "log10":
            return math.log10(self.clip_min), math.log10(self.clip_max)
        return float(self.clip_min), float(self.clip_max)

    def normalize(self, physical: np.ndarray) -> np.ndarray:
        """Physical values (any shape, ``unit``) -> float32 in [-1, 1]. NaNs stay NaN."""
        values = np.clip(np.asarray(physical, dtype=np.float64), self.clip_min, self.clip_max)
        if self.kind == "log10":
            values = np.log10(values)
        low, high = self._bounds()
        return (2.0 * (values - low) / (high - low) - 1.0).astype(np.float32)

    def denormalize(self, normalized: np.ndarray) -> np.ndarray:
        """Values in [-1, 1] (any shape) -> float32 physical values in ``unit``, within the
        clip limits: values beyond [-1, 1] (a linear-output network's) are clipped first,
        since the data never held anything beyond the limits. NaNs stay NaN."""
        low, high = self._bounds()
        normalized = np.clip(np.asarray(normalized, dtype=np.float64), -1.0, 1.0)
        scaled = (normalized + 1.0) / 2.0 * (high - low) + low
        if self.kind == "log10":
            scaled = np.power(10.0, scaled)
        return scaled.astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> "Normalization":
        try:
            return cls(
                kind=str(record["kind"]),
                clip_min=float(record["clip_min"]),
                clip_max=float(record["clip_max"]),
                unit=str(record["unit"]),
            )
        except KeyError as missing:
            raise ValueError(f"normalisation record {record} lacks the key {missing}") from None


def magnetogram_normalization(limit_gauss: float = 100.0) -> Normalization:
    """Linear +-``limit_gauss`` G -> [-1, 1] (100 G: Kim et al. 2019; 3000 G: AISFM)."""
    if not limit_gauss > 0:
        raise ValueError(f"the magnetogram limit must be > 0 G, got {limit_gauss}")
    return Normalization("linear", -float(limit_gauss), float(limit_gauss), "G")


def euv_normalization(clip_min: float = 1.0, clip_max: float = 1000.0) -> Normalization:
    """log10 of the EUV intensity clipped to [clip_min, clip_max] DN/s -> [-1, 1].

    The defaults suit images whose on-disk quiet-Sun median is ~100 DN/s (AISFM's median
    scaling): off-limb sky near -1, quiet Sun near +0.3, bright plage reaching +1.
    AISFM 2.0 used clip limits (1, 200) after scaling the median to 100.
    """
    return Normalization("log10", float(clip_min), float(clip_max), "DN/s")
