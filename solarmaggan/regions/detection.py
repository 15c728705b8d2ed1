"""Active regions detected on a full-Sun B_r map (Carrington CEA grid, rows equal in sine
latitude, so every pixel has the same area on the sphere).

A line-of-sight magnetogram of any observer is first put on that grid as B_r = B_los / mu
(:func:`solarmaggan.fullsun.synchronic.input_on_grid`, the path of the synchronic maps);
a full-Sun map is used as it is. Then, in :func:`detect_regions`:

1. **Smoothing.** B_r smoothed with a Gaussian of ``smooth_deg`` (periodic in longitude;
   normalised by the smoothed coverage, so that the edge of an observer's view is not
   darkened). The map is rolled in longitude so that its first column is the meridian of
   least field (no region crosses the edge).
2. **Patches**: connected (8-connected, scikit-image) areas where the smoothed B_r is at
   least ``threshold_gauss`` (default :data:`data_prep.toysun.region_truth.AREA_GAUSS`,
   the threshold of the truth's areas) or at most minus it: one polarity each.
3. **Bipolar grouping**: positive and negative patches paired, the nearest pair first
   (centroid distance at most ``pair_deg``); every other patch then joins the region with
   the nearest patch within ``pair_deg`` (fragments, plage). A region's footprint is its
   patches dilated by ``group_deg`` (a disk), without pixels a stronger region has taken.
4. **Kept** when its patches' area is at least ``min_area_msh`` and each polarity carries at
   least ``min_balance`` of its unsigned flux (a unipolar patch is not an active region).
5. **Measured** over the component (the dilated footprint, so that the regions' weak
   wings count): unsigned flux sum ``|B_r|`` dA (Mx), the flux-weighted centroid (the mean of
   unit vectors), the core area (msh), the leading polarity (the polarity whose centroid
   lies to the west), the tilt of the axis from the following to the leading centroid to
   the east-west line (deg, positive when the leading polarity is nearer the equator, as
   Joy's law), and the fraction of the footprint the input covers.

Written by hand on numpy, scipy and scikit-image: no well-kept package detects regions on
a full-Sun CEA grid (sunpy has none; SHARP/SMARP and the NOAA regions are made by JSOC/NOAA
pipelines on HMI's own data).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from data_prep.geometry import full_sun_latitudes_deg, full_sun_pixel_area_cm2
from data_prep.toysun.region_truth import AREA_GAUSS, MSH_CM2, unit_vectors, weighted_centroid_deg


@dataclasses.dataclass(frozen=True)
class DetectionSettings:
    """How regions are detected (module docstring).

    Attributes:
        threshold_gauss: patches where the smoothed ``|B_r|`` reaches this (G).
        smooth_deg: Gaussian sigma of the smoothing (deg of latitude at the equator).
        group_deg: radius of the grouping dilation (deg).
        min_area_msh: smallest core area kept (millionths of a hemisphere).
        min_balance: smallest share of the unsigned flux in each polarity.
        pair_deg: largest distance (deg) between the centroids of a region's patches.
        mu_min: line-of-sight inputs are used where mu >= mu_min (B_r = B_los / mu).
        shape: (nlat, nlon) of the grid line-of-sight inputs are put on.
    """

    threshold_gauss: float = AREA_GAUSS
    smooth_deg: float = 1.0
    group_deg: float = 2.0
    min_area_msh: float = 100.0
    min_balance: float = 0.1
    pair_deg: float = 25.0
    mu_min: float = 0.2
    shape: tuple[int, int] = (180, 360)

    def check(self) -> list[str]:
        from data_prep.geometry import check_full_sun_shape

        problems = []
        for name in ("threshold_gauss", "smooth_deg", "group_deg", "pair_deg"):
            if not getattr(self, name) > 0:
                problems.append(f"{name.replace('_', ' ')} must be > 0, got {getattr(self, name)}")
        if not self.min_area_msh >= 0:
            problems.append(f"min area must be >= 0 msh, got {self.min_area_msh}")
        if not 0 <= self.min_balance < 0.5:
            problems.append(f"min balance must lie in [0, 0.5), got {self.min_balance}")
        if not 0 < self.mu_min < 1:
            problems.append(f"mu min must lie in (0, 1), got {self.mu_min}")
        try:
            check_full_sun_shape(self.shape)
        except ValueError as err:
            problems.append(str(err))
        return problems


@dataclasses.dataclass
class DetectedRegion:
    """One region on the grid (module docstring, step 5). Positions in deg (Carrington
    longitude in [0, 360)), flux in Mx, area in msh; ``footprint`` (nlat, nlon) bool."""

    carrington_lon_deg: float
    carrington_lat_deg: float
    area_msh: float
    flux_mx: float
    leading_polarity: int
    tilt_deg: float
    covered_fraction: float
    footprint: np.ndarray


def grid_index(latitude_deg: float, longitude_deg: float, rows: int,
               column_longitudes_deg: np.ndarray) -> tuple[int, int]:
    """(row, column) of the pixel of a full-Sun CEA grid of ``rows`` rows and pixel-centre
    longitudes ``column_longitudes_deg`` that holds the position (deg)."""
    from data_prep.geometry import longitude_distance_deg

    row = int(np.clip(math.floor((math.sin(math.radians(latitude_deg)) + 1.0) * rows / 2.0), 0, rows - 1))
    return row, int(np.argmin(longitude_distance_deg(column_longitudes_deg, longitude_deg)))


def _disk(radius: float) -> np.ndarray:
    from skimage.morphology import disk

    return disk(max(int(round(radius)), 1)).astype(bool)


def smoothed_field(br_gauss: np.ndarray, smooth_px: tuple[float, float]) -> np.ndarray:
    """B_r (G) smoothed by a Gaussian of ``smooth_px`` (rows, columns) pixels, periodic in
    longitude, normalised by the smoothed coverage; NaN where ``br_gauss`` is NaN."""
    from scipy.ndimage import gaussian_filter

    covered = np.isfinite(br_gauss)
    strength = np.where(covered, br_gauss, 0.0)
    options = {"sigma": smooth_px, "mode": ("nearest", "wrap")}
    weight = gaussian_filter(covered.astype(float), **options)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(covered, gaussian_filter(strength, **options) / weight, np.nan)


def seam_shift(strength: np.ndarray) -> int:
    """Columns to roll a full-Sun map by so that its first column is the longitude of least
    total strength (no region crosses it: the map is then segmented as a plain image)."""
    return -int(np.argmin(np.nansum(strength, axis=0)))


def _blobs(signed: np.ndarray, threshold: float, sign: int, vectors: np.ndarray,
           field: np.ndarray) -> list[dict[str, Any]]:
    """The connected patches (8-connected) where sign x ``signed`` >= ``threshold``: their
    pixels, unsigned flux weight (sum of sign x field, G x pixels) and centroid vector."""
    from skimage.measure import label

    labels = label(np.nan_to_num(sign * signed) >= threshold, connectivity=2)
    blobs = []
    for number in range(1, int(labels.max()) + 1):
        pixels = labels == number
        weight = np.clip(sign * field[pixels], 0.0, None)
        if weight.sum() <= 0:
            continue
        centre = np.sum(vectors[pixels] * weight[:, None], axis=0)
        blobs.append({"pixels": pixels, "weight": float(weight.sum()), "sign": sign,
                      "centre": centre / np.linalg.norm(centre)})
    return blobs


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    return math.degrees(math.acos(float(np.clip(np.dot(a, b), -1.0, 1.0))))


def detect_regions(br_gauss: np.ndarray, longitude_deg: np.ndarray,
                   settings: DetectionSettings = DetectionSettings()) -> list[DetectedRegion]:
    """The active regions of a full-Sun CEA map ``br_gauss`` (nlat, nlon) (G; NaN where the
    input does not see), its pixel-centre Carrington longitudes ``longitude_deg`` (nlon,)
    (module docstring). Sorted by flux, strongest first."""
    from skimage.morphology import dilation

    br_gauss = np.asarray(br_gauss, dtype=np.float64)
    rows, cols = br_gauss.shape
    latitude = full_sun_latitudes_deg(rows)
    deg_per_col = 360.0 / cols
    deg_per_row = math.degrees(2.0 / rows)  # at the equator
    smooth = (settings.smooth_deg / deg_per_row, settings.smooth_deg / deg_per_col)
    signed = smoothed_field(br_gauss, smooth)
    shift = seam_shift(np.abs(signed))
    br_gauss, signed = np.roll(br_gauss, shift, axis=1), np.roll(signed, shift, axis=1)
    longitude_deg = np.roll(np.asarray(longitude_deg, dtype=np.float64), shift)
    field = np.nan_to_num(br_gauss)
    vectors = unit_vectors(np.broadcast_to(latitude[:, None], (rows, cols)),
                           np.broadcast_to(longitude_deg[None, :], (rows, cols)))
    blobs = [*_blobs(signed, settings.threshold_gauss, 1, vectors, field),
             *_blobs(signed, settings.threshold_gauss, -1, vectors, field)]
    # pairs of opposite polarities, nearest first; then each other patch joins the nearest
    # region within pair_deg
    candidates = sorted((_angle_deg(a["centre"], b["centre"]), i, j)
                        for i, a in enumerate(blobs) if a["sign"] > 0
                        for j, b in enumerate(blobs) if b["sign"] < 0)
    member: dict[int, int] = {}
    groups: list[list[int]] = []
    for distance, i, j in candidates:
        if distance > settings.pair_deg:
            break
        if i not in member and j not in member:
            member[i] = member[j] = len(groups)
            groups.append([i, j])
    for index, blob in sorted(enumerate(blobs), key=lambda item: -item[1]["weight"]):
        if index in member or not groups:
            continue
        distance, group = min((min(_angle_deg(blob["centre"], blobs[k]["centre"]) for k in members), number)
                              for number, members in enumerate(groups))
        if distance <= settings.pair_deg:
            member[index] = group
            groups[group].append(index)
    area_cm2 = full_sun_pixel_area_cm2((rows, cols))
    claimed = np.zeros((rows, cols), dtype=bool)
    radius = _disk(settings.group_deg / deg_per_col)
    regions = []
    order = sorted(groups, key=lambda members: -sum(blobs[k]["weight"] for k in members))
    for members in order:
        cores = np.logical_or.reduce([blobs[k]["pixels"] for k in members])
        footprint = dilation(cores, radius) & ~claimed
        claimed |= footprint
        core_area = float(np.count_nonzero(cores)) * area_cm2 / MSH_CM2
        if core_area < settings.min_area_msh:
            continue
        values, where = field[footprint], vectors[footprint]
        positive, negative = np.clip(values, 0, None), np.clip(-values, 0, None)
        unsigned = float(positive.sum() + negative.sum())
        if unsigned <= 0 or min(positive.sum(), negative.sum()) < settings.min_balance * unsigned:
            continue
        lat, lon = weighted_centroid_deg(where, positive + negative)
        lat_pos, lon_pos = weighted_centroid_deg(where, positive)
        lat_neg, lon_neg = weighted_centroid_deg(where, negative)
        east_west = (lon_pos - lon_neg + 180.0) % 360.0 - 180.0  # > 0: positive to the west
        leading = 1 if east_west > 0 else -1
        lat_lead, lat_follow = (lat_pos, lat_neg) if leading > 0 else (lat_neg, lat_pos)
        towards_equator = (lat_follow - lat_lead) * (1.0 if lat >= 0 else -1.0)
        tilt = math.degrees(math.atan2(towards_equator, abs(east_west) * math.cos(math.radians(lat))))
        regions.append(DetectedRegion(
            lon, lat, core_area, unsigned * area_cm2, leading, tilt,
            float(np.isfinite(br_gauss[footprint]).mean()), np.roll(footprint, -shift, axis=1)))
    return sorted(regions, key=lambda region: -region.flux_mx)
