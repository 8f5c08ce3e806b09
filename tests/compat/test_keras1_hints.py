"""Migration hints print once per name and can be silenced; Keras 1 arguments without effect
are noted and ignored, and those that would change results are refused."""

import numpy as np
import pytest

from juanji.compat.keras1 import backend, layers, optimizers
from juanji.compat.keras1.models import Sequential
from juanji.compat.keras1.preprocessing.image import ImageDataGenerator
from juanji.compat.keras1.utils import np_utils


def _hint_lines(capsys):
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("keras1")]


def test_a_hint_shows_the_call_and_its_modern_equivalent_once(capsys):
    backend.set_image_dim_ordering("tf")
    layers.Convolution2D(4, 5, 5, border_mode="valid")
    layers.Convolution2D(8, 3, 3, border_mode="same")
    assert _hint_lines(capsys) == [
        "keras1 hint: Convolution2D(4, 5, 5, border_mode='valid') -> "
        "Conv2D(4, (5, 5), padding='valid')"
    ]


@pytest.mark.parametrize(
    "make,hint",
    [
        (
            lambda: layers.Convolution2D(4, 5, 5, input_shape=(1, 28, 28)),
            "Convolution2D(4, 5, 5, input_shape=(1, 28, 28)) -> "
            "Conv2D(4, (5, 5), data_format='channels_first', input_shape=(1, 28, 28))",
        ),
        (
            lambda: layers.Dense(128, init="normal", W_regularizer=None),
            "Dense(128, init='normal', W_regularizer=None) -> "
            "Dense(128, kernel_initializer='random_normal', kernel_regularizer=None)",
        ),
        (lambda: layers.Dropout(p=0.25), "Dropout(p=0.25) -> Dropout(0.25)"),
        (
            lambda: layers.LeakyReLU(alpha=0.1),
            "LeakyReLU(alpha=0.1) -> LeakyReLU(negative_slope=0.1)",
        ),
        (
            lambda: optimizers.SGD(lr=0.05, decay=1e-6, momentum=0.9, nesterov=True),
            "SGD(lr=0.05, decay=1e-06, momentum=0.9, nesterov=True) -> "
            "SGD(learning_rate=0.05, momentum=0.9, nesterov=True, decay=1e-06)",
        ),
        (lambda: optimizers.Adadelta(), "Adadelta() -> Adadelta(learning_rate=1.0, epsilon=1e-08)"),
        (
            lambda: ImageDataGenerator(shear_range=0.5, dim_ordering="tf"),
            "ImageDataGenerator(shear_range=0.5, dim_ordering='tf') -> "
            "ImageDataGenerator(shear_range=28.64788975654116, data_format='channels_last')",
        ),
        (
            lambda: np_utils.to_categorical([0, 1], 2),
            "np_utils.to_categorical(y, nb_classes=2) -> "
            "juanji.utils.to_categorical(y, num_classes=2)",
        ),
    ],
)
def test_hints_name_the_modern_call_with_the_actual_arguments(capsys, make, hint):
    make()
    assert _hint_lines(capsys) == [f"keras1 hint: {hint}"]


def test_a_call_that_is_already_modern_gives_no_hint(capsys):
    layers.Dropout(0.5)
    layers.Activation("tanh")
    layers.PReLU()
    assert _hint_lines(capsys) == []


def test_the_environment_variable_silences_hints_and_notes(capsys, monkeypatch):
    monkeypatch.setenv("JUANJI_NO_HINTS", "1")
    layers.Dense(3, init="uniform", W_constraint=None)
    assert capsys.readouterr().err == ""


def test_an_argument_without_effect_is_noted_once_and_ignored(capsys):
    first = layers.Dense(3, W_constraint=None, b_constraint=None)
    layers.Dense(4, W_constraint=None)
    lines = _hint_lines(capsys)
    assert sorted(lines) == [
        "keras1 note: Dense(W_constraint=None) has no effect in juanji and is ignored",
        "keras1 note: Dense(b_constraint=None) has no effect in juanji and is ignored",
    ]
    assert first.units == 3


@pytest.mark.parametrize(
    "make,argument",
    [
        (lambda: layers.Dense(3, W_constraint="maxnorm"), "W_constraint"),
        (lambda: layers.Convolution2D(3, 3, 3, activity_regularizer="l2"), "activity_regularizer"),
        (lambda: layers.BatchNormalization(mode=2), "mode"),
        (lambda: ImageDataGenerator(preprocessing_function=np.sqrt), "preprocessing_function"),
        (
            lambda: ImageDataGenerator().flow(np.zeros((2, 1, 4, 4)), save_to_dir="out"),
            "save_to_dir",
        ),
    ],
)
def test_an_unsupported_argument_that_changes_results_is_refused(make, argument):
    with pytest.raises(ValueError, match=f"`{argument}` is not supported.*Received: {argument}="):
        make()


def _compiled():
    model = Sequential([layers.Dense(2, input_dim=3, activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer="sgd", class_mode="categorical")
    return model


@pytest.mark.parametrize(
    "call,argument",
    [
        (
            lambda m, x, y: m.fit(x, y, nb_epoch=1, verbose=0, class_weight={0: 1.0, 1: 2.0}),
            "class_weight",
        ),
        (
            lambda m, x, y: m.fit(x, y, nb_epoch=1, verbose=0, sample_weight=np.ones(4)),
            "sample_weight",
        ),
        (lambda m, x, y: m.train_on_batch(x, y, sample_weight=np.ones(4)), "sample_weight"),
        (lambda m, x, y: m.evaluate(x, y, sample_weight=np.ones(4)), "sample_weight"),
    ],
)
def test_sample_and_class_weights_are_refused(call, argument):
    x, y = np.ones((4, 3)), np.eye(2)[[0, 1, 0, 1]]
    with pytest.raises(ValueError, match=f"`{argument}`"):
        call(_compiled(), x, y)


def test_class_mode_is_noted_and_unknown_arguments_are_type_errors(capsys):
    model = _compiled()
    assert "compile(class_mode='categorical') has no effect" in capsys.readouterr().err
    with pytest.raises(TypeError, match="show_acuracy"):
        model.evaluate(np.ones((4, 3)), np.eye(2)[[0, 1, 0, 1]], show_acuracy=True)
    with pytest.raises(TypeError, match="W_regulariser"):
        layers.Dense(3, W_regulariser=None)
