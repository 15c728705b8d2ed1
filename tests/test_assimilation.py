"""The assimilation state's inverse-variance update and propagation."""

import numpy as np
import pytest
from astropy.time import Time

from solarmaggan.fullsun.assimilation import AssimilationState, propagate, update
from solarmaggan.fullsun.transport import FluxTransport, TransportParameters

SHAPE = (18, 36)


def state(br, variance, time="2011-03-01"):
    return AssimilationState(Time(time), np.full(SHAPE, float(br)), np.full(SHAPE, float(variance)),
                             np.full(SHAPE, 48.0))


def test_the_update_weights_by_inverse_variance():
    observation = np.full(SHAPE, 10.0)
    observation[0] = np.nan  # not observed: unchanged
    equal = update(state(2.0, 4.0), observation, 4.0)
    assert equal.br_gauss[1:] == pytest.approx(6.0) and equal.variance_gauss2[1:] == pytest.approx(2.0)
    assert equal.age_hours[1:] == pytest.approx(24.0)
    assert equal.br_gauss[0] == pytest.approx(2.0) and equal.variance_gauss2[0] == pytest.approx(4.0)
    exact = update(state(2.0, 4.0), observation, 0.0)
    assert exact.br_gauss[1:] == pytest.approx(10.0) and (exact.variance_gauss2[1:] == 0).all()
    unknown = update(state(0.0, np.inf), observation, 9.0)
    assert unknown.br_gauss[1:] == pytest.approx(10.0) and unknown.variance_gauss2[1:] == pytest.approx(9.0)
    assert np.isinf(unknown.variance_gauss2[0]).all()
    with pytest.raises(ValueError, match="variances must be >= 0"):
        update(state(2.0, 4.0), observation, -1.0)


def test_propagation_grows_the_variance_and_age_and_refuses_times_out_of_order():
    model = FluxTransport(SHAPE, TransportParameters(step_hours=24.0))
    start = state(5.0, 1.0)
    later = propagate(start, model, "2011-03-11", growth_gauss2_per_day=0.5)
    assert later.time.isot.startswith("2011-03-11")
    # carried as flux is (its mean conserved), plus 0.5 G^2/day over 10 days
    assert later.variance_gauss2.mean() == pytest.approx(6.0, rel=1e-9)
    assert later.variance_gauss2 == pytest.approx(np.full(SHAPE, 6.0), rel=0.05)
    assert later.age_hours == pytest.approx(np.full(SHAPE, 48.0 + 240.0))
    assert later.br_gauss.mean() == pytest.approx(5.0)  # a uniform field stays uniform
    with pytest.raises(ValueError, match="times out of order"):
        propagate(later, model, "2011-03-05", growth_gauss2_per_day=0.5)
