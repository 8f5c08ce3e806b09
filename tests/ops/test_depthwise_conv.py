"""juanji.ops.depthwise_conv2d: gradient checks and PyTorch parity (conv2d with groups=C)."""

import numpy as np
import pytest

from juanji.autograd import Tensor
from juanji.ops import depthwise_conv2d
from tests.helpers import check_grad, check_vs_torch
from tests.ops.test_conv import Case, _pair, oracle_padding

TABLE = [
    Case("valid", (2, 6, 7, 3), (3, 3, 3, 1), True, {}),
    Case("multiplier_2", (2, 5, 6, 2), (2, 3, 2, 2), True, {}),
    Case("no_bias", (1, 5, 5, 3), (3, 3, 3, 2), False, {}),
    Case("same_stride_2", (2, 7, 6, 2), (3, 3, 2, 3), True, {"padding": "same", "strides": 2}),
    Case("dilation_same", (1, 7, 8, 2), (3, 2, 2, 1), True, {"dilation": 2, "padding": "same"}),
    Case("pairs_padding", (1, 5, 4, 2), (2, 3, 2, 2), True, {"padding": ((1, 0), (0, 2))}),
]
CASES = [pytest.param(case, id=case.name) for case in TABLE]


def sample(case, rng, dtype):
    x, w, _ = case.sample(rng, dtype)
    channels = case.w_shape[2] * case.w_shape[3]
    return [x, w, rng.standard_normal(channels).astype(dtype) if case.bias else None]


def torch_depthwise(x_shape, w_shape, strides=1, padding="valid", dilation=1):
    F = pytest.importorskip("torch").nn.functional
    strides, dilation = _pair(strides), _pair(dilation)
    (top, bottom), (left, right) = oracle_padding(padding, x_shape, w_shape, strides, dilation)
    KH, KW, C, M = w_shape

    def fn(x, w, b):
        x = F.pad(x.permute(0, 3, 1, 2), (left, right, top, bottom))
        w = w.permute(2, 3, 0, 1).reshape(C * M, 1, KH, KW)  # output channel c*M + m
        return F.conv2d(x, w, b, stride=strides, dilation=dilation, groups=C).permute(0, 2, 3, 1)

    return fn


@pytest.mark.parametrize("case", CASES)
def test_gradient(case):
    check_grad(depthwise_conv2d, sample(case, np.random.default_rng(0), np.float64), **case.kwargs)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES)
def test_matches_torch(case, dtype):
    fn = torch_depthwise(case.x_shape, case.w_shape, **case.kwargs)
    inputs = sample(case, np.random.default_rng(1), dtype)
    check_vs_torch(depthwise_conv2d, fn, inputs, **case.kwargs)


def test_channels_do_not_mix():
    x = np.zeros((1, 4, 4, 3), np.float32)
    x[..., 1] = 1
    y = depthwise_conv2d(Tensor(x), np.ones((3, 3, 3, 2), np.float32)).data
    np.testing.assert_array_equal(y[..., [0, 1, 4, 5]], 0)
    np.testing.assert_array_equal(y[..., [2, 3]], 9)
    assert y.dtype == np.float32


@pytest.mark.parametrize(
    "args, match",
    [
        ((np.ones((1, 4, 4, 3)), np.ones((3, 3, 2, 1))), r"C equal to the channels"),
        ((np.ones((1, 4, 4, 2)), np.ones((3, 3, 2, 2)), np.ones(2)), r"b` of shape \(4,\)"),
        ((np.ones((4, 4, 2)), np.ones((3, 3, 2, 1))), r"`x` of rank 4"),
    ],
)
def test_errors_name_the_argument_and_the_value(args, match):
    with pytest.raises(ValueError, match=match):
        depthwise_conv2d(*args)
