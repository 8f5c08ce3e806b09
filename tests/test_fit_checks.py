"""fit refuses data and settings that would train on garbage, and never applies a step that
is not made of numbers: it stops, keeps the last good weights and says so."""

import numpy as np
import pytest

from juanji import layers, ops, optimizers
from juanji.data.utils import to_categorical
from juanji.models import Sequential


def _data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 4)).astype(np.float32), to_categorical(rng.integers(0, 3, n), 3)


def _model(loss="categorical_crossentropy", optimizer=None):
    activation = "softmax" if "crossentropy" in str(loss) else None
    model = Sequential([layers.Input((4,)), layers.Dense(3, activation=activation)])
    model.compile(optimizer=optimizer or optimizers.SGD(0.1), loss=loss)
    return model


@pytest.mark.parametrize(
    "where,bad,match",
    [
        ("x", np.nan, r"`x` to hold finite numbers.*1 NaN and 0 infinite.*index \(5, 2\)"),
        ("x", np.inf, r"`x` to hold finite numbers.*0 NaN and 1 infinite.*index \(5, 2\)"),
        ("y", np.nan, r"`y` to hold finite numbers.*1 NaN.*index \(5, 2\)"),
    ],
)
def test_non_finite_data_is_refused_before_any_step(where, bad, match):
    x, y = _data()
    (x if where == "x" else y)[5, 2] = bad
    model = _model(loss="mse")
    with pytest.raises(ValueError, match=match):
        model.fit(x, y, verbose=0)
    assert model.optimizer.iterations == 0


def test_non_finite_batches_of_a_dataset_are_refused_too():
    x, y = _data()
    x[9, 0] = np.nan

    class Batches:
        def __iter__(self):
            return ((x[i : i + 8], y[i : i + 8]) for i in range(0, 32, 8))

    model = _model()
    with pytest.raises(ValueError, match=r"`x` to hold finite.*index \(1, 0\)"):
        model.fit(Batches(), verbose=0)
    assert model.optimizer.iterations == 1  # the batch before it was fine


@pytest.mark.parametrize("row", [[2.0, 0.0, 0.0], [-1.0, 1.0, 1.0]], ids=["2.0", "negative"])
def test_one_hot_rows_must_hold_values_in_0_1(row):
    x, y = _data()
    y[7] = row
    with pytest.raises(ValueError, match=r"one-hot .*values in \[0, 1\].*1 rows.*row 7"):
        _model().fit(x, y, verbose=0)


def test_multi_hot_rows_train_as_in_keras():
    x, y = _data()
    y[7] = [1.0, 1.0, 0.0]
    assert np.isfinite(_model().fit(x, y, verbose=0).history["loss"][0])


def test_negative_integer_labels_are_refused():
    x, _ = _data()
    labels = np.zeros(32, np.int64)
    labels[3] = -1
    with pytest.raises(ValueError, match="labels in \\[0, 3\\).*from -1"):
        _model(loss="sparse_categorical_crossentropy").fit(x, labels, verbose=0)


@pytest.mark.parametrize("size", [0, -1, 2.5, True])
def test_batch_size_must_be_a_positive_integer(size):
    x, y = _data()
    model = _model()
    for call in (
        lambda: model.fit(x, y, batch_size=size, verbose=0),
        lambda: model.evaluate(x, y, batch_size=size),
        lambda: model.predict(x, batch_size=size),
        lambda: model.fit(x, y, validation_data=(x, y), validation_batch_size=size, verbose=0),
    ):
        with pytest.raises(ValueError, match=f"positive integer.*={size!r}"):
            call()
    assert model.optimizer.iterations == 0


def test_empty_data_is_refused():
    model = _model()
    x, y = np.zeros((0, 4), np.float32), np.zeros((0, 3), np.float32)
    with pytest.raises(ValueError, match="`x` to hold at least one sample"):
        model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match="no batch"):
        model.evaluate(x, y)


@pytest.mark.parametrize("rate", [np.inf, np.nan, 0.0, -1.0])
def test_learning_rate_must_be_finite_and_positive(rate):
    with pytest.raises(ValueError, match="learning_rate"):
        optimizers.SGD(rate)
    optimizer = optimizers.SGD(0.1)
    with pytest.raises(ValueError, match="learning_rate"):
        optimizer.learning_rate = rate


def test_a_step_with_a_nan_loss_is_not_applied_and_fit_says_so(capsys):
    """The loss turns NaN on the third batch: the two before it are applied, it is not."""
    x, y = _data()
    x[16:24] *= 100  # marks the third batch

    def loss(y_true, y_pred):
        value = ops.mean((y_pred - y_true) ** 2)
        return value * np.float32(np.nan) if np.abs(y_pred.data).max() > 0 and _marked else value

    marked = []
    _marked = False
    model = _model(loss=loss)
    twin = _model(loss=loss)
    twin.set_weights(model.get_weights())
    for start in (0, 8):
        twin.train_on_batch(x[start : start + 8], y[start : start + 8])

    original = model.train_step

    def train_step(xb, yb, wb=None):
        nonlocal _marked
        _marked = bool(np.abs(xb).max() > 50)
        marked.append(_marked)
        return original(xb, yb, wb)

    model.train_step = train_step
    with pytest.warns(RuntimeWarning, match="epoch 1, batch 2: the loss or a gradient is NaN"):
        history = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    assert marked == [False, False, True]
    assert model.optimizer.iterations == 2
    for got, want in zip(model.get_weights(), twin.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    assert history.nan_stop == {
        "epoch": 0,
        "batch": 2,
        "reason": "the loss or a gradient is NaN or infinite",
        "weights": "of the last step applied",
    }
    assert "Epoch 1, batch 2: the loss is nan" in capsys.readouterr().out  # TerminateOnNaN


def test_a_step_that_overflows_the_weights_is_undone():
    x, y = _data()
    model = Sequential([layers.Input((4,)), layers.Dense(3)])
    model.compile(optimizer=optimizers.SGD(1e38), loss="mse")
    x *= 1e4
    start = model.get_weights()
    with (
        np.errstate(over="ignore", invalid="ignore"),
        pytest.warns(RuntimeWarning, match="made a weight NaN or infinite.*start of epoch 1"),
    ):
        history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert history.nan_stop["batch"] == 0 and model.optimizer.iterations == 0
    for got, want in zip(model.get_weights(), start, strict=True):
        np.testing.assert_array_equal(got, want)
    assert all(np.isfinite(w).all() for w in model.get_weights())
