"""The HDF5 pair format: preprocessed (EUV, magnetogram) pairs, self-describing.

One file holds N pairs. Layout (format ``solarmaggan-pairs``, version 1)::

    /input            (N, H, W, C_in)   float16 (default) in [-1, 1], one chunk per sample
    /target           (N, H, W, C_out)  float16 (default) in [-1, 1], one chunk per sample
    /input_time       (N,) str          observation time, ISO 8601 UTC (the sample's key)
    /target_time      (N,) str          observation time of the target, ISO 8601 UTC
    /input_files      (N,) str          JSON list of the source file names, one per EUV
                                        channel in the order of ``input_channels``
    /target_files     (N,) str          JSON list of the source file names
    /input_header     (N,) str          JSON object: FITS header of the (first) input file
    /target_header    (N,) str          JSON object: FITS header of the target file
    /splits/train, /splits/val, /splits/test   (n,) int64 sample indices

File attributes: ``format``, ``format_version``, ``n_samples``, ``image_size``, ``rsun_px``
(solar radius in pixels, disk centred at ((H - 1) / 2, (W - 1) / 2)), ``input_channels`` and
``target_channels`` (JSON lists of names such as "AIA 304"), ``input_normalization`` and
``target_normalization`` (JSON lists, one :class:`~data_prep.normalization.Normalization`
record per channel), ``split_rule`` (JSON), ``storage_dtype`` and ``metadata`` (JSON:
calibration steps, creator). The string data sets and attributes are UTF-8.

Several input channels (AISFM: "AIA 304", "AIA 193", "AIA 171"): ``/input`` holds them on
its last axis in the order of ``input_channels``, each with its own normalisation record;
a sample's ``input_time`` (its key) and ``input_header`` are those of the first channel's
file and ``input_files`` lists every channel's file. The other channels' observation times
are in the preparation report (``<file>.report.json``, pairing).

The latitude channel (a preset's ``data.latitude_channel``; :mod:`data_prep.latitude`):
the last input channel, named "sin latitude", holds sin(heliographic latitude) of each
pixel as the first EUV file's observer sees the Sun, with the identity normalisation
(``linear``, -1..1, unit "1"); it has no source file.

Writing is atomic and resumable: :class:`PairWriter` works on ``<path>.partial`` and renames
it to ``<path>`` only when closed without error; a later writer on the same path resumes
from the ``.partial`` file (or appends to a copy of the finished file) and skips samples
whose input time is already present.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import h5py
import numpy as np
from astropy.time import Time

from data_prep.normalization import Normalization
from data_prep.splits import SPLITS, SplitRule, assign_splits

FORMAT_NAME = "solarmaggan-pairs"
FORMAT_VERSION = 1
IMAGE_DATASETS = ("input", "target")
TEXT_DATASETS = (
    "input_time", "target_time", "input_files", "target_files", "input_header", "target_header",
)
STORAGE_DTYPES = ("float16", "float32")
COMPRESSIONS = (None, "lzf", "gzip")
RANGE_TOLERANCE = 1e-3  # normalised values may exceed [-1, 1] by rounding only

log = logging.getLogger(__name__)
_TEXT = h5py.string_dtype("utf-8")


class PairFormatError(ValueError):
    """A pair file or a sample that does not follow the format; the message names which."""


def iso_time(value: Any) -> str:
    """An observation time (ISO string, datetime or astropy Time) as ISO 8601 UTC text with
    millisecond precision, e.g. ``"2011-03-05T12:00:00.000"``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError("the observation time is missing")
    try:
        return Time(value, scale="utc").utc.isot
    except Exception as err:  # astropy raises several types for unparsable times
        raise ValueError(f"cannot read {value!r} as an ISO 8601 time: {err}") from None


def header_json(header: Mapping[str, Any] | None) -> str:
    """A FITS header (``astropy.io.fits.Header`` or dict) as JSON text; COMMENT and HISTORY
    cards become lists of strings, other values that JSON lacks become strings."""
    if header is None:
        return "{}"
    record: dict[str, Any] = {}
    for key in header.keys():
        value = header[key]
        if key in ("COMMENT", "HISTORY", ""):
            value = [str(line) for line in value] if not isinstance(value, str) else [value]
        elif not isinstance(value, (bool, int, float, str)) and value is not None:
            value = str(value)
        record[str(key)] = value
    return json.dumps(record, allow_nan=True)


def _as_image(image: Any, shape: tuple[int, int, int], what: str) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim == 2 and shape[2] == 1:
        array = array[:, :, None]
    if array.shape != shape:
        raise PairFormatError(f"{what} has shape {array.shape}, expected {shape}")
    if not np.issubdtype(array.dtype, np.floating):
        raise PairFormatError(
            f"{what} has dtype {array.dtype}; expected floating values normalised to [-1, 1]"
        )
    finite = np.isfinite(array)
    if not finite.all():
        raise PairFormatError(
            f"{what} has {int((~finite).sum())} non-finite (NaN or inf) pixels; mask or fill "
            "them before writing"
        )
    low, high = float(array.min()), float(array.max())
    if low < -1 - RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
        raise PairFormatError(
            f"{what} spans [{low:.4g}, {high:.4g}]; expected values normalised to [-1, 1]"
        )
    return np.clip(array, -1.0, 1.0)


def _texts(dataset: h5py.Dataset, count: int | None = None) -> list[str]:
    """The first ``count`` (all for None) strings of a text data set, as str."""
    values = dataset[...] if count is None else dataset[:count]
    return [v.decode() if isinstance(v, bytes) else v for v in values]


def _write_splits(handle: h5py.File, rule: SplitRule) -> None:
    """(Re)write /splits from the input times under ``rule`` and record the rule."""
    times = _texts(handle["input_time"], int(handle.attrs["n_samples"]))
    if "splits" in handle:
        del handle["splits"]
    group = handle.create_group("splits")
    for split, indices in assign_splits(times, rule).items():
        group.create_dataset(split, data=indices)
    handle.attrs["split_rule"] = json.dumps(rule.to_dict())


def _open_h5(path: Path, mode: str) -> h5py.File:
    try:
        return h5py.File(path, mode)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such pair file") from None
    except OSError as err:
        raise PairFormatError(
            f"{path}: not a readable HDF5 file (truncated or corrupt?): {err}"
        ) from None


class PairFile:
    """Read a pair file (numpy in, numpy out). Use as a context manager or call close().

    Example:
        >>> with PairFile("pairs.h5") as pairs:
        ...     euv, magnetogram = pairs.read_arrays("test")   # (n, H, W, C) float32
        ...     gauss = pairs.target_normalization[0].denormalize(magnetogram[..., 0])
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._file = _open_h5(self.path, "r")
        try:
            self._check()
        except Exception:
            self._file.close()
            raise

    def _fail(self, problem: str) -> PairFormatError:
        return PairFormatError(f"{self.path}: {problem}")

    def _check(self) -> None:
        attrs = self._file.attrs
        if attrs.get("format") != FORMAT_NAME:
            raise self._fail(f"not a {FORMAT_NAME} file (format attribute {attrs.get('format')!r})")
        if int(attrs.get("format_version", -1)) > FORMAT_VERSION:
            raise self._fail(
                f"format version {attrs['format_version']} is newer than this package reads "
                f"({FORMAT_VERSION}); upgrade solarmaggan"
            )
        for name in IMAGE_DATASETS + TEXT_DATASETS:
            if name not in self._file:
                raise self._fail(f"the data set /{name} is missing")
        n = self.n_samples
        for name in IMAGE_DATASETS + TEXT_DATASETS:
            if self._file[name].shape[0] < n:
                raise self._fail(
                    f"/{name} holds {self._file[name].shape[0]} samples, the file claims {n}"
                )
        size = self.image_size
        for name, channels in (("input", self.input_channels), ("target", self.target_channels)):
            expected = (size, size, len(channels))
            if self._file[name].shape[1:] != expected:
                raise self._fail(f"/{name} has samples of shape {self._file[name].shape[1:]}, "
                                 f"attributes say {expected}")

    def _json_attr(self, name: str) -> Any:
        try:
            return json.loads(self._file.attrs[name])
        except KeyError:
            raise self._fail(f"the attribute {name!r} is missing") from None
        except (TypeError, ValueError) as err:
            raise self._fail(f"the attribute {name!r} is not valid JSON: {err}") from None

    # -- file-level description -------------------------------------------------------
    @property
    def n_samples(self) -> int:
        return int(self._file.attrs.get("n_samples", 0))

    def __len__(self) -> int:
        return self.n_samples

    @property
    def image_size(self) -> int:
        return int(self._file.attrs["image_size"])

    @property
    def rsun_px(self) -> float:
        """Solar radius in pixels; the disk is centred in the frame."""
        return float(self._file.attrs["rsun_px"])

    @property
    def input_channels(self) -> list[str]:
        return list(self._json_attr("input_channels"))

    @property
    def target_channels(self) -> list[str]:
        return list(self._json_attr("target_channels"))

    @property
    def input_normalization(self) -> list[Normalization]:
        return [Normalization.from_dict(r) for r in self._json_attr("input_normalization")]

    @property
    def target_normalization(self) -> list[Normalization]:
        return [Normalization.from_dict(r) for r in self._json_attr("target_normalization")]

    @property
    def split_rule(self) -> SplitRule:
        return SplitRule.from_dict(self._json_attr("split_rule"))

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self._json_attr("metadata"))

    @property
    def storage_dtype(self) -> str:
        return str(self._file["input"].dtype)

    # -- samples ------------------------------------------------------------------------
    def split_indices(self, split: str | None) -> np.ndarray:
        """Sample indices of ``split`` ("train", "val", "test"), or all samples for None."""
        if split is None or split == "all":
            return np.arange(self.n_samples, dtype=np.int64)
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS} or None, got {split!r}")
        if f"splits/{split}" not in self._file:
            raise self._fail(f"the split /splits/{split} is missing (file not finished?)")
        return np.asarray(self._file[f"splits/{split}"][...], dtype=np.int64)

    def times(self, which: str = "input") -> list[str]:
        """Observation times (ISO 8601 UTC) of the input or target of every sample."""
        if which not in ("input", "target"):
            raise ValueError(f"which must be 'input' or 'target', got {which!r}")
        return _texts(self._file[f"{which}_time"], self.n_samples)

    def _check_index(self, index: int) -> None:
        if not 0 <= index < self.n_samples:
            raise IndexError(f"{self.path}: sample {index} is out of range 0..{self.n_samples - 1}")

    def stored_sample(self, name: str, index: int) -> np.ndarray:
        """``/input`` or ``/target`` sample ``index`` (H, W, C) in the storage dtype."""
        self._check_index(index)
        return self._file[name][index]

    def text(self, name: str, index: int) -> Any:
        """Text record ``name`` (one of ``TEXT_DATASETS``) of sample ``index``: a time as an
        ISO string, a file list or header as the decoded JSON. Reads no image."""
        self._check_index(index)
        text = self._file[name][index]
        text = text.decode() if isinstance(text, bytes) else text
        return text if name.endswith("_time") else json.loads(text)

    def header(self, index: int, which: str = "target") -> dict[str, Any]:
        """The FITS header (dict) of the input or target of sample ``index``."""
        if which not in ("input", "target"):
            raise ValueError(f"which must be 'input' or 'target', got {which!r}")
        return self.text(f"{which}_header", index)

    def read(self, index: int) -> dict[str, Any]:
        """One sample: ``input`` and ``target`` as float32 (H, W, C) arrays in [-1, 1], their
        times, source file lists and headers (dicts)."""
        sample: dict[str, Any] = {
            name: self.stored_sample(name, index).astype(np.float32) for name in IMAGE_DATASETS
        }
        sample.update({name: self.text(name, index) for name in TEXT_DATASETS})
        return sample

    def read_arrays(self, split: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """All (input, target) images of a split as float32 (n, H, W, C) arrays (in memory)."""
        indices = self.split_indices(split)
        return tuple(  # type: ignore[return-value]
            np.stack([self._file[name][i] for i in indices]).astype(np.float32)
            if len(indices) else np.zeros((0, *self._file[name].shape[1:]), np.float32)
            for name in IMAGE_DATASETS
        )

    def sample_offsets(self, name: str) -> np.ndarray | None:
        """Byte offset in the file of each sample of ``/input`` or ``/target``, or None when
        the samples are not stored as raw bytes (compressed, or not one chunk per sample).

        Lets fast readers (``solarmaggan.data``) map the samples straight from the file.
        """
        dataset = self._file[name]
        if dataset.compression is not None or dataset.chunks is None:
            return None
        if dataset.chunks != (1, *dataset.shape[1:]):
            return None
        sample_bytes = int(np.prod(dataset.shape[1:])) * dataset.dtype.itemsize
        offsets = np.empty(self.n_samples, dtype=np.int64)
        for index in range(self.n_samples):
            info = dataset.id.get_chunk_info_by_coord((index, 0, 0, 0))
            if info.byte_offset is None or info.size != sample_bytes:
                return None
            offsets[index] = info.byte_offset
        return offsets

    def describe(self) -> str:
        """A human-readable summary of the file: shapes, channels, scaling, splits, times."""
        times = self.times("input")
        lines = [
            f"{self.path}",
            f"  format          {FORMAT_NAME} v{int(self._file.attrs['format_version'])}",
            f"  samples         {self.n_samples}",
            f"  image size      {self.image_size} x {self.image_size}, solar radius "
            f"{self.rsun_px:g} px",
            f"  storage         {self.storage_dtype}, chunks {self._file['input'].chunks}, "
            f"compression {self._file['input'].compression}",
        ]
        for role, channels, norms in (
            ("input ", self.input_channels, self.input_normalization),
            ("target", self.target_channels, self.target_normalization),
        ):
            for channel, norm in zip(channels, norms):
                lines.append(
                    f"  {role} channel  {channel}: {norm.kind} scaling, clip "
                    f"[{norm.clip_min:g}, {norm.clip_max:g}] {norm.unit} -> [-1, 1]"
                )
        if times:
            lines.append(f"  input times     {min(times)} .. {max(times)}")
        rule = self.split_rule
        for split in SPLITS:
            count = len(self.split_indices(split)) if f"splits/{split}" in self._file else 0
            lines.append(f"  split {split:<5}     {count} samples")
        lines.append(
            f"  split rule      test months {list(rule.test_months)}, validation months "
            f"{list(rule.val_months)}, training the rest"
        )
        for key, value in self.metadata.items():
            lines.append(f"  {key:<15} {value}")
        return "\n".join(lines)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "PairFile":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def describe(path: str | os.PathLike) -> str:
    """The :meth:`PairFile.describe` text of the file at ``path``."""
    with PairFile(path) as pairs:
        return pairs.describe()


def partial_path(path: str | os.PathLike) -> Path:
    """Where a :class:`PairWriter` keeps the unfinished file for ``path``."""
    path = Path(path)
    return path.with_name(path.name + ".partial")


class PairWriter:
    """Append validated samples to a pair file, atomically and resumably.

    Args:
        path: the finished file's path (``.h5``).
        image_size: H = W of every image.
        input_channels, target_channels: channel names, e.g. ``["AIA 304"]``, ``["HMI LOS"]``.
        input_normalization, target_normalization: one Normalization per channel.
        rsun_px: solar radius in pixels (the disk is centred in the frame).
        split_rule: months of the test and validation splits.
        storage_dtype: "float16" (default: half the I/O, 3 significant digits, ample for
            [-1, 1] data) or "float32".
        compression: None (default), "lzf" or "gzip" (see README: it does not pay).
        metadata: JSON-able file-level record (calibration steps, creator, ...).

    Use as a context manager: on a clean exit the splits are computed and ``<path>.partial``
    is renamed to ``path``; on an exception the ``.partial`` file stays for resuming.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        image_size: int,
        input_channels: Sequence[str],
        target_channels: Sequence[str],
        input_normalization: Sequence[Normalization],
        target_normalization: Sequence[Normalization],
        rsun_px: float,
        split_rule: SplitRule = SplitRule(),
        storage_dtype: str = "float16",
        compression: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ):
        self.path = Path(path)
        self.partial = partial_path(self.path)
        if storage_dtype not in STORAGE_DTYPES:
            raise ValueError(f"storage_dtype must be one of {STORAGE_DTYPES}, got {storage_dtype!r}")
        if compression not in COMPRESSIONS:
            raise ValueError(f"compression must be one of {COMPRESSIONS}, got {compression!r}")
        if len(input_normalization) != len(input_channels):
            raise ValueError("give one input normalisation per input channel")
        if len(target_normalization) != len(target_channels):
            raise ValueError("give one target normalisation per target channel")
        if not rsun_px > 0:
            raise ValueError(f"rsun_px must be > 0, got {rsun_px}")
        self.input_shape = (int(image_size), int(image_size), len(input_channels))
        self.target_shape = (int(image_size), int(image_size), len(target_channels))
        self.split_rule = split_rule
        self._attrs = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "image_size": int(image_size),
            "rsun_px": float(rsun_px),
            "input_channels": json.dumps(list(input_channels)),
            "target_channels": json.dumps(list(target_channels)),
            "input_normalization": json.dumps([n.to_dict() for n in input_normalization]),
            "target_normalization": json.dumps([n.to_dict() for n in target_normalization]),
            "split_rule": json.dumps(split_rule.to_dict()),
            "metadata": json.dumps(dict(metadata or {})),
        }
        self._describing = ("image_size", "rsun_px", "input_channels", "target_channels",
                            "input_normalization", "target_normalization")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self._open(storage_dtype, compression)
        self._keys = set(_texts(self._file["input_time"]))

    # -- opening, resuming ----------------------------------------------------------------
    def _open(self, storage_dtype: str, compression: str | None) -> h5py.File:
        if self.partial.exists():
            try:
                handle = self._reopen(self.partial)
                log.info("resuming %s from %s", self.path, self.partial)
                return handle
            except PairFormatError as err:
                log.warning("discarding the unreadable unfinished file: %s", err)
                self.partial.unlink()
        if self.path.exists():
            shutil.copyfile(self.path, self.partial)
            try:
                return self._reopen(self.partial)
            except Exception:
                self.partial.unlink()
                raise
        return self._create(storage_dtype, compression)

    def _reopen(self, path: Path) -> h5py.File:
        PairFile(path).close()  # validates format and layout
        handle = _open_h5(path, "r+")
        for key in self._describing:
            stored = handle.attrs[key]
            stored = stored.item() if isinstance(stored, np.generic) else stored
            if stored != self._attrs[key]:
                handle.close()
                raise ValueError(
                    f"{self.path} was written with {key} = {stored!r}, this writer has "
                    f"{self._attrs[key]!r}; write to another file"
                )
        n = int(handle.attrs["n_samples"])
        for name in IMAGE_DATASETS + TEXT_DATASETS:  # drop a sample cut off mid-write
            handle[name].resize(n, axis=0)
        handle.attrs["metadata"] = self._attrs["metadata"]
        return handle

    def _create(self, storage_dtype: str, compression: str | None) -> h5py.File:
        handle = h5py.File(self.partial, "w")
        handle.attrs.update(self._attrs)
        handle.attrs["n_samples"] = 0
        for name, shape in (("input", self.input_shape), ("target", self.target_shape)):
            handle.create_dataset(
                name, shape=(0, *shape), maxshape=(None, *shape), dtype=storage_dtype,
                chunks=(1, *shape), compression=compression,
            )
        for name in TEXT_DATASETS:
            handle.create_dataset(name, shape=(0,), maxshape=(None,), dtype=_TEXT, chunks=(256,))
        handle.flush()
        return handle

    # -- writing ------------------------------------------------------------------------
    @property
    def n_samples(self) -> int:
        return int(self._file.attrs["n_samples"])

    def has(self, input_time: Any) -> bool:
        """True if a sample with this input observation time is already in the file."""
        return iso_time(input_time) in self._keys

    def add(
        self,
        input_image: np.ndarray,
        target_image: np.ndarray,
        input_time: Any,
        target_time: Any,
        input_files: Iterable[str] = (),
        target_files: Iterable[str] = (),
        input_header: Mapping[str, Any] | None = None,
        target_header: Mapping[str, Any] | None = None,
    ) -> bool:
        """Validate and append one pair; return False (and write nothing) if a sample with
        the same input time is already present.

        ``input_image``: (H, W, C_in) and ``target_image``: (H, W, C_out), floating, finite,
        normalised to [-1, 1] ((H, W) is accepted for one channel). Raises PairFormatError
        naming the sample on any problem.
        """
        label = f"sample {self.n_samples} (input time {input_time!r})"
        try:
            key = iso_time(input_time)
            target_key = iso_time(target_time)
        except ValueError as err:
            raise PairFormatError(f"{label}: {err}") from None
        if key in self._keys:
            return False
        label = f"sample {self.n_samples} (input time {key})"
        euv = _as_image(input_image, self.input_shape, f"{label}: the input image")
        magnetogram = _as_image(target_image, self.target_shape, f"{label}: the target image")
        index = self.n_samples
        values = {
            "input": euv, "target": magnetogram,
            "input_time": key, "target_time": target_key,
            "input_files": json.dumps([str(f) for f in input_files]),
            "target_files": json.dumps([str(f) for f in target_files]),
            "input_header": header_json(input_header),
            "target_header": header_json(target_header),
        }
        for name, value in values.items():
            dataset = self._file[name]
            if name in IMAGE_DATASETS:
                # cast with numpy: HDF5 1.14's own float32 -> float16 conversion halves values
                # that round up to a power of two (0.99984 would be stored as 0.5)
                value = value.astype(dataset.dtype)
            dataset.resize(index + 1, axis=0)
            dataset[index] = value
        self._file.attrs["n_samples"] = index + 1  # the sample counts only once complete
        self._file.flush()
        self._keys.add(key)
        return True

    def close(self) -> Path:
        """Compute the splits, close, and atomically rename ``.partial`` to the final path."""
        _write_splits(self._file, self.split_rule)
        self._file.close()
        os.replace(self.partial, self.path)
        return self.path

    def abandon(self) -> None:
        """Close without finishing: the ``.partial`` file stays for a later resume."""
        if self._file.id.valid:
            self._file.flush()
            self._file.close()

    def __enter__(self) -> "PairWriter":
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abandon()


def resplit(path: str | os.PathLike, rule: SplitRule) -> None:
    """Recompute the splits of a finished file with another rule (atomically)."""
    path = Path(path)
    with PairFile(path):
        pass
    temporary = partial_path(path)
    shutil.copyfile(path, temporary)
    with h5py.File(temporary, "r+") as handle:
        _write_splits(handle, rule)
    os.replace(temporary, path)
