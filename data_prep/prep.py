"""Build an HDF5 pair file from folders of FITS files: pair, prepare, normalise, write.

    solarmaggan prep --preset kim2019 --euv aia304/ --magnetogram hmi/ --out pairs.h5

Steps: scan the headers and pair each EUV image with the magnetogram nearest in time
(:mod:`data_prep.pairing`; never by file name; with several EUV channels, as AISFM's AIA
304, 193 and 171 A, each magnetogram with one file of every channel, each channel
prepared, median-scaled and normalised on its own); prepare both images on the standard frame
(:func:`data_prep.prepare.prepare_map`) in parallel worker processes; normalise them with
the preset's scaling; write them with :class:`data_prep.pairs.PairWriter` (atomic,
resumable: re-running skips the pairs already written); write a JSON report of what was
paired, unmatched or rejected, and why, next to the output (``<out>.report.json``).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from astropy.time import Time

from data_prep.atomic import write_json_atomically
from data_prep.fitsio import FitsInputError
from data_prep.latitude import input_channel_names, input_normalizations, observer_latitude_plane
from data_prep.normalization import Normalization, euv_normalization, magnetogram_normalization
from data_prep.pairing import (
    EUV_KINDS,
    ChannelSet,
    Pair,
    pair_by_time,
    pair_channels_by_time,
    require_fits_files,
)
from data_prep.pairs import PairWriter
from data_prep.prepare import prepare_map
from data_prep.presets import load_preset
from data_prep.presets.schema import SCHEMA, check_config
from data_prep.reference import (DEFAULT_LAG_DAYS, ReferencePair, ReferencePreparation,
                                 archive_from_pairs, reference_cards, reference_channel_names,
                                 reference_channels, reference_normalizations,
                                 training_reference)
from data_prep.progress import Progress
from data_prep.scheduler import open_scheduler
from data_prep.splits import SplitRule


@dataclasses.dataclass(frozen=True)
class InputChannel:
    """One EUV input channel of a preset.

    Attributes:
        name: the channel's name in the pair file, e.g. "AIA 304".
        kind: "aia", "euvi" or "fsi" (EUI/FSI level 2): one of
            :data:`data_prep.presets.schema.EUV_KINDS`.
        wavelength: A, as the files' WAVELNTH says; None accepts any (one channel only).
    """

    name: str
    kind: str
    wavelength: int | None

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> "InputChannel":
        """From a preset's ``{"name", "kind", "wavelength"}`` record."""
        try:
            wavelength = record["wavelength"]
            return cls(str(record["name"]), str(record["kind"]),
                       None if wavelength is None else int(wavelength))
        except KeyError as missing:
            raise ValueError(f"input channel {record} lacks the key {missing}") from None


@dataclasses.dataclass(frozen=True)
class PrepSettings:
    """Everything that decides how FITS files become normalised pairs (a preset's ``data``
    section, with overrides). Sizes in pixels, clip limits in DN/s and Gauss.

    ``input_channels``: the EUV channels in the order of the input's last axis (one for
    Kim et al. 2019; AIA 304, 193, 171 for AISFM 2.0/3.0). Each is paired, prepared,
    median-scaled and normalised on its own (:func:`prepare_sample`).
    ``latitude_channel``: add sin(heliographic latitude) of each pixel, seen from the EUV
    image's observer, after the EUV channels (:mod:`data_prep.latitude`).
    ``reference_pair``: add AISFM 3.0's reference pair (three channels, last): an earlier
    AIA + HMI pair of the same files, ``reference_lag_days`` (low, high) days older, drawn
    at random, rotated to the input's time and view (:mod:`data_prep.reference`).
    """

    preset: str
    image_size: int
    radius_px: float
    input_channels: tuple[InputChannel, ...]
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
    latitude_channel: bool = False
    reference_pair: bool = False
    reference_lag_days: tuple[float, float] = DEFAULT_LAG_DAYS

    def __post_init__(self) -> None:
        channels = tuple(self.input_channels)
        if not channels:
            raise ValueError("give at least one input channel")
        names = [channel.name for channel in channels]
        if len(set(names)) != len(names):
            raise ValueError(f"input channel names repeat: {names}")
        kinds = {channel.kind for channel in channels}
        if len(kinds) != 1 or not kinds <= set(EUV_KINDS):
            raise ValueError(f"input channels must all be one EUV kind of {EUV_KINDS}, got "
                             f"{sorted(kinds)}")
        if len(channels) > 1:
            wavelengths = [channel.wavelength for channel in channels]
            if None in wavelengths or len(set(wavelengths)) != len(wavelengths):
                raise ValueError(
                    f"several input channels need distinct wavelengths (a file's channel is "
                    f"decided by its WAVELNTH), got {wavelengths}"
                )
        object.__setattr__(self, "input_channels", channels)
        object.__setattr__(self, "reference_lag_days", tuple(map(float, self.reference_lag_days)))

    @classmethod
    def from_preset(cls, name_or_path: str, **overrides: Any) -> "PrepSettings":
        """Settings of a preset (name or JSON path); ``overrides`` replace single ``data``
        settings (None values are ignored, so command-line defaults can be passed through).
        The result is checked against the schema (:mod:`data_prep.presets.schema`): a bad
        value raises ValueError naming each bad setting on its own line."""
        preset = load_preset(name_or_path)
        degradation_table = overrides.pop("degradation_table", None)
        data = dict(preset.get("data") or {})
        unknown = set(overrides) - set(SCHEMA["data"])
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        data.update({key: list(value) if isinstance(value, tuple) else value
                     for key, value in overrides.items() if value is not None})
        problems = check_config({"data": data}, sections=("data",))
        if problems:
            raise ValueError("\n".join(problems))
        values = dict(
            preset=preset["name"], image_size=int(data["image_size"]),
            radius_px=float(data["radius_px"]),
            input_channels=tuple(InputChannel.from_dict(c) for c in data["input_channels"]),
            target_channel=data["target_channel"]["name"],
            magnetogram_limit_gauss=float(data["magnetogram_limit_gauss"]),
            euv_clip_dn_s=tuple(data["euv_clip_dn_s"]), euv_median_dn_s=data["euv_median_dn_s"],
            magnetogram_mask_rsun=data["magnetogram_mask_rsun"],
            euv_mask_rsun=data["euv_mask_rsun"], pair_tolerance_s=float(data["pair_tolerance_s"]),
            test_months=tuple(data["test_months"]), val_months=tuple(data["val_months"]),
            degradation_table=degradation_table, latitude_channel=bool(data["latitude_channel"]),
            reference_pair=bool(data["reference_pair"]),
            reference_lag_days=tuple(data["reference_lag_days"]),
        )
        return cls(**values)

    # -- the first (or only) channel, as single-channel code knew it ----------------------
    @property
    def input_channel(self) -> str:
        """Name of the first (or only) input channel."""
        return self.input_channels[0].name

    @property
    def input_kind(self) -> str:
        """"aia", "euvi" or "fsi": the kind of every input channel."""
        return self.input_channels[0].kind

    @property
    def input_wavelength(self) -> int | None:
        """Wavelength (A) of the first (or only) input channel."""
        return self.input_channels[0].wavelength

    @property
    def channel_names(self) -> list[str]:
        """The input channels' names, in the order of the input's last axis (the EUV
        channels, then the latitude channel and the reference pair's channels if used)."""
        return input_channel_names([channel.name for channel in self.input_channels],
                                   self.latitude_channel,
                                   reference_channel_names(self.input_channel, self.target_channel)
                                   if self.reference_pair else ())

    def any_wavelength(self) -> "PrepSettings":
        """These settings accepting EUV files of any wavelength (one input channel only:
        with several, each file's wavelength decides its channel)."""
        if len(self.input_channels) != 1:
            raise ValueError(
                f"preset {self.preset!r} has {len(self.input_channels)} input channels, each "
                "chosen by the files' wavelength; accepting any wavelength needs one channel"
            )
        channel = dataclasses.replace(self.input_channels[0], wavelength=None)
        return dataclasses.replace(self, input_channels=(channel,))

    @property
    def input_normalization(self) -> Normalization:
        """The EUV scaling (log10 of the clipped DN/s), the same for every channel."""
        return euv_normalization(*self.euv_clip_dn_s)

    @property
    def input_normalizations(self) -> list[Normalization]:
        """One normalisation record per input channel (the pair file's attribute)."""
        return input_normalizations(
            self.input_normalization, len(self.input_channels), self.latitude_channel,
            reference_normalizations(self.input_normalization, self.target_normalization)
            if self.reference_pair else ())

    @property
    def reference_preparation(self) -> ReferencePreparation:
        """How the reference pair's files are prepared (as the training pairs' are)."""
        return ReferencePreparation(
            self.image_size, self.radius_px, self.input_wavelength, self.euv_mask_rsun,
            self.euv_median_dn_s, self.magnetogram_mask_rsun, self.input_normalization,
            self.target_normalization, self.degradation_table)

    @property
    def target_normalization(self) -> Normalization:
        return magnetogram_normalization(self.magnetogram_limit_gauss)

    @property
    def split_rule(self) -> SplitRule:
        return SplitRule(self.test_months, self.val_months)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able record (the pair file's ``metadata["settings"]``): the first input
        channel as ``input_channel``, ``input_kind`` and ``input_wavelength`` (as files of
        one channel always had it) and, with several channels, all of them as
        ``input_channels`` (a list of ``{"name", "kind", "wavelength"}``)."""
        record: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            if field.name == "input_channels":
                record.update(input_channel=self.input_channel, input_kind=self.input_kind,
                              input_wavelength=self.input_wavelength)
            else:
                record[field.name] = getattr(self, field.name)
        if len(self.input_channels) > 1:
            record["input_channels"] = [dataclasses.asdict(c) for c in self.input_channels]
        return record


def input_image(euv_maps: Sequence[Any], euv_normalization: Normalization, radius_px: float,
                latitude_channel: bool, reference: np.ndarray | None = None) -> np.ndarray:
    """The network's input from EUV maps prepared on the standard frame (one per channel,
    in the model's order): each normalised, then, with ``latitude_channel``, the latitude
    plane of the first map's observer (:mod:`data_prep.latitude`) for the frame's solar
    radius ``radius_px`` (pixels), then the reference pair's (H, W, 3) channels if given
    (:func:`data_prep.reference.rotated_reference`). (H, W, C) float32 in [-1, 1]; NaN
    where a map is NaN."""
    channels = [euv_normalization.normalize(euv_map.data) for euv_map in euv_maps]
    if latitude_channel:
        channels.append(observer_latitude_plane(euv_maps[0], euv_maps[0].data.shape[0], radius_px))
    if reference is not None:
        channels.extend(np.moveaxis(reference, -1, 0))
    return np.stack(channels, axis=-1)


def prepare_sample(pair: Pair | ChannelSet, settings: PrepSettings,
                   reference: ReferencePair | None = None) -> dict[str, Any]:
    """Prepare and normalise one pair: the arguments of ``PairWriter.add``.

    Each EUV channel is prepared on its own (:func:`data_prep.prepare.prepare_map`:
    calibrated to DN/s, resampled, masked, its on-disk median scaled to
    ``euv_median_dn_s`` DN/s), then normalised (log10 of the clipped DN/s) and stacked in
    the order of ``settings.input_channels`` into the (H, W, C) input, followed by the
    latitude plane with ``settings.latitude_channel`` (:func:`input_image`). ``input_files``
    names one source file per channel in that order; ``input_header`` is the prepared
    header of the first channel's file; ``input_time`` its observation time. With
    ``settings.reference_pair`` the ``reference`` pair (:func:`data_prep.reference.
    training_reference`) adds three channels, and the header records it (REFTIME, REFLAG
    in days, REFEUV, REFMAG); without a reference such a pair is refused.
    """
    if settings.reference_pair and reference is None:
        low, high = settings.reference_lag_days
        raise ValueError(f"no reference pair {low:g}-{high:g} days before {pair.euv_time} "
                         "among the files given")
    if len(pair.euv_paths) != len(settings.input_channels):
        raise ValueError(f"{len(pair.euv_paths)} EUV files for "
                         f"{len(settings.input_channels)} input channels")
    euv_maps = [
        prepare_map(
            path, channel.kind, settings.image_size, settings.radius_px,
            expected_wavelength=channel.wavelength, mask_radius_rsun=settings.euv_mask_rsun,
            median_scale_to=settings.euv_median_dn_s,
            degradation_table=settings.degradation_table,
        )
        for path, channel in zip(pair.euv_paths, settings.input_channels)
    ]
    magnetogram_map = prepare_map(
        pair.magnetogram_path, "hmi", settings.image_size, settings.radius_px,
        mask_radius_rsun=settings.magnetogram_mask_rsun,
    )
    input_header = dict(euv_maps[0].meta)
    reference_image = None
    if settings.reference_pair:
        reference_image = reference_channels(reference, euv_maps[0],
                                             settings.reference_preparation)
        input_header.update(reference_cards(reference, euv_maps[0].date.unix))
    return dict(
        input_image=input_image(euv_maps, settings.input_normalization, settings.radius_px,
                                settings.latitude_channel, reference_image),
        target_image=settings.target_normalization.normalize(magnetogram_map.data)[..., None],
        input_time=pair.euv_time, target_time=pair.magnetogram_time,
        input_files=[Path(path).name for path in pair.euv_paths],
        target_files=[Path(pair.magnetogram_path).name],
        input_header=input_header, target_header=dict(magnetogram_map.meta),
    )


def _prepare_or_reject(pair: Pair | ChannelSet, settings: PrepSettings,
                       reference: ReferencePair | None = None
                       ) -> tuple[Pair | ChannelSet, dict | str]:
    try:
        return pair, prepare_sample(pair, settings, reference)
    except (FitsInputError, ValueError) as err:
        return pair, str(err)


def build_pair_file(
    euv_sources: Sequence[str | os.PathLike],
    magnetogram_sources: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    settings: PrepSettings,
    workers: int | None = None,
    progress: bool = True,
    scheduler: str = "processes",
) -> dict[str, Any]:
    """Pair, prepare and write; returns the report (also written to ``<out>.report.json``).

    Args:
        euv_sources, magnetogram_sources: FITS files or folders of them; with several
            input channels the EUV files of all channels, mixed (each file's header decides
            its channel), and each magnetogram is paired with one file of every channel
            (:func:`data_prep.pairing.pair_channels_by_time`).
        out: the HDF5 pair file; an existing or unfinished one is resumed.
        settings: from :meth:`PrepSettings.from_preset`.
        workers: processes (default: all cores), local ones or of a local Dask cluster.
        progress: show a progress bar on stderr.
        scheduler: where the pairs are prepared (:mod:`data_prep.scheduler`):
            ``processes``, ``dask`` or ``tcp://HOST:PORT``; one task a pair. This process
            alone writes the pair file, in the pairs' time order, whatever the scheduler:
            the file is the same.
    """
    out = Path(out)
    require_fits_files(euv_sources, "EUV")
    require_fits_files(magnetogram_sources, "magnetogram")
    if len(settings.input_channels) == 1:
        report = pair_by_time(
            euv_sources, magnetogram_sources, tolerance_s=settings.pair_tolerance_s,
            euv_kind=settings.input_kind, expected_wavelength=settings.input_wavelength,
        )
    else:
        report = pair_channels_by_time(
            euv_sources, magnetogram_sources,
            [(channel.name, channel.wavelength) for channel in settings.input_channels],
            tolerance_s=settings.pair_tolerance_s, euv_kind=settings.input_kind,
        )
    if not report.pairs and not out.exists():  # nothing to write: write nothing
        problems = [f"{entry.path}: {entry.reason}" for entry in report.rejected + report.unmatched]
        raise ValueError("\n".join(["no EUV-magnetogram pair could be made"] + problems))
    failed: list[dict[str, str]] = []
    written = skipped = 0
    lags: list[float] = []  # days, the references of the pairs written now
    with open_scheduler(scheduler, workers) as runner, PairWriter(
        out, settings.image_size, settings.channel_names, [settings.target_channel],
        settings.input_normalizations, [settings.target_normalization],
        rsun_px=settings.radius_px, split_rule=settings.split_rule,
        metadata={"creator": "data_prep.prep.build_pair_file", "settings": settings.to_dict()},
    ) as writer:
        todo = [pair for pair in report.pairs if not writer.has(pair.euv_time)]
        skipped = len(report.pairs) - len(todo)
        references = [None] * len(todo)
        if settings.reference_pair:  # the pairs themselves are the archive
            archive = archive_from_pairs(report.pairs)
            references = [training_reference(archive, Time(pair.euv_time, scale="utc").unix,
                                             settings.reference_lag_days) for pair in todo]
        bar = Progress(len(todo), "prep", unit="pairs", enabled=progress)
        tasks = [(pair, settings, reference) for pair, reference in zip(todo, references)]
        for pair, result in runner.map(_prepare_or_reject, tasks):
            if isinstance(result, str):
                failed.append({"euv": " + ".join(pair.euv_paths),
                               "magnetogram": pair.magnetogram_path, "reason": result})
            else:
                writer.add(**result)
                written += 1
                if "REFLAG" in result["input_header"]:
                    lags.append(result["input_header"]["REFLAG"])
            bar.update()
        bar.close()
        total = writer.n_samples
    record = {
        "out": str(out), "samples": total, "written_now": written,
        "already_present": skipped, "failed_preparation": failed,
        "pairing": report.to_dict(), "settings": settings.to_dict(),
    }
    if lags:
        record["reference_lag_days"] = {
            "pairs": len(lags), "min": float(np.min(lags)), "median": float(np.median(lags)),
            "max": float(np.max(lags)),
            "histogram_edges": [float(v) for v in np.arange(0.0, 45.1, 4.5)],
            "histogram": np.histogram(lags, np.arange(0.0, 45.1, 4.5))[0].tolist()}
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
    if "reference_lag_days" in record:
        lag = record["reference_lag_days"]
        lines.append(f"  reference pairs: lag {lag['min']:.1f}-{lag['max']:.1f} days "
                     f"(median {lag['median']:.1f}) for the {lag['pairs']} pairs written now")
    lines.append(f"  report: {record['out']}.report.json")
    return "\n".join(lines)
