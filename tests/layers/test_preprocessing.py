"""Preprocessing layers: Keras 3's outputs for the same parameters, active only in training,
one draw per image, seeded repeatability, adapt, gradients and save/load round-trips."""

import json

import numpy as np
import pytest

import juanji
from juanji import layers, registry
from juanji.models import Sequential, load_model
from tests.helpers import check_grad, forget_keras, keras_on_torch  # noqa: F401  (a fixture)

pytestmark = pytest.mark.usefixtures("forget_keras")

RANDOM = [
    (layers.RandomFlip, {}),
    (layers.RandomRotation, {"factor": 0.2}),
    (layers.RandomTranslation, {"height_factor": 0.2, "width_factor": (-0.1, 0.3)}),
    (layers.RandomZoom, {"height_factor": (-0.2, 0.3), "width_factor": 0.1}),
    (layers.RandomContrast, {"factor": 0.5}),
    (layers.RandomBrightness, {"factor": 0.3}),
]
ALL = RANDOM + [
    (layers.Rescaling, {"scale": 1 / 255, "offset": -0.5}),
    (layers.Resizing, {"height": 5, "width": 7, "crop_to_aspect_ratio": True}),
    (layers.CenterCrop, {"height": 6, "width": 6}),
    (layers.Normalization, {"mean": [1.0, 2.0, 3.0], "variance": [4.0, 1.0, 9.0]}),
]


def _images(shape=(4, 9, 12, 3), seed=0):
    return (np.random.default_rng(seed).random(shape) * 255).astype(np.float32)


@pytest.mark.parametrize("cls, kwargs", RANDOM, ids=[c.__name__ for c, _ in RANDOM])
def test_random_layers_are_the_identity_outside_training(cls, kwargs):
    x = _images()
    np.testing.assert_array_equal(cls(**kwargs)(x).data, x)
    np.testing.assert_array_equal(cls(**kwargs)(x, training=False).data, x)


@pytest.mark.parametrize("cls, kwargs", RANDOM, ids=[c.__name__ for c, _ in RANDOM])
def test_each_image_gets_its_own_draw_and_a_seed_repeats_them(cls, kwargs):
    x = np.repeat(_images((1, 9, 12, 3)), 16, axis=0)  # one image, 16 times
    y = cls(**kwargs, seed=3)(x, training=True).data
    assert y.shape == x.shape and y.dtype == np.float32
    assert len({y[i].tobytes() for i in range(16)}) > 1  # not one draw for the batch
    np.testing.assert_array_equal(cls(**kwargs, seed=3)(x, training=True).data, y)
    juanji.set_seed(5)  # without a seed, juanji's shared Generator decides
    first = cls(**kwargs)(x, training=True).data
    juanji.set_seed(5)
    np.testing.assert_array_equal(cls(**kwargs)(x, training=True).data, first)


@pytest.mark.parametrize("cls, kwargs", ALL, ids=[c.__name__ for c, _ in ALL])
def test_config_round_trip_and_save_load(cls, kwargs, tmp_path):
    layer = cls(**kwargs)
    x = _images()
    y = layer(x).data
    config = json.loads(json.dumps(layer.get_config()))
    twin = registry.get("layer", {"class_name": cls.__name__, "config": config})
    assert type(twin) is cls and twin.get_config() == config
    np.testing.assert_array_equal(twin(x).data, y)
    model = Sequential([layers.Input(x.shape[1:]), cls(**kwargs), layers.Flatten()])
    model.save(tmp_path / "m.juanji")
    np.testing.assert_array_equal(load_model(tmp_path / "m.juanji").predict(x), model.predict(x))


def test_a_quarter_turn_is_rot90_and_a_shift_is_a_roll():
    x = _images((2, 6, 6, 2))
    quarter = layers.RandomRotation((0.25, 0.25))(x, training=True).data
    np.testing.assert_allclose(quarter, np.rot90(x, k=1, axes=(1, 2)), atol=1e-3)
    shift = layers.RandomTranslation((0.5, 0.5), (0.0, 0.0), fill_mode="wrap")
    np.testing.assert_allclose(shift(x, training=True).data, np.roll(x, 3, axis=1), atol=1e-3)


def test_flip_turns_each_image_left_right_or_leaves_it():
    x = _images((32, 3, 5, 1))
    y = layers.RandomFlip("horizontal", seed=0)(x, training=True).data
    flipped = [bool(np.array_equal(a, b[:, ::-1])) for a, b in zip(y, x)]
    kept = [bool(np.array_equal(a, b)) for a, b in zip(y, x)]
    assert all(f != k for f, k in zip(flipped, kept)) and 4 < sum(flipped) < 28


def test_contrast_and_brightness_follow_their_formulas():
    x = _images((3, 4, 5, 2))
    y = layers.RandomContrast(0.4, seed=1)(x, training=True).data
    mean = x.mean(axis=(1, 2), keepdims=True)
    factor = (y - mean)[..., :1, :1, :1] / (x - mean)[..., :1, :1, :1]
    unclipped = (y > 0) & (y < 255)
    np.testing.assert_allclose(((x - mean) * factor + mean)[unclipped], y[unclipped], rtol=1e-4)
    assert np.all((factor >= 0.6) & (factor <= 1.4))
    y = layers.RandomBrightness((0.1, 0.1), value_range=(0, 255))(x, training=True).data
    np.testing.assert_allclose(y, np.clip(x + 25.5, 0, 255), rtol=1e-6)


def test_normalization_adapts_to_arrays_and_batches_and_inverts():
    x = np.random.default_rng(0).standard_normal((300, 4, 3)) * [1, 10, 100] + [5, -2, 7]
    layer = layers.Normalization()
    layer.adapt(x.astype(np.float32), batch_size=64)
    np.testing.assert_allclose(layer.mean.data.ravel(), x.mean(axis=(0, 1)), rtol=1e-5)
    np.testing.assert_allclose(layer.variance.data.ravel(), x.var(axis=(0, 1)), rtol=1e-4)
    streamed = layers.Normalization(axis=None)
    streamed.adapt((x[i : i + 50].astype(np.float32), None) for i in range(0, 300, 50))
    np.testing.assert_allclose(streamed.mean.data.ravel(), [x.mean()], rtol=1e-5)
    np.testing.assert_allclose(streamed.variance.data.ravel(), [x.var()], rtol=1e-5)
    y = layer(x.astype(np.float32)).data
    np.testing.assert_allclose(y.mean(axis=(0, 1)), 0, atol=1e-4)
    inverse = layers.Normalization(invert=True)
    inverse.adapt(x.astype(np.float32))
    np.testing.assert_allclose(inverse(y).data, x, rtol=1e-4, atol=1e-3)


def test_adapted_statistics_are_saved_with_the_model(tmp_path):
    x = _images((20, 4, 4, 3))
    norm = layers.Normalization()
    norm.adapt(x)
    model = Sequential([layers.Input((4, 4, 3)), norm, layers.Flatten(), layers.Dense(2)])
    model.save(tmp_path / "m.juanji")
    twin = load_model(tmp_path / "m.juanji")
    np.testing.assert_array_equal(twin.get_layer(norm.name).mean.data, norm.mean.data)
    np.testing.assert_array_equal(twin.predict(x), model.predict(x))


@pytest.mark.parametrize(
    "make",
    [
        lambda: layers.RandomRotation(0.1, seed=1),
        lambda: layers.RandomRotation(0.1, fill_mode="constant", fill_value=0.5, seed=1),
        lambda: layers.RandomTranslation(0.3, 0.2, fill_mode="wrap", seed=1),
        lambda: layers.RandomZoom(0.3, fill_mode="nearest", seed=1),
        lambda: layers.RandomContrast(0.3, value_range=(-10, 10), seed=1),
        lambda: layers.Resizing(3, 5, crop_to_aspect_ratio=True),
        lambda: layers.CenterCrop(6, 4),
    ],
    ids=["rotation", "rotation_constant", "translation_wrap", "zoom", "contrast", "resize", "crop"],
)
def test_gradients_flow_through_to_the_images(make):
    """A fresh layer of the same seed per call: the same draws for every difference."""
    x = np.random.default_rng(0).standard_normal((2, 5, 4, 2))
    check_grad(lambda x: make()(x, training=True), [x])


def test_augmentation_layers_train_inside_a_model():
    juanji.set_seed(0)
    (x, y), (x_test, y_test) = juanji.datasets.digits.load_data()
    model = Sequential(
        [
            layers.Input((8, 8, 1)),
            layers.Rescaling(1 / 255),
            layers.RandomRotation(0.03),
            layers.RandomTranslation(0.1, 0.1, fill_mode="constant"),
            layers.Conv2D(16, 3, activation="relu"),
            layers.Flatten(),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        juanji.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    model.fit(x.astype(np.float32), y, epochs=4, batch_size=64, verbose=0)
    _, accuracy = model.evaluate(x_test.astype(np.float32), y_test, verbose=0)
    assert accuracy > 0.85


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: layers.RandomFlip("diagonal"), r"Received: mode='diagonal'"),
        (lambda: layers.RandomRotation((0.3, 0.1)), r"lower <= upper.*factor=\(0.3, 0.1\)"),
        (lambda: layers.RandomZoom(-1.5), r"no lower than -1"),
        (lambda: layers.RandomTranslation(0.1, 0.1, fill_mode="mirror"), r"fill_mode='mirror'"),
        (lambda: layers.RandomContrast(-0.2), r"factor=-0.2"),
        (lambda: layers.RandomBrightness(1.5), r"within \[-1, 1\]"),
        (lambda: layers.Resizing(0, 3), r"Received: height=0"),
        (lambda: layers.Resizing(3, 3, interpolation="lanczos"), r"interpolation='lanczos'"),
        (lambda: layers.Normalization(mean=1.0), r"both `mean` and `variance`"),
    ],
)
def test_bad_arguments_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_images_must_be_batches():
    with pytest.raises(ValueError, match=r"expects images \(N, H, W, C\)"):
        layers.RandomRotation(0.1)(np.zeros((9, 12, 3), np.float32))


# --- Keras 3 gives the same outputs for the same parameters -------------------------------
KERAS_CASES = [
    ("RandomRotation", {"factor": (0.1, 0.1)}),
    ("RandomRotation", {"factor": (0.25, 0.25), "fill_mode": "constant", "fill_value": 9.0}),
    ("RandomRotation", {"factor": (-0.07, -0.07), "fill_mode": "wrap"}),
    ("RandomRotation", {"factor": (0.1, 0.1), "fill_mode": "nearest", "interpolation": "nearest"}),
    ("RandomTranslation", {"height_factor": (0.2, 0.2), "width_factor": (-0.3, -0.3)}),
    (
        "RandomTranslation",
        {"height_factor": (0.13, 0.13), "width_factor": (0.21, 0.21), "fill_mode": "wrap"},
    ),
    ("RandomZoom", {"height_factor": (0.3, 0.3)}),
    (
        "RandomZoom",
        {"height_factor": (-0.3, -0.3), "width_factor": (0.2, 0.2), "fill_mode": "constant"},
    ),
    ("RandomBrightness", {"factor": (0.2, 0.2)}),
    ("RandomContrast", {"factor": (0.0, 0.0)}),
    ("Rescaling", {"scale": 0.5, "offset": 3.0}),
    ("Resizing", {"height": 5, "width": 7}),
    ("Resizing", {"height": 5, "width": 7, "crop_to_aspect_ratio": True}),
    ("Resizing", {"height": 14, "width": 5, "interpolation": "nearest"}),
    ("CenterCrop", {"height": 5, "width": 7}),
    ("CenterCrop", {"height": 12, "width": 10}),
]


@pytest.mark.parametrize("name, kwargs", KERAS_CASES, ids=[c[0] for c in KERAS_CASES])
def test_keras_gives_the_same_output(name, kwargs):
    keras = keras_on_torch()
    x = _images((2, 9, 12, 3))
    expected = keras.ops.convert_to_numpy(getattr(keras.layers, name)(**kwargs)(x, training=True))
    ours = getattr(layers, name)(**kwargs)(x, training=True).data
    np.testing.assert_allclose(ours, expected, atol=2e-3)
