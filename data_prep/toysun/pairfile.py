"""Toy-Sun pair files: near-side pairs (AIA-like EUV input, HMI-like magnetogram) drawn from
the evolving whole-Sun model and written in the HDF5 pair format, without FITS files.

:func:`write_toy_dataset` renders, for each of ``n_pairs`` times spread over a year
(:func:`toy_times`), the one Sun of ``seed`` (:class:`~data_prep.toysun.evolution.WholeSun`)
as seen from Earth at that time (sunpy's ephemeris: the disk-centre latitude B0 and the
distance vary through the year) in the standard frame (north up, disk centred, radius
``rsun_fraction`` of the frame; FITS row order, as ``prep`` writes). It is the quick way to
a training file; ``solarmaggan toysun campaign`` writes the same Sun as instrument FITS
files for the real path through ``prep``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from data_prep.geometry import check_image_size
from data_prep.normalization import euv_normalization, magnetogram_normalization
from data_prep.pairs import PairWriter, iso_time
from data_prep.splits import SplitRule
from data_prep.toysun.evolution import WholeSun
from data_prep.toysun.snapshot import (
    RSUN_FRACTION, TOY_CHANNELS, snapshot_grid_deg, toy_header,
)
from data_prep.toysun.views import render

WHOLE_SUN_OPTIONS = ("north_leading_polarity", "emergence_per_day", "network_elements",
                     "polar_gauss", "grid_deg")
RENDER_OPTIONS = ("noise_gauss", "euv_noise_gain")


def earth_view(time: Any) -> tuple[float, float]:
    """(B0 in deg, distance in m) of Earth at ``time`` (the ``earth`` observer of
    :mod:`data_prep.toysun.observers`: sunpy's ephemeris)."""
    import astropy.units as u

    from data_prep.toysun.observers import observer_coordinate

    earth = observer_coordinate("earth", time)
    return float(earth.lat.to_value(u.deg)), float(earth.radius.to_value(u.m))


def toy_times(
    n_pairs: int, start: str = "2011-01-01T00:00:00", split_rule: SplitRule = SplitRule()
) -> list[str]:
    """``n_pairs`` distinct ISO 8601 UTC times, ascending, evenly spread over the 365 days
    from ``start``; for ``n_pairs`` >= 3 a few are moved to mid-month so that every split of
    ``split_rule`` (default: test = September, October; validation = August) is non-empty."""
    if n_pairs < 1:
        raise ValueError(f"n_pairs must be >= 1, got {n_pairs}")
    first = datetime.fromisoformat(iso_time(start))
    year_s = 365 * 86400
    times = [first + timedelta(seconds=round(i * year_s / n_pairs)) for i in range(n_pairs)]
    if n_pairs >= 3:
        groups = {
            "test": set(split_rule.test_months),
            "val": set(split_rule.val_months),
        }
        groups["train"] = set(range(1, 13)) - groups["test"] - groups["val"]

        def members(months: set[int]) -> list[int]:
            return [i for i, t in enumerate(times) if t.month in months]

        for name, months in groups.items():
            if not months or members(months):
                continue
            month = min(months)
            candidates = [datetime(first.year + k, month, 15, 12) for k in (0, 1)]
            inside = [c for c in candidates if first <= c < first + timedelta(days=365)]
            target = (inside or candidates)[0]
            # take the time nearest to the target from the largest other split
            donor = max(
                (other for key, other in groups.items() if key != name),
                key=lambda other: len(members(other)),
            )
            index = min(members(donor), key=lambda i: abs(times[i] - target))
            while target in times:
                target += timedelta(minutes=1)
            times[index] = target
        times.sort()
    return [t.isoformat(timespec="milliseconds") for t in times]



def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return value


def toy_channel_names(channels: Sequence[str | int]) -> list[str]:
    """Toy-Sun channel names ("AIA 304", "AIA 193", "AIA 171") from names or wavelengths
    (``304``, ``"193"``, ``"AIA 171"``), in the order given. Raises ValueError for another
    channel or a repeated one."""
    if isinstance(channels, (str, int)):
        channels = [channels]
    names: list[str] = []
    for channel in channels:
        text = str(channel).strip()
        name = f"AIA {text}" if text.isdigit() else " ".join(text.split()).upper()
        if name not in TOY_CHANNELS:
            raise ValueError(f"the toy Sun has no channel {channel!r}; it makes "
                             f"{', '.join(TOY_CHANNELS)} (or give the wavelengths)")
        if name in names:
            raise ValueError(f"the channel {name} is asked for twice")
        names.append(name)
    if not names:
        raise ValueError("give at least one input channel")
    return names


def write_toy_dataset(
    path: str | os.PathLike,
    n_pairs: int,
    image_size: int = 256,
    seed: int = 0,
    split_rule: SplitRule | None = None,
    *,
    input_channels: Sequence[str | int] | None = None,
    preset: str | os.PathLike | None = None,
    **toy_kwargs: Any,
) -> Path:
    """Write ``n_pairs`` toy-Sun pairs to the HDF5 pair file ``path`` (see data_prep.pairs).

    Without ``preset``: the seed's scaling, input log10 of 1-1000 DN/s per channel (no
    median scaling), target linear +-100 G, solar radius 392/1024 of the frame, splits of
    ``split_rule`` (default: test September, October; validation August).

    With ``preset`` (a preset name such as "jeong2020", or a JSON path): the scaling that
    ``prep`` applies to real data with that preset (:class:`data_prep.prep.PrepSettings`,
    :func:`data_prep.prepare.finish_frame`): EUV pixels beyond ``euv_mask_rsun`` set to 0,
    each channel's on-disk median scaled to ``euv_median_dn_s`` DN/s before its log10 of
    ``euv_clip_dn_s``, the magnetogram masked beyond ``magnetogram_mask_rsun`` and clipped
    to +-``magnetogram_limit_gauss``; the solar radius is the preset's fraction of the
    frame (450/1024 for jeong2020) at ``image_size``; the preset's input channels and split
    months unless given. ``metadata["settings"]`` records the settings (with this file's
    image size and solar radius).

    Args:
        input_channels: channel names or wavelengths, in the order of the input's last
            axis: any of "AIA 304", "AIA 193", "AIA 171" (or 304, 193, 171). Default: the
            preset's, else ("AIA 304",), the seed's single-channel file, unchanged.
        toy_kwargs: ``rsun_fraction`` (solar radius over frame size, default 392/1024), the
            Sun's options (:class:`~data_prep.toysun.evolution.WholeSun`:
            ``north_leading_polarity``, ``emergence_per_day``, ``network_elements``,
            ``polar_gauss``, ``grid_deg``) and the rendering's (``noise_gauss``,
            ``euv_noise_gain``, :func:`~data_prep.toysun.views.render`).

    Sample ``i`` is the Sun of ``seed`` seen from Earth at ``toy_times(n_pairs)[i]``, its
    noise drawn from ``np.random.default_rng([seed, i])``, so a run that was interrupted resumes (samples already
    present are skipped) with identical results; resume with the same arguments. Each
    sample's ``input_files`` names one file per channel; its ``input_header`` is that of
    the first channel. Raises ValueError for ``n_pairs`` < 1, an image size the networks
    cannot take (not a power of two >= 32, :func:`data_prep.geometry.check_image_size`),
    or an unknown channel or preset. Returns the finished file's path.
    """
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, (int, np.integer)) or n_pairs < 1:
        raise ValueError(f"n_pairs must be an integer >= 1, got {n_pairs!r}")
    check_image_size(image_size)  # a pair file is for the networks
    image_size = int(image_size)
    unknown = set(toy_kwargs) - {"rsun_fraction", *WHOLE_SUN_OPTIONS, *RENDER_OPTIONS}
    if unknown:
        raise ValueError(f"write_toy_dataset does not take {sorted(unknown)}; it takes "
                         f"rsun_fraction, {', '.join(WHOLE_SUN_OPTIONS + RENDER_OPTIONS)}")
    settings = None
    if preset is not None:
        from data_prep.prep import PrepSettings

        settings = PrepSettings.from_preset(str(preset))
        toy_kwargs.setdefault("rsun_fraction", settings.radius_px / settings.image_size)
        # the recorded settings describe this file: its frame, not the preset's
        settings = dataclasses.replace(settings, image_size=image_size, radius_px=float(
            toy_kwargs["rsun_fraction"] * image_size))
    if input_channels is not None:
        names = toy_channel_names(input_channels)
    else:
        names = toy_channel_names(settings.channel_names) if settings else ["AIA 304"]
    wavelengths = [TOY_CHANNELS[name] for name in names]
    if split_rule is None:
        split_rule = settings.split_rule if settings else SplitRule()
    rsun_px = float(toy_kwargs.get("rsun_fraction", RSUN_FRACTION) * image_size)
    sun_options = {key: toy_kwargs[key] for key in WHOLE_SUN_OPTIONS if key in toy_kwargs}
    sun_options.setdefault("grid_deg", snapshot_grid_deg(rsun_px))
    sun = WholeSun(seed, **sun_options)
    render_options = {key: toy_kwargs[key] for key in RENDER_OPTIONS if key in toy_kwargs}
    if settings:
        euv_scaling, magnetogram_scaling = settings.input_normalization, settings.target_normalization
    else:
        euv_scaling, magnetogram_scaling = euv_normalization(), magnetogram_normalization(100.0)
    metadata = {
        "source": "toy Sun",
        "creator": "data_prep.toysun.write_toy_dataset",
        "seed": int(seed),
        "toy_parameters": json.loads(json.dumps(_jsonable(toy_kwargs), default=str)),
    }
    if settings:
        metadata["settings"] = settings.to_dict()
    files = ["euv"] if names == ["AIA 304"] else [f"euv{wavelength}" for wavelength in wavelengths]
    times = toy_times(n_pairs, split_rule=split_rule)
    with PairWriter(
        path, image_size, names, ["HMI LOS"], [euv_scaling] * len(names), [magnetogram_scaling],
        rsun_px=rsun_px, split_rule=split_rule, metadata=metadata,
    ) as writer:
        for index, time in enumerate(times):
            if writer.has(time):
                continue
            b0_deg, distance_m = earth_view(time)
            view = toy_header(image_size, rsun_px, time, "euv", b0_deg, distance_m=distance_m)
            images = render(sun.state(time), view, ["magnetogram", *wavelengths],
                            np.random.default_rng([seed, index]), **render_options)
            euv = [images[wavelength] for wavelength in wavelengths]
            magnetogram = np.nan_to_num(images["magnetogram"], nan=0.0)
            if settings:
                euv, magnetogram = _prep_scaled(euv, magnetogram, rsun_px, settings)
            writer.add(
                np.stack([euv_scaling.normalize(image) for image in euv], axis=-1),
                magnetogram_scaling.normalize(magnetogram)[..., None],
                input_time=time,
                target_time=time,
                input_files=[f"toysun-{index}-{name}" for name in files],
                target_files=[f"toysun-{index}-mag"],
                input_header=toy_header(image_size, rsun_px, time, "euv", b0_deg,
                                         wavelengths[0], distance_m=distance_m),
                target_header=toy_header(image_size, rsun_px, time, "magnetogram", b0_deg,
                                         distance_m=distance_m),
            )
    return writer.path


def _prep_scaled(
    euv_dn_s: Sequence[np.ndarray], magnetogram_gauss: np.ndarray, rsun_px: float, settings: Any
) -> tuple[list[np.ndarray], np.ndarray]:
    """The toy images after the mask and median scaling that ``prep`` applies with
    ``settings`` (a :class:`data_prep.prep.PrepSettings`), in DN/s and Gauss."""
    from data_prep.prepare import finish_frame

    euv = [
        finish_frame(np.array(image, dtype=np.float32), "aia", rsun_px, settings.euv_mask_rsun,
                     median_scale_to=settings.euv_median_dn_s)[0]
        for image in euv_dn_s
    ]
    magnetogram = finish_frame(np.array(magnetogram_gauss, dtype=np.float32), "hmi", rsun_px,
                               settings.magnetogram_mask_rsun)[0]
    return euv, magnetogram
