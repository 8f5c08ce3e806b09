"""The TensorBoard callback: real event files, read back with TensorBoard's own reader."""

import numpy as np
import pytest

import juanji
from juanji import callbacks, layers
from juanji.models import Sequential

pytest.importorskip("tensorboardX")
event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def _read(folder):
    events = event_accumulator.EventAccumulator(
        str(folder), size_guidance={event_accumulator.SCALARS: 0, event_accumulator.HISTOGRAMS: 0}
    )
    events.Reload()
    return events


def _fit(tmp_path, **kwargs):
    juanji.set_seed(0)
    (x, y), _ = juanji.datasets.digits.load_data()
    x, y = x[:96].astype(np.float32) / 255, y[:96]
    model = Sequential(
        [
            layers.Input((8, 8, 1)),
            layers.Conv2D(6, 3, activation="relu", name="conv"),
            layers.Flatten(),
            layers.Dense(10, activation="softmax", name="out"),
        ]
    )
    model.compile(juanji.optimizers.SGD(0.1), "sparse_categorical_crossentropy", ["accuracy"])
    board = callbacks.TensorBoard(tmp_path / "logs", **kwargs)
    scheduler = callbacks.LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1))
    history = model.fit(
        x, y, epochs=3, batch_size=32, validation_split=0.25, callbacks=[scheduler, board],
        verbose=0,
    )  # fmt: skip
    return model, history.history


def test_scalars_learning_rate_histograms_and_filters_are_written(tmp_path):
    model, history = _fit(tmp_path, histogram_freq=1, write_images=True, update_freq=2)
    train, validation = _read(tmp_path / "logs" / "train"), _read(tmp_path / "logs" / "validation")
    tags = train.Tags()
    loss = [e.value for e in train.Scalars("epoch_loss")]
    np.testing.assert_allclose(loss, history["loss"], rtol=1e-6)
    assert [e.step for e in train.Scalars("epoch_loss")] == [0, 1, 2]
    np.testing.assert_allclose(
        [e.value for e in train.Scalars("epoch_learning_rate")], [0.1, 0.05, 0.1 / 3], rtol=1e-6
    )
    np.testing.assert_allclose(
        [e.value for e in validation.Scalars("epoch_accuracy")], history["val_accuracy"], rtol=1e-6
    )
    # 72 training samples in batches of 32: 3 steps an epoch, 9 in all; every 2nd is logged
    assert [e.step for e in train.Scalars("batch_loss")] == [2, 4, 6, 8]
    assert {"conv/kernel", "conv/bias", "out/kernel", "out/bias"} <= set(tags["histograms"])
    kernel = train.Histograms("conv/kernel")[-1].histogram_value
    assert kernel.num == 3 * 3 * 1 * 6
    np.testing.assert_allclose(kernel.sum, model.get_layer("conv").kernel.data.sum(), rtol=1e-5)
    (image,) = train.Images("filters")[-1:]
    assert (image.height, image.width) == (3 * 2 + 1, 3 * 3 + 2)  # 6 filters: 2 rows, 3 cols


def test_epoch_only_by_default(tmp_path):
    _fit(tmp_path)
    tags = _read(tmp_path / "logs" / "train").Tags()
    assert "epoch_loss" in tags["scalars"] and "batch_loss" not in tags["scalars"]
    assert not tags["histograms"] and not tags["images"]


def test_filter_grid_scales_each_filter_alone():
    kernel = np.stack([np.full((2, 2, 3), v) for v in (0.0, 5.0)], axis=-1)
    kernel[0, 0, :, 1] = -5.0
    grid = callbacks.filter_grid(kernel)
    assert grid.shape == (2, 5, 3) and grid.dtype == np.float32
    assert np.all(grid[:, :2] == 0) and np.all(grid[:, 2] == 0)  # constant filter, then gap
    assert grid[0, 3, 0] == 0 and grid[1, 4, 0] == 1


@pytest.mark.parametrize(
    "kwargs, match",
    [({"histogram_freq": -1}, "histogram_freq"), ({"update_freq": "sometimes"}, "update_freq")],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        callbacks.TensorBoard("logs", **kwargs)
