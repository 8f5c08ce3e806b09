"""Keras 1 layers build juanji's layers: same parameters and outputs for the same weights,
Keras 1's initializer distributions, and 'th' ordering equal to 'tf' on transposed input."""

import math

import numpy as np
import pytest

import juanji
from juanji import layers
from juanji.compat.keras1 import backend
from juanji.compat.keras1 import layers as k1
from juanji.compat.keras1.models import Sequential

CF = {"data_format": "channels_first"}

# (Keras 1 layer, its juanji equivalent, input shape, training)
EQUIVALENTS = [
    (
        lambda: k1.Convolution2D(4, 3, 3, border_mode="same", subsample=(2, 2), activation="relu"),
        lambda: layers.Conv2D(4, 3, strides=2, padding="same", activation="relu", **CF),
        (2, 3, 9, 9),
        False,
    ),
    (
        lambda: k1.Convolution2D(2, 3, 2, border_mode="full", bias=False),
        lambda: layers.Conv2D(2, (3, 2), padding="full", use_bias=False, **CF),
        (2, 1, 7, 6),
        False,
    ),
    (
        lambda: k1.Convolution2D(4, 5, 5, border_mode="valid", input_shape=(1, 28, 28)),
        lambda: layers.Conv2D(4, 5, input_shape=(1, 28, 28), **CF),
        (2, 1, 28, 28),
        False,
    ),
    (
        lambda: k1.Convolution2D(3, 3, 3, dim_ordering="tf"),
        lambda: layers.Conv2D(3, 3),
        (2, 8, 8, 2),
        False,
    ),
    (
        lambda: k1.MaxPooling2D(pool_size=(2, 2)),
        lambda: layers.MaxPooling2D(2, **CF),
        (2, 3, 8, 6),
        False,
    ),
    (
        lambda: k1.MaxPooling2D(pool_size=(3, 3), strides=(2, 2), border_mode="same"),
        lambda: layers.MaxPooling2D(3, strides=2, padding="same", **CF),
        (2, 2, 7, 7),
        False,
    ),
    (
        lambda: k1.AveragePooling2D(pool_size=(2, 2)),
        lambda: layers.AveragePooling2D(2, **CF),
        (2, 3, 8, 6),
        False,
    ),
    (
        lambda: k1.Dense(5, input_dim=6, activation="tanh"),
        lambda: layers.Dense(5, activation="tanh", input_shape=(6,)),
        (3, 6),
        False,
    ),
    (
        lambda: k1.Dense(4, bias=False, activation="linear"),
        lambda: layers.Dense(4, use_bias=False),
        (3, 6),
        False,
    ),
    (lambda: k1.Dropout(0.5), lambda: layers.Dropout(0.5), (4, 10), True),
    (lambda: k1.PReLU(), lambda: layers.PReLU(), (2, 3, 4, 4), False),
    (lambda: k1.LeakyReLU(alpha=0.2), lambda: layers.LeakyReLU(0.2), (2, 5), False),
    (
        lambda: k1.BatchNormalization(mode=0, epsilon=1e-4),
        lambda: layers.BatchNormalization(epsilon=1e-4),
        (6, 5),
        True,
    ),
]


@pytest.mark.parametrize(
    "legacy,modern,shape,training", EQUIVALENTS, ids=[str(i) for i in range(len(EQUIVALENTS))]
)
def test_a_legacy_layer_is_its_modern_equivalent(legacy, modern, shape, training):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype(np.float32)
    old, new = legacy(), modern()
    assert isinstance(old, type(new))
    juanji.set_seed(1)
    new(x, training=training)
    juanji.set_seed(1)
    old(x, training=training)
    assert old.count_params() == new.count_params()
    new.set_weights([rng.normal(size=w.shape) for w in new.get_weights()])
    old.set_weights(new.get_weights())
    juanji.set_seed(2)
    expected = new(x, training=training).numpy()
    juanji.set_seed(2)
    np.testing.assert_allclose(old(x, training=training).numpy(), expected, rtol=1e-6)


def test_initial_weights_are_loaded_when_the_layer_is_built():
    kernel, bias = np.ones((3, 2), np.float32), np.array([1.0, -1.0], np.float32)
    dense = k1.Dense(2, weights=[kernel, bias])
    np.testing.assert_array_equal(dense(np.ones((1, 3), np.float32)).numpy(), [[4.0, 2.0]])
    with pytest.raises(ValueError, match="shape"):
        k1.Dense(2, weights=[kernel.T, bias])(np.ones((1, 3), np.float32))


FAN_IN, FAN_OUT = 300, 100
# Keras 1 name -> (distribution, its standard deviation or bound, or its constant)
INITS = {
    "normal": ("normal", 0.05),
    "uniform": ("uniform", 0.05),
    "glorot_normal": ("normal", math.sqrt(2 / (FAN_IN + FAN_OUT))),
    "glorot_uniform": ("uniform", math.sqrt(6 / (FAN_IN + FAN_OUT))),
    "he_normal": ("normal", math.sqrt(2 / FAN_IN)),
    "he_uniform": ("uniform", math.sqrt(6 / FAN_IN)),
    "lecun_uniform": ("uniform", math.sqrt(3 / FAN_IN)),
    "zero": ("constant", 0.0),
    "one": ("constant", 1.0),
}


@pytest.mark.parametrize("name", INITS)
def test_init_names_draw_keras1_distributions(name):
    kind, scale = INITS[name]
    dense = k1.Dense(FAN_OUT, init=name)
    dense(np.zeros((1, FAN_IN), np.float32))
    w = dense.kernel.numpy()
    if kind == "constant":
        np.testing.assert_array_equal(w, scale)
    elif kind == "uniform":
        assert np.abs(w).max() <= scale and np.abs(w).max() > 0.99 * scale
    else:  # Keras 1's normals are untruncated: values beyond 3 standard deviations occur
        assert abs(w.std() / scale - 1) < 0.03 and np.abs(w).max() > 3 * scale


def test_an_unknown_init_name_is_refused():
    with pytest.raises(ValueError, match="init='random_normal'"):
        k1.Dense(3, init="random_normal")


def _seed_cnn(dim_ordering, input_shape):
    model = Sequential()
    model.add(k1.Convolution2D(4, 3, 3, input_shape=input_shape, dim_ordering=dim_ordering))
    model.add(k1.Activation("tanh"))
    model.add(k1.MaxPooling2D(pool_size=(2, 2), dim_ordering=dim_ordering))
    model.add(k1.Convolution2D(3, 3, 3, dim_ordering=dim_ordering))
    model.add(k1.Flatten())
    model.add(k1.Dense(5, init="normal"))
    model.add(k1.Activation("softmax"))
    return model


def test_th_ordering_predicts_as_tf_on_transposed_input():
    x_tf = np.random.default_rng(0).normal(size=(4, 10, 10, 2)).astype(np.float32)
    th, tf = _seed_cnn("th", (2, 10, 10)), _seed_cnn("tf", (10, 10, 2))
    th.predict(x_tf.transpose(0, 3, 1, 2))
    tf.predict(x_tf)
    weights = tf.get_weights()
    # 'th' flattens (C, H, W) and 'tf' (H, W, C): permute the Dense rows to match.
    h, w, c = tf.layers[3].output_shape[1:]
    weights[4] = weights[4].reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(h * w * c, -1)
    th.set_weights(weights)
    np.testing.assert_allclose(
        th.predict(x_tf.transpose(0, 3, 1, 2)), tf.predict(x_tf), rtol=1e-5, atol=1e-6
    )


def test_th_flattens_the_channels_first_tensor():
    conv = k1.Convolution2D(2, 3, 3, input_shape=(1, 5, 5))
    model = Sequential([conv, k1.Flatten()])
    x = np.random.default_rng(0).normal(size=(2, 1, 5, 5)).astype(np.float32)
    np.testing.assert_array_equal(model.predict(x), conv(x).numpy().reshape(2, -1))


def test_the_default_ordering_follows_the_environment_and_the_setter(monkeypatch):
    assert backend.image_dim_ordering() == "th"
    assert k1.Convolution2D(1, 3, 3).data_format == "channels_first"
    monkeypatch.setenv("KERAS_IMAGE_DIM_ORDERING", "tf")
    assert k1.MaxPooling2D().data_format == "channels_last"
    backend.set_image_dim_ordering("th")
    assert k1.Convolution2D(1, 3, 3).data_format == "channels_first"
    with pytest.raises(ValueError, match="dim_ordering='channels_first'"):
        backend.set_image_dim_ordering("channels_first")
    monkeypatch.setattr(backend, "_ordering", None)
    monkeypatch.setenv("KERAS_IMAGE_DIM_ORDERING", "xy")
    with pytest.raises(ValueError, match="KERAS_IMAGE_DIM_ORDERING='xy'"):
        backend.image_dim_ordering()
