"""juanji.ops.math: one table of cases drives the gradient, PyTorch and dtype checks."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from juanji import ops
from juanji.autograd import Tensor
from juanji.ops import math
from tests.helpers import check_grad, check_vs_torch
from tests.ops.cases import Case, away_from, joined, normal, sampler

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # torch is only an oracle; its checks skip without it
    torch = F = None


positive = sampler(lambda rng, shape: rng.uniform(0.5, 2.0, shape))
nonzero = away_from(0.0)
distinct = sampler(
    lambda rng, shape: rng.permutation(np.linspace(-2, 2, int(np.prod(shape)))).reshape(shape)
)

MASK = np.array([[True], [False], [True]])
PAD = ((0, 0), (1, 2), (2, 1))

TABLE = [
    Case("add", ops.add, normal((3, 4), (4,)), {}, lambda a, b: a + b),
    Case("add_number", ops.add, normal((3, 4), 2.0), {}, lambda a, b: a + b),
    Case("subtract", ops.subtract, normal((2, 3, 1), (3, 4)), {}, lambda a, b: a - b),
    Case("subtract_from_number", ops.subtract, normal(2.0, (3, 4)), {}, lambda a, b: a - b),
    Case("multiply", ops.multiply, normal((3, 4), (3, 1)), {}, lambda a, b: a * b),
    Case("multiply_number", ops.multiply, normal(-1.5, (3, 4)), {}, lambda a, b: a * b),
    Case("divide", ops.divide, joined(normal((3, 4)), positive((4,))), {}, lambda a, b: a / b),
    Case("divide_number", ops.divide, positive(2.0, (3, 4)), {}, lambda a, b: a / b),
    Case("negative", ops.negative, normal((3, 4)), {}, lambda x: -x),
    Case("power_number", ops.power, positive((3, 4), 3.0), {}, lambda x, p: x**p),
    Case("power_root", ops.power, positive((3, 4), -0.5), {}, lambda x, p: x**p),
    Case("power_tensor", ops.power, positive((3, 4), (4,)), {}, lambda x, p: x**p),
    Case("exp", ops.exp, normal((3, 4)), {}, lambda x: x.exp()),
    Case("log", ops.log, positive((3, 4)), {}, lambda x: x.log()),
    Case("sqrt", ops.sqrt, positive((3, 4)), {}, lambda x: x.sqrt()),
    Case("square", ops.square, normal((3, 4)), {}, lambda x: x * x),
    Case("abs", ops.abs, nonzero((3, 4)), {}, lambda x: x.abs()),
    Case(
        "clip",
        ops.clip,
        away_from(-0.5, 0.5, scale=1.0)((4, 5)),
        {"min_value": -0.5, "max_value": 0.5},
        lambda x: x.clamp(-0.5, 0.5),
    ),
    Case("maximum", ops.maximum, normal((3, 4), (4,)), {}, lambda a, b: torch.maximum(a, b)),
    Case("minimum", ops.minimum, normal((2, 1, 3), (3,)), {}, lambda a, b: torch.minimum(a, b)),
    Case("where", ops.where, normal(MASK, (3, 4), (4,)), {}, lambda c, a, b: torch.where(c, a, b)),
    Case("matmul", ops.matmul, normal((3, 4), (4, 5)), {}, lambda a, b: a @ b),
    Case("dense", ops.dense, normal((3, 4), (4, 5), (5,)), {}, lambda x, w, b: x @ w + b),
    Case(
        "dense_positions", ops.dense, normal((2, 3, 4), (4, 2), (2,)), {}, lambda x, w, b: x @ w + b
    ),
    Case("dense_no_bias", ops.dense, normal((3, 4), (4, 5)), {}, lambda x, w: x @ w),
    Case("matmul_batched", ops.matmul, normal((2, 3, 4), (4, 5)), {}, lambda a, b: a @ b),
    Case("matmul_broadcast", ops.matmul, normal((2, 1, 3, 4), (3, 4, 2)), {}, lambda a, b: a @ b),
    Case("matmul_vector_left", ops.matmul, normal((4,), (2, 4, 3)), {}, lambda a, b: a @ b),
    Case("matmul_vector_right", ops.matmul, normal((3, 4), (4,)), {}, lambda a, b: a @ b),
    Case("matmul_dot", ops.matmul, normal((4,), (4,)), {}, lambda a, b: a @ b),
    Case("sum", ops.sum, normal((2, 3, 4)), {}, lambda x: x.sum()),
    Case("sum_axis", ops.sum, normal((2, 3, 4)), {"axis": 1}, lambda x: x.sum(1)),
    Case(
        "sum_axes_keepdims",
        ops.sum,
        normal((2, 3, 4)),
        {"axis": (0, -1), "keepdims": True},
        lambda x: x.sum((0, -1), keepdim=True),
    ),
    Case("mean", ops.mean, normal((2, 3, 4)), {}, lambda x: x.mean()),
    Case("mean_axis", ops.mean, normal((2, 3, 4)), {"axis": -1}, lambda x: x.mean(-1)),
    Case(
        "mean_axes_keepdims",
        ops.mean,
        normal((2, 3, 4)),
        {"axis": (0, 2), "keepdims": True},
        lambda x: x.mean((0, 2), keepdim=True),
    ),
    Case("var", ops.var, normal((2, 3, 4)), {}, lambda x: x.var(correction=0)),
    Case(
        "var_axis_ddof",
        ops.var,
        normal((5, 3)),
        {"axis": 0, "ddof": 1},
        lambda x: x.var(0, correction=1),
    ),
    Case(
        "var_axes_keepdims",
        ops.var,
        normal((2, 3, 4)),
        {"axis": (0, 2), "keepdims": True},
        lambda x: x.var((0, 2), correction=0, keepdim=True),
    ),
    Case("max", ops.max, distinct((2, 3, 4)), {}, lambda x: x.max()),
    Case("max_axis", ops.max, distinct((2, 3, 4)), {"axis": 1}, lambda x: x.max(1).values),
    Case(
        "max_axes_keepdims",
        ops.max,
        distinct((2, 3, 4)),
        {"axis": (0, -1), "keepdims": True},
        lambda x: x.amax((0, -1), keepdim=True),
    ),
    Case("reshape", ops.reshape, normal((2, 3, 4)), {"shape": (4, -1)}, lambda x: x.reshape(4, -1)),
    Case("transpose", ops.transpose, normal((2, 3, 4)), {}, lambda x: x.permute(2, 1, 0)),
    Case(
        "transpose_axes",
        ops.transpose,
        normal((2, 3, 4)),
        {"axes": (1, -1, 0)},
        lambda x: x.permute(1, 2, 0),
    ),
    Case("flatten", ops.flatten, normal((2, 3, 4)), {}, lambda x: x.flatten(1)),
    Case(
        "getitem_slices",
        ops.getitem,
        normal((4, 5)),
        {"index": (slice(1, None), slice(None, None, 2))},
        lambda x: x[1:, ::2],
    ),
    Case("getitem_ints", ops.getitem, normal((4, 5)), {"index": (0, -1)}, lambda x: x[0, -1]),
    Case(
        "getitem_repeated",
        ops.getitem,
        normal((4, 5)),
        {"index": np.array([0, 2, 0])},
        lambda x: x[torch.tensor([0, 2, 0])],
    ),
    Case(
        "getitem_mixed",
        ops.getitem,
        normal((4, 5)),
        {"index": (Ellipsis, [1, 1, 3])},
        lambda x: x[..., [1, 1, 3]],
    ),
    Case(
        "getitem_mask",
        ops.getitem,
        normal((3, 2)),
        {"index": MASK[:, 0]},
        lambda x: x[torch.from_numpy(MASK[:, 0])],
    ),
    Case("concat", ops.concat, normal((2, 3), (4, 3)), {}, lambda a, b: torch.cat([a, b])),
    Case(
        "concat_last",
        ops.concat,
        normal((2, 3), (2, 1), (2, 2)),
        {"axis": -1},
        lambda *xs: torch.cat(xs, -1),
    ),
    Case("concat_one", ops.concat, normal((2, 3)), {}, lambda x: torch.cat([x])),
    Case(
        "stack",
        ops.stack,
        normal((2, 3), (2, 3), (2, 3)),
        {"axis": 1},
        lambda *xs: torch.stack(xs, 1),
    ),
    Case(
        "pad",
        ops.pad,
        normal((2, 3, 4)),
        {"pad_width": PAD, "constant_values": 0.5},
        lambda x: F.pad(x, (2, 1, 1, 2, 0, 0), value=0.5),
    ),
    Case("pad_int", ops.pad, normal((2, 3)), {"pad_width": 1}, lambda x: F.pad(x, (1, 1, 1, 1))),
]
CASES = [pytest.param(case, id=case.name) for case in TABLE]


def test_the_table_covers_every_op():
    assert {case.op.__name__ for case in TABLE} == set(math.__all__)


@pytest.mark.parametrize("case", CASES)
def test_gradient(case):
    inputs = case.sample(np.random.default_rng(0), np.float64)
    check_grad(case.op, inputs, **case.kwargs)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES)
def test_matches_torch(case, dtype):
    inputs = case.sample(np.random.default_rng(1), dtype)
    check_vs_torch(case.op, case.torch_fn, inputs, **case.kwargs)


@pytest.mark.parametrize("case", CASES)
def test_float32_is_kept_through_forward_and_backward(case):
    inputs = case.sample(np.random.default_rng(2), np.float32)
    tensors = [Tensor(a, requires_grad=True) if _is_float(a) else a for a in inputs]
    y = case.op(*tensors, **case.kwargs)
    assert y.dtype == np.float32
    y.backward(np.ones(y.shape, np.float32))
    for t in tensors:
        if isinstance(t, Tensor):
            assert t.grad.dtype == np.float32 and t.grad.shape == t.shape


def _is_float(a):
    return isinstance(a, np.ndarray) and a.dtype.kind == "f"


@pytest.mark.parametrize("name", math.__all__)
def test_primitives_state_their_backward_formula(name):
    op = getattr(math, name)
    if hasattr(op, "primitive"):
        assert "Backward:" in op.__doc__


# --------------------------------------------------------------------------- random shapes

needs_torch = pytest.mark.skipif(torch is None, reason="torch is the oracle")
few = settings(max_examples=10, deadline=None)


@needs_torch
@few
@given(
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_side=1, max_side=3, max_dims=3),
    name=st.sampled_from(["add", "subtract", "multiply", "divide", "maximum"]),
    seed=st.integers(0, 2**16),
)
def test_broadcasting_binary_ops_on_random_shapes(shapes, name, seed):
    a, b = positive(*shapes.input_shapes)(np.random.default_rng(seed), np.float64)
    check_vs_torch(getattr(ops, name), getattr(torch, name), [a, b])
    check_grad(getattr(ops, name), [a, b])


@needs_torch
@few
@given(
    shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=4),
    data=st.data(),
    keepdims=st.booleans(),
)
def test_reductions_on_random_shapes_and_axes(shape, data, keepdims):
    axes = data.draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, unique=True))
    x = distinct(shape)(np.random.default_rng(len(shape)), np.float64)[0]
    axis = tuple(axes)
    check_vs_torch(
        ops.sum, lambda t: t.sum(axis, keepdim=keepdims), [x], axis=axis, keepdims=keepdims
    )
    check_vs_torch(
        ops.max, lambda t: t.amax(axis, keepdim=keepdims), [x], axis=axis, keepdims=keepdims
    )
    check_grad(ops.mean, [x], axis=axis, keepdims=keepdims)


@needs_torch
@few
@given(
    batch=hnp.mutually_broadcastable_shapes(num_shapes=2, min_side=1, max_side=3, max_dims=2),
    n=st.integers(1, 4),
    k=st.integers(1, 4),
    m=st.integers(1, 4),
)
def test_batched_matmul_on_random_shapes(batch, n, k, m):
    shapes = (*batch.input_shapes[0], n, k), (*batch.input_shapes[1], k, m)
    a, b = normal(*shapes)(np.random.default_rng(n * k * m), np.float64)
    check_vs_torch(ops.matmul, torch.matmul, [a, b])


# --------------------------------------------------------------------------- semantics


def test_ties_send_the_gradient_to_the_first_argument():
    a, b = Tensor([1.0, 2.0], requires_grad=True), Tensor([1.0, 3.0], requires_grad=True)
    ops.add(ops.maximum(a, b), ops.minimum(a, b)).backward(np.array([1.0, 1.0], np.float32))
    np.testing.assert_array_equal(a.grad, [2.0, 1.0])
    np.testing.assert_array_equal(b.grad, [0.0, 1.0])


def test_max_sends_the_gradient_to_the_first_argmax():
    x = Tensor([[1.0, 3.0, 3.0], [5.0, 5.0, 0.0]], requires_grad=True)
    ops.max(x, axis=1).backward(np.array([1.0, 2.0], np.float32))
    np.testing.assert_array_equal(x.grad, [[0, 1, 0], [2, 0, 0]])
    x.zero_grad()
    ops.max(x).backward()
    np.testing.assert_array_equal(x.grad, [[0, 0, 0], [1, 0, 0]])


def test_python_numbers_keep_float32():
    x = Tensor(np.ones(3, np.float32), requires_grad=True)
    for y in (x + 2.0, 2.0 - x, x * 0.1, 1.0 / x, x**2.5, ops.maximum(x, 0.5)):
        assert y.dtype == np.float32


def test_mixed_precision_gradients_keep_each_input_dtype():
    a = Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    b = Tensor(np.ones(3, np.float64), requires_grad=True)
    y = ops.multiply(a, b)
    assert y.dtype == np.float64
    ops.sum(y).backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_getitem_accepts_a_tensor_index():
    x = Tensor(np.arange(4.0), requires_grad=True)
    ops.sum(x[Tensor(np.array([3, 3, 1]))]).backward()
    np.testing.assert_array_equal(x.grad, [0, 1, 0, 2])


def _expression(a, b):
    """The same code runs on juanji and torch tensors: operators and methods only."""
    c = (2.0 - a * 3.0 + 1.0) / (b.abs().mean(0) + 1.0) - (-a) ** 2
    d = (c @ b.T * 0.1).exp().sqrt().log() / 2.0 + 2.0 * c.sum(0).mean()
    return d.reshape(-1)[1:] + d.transpose(1, 0).reshape((1, -1)).max()


def test_tensor_operators_and_methods_match_torch():
    a, b = normal((3, 4), (2, 4))(np.random.default_rng(3), np.float64)
    check_vs_torch(_expression, _expression, [a, b])
    check_grad(_expression, [a, b])


def test_reflected_operators_with_arrays():
    a = np.arange(6.0).reshape(2, 3)
    x = Tensor(np.ones((3, 2)), requires_grad=True)
    y = a @ x
    assert isinstance(y, Tensor)
    y.backward(np.ones((2, 2)))
    np.testing.assert_array_equal(x.grad, a.T @ np.ones((2, 2)))
    assert isinstance(np.ones(2) - Tensor(np.ones(2)), Tensor)


def test_shape_methods():
    x = Tensor(np.arange(24.0).reshape(2, 3, 4))
    assert x.reshape(4, -1).shape == x.reshape((4, -1)).shape == (4, 6)
    assert x.T.shape == x.transpose().shape == (4, 3, 2)
    assert x.transpose(1, 0, 2).shape == x.transpose((1, 0, 2)).shape == (3, 2, 4)
    assert x.flatten().shape == (2, 12)
    assert x.sum(1).shape == x.mean(axis=1).shape == x.max(1).shape == (2, 4)
    assert x.max(axis=(0, 1), keepdims=True).shape == (1, 1, 4)


@pytest.mark.parametrize(
    "shapes, message",
    [
        (((3, 4), (5, 2), (2,)), r"`w` \(K, M\).*x.shape=\(3, 4\), w.shape=\(5, 2\)"),
        (((3, 4), (4,), None), r"w.shape=\(4,\)"),
        (((3, 4), (4, 2), (3,)), r"`b` of shape \(2,\). Received: b.shape=\(3,\)"),
    ],
)
def test_dense_names_mismatched_shapes(shapes, message):
    arrays = [None if s is None else np.zeros(s) for s in shapes]
    with pytest.raises(ValueError, match=message):
        ops.dense(*arrays)


def test_dense_keeps_float32_and_promotes_with_a_float64_bias():
    x, w = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)
    assert ops.dense(x, w, np.ones(4, np.float32)).dtype == np.float32
    assert ops.dense(x, w, np.ones(4)).dtype == np.float64
