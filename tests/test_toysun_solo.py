"""Solar Orbiter in the toy-Sun campaign: EUI/FSI level-2 files as EUI writes them (read by
sunpy as EUIMap, the observer right at any distance), the SO/PHI-FDT truth view, the
``solo`` observers and a small campaign."""

import json
import warnings

import astropy.units as u
import numpy as np
import pytest
import sunpy.map
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.time import Time
from sunpy.coordinates import HeliocentricInertial, HeliographicStonyhurst
from sunpy.data.test import get_test_filepath
from sunpy.map.sources import EUIMap

from data_prep.__main__ import main as data_prep_main
from data_prep.fitsio import check_header, identify, observation_time, read_header
from data_prep.pairing import scan_files
from data_prep.toysun import instruments
from data_prep.toysun.campaign import CampaignSettings, _grid_deg, _observers, run_campaign
from data_prep.toysun.evolution import WholeSun
from data_prep.toysun.instruments import (
    default_detector, detector_from_header, fsi_file_name, instrument_header, phi_fdt_detector,
    phi_view_header, truth_magnetogram_header, write_instrument_file,
)
from data_prep.toysun.observers import observer_coordinate, parse_observer
from data_prep.toysun.views import ViewGeometry, render

TIME = "2011-03-01T00:00:00"
FSI_TEMPLATE = "solo_L1_eui-fsi304-image_20201021T145510206_V03.header"


def solo(distance_au, lon=150.0, lat=4.0, time=TIME):
    return SkyCoord(lon * u.deg, lat * u.deg, distance_au * u.au,
                    frame=HeliographicStonyhurst(obstime=time))


def open_map(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sunpy's metadata chatter
        return sunpy.map.Map(str(path))


def template():
    return fits.Header.fromtextfile(get_test_filepath(FSI_TEMPLATE))


@pytest.fixture(scope="module")
def sun_state():
    return WholeSun(3, grid_deg=0.5).state(TIME)


@pytest.mark.parametrize("distance_au", [0.3, 1.0])
def test_fsi_file_is_level_2_as_eui_writes_it_with_the_observer(tmp_path, distance_au):
    observer = solo(distance_au)
    header = instrument_header("fsi", TIME, observer, default_detector("fsi", 64))
    path = write_instrument_file(tmp_path / header["FILENAME"], "fsi", np.full((64, 64), 100.0),
                                 header, np.random.default_rng(1))
    assert path.name == "solo_L2_eui-fsi304-image_20110228T235957000_V01.fits"
    assert path.name == fsi_file_name(TIME, 304)
    # an empty primary HDU and a RICE_1 compressed, quantised float32 image
    with fits.open(path, disable_image_compression=True) as hdus:
        assert hdus[0].data is None and len(hdus) == 2
        raw = hdus[1].header
        assert raw["ZCMPTYPE"] == "RICE_1" and raw["ZBITPIX"] == -32
        assert raw["ZQUANTIZ"] == "SUBTRACTIVE_DITHER_1"
    solar_map = open_map(path)
    assert isinstance(solar_map, EUIMap)
    assert solar_map.processing_level == 2 and solar_map.unit == u.DN / u.s
    assert solar_map.data.dtype == np.float32 and solar_map.data.shape == (64, 64)
    assert solar_map.wavelength == 304 * u.AA and solar_map.exposure_time == 6.0 * u.s
    # Poisson noise in DN for XPOSURE, back in DN/s: sqrt(600) / 6
    assert solar_map.data.mean() == pytest.approx(100.0, abs=0.5)
    assert solar_map.data.std() == pytest.approx(np.sqrt(600.0) / 6.0, rel=0.1)
    # times: DATE-OBS = DATE-BEG the start, DATE-AVG the middle (sunpy's reference date)
    meta = solar_map.meta
    assert meta["date-obs"] == meta["date-beg"] == "2011-02-28T23:59:57.000"
    assert meta["date-end"] == "2011-03-01T00:00:03.000"
    assert solar_map.reference_date == Time(TIME)
    assert abs((observation_time(read_header(path)) - Time(TIME)).sec + 3.0) < 1e-6
    # EUIMap takes the observer from HCIX/Y/Z_OBS: they agree with HGLN/HGLT/DSUN_OBS
    found = solar_map.observer_coordinate
    assert abs(found.lon.to_value(u.deg) - 150.0) < 1e-6
    assert abs(found.lat.to_value(u.deg) - 4.0) < 1e-6
    assert abs(found.radius.to_value(u.au) / distance_au - 1) < 1e-6
    hci = observer.transform_to(HeliocentricInertial(obstime=TIME)).cartesian
    assert np.allclose([meta["hcix_obs"], meta["hciy_obs"], meta["hciz_obs"]],
                       [hci.x.to_value(u.m), hci.y.to_value(u.m), hci.z.to_value(u.m)], rtol=1e-12)
    assert meta["dsun_au"] == pytest.approx(distance_au, rel=1e-12)
    assert meta["rsun_arc"] == meta["rsun_obs"] == pytest.approx(solar_map.rsun_obs.value)
    assert meta["solar_b0"] == meta["hglt_obs"]
    # prep reads it as a usable FSI level-2 image; the detector reads back
    assert identify(read_header(path)) == "fsi"
    check_header(read_header(path), "fsi", path.name)
    back, detector = detector_from_header(read_header(path)), default_detector("fsi", 64)
    assert back.naxis == 64 and back.scale_arcsec == pytest.approx(detector.scale_arcsec)
    assert back.roll_deg == pytest.approx(detector.roll_deg)
    assert np.allclose(back.sun_offset_px, detector.sun_offset_px)
    # CRPIX at the detector centre as EUI writes it; the Sun centre where EUXCEN/EUYCEN say
    assert (meta["crpix1"], meta["crpix2"]) == (32.5, 32.5)
    centre = solar_map.world_to_pixel(SkyCoord(0 * u.arcsec, 0 * u.arcsec,
                                               frame=solar_map.coordinate_frame))
    assert np.allclose([centre.x.value + 1, centre.y.value + 1],
                       [meta["euxcen"], meta["euycen"]], atol=1e-6)


def test_fsi_keeps_the_real_template(tmp_path):
    real = template()
    for key, value in instruments.TEMPLATE_KEYWORDS["fsi"].items():
        assert real[key] == value, key
    for key, value in instruments.FSI_CHANNEL_KEYWORDS[304].items():
        assert real[key] == value, key
    assert instruments.EXPOSURE_S["fsi"][304] == real["XPOSURE"]
    # the real (level-1, 768 px binned 4x4, non-square CDELT) header's detector: CDELT1,
    # the PC matrix's mean roll = CROTA, the Sun centre at EUXCEN/EUYCEN
    detector = detector_from_header(real)
    assert detector.naxis == 768 and detector.scale_arcsec == real["CDELT1"]
    assert detector.roll_deg == pytest.approx(real["CROTA"], abs=1e-4)
    assert np.allclose(detector.sun_centre_crpix, (real["EUXCEN"], real["EUYCEN"]), atol=1e-3)
    native = default_detector("fsi", 768)
    assert native.scale_arcsec == pytest.approx(detector.scale_arcsec)
    assert np.allclose(native.sun_offset_px, detector.sun_offset_px, atol=1e-3)
    assert default_detector("fsi", 3072).scale_arcsec == pytest.approx(real["CDELT1"] / 4)
    # the template's observer gives its ephemeris keywords back
    observer = SkyCoord(real["HGLN_OBS"] * u.deg, real["HGLT_OBS"] * u.deg,
                        real["DSUN_OBS"] * u.m, frame=HeliographicStonyhurst(
                            obstime=real["DATE-AVG"]))
    made = instrument_header("fsi", real["DATE-AVG"], observer, native)
    assert made["DATE-BEG"] == real["DATE-BEG"] and made["DATE-AVG"] == real["DATE-AVG"]
    # (EUI's Carrington longitude is that of the light leaving the Sun, 491 s earlier:
    # 0.08 deg less than sunpy's; HCI from EUI's own ephemeris, 8e-5 deg from HGLN_OBS)
    for key, tolerance in (("RSUN_ARC", 1e-6), ("DSUN_AU", 1e-9), ("CRLN_OBS", 0.1),
                           ("CAR_ROT", 3e-4), ("HCIX_OBS", 2e5), ("HCIY_OBS", 2e5),
                           ("HCIZ_OBS", 2e5)):
        assert made[key] == pytest.approx(real[key], abs=tolerance), key
    # the 174 channel
    made = instrument_header("fsi", TIME, solo(0.5), default_detector("fsi", 64), 174)
    assert made["WAVELNTH"] == 174 and made["XPOSURE"] == instruments.EXPOSURE_S["fsi"][174]
    assert made["FILTER"] == "Zirconium_174_n25" and made["FILENAME"].startswith(
        "solo_L2_eui-fsi174-image_20110228T235955000")
    with pytest.raises(ValueError, match="no 171 A channel"):
        instrument_header("fsi", TIME, solo(0.5), default_detector("fsi", 64), 171)


def test_surface_brightness_is_the_same_and_the_disk_scales_with_distance(tmp_path, sun_state):
    size = 192
    means, radii = {}, {}
    for distance_au in (0.3, 1.0):
        header = instrument_header("fsi", TIME, solo(distance_au), default_detector("fsi", size))
        geometry = ViewGeometry(header, sun_state.carrington_offset_deg)
        image = render(sun_state, header, [304], np.random.default_rng(0), geometry=geometry,
                       euv_noise_gain=0.0)[304]
        path = write_instrument_file(tmp_path / f"{distance_au}.fits", "fsi", image, header,
                                     np.random.default_rng(1))
        data = open_map(path).data
        means[distance_au] = data[geometry.rho < 0.9].mean()
        # the visible disk: bright on-disk pixels, their count an area, centred at EUXCEN
        disk = data > 45.0
        radii[distance_au] = np.sqrt(disk.sum() / np.pi)
        expected_px = header["RSUN_OBS"] / header["CDELT1"]
        assert radii[distance_au] == pytest.approx(expected_px, abs=1.0)
        rows, cols = np.nonzero(disk)
        assert np.allclose([cols.mean() + 1, rows.mean() + 1], [header["EUXCEN"], header["EUYCEN"]],
                           atol=0.5)
        assert np.array_equal(geometry.on_disk, geometry.rho <= 1.0)
    assert means[0.3] == pytest.approx(means[1.0], rel=0.05)  # surface brightness (DN/s)
    assert radii[0.3] / radii[1.0] == pytest.approx(1.0 / 0.3, rel=0.05)
    # the corona (174, rendered as 171) too, at the same heliographic pixels (its loops are
    # at least 0.5 px wide, so their share of the disk depends on the pixels per degree)
    coronal = []
    for distance_au, size in ((0.3, 96), (1.0, 320)):
        header = instrument_header("fsi", TIME, solo(distance_au), default_detector("fsi", size),
                                   174)
        geometry = ViewGeometry(header, sun_state.carrington_offset_deg)
        emitted = instruments.FSI_EMISSION_WAVELENGTH[174]
        image = render(sun_state, header, [emitted], geometry=geometry)[emitted]
        coronal.append(image[geometry.rho < 0.9].mean())
    assert coronal[0] == pytest.approx(coronal[1], rel=0.03)


def test_phi_fdt_view_holds_the_whole_disk_down_to_perihelion(tmp_path, sun_state):
    detector = phi_fdt_detector(64)
    assert detector.naxis * detector.scale_arcsec == pytest.approx(2048 * 3.61)
    assert detector.sun_offset_px == (0.0, 0.0) and detector.roll_deg == 0.0
    header = phi_view_header(TIME, solo(0.28), detector)
    assert header["OBSRVTRY"] == "Solar Orbiter" and header["SRCVIEW"] == "SO/PHI-FDT view (toy)"
    assert identify(header) is None  # not an instrument file
    geometry = ViewGeometry(header, sun_state.carrington_offset_deg)
    assert not geometry.on_disk[[0, -1], :].any() and not geometry.on_disk[:, [0, -1]].any()
    truth = truth_magnetogram_header(header)
    assert truth["SRCVIEW"] == "SO/PHI-FDT view (toy)" and truth["TELESCOP"] == "toy Sun"
    image = render(sun_state, header, ["los"])["los"]
    path = instruments.write_float_image(tmp_path / "truth.fits", image, truth)
    truth_map = open_map(path)
    assert type(truth_map) is sunpy.map.GenericMap
    assert truth_map.observer_coordinate.separation_3d(solo(0.28)) < 1 * u.m
    assert scan_files([path], "fsi")[0] == [] and scan_files([path], "hmi")[0] == []


def test_solo_observers(tmp_path):
    for text, name in (("solo=150,4,0.42", "solo"), ("Solar-Orbiter=150,4,0.42", "Solar-Orbiter"),
                       ("solo_b=-20,-7,0.28", "solo_b"), ("SOLO-1=0,0,1", "SOLO-1")):
        spec = parse_observer(text)
        assert (spec.name, spec.kind, spec.instrument) == (name, "explicit", "fsi")
    assert parse_observer("solo_b=-20,-7,0.28").distance_m == pytest.approx(0.28 * u.au.to(u.m))
    assert parse_observer("quadrature=90,0,1").instrument == "euvi"
    assert parse_observer("soloist=90,0,1").instrument == "euvi"
    assert parse_observer("stereo-a").instrument == "euvi"
    for text in ("solo", " SOLO ", "solar orbiter", "solar_orbiter"):
        with pytest.raises(ValueError) as error:
            parse_observer(text)
        message = str(error.value)
        assert "\n" not in message and "solo=LON,LAT,AU" in message and "EUI FITS" in message
    # the real FSI header, as a minimal FITS file and as sunpy's text header
    real = template()
    fits_path = tmp_path / "fsi.fits"
    fits.PrimaryHDU(np.zeros((8, 8), np.int16), real).writeto(fits_path)
    for path in (fits_path, get_test_filepath(FSI_TEMPLATE)):
        spec = parse_observer(str(path))
        assert (spec.name, spec.kind, spec.instrument) == ("solo", "header", "fsi")
        coord = observer_coordinate(spec, "2021-01-01")
        assert coord.lon.to_value(u.deg) == pytest.approx(real["HGLN_OBS"], abs=1e-9)
        assert coord.radius.to_value(u.m) == pytest.approx(real["DSUN_OBS"], rel=1e-12)
    # its campaign detector is the file's; the truth is PHI-FDT's
    settings = CampaignSettings(days=1, size=64, observers=(str(fits_path),))
    (observer,) = _observers(settings, settings.times())
    assert observer.instrument_detectors["fsi"].scale_arcsec == real["CDELT1"]
    assert observer.instrument_detectors["phi"] == phi_fdt_detector(64)


def test_grid_follows_a_near_observer_only():
    def grid(*names, size=512):
        settings = CampaignSettings(days=1, size=size, observers=names)
        return _grid_deg(settings, _observers(settings, settings.times()))

    # 1-au observers (0.9 au or more) keep the grid of 1 au: HMI's 4.0" pixels, EUVI's 6.4"
    assert grid("earth") == grid("earth", "stereo-a", "near=50,0,0.95") == 0.2
    assert grid("stereo-a") == grid("stereo-a", "near=50,0,0.95") == 0.25
    # PHI-FDT's 14.4" pixels at 0.28 au are 4.0" at 1 au
    assert grid("stereo-a", "solo=0,0,0.28") == 0.2


def test_small_campaign_writes_fsi_and_phi_truth(tmp_path, capsys):
    out = tmp_path / "camp"
    settings = CampaignSettings(days=2, size=64, channels=(304, 193, 171), far_side_every=2,
                                observers=("earth", "solo=150,4,0.4"))
    record = run_campaign(out, settings, progress=False, workers=1)
    assert record["files"]["fsi"] == {"solo": "solo/fsi"} and record["files"]["euvi"] == {}
    assert record["files"]["truth"] == {"solo": "truth/solo/magnetogram"}
    assert record["observers"]["solo"]["instrument"] == "fsi"
    fsi = sorted((out / record["files"]["fsi"]["solo"]).iterdir())
    truth = sorted((out / record["files"]["truth"]["solo"]).iterdir())
    # every second time: 304 and 174 (for 171; none for 193), and the truth
    assert [path.name for path in fsi] == [fsi_file_name(record["times"][0], 174),
                                           fsi_file_name(record["times"][0], 304)]
    assert [path.name for path in truth] == ["20110101_000000_solo_los_truth.fits"]
    for path in fsi:
        solar_map = open_map(path)
        assert isinstance(solar_map, EUIMap) and solar_map.unit == u.DN / u.s
        assert abs(solar_map.observer_coordinate.radius.to_value(u.au) - 0.4) < 1e-9
        assert np.isfinite(solar_map.data).all() and solar_map.data.max() > 50.0
    truth_header = fits.getheader(truth[0])
    assert truth_header["SRCVIEW"] == "SO/PHI-FDT view (toy)"
    assert truth_header["CDELT1"] == pytest.approx(2048 * 3.61 / 64)
    los = fits.getdata(truth[0])
    assert np.isfinite(los).sum() > 100 and np.nanmax(np.abs(los)) > 10.0
    # a resumed campaign writes the same bytes
    first = {path: path.read_bytes() for path in fsi + truth}
    for path in first:
        path.unlink()
    run_campaign(out, settings, progress=False, workers=1)
    assert {path: path.read_bytes() for path in first} == first
    # a bare solo is refused, one line
    status = data_prep_main(["toysun", "campaign", str(tmp_path / "other"), "--observer",
                             "earth", "solo", "--days", "1", "--size", "64", "--quiet"])
    errors = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(errors) == 1 and "solo=LON,LAT,AU" in errors[0]
    assert not (tmp_path / "other").exists()
