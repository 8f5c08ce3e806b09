"""Keras 1 optimizers, models, data utilities and the progress bar on juanji."""

import math

import numpy as np
import pytest

from juanji import optimizers as modern
from juanji.autograd import Tensor
from juanji.compat.keras1 import callbacks, layers, optimizers
from juanji.compat.keras1.datasets import mnist
from juanji.compat.keras1.models import Sequential
from juanji.compat.keras1.preprocessing.image import ImageDataGenerator
from juanji.compat.keras1.utils import generic_utils, np_utils
from juanji.models import load_model


def _steps(optimizer, grads):
    w = Tensor(np.zeros(3))
    trajectory = []
    for g in grads:
        optimizer.apply([g], [w])
        trajectory.append(w.data.copy())
    return np.array(trajectory)


def test_sgd_decay_follows_keras1_inverse_time_rule_with_nesterov_momentum():
    lr, decay, momentum = 0.1, 0.5, 0.9
    grads = np.random.default_rng(0).normal(size=(6, 3))
    w, v, expected = np.zeros(3), np.zeros(3), []
    for t, g in enumerate(grads):  # Keras 1's SGD.get_updates, iterations counted before
        lr_t = lr / (1 + decay * t)
        v = momentum * v - lr_t * g
        w = w + momentum * v - lr_t * g
        expected.append(w)
    sgd = optimizers.SGD(lr=lr, decay=decay, momentum=momentum, nesterov=True)
    np.testing.assert_allclose(_steps(sgd, grads), expected, rtol=1e-12)


@pytest.mark.parametrize(
    "legacy", [optimizers.Adagrad, optimizers.Adadelta, optimizers.RMSprop, optimizers.Adam]
)
def test_decay_of_other_optimizers_is_the_same_rule(legacy):
    optimizer = legacy(lr=0.2, decay=0.25)
    for t in range(4):
        assert math.isclose(optimizer.learning_rate, 0.2 / (1 + 0.25 * t))
        optimizer.apply([np.ones(2)], [Tensor(np.zeros(2))])


@pytest.mark.parametrize(
    "name,cls,settings",
    [
        ("sgd", modern.SGD, {"learning_rate": 0.01, "momentum": 0.0, "decay": 0.0}),
        (
            "adagrad",
            modern.Adagrad,
            {"learning_rate": 0.01, "epsilon": 1e-8, "initial_accumulator_value": 0.0},
        ),
        ("adadelta", modern.Adadelta, {"learning_rate": 1.0, "rho": 0.95, "epsilon": 1e-8}),
        ("rmsprop", modern.RMSprop, {"learning_rate": 0.001, "rho": 0.9, "epsilon": 1e-8}),
        (
            "adam",
            modern.Adam,
            {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8},
        ),
    ],
)
def test_optimizer_names_give_keras1_defaults(name, cls, settings):
    optimizer = optimizers.get(name)
    assert isinstance(optimizer, cls)
    assert {k: getattr(optimizer, k) for k in settings} == settings


def test_an_unknown_optimizer_name_is_refused():
    with pytest.raises(ValueError, match="optimizer='nadam'"):
        optimizers.get("nadam")


def _blobs(n=96, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.normal(0, 0.3, (n, 1, 6, 6))
    for c in range(3):
        x[y == c, 0, 2 * c : 2 * c + 2] += 1.0
    return x, np_utils.to_categorical(y, 3)


def _model(metrics=None):
    model = Sequential()
    model.add(layers.Convolution2D(4, 3, 3, input_shape=(1, 6, 6)))
    model.add(layers.Activation("relu"))
    model.add(layers.Flatten())
    model.add(layers.Dense(3, init="normal"))
    model.add(layers.Activation("softmax"))
    model.compile(
        loss="categorical_crossentropy",
        optimizer=optimizers.SGD(lr=0.1, momentum=0.9),
        metrics=metrics,
    )
    return model


def test_fit_counts_nb_epoch_and_logs_accuracy_as_acc(capsys):
    x, y = _blobs()
    history = _model(metrics=["accuracy"]).fit(
        x, y, batch_size=16, nb_epoch=3, verbose=2, validation_split=0.25
    )
    assert sorted(history.history) == ["acc", "loss", "val_acc", "val_loss"]
    assert len(history.history["loss"]) == 3
    assert "Train on 72 samples, validate on 24 samples" in capsys.readouterr().out
    assert len(_model().fit(x, y, epochs=2, verbose=0).history["loss"]) == 2
    with pytest.raises(ValueError, match="nb_epoch=2, epochs=3"):
        _model().fit(x, y, nb_epoch=2, epochs=3, verbose=0)


def test_train_and_test_return_loss_and_accuracy_and_learn():
    x, y = _blobs()
    model = _model()
    first, _ = model.train(x, y, accuracy=True)
    for _ in range(30):
        loss, accuracy = model.train(x, y, accuracy=True)
    assert loss < first / 2 and accuracy > 0.9
    test_loss, test_accuracy = model.test(x, y, accuracy=True)
    assert math.isclose(test_loss, model.evaluate(x, y), rel_tol=1e-5)
    assert math.isclose(test_accuracy, model.evaluate(x, y, show_accuracy=True)[1])
    assert isinstance(model.train_on_batch(x, y), float)  # show_accuracy lasts one call


def test_predict_classes_and_proba():
    x, _ = _blobs(10)
    model = _model()
    proba = model.predict_proba(x, verbose=0)
    np.testing.assert_array_equal(model.predict_classes(x, verbose=0), proba.argmax(axis=-1))
    binary = Sequential([layers.Dense(1, input_dim=2, activation="sigmoid")])
    binary.compile(loss="binary_crossentropy", optimizer="sgd")
    points = np.array([[5.0, 5.0], [-5.0, -5.0]])
    expected = (binary.predict(points) > 0.5).astype(int).ravel()
    np.testing.assert_array_equal(binary.predict_classes(points, verbose=0), expected)


def test_numpy_seed_makes_a_run_repeatable():
    x, y = _blobs()
    predictions = []
    for _ in range(2):
        np.random.seed(1024)
        model = _model()
        model.fit(x, y, nb_epoch=1, verbose=0)
        predictions.append(model.predict(x))
    np.testing.assert_array_equal(*predictions)


def test_fit_generator_trains_on_a_flow_and_calls_keras1_batch_hooks():
    x, y = _blobs()

    class CountBatches(callbacks.Callback):
        batches = 0

        def on_batch_end(self, batch, logs=None):
            CountBatches.batches += 1

    flow = ImageDataGenerator().flow(x, y, batch_size=32)
    history = _model().fit_generator(
        flow,
        samples_per_epoch=96,
        nb_epoch=2,
        verbose=0,
        callbacks=[CountBatches()],
        validation_data=(x, y),
    )
    assert len(history.history["val_loss"]) == 2 and CountBatches.batches == 6


def test_flow_gives_one_epoch_per_loop_and_endless_batches_by_next():
    x, y = np.arange(10.0).reshape(10, 1, 1, 1).repeat(2, axis=2), np.arange(10)
    flow = ImageDataGenerator().flow(x, y, batch_size=4, seed=0)
    for _ in range(2):
        labels = np.concatenate([yb for _, yb in flow])
        assert sorted(labels) == list(range(10))
    assert [len(next(flow)[1]) for _ in range(5)] == [4, 4, 2, 4, 4]
    xb, _ = next(flow)
    assert xb.shape[1:] == (1, 2, 1) and xb.dtype == np.float32


def test_image_generator_uses_keras1_units():
    generator = ImageDataGenerator(shear_range=0.2, rotation_range=30, zoom_range=0.1)
    assert math.isclose(generator.shear_range, math.degrees(0.2))
    assert generator.rotation_range == 30 and generator.data_format == "channels_first"
    with pytest.raises(ValueError, match="width_shift_range=4"):
        ImageDataGenerator(width_shift_range=4)


def test_to_categorical_flattens_labels():
    np.testing.assert_array_equal(np_utils.to_categorical(np.array([[1], [0]])), [[0, 1], [1, 0]])
    assert np_utils.to_categorical([3], nb_classes=5).shape == (1, 5)
    np.testing.assert_array_equal(np_utils.probas_to_classes([[0.2, 0.8], [0.9, 0.1]]), [1, 0])
    np.testing.assert_array_equal(np_utils.probas_to_classes([[0.7], [0.2]]), [1, 0])


def test_progbar_draws_a_keras1_bar_with_running_averages(capsys):
    bar = generic_utils.Progbar(40, width=10)
    bar.add(10, values=[("loss", 1.0)])
    bar.add(30, values=[("loss", 0.5), ("acc", 0.0001)])
    out = capsys.readouterr().out
    assert "\r10/40 [=>........] - ETA: " in out
    assert out.endswith("40/40 [==========] - 0s - loss: 0.6250 - acc: 1.0000e-04\n")
    with pytest.raises(ValueError, match="target=0"):
        generic_utils.Progbar(0)


def test_mnist_loads_without_a_channel_axis(monkeypatch):
    images = np.zeros((3, 28, 28), np.uint8)  # as juanji.datasets.mnist (and Keras) give them
    labels = np.arange(3, dtype=np.uint8)
    monkeypatch.setattr(mnist.mnist, "load_data", lambda: ((images, labels), (images[:1], labels)))
    (x_train, y_train), (x_test, _) = mnist.load_data(path="mnist.pkl.gz")
    assert x_train.shape == (3, 28, 28) and x_test.shape == (1, 28, 28) and len(y_train) == 3


def test_a_saved_keras1_model_loads_as_its_juanji_equivalent(tmp_path):
    x, y = _blobs()
    model = _model(metrics=["accuracy"])
    model.fit(x, y, nb_epoch=1, verbose=0)
    model.save(tmp_path / "model.juanji")
    loaded = load_model(tmp_path / "model.juanji")
    assert [type(layer).__name__ for layer in loaded.layers] == [
        "Conv2D",
        "Activation",
        "Flatten",
        "Dense",
        "Activation",
    ]
    np.testing.assert_array_equal(loaded.predict(x.astype(np.float32)), model.predict(x))
    model.save_weights(tmp_path / "weights.h5")
    with pytest.raises(FileExistsError, match="weights.h5"):
        model.save_weights(tmp_path / "weights.h5", overwrite=False)
    fresh = _model()
    fresh.load_weights(tmp_path / "weights.h5")
    np.testing.assert_array_equal(fresh.predict(x), model.predict(x))
