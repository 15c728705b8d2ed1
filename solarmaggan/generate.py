"""``solarmaggan generate``: EUV FITS (STEREO/EUVI far side, or SDO/AIA near side) ->
AI-generated line-of-sight magnetograms as FITS files in Gauss, with PNG quicklooks.

Each input goes through the preparation the model was trained with (its ``config.json``:
frame size, solar radius, calibration, median scaling, EUV normalisation), the generator
runs on batches, and the output is de-normalised with the recorded clip limits and
clipped to them (a linear-output model such as jeong2022's can exceed them; the training
data never did), as the CLIPMIN / CLIPMAX keywords say.

Models of one EUV channel (Kim et al. 2019: 304 A) take each file on its own. Models of
several channels (AISFM 2.0/3.0: AIA 304, 193, 171 near side; EUVI 304, 195, 171 far side)
take sets: the given files are grouped by instrument, then by header wavelength and time
into one file of each channel (:func:`data_prep.pairing.group_channels`: each file of the
first channel with the closest file of every other channel within the configuration's
``pair_tolerance_s``); each channel is prepared and normalised on its own and stacked in
the model's channel order; a file not in a complete set is reported as failed, naming it
and the channel it lacks. The output is named after, and has the observer geometry of,
the set's first-channel (304) file; HISTORY cards name every file of the set.

A model with the latitude channel (``data.latitude_channel``, the ``quick_latitude``
preset) gets, after the EUV channels, sin(heliographic latitude) of each pixel as the
input's own observer sees the Sun (its B0 angle and distance from the prepared header;
:mod:`data_prep.latitude`), as ``prep`` stored it for training; a HISTORY card gives B0.

Output FITS (one per input or set, ``<input stem>_magnetogram.fits``; float32, BUNIT Gauss):
    * the WCS of the prepared frame with the input's observer (DATE-OBS, HGLN_OBS,
      HGLT_OBS, DSUN_OBS, RSUN_REF), so ``sunpy.map.Map`` places it on the Sun;
    * off-disk pixels (beyond the magnetogram mask radius, 0.98 R_sun) are NaN by default
      (``off_disk="zero"`` writes 0 G), since the model was trained on 0 G there;
    * TELESCOP = "solarmaggan", INSTRUME = "AI-generated LOS magnetogram": nothing claims
      the data came from HMI; the source is kept as SRCTELE / SRCINST / SRCDET / SRCWAVE /
      SRCOBS / SRCFILE, the model as MODEL / MODELVER, the range the values are clipped to as
      CLIPMIN / CLIPMAX (G), and HISTORY cards list the preparation steps.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import socket
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from data_prep.atomic import atomic_path
from data_prep.fitsio import (KIND_NAMES, FitsInputError, check_observer, identify, layer_hdu,
                             read_header)
from data_prep.geometry import radial_distance
from data_prep.pairing import expand_paths, group_channels
from data_prep.prep import input_image
from data_prep.prepare import prepare_map
from data_prep.reference import (MAX_CENTRE_OFFSET_DEG, ReferencePair, ReferencePreparation,
                                 far_side_reference, reference_cards, reference_channels,
                                 scan_archive)
from data_prep.reference import no_reference as no_reference_channels
from data_prep.progress import Progress
from data_prep.scheduler import open_scheduler
from solarmaggan._version import __version__
from solarmaggan.config import data_normalizations
from solarmaggan.console import quiet_worker
from solarmaggan.model_files import (as_model_list, load_models, read_calibration,
                                     resolve_model_path)
from solarmaggan.sampling import check_samples, draw_samples, sampling_method
from solarmaggan.uncertainty import (apply_scale, flux_calibration_cards, sample_summary,
                                     scale_sigma)
from solarmaggan import plotting

OFF_DISK = ("nan", "zero")
#: the far-side imagers, whose intensities are matched to AIA's (median or histogram)
FAR_SIDE_KINDS = ("euvi", "fsi")
SOURCE_KEYWORDS = {"telescop": "SRCTELE", "instrume": "SRCINST", "detector": "SRCDET",
                   "wavelnth": "SRCWAVE", "obsrvtry": "SRCOBS"}
DROPPED_KEYWORDS = ("wavelnth", "waveunit", "detector", "exptime", "quality", "content",
                    "lvl_num", "obsrvtry", "filename", "history")


def channels_by_instrument(config: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """{kind: the model's channels of that instrument, in the model's order}: the near-side
    ``input_channels`` (AIA) and the ``far_side_channels`` the preset accepts (EUVI, and for
    one-channel presets EUI/FSI 304), grouped by their ``kind``."""
    data = config["data"]
    grouped: dict[str, list[dict[str, Any]]] = {}
    for channel in data["input_channels"] + (data.get("far_side_channels") or []):
        grouped.setdefault(channel["kind"], []).append(channel)
    return grouped


def instrument_refusal(kind: str | None, config: dict[str, Any], name: str) -> FitsInputError:
    """The one-line error for a file of an instrument the model does not take."""
    grouped = channels_by_instrument(config)
    n_channels = len(config["data"]["input_channels"])
    takes = " or ".join(" + ".join(channel["name"] for channel in channels)
                        for channels in grouped.values() if len(channels) == n_channels)
    what = KIND_NAMES.get(kind or "", "non-solar-EUV")
    if kind == "fsi" and n_channels > 1:
        return FitsInputError(
            f"{name}: an {what} file; this model (preset {config.get('name')}) takes "
            f"{n_channels} channels at once ({takes}), and EUI/FSI observes only 174 and "
            "304 A, not the 193/195 and 171 A passbands: use a one-channel 304 A model "
            "(e.g. the kim2019 or quick presets)")
    return FitsInputError(f"{name}: a {what} file; this model (preset {config.get('name')}) "
                          f"takes {'sets of ' if n_channels > 1 else ''}{takes} images")


def channel_for(header, config: dict[str, Any], name: str) -> dict[str, Any]:
    """The configured channel (near-side "aia", far-side "euvi" or "fsi") an input file
    belongs to: the channel of its instrument, and with several channels of that instrument
    the one of its WAVELNTH. An instrument the model has no full set of channels of (none,
    or EUI/FSI's 304 alone for a three-channel model) is refused (:func:`instrument_refusal`)."""
    kind = identify(header)
    candidates = channels_by_instrument(config).get(kind or "", [])
    if len(candidates) != len(config["data"]["input_channels"]):  # no full set of channels
        raise instrument_refusal(kind, config, name)
    if len(candidates) == 1:
        return candidates[0]
    wavelength = header.get("WAVELNTH")
    for channel in candidates:
        if wavelength is not None and int(round(float(wavelength))) == channel["wavelength"]:
            return channel
    raise FitsInputError(f"{name}: wrong wavelength: {wavelength} A; this model takes "
                         f"{', '.join(channel['name'] for channel in candidates)}")


def channel_sets(
    paths: Sequence[Path], config: dict[str, Any], tolerance_s: float
) -> tuple[list[tuple[Path, list[Path]]], list[dict[str, str]]]:
    """Group the inputs of a multi-channel model into sets, one file of each channel.

    Files are sorted by instrument (AIA: the configuration's ``input_channels``; EUVI: its
    ``far_side_channels``), then grouped by header wavelength and time with
    :func:`data_prep.pairing.group_channels` within ``tolerance_s`` seconds (no quality or
    exposure checks, as for single files). Instruments without a full set of the model's
    channels (EUI/FSI: only 174 and 304 A) are refused, one line a file.

    Returns:
        ``(sets, failures)``: each set as (first-channel file, [file of each channel in the
        model's order]), in time order per instrument; each failure as ``{"path",
        "reason"}``, the reason naming the file and, for an incomplete set, what it lacks.
    """
    channels_of = channels_by_instrument(config)
    n_channels = len(config["data"]["input_channels"])
    by_kind: dict[str, list[Path]] = {}
    failures: list[dict[str, str]] = []
    for path in paths:
        try:
            kind = identify(read_header(path))
            if len(channels_of.get(kind or "", [])) != n_channels:
                raise instrument_refusal(kind, config, str(path))
        except FitsInputError as err:
            failures.append({"path": str(path), "reason": str(err)})
            continue
        by_kind.setdefault(kind, []).append(path)
    sets: list[tuple[Path, list[Path]]] = []
    for kind, files in by_kind.items():
        channels = channels_of[kind]
        report = group_channels(
            files, [(channel["name"], channel["wavelength"]) for channel in channels],
            tolerance_s=tolerance_s, euv_kind=kind, quality_check=False, exposure_check=False,
        )
        sets += [(Path(group.euv_path), [Path(file) for file in group.euv_paths])
                 for group in report.pairs]
        names = " + ".join(channel["name"] for channel in channels)
        failures += [{"path": entry.path, "reason": f"{entry.path}: {entry.reason}"}
                     for entry in report.rejected]
        failures += [{"path": entry.path,
                      "reason": f"{entry.path}: not in a complete {names} set: {entry.reason}"}
                     for entry in report.unmatched]
    return sets, failures


def prepare_input(path: Path, config: dict[str, Any], any_wavelength: bool = False,
                  histogram_reference: np.ndarray | None = None):
    """One input file prepared as the model's data were (:func:`prepare_map` with the
    configuration's frame, masks and median scaling), after checking its observer. With
    ``histogram_reference`` (on-disk DN/s of a prepared AIA image,
    :func:`aia_histogram_reference`) far-side images (EUVI, EUI/FSI) are histogram-matched
    to it instead of median-scaled."""
    data = config["data"]
    header = read_header(path)
    check_observer(header, str(path))
    channel = channel_for(header, config, str(path))
    far_side = channel["kind"] in FAR_SIDE_KINDS
    return prepare_map(
        path, channel["kind"], int(data["image_size"]), float(data["radius_px"]),
        expected_wavelength=None if any_wavelength else channel["wavelength"],
        mask_radius_rsun=data["euv_mask_rsun"], median_scale_to=data["euv_median_dn_s"],
        histogram_reference=histogram_reference if far_side else None,
    )


def reference_pair_archive(config: dict[str, Any], model_file: Path, sources: Any,
                           no_reference: bool) -> list[ReferencePair] | None:
    """The reference archive a model with ``data.reference_pair`` needs (None with
    ``no_reference``); a model without it refuses both options. One-line errors, before
    anything is written."""
    data = config["data"]
    if not data["reference_pair"]:
        if sources is not None or no_reference:
            raise ValueError(f"{model_file}: this model (preset {config.get('name')}) takes no "
                             "reference pair: leave out --reference-archive and --no-reference")
        return None
    if sources is not None and no_reference:
        raise ValueError("--reference-archive and --no-reference exclude each other")
    if no_reference:
        return None
    if sources is None:
        raise ValueError(f"{model_file}: this model (preset {config.get('name')}) takes a "
                         "reference pair (AISFM 3.0): give --reference-archive with SDO/AIA + "
                         "HMI files, or --no-reference to run without one")
    return scan_archive(sources, data["input_channels"][0]["wavelength"],
                        float(data["pair_tolerance_s"]))


def input_reference(prepared_map: Any, config: dict[str, Any],
                    archive: list[ReferencePair] | None, name: str,
                    max_offset_deg: float = MAX_CENTRE_OFFSET_DEG
                    ) -> tuple[ReferencePair | None, np.ndarray | None]:
    """(the reference pair, its three channels) for one prepared input: (None, None) for a
    model without the reference pair, (None, zeros) with ``--no-reference``; an input the
    archive has no reference for (no pair whose L0 lay within ``max_offset_deg`` of its
    centre) is refused (ValueError naming it)."""
    data = config["data"]
    if not data["reference_pair"]:
        return None, None
    if archive is None:
        return None, no_reference_channels(int(data["image_size"]))
    centre = float(prepared_map.carrington_longitude.to_value("deg"))
    max_lag = float(data["reference_lag_days"][1])
    pair = far_side_reference(archive, prepared_map.date.unix, centre, max_lag, max_offset_deg)
    if pair is None:
        raise ValueError(f"{name}: no reference pair in the archive: no AIA + HMI pair of the "
                         f"{max_lag:g} days before {prepared_map.date.isot[:19]} had Carrington "
                         f"longitude {centre:.1f} deg within {max_offset_deg:g} deg of its "
                         "central meridian (give older or more files, a larger "
                         "--reference-max-offset, or --no-reference)")
    return pair, reference_channels(pair, prepared_map, ReferencePreparation.from_data(data))


def reference_history(pair: ReferencePair | None, time_unix: float) -> str:
    """The HISTORY card of an output's reference pair."""
    if pair is None:
        return "reference pair: none (--no-reference: the three reference channels 0)"
    return (f"reference pair: {Path(pair.euv_path).name} + {Path(pair.magnetogram_path).name}, "
            f"{pair.time_iso[:19]}, {(time_unix - pair.time_unix) / 86400:.2f} days earlier, "
            "rotated with sunpy's propagate_with_solar_surface")


def aia_histogram_reference(path: str | os.PathLike, config: dict[str, Any]) -> np.ndarray:
    """The on-disk intensities (DN/s, 1-D) of an AIA image prepared as the model's training
    inputs were (frame, mask, median scaling): the target distribution of ``generate
    --histogram-reference`` (one-channel models; FitsInputError naming the file otherwise)."""
    data = config["data"]
    if len(data["input_channels"]) != 1:
        raise ValueError(f"--histogram-reference: {path}: histogram matching takes one "
                         f"reference image, this model has {len(data['input_channels'])} "
                         "input channels")
    channel = data["input_channels"][0]
    size, radius_px = int(data["image_size"]), float(data["radius_px"])
    prepared = prepare_map(Path(path), channel["kind"], size, radius_px,
                           expected_wavelength=channel["wavelength"],
                           mask_radius_rsun=data["euv_mask_rsun"],
                           median_scale_to=data["euv_median_dn_s"])
    return np.asarray(prepared.data)[radial_distance(size) <= radius_px]


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


def write_fits(path: Path, gauss: np.ndarray, header: dict[str, Any], history: Sequence[str],
               layers: Sequence[Any] = ()) -> None:
    """Write ``gauss`` (H, W) float32 with ``header`` and the extension HDUs ``layers``
    (:func:`data_prep.fitsio.layer_hdu`) atomically (temporary file, rename)."""
    from astropy.io import fits

    fits_header = fits.Header()
    for key, value in header.items():
        if isinstance(value, (bool, int, float, str, np.floating, np.integer)):
            fits_header[key.upper()[:8] if len(key) <= 8 else f"HIERARCH {key.upper()}"] = value
    for line in history:
        fits_header.add_history(line)
    with atomic_path(path) as temporary:
        fits.HDUList([fits.PrimaryHDU(gauss.astype(np.float32), fits_header), *layers]).writeto(
            temporary, overwrite=True)


def sample_layers(gauss_samples: np.ndarray, scale: float, off_disk_pixels: np.ndarray,
                  keep_samples: bool) -> tuple[np.ndarray, np.ndarray, list[Any]]:
    """The mean and the uncertainty (H, W) of ``gauss_samples`` (N, H, W), and the
    extension HDUs: UNCERTAINTY, their standard deviation times the calibration ``scale``,
    and, with ``keep_samples``, SAMPLES, the samples spread about the mean by ``scale``;
    NaN off the disk, Gauss."""
    mean, sigma = sample_summary(gauss_samples)
    uncertainty = np.where(off_disk_pixels, np.nan, scale_sigma(sigma, scale)).astype(np.float32)
    layers = [layer_hdu("UNCERTAINTY", uncertainty, "G", "per-pixel standard deviation of "
                        "the samples times UNCSCALE, Gauss")]
    if keep_samples:
        scaled = apply_scale(gauss_samples, scale)
        scaled[:, off_disk_pixels] = np.nan
        layers.append(layer_hdu("SAMPLES", scaled.astype(np.float32), "G",
                                "the NSAMPLES samples, spread about the mean by UNCSCALE, Gauss"))
    return mean.astype(np.float32), uncertainty, layers


@dataclasses.dataclass(frozen=True)
class GenerationJob:
    """What every batch of one ``generate`` run shares (sent once to each Dask worker).

    ``models``: the run directories or generator files; ``method``, ``scale`` and
    ``flux_calibration`` the sampling method and the calibration read from the (first)
    model (``samples`` None: no sampling); ``histogram_reference_dn_s`` the prepared AIA
    image's on-disk DN/s (:func:`aia_histogram_reference`) and ``histogram_reference`` its
    file; ``archive`` the reference pairs (:func:`reference_pair_archive`). The other
    fields are :func:`generate`'s arguments."""

    models: tuple[str, ...]
    out: Path
    overwrite: bool = False
    off_disk: str = "nan"
    quicklook: bool = True
    any_wavelength: bool = False
    samples: int | None = None
    dropout: bool | None = None
    keep_samples: bool = False
    seed: int = 0
    method: str | None = None
    scale: float = 1.0
    flux_calibration: dict[str, Any] | None = None
    histogram_reference: str | None = None
    histogram_reference_dn_s: np.ndarray | None = None
    archive: list[ReferencePair] | None = None
    reference_max_offset_deg: float = MAX_CENTRE_OFFSET_DEG

    def target(self, source: Path) -> Path:
        """The output FITS file of the input (set) whose first-channel file is ``source``."""
        return self.out / f"{Path(source).stem}_magnetogram.fits"


_LOADED: dict[tuple, tuple[list[Any], dict[str, Any], Path]] = {}
#: one batch at a time per process: the loaded models (and the dropout layers' seed
#: states that draw_samples sets) are shared by a worker's task threads
_MODEL_LOCK = threading.RLock()
#: how many times this process has loaded models (each Dask worker: once per model)
MODEL_LOADS = 0


def _model_stamp(model: str | os.PathLike) -> tuple:
    generator_file, config_file = resolve_model_path(model)
    return tuple((str(path.resolve()), path.stat().st_mtime_ns, path.stat().st_size)
                 for path in (generator_file, config_file))


def _grow_gpu_memory() -> None:
    """Let several worker processes share a GPU: each takes the memory it needs, not all
    of it (before TensorFlow first touches the GPU; later it is too late and nothing
    changes)."""
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            pass


def loaded_models(models: Sequence[str | os.PathLike]) -> tuple[list[Any], dict[str, Any], Path]:
    """:func:`solarmaggan.model_files.load_models`, loaded once per process (each Dask
    worker) and reused while the model files stay the same (loaded again when one
    changes). TensorFlow is imported quietly (:func:`solarmaggan.console.load_tensorflow`)
    and uses a GPU where the process has one."""
    global MODEL_LOADS
    from solarmaggan.console import load_tensorflow

    key = tuple(_model_stamp(model) for model in models)
    if key not in _LOADED:
        load_tensorflow()
        _grow_gpu_memory()
        _LOADED.clear()
        _LOADED[key] = load_models(list(models))
        MODEL_LOADS += 1
    return _LOADED[key]


def generate_batch(job: GenerationJob, number: int,
                   sets: Sequence[tuple[Path, list[Path]]]) -> dict[str, Any]:
    """Generate the batch ``number`` of a run: ``sets`` (first-channel file, [file of each
    channel]) prepared, one forward pass (``job.samples`` passes, dropout masks seeded by
    ``job.seed + 10000 number``), each output written atomically unless it exists (and not
    ``job.overwrite``). Every set of the batch is prepared, done or not, so that a batch
    that is finished after an interruption gets the samples of an uninterrupted run.

    Returns ``{"written", "skipped", "failed", "process", "model_loads"}``: this process
    (``host:pid``) and how many times it has loaded models (:func:`loaded_models`)."""
    with _MODEL_LOCK:
        return _generate_batch(job, number, sets)


def _generate_batch(job: GenerationJob, number: int,
                    sets: Sequence[tuple[Path, list[Path]]]) -> dict[str, Any]:
    generators, config, model_file = loaded_models(job.models)
    data = config["data"]
    several = len(data["input_channels"]) > 1
    euv_scaling, magnetogram_scaling = data_normalizations(config)
    limit = float(data["magnetogram_limit_gauss"])
    size, radius_px = int(data["image_size"]), float(data["radius_px"])
    off_disk_pixels = radial_distance(size) > (data["magnetogram_mask_rsun"] or 1.0) * radius_px
    report: dict[str, Any] = {"written": [], "skipped": [], "failed": [],
                              "process": f"{socket.gethostname()}:{os.getpid()}",
                              "model_loads": MODEL_LOADS}
    batch = []
    for source, files in sets:
        try:
            maps = [prepare_input(file, config, job.any_wavelength, job.histogram_reference_dn_s)
                    for file in files]
            reference_input = input_reference(maps[0], config, job.archive, str(source),
                                              job.reference_max_offset_deg)
        except (FitsInputError, ValueError, FileNotFoundError) as err:
            report["failed"].append({"path": str(source), "reason": str(err)})
            continue
        batch.append((Path(source), [Path(file) for file in files], maps, reference_input))
    if not batch:
        return report
    # each channel normalised with the model's record, stacked in the model's order,
    # then the latitude plane of the input's own observer if the model uses it
    euv = np.stack([input_image(maps, euv_scaling, radius_px, data["latitude_channel"],
                                reference_image)
                    for _, _, maps, (_, reference_image) in batch])
    if job.samples is None:
        generated = np.asarray(generators[0](euv, training=False))[None, ..., 0]
    else:
        modes = [config["model"]["stochastic_inference"]] * len(generators)
        generated = draw_samples(generators, euv, job.samples, dropout=job.dropout,
                                 seed=job.seed + 10_000 * number,
                                 stochastic_inference=modes)[..., 0]
    for index, (source, files, maps, (reference_pair, _)) in enumerate(batch):
        target = job.target(source)
        if target.exists() and not job.overwrite:
            report["skipped"].append(str(target))
            continue
        prepared = maps[0]
        layers: list[Any] = []
        uncertainty = None
        if job.samples is None:
            gauss = magnetogram_scaling.denormalize(generated[0, index])
        else:
            gauss, uncertainty, layers = sample_layers(
                magnetogram_scaling.denormalize(generated[:, index]), job.scale,
                off_disk_pixels, job.keep_samples)
        gauss[off_disk_pixels] = np.nan if job.off_disk == "nan" else 0.0
        history = str(prepared.meta.get("history", "")).splitlines()
        if several:
            history += [f"input channel {m.meta.get('wavelnth')} A: {file.name}"
                        for m, file in zip(maps, files)]
        if job.histogram_reference_dn_s is not None and identify(prepared.meta) in FAR_SIDE_KINDS:
            history += [f"histogram reference: {Path(job.histogram_reference).name} (AIA, "
                        "prepared as the training inputs)"]
        if data["latitude_channel"]:
            history += [f"input channel sin latitude: from the observer's B0 "
                        f"{prepared.observer_coordinate.lat.to_value('deg'):.3f} deg"]
        history += [
            f"generated by solarmaggan {__version__} with {model_file.name}, "
            f"preset {config.get('name')}, clipped to +-{limit:g} G, off-disk {job.off_disk}"]
        if data["reference_pair"]:
            history += [reference_history(reference_pair, prepared.date.unix)]
        header = output_header(prepared, config, model_file, source, limit)
        if data["reference_pair"]:
            header.update({key.lower(): value for key, value in
                           reference_cards(reference_pair, prepared.date.unix).items()})
        if job.samples is not None:
            header.update({"uncmeth": job.method, "nsamples": job.samples,
                           "uncscale": job.scale, "uncseed": job.seed})
            if job.flux_calibration:
                header.update(flux_calibration_cards(job.flux_calibration))
            history += [f"{job.samples} samples by {job.method} from "
                        + ", ".join(Path(str(m)).name for m in job.models)
                        + f"; UNCERTAINTY = their standard deviation x {job.scale:.4g}"]
        write_fits(target, gauss, header, history, layers)
        if job.quicklook:
            plotting.quicklook(target.with_suffix(".png"), gauss, limit,
                               f"solarmaggan from {source.name}\n{prepared.meta.get('date-obs')}",
                               uncertainty)
        report["written"].append(str(target))
    return report


def generate(
    model: str | os.PathLike | Sequence[str | os.PathLike],
    inputs: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    batch_size: int = 4,
    overwrite: bool = False,
    off_disk: str = "nan",
    quicklook: bool = True,
    any_wavelength: bool = False,
    progress: bool = True,
    tolerance_s: float | None = None,
    samples: int | None = None,
    dropout: bool | None = None,
    keep_samples: bool = False,
    seed: int = 0,
    histogram_reference: str | os.PathLike | None = None,
    reference_archive: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
    no_reference: bool = False,
    reference_max_offset_deg: float = MAX_CENTRE_OFFSET_DEG,
    scheduler: str = "processes",
    workers: int | None = None,
) -> dict[str, Any]:
    """Generate magnetograms for ``inputs`` (FITS files or folders) into ``out``.

    Far-side inputs (STEREO/EUVI, Solar Orbiter EUI/FSI 304 level 2 at any distance from
    the Sun) are matched to AIA's intensity scale as the model's configuration says (the
    on-disk median scaled to ``euv_median_dn_s``), or, with ``histogram_reference`` (an AIA
    FITS file of the model's channel, one-channel models), histogram-matched to that AIA
    image prepared as the training data were.

    ``model``: a run directory or generator file, or several (an ensemble). With
    ``samples`` N, each input gets N samples (:func:`solarmaggan.sampling.draw_samples`:
    dropout active when ``dropout``, default when the models have it, and/or one model
    after another; masks seeded by ``seed``): the primary image is their mean, the
    UNCERTAINTY extension their standard deviation times the calibration scale stored with
    the (first) model for the method (1 when none was fitted: ``evaluate --samples``), and
    SAMPLES (with ``keep_samples``) the samples; UNCMETH, NSAMPLES, UNCSCALE and UNCSEED
    say how. Without ``samples`` nothing changes.

    A model of several EUV channels takes sets of files grouped by header wavelength and
    time (see the module notes), within ``tolerance_s`` seconds (default: the
    configuration's ``pair_tolerance_s``); ``any_wavelength`` is for one-channel models.

    A model with the reference pair (``data.reference_pair``, AISFM 3.0) needs
    ``reference_archive`` (SDO/AIA + HMI files or folders): each input gets the most recent
    archive pair, at most ``data.reference_lag_days[1]`` days old, in which the same part
    of the Sun faced Earth (:func:`data_prep.reference.far_side_reference`), rotated to the
    input's time and view; an input without one is reported as failed. The part of the
    Sun "faced Earth" when the pair's Earth-facing central meridian L0 lay within
    ``reference_max_offset_deg`` of the input's disk centre (default 15 deg, for archives of
    a pair a day or more; an archive of one pair every N days needs about 6.6 N deg, half
    the rotation between two pairs). ``no_reference`` is the explicit fallback: the three
    channels 0 (nothing seen).

    Batches: the inputs (sets), in the order given, are cut into batches of
    ``batch_size``; each batch is one task (:func:`generate_batch`: prepared, one forward
    pass of B images, written), batch k's dropout masks seeded by ``seed + 10000 k``. With
    ``scheduler`` ``processes`` the batches run here, one after another (TensorFlow's
    threads on every core); with ``dask`` (a local cluster of ``workers`` processes) or
    ``tcp://HOST:PORT`` (:mod:`data_prep.scheduler`) on the workers, each loading the
    models once and writing its outputs atomically into ``out``, which they must see. A
    batch whose outputs all exist is skipped (unless ``overwrite``).

    Returns ``{"written": [...], "skipped": [...], "failed": [{"path", "reason"}],
    "model_loads": {"host:pid" of each process: models loaded}}``; a bad input (or incomplete set) is
    reported and the rest are still processed.
    """
    if off_disk not in OFF_DISK:
        raise ValueError(f"off_disk must be one of {OFF_DISK}, got {off_disk!r}")
    if int(batch_size) < 1:
        raise ValueError(f"--batch-size must be >= 1, got {batch_size}")
    models = tuple(str(m) for m in as_model_list(model))
    generators, config, model_file = loaded_models(models)
    method, scale, flux_calibration = None, 1.0, None
    if samples is not None:
        method = sampling_method(generators, dropout)
        samples = check_samples(samples, len(generators), method)
        record = read_calibration(models[0], method)
        scale = float(record["scale"]) if record else 1.0
        flux_calibration = (record or {}).get("flux")
    elif len(generators) > 1:
        raise ValueError("several models (an ensemble) need --samples")
    data = config["data"]
    several = len(data["input_channels"]) > 1
    if several and any_wavelength:
        raise ValueError(f"{model_file}: takes {len(data['input_channels'])} channels, each "
                         "chosen by the files' wavelength; any_wavelength needs a one-channel "
                         "model")
    reference = (None if histogram_reference is None
                 else aia_histogram_reference(histogram_reference, config))
    if not 0.0 < reference_max_offset_deg <= 180.0:
        raise ValueError(f"--reference-max-offset must lie in (0, 180] deg, got "
                         f"{reference_max_offset_deg:g}")
    archive = reference_pair_archive(config, model_file, reference_archive, no_reference)
    job = GenerationJob(
        models, Path(out), overwrite, off_disk, quicklook, any_wavelength, samples, dropout,
        keep_samples, seed, method, scale, flux_calibration,
        None if histogram_reference is None else str(histogram_reference), reference,
        archive, reference_max_offset_deg)
    report: dict[str, Any] = {"written": [], "skipped": [], "failed": [], "model_loads": {}}
    paths = [Path(p) for p in expand_paths(inputs)]
    if several:
        tolerance = float(data["pair_tolerance_s"] if tolerance_s is None else tolerance_s)
        sets, failures = channel_sets(paths, config, tolerance)
        report["failed"] += failures
    else:
        sets = [(path, [path]) for path in paths]
    batches = [sets[start:start + int(batch_size)] for start in range(0, len(sets), int(batch_size))]
    with open_scheduler(scheduler, 1 if scheduler == "processes" else workers,
                        worker_setup=quiet_worker) as runner:
        job.out.mkdir(parents=True, exist_ok=True)
        bar = Progress(len(sets), "generate", unit="images", enabled=progress, every=1)
        todo = []
        for number, batch in enumerate(batches):
            if overwrite or not all(job.target(source).exists() for source, _ in batch):
                todo.append(number)
                continue
            report["skipped"] += [str(job.target(source)) for source, _ in batch]
            bar.update(len(batch))
        shared = runner.share(job)
        for number, done in zip(todo, runner.map(generate_batch, [(shared, number, batches[number])
                                                                  for number in todo])):
            for key in ("written", "skipped", "failed"):
                report[key] += done[key]
            report["model_loads"][done["process"]] = done["model_loads"]
            bar.update(len(batches[number]))
        bar.close()
    return report
