"""IDX files: round trips in every dtype, raw and gzip, and a clear error for each kind of
broken file."""

import gzip

import numpy as np
import pytest

from juanji.data.idx import read_idx, write_idx

DTYPES = ["uint8", "int8", "int16", "int32", "float32", "float64"]
SHAPES = [(5,), (3, 4), (2, 3, 4), (1, 2, 3, 2)]


def _sample(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return rng.normal(size=shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_round_trip(tmp_path, dtype, shape, suffix):
    a = _sample(dtype, shape)
    path = tmp_path / f"a.idx{suffix}"
    write_idx(path, a)
    b = read_idx(path)
    assert b.dtype == np.dtype(dtype) and b.dtype.isnative
    np.testing.assert_array_equal(a, b)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_big_endian_layout(tmp_path):
    path = tmp_path / "a.idx"
    write_idx(path, np.array([[258, -2]], dtype=np.int16))
    header = bytes([0, 0, 0x0B, 2]) + (1).to_bytes(4, "big") + (2).to_bytes(4, "big")
    assert path.read_bytes() == header + b"\x01\x02\xff\xfe"


def test_compression_is_recognised_by_magic_bytes_not_suffix(tmp_path):
    a = _sample("uint8", (4, 3))
    gz_without_suffix, raw_with_suffix = tmp_path / "images", tmp_path / "labels.gz"
    write_idx(gz_without_suffix, a, compress=True)
    write_idx(raw_with_suffix, a, compress=False)
    np.testing.assert_array_equal(read_idx(gz_without_suffix), a)
    np.testing.assert_array_equal(read_idx(raw_with_suffix), a)


def _valid_bytes():
    return bytes([0, 0, 0x08, 2]) + (2).to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes(6)


BROKEN = {
    "too short": (b"\x00\x00", ["too short", "Received: 2 bytes"]),
    "bad magic": (b"\x12\x34" + _valid_bytes()[2:], ["two zero bytes", "magic=1234"]),
    "unknown dtype": (b"\x00\x00\x0a\x02" + _valid_bytes()[4:], ["dtype code", "code=0x0A"]),
    "zero dims": (b"\x00\x00\x08\x00", ["at least 1", "ndim=0"]),
    "truncated header": (_valid_bytes()[:9], ["truncated in its header", "12 bytes"]),
    "truncated payload": (_valid_bytes()[:-1], ["truncated", "needs 18 bytes", "17 bytes"]),
    "extra bytes": (_valid_bytes() + b"\x00", ["longer than", "needs 18 bytes", "19 bytes"]),
    "corrupt gzip": (gzip.compress(_valid_bytes())[:-6], ["gzip", "truncated or corrupt"]),
}


@pytest.mark.parametrize("kind", list(BROKEN))
def test_broken_file_raises_naming_the_file(tmp_path, kind):
    data, fragments = BROKEN[kind]
    path = tmp_path / "broken-idx3-ubyte"
    path.write_bytes(data)
    with pytest.raises(ValueError) as info:
        read_idx(path)
    for fragment in [str(path), *fragments]:
        assert fragment in str(info.value)


def test_gzip_of_a_broken_file_is_checked_too(tmp_path):
    path = tmp_path / "broken.gz"
    path.write_bytes(gzip.compress(_valid_bytes()[:-2]))
    with pytest.raises(ValueError, match="truncated"):
        read_idx(path)


def test_wrong_number_of_dimensions(tmp_path):
    labels = tmp_path / "labels-idx1-ubyte"
    write_idx(labels, np.arange(5, dtype=np.uint8))
    with pytest.raises(ValueError, match=r"Expected 3\. Received: ndim=1") as info:
        read_idx(labels, ndim=3)
    assert str(labels) in str(info.value)
    assert read_idx(labels, ndim=1).shape == (5,)


@pytest.mark.parametrize(
    "array,match",
    [(np.zeros(3, dtype=np.int64), "array.dtype=int64"), (np.uint8(3), "array.ndim=0")],
)
def test_write_rejects_what_idx_cannot_hold(tmp_path, array, match):
    with pytest.raises(ValueError, match=match):
        write_idx(tmp_path / "x.idx", array)
