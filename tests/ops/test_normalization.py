"""batch_norm: a table of cases drives gradient checks and PyTorch parity; then its state."""

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from juanji import ops
from juanji.autograd import Tensor
from tests.helpers import check_grad, check_vs_torch

torch = pytest.importorskip("torch")
F = torch.nn.functional

EPSILON = 1e-3


@dataclass(frozen=True)
class Case:
    name: str
    shape: tuple  # (N, ..., C)
    training: bool
    affine: bool = True  # pass gamma and beta (else None)


CASES = [
    Case("train_dense", (6, 3), True),
    Case("train_nhwc", (2, 3, 4, 3), True),
    Case("train_no_affine", (5, 4), True, affine=False),
    Case("infer_dense", (6, 3), False),
    Case("infer_nhwc", (2, 3, 2, 4), False),
    Case("train_ndhwc", (2, 2, 3, 2, 3), True),
    Case("infer_ndhwc", (1, 3, 2, 2, 2), False),
]
IDS = [c.name for c in CASES]


def sample(case, rng, dtype):
    """Inputs of ``case`` (offset and scaled per channel) and positive running statistics."""
    c = case.shape[-1]
    x = rng.standard_normal(case.shape) * rng.uniform(0.5, 2, c) + rng.standard_normal(c)
    params = [rng.uniform(0.5, 1.5, c), rng.standard_normal(c)] if case.affine else [None, None]
    running = {"running_mean": rng.standard_normal(c), "running_var": rng.uniform(0.5, 2, c)}
    cast = [a.astype(dtype) if a is not None else None for a in [x, *params]]
    return cast, {k: v.astype(dtype) for k, v in running.items()}


def ours(case, running):
    def op(x, gamma, beta):
        return ops.batch_norm(
            x,
            gamma,
            beta,
            training=case.training,
            running_mean=running["running_mean"].copy(),
            running_var=running["running_var"].copy(),
            epsilon=EPSILON,
        )

    return op


def theirs(case, running):
    def op(x, gamma, beta):
        stats = [None, None] if case.training else [torch.from_numpy(running[k]) for k in running]
        y = F.batch_norm(x.movedim(-1, 1), *stats, gamma, beta, training=case.training, eps=EPSILON)
        return y.movedim(1, -1)

    return op


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradients(case):
    inputs, running = sample(case, np.random.default_rng(0), np.float64)
    check_grad(ours(case, running), inputs)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matches_torch(case, dtype):
    inputs, running = sample(case, np.random.default_rng(1), dtype)
    check_vs_torch(ours(case, running), theirs(case, running), inputs)


@settings(max_examples=15, deadline=None)
@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    channels=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_training_matches_torch_on_any_shape(shape, channels, seed):
    case = Case("any", (2, *shape[1:], channels), True)  # at least two values per channel
    inputs, running = sample(case, np.random.default_rng(seed), np.float64)
    check_vs_torch(ours(case, running), theirs(case, running), inputs)


def test_training_output_has_zero_mean_and_unit_variance_per_channel():
    x = np.random.default_rng(2).standard_normal((8, 5, 5, 3)) * [1, 10, 100] + [0, 5, -50]
    y = ops.batch_norm(x, None, None, training=True, epsilon=1e-12).data
    np.testing.assert_allclose(y.mean(axis=(0, 1, 2)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 1, 2)), 1, rtol=1e-9)


def test_training_updates_running_statistics_the_keras_way():
    x = np.random.default_rng(3).standard_normal((10, 4)) * 3 + 1
    mean, var = np.zeros(4), np.ones(4)
    ops.batch_norm(x, None, None, training=True, running_mean=mean, running_var=var, momentum=0.9)
    np.testing.assert_allclose(mean, 0.1 * x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(var, 0.9 + 0.1 * x.var(0), rtol=1e-12)  # biased variance

    torch_mean, torch_var = torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)
    F.batch_norm(torch.from_numpy(x), torch_mean, torch_var, training=True, momentum=0.1)
    np.testing.assert_allclose(mean, torch_mean.numpy(), rtol=1e-12)
    # NOTE: torch tracks the unbiased variance, M / (M - 1) times the biased one (M = 10).
    np.testing.assert_allclose(var - 0.9, (torch_var.numpy() - 0.9) * 9 / 10, rtol=1e-12)


def test_running_statistics_may_be_tensors_and_inference_leaves_them_alone():
    x = np.random.default_rng(4).standard_normal((6, 2, 2, 3)).astype(np.float32)
    mean, var = Tensor(np.zeros(3, np.float32)), Tensor(np.ones(3, np.float32))
    ops.batch_norm(x, None, None, training=True, running_mean=mean, running_var=var)
    np.testing.assert_allclose(mean.data, 0.01 * x.mean((0, 1, 2)), rtol=1e-5)
    before = mean.data.copy(), var.data.copy()
    y = ops.batch_norm(x, None, None, training=False, running_mean=mean, running_var=var)
    np.testing.assert_array_equal(mean.data, before[0])
    np.testing.assert_array_equal(var.data, before[1])
    np.testing.assert_allclose(y.data, (x - before[0]) / np.sqrt(before[1] + 1e-3), rtol=1e-5)
    assert y.dtype == np.float32


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"training": False}, r"Expected `running_mean` and `running_var` in inference"),
        ({"training": True, "momentum": 1.5}, r"Received: momentum=1.5"),
        ({"training": True, "epsilon": 0}, r"Received: epsilon=0"),
        ({"training": True, "running_mean": np.zeros(4)}, r"shape \(3,\). Received: running_mean"),
        ({"training": True, "running_var": np.ones(3, int)}, r"float array.*dtype=int64"),
    ],
)
def test_errors_say_what_was_expected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ops.batch_norm(np.ones((2, 3)), np.ones(3), np.zeros(3), **kwargs)


def test_a_wrong_gamma_or_a_vector_input_is_refused():
    with pytest.raises(ValueError, match=r"`gamma` as a float array of shape \(3,\)"):
        ops.batch_norm(np.ones((2, 3)), np.ones((1, 3)), None, training=True)
    with pytest.raises(ValueError, match=r"\(N, \.\.\., C\). Received: x.shape=\(3,\)"):
        ops.batch_norm(np.ones(3), None, None, training=True)
