"""FITS -> standard frame, with sunpy's real test files and headers; checked with the WCS."""

import astropy.units as u
import numpy as np
import pytest
import sunpy.map
from astropy.coordinates import SkyCoord
from astropy.io import fits
from sunpy.data.test import get_dummy_map_from_header, get_test_filepath

from data_prep.calibration import euvi_calibrate, histogram_match
from data_prep.fitsio import FitsInputError
from data_prep.geometry import radial_distance
from data_prep.prepare import prepare_map

AIA_171 = get_test_filepath("aia_171_level1.fits")  # AIA 171, 128^2, level 1
HMI = get_test_filepath("resampled_hmi.fits")  # HMI continuum, 100^2, CROTA2 ~ 180
EUVI_HEADER = get_test_filepath("euvi_20090615_000900_n4euA_s.header")  # STEREO-A EUVI 171

def with_blob(source_map, x_px: float, y_px: float, amplitude: float, background: float = 0.0):
    """The map's header with data = background + a Gaussian blob at source pixel (x, y)."""
    rows, cols = source_map.data.shape
    y, x = np.mgrid[0:rows, 0:cols]
    data = background + amplitude * np.exp(-((x - x_px) ** 2 + (y - y_px) ** 2) / (2 * 1.5**2))
    return sunpy.map.Map(data.astype(np.float32), source_map.meta)


def centroid(image: np.ndarray) -> tuple[float, float]:
    """(x, y) centroid of the pixels above 30 % of the peak."""
    weights = np.where(image > 0.3 * image.max(), image, 0.0)
    y, x = np.mgrid[0: image.shape[0], 0: image.shape[1]]
    return float((x * weights).sum() / weights.sum()), float((y * weights).sum() / weights.sum())


def hmi_magnetogram_map():
    """The real HMI header (CROTA2 ~ 180) marked as a LOS magnetogram in Gauss."""
    source = sunpy.map.Map(HMI)
    meta = source.meta.copy()
    meta.update({"content": "MAGNETOGRAM", "bunit": "Gauss"})
    return sunpy.map.Map(np.nan_to_num(source.data), meta)


def test_frame_centre_radius_and_north_come_from_the_wcs():
    prepared = prepare_map(AIA_171, "aia", size=1024, radius_px=392, expected_wavelength=171)
    assert prepared.data.shape == (1024, 1024) and prepared.data.dtype == np.float32
    frame = prepared.coordinate_frame
    centre = prepared.wcs.world_to_pixel(SkyCoord(0 * u.arcsec, 0 * u.arcsec, frame=frame))
    north_pole = prepared.wcs.world_to_pixel(SkyCoord(0 * u.arcsec, prepared.rsun_obs, frame=frame))
    west_limb = prepared.wcs.world_to_pixel(SkyCoord(prepared.rsun_obs, 0 * u.arcsec, frame=frame))
    np.testing.assert_allclose(centre, (511.5, 511.5), atol=0.5)
    np.testing.assert_allclose(north_pole, (511.5, 511.5 + 392), atol=0.5)  # north up
    np.testing.assert_allclose(west_limb, (511.5 + 392, 511.5), atol=0.5)  # west right
    source = sunpy.map.Map(AIA_171)
    assert prepared.observer_coordinate.separation_3d(source.observer_coordinate) < 1 * u.km
    assert prepared.date == source.date and prepared.meta["bunit"] == "DN/s"
    assert "exposure: divided by EXPTIME" in prepared.meta["history"]


@pytest.mark.parametrize("kind", ["aia", "hmi", "euvi"])
def test_a_known_point_lands_where_the_wcs_says(kind):
    """A blob at a source pixel ends at the output pixel of its helioprojective position:
    through AIA's small roll, HMI's 180 degree rotation and EUVI's roll."""
    source = {"aia": lambda: sunpy.map.Map(AIA_171), "hmi": hmi_magnetogram_map,
              "euvi": lambda: get_dummy_map_from_header(EUVI_HEADER)}[kind]()
    x_px, y_px = {"aia": (90, 40), "hmi": (60, 30), "euvi": (80, 50)}[kind]
    background = 0.0 if kind == "hmi" else 1000.0
    blob = with_blob(source, x_px, y_px, 5000.0, background)
    prepared = prepare_map(blob, kind, size=256, radius_px=98, expected_wavelength=None,
                           mask_radius_rsun=None)
    expected = prepared.wcs.world_to_pixel(source.pixel_to_world(x_px * u.pix, y_px * u.pix))
    image = prepared.data - (0 if kind == "hmi" else np.median(prepared.data))
    np.testing.assert_allclose(centroid(image), np.asarray(expected, float), atol=0.25)


def test_magnetogram_sign_survives_the_hmi_flip_and_off_disk_is_masked():
    source = hmi_magnetogram_map()
    rows, cols = source.data.shape
    y, x = np.mgrid[0:rows, 0:cols]
    field = (800 * np.exp(-((x - 40) ** 2 + (y - 55) ** 2) / 8.0)
             - 800 * np.exp(-((x - 58) ** 2 + (y - 45) ** 2) / 8.0)).astype(np.float32)
    field[:3] = np.nan  # HMI leaves NaN off the disk
    prepared = prepare_map(sunpy.map.Map(field, source.meta), "hmi", size=128, radius_px=49)
    for x_px, y_px, sign in ((40, 55, 1), (58, 45, -1)):
        px, py = prepared.wcs.world_to_pixel(source.pixel_to_world(x_px * u.pix, y_px * u.pix))
        value = prepared.data[int(round(float(py))), int(round(float(px)))]
        assert np.sign(value) == sign and abs(value) > 300
    assert np.isfinite(prepared.data).all()
    off_disk = radial_distance(128) > 0.98 * 49
    assert np.all(prepared.data[off_disk] == 0.0)
    assert prepared.meta["bunit"] == "Gauss" and "mask: beyond 0.98 R_sun" in prepared.meta["history"]


def test_rice_compressed_hmi_in_hdu_1_is_read(tmp_path):
    header = fits.getheader(HMI)
    header.update(CONTENT="MAGNETOGRAM", BUNIT="Gauss")
    header.remove("BLANK", ignore_missing=True)  # float data below
    field = np.random.default_rng(0).normal(0, 50, (100, 100)).astype(np.float32)
    path = tmp_path / "hmi.M_720s.20110301_000000_TAI.magnetogram.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(field, header, compression_type="RICE_1")]
                 ).writeto(path)
    prepared = prepare_map(path, "hmi", size=64, radius_px=24)
    assert prepared.data.shape == (64, 64) and np.isfinite(prepared.data).all()
    assert 5 < prepared.data[radial_distance(64) < 20].std() < 50  # averaged noise


def test_euv_intensity_matching_median_and_histogram():
    prepared = prepare_map(AIA_171, "aia", size=128, radius_px=49, expected_wavelength=171)
    on_disk = radial_distance(128) <= 49
    assert np.median(prepared.data[on_disk]) == pytest.approx(100.0, rel=1e-4)
    raw = prepare_map(AIA_171, "aia", size=128, radius_px=49, expected_wavelength=171,
                      median_scale_to=None)
    assert np.median(raw.data[on_disk]) != pytest.approx(100.0, rel=0.05)
    reference = np.random.default_rng(1).lognormal(np.log(80.0), 0.5, 20000)
    matched, _ = histogram_match(raw.data, on_disk, reference)
    for quantile in (0.1, 0.5, 0.9):
        assert np.quantile(matched[on_disk], quantile) == pytest.approx(
            np.quantile(reference, quantile), rel=0.03)


def test_euvi_level0_bias_exposure_and_summing():
    meta = {"biasmean": 724.5, "exptime": 16.0, "summed": 2.0, "bunit": "DN"}
    data = np.full((4, 4), 724.5 + 16.0 * 8.0, np.float32)
    calibrated, steps = euvi_calibrate(data, meta, "euvi.fts")
    np.testing.assert_allclose(calibrated, 8.0 / 4.0)
    assert any("BIASMEAN = 724.5" in step for step in steps)
    same, steps = euvi_calibrate(data, {"bunit": "DN/s"}, "euvi.fts")
    assert same is data and "already per second" in steps[0]


def test_bad_inputs_name_the_file_and_the_problem(tmp_path):
    with pytest.raises(FitsInputError, match=r"aia_171_level1.fits: wrong wavelength: 171 A, expected 304 A"):
        prepare_map(AIA_171, "aia")
    with pytest.raises(FitsInputError, match=r"resampled_hmi.fits: not a line-of-sight magnetogram"):
        prepare_map(HMI, "hmi")
    with pytest.raises(FitsInputError, match=r"expected a EUVI file, the header says SDO"):
        prepare_map(AIA_171, "euvi", expected_wavelength=None)
    not_fits = tmp_path / "notes.fits"
    not_fits.write_text("SIMPLE? no, this is a text file\n" * 50)
    with pytest.raises(FitsInputError, match=r"notes.fits: not a readable FITS file"):
        prepare_map(not_fits, "aia")
    header = fits.getheader(AIA_171)
    header.remove("BLANK", ignore_missing=True)  # float data below
    header["WAVELNTH"] = 304
    del header["CDELT1"]
    missing = tmp_path / "missing.fits"
    fits.writeto(missing, np.ones((128, 128), np.float32), header)
    with pytest.raises(FitsInputError, match=r"missing.fits: missing header keyword CDELT1"):
        prepare_map(missing, "aia")
    header["CDELT1"] = 2.4
    all_nan = tmp_path / "all_nan.fits"
    fits.writeto(all_nan, np.full((128, 128), np.nan, np.float32), header)
    with pytest.raises(FitsInputError, match=r"all_nan.fits: the image has no finite pixel"):
        prepare_map(all_nan, "aia")
