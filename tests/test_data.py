"""The tf.data stream over HDF5 pair files."""

import numpy as np
import pytest

from data_prep.normalization import euv_normalization, magnetogram_normalization
from data_prep.pairs import PairFile, PairWriter
from solarmaggan.data import make_dataset, shift_from_seed, shift_into

SIZE = 32
MONTHS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2]


def ramp_image(index: int) -> np.ndarray:
    """A pattern whose every pixel value is distinct, so a shift can be recovered."""
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    return ((y * SIZE + x) / SIZE**2 * 1.6 - 0.8 + index * 0.01)[:, :, None].astype(np.float32)


@pytest.fixture(scope="module")
def pair_file(tmp_path_factory):
    """Pairs with target = -input, one a month (two extra in January / February)."""
    path = tmp_path_factory.mktemp("data") / "pairs.h5"
    with PairWriter(path, SIZE, ["AIA 304"], ["HMI LOS"], [euv_normalization()],
                    [magnetogram_normalization()], rsun_px=12.25,
                    storage_dtype="float32") as writer:
        for index, month in enumerate(MONTHS):
            time = f"2013-{month:02d}-{index + 1:02d}T00:00:00"
            writer.add(ramp_image(index), -ramp_image(index), time, time)
    return path


def collect(dataset) -> tuple[np.ndarray, np.ndarray]:
    batches = list(dataset)
    return (np.concatenate([b[0].numpy() for b in batches]),
            np.concatenate([b[1].numpy() for b in batches]))


def test_stream_yields_the_split_in_float32_batches(pair_file):
    dataset = make_dataset(pair_file, "train", batch_size=4, shuffle=False, augment=False)
    shapes = [(inputs.shape, targets.shape, inputs.dtype.name) for inputs, targets in dataset]
    assert shapes == [((4, SIZE, SIZE, 1), (4, SIZE, SIZE, 1), "float32")] * 2 + [
        ((3, SIZE, SIZE, 1), (3, SIZE, SIZE, 1), "float32")]
    inputs, targets = collect(dataset)
    with PairFile(pair_file) as pairs:
        expected_inputs, expected_targets = pairs.read_arrays("train")
    np.testing.assert_array_equal(inputs, expected_inputs)
    np.testing.assert_array_equal(targets, expected_targets)
    dropped = make_dataset(pair_file, "train", batch_size=4, shuffle=False, drop_remainder=True)
    assert [int(b[0].shape[0]) for b in dropped] == [4, 4]


def test_input_and_target_get_the_same_shift(pair_file):
    inputs, targets = collect(make_dataset(pair_file, "train", batch_size=3, seed=5))
    np.testing.assert_array_equal(targets, -inputs)
    with PairFile(pair_file) as pairs:
        stored = {round(float(pairs.read(i)["input"][0, 0, 0]), 4): pairs.read(i)["input"]
                  for i in pairs.split_indices("train")}
    shifts = set()
    for image in inputs:
        # locate the stored image whose interior reappears translated by at most 15 px
        for original in stored.values():
            found = [(dy, dx) for dy in range(-15, 16) for dx in range(-15, 16)
                     if np.array_equal(image[15:-15, 15:-15],
                                       np.roll(original, (dy, dx), (0, 1))[15:-15, 15:-15])]
            if found:
                shifts.add(found[0])
                break
        else:
            raise AssertionError("an augmented image is not a translated stored image")
    assert len(shifts) > 1  # the shifts vary from pair to pair


def test_seed_makes_the_stream_reproducible(pair_file):
    first = collect(make_dataset(pair_file, "train", batch_size=2, seed=11))[0]
    again = collect(make_dataset(pair_file, "train", batch_size=2, seed=11))[0]
    other = collect(make_dataset(pair_file, "train", batch_size=2, seed=12))[0]
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    # repeated passes are reshuffled and re-augmented, reproducibly; skipping resumes
    repeated = make_dataset(pair_file, "train", batch_size=1, seed=11, repeat=True)
    passes = collect(repeated.take(2 * len(first)))[0]
    np.testing.assert_array_equal(passes[: len(first)], first)
    assert not np.array_equal(passes[len(first):], first)
    resumed = collect(make_dataset(pair_file, "train", batch_size=1, seed=11, repeat=True,
                                   skip_batches=8).take(10))[0]
    np.testing.assert_array_equal(resumed, passes[8:18])


def test_compressed_files_stream_through_h5py_with_the_same_values(pair_file, tmp_path):
    compressed = tmp_path / "gzip.h5"
    with PairFile(pair_file) as pairs, PairWriter(
        compressed, SIZE, ["AIA 304"], ["HMI LOS"], [euv_normalization()],
        [magnetogram_normalization()], rsun_px=12.25, storage_dtype="float32",
        compression="gzip",
    ) as writer:
        for index in range(len(pairs)):
            sample = pairs.read(index)
            writer.add(sample["input"], sample["target"], sample["input_time"], sample["target_time"])
    memory_mapped = collect(make_dataset(pair_file, "val", batch_size=2, seed=3))
    through_h5py = collect(make_dataset(compressed, "val", batch_size=2, seed=3))
    np.testing.assert_array_equal(memory_mapped[0], through_h5py[0])


def test_bad_requests_name_the_problem(pair_file, tmp_path):
    with PairFile(pair_file) as pairs:
        assert len(pairs.split_indices("val")) == 1
    with pytest.raises(ValueError, match="max_shift_px must be in 0..15"):
        make_dataset(pair_file, "train", max_shift_px=16)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        make_dataset(pair_file, "train", batch_size=0)
    with pytest.raises(ValueError, match="split must be one of"):
        make_dataset(pair_file, "training")
    empty = tmp_path / "empty.h5"
    with PairWriter(empty, SIZE, ["AIA 304"], ["HMI LOS"], [euv_normalization()],
                    [magnetogram_normalization()], rsun_px=12.25) as writer:
        writer.add(ramp_image(0), ramp_image(0), "2013-09-01T00:00:00", "2013-09-01T00:00:00")
    with pytest.raises(ValueError, match=r"empty.h5: the split 'train' holds no samples"):
        make_dataset(empty, "train")


def test_shift_moves_pixels_and_repeats_the_edges():
    image = ramp_image(0)
    out = np.empty_like(image)
    shift_into(image, out, 2, -3)
    np.testing.assert_array_equal(out[2:, :-3], image[:-2, 3:])
    np.testing.assert_array_equal(out[0], out[2])          # top rows repeat the first copied row
    np.testing.assert_array_equal(out[:, -1], out[:, -4])  # right columns repeat likewise
    choices = {shift_from_seed(seed, 2) for seed in range(-200, 200)}
    assert choices == {(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)}
