"""The toy Sun as one whole, evolving Sun: views through real geometry (checked against
sunpy's coordinate transforms), rotation to the east limb, determinism and evolution of
:class:`WholeSun`, Hale's law and the polar fields in the Carrington map."""

import math
import warnings

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.time import Time, TimeDelta

from data_prep.geometry import RSUN_REF_M
from data_prep.toysun import evolution, field, snapshot, views
from data_prep.toysun.evolution import WholeSun
from data_prep.toysun.pairfile import earth_view

EUVI_HEADER = "euvi_20090615_000900_n4euA_s.header"  # 128 px, STEREO-A, roll 3.8 deg


@pytest.fixture(autouse=True)
def _quiet():
    """sunpy's maps of these headers warn about keywords a toy header leaves out."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def euvi_header():
    """A real STEREO-A EUVI header (sunpy's test data, already 128 x 128, with a 3.8 deg
    roll and the Sun off the frame centre) and its reference time (DATE-AVG)."""
    from sunpy.data.test import get_test_filepath

    header = fits.Header.fromtextfile(get_test_filepath(EUVI_HEADER))
    assert header["NAXIS1"] == header["NAXIS2"] == 128 and abs(header["CROTA"]) > 3
    return header, Time(header["DATE-AVG"])


def observer_coordinate(header, time):
    from sunpy.coordinates import HeliographicStonyhurst

    return SkyCoord(header["HGLN_OBS"] * u.deg, header["HGLT_OBS"] * u.deg,
                    header["DSUN_OBS"] * u.m, frame=HeliographicStonyhurst, obstime=time)


def two_views():
    """The EUVI-A view (HGLN_OBS 51.8 deg) and a toy detector at Stonyhurst longitude -25
    deg, latitude -3 deg, 0.94 au: 77 deg apart, at the EUVI file's time."""
    euvi, time = euvi_header()
    other = fits.Header(snapshot.toy_header(128, 50.0, time, "magnetogram", b0_deg=-3.0,
                                            distance_m=1.40e11, observer_lon_deg=-25.0))
    separation = observer_coordinate(euvi, time).separation(observer_coordinate(other, time))
    assert 60 <= separation.to_value(u.deg) <= 90
    return time, [euvi, other]


def one_region_state(region, time, grid_deg=0.25):
    return field.SunState([region], [], field.concatenate_elements([region.flux_elements()]),
                          polar_gauss=0.0, grid_deg=grid_deg, time=time,
                          carrington_offset_deg=evolution.carrington_offset_deg(time))


# -- geometry ---------------------------------------------------------------------------------
def test_every_pixel_sees_where_sunpy_says():
    """Each on-disk pixel's Carrington position and mu, for two observers 77 deg apart
    (one a real EUVI header with roll and pointing), are those of sunpy's transforms of the
    pixel's helioprojective coordinate (onto the solar surface) to Carrington coordinates
    with Earth as the observer (sunpy's L0)."""
    import sunpy.map
    from sunpy.coordinates import HeliographicCarrington, HeliographicStonyhurst

    time, headers = two_views()
    for header in headers:
        geometry = views.ViewGeometry(header, evolution.carrington_offset_deg(time))
        smap = sunpy.map.Map(np.zeros(geometry.shape), header)
        pixels = sunpy.map.all_coordinates_from_map(smap)
        carrington = pixels.transform_to(HeliographicCarrington(obstime=time, observer="earth"))
        latitude = carrington.lat.to_value(u.deg)
        on_disk = np.isfinite(latitude)
        assert 0.15 < on_disk.mean() < 0.6
        assert np.array_equal(on_disk, geometry.on_disk)
        longitude = carrington.lon.to_value(u.deg)[on_disk]
        assert np.abs(geometry.latitude_deg - latitude[on_disk]).max() < 1e-3
        assert np.abs((geometry.longitude_deg - longitude + 180) % 360 - 180).max() < 1e-3
        # mu: cosine between the local vertical and the direction to the observer
        surface = pixels[on_disk].transform_to(HeliographicStonyhurst(obstime=time))
        points = surface.cartesian.xyz.to_value(u.m).T
        towards = observer_coordinate(header, time).cartesian.xyz.to_value(u.m) - points
        mu = np.sum(points * towards, axis=1) / (
            np.linalg.norm(points, axis=1) * np.linalg.norm(towards, axis=1))
        assert np.abs(geometry.mu[on_disk] - mu).max() < 1e-6


@pytest.mark.parametrize("latitude_deg,stonyhurst_lon_deg", [(20.0, 13.0), (-15.0, 40.0)])
def test_a_region_lands_where_sunpy_puts_it_in_two_views(latitude_deg, stonyhurst_lon_deg):
    """The leading spot's field-weighted centroid in the rendered radial field is, in both
    views, within half a pixel of the flux-weighted position of the leading polarity's
    concentrations computed with sunpy (HeliographicCarrington with Earth as observer ->
    Helioprojective of the view's observer -> the header's WCS). B_los / B_r is mu."""
    import sunpy.map
    from sunpy.coordinates import HeliographicCarrington, Helioprojective

    time, headers = two_views()
    offset = evolution.carrington_offset_deg(time)
    region = field.ActiveRegion(latitude_deg, stonyhurst_lon_deg + offset,
                                field.joy_tilt_deg(latitude_deg), 2500.0, 14.0, 1, 2.0,
                                structure_seed=5)
    state = one_region_state(region, time)
    elements = region.flux_elements()
    leading = elements["gauss"] > 0
    flux = elements["gauss"][leading] * elements["sigma_deg"][leading] ** 2
    places = SkyCoord(elements["longitude_deg"][leading] * u.deg,
                      elements["latitude_deg"][leading] * u.deg, RSUN_REF_M * u.m,
                      frame=HeliographicCarrington(obstime=time, observer="earth"))
    for header in headers:
        images = views.render(state, header, ["radial", "los"])
        radial = images["radial"].astype(np.float64)
        smap = sunpy.map.Map(radial, header)
        seen = places.transform_to(
            Helioprojective(observer=observer_coordinate(header, time), obstime=time))
        x, y = (np.asarray(v) for v in smap.world_to_pixel(seen))
        expected = np.array([np.sum(flux * y) / flux.sum(), np.sum(flux * x) / flux.sum()])
        # the image's own leading spot: positive field around its strongest pixel
        peak = np.unravel_index(np.argmax(radial), radial.shape)
        rows, cols = np.indices(radial.shape)
        weight = np.where((np.hypot(rows - peak[0], cols - peak[1]) < 6) & (radial > 0),
                          radial, 0.0)
        centroid = np.array([np.sum(weight * rows), np.sum(weight * cols)]) / weight.sum()
        assert np.hypot(*(centroid - expected)) < 0.5, (header.get("OBSRVTRY"), centroid,
                                                        expected)
        geometry = views.ViewGeometry(header, offset)
        strong = np.abs(radial) > 50.0
        assert strong.sum() > 10
        np.testing.assert_allclose(images["los"][strong], radial[strong] * geometry.mu[strong],
                                   rtol=1e-5, atol=1e-3)
        assert np.all(np.isnan(images["los"][~geometry.on_disk]))
        assert np.all(radial[~geometry.on_disk] == 0.0)


# -- rotation ---------------------------------------------------------------------------------
def howard_sidereal_deg_per_day(latitude_deg):
    """Howard, Harvey & Forgach (1990) sidereal rotation of magnetic features:
    (2.894 - 0.428 sin^2 - 0.370 sin^4) urad/s, in deg/day."""
    s2 = math.sin(math.radians(latitude_deg)) ** 2
    return math.degrees((2.894 - 0.428 * s2 - 0.370 * s2 * s2) * 1e-6 * 86400.0)


def test_carrington_drift_is_howards_rotation_minus_the_carrington_rate():
    for latitude in (0.0, 15.0, -30.0, 40.0, 60.0):
        expected = howard_sidereal_deg_per_day(latitude) - 14.1844
        assert float(evolution.carrington_drift_deg_per_day(latitude)) == pytest.approx(
            expected, abs=1e-3)
    assert 0.1 < float(evolution.carrington_drift_deg_per_day(0.0)) < 0.2
    assert -2.8 < float(evolution.carrington_drift_deg_per_day(60.0)) < -2.4
    # L0 (the Carrington longitude of the disk centre) falls at the synodic rate ~13.2 deg/day
    start = Time("2011-05-01T00:00:00")
    later = evolution.carrington_offset_deg(start + TimeDelta(1.0 * u.day))
    assert (evolution.carrington_offset_deg(start) - later) % 360.0 == pytest.approx(13.2,
                                                                                     abs=0.1)


def test_a_far_side_region_reaches_the_east_limb_when_the_rotation_predicts():
    """A region at Stonyhurst longitude -150, latitude 40 deg (44 deg behind Earth's east
    limb; Carrington drift -1.05 deg/day there) first shows its leading spot, to a detector
    zoomed on the east limb (1"/px), at the time sunpy's frames and Howard's rate put the
    spot on the visible limb (~120 h; rigid Carrington rotation, or the sidereal rate, would
    bring it ~10 h earlier), within 3 h. Seen at 1 h steps."""
    from sunpy.coordinates import HeliographicCarrington, Helioprojective, get_earth

    start = Time("2011-05-01T00:00:00")
    latitude = 40.0
    drift = howard_sidereal_deg_per_day(latitude) - 14.1844
    region = field.ActiveRegion(latitude, -150.0 + evolution.carrington_offset_deg(start), 0.0,
                                2000.0, 4.0, 1, 0.8, structure_seed=1)
    elements = region.flux_elements()
    core_lat, core_lon = float(elements["latitude_deg"][0]), float(elements["longitude_deg"][0])

    def core(time):
        days = (time - start).to_value(u.day)
        return SkyCoord((core_lon + drift * days) * u.deg, core_lat * u.deg, RSUN_REF_M * u.m,
                        frame=HeliographicCarrington(obstime=time, observer="earth"))

    def beyond_limb_deg(time):
        """The core's angle from the sub-Earth point minus that of the visible limb."""
        earth = get_earth(time)
        angle = core(time).separation_3d(SkyCoord(0 * u.deg, earth.lat, RSUN_REF_M * u.m,
                                                  frame=earth.frame))
        angle = math.degrees(2.0 * math.asin(angle.to_value(u.m) / (2.0 * RSUN_REF_M)))
        return angle - math.degrees(math.acos(RSUN_REF_M / earth.radius.to_value(u.m)))

    # the predicted time: when the core crosses the visible limb (bisection, hours)
    low, high = 0.0, 240.0
    assert beyond_limb_deg(start) > 40.0  # on the far side
    for _ in range(20):
        middle = 0.5 * (low + high)
        if beyond_limb_deg(start + TimeDelta(middle * u.hour)) > 0:
            low = middle
        else:
            high = middle
    predicted_h = 0.5 * (low + high)
    assert 100.0 < predicted_h < 140.0

    crossing = start + TimeDelta(predicted_h * u.hour)
    limb = core(crossing).transform_to(Helioprojective(observer="earth", obstime=crossing))

    def view(time):  # 160" x 160" at 1"/px, centred on the crossing point
        b0_deg, distance_m = earth_view(time)
        header = snapshot.toy_header(160, 1.0, time, "magnetogram", b0_deg,
                                     distance_m=distance_m)
        header.update(CDELT1=1.0, CDELT2=1.0, CRPIX1=80.5, CRPIX2=80.5,
                      CRVAL1=limb.Tx.to_value(u.arcsec), CRVAL2=limb.Ty.to_value(u.arcsec))
        return header

    def state(time):  # the region's concentrations drifting at their own latitudes
        moved = dict(elements)
        moved["longitude_deg"] = elements["longitude_deg"] + evolution.carrington_drift_deg_per_day(
            elements["latitude_deg"]) * (time - start).to_value(u.day)
        return field.SunState([region], [], moved, polar_gauss=0.0, grid_deg=0.25, time=time,
                              carrington_offset_deg=evolution.carrington_offset_deg(time))

    def strongest(hours):
        time = start + TimeDelta(hours * u.hour)
        return float(np.nanmax(views.render(state(time), view(time), ["radial"])["radial"]))

    assert strongest(0.0) == 0.0  # on the far side
    first = None
    for hours in np.arange(math.floor(predicted_h) - 8, math.floor(predicted_h) + 6):
        if strongest(hours) > 0.5 * region.peak_gauss:  # the spot's core is on the disk
            first = hours
            break
    assert first is not None and abs(first - predicted_h) <= 3.0, (first, predicted_h)
    assert strongest(predicted_h + 24.0) > 0.9 * region.peak_gauss


# -- the evolving Sun -------------------------------------------------------------------------
T0 = "2011-03-01T05:30:00"


def relative_difference(first, second):
    return float(np.sqrt(np.mean((first - second) ** 2) / np.mean(first**2)))


def test_whole_sun_is_deterministic_order_independent_and_continuous():
    hour, days = TimeDelta(1 * u.hour), TimeDelta(10 * u.day)
    start = Time(T0)
    sun = WholeSun(3, grid_deg=0.5)
    grid = sun.state(start).radial_grid()
    assert np.all(np.isfinite(grid)) and np.abs(grid).max() > 100.0
    # same seed and time: identical, whatever was asked before
    again = WholeSun(3, grid_deg=0.5)
    again.state(start + days)
    again.state(start - days)
    assert np.array_equal(again.state(start).radial_grid(), grid)
    assert np.array_equal(WholeSun(3, grid_deg=0.5).state(start + days).radial_grid(),
                          sun.state(start + days).radial_grid())
    # another seed: another Sun
    other = WholeSun(4, grid_deg=0.5).state(start).radial_grid()
    assert relative_difference(grid, other) > 0.5
    # continuous: an hour changes little, ten days a lot
    assert relative_difference(grid, sun.state(start + hour).radial_grid()) < 0.05
    assert relative_difference(grid, sun.state(start + days).radial_grid()) > 0.5


def test_regions_rotate_differentially_and_keep_their_flux_balanced():
    start = Time(T0)
    sun = WholeSun(1, grid_deg=0.5)
    now = {r.structure_seed: r for r in sun.state(start).active_regions}
    later = {r.structure_seed: r for r in sun.state(start + TimeDelta(5 * u.day)).active_regions}
    both = set(now) & set(later)
    assert len(now) >= 5 and len(both) >= 3
    for seed in both:
        before, after = now[seed], later[seed]
        assert after.latitude_deg == before.latitude_deg
        moved = after.longitude_deg - before.longitude_deg
        expected = 5.0 * (howard_sidereal_deg_per_day(before.latitude_deg) - 14.1844)
        assert moved == pytest.approx(expected, abs=1e-3)
    for region in now.values():
        elements = region.flux_elements()
        flux = elements["gauss"] * elements["sigma_deg"] ** 2  # flux of a small Gaussian
        assert abs(flux.sum()) < 1e-9 * np.abs(flux).sum()


def reach_deg(region):
    """How far (deg) a region's field reaches from its centre: half its separation and three
    spot sigmas."""
    return 0.5 * region.separation_deg + 3.0 * region.spot_sigma_deg


def isolated_regions(state, min_peak_gauss=100.0):
    """The state's regions at least ``min_peak_gauss`` strong that no other region's reach
    and no coronal hole overlaps (with 5 deg to spare)."""
    def angle(first, second):
        cosine = field.unit_vectors(first.latitude_deg, first.longitude_deg) @ field.unit_vectors(
            second.latitude_deg, second.longitude_deg)
        return math.degrees(math.acos(min(1.0, float(cosine))))

    return [
        region for region in state.active_regions
        if region.peak_gauss >= min_peak_gauss
        and all(angle(region, other) > reach_deg(region) + reach_deg(other) + 5.0
                for other in state.active_regions if other is not region)
        and all(angle(region, hole) > reach_deg(region) + hole.radius_deg + 5.0
                for hole in state.coronal_holes)
    ]


def region_halves(carrington, region):
    """(western, eastern) total of a CEA Carrington map (row 0 south, columns 0-360 deg)
    over the region's box, split at its centre longitude."""
    nlat, nlon = carrington.shape
    reach = reach_deg(region)
    sines = -1.0 + (np.arange(nlat) + 0.5) * 2.0 / nlat
    rows = np.flatnonzero(np.abs(np.degrees(np.arcsin(sines)) - region.latitude_deg) <= reach)
    span = reach / math.cos(math.radians(region.latitude_deg))
    longitudes = (np.arange(nlon) + 0.5) * 360.0 / nlon
    east_west = (longitudes - region.longitude_deg + 180.0) % 360.0 - 180.0
    box = carrington[rows]
    west = box[:, (east_west > 0) & (east_west <= span)].sum()
    east = box[:, (east_west < 0) & (east_west >= -span)].sum()
    return west, east


@pytest.mark.parametrize("north_leading", [-1, 1])
def test_hale_law_and_flux_balance_in_the_carrington_map(north_leading):
    """In the whole-Sun Carrington map, the western (leading) half of every isolated region
    has Hale's sign for its hemisphere and the eastern half the opposite; each region's
    flux over its box is balanced; the polar fields have opposite signs at the two poles,
    the north's that of the northern following polarity."""
    signs = {1: [], -1: []}
    for seed in range(8):  # ~15 regions on the Sun at a time, 1-2 of them isolated
        sun = WholeSun(seed, north_leading_polarity=north_leading, network_elements=0,
                       grid_deg=0.5)
        state = sun.state(Time(T0) + TimeDelta(17 * seed * u.day))
        carrington = state.carrington_map((180, 360))
        for region in isolated_regions(state):
            west, east = region_halves(carrington, region)
            hemisphere = 1 if region.latitude_deg > 0 else -1
            signs[hemisphere].append((np.sign(west), np.sign(east)))
            # balanced (the box cuts the wide plage halos a little: < 8 % seen)
            assert abs(west + east) < 0.15 * (abs(west) + abs(east)), region
        # polar fields: B_r = +-10 G |sin(lat)|^8, the north with the following sign
        north, south = carrington[-5:].mean(), carrington[:5].mean()
        assert np.sign(north) == -north_leading == -np.sign(south)
        assert 3.0 < abs(north) < 12.0 and 3.0 < abs(south) < 12.0
    assert len(signs[1]) >= 3 and len(signs[-1]) >= 3, signs
    assert all(pair == (north_leading, -north_leading) for pair in signs[1]), signs
    assert all(pair == (-north_leading, north_leading) for pair in signs[-1]), signs


def test_carrington_map_is_the_field_at_its_pixels():
    """SunState.carrington_map on the truth map's CEA grid (the WCS of
    instruments.carrington_header, read by sunpy): each pixel is the field at its centre
    (oversample 1), and its area average (the default) is close to that where the field is
    smooth on the pixel scale; row 0 is the south."""
    import sunpy.map
    from sunpy.coordinates import HeliographicCarrington

    from data_prep.toysun.instruments import carrington_header

    time = Time(T0)
    state = WholeSun(2, grid_deg=0.5).state(time)
    shape = (90, 180)
    smap = sunpy.map.Map(np.zeros(shape), carrington_header(time, shape))
    pixels = sunpy.map.all_coordinates_from_map(smap)
    pixels = pixels.transform_to(HeliographicCarrington(obstime=time, observer="earth"))
    latitude, longitude = pixels.lat.to_value(u.deg), pixels.lon.to_value(u.deg)
    assert latitude[0].max() < -80.0 and latitude[-1].min() > 80.0  # row 0 south
    at_centres = state.radial_field(latitude, longitude)
    np.testing.assert_allclose(state.carrington_map(shape, oversample=1), at_centres,
                               atol=1e-9, rtol=1e-9)
    averaged = state.carrington_map(shape)
    smooth = np.abs(latitude) < 60.0
    assert np.corrcoef(averaged[smooth], at_centres[smooth])[0, 1] > 0.95


# -- a campaign of instrument files -----------------------------------------------------------
CAMPAIGN_SEED = 5  # a Sun with a strong region seen by both Earth and STEREO-A then


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    """Two days (2011-03-01, 03-02) of Earth (AIA 304, HMI) and STEREO-A (EUVI 304) at 256
    px, with the truth; 256 px (not 128) so that the STEREO view, interpolated onto the 1-deg
    Carrington map, resolves the field down to mu = 0.3 (at 128 px its pixels span 1.5 deg at
    disk centre, 5 deg radially at mu = 0.3, and the CC there falls to 0.988-0.997)."""
    from data_prep.toysun.campaign import CampaignSettings, run_campaign

    out = tmp_path_factory.mktemp("campaign")
    settings = CampaignSettings(start="2011-03-01T00:00:00", days=2, cadence_hours=24,
                                observers=("earth", "stereo-a"), size=256, seed=CAMPAIGN_SEED)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        record = run_campaign(out, settings, progress=False, workers=1)
    return out, record


def campaign_files(out):
    return {
        "aia": sorted((out / "sdo" / "aia").glob("*.fits")),
        "hmi": sorted((out / "sdo" / "hmi").glob("*.fits")),
        "euvi": sorted((out / "stereo-a" / "euvi").glob("*.fts")),
        "truth": sorted((out / "truth" / "stereo-a" / "magnetogram").glob("*.fits")),
        "carrington": sorted((out / "truth" / "carrington").glob("*.fits")),
    }


def test_campaign_files_open_in_sunpy_as_the_instruments_with_their_observers(campaign):
    import sunpy.map
    from sunpy.coordinates import get_earth
    from sunpy.map.sources import AIAMap, EUVIMap, HMIMap

    from data_prep.toysun import observers

    out, record = campaign
    files = campaign_files(out)
    assert record["times"] == ["2011-03-01T00:00:00", "2011-03-02T00:00:00"]
    assert all(len(paths) == 2 for paths in files.values()), files
    stereo_a = observers.parse_observer("stereo-a")
    for kind, expected_class in (("aia", AIAMap), ("hmi", HMIMap), ("euvi", EUVIMap)):
        for path, time in zip(files[kind], record["times"]):
            smap = sunpy.map.Map(path)
            assert isinstance(smap, expected_class), (path, type(smap))
            assert abs((smap.reference_date - Time(time)).to_value(u.s)) < 1.0
            observer = smap.observer_coordinate
            intended = (get_earth(smap.reference_date) if kind != "euvi"
                        else observers.observer_coordinate(stereo_a, smap.reference_date))
            assert observer.separation_3d(intended).to_value(u.km) < 1000.0, kind
            if kind == "euvi":  # STEREO-A, ~87.4 deg west of Earth in March 2011
                assert smap.observatory == "STEREO A"
                assert 86.0 < observer.lon.to_value(u.deg) < 89.0
            assert smap.data.shape == (256, 256)
    # the truth magnetogram has its EUVI file's pixel grid, observer and time
    for euvi_path, truth_path in zip(files["euvi"], files["truth"]):
        euvi, truth = sunpy.map.Map(euvi_path), sunpy.map.Map(truth_path)
        corners = [(0, 0), (255, 0), (0, 255), (255, 255), (127.5, 60.0)]
        for x, y in corners:
            assert euvi.pixel_to_world(x * u.pix, y * u.pix).separation(
                truth.pixel_to_world(x * u.pix, y * u.pix)).to_value(u.arcsec) < 1e-3
        assert truth.observer_coordinate.separation_3d(euvi.observer_coordinate).to_value(
            u.km) < 1.0
    carrington = sunpy.map.Map(files["carrington"][0])
    assert carrington.data.shape == (180, 360)
    assert carrington.coordinate_frame.name == "heliographic_carrington"


def registration_offset(image, reference):
    """(rows, cols) by which ``image`` is displaced from ``reference``: the peak of their
    FFT cross-correlation, refined by a parabola through its neighbours."""
    product = np.fft.fft2(image) * np.conj(np.fft.fft2(reference))
    correlation = np.fft.ifft2(product).real
    peak = np.unravel_index(np.argmax(correlation), correlation.shape)
    offset = []
    for axis in (0, 1):
        def at(step):
            index = list(peak)
            index[axis] = (peak[axis] + step) % correlation.shape[axis]
            return correlation[tuple(index)]

        below, centre, above = at(-1), at(0), at(1)
        value = peak[axis] + 0.5 * (below - above) / (below - 2.0 * centre + above)
        size = correlation.shape[axis]
        offset.append(value - size if value > size / 2 else value)
    return np.array(offset)


@pytest.mark.parametrize("kind", ["aia", "hmi", "euvi"])
def test_prep_puts_campaign_files_on_the_standard_frame(campaign, kind):
    """prepare_map (the jeong2020 frame: radius 450/1024 of the frame) on a campaign file
    gives the standard frame: the image registers to < 0.1 px with the same Sun rendered
    directly in that frame for the file's observer (disk centred, the preset's radius,
    north up; the HMI file is written with CROTA2 ~ 180), and for HMI the strongest region's
    leading spot lies within half a pixel of where sunpy's transforms put it."""
    import sunpy.map
    from sunpy.coordinates import HeliographicCarrington, Helioprojective

    from data_prep.geometry import radial_distance
    from data_prep.prep import PrepSettings
    from data_prep.prepare import prepare_map

    out, record = campaign
    path = campaign_files(out)[kind][0]
    preset = PrepSettings.from_preset("jeong2020")
    size = 128
    radius = preset.radius_px / preset.image_size * size  # 56.25 px
    prepared = prepare_map(path, kind, size=size, radius_px=radius)
    assert prepared.data.shape == (size, size)
    raw = sunpy.map.Map(path)
    time, observer = raw.reference_date, raw.observer_coordinate
    header = snapshot.toy_header(size, radius, time, "magnetogram" if kind == "hmi" else "euv",
                                 observer.lat.to_value(u.deg),
                                 distance_m=observer.radius.to_value(u.m),
                                 observer_lon_deg=observer.lon.to_value(u.deg))
    state = WholeSun(CAMPAIGN_SEED, grid_deg=record["grid_deg"]).state(time)
    reference = views.render(state, header, ["los", 304])
    inner = radial_distance(size) < 0.95 * radius
    if kind == "hmi":
        image, truth = prepared.data, np.nan_to_num(reference["los"])
    else:  # EUV: compare log intensities (the prepared image is median-scaled, with noise)
        image, truth = np.log(np.clip(prepared.data, 1.0, None)), np.log(reference[304])
    image = np.where(inner, image - image[inner].mean(), 0.0)
    truth = np.where(inner, truth - truth[inner].mean(), 0.0)
    assert np.corrcoef(image[inner], truth[inner])[0, 1] > (0.98 if kind == "hmi" else 0.9)
    offset = registration_offset(image, truth)
    assert np.all(np.abs(offset) < 0.1), offset
    assert np.all(np.abs(registration_offset(np.roll(image, (2, -1), (0, 1)), truth)
                         - (2, -1)) < 0.1)  # the measure itself sees a shift
    if kind != "hmi":
        return
    # the strongest region facing the observer: its leading spot's field-weighted centroid
    centre = (size - 1) / 2.0
    rsun_arcsec = math.degrees(math.asin(RSUN_REF_M / observer.radius.to_value(u.m))) * 3600
    scale_arcsec = rsun_arcsec / radius
    candidates = []
    for region in state.active_regions:
        latitude, longitude = region.leading_position()
        seen = SkyCoord(longitude * u.deg, latitude * u.deg, RSUN_REF_M * u.m,
                        frame=HeliographicCarrington(obstime=time, observer="earth")).transform_to(
            Helioprojective(observer=observer, obstime=time))
        row = centre + seen.Ty.to_value(u.arcsec) / scale_arcsec  # north up, west right
        col = centre + seen.Tx.to_value(u.arcsec) / scale_arcsec
        if seen.is_visible() and math.hypot(row - centre, col - centre) < 0.75 * radius:
            candidates.append((region.peak_gauss, region, row, col))
    peak_gauss, region, row, col = max(candidates, key=lambda item: item[0])
    assert peak_gauss > 500.0
    field_image = prepared.data * region.leading_polarity
    rows, cols = np.indices(field_image.shape)
    near = np.hypot(rows - row, cols - col) < 6.0
    peak = np.unravel_index(np.argmax(np.where(near, field_image, -np.inf)), field_image.shape)
    weight = np.where((np.hypot(rows - peak[0], cols - peak[1]) < 4.0) & (field_image > 0),
                      field_image, 0.0)
    found = np.array([np.sum(weight * rows), np.sum(weight * cols)]) / weight.sum()
    assert np.hypot(*(found - (row, col))) < 0.5, (found, row, col)


def mu_map(smap):
    """mu of every pixel of a map (sunpy: the pixel's surface point and the observer), 0 off
    the disk."""
    from sunpy.coordinates import HeliographicStonyhurst

    frame = HeliographicStonyhurst(obstime=smap.reference_date)
    points = sunpy_surface_points(smap, frame)
    towards = smap.observer_coordinate.transform_to(frame).cartesian.xyz.to_value(u.m)
    towards = towards[:, None, None] - points
    mu = np.sum(points * towards, axis=0) / (
        np.linalg.norm(points, axis=0) * np.linalg.norm(towards, axis=0))
    return np.where(np.isfinite(mu), mu, 0.0)


def sunpy_surface_points(smap, frame):
    import sunpy.map

    pixels = sunpy.map.all_coordinates_from_map(smap)
    return pixels.transform_to(frame).cartesian.xyz.to_value(u.m)


@pytest.mark.parametrize("kind", ["truth", "hmi"])
def test_line_of_sight_views_agree_with_the_carrington_truth(campaign, kind):
    """The STEREO-A truth magnetogram (noiseless) and the Earth HMI file (with HMI's noise,
    ~0.5 G at 256 px), divided by mu (sunpy's) and reprojected (sunpy's reproject_to)
    onto the truth Carrington map of the same time, agree with it: CC >= 0.99 where the
    view has mu > 0.3 (measured >= 0.9996)."""
    import sunpy.map

    out, _ = campaign
    files = campaign_files(out)
    for view_path, map_path in zip(files[kind], files["carrington"]):
        view, carrington = sunpy.map.Map(view_path), sunpy.map.Map(map_path)
        mu = mu_map(view)
        visible = mu > 0.3
        assert visible.mean() > 0.2
        radial = np.where(visible, view.data / np.where(visible, mu, 1.0), np.nan)
        radial_map = sunpy.map.Map(radial, view.meta)
        reprojected = radial_map.reproject_to(carrington.wcs).data
        seen = np.isfinite(reprojected)
        assert 0.25 < seen.mean() < 0.5  # about the visible hemisphere, less its rim
        correlation = np.corrcoef(reprojected[seen], carrington.data[seen])[0, 1]
        assert correlation >= 0.99, (view_path.name, correlation)
        # and the field's scale: the truth map's rms there, to 2 %
        assert np.std(reprojected[seen]) == pytest.approx(np.std(carrington.data[seen]),
                                                          rel=0.02)
