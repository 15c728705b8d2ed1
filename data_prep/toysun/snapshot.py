"""A toy-Sun snapshot: one full-disk EUV image and magnetogram of a Sun drawn on the visible
hemisphere, in a standard frame (north up, disk centred at radius ``rsun_fraction`` of the
frame, FITS row order: row 0 at the bottom, i.e. south).

:func:`make_toy_sun` places random (or given) active regions, coronal holes, filaments and
a network on the hemisphere facing an observer at 1 au at heliographic latitude
``b0_deg``, and renders them with the whole-Sun machinery (:mod:`data_prep.toysun.field`,
:mod:`~data_prep.toysun.views`, :mod:`~data_prep.toysun.emission`): the same field,
geometry and emission as every view of the evolving Sun (:mod:`~data_prep.toysun.evolution`),
for tests, benchmarks and single images without a date. Longitudes are measured from the
central meridian (positive to the west).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import numpy as np

from data_prep.geometry import RSUN_REF_M, angular_radius_arcsec
from data_prep.pairs import iso_time
from data_prep.toysun import emission
from data_prep.toysun.field import (
    ActiveRegion, CoronalHole, SunState, concatenate_elements, random_active_region,
    random_coronal_hole, random_filament, random_network, unit_vectors,
)
from data_prep.toysun.views import AU_M, ViewGeometry, render

RSUN_FRACTION = 392 / 1024  # solar radius / frame size of the seed's preprocessed images
MIN_TOY_SIZE = 16  # the smallest image make_toy_sun draws
MIN_REGION_SPACING_DEG = 16.0  # between the centres of two random active regions
MIN_REGION_MU = 0.3  # random regions keep their centre within ~73 deg of disk centre
MIN_HOLE_REGION_SPACING_DEG = 15.0  # between a hole's edge and an active region's centre
SNAPSHOT_TIME = "2011-01-01T00:00:00"  # the date written in a snapshot's header
TOY_WAVELENGTHS = (304, 193, 171)
TOY_CHANNELS = {f"AIA {wavelength}": wavelength for wavelength in TOY_WAVELENGTHS}


@dataclasses.dataclass
class ToySun:
    """One synthetic observation.

    Attributes:
        euv_dn_s: (H, W) float32, EUV 304 A intensity in DN/s, > 0 everywhere.
        magnetogram_gauss: (H, W) float32, line-of-sight field in Gauss (positive towards
            the observer), exactly 0 off the disk.
        rsun_px: solar radius in pixels; the disk is centred at ((H - 1) / 2, (W - 1) / 2).
        active_regions: the bipoles drawn on the visible hemisphere.
        b0_deg: heliographic latitude of the disk centre (deg).
        coronal_dn_s: the coronal channels asked for, by wavelength (171, 193 A): (H, W)
            float32 intensities in DN/s, > 0 everywhere.
        coronal_holes: the unipolar coronal-hole patches in the field.
    """

    euv_dn_s: np.ndarray
    magnetogram_gauss: np.ndarray
    rsun_px: float
    active_regions: list[ActiveRegion]
    b0_deg: float = 0.0
    coronal_dn_s: dict[int, np.ndarray] = dataclasses.field(default_factory=dict)
    coronal_holes: list[CoronalHole] = dataclasses.field(default_factory=list)

    def channel(self, wavelength: int) -> np.ndarray:
        """The (H, W) DN/s image at ``wavelength`` (304, or a coronal channel made)."""
        if int(wavelength) == 304:
            return self.euv_dn_s
        if int(wavelength) not in self.coronal_dn_s:
            raise KeyError(
                f"this toy Sun has no {wavelength} A image (made: "
                f"{[304, *sorted(self.coronal_dn_s)]}); pass coronal_wavelengths to make_toy_sun"
            )
        return self.coronal_dn_s[int(wavelength)]


def heliographic_to_pixel(
    latitude_deg: Any, longitude_deg: Any, image_size: int, rsun_px: float, b0_deg: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, column, mu) of heliographic points (deg, longitude from the central meridian)
    in a snapshot frame of ``image_size`` pixels with the disk of radius ``rsun_px``
    centred; FITS row order (rows increase to the north), west to the right; orthographic
    (the observer far away). mu <= 0 marks points on the far side."""
    vectors = _observer_vectors(latitude_deg, longitude_deg, b0_deg)
    centre = (image_size - 1) / 2.0
    return centre + vectors[..., 1] * rsun_px, centre + vectors[..., 0] * rsun_px, vectors[..., 2]


def _observer_vectors(latitude_deg: Any, longitude_deg: Any, b0_deg: float) -> np.ndarray:
    """Unit vectors (..., 3) in the observer's frame: x west, y north, z to the observer."""
    lat = np.radians(np.asarray(latitude_deg, dtype=np.float64))
    lon = np.radians(np.asarray(longitude_deg, dtype=np.float64))
    b0 = math.radians(b0_deg)
    x = np.cos(lat) * np.sin(lon)
    y = np.sin(lat) * math.cos(b0) - np.cos(lat) * np.cos(lon) * math.sin(b0)
    z = np.sin(lat) * math.sin(b0) + np.cos(lat) * np.cos(lon) * math.cos(b0)
    return np.stack([x, y, z], axis=-1)


def toy_header(
    image_size: int, rsun_px: float, time: Any, kind: str, b0_deg: float = 0.0,
    wavelength: int = 304, *, distance_m: float = AU_M, observer_lon_deg: float = 0.0,
) -> dict[str, Any]:
    """A FITS-like header (dict) for a standard-frame toy image: helioprojective TAN WCS
    with the disk centre at CRPIX = (n + 1) / 2, north up, and CDELT chosen so ``rsun_px``
    pixels = RSUN_OBS, the disk's angular radius from ``distance_m`` (default 1 au); the
    observer at Stonyhurst (``observer_lon_deg``, ``b0_deg``). ``kind``: "euv"
    (``wavelength`` A, one of 304, 193, 171; DN/s) or "magnetogram" (6173 A, Gauss)."""
    if kind not in ("euv", "magnetogram"):
        raise ValueError(f"kind must be 'euv' or 'magnetogram', got {kind!r}")
    if kind == "euv" and wavelength not in TOY_WAVELENGTHS:
        raise ValueError(f"the toy Sun has no {wavelength} A channel; it makes "
                         f"{list(TOY_WAVELENGTHS)} A")
    if not rsun_px > 0:
        raise ValueError(f"rsun_px must be > 0, got {rsun_px}")
    euv = kind == "euv"
    rsun_obs = angular_radius_arcsec(distance_m)
    cdelt = rsun_obs / float(rsun_px)
    return {
        "NAXIS": 2, "NAXIS1": int(image_size), "NAXIS2": int(image_size),
        "CTYPE1": "HPLN-TAN", "CTYPE2": "HPLT-TAN", "CUNIT1": "arcsec", "CUNIT2": "arcsec",
        "CDELT1": cdelt, "CDELT2": cdelt,
        "CRPIX1": (image_size + 1) / 2.0, "CRPIX2": (image_size + 1) / 2.0,
        "CRVAL1": 0.0, "CRVAL2": 0.0, "CROTA2": 0.0,
        "DATE-OBS": iso_time(time),
        "TELESCOP": "toy Sun",
        "INSTRUME": "toy AIA" if euv else "toy HMI",
        "WAVELNTH": int(wavelength) if euv else 6173,
        "WAVEUNIT": "angstrom",
        "BUNIT": "DN/s" if euv else "Gauss",
        "CONTENT": f"synthetic EUV {wavelength} A intensity" if euv else "synthetic LOS magnetogram",
        "RSUN_OBS": rsun_obs, "R_SUN": float(rsun_px), "RSUN_REF": RSUN_REF_M,
        "DSUN_OBS": float(distance_m), "HGLN_OBS": float(observer_lon_deg),
        "HGLT_OBS": float(b0_deg),
    }


def _coronal(wavelengths: Sequence[int]) -> tuple[int, ...]:
    """The coronal wavelengths asked for, checked, without duplicates (304 is dropped: the
    304 image is always made)."""
    if isinstance(wavelengths, (int, str)):
        wavelengths = [wavelengths]
    chosen: list[int] = []
    for value in wavelengths:
        try:
            wavelength = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"not a wavelength: {value!r}; the toy Sun makes "
                             f"{list(TOY_WAVELENGTHS)} A") from None
        if wavelength not in TOY_WAVELENGTHS:
            raise ValueError(f"the toy Sun has no {wavelength} A channel; it makes "
                             f"{list(TOY_WAVELENGTHS)} A")
        if wavelength != 304 and wavelength not in chosen:
            chosen.append(wavelength)
    return tuple(chosen)


def _place_active_regions(
    rng: np.random.Generator, count: int, north_leading_polarity: int, b0_deg: float
) -> list[ActiveRegion]:
    """``count`` random bipoles on the visible hemisphere, centres at mu >= 0.3 and (where
    possible) at least 16 deg apart."""
    regions: list[ActiveRegion] = []
    centres: list[np.ndarray] = []
    min_cos = math.cos(math.radians(MIN_REGION_SPACING_DEG))
    for _ in range(count):
        attempt = 0
        while True:  # visible always; apart from the others unless the disk is crowded
            attempt += 1
            region = random_active_region(rng, north_leading_polarity)
            ends = _observer_vectors(
                *zip(region.leading_position(), region.following_position()), b0_deg)
            centre = _observer_vectors(region.latitude_deg, region.longitude_deg, b0_deg)
            visible = centre[2] >= MIN_REGION_MU and ends[:, 2].min() >= MIN_REGION_MU - 0.1
            apart = all(float(centre @ other) < min_cos for other in centres)
            if visible and (apart or attempt > 100):
                break
        regions.append(region)
        centres.append(centre)
    return regions


def _place_coronal_holes(
    rng: np.random.Generator, count: int, north_leading_polarity: int, b0_deg: float,
    regions: Sequence[ActiveRegion],
) -> list[CoronalHole]:
    """``count`` random holes with their centre at mu >= 0.3, their edge (where possible) at
    least 15 deg from every active region's centre and clear of the other holes."""
    holes: list[CoronalHole] = []
    region_centres = [_observer_vectors(r.latitude_deg, r.longitude_deg, b0_deg) for r in regions]

    def angle(first: np.ndarray, second: np.ndarray) -> float:
        return math.degrees(math.acos(min(1.0, float(first @ second))))

    for _ in range(count):
        attempt = 0
        while True:
            attempt += 1
            hole = random_coronal_hole(rng, north_leading_polarity)
            centre = _observer_vectors(hole.latitude_deg, hole.longitude_deg, b0_deg)
            clear = all(angle(centre, other) > hole.radius_deg + MIN_HOLE_REGION_SPACING_DEG
                        for other in region_centres) and all(
                angle(centre, _observer_vectors(other.latitude_deg, other.longitude_deg, b0_deg))
                > hole.radius_deg + other.radius_deg for other in holes)
            if centre[2] >= MIN_REGION_MU and (clear or attempt > 100):
                break
        holes.append(hole)
    return holes


def make_toy_sun(
    image_size: int = 256,
    seed: int | Sequence[int] | np.random.Generator = 0,
    n_active_regions: int | None = None,
    north_leading_polarity: int = -1,
    filaments: bool = True,
    rsun_fraction: float = RSUN_FRACTION,
    *,
    active_regions: Sequence[ActiveRegion] | None = None,
    b0_deg: float = 0.0,
    network_elements: int = 3000,
    network_gauss: float | None = None,
    noise_gauss: float | None = None,
    euv_noise_gain: float = emission.EUV_NOISE_GAIN,
    coronal_wavelengths: Sequence[int] = (),
    n_coronal_holes: int | None = None,
    coronal_holes: Sequence[CoronalHole] | None = None,
    polar_gauss: float = 0.0,
) -> ToySun:
    """Draw one toy-Sun snapshot: a paired EUV 304 A image and line-of-sight magnetogram,
    and on request 171 / 193 A coronal images of the same field (see the module docstring
    and :mod:`data_prep.toysun.emission` for what they hold).

    Args:
        image_size: pixels a side (>= 16); the images are (image_size, image_size).
        seed: an int, a sequence of ints or a numpy Generator; the same seed gives the same
            arrays.
        n_active_regions: number of random bipoles on the visible hemisphere; None draws 1-6.
        north_leading_polarity: +1 or -1, the leading polarity in the northern hemisphere
            (Hale's law; the south has the opposite). -1: solar cycle 24.
        filaments: draw 0-3 dark filaments in the EUV image.
        rsun_fraction: solar radius as a fraction of the frame size.
        active_regions: place exactly these regions instead of random ones.
        b0_deg: heliographic latitude of the disk centre (deg).
        network_elements: number of network elements on the visible hemisphere (0: none).
        network_gauss: median peak radial field of a network element (G); None: 6.5 G.
        noise_gauss: rms of the magnetogram noise (G); None: HMI's noise averaged to this
            frame's pixels (:func:`data_prep.toysun.views.hmi_noise_gauss`).
        euv_noise_gain: EUV noise variance per unit intensity (DN/s); 0: no noise.
        coronal_wavelengths: coronal channels to make besides 304 A: any of 171, 193.
        n_coronal_holes: number of random coronal holes; None: 1-2 when coronal channels
            are made, else none.
        coronal_holes: place exactly these holes instead of random ones.
        polar_gauss: polar field (G) at the poles; 0 (none) by default.

    The ingredients draw from independent random streams, so switching one off leaves the
    others unchanged (a Sun without coronal holes has the same field and 304 image whatever
    coronal channels are made).

    Returns:
        A :class:`ToySun` with float32 (image_size, image_size) images in DN/s and Gauss.
    """
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)):
        raise ValueError(f"image_size must be an integer, got {image_size!r}")
    if image_size < MIN_TOY_SIZE:
        raise ValueError(f"image_size must be >= {MIN_TOY_SIZE} pixels, got {image_size}")
    if north_leading_polarity not in (1, -1):
        raise ValueError(f"north_leading_polarity must be +1 or -1, got {north_leading_polarity}")
    if not 0.05 <= rsun_fraction <= 0.5:
        raise ValueError(f"rsun_fraction must be within [0.05, 0.5], got {rsun_fraction}")
    if (noise_gauss is not None and noise_gauss < 0) or euv_noise_gain < 0 or (
            network_gauss is not None and network_gauss < 0):
        raise ValueError("noise_gauss, network_gauss and euv_noise_gain must be >= 0")
    if not -30.0 <= b0_deg <= 30.0:
        raise ValueError(f"b0_deg must be within +-30 deg (the Sun's: +-7.3), got {b0_deg}")
    image_size = int(image_size)
    coronal = _coronal(coronal_wavelengths)
    rng = np.random.default_rng(seed)
    region_rng, network_rng, filament_rng, render_rng = rng.spawn(4)
    # the holes' stream comes after (spawned only when needed, so a Sun without holes
    # drawn from a caller's Generator leaves it as it always did)
    hole_streams = rng.spawn(1) if (coronal or n_coronal_holes or coronal_holes) else []

    if active_regions is not None:
        if n_active_regions is not None and n_active_regions != len(active_regions):
            raise ValueError("give either n_active_regions or active_regions, not both")
        regions = list(active_regions)
    else:
        count = int(region_rng.integers(1, 7)) if n_active_regions is None else n_active_regions
        if count < 0:
            raise ValueError(f"n_active_regions must be >= 0, got {count}")
        regions = _place_active_regions(region_rng, count, north_leading_polarity, b0_deg)
    holes = _choose_coronal_holes(hole_streams, coronal, n_coronal_holes,
                                  coronal_holes, north_leading_polarity, b0_deg, regions)
    facing = unit_vectors(b0_deg, 0.0)
    network = random_network(network_rng, network_elements, network_gauss, within=(facing, 0.0))
    strands = ([random_filament(filament_rng) for _ in range(int(filament_rng.integers(0, 4)))]
               if filaments else [])
    state = SunState(
        regions, holes,
        concatenate_elements([network] + [s.flux_elements() for s in (*regions, *holes)]),
        strands, polar_gauss=polar_gauss, north_polarity=-north_leading_polarity,
        north_leading_polarity=north_leading_polarity,
        grid_deg=snapshot_grid_deg(image_size * rsun_fraction),
    )
    rsun_px = float(rsun_fraction * image_size)
    header = toy_header(image_size, rsun_px, SNAPSHOT_TIME, "euv", b0_deg)
    # one render: its magnetogram noise, 304 and each coronal channel draw from streams of
    # their own, so a product does not depend on the others asked for
    images = render(state, header, ["magnetogram", 304, *coronal], render_rng,
                    noise_gauss=noise_gauss, euv_noise_gain=euv_noise_gain,
                    geometry=ViewGeometry(header, carrington_offset_deg=0.0))
    return ToySun(
        euv_dn_s=images[304],
        magnetogram_gauss=np.nan_to_num(images["magnetogram"], nan=0.0).astype(np.float32),
        rsun_px=rsun_px, active_regions=regions, b0_deg=float(b0_deg),
        coronal_dn_s={wavelength: images[wavelength] for wavelength in coronal},
        coronal_holes=holes,
    )


def snapshot_grid_deg(rsun_px: float) -> float:
    """Carrington grid resolution (deg) for frames of solar radius ``rsun_px``: about half a
    frame pixel at disk centre, between 0.1 and 0.25 deg (network elements, sigma 0.5 deg,
    stay resolved)."""
    deg_per_px = 180.0 / (math.pi * float(rsun_px))
    for grid_deg in (0.25, 0.2, 0.15, 0.1):
        if grid_deg <= 0.5 * deg_per_px:
            return grid_deg
    return 0.1


def _choose_coronal_holes(
    streams: Sequence[np.random.Generator], coronal: tuple[int, ...],
    n_coronal_holes: int | None, coronal_holes: Sequence[CoronalHole] | None,
    north_leading_polarity: int, b0_deg: float, regions: Sequence[ActiveRegion],
) -> list[CoronalHole]:
    """The holes of :func:`make_toy_sun` (see its arguments)."""
    if coronal_holes is not None:
        if n_coronal_holes is not None and n_coronal_holes != len(coronal_holes):
            raise ValueError("give either n_coronal_holes or coronal_holes, not both")
        return list(coronal_holes)
    if n_coronal_holes is None:
        if not coronal:
            return []
        n_coronal_holes = int(streams[0].integers(1, 3))
    if n_coronal_holes < 0:
        raise ValueError(f"n_coronal_holes must be >= 0, got {n_coronal_holes}")
    if n_coronal_holes == 0:
        return []
    return _place_coronal_holes(streams[0], n_coronal_holes, north_leading_polarity, b0_deg,
                                regions)

