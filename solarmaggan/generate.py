"""``solarmaggan generate``: EUV 304 FITS (STEREO/EUVI far side, or SDO/AIA near side) ->
AI-generated line-of-sight magnetograms as FITS files in Gauss, with PNG quicklooks.

Each input goes through the preparation the model was trained with (its ``config.json``:
frame size, solar radius, calibration, median scaling, EUV normalisation), the generator
runs on batches, and the output is de-normalised with the recorded clip limits.

Output FITS (one per input, ``<input stem>_magnetogram.fits``; float32, BUNIT Gauss):
    * the WCS of the prepared frame with the input's observer (DATE-OBS, HGLN_OBS,
      HGLT_OBS, DSUN_OBS, RSUN_REF), so ``sunpy.map.Map`` places it on the Sun;
    * off-disk pixels (beyond the magnetogram mask radius, 0.98 R_sun) are NaN by default
      (``off_disk="zero"`` writes 0 G), since the model was trained on 0 G there;
    * TELESCOP = "solarmaggan", INSTRUME = "AI-generated LOS magnetogram": nothing claims
      the data came from HMI; the source is kept as SRCTELE / SRCINST / SRCDET / SRCWAVE /
      SRCOBS / SRCFILE, the model as MODEL / MODELVER, the range as CLIPMIN / CLIPMAX (G), and
      HISTORY cards list the preparation steps.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from data_prep.atomic import atomic_path
from data_prep.fitsio import FitsInputError, identify, read_header
from data_prep.geometry import radial_distance
from data_prep.pairing import expand_paths
from data_prep.prepare import prepare_map
from data_prep.progress import Progress
from solarmaggan._version import __version__
from solarmaggan.model_files import load_trained_generator
from solarmaggan.training import data_normalizations

OFF_DISK = ("nan", "zero")
SOURCE_KEYWORDS = {"telescop": "SRCTELE", "instrume": "SRCINST", "detector": "SRCDET",
                   "wavelnth": "SRCWAVE", "obsrvtry": "SRCOBS"}
DROPPED_KEYWORDS = ("wavelnth", "waveunit", "detector", "exptime", "quality", "content",
                    "lvl_num", "obsrvtry", "filename", "history")


def channel_for(header, config: dict[str, Any], name: str) -> dict[str, Any]:
    """The configured channel (near-side "aia" or far-side "euvi") an input file belongs to."""
    kind = identify(header)
    data = config["data"]
    channels = data["input_channels"] + data.get("far_side_channels", [])
    for channel in channels:
        if channel["kind"] == kind:
            return channel
    kinds = sorted({channel["kind"].upper() for channel in channels})
    raise FitsInputError(f"{name}: a {kind.upper() if kind else 'non-solar-EUV'} file; this "
                         f"model takes {' or '.join(kinds)} images")


def check_observer(header, name: str) -> None:
    """Refuse a header without the observer position (DSUN_OBS and HGLN/HGLT_OBS or
    CRLN/CRLT_OBS): sunpy would silently assume an Earth observer, wrong for STEREO."""
    has_longitude = all(k in header for k in ("HGLN_OBS", "HGLT_OBS")) or all(
        k in header for k in ("CRLN_OBS", "CRLT_OBS"))
    for key, present in (("DSUN_OBS", "DSUN_OBS" in header), ("HGLN_OBS/HGLT_OBS", has_longitude)):
        if not present:
            raise FitsInputError(f"{name}: missing observer keyword {key} (observer position)")


def output_header(prepared_map, config: dict[str, Any], model_file: Path, source: Path,
                  limit_gauss: float) -> dict[str, Any]:
    """FITS header of a generated magnetogram (see the module docstring)."""
    header = {key: value for key, value in prepared_map.meta.items()
              if key.lower() not in DROPPED_KEYWORDS and key.lower() != "keycomments"}
    for key, provenance in SOURCE_KEYWORDS.items():
        if prepared_map.meta.get(key) is not None:
            header[provenance] = prepared_map.meta[key]
    header.update({
        "bunit": "Gauss", "telescop": "solarmaggan", "instrume": "AI-generated LOS magnetogram",
        "content": "AI-GENERATED LINE-OF-SIGHT MAGNETOGRAM", "srcfile": source.name,
        "model": model_file.name[-68:], "modelver": f"solarmaggan {__version__}",
        "clipmin": -float(limit_gauss), "clipmax": float(limit_gauss),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
    })
    return header


def write_fits(path: Path, gauss: np.ndarray, header: dict[str, Any], history: Sequence[str]) -> None:
    """Write ``gauss`` (H, W) float32 with ``header`` atomically (temporary file, rename)."""
    from astropy.io import fits

    fits_header = fits.Header()
    for key, value in header.items():
        if isinstance(value, (bool, int, float, str, np.floating, np.integer)):
            fits_header[key.upper()[:8] if len(key) <= 8 else f"HIERARCH {key.upper()}"] = value
    for line in history:
        fits_header.add_history(line)
    with atomic_path(path) as temporary:
        fits.PrimaryHDU(gauss.astype(np.float32), fits_header).writeto(temporary, overwrite=True)


def write_quicklook(path: Path, gauss: np.ndarray, limit_gauss: float, title: str) -> None:
    """PNG of the magnetogram (HMI colours, fixed +-limit_gauss, north up), atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import sunpy.visualization.colormaps  # noqa: F401  (registers hmimag)

    figure, axes = plt.subplots(figsize=(6, 5.2), dpi=100)
    image = axes.imshow(gauss, origin="lower", cmap="hmimag", vmin=-limit_gauss, vmax=limit_gauss)
    figure.colorbar(image, ax=axes, label="B_LOS [G]")
    axes.set_title(title, fontsize=9)
    axes.set_axis_off()
    with atomic_path(path) as temporary:
        figure.savefig(temporary)
    plt.close(figure)


def generate(
    model: str | os.PathLike,
    inputs: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    batch_size: int = 4,
    overwrite: bool = False,
    off_disk: str = "nan",
    quicklook: bool = True,
    any_wavelength: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Generate magnetograms for ``inputs`` (FITS files or folders) into ``out``.

    Returns ``{"written": [...], "skipped": [...], "failed": [{"path", "reason"}]}``; a bad
    input is reported and the rest are still processed.
    """
    if off_disk not in OFF_DISK:
        raise ValueError(f"off_disk must be one of {OFF_DISK}, got {off_disk!r}")
    generator, config, model_file = load_trained_generator(model)
    if len(config["data"]["input_channels"]) != 1:
        raise ValueError(f"{model_file}: multi-channel generation is not available yet")
    data = config["data"]
    euv_scaling, magnetogram_scaling = data_normalizations(config)
    limit = float(data["magnetogram_limit_gauss"])
    size, radius_px = int(data["image_size"]), float(data["radius_px"])
    mask_rsun = data["magnetogram_mask_rsun"] or 1.0
    off_disk_pixels = radial_distance(size) > mask_rsun * radius_px
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"written": [], "skipped": [], "failed": []}
    paths = [Path(p) for p in expand_paths(inputs)]
    bar = Progress(len(paths), "generate", unit="images", enabled=progress, every=1)
    batch: list[tuple[Path, Any]] = []

    def flush() -> None:
        if not batch:
            return
        euv = np.stack([euv_scaling.normalize(m.data)[..., None] for _, m in batch])
        generated = np.asarray(generator(euv, training=False))[..., 0]
        for (source, prepared), normalised in zip(batch, generated):
            gauss = magnetogram_scaling.denormalize(normalised)
            gauss[off_disk_pixels] = np.nan if off_disk == "nan" else 0.0
            target = out / f"{source.stem}_magnetogram.fits"
            history = str(prepared.meta.get("history", "")).splitlines() + [
                f"generated by solarmaggan {__version__} with {model_file.name}, "
                f"preset {config.get('name')}, clip +-{limit:g} G, off-disk {off_disk}"]
            write_fits(target, gauss, output_header(prepared, config, model_file, source, limit),
                       history)
            if quicklook:
                write_quicklook(target.with_suffix(".png"), gauss, limit,
                                f"solarmaggan from {source.name}\n{prepared.meta.get('date-obs')}")
            report["written"].append(str(target))
            bar.update()
        batch.clear()

    for source in paths:
        target = out / f"{source.stem}_magnetogram.fits"
        if target.exists() and not overwrite:
            report["skipped"].append(str(target))
            bar.update()
            continue
        try:
            header = read_header(source)
            check_observer(header, str(source))
            channel = channel_for(header, config, str(source))
            prepared = prepare_map(
                source, channel["kind"], size, radius_px,
                expected_wavelength=None if any_wavelength else channel["wavelength"],
                mask_radius_rsun=data["euv_mask_rsun"], median_scale_to=data["euv_median_dn_s"],
            )
        except (FitsInputError, ValueError, FileNotFoundError) as err:
            report["failed"].append({"path": str(source), "reason": str(err)})
            bar.update()
            continue
        batch.append((source, prepared))
        if len(batch) >= batch_size:
            flush()
    flush()
    bar.close()
    return report
