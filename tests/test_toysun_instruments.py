"""Toy-Sun instruments: headers and files as AIA, HMI and EUVI write them, read by sunpy and
by ``prep`` exactly as real files."""

import warnings

import astropy.units as u
import numpy as np
import pytest
import sunpy.map
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.time import Time
from sunpy.coordinates import HeliographicStonyhurst, get_earth
from sunpy.data.test import get_test_filepath
from sunpy.map.sources import AIAMap, EUIMap, EUVIMap, HMIMap

from data_prep.fitsio import observation_time, read_header
from data_prep.pairing import pair_by_time, scan_files
from data_prep.prepare import prepare_map
from data_prep.toysun import instruments
from data_prep.toysun.instruments import (
    INSTRUMENTS,
    Detector,
    carrington_header,
    default_detector,
    detector_from_header,
    instrument_header,
    truth_magnetogram_header,
    write_float_image,
    write_instrument_file,
)

TIME = "2011-03-01T00:00:00"
SIZE, RADIUS = 64, 24.0
MAP_CLASS = {"aia": AIAMap, "hmi": HMIMap, "euvi": EUVIMap, "fsi": EUIMap}
WAVELENGTH = {"aia": 304, "hmi": 6173, "euvi": 304, "fsi": 304}


def stereo_like():
    return SkyCoord(90 * u.deg, 3 * u.deg, 0.96 * u.au, frame=HeliographicStonyhurst(obstime=TIME))


def observer(name):
    return get_earth(TIME) if name == "earth" else stereo_like()


def open_map(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sunpy's metadata chatter
        return sunpy.map.Map(str(path))


def disk_image(header, on_disk, off_disk, spot=None):
    """Values on the header's pixel grid: ``on_disk`` within the photosphere, ``off_disk``
    beyond it; ``spot`` = (Tx, Ty, radius) arcsec, value: a disk of that value there."""
    grid = sunpy.map.Map(np.zeros((header["NAXIS2"], header["NAXIS1"])), header)
    coordinates = sunpy.map.all_coordinates_from_map(grid)
    image = np.where(sunpy.map.coordinate_is_on_solar_disk(coordinates), on_disk, off_disk)
    if spot is not None:
        (tx, ty, radius), value = spot
        distance = np.hypot(coordinates.Tx.to_value(u.arcsec) - tx,
                            coordinates.Ty.to_value(u.arcsec) - ty)
        image = np.where(distance <= radius, value, image)
    return image


def write_view(folder, instrument, observer_name="earth", time=TIME, wavelength=None, size=SIZE,
               name=None):
    detector = default_detector(instrument, size)
    header = instrument_header(instrument, time, observer(observer_name), detector, wavelength)
    if instrument == "hmi":
        image = disk_image(header, 20.0, np.nan)
    else:
        image = disk_image(header, 100.0, 10.0)
    path = folder / (name or f"{instrument}_{observer_name}.fits")
    return write_instrument_file(path, instrument, image, header), header


def test_default_detectors_keep_the_native_field_of_view():
    for instrument, (native, scale, roll, offset) in instruments.NATIVE_DETECTORS.items():
        for size in (64, 1024):
            detector = default_detector(instrument, size)
            assert detector.naxis == size and detector.roll_deg == roll
            assert detector.naxis * detector.scale_arcsec == pytest.approx(native * scale)
            assert np.allclose(np.multiply(detector.sun_offset_px, native / size), offset)
    assert default_detector("hmi", 64).roll_deg == pytest.approx(180, abs=0.1)
    assert default_detector("euvi", 2048).scale_arcsec == pytest.approx(1.588)
    with pytest.raises(ValueError, match="naxis"):
        Detector(1, 1.0)
    with pytest.raises(ValueError, match="scale_arcsec"):
        Detector(64, -1.0)


def test_template_keywords_are_those_of_the_real_files():
    templates = {
        "aia": fits.getheader(get_test_filepath("aia_171_level1.fits")),
        "hmi": fits.getheader(get_test_filepath("resampled_hmi.fits")),
        "euvi": fits.Header.fromtextfile(get_test_filepath("euvi_20090615_000900_n4euA_s.header")),
        "fsi": fits.Header.fromtextfile(get_test_filepath(
            "solo_L1_eui-fsi304-image_20201021T145510206_V03.header")),
    }
    for instrument, kept in instruments.TEMPLATE_KEYWORDS.items():
        for key, value in kept.items():
            assert templates[instrument][key] == value, (instrument, key)
    aia, hmi, euvi = templates["aia"], templates["hmi"], templates["euvi"]
    assert aia["INSTRUME"].strip() == f"AIA_{instruments.AIA_CAMERA[171]}"
    assert instruments.EXPOSURE_S["euvi"][171] == euvi["EXPTIME"]
    assert instruments.NATIVE_DETECTORS["hmi"][2] == hmi["CROTA2"]
    assert instruments.NATIVE_DETECTORS["euvi"][2] == euvi["CROTA"]
    # the EUVI template's pointing, read through its WCS, is the default detector's
    template = detector_from_header(euvi)
    native = default_detector("euvi", 2048)
    assert template.roll_deg == pytest.approx(native.roll_deg, abs=1e-4)
    assert np.allclose(np.multiply(template.sun_offset_px, 2048 / 128), native.sun_offset_px,
                       atol=0.1)
    # HMI's DATE-OBS precedes T_OBS (TAI; 35 leap seconds in 2014) as in the template
    t_obs = observation_time(hmi)
    assert (t_obs - Time(hmi["DATE-OBS"])).sec == pytest.approx(
        instruments.HMI_DATE_OBS_BEFORE_T_OBS_S, abs=1e-6)


@pytest.mark.parametrize("observer_name", ["earth", "stereo"])
@pytest.mark.parametrize("instrument", INSTRUMENTS)
def test_files_open_as_the_instrument_maps_with_the_observer(tmp_path, instrument, observer_name):
    path, header = write_view(tmp_path, instrument, observer_name)
    solar_map = open_map(path)
    assert isinstance(solar_map, MAP_CLASS[instrument])
    assert solar_map.data.shape == (SIZE, SIZE)
    expected = observer(observer_name)
    found = solar_map.observer_coordinate
    assert abs(found.lon.to_value(u.deg) - expected.lon.to_value(u.deg)) < 1e-6
    assert abs(found.lat.to_value(u.deg) - expected.lat.to_value(u.deg)) < 1e-6
    assert abs(found.radius / expected.radius - 1) < 1e-6
    assert abs((solar_map.reference_date - Time(TIME)).sec) < 0.01  # the middle of the exposure
    assert abs((found.obstime - Time(TIME)).sec) < 0.01
    assert solar_map.wavelength.to_value(u.AA) == WAVELENGTH[instrument]
    assert solar_map.rsun_meters.to_value(u.m) == instruments.RSUN_REF_M
    exposure = instruments.EXPOSURE_S.get(instrument, {}).get(WAVELENGTH[instrument])
    if exposure is not None:
        assert solar_map.exposure_time.to_value(u.s) == pytest.approx(exposure)
        assert abs((solar_map.date - Time(TIME)).sec + exposure / 2) < 0.01  # DATE-OBS
    if instrument == "euvi":
        assert solar_map.meta["obsrvtry"] == "STEREO_A"
        assert solar_map.meta["summed"] == 2
        # the roll is in the PC matrix as in the real files
        assert np.allclose(solar_map.rotation_matrix, default_detector("euvi", SIZE).pc_matrix())
    # the detector reads back from the file
    back = detector_from_header(read_header(path))
    detector = default_detector(instrument, SIZE)
    assert back.naxis == SIZE and back.scale_arcsec == pytest.approx(detector.scale_arcsec)
    assert back.roll_deg == pytest.approx(detector.roll_deg)
    assert np.allclose(back.sun_offset_px, detector.sun_offset_px)
    # the Sun centre is where the detector puts it
    centre = solar_map.world_to_pixel(SkyCoord(0 * u.arcsec, 0 * u.arcsec,
                                               frame=solar_map.coordinate_frame))
    expected_px = (SIZE - 1) / 2 + np.array(detector.sun_offset_px)
    assert np.allclose([centre.x.value, centre.y.value], expected_px, atol=1e-6)


def test_synthetic_spacecraft_keeps_euvi_and_says_so():
    far = SkyCoord(-150 * u.deg, 30 * u.deg, 0.5 * u.au, frame=HeliographicStonyhurst(obstime=TIME))
    header = instrument_header("euvi", TIME, far, default_detector("euvi", SIZE))
    assert header["OBSRVTRY"] == "SYNTHETIC" and header["DETECTOR"] == "EUVI"
    assert "synthetic spacecraft" in str(header["COMMENT"])
    before_loss = SkyCoord(-90 * u.deg, 0 * u.deg, 1.05 * u.au,
                           frame=HeliographicStonyhurst(obstime=TIME))
    after_loss = SkyCoord(-90 * u.deg, 0 * u.deg, 0.96 * u.au,
                          frame=HeliographicStonyhurst(obstime="2020-01-01"))
    assert instruments.stereo_observatory(before_loss) == "STEREO_B"
    assert instruments.stereo_observatory(after_loss) == "STEREO_A"
    assert instrument_header("euvi", TIME, before_loss, default_detector("euvi", SIZE),
                             observatory="STEREO_A")["OBSRVTRY"] == "STEREO_A"


@pytest.mark.parametrize("instrument, observer_name", [("aia", "earth"), ("euvi", "stereo")])
def test_prep_recovers_the_dn_per_second(tmp_path, instrument, observer_name):
    path, header = write_view(tmp_path, instrument, observer_name)
    prepared = prepare_map(path, instrument, size=SIZE, radius_px=RADIUS, median_scale_to=None)
    frame = prepared.data
    offsets = np.arange(SIZE) - (SIZE - 1) / 2
    distance = np.hypot(offsets[None, :], offsets[:, None]) / RADIUS
    # the disk lands centred at the frame's radius (pointing offset and roll undone), and the
    # calibration (bias, exposure, summing) gives back 100 DN/s on it and 10 DN/s off it
    assert np.median(frame[distance < 0.8]) == pytest.approx(100.0, abs=0.5)
    assert np.median(frame[(distance > 1.2) & (distance < 1.3)]) == pytest.approx(10.0, abs=0.5)
    # the stored counts at the Sun centre
    col, row = np.round(np.array(detector_from_header(header).sun_offset_px) + (SIZE - 1) / 2)
    if instrument == "euvi":
        raw = fits.getdata(path)
        assert raw.dtype == np.uint16
        with fits.open(path, do_not_scale_image_data=True) as hdus:
            assert hdus[0].header["BITPIX"] == 16 and hdus[0].header["BZERO"] == 32768
        # DN = DN/s x EXPTIME x 4**(SUMMED - 1) + BIASMEAN
        expected = np.round(100.0 * header["EXPTIME"] * 4 + header["BIASMEAN"])
        assert raw[int(row), int(col)] == expected
    else:
        with fits.open(path, do_not_scale_image_data=True) as hdus:
            raw = hdus[0].data
            assert hdus[0].header["BITPIX"] == 16 and hdus[0].header["BLANK"] == -32768
        assert raw.dtype.kind == "i" and raw.dtype.itemsize == 2
        assert raw[int(row), int(col)] == np.round(100.0 * header["EXPTIME"])


def test_hmi_file_is_a_jsoc_export_with_crota2_180(tmp_path):
    detector = default_detector("hmi", SIZE)
    header = instrument_header("hmi", TIME, get_earth(TIME), detector)
    # +50 G within 80" of a point north-west of the disk centre, 20 G elsewhere on the disk
    tx, ty = 400.0, 300.0
    image = disk_image(header, 20.0, np.nan, spot=((tx, ty, 80.0), 50.0))
    path = write_instrument_file(tmp_path / "hmi.fits", "hmi", image, header)
    with fits.open(path) as hdus:
        assert hdus[0].data is None and isinstance(hdus[1], fits.CompImageHDU)
        data = hdus[1].data
    with fits.open(path, disable_image_compression=True) as hdus:
        raw = hdus[1].header
        assert raw["ZCMPTYPE"] == "RICE_1" and raw["ZBITPIX"] == 32
        assert raw["BSCALE"] == 0.1 and raw["BLANK"] == -2147483648
    # values kept to 0.1 G, NaN off the disk as JSOC's files
    assert np.isnan(data[0, 0]) and np.isnan(data).sum() == np.isnan(image).sum()
    assert np.nanmax(np.abs(data - image)) <= 0.05 + 1e-6
    # CROTA2 ~ 180: the north-west spot sits low and left in the array
    rows, cols = np.nonzero(data > 40)
    assert rows.mean() < SIZE / 2 and cols.mean() < SIZE / 2
    # T_OBS in TAI: UTC + 34 s in 2011
    assert header["T_OBS"] == "2011.03.01_00:00:34.00_TAI"
    assert abs((observation_time(read_header(path)) - Time(TIME)).sec) < 1e-3
    # prep puts the spot back north-west, at its helioprojective position
    prepared = prepare_map(path, "hmi", size=SIZE, radius_px=RADIUS)
    frame = prepared.data
    row, col = np.unravel_index(np.argmax(frame), frame.shape)
    scale = prepared.scale.axis1.to_value(u.arcsec / u.pix)
    assert frame[row, col] == pytest.approx(50.0, abs=1.0)
    spot = np.argwhere(frame > 40).mean(axis=0)
    assert spot[1] == pytest.approx((SIZE - 1) / 2 + tx / scale, abs=1.0)
    assert spot[0] == pytest.approx((SIZE - 1) / 2 + ty / scale, abs=1.0)
    assert np.median(frame[np.hypot(*np.mgrid[:SIZE, :SIZE] - (SIZE - 1) / 2) < 0.5 * RADIUS]) \
        == pytest.approx(20.0, abs=0.1)


def test_pairing_accepts_the_files(tmp_path):
    folders = {name: tmp_path / name for name in ("aia", "hmi", "euvi")}
    for folder in folders.values():
        folder.mkdir()
    for day in (1, 2):
        time = f"2011-03-0{day}T00:00:00"
        for instrument in ("aia", "hmi", "euvi"):
            observer_name = "stereo" if instrument == "euvi" else "earth"
            write_view(folders[instrument], instrument, observer_name, time=time,
                       name=f"{instrument}_{day}.fits")
    report = pair_by_time([folders["aia"]], [folders["hmi"]], tolerance_s=60)
    assert report.rejected == [] and report.unmatched == [] and len(report.pairs) == 2
    assert all(pair.separation_s < 0.01 for pair in report.pairs)
    accepted, rejected = scan_files([folders["euvi"]], "euvi")
    assert rejected == [] and len(accepted) == 2
    # EUVI's observation time is DATE-OBS, the shutter opening: half an exposure early
    exposure = instruments.EXPOSURE_S["euvi"][304]
    early = (Time("2011-03-01T00:00:00") - accepted[0][1]).sec
    assert early == pytest.approx(exposure / 2, abs=1e-3)


def test_other_wavelengths_and_noise(tmp_path):
    detector = default_detector("aia", SIZE)
    header = instrument_header("aia", TIME, get_earth(TIME), detector, wavelength=171)
    assert header["INSTRUME"] == "AIA_3" and header["EXPTIME"] == 2.0 and header["WAVELNTH"] == 171
    assert instrument_header("euvi", TIME, stereo_like(), default_detector("euvi", SIZE),
                             195)["EXPTIME"] == instruments.EXPOSURE_S["euvi"][195]
    assert instrument_header("euvi", TIME, stereo_like(), default_detector("euvi", 2048),
                             171)["SUMMED"] == 1  # full-resolution frames are not summed
    image = np.full((SIZE, SIZE), 200.0)
    quiet = write_instrument_file(tmp_path / "quiet.fits", "aia", image, header)
    noisy = write_instrument_file(tmp_path / "noisy.fits", "aia", image, header,
                                  rng=np.random.default_rng(0))
    quiet_dn, noisy_dn = fits.getdata(quiet).astype(float), fits.getdata(noisy).astype(float)
    assert np.all(quiet_dn == 400)
    assert noisy_dn.std() == pytest.approx(20.0, rel=0.15)  # Poisson: sqrt(400) DN
    assert abs(noisy_dn.mean() - 400) < 2
    # writes are atomic: no temporary file left beside the files
    assert sorted(path.name for path in tmp_path.iterdir()) == ["noisy.fits", "quiet.fits"]


def test_truth_magnetogram_shares_the_view_geometry(tmp_path):
    path, header = write_view(tmp_path, "euvi", "stereo")
    truth = truth_magnetogram_header(read_header(path))
    assert truth["BUNIT"] == "Gauss" and "evaluation" in truth["CONTENT"]
    for key in ("EXPTIME", "BIASMEAN", "SUMMED", "DETECTOR"):
        assert key not in truth
    image = disk_image(header, 5.0, np.nan)
    truth_path = write_float_image(tmp_path / "truth.fits", image, truth)
    assert fits.getdata(truth_path).dtype == np.dtype(">f4")
    view, truth_map = open_map(path), open_map(truth_path)
    assert type(truth_map) is sunpy.map.GenericMap
    pixels = [0, 17, SIZE - 1] * u.pix
    assert view.pixel_to_world(pixels, pixels).separation(
        truth_map.pixel_to_world(pixels, pixels)).max() < 1e-6 * u.arcsec
    assert view.observer_coordinate.separation_3d(truth_map.observer_coordinate) < 1 * u.m
    assert truth_map.reference_date == view.reference_date
    assert observation_time(fits.getheader(truth_path)) == observation_time(read_header(path))
    # an HMI view's truth: its reference time is T_OBS
    hmi_header = instrument_header("hmi", TIME, get_earth(TIME), default_detector("hmi", SIZE))
    hmi_truth = truth_magnetogram_header(hmi_header)
    assert hmi_truth["CROTA2"] == hmi_header["CROTA2"]
    assert abs((Time(hmi_truth["DATE-AVG"]) - Time(TIME)).sec) < 1e-3
    # prep refuses a truth file as an instrument file
    assert scan_files([truth_path], "hmi")[0] == []


def test_carrington_header_is_a_whole_sun_cea_map():
    header = carrington_header(TIME)
    solar_map = sunpy.map.Map(np.zeros((180, 360)), header)
    assert solar_map.coordinate_frame.name == "heliographic_carrington"
    assert solar_map.wcs.wcs.ctype[0] == "CRLN-CEA" and solar_map.wcs.wcs.ctype[1] == "CRLT-CEA"
    assert solar_map.data.shape == (180, 360) and header["BUNIT"] == "Gauss"
    corners = solar_map.pixel_to_world([0, 359] * u.pix, [0, 179] * u.pix)
    assert np.allclose(corners.lon.to_value(u.deg), [0.5, 359.5])
    # equal steps in sine latitude: the first row centre at sin(lat) = -1 + 1/180
    assert np.allclose(np.sin(corners.lat.to_value(u.rad)), [-1 + 1 / 180, 1 - 1 / 180])
    small = carrington_header(TIME, shape=(90, 180))
    small_map = sunpy.map.Map(np.zeros((90, 180)), small)
    assert np.isclose(small_map.pixel_to_world(0 * u.pix, 0 * u.pix).lon.to_value(u.deg), 1.0)
    with pytest.raises(ValueError, match="shape"):
        carrington_header(TIME, shape=(180,))


def test_bad_instrument_wavelength_and_image():
    earth = get_earth(TIME)
    detector = default_detector("aia", SIZE)
    with pytest.raises(ValueError, match="unknown instrument 'eit'"):
        instrument_header("eit", TIME, earth, detector)
    with pytest.raises(ValueError, match="unknown instrument"):
        default_detector("eit", SIZE)
    for instrument, wavelength in (("aia", 195), ("euvi", 193), ("hmi", 304)):
        with pytest.raises(ValueError, match=f"no {wavelength} A channel"):
            instrument_header(instrument, TIME, earth, detector, wavelength)
    header = instrument_header("aia", TIME, earth, detector)
    with pytest.raises(ValueError, match="shape"):
        write_instrument_file("x.fits", "aia", np.zeros((SIZE, SIZE + 1)), header)
    with pytest.raises(ValueError, match="not an HMI header"):
        write_instrument_file("x.fits", "hmi", np.zeros((SIZE, SIZE)), header)
    image = np.zeros((SIZE, SIZE))
    image[3, 5] = np.nan
    with pytest.raises(ValueError, match="must be finite"):
        write_instrument_file("x.fits", "aia", image, header)
    with pytest.raises(ValueError, match="EUVI headers only"):
        instrument_header("aia", TIME, earth, detector, observatory="STEREO_A")
