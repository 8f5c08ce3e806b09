"""Keras 3 ``.keras`` files into juanji: a file written by real Keras 3 predicts as Keras did,
and crafted files are refused with a clear error without running anything."""

import contextlib
import io
import json
import pathlib
import sys
import zipfile

import numpy as np
import pytest

import juanji
from juanji import saving, zoo
from juanji.saving import ModelFileError

h5py = pytest.importorskip("h5py")

from juanji.interop import keras_format  # noqa: E402  (after the skip)

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
KERAS_CNN = FIXTURES / "keras_cnn.keras"

# Audit events that running code from a file, or starting a process, would raise.
_WATCHED = (
    "exec",
    "compile",
    "import",
    "marshal.loads",
    "pickle.find_class",
    "subprocess.Popen",
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.fork",
    "ctypes.dlopen",
)
_events = None


def _audit(event, args):
    if _events is not None and event.startswith(_WATCHED):
        _events.append(event)


sys.addaudithook(_audit)  # NOTE: hooks stay for the process; it records only when asked


@contextlib.contextmanager
def _nothing_runs():
    """Fail if code is compiled, executed or imported, or a process started, inside."""
    global _events
    _events = []
    try:
        yield
    finally:
        seen, _events = _events, None
        assert not seen, f"loading ran something: {seen}"


def test_a_file_written_by_keras_predicts_as_keras_did():
    stored = np.load(FIXTURES / "keras_cnn_predictions.npz", allow_pickle=False)
    model = juanji.load_model(KERAS_CNN)
    assert [type(layer).__name__ for layer in model.layers] == [
        "InputLayer", "Conv2D", "BatchNormalization", "MaxPooling2D", "Conv2D",
        "BatchNormalization", "Activation", "Flatten", "Dense", "Dropout", "Dense",
    ]  # fmt: skip
    bn = model.layers[5]
    assert np.abs(bn.moving_mean.data).max() > 0.05  # trained statistics, not the initial ones
    assert not np.allclose(bn.moving_variance.data, 1, atol=0.05)
    assert model.layers[4].padding == "same" and model.layers[4].strides == (2, 2)
    predictions = model.predict(stored["x"])
    np.testing.assert_allclose(predictions, stored["y0"], rtol=1e-5, atol=1e-5)
    with _nothing_runs():  # everything is imported now: a second load runs nothing
        saving.load_model(KERAS_CNN)


def test_a_functional_keras_model_with_two_outputs():
    stored = np.load(FIXTURES / "keras_residual_predictions.npz", allow_pickle=False)
    model = saving.load_model(FIXTURES / "keras_residual.keras")
    assert type(model).__name__ == "Functional" and model.output_names == ["label", "box"]
    kinds = {type(layer).__name__ for layer in model.layers}
    assert {"Add", "Concatenate", "DepthwiseConv2D", "SeparableConv2D", "UpSampling2D"} <= kinds
    assert {"Rescaling", "Normalization", "RandomFlip", "Resizing", "CenterCrop"} <= kinds
    label, box = model.predict(stored["x"])
    np.testing.assert_allclose(label, stored["y0"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(box, stored["y1"], rtol=1e-5, atol=1e-5)


def test_a_keras_model_of_volumes_and_transposed_convolutions():
    stored = np.load(FIXTURES / "keras_volume_predictions.npz", allow_pickle=False)
    model = saving.load_model(FIXTURES / "keras_volume.keras")
    kinds = {type(layer).__name__ for layer in model.layers}
    assert {"Conv3D", "MaxPooling3D", "Conv3DTranspose", "Conv2DTranspose"} <= kinds
    assert model.input_names == ["volume", "image"]
    predictions = model.predict({"volume": stored["x0"], "image": stored["x1"]})
    np.testing.assert_allclose(predictions, stored["y0"], rtol=1e-5, atol=1e-5)


def test_from_keras_through_juanji_to_onnx_runtime(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    stored = np.load(FIXTURES / "keras_residual_predictions.npz", allow_pickle=False)
    saving.load_model(FIXTURES / "keras_residual.keras").export(tmp_path / "residual.onnx")
    session = ort.InferenceSession(str(tmp_path / "residual.onnx"))
    label, box = session.run(["label", "box"], {"input": stored["x"]})  # one input: "input"
    np.testing.assert_allclose(label, stored["y0"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(box, stored["y1"], rtol=1e-5, atol=1e-5)

    stored = np.load(FIXTURES / "keras_volume_predictions.npz", allow_pickle=False)
    saving.load_model(FIXTURES / "keras_volume.keras").export(tmp_path / "volume.onnx")
    session = ort.InferenceSession(str(tmp_path / "volume.onnx"))
    (got,) = session.run(None, {"volume": stored["x0"], "image": stored["x1"]})
    np.testing.assert_allclose(got, stored["y0"], rtol=1e-5, atol=1e-5)


def test_the_loaded_model_trains_and_saves_as_juanji(tmp_path):
    model = saving.load_model(KERAS_CNN)
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    x = np.random.default_rng(0).normal(size=(8, 14, 14, 3)).astype(np.float32)
    model.fit(x, np.eye(5, dtype=np.float32)[np.arange(8) % 5], epochs=1, verbose=0)
    model.save(tmp_path / "cnn.juanji")
    np.testing.assert_allclose(
        saving.load_model(tmp_path / "cnn.juanji").predict(x), model.predict(x), atol=1e-6
    )


def test_saving_under_a_keras_name_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"\.juanji"):
        zoo.mlp(compile=False).save(tmp_path / "model.keras")
    assert not (tmp_path / "model.keras").exists()


# --- crafted files ------------------------------------------------------------------------
def _entry(class_name, config, module="keras.layers", registered_name=None, **extra):
    return {
        "module": module,
        "class_name": class_name,
        "config": config,
        "registered_name": registered_name,
        **extra,
    }


def _input(shape):
    return _entry("InputLayer", {"batch_shape": [None, *shape], "name": "input_layer"})


def _dense(name, units, module="keras.layers", registered_name=None, **config):
    config = {"name": name, "units": units, "activation": "linear", **config}
    return _entry("Dense", config, module=module, registered_name=registered_name)


def _weights_h5(layers):
    """HDF5 bytes laid out as Keras writes them; ``layers``: {name: [arrays or callables
    that create a dataset in the group]}."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        for name, variables in layers.items():
            group = f.create_group(f"layers/{name}/vars")
            group.attrs["name"] = name
            for i, value in enumerate(variables):
                if callable(value):
                    value(group, str(i))
                else:
                    group[str(i)] = value
    return buffer.getvalue()


def _keras_file(path, layers, weights=None, metadata=None, members=None):
    config = {
        "module": "keras",
        "class_name": "Sequential",
        "config": {"name": "crafted", "layers": layers},
        "registered_name": None,
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("metadata.json", json.dumps(metadata or {"keras_version": "3.15.1"}))
        archive.writestr("config.json", json.dumps(config))
        data = weights if isinstance(weights, bytes) else _weights_h5(weights or {})
        archive.writestr("model.weights.h5", data)
        for name, data in (members or {}).items():
            archive.writestr(name, data)
    return path


def _refused(path, *fragments):
    """Loading ``path`` raises a ModelFileError naming the file and ``fragments``, running
    nothing on the way."""
    saving.load_model(KERAS_CNN)  # imports whatever loading needs, before watching
    with _nothing_runs(), pytest.raises(ModelFileError) as caught:
        saving.load_model(path)
    message = str(caught.value)
    for fragment in (path.name, *fragments):
        assert fragment in message, (fragment, message)
    return message


# Keras's own serialisation of `Lambda(lambda t: t * 2)`: marshalled bytecode, base64.
_LAMBDA_CODE = (
    "4wEAAAAAAAAAAAAAAAIAAAADAAAA8wwAAACXAHwAZAF6BQAAUwApAk7pAgAAAKkAKQHaAXRzAQAA\n"
    "ACD6BzxzdGRpbj76CDxsYW1iZGE+cgYAAAAHAAAAcwoAAACAAKAhoGGhJYAA8wAAAAA=\n"
)


def test_a_lambda_layer_is_refused(tmp_path):
    function = {"class_name": "__lambda__", "config": {"code": _LAMBDA_CODE}}
    lam = _entry("Lambda", {"name": "doubling", "function": function, "arguments": {}})
    path = _keras_file(tmp_path / "lambda.keras", [_input((4,)), lam])
    _refused(path, "'doubling' (Lambda)", "never executes code")


def test_a_module_outside_keras_is_refused(tmp_path):
    outside = _dense("mine", 2, module="my_package.layers", registered_name="my_package>Dense")
    path = _keras_file(tmp_path / "module.keras", [_input((4,)), outside])
    _refused(path, "'mine' (Dense)", "my_package.layers", "outside Keras")
    registered = _dense("custom", 2, registered_name="MyLayers>Dense")
    path = _keras_file(tmp_path / "registered.keras", [_input((4,)), registered])
    _refused(path, "'custom' (Dense)", "MyLayers>Dense")


def test_a_huge_declared_weight_is_refused_before_reading(tmp_path):
    def huge(group, key):  # 10**11 float32 declared, none stored: the file stays small
        group.create_dataset(key, shape=(10**6, 10**5), dtype="f4", chunks=(1, 1000))

    layers = [_input((10**6,)), _dense("wide", 10**5, use_bias=False)]
    path = _keras_file(tmp_path / "huge.keras", layers, {"wide": [huge]})
    assert path.stat().st_size < 100_000
    _refused(path, "declares 100000000000 values")


def test_a_zip_bomb_member_is_refused_before_unpacking(tmp_path):
    bomb = b" " * (keras_format.MAX_JSON_BYTES + 1)  # deflates to ~17 KB
    path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("metadata.json", bomb)
    assert path.stat().st_size < 100_000
    _refused(path, "metadata.json", "would unpack to")


def test_links_out_of_the_weights_file_are_refused(tmp_path):
    def external(group, key):
        group[key] = h5py.ExternalLink("/etc/passwd", "/data")

    layers = [_input((3,)), _dense("d", 2, use_bias=False)]
    path = _keras_file(tmp_path / "link.keras", layers, {"d": [external]})
    _refused(path, "layers/d/vars", "links elsewhere")


def test_weights_that_do_not_fit_the_configuration_are_refused(tmp_path):
    layers = [_input((3,)), _dense("d", 4)]
    path = _keras_file(tmp_path / "shape.keras", layers, {"d": [np.ones((3, 5)), np.ones(5)]})
    _refused(path, "layer 'd'", "(3, 5)", "(3, 4)")
    path = _keras_file(tmp_path / "count.keras", layers, {"d": [np.ones((3, 4))]})
    _refused(path, "layer 'd'", "1 weight arrays")


def test_a_frozen_layer_stays_frozen(tmp_path):
    layers = [_input((3,)), _dense("frozen", 2, trainable=False), _dense("free", 1)]
    weights = {"frozen": [np.ones((3, 2)), np.full(2, 0.5)], "free": [np.ones((2, 1)), [2.0]]}
    model = saving.load_model(_keras_file(tmp_path / "frozen.keras", layers, weights))
    assert [w.name for w in model.trainable_weights] == ["free/kernel", "free/bias"]
    np.testing.assert_allclose(model.predict(np.ones((1, 3), np.float32)), [[9.0]])


def test_arguments_juanji_cannot_map_are_named(tmp_path):
    conv = _entry("Conv2D", {"name": "grouped", "filters": 4, "kernel_size": [3, 3], "groups": 2})
    path = _keras_file(tmp_path / "groups.keras", [_input((8, 8, 4)), conv])
    _refused(path, "'grouped' (Conv2D)", "groups")
    dense = _dense("odd", 2, activation="celu")
    _refused(_keras_file(tmp_path / "celu.keras", [_input((3,)), dense]), "'odd'", "celu")
    lstm = _entry("LSTM", {"name": "rnn", "units": 3})
    _refused(_keras_file(tmp_path / "lstm.keras", [_input((3, 2)), lstm]), "'rnn' (LSTM)")


@pytest.mark.parametrize(
    "write, fragment",
    [
        (lambda p: p.write_bytes(b"not a zip at all"), "not a Keras 3 model file"),
        (lambda p: zipfile.ZipFile(p, "w").close(), "no metadata.json"),
        (
            lambda p: _keras_file(p, [_input((3,))], metadata={"keras_version": "2.15.0"}),
            "keras_version '2.15.0'",
        ),
    ],
)
def test_unreadable_files_name_the_file_and_the_entry(tmp_path, write, fragment):
    path = tmp_path / "bad.keras"
    write(path)
    _refused(path, fragment)


def test_weights_that_are_not_hdf5(tmp_path):
    path = _keras_file(tmp_path / "garbage.keras", [_input((3,))], weights=b"\x89HDF garbage")
    _refused(path, "is corrupt", "model.weights.h5")


def test_corrupt_config_json(tmp_path):
    path = tmp_path / "json.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.1.0"}))
        archive.writestr("config.json", "{not json")
    _refused(path, "config.json is not JSON")


def test_the_watch_sees_code_run():
    with pytest.raises(AssertionError, match="exec"), _nothing_runs():
        exec("1 + 1")


def test_the_command_line_reads_keras_files(tmp_path, capsys):
    from juanji import cli

    assert cli.main(["summary", str(KERAS_CNN)]) == 0
    assert "conv_b (Conv2D)" in capsys.readouterr().out
    function = {"class_name": "__lambda__", "config": {"code": _LAMBDA_CODE}}
    lam = _entry("Lambda", {"name": "doubling", "function": function, "arguments": {}})
    path = _keras_file(tmp_path / "lambda.keras", [_input((4,)), lam])
    assert cli.main(["summary", str(path)]) == cli.EXIT_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("juanji: error: ") and "'doubling'" in err[0]
