"""Solar Orbiter EUI/FSI 304 level 2 read as an EUV instrument: files built from sunpy's real
FSI header (level 1, turned into level 2) with a synthetic disk placed by the header's own
WCS and observer."""

from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
import sunpy
import sunpy.map
from astropy.coordinates import SkyCoord
from astropy.io import fits
from sunpy.coordinates import HeliocentricInertial
from sunpy.data.test import get_test_filepath
from sunpy.map.maputils import all_coordinates_from_map
from sunpy.map.sources import EUIMap

from data_prep.fitsio import FitsInputError
from data_prep.pairing import scan_files
from data_prep.pairs import PairFile
from data_prep.prep import PrepSettings, build_pair_file
from data_prep.prepare import prepare_map

FSI_L1_HEADER = (Path(sunpy.__file__).parent / "data" / "test"
                 / "solo_L1_eui-fsi304-image_20201021T145510206_V03.header")
SIZE, RADIUS_PX = 256, 98.0  # the prepared frame: 256 px, disk radius 98 px
# keywords of the level-1 file's 16-bit primary HDU that a float32 compressed HDU replaces
STORAGE_KEYWORDS = ("SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "EXTEND", "BSCALE",
                    "BZERO", "BLANK", "CHECKSUM", "DATASUM")
TINY = np.ones((8, 8), np.float32)  # pixels of files refused before their pixels matter


def real_l1_header() -> fits.Header:
    """sunpy's real EUI/FSI 304 level-1 header (768 x 768, 4 x 4 binned, ~0.98 au)."""
    return fits.Header.fromtextfile(str(FSI_L1_HEADER))


def level2_header() -> fits.Header:
    """The real header as euiprep's level 2 says it: LEVEL 'L2', BUNIT 'DN/s'."""
    header = real_l1_header()
    header["LEVEL"] = "L2"
    header["BUNIT"] = "DN/s"
    return header


def at_distance(header: fits.Header, distance_au: float) -> fits.Header:
    """The header with Solar Orbiter moved along its Sun line to ``distance_au``: DSUN_OBS,
    DSUN_AU, RSUN_ARC/RSUN_OBS and the heliocentric-inertial HCIX/Y/Z_OBS (which sunpy's
    EUIMap takes the observer from) made consistent."""
    header = header.copy()
    time = header["DATE-AVG"]
    distance_m = (distance_au * u.au).to_value(u.m)
    observer = SkyCoord(header["HGLN_OBS"] * u.deg, header["HGLT_OBS"] * u.deg,
                        distance_m * u.m, frame="heliographic_stonyhurst", obstime=time)
    inertial = observer.transform_to(HeliocentricInertial(obstime=time)).cartesian
    header["DSUN_OBS"] = distance_m
    header["DSUN_AU"] = distance_au
    header["RSUN_ARC"] = header["RSUN_OBS"] = np.degrees(
        np.arcsin(header["RSUN_REF"] / distance_m)) * 3600
    for axis in "xyz":
        header[f"HCI{axis.upper()}_OBS"] = getattr(inertial, axis).to_value(u.m)
    return header


def limb_brightened_disk(header: fits.Header) -> np.ndarray:
    """float32 image of a disk, 100 + 60 r^2 DN/s at r solar radii from the disk centre
    (limb brightened) and 0 off the disk, placed by the header's WCS and observer."""
    with np.errstate(invalid="ignore"):
        blank = sunpy.map.Map(np.zeros((header["NAXIS2"], header["NAXIS1"]), np.float32),
                              header)
    coordinates = all_coordinates_from_map(blank)
    # great-circle angle of each pixel's line of sight from the Sun centre
    angle = np.arccos(np.cos(coordinates.Tx.to_value(u.rad))
                      * np.cos(coordinates.Ty.to_value(u.rad)))
    radius = np.arcsin(blank.rsun_meters.to_value(u.m) / blank.dsun.to_value(u.m))
    r = angle / radius
    return np.where(r <= 1.0, 100.0 + 60.0 * r**2, 0.0).astype(np.float32)


def write_fsi(path: Path, header: fits.Header, data: np.ndarray | None = None) -> Path:
    """An EUI-like file: empty primary HDU + the image as a compressed float32 HDU 1."""
    if data is None:
        data = limb_brightened_disk(header)
    header = header.copy()
    for key in STORAGE_KEYWORDS:
        header.remove(key, ignore_missing=True, remove_all=True)
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data, header)]).writeto(path)
    return path


def disk_centre_and_radius(image: np.ndarray) -> tuple[float, float, float]:
    """(x, y, radius) in pixels of the pixels above half the brightest: the centroid and the
    radius of a circle of the same area."""
    on_disk = image > 0.5 * image.max()
    y, x = np.nonzero(on_disk)
    return float(x.mean()), float(y.mean()), float(np.sqrt(on_disk.sum() / np.pi))


@pytest.fixture(scope="module")
def good_file(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fsi")
    return write_fsi(folder / "solo_L2_eui-fsi304-image_20201021T145510206_V03.fits",
                     level2_header())


def test_prepared_disk_is_centred_with_the_input_observer(good_file):
    prepared = prepare_map(good_file, "fsi", size=SIZE, radius_px=RADIUS_PX)
    x, y, radius = disk_centre_and_radius(prepared.data)
    centre = (SIZE - 1) / 2
    np.testing.assert_allclose([x, y], [centre, centre], atol=0.2)
    assert abs(radius - RADIUS_PX) < 1.0
    source = sunpy.map.Map(good_file)
    assert isinstance(source, EUIMap)
    gap = prepared.observer_coordinate.separation_3d(source.observer_coordinate)
    assert gap / source.dsun < 1e-9  # 6e-7 if read at DATE-OBS instead of DATE-AVG
    assert prepared.meta["bunit"] == "DN/s"
    assert "fsi: level 2, DN/s as calibrated by euiprep" in prepared.meta["history"]
    assert "median: on-disk median" in prepared.meta["history"]


def test_disk_at_0_3_au_lands_at_the_same_place_and_size(tmp_path):
    near = at_distance(level2_header(), 0.3)
    path = write_fsi(tmp_path / "fsi_0.3au.fits", near)
    source = sunpy.map.Map(path)
    assert abs(source.dsun.to_value(u.au) - 0.3) < 1e-9  # EUIMap: HCIX/Y/Z_OBS first
    prepared = prepare_map(path, "fsi", size=SIZE, radius_px=RADIUS_PX)
    x, y, radius = disk_centre_and_radius(prepared.data)
    centre = (SIZE - 1) / 2
    np.testing.assert_allclose([x, y], [centre, centre], atol=0.2)
    assert abs(radius - RADIUS_PX) < 1.0
    gap = prepared.observer_coordinate.separation_3d(source.observer_coordinate)
    assert gap / source.dsun < 1e-9


def expect_refusal(path: Path, *needles: str) -> str:
    """The one-line FitsInputError prepare_map raises for ``path``, checked to name the
    file and hold every needle."""
    with pytest.raises(FitsInputError) as raised:
        prepare_map(path, "fsi", size=SIZE, radius_px=RADIUS_PX)
    message = str(raised.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    for needle in needles:
        assert needle in message
    return message


def test_level_1_raw_dn_is_refused_naming_the_level_2_product(tmp_path):
    path = write_fsi(tmp_path / "fsi_l1.fits", real_l1_header(), TINY)
    expect_refusal(path, "level-1 EUI/FSI file (uncalibrated raw DN)",
                   "eui-fsi304-image at level L2")
    no_level = level2_header()
    del no_level["LEVEL"]
    expect_refusal(write_fsi(tmp_path / "fsi_no_level.fits", no_level, TINY),
                   "missing header keyword LEVEL")


def test_level_2_not_in_dn_per_second_is_refused(tmp_path):
    header = level2_header()
    header["BUNIT"] = "DN"
    expect_refusal(write_fsi(tmp_path / "fsi_dn.fits", header, TINY), "BUNIT = 'DN'", "not a rate")


def test_fsi_174_given_as_304_is_refused(tmp_path):
    header = level2_header()
    header["WAVELNTH"] = 174
    expect_refusal(write_fsi(tmp_path / "fsi174.fits", header, TINY), "wrong wavelength: 174 A",
                   "expected 304 A")


@pytest.mark.parametrize("key, value, needle", [
    ("DOOREXT", "closed", "door was not open (DOOREXT = 'closed'"),
    ("IMGTYPE", "dark", "not a solar image (IMGTYPE = 'dark'"),
    ("COMPLETE", "I", "an incomplete image (COMPLETE = 'I'"),
    ("LEDSTATE", "FSI on", "LEDs were on (LEDSTATE = 'FSI on'"),
])
def test_unusable_images_are_refused(tmp_path, key, value, needle):
    header = level2_header()
    header[key] = value
    expect_refusal(write_fsi(tmp_path / f"fsi_{key}.fits", header, TINY), needle)


def test_a_header_without_the_observer_is_refused(tmp_path):
    header = level2_header()
    for key in ("HGLN_OBS", "HGLT_OBS", "CRLN_OBS", "CRLT_OBS", "DSUN_OBS",
                "HCIX_OBS", "HCIY_OBS", "HCIZ_OBS"):
        del header[key]
    expect_refusal(write_fsi(tmp_path / "fsi_no_observer.fits", header, TINY),
                   "DSUN_OBS")
    header["DSUN_OBS"] = real_l1_header()["DSUN_OBS"]  # a distance, but no direction
    expect_refusal(write_fsi(tmp_path / "fsi_no_direction.fits", header,
                             TINY),
                   "missing observer keyword HGLN_OBS/HGLT_OBS")


def test_scan_accepts_level_2_and_rejects_level_1_with_the_reason(tmp_path, good_file):
    level1 = write_fsi(tmp_path / "fsi_l1.fits", real_l1_header(), TINY)
    no_exposure = level2_header()
    del no_exposure["XPOSURE"]
    no_exposure["DATE-OBS"] = "2020-10-21T15:05:10.206"
    no_exposure = write_fsi(tmp_path / "fsi_no_xposure.fits", no_exposure,
                            TINY)
    accepted, rejected = scan_files([good_file, level1, no_exposure], kind="fsi")
    assert [path for path, _, _ in accepted] == [str(good_file)]
    reasons = {Path(entry.path).name: entry.reason for entry in rejected}
    assert reasons["fsi_l1.fits"].startswith("a level-1 EUI/FSI file (uncalibrated raw DN)")
    assert reasons["fsi_no_xposure.fits"] == "missing header keyword XPOSURE (exposure time)"


def test_an_fsi_input_channel_goes_through_prep(tmp_path, good_file):
    hmi_header = fits.getheader(get_test_filepath("resampled_hmi.fits"))
    hmi_header.remove("BLANK", ignore_missing=True)  # float data below
    hmi_header.update({"CONTENT": "MAGNETOGRAM", "BUNIT": "Gauss",
                       "DATE-OBS": "2020-10-21T14:56:00.00", "T_OBS": "2020.10.21_14:56:37_TAI"})
    magnetogram = tmp_path / "hmi.fits"
    fits.writeto(magnetogram, np.zeros((100, 100), np.float32), hmi_header)
    settings = PrepSettings.from_preset(
        "quick", image_size=64, radius_px=24.0,
        input_channels=[{"name": "FSI 304", "kind": "fsi", "wavelength": 304}])
    out = tmp_path / "fsi.h5"
    record = build_pair_file([good_file], [magnetogram], out, settings, workers=1,
                             progress=False)
    assert record["samples"] == 1 and not record["failed_preparation"]
    with PairFile(out) as pairs:
        assert pairs.input_channels == ["FSI 304"]
        header = pairs.header(0, "input")
        assert header["telescop"] == "SOLO/EUI/FSI" and header["bunit"] == "DN/s"
        # the frame's observer: Solar Orbiter's, as sunpy's EUIMap reads it
        assert abs(header["dsun_obs"] / sunpy.map.Map(good_file).dsun.to_value(u.m) - 1) < 1e-9
