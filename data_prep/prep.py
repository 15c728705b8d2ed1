"""Build an HDF5 pair file from folders of FITS files: pair, prepare, normalise, write.

    solarmaggan prep --preset kim2019 --euv aia304/ --magnetogram hmi/ --out pairs.h5

Steps: scan the headers and pair each EUV image with the magnetogram nearest in time
(:mod:`data_prep.pairing`; never by file name); prepare both images on the standard frame
(:func:`data_prep.prepare.prepare_map`) in parallel worker processes; normalise them with
the preset's scaling; write them with :class:`data_prep.pairs.PairWriter` (atomic,
resumable: re-running skips the pairs already written); write a JSON report of what was
paired, unmatched or rejected, and why, next to the output (``<out>.report.json``).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import multiprocessing
import os
import sys
from pathlib import Path
from typing import Any, Iterable, Sequence

from data_prep.atomic import write_json_atomically
from data_prep.fitsio import FitsInputError
from data_prep.normalization import Normalization, euv_normalization, magnetogram_normalization
from data_prep.pairing import Pair, pair_by_time
from data_prep.pairs import PairWriter
from data_prep.prepare import prepare_map
from data_prep.presets import load_preset
from data_prep.progress import Progress
from data_prep.splits import SplitRule


@dataclasses.dataclass(frozen=True)
class PrepSettings:
    """Everything that decides how FITS files become normalised pairs (a preset's ``data``
    section, with overrides). Sizes in pixels, clip limits in DN/s and Gauss."""

    preset: str
    image_size: int
    radius_px: float
    input_channel: str
    input_kind: str
    input_wavelength: int | None
    target_channel: str
    magnetogram_limit_gauss: float
    euv_clip_dn_s: tuple[float, float]
    euv_median_dn_s: float | None
    magnetogram_mask_rsun: float | None
    euv_mask_rsun: float | None
    pair_tolerance_s: float
    test_months: tuple[int, ...]
    val_months: tuple[int, ...]
    degradation_table: str | None = None

    @classmethod
    def from_preset(cls, name_or_path: str, **overrides: Any) -> "PrepSettings":
        """Settings of a preset (name or JSON path); ``overrides`` replace single fields
        (None values are ignored, so command-line defaults can be passed through)."""
        preset = load_preset(name_or_path)
        data = preset["data"]
        channels = data["input_channels"]
        if len(channels) != 1:
            raise ValueError(
                f"preset {preset['name']!r} has {len(channels)} input channels; "
                "multi-channel preparation is not available yet (one EUV channel only)"
            )
        values = dict(
            preset=preset["name"], image_size=int(data["image_size"]),
            radius_px=float(data["radius_px"]), input_channel=channels[0]["name"],
            input_kind=channels[0]["kind"], input_wavelength=channels[0]["wavelength"],
            target_channel=data["target_channel"]["name"],
            magnetogram_limit_gauss=float(data["magnetogram_limit_gauss"]),
            euv_clip_dn_s=tuple(data["euv_clip_dn_s"]), euv_median_dn_s=data["euv_median_dn_s"],
            magnetogram_mask_rsun=data["magnetogram_mask_rsun"],
            euv_mask_rsun=data["euv_mask_rsun"], pair_tolerance_s=float(data["pair_tolerance_s"]),
            test_months=tuple(data["test_months"]), val_months=tuple(data["val_months"]),
        )
        unknown = set(overrides) - set(values) - {"degradation_table"}
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)

    @property
    def input_normalization(self) -> Normalization:
        return euv_normalization(*self.euv_clip_dn_s)

    @property
    def target_normalization(self) -> Normalization:
        return magnetogram_normalization(self.magnetogram_limit_gauss)

    @property
    def split_rule(self) -> SplitRule:
        return SplitRule(self.test_months, self.val_months)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def prepare_sample(pair: Pair, settings: PrepSettings) -> dict[str, Any]:
    """Prepare and normalise one pair: the arguments of ``PairWriter.add``."""
    euv_map = prepare_map(
        pair.euv_path, settings.input_kind, settings.image_size, settings.radius_px,
        expected_wavelength=settings.input_wavelength, mask_radius_rsun=settings.euv_mask_rsun,
        median_scale_to=settings.euv_median_dn_s, degradation_table=settings.degradation_table,
    )
    magnetogram_map = prepare_map(
        pair.magnetogram_path, "hmi", settings.image_size, settings.radius_px,
        mask_radius_rsun=settings.magnetogram_mask_rsun,
    )
    return dict(
        input_image=settings.input_normalization.normalize(euv_map.data)[..., None],
        target_image=settings.target_normalization.normalize(magnetogram_map.data)[..., None],
        input_time=pair.euv_time, target_time=pair.magnetogram_time,
        input_files=[Path(pair.euv_path).name], target_files=[Path(pair.magnetogram_path).name],
        input_header=dict(euv_map.meta), target_header=dict(magnetogram_map.meta),
    )


def _prepare_or_reject(pair: Pair, settings: PrepSettings) -> tuple[Pair, dict | str]:
    try:
        return pair, prepare_sample(pair, settings)
    except (FitsInputError, ValueError) as err:
        return pair, str(err)


def _results(pairs: Sequence[Pair], settings: PrepSettings, workers: int) -> Iterable[tuple[Pair, dict | str]]:
    """(pair, sample or reason) in the order of ``pairs``, prepared by ``workers`` processes."""
    if workers <= 1:
        yield from (_prepare_or_reject(pair, settings) for pair in pairs)
        return
    # fork is fast, but not safe once TensorFlow runs threads in this process
    context = multiprocessing.get_context("spawn" if "tensorflow" in sys.modules else None)
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        yield from pool.map(_prepare_or_reject, pairs, [settings] * len(pairs), chunksize=1)


def build_pair_file(
    euv_sources: Sequence[str | os.PathLike],
    magnetogram_sources: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    settings: PrepSettings,
    workers: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Pair, prepare and write; returns the report (also written to ``<out>.report.json``).

    Args:
        euv_sources, magnetogram_sources: FITS files or folders of them.
        out: the HDF5 pair file; an existing or unfinished one is resumed.
        settings: from :meth:`PrepSettings.from_preset`.
        workers: processes (default: all cores).
        progress: show a progress bar on stderr.
    """
    out = Path(out)
    workers = (os.cpu_count() or 1) if workers is None else int(workers)
    report = pair_by_time(
        euv_sources, magnetogram_sources, tolerance_s=settings.pair_tolerance_s,
        euv_kind=settings.input_kind, expected_wavelength=settings.input_wavelength,
    )
    failed: list[dict[str, str]] = []
    written = skipped = 0
    with PairWriter(
        out, settings.image_size, [settings.input_channel], [settings.target_channel],
        [settings.input_normalization], [settings.target_normalization],
        rsun_px=settings.radius_px, split_rule=settings.split_rule,
        metadata={"creator": "data_prep.prep.build_pair_file", "settings": settings.to_dict()},
    ) as writer:
        todo = [pair for pair in report.pairs if not writer.has(pair.euv_time)]
        skipped = len(report.pairs) - len(todo)
        bar = Progress(len(todo), "prep", unit="pairs", enabled=progress)
        for pair, result in _results(todo, settings, workers):
            if isinstance(result, str):
                failed.append({"euv": pair.euv_path, "magnetogram": pair.magnetogram_path,
                               "reason": result})
            else:
                writer.add(**result)
                written += 1
            bar.update()
        bar.close()
        total = writer.n_samples
    record = {
        "out": str(out), "samples": total, "written_now": written,
        "already_present": skipped, "failed_preparation": failed,
        "pairing": report.to_dict(), "settings": settings.to_dict(),
    }
    write_json_atomically(out.with_name(out.name + ".report.json"), record, default=str)
    return record


def summary_text(record: dict[str, Any]) -> str:
    """A few lines for the console from a :func:`build_pair_file` report."""
    pairing = record["pairing"]
    lines = [
        f"{record['out']}: {record['samples']} pairs "
        f"({record['written_now']} written now, {record['already_present']} already present)",
        f"  unmatched files: {len(pairing['unmatched'])}, rejected files: "
        f"{len(pairing['rejected'])}, pairs failing preparation: {len(record['failed_preparation'])}",
    ]
    for entry in pairing["rejected"] + pairing["unmatched"]:
        lines.append(f"  - {entry['path']}: {entry['reason']}")
    for entry in record["failed_preparation"]:
        lines.append(f"  - {entry['euv']} + {entry['magnetogram']}: {entry['reason']}")
    lines.append(f"  report: {record['out']}.report.json")
    return "\n".join(lines)
