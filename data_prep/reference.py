"""The reference pair (AISFM 3.0, Jeong et al. 2022): the Sun's memory of its own polarity.

304 A shows where the field is strong but not, in weak unipolar areas (decayed plage,
coronal holes), which polarity it has. The near side was seen by SDO days before a far-side
image was taken: the most recent SDO AIA + HMI pair in which the same part of the Sun faced
Earth, rotated with differential rotation to the input's time and view, tells the network
what polarity each area had then. With ``data.reference_pair`` three input channels follow
the EUV (and latitude) channels:

* ``reference <EUV channel>``: the reference AIA image (normalised like the input's first
  channel), rotated;
* ``reference <magnetogram channel>``: the reference HMI line-of-sight field, rotated under
  the radial-field assumption (B_LOS / mu at the reference, times mu in the input's view),
  normalised like the target;
* ``reference mask``: 1 where the rotated pixel was on the reference's disk with mu >=
  :data:`~data_prep.geometry.MU_FLOOR` and lies on the input's disk, else 0 (the other two
  channels are 0 there).

The rotation is sunpy's: :func:`sunpy.coordinates.propagate_with_solar_surface` (the Howard
et al. 1990 profile, as the toy Sun's) around :func:`reproject.reproject_interp`, from the
reference's frame (its observer, its time) to the input's.

Which reference (both rules documented, both recorded with the pair or the output):

* **training** (``prep``): near-side pairs would find themselves a minute back, which
  far-side use never sees. Each training pair takes a reference drawn at random (seeded by
  its time) from the archive's pairs observed ``data.reference_lag_days`` = [low, high]
  days earlier (default 6.5-40.5 days: STEREO and Solar Orbiter, 90-180 degrees from
  Earth, see what faced Earth one to two weeks before; the far side of the large-scale
  study took references 6.9-39 days old, median 11, and training on 13.5-40.5 days
  measured worse, docs/guide/large_scale.md), so that it learns from references of
  every age and coverage the far side will bring
  (:func:`training_reference`);
* **far side** (``generate``): the most recent archive pair observed at most ``high`` days
  earlier whose Earth-facing central meridian (Carrington longitude L0) lies within
  :data:`MAX_CENTRE_OFFSET_DEG` of the input's disk centre (:func:`far_side_reference`).
  None is a clear error, or the explicit ``--no-reference`` fallback (all three channels 0).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Sequence

import numpy as np

from data_prep.geometry import MU_FLOOR, disk_mask, longitude_distance_deg, mu_map
from data_prep.normalization import Normalization

DEFAULT_LAG_DAYS = (6.5, 40.5)  # a quarter rotation to one and a half (synodic 27.3 days)
MAX_CENTRE_OFFSET_DEG = 15.0  # far side: the reference's L0 this close to the input's centre
MASK_CHANNEL = "reference mask"
DAY_S = 86400.0


def reference_normalizations(euv_normalization: Normalization,
                              magnetogram_normalization: Normalization) -> list[Normalization]:
    """The three reference channels' normalisation records: the EUV's, the target's, and
    the identity for the mask (values 0 and 1)."""
    from data_prep.latitude import latitude_normalization

    return [euv_normalization, magnetogram_normalization, latitude_normalization()]


def reference_channel_names(euv_channel: str, magnetogram_channel: str) -> list[str]:
    """The three reference channels' names, e.g. ["reference AIA 304", "reference HMI LOS",
    "reference mask"]."""
    return [f"reference {euv_channel}", f"reference {magnetogram_channel}", MASK_CHANNEL]


@dataclasses.dataclass(frozen=True)
class ReferencePair:
    """One AIA + HMI pair of the archive.

    Attributes:
        time_unix: the AIA observation time, Unix seconds.
        euv_path, magnetogram_path: the two FITS files.
        l0_deg: the Carrington longitude of the disk centre seen from Earth at that time,
            degrees (:func:`sunpy.coordinates.sun.L0`; SDO's differs by < 0.01 deg).
    """

    time_unix: float
    euv_path: str
    magnetogram_path: str
    l0_deg: float

    @property
    def time_iso(self) -> str:
        from astropy.time import Time

        return Time(self.time_unix, format="unix", scale="utc").isot


def archive_from_pairs(pairs: Sequence[Any]) -> list[ReferencePair]:
    """The archive from AIA-HMI pairs (:class:`data_prep.pairing.Pair` or ``ChannelSet``;
    the first EUV channel's file is the reference image), sorted by time."""
    from astropy.time import Time
    from sunpy.coordinates import sun

    if not pairs:
        return []
    times = Time([pair.euv_time for pair in pairs], scale="utc")
    l0 = np.atleast_1d(sun.L0(times).to_value("deg"))
    archive = [ReferencePair(float(t), pair.euv_paths[0], pair.magnetogram_path, float(lon))
               for t, pair, lon in zip(times.unix, pairs, l0)]
    return sorted(archive, key=lambda item: item.time_unix)


def training_reference(archive: Sequence[ReferencePair], time_unix: float,
                       lag_days: tuple[float, float] = DEFAULT_LAG_DAYS) -> ReferencePair | None:
    """A training pair's reference: one of the archive pairs observed ``lag_days`` = (low,
    high) days before ``time_unix``, drawn at random with a generator seeded by the time
    (the same pair gets the same reference on every run); None if there is none."""
    low, high = lag_days
    candidates = [item for item in archive
                  if low * DAY_S <= time_unix - item.time_unix <= high * DAY_S]
    if not candidates:
        return None
    rng = np.random.default_rng(int(round(time_unix)) % 2**32)
    return candidates[int(rng.integers(len(candidates)))]


def far_side_reference(archive: Sequence[ReferencePair], time_unix: float,
                       centre_carrington_lon_deg: float, max_lag_days: float,
                       max_offset_deg: float = MAX_CENTRE_OFFSET_DEG) -> ReferencePair | None:
    """A far-side input's reference: the most recent archive pair, at most
    ``max_lag_days`` old, whose Earth-facing central meridian L0 lay within
    ``max_offset_deg`` of the input's disk centre ``centre_carrington_lon_deg``; None if
    there is none."""
    for item in sorted(archive, key=lambda item: -item.time_unix):
        age_s = time_unix - item.time_unix
        if age_s < 0:
            continue
        if age_s > max_lag_days * DAY_S:
            break
        if float(longitude_distance_deg(item.l0_deg, centre_carrington_lon_deg)) <= max_offset_deg:
            return item
    return None


def rotated_reference(euv_map: Any, magnetogram_map: Any, target_map: Any,
                      euv_normalization: Normalization, magnetogram_normalization: Normalization,
                      radius_px: float) -> np.ndarray:
    """The three reference channels in the target's view (see the module docstring).

    Args:
        euv_map, magnetogram_map: the reference AIA (DN/s) and HMI (G) images prepared on
            the standard frame (:func:`data_prep.prepare.prepare_map`), sunpy maps.
        target_map: the input's prepared map (its observer and time are the destination).
        euv_normalization, magnetogram_normalization: the pair file's scalings.
        radius_px: the frame's solar radius, pixels.

    Returns:
        (H, W, 3) float32: normalised EUV, normalised B_LOS, mask (1 or 0).
    """
    from reproject import reproject_interp
    from sunpy.coordinates import propagate_with_solar_surface

    size = int(target_map.data.shape[0])
    mu_reference = mu_map(size, radius_px)
    visible = mu_reference >= MU_FLOOR  # NaN off the disk compares False
    radial_gauss = np.where(visible, np.asarray(magnetogram_map.data, float)
                            / np.where(visible, mu_reference, 1.0), np.nan)
    stack = np.stack([euv_normalization.normalize(np.asarray(euv_map.data, float)),
                      radial_gauss, np.where(visible, 1.0, np.nan)])
    with propagate_with_solar_surface():
        rotated, _ = reproject_interp((stack, euv_map.wcs), target_map.wcs,
                                      shape_out=target_map.data.shape)
    mask = np.isfinite(rotated).all(axis=0) & disk_mask(size, radius_px)
    mu_target = np.nan_to_num(mu_map(size, radius_px))
    euv = np.where(mask, rotated[0], 0.0)
    magnetogram = np.where(mask, magnetogram_normalization.normalize(
        np.nan_to_num(rotated[1]) * mu_target), 0.0)
    return np.stack([euv, magnetogram, mask.astype(float)], axis=-1).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class ReferencePreparation:
    """How a reference pair's AIA and HMI files are prepared: as the training pairs' were
    (frame, masks, median scaling, normalisations; sizes in pixels, radii in R_sun)."""

    image_size: int
    radius_px: float
    wavelength: int | None
    euv_mask_rsun: float | None
    euv_median_dn_s: float | None
    magnetogram_mask_rsun: float | None
    euv_normalization: Normalization
    magnetogram_normalization: Normalization
    degradation_table: str | None = None

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> "ReferencePreparation":
        """From a configuration's ``data`` section (a trained model's ``config.json``)."""
        from data_prep.normalization import euv_normalization, magnetogram_normalization

        return cls(int(data["image_size"]), float(data["radius_px"]),
                   data["input_channels"][0]["wavelength"], data["euv_mask_rsun"],
                   data["euv_median_dn_s"], data["magnetogram_mask_rsun"],
                   euv_normalization(*data["euv_clip_dn_s"]),
                   magnetogram_normalization(data["magnetogram_limit_gauss"]))


@functools.lru_cache(maxsize=16)
def prepared_reference(reference: ReferencePair, preparation: ReferencePreparation
                       ) -> tuple[Any, Any]:
    """The reference's AIA (DN/s) and HMI (G) files prepared as ``preparation`` says
    (:func:`data_prep.prepare.prepare_map`), as sunpy maps. Cached (the last 16 pairs in
    a process): one archive pair serves many inputs (a far-side time's STEREO-A, STEREO-B
    and Solar Orbiter images, training pairs days apart), and preparing a 4096 x 4096 file
    costs more than the rotation."""
    from data_prep.prepare import prepare_map

    euv_map = prepare_map(reference.euv_path, "aia", preparation.image_size,
                          preparation.radius_px, expected_wavelength=preparation.wavelength,
                          mask_radius_rsun=preparation.euv_mask_rsun,
                          median_scale_to=preparation.euv_median_dn_s,
                          degradation_table=preparation.degradation_table)
    magnetogram_map = prepare_map(reference.magnetogram_path, "hmi", preparation.image_size,
                                  preparation.radius_px,
                                  mask_radius_rsun=preparation.magnetogram_mask_rsun)
    return euv_map, magnetogram_map


def reference_channels(reference: ReferencePair, target_map: Any,
                       preparation: ReferencePreparation) -> np.ndarray:
    """The reference pair's three channels (H, W, 3) for ``target_map`` (the input's first
    prepared channel): the reference's files prepared (:func:`prepared_reference`), then
    rotated (:func:`rotated_reference`)."""
    euv_map, magnetogram_map = prepared_reference(reference, preparation)
    return rotated_reference(euv_map, magnetogram_map, target_map, preparation.euv_normalization,
                             preparation.magnetogram_normalization, preparation.radius_px)


def no_reference(image_size: int) -> np.ndarray:
    """The ``--no-reference`` fallback: the three channels all 0 (nothing seen), (H, W, 3)."""
    return np.zeros((image_size, image_size, 3), np.float32)


def reference_cards(reference: ReferencePair | None, time_unix: float) -> dict[str, Any]:
    """Header cards recording a sample's reference: REFTIME (ISO 8601 UTC), REFLAG (days),
    REFEUV and REFMAG (file names); REFTIME 'none' without one."""
    from pathlib import Path

    if reference is None:
        return {"REFTIME": "none"}
    return {"REFTIME": reference.time_iso,
            "REFLAG": round((time_unix - reference.time_unix) / DAY_S, 4),
            "REFEUV": Path(reference.euv_path).name,
            "REFMAG": Path(reference.magnetogram_path).name}


def scan_archive(sources: Any, wavelength: int | None, tolerance_s: float) -> list[ReferencePair]:
    """The reference archive of ``generate --reference-archive``: SDO/AIA files of the
    model's first channel and SDO/HMI line-of-sight magnetograms (files or folders, mixed),
    paired by time within ``tolerance_s`` (:func:`data_prep.pairing.pair_by_time`).

    A file of another instrument (a reference pair is AIA + HMI, as SDO observes it from
    Earth) or an archive without a single pair is refused: FitsInputError, one line naming
    the file or the archive."""
    from data_prep.fitsio import KIND_NAMES, FitsInputError, identify, read_header
    from data_prep.pairing import expand_paths, pair_by_time

    files = expand_paths(sources)
    if not files:
        raise FitsInputError(f"--reference-archive {sources}: no FITS files")
    by_kind: dict[str, list[str]] = {"aia": [], "hmi": []}
    for path in files:
        kind = identify(read_header(path))
        if kind not in by_kind:
            raise FitsInputError(
                f"{path}: a {KIND_NAMES.get(kind or '', 'non-SDO')} file in the reference "
                "archive; a reference pair is SDO/AIA + SDO/HMI (the near side, seen from Earth)")
        by_kind[kind].append(path)
    report = pair_by_time(by_kind["aia"], by_kind["hmi"], tolerance_s=tolerance_s,
                          euv_kind="aia", expected_wavelength=wavelength)
    if not report.pairs:
        raise FitsInputError(
            f"--reference-archive: no AIA {wavelength or ''} + HMI pair within {tolerance_s:g} s "
            f"among {len(files)} files ({len(by_kind['aia'])} AIA, {len(by_kind['hmi'])} HMI)")
    return archive_from_pairs(report.pairs)
