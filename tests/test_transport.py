"""The surface flux-transport model (solarmaggan.fullsun.transport) against known answers."""

import astropy.units as u
import numpy as np
import pytest
from scipy.special import sph_harm_y

from solarmaggan.fullsun.transport import (CARRINGTON_RATE_DEG_DAY, DAY_S, FluxTransport,
                                           TransportParameters)

SHAPE = (180, 360)


def grid(model):
    longitude = (np.arange(SHAPE[1]) + 0.5) * 360.0 / SHAPE[1]
    return np.meshgrid(model.latitude_deg, longitude, indexing="ij")


def test_differential_rotation_moves_a_spot_as_sunpy_says():
    from sunpy.sun.models import differential_rotation

    model = FluxTransport(SHAPE, TransportParameters(diffusion_km2_s=0.0, flow_m_s=0.0))
    latitude, longitude = grid(model)
    spot = np.exp(-((latitude - 30.0) ** 2 + (longitude - 180.0) ** 2) / (2 * 1.5 ** 2))
    moved = model.evolve(spot, 10 * DAY_S)
    centroid = np.sum(moved * longitude) / np.sum(moved)
    expected = (differential_rotation(10 * u.day, 30 * u.deg, model="howard",
                                      frame_time="sidereal").to_value(u.deg)
                - 10 * CARRINGTON_RATE_DEG_DAY)
    assert expected < -4  # 30 deg lags the Carrington frame by half a degree a day
    assert centroid - 180.0 == pytest.approx(expected, abs=0.1)


@pytest.mark.parametrize("degree, order", [(4, 0), (3, 2)])
def test_diffusion_of_a_spherical_harmonic_decays_at_its_rate(degree, order):
    model = FluxTransport(SHAPE, TransportParameters(flow_m_s=0.0, rotation=False))
    latitude, longitude = grid(model)
    harmonic = np.real(sph_harm_y(degree, order, np.deg2rad(90.0 - latitude),
                                  np.deg2rad(longitude)))
    days = 200.0
    evolved = model.evolve(harmonic, days * DAY_S)
    measured = np.sum(evolved * harmonic) / np.sum(harmonic * harmonic)
    rate = degree * (degree + 1) * model.eta / model.rsun_m ** 2
    expected = np.exp(-rate * days * DAY_S)
    assert expected < 0.9
    assert np.log(measured) == pytest.approx(np.log(expected), rel=0.02)


def test_the_meridional_flow_moves_a_band_poleward_at_its_speed():
    flow = 11.0
    model = FluxTransport(SHAPE, TransportParameters(diffusion_km2_s=0.0, flow_m_s=flow,
                                                     rotation=False))
    latitude, _ = grid(model)
    band = np.exp(-((latitude - 20.0) / 2.0) ** 2)
    days = 100.0
    moved = model.evolve(band, days * DAY_S)
    centroid = np.sum(moved * latitude) / np.sum(moved)
    # d(latitude)/dt = v0 sin(2 latitude) / R  =>  tan(latitude) grows as exp(2 v0 t / R)
    expected = np.rad2deg(np.arctan(np.tan(np.deg2rad(20.0))
                                    * np.exp(2 * flow * days * DAY_S / model.rsun_m)))
    assert expected > 25
    assert centroid == pytest.approx(expected, abs=0.5)


def test_net_flux_is_conserved_and_decays_only_with_a_decay_time():
    rng = np.random.default_rng(0)
    field = rng.normal(0.0, 20.0, SHAPE) + 0.3
    year = 365.25 * DAY_S
    evolved = FluxTransport(SHAPE).evolve(field, year)
    assert np.isfinite(evolved).all() and np.abs(evolved).max() < np.abs(field).max()
    assert evolved.sum() == pytest.approx(field.sum(), rel=1e-6)
    decayed = FluxTransport(SHAPE, TransportParameters(decay_years=5.0)).evolve(field, year)
    assert decayed.sum() == pytest.approx(field.sum() * np.exp(-0.2), rel=1e-6)
    with pytest.raises(ValueError, match="diffusion must be"):
        FluxTransport(SHAPE, TransportParameters(diffusion_km2_s=-1.0))


def test_the_transport_command_evolves_a_map_and_refuses_bad_input(tmp_path):
    import subprocess
    import sys

    import sunpy.map
    from astropy.io import fits
    from sunpy.data.test import get_test_filepath

    from data_prep.geometry import full_sun_header

    header = full_sun_header("2011-03-01T00:00:00", (90, 180))
    for key in ("NAXIS1", "NAXIS2"):
        header.remove(key, ignore_missing=True)
    br = np.random.default_rng(1).normal(0.0, 10.0, (90, 180)).astype(np.float32)
    fits.PrimaryHDU(br, header).writeto(tmp_path / "map.fits")
    command = [sys.executable, "-m", "solarmaggan", "transport", "--quiet"]
    done = subprocess.run(command + [str(tmp_path / "map.fits"), "--to", "2011-03-08T12:00",
                                     "--out", str(tmp_path / "out.fits")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    evolved = sunpy.map.Map(tmp_path / "out.fits")
    assert evolved.date.isot.startswith("2011-03-08T12:00")
    assert evolved.meta["sftdays"] == pytest.approx(7.5) and evolved.meta["sftdiff"] == 450.0
    expected = FluxTransport((90, 180)).evolve(br, 7.5 * DAY_S)
    np.testing.assert_allclose(evolved.data, expected, atol=1e-4)
    cases = {"not a full-Sun map": [get_test_filepath("aia_171_level1.fits"), "--to", "2011-03-09"],
             "before the map's time": [str(tmp_path / "map.fits"), "--to", "2011-02-01"]}
    for expected_text, extra in cases.items():
        refused = subprocess.run(command + extra + ["--out", str(tmp_path / "bad.fits")],
                                 capture_output=True, text=True)
        lines = [line for line in refused.stderr.splitlines() if line.strip()]
        assert refused.returncode == 2 and len(lines) == 1 and expected_text in lines[0], refused.stderr
        assert not (tmp_path / "bad.fits").exists()
