"""Train / validation / test splits by observation month, as Kim et al. (2019) did.

The paper tested on September and October of every year and trained on the other months.
Splitting by month (not at random) keeps the test set apart in time from the training set,
so that the same active region, seen a few hours apart, never lands on both sides.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np
from astropy.time import Time

SPLITS = ("train", "val", "test")


@dataclasses.dataclass(frozen=True)
class SplitRule:
    """Which observation months go to the test and validation splits; the rest train.

    Attributes:
        test_months: months 1..12 of the test split (seed: September and October).
        val_months: months of the validation split (our default: August; configurable).
    """

    test_months: tuple[int, ...] = (9, 10)
    val_months: tuple[int, ...] = (8,)

    def __post_init__(self) -> None:
        for name in ("test_months", "val_months"):
            months = tuple(int(month) for month in getattr(self, name))
            if any(not 1 <= month <= 12 for month in months):
                raise ValueError(f"{name} must be months 1..12, got {months}")
            object.__setattr__(self, name, months)
        shared = set(self.test_months) & set(self.val_months)
        if shared:
            raise ValueError(f"months {sorted(shared)} are in both the test and validation splits")

    def to_dict(self) -> dict[str, Any]:
        return {"test_months": list(self.test_months), "val_months": list(self.val_months)}

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> "SplitRule":
        return cls(tuple(record["test_months"]), tuple(record["val_months"]))


def observation_months(times: Sequence[str]) -> np.ndarray:
    """Month 1..12 (UTC) of each ISO 8601 time string, as an int array."""
    if len(times) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.array([int(month) for month in Time(list(times), scale="utc").ymdhms.month])


def assign_splits(times: Sequence[str], rule: SplitRule = SplitRule()) -> dict[str, np.ndarray]:
    """Sample indices (int64, ascending) of each split, chosen by the month of ``times``."""
    months = observation_months(times)
    is_test = np.isin(months, rule.test_months)
    is_val = np.isin(months, rule.val_months)
    return {
        "train": np.flatnonzero(~is_test & ~is_val).astype(np.int64),
        "val": np.flatnonzero(is_val).astype(np.int64),
        "test": np.flatnonzero(is_test).astype(np.int64),
    }
