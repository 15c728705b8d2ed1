"""Regenerate ``data_prep/toysun/stereo_positions.csv``: where STEREO-A and STEREO-B were.

The toy-Sun campaign must place STEREO-A and STEREO-B without internet, so their positions
come from a table shipped in the package. This script makes that table from a physical model
and measures it against every published position we could find. It runs offline (astropy's
built-in planetary ephemeris, no download) in under a minute:

    .venv/bin/python scripts/make_stereo_table.py [--out data_prep/toysun/stereo_positions.csv]

The model
---------
Each spacecraft is a test particle in the Sun's field, perturbed by Venus, the Earth-Moon
barycentre, Mars, Jupiter and Saturn (point masses at astropy's built-in ephemeris
positions; Sun/planet mass ratios from Kaye & Laby 2.7.2 as quoted by the R package
cwhmisc), integrated in heliocentric ICRS axes with scipy's DOP853. Solar radiation pressure
and the small momentum-dump burns are neglected. Positions are converted to heliographic
Stonyhurst (HGS) with sunpy.

* STEREO-A starts from one published state vector, 2020-01-01 00:00 UTC (position km,
  velocity km/s, mean ecliptic and equinox of J2000), given in the GMAT script
  ``STEREO_A.script`` of github.com/ScottTilley/stereo_a (commit 0ac6f61). The script labels
  it Sun-centred (``SunMJ2000Ec``), but only read as centred on the solar-system barycentre
  (JPL Horizons' default centre) does it reproduce the independent positions below: read
  Sun-centred it misses the 2009 and 2011 headers by 8-10 deg, read barycentric by <0.06 deg.
  We read it barycentric. Nothing of STEREO-A is fitted.
* STEREO-B has no published state vector we could find. Its orbit is taken in the ecliptic
  plane (the orbits lie "in the ecliptic plane", eoPortal) and its state on 2011-02-06 (four
  numbers: distance, ecliptic longitude, radial and transverse velocity) is fitted to the
  published A-B geometries marked "fit" below and to the STEREO Science Center's 2015
  blackout dates: on the four dates bounding B's two 2015 blackouts it must appear as close
  to the Sun, seen from Earth, as STEREO-A on the two dates bounding A's blackout (the
  model's A gives 2.15 and 2.16 deg there: the SSC used one radio threshold). The rest
  checks it: the 2009 quadrature, the 2012 "equidistant" configuration, a single pass
  behind the Sun in 2015 (SSC: "each spacecraft is hidden by the Sun only once"), its
  period, and, integrated back to 2007-01-21, its start at the Moon (second lunar swingby,
  JHU APL press release 2007-01-23). Before that date STEREO-B was still in Earth orbit (out
  to the Moon's distance); its rows there are the Earth's position (within 0.003 au).

The anchors (every published position we found; "fit" = used to fit STEREO-B, all others
are independent checks) are listed in ANCHORS with their sources, and the residuals go into
the CSV's header comment.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import (
    HCRS, CartesianRepresentation, HeliocentricMeanEcliptic, SkyCoord, get_body_barycentric,
    get_body_barycentric_posvel,
)
from astropy.time import Time
from scipy.integrate import solve_ivp
from scipy.interpolate import CubicSpline
from scipy.optimize import least_squares
from sunpy.coordinates import HeliographicStonyhurst, get_earth

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "data_prep" / "toysun" / "stereo_positions.csv"

AU_KM = 149_597_870.7
GM_SUN = 0.01720209895**2  # Gaussian gravitational constant squared: au^3 / day^2
#: Mass ratios Sun / body (Kaye & Laby, Tables of Physical and Chemical Constants, 2.7.2,
#: as quoted by the R package cwhmisc, astroC).
MASS_RATIOS = {
    "venus": 408523.5,
    "earth-moon-barycenter": 328900.5,
    "mars": 3098710.0,
    "jupiter": 1047.355,
    "saturn": 3498.5,
}

STEP_DAYS = 10
TABLE_START = "2007-01-01"
TABLE_END = {"A": "2027-01-01", "B": "2014-10-01"}  # A: all of 2026; B: contact lost 2014-10-01
INTEGRATION_START = "2006-12-31"
#: Integrated to: A past its table, B past its 2015 conjunction (anchors after contact loss).
INTEGRATION_END = {"A": "2027-01-02", "B": "2015-11-01"}

#: STEREO-A at 2020-01-01 00:00 UTC, mean ecliptic and equinox J2000, centred on the
#: solar-system barycentre (see the module docstring): km and km/s.
STEREO_A_EPOCH = "2020-01-01T00:00:00"
STEREO_A_POSITION_KM = (133361181.9565673, 53060784.28024468, 71885.33470608294)
STEREO_A_VELOCITY_KMS = (-10.85662707698183, 28.41761015607331, -0.06517021580465987)
STEREO_B_DEPARTURE = "2007-01-21T12:00:00"  # second lunar swingby (day known, hour not)
#: STEREO-B's fitted state at STEREO_B_EPOCH, in the J2000 mean ecliptic: distance (au),
#: ecliptic longitude (deg), radial and transverse velocity (km/s). The starting guess of
#: the fit (its result, rounded, so that a rerun converges at once).
STEREO_B_EPOCH = "2011-02-06T12:00:00"
STEREO_B_GUESS = (1.03047, 43.83589, -1.09495, 29.4932)


@dataclasses.dataclass(frozen=True)
class Anchor:
    """One published position: ``quantity`` is what is compared, ``value`` its published
    value (deg, au or days); ``fit``: used to fit STEREO-B's orbit."""

    time: str
    quantity: str  # "A lon", "A lat", "A dist", "B lon", "A-B sep", "period A", "B-Moon dist"
    value: float
    source: str
    fit: bool = False


SUNPY_EUVI = "sunpy test header euvi_20090615_000900_n4euA_s.header (HGLN/HGLT/DSUN_OBS)"
SUNPY_COR1 = "sunpy test header cor1_20090615_000500_s4c1A.header (HGLN/HGLT/DSUN_OBS)"
SUNPY_HI = "sunpy test header hi_20110910_114721_s7h2A.header (HGLN/HGLT/DSUN_OBS)"
NASA_2023 = ("NASA GSFC news 2023-08-11 (M. Hatfield, 'Seventeen years later...'): "
             "STEREO-A crosses the Sun-Earth line 2023-08-12")
NASA_180 = "NASA (GSFC news 2023-08-11; NSSDC 2006-047B): A and B 180 deg apart 2011-02-06"
GALLERY_44 = "stereo.gsfc.nasa.gov gallery (stereoimages 53): 44 deg apart as of 2008-01-08"
SSC_BEHIND_SUN = ("stereo-ssc.nascom.nasa.gov/where/behind_sun.shtml: occulted by the Sun "
                  "(lon 180) A 2015-05-13..27, B 2015-02-15..22 (pre-event estimate)")
BLOG_QUADRATURE = "fractalwonder.wordpress.com 2016-08-22 (secondary): quadrature 2009-01-24"
GALLERY_THIRDS = ("stereo.gsfc.nasa.gov gallery (stereoimages 194): A, B and Earth almost "
                  "exactly equidistant 2012-09-01 (about 120 deg)")
WIKIPEDIA_PERIODS = "en.wikipedia.org/wiki/STEREO: orbital periods A 346 d, B 388 d"
APL_SWINGBY = ("JHU APL press release 2007-01-23 (spacedaily 2007-01-25): B's full lunar "
               "gravity assist on 2007-01-21 (model integrated back from 2011)")
AU_M = AU_KM * 1000.0
#: SSC's estimated 2015 blackout boundaries (same page as SSC_BEHIND_SUN): A out of contact
#: 2015-03-17..07-14, B 2015-01-20..03-28 and 2015-08-25..10-19, "each spacecraft is hidden by
#: the Sun only once". B's boundaries are fitted at the elongation of A's.
BLACKOUT_BOUNDARIES = {"A": ("2015-03-17", "2015-07-14"),
                       "B": ("2015-01-20", "2015-03-28", "2015-08-25", "2015-10-19")}

ANCHORS = [
    Anchor("2009-06-15T00:09:00.006", "A lon", 51.801012885, SUNPY_EUVI),
    Anchor("2009-06-15T00:09:00.006", "A lat", 6.40451029896, SUNPY_EUVI),
    Anchor("2009-06-15T00:09:00.006", "A dist", 143073245383.0 / AU_M, SUNPY_EUVI),
    Anchor("2009-06-15T00:05:00.004", "A lon", 51.8006975651, SUNPY_COR1),
    Anchor("2009-06-15T00:05:00.004", "A lat", 6.40432569665, SUNPY_COR1),
    Anchor("2009-06-15T00:05:00.004", "A dist", 143073239195.0 / AU_M, SUNPY_COR1),
    Anchor("2011-09-10T11:47:21.005", "A lon", 102.969466826, SUNPY_HI),
    Anchor("2011-09-10T11:47:21.005", "A lat", -1.92915205686, SUNPY_HI),
    Anchor("2011-09-10T11:47:21.005", "A dist", 144533249018.0 / AU_M, SUNPY_HI),
    Anchor("2023-08-12T12:00:00", "A lon", 0.0, NASA_2023),
    Anchor("2015-05-20T12:00:00", "A lon", 180.0, SSC_BEHIND_SUN),
    Anchor("2008-01-08T12:00:00", "A-B sep", 44.0, GALLERY_44, fit=True),
    Anchor("2011-02-06T12:00:00", "A-B sep", 180.0, NASA_180, fit=True),
    Anchor("2015-02-19T00:00:00", "B lon", 180.0, SSC_BEHIND_SUN, fit=True),
    Anchor("2009-01-24T12:00:00", "A-B sep", 90.0, BLOG_QUADRATURE),
    Anchor("2012-09-01T12:00:00", "A lon", 120.0, GALLERY_THIRDS),
    Anchor("2012-09-01T12:00:00", "B lon", -120.0, GALLERY_THIRDS),
    Anchor("2011-01-01T00:00:00", "period A", 346.0, WIKIPEDIA_PERIODS),
    Anchor("2011-01-01T00:00:00", "period B", 388.0, WIKIPEDIA_PERIODS),
    Anchor(STEREO_B_DEPARTURE, "B-Moon dist", 0.0, APL_SWINGBY),
]


def wrap180(angle_deg):
    """Angle(s) in degrees wrapped to [-180, 180)."""
    return (np.asarray(angle_deg) + 180.0) % 360.0 - 180.0


class SolarSystem:
    """Heliocentric positions (au, ICRS axes) of the perturbing planets, from astropy's
    built-in ephemeris sampled daily and interpolated with cubic splines."""

    def __init__(self, start: str, end: str):
        t0, t1 = Time(start, scale="tdb") - 3 * u.day, Time(end, scale="tdb") + 3 * u.day
        grid = t0 + np.arange(0.0, (t1 - t0).to_value(u.day) + 1.0) * u.day
        sun = get_body_barycentric("sun", grid).xyz.to_value(u.au)
        self.splines = {
            body: CubicSpline(grid.tdb.jd, (get_body_barycentric(body, grid).xyz.to_value(u.au)
                                            - sun).T)
            for body in MASS_RATIOS
        }

    def acceleration(self, jd_tdb: float, r: np.ndarray) -> np.ndarray:
        """Acceleration (au/day^2) at heliocentric position ``r``: the Sun plus each planet's
        direct pull and the indirect term (the planet's pull on the Sun)."""
        a = -GM_SUN * r / np.linalg.norm(r) ** 3
        for body, ratio in MASS_RATIOS.items():
            rp = self.splines[body](jd_tdb)
            d = rp - r
            a += GM_SUN / ratio * (d / np.linalg.norm(d) ** 3 - rp / np.linalg.norm(rp) ** 3)
        return a


class Trajectory:
    """A particle's heliocentric path (au, ICRS axes), integrated once from ``state0``
    (au, au/day) at ``epoch`` backwards to ``start`` and forwards to ``end``."""

    def __init__(self, system: SolarSystem, state0: np.ndarray, epoch: Time, start: str,
                 end: str):
        def rhs(t, y):
            return np.concatenate([y[3:], system.acceleration(t, y[:3])])

        self.epoch = epoch.tdb.jd
        self.segments = [
            solve_ivp(rhs, (self.epoch, Time(limit, scale="utc").tdb.jd), state0,
                      method="DOP853", rtol=1e-11, atol=1e-13, dense_output=True).sol
            for limit in (start, end) if Time(limit, scale="utc").tdb.jd != self.epoch
        ]

    def __call__(self, times: Time) -> np.ndarray:
        """(N, 3) positions at ``times``; NaN outside [start, end]."""
        jd = np.atleast_1d(times.tdb.jd)
        out = np.full((jd.size, 3), np.nan)
        for segment in self.segments:
            inside = (jd >= min(segment.t_min, segment.t_max)) & (jd <= max(segment.t_min,
                                                                            segment.t_max))
            if inside.any():
                out[inside] = segment(jd[inside])[:3].T
        return out


def ecliptic_to_icrs_axes(vector_km: np.ndarray, time: Time) -> np.ndarray:
    """A vector in J2000 mean-ecliptic axes rotated into ICRS axes (the frame rotation only)."""
    frame = HeliocentricMeanEcliptic(equinox="J2000", obstime=time)

    def icrs(v):
        return SkyCoord(CartesianRepresentation(v * u.km), frame=frame).transform_to(
            HCRS(obstime=time)).cartesian.xyz.to_value(u.km)

    return icrs(np.asarray(vector_km, float)) - icrs(np.zeros(3))


def stereo_a_state() -> tuple[np.ndarray, Time]:
    """STEREO-A's heliocentric state (au, au/day, ICRS axes) at its published epoch."""
    epoch = Time(STEREO_A_EPOCH, scale="utc")
    sun_pos, sun_vel = get_body_barycentric_posvel("sun", epoch)
    position = ecliptic_to_icrs_axes(STEREO_A_POSITION_KM, epoch) - sun_pos.xyz.to_value(u.km)
    velocity = (ecliptic_to_icrs_axes(STEREO_A_VELOCITY_KMS, epoch)
                - sun_vel.xyz.to_value(u.km / u.s))
    return np.concatenate([position / AU_KM, velocity * 86400.0 / AU_KM]), epoch


def stereo_b_state(params) -> tuple[np.ndarray, Time]:
    """STEREO-B's heliocentric state (au, au/day, ICRS axes) at STEREO_B_EPOCH from
    ``params`` = (distance au, J2000 ecliptic longitude deg, radial and transverse velocity
    km/s), in the ecliptic plane."""
    distance, longitude, v_radial, v_transverse = params
    epoch = Time(STEREO_B_EPOCH, scale="utc")
    pole = ecliptic_to_icrs_axes(np.array([0.0, 0.0, 1.0]), epoch)
    radial = ecliptic_to_icrs_axes(np.array([np.cos(np.radians(longitude)),
                                             np.sin(np.radians(longitude)), 0.0]), epoch)
    transverse = np.cross(pole, radial)
    velocity = (v_radial * radial + v_transverse * transverse) * 86400.0 / AU_KM
    return np.concatenate([distance * radial, velocity]), epoch


def to_stonyhurst(xyz_au: np.ndarray, times: Time) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """HGS longitude (deg, [-180, 180)), latitude (deg) and distance (au) of heliocentric
    ICRS-axes positions."""
    coord = SkyCoord(CartesianRepresentation(xyz_au.T * u.au), frame=HCRS(obstime=times))
    hgs = coord.transform_to(HeliographicStonyhurst(obstime=times))
    return wrap180(hgs.lon.to_value(u.deg)), hgs.lat.to_value(u.deg), hgs.radius.to_value(u.au)


class StereoModel:
    """Both spacecraft's trajectories; ``b_params`` sets STEREO-B's (fitted) orbit (see
    :func:`stereo_b_state`). ``trajectory_a``: STEREO-A's trajectory when already integrated
    (it has no free parameter)."""

    def __init__(self, system: SolarSystem, b_params=STEREO_B_GUESS, trajectory_a=None):
        self.system = system
        self.b_params = np.asarray(b_params, float)
        self.trajectories = {
            "A": trajectory_a or Trajectory(system, *stereo_a_state(), INTEGRATION_START,
                                            INTEGRATION_END["A"]),
            "B": Trajectory(system, *stereo_b_state(self.b_params), INTEGRATION_START,
                            INTEGRATION_END["B"]),
        }

    def stonyhurst(self, spacecraft: str, times: Time):
        """HGS longitude (deg), latitude (deg), distance (au) of the spacecraft at ``times``."""
        return to_stonyhurst(self.trajectories[spacecraft](times), times)

    def period_days(self, spacecraft: str, time: Time) -> float:
        """Osculating heliocentric orbital period (days) at ``time``."""
        times = time + np.array([-0.5, 0.0, 0.5]) * u.day
        r = self.trajectories[spacecraft](times)
        speed = np.linalg.norm(r[2] - r[0])  # au/day
        a = 1.0 / (2.0 / np.linalg.norm(r[1]) - speed**2 / GM_SUN)
        return float(2.0 * np.pi * np.sqrt(a**3 / GM_SUN))

    def evaluate(self, anchor: Anchor) -> float:
        """The model's value of the anchor's quantity at its time."""
        if anchor.quantity.startswith("period"):
            return self.period_days(anchor.quantity[-1], Time(anchor.time))
        time = Time([anchor.time], scale="utc")
        if anchor.quantity == "B-Moon dist":
            moon = (get_body_barycentric("moon", time)
                    - get_body_barycentric("sun", time)).xyz.to_value(u.au).T
            return float(np.linalg.norm(self.trajectories["B"](time) - moon))
        if anchor.quantity == "A-B sep":
            lon_a = self.stonyhurst("A", time)[0][0]
            lon_b = self.stonyhurst("B", time)[0][0]
            return float((lon_a - lon_b) % 360.0)
        spacecraft, what = anchor.quantity.split()
        lon, lat, dist = self.stonyhurst(spacecraft, time)
        return float({"lon": lon, "lat": lat, "dist": dist}[what][0])

    def residual(self, anchor: Anchor) -> float:
        """Model minus published value (deg, au or days); angles wrapped to [-180, 180)."""
        difference = self.evaluate(anchor) - anchor.value
        return float(wrap180(difference)) if "lon" in anchor.quantity or "sep" in anchor.quantity \
            else difference


def elongation_deg(model: StereoModel, spacecraft: str, times: Time) -> np.ndarray:
    """Angle Sun-Earth-spacecraft (deg): how close to the Sun the spacecraft appears from
    Earth (what sets the radio blackout near conjunction)."""
    earth = get_earth(times).cartesian.xyz.to_value(u.au).T
    lon, lat, dist = model.stonyhurst(spacecraft, times)
    craft = SkyCoord(lon * u.deg, lat * u.deg, dist * u.au,
                     frame=HeliographicStonyhurst(obstime=times)).cartesian.xyz.to_value(u.au).T
    to_sun, to_craft = -earth, craft - earth
    cosine = np.sum(to_sun * to_craft, axis=1) / (np.linalg.norm(to_sun, axis=1)
                                                  * np.linalg.norm(to_craft, axis=1))
    return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))


def blackout_elongation_deg(model: StereoModel, spacecraft: str) -> np.ndarray:
    """The spacecraft's elongation (deg) on the SSC's 2015 blackout boundary dates."""
    return elongation_deg(model, spacecraft, Time(list(BLACKOUT_BOUNDARIES[spacecraft]),
                                                  scale="utc"))


def conjunction_check_lines(model: StereoModel) -> list[str]:
    """The model against SSC's 2015 blackout dates: the elongations on the boundary dates
    (equal for a consistent radio threshold) and the days each spacecraft passes lon 180."""
    lines = ["2015 conjunction (SSC blackout estimates; elongation = angle Sun-Earth-spacecraft, "
             "deg; B's fitted to A's mean):"]
    days = Time("2015-01-01", scale="utc") + np.arange(0, 300) * u.day
    for spacecraft, dates in BLACKOUT_BOUNDARIES.items():
        elongation = blackout_elongation_deg(model, spacecraft)
        behind = wrap180(model.stonyhurst(spacecraft, days)[0] - 180.0)
        crossings = [days[i].iso[:10] for i in range(1, days.size)
                     if np.sign(behind[i]) != np.sign(behind[i - 1]) and abs(behind[i]) < 90]
        lines.append(f"  STEREO-{spacecraft}: elongation on {', '.join(dates)}: "
                     f"{', '.join(f'{e:.2f}' for e in elongation)}; passes lon 180 on "
                     f"{', '.join(crossings)}")
    return lines


def fit_stereo_b(model: StereoModel) -> StereoModel:
    """Fit STEREO-B's orbit to the anchors marked ``fit`` (deg) and to its 2015 blackout
    boundaries at STEREO-A's blackout elongation (doubled: about the longitude offset from
    the far side of the Sun that an elongation implies)."""
    anchors = [a for a in ANCHORS if a.fit]
    threshold = blackout_elongation_deg(model, "A").mean()

    def residuals(b_params):
        trial = StereoModel(model.system, b_params, model.trajectories["A"])
        return [trial.residual(a) for a in anchors] + list(
            2.0 * (blackout_elongation_deg(trial, "B") - threshold))

    solution = least_squares(residuals, model.b_params, x_scale=[1e-3, 0.05, 0.02, 0.01],
                             diff_step=1e-6)
    return StereoModel(model.system, solution.x, model.trajectories["A"])


def table_times(spacecraft: str) -> Time:
    """Every STEP_DAYS (calendar days, 00:00 UTC) from TABLE_START, and the spacecraft's end
    date."""
    start, end = (Time(t, scale="utc").mjd for t in (TABLE_START, TABLE_END[spacecraft]))
    return Time(np.append(np.arange(start, end, STEP_DAYS), end), format="mjd", scale="utc")


def table_rows(model: StereoModel, spacecraft: str, times: Time) -> np.ndarray:
    """(N, 3) HGS longitude (deg), latitude (deg), distance (au) at ``times``; STEREO-B is at
    the Earth before its departure."""
    rows = np.empty((len(times), 3))
    before = times < Time(STEREO_B_DEPARTURE, scale="utc") if spacecraft == "B" else \
        np.zeros(len(times), bool)
    rows[~before] = np.column_stack(model.stonyhurst(spacecraft, times[~before]))
    if before.any():
        earth = get_earth(times[before])
        rows[before] = np.column_stack([wrap180(earth.lon.to_value(u.deg)),
                                        earth.lat.to_value(u.deg), earth.radius.to_value(u.au)])
    return rows


def interpolation_error(model: StereoModel, spacecraft: str, times: Time, rows: np.ndarray):
    """Largest |linear interpolation of the table - model| halfway between rows: (lon deg,
    lat deg, dist au), over the model's part of the table."""
    mid = Time((times.mjd[:-1] + times.mjd[1:]) / 2.0, format="mjd", scale="utc")
    if spacecraft == "B":
        mid = mid[mid > Time(STEREO_B_DEPARTURE, scale="utc") + STEP_DAYS * u.day]
    truth = np.column_stack(model.stonyhurst(spacecraft, mid))
    lon = np.degrees(np.unwrap(np.radians(rows[:, 0])))
    interpolated = np.column_stack([
        np.interp(mid.mjd, times.mjd, column) for column in (lon, rows[:, 1], rows[:, 2])
    ])
    error = np.abs(interpolated - truth)
    error[:, 0] = np.abs(wrap180(interpolated[:, 0] - truth[:, 0]))
    return error.max(axis=0)


def accuracy_lines(model: StereoModel) -> list[str]:
    """One line per anchor: time, quantity, published, model, difference, source."""
    lines = ["time (UTC)               quantity   published      model  model-published  source"]
    for anchor in ANCHORS:
        tag = " [fit]" if anchor.fit else ""
        lines.append(f"{anchor.time[:19]:<24} {anchor.quantity:<9} {anchor.value:>10.4f} "
                     f"{model.evaluate(anchor):>10.4f} {model.residual(anchor):>+12.4f}     "
                     f"{anchor.source}{tag}")
    return lines


def write_table(path: Path, tables: dict, notes: list[str]) -> None:
    """The CSV: '#' comment lines (model, accuracy), then spacecraft,time,lon,lat,dist."""
    with open(path, "w") as f:
        for line in notes:
            f.write(f"# {line}".rstrip() + "\n")
        f.write("spacecraft,time_utc,hgs_lon_deg,hgs_lat_deg,distance_au\n")
        for spacecraft, (times, rows) in tables.items():
            for time, (lon, lat, dist) in zip(times.utc.isot, rows):
                f.write(f"{spacecraft},{time[:19]},{lon:.4f},{lat:.4f},{dist:.6f}\n")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the CSV to write")
    args = parser.parse_args(argv)

    system = SolarSystem(INTEGRATION_START, INTEGRATION_END["A"])
    model = fit_stereo_b(StereoModel(system))
    print(f"STEREO-B on {STEREO_B_EPOCH} (au, deg, km/s, km/s): {model.b_params.round(5)}")
    tables, interpolation = {}, []
    for spacecraft in ("A", "B"):
        times = table_times(spacecraft)
        rows = table_rows(model, spacecraft, times)
        tables[spacecraft] = (times, rows)
        lon_err, lat_err, dist_err = interpolation_error(model, spacecraft, times, rows)
        interpolation.append(f"STEREO-{spacecraft}: linear interpolation between rows departs "
                             f"from the model by at most {lon_err:.3f} deg lon, "
                             f"{lat_err:.3f} deg lat, {dist_err:.5f} au")
    accuracy = accuracy_lines(model) + [""] + conjunction_check_lines(model)
    notes = [
        "STEREO-A and STEREO-B heliographic Stonyhurst (HGS) positions, every "
        f"{STEP_DAYS} days, for data_prep.toysun.observers.",
        "Generated by scripts/make_stereo_table.py (offline; read its docstring for the model "
        "and sources). Do not edit by hand.",
        "Model: N-body (Sun, Venus, Earth-Moon, Mars, Jupiter, Saturn) from STEREO-A's "
        "2020-01-01 state vector; STEREO-B's in-ecliptic 2011-02-06 state fitted ([fit] rows "
        "and its 2015 blackout dates).",
        "STEREO-B rows before 2007-01-21 are the Earth's position (B was still in Earth orbit).",
        "STEREO-B's latitude and distance are not checked by any published value (orbit "
        "assumed in the ecliptic plane; STEREO-A's is inclined 0.13 deg to it).",
        "Columns: spacecraft (A or B), time_utc, hgs_lon_deg, hgs_lat_deg, distance_au.",
        "",
        "Accuracy against every published position found (lon/lat/sep in deg, dist in au, "
        "period in days):",
        *accuracy,
        "",
        *interpolation,
    ]
    write_table(args.out, tables, notes)
    print("\n".join(accuracy + interpolation))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
