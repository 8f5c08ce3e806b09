"""Model files are untrusted input: every load error is a ModelFileError naming the file and
the entry, and every size the file declares is checked before anything is allocated."""

import io
import json
import os
import zipfile

import numpy as np
import pytest

from juanji import layers, saving
from juanji.models import Sequential
from juanji.saving import ModelFileError, load_model, load_weights, read_extra
from tests.safety import no_hang


def _model():
    model = Sequential([layers.Input((4,)), layers.Dense(3, activation="relu"), layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((8, 4), np.float32), np.zeros((8, 2), np.float32), epochs=1, verbose=0)
    return model


@pytest.fixture(scope="module")
def entries(tmp_path_factory):
    """The entries of a valid, compiled and trained model file: {name: bytes}."""
    path = tmp_path_factory.mktemp("model") / "model.juanji"
    _model().save(path)
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write(path, members, method=zipfile.ZIP_DEFLATED):
    """A zip of ``members`` ((name, bytes) pairs, duplicates allowed) at ``path``."""
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return path


def _with(entries, **changes):
    """The entries with some replaced: ``config_json=...`` replaces ``config.json``."""
    return list({**entries, **{k.replace("_", "."): v for k, v in changes.items()}}.items())


def _config(entries, edit):
    config = json.loads(entries["config.json"])
    edit(config)
    return json.dumps(config).encode()


def _npz(**arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _refused(path, *fragments, load=load_model):
    with pytest.raises(ModelFileError) as info:
        load(path)
    for fragment in (str(path), *fragments):
        assert fragment in str(info.value)
    return info.value


def test_a_valid_file_still_loads(tmp_path, entries):
    path = _write(tmp_path / "m.juanji", entries.items())
    model = load_model(path)
    assert model.optimizer.iterations == 1 and model.count_params() == 23


def test_zip_bomb_is_refused_before_decompressing(tmp_path, entries):
    bomb = bytes(100 * 2**20)  # 100 MiB of zeros deflate to about 100 KB
    path = _write(tmp_path / "bomb.juanji", _with(entries, weights_npz=bomb))
    assert os.path.getsize(path) < 2**20
    small = lambda p: load_model(p, max_bytes=2**25)  # noqa: E731
    _refused(path, "weights.npz", "declares 104857600 bytes", load=small)


def _central_header(data, name):
    """The offset of ``name``'s central directory header in the zip ``data``."""
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        length = int.from_bytes(data[at + 28 : at + 30], "little")
        if data[at + 46 : at + 46 + length] == name:
            return at
        at = data.find(b"PK\x01\x02", at + 4)
    raise AssertionError(f"no {name} in the archive")


def test_declared_sizes_beyond_what_deflate_can_give_are_refused(tmp_path, entries):
    path = _write(tmp_path / "lie.juanji", entries.items())
    data = bytearray(path.read_bytes())
    header = _central_header(data, b"weights.npz")
    data[header + 24 : header + 28] = (3 * 10**9).to_bytes(4, "little")  # uncompressed size
    path.write_bytes(bytes(data))
    _refused(path, "weights.npz", "declares 3000000000 bytes")


@pytest.mark.parametrize(
    "edit,fragment",
    [
        (lambda c: c["model"]["config"]["layers"][1]["config"].update(units=10**9), "kernel"),
        (lambda c: c.update(build_input_shape=[None, 10**6, 10**6, 3]), "build_input_shape"),
        (lambda c: c.update(build_input_shape=[None, "4"]), "build_input_shape"),
        (lambda c: c.update(build_input_shape=[None, 4.0]), "build_input_shape"),
    ],
    ids=["huge units", "huge input", "string size", "float size"],
)
def test_declared_layer_and_input_sizes_are_bounded_before_building(
    tmp_path, entries, edit, fragment
):
    path = _write(tmp_path / "big.juanji", _with(entries, config_json=_config(entries, edit)))
    _refused(path, "config.json", fragment)


def test_deep_json_is_refused_before_parsing(tmp_path, entries):
    deep = b'{"format": "juanji.model", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    path = _write(tmp_path / "deep.juanji", _with(entries, config_json=deep))
    _refused(path, "config.json", "nested 100001 levels deep")


def test_a_huge_config_is_refused_before_reading(tmp_path, entries):
    huge = b'{"format": "juanji.model", "x": "' + b" " * (saving.MAX_CONFIG_BYTES + 1) + b'"}'
    path = _write(tmp_path / "huge.juanji", _with(entries, config_json=huge))
    _refused(path, "config.json", "above the limit")


@pytest.mark.parametrize("version", [True, -7, 0, 1.0, "1", None, 2])
def test_format_version_must_be_a_known_integer(tmp_path, entries, version):
    config = _config(entries, lambda c: c.update(format_version=version))
    path = _write(tmp_path / "v.juanji", _with(entries, config_json=config))
    _refused(path, "config.json", f"version {version!r}")


def test_two_entries_of_one_name_are_refused(tmp_path, entries):
    other = _config(entries, lambda c: c["model"]["config"]["layers"][1]["config"].update(units=5))
    with pytest.warns(UserWarning, match="Duplicate name"):
        path = _write(
            tmp_path / "two.juanji", [*entries.items(), ("config.json", other)], zipfile.ZIP_STORED
        )
    _refused(path, "two entries named 'config.json'")


@pytest.mark.parametrize(
    "weight",
    [
        np.ones((4, 3), np.complex64),
        np.full((4, 3), "a"),
        np.ones((4, 3), bool),
        np.ones((4, 3), "datetime64[s]"),
        np.ones((4, 3), np.int32),
    ],
    ids=["complex", "string", "bool", "datetime", "int"],
)
def test_weights_of_other_dtypes_are_refused_not_cast(tmp_path, entries, weight):
    weights = dict(np.load(io.BytesIO(entries["weights.npz"])))
    weights["w0"] = weight
    path = _write(tmp_path / "dtype.juanji", _with(entries, weights_npz=_npz(**weights)))
    _refused(path, "weights.npz/w0.npy", f"dtype {weight.dtype}")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_weights_are_refused(tmp_path, entries, bad):
    weights = dict(np.load(io.BytesIO(entries["weights.npz"])))
    weights["w2"] = weights["w2"].copy()
    weights["w2"][1, 0] = bad
    path = _write(tmp_path / "nan.juanji", _with(entries, weights_npz=_npz(**weights)))
    _refused(path, "weights.npz/w2.npy", "NaN or infinite")


def test_an_array_header_that_lies_about_its_size_is_refused(tmp_path, entries):
    weights = dict(np.load(io.BytesIO(entries["weights.npz"])))
    npy = io.BytesIO()
    header = {"descr": "<f4", "fortran_order": False, "shape": (9, 3)}
    np.lib.format.write_array_header_1_0(npy, header)
    npy.write(weights.pop("w0").tobytes())  # the bytes of (4, 3)
    npz = io.BytesIO()
    with zipfile.ZipFile(npz, "w") as archive:
        archive.writestr("w0.npy", npy.getvalue())
        for key, value in weights.items():
            archive.writestr(f"{key}.npy", _npy(value))
    path = _write(tmp_path / "shape.juanji", _with(entries, weights_npz=npz.getvalue()))
    _refused(path, "weights.npz/w0.npy", "declares shape (9, 3)", "holds 48")


def _npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


CORRUPTIONS = {
    "unknown layer": lambda c: c["model"]["config"]["layers"][1].update(class_name="Nope"),
    "layer config not a dict": lambda c: c["model"]["config"]["layers"][1].update(config=[1]),
    "units a string": lambda c: c["model"]["config"]["layers"][1]["config"].update(units="x"),
    "no layers key": lambda c: c["model"].update(config=None),
    "model a list": lambda c: c.update(model=[1, 2]),
    "extra a list": lambda c: c.update(extra=[1]),
    "compile garbage": lambda c: c.update(compile={"optimizer": 3}),
    "bad activation": lambda c: c["model"]["config"]["layers"][1]["config"].update(
        activation="os.system"
    ),
}


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_corrupt_configs_raise_model_file_errors_naming_the_file(tmp_path, entries, kind):
    config = _config(entries, CORRUPTIONS[kind])
    path = _write(tmp_path / "bad.juanji", _with(entries, config_json=config))
    _refused(path, "config.json")


@pytest.mark.parametrize(
    "data",
    [b"", b"PK\x03\x04" + bytes(40), b"not a zip at all"],
    ids=["empty", "zip header only", "text"],
)
def test_non_zip_files_raise_model_file_errors(tmp_path, data):
    path = tmp_path / "x.juanji"
    path.write_bytes(data)
    for load in (load_model, read_extra, lambda p: load_weights(_model(), p)):
        _refused(path, "not a readable zip archive", load=load)


def test_encrypted_and_other_compression_methods_are_refused(tmp_path, entries):
    path = _write(tmp_path / "lzma.juanji", entries.items(), zipfile.ZIP_LZMA)
    _refused(path, "compression method 14")


def test_weights_files_are_read_within_the_same_limits(tmp_path, entries):
    model = _model()
    path = tmp_path / "w.npz"
    model.save_weights(path)
    load_weights(model, path)
    weights = dict(np.load(path))
    weights["w1"] = np.full_like(weights["w1"], np.nan)
    path.write_bytes(_npz(**weights))
    _refused(path, "w1.npy", "NaN", load=lambda p: load_weights(model, p))


def test_fifos_are_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "model.juanji"
    os.mkfifo(fifo)
    for load in (load_model, read_extra, lambda p: load_weights(_model(), p)):
        with no_hang():
            _refused(fifo, "not a regular file (it is a FIFO)", load=load)


def test_sequential_add_does_not_rescan_the_stack(monkeypatch):
    """Adding n layers visits O(n) list items in all (it was n**2 / 2)."""
    visits = []

    class CountingList(list):
        def __iter__(self):
            for item in super().__iter__():
                visits.append(1)
                yield item

    model = Sequential()
    object.__setattr__(model, "_layers", CountingList())
    for _ in range(300):
        model.add(layers.Dense(2))
    assert len(model.layers) == 300 and len(visits) <= 2 * 300


def test_a_loaded_model_saves_again(tmp_path):
    """An initializer given as an object is held as its config dict after loading."""
    from juanji import initializers

    model = Sequential(
        [layers.Input((3,)), layers.Dense(2, kernel_initializer=initializers.RandomNormal())]
    )
    model.save(tmp_path / "a.juanji")
    load_model(tmp_path / "a.juanji").save(tmp_path / "b.juanji")
    np.testing.assert_array_equal(
        load_model(tmp_path / "b.juanji").get_weights()[0], model.get_weights()[0]
    )
