"""The volume layers and the transposed convolutions: Conv3D, Conv2DTranspose,
Conv3DTranspose, the 3-D poolings and normalisation over volumes. Symbolic shapes, a small
3-D U-Net that trains and round-trips through a file, errors, and Keras's outputs for the same
weights (their shapes, weights, configs and a training step are rows of test_layers.py)."""

import numpy as np
import pytest

import juanji
from juanji import layers, ops
from juanji.models import Model, load_model
from tests.helpers import check_grad, check_vs_torch, forget_keras, keras_on_torch  # noqa: F401
from tests.layers import test_layers

# The volume layers' rows of the table every layer is tested on (shapes, weights, config
# round-trip, a training step): tests/layers/test_layers.py.
VOLUME_LAYERS = (
    layers.Conv3D,
    layers.Conv2DTranspose,
    layers.Conv3DTranspose,
    layers.MaxPooling3D,
    layers.AveragePooling3D,
    layers.GlobalAveragePooling3D,
    layers.GlobalMaxPooling3D,
)
CASES = [c for c in test_layers.CASES if c[0] in VOLUME_LAYERS or len(c[2]) == 5]


def _inputs(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize(
    "cls,kwargs,in_shape,out_shape,n_params",
    CASES,
    ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)],
)
def test_symbolic_inputs_get_the_output_shape(cls, kwargs, in_shape, out_shape, n_params):
    assert cls(**kwargs)(juanji.Input(in_shape[1:])).shape == (None, *out_shape[1:])


def test_a_small_3d_unet_trains_saves_and_loads(tmp_path):
    """Conv3D down, Conv3DTranspose back up with a skip connection, batch norm over volumes:
    a few steps fit a smoothed target, and the saved model predicts the same."""
    juanji.set_seed(0)
    inputs = juanji.Input((4, 6, 8, 2))
    down = layers.Conv3D(4, 3, padding="same", activation="relu")(inputs)
    low = layers.Conv3D(8, 3, strides=2, padding="same", activation="relu")(down)
    low = layers.BatchNormalization()(low)
    up = layers.Conv3DTranspose(4, 3, strides=2, padding="same", output_padding=1)(low)
    merged = layers.Add()([up, down])
    pooled = layers.AveragePooling3D((1, 2, 2))(merged)
    outputs = layers.Conv3D(1, 1)(pooled)
    model = Model(inputs, outputs)
    model.compile(optimizer=juanji.optimizers.Adam(0.01), loss="mse")
    x = _inputs((8, 4, 6, 8, 2))
    y = ops.avg_pool3d(x[..., :1], pool_size=(1, 2, 2)).data
    history = model.fit(x, y, epochs=15, batch_size=8, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0]
    model.save(tmp_path / "unet.juanji")
    twin = load_model(tmp_path / "unet.juanji")
    np.testing.assert_array_equal(twin.predict(x), model.predict(x))


@pytest.mark.parametrize(
    "make, shape, match",
    [
        (lambda: layers.Conv3D(2, 3), (2, 5, 5, 3), r"Conv3D '.*' expects 5-D input"),
        (lambda: layers.Conv3D(2, (3, 3)), None, r"`kernel_size`.*kernel_size=\(3, 3\)"),
        (lambda: layers.Conv3D(0, 3), None, r"positive int for `filters`.*filters=0"),
        (lambda: layers.Conv2DTranspose(2, 3, padding="full"), None, r"padding='full'"),
        (lambda: layers.Conv2DTranspose(2, 3, output_padding=1), None, r"below the strides"),
        (lambda: layers.Conv3DTranspose(2, 3), (2, 5, 5, 3), r"expects 5-D input"),
        (lambda: layers.MaxPooling3D(), (2, 4, 4, 3), r"MaxPooling3D '.*' expects 5-D input"),
        (lambda: layers.AveragePooling3D((2, 2)), None, r"pool_size=\(2, 2\)"),
    ],
)
def test_errors_name_the_layer_or_argument_and_the_value(make, shape, match):
    with pytest.raises(ValueError, match=match):
        make()(_inputs(shape))


# --- group normalisation over volumes ------------------------------------------------------
def test_group_norm_over_volumes_matches_torch_and_central_differences():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 2, 3, 4)) * 2 + 1
    gamma, beta = rng.uniform(0.5, 1.5, 4), rng.standard_normal(4)

    def theirs(x, gamma, beta):
        y = torch.nn.functional.group_norm(x.movedim(-1, 1), 2, gamma, beta, eps=1e-3)
        return y.movedim(1, -1)

    check_vs_torch(ops.group_norm, theirs, [x, gamma, beta], groups=2)
    check_grad(ops.group_norm, [x, gamma, beta], groups=2)


# --- Keras's layouts: the same weights give the same outputs ------------------------------
# NOTE: the transposed cases avoid "same" with odd kernels and strides above 1, where Keras's
# torch backend crops one cell more at the start than its TensorFlow and JAX backends do
# (it warns about it); juanji follows TensorFlow and JAX.
KERAS_CASES = [
    ("Conv3D", {"filters": 3, "kernel_size": 3, "strides": (1, 2, 1)}, (1, 4, 5, 4, 2)),
    ("Conv3D", {"filters": 2, "kernel_size": (2, 3, 2), "padding": "same"}, (1, 3, 4, 4, 3)),
    ("Conv2DTranspose", {"filters": 3, "kernel_size": 3, "strides": 2}, (2, 3, 4, 2)),
    (
        "Conv2DTranspose",
        {"filters": 2, "kernel_size": 4, "strides": 2, "padding": "same"},
        (1, 3, 3, 3),
    ),
    ("Conv2DTranspose", {"filters": 2, "kernel_size": 3, "padding": "same"}, (1, 4, 3, 2)),
    ("Conv3DTranspose", {"filters": 2, "kernel_size": 2, "strides": 2}, (1, 2, 3, 2, 3)),
    (
        "Conv3DTranspose",
        {"filters": 2, "kernel_size": (3, 2, 3), "strides": (1, 2, 3)},
        (1, 2, 2, 2, 2),
    ),
    ("MaxPooling3D", {"pool_size": 2}, (1, 4, 4, 5, 2)),
    ("AveragePooling3D", {"pool_size": (2, 1, 2), "strides": 1}, (1, 3, 4, 4, 2)),
    ("GlobalAveragePooling3D", {}, (2, 3, 2, 4, 3)),
    ("GlobalMaxPooling3D", {}, (2, 3, 2, 4, 3)),
    ("BatchNormalization", {}, (2, 3, 2, 4, 3)),
]


@pytest.mark.parametrize(
    "name, kwargs, shape", KERAS_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(KERAS_CASES)]
)
@pytest.mark.usefixtures("forget_keras")
def test_keras_layer_with_the_same_weights_gives_the_same_output(name, kwargs, shape):
    keras = keras_on_torch()
    x = _inputs(shape)
    theirs = getattr(keras.layers, name)(**kwargs)
    theirs(x)  # builds the weights
    ours = getattr(layers, name)(**kwargs)
    ours(x)
    rng = np.random.default_rng(5)
    arrays = [rng.uniform(0.5, 1.5, w.shape).astype(np.float32) for w in theirs.weights]
    assert [tuple(w.shape) for w in theirs.weights] == [w.shape for w in ours.weights]
    theirs.set_weights(arrays)
    ours.set_weights(arrays)
    expected = np.asarray(keras.ops.convert_to_numpy(theirs(x)))
    np.testing.assert_allclose(ours(x).data, expected, rtol=1e-4, atol=1e-5)
