"""The toy Sun's photospheric radial field on the whole sphere, in Carrington coordinates.

The field is a sum of Gaussian flux concentrations on the sphere (each a latitude,
longitude, sigma and signed peak field) plus the polar caps:

* bipolar active regions (:class:`ActiveRegion`) in the activity belts (5-35 deg), with
  Joy's law (tilt 0.5 ``|latitude|``, the leading spot nearer the equator) and Hale's law (the
  leading polarity ``north_leading_polarity`` in the north, the opposite in the south),
  peak fields 300-3000 G, each flux balanced;
* coronal holes (:class:`CoronalHole`): unipolar patches of weak field (4-10 G);
* the mixed-polarity network: elements of ~1.5e19 Mx (sigma 0.5 deg) along the boundaries
  of supergranular cells (:func:`random_network`);
* polar fields of opposite signs at the two poles, ``B_r = +-polar_gauss |sin(lat)|^8``
  (the sign of the north pole is the following polarity of the north, i.e. the polar
  field after the reversal).

A :class:`SunState` holds these at one instant and evaluates them on a Carrington
latitude-longitude grid (``grid_deg``, 0.2 deg by default); every product of the toy Sun
(each spacecraft's view, each truth map) samples that one grid, so all agree. Dark
filaments (:class:`Filament`) are carried along for the EUV images. Units: degrees, Gauss;
longitudes are Carrington, increasing to the west (in the direction of rotation).
Only numpy and scipy are needed.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from data_prep.geometry import RSUN_REF_M

ACTIVE_LATITUDES_DEG = (5.0, 35.0)  # the activity belts
PEAK_GAUSS_RANGE = (300.0, 3000.0)  # leading-spot peak, drawn log-uniformly
JOY_COEFFICIENT = 0.5  # tilt = 0.5 |latitude| (deg)
NETWORK_ELEMENT_DEG = 0.5  # Gaussian sigma of a network element
NETWORK_FLUX_MX = 1.5e19  # median flux of a network element (network concentrations ~1e19 Mx)
NETWORK_ELEMENTS = 6000  # network elements on the whole sphere (~3000 on a hemisphere)
SUPERGRANULE_SPACING_DEG = 2.5  # mean distance between supergranular cell centres (~30 Mm)
NETWORK_LANE_DEG = 0.25  # elements lie within ~0.25 deg of a cell boundary
HOLE_RADIUS_DEG = (7.0, 14.0)  # radius of the patch, drawn uniformly
HOLE_GAUSS = (4.0, 10.0)  # mean radial field over the patch (coronal holes: a few G)
HOLE_ELEMENT_AREA_DEG2 = 4.0  # one unipolar concentration per 4 deg^2 of the patch
POLAR_HOLE_LATITUDES_DEG = (58.0, 70.0)  # centres of polar holes
POLAR_GAUSS = 10.0  # radial field at the poles (G; cycle-minimum polar fields ~5-15 G)
POLAR_EXPONENT = 8.0  # B_r = +-POLAR_GAUSS |sin(lat)|^8: concentrated poleward of ~60 deg
GRID_DEG = 0.2  # resolution of the Carrington grid the field is evaluated on
REACH_SIGMAS = 4.0  # a Gaussian concentration is evaluated out to 4 sigma (exp(-8) ~ 3e-4)


# -- structures -------------------------------------------------------------------------------
@dataclasses.dataclass
class ActiveRegion:
    """A bipolar active region, placed in heliographic coordinates.

    Attributes:
        latitude_deg, longitude_deg: heliographic position of the bipole's centre (deg);
            longitude increases to the west (Carrington, or from the central meridian of a
            snapshot).
        tilt_deg: Joy's-law tilt of the bipole axis to the east-west line (deg); positive
            means the leading (western) spot is nearer the equator, in either hemisphere.
        peak_gauss: radial field at the centre of the leading spot (G, > 0).
        separation_deg: distance between the leading and following centres (deg).
        leading_polarity: sign (+1 / -1) of the leading (western) polarity.
        spot_sigma_deg: Gaussian sigma of the leading spot (deg).
        structure_seed: seed of the fragments' and loops' layout, so a region keeps its
            shape wherever it is placed.
    """

    latitude_deg: float
    longitude_deg: float
    tilt_deg: float
    peak_gauss: float
    separation_deg: float
    leading_polarity: int
    spot_sigma_deg: float = 1.3
    structure_seed: int = 0

    def __post_init__(self) -> None:
        if self.leading_polarity not in (1, -1):
            raise ValueError(f"leading_polarity must be +1 or -1, got {self.leading_polarity}")
        for name in ("peak_gauss", "separation_deg", "spot_sigma_deg"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not -80.0 <= self.latitude_deg <= 80.0:
            raise ValueError(f"latitude_deg must be within +-80 deg, got {self.latitude_deg}")

    def offset(self, west_deg: Any, north_deg: Any) -> tuple[np.ndarray, np.ndarray]:
        """(latitude, longitude) in deg of points offset west / north (deg of arc) from the
        centre (a local flat approximation, good for offsets of a few degrees)."""
        latitude = self.latitude_deg + np.asarray(north_deg, dtype=np.float64)
        longitude = self.longitude_deg + np.asarray(west_deg, dtype=np.float64) / math.cos(
            math.radians(self.latitude_deg)
        )
        return latitude, longitude

    def leading_offset(self) -> tuple[float, float]:
        """(west, north) offset in deg of the leading centre; the following one is opposite."""
        half = 0.5 * self.separation_deg
        tilt = math.radians(self.tilt_deg)
        towards_equator = -1.0 if self.latitude_deg >= 0 else 1.0
        return half * math.cos(tilt), towards_equator * half * math.sin(tilt)

    def leading_position(self) -> tuple[float, float]:
        """(latitude, longitude) in deg of the leading spot's centre."""
        latitude, longitude = self.offset(*self.leading_offset())
        return float(latitude), float(longitude)

    def following_position(self) -> tuple[float, float]:
        """(latitude, longitude) in deg of the following polarity's centre."""
        west, north = self.leading_offset()
        latitude, longitude = self.offset(-west, -north)
        return float(latitude), float(longitude)

    def flux_elements(self) -> dict[str, np.ndarray]:
        """The Gaussian field concentrations making up the region, as 1-D arrays:
        ``latitude_deg``, ``longitude_deg``, ``sigma_deg`` and ``gauss`` (signed radial peak
        field, G). The leading side is a compact spot with two satellites and a plage halo;
        the following side a weaker, wider core with four fragments and a halo; the
        following amplitudes are scaled so the region's net flux is zero."""
        rng = np.random.default_rng(self.structure_seed)
        sigma = self.spot_sigma_deg
        west, north = self.leading_offset()
        halo_gauss = 60.0 + 0.03 * self.peak_gauss
        lead_west = np.concatenate([[west], west + rng.normal(0, sigma, 2), [west]])
        lead_north = np.concatenate([[north], north + rng.normal(0, sigma, 2), [north]])
        lead_sigma = np.array([sigma, *rng.uniform(0.4, 0.7, 2) * sigma, 2.5 * sigma])
        lead_gauss = np.array(
            [self.peak_gauss, *rng.uniform(0.1, 0.3, 2) * self.peak_gauss, halo_gauss]
        )
        follow_sigma_core = 1.4 * sigma
        follow_west = np.concatenate([[-west], -west + rng.normal(0, 1.5 * sigma, 4), [-west]])
        follow_north = np.concatenate([[-north], -north + rng.normal(0, 1.5 * sigma, 4), [-north]])
        follow_sigma = np.array(
            [follow_sigma_core, *rng.uniform(0.5, 0.9, 4) * sigma, 2.5 * follow_sigma_core]
        )
        follow_gauss = np.array(
            [0.5 * self.peak_gauss, *rng.uniform(0.15, 0.4, 4) * self.peak_gauss, halo_gauss]
        )
        # flux of a Gaussian ~ peak * sigma^2: balance the following side against the leading
        follow_gauss *= np.sum(lead_gauss * lead_sigma**2) / np.sum(follow_gauss * follow_sigma**2)
        latitude, longitude = self.offset(
            np.concatenate([lead_west, follow_west]), np.concatenate([lead_north, follow_north])
        )
        polarity = self.leading_polarity
        return {
            "latitude_deg": latitude,
            "longitude_deg": longitude,
            "sigma_deg": np.concatenate([lead_sigma, follow_sigma]),
            "gauss": np.concatenate([polarity * lead_gauss, -polarity * follow_gauss]),
        }


@dataclasses.dataclass
class CoronalHole:
    """A coronal hole: a unipolar patch of weak field, in heliographic coordinates.

    Attributes:
        latitude_deg, longitude_deg: heliographic position of the patch centre (deg).
        radius_deg: radius of the patch (deg of arc).
        gauss: mean radial field over the patch (G, > 0; coronal holes: a few G).
        polarity: its sign (+1 / -1).
        structure_seed: seed of the layout of its unipolar concentrations.
    """

    latitude_deg: float
    longitude_deg: float
    radius_deg: float
    gauss: float
    polarity: int
    structure_seed: int = 0

    def __post_init__(self) -> None:
        if self.polarity not in (1, -1):
            raise ValueError(f"polarity must be +1 or -1, got {self.polarity}")
        for name in ("radius_deg", "gauss"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not -85.0 <= self.latitude_deg <= 85.0:
            raise ValueError(f"latitude_deg must be within +-85 deg, got {self.latitude_deg}")

    def flux_elements(self) -> dict[str, np.ndarray]:
        """The patch's field as Gaussian concentrations of one sign: one per
        ``HOLE_ELEMENT_AREA_DEG2``, placed uniformly over the patch, sigma 0.4-0.8 deg,
        log-normal peaks (sigma 0.4) scaled so that the mean field over the patch is
        ``gauss``."""
        rng = np.random.default_rng(self.structure_seed)
        area = math.pi * self.radius_deg**2
        count = max(8, int(round(area / HOLE_ELEMENT_AREA_DEG2)))
        distance = self.radius_deg * np.sqrt(rng.uniform(0.0, 1.0, count))
        angle = rng.uniform(0.0, 2.0 * math.pi, count)
        sigma = NETWORK_ELEMENT_DEG * rng.uniform(0.8, 1.6, count)
        weight = np.exp(rng.normal(0.0, 0.4, count))
        # flux of a Gaussian: peak * 2 pi sigma^2; total flux = gauss * area
        peak = weight * self.gauss * area / np.sum(weight * 2.0 * math.pi * sigma**2)
        latitude = np.clip(self.latitude_deg + distance * np.sin(angle), -89.0, 89.0)
        longitude = self.longitude_deg + distance * np.cos(angle) / math.cos(
            math.radians(self.latitude_deg)
        )
        return {"latitude_deg": latitude, "longitude_deg": longitude, "sigma_deg": sigma,
                "gauss": self.polarity * peak}


@dataclasses.dataclass
class Filament:
    """A dark filament: a gently curved strand on the sphere.

    Attributes:
        latitude_deg, longitude_deg: 1-D arrays, points along its spine (deg).
        width_deg: Gaussian half-width across the spine (deg).
        depth: fraction of the EUV emission absorbed on the spine (0-1).
    """

    latitude_deg: np.ndarray
    longitude_deg: np.ndarray
    width_deg: float
    depth: float

    def darkening(self, points: np.ndarray) -> np.ndarray:
        """Multiplicative EUV factor (<= 1) at surface points given as unit vectors (N, 3)
        in the same frame as the spine (see :func:`unit_vectors`)."""
        spine = unit_vectors(self.latitude_deg, self.longitude_deg)
        middle = spine[len(spine) // 2]
        width = math.radians(self.width_deg)
        reach = max(float(np.arccos(np.clip(spine @ middle, -1, 1)).max()), 0.0) + 4.0 * width
        factor = np.ones(len(points))
        near = np.flatnonzero(points @ middle > math.cos(min(reach, math.pi)))
        if near.size:
            nearest = (points[near] @ spine.T).max(axis=1)  # cos of the angle to the spine
            factor[near] = 1.0 - self.depth * np.exp((nearest - 1.0) / width**2)
        return factor


def joy_tilt_deg(latitude_deg: float) -> float:
    """Mean Joy's-law tilt (deg) of a bipole at ``latitude_deg``: 0.5 ``|latitude|``."""
    return JOY_COEFFICIENT * abs(float(latitude_deg))


def random_active_region(
    rng: np.random.Generator,
    north_leading_polarity: int = -1,
    *,
    latitude_deg: float | None = None,
    longitude_deg: float | None = None,
) -> ActiveRegion:
    """Draw one bipole: ``|latitude|`` ~ N(17, 7) deg clipped to the 5-35 deg belts (random
    hemisphere), longitude uniform in +-70 deg unless given, peak field log-uniform in
    300-3000 G, separation 4-12 deg growing with the peak, Joy tilt 0.5 ``|lat|`` times a
    log-normal factor (sigma 0.3), leading polarity from Hale's law."""
    low, high = ACTIVE_LATITUDES_DEG
    if latitude_deg is None:
        latitude_deg = float(np.clip(rng.normal(17.0, 7.0), low, high) * rng.choice([-1.0, 1.0]))
    if longitude_deg is None:
        longitude_deg = float(rng.uniform(-70.0, 70.0))
    peak = float(np.exp(rng.uniform(*np.log(PEAK_GAUSS_RANGE))))
    strength = math.sqrt(peak / PEAK_GAUSS_RANGE[1])
    hemisphere = 1 if latitude_deg >= 0 else -1
    return ActiveRegion(
        latitude_deg=latitude_deg,
        longitude_deg=longitude_deg,
        tilt_deg=joy_tilt_deg(latitude_deg) * float(np.exp(rng.normal(0.0, 0.3))),
        peak_gauss=peak,
        separation_deg=(4.0 + 8.0 * strength) * float(rng.uniform(0.85, 1.15)),
        leading_polarity=int(north_leading_polarity) * hemisphere,
        spot_sigma_deg=0.8 + 0.9 * strength,
        structure_seed=int(rng.integers(2**31)),
    )


def random_coronal_hole(
    rng: np.random.Generator,
    north_leading_polarity: int = -1,
    *,
    polar: bool | None = None,
    longitude_deg: float | None = None,
) -> CoronalHole:
    """Draw one coronal hole: polar (half of them unless ``polar`` is given; centre at
    58-70 deg latitude, the polarity of that hemisphere's polar field) or at low latitude
    (within +-40 deg, either polarity); longitude uniform in +-50 deg unless given; radius
    7-14 deg; mean field 4-10 G."""
    if polar is None:
        polar = bool(rng.uniform() < 0.5)
    hemisphere = float(rng.choice([-1.0, 1.0]))
    if polar:
        latitude = hemisphere * float(rng.uniform(*POLAR_HOLE_LATITUDES_DEG))
        polarity = -int(north_leading_polarity) * int(hemisphere)
    else:
        latitude = float(rng.uniform(-40.0, 40.0))
        polarity = int(rng.choice([-1, 1]))
    longitude = float(rng.uniform(-50.0, 50.0)) if longitude_deg is None else float(longitude_deg)
    return CoronalHole(
        latitude_deg=latitude,
        longitude_deg=longitude,
        radius_deg=float(rng.uniform(*HOLE_RADIUS_DEG)),
        gauss=float(rng.uniform(*HOLE_GAUSS)),
        polarity=polarity,
        structure_seed=int(rng.integers(2**31)),
    )


def random_filament(rng: np.random.Generator, longitude_deg: float | None = None) -> Filament:
    """A strand 8-25 deg long, 0.6-1.2 deg wide, at 15-55 deg latitude, at 60 deg or less
    to the east-west line, gently bent, absorbing 40-75 % on its spine; longitude uniform in
    +-60 deg unless given."""
    latitude = float(rng.uniform(15.0, 55.0) * rng.choice([-1.0, 1.0]))
    longitude = float(rng.uniform(-60.0, 60.0)) if longitude_deg is None else float(longitude_deg)
    length = float(rng.uniform(8.0, 25.0))
    angle = math.radians(rng.uniform(-60.0, 60.0))
    bend = float(rng.uniform(-2.0, 2.0))
    width = float(rng.uniform(0.6, 1.2))
    depth = float(rng.uniform(0.4, 0.75))
    t = np.linspace(-0.5, 0.5, max(8, int(length / 0.4)))
    along, across = t * length, bend * (1.0 - 4.0 * t**2)
    west = along * math.cos(angle) - across * math.sin(angle)
    north = along * math.sin(angle) + across * math.cos(angle)
    return Filament(latitude + north, longitude + west / math.cos(math.radians(latitude)),
                    width, depth)


def network_peak_gauss(flux_mx: float = NETWORK_FLUX_MX) -> float:
    """Peak radial field (G) of a network element of ``flux_mx`` Mx spread over a Gaussian of
    sigma ``NETWORK_ELEMENT_DEG`` on the solar surface: flux / (2 pi sigma^2); 6.5 G for the
    default 1.5e19 Mx."""
    sigma_cm = math.radians(NETWORK_ELEMENT_DEG) * RSUN_REF_M * 100.0
    return float(flux_mx) / (2.0 * math.pi * sigma_cm**2)


def random_network(
    rng: np.random.Generator, count: int = NETWORK_ELEMENTS, gauss: float | None = None,
    within: tuple[np.ndarray, float] | None = None,
) -> dict[str, np.ndarray]:
    """``count`` mixed-polarity network elements (flux elements as
    :meth:`ActiveRegion.flux_elements`) on the boundaries of random supergranular cells:
    cell centres uniform on the sphere ``SUPERGRANULE_SPACING_DEG`` apart on average; an
    element is kept where its distances to the two nearest centres differ by less than
    ~``NETWORK_LANE_DEG`` (a Voronoi edge). Random sign, log-normal peak (median ``gauss``,
    default :func:`network_peak_gauss`; sigma 0.4), sigma ``NETWORK_ELEMENT_DEG``.
    ``within``: (unit vector, minimum cosine) keeps them inside a cap (e.g. the visible
    hemisphere, ``count`` then counts the elements in it)."""
    gauss = network_peak_gauss() if gauss is None else float(gauss)
    empty = {key: np.zeros(0) for key in ("latitude_deg", "longitude_deg", "sigma_deg", "gauss")}
    if count <= 0 or gauss <= 0:
        return empty
    spacing = math.radians(SUPERGRANULE_SPACING_DEG)
    n_cells = int(4.0 * math.pi / spacing**2)
    cells = cKDTree(_random_unit_vectors(rng, n_cells))
    kept: list[np.ndarray] = []
    total = 0
    while total < count:
        candidates = _random_unit_vectors(rng, 4 * count)
        if within is not None:
            candidates = candidates[candidates @ within[0] >= within[1]]
        distance, _ = cells.query(candidates, k=2)
        lane = (distance[:, 1] - distance[:, 0]) / math.radians(NETWORK_LANE_DEG)
        keep = candidates[rng.uniform(size=len(candidates)) < np.exp(-0.5 * lane**2)]
        kept.append(keep)
        total += len(keep)
    points = np.concatenate(kept)[:count]
    latitude, longitude = vectors_to_latlon(points)
    strength = gauss * np.exp(rng.normal(0.0, 0.4, count))
    return {"latitude_deg": latitude, "longitude_deg": longitude,
            "sigma_deg": np.full(count, NETWORK_ELEMENT_DEG),
            "gauss": rng.choice([-1.0, 1.0], count) * strength}


def _random_unit_vectors(rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` unit vectors uniform on the sphere, (count, 3)."""
    vectors = rng.standard_normal((count, 3))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def polar_field_gauss(latitude_deg: Any, polar_gauss: float = POLAR_GAUSS,
                      north_polarity: int = 1) -> np.ndarray:
    """Radial polar field (G) at ``latitude_deg``: ``north_polarity * polar_gauss *
    sign(lat) |sin(lat)|^POLAR_EXPONENT``; opposite at the two poles, no net flux."""
    sine = np.sin(np.radians(np.asarray(latitude_deg, dtype=np.float64)))
    return north_polarity * polar_gauss * np.sign(sine) * np.abs(sine) ** POLAR_EXPONENT


# -- geometry on the sphere -------------------------------------------------------------------
def unit_vectors(latitude_deg: Any, longitude_deg: Any) -> np.ndarray:
    """Unit vectors (..., 3) of heliographic (latitude, longitude) in deg: x towards
    longitude 0 on the equator, y towards longitude 90 (west), z north."""
    lat = np.radians(np.asarray(latitude_deg, dtype=np.float64))
    lon = np.radians(np.asarray(longitude_deg, dtype=np.float64))
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)


def vectors_to_latlon(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(latitude, longitude in [0, 360)) in deg of vectors (..., 3) (see :func:`unit_vectors`)."""
    vectors = np.asarray(vectors, dtype=np.float64)
    latitude = np.degrees(np.arctan2(vectors[..., 2], np.hypot(vectors[..., 0], vectors[..., 1])))
    longitude = np.degrees(np.arctan2(vectors[..., 1], vectors[..., 0])) % 360.0
    return latitude, longitude


def concatenate_elements(groups: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """One set of flux elements from several (dicts of equal-length 1-D arrays)."""
    keys = ("latitude_deg", "longitude_deg", "sigma_deg", "gauss")
    return {key: np.concatenate([np.asarray(group[key], dtype=np.float64) for group in groups]
                                or [np.zeros(0)]) for key in keys}


class CarringtonGrid:
    """A latitude-longitude grid over the whole sphere: ``deg`` degrees a cell, cell centres
    at latitudes -90 + (i + 1/2) deg and longitudes (j + 1/2) deg; arrays (nlat, nlon)."""

    def __init__(self, deg: float = GRID_DEG) -> None:
        if not 0.01 <= deg <= 5.0 or abs(180.0 / deg - round(180.0 / deg)) > 1e-9:
            raise ValueError(f"grid_deg must divide 180 and lie in [0.01, 5], got {deg}")
        self.deg = float(deg)
        self.nlat = int(round(180.0 / deg))
        self.nlon = 2 * self.nlat
        self.latitude_deg = -90.0 + (np.arange(self.nlat) + 0.5) * self.deg
        self.longitude_deg = (np.arange(self.nlon) + 0.5) * self.deg

    def gaussians(self, elements: dict[str, np.ndarray]) -> np.ndarray:
        """The sum of Gaussian flux elements (G) on the grid. Elements sharing one sigma in
        large numbers (the network) are placed as impulses and smoothed in latitude and, row
        by row, in longitude (:meth:`_smoothed_impulses`); the others are evaluated each out
        to ``REACH_SIGMAS`` sigma as ``gauss * exp(-chord^2 / (2 sigma^2))`` with the chord
        between unit vectors (the angle, for small angles)."""
        field = np.zeros((self.nlat, self.nlon))
        sigmas = np.asarray(elements["sigma_deg"], dtype=np.float64)
        shared, counts = np.unique(sigmas, return_counts=True)
        many = set(shared[counts >= 200].tolist())
        group = np.isin(sigmas, list(many))
        for sigma in many:
            chosen = sigmas == sigma
            field += self._smoothed_impulses(elements["latitude_deg"][chosen],
                                             elements["longitude_deg"][chosen],
                                             elements["gauss"][chosen], float(sigma))
        sin_grid = np.sin(np.radians(self.latitude_deg))
        cos_grid = np.cos(np.radians(self.latitude_deg))
        for lat, lon, sigma, gauss in zip(elements["latitude_deg"][~group],
                                          elements["longitude_deg"][~group],
                                          sigmas[~group], elements["gauss"][~group]):
            reach = REACH_SIGMAS * sigma
            rows = np.flatnonzero(np.abs(self.latitude_deg - lat) <= reach)
            if rows.size == 0:
                continue
            poleward = min(89.9, max(abs(self.latitude_deg[rows[0]]),
                                     abs(self.latitude_deg[rows[-1]])))
            half_cols = reach / math.cos(math.radians(poleward)) / self.deg
            centre = int(math.floor((lon % 360.0) / self.deg))
            if 2 * half_cols + 1 >= self.nlon:
                cols = np.arange(self.nlon)
            else:
                span = int(math.ceil(half_cols)) + 1
                cols = (centre + np.arange(-span, span + 1)) % self.nlon
            cosine = (sin_grid[rows, None] * math.sin(math.radians(lat))
                      + cos_grid[rows, None] * math.cos(math.radians(lat))
                      * np.cos(np.radians(self.longitude_deg[cols][None, :] - lon)))
            field[np.ix_(rows, cols)] += gauss * np.exp(
                (cosine - 1.0) / math.radians(sigma) ** 2)
        return field

    def _smoothed_impulses(self, latitude_deg: np.ndarray, longitude_deg: np.ndarray,
                           gauss: np.ndarray, sigma_deg: float) -> np.ndarray:
        """Gaussians of one sigma (deg) and peaks ``gauss`` (G): impulses placed bilinearly
        on the grid, smoothed with sigma / grid_deg cells in latitude and
        sigma / (grid_deg cos(lat)) cells in longitude (periodic, by FFT, row by row),
        each impulse scaled so that its peak is ``gauss``. Exact for sigma much smaller than
        the distance to the pole."""
        rows = (np.asarray(latitude_deg) + 90.0) / self.deg - 0.5
        cols = (np.asarray(longitude_deg) % 360.0) / self.deg - 0.5
        sigma_rows = sigma_deg / self.deg
        cos_lat = np.maximum(np.cos(np.radians(self.latitude_deg)), 1e-3)
        sigma_cols = sigma_rows / cos_lat  # per grid row
        impulses = np.zeros((self.nlat, self.nlon))
        row0, col0 = np.floor(rows).astype(int), np.floor(cols).astype(int)
        for d_row in (0, 1):
            for d_col in (0, 1):
                weight = ((1 - abs(rows - row0 - d_row)) * (1 - abs(cols - col0 - d_col)))
                target = np.clip(row0 + d_row, 0, self.nlat - 1)
                np.add.at(impulses, (target, (col0 + d_col) % self.nlon), weight * gauss)
        impulses *= 2.0 * math.pi * sigma_rows * sigma_cols[:, None]  # peak = gauss
        smoothed = ndimage.gaussian_filter1d(impulses, sigma_rows, axis=0, mode="nearest",
                                             truncate=REACH_SIGMAS)
        frequency = np.fft.rfftfreq(self.nlon)
        transfer = np.exp(-2.0 * (math.pi * frequency[None, :] * sigma_cols[:, None]) ** 2)
        return np.fft.irfft(np.fft.rfft(smoothed, axis=1) * transfer, n=self.nlon, axis=1)

    def sample(self, values: np.ndarray, latitude_deg: Any, longitude_deg: Any) -> np.ndarray:
        """Bilinear interpolation of grid ``values`` (nlat, nlon), or of values already
        padded by :meth:`pad`, at points (deg); wraps in longitude, holds the polar rows
        beyond the last cell centre."""
        padded = values if values.shape[1] == self.nlon + 2 else self.pad(values)
        latitude_deg, longitude_deg = np.broadcast_arrays(
            np.asarray(latitude_deg, dtype=np.float64), np.asarray(longitude_deg, dtype=np.float64))
        rows = (latitude_deg.ravel() + 90.0) / self.deg - 0.5
        cols = (longitude_deg.ravel() % 360.0) / self.deg - 0.5 + 1.0
        values_at = ndimage.map_coordinates(padded, [np.clip(rows, 0, self.nlat - 1), cols],
                                            order=1, mode="nearest")
        return values_at.reshape(latitude_deg.shape)

    def pad(self, values: np.ndarray) -> np.ndarray:
        """Grid values (nlat, nlon) with one longitude column wrapped onto each side."""
        return np.concatenate([values[:, -1:], values, values[:, :1]], axis=1)


@dataclasses.dataclass
class SunState:
    """The photosphere at one instant, in Carrington coordinates (see the module docstring).

    Attributes:
        active_regions: the bipoles, as they are now (position, size, strength).
        coronal_holes: the unipolar weak-field patches.
        flux_elements: every Gaussian concentration of the field (the regions', holes' and
            the network's), as 1-D arrays (see :meth:`ActiveRegion.flux_elements`).
        filaments: the dark filaments (EUV only).
        polar_gauss: field at the poles (G); north_polarity: its sign at the north pole.
        north_leading_polarity: Hale's law for this cycle (+1 / -1).
        grid_deg: resolution of the grid the field is evaluated on.
        time: the instant (astropy Time) or None for a snapshot without a date.
        carrington_offset_deg: Carrington minus Stonyhurst longitude at ``time`` (sunpy's
            L0 as seen from Earth); 0 for a snapshot, whose longitudes are then measured
            from the observer's central meridian when seen from Stonyhurst longitude 0.
        loop_strength: for each active region, the factor on its loops' brightness (its
            present flux over its peak flux; 1 for a snapshot).
    """

    active_regions: list[ActiveRegion]
    coronal_holes: list[CoronalHole]
    flux_elements: dict[str, np.ndarray]
    filaments: list[Filament] = dataclasses.field(default_factory=list)
    polar_gauss: float = POLAR_GAUSS
    north_polarity: int = 1
    north_leading_polarity: int = -1
    grid_deg: float = GRID_DEG
    time: Any = None
    carrington_offset_deg: float = 0.0
    loop_strength: list[float] | None = None

    def __post_init__(self) -> None:
        self.grid = CarringtonGrid(self.grid_deg)
        self._radial: np.ndarray | None = None

    def radial_grid(self) -> np.ndarray:
        """B_r (G) on the Carrington grid, (nlat, nlon); computed once."""
        if self._radial is None:
            field = self.grid.gaussians(self.flux_elements)
            field += polar_field_gauss(self.grid.latitude_deg, self.polar_gauss,
                                       self.north_polarity)[:, None]
            self._radial = self.grid.pad(field)
        return self._radial[:, 1:-1]

    def radial_field(self, latitude_deg: Any, longitude_deg: Any) -> np.ndarray:
        """B_r (G) at Carrington (latitude, longitude) points in deg."""
        self.radial_grid()
        return self.grid.sample(self._radial, latitude_deg, longitude_deg)

    def carrington_map(self, shape: tuple[int, int] = (180, 360), oversample: int = 3
                       ) -> np.ndarray:
        """B_r (G) on a cylindrical equal-area Carrington map of ``shape`` = (nlat, nlon):
        rows equally spaced in sin(latitude) from -1 to 1 (row 0 south), columns in
        longitude from 0 to 360 deg; each pixel the mean of ``oversample`` x ``oversample``
        points spread over it (its area average)."""
        nlat, nlon = (int(n) for n in shape)
        offsets = (np.arange(oversample) + 0.5) / oversample
        sine = -1.0 + (np.arange(nlat)[:, None] + offsets[None, :]).ravel() * 2.0 / nlat
        longitude = (np.arange(nlon)[:, None] + offsets[None, :]).ravel() * 360.0 / nlon
        latitude = np.degrees(np.arcsin(np.clip(sine, -1.0, 1.0)))
        values = self.radial_field(latitude[:, None], longitude[None, :])
        return values.reshape(nlat, oversample, nlon, oversample).mean(axis=(1, 3))
