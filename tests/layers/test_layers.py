"""Every layer: output shape, weight count, config round-trip, training and errors."""

import json

import numpy as np
import pytest

import juanji
from juanji import layers, ops, registry
from juanji.autograd import Tensor

# (class, kwargs, input shape, output shape, parameter count)
CASES = [
    (layers.Dense, {"units": 3}, (4, 5), (4, 3), 18),
    (layers.Dense, {"units": 3, "activation": "tanh", "use_bias": False}, (4, 5), (4, 3), 15),
    (layers.Conv2D, {"filters": 4, "kernel_size": 5}, (2, 28, 28, 1), (2, 24, 24, 4), 104),
    (
        layers.Conv2D,
        {"filters": 2, "kernel_size": 3, "padding": "same", "strides": 2},
        (2, 7, 7, 3),
        (2, 4, 4, 2),
        56,
    ),
    (
        layers.Conv2D,
        {"filters": 2, "kernel_size": 3, "padding": "full"},
        (2, 5, 5, 1),
        (2, 7, 7, 2),
        20,
    ),
    (
        layers.Conv2D,
        {"filters": 2, "kernel_size": 3, "dilation_rate": 2, "activation": "relu"},
        (2, 9, 9, 1),
        (2, 5, 5, 2),
        20,
    ),
    (
        layers.Conv2D,
        {"filters": 4, "kernel_size": 3, "data_format": "channels_first"},
        (2, 1, 8, 8),
        (2, 4, 6, 6),
        40,
    ),
    (layers.MaxPooling2D, {"pool_size": 2}, (2, 6, 6, 3), (2, 3, 3, 3), 0),
    (layers.MaxPooling2D, {"pool_size": 3, "strides": 1}, (2, 6, 6, 3), (2, 4, 4, 3), 0),
    (layers.AveragePooling2D, {"pool_size": 2, "padding": "same"}, (2, 5, 5, 3), (2, 3, 3, 3), 0),
    (layers.GlobalAveragePooling2D, {}, (2, 4, 4, 3), (2, 3), 0),
    (layers.GlobalMaxPooling2D, {"keepdims": True}, (2, 4, 4, 3), (2, 1, 1, 3), 0),
    (layers.Flatten, {}, (2, 3, 4, 5), (2, 60), 0),
    (layers.Reshape, {"target_shape": (4, 3)}, (2, 12), (2, 4, 3), 0),
    (layers.Dropout, {"rate": 0.5}, (2, 10), (2, 10), 0),
    (layers.Activation, {"activation": "tanh"}, (2, 10), (2, 10), 0),
    (layers.BatchNormalization, {}, (4, 3), (4, 3), 12),
    (layers.BatchNormalization, {}, (4, 5, 5, 3), (4, 5, 5, 3), 12),
    (layers.PReLU, {}, (2, 5), (2, 5), 5),
    (layers.PReLU, {"shared_axes": [1, 2]}, (2, 4, 4, 3), (2, 4, 4, 3), 3),
    (layers.LeakyReLU, {"negative_slope": 0.1}, (2, 5), (2, 5), 0),
    (layers.ReLU, {}, (2, 5), (2, 5), 0),
    (layers.ELU, {}, (2, 5), (2, 5), 0),
    (layers.Softmax, {}, (2, 5), (2, 5), 0),
    (layers.Conv3D, {"filters": 4, "kernel_size": 3}, (2, 5, 6, 5, 2), (2, 3, 4, 3, 4), 220),
    (
        layers.Conv3D,
        {"filters": 2, "kernel_size": (3, 1, 2), "strides": 2, "padding": "same"},
        (1, 5, 4, 6, 3),
        (1, 3, 2, 3, 2),
        38,
    ),
    (
        layers.Conv3D,
        {"filters": 3, "kernel_size": 2, "dilation_rate": (1, 2, 1), "use_bias": False},
        (1, 4, 5, 4, 2),
        (1, 3, 3, 3, 3),
        48,
    ),
    (
        layers.Conv3D,
        {"filters": 2, "kernel_size": 3, "data_format": "channels_first", "padding": "same"},
        (1, 3, 4, 5, 4),
        (1, 2, 4, 5, 4),
        164,
    ),
    (layers.Conv2DTranspose, {"filters": 3, "kernel_size": 3}, (2, 4, 5, 2), (2, 6, 7, 3), 57),
    (
        layers.Conv2DTranspose,
        {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"},
        (2, 3, 4, 4),
        (2, 6, 8, 2),
        74,
    ),
    (
        layers.Conv2DTranspose,
        {"filters": 2, "kernel_size": (3, 2), "strides": (2, 3), "output_padding": (1, 2)},
        (1, 3, 3, 2),
        (1, 8, 10, 2),
        26,
    ),
    (
        layers.Conv2DTranspose,
        {"filters": 2, "kernel_size": 2, "strides": 2, "data_format": "channels_first"},
        (1, 3, 3, 4),
        (1, 2, 6, 8),
        26,
    ),
    (
        layers.Conv3DTranspose,
        {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same", "output_padding": 1},
        (1, 2, 3, 2, 8),
        (1, 4, 6, 4, 4),
        868,
    ),
    (
        layers.Conv3DTranspose,
        {"filters": 2, "kernel_size": 2, "activation": "relu"},
        (1, 2, 2, 3, 3),
        (1, 3, 3, 4, 2),
        50,
    ),
    (layers.MaxPooling3D, {}, (2, 4, 4, 6, 3), (2, 2, 2, 3, 3), 0),
    (
        layers.MaxPooling3D,
        {"pool_size": 3, "strides": (1, 2, 2), "padding": "same"},
        (1, 3, 5, 4, 2),
        (1, 3, 3, 2, 2),
        0,
    ),
    (layers.AveragePooling3D, {"pool_size": (1, 2, 2)}, (2, 3, 4, 4, 2), (2, 3, 2, 2, 2), 0),
    (
        layers.AveragePooling3D,
        {"data_format": "channels_first", "padding": "same"},
        (1, 2, 3, 5, 5),
        (1, 2, 2, 3, 3),
        0,
    ),
    (layers.GlobalAveragePooling3D, {}, (2, 3, 4, 4, 5), (2, 5), 0),
    (layers.GlobalMaxPooling3D, {"keepdims": True}, (2, 3, 4, 4, 5), (2, 1, 1, 1, 5), 0),
    (layers.GlobalAveragePooling3D, {"data_format": "channels_first"}, (2, 5, 2, 3, 2), (2, 5), 0),
    (layers.BatchNormalization, {}, (2, 3, 4, 3, 5), (2, 3, 4, 3, 5), 20),
    (layers.GroupNormalization, {"groups": 2}, (2, 3, 2, 3, 4), (2, 3, 2, 3, 4), 8),
]
IDS = [f"{cls.__name__}-{i}" for i, (cls, *_) in enumerate(CASES)]


def _input(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("cls,kwargs,in_shape,out_shape,n_params", CASES, ids=IDS)
def test_output_shape_and_parameter_count(cls, kwargs, in_shape, out_shape, n_params):
    layer = cls(**kwargs)
    y = layer(_input(in_shape))
    assert y.shape == out_shape
    assert y.dtype == np.float32
    assert layer.count_params() == n_params
    assert layer.output_shape == (None, *out_shape[1:])


@pytest.mark.parametrize("cls,kwargs,in_shape,out_shape,n_params", CASES, ids=IDS)
def test_config_round_trip_rebuilds_the_same_layer(cls, kwargs, in_shape, out_shape, n_params):
    x = _input(in_shape)
    layer = cls(**kwargs)
    layer(x)
    for w in layer.weights:  # non-default values, so a lost setting would show
        w.data += np.random.default_rng(1).uniform(0.1, 0.5, w.shape).astype(np.float32)
    config = json.loads(json.dumps(layer.get_config()))
    twin = registry.get("layer", {"class_name": cls.__name__, "config": config})
    assert type(twin) is cls and twin.get_config() == config
    twin(x)
    twin.set_weights(layer.get_weights())
    np.testing.assert_array_equal(twin(x, training=False).data, layer(x, training=False).data)


TRAINABLE = [c for c in CASES if c[4] and c[0] is not layers.BatchNormalization] + [
    (layers.BatchNormalization, {}, (8, 3), (8, 3), 12)
]


@pytest.mark.parametrize(
    "cls,kwargs,in_shape,out_shape,n_params", TRAINABLE, ids=lambda v: getattr(v, "__name__", None)
)
def test_one_gradient_step_lowers_the_loss(cls, kwargs, in_shape, out_shape, n_params):
    juanji.set_seed(3)
    layer = cls(**kwargs)
    x = _input(in_shape)
    target = _input(out_shape, seed=2)

    def loss():
        return ops.mean_squared_error(layer(x, training=True), target)

    before = loss()
    before.backward()
    for w in layer.trainable_weights:
        w.data -= 0.05 * w.grad
    assert float(loss().data) < float(before.data)


def test_weight_sharing_makes_convolution_far_smaller_than_dense():
    conv = layers.Conv2D(8, 3)
    dense = layers.Dense(26 * 26 * 8)
    conv(np.zeros((1, 28, 28, 1), np.float32))
    dense(np.zeros((1, 28 * 28), np.float32))
    assert conv.count_params() == 3 * 3 * 1 * 8 + 8
    assert dense.count_params() == 28 * 28 * 26 * 26 * 8 + 26 * 26 * 8
    assert dense.count_params() > 50_000 * conv.count_params()


def test_channels_first_matches_channels_last_on_transposed_input():
    x = _input((2, 9, 9, 3))
    last = layers.Conv2D(4, 3, strides=2, padding="same")
    first = layers.Conv2D(4, 3, strides=2, padding="same", data_format="channels_first")
    y_last = last(x).data
    first(x.transpose(0, 3, 1, 2))
    first.set_weights(last.get_weights())
    np.testing.assert_allclose(
        first(x.transpose(0, 3, 1, 2)).data, y_last.transpose(0, 3, 1, 2), rtol=1e-6
    )
    pool_first = layers.MaxPooling2D(2, data_format="channels_first")
    np.testing.assert_array_equal(
        pool_first(y_last.transpose(0, 3, 1, 2)).data,
        layers.MaxPooling2D(2)(y_last).data.transpose(0, 3, 1, 2),
    )


def test_regularizers_add_penalties_to_the_layer_losses():
    layer = layers.Dense(3, kernel_regularizer=juanji.regularizers.L2(0.1), bias_regularizer="l1")
    layer(np.ones((2, 4), np.float32))
    kernel, bias = layer.kernel.data, layer.bias.data
    penalties = [float(p.data) for p in layer.losses]
    np.testing.assert_allclose(
        penalties, [0.1 * np.sum(kernel**2), 0.01 * np.sum(np.abs(bias))], rtol=1e-6
    )


def test_activations_and_initializers_resolve_by_name():
    layer = layers.Dense(2, activation="relu", kernel_initializer="zeros", bias_initializer="ones")
    y = layer(np.ones((1, 3), np.float32))
    np.testing.assert_array_equal(y.data, [[1.0, 1.0]])
    with pytest.raises(ValueError, match="Unknown activation 'nope'"):
        layers.Dense(2, activation="nope")


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: layers.Dense(0), "units"),
        (lambda: layers.Conv2D(4, 3, padding="middle"), "padding"),
        (lambda: layers.Conv2D(4, (3, 3, 3)), "kernel_size"),
        (lambda: layers.Dropout(1.5), "rate"),
        (lambda: layers.MaxPooling2D(2, padding="full"), "padding"),
        (lambda: layers.Conv2D(4, 3, data_format="nchw"), "data_format"),
    ],
)
def test_bad_arguments_are_refused_with_the_argument_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_input_that_does_not_fit_the_built_layer_is_refused():
    conv = layers.Conv2D(4, 3)
    conv(np.zeros((1, 8, 8, 3), np.float32))
    with pytest.raises(
        ValueError,
        match=r"built for input of shape \(None, 8, 8, 3\).*"
        r"Received: x.shape=\(1, 8, 8, 2\)",
    ):
        conv(np.zeros((1, 8, 8, 2), np.float32))
    with pytest.raises(TypeError, match="floating-point"):
        layers.Dense(2)(np.zeros((1, 3), np.int64))
    with pytest.raises(ValueError, match="4-D input"):
        layers.Conv2D(2, 3)(np.zeros((2, 8), np.float32))


def test_dropout_is_active_only_in_training():
    x = np.ones((50, 40), np.float32)
    layer = layers.Dropout(0.5)
    assert np.array_equal(layer(x).data, x)
    dropped = layer(Tensor(x), training=True).data
    assert set(np.unique(dropped)) == {0.0, 2.0}
