"""The assimilation state: a full-Sun B_r map that knows its own variance, carried forward
by surface flux transport and updated pixel by pixel by inverse variance (issue 30; the
``assimilate`` command that feeds it observed and AI far-side magnetograms is not built yet).

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

No TensorFlow.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from solarmaggan.fullsun.transport import DAY_S, FluxTransport


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
        age = np.where(blend, weight_s * state.age_hours / total, state.age_hours)
    br = np.where(exact, observed, br)
    variance = np.where(exact, 0.0, variance)
    age = np.where(exact, 0.0, age)
    return AssimilationState(state.time, br, variance, age)
