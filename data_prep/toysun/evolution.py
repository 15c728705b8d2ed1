"""The toy Sun in time: one Sun whose active regions, coronal holes, filaments and network
emerge, rotate and decay, so that a sequence of times is one consistent Sun.

:class:`WholeSun` ``(seed)`` gives a :class:`~data_prep.toysun.field.SunState` at any time:

* **Rotation.** Carrington longitudes rotate with the Carrington rate (14.1844 deg/day
  sidereal); a feature at latitude ``lat`` drifts in Carrington longitude at
  ``omega(lat) - 14.1844`` deg/day with ``omega`` the Howard et al. (1990) sidereal
  differential rotation of photospheric magnetic features (sunpy's
  :func:`sunpy.sun.models.differential_rotation`), ~ +0.2 deg/day at the equator and
  -2.6 deg/day at 60 deg. Each flux element of a region drifts at its own latitude (the
  region shears); coronal holes rotate with their centre (quasi-rigidly).
* **Active regions** emerge at random (Poisson, ``emergence_per_day`` = 0.3) at a
  uniform Carrington longitude, in the belts with Joy's and Hale's laws; their flux rises
  over 1-4 days (``GROWTH_DAYS``), then decays exponentially with an e-folding time of
  8-25 days (``DECAY_DAYS``) while they spread (sizes grow as ``sqrt(1 + days / 10)``,
  peak fields fall as the flux over the area); a region is removed below 5 % of its peak
  flux (after ~1-3 months). Measured over 2011 with seed 0 (36 dates): 17 regions on the
  whole Sun at a time (13-23), 9 of them (6-16) above 20 % of their peak flux.
* **Coronal holes** live 1-4 rotations (ramping in and out over 3 days); **filaments**
  5-25 days; the **network** is renewed every day (each day's elements fade in and out
  over two days, so the field changes continuously).
* The **polar fields** are steady.

Everything is drawn from ``numpy.random.default_rng([seed, stream, day])`` for day numbers
counted from 2000-01-01, so the state at a time depends only on the seed and the time,
whatever sequence of times is asked for.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import numpy as np

from data_prep.geometry import CARRINGTON_SIDEREAL_RATE_DEG_DAY
from data_prep.toysun.field import (
    GRID_DEG, NETWORK_ELEMENTS, POLAR_GAUSS, ActiveRegion, CoronalHole, Filament, SunState,
    concatenate_elements, random_active_region, random_coronal_hole, random_filament,
    random_network,
)

EPOCH_ISO = "2000-01-01T00:00:00"  # day numbers count from here (UTC)
CARRINGTON_RATE_DEG_DAY = CARRINGTON_SIDEREAL_RATE_DEG_DAY  # sidereal Carrington rotation rate
EMERGENCE_PER_DAY = 0.3  # active regions emerging per day on the whole Sun
GROWTH_DAYS = (1.0, 4.0)  # time to peak flux, drawn uniformly
DECAY_DAYS = (8.0, 25.0)  # e-folding time of the flux decay, drawn uniformly
SPREAD_DAYS = 10.0  # sizes grow as sqrt(1 + days after the peak / SPREAD_DAYS)
MIN_FLUX_FRACTION = 0.05  # a region is removed below this fraction of its peak flux
HOLES_PER_ROTATION = 1.0  # coronal holes appearing per 27 days
HOLE_LIFETIME_DAYS = (27.0, 108.0)  # 1-4 rotations
HOLE_RAMP_DAYS = 3.0  # holes fade in and out over 3 days
FILAMENTS_PER_DAY = 0.4
FILAMENT_LIFETIME_DAYS = (5.0, 25.0)
ROTATION_DAYS = 27  # the epoch length for coronal holes
STREAMS = {"regions": 1, "network": 2, "holes": 3, "filaments": 4}
DAY_OFFSET = 100_000  # keeps the seeds' day numbers positive before 2000


def carrington_drift_deg_per_day(latitude_deg: Any) -> np.ndarray:
    """Drift (deg/day) in Carrington longitude of a magnetic feature at ``latitude_deg``:
    Howard's sidereal differential rotation minus the Carrington rate (sunpy's model,
    tabulated every 0.05 deg and interpolated: within 1e-6 deg/day of it)."""
    latitude_table, drift_table = _drift_table()
    return np.interp(np.asarray(latitude_deg, dtype=np.float64), latitude_table, drift_table)


@functools.lru_cache(maxsize=1)
def _drift_table() -> tuple[np.ndarray, np.ndarray]:
    import astropy.units as u
    from sunpy.sun.models import differential_rotation

    latitude = np.linspace(-90.0, 90.0, 3601)
    rate = differential_rotation(1 * u.day, latitude * u.deg, model="howard",
                                 frame_time="sidereal").to_value(u.deg)
    return latitude, np.asarray(rate) - CARRINGTON_RATE_DEG_DAY


def day_number(time: Any) -> float:
    """Days (float) from 2000-01-01T00:00 UTC to ``time`` (astropy Time or ISO string)."""
    from astropy.time import Time

    return float(Time(time).utc.jd - Time(EPOCH_ISO, scale="utc").jd)


def carrington_offset_deg(time: Any) -> float:
    """Carrington minus Stonyhurst longitude (deg) at ``time``: sunpy's L0, the Carrington
    longitude of the centre of the disk seen from Earth (light travel time included), the
    convention of sunpy's HeliographicCarrington frame with observer "earth"."""
    from astropy.time import Time

    return _carrington_offset(Time(time).utc.isot)


@functools.lru_cache(maxsize=256)
def _carrington_offset(isot: str) -> float:
    import astropy.units as u
    from sunpy.coordinates import sun

    return float(sun.L0(isot).to_value(u.deg))


@dataclasses.dataclass(frozen=True)
class _Emergence:
    """An active region as it emerges, and how it evolves."""

    region: ActiveRegion  # at its peak flux, at its emergence longitude
    day: float  # emergence time, day number
    growth_days: float
    decay_days: float

    def flux_fraction(self, day: float) -> float:
        """Present flux over peak flux (0 before emergence)."""
        age = day - self.day
        if age < 0:
            return 0.0
        if age < self.growth_days:
            return 0.5 * (1.0 - math.cos(math.pi * age / self.growth_days))
        return math.exp(-(age - self.growth_days) / self.decay_days)

    def spread(self, day: float) -> float:
        """Size factor: sqrt(1 + days after the peak / SPREAD_DAYS)."""
        return math.sqrt(1.0 + max(day - self.day - self.growth_days, 0.0) / SPREAD_DAYS)

    def last_day(self) -> float:
        return self.day + self.growth_days + self.decay_days * math.log(1.0 / MIN_FLUX_FRACTION)


class WholeSun:
    """One evolving toy Sun (see the module docstring).

    Args:
        seed: the same seed gives the same Sun.
        north_leading_polarity: Hale's law, the leading polarity in the north (-1: cycle 24).
        emergence_per_day: active regions emerging per day on the whole Sun.
        network_elements: network elements on the whole sphere.
        polar_gauss: field at the poles (G).
        grid_deg: resolution of the Carrington grid the field is evaluated on (deg).
    """

    def __init__(self, seed: int = 0, north_leading_polarity: int = -1,
                 emergence_per_day: float = EMERGENCE_PER_DAY,
                 network_elements: int = NETWORK_ELEMENTS, polar_gauss: float = POLAR_GAUSS,
                 grid_deg: float = GRID_DEG) -> None:
        if north_leading_polarity not in (1, -1):
            raise ValueError(f"north_leading_polarity must be +1 or -1, got {north_leading_polarity}")
        if emergence_per_day < 0 or network_elements < 0 or polar_gauss < 0:
            raise ValueError("emergence_per_day, network_elements and polar_gauss must be >= 0")
        self.seed = int(seed)
        self.north_leading_polarity = int(north_leading_polarity)
        self.emergence_per_day = float(emergence_per_day)
        self.network_elements = int(network_elements)
        self.polar_gauss = float(polar_gauss)
        self.grid_deg = float(grid_deg)
        self._rngs = functools.lru_cache(maxsize=512)(self._draws)

    def _rng(self, stream: str, day: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, STREAMS[stream], int(day) + DAY_OFFSET])

    def _draws(self, stream: str, day: int) -> list[Any]:
        """What appears on day ``day`` (int) in ``stream`` (cached)."""
        rng = self._rng(stream, day)
        if stream == "regions":
            return [
                _Emergence(random_active_region(rng, self.north_leading_polarity,
                                                longitude_deg=float(rng.uniform(0.0, 360.0))),
                           day + float(rng.uniform()), float(rng.uniform(*GROWTH_DAYS)),
                           float(rng.uniform(*DECAY_DAYS)))
                for _ in range(int(rng.poisson(self.emergence_per_day)))
            ]
        if stream == "holes":  # one draw per rotation
            return [
                (random_coronal_hole(rng, self.north_leading_polarity,
                                     longitude_deg=float(rng.uniform(0.0, 360.0))),
                 day + float(rng.uniform(0.0, ROTATION_DAYS)),
                 float(rng.uniform(*HOLE_LIFETIME_DAYS)))
                for _ in range(int(rng.poisson(HOLES_PER_ROTATION)))
            ]
        if stream == "filaments":
            return [
                (random_filament(rng, float(rng.uniform(0.0, 360.0))), day + float(rng.uniform()),
                 float(rng.uniform(*FILAMENT_LIFETIME_DAYS)))
                for _ in range(int(rng.poisson(FILAMENTS_PER_DAY)))
            ]
        return [random_network(rng, self.network_elements)]

    # -- the state at a time ------------------------------------------------------------------
    def state(self, time: Any) -> SunState:
        """The photosphere at ``time`` (astropy Time or ISO string)."""
        from astropy.time import Time

        time = Time(time)
        day = day_number(time)
        regions, loop_strength, groups = self._regions(day)
        holes = self._holes(day, groups)
        groups.extend(self._network(day))
        return SunState(
            active_regions=regions, coronal_holes=holes,
            flux_elements=concatenate_elements(groups), filaments=self._filaments(day),
            polar_gauss=self.polar_gauss, north_polarity=-self.north_leading_polarity,
            north_leading_polarity=self.north_leading_polarity, grid_deg=self.grid_deg,
            time=time, carrington_offset_deg=carrington_offset_deg(time),
            loop_strength=loop_strength,
        )

    def active_regions(self, time: Any) -> list[tuple[str, ActiveRegion, float, dict[str, np.ndarray]]]:
        """The active regions alive at ``time``: (region_id, the region now, its flux over
        its peak flux, its flux elements now). ``region_id`` names the emergence
        (``T<day number>-<k>``, the k-th region drawn on that day), the same at every time."""
        return self._living_regions(day_number(time))

    def _living_regions(self, day: float) -> list[tuple[str, ActiveRegion, float, dict[str, np.ndarray]]]:
        longest = GROWTH_DAYS[1] + DECAY_DAYS[1] * math.log(1.0 / MIN_FLUX_FRACTION)
        living = []
        for start in range(int(math.floor(day - longest)) - 1, int(math.floor(day)) + 1):
            for number, emergence in enumerate(self._rngs("regions", start)):
                fraction = emergence.flux_fraction(day)
                if fraction < MIN_FLUX_FRACTION and day > emergence.day + emergence.growth_days:
                    continue
                if fraction <= 0.0:
                    continue
                region, elements = _evolved(emergence, day, fraction)
                living.append((f"T{start:06d}-{number}", region, fraction, elements))
        return living

    def _regions(self, day: float) -> tuple[list[ActiveRegion], list[float], list[dict]]:
        living = self._living_regions(day)
        return ([region for _, region, _, _ in living], [fraction for _, _, fraction, _ in living],
                [elements for _, _, _, elements in living])

    def _holes(self, day: float, groups: list[dict]) -> list[CoronalHole]:
        holes = []
        first = int(math.floor((day - HOLE_LIFETIME_DAYS[1]) / ROTATION_DAYS)) - 1
        for epoch in range(first, int(math.floor(day / ROTATION_DAYS)) + 1):
            for hole, start, lifetime in self._rngs("holes", epoch * ROTATION_DAYS):
                age = day - start
                if not 0.0 <= age <= lifetime:
                    continue
                ramp = min(1.0, age / HOLE_RAMP_DAYS, (lifetime - age) / HOLE_RAMP_DAYS)
                drift = float(carrington_drift_deg_per_day(hole.latitude_deg)) * age
                hole = dataclasses.replace(hole, longitude_deg=hole.longitude_deg + drift)
                elements = hole.flux_elements()
                elements["gauss"] = elements["gauss"] * ramp
                holes.append(hole)
                groups.append(elements)
        return holes

    def _filaments(self, day: float) -> list[Filament]:
        filaments = []
        for start_day in range(int(math.floor(day - FILAMENT_LIFETIME_DAYS[1])) - 1,
                               int(math.floor(day)) + 1):
            for filament, start, lifetime in self._rngs("filaments", start_day):
                age = day - start
                if 0.0 <= age <= lifetime:
                    drift = carrington_drift_deg_per_day(filament.latitude_deg) * age
                    filaments.append(dataclasses.replace(
                        filament, longitude_deg=filament.longitude_deg + drift))
        return filaments

    def _network(self, day: float) -> list[dict]:
        """The network populations alive at ``day``: population k has weight
        max(0, 1 - |day - k|) and has drifted for day - k days."""
        populations = []
        for population_day in (int(math.floor(day)), int(math.floor(day)) + 1):
            weight = 1.0 - abs(day - population_day)
            if weight <= 0.0:
                continue
            elements = dict(self._rngs("network", population_day)[0])
            elements["longitude_deg"] = elements["longitude_deg"] + carrington_drift_deg_per_day(
                elements["latitude_deg"]) * (day - population_day)
            elements["gauss"] = elements["gauss"] * weight
            populations.append(elements)
        return populations


def _evolved(emergence: _Emergence, day: float, fraction: float
             ) -> tuple[ActiveRegion, dict[str, np.ndarray]]:
    """The region at ``day``: its flux elements spread about the centre by the size factor,
    peak fields times flux fraction / size^2 (flux = fraction x peak flux), each element
    drifted at its own latitude since emergence; and the region's description now."""
    base = emergence.region
    spread = emergence.spread(day)
    age = day - emergence.day
    elements = base.flux_elements()
    latitude = base.latitude_deg + spread * (elements["latitude_deg"] - base.latitude_deg)
    longitude = base.longitude_deg + spread * (elements["longitude_deg"] - base.longitude_deg)
    longitude = longitude + carrington_drift_deg_per_day(latitude) * age
    evolved = {"latitude_deg": np.clip(latitude, -89.0, 89.0), "longitude_deg": longitude,
               "sigma_deg": elements["sigma_deg"] * spread,
               "gauss": elements["gauss"] * fraction / spread**2}
    region = dataclasses.replace(
        base, longitude_deg=base.longitude_deg
        + float(carrington_drift_deg_per_day(base.latitude_deg)) * age,
        peak_gauss=base.peak_gauss * fraction / spread**2,
        separation_deg=base.separation_deg * spread, spot_sigma_deg=base.spot_sigma_deg * spread)
    return region, evolved
