"""to_categorical, train_test_split, batches, atomic writes and the Keras-style public paths."""

import fcntl
import os
import stat

import numpy as np
import pytest

from juanji.data.utils import atomic_write, batches, to_categorical, train_test_split


def test_to_categorical():
    np.testing.assert_array_equal(to_categorical([2, 0, 1]), np.eye(3)[[2, 0, 1]])
    out = to_categorical(np.array([[1], [3]]), num_classes=5, dtype="float64")
    assert out.shape == (2, 5) and out.dtype == np.float64 and out[1, 3] == 1
    grid = to_categorical(np.array([[0, 1], [1, 0]]))
    assert grid.shape == (2, 2, 2) and grid[0, 1].tolist() == [0, 1]
    np.testing.assert_array_equal(to_categorical(np.array([1.0, 0.0])), [[0, 1], [1, 0]])


@pytest.mark.parametrize(
    "y,kwargs,match",
    [
        ([0, -1, 2], {}, "labels >= 0.*-1"),
        ([0, 5], {"num_classes": 3}, "num_classes=3.*label 5"),
        ([0.5, 1.0], {}, "integer class labels.*0.5"),
        (["a", "b"], {}, "integer class labels"),
        ([0, 1], {"num_classes": 0}, "num_classes=0"),
        ([], {}, "num_classes=None"),
    ],
)
def test_to_categorical_errors(y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        to_categorical(y, **kwargs)


def test_split_is_a_reproducible_partition():
    x, y = np.arange(100) * 10, np.arange(100)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, seed=3)
    assert len(x_test) == 25 and len(x_train) == 75
    np.testing.assert_array_equal(x_train, y_train * 10)  # pairs stay together
    assert sorted(np.concatenate([y_train, y_test]).tolist()) == list(range(100))
    again = train_test_split(x, y, test_size=0.25, seed=3)
    np.testing.assert_array_equal(again[1], x_test)
    assert not np.array_equal(train_test_split(x, y, test_size=0.25, seed=4)[1], x_test)
    assert len(train_test_split(x, None, test_size=7, seed=0)[1]) == 7


def test_stratified_split_keeps_proportions():
    y = np.repeat([0, 1, 2], [50, 30, 20])
    _, _, y_train, y_test = train_test_split(y, y, test_size=0.2, seed=0, stratify=y)
    assert np.bincount(y_test).tolist() == [10, 6, 4]
    assert np.bincount(y_train).tolist() == [40, 24, 16]
    # Remainders: 7 test samples from 3 equal classes still total 7.
    y = np.repeat([0, 1, 2], 10)
    _, x_test, _, _ = train_test_split(y, None, test_size=7, seed=1, stratify=y)
    assert len(x_test) == 7 and sorted(np.bincount(x_test).tolist()) == [2, 2, 3]


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"test_size": 0}, "test_size=0"),
        ({"test_size": 1.5}, "test_size=1.5"),
        ({"test_size": 10}, "test_size=10"),
        ({"stratify": [0, 1]}, "len\\(stratify\\)=2"),
        ({"seed": -1}, "seed=-1"),
    ],
)
def test_split_errors(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        train_test_split(np.arange(10), np.arange(10), **kwargs)


def test_batches():
    assert [b.tolist() for b in batches(7, 3, shuffle=False)] == [[0, 1, 2], [3, 4, 5], [6]]
    shuffled = list(batches(10, 4, rng=0))
    assert [len(b) for b in shuffled] == [4, 4, 2]
    order = np.concatenate(shuffled)
    assert sorted(order.tolist()) == list(range(10)) and order.tolist() != list(range(10))
    np.testing.assert_array_equal(np.concatenate(list(batches(10, 4, rng=0))), order)
    with pytest.raises(ValueError, match="batch_size=0"):
        next(batches(10, 0))


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path):
    path = tmp_path / "file.bin"
    atomic_write(path, b"old")
    atomic_write(path, b"new")
    assert path.read_bytes() == b"new"
    with pytest.raises(TypeError):
        atomic_write(path, "not bytes")
    assert path.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["file.bin"]


def test_public_paths_are_the_implementations():
    import juanji.data as data
    from juanji import datasets, preprocessing, utils
    from juanji.preprocessing import image

    assert datasets.mnist.load_data is data.load_mnist
    assert datasets.digits.load_data is data.load_digits
    assert image.ImageDataGenerator is data.ImageDataGenerator
    assert image.load_img is utils.load_img is data.load_img
    assert preprocessing.image_dataset_from_directory is utils.image_dataset_from_directory
    assert utils.to_categorical is data.to_categorical and utils.batches is data.batches
    assert utils.train_test_split is data.train_test_split
    assert utils.img_to_array is image.img_to_array


def test_atomic_write_gives_the_umask_mode_not_0600(tmp_path):
    previous = os.umask(0o027)
    try:
        atomic_write(tmp_path / "f.bin", b"x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "f.bin").stat().st_mode) == 0o640


def test_orphan_temporary_files_are_removed_by_the_next_write(tmp_path):
    orphan = tmp_path / ".f.bin.0123456789abcdef.tmp"  # what a killed write leaves
    orphan.write_bytes(b"half")
    live = tmp_path / ".f.bin.fedcba9876543210.tmp"  # a write still in progress
    live.write_bytes(b"")
    other = tmp_path / ".g.bin.0123456789abcdef.tmp"  # another file's
    other.write_bytes(b"")
    with open(live, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        atomic_write(tmp_path / "f.bin", b"whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["f.bin", live.name, other.name])
