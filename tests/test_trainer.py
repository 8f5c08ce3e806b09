"""fit/evaluate/predict as Keras 3 has them: weights, datasets, hooks, several outputs."""

import numpy as np
import pytest

import juanji
from juanji import callbacks, layers
from juanji.callbacks import Callback


def _data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.normal(size=(n, 4)).astype(np.float32) + y[:, None]
    return x, y


def _model(seed=0):
    juanji.set_seed(seed)
    model = juanji.Sequential([layers.Input((4,)), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class Recorder(Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def __getattribute__(self, name):
        if name.startswith("on_"):
            calls = object.__getattribute__(self, "calls")
            return lambda *args: calls.append((name, args[-1]))
        return object.__getattribute__(self, name)


def _gradients(model, x, y, **fit_args):
    """The gradient of one full-batch step, recovered from SGD's update (lr 1)."""
    model.optimizer.learning_rate = 1.0
    before = model.get_weights()
    model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0, **fit_args)
    return [b - a for b, a in zip(before, model.get_weights())]


def test_class_weight_scales_each_samples_gradient_exactly_by_its_weight():
    x, y = _data(12)
    weights = {0: 0.5, 1: 2.0, 2: 3.0}
    model = _model()
    start = model.get_weights()
    got = _gradients(model, x, y, class_weight=weights)
    kernel, bias = start
    # by hand: softmax cross-entropy, dL/dz = w_i (p_i - onehot_i) / N
    z = x @ kernel + bias
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    w = np.array([weights[c] for c in y])
    dz = w[:, None] * (p - np.eye(3)[y]) / len(x)
    np.testing.assert_allclose(got[0], x.T @ dz, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(got[1], dz.sum(0), rtol=1e-4, atol=1e-6)


def test_sample_weight_of_ones_changes_nothing_and_of_zero_drops_a_sample():
    x, y = _data(12)
    plain = _gradients(_model(), x, y)
    ones = _gradients(_model(), x, y, sample_weight=np.ones(12))
    for a, b in zip(plain, ones):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    w = np.ones(12)
    w[0] = 0
    dropped = _gradients(_model(), x, y, sample_weight=w)
    # only sample 0 is gone: the others keep their 1/N share
    alone = _gradients(_model(), x[1:], y[1:])
    np.testing.assert_allclose(dropped[1], alone[1] * 11 / 12, rtol=1e-4, atol=1e-7)


def test_evaluate_weighs_samples():
    x, y = _data(10)
    model = _model()
    w = np.zeros(10)
    w[:5] = 2.0
    weighted = model.evaluate(x, y, sample_weight=w, return_dict=True)["loss"]
    half = model.evaluate(x[:5], y[:5], batch_size=5, return_dict=True)["loss"]
    assert weighted == pytest.approx(half, rel=1e-5)  # sum(2 l_i, i<5) / 10


class Batches:
    """A DataLoader-like dataset: each iteration yields the batches afresh."""

    def __init__(self, x, y, size=16, with_weights=False):
        self.x, self.y, self.size, self.with_weights = x, y, size, with_weights

    def __len__(self):
        return -(-len(self.x) // self.size)

    def __iter__(self):
        for i in range(0, len(self.x), self.size):
            batch = (self.x[i : i + self.size], self.y[i : i + self.size])
            yield (*batch, np.ones(len(batch[0]))) if self.with_weights else batch


def test_a_re_iterable_dataset_trains_every_epoch():
    x, y = _data()
    model = _model()
    history = model.fit(Batches(x, y), epochs=3, verbose=0)
    assert model.optimizer.iterations == 9
    losses = history.history["loss"]
    assert losses[1] != losses[0] and losses[2] != losses[1] and min(losses) > 0


def test_a_dataloader_like_object_without_len_and_weighted_batches():
    x, y = _data()

    class NoLen(Batches):
        __len__ = None

    model = _model()
    model.fit(NoLen(x, y, with_weights=True), epochs=2, verbose=0)
    assert model.optimizer.iterations == 6


def test_a_generator_with_steps_per_epoch_and_x_y_w_batches():
    x, y = _data()

    def endless():
        while True:
            for i in range(0, 48, 16):
                yield x[i : i + 16], y[i : i + 16], np.full(16, 0.0 if i == 0 else 1.0)

    model = _model()
    first = model.get_weights()
    model.fit(endless(), steps_per_epoch=1, epochs=1, verbose=0)  # the one batch weighs 0
    for a, b in zip(first, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    model.fit(endless(), steps_per_epoch=3, epochs=2, verbose=0)
    assert model.optimizer.iterations == 7


def test_an_epoch_without_batches_is_an_error_naming_it():
    x, y = _data()
    model = _model()
    once = ((x[i : i + 16], y[i : i + 16]) for i in range(0, 48, 16))
    with pytest.raises(ValueError, match="Epoch 2: the training data yielded no batch"):
        model.fit(once, epochs=2, verbose=0)


def test_every_hook_gets_a_dict_and_validation_runs_the_test_hooks():
    x, y = _data()
    recorder = Recorder()
    model = _model()
    model.fit(x, y, epochs=2, batch_size=16, validation_split=0.25, callbacks=[recorder], verbose=0)
    names = [name for name, _ in recorder.calls]
    assert all(isinstance(logs, dict) for _, logs in recorder.calls)
    assert names.count("on_test_begin") == 2 and names.count("on_test_batch_end") == 2
    assert names.index("on_test_end") < names.index("on_epoch_end")
    end = [logs for name, logs in recorder.calls if name == "on_epoch_end"][0]
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(end)


def test_evaluate_and_predict_take_callbacks():
    x, y = _data()
    recorder = Recorder()
    model = _model()
    model.evaluate(x, y, batch_size=16, callbacks=[recorder])
    model.predict(x, batch_size=16, callbacks=[recorder])
    names = [name for name, _ in recorder.calls]
    assert names.count("on_test_batch_end") == 3 and names.count("on_predict_batch_end") == 3
    assert names[-1] == "on_predict_end" and "on_test_end" in names


def test_validation_freq_every_n_epochs_or_listed():
    x, y = _data()
    model = _model()
    history = model.fit(x, y, epochs=4, validation_data=(x, y), validation_freq=2, verbose=0)
    assert len(history.history["val_loss"]) == 2
    history = model.fit(x, y, epochs=3, validation_data=(x, y), validation_freq=[1, 3], verbose=0)
    assert len(history.history["val_loss"]) == 2


def test_verbose_auto_is_one_line_per_epoch_off_a_terminal(capsys):
    x, y = _data()
    _model().fit(x, y, epochs=2, verbose="auto")
    out = capsys.readouterr().out
    assert out.count("Epoch ") == 2 and "loss" in out


def test_two_outputs_with_per_output_losses_weights_and_metrics(tmp_path):
    juanji.set_seed(3)
    inputs = juanji.Input((4,), name="features")
    hidden = layers.Dense(8, activation="relu")(inputs)
    label = layers.Dense(3, activation="softmax", name="label")(hidden)
    value = layers.Dense(1, name="value")(hidden)
    model = juanji.Model(inputs, [label, value])
    model.compile(
        optimizer="adam",
        loss={"label": "sparse_categorical_crossentropy", "value": "mse"},
        loss_weights={"label": 1.0, "value": 0.5},
        metrics={"label": ["accuracy"]},
    )
    x, y = _data()
    target = x.sum(1, keepdims=True)
    history = model.fit(x, {"label": y, "value": target}, epochs=2, batch_size=16, verbose=0)
    assert {"loss", "label_loss", "value_loss", "label_accuracy"} <= set(history.history)
    logs = model.evaluate(x, [y, target], return_dict=True)
    assert logs["loss"] == pytest.approx(logs["label_loss"] + 0.5 * logs["value_loss"], rel=1e-5)
    label_pred, value_pred = model.predict(x)
    assert label_pred.shape == (48, 3) and value_pred.shape == (48, 1)
    model.save(tmp_path / "two.juanji")
    loaded = juanji.saving.load_model(tmp_path / "two.juanji")
    assert loaded.evaluate(x, [y, target], return_dict=True) == pytest.approx(logs)


def test_multi_input_model_fits_lists_and_dicts_of_arrays():
    a, b = juanji.Input((4,), name="a"), juanji.Input((2,), name="b")
    out = layers.Dense(3, activation="softmax")(layers.Dense(5)(a) + layers.Dense(5)(b))
    model = juanji.Model([a, b], out)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, y = _data()
    model.fit([x, x[:, :2]], y, epochs=1, verbose=0)
    model.fit({"a": x, "b": x[:, :2]}, y, epochs=1, verbose=0, validation_split=0.25)
    assert model.predict({"a": x, "b": x[:, :2]}).shape == (48, 3)


def test_functional_model_saves_and_loads_with_identical_predictions(tmp_path):
    x, y = _data()
    inputs = juanji.Input((4,))
    h = layers.Dense(6, activation="tanh")(inputs)
    h2 = layers.Dense(6)(h)
    h2 += h
    model = juanji.Model(inputs, layers.Dense(3, activation="softmax")(h2))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "f.juanji")
    loaded = juanji.saving.load_model(tmp_path / "f.juanji")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    model.fit(x, y, epochs=1, verbose=0, shuffle=False)
    loaded.fit(x, y, epochs=1, verbose=0, shuffle=False)
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-6)


def test_existing_callbacks_keep_working_on_the_new_loop(tmp_path):
    x, y = _data()
    model = _model()
    stop = callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10.0)
    history = model.fit(x, y, epochs=5, verbose=0, callbacks=[stop])
    assert len(history.history["loss"]) == 2


class ActivityPenalty(layers.Layer):
    def call(self, inputs):
        self.add_loss(0.1 * juanji.ops.mean(juanji.ops.square(inputs)))
        return inputs


def test_added_losses_train_with_or_without_a_compiled_loss():
    x, y = _data()
    inputs = juanji.Input((4,))
    outputs = ActivityPenalty()(layers.Dense(3)(inputs))
    model = juanji.Model(inputs, outputs)
    model.compile(optimizer="sgd")
    before = model.evaluate(x, y, return_dict=True)["loss"]
    model.fit(x, y, epochs=3, verbose=0)
    assert model.evaluate(x, y, return_dict=True)["loss"] < before  # the penalty shrinks
    model.compile(optimizer="sgd", loss="mse")
    with_mse = model.evaluate(x, np.zeros((48, 3)), return_dict=True)["loss"]
    penalty = 0.1 * np.mean(model.predict(x) ** 2)
    assert with_mse == pytest.approx(np.mean(model.predict(x) ** 2) + penalty, rel=1e-5)


def test_a_shared_layer_adds_its_loss_on_every_call_of_a_forward_pass():
    penalty = ActivityPenalty()
    inputs = juanji.Input((3,))
    model = juanji.Model(inputs, penalty(inputs) + penalty(inputs * 2.0))
    x = np.ones((4, 3), np.float32)
    model(x)
    assert len(model.losses) == 2
    np.testing.assert_allclose(sum(float(loss.data) for loss in model.losses), 0.1 + 0.4)
    model(x)
    assert len(model.losses) == 2  # a new pass starts afresh
