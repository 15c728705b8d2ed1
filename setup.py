"""Install solarmaggan (the Keras 3 / TensorFlow model package) and data_prep (FITS to HDF5,
no TensorFlow import), plus the ``solarmaggan`` console command."""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(
    r'^__version__ = "([^"]+)"', (HERE / "solarmaggan" / "_version.py").read_text(), re.M
).group(1)

setup(
    name="solarmaggan",
    version=VERSION,
    description=(
        "Solar far-side magnetograms from EUV images with a pix2pix conditional GAN "
        "(Kim et al. 2019, Nature Astronomy) in Keras 3 / TensorFlow"
    ),
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.11",
    packages=find_packages(include=["solarmaggan", "solarmaggan.*", "data_prep", "data_prep.*"]),
    package_data={"data_prep.presets": ["*.json"], "data_prep.toysun": ["*.csv"]},
    install_requires=[
        "keras>=3.8,<4",
        "tensorflow>=2.18",
        "numpy>=1.26",
        "astropy>=6.0",
        "sunpy[map]>=6.0",
        "h5py>=3.10",
        "tensorboard>=2.18",
        # full-Sun maps and the corona (solarmaggan.fullsun)
        "reproject>=0.13",
        "sunkit-magex>=1.0",
        "scikit-image>=0.22",  # labelling of active regions (solarmaggan.regions)
        "threadpoolctl>=3.1",  # one BLAS thread for the PFSS solve (solarmaggan.fullsun.pfss)
        # LiteRT runs the TFLite exports (wheels for Linux, macOS and Windows);
        # tf.lite.Interpreter, deprecated, is used only where it is missing
        "ai-edge-litert",
    ],
    extras_require={
        # sunpy[net] (Fido, JSOC) and sunpy-soar (Solar Orbiter Archive: EUI/FSI) for
        # scripts/download_data.py; the tests check its queries
        # the Dask tests (tests/test_scheduler.py) run a local cluster of two workers
        "test": ["pytest>=8", "sunpy[net]>=6.0", "sunpy-soar>=1.11", "distributed>=2024.8",
                 "dask-jobqueue>=0.9"],
        # --scheduler dask / tcp://HOST:PORT (data_prep.scheduler): dask.distributed, its
        # dashboard (bokeh) and dask-jobqueue for SLURM clusters (scripts/dask_slurm.py)
        "dask": ["distributed>=2024.8", "bokeh>=3.1", "dask-jobqueue>=0.9"],
        "download": ["sunpy[net]>=6.0", "sunpy-soar>=1.11"],
        # On a CUDA machine install tensorflow[and-cuda] instead of the CPU-only wheel.
        "gpu": ["tensorflow[and-cuda]>=2.18"],
        # the Sphinx site in docs/ with the executed gallery in examples/ (see docs/conf.py)
        "docs": ["sphinx>=8", "pydata-sphinx-theme>=0.16", "sphinx-gallery>=0.19",
                 "sphinx-argparse>=0.5", "myst-parser>=4", "matplotlib>=3.8"],
    },
    entry_points={"console_scripts": ["solarmaggan = solarmaggan.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3.11",
        "Topic :: Scientific/Engineering :: Astronomy",
    ],
)
