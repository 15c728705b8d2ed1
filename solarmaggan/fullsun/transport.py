"""Surface flux transport (SFT): the radial field B_r carried over the solar surface by
differential rotation, a meridional flow and supergranular diffusion, on the full-Sun
cylindrical equal-area grid of the synchronic maps (rows equal in sine latitude, columns in
Carrington longitude; :func:`data_prep.geometry.full_sun_header`).

The equation (B_r in G, t in s, latitude lambda, s = sin(lambda), Carrington longitude phi,
R the solar radius; the SFT equation as reviewed by Mackay & Yeates 2012, Living Rev.
Solar Phys. 9, 6)::

    dB/dt = - omega(lambda) dB/dphi
            - (1/R) d/ds [ cos(lambda) v(lambda) B ]
            + (eta/R^2) { d/ds [ (1 - s^2) dB/ds ] + 1/(1 - s^2) d^2B/dphi^2 }
            - B / tau

Profiles (defaults, :class:`TransportParameters`):

* **differential rotation** omega(lambda): the profile the synchronic maps use, sunpy's
  :func:`sunpy.sun.models.differential_rotation` (Howard et al. 1990, sidereal) minus the
  Carrington rate (14.1844 deg/day);
* **meridional flow** v(lambda) = v0 sin(2 lambda), poleward in both hemispheres,
  v0 = 11 m/s: the simplest of the published profiles (peak speeds of 10-20 m/s in the
  models Mackay & Yeates 2012 review);
* **diffusion** eta = 450 km^2/s, inside the 250-600 km^2/s of published SFT models (the
  issue's range; Mackay & Yeates 2012);
* **decay** tau: none by default (an optional exponential decay, as some SFT models add
  for the field's escape, with times of years).

The toy Sun has none of this model's meridional flow or diffusion (its polar fields are
steady and its regions decay by a prescribed law), so evolving its maps with this model
carries a realistic model error; its parameters are never fitted to the toy Sun.

Numerics (written by hand: no SFT library is on the package registry as far as we found;
numpy only):

* the longitude terms (rotation and the longitudinal part of the diffusion) are solved
  exactly for each row in Fourier space: mode m of a row at s is multiplied by
  exp(-i m omega dt - eta m^2 dt / (R^2 (1 - s^2))), unconditionally stable and leaving
  each row's mean (m = 0) unchanged;
* the latitude terms (flow and diffusion in s) are finite volumes on the equal-area rows:
  fluxes through the row boundaries (donor-cell upwind for the flow, central differences
  for the diffusion), zero at the poles, so the net flux changes only by rounding
  (conserved to 1e-12 relative); explicit, sub-stepped so that each sub-step keeps
  v dt / (R ds) <= 0.5 and eta dt / (R ds)^2 <= 0.25 (:meth:`FluxTransport.substeps`; at
  180 rows and the defaults a 6-hour step needs one). The upwind flux adds a numerical
  diffusion of about v R ds / 2 (42 km^2/s at 180 rows, 10 % of eta);
* decay: the factor exp(-dt / tau).

The two parts are applied one after the other each step (Lie splitting), rotation first.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from data_prep.geometry import CARRINGTON_SIDEREAL_RATE_DEG_DAY, RSUN_REF_M

CARRINGTON_RATE_DEG_DAY = CARRINGTON_SIDEREAL_RATE_DEG_DAY  # the Carrington frame's sidereal rate
DAY_S = 86400.0
#: Defaults of :class:`TransportParameters` (km^2/s, m/s, hours)
DEFAULT_DIFFUSION_KM2_S = 450.0
DEFAULT_FLOW_M_S = 11.0
DEFAULT_STEP_HOURS = 6.0


@dataclasses.dataclass(frozen=True)
class TransportParameters:
    """The SFT model's parameters (see the module docstring for the profiles).

    Attributes:
        diffusion_km2_s: supergranular diffusion eta, km^2/s (>= 0).
        flow_m_s: peak meridional flow v0 of v0 sin(2 latitude), m/s, poleward (>= 0).
        decay_years: exponential decay time tau, years; None: no decay.
        rotation: True: sunpy's Howard et al. differential rotation in the Carrington frame;
            False: none (tests, or a map already in the frame of the flow).
        step_hours: the time step, hours (> 0; the last step of an evolution is shorter).
    """

    diffusion_km2_s: float = DEFAULT_DIFFUSION_KM2_S
    flow_m_s: float = DEFAULT_FLOW_M_S
    decay_years: float | None = None
    rotation: bool = True
    step_hours: float = DEFAULT_STEP_HOURS

    def check(self) -> list[str]:
        """One line per bad parameter (empty when all are valid)."""
        problems = []
        if not (math.isfinite(self.diffusion_km2_s) and self.diffusion_km2_s >= 0):
            problems.append(f"diffusion must be a finite number >= 0 km^2/s, got {self.diffusion_km2_s}")
        if not (math.isfinite(self.flow_m_s) and self.flow_m_s >= 0):
            problems.append(f"meridional flow must be a finite number >= 0 m/s, got {self.flow_m_s}")
        if self.decay_years is not None and not (math.isfinite(self.decay_years)
                                                 and self.decay_years > 0):
            problems.append(f"decay time must be > 0 years, got {self.decay_years}")
        if not (math.isfinite(self.step_hours) and self.step_hours > 0):
            problems.append(f"time step must be > 0 hours, got {self.step_hours}")
        return problems

    def cards(self) -> dict[str, Any]:
        """FITS cards recording the model (SFT*), for the maps it writes."""
        return {"SFTMODEL": ("solarmaggan.fullsun.transport", "surface flux transport"),
                "SFTDIFF": (self.diffusion_km2_s, "[km2/s] diffusion"),
                "SFTFLOW": (self.flow_m_s, "[m/s] meridional flow v0 sin(2 lat)"),
                "SFTDECAY": ("none" if self.decay_years is None else self.decay_years,
                             "[yr] decay time"),
                "SFTROT": ("howard" if self.rotation else "none",
                           "differential rotation (sunpy, Carrington frame)"),
                "SFTSTEP": (self.step_hours, "[h] time step")}


def rotation_rate_rad_s(latitude_deg: np.ndarray) -> np.ndarray:
    """Differential rotation in the Carrington frame, rad/s, at ``latitude_deg``: sunpy's
    Howard et al. (1990) sidereal rate minus the Carrington rate (the synchronic maps'
    profile, ``propagate_with_solar_surface``)."""
    import astropy.units as u
    from sunpy.sun.models import differential_rotation

    sidereal = differential_rotation(1 * u.day, np.asarray(latitude_deg) * u.deg,
                                     model="howard", frame_time="sidereal").to_value(u.deg)
    return np.deg2rad(np.asarray(sidereal) - CARRINGTON_RATE_DEG_DAY) / DAY_S


def meridional_flow_m_s(latitude_deg: np.ndarray, flow_m_s: float) -> np.ndarray:
    """The meridional flow v0 sin(2 latitude), m/s, positive northward: poleward in both
    hemispheres."""
    return flow_m_s * np.sin(2.0 * np.deg2rad(latitude_deg))


class FluxTransport:
    """The SFT model on a full-Sun CEA grid of ``shape`` (rows, columns).

    ``step(br_gauss, dt_s)`` advances one step, ``evolve(br_gauss, duration_s)`` a duration
    in steps of ``parameters.step_hours``; both return new (rows, columns) float64 arrays of
    B_r in G (rows: sine latitude from -1 to 1, columns: Carrington longitude, increasing).
    """

    def __init__(self, shape: tuple[int, int], parameters: TransportParameters | None = None,
                 rsun_m: float = RSUN_REF_M):
        self.parameters = parameters or TransportParameters()
        problems = self.parameters.check()
        if problems:
            raise ValueError("; ".join(problems))
        rows, columns = (int(n) for n in shape)
        if rows < 4 or columns < 4:
            raise ValueError(f"the grid needs at least 4 x 4 pixels, got {rows} x {columns}")
        self.shape = (rows, columns)
        self.rsun_m = float(rsun_m)
        self.ds = 2.0 / rows
        self.sine_latitude = -1.0 + (np.arange(rows) + 0.5) * self.ds
        self.latitude_deg = np.rad2deg(np.arcsin(self.sine_latitude))
        # the row boundaries between row i and i + 1 (the poles, where fluxes vanish, left out)
        face_sine = -1.0 + np.arange(1, rows) * self.ds
        face_latitude = np.rad2deg(np.arcsin(face_sine))
        self.eta = self.parameters.diffusion_km2_s * 1e6  # m^2/s
        # flux coefficients at the inner boundaries, per unit s: advective velocity (1/s)
        # cos(lat) v / R and diffusive (1/s) eta (1 - s^2) / R^2
        self.face_velocity = (np.sqrt(1.0 - face_sine ** 2)
                              * meridional_flow_m_s(face_latitude, self.parameters.flow_m_s)
                              / self.rsun_m)
        self.face_diffusion = self.eta * (1.0 - face_sine ** 2) / self.rsun_m ** 2
        self.omega = (rotation_rate_rad_s(self.latitude_deg) if self.parameters.rotation
                      else np.zeros(rows))
        self.wavenumber = np.arange(columns // 2 + 1)

    def substeps(self, dt_s: float) -> int:
        """How many explicit latitude sub-steps a step of ``dt_s`` takes (the limits in the
        module docstring)."""
        limits = []
        if np.any(self.face_velocity):
            limits.append(0.5 * self.ds / float(np.max(np.abs(self.face_velocity))))
        if np.any(self.face_diffusion):
            limits.append(0.25 * self.ds ** 2 / float(np.max(self.face_diffusion)))
        return max(1, math.ceil(dt_s / min(limits))) if limits else 1

    def _longitude(self, br: np.ndarray, dt_s: float) -> np.ndarray:
        spectrum = np.fft.rfft(br, axis=1)
        m = self.wavenumber[None, :]
        phase = np.exp(-1j * m * (self.omega[:, None] * dt_s))
        damping = np.exp(-self.eta * m ** 2 * dt_s
                         / (self.rsun_m ** 2 * (1.0 - self.sine_latitude[:, None] ** 2)))
        return np.fft.irfft(spectrum * phase * damping, n=self.shape[1], axis=1)

    def _latitude(self, br: np.ndarray, dt_s: float) -> np.ndarray:
        substeps = self.substeps(dt_s)
        dt = dt_s / substeps
        for _ in range(substeps):
            upwind = np.where(self.face_velocity[:, None] > 0, br[:-1], br[1:])
            flux = (self.face_velocity[:, None] * upwind
                    - self.face_diffusion[:, None] * (br[1:] - br[:-1]) / self.ds)
            change = np.zeros_like(br)
            change[:-1] -= flux
            change[1:] += flux
            br = br + dt * change / self.ds
        return br

    def step(self, br_gauss: np.ndarray, dt_s: float) -> np.ndarray:
        """B_r (G, (rows, columns)) after ``dt_s`` seconds (> 0)."""
        br = np.asarray(br_gauss, dtype=np.float64)
        if br.shape != self.shape:
            raise ValueError(f"map of shape {br.shape}, the model's grid is {self.shape}")
        br = self._latitude(self._longitude(br, dt_s), dt_s)
        if self.parameters.decay_years is not None:
            br = br * math.exp(-dt_s / (self.parameters.decay_years * 365.25 * DAY_S))
        return br

    def evolve(self, br_gauss: np.ndarray, duration_s: float) -> np.ndarray:
        """B_r (G) after ``duration_s`` seconds (>= 0), in steps of ``step_hours`` (the
        last one shorter)."""
        if duration_s < 0:
            raise ValueError(f"the model runs forward in time, got {duration_s / 3600:.2f} h")
        br = np.asarray(br_gauss, dtype=np.float64)
        step_s = self.parameters.step_hours * 3600.0
        done = 0.0
        while duration_s - done > 1e-6:
            dt = min(step_s, duration_s - done)
            br = self.step(br, dt)
            done += dt
        return br


# ---------------------------------------------------------------------------------------
# one full-Sun map evolved to a later time: ``solarmaggan transport``

#: observer and time keywords refreshed for the new time (from a fresh full-Sun header)
TIME_KEYS = ("DATE-OBS", "MJD-OBS", "HGLN_OBS", "HGLT_OBS", "CRLN_OBS", "CRLT_OBS", "DSUN_OBS")


def read_full_sun_map(path: str | os.PathLike):
    """A full-Sun B_r map on the model's grid (CEA in sine latitude, Carrington longitude,
    finite everywhere), as a sunpy map; FitsInputError "PATH: problem" otherwise."""
    from data_prep.fitsio import FitsInputError
    from solarmaggan.fullsun.synchronic import check_carrington_cea, read_fill

    name = str(path)
    full_sun = read_fill(path, needed_by="transport needs")
    check_carrington_cea(full_sun, name, "transport needs")
    if not (float(full_sun.meta.get("cdelt1", 0)) > 0 and float(full_sun.meta.get("cdelt2", 0)) > 0):
        raise FitsInputError(f"{name}: transport needs longitude and latitude increasing "
                             "(CDELT1, CDELT2 > 0)")
    bad = int(np.count_nonzero(~np.isfinite(np.asarray(full_sun.data, dtype=np.float64))))
    if bad:
        raise FitsInputError(f"{name}: {bad} pixels are NaN or infinite; transport needs a "
                             "complete map (a synchronic map, or a synoptic map with its gaps "
                             "filled)")
    return full_sun


def transport_file(path: str | os.PathLike, to_time: Any, out: str | os.PathLike,
                   parameters: TransportParameters | None = None) -> dict[str, Any]:
    """Evolve the full-Sun map ``path`` to ``to_time`` (ISO or astropy Time, not earlier
    than the map's) and write ``out`` (FITS, atomically): the same grid and header, the
    time and observer keywords of the new time, the model's SFT* cards and a HISTORY card;
    the layers of the input (SOURCE, AGE, UNCERTAINTY, ...) are not carried (they describe
    the old time). Returns a record of what was done."""
    from astropy.io import fits
    from astropy.time import Time

    from data_prep.atomic import atomic_path
    from data_prep.geometry import full_sun_header

    parameters = parameters or TransportParameters()
    problems = parameters.check()
    if problems:
        raise ValueError("; ".join(problems))
    try:
        target = Time(to_time).utc
    except ValueError:
        raise ValueError(f"--to: not a time: {to_time!r} (ISO 8601, e.g. 2011-03-01T00:00)") from None
    full_sun = read_full_sun_map(path)
    start = full_sun.reference_date.utc
    duration_s = float((target - start).to_value("s"))
    if duration_s < 0:
        raise ValueError(f"--to {target.isot[:19]} is before the map's time {start.isot[:19]} "
                         f"({path}): the model runs forward in time")
    model = FluxTransport(full_sun.data.shape, parameters)
    evolved = model.evolve(np.asarray(full_sun.data, dtype=np.float64), duration_s)
    header = fits.getheader(path)
    fresh = full_sun_header(target, full_sun.data.shape, "carrington")
    for key in TIME_KEYS:
        if key in fresh:
            header[key] = fresh[key]
    for key in ("DATE-AVG", "DATE_OBS", "T_OBS", "DATE-BEG", "DATE-END"):
        header.remove(key, ignore_missing=True, remove_all=True)
    for key, (value, comment) in parameters.cards().items():
        header[key] = (value, comment)
    header["SFTFROM"] = (start.isot[:19], "time of the map evolved")
    header["SFTDAYS"] = (round(duration_s / DAY_S, 6), "[d] evolved for")
    header.add_history(f"solarmaggan transport: {Path(path).name} evolved {duration_s / DAY_S:.3f} "
                       f"days by surface flux transport to {target.isot[:19]}")
    for key in ("SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "EXTEND"):
        header.remove(key, ignore_missing=True, remove_all=True)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as temporary:
        fits.PrimaryHDU(evolved.astype(np.float32), header).writeto(temporary)
    net_before = float(np.mean(full_sun.data, dtype=np.float64))
    return {"input": str(path), "out": str(out), "from": start.isot, "to": target.isot,
            "days": duration_s / DAY_S, "steps": math.ceil(duration_s / (parameters.step_hours * 3600.0) - 1e-9),
            "mean_br_before_gauss": net_before, "mean_br_after_gauss": float(np.mean(evolved))}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``solarmaggan transport`` arguments."""
    parser.add_argument("map", help="a full-Sun B_r map: Carrington CEA FITS, complete (a "
                        "synchronic map, or a filled synoptic map such as hmi.Synoptic_Mr)")
    parser.add_argument("--to", required=True, metavar="TIME",
                        help="the time to evolve it to (ISO 8601, UTC; not before the map's)")
    parser.add_argument("--out", required=True, help="output FITS file")
    add_model_arguments(parser)
    parser.add_argument("--quiet", action="store_true", help="no summary line")


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The SFT model's options (``transport``, ``assimilate``); :func:`model_parameters`
    reads them."""
    parser.add_argument("--diffusion", type=float, default=DEFAULT_DIFFUSION_KM2_S,
                        metavar="KM2_S", help="supergranular diffusion, km^2/s (default 450)")
    parser.add_argument("--flow", type=float, default=DEFAULT_FLOW_M_S, metavar="M_S",
                        help="peak meridional flow v0 of v0 sin(2 latitude), m/s (default 11)")
    parser.add_argument("--decay-years", type=float, default=None, metavar="YEARS",
                        help="exponential decay time, years (default: none)")
    parser.add_argument("--step-hours", type=float, default=DEFAULT_STEP_HOURS, metavar="H",
                        help="time step, hours (default 6)")
    parser.add_argument("--no-rotation", action="store_true",
                        help="leave out the differential rotation")


def model_parameters(args: argparse.Namespace) -> TransportParameters:
    """The :class:`TransportParameters` of the options :func:`add_model_arguments` adds."""
    return TransportParameters(diffusion_km2_s=args.diffusion, flow_m_s=args.flow,
                               decay_years=args.decay_years, rotation=not args.no_rotation,
                               step_hours=args.step_hours)


def run(args: argparse.Namespace) -> int:
    """Run ``solarmaggan transport`` (ValueError for bad inputs or settings)."""
    record = transport_file(args.map, args.to, args.out, model_parameters(args))
    if not args.quiet:
        print(f"wrote {record['out']}: {record['input']} evolved {record['days']:.2f} days "
              f"({record['steps']} steps) to {record['to'][:19]}; mean B_r "
              f"{record['mean_br_before_gauss']:+.4f} -> {record['mean_br_after_gauss']:+.4f} G")
    return 0
