"""The functional API: symbolic tensors, graphs of layer calls, config round-trips."""

import json
import re

import numpy as np
import pytest

import juanji
from juanji import layers
from juanji.functional import Functional
from juanji.layers.base import Layer


class Sum(Layer):
    """A merge layer as merge layers are written: call and build take lists."""

    def build(self, input_shape):
        self.seen_shapes = input_shape

    def call(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = out + x
        return out


def _residual_two_heads():
    x = juanji.Input(shape=(8, 8, 1), name="image")
    h = layers.Conv2D(4, 3, activation="relu", padding="same", name="first")(x)
    r = layers.Conv2D(4, 3, padding="same", name="second")(h)
    r += h
    flat = layers.Flatten()(r)
    return x, layers.Dense(3, activation="softmax", name="label")(flat), layers.Dense(1)(flat)


def test_symbolic_tensors_know_their_shapes():
    x = juanji.Input((28, 28, 1))
    assert x.shape == (None, 28, 28, 1)
    y = layers.Conv2D(8, 3)(x)
    assert y.shape == (None, 26, 26, 8)
    assert layers.Dense(5)(layers.Flatten()(y)).shape == (None, 26 * 26 * 8)[:1] + (5,)


def test_unknown_sizes_stay_unknown_through_the_graph():
    x = juanji.Input((None, None, 3))
    y = layers.Conv2D(4, 3)(x)
    assert y.shape == (None, None, None, 4)
    assert layers.GlobalAveragePooling2D()(y).shape == (None, 4)


def test_a_layer_takes_a_list_eagerly_and_symbolically():
    merge = Sum()
    a, b = np.ones((2, 3), np.float32), np.full((2, 3), 2.0, np.float32)
    np.testing.assert_array_equal(merge([a, b]).numpy(), np.full((2, 3), 3.0))
    assert merge.seen_shapes == [(2, 3), (2, 3)]
    x1, x2 = juanji.Input((3,)), juanji.Input((3,))
    model = juanji.Model([x1, x2], Sum()([x1, x2]))
    np.testing.assert_array_equal(model([a, b]).numpy(), np.full((2, 3), 3.0))


def test_call_without_training_argument_is_called_without_it():
    class Doubler(Layer):
        def call(self, x):
            return x * 2.0

    class Net(juanji.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(2)

        def call(self, x):
            return self.dense(Doubler()(x))

    assert Net()(np.ones((3, 4), np.float32), training=True).shape == (3, 2)


def test_model_of_inputs_and_outputs_is_functional_and_predicts_by_graph():
    x, label, value = _residual_two_heads()
    model = juanji.Model(inputs=x, outputs=[label, value])
    assert isinstance(model, Functional)
    data = np.random.default_rng(0).random((5, 8, 8, 1), np.float32)
    got = [t.numpy() for t in model(data)]
    conv1, conv2 = model.get_layer("first"), model.layers[2]
    h = conv1(data)
    expected = model.get_layer("label")(layers.Flatten()(conv2(h) + h)).numpy()
    np.testing.assert_allclose(got[0], expected, rtol=1e-6)
    assert got[1].shape == (5, 1)


def test_shared_layers_count_once_and_reuse_weights():
    shared = layers.Dense(4, name="shared")
    a, b = juanji.Input((3,)), juanji.Input((3,))
    model = juanji.Model([a, b], shared(a) - shared(b))
    assert [layer.name for layer in model.layers].count("shared") == 1
    assert model.count_params() == 16
    x = np.random.default_rng(1).random((2, 3), np.float32)
    np.testing.assert_allclose(model([x, x]).numpy(), 0.0, atol=1e-7)


def test_dict_inputs_and_outputs_by_name():
    title, body = juanji.Input((4,), name="title"), juanji.Input((2,), name="body")
    joined = layers.Dense(3)(title) + layers.Dense(3)(body)
    model = juanji.Model({"title": title, "body": body}, {"score": layers.Dense(1)(joined)})
    out = model({"body": np.ones((2, 2), np.float32), "title": np.ones((2, 4), np.float32)})
    assert set(out) == {"score"} and out["score"].shape == (2, 1)
    with pytest.raises(ValueError, match="missing \\['body'\\]"):
        model({"title": np.ones((2, 4), np.float32)})


def test_summary_says_what_each_layer_is_connected_to():
    x, label, value = _residual_two_heads()
    lines = []
    juanji.Model(x, [label, value]).summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Connected to" in text
    assert re.search(r"add(_\d+)? \(Add\)", text) and "second[0][0], first[0][0]" in text
    assert "label (Dense)" in text and "(None, 3)" in text


def test_json_config_round_trip_gives_identical_predictions(tmp_path):
    x, label, value = _residual_two_heads()
    model = juanji.Model(x, [label, value])
    config = json.loads(json.dumps(model.get_config()))
    rebuilt = Functional.from_config(config)
    rebuilt.set_weights(model.get_weights())
    data = np.random.default_rng(2).random((4, 8, 8, 1), np.float32)
    for got, expected in zip(rebuilt(data), model(data)):
        np.testing.assert_array_equal(got.numpy(), expected.numpy())


def test_wrong_wiring_names_both_layers_and_shapes():
    x = juanji.Input((4,))
    a, b = layers.Dense(3, name="left")(x), layers.Dense(5, name="right")(x)
    with pytest.raises(ValueError, match=r"'left' \(Dense\) output of shape \(None, 3\).*'right'"):
        Sum()([a, b])


def test_a_tensor_from_another_graph_is_refused():
    x, other = juanji.Input((4,)), juanji.Input((4,), name="stray")
    with pytest.raises(ValueError, match="'stray'.*another graph"):
        juanji.Model(x, layers.Dense(2)(x) + layers.Dense(2)(other))


def test_arithmetic_on_symbolic_tensors_records_merge_layers_and_operators():
    x, y = juanji.Input((3,)), juanji.Input((3,))
    out = (x + y) * (x - y) / 2.0 - 1.0 / (y * y + 1.0)
    model = juanji.Model([x, y], out)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert {"Add", "Subtract", "Multiply", "Operator"} <= set(kinds)
    a, b = np.full((2, 3), 3.0, np.float32), np.full((2, 3), 1.0, np.float32)
    np.testing.assert_allclose(model([a, b]).numpy(), (a + b) * (a - b) / 2 - 1 / (b * b + 1))
    rebuilt = Functional.from_config(json.loads(json.dumps(model.get_config())))
    np.testing.assert_allclose(rebuilt([a, b]).numpy(), model([a, b]).numpy())


def test_symbolic_tensors_have_no_values():
    with pytest.raises(TypeError, match="no values"):
        np.asarray(juanji.Input((3,)))


def test_input_dim_and_input_shape_keywords():
    model = juanji.Sequential([layers.Dense(4, input_dim=3), layers.Dense(2)])
    assert model.count_params() == 4 * 3 + 4 + 4 * 2 + 2
    assert layers.Dense(2, input_shape=(5,)).input_shape == (5,)
    model = juanji.Sequential([juanji.Input((3,)), layers.Dense(2)])
    assert model.predict(np.ones((1, 3))).shape == (1, 2)


def test_models_nested_as_layers_round_trip(tmp_path):
    encoder_in = juanji.Input((6,))
    encoder = juanji.Model(encoder_in, layers.Dense(4, activation="tanh")(encoder_in))
    head = juanji.Sequential([layers.Dense(3), layers.Softmax()])
    x = juanji.Input((6,))
    model = juanji.Model(x, head(encoder(x) + encoder(x * 2.0)))
    assert model.count_params() == (6 * 4 + 4) + (4 * 3 + 3)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.save(tmp_path / "nested.juanji")
    loaded = juanji.saving.load_model(tmp_path / "nested.juanji")
    data = np.random.default_rng(3).random((5, 6), np.float32)
    np.testing.assert_array_equal(loaded.predict(data), model.predict(data))


def test_layer_outputs_make_a_feature_extractor():
    x = juanji.Input((5,))
    h = layers.Dense(4, activation="relu", name="hidden")(x)
    model = juanji.Model(x, layers.Dense(2, name="top")(h))
    extractor = juanji.Model(model.input, [layer.output for layer in model.layers[1:]])
    data = np.random.default_rng(4).random((3, 5), np.float32)
    hidden, top = extractor.predict(data)
    np.testing.assert_allclose(hidden, model.get_layer("hidden")(data).numpy(), rtol=1e-6)
    np.testing.assert_allclose(top, model.predict(data), rtol=1e-6)
    assert model.get_layer("top").input is h
    with pytest.raises(AttributeError, match="not been called on symbolic tensors"):
        _ = layers.Dense(2).output
