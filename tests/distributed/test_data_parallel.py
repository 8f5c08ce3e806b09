"""Data-parallel training on two local Ray workers against one process."""

import numpy as np
import pytest

import juanji
from juanji import callbacks
from juanji.distributed.data_parallel import RayDataParallel, WorkerFailedError, weights_digest
from juanji.layers import Dense, Input

pytestmark = pytest.mark.usefixtures("local_ray")
ray = pytest.importorskip("ray")


def _model(like=None):
    model = juanji.Sequential(
        [Input((12,)), Dense(16, activation="tanh"), Dense(3, activation="softmax")]
    )
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    if like is not None:
        model.set_weights(like.get_weights())
    return model


def _data(n=100):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 12)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, n)]
    return x, y


def test_two_workers_give_the_weights_of_one_process():
    x, y = _data()
    single = _model()
    parallel = _model(like=single)
    assert weights_digest(single) == weights_digest(parallel)
    single.fit(x, y, batch_size=20, epochs=3, shuffle=False, verbose=0)
    history = parallel.fit(
        x, y, batch_size=20, epochs=3, shuffle=False, distribute=RayDataParallel(2, check_every=2)
    )
    for a, b in zip(single.get_weights(), parallel.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    assert len(history.history["loss"]) == 3
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_uneven_shards_are_weighted_by_their_size():
    x, y = _data(43)  # batches of 15 split 8 + 7, and a last batch of 13 split 7 + 6
    single = _model()
    parallel = _model(like=single)
    single.fit(x, y, batch_size=15, epochs=1, shuffle=False, verbose=0)
    RayDataParallel(2).fit(parallel, x, y, batch_size=15, epochs=1, shuffle=False)
    for a, b in zip(single.get_weights(), parallel.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_a_worker_that_dies_stops_fit_with_a_clear_error():
    x, y = _data()
    strategy = RayDataParallel(2, check_every=1)

    class KillWorker(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                ray.kill(strategy.workers[1])

    model = _model()
    with pytest.raises(WorkerFailedError, match="worker failed at step 2"):
        strategy.fit(model, x, y, batch_size=20, epochs=2, callbacks=[KillWorker()])
    assert strategy.workers == []


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="num_workers"):
        RayDataParallel(0)
    with pytest.raises(ValueError, match="batch_size must be at least num_workers"):
        RayDataParallel(4).fit(_model(), *_data(), batch_size=2)
