"""juanji.ops.pooling: a table of cases (images and volumes) drives the gradient and PyTorch
checks; then ties, errors and the approximate shift invariance that max-pooling buys."""

import typing
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from juanji.autograd import Tensor
from juanji.ops import pooling
from juanji.ops.conv import conv_output_size
from juanji.ops.pooling import (
    avg_pool2d,
    avg_pool3d,
    global_avg_pool2d,
    global_avg_pool3d,
    global_max_pool2d,
    global_max_pool3d,
    max_pool2d,
    max_pool3d,
)
from tests.helpers import check_grad, check_vs_torch

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # torch is only an oracle; its checks skip without it
    torch = F = None


def distinct(rng, shape):
    """Distinct values spread over [-3, 3]: no window holds two maxima, so finite differences
    never step across a tie."""
    return rng.permutation(np.linspace(-3, 3, int(np.prod(shape)))).reshape(shape)


def _pair(v, rank=2):
    return (v,) * rank if isinstance(v, int) else tuple(v)


def _same_pads(size, pool, stride):
    """TensorFlow's "same" rule, written out independently of juanji."""
    total = max((-(-size // stride) - 1) * stride + pool - size, 0)
    return total // 2, total - total // 2


def torch_pool(op, x_shape, pool_size=2, strides=None, padding="valid"):
    """The same pooling in PyTorch: NC... permutes and an explicit (asymmetric) F.pad. For
    the average, padded cells are kept out of the count by dividing by a pooled mask."""
    rank = len(x_shape) - 2
    pool = _pair(pool_size, rank)
    strides = pool if strides is None else _pair(strides, rank)
    pads = [(0, 0)] * rank
    if padding.lower() == "same":
        pads = [_same_pads(n, k, s) for n, k, s in zip(x_shape[1:-1], pool, strides)]
    torch_pads = [p for pair in reversed(pads) for p in pair]  # last axis first
    max_pool, avg_pool = (F.max_pool3d, F.avg_pool3d) if rank == 3 else (F.max_pool2d, F.avg_pool2d)

    def fn(x):
        x = x.permute(0, rank + 1, *range(1, rank + 1))
        if op == "max":
            y = max_pool(F.pad(x, torch_pads, value=-np.inf), pool, strides)
        else:
            total = avg_pool(F.pad(x, torch_pads), pool, strides)
            cells = avg_pool(F.pad(torch.ones_like(x), torch_pads), pool, strides)
            y = total / cells
        return y.permute(0, *range(2, rank + 2), 1)

    return fn


class Case(typing.NamedTuple):
    name: str
    op: Callable
    x_shape: tuple
    kwargs: dict

    def torch_fn(self):
        spatial = tuple(range(1, len(self.x_shape) - 1))
        if self.op in (global_max_pool2d, global_max_pool3d):
            return lambda x: x.amax(dim=spatial)
        if self.op in (global_avg_pool2d, global_avg_pool3d):
            return lambda x: x.mean(dim=spatial)
        kind = "max" if self.op in (max_pool2d, max_pool3d) else "avg"
        return torch_pool(kind, self.x_shape, **self.kwargs)


WINDOWED = [
    ("2x2", (2, 6, 8, 3), {}),
    ("2x2_odd_size", (2, 7, 5, 2), {}),
    ("3x3_stride_2", (2, 7, 9, 2), {"pool_size": 3, "strides": 2}),
    ("2x3_stride_1_2", (1, 6, 7, 2), {"pool_size": (2, 3), "strides": (1, 2)}),
    ("spaced_out", (1, 8, 9, 2), {"pool_size": 2, "strides": 3}),
    ("same_2x2_odd", (2, 5, 7, 2), {"padding": "same"}),
    ("same_3x3_stride_2", (1, 6, 7, 2), {"pool_size": 3, "strides": 2, "padding": "same"}),
    ("same_3x2_stride_1", (1, 4, 5, 2), {"pool_size": (3, 2), "strides": 1, "padding": "Same"}),
    ("whole_image", (2, 3, 4, 2), {"pool_size": (3, 4)}),
]
WINDOWED_3D = [
    ("2x2x2", (2, 4, 4, 6, 2), {}),
    ("2x2x2_odd_size", (1, 5, 3, 4, 2), {}),
    ("3x2x3_stride_2_1_2", (1, 5, 4, 6, 2), {"pool_size": (3, 2, 3), "strides": (2, 1, 2)}),
    ("spaced_out", (1, 5, 5, 5, 1), {"pool_size": 2, "strides": 3}),
    ("same_2x2x2_odd", (1, 3, 5, 3, 2), {"padding": "same"}),
    ("same_3x3x3_stride_1", (1, 3, 4, 3, 2), {"pool_size": 3, "strides": 1, "padding": "same"}),
]
TABLE = (
    [
        Case(f"{op.__name__}_{name}", op, shape, kwargs)
        for op in (max_pool2d, avg_pool2d)
        for name, shape, kwargs in WINDOWED
    ]
    + [
        Case(f"{op.__name__}_{name}", op, shape, kwargs)
        for op in (max_pool3d, avg_pool3d)
        for name, shape, kwargs in WINDOWED_3D
    ]
    + [
        Case("global_max_pool2d", global_max_pool2d, (2, 3, 4, 5), {}),
        Case("global_avg_pool2d", global_avg_pool2d, (2, 3, 4, 5), {}),
        Case("global_max_pool3d", global_max_pool3d, (2, 2, 3, 2, 3), {}),
        Case("global_avg_pool3d", global_avg_pool3d, (2, 2, 3, 2, 3), {}),
    ]
)
CASES = [pytest.param(case, id=case.name) for case in TABLE]


def test_the_table_covers_every_op():
    assert {case.op.__name__ for case in TABLE} == set(pooling.__all__)


# Side-by-side windows spread the pooled arrays over the blocks two ways (see _expand): by a
# copy repeated along the width (few channels) or by broadcasting; tests run both.
FEW_CHANNELS = pytest.mark.parametrize(
    "few_channels", [pooling._FEW_CHANNELS, 0], ids=["repeated", "broadcast"]
)


@FEW_CHANNELS
@pytest.mark.parametrize("case", CASES)
def test_gradient(case, few_channels, monkeypatch):
    monkeypatch.setattr(pooling, "_FEW_CHANNELS", few_channels)
    x = distinct(np.random.default_rng(0), case.x_shape)
    check_grad(case.op, [x], **case.kwargs)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES)
def test_matches_torch(case, dtype):
    pytest.importorskip("torch")
    x = distinct(np.random.default_rng(1), case.x_shape).astype(dtype)
    check_vs_torch(case.op, case.torch_fn(), [x], **case.kwargs)


@pytest.mark.parametrize("case", CASES)
def test_output_shape_and_float32(case):
    x = Tensor(np.ones(case.x_shape, np.float32), requires_grad=True)
    y = case.op(x, **case.kwargs)
    assert y.dtype == np.float32
    if case.op in (max_pool2d, avg_pool2d, max_pool3d, avg_pool3d):
        rank = x.ndim - 2
        pool = _pair(case.kwargs.get("pool_size", 2), rank)
        strides = _pair(case.kwargs.get("strides", pool), rank)
        padding = case.kwargs.get("padding", "valid").lower()
        expected = [
            conv_output_size(n, k, s, padding) for n, k, s in zip(x.shape[1:-1], pool, strides)
        ]
        assert y.shape == (x.shape[0], *expected, x.shape[-1])
    y.backward(np.ones(y.shape, np.float32))
    assert x.grad.dtype == np.float32 and x.grad.shape == x.shape


@pytest.mark.parametrize("name", pooling.__all__)
def test_primitives_state_their_backward_formula(name):
    assert "Backward:" in getattr(pooling, name).__doc__


# --------------------------------------------------------------------------- random shapes

needs_torch = pytest.mark.skipif(torch is None, reason="torch is the oracle")


@needs_torch
@settings(max_examples=25, deadline=None)
@given(
    op=st.sampled_from(["max", "avg"]),
    n=st.integers(1, 2),
    size=st.tuples(st.integers(1, 9), st.integers(1, 9)),
    channels=st.integers(1, 3),
    pool=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    strides=st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))),
    padding=st.sampled_from(["valid", "same"]),
)
def test_random_shapes_match_torch(op, n, size, channels, pool, strides, padding):
    assume(padding == "same" or all(k <= s for k, s in zip(pool, size)))
    x_shape = (n, *size, channels)
    x = distinct(np.random.default_rng(2), x_shape)
    fn = max_pool2d if op == "max" else avg_pool2d
    kwargs = {"pool_size": pool, "strides": strides, "padding": padding}
    check_vs_torch(fn, torch_pool(op, x_shape, **kwargs), [x], **kwargs)
    check_grad(fn, [x], **kwargs)


@needs_torch
@settings(max_examples=20, deadline=None)
@given(
    op=st.sampled_from(["max", "avg"]),
    n=st.integers(1, 2),
    size=st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5)),
    channels=st.integers(1, 2),
    pool=st.tuples(st.integers(1, 3), st.integers(1, 2), st.integers(1, 3)),
    strides=st.one_of(
        st.none(), st.tuples(st.integers(1, 3), st.integers(1, 2), st.integers(1, 3))
    ),
    padding=st.sampled_from(["valid", "same"]),
)
def test_random_volumes_match_torch(op, n, size, channels, pool, strides, padding):
    assume(padding == "same" or all(k <= s for k, s in zip(pool, size)))
    x_shape = (n, *size, channels)
    x = distinct(np.random.default_rng(2), x_shape)
    fn = max_pool3d if op == "max" else avg_pool3d
    kwargs = {"pool_size": pool, "strides": strides, "padding": padding}
    check_vs_torch(fn, torch_pool(op, x_shape, **kwargs), [x], **kwargs)
    check_grad(fn, [x], **kwargs)


# --------------------------------------------------------------------------- ties


TIES = np.array([[0.0, 1.0, 1.0], [1.0, 1.0, 0.0], [0.0, 2.0, 2.0]])[None, :, :, None]


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        # one window, [[0, 1], [1, 1]]: the 1 at (0, 1) is first
        ({}, [[0, 1, 0], [0, 0, 0], [0, 0, 0]]),
        # four windows, gy = [[1, 2], [3, 4]]: the top two pick (0, 1), the bottom two (2, 1)
        ({"strides": 1}, [[0, 3, 0], [0, 0, 0], [0, 7, 0]]),
        # padded with -inf to 4x4: windows pick (0, 1), (0, 2), (2, 1) and (2, 2)
        ({"padding": "same"}, [[0, 1, 2], [0, 0, 0], [0, 3, 4]]),
    ],
    ids=["side_by_side", "overlapping", "same"],
)
@FEW_CHANNELS
def test_ties_send_the_gradient_to_the_first_maximum(kwargs, expected, few_channels, monkeypatch):
    """Of equal maxima, the first in row-major order within the window takes the gradient."""
    monkeypatch.setattr(pooling, "_FEW_CHANNELS", few_channels)
    x = Tensor(TIES, requires_grad=True)
    y = max_pool2d(x, **kwargs)
    y.backward(np.arange(1.0, y.size + 1).reshape(y.shape))
    np.testing.assert_array_equal(x.grad[0, :, :, 0], expected)


@FEW_CHANNELS
def test_ties_on_relu_like_maps_match_torch(few_channels, monkeypatch):
    """All-zero windows (common after ReLU) hold four tied maxima."""
    pytest.importorskip("torch")
    monkeypatch.setattr(pooling, "_FEW_CHANNELS", few_channels)
    x = np.maximum(np.random.default_rng(3).standard_normal((2, 6, 6, 3)), 0)
    check_vs_torch(max_pool2d, torch_pool("max", x.shape), [x])
    check_vs_torch(max_pool2d, torch_pool("max", x.shape, 3, 1), [x], pool_size=3, strides=1)
    v = np.maximum(np.random.default_rng(4).standard_normal((1, 4, 4, 6, 3)), 0)
    check_vs_torch(max_pool3d, torch_pool("max", v.shape), [v])
    check_vs_torch(max_pool3d, torch_pool("max", v.shape, 3, 1), [v], pool_size=3, strides=1)


def test_global_max_pool_ties_go_to_the_first_position():
    x = Tensor(np.array([[[[1.0], [3.0]], [[3.0], [0.0]]]]), requires_grad=True)
    global_max_pool2d(x).backward(np.array([[2.0]]))
    np.testing.assert_array_equal(x.grad[0, :, :, 0], [[0, 2], [0, 0]])


# --------------------------------------------------------------------------- errors

X = np.zeros((2, 5, 5, 3), np.float32)


@pytest.mark.parametrize(
    "fn, args, kwargs, error, message",
    [
        (max_pool2d, (X[0],), {}, ValueError, r"`x` of rank 4.*Received: x.shape=\(5, 5, 3\)"),
        (avg_pool2d, (X.astype(int),), {}, TypeError, r"floating-point.*x.dtype=int"),
        (global_avg_pool2d, (X[0],), {}, ValueError, r"rank 4.*Received: x.shape"),
        (global_max_pool2d, (X > 0,), {}, TypeError, r"Received: x.dtype=bool"),
        (max_pool2d, (X,), {"pool_size": 6}, ValueError, r"pool no larger.*pool_size=6"),
        (avg_pool2d, (X,), {"pool_size": 0}, ValueError, r"`pool_size`.*Received: pool_size=0"),
        (max_pool2d, (X,), {"strides": (1, 2, 3)}, ValueError, r"Received: strides=\(1, 2, 3\)"),
        (max_pool2d, (X,), {"padding": "full"}, ValueError, r"Received: padding='full'"),
        (avg_pool2d, (X,), {"padding": 1}, ValueError, r"'valid' or 'same'.*padding=1"),
        (max_pool3d, (X,), {}, ValueError, r"`x` of rank 5, \(N, D, H, W, C\).*x.shape"),
        (avg_pool3d, (X[None],), {"pool_size": (2, 2)}, ValueError, r"pool_size=\(2, 2\)"),
        (global_avg_pool3d, (X,), {}, ValueError, r"rank 5.*Received: x.shape"),
        (global_max_pool3d, (X[None] > 0,), {}, TypeError, r"Received: x.dtype=bool"),
    ],
)
def test_errors_name_the_argument_and_the_value(fn, args, kwargs, error, message):
    with pytest.raises(error, match=message):
        fn(*args, **kwargs)


# --------------------------------------------------------------------------- invariance


def test_max_pooling_is_nearly_invariant_to_a_one_pixel_shift():
    """A one-pixel shift leaves no value of a noise map in place, and changes it by sqrt(2)
    of its norm; after 2x2 max-pooling a third of the outputs are exactly unchanged (the
    window's maximum stayed inside it) and the change is under half of the map's."""
    x = np.random.default_rng(4).standard_normal((8, 24, 24, 4))
    shifted = np.zeros_like(x)
    shifted[:, :, 1:] = x[:, :, :-1]
    a, b = x[:, :, 2:], shifted[:, :, 2:]  # away from the column the shift empties
    pa, pb = max_pool2d(a).data, max_pool2d(b).data

    def change(u, v):
        return np.linalg.norm(u - v) / np.linalg.norm(u)

    assert np.mean(a == b) == 0 and change(a, b) > 1.3
    assert np.mean(pa == pb) > 0.3
    assert change(pa, pb) < 0.5 * change(a, b)
