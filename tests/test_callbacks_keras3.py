"""The progress bar on 80 columns, LearningRateScheduler and LambdaCallback."""

import re

import numpy as np
import pytest

import juanji
from juanji import callbacks, layers


def _model():
    juanji.set_seed(0)
    model = juanji.Sequential([layers.Input((4,)), layers.Dense(3, activation="softmax")])
    model.compile(
        optimizer=juanji.optimizers.SGD(learning_rate=0.1),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy", "sparse_top_k_categorical_accuracy", "sparse_categorical_accuracy"],
    )
    return model


def _data():
    rng = np.random.default_rng(0)
    return rng.random((40, 4), np.float32), rng.integers(0, 3, 40)


def test_the_progress_bar_shows_every_log_on_80_columns_once_per_epoch(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    x, y = _data()
    history = _model().fit(x, y, epochs=2, batch_size=8, validation_split=0.25, verbose=1)
    out = capsys.readouterr().out
    screen = [line.split("\r")[-1] for line in out.split("\n")]  # what stays on the terminal
    assert all(len(line) <= 80 for line in screen), max(screen, key=len)
    text = "\n".join(screen)
    for name in history.history:
        assert len(re.findall(rf"(?<![\w]){name}: ", text)) == 2, name  # once per epoch
    assert text.count("4/4 - ") == 2


def test_learning_rate_scheduler_sets_each_epochs_rate_and_logs_it():
    x, y = _data()
    model = _model()
    seen = []
    record = callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: seen.append(model.optimizer.learning_rate)
    )
    schedule = callbacks.LearningRateScheduler(lambda epoch, lr: lr if epoch < 1 else lr / 2)
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[schedule, record])
    assert seen == pytest.approx([0.1, 0.05, 0.025])
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.025])
    by_epoch = callbacks.LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))
    model.fit(x, y, epochs=2, verbose=0, callbacks=[by_epoch])
    assert model.optimizer.learning_rate == pytest.approx(0.02)


def test_lambda_callback_calls_the_given_hooks_with_logs():
    x, y = _data()
    calls = []
    hooks = callbacks.LambdaCallback(
        on_train_begin=lambda logs: calls.append(("train_begin", logs)),
        on_epoch_end=lambda epoch, logs: calls.append((epoch, sorted(logs))),
        on_test_end=lambda logs: calls.append(("test_end", sorted(logs))),
    )
    _model().fit(x, y, epochs=2, verbose=0, validation_data=(x, y), callbacks=[hooks])
    assert calls[0] == ("train_begin", {})
    assert calls[1][0] == "test_end" and calls[2][0] == 0 and "val_loss" in calls[2][1]
    with pytest.raises(TypeError, match="no hook 'on_epoch_ends'"):
        callbacks.LambdaCallback(on_epoch_ends=print)
