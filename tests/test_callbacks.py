"""Callbacks driven by a small training loop over a stand-in model with the fit interface."""

import csv
import math
import os

import numpy as np
import pytest

from juanji import backend, saving
from juanji.autograd import Tensor
from juanji.callbacks import (
    BackupAndRestore,
    Callback,
    CallbackList,
    CSVLogger,
    EarlyStopping,
    History,
    ModelCheckpoint,
    ProgbarLogger,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from juanji.optimizers import SGD


class TinyModel:
    """What callbacks use of a model, with a random but repeatable training step."""

    def __init__(self):
        self.name = "tiny"
        self.built = True
        self.compiled = False
        self.build_input_shape = (None, 3)
        self.weights = [Tensor(np.zeros((3, 2), np.float32)), Tensor(np.zeros(2, np.float32))]
        self.optimizer = SGD(0.1, momentum=0.9)
        self.stop_training = False
        self.history = None
        self._resume_epoch = 0

    def get_config(self):
        return {}

    def get_weights(self):
        return [w.data.copy() for w in self.weights]

    def set_weights(self, arrays):
        for w, a in zip(self.weights, arrays, strict=True):
            w.data[...] = a

    def save(self, path):
        saving.save_model(self, path)

    def train_step(self):
        grads = [backend.rng().standard_normal(w.shape).astype(np.float32) for w in self.weights]
        self.optimizer.apply(grads, self.weights)
        return float(np.abs(self.weights[0].data).mean())


def fit(model, callbacks, epochs=3, steps=4, verbose=0, val_loss=None, batch_loss=None):
    """The callback protocol of ``Model.fit``; ``val_loss[epoch]`` and ``batch_loss(epoch,
    step)`` replace the measured values when given."""
    history = History()
    cbs = CallbackList(
        [*callbacks, history],
        model=model,
        params={"epochs": epochs, "steps": steps, "verbose": verbose},
    )
    model.stop_training = False
    cbs.on_train_begin()
    first, model._resume_epoch = model._resume_epoch, 0
    logs = {}
    for epoch in range(first, epochs):
        cbs.on_epoch_begin(epoch)
        total = 0.0
        for step in range(steps):
            cbs.on_train_batch_begin(step)
            loss = model.train_step()
            total += batch_loss(epoch, step) if batch_loss else loss
            cbs.on_train_batch_end(step, {"loss": total / (step + 1)})
            if model.stop_training:
                break
        logs = {"loss": total / (step + 1)}
        if val_loss is not None:
            logs["val_loss"] = val_loss[epoch]
        cbs.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    cbs.on_train_end(logs)
    return history


class Recorder(Callback):
    """Records every hook call and the weights at each epoch end."""

    def __init__(self):
        super().__init__()
        self.calls = []
        self.weights = {}

    def on_train_begin(self, logs=None):
        self.calls.append("train_begin")

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(f"epoch_begin {epoch}")

    def on_train_batch_end(self, batch, logs=None):
        self.calls.append(f"batch_end {batch}")

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(f"epoch_end {epoch}")
        self.weights[epoch] = self.model.get_weights()

    def on_train_end(self, logs=None):
        self.calls.append("train_end")


def test_callback_list_calls_every_callback_in_order():
    first, second = Recorder(), Recorder()
    model = TinyModel()
    fit(model, [first, second], epochs=2, steps=2)
    expected = (
        ["train_begin"]
        + [
            call
            for epoch in range(2)
            for call in (f"epoch_begin {epoch}", "batch_end 0", "batch_end 1", f"epoch_end {epoch}")
        ]
        + ["train_end"]
    )
    assert first.calls == second.calls == expected
    assert first.model is model and first.params == {"epochs": 2, "steps": 2, "verbose": 0}
    with pytest.raises(TypeError, match="callbacks\\[1\\]"):
        CallbackList([first, "progress"])


def test_history_records_each_epoch():
    model = TinyModel()
    history = fit(model, [], epochs=3, val_loss=[0.5, 0.4, 0.3])
    assert history.epoch == [0, 1, 2] and model.history is history
    assert history.history["val_loss"] == [0.5, 0.4, 0.3] and len(history.history["loss"]) == 3


# --------------------------------------------------------------------------- progress


def test_progbar_verbose_1_draws_a_bar_per_epoch(capsys):
    fit(TinyModel(), [ProgbarLogger()], epochs=2, steps=5, verbose=1, val_loss=[0.5, 0.25])
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out
    assert "5/5" in out and "loss: " in out and "val_loss: 0.2500" in out


def test_progbar_verbose_2_prints_one_line_per_epoch(capsys):
    fit(TinyModel(), [ProgbarLogger()], epochs=3, steps=2, verbose=2, val_loss=[0.5, 0.4, 0.3])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    assert lines[2].startswith("Epoch 3/3 - ") and lines[2].endswith("val_loss: 0.3000")


def test_progbar_verbose_0_is_silent(capsys):
    fit(TinyModel(), [ProgbarLogger()], epochs=2, verbose=0)
    assert capsys.readouterr().out == ""


# --------------------------------------------------------------------------- early stopping


def test_early_stopping_waits_patience_epochs_and_restores_best():
    recorder = Recorder()
    model = TinyModel()
    stop = EarlyStopping(patience=2, restore_best_weights=True, verbose=1)
    history = fit(model, [recorder, stop], epochs=10, val_loss=[1.0, 0.8, 0.85, 0.9, 0.7])
    assert history.epoch == [0, 1, 2, 3] and stop.stopped_epoch == 3 and stop.best_epoch == 1
    for got, best in zip(model.get_weights(), recorder.weights[1], strict=True):
        np.testing.assert_array_equal(got, best)


def test_early_stopping_min_delta_mode_and_start_epoch():
    small_gains = [1.0, 0.99, 0.98, 0.97, 0.96]
    history = fit(TinyModel(), [EarlyStopping(min_delta=0.05, patience=1)], 5, val_loss=small_gains)
    assert history.epoch == [0, 1]
    history = fit(TinyModel(), [EarlyStopping(patience=1)], 5, val_loss=small_gains)
    assert history.epoch == [0, 1, 2, 3, 4]
    rising = [0.1, 0.2, 0.3, 0.3, 0.3]
    stop = EarlyStopping(monitor="val_loss", mode="max", patience=1)
    assert fit(TinyModel(), [stop], 5, val_loss=rising).epoch == [0, 1, 2, 3]
    late = EarlyStopping(patience=0, start_from_epoch=3)
    assert fit(TinyModel(), [late], 6, val_loss=[1, 2, 3, 4, 5, 6]).epoch == [0, 1, 2, 3, 4]
    assert late.stopped_epoch == 4


def test_early_stopping_baseline():
    # as Keras: patience restarts only on epochs that also beat the baseline
    plateau = [0.9, 0.8, 0.8, 0.8, 0.8, 0.8]
    assert fit(TinyModel(), [EarlyStopping(patience=2)], 6, val_loss=plateau).epoch == [0, 1, 2, 3]
    stop = EarlyStopping(patience=2, baseline=0.5)
    assert fit(TinyModel(), [stop], 6, val_loss=plateau).epoch == [0, 1, 2]


def test_monitor_direction_from_the_name():
    assert EarlyStopping(monitor="val_accuracy")._sign == 1
    assert EarlyStopping(monitor="acc")._sign == 1
    assert EarlyStopping(monitor="loss")._sign == -1
    with pytest.raises(ValueError, match="mode='min'"):
        EarlyStopping(monitor="val_kappa")
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="lowest")


def test_missing_monitor_warns_and_does_nothing():
    stop = EarlyStopping(patience=0)
    with pytest.warns(UserWarning, match="val_loss"):
        history = fit(TinyModel(), [stop], epochs=3)
    assert history.epoch == [0, 1, 2]


# --------------------------------------------------------------------------- checkpoints


def test_model_checkpoint_formats_the_path_every_epoch(tmp_path):
    pattern = str(tmp_path / "ckpt-{epoch:02d}-{val_loss:.2f}.juanji")
    fit(TinyModel(), [ModelCheckpoint(pattern)], epochs=2, val_loss=[0.5, 0.25])
    assert sorted(os.listdir(tmp_path)) == ["ckpt-01-0.50.juanji", "ckpt-02-0.25.juanji"]
    with pytest.raises(KeyError, match="val_acc"):
        fit(TinyModel(), [ModelCheckpoint(str(tmp_path / "{val_acc}"))], epochs=1)


def test_model_checkpoint_best_only_keeps_the_best_weights(tmp_path, capsys):
    recorder = Recorder()
    model = TinyModel()
    path = tmp_path / "best.npz"
    checkpoint = ModelCheckpoint(path, save_best_only=True, save_weights_only=True, verbose=1)
    fit(model, [recorder, checkpoint], epochs=4, val_loss=[0.5, 0.3, 0.4, 0.35])
    with np.load(path) as saved:
        np.testing.assert_array_equal(saved["w0"], recorder.weights[1][0])
    out = capsys.readouterr().out
    assert out.count("saving model") == 2 and out.count("did not improve") == 2


# --------------------------------------------------------------------------- learning rate


def test_reduce_lr_on_plateau_patience_cooldown_and_floor():
    model = TinyModel()
    reduce = ReduceLROnPlateau(factor=0.5, patience=2, cooldown=2, min_lr=0.02)
    history = fit(model, [reduce], epochs=9, val_loss=[1.0] * 9)
    # As Keras: with no gain after epoch 0, two epochs without gain reduce the rate (epoch 2);
    # cooldown=2 then ignores epoch 3 (Keras counts the epoch that ends the cooldown), so the
    # next reductions come at epochs 5 and 8, the last one stopped by min_lr.
    lrs = history.history["learning_rate"]
    assert lrs == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025])
    assert model.optimizer.learning_rate == pytest.approx(0.02)
    with pytest.raises(ValueError, match="factor"):
        ReduceLROnPlateau(factor=1.5)


def test_reduce_lr_resets_wait_on_improvement():
    model = TinyModel()
    fit(model, [ReduceLROnPlateau(patience=2)], epochs=6, val_loss=[1.0, 1.0, 0.9, 0.9, 0.8, 0.8])
    assert model.optimizer.learning_rate == 0.1


# --------------------------------------------------------------------------- NaN, CSV


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_terminate_on_nan_stops_at_the_bad_batch(bad, capsys):
    recorder = Recorder()

    def batch_loss(epoch, step):
        return bad if (epoch, step) == (1, 2) else 0.5

    history = fit(TinyModel(), [TerminateOnNaN(), recorder], epochs=5, batch_loss=batch_loss)
    assert "Epoch 2, batch 2" in capsys.readouterr().out
    assert history.epoch == [0, 1]
    assert recorder.calls[-3:] == ["batch_end 2", "epoch_end 1", "train_end"]


def test_csv_logger_writes_and_appends(tmp_path):
    path = tmp_path / "log.csv"
    fit(TinyModel(), [CSVLogger(path)], epochs=2, val_loss=[0.5, 0.4])
    fit(TinyModel(), [CSVLogger(path, separator=";", append=True)], epochs=1, val_loss=[0.3])
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch,loss,val_loss" and len(lines) == 4
    rows = list(csv.reader(lines[:3]))
    assert [r[0] for r in rows[1:]] == ["0", "1"] and float(rows[2][2]) == 0.4
    assert lines[3].startswith("0;") and lines[3].endswith(";0.3")


# --------------------------------------------------------------------------- backup


class Interrupt(Exception):
    pass


class InterruptAt(Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise Interrupt


def test_backup_and_restore_resumes_exactly(tmp_path):
    backend.set_seed(7)
    straight = TinyModel()
    fit(straight, [], epochs=5)

    backend.set_seed(7)
    with pytest.raises(Interrupt):
        fit(TinyModel(), [BackupAndRestore(tmp_path), InterruptAt(3)], epochs=5)
    assert os.listdir(tmp_path) == ["backup.juanji"]

    backend.set_seed(99)  # a new process: other seed, fresh weights and optimizer
    resumed = TinyModel()
    history = fit(resumed, [BackupAndRestore(tmp_path)], epochs=5)
    assert history.epoch == [3, 4]
    for a, b in zip(straight.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert resumed.optimizer.iterations == straight.optimizer.iterations == 20
    assert os.listdir(tmp_path) == []


def test_backup_is_kept_when_asked(tmp_path):
    fit(TinyModel(), [BackupAndRestore(tmp_path, delete_checkpoint=False)], epochs=2)
    assert os.listdir(tmp_path) == ["backup.juanji"]
    with pytest.raises(ValueError, match="backup_dir"):
        BackupAndRestore("")
