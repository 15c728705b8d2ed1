"""The latitude channel: sin(heliographic latitude) of every pixel of the standard frame, as
the observer of an EUV image sees the Sun, given to the network as one more input channel.

Why: the Sun's rotation axis is tilted towards or away from the observer by the B0 angle
(the observer's heliographic latitude, -7.25..+7.25 deg over a year as seen from Earth), so
the solar equator crosses the disk above or below its centre depending on the season. A
network that sees only EUV images cannot tell where the equator is, while Hale's law makes
the leading polarity of an active region depend on its hemisphere; trained on months of one
B0 and tested on months of another, it gets the polarity of regions near the equator wrong
(docs/benchmarks.md, "Why the near side misses 0.8: the Sun's B0 angle"). The latitude
channel tells it, from the image's own header: a preset's ``data.latitude_channel`` (the
``quick_latitude`` preset) makes ``prep`` store it after the EUV channels and ``generate``
compute it for each input from that input's observer (AIA from SDO, EUVI from STEREO).

The plane is exact for an observer at a finite distance (the visible limb lies slightly
short of 90 deg from the disk centre): each pixel's line of sight is intersected with the
photosphere. Off the disk, where a pixel has no latitude, it holds the value of the point of
its line of sight nearest the Sun, clipped to [-1, 1]. The values are dimensionless and
already in [-1, 1]; the pair file records them with the identity normalisation
(:func:`latitude_normalization`).
"""

from __future__ import annotations

from typing import Any, Sequence

import astropy.units as u
import numpy as np

from data_prep.normalization import Normalization

LATITUDE_CHANNEL = "sin latitude"


def latitude_normalization() -> Normalization:
    """The identity on [-1, 1]: sin(latitude) needs no scaling."""
    return Normalization("linear", -1.0, 1.0, "1")


def input_channel_names(euv_channel_names: Sequence[str], latitude_channel: bool,
                        reference_channels: Sequence[str] = ()) -> list[str]:
    """The network's input channels: the EUV channels, then the latitude channel if used,
    then the reference pair's channels if used (:mod:`data_prep.reference`)."""
    return (list(euv_channel_names) + ([LATITUDE_CHANNEL] if latitude_channel else [])
            + list(reference_channels))


def input_normalizations(euv_normalization: Normalization, n_euv_channels: int,
                         latitude_channel: bool,
                         reference_normalizations: Sequence[Normalization] = ()
                         ) -> list[Normalization]:
    """One normalisation record per input channel, in the order of
    :func:`input_channel_names`."""
    return ([euv_normalization] * n_euv_channels
            + ([latitude_normalization()] if latitude_channel else [])
            + list(reference_normalizations))


def sin_latitude_image(image_size: int, radius_px: float, b0_deg: float,
                       distance_rsun: float) -> np.ndarray:
    """sin(heliographic latitude) of each pixel of the standard frame.

    Args:
        image_size: frame side, pixels; the Sun's centre at ((n - 1) / 2, (n - 1) / 2),
            solar north up (row index increasing northwards, as sunpy's maps are stored).
        radius_px: the photosphere's apparent radius, pixels.
        b0_deg: the observer's heliographic latitude (the B0 angle), degrees.
        distance_rsun: the observer's distance from Sun centre, solar radii (> 1).

    Returns:
        (image_size, image_size) float32 in [-1, 1].
    """
    if not distance_rsun > 1:
        raise ValueError(f"the observer must be outside the Sun, got {distance_rsun} R_sun")
    # lines of sight: angles from Sun centre (radians), the pixel scale fixed by the
    # photosphere's angular radius arcsin(1 / d) spanning radius_px pixels
    radians_per_px = np.arcsin(1.0 / distance_rsun) / radius_px
    offsets = (np.arange(image_size) - (image_size - 1) / 2.0) * radians_per_px
    tan_y, tan_x = np.meshgrid(np.tan(offsets), np.tan(offsets), indexing="ij")
    norm = np.sqrt(1.0 + tan_x**2 + tan_y**2)
    direction = (tan_x / norm, tan_y / norm, -1.0 / norm)  # z towards the observer
    # observer at (0, 0, d): |o + t v|^2 = 1 has t = d cos(rho) -/+ sqrt(1 - d^2 sin^2(rho))
    along = -distance_rsun * direction[2]
    discriminant = along**2 - (distance_rsun**2 - 1.0)
    t = along - np.sqrt(np.clip(discriminant, 0.0, None))  # the near side; off disk: nearest
    y = t * direction[1]
    z = distance_rsun + t * direction[2]
    b0 = np.radians(b0_deg)
    return np.clip(y * np.cos(b0) + z * np.sin(b0), -1.0, 1.0).astype(np.float32)


def observer_latitude_plane(solar_map: Any, image_size: int, radius_px: float) -> np.ndarray:
    """:func:`sin_latitude_image` for the observer of ``solar_map`` (a sunpy map on the
    standard frame, from :func:`data_prep.prepare.prepare_map`): B0 is the observer's
    heliographic latitude and the distance DSUN_OBS / RSUN_REF, from the map's header."""
    observer = solar_map.observer_coordinate
    distance_rsun = float((observer.radius / solar_map.rsun_meters).to_value(u.one))
    return sin_latitude_image(image_size, radius_px, float(observer.lat.to_value(u.deg)),
                              distance_rsun)
