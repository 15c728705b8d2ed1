"""The figures of the synchronic-map experiment (solarmaggan.fullsun.experiment); the whole
experiment runs in the small demo (tests/test_demo.py)."""

import math

import numpy as np
import pytest
from astropy.time import Time

from data_prep.geometry import full_sun_header, full_sun_longitudes_deg, longitude_distance_deg
from solarmaggan.fullsun import experiment

TIME = Time("2011-09-10T12:00:00")


def test_open_jaccard_counts_polarity():
    truth = np.array([[1, 1, 0, -1]])
    assert experiment.open_jaccard(truth, truth) == 1.0
    # same open pixels, one with the wrong sign: 2 of the 3 open pixels agree
    assert experiment.open_jaccard(truth, np.array([[1, 1, 0, 1]])) == pytest.approx(2 / 3)
    assert experiment.open_jaccard(truth, np.array([[0, 1, 1, 0]])) == pytest.approx(1 / 4)
    assert math.isnan(experiment.open_jaccard(np.zeros((1, 4)), np.zeros((1, 4))))


def test_current_sheet_distance_is_the_mean_great_circle_offset():
    longitudes = np.arange(0.0, 360.0, 2.0)
    equator = np.column_stack([longitudes, np.zeros_like(longitudes)])
    shifted = np.column_stack([longitudes, np.full_like(longitudes, 5.0)])
    assert experiment.current_sheet_distance_deg(equator, equator) == pytest.approx(0.0, abs=1e-6)
    assert experiment.current_sheet_distance_deg(equator, shifted) == pytest.approx(5.0, abs=1e-6)
    # longitudes wrap: 359 and 1 deg are 2 deg apart
    assert experiment.current_sheet_distance_deg(np.array([[359.0, 0.0]]),
                                                 np.array([[1.0, 0.0]])) == pytest.approx(2.0)


def test_far_hemisphere_is_centred_opposite_the_sub_earth_longitude():
    from sunpy.coordinates import sun

    shape = (30, 60)
    header = full_sun_header(TIME, shape)
    far = experiment.far_hemisphere(header, TIME)
    assert far.shape == shape and far.mean() == pytest.approx(0.5, abs=1 / 60)
    longitudes = full_sun_longitudes_deg(header)
    sub_earth = sun.L0(TIME).deg
    assert not far[:, np.argmin(longitude_distance_deg(longitudes, sub_earth))].any()
    assert far[:, np.argmin(longitude_distance_deg(longitudes, sub_earth + 180))].all()


def test_gap_closed_is_the_share_of_the_gap_between_synoptic_and_true_far_side():
    means = {"synoptic": {"x": 0.4}, "true_far": {"x": 0.8}, "ai": {"x": 0.7}}
    assert experiment.gap_closed(means, "x") == pytest.approx(0.75)
    means["ai"]["x"] = 0.3
    assert experiment.gap_closed(means, "x") == pytest.approx(-0.25)


def test_the_assimilated_gap_starts_from_the_better_baseline():
    means = {"synoptic": {"cc": 0.5, "hcs_distance_deg": 10.0},
             "sft_near": {"cc": 0.6, "hcs_distance_deg": 12.0},
             "true_far": {"cc": 1.0, "hcs_distance_deg": 2.0},
             "sft_ai": {"cc": 0.8, "hcs_distance_deg": 6.0}}
    assert experiment.gap_closed_assimilated(means, "cc") == pytest.approx(0.5)  # from b' 0.6
    assert experiment.gap_closed_assimilated(means, "hcs_distance_deg") == pytest.approx(0.5)  # from b 10
