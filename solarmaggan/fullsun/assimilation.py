"""Assimilation: a full-Sun B_r map that knows its own variance, carried forward by
surface flux transport and updated pixel by pixel by inverse variance with observed and
AI far-side magnetograms (``solarmaggan assimilate``, issue 30).

State (:class:`AssimilationState`), on the full-Sun CEA grid of the synchronic maps, each
(rows, columns): ``br_gauss`` (G), ``variance_gauss2`` (G^2), ``age_hours`` (time since
each pixel was last observed), and the state's ``time``.

* **Propagation** (:func:`propagate`): B_r by the SFT model
  (:class:`solarmaggan.fullsun.transport.FluxTransport`); the variance carried by the same
  flux-form transport (where the field goes, its uncertainty goes; its mean is conserved
  and, like flux, it concentrates where the meridional flow converges) and grown by
  ``growth_gauss2_per_day`` x the days elapsed, the error the model makes by not knowing
  what emerged or decayed meanwhile; the age grows by the hours elapsed.
* **Update** (:func:`update`): where an observation is finite, with variance
  sigma_o^2 >= 0, each pixel becomes the inverse-variance mean of state and observation,
  b = (b_s / v_s + b_o / v_o) / (1 / v_s + 1 / v_o), v = 1 / (1 / v_s + 1 / v_o); a
  zero-variance observation replaces the state, an infinite-variance one changes nothing,
  a zero-variance state pixel stays, an unknown (infinite-variance) one takes the
  observation.
  The age becomes the variance-weighted mean of the two ages (the observation's is 0).

Observations (:func:`grid_observation`): each line-of-sight magnetogram goes onto the
grid at its own time as the synchronic maps take it (B_r = B_LOS / mu, block average,
bilinear reprojection, mu >= ``mu_min``; :func:`solarmaggan.fullsun.synchronic.input_on_grid`)
with a variance per pixel (:class:`ErrorModel`):

* observed (HMI, ...): (sigma_0 / mu)^2, sigma_0 the line-of-sight error of one map pixel
  (G), mu towards the observer: a line-of-sight error becomes sigma_0 / mu in B_r;
* AI-generated: (sigma_LOS / mu)^2 with sigma_LOS the file's calibrated ``UNCERTAINTY``
  layer (or the standard deviation of its ``SAMPLES``), reprojected as B_r is. Where the AI
  value is at the limit of the generator's range (CLIPMIN/CLIPMAX, :data:`CENSOR_FRACTION`),
  it is a bound: it is left out where the state is known, of the same sign and stronger
  (the state keeps the strong field HMI saw), used elsewhere.

The error model's two numbers, sigma_0 and the variance growth G (G^2/day), are measured
from the observed inputs themselves (:func:`estimate_error_model`), no truth involved:
each observed map O_i is carried by the SFT to the time of each later observed map O_j
(0.5-``max_lag_days`` days later) and the innovation d = O_j - SFT(O_i) taken where both
cover the pixel with mu >= 0.5 (:data:`FIT_MU_MIN`: nearer the limb the
reprojected B_r is smoother than the field, which no noise model in 1/mu describes); its
expected square is sigma_0^2 (1 / mu_i^2 + 1 / mu_j^2) + G (t_j - t_i),
fitted by non-negative least squares to the pairs' pixel means, each pair weighted by its
pixel count (the pooled mean square). Either number can be given instead. The rule is
linear in time and uniform over the Sun: the measured innovations (docs) grow faster than
linearly over the first days where regions emerge and are heavy-tailed, so it is an
average, not a model of each pixel.

No TensorFlow.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from data_prep.fitsio import FitsInputError
from data_prep.scheduler import add_scheduler_argument, open_scheduler
from solarmaggan.fullsun.transport import (DAY_S, FluxTransport, TransportParameters,
                                           add_model_arguments, model_parameters)


@dataclasses.dataclass
class AssimilationState:
    """The evolving full-Sun state (arrays (rows, columns) on the CEA grid).

    Attributes:
        time: the state's time (astropy Time).
        br_gauss: B_r, G.
        variance_gauss2: its variance, G^2 (>= 0; inf where nothing is known).
        age_hours: hours since each pixel was last observed.
    """

    time: Any
    br_gauss: np.ndarray
    variance_gauss2: np.ndarray
    age_hours: np.ndarray


def propagate(state: AssimilationState, model: FluxTransport, to_time: Any,
              growth_gauss2_per_day: float) -> AssimilationState:
    """The state carried forward to ``to_time`` (not before its time): see the module
    docstring. ``growth_gauss2_per_day`` >= 0."""
    from astropy.time import Time

    if not growth_gauss2_per_day >= 0:
        raise ValueError(f"variance growth must be >= 0 G^2/day, got {growth_gauss2_per_day}")
    target = Time(to_time)
    duration_s = float((target - Time(state.time)).to_value("s"))
    if duration_s < 0:
        raise ValueError(f"times out of order: {target.isot[:19]} is before the state's "
                         f"{Time(state.time).isot[:19]}")
    unknown = ~np.isfinite(state.variance_gauss2)
    variance = model.evolve(np.where(unknown, 0.0, state.variance_gauss2), duration_s)
    variance = np.maximum(variance, 0.0) + growth_gauss2_per_day * duration_s / DAY_S
    # pixels of unknown variance stay unknown (transport would spread an infinity)
    variance = np.where(model.evolve(unknown.astype(float), duration_s) > 0.5, np.inf, variance)
    return AssimilationState(target, model.evolve(state.br_gauss, duration_s), variance,
                             state.age_hours + duration_s / 3600.0)


def update(state: AssimilationState, observation_gauss: np.ndarray,
           observation_variance_gauss2: np.ndarray) -> AssimilationState:
    """The state updated by one observation on its grid (NaN where not observed), pixel
    by pixel by inverse variance (see the module docstring); variances >= 0."""
    observed = np.asarray(observation_gauss, dtype=np.float64)
    variance_o = np.broadcast_to(np.asarray(observation_variance_gauss2, dtype=np.float64),
                                 observed.shape)
    if observed.shape != state.br_gauss.shape:
        raise ValueError(f"observation of shape {observed.shape}, the state's grid is "
                         f"{state.br_gauss.shape}")
    if np.any(variance_o[np.isfinite(observed)] < 0) or np.isnan(variance_o[np.isfinite(observed)]).any():
        raise ValueError("observation variances must be >= 0 where observed")
    use = np.isfinite(observed) & np.isfinite(variance_o)
    exact = use & (variance_o == 0)
    variance_s = state.variance_gauss2
    blend = use & ~exact & (variance_s > 0)  # a zero-variance state pixel stays
    with np.errstate(divide="ignore", invalid="ignore"):
        weight_s = np.where(np.isfinite(variance_s), 1.0 / variance_s, 0.0)
        weight_o = np.where(blend, 1.0 / np.where(blend, variance_o, 1.0), 0.0)
        total = weight_s + weight_o
        br = np.where(blend, (weight_s * state.br_gauss + weight_o * np.nan_to_num(observed))
                      / np.where(total > 0, total, 1.0), state.br_gauss)
        variance = np.where(blend, 1.0 / total, variance_s)
        weighted_age = np.where(weight_s > 0, weight_s * state.age_hours, 0.0)  # unknown: 0 x inf
        age = np.where(blend, weighted_age / np.where(total > 0, total, 1.0), state.age_hours)
    br = np.where(exact, observed, br)
    variance = np.where(exact, 0.0, variance)
    age = np.where(exact, 0.0, age)
    return AssimilationState(state.time, br, variance, age)


def unknown_state(time: Any, shape: tuple[int, int]) -> AssimilationState:
    """The state before any observation: B_r 0, variance and age infinite."""
    from astropy.time import Time

    return AssimilationState(Time(time), np.zeros(shape), np.full(shape, np.inf),
                             np.full(shape, np.inf))


def state_map(state: AssimilationState) -> tuple[np.ndarray, np.ndarray]:
    """(B_r, sigma) of the state as a complete map (G, (rows, columns)): pixels never
    observed (infinite variance) take their row's mean of the known pixels
    (:func:`solarmaggan.fullsun.synchronic.row_model`) and sigma NaN."""
    from solarmaggan.fullsun.synchronic import row_model

    known = np.isfinite(state.variance_gauss2)
    if known.all():
        return state.br_gauss.copy(), np.sqrt(state.variance_gauss2)
    br = np.where(known, state.br_gauss, row_model(state.br_gauss, known))
    return br, np.where(known, np.sqrt(np.where(known, state.variance_gauss2, 0.0)), np.nan)


# ---------------------------------------------------------------------------------------
# observations on the grid, and their errors

@dataclasses.dataclass
class GriddedObservation:
    """One line-of-sight magnetogram on the full-Sun grid at its own time.

    Attributes:
        path: the file; time: its observation time (astropy Time); kind: 'observed' or
            'generated'; instrument: its label (as in the synchronic maps' provenance);
            observer_lon_deg, observer_lat_deg, observer_distance_au: Stonyhurst observer.
        br_gauss: (rows, columns) B_r, G, NaN where the input does not cover the pixel.
        mu: (rows, columns) cosine towards its observer (negative on its far side).
        sigma_gauss: (rows, columns) the AI input's sigma of B_r (G; NaN where not
            covered), None for observed inputs.
        censored: (rows, columns) bool, AI inputs with a range (CLIPMIN/CLIPMAX): pixels
            where most of the line-of-sight field is at the range's limit
            (:data:`CENSOR_FRACTION`), so that the value is a bound, not a measurement;
            None otherwise.
    """

    path: Path
    time: Any
    kind: str
    instrument: str
    observer_lon_deg: float
    observer_lat_deg: float
    observer_distance_au: float
    br_gauss: np.ndarray
    mu: np.ndarray
    sigma_gauss: np.ndarray | None = None
    censored: np.ndarray | None = None

    def variance_gauss2(self, observed_sigma_gauss: float) -> np.ndarray:
        """Variance of each covered pixel (G^2; NaN where not covered): (sigma_0 / mu)^2
        for observed inputs, the AI sigma squared for generated ones."""
        if self.sigma_gauss is not None:
            return self.sigma_gauss ** 2
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(np.isfinite(self.br_gauss), (observed_sigma_gauss / self.mu) ** 2, np.nan)

    def record(self) -> dict[str, Any]:
        """Its provenance record (the synchronic maps' ``inputs`` entries)."""
        return {"path": str(self.path), "instrument": self.instrument, "kind": self.kind,
                "observer_lon_deg": self.observer_lon_deg, "observer_lat_deg": self.observer_lat_deg,
                "observer_distance_au": self.observer_distance_au, "time": self.time.isot}


def check_assimilation_input(path: str | os.PathLike) -> tuple[Any, bool]:
    """(observation time, AI-generated?) of one input, from its header alone; refuses
    (FitsInputError "PATH: problem") what the synchronic maps refuse and an AI-generated
    file without an UNCERTAINTY or SAMPLES layer (the update weighs each AI pixel by it)."""
    from astropy.io import fits

    from data_prep.fitsio import observation_time
    from solarmaggan.fullsun.synchronic import UNCERTAINTY_LAYERS, check_input, is_generated

    header = check_input(path)
    generated = is_generated(header)
    if generated:
        with fits.open(path) as hdus:
            names = {hdu.name for hdu in hdus[1:]}
        if not names & set(UNCERTAINTY_LAYERS):
            raise FitsInputError(f"{path}: AI-generated without an UNCERTAINTY layer; assimilate "
                                 "weighs each AI pixel by its sigma (make it with 'solarmaggan "
                                 "generate --samples N')")
    return observation_time(header, str(path)).utc, generated


def grid_observation(path: str | os.PathLike, shape: tuple[int, int], mu_min: float = 0.1
                     ) -> GriddedObservation:
    """One input (FITS path) on the full-Sun Carrington CEA grid of ``shape`` at its own
    time (see the module docstring); FitsInputError "PATH: problem" for bad files."""
    import astropy.units as u
    import sunpy.map

    from data_prep.geometry import full_sun_header
    from solarmaggan.fullsun.synchronic import (AU_M, _uncertainty_stack, input_on_grid, quiet,
                                                read_input)

    check_assimilation_input(path)
    item = read_input(path)
    stack = _uncertainty_stack(item, "propagated")  # sigma (1, rows, cols), None if observed
    limit = clip_limit_gauss(item.header) if stack is not None else None
    if limit is not None:  # the at-the-limit indicator takes the path of B_r (then x mu)
        at_limit = np.abs(np.asarray(item.map.data, dtype=np.float64)) >= CENSOR_FRACTION * limit
        stack = np.concatenate([stack, at_limit[None].astype(np.float64)])
    header = full_sun_header(item.time, shape, "carrington")
    with quiet():
        grid = sunpy.map.Map(np.zeros(shape), header)
        coords = sunpy.map.all_coordinates_from_map(grid)
    br, layers, mu = input_on_grid(item, grid.wcs, coords, mu_min, stack)
    if not np.isfinite(br).any():
        raise FitsInputError(f"{path}: covers no pixel of the map with mu >= {mu_min:g}")
    censored = None
    if limit is not None:
        with np.errstate(invalid="ignore"):
            censored = np.nan_to_num(layers[1] * mu) > 0.5
    return GriddedObservation(
        item.path, item.time, item.kind, item.instrument,
        float(item.observer.lon.wrap_at(180 * u.deg).deg), float(item.observer.lat.deg),
        float(item.observer.radius.to_value(u.m)) / AU_M, br, mu,
        None if layers is None else layers[0], censored)


#: An AI line-of-sight value at least this fraction of its range's limit is censored.
CENSOR_FRACTION = 0.95


def clip_limit_gauss(header) -> float | None:
    """The limit (G) of an AI magnetogram's range, ``max(abs(CLIPMIN), abs(CLIPMAX))`` (the
    generator's output range), None when the header has neither."""
    values = [abs(float(header[key])) for key in ("CLIPMIN", "CLIPMAX") if key in header]
    return max(values) if values else None


@dataclasses.dataclass(frozen=True)
class ErrorModel:
    """The errors the update assumes: ``observed_sigma_gauss`` sigma_0 (G, line of sight,
    one map pixel) and ``growth_gauss2_per_day`` G (see the module docstring)."""

    observed_sigma_gauss: float
    growth_gauss2_per_day: float

    def check(self) -> list[str]:
        problems = []
        if not (math.isfinite(self.observed_sigma_gauss) and self.observed_sigma_gauss > 0):
            problems.append(f"observed sigma must be > 0 G, got {self.observed_sigma_gauss}")
        if not (math.isfinite(self.growth_gauss2_per_day) and self.growth_gauss2_per_day >= 0):
            problems.append(f"variance growth must be >= 0 G^2/day, got {self.growth_gauss2_per_day}")
        return problems


#: Innovations between observed maps at most this many days apart are fitted.
MAX_LAG_DAYS = 10.0
#: At most this many observed maps start innovations (spread evenly over the inputs).
MAX_STARTS = 60
#: The innovations are taken where mu >= FIT_MU_MIN in both maps.
FIT_MU_MIN = 0.5
#: A pair of maps enters the fit when they overlap on at least this many pixels.
MIN_PIXELS = 25
#: The fit needs innovations at at least this many distinct lags (whole days): two
#: parameters (sigma_0, G) from fewer lags are not measured but interpolated.
MIN_LAGS = 3
#: ``assimilate`` measures the error model on the observed inputs of the run's first
#: ESTIMATE_DAYS days, at most ESTIMATE_FILES of them (spread evenly).
ESTIMATE_DAYS = 60.0
ESTIMATE_FILES = 90


def estimate_inputs(observed: Sequence[tuple[Any, Any]]) -> list[Any]:
    """Which observed inputs ((time, key) pairs) ``assimilate`` measures the error model
    on: those of the first :data:`ESTIMATE_DAYS` days, at most :data:`ESTIMATE_FILES`
    (spread evenly in time order). Returns their keys in time order."""
    ordered = sorted(observed, key=lambda pair: pair[0].unix)
    if not ordered:
        return []
    first = ordered[0][0].unix
    window = [key for time, key in ordered if time.unix - first <= ESTIMATE_DAYS * DAY_S]
    if len(window) > ESTIMATE_FILES:
        window = [window[i] for i in np.linspace(0, len(window) - 1, ESTIMATE_FILES).round().astype(int)]
    return window


def estimate_error_model(observations: Sequence[GriddedObservation], model: FluxTransport,
                         max_lag_days: float = MAX_LAG_DAYS, max_starts: int = MAX_STARTS
                         ) -> dict[str, Any]:
    """sigma_0 and G measured from the innovations of the observed maps among
    ``observations`` (see the module docstring). Returns {observed_sigma_gauss,
    growth_gauss2_per_day, pairs, by_lag: [{lag_days, mean_square_gauss2, fitted_gauss2,
    pixels}], r2}; ValueError when no two observed maps 0.5-``max_lag_days`` days apart
    overlap, when the innovations come at fewer than MIN_LAGS distinct lags, or when the
    fitted variance does not grow with the lag (G = 0: the error model is not measured)."""
    from scipy.optimize import nnls

    observed = sorted((item for item in observations if item.kind == "observed"),
                      key=lambda item: item.time.unix)
    starts = (observed if len(observed) <= max_starts else
              [observed[i] for i in np.linspace(0, len(observed) - 2, max_starts).round().astype(int)])
    rows = []  # (mean of 1/mu_i^2 + 1/mu_j^2, lag days, mean square innovation, pixels)
    for start in starts:
        later = [item for item in observed
                 if 0.5 <= (item.time - start.time).to_value("day") <= max_lag_days]
        known = np.isfinite(start.br_gauss)
        field, cover, at = np.where(known, start.br_gauss, 0.0), known.astype(float), start.time
        for item in later:
            seconds = float((item.time - at).to_value("s"))
            field, cover, at = model.evolve(field, seconds), model.evolve(cover, seconds), item.time
            both = ((cover > 0.99) & np.isfinite(item.br_gauss)
                    & (start.mu >= FIT_MU_MIN) & (item.mu >= FIT_MU_MIN))
            if both.sum() < MIN_PIXELS:
                continue
            innovation = item.br_gauss[both] - field[both]
            inverse_mu2 = 1.0 / start.mu[both] ** 2 + 1.0 / item.mu[both] ** 2
            rows.append((float(inverse_mu2.mean()), float((item.time - start.time).to_value("day")),
                         float(np.mean(innovation ** 2)), int(both.sum())))
    if not rows:
        raise ValueError("cannot measure the error model: no two observed inputs 0.5-"
                         f"{max_lag_days:g} days apart overlap on the map; give "
                         "--observed-sigma and --variance-growth")
    table = np.array(rows)
    design, target, pixels = table[:, :2], table[:, 2], table[:, 3]
    # pooled over pixels: each pair weighs by its pixel count
    weight = np.sqrt(pixels)
    (sigma2, growth), _ = nnls(design * weight[:, None], target * weight)
    fitted = design @ np.array([sigma2, growth])
    pooled_mean = float(np.sum(pixels * target) / pixels.sum())
    total = float(np.sum(pixels * (target - pooled_mean) ** 2))
    by_lag = []
    for lag in np.unique(np.round(table[:, 1])):
        pick = np.round(table[:, 1]) == lag
        by_lag.append({"lag_days": float(lag),
                       "mean_square_gauss2": float(np.sum(pixels[pick] * target[pick]) / pixels[pick].sum()),
                       "fitted_gauss2": float(np.sum(pixels[pick] * fitted[pick]) / pixels[pick].sum()),
                       "pairs": int(pick.sum()), "pixels": int(pixels[pick].sum())})
    r2 = 1.0 - float(np.sum(pixels * (target - fitted) ** 2)) / total if total > 0 else None
    lags = ", ".join(f"{item['lag_days']:g}" for item in by_lag)
    if len(by_lag) < MIN_LAGS or not growth > 0:
        problem = (f"the innovations come at {len(by_lag)} lag(s) ({lags} days), fewer than {MIN_LAGS}"
                   if len(by_lag) < MIN_LAGS else
                   f"the variance does not grow with the lag ({lags} days: G fits 0 G^2/day)")
        raise ValueError(f"cannot measure the error model: {problem}; it needs observed inputs "
                         f"at least {MIN_LAGS} different whole days apart within 0.5-"
                         f"{max_lag_days:g} days; give --observed-sigma and --variance-growth")
    return {"observed_sigma_gauss": float(math.sqrt(sigma2)), "growth_gauss2_per_day": float(growth),
            "pairs": len(rows), "starts": len(starts), "max_lag_days": max_lag_days,
            "by_lag": by_lag, "r2": r2}


#: Where the AI far side's large scale comes from (``ai_large_scale``): 'ai' (the per-pixel
#: update, the default) or 'state' (see :func:`assimilate_time`).
AI_LARGE_SCALES = ("ai", "state")


def without_row_mean_innovation(observed: np.ndarray, state: AssimilationState) -> np.ndarray:
    """``observed`` (G, NaN where not covered) minus, in each latitude row, the mean of
    its innovation (observed - state) over the row's pixels where both are known: the
    observation's structure on the state's large scale."""
    use = np.isfinite(observed) & np.isfinite(state.variance_gauss2)
    innovation = np.where(use, observed - state.br_gauss, 0.0)
    counts = use.sum(axis=1)
    row_mean = np.divide(innovation.sum(axis=1), counts, out=np.zeros(len(counts)), where=counts > 0)
    return np.where(use, observed - row_mean[:, None], observed)


def assimilate_time(state: AssimilationState, observations: Sequence[GriddedObservation],
                    model: FluxTransport, errors: ErrorModel, to_time: Any,
                    ai_large_scale: str = "ai") -> tuple[AssimilationState, np.ndarray]:
    """The state propagated to ``to_time`` and updated by ``observations`` (observed at
    about that time), one after the other. ``ai_large_scale`` 'state': each AI-generated
    observation loses, row by row, the mean of its innovation where the state is known
    (:func:`without_row_mean_innovation`) before the update, so that the AI brings its
    structure but not its latitude-band means (issue 29: those are unpinned by the pixel
    loss and their error is correlated over the hemisphere, which no per-pixel sigma
    describes); where the state is unknown the AI value is used as it is. Returns (state, source): source (rows, columns)
    int16, the index in ``observations`` of the one with the smallest variance at each
    pixel where that variance is below the propagated state's (the observation outweighed
    the state), -1 elsewhere."""
    state = propagate(state, model, to_time, errors.growth_gauss2_per_day)
    prior_variance = state.variance_gauss2
    variances = []
    if ai_large_scale not in AI_LARGE_SCALES:
        raise ValueError(f"ai_large_scale must be one of {AI_LARGE_SCALES}, got {ai_large_scale!r}")
    for item in observations:
        variance = item.variance_gauss2(errors.observed_sigma_gauss)
        observed = item.br_gauss
        if ai_large_scale == "state" and item.kind == "generated":
            observed = without_row_mean_innovation(observed, state)
        if item.censored is not None:
            # a value at the range's limit says only "at least this strong": where the
            # state is known, of the same sign and stronger, it carries no information
            bound = (item.censored & np.isfinite(state.variance_gauss2)
                     & (np.sign(state.br_gauss) == np.sign(item.br_gauss))
                     & (np.abs(state.br_gauss) > np.abs(item.br_gauss)))
            variance = np.where(bound, np.inf, variance)
        state = update(state, observed, variance)
        variances.append(np.where(np.isfinite(item.br_gauss), variance, np.inf))
    source = np.full(state.br_gauss.shape, -1, dtype=np.int16)
    if variances:
        stack = np.stack(variances)
        outweighs = stack.min(axis=0) < prior_variance
        source = np.where(outweighs, stack.argmin(axis=0), -1).astype(np.int16)
    return state, source


# ---------------------------------------------------------------------------------------
# ``solarmaggan assimilate``: a sequence of maps, resumable

#: Inputs within this many seconds of each other are one time of the sequence.
TIME_TOLERANCE_S = 120.0


@dataclasses.dataclass(frozen=True)
class AssimilationSettings:
    """The settings of one ``assimilate`` run (all recorded in ``sequence.json``).

    Attributes:
        shape: (rows, columns) of the full-Sun Carrington CEA grid.
        mu_min: inputs used where mu >= this.
        observed_sigma_gauss, growth_gauss2_per_day: the error model (:class:`ErrorModel`);
            None: measured from the observed inputs (:func:`estimate_error_model`).
        transport: the SFT model's parameters.
        ai_large_scale: :data:`AI_LARGE_SCALES` (:func:`assimilate_time`).
    """

    shape: tuple[int, int] = (180, 360)
    mu_min: float = 0.1
    observed_sigma_gauss: float | None = None
    growth_gauss2_per_day: float | None = None
    transport: TransportParameters = TransportParameters()
    ai_large_scale: str = "ai"

    def check(self) -> list[str]:
        from data_prep.geometry import check_full_sun_shape

        problems = list(self.transport.check())
        try:
            check_full_sun_shape(tuple(self.shape))
        except ValueError as err:
            problems.append(str(err))
        if not 0.0 < self.mu_min < 1.0:
            problems.append(f"mu_min must be in (0, 1), got {self.mu_min}")
        if self.observed_sigma_gauss is not None and not self.observed_sigma_gauss > 0:
            problems.append(f"observed sigma must be > 0 G, got {self.observed_sigma_gauss}")
        if self.growth_gauss2_per_day is not None and not self.growth_gauss2_per_day >= 0:
            problems.append(f"variance growth must be >= 0 G^2/day, got {self.growth_gauss2_per_day}")
        if self.ai_large_scale not in AI_LARGE_SCALES:
            problems.append(f"ai_large_scale must be one of {AI_LARGE_SCALES}, got {self.ai_large_scale!r}")
        return problems

    def record(self) -> dict[str, Any]:
        record = dataclasses.asdict(self)
        record["shape"] = list(self.shape)
        return record


def group_by_time(times: Sequence[Any], tolerance_s: float = TIME_TOLERANCE_S) -> list[list[int]]:
    """Indices of ``times`` (astropy Times) grouped into times of the sequence: sorted, a
    new group where the next is more than ``tolerance_s`` after the group's first."""
    order = sorted(range(len(times)), key=lambda index: times[index].unix)
    groups: list[list[int]] = []
    for index in order:
        if groups and times[index].unix - times[groups[-1][0]].unix <= tolerance_s:
            groups[-1].append(index)
        else:
            groups.append([index])
    return groups


def map_name(time: Any) -> str:
    """File stem of the map at ``time``: ``assimilated_YYYYMMDD_HHMMSS``."""
    return "assimilated_" + time.strftime("%Y%m%d_%H%M%S")


def _write_map(path: Path, state: AssimilationState, source: np.ndarray,
               observations: Sequence[GriddedObservation], settings: AssimilationSettings,
               errors: ErrorModel, quicklook: bool) -> None:
    """The state at its time as a synchronic-map FITS file (+ PNG): B_r, UNCERTAINTY
    (its sigma, NaN never observed), AGE (hours since last observed, NaN never), SOURCE
    (:func:`assimilate_time`: the input of this time that outweighed the state, -1
    where none did)."""
    from data_prep.geometry import full_sun_header
    from solarmaggan.fullsun.synchronic import SynchronicMap, write_synchronic

    br, sigma = state_map(state)
    header = full_sun_header(state.time, settings.shape, "carrington")
    header["TELESCOP"] = "solarmaggan"
    header["CONTENT"] = "ASSIMILATED RADIAL FIELD"
    header["BUNIT"] = "Gauss"
    header["NINPUTS"] = (len(observations), "inputs assimilated at this time")
    for number, item in enumerate(observations, start=1):
        header[f"IFILE{number}"] = item.path.name[-68:]
        header[f"IINST{number}"] = item.instrument[:68]
        header[f"IKIND{number}"] = item.kind
        header[f"IDATE{number}"] = item.time.isot
    for key, (value, comment) in settings.transport.cards().items():
        header[key] = (value, comment)
    header["ASMSIG0"] = (errors.observed_sigma_gauss, "[G] observed LOS sigma per pixel (/mu)")
    header["ASMLARGE"] = (settings.ai_large_scale, "AI far side band means from: ai / state")
    header["ASMGROW"] = (errors.growth_gauss2_per_day, "[G2/d] state variance growth")
    header["MUMIN"] = (float(settings.mu_min), "inputs used where mu >= MUMIN")
    header["FRAME"] = "carrington"
    header["FILLFRAC"] = (float(np.mean(~np.isfinite(state.variance_gauss2))),
                          "fraction never observed (row mean)")
    header["UNCMODE"] = ("assimilated", "UNCERTAINTY: the assimilation state's sigma")
    header["UNCMETH"] = ("inverse variance + SFT", "how UNCERTAINTY was made")
    header["NETFLUX"] = (float(br.sum() * _pixel_area(settings.shape)), "net flux, Mx")
    age = np.where(np.isfinite(state.age_hours), state.age_hours, np.nan)
    result = SynchronicMap(br, source, age.astype(np.float32), header,
                           [item.record() for item in observations], None, sigma, None)
    write_synchronic(path, result, quicklook=quicklook)


def _pixel_area(shape: tuple[int, int]) -> float:
    from data_prep.geometry import full_sun_pixel_area_cm2

    return full_sun_pixel_area_cm2(shape)


def _fingerprint(settings: AssimilationSettings) -> str:
    return hashlib.sha256(json.dumps(settings.record(), sort_keys=True).encode()).hexdigest()[:16]


def assimilate(inputs: Sequence[str | os.PathLike], out: str | os.PathLike,
               settings: AssimilationSettings | None = None, progress: bool = True,
               quicklook: bool = True, scheduler: str = "processes",
               workers: int | None = None) -> dict[str, Any]:
    """Assimilate the line-of-sight magnetograms ``inputs`` (observed, and AI-generated
    with UNCERTAINTY) in time order into ``out``: per time ``assimilated_<time>.fits`` (+
    PNG), the state after it (``state_<time>.npz``, the latest only) and ``sequence.json``,
    each written atomically after the map, so that a run killed at any point resumes where it stopped
    and gives the same files. A re-run with more inputs (later times) goes on from the
    last state; inputs at or before the last time done must be the ones used then.

    Everything is checked before anything is written (ValueError / FitsInputError with
    one line). Returns the sequence record (``sequence.json``).

    ``scheduler`` (:mod:`data_prep.scheduler`): where the inputs are put on the grid, one
    task a file, by ``workers`` processes (default: 1, this process, with ``processes``;
    all cores for a local Dask cluster) or a Dask cluster's workers. The assimilation
    itself runs here, time after time, on the gridded inputs in time order: its maps are
    the same whatever the scheduler."""
    settings = settings or AssimilationSettings()
    problems = settings.check()
    if problems:
        raise ValueError("; ".join(problems))
    if not inputs:
        raise ValueError("no input magnetograms given")
    paths = [Path(path) for path in inputs]
    for path in paths:
        if not path.is_file():
            raise FitsInputError(f"{path}: no such file")
    checked = [check_assimilation_input(path) for path in paths]
    times = [time for time, _ in checked]
    groups = group_by_time(times)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: exists and is not a folder")
    sequence_path = out / "sequence.json"
    fingerprint = _fingerprint(settings)
    sequence = None
    if sequence_path.is_file():
        sequence = json.loads(sequence_path.read_text())
        if sequence.get("fingerprint") != fingerprint:
            raise ValueError(f"{out}: holds a sequence made with other settings "
                             f"({sequence_path}); use a new --out folder")
        done = sequence["maps"]
        for number, record in enumerate(done):
            if number >= len(groups) or sorted(str(paths[i]) for i in groups[number]) != record["inputs"]:
                raise ValueError(f"{out}: times out of order: its sequence has {record['time'][:19]} "
                                 f"from {len(record['inputs'])} input(s); the inputs given do not "
                                 "repeat its earlier times (new inputs must be later than "
                                 f"{done[-1]['time'][:19]}; use a new --out folder)")
    model = FluxTransport(settings.shape, settings.transport)
    with open_scheduler(scheduler, workers, processes_default=1) as runner:
        return _assimilate_sequence(paths, checked, groups, out, settings, model, sequence,
                                    fingerprint, runner, progress, quicklook)


def _assimilate_sequence(paths: list[Path], checked: list[tuple[Any, bool]],
                         groups: list[list[int]], out: Path, settings: AssimilationSettings,
                         model: FluxTransport, sequence: dict[str, Any] | None,
                         fingerprint: str, runner: Any, progress: bool,
                         quicklook: bool) -> dict[str, Any]:
    """The part of :func:`assimilate` after its checks: the error model, then the times
    not yet done, the inputs gridded by ``runner`` (:class:`data_prep.scheduler.TaskRunner`)."""
    from astropy.time import Time

    from data_prep.atomic import atomic_path, write_json_atomically
    from data_prep.progress import Progress

    times = [time for time, _ in checked]
    sequence_path = out / "sequence.json"
    if sequence is None:
        estimate = None
        if settings.observed_sigma_gauss is None or settings.growth_gauss2_per_day is None:
            observed = estimate_inputs([(times[index], index) for index, (_, generated)
                                        in enumerate(checked) if not generated])
            bar = Progress(len(observed), "observed inputs on the grid (error model)",
                           unit="files", enabled=progress, every=1)
            gridded = []
            for item in runner.map(grid_observation, [(paths[index], settings.shape,
                                                       settings.mu_min) for index in observed]):
                gridded.append(item)
                bar.update()
            bar.close()
            estimate = estimate_error_model(gridded, model)
        errors = ErrorModel(
            settings.observed_sigma_gauss if settings.observed_sigma_gauss is not None
            else estimate["observed_sigma_gauss"],
            settings.growth_gauss2_per_day if settings.growth_gauss2_per_day is not None
            else estimate["growth_gauss2_per_day"])
        sequence = {"fingerprint": fingerprint, "settings": settings.record(),
                    "error_model": dataclasses.asdict(errors), "error_model_estimate": estimate,
                    "maps": []}
        state = unknown_state(times[groups[0][0]], settings.shape)
    else:
        errors = ErrorModel(**sequence["error_model"])
        with np.load(out / sequence["state"]) as saved:
            state = AssimilationState(Time(sequence["maps"][-1]["time"]), saved["br_gauss"],
                                      saved["variance_gauss2"], saved["age_hours"])
    out.mkdir(parents=True, exist_ok=True)  # after the error model: a refusal writes nothing
    todo = [sorted(group, key=lambda index: str(paths[index]))
            for group in groups[len(sequence["maps"]):]]
    gridded_inputs = runner.map(grid_observation, [(paths[index], settings.shape, settings.mu_min)
                                                   for group in todo for index in group])
    bar = Progress(len(todo), "assimilate", unit="times", enabled=progress, every=1)
    for group in todo:
        observations = [next(gridded_inputs) for _ in group]
        when = max((item.time for item in observations), key=lambda time: time.unix)
        state, source = assimilate_time(state, observations, model, errors, when,
                                        settings.ai_large_scale)
        name = map_name(when)
        _write_map(out / f"{name}.fits", state, source, observations, settings, errors, quicklook)
        # the state after this time: a file of its own, named in sequence.json once that
        # is written, so a kill between the two leaves the sequence and its state agreeing
        previous = sequence.get("state")
        with atomic_path(out / f"state_{name}.npz") as temporary:
            with open(temporary, "wb") as handle:
                np.savez(handle, br_gauss=state.br_gauss, variance_gauss2=state.variance_gauss2,
                         age_hours=state.age_hours)
        sequence["state"] = f"state_{name}.npz"
        known = np.isfinite(state.variance_gauss2)
        sequence["maps"].append({
            "time": when.isot, "file": f"{name}.fits",
            "quicklook": f"{name}.png" if quicklook else None,
            "inputs": sorted(str(item.path) for item in observations),
            "kinds": sorted(item.kind for item in observations),
            "observed_fraction": float(known.mean()),
            "median_sigma_gauss": float(np.median(np.sqrt(state.variance_gauss2[known]))) if known.any() else None,
            "mean_br_gauss": float(np.mean(state_map(state)[0]))})
        write_json_atomically(sequence_path, sequence)
        if previous and previous != sequence["state"]:
            (out / previous).unlink(missing_ok=True)
        bar.update()
    bar.close()
    return sequence


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``solarmaggan assimilate`` arguments."""
    parser.add_argument("inputs", nargs="+", help="line-of-sight magnetogram FITS files: observed "
                        "(HMI, ...) and AI-generated far side with UNCERTAINTY ('solarmaggan "
                        "generate --samples N'), any order")
    parser.add_argument("--out", required=True, help="output folder (maps, sequence.json, state)")
    parser.add_argument("--shape", nargs=2, type=int, default=(180, 360), metavar=("NLAT", "NLON"))
    parser.add_argument("--mu-min", type=float, default=0.1, help="use inputs where mu >= this")
    parser.add_argument("--observed-sigma", type=float, default=None, metavar="G",
                        help="line-of-sight error of an observed map pixel, G (default: measured "
                             "from the observed inputs)")
    parser.add_argument("--variance-growth", type=float, default=None, metavar="G2_PER_DAY",
                        help="growth of the state's variance, G^2/day (default: measured from "
                             "the observed inputs)")
    add_model_arguments(parser)
    parser.add_argument("--ai-large-scale", choices=AI_LARGE_SCALES, default="ai",
                        help="'state': the AI far side brings its structure, not its latitude-band "
                             "means, where the state knows the field (default 'ai': per pixel)")
    parser.add_argument("--no-quicklook", action="store_true", help="no PNG per time")
    add_scheduler_argument(parser)
    parser.add_argument("--workers", type=int, default=None,
                        help="processes putting inputs on the grid, local or of a --scheduler "
                             "dask cluster (default: 1 with processes, all cores with dask)")
    parser.add_argument("--quiet", action="store_true", help="no progress or summary")


def run(args: argparse.Namespace) -> int:
    """Run ``solarmaggan assimilate`` (ValueError for bad inputs or settings)."""
    settings = AssimilationSettings(
        shape=tuple(args.shape), mu_min=args.mu_min, observed_sigma_gauss=args.observed_sigma,
        growth_gauss2_per_day=args.variance_growth, ai_large_scale=args.ai_large_scale,
        transport=model_parameters(args))
    sequence = assimilate(args.inputs, args.out, settings, progress=not args.quiet,
                          quicklook=not args.no_quicklook, scheduler=args.scheduler,
                          workers=args.workers)
    if not args.quiet:
        errors = sequence["error_model"]
        how = "measured" if sequence["error_model_estimate"] else "given"
        last = sequence["maps"][-1]
        print(f"wrote {len(sequence['maps'])} maps to {args.out} (last {last['time'][:19]}, "
              f"{100 * last['observed_fraction']:.1f}% observed); error model ({how}): "
              f"sigma_0 {errors['observed_sigma_gauss']:.2f} G, growth "
              f"{errors['growth_gauss2_per_day']:.2f} G^2/day")
    return 0
