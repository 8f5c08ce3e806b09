"""The merge, reshaping, depthwise/separable convolution, layer/group normalisation and
spatial dropout layers: shapes, weights, config and save/load round-trips, a training step,
Keras's weight layouts and a residual and an Inception-style block that train."""

import json

import numpy as np
import pytest

import juanji
from juanji import layers, ops, registry
from juanji.models import Model, Sequential, load_model
from tests.helpers import forget_keras, keras_on_torch  # noqa: F401  (a fixture)

pytestmark = pytest.mark.usefixtures("forget_keras")

# (class, kwargs, input shape(s), output shape, parameter count)
CASES = [
    (layers.Add, {}, [(2, 3, 4), (2, 3, 4)], (2, 3, 4), 0),
    (layers.Add, {}, [(2, 3, 4), (2, 1, 4), (2, 3, 1)], (2, 3, 4), 0),
    (layers.Subtract, {}, [(2, 5), (2, 5)], (2, 5), 0),
    (layers.Multiply, {}, [(2, 5), (2, 5), (2, 5)], (2, 5), 0),
    (layers.Average, {}, [(2, 4, 4, 2), (2, 4, 4, 2)], (2, 4, 4, 2), 0),
    (layers.Maximum, {}, [(2, 5), (2, 5)], (2, 5), 0),
    (layers.Minimum, {}, [(2, 5), (2, 5)], (2, 5), 0),
    (layers.Concatenate, {}, [(2, 4, 4, 2), (2, 4, 4, 3)], (2, 4, 4, 5), 0),
    (layers.Concatenate, {"axis": 1}, [(2, 3, 5), (2, 1, 5)], (2, 4, 5), 0),
    (layers.Permute, {"dims": (2, 1)}, (2, 3, 5), (2, 5, 3), 0),
    (layers.Permute, {"dims": (3, 1, 2)}, (2, 3, 4, 5), (2, 5, 3, 4), 0),
    (layers.RepeatVector, {"n": 3}, (2, 5), (2, 3, 5), 0),
    (layers.UpSampling2D, {}, (2, 3, 4, 2), (2, 6, 8, 2), 0),
    (
        layers.UpSampling2D,
        {"size": (1, 3), "interpolation": "bilinear"},
        (2, 3, 4, 2),
        (2, 3, 12, 2),
        0,
    ),
    (layers.UpSampling2D, {"data_format": "channels_first"}, (2, 2, 3, 4), (2, 2, 6, 8), 0),
    (layers.UpSampling3D, {"size": (1, 2, 3)}, (1, 2, 3, 2, 2), (1, 2, 6, 6, 2), 0),
    (layers.ZeroPadding2D, {}, (2, 3, 4, 2), (2, 5, 6, 2), 0),
    (layers.ZeroPadding2D, {"padding": ((1, 0), (0, 2))}, (2, 3, 4, 2), (2, 4, 6, 2), 0),
    (layers.ZeroPadding3D, {"padding": (1, 0, 2)}, (1, 2, 3, 2, 2), (1, 4, 3, 6, 2), 0),
    (layers.Cropping2D, {"cropping": ((1, 0), (1, 2))}, (2, 5, 6, 2), (2, 4, 3, 2), 0),
    (
        layers.Cropping2D,
        {"cropping": 1, "data_format": "channels_first"},
        (2, 2, 5, 6),
        (2, 2, 3, 4),
        0,
    ),
    (layers.Cropping3D, {"cropping": (1, 0, 1)}, (1, 4, 3, 5, 2), (1, 2, 3, 3, 2), 0),
    (layers.DepthwiseConv2D, {"kernel_size": 3}, (2, 6, 6, 3), (2, 4, 4, 3), 30),
    (
        layers.DepthwiseConv2D,
        {"kernel_size": 3, "depth_multiplier": 2, "padding": "same", "strides": 2},
        (2, 6, 6, 3),
        (2, 3, 3, 6),
        60,
    ),
    (
        layers.DepthwiseConv2D,
        {"kernel_size": 2, "data_format": "channels_first", "use_bias": False},
        (2, 3, 5, 5),
        (2, 3, 4, 4),
        12,
    ),
    (layers.SeparableConv2D, {"filters": 4, "kernel_size": 3}, (2, 6, 6, 3), (2, 4, 4, 4), 43),
    (
        layers.SeparableConv2D,
        {"filters": 4, "kernel_size": 3, "depth_multiplier": 2, "activation": "relu"},
        (2, 5, 5, 2),
        (2, 3, 3, 4),
        36 + 16 + 4,
    ),
    (layers.LayerNormalization, {}, (4, 5), (4, 5), 10),
    (layers.LayerNormalization, {"axis": [1, 2, 3]}, (2, 3, 3, 2), (2, 3, 3, 2), 36),
    (layers.LayerNormalization, {"center": False}, (2, 3, 4), (2, 3, 4), 4),
    (layers.GroupNormalization, {"groups": 2}, (2, 4, 4, 6), (2, 4, 4, 6), 12),
    (layers.GroupNormalization, {"groups": 3, "scale": False}, (4, 6), (4, 6), 6),
    (layers.SpatialDropout2D, {"rate": 0.5}, (2, 4, 4, 3), (2, 4, 4, 3), 0),
]
IDS = [f"{cls.__name__}-{i}" for i, (cls, *_) in enumerate(CASES)]


def _inputs(shape, seed=0):
    rng = np.random.default_rng(seed)
    if isinstance(shape, list):
        return [rng.standard_normal(s).astype(np.float32) for s in shape]
    return rng.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("cls,kwargs,in_shape,out_shape,n_params", CASES, ids=IDS)
def test_output_shape_parameter_count_and_symbolic_shape(
    cls, kwargs, in_shape, out_shape, n_params
):
    layer = cls(**kwargs)
    y = layer(_inputs(in_shape))
    assert y.shape == out_shape and y.dtype == np.float32
    assert layer.count_params() == n_params
    if hasattr(layer, "compute_output_shape"):
        shapes = [(None, *s[1:]) for s in in_shape] if isinstance(in_shape, list) else None
        shape = shapes if shapes else (None, *in_shape[1:])
        assert layer.compute_output_shape(shape) == (None, *out_shape[1:])
    symbolic_in = (
        [juanji.Input(s[1:]) for s in in_shape]
        if isinstance(in_shape, list)
        else juanji.Input(in_shape[1:])
    )
    assert cls(**kwargs)(symbolic_in).shape == (None, *out_shape[1:])


@pytest.mark.parametrize("cls,kwargs,in_shape,out_shape,n_params", CASES, ids=IDS)
def test_config_round_trip_rebuilds_the_same_layer(cls, kwargs, in_shape, out_shape, n_params):
    x = _inputs(in_shape)
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


TRAINABLE = [c for c in CASES if c[4]]


@pytest.mark.parametrize(
    "cls,kwargs,in_shape,out_shape,n_params", TRAINABLE, ids=[c[0].__name__ for c in TRAINABLE]
)
def test_one_gradient_step_lowers_the_loss(cls, kwargs, in_shape, out_shape, n_params):
    juanji.set_seed(3)
    layer = cls(**kwargs)
    x, target = _inputs(in_shape), _inputs(out_shape, seed=2)

    def loss():
        return ops.mean_squared_error(layer(x, training=True), target)

    before = loss()
    before.backward()
    for w in layer.trainable_weights:
        assert w.grad is not None and np.abs(w.grad).sum() > 0
        w.data -= 0.05 * w.grad
    assert float(loss().data) < float(before.data)


def test_layers_save_and_load_in_a_model(tmp_path):
    juanji.set_seed(0)
    model = Sequential(
        [
            layers.Input((8, 8, 3)),
            layers.ZeroPadding2D(1),
            layers.DepthwiseConv2D(3, depth_multiplier=2),
            layers.LayerNormalization(),
            layers.SeparableConv2D(4, 3, padding="same"),
            layers.GroupNormalization(groups=2),
            layers.SpatialDropout2D(0.2),
            layers.UpSampling2D(interpolation="bilinear"),
            layers.Cropping2D(((1, 1), (2, 0))),
            layers.Permute((2, 1, 3)),
            layers.Flatten(),
            layers.RepeatVector(2),
            layers.Flatten(),
            layers.Dense(3),
        ]
    )
    x = _inputs((2, 8, 8, 3))
    for w in model.weights:
        w.data += np.random.default_rng(1).uniform(0.1, 0.5, w.shape).astype(np.float32)
    model.save(tmp_path / "m.juanji")
    twin = load_model(tmp_path / "m.juanji")
    np.testing.assert_array_equal(twin.predict(x), model.predict(x))


def test_spatial_dropout_drops_whole_channels_only_in_training():
    layer = layers.SpatialDropout2D(0.5, seed=1)
    x = np.ones((8, 5, 5, 6), np.float32)
    y = layer(x, training=True).data
    per_map = y.reshape(8, 25, 6)
    assert np.all(per_map.min(axis=1) == per_map.max(axis=1))  # each map kept or dropped whole
    assert set(np.unique(y)) == {0.0, 2.0}
    np.testing.assert_array_equal(layer(x, training=False).data, x)


@pytest.mark.parametrize(
    "make, inputs, match",
    [
        (
            lambda: layers.Add(),
            [(2, 3), (2, 4)],
            r"'add.*' needs inputs of the same shape.*\(2, 3\), \(2, 4\)",
        ),
        (lambda: layers.Subtract(), [(2, 3)] * 3, r"needs 2 inputs. Received: 3"),
        (lambda: layers.Add(), (2, 3), r"must be called on a list of tensors"),
        (lambda: layers.Concatenate(), [(2, 3, 4), (2, 2, 5)], r"match on every axis but axis=-1"),
        (lambda: layers.Permute((1, 3)), (2, 3, 4), r"permutation of 1..2.*\(1, 3\)"),
        (lambda: layers.UpSampling2D(), (2, 3, 4), r"expects 4-D input"),
        (lambda: layers.ZeroPadding2D((1, 2, 3)), (2, 3, 4, 1), r"Received: padding=\(1, 2, 3\)"),
        (lambda: layers.GroupNormalization(groups=4), (2, 6), r"divide the 6 channels"),
        (
            lambda: layers.DepthwiseConv2D(3, depth_multiplier=0),
            (2, 5, 5, 1),
            r"depth_multiplier=0",
        ),
    ],
)
def test_errors_name_the_layer_or_argument_and_the_value(make, inputs, match):
    with pytest.raises(ValueError, match=match):
        make()(_inputs(list(inputs)) if isinstance(inputs, list) else _inputs(inputs))


def test_merge_gradients_reach_every_input():
    a, b = (juanji.Tensor(v, requires_grad=True) for v in _inputs([(2, 3), (2, 3)]))
    layers.Average()([a, b]).sum().backward()
    np.testing.assert_allclose(a.grad, 0.5)
    np.testing.assert_allclose(b.grad, 0.5)


# --- Keras's layouts: the same weights give the same outputs ------------------------------
KERAS_CASES = [
    ("DepthwiseConv2D", {"kernel_size": 3, "depth_multiplier": 2, "padding": "same"}, (2, 6, 5, 3)),
    ("SeparableConv2D", {"filters": 4, "kernel_size": 3, "depth_multiplier": 2}, (2, 6, 5, 3)),
    ("LayerNormalization", {"axis": [1, 2, 3]}, (2, 4, 3, 2)),
    ("GroupNormalization", {"groups": 2}, (2, 4, 3, 4)),
    ("UpSampling2D", {"size": (2, 3), "interpolation": "bilinear"}, (2, 3, 4, 2)),
    ("ZeroPadding2D", {"padding": ((1, 0), (2, 1))}, (2, 3, 4, 2)),
    ("Cropping2D", {"cropping": ((1, 0), (2, 1))}, (2, 5, 6, 2)),
    ("Permute", {"dims": (3, 1, 2)}, (2, 3, 4, 2)),
]


@pytest.mark.parametrize("name, kwargs, shape", KERAS_CASES, ids=[c[0] for c in KERAS_CASES])
def test_keras_layer_with_the_same_weights_gives_the_same_output(name, kwargs, shape):
    keras = keras_on_torch()
    x = _inputs(shape)
    theirs = getattr(keras.layers, name)(**kwargs)
    theirs(x)  # builds the weights
    ours = getattr(layers, name)(**kwargs)
    ours(x)
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal(w.shape).astype(np.float32) for w in theirs.weights]
    assert [tuple(w.shape) for w in theirs.weights] == [w.shape for w in ours.weights]
    theirs.set_weights(arrays)
    ours.set_weights(arrays)
    expected = np.asarray(keras.ops.convert_to_numpy(theirs(x)))
    np.testing.assert_allclose(ours(x).data, expected, rtol=1e-4, atol=1e-5)


# --- blocks of the functional API ----------------------------------------------------------
def _residual_block(x, filters):
    y = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
    y = layers.Conv2D(filters, 3, padding="same")(y)
    y = layers.LayerNormalization()(y)
    return layers.Activation("relu")(layers.Add()([x, y]))


def _inception_block(x):
    a = layers.Conv2D(4, 1, activation="relu")(x)
    b = layers.SeparableConv2D(4, 3, padding="same", activation="relu")(x)
    c = layers.DepthwiseConv2D(5, padding="same")(x)
    d = layers.MaxPooling2D(3, strides=1, padding="same")(x)
    return layers.Concatenate()([a, b, c, d])


@pytest.mark.parametrize("block", ["residual", "inception"])
def test_residual_and_inception_blocks_build_and_train(block, tmp_path):
    juanji.set_seed(0)
    (x, y), (x_test, y_test) = juanji.datasets.digits.load_data()
    x, y, x_test = x[:512].astype(np.float32) / 255, y[:512], x_test.astype(np.float32) / 255
    inputs = juanji.Input((8, 8, 1))
    h = layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    h = _residual_block(h, 8) if block == "residual" else _inception_block(h)
    h = layers.GroupNormalization(groups=4)(h)
    outputs = layers.Dense(10, activation="softmax")(layers.Flatten()(h))
    model = Model(inputs, outputs)
    model.compile(
        optimizer=juanji.optimizers.Adam(0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x, y, epochs=6, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy > 0.85  # 0.964 (residual) and 0.950 (inception) when written
    model.save(tmp_path / "block.juanji")
    twin = load_model(tmp_path / "block.juanji")
    np.testing.assert_array_equal(twin.predict(x_test), model.predict(x_test))
