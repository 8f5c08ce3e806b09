"""Read and write the IDX format of the MNIST files, raw or gzip-compressed.

An IDX file is a 4-byte magic number (two zero bytes, a dtype code, the number of
dimensions), one big-endian uint32 per dimension, then the values in C order, big-endian.
"""

import gzip
import math
import os
import zlib

import numpy as np

from juanji.data.utils import DataFileError, atomic_write, open_regular

_GZIP_MAGIC = b"\x1f\x8b"
# The largest payload read_idx accepts by default: MNIST's training images are 47 MB.
MAX_IDX_BYTES = 2**30
# Deflate compresses at most about 1032:1, so a gzip file of n bytes holds at most this
# many times n; a header that declares more is a lie (or a bomb), refused before reading.
_MAX_GZIP_RATIO = 1100

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


def read_idx(path, *, ndim=None, max_bytes=MAX_IDX_BYTES):
    """Read an IDX file (raw or gzip, recognised by its magic bytes) into an array.

    The header is checked before the payload is read: its declared size must fit under
    ``max_bytes`` and in what the file can hold, so a small hostile file cannot make this
    allocate or decompress more than that.

    Args:
        path: the file to read (a regular file: FIFOs and devices are refused).
        ndim: if given, the number of dimensions the file must have (3 for MNIST images,
            1 for labels), so that a mislabelled file is caught.
        max_bytes: the largest payload (product of the shape times the item size) accepted.

    Returns:
        A native-endian array with the file's dtype (uint8, int8, int16, int32, float32 or
        float64) and shape.

    Raises:
        FileNotFoundError: nothing at ``path``.
        juanji.data.DataFileError: (a ValueError) naming the file, what was expected and
            what was found, when the magic number, the dtype code, the number of dimensions,
            the declared size or the payload length is wrong, or the gzip stream is corrupt.
    """
    name = os.fspath(path)
    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        compressed = f.read(2) == _GZIP_MAGIC
        f.seek(0)
        if not compressed:
            return _parse(f, name, ndim, max_bytes, capacity=size, exact=size)
        try:
            with gzip.GzipFile(fileobj=f, mode="rb") as stream:
                return _parse(stream, name, ndim, max_bytes, capacity=size * _MAX_GZIP_RATIO)
        except (OSError, EOFError, zlib.error) as e:
            raise DataFileError(
                f"IDX file {name!r} starts like a gzip stream but does not decompress: "
                f"it is truncated or corrupt ({e}). Received: {size} compressed bytes"
            ) from None


def _read(stream, count, read_so_far, exact):
    """``count`` bytes of ``stream`` (fewer at its end) and the total read, as a string."""
    data = stream.read(count)
    total = read_so_far + len(data)
    received = f"{exact if exact is not None else total} bytes"
    return data, received


def _parse(stream, name, ndim, max_bytes, capacity, exact=None):
    """The array in ``stream``; ``capacity``: the most bytes it can hold; ``exact``: its
    length when known (a raw file)."""
    magic, received = _read(stream, 4, 0, exact)
    if len(magic) < 4:
        raise DataFileError(
            f"IDX file {name!r} is too short for its 4-byte magic number. Received: {received}"
        )
    zero0, zero1, code, dims = magic
    if zero0 or zero1:
        raise DataFileError(
            f"IDX file {name!r} does not start with two zero bytes: it is not an IDX file. "
            f"Received: magic={magic.hex()}"
        )
    if code not in _DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in _DTYPES)
        raise DataFileError(
            f"IDX file {name!r} has an unknown dtype code. Expected one of {known}. "
            f"Received: code=0x{code:02X}"
        )
    if dims == 0 or (ndim is not None and dims != ndim):
        expected = "at least 1" if ndim is None else str(ndim)
        raise DataFileError(
            f"IDX file {name!r} has the wrong number of dimensions. Expected {expected}. "
            f"Received: ndim={dims}"
        )
    header = 4 + 4 * dims
    sizes, received = _read(stream, 4 * dims, 4, exact)
    if len(sizes) < 4 * dims:
        raise DataFileError(
            f"IDX file {name!r} is truncated in its header: {dims} dimensions need {header} "
            f"bytes. Received: {received}"
        )
    shape = tuple(int.from_bytes(sizes[i : i + 4], "big") for i in range(0, 4 * dims, 4))
    dtype = _DTYPES[code]
    payload = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    needs = f"shape {shape} of {dtype.newbyteorder('=')} needs {header + payload} bytes"
    if payload > max_bytes:
        raise DataFileError(
            f"IDX file {name!r} declares {payload} bytes of data, above the limit of "
            f"{max_bytes} (max_bytes): {needs}; refused."
        )
    if header + payload > capacity:
        if exact is not None:
            raise DataFileError(f"IDX file {name!r} is truncated: {needs}. Received: {received}")
        raise DataFileError(
            f"IDX file {name!r} declares more data than its {capacity // _MAX_GZIP_RATIO} "
            f"compressed bytes can hold: {needs}; refused."
        )
    data, received = _read(stream, payload + 1, header, exact)
    if len(data) != payload or (exact is not None and exact != header + payload):
        problem = "truncated" if len(data) < payload else "longer than its header says"
        if exact is None and len(data) > payload:
            received = f"more than {header + payload} bytes"
        raise DataFileError(f"IDX file {name!r} is {problem}: {needs}. Received: {received}")
    return np.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


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
