"""Model files: one zip holding ``config.json`` and ``.npz`` arrays; never pickle.

Layout of a model file (format version 1)::

    config.json      {"format": "juanji.model", "format_version": 1, "model": {...},
                      "compile": {...} | null, "extra": {...}}
    weights.npz      w0, w1, ... in ``model.weights`` order
    optimizer.npz    the optimizer's state (iterations and slots), when compiled

Writes go to a temporary file in the destination folder, are fsynced, then renamed over
the destination, so a crash never leaves a half-written file.
"""

import contextlib
import io
import json
import math
import os
import re
import struct
import zipfile
import zlib

import numpy as np

from juanji import registry
from juanji.data.utils import atomic_write, open_regular
from juanji.layers.base import weight_budget

FORMAT = "juanji.model"
FORMAT_VERSION = 1

# Limits of what a model file may ask for, checked before anything is allocated.
MAX_MODEL_BYTES = 2**30  # bytes read from one file's entries, in all (load_model's default)
MAX_CONFIG_BYTES = 2**24  # config.json
MAX_CONFIG_DEPTH = 64  # nesting of lists and objects in config.json
MAX_INPUT_VALUES = 2**26  # values of one sample of build_input_shape
# Deflate compresses at most about 1032:1; an entry claiming more is refused unread.
_MAX_DEFLATE_RATIO = 1100
# What zipfile raises on damaged archives (found by tests/fuzz_loaders.py).
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    struct.error,
    NotImplementedError,  # "zip file version 6.4" from a damaged header
    OSError,
    EOFError,
    ValueError,
)
_WEIGHT_KINDS = "f"  # weights are floating point
_STATE_KINDS = "fiu"  # optimizer state: float slots and an integer step count


class ModelFileError(ValueError):
    """A model or weights file that cannot be read: missing parts, corrupt or hostile content.

    Every load error of a model file is of this type; its message names the file and the
    entry that is wrong, and what was expected.
    """


def _write_file(path, data):
    """Write ``data`` atomically, creating the destination folder if needed."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    atomic_write(os.fspath(path), data)


def _npz_bytes(arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


class _Zip:
    """A zip archive read within limits: no duplicate or encrypted entries, only stored or
    deflated ones, and every entry's declared size checked against the bytes present and
    the budget before it is decompressed (it is never read past its declared size).

    Args:
        source: a binary file object.
        size: the bytes present in ``source``.
        where: names the archive in errors (``'model.juanji'``, ``'model.juanji'/weights.npz``).
        budget: a one-item list, the bytes still allowed to be read (shared by nested zips).
        nested: ``source`` is in memory already, so stored entries cost nothing more.
    """

    def __init__(self, source, size, where, budget, nested=False):
        self.where, self.budget, self.nested = where, budget, nested
        try:
            self.zip = zipfile.ZipFile(source)
            infos = self.zip.infolist()
        except _ZIP_ERRORS as e:
            raise ModelFileError(
                f"{where} is corrupt or not a juanji model file: not a readable zip archive ({e})."
            ) from None
        self.entries = {}
        for info in infos:
            if info.filename in self.entries:
                raise ModelFileError(f"{where} holds two entries named {info.filename!r}.")
            self.entries[info.filename] = info
            self._check(info, size)

    def _check(self, info, size):
        entry = f"{self.where}/{info.filename}"
        if info.flag_bits & 0x1:
            raise ModelFileError(f"{entry} is encrypted; model files never are.")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ModelFileError(
                f"{entry} uses compression method {info.compress_type}; expected stored (0) "
                "or deflated (8)."
            )
        ratio = 1 if info.compress_type == zipfile.ZIP_STORED else _MAX_DEFLATE_RATIO
        if info.compress_size > size or info.file_size > ratio * info.compress_size:
            raise ModelFileError(
                f"{entry} declares {info.file_size} bytes from {info.compress_size} compressed "
                f"bytes, which the {size} bytes of the archive cannot hold."
            )

    def names(self):
        return list(self.entries)

    def read(self, name, limit=None):
        """The bytes of entry ``name``, charged to the budget (and at most ``limit``)."""
        entry = f"{self.where}/{name}"
        info = self.entries.get(name)
        if info is None:
            raise ModelFileError(f"{self.where} has no entry {name!r}.")
        cost = 0 if self.nested and info.compress_type == zipfile.ZIP_STORED else info.file_size
        allowed = self.budget[0] if limit is None else min(limit, self.budget[0])
        if cost > allowed:
            raise ModelFileError(
                f"{entry} declares {info.file_size} bytes, above the limit of {allowed}."
            )
        self.budget[0] -= cost
        try:
            with self.zip.open(info) as member:
                return member.read()
        except _ZIP_ERRORS as e:
            raise ModelFileError(f"{entry} is corrupt ({type(e).__name__}: {e}).") from None

    def close(self):
        self.zip.close()


def _read_arrays(archive, name, kinds):
    """The arrays of the ``.npz`` entry ``name`` of ``archive`` (see :func:`_arrays`)."""
    data = archive.read(name)
    inner = _Zip(io.BytesIO(data), len(data), f"{archive.where}/{name}", archive.budget, True)
    try:
        return _arrays(inner, kinds)
    finally:
        inner.close()


def _arrays(npz, kinds):
    """The arrays of an ``.npz`` archive, each header checked first (a dtype kind among
    ``kinds``, shape times item size equal to the bytes present), finite values only."""
    return {
        key.removesuffix(".npy"): _read_npy(npz, key, kinds)
        for key in npz.names()
        if key.endswith(".npy")
    }


def _read_npy(archive, name, kinds):
    entry = f"{archive.where}/{name}"
    info = archive.entries[name]
    buffer = io.BytesIO(archive.read(name))
    try:
        version = np.lib.format.read_magic(buffer)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"npy format version {version}")
        read_header = getattr(np.lib.format, f"read_array_header_{version[0]}_0")
        shape, fortran, dtype = read_header(buffer)
    except (ValueError, SyntaxError, TypeError, EOFError) as e:
        raise ModelFileError(f"{entry} has no readable array header ({e}).") from None
    if dtype.hasobject or dtype.kind not in kinds or dtype.fields is not None:
        expected = "floating point" if kinds == _WEIGHT_KINDS else "numbers"
        raise ModelFileError(f"{entry} holds dtype {dtype}; expected {expected}.")
    needed = math.prod(shape) * dtype.itemsize
    present = info.file_size - buffer.tell()
    if needed != present:
        raise ModelFileError(
            f"{entry} declares shape {shape} of {dtype} ({needed} bytes) but holds {present}."
        )
    array = np.frombuffer(buffer.getbuffer()[buffer.tell() :], dtype=dtype)
    array = array.reshape(shape, order="F" if fortran else "C").copy()
    if dtype.kind == "f" and not np.isfinite(array).all():
        raise ModelFileError(f"{entry} holds NaN or infinite values.")
    return array


def _check_depth(data, where):
    """Refuse JSON nested deeper than MAX_CONFIG_DEPTH, without parsing it."""
    skeleton = re.sub(rb'"(?:[^"\\]|\\.)*"', b"", data)
    steps = np.frombuffer(skeleton, np.uint8)
    depth = np.cumsum(np.isin(steps, (91, 123)).astype(np.int64) - np.isin(steps, (93, 125)))
    if depth.size and depth.max() > MAX_CONFIG_DEPTH:
        raise ModelFileError(
            f"{where} is nested {int(depth.max())} levels deep; the limit is {MAX_CONFIG_DEPTH}."
        )


def save_model(model, path, extra=None, include_optimizer=True):
    """Write ``model`` (architecture, weights, compile settings, optimizer state) to ``path``.

    Args:
        model: a built model with ``get_config``.
        path: destination file, conventionally ``*.juanji`` (or ``*.zip``).
        extra: JSON-only values stored alongside (e.g. a training checkpoint's epoch).
    """
    if _is_keras_file(path):
        raise ValueError(
            f"'{path}' names a Keras 3 file, and juanji writes its own format: save to a "
            "'.juanji' file instead (juanji reads .keras files with load_model, and "
            "model.export writes ONNX for other runtimes)."
        )
    if not model.built:
        raise ValueError(f"Model '{model.name}' is not built yet: call it or fit it before saving.")
    optimizer = getattr(model, "optimizer", None) if include_optimizer else None
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": registry.serialize(model),
        "build_input_shape": list(model.build_input_shape),
        "compile": model.compile_config() if getattr(model, "compiled", False) else None,
        "extra": extra or {},
    }
    weights = {f"w{i}": w for i, w in enumerate(model.get_weights())}

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", json.dumps(config, indent=1))
        archive.writestr("weights.npz", _npz_bytes(weights))
        if optimizer is not None and optimizer.iterations > 0:
            archive.writestr("optimizer.npz", _npz_bytes(optimizer.get_state()))
    _write_file(path, buffer.getvalue())


def _is_keras_file(path):
    return os.fspath(path).lower().endswith(".keras")


@contextlib.contextmanager
def _model_file(path, max_bytes=MAX_MODEL_BYTES):
    """The validated ``config.json`` of a model file and its archive, open while in use.

    Raises:
        FileNotFoundError: no file at ``path``.
        ModelFileError: for anything else that keeps the file from being read.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No model file at '{path}'.")
    with open_regular(path, ModelFileError) as f:
        archive = _Zip(f, os.fstat(f.fileno()).st_size, f"'{path}'", [max_bytes])
        try:
            yield _read_config(archive), archive
        finally:
            archive.close()


def _read_config(archive):
    where = f"{archive.where}/config.json"
    if "config.json" not in archive.entries:
        raise ModelFileError(f"{archive.where} is not a juanji model file (no config.json).")
    data = archive.read("config.json", limit=MAX_CONFIG_BYTES)
    _check_depth(data, where)
    try:
        config = json.loads(data)
    except (ValueError, RecursionError) as error:  # JSONDecodeError, bad UTF-8, huge ints
        raise ModelFileError(f"{where} is not valid JSON ({error}).") from None
    found = config.get("format") if isinstance(config, dict) else None
    if found != FORMAT:
        raise ModelFileError(
            f"{archive.where} is not a juanji model file. Expected format '{FORMAT}'. "
            f"Received: format={found!r}"
        )
    version = config.get("format_version")
    if type(version) is not int or not 1 <= version <= FORMAT_VERSION:
        raise ModelFileError(
            f"{where}: model format version {version!r} is not one this juanji reads (an "
            f"integer from 1 to {FORMAT_VERSION}; a newer file needs a newer juanji)."
        )
    for key, kind in (("model", dict), ("build_input_shape", list), ("extra", dict)):
        if not isinstance(config.get(key, {}), kind):
            raise ModelFileError(f"{where}: '{key}' must be a JSON {kind.__name__}.")
    return config


def _input_shape(config, where):
    """``build_input_shape`` as a tuple, checked: ``[null, d1, ..., dk]`` with 1 <= k <= 4
    positive integer sizes whose product is at most MAX_INPUT_VALUES."""
    shape = config.get("build_input_shape")
    dims = shape[1:] if isinstance(shape, list) else None
    if not (
        dims
        and len(dims) <= 4
        and shape[0] is None
        and all(type(d) is int and d > 0 for d in dims)
        and math.prod(dims) <= MAX_INPUT_VALUES
    ):
        raise ModelFileError(
            f"{where}: build_input_shape must be [null, d1, ...] with 1 to 4 positive integer "
            f"sizes of at most {MAX_INPUT_VALUES} values in all. Received: {shape!r}"
        )
    return (None, *dims)


@contextlib.contextmanager
def _entry(where):
    """Report any failure to rebuild from the file's content as a ModelFileError."""
    try:
        yield
    except ModelFileError:
        raise
    except Exception as error:  # hostile content can fail a constructor in any way
        raise ModelFileError(f"{where}: {type(error).__name__}: {error}") from error


def _weights_from(archive):
    return _weight_list(_read_arrays(archive, "weights.npz", _WEIGHT_KINDS), archive)


def _weight_list(arrays, archive):
    names = [f"w{i}" for i in range(len(arrays))]
    if sorted(arrays) != sorted(names):
        raise ModelFileError(
            f"{archive.where}: the weights must be w0 ... w{len(arrays) - 1}. "
            f"Received: {sorted(arrays)}"
        )
    return [arrays[name] for name in names]


def _restore_optimizer(model, archive):
    if getattr(model, "optimizer", None) is not None and "optimizer.npz" in archive.entries:
        state = _read_arrays(archive, "optimizer.npz", _STATE_KINDS)
        with _entry(f"{archive.where}/optimizer.npz"):
            model.optimizer.set_state(state)


def load_model(path, compile=True, max_bytes=MAX_MODEL_BYTES):
    """Rebuild the model saved at ``path``, with its weights and, if asked, its compile
    settings and optimizer state.

    The file is untrusted input: nothing in it is executed, and every size it declares is
    checked before memory is allocated (see SECURITY.md).

    A ``.keras`` file is read as Keras 3's format (see ``juanji.interop.keras_format``;
    needs h5py) and comes back uncompiled.

    Args:
        path: the model file.
        compile: also restore the compile settings and the optimizer state.
        max_bytes: the most bytes the file's entries may decompress to, in all.

    Raises:
        FileNotFoundError: no file at ``path``.
        ModelFileError: (a ValueError) the file is not a model file, is corrupt, truncated
            or hostile, asks for more than the limits, or comes from a newer format version;
            the message names the file and the entry.
    """
    if _is_keras_file(path):
        from juanji.interop import keras_format

        return keras_format.load_keras(path)
    with _model_file(path, max_bytes) as (config, archive):
        where = f"{archive.where}/config.json"
        shape = _input_shape(config, where)
        weights = _weights_from(archive)
        with _entry(f"{where}: model"), weight_budget(sum(w.size for w in weights)):
            model = registry.get("model", config["model"])
            model.build(shape)
        with _entry(f"{archive.where}/weights.npz"):
            model.set_weights(weights)
        if compile and config.get("compile"):
            with _entry(f"{where}: compile"):
                model.compile(**model.compile_from_config(config["compile"]))
            _restore_optimizer(model, archive)
    return model


def restore_state(model, path):
    """Load the weights and optimizer state saved at ``path`` into ``model``; return ``extra``.

    Raises:
        FileNotFoundError: no file at ``path``.
        ModelFileError: the file cannot be read or does not fit ``model``.
    """
    with _model_file(path) as (config, archive):
        weights = _weights_from(archive)
        with _entry(f"{archive.where}/weights.npz"):
            model.set_weights(weights)
        _restore_optimizer(model, archive)
    return config.get("extra", {})


def read_extra(path):
    """The ``extra`` values stored in the model file at ``path`` (e.g. class names); none
    for a Keras file.

    Raises:
        FileNotFoundError, ModelFileError: as :func:`load_model`.
    """
    if _is_keras_file(path):
        return {}
    with _model_file(path) as (config, _):
        return config.get("extra", {})


def save_weights(model, path):
    """Write only the weight arrays to ``path`` (a ``.npz`` file), atomically."""
    weights = {f"w{i}": w for i, w in enumerate(model.get_weights())}
    _write_file(path, _npz_bytes(weights))


def load_weights(model, path):
    """Load weight arrays written by ``save_weights`` (or a full model file) into ``model``.

    Raises:
        FileNotFoundError: no file at ``path``.
        ModelFileError: the file cannot be read or its arrays do not fit ``model``.
    """
    path = os.fspath(path)
    with open_regular(path, ModelFileError) as f:
        archive = _Zip(f, os.fstat(f.fileno()).st_size, f"'{path}'", [MAX_MODEL_BYTES])
        try:
            if "config.json" in archive.entries:
                _read_config(archive)
                weights = _weights_from(archive)
            else:
                weights = _weight_list(_arrays(archive, _WEIGHT_KINDS), archive)
        finally:
            archive.close()
    with _entry(f"'{path}'"):
        model.set_weights(weights)
