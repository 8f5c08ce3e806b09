"""juanji.ops.activations: one table of cases drives gradient, PyTorch, dtype and stability
checks; the registry finds each activation by its Keras name."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from juanji import ops, registry
from juanji.autograd import Tensor
from juanji.ops import activations
from tests.helpers import check_grad, check_vs_torch
from tests.ops.cases import Case, away_from, joined, normal

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # torch is only an oracle; its checks skip without it
    torch = F = None

wide = away_from(scale=3.0)  # reaches the saturated tails
nonzero = away_from(0.0)


def _prelu_nhwc(x, alpha):
    """PyTorch's prelu takes channels first."""
    return F.prelu(x.permute(0, 3, 1, 2), alpha).permute(0, 2, 3, 1)


TABLE = [
    Case("linear", ops.linear, normal((3, 4)), {}, lambda x: x.clone()),
    Case("sigmoid", ops.sigmoid, wide((3, 4)), {}, lambda x: torch.sigmoid(x)),
    Case("tanh", ops.tanh, wide((3, 4)), {}, lambda x: torch.tanh(x)),
    Case("relu", ops.relu, nonzero((3, 4)), {}, lambda x: torch.relu(x)),
    Case("leaky_relu", ops.leaky_relu, nonzero((3, 4)), {}, lambda x: F.leaky_relu(x, 0.2)),
    Case(
        "leaky_relu_slope",
        ops.leaky_relu,
        nonzero((3, 4)),
        {"negative_slope": 0.01},
        lambda x: F.leaky_relu(x, 0.01),
    ),
    Case("elu", ops.elu, nonzero((3, 4)), {}, lambda x: F.elu(x)),
    Case("elu_alpha", ops.elu, nonzero((3, 4)), {"alpha": 0.5}, lambda x: F.elu(x, alpha=0.5)),
    Case("selu", ops.selu, nonzero((3, 4)), {}, lambda x: F.selu(x)),
    Case("softplus", ops.softplus, wide((3, 4)), {}, lambda x: F.softplus(x)),
    Case("softsign", ops.softsign, wide((3, 4)), {}, lambda x: F.softsign(x)),
    Case("silu", ops.silu, wide((3, 4)), {}, lambda x: F.silu(x)),
    Case("gelu", ops.gelu, wide((3, 4)), {}, lambda x: F.gelu(x)),
    Case(
        "hard_sigmoid",
        ops.hard_sigmoid,
        away_from(-3.0, 3.0, scale=3.0)((3, 4)),
        {},
        lambda x: F.relu6(x + 3) / 6,  # NOTE: torch's hardsigmoid grad uses a float32 1/6
    ),
    Case(
        "prelu_dense",
        ops.prelu,
        joined(nonzero((3, 4)), normal((4,))),
        {},
        lambda x, a: F.prelu(x, a),
    ),
    Case("prelu_channels", ops.prelu, joined(nonzero((2, 3, 3, 4)), normal((4,))), {}, _prelu_nhwc),
    Case(
        "prelu_spatial",
        ops.prelu,
        joined(nonzero((2, 2, 3)), normal((2, 3))),
        {},
        lambda x, a: torch.where(x > 0, x, a * x),
    ),
    Case("softmax", ops.softmax, wide((3, 5)), {}, lambda x: F.softmax(x, -1)),
    Case("softmax_axis", ops.softmax, wide((3, 5)), {"axis": 0}, lambda x: F.softmax(x, 0)),
    Case(
        "softmax_nhwc",
        ops.softmax,
        wide((2, 2, 2, 3)),
        {"axis": -1},
        lambda x: F.softmax(x, -1),
    ),
    Case(
        "softmax_volume_depth",
        ops.softmax,
        wide((1, 4, 2, 3, 2)),
        {"axis": 1},
        lambda x: F.softmax(x, 1),
    ),
    Case("log_softmax", ops.log_softmax, wide((3, 5)), {}, lambda x: F.log_softmax(x, -1)),
    Case(
        "log_softmax_volume_depth",
        ops.log_softmax,
        wide((1, 4, 2, 3, 2)),
        {"axis": 1},
        lambda x: F.log_softmax(x, 1),
    ),
    Case(
        "log_softmax_axis",
        ops.log_softmax,
        wide((3, 5)),
        {"axis": 0},
        lambda x: F.log_softmax(x, 0),
    ),
]
CASES = [pytest.param(case, id=case.name) for case in TABLE]
KERAS_NAMES = [
    "linear",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "selu",
    "softplus",
    "softsign",
    "silu",
    "swish",
    "gelu",
    "hard_sigmoid",
    "softmax",
    "log_softmax",
]


def test_the_table_covers_every_activation():
    assert {case.op.__name__ for case in TABLE} == set(activations.__all__)


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
    tensors = [Tensor(a, requires_grad=True) for a in inputs]
    y = case.op(*tensors, **case.kwargs)
    assert y.dtype == np.float32
    y.backward(np.ones(y.shape, np.float32))
    for t in tensors:
        assert t.grad.dtype == np.float32 and t.grad.shape == t.shape


EXTREMES = [-1000.0, -100.0, -30.0, -1.0, 0.0, 1.0, 30.0, 100.0, 1000.0]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES)
def test_stable_and_exact_for_large_inputs(case, dtype):
    """No overflow, invalid value or division warning at |x| up to 1000, and the same
    values and gradients as PyTorch there. Underflow to 0 is the correct result."""
    inputs = case.sample(np.random.default_rng(3), dtype)
    x = np.resize(np.asarray(EXTREMES, dtype), inputs[0].shape)
    inputs = [np.random.default_rng(4).permutation(x.ravel()).reshape(x.shape), *inputs[1:]]
    tensors = [Tensor(a, requires_grad=True) for a in inputs]
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        y = case.op(*tensors, **case.kwargs)
        y.backward(np.ones(y.shape, dtype))
    assert np.isfinite(y.data).all()
    assert all(np.isfinite(t.grad).all() for t in tensors)
    check_vs_torch(case.op, case.torch_fn, inputs, **case.kwargs)


@pytest.mark.parametrize("name", KERAS_NAMES)
def test_found_by_keras_name(name):
    fn = registry.get("activation", name)
    assert fn is getattr(ops, "silu" if name == "swish" else name)
    assert registry.get("activation", name.upper()) is fn


@pytest.mark.parametrize("name", activations.__all__)
def test_docstring_states_the_backward_formula(name):
    assert "Backward:" in getattr(activations, name).__doc__


def test_softmax_rows_sum_to_one_and_log_softmax_is_its_log():
    x = normal((4, 6))(np.random.default_rng(5), np.float64)[0] * 50
    p = ops.softmax(Tensor(x)).data
    np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(ops.log_softmax(Tensor(x)).data, np.log(p), atol=1e-9)


@pytest.mark.skipif(torch is None, reason="torch is the oracle")
@settings(max_examples=10, deadline=None)
@given(shape=hnp.array_shapes(min_dims=1, max_dims=5, max_side=3), data=st.data())
def test_softmax_and_log_softmax_on_random_shapes_and_axes(shape, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = wide(shape)(np.random.default_rng(len(shape)), np.float64)[0]
    check_vs_torch(ops.softmax, lambda t: F.softmax(t, axis), [x], axis=axis)
    check_vs_torch(ops.log_softmax, lambda t: F.log_softmax(t, axis), [x], axis=axis)
    check_grad(ops.log_softmax, [x], axis=axis)
