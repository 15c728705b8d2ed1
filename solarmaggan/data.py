"""Stream (EUV, magnetogram) pairs from an HDF5 pair file through ``tf.data``.

The file is never loaded into memory. When its samples are stored uncompressed, one chunk
per sample (the format's default), each sample is read straight from the file's bytes
through a read-only ``numpy.memmap`` (the page cache does the rest); compressed files are
read through h5py. Blocks of ``READ_BLOCK`` pairs are read by one Python call (parallel
``tf.data`` map calls), the random translation is applied during that one copy, and the
cast from the float16 storage to float32 runs in TensorFlow; then the blocks are cut into
batches. Measurements behind these choices: docs/benchmarks.md.

Augmentation, as in the original code: the same random translation of up to
``max_shift_px`` pixels (seed: 15) in each direction on input and target, no flips (flips
break the hemispheric polarity rules). Pixels shifted in from outside the frame repeat the
nearest edge row or column (off-limb sky), instead of the original's constant padding.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from data_prep.pairs import PairFile

DEFAULT_MAX_SHIFT_PX = 15
READ_BLOCK = 8  # pairs read by one Python call (measured: scripts/bench_data.py)


def shift_into(source: np.ndarray, out: np.ndarray, shift_y: int, shift_x: int) -> None:
    """Copy ``source`` (H, W, C) into ``out`` (H, W, C) translated by (shift_y, shift_x)
    pixels (positive: down / right, i.e. south / west in a north-up image), casting to
    ``out``'s dtype; the uncovered border repeats the nearest copied row / column."""
    height, width = source.shape[:2]
    if not (abs(shift_y) < height and abs(shift_x) < width):
        raise ValueError(f"shift ({shift_y}, {shift_x}) px is too large for a {height} x {width} image")
    out[max(shift_y, 0): height + min(shift_y, 0), max(shift_x, 0): width + min(shift_x, 0)] = (
        source[max(-shift_y, 0): height + min(-shift_y, 0), max(-shift_x, 0): width + min(-shift_x, 0)]
    )
    if shift_y > 0:
        out[:shift_y] = out[shift_y: shift_y + 1]
    elif shift_y < 0:
        out[height + shift_y:] = out[height + shift_y - 1: height + shift_y]
    if shift_x > 0:
        out[:, :shift_x] = out[:, shift_x: shift_x + 1]
    elif shift_x < 0:
        out[:, width + shift_x:] = out[:, width + shift_x - 1: width + shift_x]


def shift_from_seed(shift_seed: int, max_shift_px: int) -> tuple[int, int]:
    """The (dy, dx) translation, each uniform in [-max_shift_px, max_shift_px], that a
    random 64-bit ``shift_seed`` selects (its low bits index the (2s + 1)**2 choices)."""
    choices = 2 * max_shift_px + 1
    code = (shift_seed % 2**64) % choices**2  # 2**64 >> choices**2: bias below 1e-15
    return code // choices - max_shift_px, code % choices - max_shift_px


class PairReader:
    """Random access to the samples of a pair file as numpy arrays, for ``tf.data``.

    Uses a read-only memory map of the file when its samples are raw bytes (uncompressed,
    one chunk per sample), else h5py. ``read_batch`` is what the stream calls.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._pairs = PairFile(self.path)
        self.image_size = self._pairs.image_size
        self.input_shape = (self.image_size, self.image_size, len(self._pairs.input_channels))
        self.target_shape = (self.image_size, self.image_size, len(self._pairs.target_channels))
        self.storage_dtype = np.dtype(self._pairs.storage_dtype)
        offsets = {name: self._pairs.sample_offsets(name) for name in ("input", "target")}
        if all(value is not None for value in offsets.values()):
            self._offsets = offsets
            self._bytes = np.memmap(self.path, dtype=np.uint8, mode="r")
        else:
            self._offsets = None

    @property
    def uses_memory_map(self) -> bool:
        return self._offsets is not None

    def split_indices(self, split: str | None) -> np.ndarray:
        return self._pairs.split_indices(split)

    def sample(self, name: str, index: int) -> np.ndarray:
        """``/input`` or ``/target`` sample ``index`` as stored (H, W, C), read-only."""
        shape = self.input_shape if name == "input" else self.target_shape
        if self._offsets is None:
            return self._pairs.stored_sample(name, index)
        start = int(self._offsets[name][index])
        size = int(np.prod(shape)) * self.storage_dtype.itemsize
        return np.frombuffer(self._bytes[start: start + size], self.storage_dtype).reshape(shape)

    def read_batch(self, indices: np.ndarray, shift_seeds: np.ndarray, max_shift_px: int
                   ) -> tuple[np.ndarray, np.ndarray]:
        """Samples ``indices`` (B,) as batches (B, H, W, C_in) and (B, H, W, C_out) in the
        storage dtype, each translated by the shift that its seed in ``shift_seeds`` (B,)
        selects (see :func:`shift_from_seed`)."""
        inputs = np.empty((len(indices), *self.input_shape), self.storage_dtype)
        targets = np.empty((len(indices), *self.target_shape), self.storage_dtype)
        for row, (index, shift_seed) in enumerate(zip(indices, shift_seeds)):
            shift_y, shift_x = shift_from_seed(int(shift_seed), max_shift_px)
            shift_into(self.sample("input", index), inputs[row], shift_y, shift_x)
            shift_into(self.sample("target", index), targets[row], shift_y, shift_x)
        return inputs, targets

    def close(self) -> None:
        self._pairs.close()


def make_dataset(
    path: str | os.PathLike,
    split: str | None = "train",
    batch_size: int = 1,
    shuffle: bool = True,
    augment: bool = True,
    seed: int | None = None,
    max_shift_px: int = DEFAULT_MAX_SHIFT_PX,
    repeat: bool = False,
    skip_batches: int = 0,
    drop_remainder: bool = False,
    num_parallel_calls: int = tf.data.AUTOTUNE,
    shard: tuple[int, int] | None = None,
) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of ``(input, target)`` float32 batches from a pair file.

    Args:
        path: HDF5 pair file (``data_prep.pairs`` format).
        split: "train", "val", "test", or None for every sample.
        batch_size: pairs a batch (seed: 1).
        shuffle: reshuffle the split every pass.
        augment: apply the same random translation to input and target.
        seed: makes the order and the shifts reproducible (None: random).
        max_shift_px: largest translation in pixels along each axis (seed: 15).
        repeat: repeat passes without end (each pass reshuffled).
        skip_batches: batches to skip at the start without reading them (resuming a run
            with the same seed continues the same stream).
        drop_remainder: drop a last, smaller batch.
        num_parallel_calls: batches read in parallel.
        shard: (count, index): keep every count-th pair of the shuffled stream, starting at
            ``index`` (one shard an input pipeline of a ``tf.distribute`` strategy; with
            the same seed the shards are disjoint). ``skip_batches`` counts this shard's
            batches.

    Returns:
        Batches of shapes (B, H, W, C_in) and (B, H, W, C_out), values in [-1, 1].

    Raises:
        ValueError: an empty split, a bad batch size, shift or shard (naming the file).
    """
    reader = PairReader(path)
    indices = reader.split_indices(split)
    if len(indices) == 0:
        raise ValueError(f"{reader.path}: the split {split!r} holds no samples")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not 0 <= max_shift_px < reader.image_size // 2:
        raise ValueError(
            f"max_shift_px must be in 0..{reader.image_size // 2 - 1} for {reader.image_size} px "
            f"images, got {max_shift_px}"
        )
    shift = max_shift_px if augment else 0
    if shard is not None:
        count, index = shard
        if not 0 <= index < count:
            raise ValueError(f"shard index must be in 0..{count - 1}, got {index}")
        if count > 1 and shuffle and seed is None:
            raise ValueError("sharding a shuffled stream needs a seed, so that every pipeline "
                             "shuffles alike and the shards do not overlap")

    dataset = tf.data.Dataset.from_tensor_slices(indices)
    if shuffle:
        dataset = dataset.shuffle(len(indices), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    # every pair gets its own random number, which selects its shift in read_batch
    shift_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    dataset = tf.data.Dataset.zip(dataset, shift_seeds)
    if shard is not None and shard[0] > 1:
        dataset = dataset.shard(*shard)
    if skip_batches:
        dataset = dataset.skip(skip_batches * batch_size)
    # read READ_BLOCK pairs a call (fewer Python calls), then cut into batches
    block = max(batch_size, READ_BLOCK)
    storage = tf.as_dtype(reader.storage_dtype)

    @tf.autograph.experimental.do_not_convert
    def read(block_indices, block_seeds):
        inputs, targets = tf.numpy_function(
            lambda indices, seeds: reader.read_batch(indices, seeds, shift),
            [block_indices, block_seeds], [storage, storage], stateful=False,
        )
        inputs = tf.cast(tf.ensure_shape(inputs, (None, *reader.input_shape)), tf.float32)
        targets = tf.cast(tf.ensure_shape(targets, (None, *reader.target_shape)), tf.float32)
        return inputs, targets

    dataset = dataset.batch(block).map(read, num_parallel_calls=num_parallel_calls)
    if block != batch_size:
        dataset = dataset.rebatch(batch_size, drop_remainder=drop_remainder)
    elif drop_remainder:
        dataset = dataset.filter(lambda inputs, _: tf.shape(inputs)[0] == batch_size)
    options = tf.data.Options()
    options.deterministic = seed is not None or not shuffle  # else blocks may overtake
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)
