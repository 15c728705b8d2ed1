"""The toy Sun: one synthetic whole Sun, for training, tests, demonstrations and far-side truth.

Modules, by what they model:

* :mod:`~data_prep.toysun.field`: the photospheric radial field on the sphere (active
  regions with Hale's and Joy's laws, the network, coronal holes, polar fields) at one
  instant, in Carrington coordinates (:class:`SunState`);
* :mod:`~data_prep.toysun.evolution`: the Sun in time (:class:`WholeSun`): differential
  rotation, emergence, growth and decay;
* :mod:`~data_prep.toysun.emission`: EUV 304, 171, 193/195 A from the field;
* :mod:`~data_prep.toysun.views`: what a detector at an observer records, through a FITS
  header's WCS (:func:`render`);
* :mod:`~data_prep.toysun.observers`: where Earth, STEREO-A/B, Solar Orbiter and other
  observers are;
* :mod:`~data_prep.toysun.instruments`: detectors, headers and FITS files as AIA, HMI,
  EUVI and EUI/FSI (level 2) write them, and the SO/PHI-like truth view;
* :mod:`~data_prep.toysun.campaign`: a campaign of instrument files and truth;
* :mod:`~data_prep.toysun.snapshot`: one image pair of a Sun drawn on the visible
  hemisphere (:func:`make_toy_sun`);
* :mod:`~data_prep.toysun.pairfile`: near-side pairs straight into an HDF5 pair file
  (:func:`write_toy_dataset`).

Only numpy, scipy, astropy and sunpy are needed (no TensorFlow).
"""

from data_prep.toysun.emission import (  # noqa: F401
    CORONAL_CHANNELS, CoronalChannel, coronal_depth, gaussian_smooth, open_field_fraction,
    plage_brightening,
)
from data_prep.toysun.evolution import WholeSun, carrington_drift_deg_per_day  # noqa: F401
from data_prep.toysun.field import (  # noqa: F401
    ActiveRegion, CoronalHole, SunState, joy_tilt_deg, network_peak_gauss,
    random_active_region, random_coronal_hole,
)
from data_prep.toysun.pairfile import toy_channel_names, toy_times, write_toy_dataset  # noqa: F401
from data_prep.toysun.snapshot import (  # noqa: F401
    RSUN_FRACTION, TOY_CHANNELS, TOY_WAVELENGTHS, ToySun, heliographic_to_pixel, make_toy_sun,
    toy_header,
)
from data_prep.toysun.views import (  # noqa: F401
    AU_M, RSUN_OBS_ARCSEC, ViewGeometry, hmi_noise_gauss, render,
)
