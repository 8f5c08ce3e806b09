"""What the page shows, without HTTP: compact arrays, inputs, maps of other layouts, and the
models it can and cannot show."""

import io

import numpy as np
import pytest
from PIL import Image

from juanji.layers import Conv2D, Dense, Flatten, Input, MaxPooling2D
from juanji.models import Model, Sequential
from juanji.serve import ImageError, InputError, Inspector, decode_array, encode_array


def _tiny(data_format="channels_last", activation="softmax"):
    shape = (1, 8, 8) if data_format == "channels_first" else (8, 8, 1)
    return Sequential(
        [
            Input(shape),
            Conv2D(3, 3, data_format=data_format, activation="relu"),
            MaxPooling2D(2, data_format=data_format),
            Flatten(),
            Dense(4, activation=activation),
        ]
    )


def test_encoded_arrays_decode_to_within_half_a_step():
    values = np.random.default_rng(0).normal(size=(3, 5, 7))
    encoded = encode_array(values)
    assert encoded["shape"] == [3, 5, 7] and len(encoded["data"]) == 4 * -(-105 // 3)
    step = (values.max() - values.min()) / 255
    np.testing.assert_allclose(decode_array(encoded), values, atol=step / 2 + 1e-12)
    constant = encode_array(np.full((2, 2), 0.25))
    assert constant["min"] == constant["max"] == 0.25
    np.testing.assert_array_equal(decode_array(constant), np.full((2, 2), 0.25))


def test_channels_first_models_take_and_show_channels_first_maps():
    first, last = _tiny("channels_first"), _tiny()
    last.set_weights(first.get_weights())
    x = np.random.default_rng(1).random((1, 8, 8, 1)).astype(np.float32)
    a = Inspector(first).predict(x.transpose(0, 3, 1, 2), maps=True)
    b = Inspector(last).predict(x, maps=True)
    assert [m["shape"] for m in a["maps"]] == [[3, 6, 6], [3, 3, 3]]
    for ours, theirs in zip(a["maps"], b["maps"]):
        assert {**ours, "layer": ""} == {**theirs, "layer": ""}
    assert a["input"] == b["input"]  # (Flatten orders the two layouts differently after this)
    assert Inspector(first).summary()["image_size"] == [8, 8]


def test_a_channels_first_model_reads_images_into_its_layout():
    inspector = Inspector(_tiny("channels_first"))
    buffer = io.BytesIO()
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(buffer, format="PNG")
    x = inspector.input_from_image(buffer.getvalue())
    assert x.shape == (1, 1, 8, 8) and x[0, 0, 0, 1] == pytest.approx(1 / 255)


def test_logits_become_probabilities_through_a_softmax():
    model = _tiny(activation=None)
    x = np.random.default_rng(2).random((1, 8, 8, 1)).astype(np.float32)
    logits = model.predict(x)[0].astype(np.float64)
    answer = Inspector(model).predict(x)
    expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    np.testing.assert_allclose(answer["probabilities"], expected, rtol=1e-6)


def test_a_functional_models_maps_are_its_conv_and_pool_calls_in_order():
    x = Input((8, 8, 1))
    a = Conv2D(3, 3, padding="same", activation="relu")(x)
    b = Conv2D(3, 3, padding="same")(x)
    pooled = MaxPooling2D(2)(a + b)
    net = Model(x, Dense(4, activation="softmax")(Flatten()(pooled)))
    sample = np.random.default_rng(3).random((1, 8, 8, 1)).astype(np.float32)
    answer = Inspector(net).predict(sample, maps=True)
    convs = [layer for layer in net.layers if isinstance(layer, Conv2D)]
    pool = next(layer for layer in net.layers if isinstance(layer, MaxPooling2D))
    assert [m["layer"] for m in answer["maps"]] == [convs[0].name, convs[1].name, pool.name]
    expected = pool(convs[0](sample) + convs[1](sample)).data[0].transpose(2, 0, 1)
    step = (answer["maps"][2]["max"] - answer["maps"][2]["min"]) / 255
    np.testing.assert_allclose(decode_array(answer["maps"][2]), expected, atol=step / 2 + 1e-6)
    np.testing.assert_allclose(answer["probabilities"], net.predict(sample)[0], rtol=1e-5)
    assert Inspector(net).summary()["shows_maps"] is True


def test_a_subclassed_model_gets_probabilities_but_no_maps():
    class Net(Model):
        def __init__(self):
            super().__init__()
            self.conv, self.flat, self.out = Conv2D(2, 3), Flatten(), Dense(3, activation="softmax")

        def call(self, x, training=False):
            return self.out(self.flat(self.conv(x)))

    net = Net()
    net.build((None, 6, 6, 1))
    inspector = Inspector(net)
    answer = inspector.predict(np.zeros((1, 6, 6, 1), np.float32), maps=True)
    assert answer["maps"] == [] and len(answer["probabilities"]) == 3
    assert inspector.summary()["shows_maps"] is False


def test_models_it_cannot_show_are_refused():
    with pytest.raises(ValueError, match="taking images"):
        Inspector(Sequential([Input((4,)), Dense(2)]))
    with pytest.raises(ValueError, match="classifier"):
        Inspector(Sequential([Input((8, 8, 1)), Conv2D(2, 3)]))
    with pytest.raises(ValueError, match="Expected 4 class names"):
        Inspector(_tiny(), ["a", "b"])


def test_bad_image_bytes_and_arrays_raise_input_errors():
    inspector = Inspector(_tiny())
    with pytest.raises(ImageError, match="not a readable image"):
        inspector.input_from_image(b"GIF89a but no more")
    with pytest.raises(InputError, match="shape"):
        inspector.input_from_array(np.zeros((8, 8)).tolist())
    assert inspector.input_from_array(np.zeros((8, 8, 1), int).tolist()).dtype == np.float32
