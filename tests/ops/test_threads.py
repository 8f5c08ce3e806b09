"""Ops that split their batch over worker threads give the one-thread results exactly."""

import numpy as np
import pytest

from juanji import ops, parallel
from juanji.autograd import Tensor

RNG = np.random.default_rng(0)
RUNNING = (np.zeros(3), np.ones(3))  # running mean and variance for inference


def _tied(shape):
    """Values from a few levels, so that pooling windows hold tied maxima."""
    return RNG.integers(0, 3, shape).astype(float)


CASES = {
    "tanh": (ops.tanh, [RNG.standard_normal((7, 4, 3))], {}),
    "relu": (ops.relu, [RNG.standard_normal((7, 4, 3))], {}),
    "max_pool2d_ties": (ops.max_pool2d, [_tied((7, 6, 4, 3))], {}),
    "avg_pool2d": (ops.avg_pool2d, [RNG.standard_normal((7, 6, 4, 3))], {}),
    "batch_norm_training": (
        ops.batch_norm,
        [RNG.standard_normal((7, 4, 5, 3)), RNG.uniform(0.5, 2, 3), RNG.standard_normal(3)],
        {"training": True},
    ),
    "batch_norm_inference": (
        ops.batch_norm,
        [RNG.standard_normal((7, 4, 5, 3)), RNG.uniform(0.5, 2, 3), RNG.standard_normal(3)],
        {"training": False, "running_mean": RUNNING[0], "running_var": RUNNING[1]},
    ),
}


def _run(op, arrays, kwargs):
    inputs = [Tensor(a, requires_grad=True) for a in arrays]
    y = op(*inputs, **kwargs)
    y.backward(np.random.default_rng(1).standard_normal(y.shape))
    return [y.data] + [t.grad for t in inputs]


@pytest.mark.parametrize("workers", [2, 3])
@pytest.mark.parametrize("name", CASES)
def test_threads_give_the_one_thread_results(name, workers, monkeypatch):
    op, arrays, kwargs = CASES[name]
    monkeypatch.setattr(parallel, "_BATCHWISE_MIN_ELEMENTS", 0)
    monkeypatch.setattr(parallel, "workers", lambda: 1)
    one_thread = _run(op, arrays, kwargs)
    calls = []
    map_tasks = parallel.map_tasks
    monkeypatch.setattr(parallel, "workers", lambda: workers)
    monkeypatch.setattr(parallel, "map_tasks", lambda *a: calls.append(a[2]) or map_tasks(*a))
    threaded = _run(op, arrays, kwargs)
    assert calls and set(calls) == {workers}  # the batch really was split
    for got, expected in zip(threaded, one_thread):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
