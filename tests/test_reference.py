"""The reference pair (AISFM 3.0): the rotation against sunpy's differential rotation on a
real header, the choice of the reference, and a tiny reference-pair model through prep,
training, generate and export, with its bad inputs refused."""

import json
import subprocess
import sys

import astropy.units as u
import numpy as np
import pytest
import sunpy.map
from astropy.coordinates import SkyCoord
from sunpy.data.test import get_test_filepath
from sunpy.physics.differential_rotation import solar_rotate_coordinate

from data_prep.geometry import disk_mask
from data_prep.normalization import euv_normalization, magnetogram_normalization
from data_prep.prepare import prepare_map
from data_prep.reference import (DAY_S, ReferencePair, far_side_reference, rotated_reference,
                                 training_reference)

SIZE, RADIUS = 64, 24.5


def _spot_map(template, centre_px, gauss):
    """``template`` (a prepared sunpy map) with a 3 x 3 px spot of ``gauss`` at
    ``centre_px`` = (row, column) and 0 elsewhere."""
    data = np.zeros(template.data.shape)
    row, column = centre_px
    data[row - 1: row + 2, column - 1: column + 2] = gauss
    return sunpy.map.Map(data, template.meta)


def test_rotation_moves_a_spot_as_sunpys_differential_rotation_on_a_real_header():
    """A spot in a real AIA header's frame, rotated 3 days ahead, lands where sunpy's
    solar_rotate_coordinate puts it (within a pixel), keeps its field under the radial
    assumption (B_LOS / mu then, times mu now), and pixels rotated onto the disk from
    behind the east limb are masked."""
    aia = prepare_map(get_test_filepath("aia_171_level1.fits"), "aia", SIZE, RADIUS,
                      expected_wavelength=None)
    later_meta = dict(aia.meta)
    later_time = aia.date + 3 * u.day
    later_meta["date-obs"] = later_meta["t_obs"] = later_time.isot
    later = sunpy.map.Map(np.zeros(aia.data.shape), later_meta)
    spot_px = (36, 26)  # east of centre, a little north
    magnetogram = _spot_map(aia, spot_px, 50.0)
    channels = rotated_reference(aia, magnetogram, later, euv_normalization(1.0, 1000.0),
                                 magnetogram_normalization(100.0), RADIUS)
    start = aia.wcs.pixel_to_world(spot_px[1], spot_px[0])
    expected = solar_rotate_coordinate(SkyCoord(start, observer=aia.observer_coordinate),
                                       time=later_time)
    column, row = later.wcs.world_to_pixel(expected)
    field = channels[..., 1]
    peak = np.unravel_index(np.argmax(field), field.shape)
    assert abs(peak[0] - row) <= 1.0 and abs(peak[1] - column) <= 1.0
    mu_then = np.sqrt(1 - (np.hypot(spot_px[0] - 31.5, spot_px[1] - 31.5) / RADIUS) ** 2)
    mu_now = np.sqrt(1 - (np.hypot(row - 31.5, column - 31.5) / RADIUS) ** 2)
    np.testing.assert_allclose(field[peak] * 100.0, 50.0 / mu_then * mu_now, rtol=0.25)
    mask = channels[..., 2]
    disk = disk_mask(SIZE, RADIUS)
    assert mask[~disk].max() == 0.0
    east, west = disk[:, :12].sum(), disk[:, -12:].sum()  # 5 px strips of the disk
    assert mask[:, :12].sum() < 0.3 * east  # rotated in from behind the east limb: unseen
    assert mask[:, -12:].sum() > 0.8 * west


def test_the_reference_is_chosen_by_lag_in_training_and_by_longitude_on_the_far_side():
    archive = [ReferencePair(day * DAY_S, f"aia{day}.fits", f"hmi{day}.fits", (360 - 13.2 * day) % 360)
               for day in range(60)]
    now = 59.5 * DAY_S
    drawn = [training_reference(archive, now + k, (13.5, 40.5)) for k in range(50)]
    lags = [(now - pair.time_unix) / DAY_S for pair in drawn]
    assert min(lags) >= 13.5 and max(lags) <= 40.5 and len(set(lags)) > 5
    assert training_reference(archive, now, (13.5, 40.5)) == training_reference(archive, now, (13.5, 40.5))
    assert training_reference(archive, 10 * DAY_S, (13.5, 40.5)) is None
    # far side: the most recent pair whose central meridian lay within 15 deg of the
    # input's centre: of day 50's meridian, day 51's (13.2 deg on) is, day 52's is not
    centre = archive[50].l0_deg
    assert far_side_reference(archive, now, centre, 40.5) == archive[51]
    assert far_side_reference(archive, now, centre, 5.0) is None
    # a sparser archive's rule (generate --reference-max-offset 30): day 52's, 26.4 deg on
    assert far_side_reference(archive, now, centre, 40.5, 30.0) == archive[52]


@pytest.fixture(scope="module")
def reference_model(tmp_path_factory):
    """A 64 px campaign of 100 days from June (Earth and STEREO-A, every 3 days) and a tiny
    reference-pair model trained on it for a few steps (train June-July, validation August,
    test September)."""
    from data_prep.prep import PrepSettings, build_pair_file
    from data_prep.toysun.campaign import CampaignSettings, run_campaign
    from solarmaggan.config import resolve_config
    from solarmaggan.training import train

    folder = tmp_path_factory.mktemp("reference")
    campaign = folder / "campaign"
    record = run_campaign(campaign, CampaignSettings(
        start="2011-06-01", days=100, cadence_hours=72, observers=("earth", "stereo-a"),
        size=64), progress=False, workers=1)
    settings = PrepSettings.from_preset("quick_latitude", image_size=SIZE, radius_px=RADIUS,
                                        reference_pair=True)
    pairs = folder / "pairs.h5"
    report = build_pair_file([campaign / record["files"]["aia"]],
                             [campaign / record["files"]["hmi"]], pairs, settings, workers=1,
                             progress=False)
    config = resolve_config("quick_latitude", [
        "data.reference_pair=true", "model.base_filters=4", "model.max_filters=8",
        "model.discriminator_base_filters=4", "model.discriminator_max_filters=8",
        "training.steps=4", "training.log_every=2", "training.validation_every=4",
        "training.image_every=4", "training.checkpoint_every=4", "training.validation_pairs=2",
        "training.image_pairs=1"],
        data_file=pairs)
    train(config, pairs, folder / "run", progress=False)
    return folder, campaign, record, report


def test_a_reference_pair_model_preps_trains_generates_and_exports(reference_model):
    from data_prep.pairs import PairFile
    from solarmaggan.export import export
    from solarmaggan.generate import generate

    folder, campaign, record, report = reference_model
    # prep: the pairs of the first 6.5 days have no reference and are reported
    lag = report["reference_lag_days"]
    assert 6.5 <= lag["min"] <= lag["median"] <= lag["max"] <= 40.5
    assert any("no reference pair" in entry["reason"] for entry in report["failed_preparation"])
    with PairFile(folder / "pairs.h5") as pairs:
        assert pairs.input_channels[-3:] == ["reference AIA 304", "reference HMI LOS",
                                             "reference mask"]
        header = pairs.header(0, "input")
        assert 6.5 <= header["REFLAG"] <= 40.5 and header["REFMAG"].startswith("hmi")
        sample = pairs.read(0)["input"]
        assert set(np.unique(sample[..., -1])) <= {0.0, 1.0} and sample[..., -1].max() == 1.0
    # generate: STEREO-A with the SDO archive, and without (explicitly)
    stereo = sorted((campaign / record["files"]["euvi"]["stereo-a"]).glob("*.fts"))[-2:]
    sdo = [campaign / record["files"]["aia"], campaign / record["files"]["hmi"]]
    written = generate(folder / "run", stereo, folder / "far", progress=False,
                       reference_archive=sdo)
    assert len(written["written"]) == 2 and not written["failed"]
    header = sunpy.map.Map(written["written"][0]).meta
    assert 0 < header["reflag"] <= 40.5
    fallback = generate(folder / "run", stereo[:1], folder / "far_none", progress=False,
                        no_reference=True)
    assert sunpy.map.Map(fallback["written"][0]).meta["reftime"] == "none"
    # export: the signature takes the extra channels, and the parity holds
    manifest = export(folder / "run", folder / "export", formats="savedmodel")
    assert manifest["input"]["shape"][-1] == 5 and manifest["input"]["reference_pair"]
    assert manifest["parity_max_abs"]["savedmodel"] < 1e-4


def test_reference_inputs_refused_with_one_line(reference_model, tmp_path):
    folder, campaign, record, _ = reference_model
    stereo = sorted((campaign / record["files"]["euvi"]["stereo-a"]).glob("*.fts"))[-1]
    command = [sys.executable, "-m", "solarmaggan", "generate", "--model", str(folder / "run"),
               str(stereo), "--out", str(tmp_path / "out"), "--quiet"]
    cases = {
        # no archive and no --no-reference
        "takes a reference pair": [],
        # a STEREO file in the archive: the wrong instrument
        "reference pair is SDO/AIA + SDO/HMI": ["--reference-archive", str(stereo)],
        # an archive holding only the last day: no reference within the allowed lag
        "no reference pair in the archive": [
            "--reference-archive",
            *map(str, sorted((campaign / record["files"]["aia"]).glob("*.fits"))[-1:]),
            *map(str, sorted((campaign / record["files"]["hmi"]).glob("*.fits"))[-1:])],
        # an offset outside (0, 180] deg
        "--reference-max-offset must lie in (0, 180]": [
            "--reference-archive", str(campaign / record["files"]["aia"]),
            str(campaign / record["files"]["hmi"]), "--reference-max-offset", "0"],
    }
    for expected, extra in cases.items():
        result = subprocess.run(command + extra, capture_output=True, text=True)
        errors = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.returncode == 2, (expected, result.stderr)
        assert len(errors) == 1 and expected in errors[0], (expected, result.stderr)
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").glob("*.fits"))
