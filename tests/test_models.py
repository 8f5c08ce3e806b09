"""Sequential and subclassed models: summary, fit/evaluate/predict, bad input, saving, resume."""

import io
import json
import os
import zipfile

import numpy as np
import pytest

import juanji
from juanji import callbacks, layers, zoo
from juanji.models import Model, Sequential, load_model
from juanji.utils import to_categorical


def _blobs(n=64, seed=0, shape=(8, 8, 1), classes=3):
    """Images whose class is which third of the image is bright: learnable by a small CNN."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    x = rng.normal(0, 0.3, (n, *shape)).astype(np.float32)
    band = shape[0] // classes
    for c in range(classes):
        x[y == c, c * band : (c + 1) * band] += 1.0
    return x, to_categorical(y, classes)


def _tiny_cnn(classes=3, optimizer=None):
    model = Sequential(
        [
            layers.Input((8, 8, 1)),
            layers.Conv2D(4, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(classes, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=optimizer or juanji.optimizers.Adam(0.01),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def test_seed_cnn_summary_counts_every_layer():
    out = io.StringIO()
    zoo.seed_cnn().summary(print_fn=lambda s: out.write(s))
    text = out.getvalue()
    for count, shape in [
        ("104", "(None, 24, 24, 4)"),
        ("296", "(None, 22, 22, 8)"),
        ("1,168", "(None, 9, 9, 16)"),
        ("32,896", "(None, 128)"),
        ("1,290", "(None, 10)"),
    ]:
        assert any(count in line and shape in line for line in text.splitlines()), count
    assert "Total params: 35,754" in text and "Non-trainable params: 0" in text


def test_a_tiny_cnn_overfits_64_samples():
    juanji.set_seed(0)
    x, y = _blobs()
    model = _tiny_cnn()
    history = model.fit(x, y, batch_size=16, epochs=30, verbose=0)
    assert history.history["accuracy"][-1] == 1.0
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]
    assert model.evaluate(x, y)[1] == 1.0


def test_validation_split_holds_out_the_last_fraction_before_shuffling():
    juanji.set_seed(1)
    x, y = _blobs(50)
    model = _tiny_cnn()
    history = model.fit(x, y, batch_size=8, epochs=1, validation_split=0.2, verbose=0)
    val_loss, val_acc = model.evaluate(x[40:], y[40:])
    assert history.history["val_loss"] == [pytest.approx(val_loss, rel=1e-6)]
    assert history.history["val_accuracy"] == [pytest.approx(val_acc)]


def test_fit_takes_a_batch_generator_with_steps_per_epoch():
    juanji.set_seed(2)
    x, y = _blobs(64)

    def batches():
        while True:
            for i in range(0, 64, 16):
                yield x[i : i + 16], y[i : i + 16]

    model = _tiny_cnn()
    history = model.fit(batches(), steps_per_epoch=4, epochs=20, verbose=0)
    assert model.optimizer.iterations == 80
    assert history.history["accuracy"][-1] > 0.9


def test_verbose_modes_print_a_progress_bar_or_one_line_per_epoch(capsys):
    x, y = _blobs(32)
    model = _tiny_cnn()
    model.fit(x, y, batch_size=8, epochs=2, verbose=2, validation_split=0.25)
    lines = [line for line in capsys.readouterr().out.splitlines() if "loss" in line]
    assert len(lines) == 2 and all("val_loss" in line for line in lines)
    model.fit(x, y, batch_size=8, epochs=1, verbose=1)
    captured = capsys.readouterr()
    assert "loss" in captured.out + captured.err


class _Residual(Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.conv = layers.Conv2D(1, 3, padding="same")
        self.head = [layers.Flatten(), layers.Dense(3, activation="softmax")]

    def call(self, x, training=False):
        y = x + self.conv(x)  # a skip connection: not a chain
        for layer in self.head:
            y = layer(y, training=training)
        return y


def test_subclassed_model_tracks_its_layers_and_trains():
    juanji.set_seed(4)
    x, y = _blobs(64)
    model = _Residual()
    model.compile(
        optimizer=juanji.optimizers.Adam(0.01),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x, y, batch_size=16, epochs=25, verbose=0)
    assert len(model.layers) == 3
    assert model.count_params() == 10 + 64 * 3 + 3
    assert model.evaluate(x, y)[1] > 0.9


def test_train_on_batch_and_predict():
    x, y = _blobs(16)
    model = _tiny_cnn(optimizer=juanji.optimizers.SGD(0.1))
    loss, acc = model.train_on_batch(x, y)
    assert np.isfinite(loss) and 0 <= acc <= 1
    assert model.optimizer.iterations == 1
    p = model.predict(x, batch_size=5)
    assert p.shape == (16, 3)
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-5)


# --- bad input: a clear error before any training step ----------------------------------
@pytest.mark.parametrize(
    "x_shape,y,match",
    [
        ((10, 8, 8, 1), np.eye(3)[np.zeros(9, int)], "same number of samples"),
        ((10, 9, 9, 1), np.eye(3)[np.zeros(10, int)], r"expects input of shape \(None, 8, 8, 1\)"),
        ((10, 8, 8, 1), np.zeros(10, int), "categorical_crossentropy|sparse"),
        ((10, 8, 8, 1), np.eye(4)[np.zeros(10, int)], "3"),
    ],
)
def test_fit_refuses_bad_data_before_any_step(x_shape, y, match):
    model = _tiny_cnn()
    model.build((None, 8, 8, 1))
    before = model.get_weights()
    with pytest.raises(ValueError, match=match):
        model.fit(np.zeros(x_shape, np.float32), y, verbose=0)
    assert model.optimizer.iterations == 0
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"optimizer": "sgdd", "loss": "mse"}, "Unknown optimizer 'sgdd'"),
        ({"optimizer": "sgd", "loss": "cross_entropy_typo"}, "Unknown loss"),
    ],
)
def test_compile_refuses_unknown_names(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _tiny_cnn().compile(**kwargs)


def test_without_a_loss_fit_trains_on_added_losses_or_says_there_is_none():
    model = _tiny_cnn()
    model.compile(optimizer="sgd")
    x, y = _blobs(8)
    with pytest.raises(ValueError, match="Nothing to minimise.*loss=None"):
        model.fit(x, y, verbose=0)
    assert model.optimizer.iterations == 0


def test_fit_before_compile_is_refused():
    model = Sequential([layers.Dense(2)])
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(np.zeros((4, 3), np.float32), np.zeros((4, 2), np.float32))


def test_nan_in_the_data_is_refused_before_any_step():
    x, y = _blobs(32)
    x[20] = np.nan
    model = _tiny_cnn()
    with pytest.raises(ValueError, match=r"`x` to hold finite.*64 NaN.*index \(20, 0, 0, 0\)"):
        model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    assert model.optimizer.iterations == 0


# --- saving -------------------------------------------------------------------------------
def test_save_and_load_give_identical_predictions_and_training(tmp_path):
    juanji.set_seed(5)
    x, y = _blobs(32)
    model = _tiny_cnn(optimizer=juanji.optimizers.SGD(0.05, momentum=0.9, nesterov=True))
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    path = tmp_path / "model.juanji"
    model.save(path)
    twin = load_model(path)
    np.testing.assert_array_equal(twin.predict(x), model.predict(x))
    assert twin.optimizer.iterations == model.optimizer.iterations
    # the optimizer state came back too: one more identical step gives identical weights
    model.train_on_batch(x[:8], y[:8])
    twin.train_on_batch(x[:8], y[:8])
    for a, b in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp")]


def test_model_files_hold_json_and_npz_only(tmp_path):
    model = zoo.seed_cnn()
    model.save(tmp_path / "m.juanji")
    with zipfile.ZipFile(tmp_path / "m.juanji") as archive:
        assert set(archive.namelist()) <= {"config.json", "weights.npz", "optimizer.npz"}
        config = json.loads(archive.read("config.json"))
    assert config["format_version"] == 1 and config["model"]["class_name"] == "Sequential"


def test_broken_model_files_give_clear_errors(tmp_path):
    model = zoo.seed_cnn()
    good = tmp_path / "good.juanji"
    model.save(good)
    data = good.read_bytes()
    (tmp_path / "truncated.juanji").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.juanji").write_text("hello")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as z:
        z.writestr("readme.txt", "not a model")
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(tmp_path / "future.juanji", "w") as dst:
        for name in src.namelist():
            content = src.read(name)
            if name == "config.json":
                config = json.loads(content)
                config["format_version"] = 99
                content = json.dumps(config)
            dst.writestr(name, content)
    for name, match in [
        ("truncated.juanji", "not a juanji model file|corrupt"),
        ("text.juanji", "not a juanji model file"),
        ("other.zip", "no config.json"),
        ("future.juanji", "version 99"),
    ]:
        with pytest.raises(ValueError, match=match):
            load_model(tmp_path / name)
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.juanji")


# --- resuming ------------------------------------------------------------------------------
class _Interrupt(callbacks.Callback):
    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch = at_epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at_epoch:
            raise KeyboardInterrupt


def test_backup_and_restore_resumes_to_the_uninterrupted_result(tmp_path):
    x, y = _blobs(48)

    def run(callback_list):
        juanji.set_seed(7)
        model = Sequential(
            [
                layers.Input((8, 8, 1)),
                layers.Conv2D(3, 3, activation="tanh"),
                layers.Flatten(),
                layers.Dropout(0.3),
                layers.Dense(3, activation="softmax"),
            ]
        )
        model.compile(
            optimizer=juanji.optimizers.SGD(0.05, momentum=0.9), loss="categorical_crossentropy"
        )
        model.fit(x, y, batch_size=8, epochs=4, verbose=0, callbacks=callback_list)
        return model

    reference = run([])
    backup = callbacks.BackupAndRestore(str(tmp_path / "backup"))
    with pytest.raises(KeyboardInterrupt):
        run([backup, _Interrupt(at_epoch=1)])
    resumed = run([callbacks.BackupAndRestore(str(tmp_path / "backup"))])
    assert resumed.optimizer.iterations == reference.optimizer.iterations
    for a, b in zip(reference.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_float64_and_integer_inputs_run_in_the_models_float32():
    x, y = _blobs(16)
    model = _tiny_cnn()
    for data in (x.astype(np.float64), (x * 100).astype(np.int32)):
        assert model.predict(data).dtype == np.float32
    model.fit(x.astype(np.float64), y, batch_size=8, epochs=1, verbose=0)
    assert all(w.dtype == np.float32 for w in model.weights)
