"""The latitude channel: sin(heliographic latitude) from each image's own observer (B0)."""

import astropy.units as u
import numpy as np
import pytest
import sunpy.map
from astropy.io import fits
from sunpy.coordinates import frames

from conftest import TINY_OVERRIDES, untrained_run
from data_prep.latitude import LATITUDE_CHANNEL, observer_latitude_plane
from data_prep.prepare import prepare_map
from solarmaggan.config import check_data, resolve_config
from solarmaggan.generate import generate
from test_generate_evaluate import aia_file, euvi_file

SIZE, RADIUS = 64, 24.0


def euvi_at_0p3_au(path):
    """The STEREO-A file moved to 0.3 au, as Solar Orbiter near perihelion: the pole then
    lies 1.1 deg behind the visible limb."""
    euvi_file(path)
    with fits.open(path, mode="update") as hdul:
        hdul[0].header["DSUN_OBS"] = (0.3 * u.au).to_value(u.m)
    return path


@pytest.mark.parametrize("maker, kind", [(euvi_file, "euvi"), (aia_file, "aia"),
                                         (euvi_at_0p3_au, "euvi")])
def test_the_plane_is_the_latitude_sunpy_computes(maker, kind, tmp_path):
    """Real STEREO-A and SDO headers on the standard frame: every on-disk pixel's
    sin(latitude) as sunpy's coordinate transforms give it, at 1 au and at 0.3 au."""
    prepared = prepare_map(maker(tmp_path / f"{kind}.fits"), kind, SIZE, RADIUS, median_scale_to=None)
    plane = observer_latitude_plane(prepared, SIZE, RADIUS)
    frame_map = sunpy.map.Map(np.zeros((SIZE, SIZE)), prepared.meta)
    latitude = sunpy.map.all_coordinates_from_map(frame_map).transform_to(
        frames.HeliographicStonyhurst(obstime=frame_map.date)).lat
    on_disk = np.isfinite(latitude)
    assert on_disk.sum() > 0.9 * np.pi * RADIUS**2
    np.testing.assert_allclose(plane[on_disk], np.sin(latitude[on_disk]).value, atol=1e-3)
    b0 = prepared.observer_coordinate.lat.to_value(u.deg)
    assert abs(b0) > 1  # the test means something: the equator is off the disk centre
    assert plane[31:33, 31:33].mean() == pytest.approx(np.sin(np.radians(b0)), abs=5e-3)
    # north up: the plane rises towards the top rows, off the disk too, within [-1, 1]
    assert plane[-1, SIZE // 2] == 1.0 and plane[0, SIZE // 2] == -1.0
    assert np.all(np.diff(plane[:, SIZE // 2]) >= 0)


def test_a_latitude_model_refuses_a_pair_file_without_the_channel(toy_file):
    config = resolve_config("quick_latitude", TINY_OVERRIDES)
    with pytest.raises(ValueError, match="lacks it") as error:
        check_data(toy_file, config)
    assert str(toy_file) in str(error.value) and LATITUDE_CHANNEL in str(error.value)


def test_generate_takes_the_latitude_from_each_inputs_own_observer(tmp_path):
    """The same EUVI pixels seen from B0 = +7 and -7 deg give different magnetograms, each
    recording its B0."""
    run_dir, generator = untrained_run(tmp_path / "run", "data.latitude_channel=true")
    assert generator.input_shape[-1] == 2
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for b0 in (7.0, -7.0):
        path = euvi_file(inputs / f"euvi_b0_{b0:+.0f}.fts")
        with fits.open(path, mode="update") as hdul:
            hdul[0].header["HGLT_OBS"] = b0
            hdul[0].header["CRLT_OBS"] = b0
    report = generate(run_dir, [inputs], tmp_path / "out", progress=False)
    assert report["failed"] == [] and len(report["written"]) == 2
    north, south = (sunpy.map.Map(tmp_path / "out" / f"euvi_b0_{b0}_magnetogram.fits")
                    for b0 in ("+7", "-7"))
    for generated, b0 in ((north, 7.0), (south, -7.0)):
        assert generated.observer_coordinate.lat.to_value(u.deg) == pytest.approx(b0)
        assert f"B0 {b0:.3f} deg" in str(generated.meta["history"])
    disk = np.isfinite(north.data)
    assert np.abs(north.data[disk] - south.data[disk]).max() > 0.1
