"""The experiment of Jeong et al. (2020) on the whole-Sun toy model: how much an AI far side
improves a synchronic map and the PFSS corona computed from it.

For a campaign time t (``solarmaggan toysun campaign``: HMI files of the near side, STEREO
views of the far side, the truth) four full-Sun B_r maps are built on one CEA grid:

* (a) ``truth``: the toy Sun's B_r (``truth/carrington``), the reference;
* (b) ``synoptic``: the HMI magnetogram at t, gaps filled from a synoptic map of the
  preceding 27 days (today's practice: each Carrington longitude from the HMI observation in
  [t - 27 d, t) whose central meridian was nearest to it, so far-side data are up to 27 days
  old; :func:`synoptic_fill`);
* (c) ``ai``: the HMI magnetogram at t plus the AI far-side magnetograms generated from the
  STEREO EUVI views at t (``solarmaggan generate``), gaps filled as in (b);
* (d) ``true_far``: the HMI magnetogram at t plus the true line-of-sight magnetograms of
  the STEREO views at t (the upper bound), gaps filled as in (b).

(b)-(d) are made by :func:`solarmaggan.fullsun.synchronic.build_synchronic` (Carrington
frame, its defaults otherwise). Three more come from the assimilation
(:mod:`solarmaggan.fullsun.assimilation`: surface flux transport of a state updated pixel by
pixel by inverse variance, started :data:`SPIN_UP_DAYS` before the first time scored from
an unknown state, with the error model measured from the HMI files as ``assimilate``
measures it):

* (b') ``sft_near``: the HMI files alone (what ADAPT would give without far-side data);
* (c') ``sft_ai``: the HMI files and the AI far-side magnetograms (their UNCERTAINTY);
* (d') ``sft_true_far``: the HMI files and the true line-of-sight magnetograms of the same
  far-side views (as observed inputs).

Each map is scored against (a):

* ``far_cc``: Pearson CC of B_r over the far hemisphere (Carrington longitudes more than
  90 deg from the sub-Earth longitude at t), numpy's Pearson on all those pixels;
* ``far_unsigned_flux_mx``: unsigned flux of the far hemisphere (Mx), beside the truth's;

and, after PFSS (:mod:`solarmaggan.fullsun.pfss`, the same rss, nr and seed grid for all):

* ``open_jaccard``: Jaccard index of the open footpoints against the truth's, polarity
  aware: ``|same-sign open in both|`` / ``|open in either|``;
* ``source_surface_cc``: Pearson CC of the source-surface B_r with the truth's;
* ``hcs_distance_deg``: mean angular distance between the current sheets, symmetric (each
  point of one sheet to the nearest point of the other, both ways, averaged).

``gap_closed`` = (c - b) / (d - b) for the open-field Jaccard index and the source-surface
CC, from the means over the times: the issue's goal is at least 0.5.
``gap_closed_assimilated`` = (c' - best of b, b') / (d - best of b, b') for those, the
current-sheet distance (smaller is better) and the far-side CC (issue 30: at least 0.5,
0.75 for the far-side CC).

Imports no TensorFlow. Run it on a demo folder with ``python scripts/fullsun_experiment.py``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
import time as clock
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from data_prep.fitsio import observation_time, read_header
from data_prep.geometry import (block_mean, full_sun_header, full_sun_longitudes_deg,
                                full_sun_pixel_area_cm2, longitude_distance_deg)
from data_prep.progress import Progress
from solarmaggan import largescale
from solarmaggan.plotting import band_profile_figure

#: The maps of the experiment, in order (see the module docstring).
MAP_NAMES = ("truth", "synoptic", "sft_near", "ai", "sft_ai", "true_far", "sft_true_far")
#: The assimilated maps and the far-side files each takes in beside the HMI files
#: (None: none; otherwise the :class:`CampaignTime` attribute).
ASSIMILATED = {"sft_near": None, "sft_ai": "generated", "sft_true_far": "true_far"}
#: The assimilation starts this many days (two rotations) before the first time scored.
SPIN_UP_DAYS = 54.0
#: Age of the oldest data in the synoptic fill (days): one synodic rotation.
SYNOPTIC_DAYS = 27.0
#: Two files belong to one campaign time when their times differ by less than this (s).
TIME_TOLERANCE_S = 120.0


@dataclasses.dataclass
class ExperimentSettings:
    """Grid and PFSS settings shared by the four maps.

    Attributes:
        shape: (rows, columns) of the CEA maps; the truth maps' shape divided by an integer.
        nr: radial grid points of the PFSS solution; rss: source-surface radius (R_sun).
        seeds: (NLON, NLAT) footpoints traced for the open-field maps.
    """

    shape: tuple[int, int] = (180, 360)
    nr: int = 35
    rss: float = 2.5
    seeds: tuple[int, int] = (180, 90)


def _files_by_time(folder: Path) -> list[tuple[float, Path]]:
    """(observation time in Unix seconds, path) of the FITS files of ``folder``, by time."""
    if not folder.is_dir():
        return []
    return sorted((observation_time(read_header(path), str(path)).unix, path)
                  for path in sorted(folder.glob("*.f*ts")))


def _at(files: list[tuple[float, Path]], when: float) -> list[Path]:
    """The files of ``files`` observed within :data:`TIME_TOLERANCE_S` of ``when``."""
    return [path for moment, path in files if abs(moment - when) <= TIME_TOLERANCE_S]


@dataclasses.dataclass
class CampaignTime:
    """The files of one campaign time used by the experiment."""

    time: Any  # astropy Time
    hmi: Path
    truth: Path  # Carrington B_r
    generated: list[Path]  # AI far-side magnetograms
    true_far: list[Path]  # true LOS magnetograms of the same STEREO views
    synoptic: list[Path]  # HMI files of [t - 27 d, t)


def campaign_times(campaign: str | os.PathLike, generated: str | os.PathLike,
                   need_history: bool = True) -> list[CampaignTime]:
    """The times of ``campaign`` at which every map can be built: an HMI file, the truth, AI
    magnetograms in ``generated`` (matched by time, one per STEREO view, as many as true
    STEREO magnetograms at that time) and (``need_history``) HMI files covering the
    preceding 27 days."""
    from astropy.time import Time

    campaign, generated = Path(campaign), Path(generated)
    hmi = _files_by_time(campaign / "sdo" / "hmi")
    truth = _files_by_time(campaign / "truth" / "carrington")
    views = [_files_by_time(folder / "magnetogram")
             for folder in sorted((campaign / "truth").iterdir())
             if folder.name != "carrington" and (folder / "magnetogram").is_dir()]
    ai = _files_by_time(generated)
    chosen = []
    for moment, path in hmi:
        true_far = [found for view in views for found in _at(view, moment)]
        generated_here = _at(ai, moment)
        earlier = [earlier_path for when, earlier_path in hmi
                   if moment - SYNOPTIC_DAYS * 86400.0 <= when < moment]
        truth_here = _at(truth, moment)
        covered = not need_history or (bool(earlier)
                                       and hmi[0][0] <= moment - (SYNOPTIC_DAYS - 5.0) * 86400.0)
        if truth_here and true_far and len(generated_here) == len(true_far) and covered:
            chosen.append(CampaignTime(Time(moment, format="unix"), path, truth_here[0],
                                       generated_here, true_far, earlier))
    return chosen


def synoptic_fill(hmi_files: Sequence[Path], when, shape: tuple[int, int]) -> tuple[np.ndarray, Any]:
    """A synoptic B_r map (G, ``shape``) at ``when`` from ``hmi_files`` (an earlier rotation):
    each longitude column from the file whose sub-observer Carrington longitude is nearest to
    it (the central-meridian strips of synoptic practice), each file's B_r from a one-input
    synchronic map at its own time. Returns (B_r, FITS header)."""
    from sunpy.coordinates import sun

    from solarmaggan.fullsun.synchronic import SynchronicSettings, build_synchronic

    header = full_sun_header(when, shape, frame="carrington")
    longitudes = full_sun_longitudes_deg(header)
    best = np.full(len(longitudes), np.inf)
    field = np.zeros(shape)
    for path in hmi_files:
        observed = observation_time(read_header(path), str(path))
        single = build_synchronic([path], SynchronicSettings(time=observed.isot, shape=shape))
        distance = longitude_distance_deg(longitudes, sun.L0(observed).deg)
        nearer = distance < best
        field[:, nearer] = single.br_gauss[:, nearer]
        best[nearer] = distance[nearer]
    header["CONTENT"] = "synoptic B_r (central-meridian strips)"
    return field, header


def far_hemisphere(header, when) -> np.ndarray:
    """(rows, columns) bool: pixels more than 90 deg in longitude from the sub-Earth point at
    ``when`` (the far side as seen from Earth) of a full-Sun Carrington CEA map."""
    from sunpy.coordinates import sun

    far = longitude_distance_deg(full_sun_longitudes_deg(header), sun.L0(when).deg) > 90.0
    rows = int(round(2.0 / abs(math.radians(float(header["CDELT2"])))))  # CEA: CDELT2 = (180/pi) 2/rows
    return np.broadcast_to(far, (rows, far.size)).copy()


def pearson(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """numpy's Pearson CC of ``a`` and ``b`` over ``mask`` (the definition of
    :func:`solarmaggan.metrics.pearson`, which needs Keras)."""
    a, b = np.ravel(a), np.ravel(b)
    keep = np.isfinite(a) & np.isfinite(b) & (np.ravel(mask) if mask is not None else True)
    if keep.sum() < 2 or np.ptp(a[keep]) == 0 or np.ptp(b[keep]) == 0:
        return math.nan
    return float(np.corrcoef(a[keep], b[keep])[0, 1])


def open_jaccard(open_a: np.ndarray, open_b: np.ndarray) -> float:
    """Jaccard index of two open-field maps (+1 / -1 open, 0 closed), polarity aware:
    pixels open with the same sign in both over pixels open in either."""
    either = (open_a != 0) | (open_b != 0)
    both = (open_a != 0) & (open_a == open_b)
    return float(both.sum() / either.sum()) if either.any() else math.nan


def current_sheet_distance_deg(sheet_a: np.ndarray, sheet_b: np.ndarray) -> float:
    """Mean great-circle distance (deg) between two current sheets ((N, 2+) lon, lat in deg):
    each point's distance to the nearest point of the other sheet, over both sheets' points."""
    if len(sheet_a) == 0 or len(sheet_b) == 0:
        return math.nan

    def unit(sheet):
        lon, lat = np.radians(sheet[:, 0]), np.radians(sheet[:, 1])
        return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], 1)

    cosine = np.clip(unit(sheet_a) @ unit(sheet_b).T, -1.0, 1.0)
    nearest = np.concatenate([cosine.max(axis=1), cosine.max(axis=0)])
    return float(np.degrees(np.arccos(nearest)).mean())


def _truth_on_grid(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """The Carrington truth B_r (G) block-averaged onto ``shape`` (CEA pixels are equal in
    area, so a block mean is the area mean)."""
    from astropy.io import fits

    truth = fits.getdata(path).astype(np.float64)
    factor = truth.shape[0] // shape[0]
    if factor * shape[0] != truth.shape[0] or factor * shape[1] != truth.shape[1]:
        raise ValueError(f"{path}: truth map {truth.shape} cannot be block-averaged onto {shape}")
    return block_mean(truth, factor) if factor > 1 else truth


def build_maps(moment: CampaignTime, shape: tuple[int, int], folder: str | os.PathLike | None = None
               ) -> tuple[dict[str, np.ndarray], Any]:
    """The B_r maps (a)-(d) (G, ``shape``) of :data:`MAP_NAMES` at one time, and their header.
    With ``folder``, also writes there the synoptic fill (``synoptic_fill.fits``) and maps
    (b)-(d) as synchronic FITS files with their quicklooks (``synchronic_<name>.fits``)."""
    from astropy.io import fits

    from data_prep.atomic import atomic_path
    from solarmaggan.fullsun.synchronic import SynchronicSettings, build_synchronic, write_synchronic

    settings = SynchronicSettings(time=moment.time.isot, shape=shape)
    synoptic, header = synoptic_fill(moment.synoptic, moment.time, shape)
    maps = {"truth": _truth_on_grid(moment.truth, shape)}
    with tempfile.TemporaryDirectory() as scratch:
        where = Path(folder) if folder is not None else Path(scratch)
        where.mkdir(parents=True, exist_ok=True)
        fill = where / "synoptic_fill.fits"
        with atomic_path(fill) as temporary:
            fits.PrimaryHDU(synoptic.astype(np.float32),
                            fits.Header([card for card in header.cards
                                         if not card.keyword.startswith("NAXIS")])).writeto(temporary)
        for name, far_side in (("synoptic", []), ("ai", moment.generated),
                               ("true_far", moment.true_far)):
            result = build_synchronic([moment.hmi, *far_side], settings, fill=fill)
            maps[name] = result.br_gauss
            if folder is not None:
                write_synchronic(where / f"synchronic_{name}.fits", result)
    return maps, full_sun_header(moment.time, shape, frame="carrington")


def assimilated_maps(campaign: str | os.PathLike, generated: str | os.PathLike,
                     times: Sequence[CampaignTime], shape: tuple[int, int],
                     progress: bool = True, growth_gauss2_per_day: float | None = None,
                     observed_sigma_gauss: float | None = None, ai_large_scale: str = "ai"
                     ) -> tuple[dict[str, list[np.ndarray]], dict[str, Any]]:
    """The assimilated maps (b'), (c'), (d') (:data:`ASSIMILATED`) at each of ``times``:
    one assimilation per map through the HMI files of ``campaign`` from
    :data:`SPIN_UP_DAYS` before the first time to the last, with the far-side files of
    every usable campaign time in that span (:func:`campaign_times`), each file on the grid
    once. Returns ({name: [B_r (G, ``shape``) per time]}, a record: the error model, as
    ``assimilate`` measures it from the HMI files (``growth_gauss2_per_day`` or
    ``observed_sigma_gauss`` given: that value instead of the measured one; both given:
    nothing measured), and the files used)."""
    from astropy.time import Time

    from solarmaggan.fullsun import assimilation
    from solarmaggan.fullsun.transport import FluxTransport

    first, last = min(t.time.unix for t in times), max(t.time.unix for t in times)
    start = first - SPIN_UP_DAYS * 86400.0
    hmi = [path for moment, path in _files_by_time(Path(campaign) / "sdo" / "hmi")
           if start <= moment <= last + TIME_TOLERANCE_S]
    far_times = [t for t in campaign_times(campaign, generated, need_history=False)
                 if start <= t.time.unix <= last + 1.0]
    far_files = {name: [path for t in far_times for path in getattr(t, attribute)]
                 for name, attribute in ASSIMILATED.items() if attribute}
    every = [*hmi, *(path for paths in far_files.values() for path in paths)]
    bar = Progress(len(every), "assimilation inputs on the grid", unit="files", enabled=progress)
    gridded = {}
    for path in every:
        gridded[path] = assimilation.grid_observation(path, shape)
        bar.update()
    bar.close()
    model = FluxTransport(shape)
    observed = [gridded[path] for path in hmi]
    estimate = None
    if growth_gauss2_per_day is None or observed_sigma_gauss is None:
        chosen = assimilation.estimate_inputs([(item.time, number) for number, item in enumerate(observed)])
        estimate = assimilation.estimate_error_model([observed[number] for number in chosen], model)
    errors = assimilation.ErrorModel(
        estimate["observed_sigma_gauss"] if observed_sigma_gauss is None else float(observed_sigma_gauss),
        estimate["growth_gauss2_per_day"] if growth_gauss2_per_day is None else float(growth_gauss2_per_day))
    wanted = [t.time.unix for t in times]
    maps: dict[str, list[np.ndarray]] = {}
    for name in ASSIMILATED:
        inputs = [gridded[path] for path in [*hmi, *far_files.get(name, [])]]
        groups = assimilation.group_by_time([item.time for item in inputs])
        state = assimilation.unknown_state(Time(start, format="unix"), shape)
        snapshots = {}
        for group in groups:
            members = [inputs[index] for index in group]
            when = max((item.time for item in members), key=lambda time: time.unix)
            state, _ = assimilation.assimilate_time(state, members, model, errors, when, ai_large_scale)
            for moment in wanted:
                if abs(when.unix - moment) <= TIME_TOLERANCE_S:
                    snapshots[moment] = assimilation.state_map(state)[0]
        maps[name] = [snapshots[moment] for moment in wanted]
    record = {"error_model": dataclasses.asdict(errors), "error_model_estimate": estimate,
              "hmi_files": len(hmi), "far_side_files": {name: len(paths) for name, paths in far_files.items()},
              "spin_up_days": SPIN_UP_DAYS, "transport": dataclasses.asdict(model.parameters),
              "ai_large_scale": ai_large_scale}
    return maps, record


def corona(br_gauss: np.ndarray, header, settings: ExperimentSettings) -> dict[str, np.ndarray]:
    """PFSS of one map: source-surface B_r, open-field map on the seed grid, current sheet."""
    import sunpy.map

    from solarmaggan.fullsun.pfss import current_sheet, open_field_map, pfss_solution

    output = pfss_solution(sunpy.map.Map(br_gauss, header), nr=settings.nr, rss=settings.rss)
    return {"source_surface_br": np.asarray(output.source_surface_br.data, dtype=np.float64),
            "open_field": open_field_map(output, settings.seeds),
            "current_sheet": current_sheet(output)}


def score_map(field: np.ndarray, model: dict[str, np.ndarray], truth_field: np.ndarray,
              truth_model: dict[str, np.ndarray], far: np.ndarray,
              large: dict[str, Any] | None = None, truth_large: dict[str, Any] | None = None
              ) -> dict[str, float]:
    """The figures of one B_r map ``field`` (G) and its :func:`corona` ``model`` against the
    truth's, ``far`` the far hemisphere (see the module docstring); with the maps'
    :func:`solarmaggan.largescale.map_large_scale` figures (``large``, ``truth_large``)
    the large-scale ones too: axial dipole and dipole strength (G), the l = 1-4 harmonic
    error against the truth (G), each hemisphere's net flux (Mx) and the far hemisphere's
    band means and their bias against the truth's (G)."""
    scores = {
        "far_cc": pearson(field, truth_field, far),
        "far_unsigned_flux_mx": float(np.abs(field[far]).sum() * full_sun_pixel_area_cm2(field.shape)),
        "open_jaccard": open_jaccard(model["open_field"], truth_model["open_field"]),
        "source_surface_cc": pearson(model["source_surface_br"], truth_model["source_surface_br"]),
        "hcs_distance_deg": current_sheet_distance_deg(model["current_sheet"],
                                                       truth_model["current_sheet"]),
        "open_area_fraction": float(np.mean(model["open_field"] != 0)),
    }
    if large is not None and truth_large is not None:
        scores.update({
            "axial_dipole_gauss": large["axial_dipole_gauss"], "dipole_gauss": large["dipole_gauss"],
            "harmonic_error_gauss": largescale.harmonic_error_gauss(large["harmonics_gauss"],
                                                                    truth_large["harmonics_gauss"]),
            "net_flux_north_mx": large["net_flux_north_mx"],
            "net_flux_south_mx": large["net_flux_south_mx"]})
        for band, value, true_value in zip(largescale.LATITUDE_BANDS_DEG, large["band_means_gauss"],
                                           truth_large["band_means_gauss"]):
            label = largescale.band_label(band)
            scores[f"far_band_mean_gauss_{label}"] = float(value)
            scores[f"far_band_bias_gauss_{label}"] = float(value - true_value)
    return scores


def score_time(moment: CampaignTime, settings: ExperimentSettings,
               folder: str | os.PathLike | None = None,
               assimilated: dict[str, np.ndarray] | None = None
               ) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, Any]]]:
    """The figures of the maps at one time (see the module docstring), and each map's
    large-scale figures (:func:`solarmaggan.largescale.map_large_scale`, band means over the
    far hemisphere); ``folder``: see :func:`build_maps`; ``assimilated``: the maps of
    :data:`ASSIMILATED` at this time (:func:`assimilated_maps`)."""
    maps, header = build_maps(moment, settings.shape, folder)
    maps.update(assimilated or {})
    far = far_hemisphere(header, moment.time)
    coronae = {name: corona(field, header, settings) for name, field in maps.items()}
    large = {name: largescale.map_large_scale(field, header, far) for name, field in maps.items()}
    scores = {name: score_map(maps[name], coronae[name], maps["truth"], coronae["truth"], far,
                              large[name], large["truth"]) for name in MAP_NAMES if name in maps}
    return scores, large


def gap_closed(means: dict[str, dict[str, float]], key: str) -> float:
    """(c - b) / (d - b) of figure ``key``: the share of the gap between the synoptic map and
    the true far side that the AI far side closes (1: all of it, 0: none, < 0: worse)."""
    low, high, ai = means["synoptic"][key], means["true_far"][key], means["ai"][key]
    return float((ai - low) / (high - low)) if high != low else math.nan


#: Figures where a smaller value is better (the rest: larger is better).
SMALLER_IS_BETTER = ("hcs_distance_deg",)


def gap_closed_assimilated(means: dict[str, dict[str, float]], key: str) -> float:
    """(c' - base) / (d - base) of figure ``key``, base the better of (b) and (b'): the
    share of the gap to the true far side that assimilating the AI far side closes."""
    pick = min if key in SMALLER_IS_BETTER else max
    base = pick(means["synoptic"][key], means["sft_near"][key])
    high, value = means["true_far"][key], means["sft_ai"][key]
    return float((value - base) / (high - base)) if high != base else math.nan


def run_experiment(campaign: str | os.PathLike, generated: str | os.PathLike,
                   settings: ExperimentSettings | None = None, max_times: int | None = None,
                   progress: bool = True, example: str | os.PathLike | None = None,
                   assimilate: bool = True, growth_gauss2_per_day: float | None = None,
                   observed_sigma_gauss: float | None = None, ai_large_scale: str = "ai"
                   ) -> dict[str, Any]:
    """Score the maps at the usable times of ``campaign`` (at most ``max_times``, spread
    evenly) with the AI magnetograms in ``generated`` (which need UNCERTAINTY layers for the
    assimilated maps; ``assimilate=False`` leaves those out). Returns per-time figures,
    their means over the times, ``gap_closed`` for the open-field Jaccard index and the
    source-surface CC, ``gap_closed_assimilated`` and the ``assimilation`` record
    (``growth_gauss2_per_day``, ``observed_sigma_gauss``, ``ai_large_scale``: see
    :func:`assimilated_maps` and :func:`solarmaggan.fullsun.assimilation.assimilate_time`). ``example``: a folder for the first time's maps as FITS files
    (:func:`build_maps`) and the PFSS corona of map (c), ``example/pfss_ai/``
    (:func:`solarmaggan.fullsun.pfss.run_pfss`: files and figures; when the AI
    magnetograms carry samples, map (c) carries them too and its corona is also solved for
    each: the open-field probability, ``example/pfss_ai/open_probability.fits``, and the
    spread of the current sheet; the summary is returned as ``example_pfss``)."""
    from solarmaggan.fullsun.pfss import ALL_SAMPLES, run_pfss
    from solarmaggan.fullsun.synchronic import read_uncertainty

    settings = settings or ExperimentSettings()
    times = campaign_times(campaign, generated)
    if not times:
        raise ValueError(f"{campaign}: no time with HMI, truth, STEREO views, AI magnetograms in "
                         f"{generated} and {SYNOPTIC_DAYS:g} days of earlier HMI files")
    if max_times and len(times) > max_times:
        times = [times[i] for i in np.linspace(0, len(times) - 1, max_times).round().astype(int)]
    start = clock.monotonic()
    assimilated, assimilation_record = (
        assimilated_maps(campaign, generated, times, settings.shape, progress,
                         growth_gauss2_per_day, observed_sigma_gauss, ai_large_scale)
        if assimilate else ({}, None))
    bar = Progress(len(times), "synchronic maps + PFSS", unit="times", enabled=progress)
    per_time = []
    example_pfss = None
    for number, moment in enumerate(times):
        folder = example if number == 0 else None
        scores, large = score_time(moment, settings, folder,
                                   {name: maps[number] for name, maps in assimilated.items()})
        per_time.append({"time": moment.time.isot, "maps": scores, "large_scale": large})
        if folder is not None:
            ai_map = Path(folder) / "synchronic_ai.fits"
            example_pfss = run_pfss(
                ai_map, Path(folder) / "pfss_ai", rss=settings.rss, nr=settings.nr,
                seeds=settings.seeds, progress=False,
                samples=ALL_SAMPLES if "SAMPLES" in read_uncertainty(ai_map) else None)
        bar.update()
    bar.close()
    figures = per_time[0]["maps"]["truth"].keys()
    names = [name for name in MAP_NAMES if name in per_time[0]["maps"]]
    means = {name: {key: float(np.nanmean([row["maps"][name][key] for row in per_time]))
                    for key in figures} for name in names}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a bin without pixels (coarse grids)
        profiles = {name: np.nanmean([row["large_scale"][name]["profile_gauss"]
                                      for row in per_time], axis=0).tolist() for name in names}
    if example is not None:
        band_profile_figure(Path(example) / "band_profile.png", largescale.PROFILE_EDGES_DEG,
                            {LABELS[name]: profiles[name] for name in names},
                            f"far hemisphere: mean B_r by latitude, {len(per_time)} time(s)",
                            "mean B_r [G]")
    return {"settings": dataclasses.asdict(settings), "times": len(per_time),
            "per_time": per_time, "mean": means,
            "far_profile": {"edges_deg": list(largescale.PROFILE_EDGES_DEG), "gauss": profiles},
            "large_scale_targets": large_scale_targets(means),
            "gap_closed": {key: gap_closed(means, key)
                           for key in ("open_jaccard", "source_surface_cc", "far_cc")},
            "gap_closed_assimilated": ({key: gap_closed_assimilated(means, key) for key in
                                        ("open_jaccard", "source_surface_cc", "hcs_distance_deg",
                                         "far_cc")} if assimilated else None),
            "assimilation": assimilation_record,
            "example_pfss": example_pfss, "seconds": round(clock.monotonic() - start, 1)}


def large_scale_targets(means: dict[str, dict[str, float]]) -> dict[str, float]:
    """The large-scale figures of map (c) against the truth (a) that issue 29 sets targets
    for: the axial dipole's ratio, the open area's ratio, the largest far-hemisphere band
    bias (G, absolute)."""
    ai, truth = means["ai"], means["truth"]
    biases = [abs(value) for key, value in ai.items() if key.startswith("far_band_bias_gauss_")]
    return {
        "axial_dipole_ratio": (ai["axial_dipole_gauss"] / truth["axial_dipole_gauss"]
                               if truth.get("axial_dipole_gauss") else math.nan),
        "open_area_ratio": (ai["open_area_fraction"] / truth["open_area_fraction"]
                            if truth.get("open_area_fraction") else math.nan),
        "largest_far_band_bias_gauss": max(biases) if biases else math.nan,
    }


#: The maps' labels in tables and figures.
LABELS = {"truth": "(a) truth", "synoptic": "(b) near side + 27-day synoptic far side",
          "sft_near": "(b') SFT assimilation of the near side",
          "ai": "(c) near side + AI far side",
          "sft_ai": "(c') SFT assimilation + AI far side",
          "true_far": "(d) near side + true far side",
          "sft_true_far": "(d') SFT assimilation + true far side"}


def comparison_table(result: dict[str, Any]) -> str:
    """The means over the times as a Markdown table, then the gap closed by (c), then the
    large-scale figures."""
    labels = LABELS
    lines = [f"Synchronic maps and PFSS over {result['times']} time(s) (means):", "",
             "| map | far-side B_r CC | far-side unsigned flux (1e22 Mx) | open-field Jaccard "
             "| source-surface B_r CC | current-sheet distance (deg) | open area |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    names = [name for name in MAP_NAMES if name in result["mean"]]
    for name in names:
        row = result["mean"][name]
        lines.append(f"| {labels[name]} | {row['far_cc']:.3f} | {row['far_unsigned_flux_mx'] / 1e22:.2f} "
                     f"| {row['open_jaccard']:.3f} | {row['source_surface_cc']:.3f} "
                     f"| {row['hcs_distance_deg']:.1f} | {row['open_area_fraction']:.3f} |")
    gap = result["gap_closed"]
    lines += ["", f"Gap (b) -> (d) closed by (c): open-field Jaccard {gap['open_jaccard']:.2f}, "
                  f"source-surface CC {gap['source_surface_cc']:.2f}, far-side CC {gap['far_cc']:.2f}"]
    assimilated = result.get("gap_closed_assimilated")
    if assimilated:
        errors = result["assimilation"]["error_model"]
        lines += [f"Gap (better of b, b') -> (d) closed by (c'): open-field Jaccard "
                  f"{assimilated['open_jaccard']:.2f}, source-surface CC "
                  f"{assimilated['source_surface_cc']:.2f}, current-sheet distance "
                  f"{assimilated['hcs_distance_deg']:.2f}, far-side CC {assimilated['far_cc']:.2f} "
                  f"(error model: sigma_0 {errors['observed_sigma_gauss']:.2f} G, growth "
                  f"{errors['growth_gauss2_per_day']:.1f} G^2/day)"]
    if "axial_dipole_gauss" in result["mean"]["truth"]:
        bands = [largescale.band_label(band) for band in largescale.LATITUDE_BANDS_DEG]
        lines += ["", "Large scale (means; far-hemisphere band bias of B_r against (a), G):", "",
                  "| map | axial dipole g10 [G] | dipole [G] | l=1-4 harmonic error [G] "
                  "| net flux N / S (1e22 Mx) | "
                  + " | ".join(f"bias {band}" for band in bands) + " |",
                  "|---|---:|---:|---:|---:|" + "---:|" * len(bands)]
        for name in names:
            row = result["mean"][name]
            lines.append(
                f"| {labels[name]} | {row['axial_dipole_gauss']:+.3f} | {row['dipole_gauss']:.3f} "
                f"| {row['harmonic_error_gauss']:.3f} | {row['net_flux_north_mx'] / 1e22:+.2f} / "
                f"{row['net_flux_south_mx'] / 1e22:+.2f} | "
                + " | ".join(f"{row[f'far_band_bias_gauss_{band}']:+.2f}" for band in bands) + " |")
        targets = result.get("large_scale_targets", {})
        if targets:
            lines += ["", f"Map (c) against (a): axial dipole ratio {targets['axial_dipole_ratio']:.2f} "
                          f"(target 0.9-1.1), open area ratio {targets['open_area_ratio']:.2f} "
                          f"(target 0.8-1.2), largest far band bias "
                          f"{targets['largest_far_band_bias_gauss']:.2f} G (target 0.5 G)"]
    return "\n".join(lines)
