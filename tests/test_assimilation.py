"""The assimilation state's inverse-variance update and propagation."""

import astropy.units as u
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


# --- the error model, censoring, and the ``assimilate`` command -------------------------

import dataclasses
import json
from pathlib import Path

from astropy.io import fits

from solarmaggan.fullsun import assimilation as asm


def gridded(time, br, mu, kind="observed", sigma=None, censored=None):
    return asm.GriddedObservation(Path(f"{kind}_{time}.fits"), Time(time), kind, kind, 0.0, 0.0,
                                  1.0, br, mu, sigma, censored)


def test_the_error_model_is_measured_from_the_innovations():
    """Observed maps of a field that random-walks by G = 4 G^2/day per pixel, each with
    noise 3 G / mu: the fit recovers both from the observations alone."""
    rng = np.random.default_rng(1)
    shape = (40, 80)
    model = FluxTransport(shape, TransportParameters(rotation=False, flow_m_s=0.0, diffusion_km2_s=0.0,
                                                     step_hours=24.0))
    mu = np.broadcast_to(np.linspace(0.5, 1.0, shape[1]), shape)
    field, observations = rng.normal(0.0, 50.0, shape), []
    for day in range(30):
        observations.append(gridded(Time("2011-03-01") + day * u.day,
                                    field + rng.normal(0.0, 1.0, shape) * 3.0 / mu, mu))
        field = field + rng.normal(0.0, 2.0, shape)
    estimate = asm.estimate_error_model(observations, model)
    assert estimate["observed_sigma_gauss"] == pytest.approx(3.0, rel=0.05)
    assert estimate["growth_gauss2_per_day"] == pytest.approx(4.0, rel=0.05)
    assert estimate["by_lag"][0]["lag_days"] == 1.0 and estimate["r2"] > 0.9


def test_a_censored_ai_value_does_not_weaken_a_stronger_state():
    shape = (4, 8)
    model = FluxTransport(shape, TransportParameters(rotation=False, flow_m_s=0.0, diffusion_km2_s=0.0))
    known = AssimilationState(Time("2011-03-01"), np.full(shape, 500.0), np.full(shape, 100.0),
                              np.zeros(shape))
    ai = gridded("2011-03-01", np.full(shape, 95.0), np.ones(shape), "generated",
                 sigma=np.full(shape, 10.0), censored=np.ones(shape, bool))
    errors = asm.ErrorModel(5.0, 0.0)
    kept, _ = asm.assimilate_time(known, [ai], model, errors, "2011-03-01")
    assert kept.br_gauss == pytest.approx(np.full(shape, 500.0))
    weak = dataclasses.replace(known, br_gauss=np.full(shape, 50.0))
    used, source = asm.assimilate_time(weak, [ai], model, errors, "2011-03-01")
    assert used.br_gauss == pytest.approx(np.full(shape, 72.5))  # equal variances: the mean
    assert (source == -1).all()  # the AI did not outweigh the state
    sharper = dataclasses.replace(ai, sigma_gauss=np.full(shape, 5.0))
    used, source = asm.assimilate_time(weak, [sharper], model, errors, "2011-03-01")
    assert used.br_gauss == pytest.approx(np.full(shape, (50.0 / 100 + 95.0 / 25) / (1 / 100 + 1 / 25)))
    assert (source == 0).all()


@pytest.fixture(scope="module")
def sequence_inputs(tmp_path_factory):
    """HMI views from Earth on three days and an AI view (UNCERTAINTY 20 G) from
    Stonyhurst +120 deg on the second, of the analytic field of test_synchronic."""
    from test_synchronic import TIME, view, with_uncertainty

    folder = tmp_path_factory.mktemp("sequence")
    hmi = [view(folder / f"hmi_{day}.fits", 0.0, time=TIME + day * u.day, kind="hmi", size=64)
           for day in range(3)]
    plain = view(folder / "ai_plain.fits", 120.0, time=TIME + 1 * u.day, kind="generated", size=64)
    ai = with_uncertainty(plain, folder / "ai.fits", d_gauss=20.0, sigma=True)
    return {"hmi": hmi, "ai": ai, "ai_plain": plain}


COMMAND = ["--shape", 30, 60, "--observed-sigma", 5, "--variance-growth", 10, "--quiet"]


def test_assimilate_writes_maps_sunpy_opens_and_sunkit_magex_accepts(sequence_inputs, tmp_path, capsys):
    import sunpy.map
    from sunkit_magex import pfss

    from solarmaggan.fullsun.synchronic import read_layers, read_uncertainty
    from test_bad_inputs import run_cli

    out = tmp_path / "run"
    inputs = [*sequence_inputs["hmi"], sequence_inputs["ai"]]
    status, lines = run_cli(["assimilate", *inputs, "--out", out, *COMMAND], capsys)
    assert status == 0, lines
    sequence = json.loads((out / "sequence.json").read_text())
    assert [record["time"][:10] for record in sequence["maps"]] == ["2011-03-01", "2011-03-02", "2011-03-03"]
    assert sequence["maps"][1]["kinds"] == ["generated", "observed"]
    last = out / sequence["maps"][-1]["file"]
    assert (out / sequence["maps"][-1]["quicklook"]).is_file()
    with warnings_ignored():
        full_sun = sunpy.map.Map(last)
        pfss.Input(full_sun, 10, 2.5)
    assert isinstance(full_sun, sunpy.map.GenericMap) and np.isfinite(full_sun.data).all()
    sigma = read_uncertainty(last)["UNCERTAINTY"]
    age = read_layers(last)["AGE"]
    # seen by HMI at the last time: age 0; seen only by the AI a day before: age >= 24 h,
    # sigma larger than HMI's; never seen: NaN
    near = np.nanargmin(age)
    assert age.flat[near] == 0.0 and np.nanmax(age) >= 24.0
    assert np.nanmax(sigma) > sigma.flat[near] and np.isnan(sigma).any()
    assert fits.getheader(last)["ASMGROW"] == 10.0


def warnings_ignored():
    import warnings

    manager = warnings.catch_warnings()
    manager.__enter__()
    warnings.simplefilter("ignore")

    class Done:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            manager.__exit__(*exc)

    return Done()


def test_resume_after_a_kill_gives_the_same_files(sequence_inputs, tmp_path, monkeypatch):
    import data_prep.atomic

    inputs = [*sequence_inputs["hmi"], sequence_inputs["ai"]]
    settings = asm.AssimilationSettings(shape=(30, 60), observed_sigma_gauss=5.0, growth_gauss2_per_day=10.0)
    asm.assimilate(inputs, tmp_path / "clean", settings, progress=False)
    writes, real = [], data_prep.atomic.write_json_atomically

    def killed_at_the_second_time(path, record, **options):
        writes.append(path)
        if len(writes) == 2:  # the second map and its state are written, the sequence not
            raise KeyboardInterrupt
        return real(path, record, **options)

    monkeypatch.setattr(data_prep.atomic, "write_json_atomically", killed_at_the_second_time)
    with pytest.raises(KeyboardInterrupt):
        asm.assimilate(inputs, tmp_path / "resumed", settings, progress=False)
    monkeypatch.setattr(data_prep.atomic, "write_json_atomically", real)
    assert len(json.loads((tmp_path / "resumed" / "sequence.json").read_text())["maps"]) == 1
    asm.assimilate(inputs, tmp_path / "resumed", settings, progress=False)
    clean = sorted(path.name for path in (tmp_path / "clean").iterdir())
    assert clean == sorted(path.name for path in (tmp_path / "resumed").iterdir())
    for name in clean:
        assert (tmp_path / "clean" / name).read_bytes() == (tmp_path / "resumed" / name).read_bytes(), name


def test_bad_assimilate_inputs_are_refused_with_one_line(sequence_inputs, tmp_path, capsys):
    from test_bad_inputs import expect, run_cli

    hmi, out = sequence_inputs["hmi"], tmp_path / "run"
    status, lines = run_cli(["assimilate", *hmi, sequence_inputs["ai_plain"], "--out", out, *COMMAND], capsys)
    expect(status, lines, 2, "ai_plain.fits: AI-generated without an UNCERTAINTY layer",
           command="assimilate")
    status, lines = run_cli(["assimilate", *hmi, "--out", out, *COMMAND[:5], "--variance-growth", -1],
                            capsys)
    expect(status, lines, 2, "variance growth must be >= 0", command="assimilate")
    # three HMI days give innovations at two lags only: the error model is not measurable
    status, lines = run_cli(["assimilate", *hmi, "--out", out, "--shape", 30, 60, "--quiet"], capsys)
    expect(status, lines, 2, "cannot measure the error model: the innovations come at 2 lag(s)",
           command="assimilate")
    assert not out.exists()
    status, lines = run_cli(["assimilate", hmi[0], hmi[2], "--out", out, *COMMAND], capsys)
    assert status == 0, lines
    before = sorted(path.name for path in out.iterdir())
    status, lines = run_cli(["assimilate", *hmi, "--out", out, *COMMAND], capsys)
    expect(status, lines, 2, "times out of order", command="assimilate")
    assert sorted(path.name for path in out.iterdir()) == before


def test_the_ai_brings_its_structure_not_its_band_means_where_the_state_knows_the_field():
    shape = (4, 8)
    known = np.ones(shape, bool)
    known[:, 6:] = False  # never observed: the AI value as it is
    prior = AssimilationState(Time("2011-03-01"), np.full(shape, 10.0),
                              np.where(known, 25.0, np.inf), np.zeros(shape))
    ai = np.full(shape, 13.0) + np.arange(8)[None, :] * 0.5  # a 3 G+ band offset and a slope
    ai[0, :2] = np.nan
    adjusted = asm.without_row_mean_innovation(ai, prior)
    for row in range(4):
        use = known[row] & np.isfinite(ai[row])
        assert adjusted[row][use].mean() == pytest.approx(10.0)  # the state's band mean
        assert np.diff(adjusted[row][use]) == pytest.approx(np.diff(ai[row][use]))  # structure kept
    assert adjusted[:, 6:] == pytest.approx(ai[:, 6:]) and np.isnan(adjusted[0, :2]).all()
