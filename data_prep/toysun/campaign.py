"""A campaign: the one toy Sun observed by SDO, by STEREO-like spacecraft and by Solar
Orbiter over months, written as the instruments write their files, with the truth for
evaluation.

``solarmaggan toysun campaign OUT`` (:func:`run_campaign`) writes, for every time of the
campaign (``start`` + k ``cadence_hours``, k = 0 .. within ``days``):

=============================================  ====================================================
``OUT/sdo/aia/*.fits``                         AIA level 1 (DN) of each channel, Earth's view
``OUT/sdo/hmi/*.fits``                         HMI line-of-sight magnetogram as JSOC exports it
``OUT/<observer>/euvi/*.fts``                  EUVI level 0 of each channel (304, 195, 171), for
                                               every STEREO-like observer, every
                                               ``far_side_every``-th time
``OUT/<observer>/fsi/*.fits``                  EUI/FSI level 2 (DN/s) for a Solar Orbiter
                                               observer, every ``far_side_every``-th time:
                                               ``solo_L2_eui-fsi304-image_<start>_V01.fits`` (304
                                               for the 304 channel, 174 for 171; FSI has no
                                               193/195)
``OUT/truth/<observer>/magnetogram/*.fits``    the line-of-sight field that observer would
                                               measure (no noise; its EUVI file's WCS, or for
                                               Solar Orbiter SO/PHI-FDT's: 2 deg, the Sun centred)
``OUT/truth/carrington/*.fits``                the whole-Sun radial field, Carrington CEA map
``OUT/truth/regions.csv``                      every active region of the whole Sun at every
                                               time, from the toy Sun's state
                                               (:mod:`data_prep.toysun.region_truth`)
``OUT/campaign.json``                          the settings, the observers, the files
=============================================  ====================================================

Observers: ``earth`` (SDO: AIA and HMI), ``stereo-a``, ``stereo-b`` (EUVI; positions from
the built-in table, :mod:`data_prep.toysun.observers`), explicit ``[NAME=]LON,LAT,AU``,
Solar Orbiter as ``solo=LON,LAT,AU`` (EUI/FSI and the PHI-FDT truth; 0.28-1 au) or a FITS
file (the observer where its header says, with its detector; an EUI/FSI file makes a Solar
Orbiter observer). Detectors: each instrument's full field of view on ``size`` pixels
(:func:`~data_prep.toysun.instruments.default_detector`).
EUV images are rendered without noise and written with Poisson noise in DN for the
exposure time (:func:`~data_prep.toysun.instruments.write_instrument_file`); the HMI
magnetogram carries HMI's noise at its pixel scale. A file already written is not written
again, so an interrupted campaign resumes; the settings must then be the same.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import zlib
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from data_prep.atomic import write_json_atomically
from data_prep.progress import Progress
from data_prep.scheduler import open_scheduler
from data_prep.toysun import instruments, observers
from data_prep.toysun.evolution import WholeSun
from data_prep.toysun.region_truth import write_truth_regions
from data_prep.toysun.views import AU_M, RSUN_OBS_ARCSEC, ViewGeometry, render

AIA_CHANNELS = (304, 193, 171)
EUVI_WAVELENGTH = {304: 304, 193: 195, 171: 171}  # EUVI's passband for each AIA channel
FSI_WAVELENGTH = {304: 304, 171: 174}  # FSI's passband for each AIA channel (none for 193)
MIN_SIZE = 64  # detector pixels a side


@dataclasses.dataclass(frozen=True)
class CampaignSettings:
    """What a campaign observes (see the module docstring).

    Attributes:
        start: first time (ISO 8601, UTC).
        days: length (days, > 0); times ``start + k cadence`` before ``start + days``.
        cadence_hours: time between observations (hours, > 0).
        observers: observer specifications (:func:`data_prep.toysun.observers.parse_observer`).
        far_side_every: observers other than Earth (STEREO-like, Solar Orbiter) observe
            every N-th time.
        size: detector pixels a side (>= 64).
        channels: AIA channels (304, 193, 171); EUVI observes 304, 195, 171 for them,
            FSI 304 and 174 (for 304 and 171).
        seed: the Sun (:class:`~data_prep.toysun.evolution.WholeSun`).
        carrington_shape: (nlat, nlon) of the truth maps (even numbers).
        grid_deg: the Sun's grid resolution (deg); None: about one pixel of the sharpest
            view at disk centre, 0.1-0.25 deg (:func:`_grid_deg`).
    """

    start: str = "2011-01-01T00:00:00"
    days: float = 365.0
    cadence_hours: float = 24.0
    observers: tuple[str, ...] = ("earth", "stereo-a", "stereo-b")
    far_side_every: int = 1
    size: int = 512
    channels: tuple[int, ...] = (304,)
    seed: int = 0
    carrington_shape: tuple[int, int] = (180, 360)
    grid_deg: float | None = None

    def __post_init__(self) -> None:
        from astropy.time import Time

        try:  # one spelling of the start, so that a campaign resumes whoever started it
            object.__setattr__(self, "start", Time(self.start, scale="utc").isot[:19])
        except ValueError:
            pass  # reported by check()

    def check(self) -> list[str]:
        """Every problem, one line each (empty if none)."""
        from astropy.time import Time

        problems = []
        try:
            Time(self.start)
        except ValueError:
            problems.append(f"--start: {self.start!r} is not a date (ISO 8601, e.g. 2011-01-01)")
        if not (isinstance(self.days, (int, float)) and math.isfinite(self.days) and self.days > 0):
            problems.append(f"--days: {self.days!r} is not a number of days > 0")
        if not (math.isfinite(self.cadence_hours) and self.cadence_hours > 0):
            problems.append(f"--cadence-hours: {self.cadence_hours!r} is not a number of hours > 0")
        if not (isinstance(self.far_side_every, int) and self.far_side_every >= 1):
            problems.append(f"--far-side-every: {self.far_side_every!r} is not an integer >= 1")
        if not (isinstance(self.size, int) and self.size >= MIN_SIZE):
            problems.append(f"--size: {self.size!r} is not an integer >= {MIN_SIZE} pixels")
        if not self.channels or any(c not in AIA_CHANNELS for c in self.channels) or len(
                set(self.channels)) != len(self.channels):
            problems.append(f"--channels: {list(self.channels)} must be distinct values among "
                            f"{list(AIA_CHANNELS)}")
        if not self.observers:
            problems.append("--observer: give at least one observer")
        if any(n <= 0 or n % 2 for n in self.carrington_shape):
            problems.append(f"carrington_shape {self.carrington_shape} must be even numbers > 0")
        if not (isinstance(self.seed, int) and self.seed >= 0):
            problems.append(f"--seed: {self.seed!r} is not an integer >= 0")
        return problems

    def times(self) -> list[str]:
        """The campaign's times, ISO 8601 UTC to the second."""
        from astropy.time import Time, TimeDelta

        start = Time(self.start, scale="utc")
        count = int(math.ceil(self.days * 24.0 / self.cadence_hours - 1e-9))
        return [(start + TimeDelta(k * self.cadence_hours * 3600.0, format="sec")).isot[:19]
                for k in range(count)]

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self)))


@dataclasses.dataclass
class _Observer:
    """An observer of the campaign: where it is, what it carries, where its files go."""

    spec: observers.ObserverSpec
    instrument_detectors: dict[str, Any]  # instrument -> Detector

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def is_earth(self) -> bool:
        return self.spec.kind == "earth"


def _observers(settings: CampaignSettings, times: Sequence[str]) -> list[_Observer]:
    """The observers, checked at the first and last time (ValueError, one line each)."""
    chosen: list[_Observer] = []
    problems = []
    for text in settings.observers:
        try:
            spec = observers.parse_observer(text)
            for time in (times[0], times[-1]):
                observers.observer_coordinate(spec, time)
            detectors = _detectors(spec, settings.size)
        except ValueError as error:
            problems.append(f"--observer: {error}")
            continue
        if spec.name in {other.name for other in chosen}:
            continue  # the same observer asked twice
        chosen.append(_Observer(spec, detectors))
    if problems:
        raise ValueError("\n".join(problems))
    return chosen


def _detectors(spec: observers.ObserverSpec, size: int) -> dict[str, Any]:
    """What an observer carries, by instrument: Earth AIA and HMI; a STEREO-like observer
    EUVI; Solar Orbiter FSI and PHI-FDT ("phi", for its truth). Each instrument's full field
    on ``size`` pixels, except a FITS-file observer's imager, which is the file's detector
    (for Solar Orbiter only an EUI/FSI file's; any other Solar Orbiter file gets the default
    FSI)."""
    if spec.kind == "earth":
        return {kind: instruments.default_detector(kind, size) for kind in ("aia", "hmi")}
    imager = instruments.default_detector(spec.instrument, size)
    if spec.kind == "header":
        from data_prep.fitsio import identify

        header = observers.read_observer_header(spec.header_path)
        if spec.instrument == "euvi" or identify(header) == "fsi":
            imager = instruments.detector_from_header(header)
    if spec.instrument == "fsi":
        return {"fsi": imager, "phi": instruments.phi_fdt_detector(size)}
    return {"euvi": imager}


def _stamp(time: str) -> str:
    """``2011-01-01T06:00:00`` -> ``20110101_060000``."""
    return time.replace("-", "").replace(":", "").replace("T", "_")[:15]


def planned_files(out: Path, time: str, index: int, settings: CampaignSettings,
                  chosen: Sequence[_Observer]) -> list[tuple[str, Any, Path]]:
    """(what, detail, path) of every file for one time: ("aia", (observer, wavelength)),
    ("hmi", (observer, 6173)), ("euvi" or "fsi", (observer, wavelength)), ("truth",
    (observer, None)), ("carrington", None)."""
    stamp = _stamp(time)
    files: list[tuple[str, Any, Path]] = []
    for observer in chosen:
        if observer.is_earth:
            for wavelength in settings.channels:
                files.append(("aia", (observer, wavelength), out / "sdo" / "aia"
                              / f"aia_lev1_{wavelength}a_{stamp}_toy.fits"))
            files.append(("hmi", (observer, 6173), out / "sdo" / "hmi"
                          / f"hmi_m_45s_{stamp}_toy_magnetogram.fits"))
        elif index % settings.far_side_every == 0:
            for wavelength in settings.channels:
                if observer.spec.instrument == "fsi":
                    if wavelength in FSI_WAVELENGTH:
                        fsi = FSI_WAVELENGTH[wavelength]
                        files.append(("fsi", (observer, fsi), out / observer.name / "fsi"
                                      / instruments.fsi_file_name(time, fsi)))
                    continue
                euvi = EUVI_WAVELENGTH[wavelength]
                files.append(("euvi", (observer, euvi), out / observer.name / "euvi"
                              / f"{stamp}_euvi_{euvi}_{observer.name}_toy.fts"))
            files.append(("truth", (observer, None), out / "truth" / observer.name / "magnetogram"
                          / f"{stamp}_{observer.name}_los_truth.fits"))
    files.append(("carrington", None, out / "truth" / "carrington" / f"{stamp}_carrington_br.fits"))
    return files


def _grid_deg(settings: CampaignSettings, chosen: Sequence[_Observer]) -> float:
    """About one pixel of the sharpest view at disk centre, within 0.1-0.25 deg: heliographic
    deg a pixel = scale (arcsec) x distance (au) / RSUN_OBS_ARCSEC (rad), the distance 1 au for
    observers at 0.9 au or more (Earth, STEREO: campaigns of these keep the grid of 1 au) and
    an explicit or FITS-file observer's own distance when nearer (Solar Orbiter)."""
    if settings.grid_deg is not None:
        return float(settings.grid_deg)
    near_au = instruments.STEREO_DISTANCE_AU[0]
    finest_arcsec = min(d.scale_arcsec * _distance_au(o, near_au) for o in chosen
                        for d in o.instrument_detectors.values())
    deg_per_px = math.degrees(finest_arcsec / RSUN_OBS_ARCSEC)  # at disk centre
    for grid_deg in (0.25, 0.2, 0.15, 0.1):
        if grid_deg <= deg_per_px:
            return grid_deg
    return 0.1


def _distance_au(observer: _Observer, near_au: float) -> float:
    """The observer's distance (au) if fixed and below ``near_au``, else 1."""
    distance_m = observer.spec.distance_m
    if distance_m is None or distance_m / AU_M >= near_au:
        return 1.0
    return distance_m / AU_M


def run_campaign(out: str | Path, settings: CampaignSettings = CampaignSettings(),
                 progress: bool = True, workers: int | None = None,
                 scheduler: str = "processes") -> dict[str, Any]:
    """Write the campaign into ``out`` (see the module docstring), or finish an interrupted
    one, the times shared among ``workers`` processes (default: all cores) or the workers of
    a Dask cluster (``scheduler``, :mod:`data_prep.scheduler`; one task a time, each
    writing its own files atomically). Settings and the scheduler are checked before
    anything is written (ValueError, one line per problem). Returns the record written to
    ``out/campaign.json``. Each file's noise is drawn from the seed, the time and the
    file's name, so the files do not depend on the workers, the scheduler or the order."""
    problems = settings.check()
    if problems:
        raise ValueError("\n".join(problems))
    out = Path(out)
    times = settings.times()
    chosen = _observers(settings, times)
    record_path = out / "campaign.json"
    if record_path.exists():
        previous = json.loads(record_path.read_text()).get("settings")
        if previous != settings.to_dict():
            changed = sorted(k for k in settings.to_dict() if (previous or {}).get(k) != settings.to_dict()[k])
            raise ValueError(f"{out}: written by a campaign with other settings ({', '.join(changed)} "
                             f"differ); use another folder or the same settings to resume")
    plans = [planned_files(out, time, index, settings, chosen) for index, time in enumerate(times)]
    todo = [(index, time, [entry for entry in files if not entry[2].exists()])
            for index, (time, files) in enumerate(zip(times, plans))]
    todo = [job for job in todo if job[2]]
    if scheduler == "processes":
        workers = max(1, min(int(workers or os.cpu_count() or 1), len(todo) or 1))
        if workers > 1:
            import sunpy.map  # noqa: F401  (loaded once here, not in every forked worker)
    with open_scheduler(scheduler, workers) as runner:
        out.mkdir(parents=True, exist_ok=True)
        record = {"settings": settings.to_dict(),
                  "observers": {o.name: dataclasses.asdict(o.spec) for o in chosen},
                  "times": times, "grid_deg": _grid_deg(settings, chosen),
                  "files": {"aia": "sdo/aia", "hmi": "sdo/hmi",
                            "euvi": {o.name: f"{o.name}/euvi" for o in chosen
                                     if not o.is_earth and o.spec.instrument == "euvi"},
                            "fsi": {o.name: f"{o.name}/fsi" for o in chosen
                                    if not o.is_earth and o.spec.instrument == "fsi"},
                            "truth": {o.name: f"truth/{o.name}/magnetogram" for o in chosen
                                      if not o.is_earth},
                            "carrington": "truth/carrington", "regions": "truth/regions.csv"}}
        write_json_atomically(record_path, record)
        total = sum(len(files) for files in plans)
        bar = Progress(total, "campaign", unit="files", enabled=progress)
        bar.update(total - sum(len(missing) for _, _, missing in todo))
        jobs = [(settings, record["grid_deg"], index, time, missing)
                for index, time, missing in todo]
        for written in runner.map(_observe, jobs):
            bar.update(written)
        bar.close()
    write_truth_regions(out)
    return record


@functools.lru_cache(maxsize=4)
def _sun(seed: int, grid_deg: float) -> WholeSun:
    """The campaign's Sun (one per worker process)."""
    return WholeSun(seed, grid_deg=grid_deg)


def _observe(settings: CampaignSettings, grid_deg: float, index: int, time: str,
             missing: Sequence[tuple[str, Any, Path]]) -> int:
    """Render and write the ``missing`` files of one time (see :func:`planned_files`);
    returns how many were written."""
    state = _sun(settings.seed, grid_deg).state(time)
    views: dict[tuple[str, str], tuple[Any, ViewGeometry]] = {}

    def header_of(observer: _Observer, kind: str, wavelength: int | None) -> Any:
        """The observer's header for this instrument ("phi": PHI-FDT's truth view)."""
        coordinate = observers.observer_coordinate(observer.spec, time)
        detector = observer.instrument_detectors[kind]
        if kind == "phi":
            return instruments.phi_view_header(time, coordinate, detector)
        return instruments.instrument_header(kind, time, coordinate, detector, wavelength)

    def view(observer: _Observer, kind: str, wavelength: int | None) -> tuple[Any, ViewGeometry]:
        """The observer's header for this instrument and channel, and the geometry of its
        detector (shared by its channels and its truth)."""
        if (observer.name, kind) not in views:
            header = header_of(observer, kind, wavelength)
            views[observer.name, kind] = (header, ViewGeometry(header, state.carrington_offset_deg))
        header, geometry = views[observer.name, kind]
        if wavelength not in (None, header.get("WAVELNTH")) and kind not in ("hmi", "phi"):
            header = header_of(observer, kind, wavelength)
        return header, geometry

    for what, detail, path in missing:
        path.parent.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng([settings.seed, index, zlib.crc32(path.name.encode()), 17])
        if what == "carrington":
            header = instruments.carrington_header(time, settings.carrington_shape)
            instruments.write_float_image(path, state.carrington_map(
                settings.carrington_shape).astype(np.float32), header)
        elif what == "truth":  # in the view of the observer's imager, or of PHI-FDT
            header, geometry = view(detail[0], "phi" if "phi" in detail[0].instrument_detectors
                                    else "euvi", None)
            image = render(state, header, ["los"], geometry=geometry)["los"]
            instruments.write_float_image(path, image, instruments.truth_magnetogram_header(header))
        elif what == "hmi":
            header, geometry = view(detail[0], "hmi", None)
            image = render(state, header, ["magnetogram"], rng, geometry=geometry)
            instruments.write_instrument_file(path, "hmi", image["magnetogram"], header)
        else:  # aia, euvi, fsi
            observer, wavelength = detail
            header, geometry = view(observer, what, wavelength)
            emitted = (instruments.FSI_EMISSION_WAVELENGTH[wavelength] if what == "fsi"
                       else wavelength)
            image = render(state, header, [emitted], rng, geometry=geometry,
                           euv_noise_gain=0.0)[emitted]
            instruments.write_instrument_file(path, what, image, header, rng)
    return len(missing)
