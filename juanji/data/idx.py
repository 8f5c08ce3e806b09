"""Read and write the IDX format of the MNIST files, raw or gzip-compressed.

An IDX file is a 4-byte magic number (two zero bytes, a dtype code, the number of
dimensions), one big-endian uint32 per dimension, then the values in C order, big-endian.
"""

import gzip
import os
import zlib

import numpy as np

from juanji.data.utils import atomic_write

_GZIP_MAGIC = b"\x1f\x8b"

# IDX dtype code -> big-endian NumPy dtype.
_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dtype.newbyteorder("="): code for code, dtype in _DTYPES.items()}


def _read_bytes(path):
    """The file's contents, decompressed when they start with the gzip magic bytes."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] != _GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(
            f"IDX file {os.fspath(path)!r} starts like a gzip stream but does not decompress: "
            f"it is truncated or corrupt ({e}). Received: {len(data)} compressed bytes"
        ) from None


def read_idx(path, *, ndim=None):
    """Read an IDX file (raw or gzip, recognised by its magic bytes) into an array.

    Args:
        path: the file to read.
        ndim: if given, the number of dimensions the file must have (3 for MNIST images,
            1 for labels), so that a mislabelled file is caught.

    Returns:
        A native-endian array with the file's dtype (uint8, int8, int16, int32, float32 or
        float64) and shape.

    Raises:
        ValueError: naming the file, what was expected and what was found, when the magic
            number, the dtype code, the number of dimensions or the payload length is wrong.
    """
    name = os.fspath(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise ValueError(
            f"IDX file {name!r} is too short for its 4-byte magic number. "
            f"Received: {len(data)} bytes"
        )
    zero0, zero1, code, dims = data[:4]
    if zero0 or zero1:
        raise ValueError(
            f"IDX file {name!r} does not start with two zero bytes: it is not an IDX file. "
            f"Received: magic={data[:4].hex()}"
        )
    if code not in _DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in _DTYPES)
        raise ValueError(
            f"IDX file {name!r} has an unknown dtype code. Expected one of {known}. "
            f"Received: code=0x{code:02X}"
        )
    if dims == 0 or (ndim is not None and dims != ndim):
        expected = "at least 1" if ndim is None else str(ndim)
        raise ValueError(
            f"IDX file {name!r} has the wrong number of dimensions. Expected {expected}. "
            f"Received: ndim={dims}"
        )
    header = 4 + 4 * dims
    if len(data) < header:
        raise ValueError(
            f"IDX file {name!r} is truncated in its header: {dims} dimensions need {header} "
            f"bytes. Received: {len(data)} bytes"
        )
    shape = tuple(int(n) for n in np.frombuffer(data, dtype=">u4", count=dims, offset=4))
    dtype = _DTYPES[code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        problem = "truncated" if len(data) < expected else "longer than its header says"
        raise ValueError(
            f"IDX file {name!r} is {problem}: shape {shape} of {dtype.newbyteorder('=')} needs "
            f"{expected} bytes. Received: {len(data)} bytes"
        )
    return (
        np.frombuffer(data, dtype=dtype, offset=header)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )


def write_idx(path, array, *, compress=None):
    """Write an array as an IDX file, atomically.

    Args:
        path: the destination.
        array: an array of at least one dimension, of dtype uint8, int8, int16, int32,
            float32 or float64.
        compress: gzip the file; by default when ``path`` ends in ``.gz``.

    Raises:
        ValueError: if the dtype has no IDX code or the array is a scalar.
    """
    array = np.asarray(array)
    dtype = array.dtype.newbyteorder("=")
    if dtype not in _CODES:
        raise ValueError(
            "Expected an array of dtype uint8, int8, int16, int32, float32 or float64. "
            f"Received: array.dtype={array.dtype}"
        )
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(
            f"Expected an array of 1 to 255 dimensions. Received: array.ndim={array.ndim}"
        )
    header = bytes([0, 0, _CODES[dtype], array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    data = header + array.astype(_DTYPES[_CODES[dtype]], copy=False).tobytes()
    if compress is None:
        compress = os.fspath(path).endswith(".gz")
    atomic_write(path, gzip.compress(data, mtime=0) if compress else data)
