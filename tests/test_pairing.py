"""The compile-time check of output activation and loss pairs."""

import warnings

import numpy as np
import pytest

from juanji import layers, losses, pairing
from juanji.models import Sequential


def _model(activation, units=3, *, extra=()):
    return Sequential(
        [layers.Input((4,)), layers.Dense(units, activation=activation), *extra], name="m"
    )


def _compile_warnings(model, loss):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.compile(optimizer="sgd", loss=loss)
    return [str(w.message) for w in caught if issubclass(w.category, pairing.PairingWarning)]


BAD = [
    ("sigmoid", "mse", ["σ'(z)", "binary_crossentropy"]),
    ("softmax", "mse", ["σ'(z)", "categorical_crossentropy"]),
    (
        "softmax",
        losses.CategoricalCrossentropy(from_logits=True),
        ["second time", "from_logits=False"],
    ),
    ("softmax", losses.SparseCategoricalCrossentropy(from_logits=True), ["second time"]),
    ("sigmoid", losses.BinaryCrossentropy(from_logits=True), ["second time"]),
    ("tanh", "categorical_crossentropy", ["tanh", "activation='softmax'"]),
    ("relu", "sparse_categorical_crossentropy", ["relu", "from_logits=True"]),
    ("relu", "binary_crossentropy", ["activation='sigmoid'"]),
    (None, "categorical_crossentropy", ["linear", "from_logits=True"]),
]
GOOD = [
    ("softmax", "categorical_crossentropy"),
    ("softmax", "sparse_categorical_crossentropy"),
    ("sigmoid", "binary_crossentropy"),
    (None, losses.CategoricalCrossentropy(from_logits=True)),
    (None, losses.BinaryCrossentropy(from_logits=True)),
    (None, "mse"),
    ("tanh", "mse"),
    ("softmax", "multiclass_hinge"),
]


@pytest.mark.parametrize("activation,loss,words", BAD)
def test_each_bad_pair_warns_naming_the_fix(activation, loss, words):
    (message,) = _compile_warnings(_model(activation), loss)
    assert "Model 'm'" in message and "Fix:" in message
    for word in words:
        assert word in message


@pytest.mark.parametrize("activation,loss", GOOD)
def test_good_pairs_stay_silent(activation, loss):
    assert _compile_warnings(_model(activation), loss) == []


def test_the_output_is_found_through_trailing_layers_and_activation_layers():
    model = Sequential([layers.Input((4,)), layers.Dense(3), layers.Softmax(), layers.Dropout(0.5)])
    assert pairing.output_activation(model) == "softmax"
    assert len(_compile_warnings(model, "mse")) == 1
    model = Sequential([layers.Input((4,)), layers.Dense(3), layers.Activation("sigmoid")])
    assert pairing.output_activation(model) == "sigmoid"


def test_a_model_warns_once_and_can_be_silenced():
    model = _model("sigmoid")
    assert len(_compile_warnings(model, "mse")) == 1
    assert _compile_warnings(model, "mse") == []  # once per model
    quiet = pairing.silence(_model("sigmoid"))
    assert _compile_warnings(quiet, "mse") == []
    assert len(_compile_warnings(_model("sigmoid"), "mse")) == 1  # other models still warn


@pytest.mark.parametrize(
    "loss,y,fix",
    [
        ("categorical_crossentropy", np.array([0, 1, 2, 1]), "to_categorical"),
        ("sparse_categorical_crossentropy", np.eye(3)[[0, 1, 2, 1]], "np.argmax"),
    ],
)
def test_targets_that_do_not_suit_the_loss_fail_at_fit_naming_the_fix(loss, y, fix):
    model = _model("softmax")
    model.compile(optimizer="sgd", loss=loss)
    with pytest.raises(ValueError, match=fix):
        model.fit(np.zeros((4, 4), np.float32), y, epochs=1, verbose=0)
