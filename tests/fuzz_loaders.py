"""Fuzz the loaders of untrusted files with Hypothesis: valid model files, IDX files and
images mutated byte by byte must each load or fail with the one documented exception type,
within a time bound, without starting a process.

Run by tests/test_fuzz.py in a subprocess under a memory cap (``resource.RLIMIT_AS``):
``python tests/fuzz_loaders.py {model,idx,image} EXAMPLES``. Exits 0 when every case held.
"""

import gzip
import io
import json
import os
import sys
import tempfile
import warnings
import zipfile

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from juanji import layers  # noqa: E402
from juanji.data import DataFileError, load_img, read_idx, write_idx  # noqa: E402
from juanji.models import Sequential  # noqa: E402
from juanji.saving import ModelFileError, load_model  # noqa: E402
from tests.safety import no_hang, no_process  # noqa: E402

warnings.simplefilter("ignore")  # decoders warn about the damage they see
SECONDS_PER_CASE = 20  # a bound on hangs, far above a normal load (milliseconds)
FOLDER = tempfile.mkdtemp(prefix="juanji-fuzz-")


def _model_entries():
    model = Sequential(
        [
            layers.Input((6, 6, 1)),
            layers.Conv2D(2, 3, activation="relu"),
            layers.Flatten(),
            layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(np.ones((4, 6, 6, 1), np.float32), np.eye(3)[[0, 1, 2, 0]], epochs=1, verbose=0)
    path = os.path.join(FOLDER, "valid.juanji")
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _zip(entries, method=zipfile.ZIP_DEFLATED):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _images():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    files = []
    for fmt, mode in [
        ("PNG", "RGB"),
        ("PNG", "I;16"),
        ("JPEG", "RGB"),
        ("BMP", "RGB"),
        ("GIF", "P"),
        ("TIFF", "RGB"),
        ("WEBP", "RGB"),
        ("PPM", "RGB"),
    ]:
        img = Image.fromarray(rgb)
        if mode == "I;16":
            img = Image.fromarray(rgb[..., 0].astype(np.uint16) * 257)
        elif mode != "RGB":
            img = img.convert(mode)
        buffer = io.BytesIO()
        img.save(buffer, format=fmt)
        files.append(buffer.getvalue())
    return files


def _idx_files():
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    found = []
    for name in ("raw-idx3-ubyte", "packed-idx3-ubyte.gz"):
        path = os.path.join(FOLDER, name)
        write_idx(path, a)
        with open(path, "rb") as f:
            found.append(f.read())
    return found


def _mutated(data, edits, cut):
    """``data`` with bytes replaced at (position, value) ``edits``, then cut to ``cut``."""
    out = bytearray(data)
    for position, value in edits:
        if out:
            out[position % len(out)] = value
    return bytes(out[: max(0, len(out) - cut)])


EDITS = st.lists(st.tuples(st.integers(0, 2**20), st.integers(0, 255)), min_size=1, max_size=8)
CUTS = st.one_of(st.just(0), st.integers(0, 64))


def _check(load, data, allowed):
    """Load ``data`` from a file: it must load, or raise ``allowed``; never start a process
    or run past the time bound."""
    path = os.path.join(FOLDER, "case")
    with open(path, "wb") as f:
        f.write(data)
    with no_process() as attempts, no_hang(SECONDS_PER_CASE):
        try:
            load(path)
        except allowed:
            pass
    assert attempts == [], attempts


def fuzz_model(examples):
    entries = _model_entries()
    names = sorted(entries)

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        st.sampled_from(["file", *names]),
        st.sampled_from([zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED]),
        EDITS,
        CUTS,
    )
    def case(target, method, edits, cut):
        if target == "file":  # the archive's own bytes
            data = _mutated(_zip(entries, method), edits, cut)
        else:  # one entry's bytes, zipped again so that they reach the parser
            data = _zip({**entries, target: _mutated(entries[target], edits, cut)}, method)
        _check(load_model, data, ModelFileError)

    case()


def fuzz_json_values(examples):
    """Any JSON value in place of a config field must give a ModelFileError, never another."""
    entries = _model_entries()
    config = json.loads(entries["config.json"])
    paths = [("format_version",), ("build_input_shape",), ("model", "config", "layers")]
    for i, layer in enumerate(config["model"]["config"]["layers"]):
        paths += [("model", "config", "layers", i, "class_name")]
        paths += [("model", "config", "layers", i, "config", k) for k in layer["config"]]
    values = st.recursive(
        st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=8,
    )

    @settings(
        max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(st.sampled_from(paths), values)
    def case(path, value):
        edited = json.loads(entries["config.json"])
        node = edited
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        data = _zip({**entries, "config.json": json.dumps(edited)})
        _check(load_model, data, ModelFileError)

    case()


def fuzz_idx(examples):
    files = _idx_files()

    @settings(
        max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(st.sampled_from(range(len(files))), EDITS, CUTS)
    def case(which, edits, cut):
        data = _mutated(files[which], edits, cut)
        _check(read_idx, data, DataFileError)
        if which == 1:  # also mutate the payload before compressing it
            _check(read_idx, gzip.compress(_mutated(files[0], edits, cut)), DataFileError)

    case()


def fuzz_image(examples):
    files = _images()

    @settings(
        max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(st.sampled_from(range(len(files))), EDITS, CUTS, st.sampled_from(["grayscale", "rgb"]))
    def case(which, edits, cut, mode):
        data = _mutated(files[which], edits, cut)
        _check(lambda p: load_img(p, color_mode=mode, target_size=(4, 4)), data, DataFileError)

    case()


TARGETS = {
    "model": fuzz_model,
    "json": fuzz_json_values,
    "idx": fuzz_idx,
    "image": fuzz_image,
}

if __name__ == "__main__":
    target, count = sys.argv[1], int(sys.argv[2])
    TARGETS[target](count)
    print(f"fuzz {target}: {count} cases held")
