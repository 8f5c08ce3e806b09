"""Model files: one zip holding ``config.json`` and ``.npz`` arrays; never pickle.

Layout of a model file (format version 1)::

    config.json      {"format": "juanji.model", "format_version": 1, "model": {...},
                      "compile": {...} | null, "extra": {...}}
    weights.npz      w0, w1, ... in ``model.weights`` order
    optimizer.npz    the optimizer's state (iterations and slots), when compiled

Writes go to a temporary file in the destination folder, are fsynced, then renamed over
the destination, so a crash never leaves a half-written file.
"""

import io
import json
import os
import zipfile

import numpy as np

from juanji import registry
from juanji.data.utils import atomic_write

FORMAT = "juanji.model"
FORMAT_VERSION = 1


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


def _read_npz(archive, name, path):
    try:
        with np.load(io.BytesIO(archive.read(name)), allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile, KeyError) as error:
        raise ModelFileError(f"'{path}' is corrupt: cannot read {name} ({error})") from None


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


def _open(path):
    """Read and validate a model file: (config dict, open ZipFile)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No model file at '{path}'.")
    try:
        archive = zipfile.ZipFile(path)
        config = json.loads(archive.read("config.json"))
    except zipfile.BadZipFile:
        raise ModelFileError(
            f"'{path}' is not a juanji model file (not a zip archive, or truncated)."
        ) from None
    except KeyError:
        raise ModelFileError(f"'{path}' is not a juanji model file (no config.json).") from None
    except (json.JSONDecodeError, UnicodeDecodeError, zipfile.error, OSError) as error:
        message = f"'{path}' is corrupt: config.json cannot be read ({error})."
        raise ModelFileError(message) from None
    found = config.get("format") if isinstance(config, dict) else None
    if found != FORMAT:
        raise ModelFileError(
            f"'{path}' is not a juanji model file. Expected format '{FORMAT}'. "
            f"Received: format={found!r}"
        )
    version = config.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"'{path}' uses model format version {version}; this juanji reads "
            f"versions up to {FORMAT_VERSION}. Upgrade juanji to load it."
        )
    return config, archive


def _weights_from(archive, path):
    arrays = _read_npz(archive, "weights.npz", path)
    return [arrays[f"w{i}"] for i in range(len(arrays))]


def load_model(path, compile=True):
    """Rebuild the model saved at ``path``, with its weights and, if asked, its compile
    settings and optimizer state.

    A ``.keras`` file is read as Keras 3's format (see ``juanji.interop.keras_format``;
    needs h5py) and comes back uncompiled.

    Raises:
        FileNotFoundError: no file at ``path``.
        ModelFileError: the file is not a model file, is corrupt or truncated, or comes from a
            newer format version.
    """
    if _is_keras_file(path):
        from juanji.interop import keras_format

        return keras_format.load_keras(path)
    config, archive = _open(path)
    with archive:
        model = registry.get("model", config["model"])
        model.build(tuple(config["build_input_shape"]))
        model.set_weights(_weights_from(archive, path))
        if compile and config.get("compile"):
            model.compile(**model.compile_from_config(config["compile"]))
            if "optimizer.npz" in archive.namelist():
                model.optimizer.set_state(_read_npz(archive, "optimizer.npz", path))
    return model


def restore_state(model, path):
    """Load the weights and optimizer state saved at ``path`` into ``model``; return ``extra``."""
    config, archive = _open(path)
    with archive:
        model.set_weights(_weights_from(archive, path))
        if getattr(model, "optimizer", None) is not None and "optimizer.npz" in archive.namelist():
            model.optimizer.set_state(_read_npz(archive, "optimizer.npz", path))
    return config.get("extra", {})


def read_extra(path):
    """The ``extra`` values stored in the model file at ``path`` (e.g. class names); none
    for a Keras file."""
    if _is_keras_file(path):
        return {}
    config, archive = _open(path)
    archive.close()
    return config.get("extra", {})


def save_weights(model, path):
    """Write only the weight arrays to ``path`` (a ``.npz`` file), atomically."""
    weights = {f"w{i}": w for i, w in enumerate(model.get_weights())}
    _write_file(path, _npz_bytes(weights))


def load_weights(model, path):
    """Load weight arrays written by ``save_weights`` (or a full model file) into ``model``."""
    path = os.fspath(path)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            if "config.json" in archive.namelist():
                restore_state(model, path)
                return
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = [npz[f"w{i}"] for i in range(len(npz.files))]
    except (ValueError, OSError, KeyError) as error:
        raise ModelFileError(f"'{path}' is not a readable weights file ({error}).") from None
    model.set_weights(arrays)
