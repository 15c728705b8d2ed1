"""The large-scale figures (solarmaggan.largescale) on analytic fields with known answers."""

import math

import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time
from sunpy.data.test import get_test_filepath

from data_prep.geometry import (full_sun_header, full_sun_latitudes_deg, full_sun_longitudes_deg,
                                full_sun_pixel_area_cm2, RSUN_REF_M)
from solarmaggan import largescale

SHAPE = (90, 180)
TIME = Time("2011-09-10T12:00:00")


def _grid(shape=SHAPE):
    header = full_sun_header(TIME, shape)
    latitude = np.radians(full_sun_latitudes_deg(shape[0]))[:, None] * np.ones(shape)
    longitude = np.radians(full_sun_longitudes_deg(header))[None, :] * np.ones(shape)
    return header, latitude, longitude


def test_harmonic_fit_recovers_analytic_schmidt_harmonics():
    header, lat, lon = _grid()
    s, c = np.sin(lat), np.cos(lat)
    # Schmidt semi-normalised P_l^m written out by hand (no Condon-Shortley phase)
    field = (2.0  # monopole
             + 3.0 * s  # g10: axial dipole
             - 1.2 * c * np.sin(lon)  # h11
             + 0.8 * 0.5 * (3 * s**2 - 1)  # g20
             + 0.5 * math.sqrt(3) * s * c * np.cos(lon)  # g21
             - 0.7 * 0.5 * math.sqrt(3) * c**2 * np.sin(2 * lon)  # h22
             + 0.3 * 0.5 * (5 * s**3 - 3 * s)  # g30
             + 0.4 * 0.125 * (35 * s**4 - 30 * s**2 + 3))  # g40
    coefficients = largescale.harmonic_coefficients(field, header)
    expected = {"g_0_0": 2.0, "g_1_0": 3.0, "h_1_1": -1.2, "g_2_0": 0.8, "g_2_1": 0.5,
                "h_2_2": -0.7, "g_3_0": 0.3, "g_4_0": 0.4}
    assert len(coefficients) == 25
    for key, value in coefficients.items():
        assert value == pytest.approx(expected.get(key, 0.0), abs=1e-6), key
    assert largescale.axial_dipole_gauss(coefficients) == pytest.approx(3.0)
    assert largescale.dipole_strength_gauss(coefficients) == pytest.approx(math.hypot(3.0, 1.2))
    # a longitude-shifted header moves the m > 0 terms, not the axial ones
    shifted = header.copy()
    shifted["CRVAL1"] = float(header["CRVAL1"]) + 90.0
    moved = largescale.harmonic_coefficients(field, shifted)
    assert moved["g_1_0"] == pytest.approx(3.0)
    # the same field read with longitudes 90 deg larger: -1.2 sin(lon - 90) = +1.2 cos(lon)
    assert moved["g_1_1"] == pytest.approx(1.2, abs=1e-6)


def test_band_means_and_hemisphere_flux_of_a_dipole():
    header, lat, _ = _grid()
    g10 = 4.0
    field = g10 * np.sin(lat)
    latitude_deg = np.degrees(lat)
    means = largescale.band_means(field, latitude_deg)
    # equal-area rows: the mean of g10 sin(lat) over [a, b] is g10 (sin a + sin b) / 2
    for (low, high), mean in zip(largescale.LATITUDE_BANDS_DEG, means):
        expected = g10 * (math.sin(math.radians(low)) + math.sin(math.radians(high))) / 2.0
        assert mean == pytest.approx(expected, abs=0.02 * g10), (low, high)
    flux = largescale.hemisphere_net_flux(field, latitude_deg, full_sun_pixel_area_cm2(SHAPE))
    # integral of g10 sin(lat) over the northern hemisphere: g10 pi R^2
    expected = g10 * math.pi * (RSUN_REF_M * 100.0) ** 2
    assert flux["north_mx"] == pytest.approx(expected, rel=1e-3)
    assert flux["south_mx"] == pytest.approx(-expected, rel=1e-3)


def test_disk_figures_use_the_observer_b0_and_the_sphere_area():
    """On the geometry of a real STEREO/EUVI header (B0 +6.4 deg, 0.956 au): the disk
    centre lies at latitude B0, the north pole is tipped towards the observer; a uniform
    B_r of +5 G north and -5 G south seen along the line of sight (B_LOS = B_r mu) gives
    band means of B_LOS / mu of -5 and +5 G at the caps, and a de-projected hemisphere flux
    of 5 G x the area of the visible northern hemisphere."""
    from data_prep.geometry import mu_map
    from solarmaggan.evaluate import observer_latitude_deg

    header = fits.Header.fromtextfile(get_test_filepath("euvi_20090615_000900_n4euA_s.header"))
    size, radius_px = 256, 98.0
    latitude = observer_latitude_deg(header, size, radius_px, disk=1.0)
    centre = (size - 1) / 2.0
    middle = latitude[int(centre):int(centre) + 2, int(centre):int(centre) + 2].mean()
    assert middle == pytest.approx(float(header["HGLT_OBS"]), abs=0.5)
    assert np.isnan(latitude[0, 0])  # off the disk
    assert (latitude > 0).sum() > (latitude < 0).sum()
    mu = mu_map(size, radius_px)
    los = np.where(latitude >= 0, 5.0, -5.0) * mu
    recovered = largescale.band_means(los / mu, latitude)
    assert recovered[0] == pytest.approx(-5.0) and recovered[-1] == pytest.approx(5.0)
    flux = largescale.hemisphere_net_flux(los, latitude, largescale.disk_area_cm2(size, radius_px, 1.0))
    unfloored = (latitude >= 0) & (mu > 0.1)  # the floor caps the de-projection at the limb
    assert flux["north_mx"] >= 5.0 * unfloored.sum()
    assert flux["north_mx"] == pytest.approx(5.0 * ((latitude >= 0) & np.isfinite(mu)).sum(), rel=0.03)
    assert flux["south_mx"] < 0


def test_band_table_reports_bias_and_mean_abs_difference():
    records = [{"band_mean_generated_gauss_s90_s40": -3.0, "band_mean_true_gauss_s90_s40": -1.0},
               {"band_mean_generated_gauss_s90_s40": 1.0, "band_mean_true_gauss_s90_s40": 1.0}]
    row = largescale.band_table(records)[0]
    assert (row["band"], row["images"]) == ("s90_s40", 2)
    assert row["bias_gauss"] == pytest.approx(-1.0)
    assert row["mean_abs_difference_gauss"] == pytest.approx(1.0)
    assert math.isnan(largescale.band_table(records)[1]["bias_gauss"])  # no image in that band
