"""What an instrument records of the toy Sun: a view through a FITS header's WCS.

A view is any detector (size, pixel scale, pointing, roll: the header's helioprojective
WCS, read with astropy) at any observer (the header's HGLN_OBS, HGLT_OBS, DSUN_OBS). For
every pixel, :class:`ViewGeometry` follows the line of sight from the observer through
the pixel centre (helioprojective Tx, Ty; sunpy's conventions) to where it meets the
solar sphere of radius RSUN_REF (a true perspective, right at any distance), and converts
that point to Carrington coordinates: heliocentric -> Stonyhurst with the observer's
longitude and latitude -> Carrington with the state's offset (sunpy's L0). The field
there comes from the one Sun (:class:`data_prep.toysun.field.SunState`); the emission
follows from it (:mod:`data_prep.toysun.emission`).

:func:`render` gives any of:

* ``"radial"``: B_r (G), 0 off the disk;
* ``"los"``: the true line-of-sight field B_r * mu (G), mu the cosine between the local
  vertical and the direction to the observer; NaN off the disk (the truth);
* ``"magnetogram"``: ``"los"`` plus HMI-like noise (:func:`hmi_noise_gauss`);
* ``304``, ``171``, ``193``, ``195``: EUV intensity (DN/s).

Arrays are (NAXIS2, NAXIS1) in FITS order (row 0 is the first FITS row, i.e. the bottom
of a north-up image), as ``sunpy.map.Map(data, header).data``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import numpy as np

from data_prep.geometry import RSUN_REF_M, angular_radius_arcsec
from data_prep.toysun import emission
from data_prep.toysun.field import SunState, unit_vectors

AU_M = 149_597_870_700.0  # 1 astronomical unit, m
RSUN_OBS_ARCSEC = angular_radius_arcsec(AU_M)  # ~959.2 arcsec at 1 au
HMI_NOISE_NATIVE_GAUSS = 10.0  # LOS noise of one native hmi.M_45s pixel (nominally 5-10 G)
HMI_NATIVE_SCALE_ARCSEC = 0.504  # HMI's native pixel (4096 x 4096 full disk)
PRODUCTS = ("radial", "los", "magnetogram", *emission.EUV_WAVELENGTHS)


def hmi_noise_gauss(rsun_px: float) -> float:
    """LOS noise (G) of an HMI magnetogram averaged down to pixels on which the solar radius
    is ``rsun_px`` pixels: the native pixel noise over the square root of the number of
    native pixels averaged into one (0.51 G for 256 x 256 frames of radius 98 px, 2.1 G at
    1024 x 1024)."""
    native_rsun_px = RSUN_OBS_ARCSEC / HMI_NATIVE_SCALE_ARCSEC
    return HMI_NOISE_NATIVE_GAUSS * min(1.0, float(rsun_px) / native_rsun_px)


def _header_float(header: Any, key: str, default: float | None = None) -> float:
    value = header.get(key, default)
    if value is None:
        raise ValueError(f"the view's header has no {key}: it cannot place the observer")
    return float(value)


class ViewGeometry:
    """The lines of sight of a detector (see the module docstring).

    Attributes:
        shape: (NAXIS2, NAXIS1).
        on_disk: (H, W) bool, the line of sight meets the Sun.
        mu: (H, W) cosine between the local vertical and the direction to the observer,
            0 off the disk.
        rho: (H, W) distance of the line of sight from the Sun's centre (R_sun).
        points: (N, 3) unit vectors of the on-disk points (Carrington frame of
            :func:`data_prep.toysun.field.unit_vectors`), N = on_disk.sum(), row-major.
        latitude_deg, longitude_deg: (N,) their Carrington coordinates.
        rsun_px: the solar disk's angular radius in pixels (at the reference pixel).
        px_per_deg: pixels per heliographic degree at disk centre (rsun_px pi / 180).
    """

    def __init__(self, header: Any, carrington_offset_deg: float) -> None:
        import warnings

        from astropy.wcs import WCS, FITSFixedWarning

        header = dict(header) if not hasattr(header, "tostring") else header
        with warnings.catch_warnings():  # e.g. 'datfix' filling MJD-OBS from DATE-OBS
            warnings.simplefilter("ignore", FITSFixedWarning)
            self.wcs = WCS(header).celestial
        self.shape = (int(header["NAXIS2"]), int(header["NAXIS1"]))
        self.distance_m = _header_float(header, "DSUN_OBS")
        self.observer_lon_deg = _header_float(header, "HGLN_OBS", 0.0)
        self.observer_lat_deg = _header_float(header, "HGLT_OBS")
        self.rsun_m = _header_float(header, "RSUN_REF", RSUN_REF_M)
        self.carrington_offset_deg = float(carrington_offset_deg)
        self._radial_state: SunState | None = None  # see radial_gauss
        self._radial = np.zeros(0)
        # heliocentric (x west, y north, z to the observer) -> Carrington, as rows
        lon, lat = math.radians(self.observer_lon_deg), math.radians(self.observer_lat_deg)
        west = [-math.sin(lon), math.cos(lon), 0.0]
        north = [-math.sin(lat) * math.cos(lon), -math.sin(lat) * math.sin(lon), math.cos(lat)]
        towards = [math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)]
        offset = math.radians(self.carrington_offset_deg)
        to_carrington = np.array([[math.cos(offset), -math.sin(offset), 0.0],
                                  [math.sin(offset), math.cos(offset), 0.0], [0.0, 0.0, 1.0]])
        self.matrix = np.array([west, north, towards]) @ to_carrington.T  # p_carr = p_hc @ matrix

        rows, cols = np.indices(self.shape, dtype=np.float64)
        tx, ty = self.wcs.wcs_pix2world(cols, rows, 0)
        tx = np.radians((tx + 180.0) % 360.0 - 180.0)
        ty = np.radians(ty)
        direction = np.stack([np.cos(ty) * np.sin(tx), np.sin(ty), -np.cos(ty) * np.cos(tx)], -1)
        cos_angle = -direction[..., 2]  # cosine of the angle from the Sun's centre
        ratio = self.rsun_m / self.distance_m
        discriminant = cos_angle**2 - 1.0 + ratio**2
        self.on_disk = (discriminant >= 0.0) & (cos_angle > 0.0)
        self.rho = np.sqrt(np.clip(1.0 - cos_angle**2, 0.0, None)) / ratio
        # the nearer intersection of the ray with the sphere, in R_sun
        along = (cos_angle - np.sqrt(np.clip(discriminant, 0.0, None)))[self.on_disk] / ratio
        ray = direction[self.on_disk]
        surface = ray * along[:, None]
        surface[:, 2] += 1.0 / ratio
        surface /= np.linalg.norm(surface, axis=1, keepdims=True)
        self.mu = np.zeros(self.shape)
        self.mu[self.on_disk] = np.clip(-np.sum(surface * ray, axis=1), 0.0, 1.0)
        self.points = surface @ self.matrix
        self.latitude_deg = np.degrees(np.arcsin(np.clip(self.points[:, 2], -1.0, 1.0)))
        self.longitude_deg = np.degrees(np.arctan2(self.points[:, 1], self.points[:, 0])) % 360.0
        scale_deg = float(np.sqrt(abs(np.linalg.det(self.wcs.pixel_scale_matrix))))
        self.rsun_px = angular_radius_arcsec(self.distance_m, self.rsun_m) / 3600.0 / scale_deg
        self.px_per_deg = self.rsun_px * math.pi / 180.0

    def radial_gauss(self, state: SunState) -> np.ndarray:
        """B_r (G) of ``state`` at the view's pixels, 0 off the disk, (H, W); kept for the
        last state asked, so the products and the truth of one view sample the Sun once.
        Read-only."""
        if self._radial_state is not state:
            radial = np.zeros(self.shape)
            radial[self.on_disk] = state.radial_field(self.latitude_deg, self.longitude_deg)
            radial.setflags(write=False)
            self._radial_state, self._radial = state, radial
        return self._radial

    def project(self, points_rsun: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, col, visible) of 3-D points (M, 3) in solar radii in the Carrington frame
        (e.g. on coronal loops): pixel coordinates (0-based, FITS order) and whether the
        Sun hides them (False behind the disk)."""
        heliocentric = np.asarray(points_rsun, dtype=np.float64) @ self.matrix.T
        ratio = self.rsun_m / self.distance_m
        depth = 1.0 / ratio - heliocentric[:, 2]  # along the observer's axis, R_sun
        tx = np.degrees(np.arctan2(heliocentric[:, 0], depth))
        distance = np.linalg.norm(np.stack([heliocentric[:, 0], heliocentric[:, 1], depth], 1), axis=1)
        ty = np.degrees(np.arcsin(heliocentric[:, 1] / distance))
        cols, rows = self.wcs.wcs_world2pix(tx, ty, 0)
        # hidden: the ray to the point meets the sphere before reaching it
        observer = np.array([0.0, 0.0, 1.0 / ratio])
        ray = heliocentric - observer
        length = np.linalg.norm(ray, axis=1)
        unit = ray / length[:, None]
        b = unit @ observer
        discriminant = b**2 - (observer @ observer - 1.0)
        first_hit = -b - np.sqrt(np.clip(discriminant, 0.0, None))
        visible = (discriminant < 0.0) | (first_hit >= length - 1e-6)
        return np.asarray(rows), np.asarray(cols), visible


def loop_impulses(state: SunState, geometry: ViewGeometry) -> np.ndarray:
    """(H, W) impulse image of the coronal loops of every active region, projected into
    the view: for each region 8-16 arcs from the leading to the following polarity
    (footpoints scattered over the spots, drawn from the region's own seed so that a
    region keeps its loops), apex heights 0.4-1.0 x half the footpoint separation,
    brightness 0.4-1.2 x sqrt(peak_gauss / 1000 G) x the region's present flux fraction.
    Points are spaced <= 0.5 px with weights brightness x spacing (px), so a line convolved
    with a peak-one Gaussian of sigma s px and divided by s sqrt(2 pi) has a ridge of the
    loop's brightness. Points hidden by the Sun are left out; loops rise above the limb."""
    impulses = np.zeros(geometry.shape)
    strengths = state.loop_strength or [1.0] * len(state.active_regions)
    for region, strength in zip(state.active_regions, strengths):
        rng = np.random.default_rng([region.structure_seed, 7])
        west, north = region.leading_offset()
        jitter = 1.5 * region.spot_sigma_deg
        peak = region.peak_gauss / max(strength, 1e-6)
        for _ in range(int(rng.integers(emission.LOOPS_PER_REGION[0],
                                        emission.LOOPS_PER_REGION[1] + 1))):
            ends = [unit_vectors(*region.offset(sign * west + rng.normal(0.0, jitter),
                                                sign * north + rng.normal(0.0, jitter)))
                    for sign in (1.0, -1.0)]
            span = math.acos(min(1.0, float(ends[0] @ ends[1])))
            height = 0.5 * span * float(rng.uniform(0.4, 1.0))
            brightness = float(rng.uniform(0.4, 1.2)) * math.sqrt(peak / 1000.0) * strength
            if span < 1e-6:
                continue
            length_px = (span + 2.0 * height) * geometry.rsun_px
            t = np.linspace(0.0, 1.0, max(16, int(math.ceil(2.0 * length_px))))
            direction = (np.sin((1.0 - t) * span)[:, None] * ends[0]
                         + np.sin(t * span)[:, None] * ends[1]) / math.sin(span)
            points = direction * (1.0 + height * np.sin(math.pi * t))[:, None]
            rows, cols, visible = geometry.project(points)
            step_px = np.hypot(np.diff(rows), np.diff(cols))
            rows, cols, visible = np.rint(rows[1:]).astype(int), np.rint(cols[1:]).astype(int), visible[1:]
            inside = (visible & (rows >= 0) & (rows < geometry.shape[0]) & (cols >= 0)
                      & (cols < geometry.shape[1]))
            np.add.at(impulses, (rows[inside], cols[inside]), brightness * step_px[inside])
    return impulses


def render(
    state: SunState, header: Any, products: Sequence[str | int],
    rng: np.random.Generator | None = None, *, noise_gauss: float | None = None,
    euv_noise_gain: float = emission.EUV_NOISE_GAIN, geometry: ViewGeometry | None = None,
) -> dict[str | int, np.ndarray]:
    """Render ``products`` (see the module docstring) of ``state`` as the detector and
    observer of ``header`` see it. ``rng``: the random parts (magnetogram noise, EUV mottle
    and noise), one independent stream each; None: none of them (the noiseless truth).
    ``noise_gauss``: the magnetogram noise rms (G), default :func:`hmi_noise_gauss` at
    this detector's scale. Returns float32 arrays of the header's shape, by product."""
    wanted = [p if isinstance(p, str) and not p.isdigit() else int(p) for p in products]
    unknown = [p for p in wanted if p not in PRODUCTS]
    if unknown:
        raise ValueError(f"the toy Sun cannot render {unknown}; it renders {list(PRODUCTS)}")
    if geometry is None:
        geometry = ViewGeometry(header, state.carrington_offset_deg)
    count = 3 + len(emission.CORONAL_CHANNELS)
    streams = rng.spawn(count) if rng is not None else [None] * count
    noise_rng, euv_rng, mottle_rng, *channel_rngs = streams
    radial = geometry.radial_gauss(state)
    out: dict[str | int, np.ndarray] = {}
    los = np.where(geometry.on_disk, radial * geometry.mu, np.nan)
    if "radial" in wanted:
        out["radial"] = radial.astype(np.float32)
    if "los" in wanted:
        out["los"] = los.astype(np.float32)
    if "magnetogram" in wanted:
        sigma = hmi_noise_gauss(geometry.rsun_px) if noise_gauss is None else float(noise_gauss)
        noisy = los + (noise_rng.normal(0.0, sigma, los.shape) if noise_rng is not None else 0.0)
        out["magnetogram"] = noisy.astype(np.float32)
    if 304 in wanted:
        darkening = np.ones(len(geometry.points))
        for filament in state.filaments:
            darkening *= filament.darkening(geometry.points)
        out[304] = emission.chromosphere_304(radial, geometry, darkening, euv_rng, euv_noise_gain)
    coronal = [p for p in wanted if isinstance(p, int) and p != 304]
    if coronal:
        out.update(emission.corona(
            coronal, radial, geometry, loop_impulses(state, geometry), mottle_rng,
            dict(zip(sorted(emission.CORONAL_CHANNELS), channel_rngs)), euv_noise_gain))
    return out
