"""juanji.ops.conv's transposed convolutions: Keras 3's output lengths, the adjoint of the
forward convolution, float64 central differences and PyTorch parity on a table of cases and
on drawn shapes, and the errors."""

import typing

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from juanji.autograd import Tensor
from juanji.ops import conv
from juanji.ops.conv import conv2d, conv2d_transpose, conv3d, conv3d_transpose
from tests.helpers import check_grad, check_vs_torch

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # torch is only an oracle; its checks skip without it
    torch = F = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is the oracle")


def keras_length_and_start(n, k, s, padding, output_padding, d):
    """The output length and the zeros cropped before it, from Keras 3's rules for its JAX
    backend (``lhs_dilation`` by the stride, then ``left_pad`` zeros before a correlation
    with the flipped kernel), written out independently of juanji."""
    k = (k - 1) * d + 1
    if padding == "valid":
        length = (n - 1) * s + k + (max(k, s) - k if output_padding is None else output_padding)
        left_pad = k - 1
    else:
        if output_padding is None:
            length, pad_len = n * s, s + k - 2
        else:
            length, pad_len = (n - 1) * s + k % 2 + output_padding, k + k % 2 - 2 + output_padding
        left_pad = min(pad_len // 2 + pad_len % 2, k - 1)
    return length, k - 1 - left_pad


class Case(typing.NamedTuple):
    """``conv{2,3}d_transpose(x, w, b, **kwargs)``, ``w`` of shape ``(K..., F, C)``."""

    name: str
    x_shape: tuple
    w_shape: tuple
    bias: bool
    kwargs: dict

    @property
    def op(self):
        return conv3d_transpose if len(self.x_shape) == 5 else conv2d_transpose

    def sample(self, rng, dtype):
        x = rng.standard_normal(self.x_shape).astype(dtype)
        w = rng.standard_normal(self.w_shape).astype(dtype)
        b = rng.standard_normal(self.w_shape[-2]).astype(dtype) if self.bias else None
        return [x, w, b]


TABLE = [
    Case("valid", (2, 3, 4, 2), (3, 3, 3, 2), True, {}),
    Case("no_bias", (1, 3, 3, 3), (2, 3, 2, 3), False, {}),
    Case("stride_2", (2, 3, 2, 2), (3, 3, 2, 2), True, {"strides": 2}),
    Case("stride_above_kernel", (1, 3, 2, 2), (2, 2, 2, 2), True, {"strides": (3, 2)}),
    Case("same", (2, 3, 4, 2), (3, 3, 2, 2), True, {"padding": "same"}),
    Case("same_stride_2", (1, 3, 3, 2), (3, 3, 3, 2), True, {"padding": "same", "strides": 2}),
    Case("same_even_kernel", (1, 3, 3, 2), (4, 2, 2, 2), True, {"padding": "same", "strides": 2}),
    Case(
        "output_padding",
        (1, 3, 2, 2),
        (3, 3, 2, 2),
        True,
        {"strides": (2, 3), "output_padding": (1, 2)},
    ),
    Case(
        "same_output_padding",
        (1, 3, 3, 1),
        (3, 2, 2, 1),
        True,
        {"padding": "same", "strides": 2, "output_padding": 1},
    ),
    Case("dilation", (1, 3, 3, 2), (2, 3, 2, 2), True, {"dilation": (2, 1)}),
    Case("many_channels", (2, 3, 3, 12), (3, 3, 10, 12), True, {"strides": 2, "padding": "same"}),
    Case("3d_valid", (1, 2, 3, 2, 2), (2, 3, 2, 3, 2), True, {}),
    Case(
        "3d_stride_2_same",
        (2, 2, 3, 2, 2),
        (3, 3, 3, 2, 2),
        True,
        {"strides": 2, "padding": "same"},
    ),
    Case("3d_strides_1_2_3", (1, 2, 2, 2, 3), (2, 2, 2, 2, 3), False, {"strides": (1, 2, 3)}),
    Case(
        "3d_output_padding",
        (1, 2, 2, 3, 2),
        (3, 2, 2, 2, 2),
        True,
        {"strides": 2, "padding": "same", "output_padding": (1, 0, 1)},
    ),
]
CASES = [pytest.param(case, id=case.name) for case in TABLE]


def torch_transpose(x_shape, w_shape, strides=1, padding="valid", output_padding=None, dilation=1):
    """PyTorch's full transposed convolution (no padding), cropped and extended with zeros to
    Keras's output window."""
    rank = len(x_shape) - 2
    strides, dilation = (
        (v,) * rank if isinstance(v, int) else tuple(v) for v in (strides, dilation)
    )
    output_padding = (output_padding,) * rank if isinstance(output_padding, int) else output_padding
    windows = [
        keras_length_and_start(n, k, s, padding, None if output_padding is None else p, d)
        for n, k, s, d, p in zip(
            x_shape[1:-1], w_shape[:-2], strides, dilation, output_padding or (0,) * rank
        )
    ]
    first, last = (0, rank + 1, *range(1, rank + 1)), (0, *range(2, rank + 2), 1)
    transpose = F.conv_transpose3d if rank == 3 else F.conv_transpose2d

    def fn(x, w, b):
        w = w.permute(rank + 1, rank, *range(rank)).contiguous()  # (C, F, K...)
        y = transpose(x.permute(*first), w, None, stride=strides, dilation=dilation)
        y = y.permute(*last)
        extra = [max(0, start + length - n) for (length, start), n in zip(windows, y.shape[1:-1])]
        y = F.pad(y, [0, 0, *(p for e in reversed(extra) for p in (0, e))])  # C last
        crop = tuple(slice(start, start + length) for length, start in windows)
        y = y[(slice(None), *crop)]
        return y if b is None else y + b

    return fn


@pytest.mark.parametrize("case", CASES)
def test_gradient(case):
    check_grad(case.op, case.sample(np.random.default_rng(0), np.float64), **case.kwargs)


@needs_torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES)
def test_matches_torch(case, dtype):
    inputs = case.sample(np.random.default_rng(1), dtype)
    check_vs_torch(
        case.op, torch_transpose(case.x_shape, case.w_shape, **case.kwargs), inputs, **case.kwargs
    )


@pytest.mark.parametrize("case", CASES)
def test_is_the_adjoint_of_the_forward_convolution(case):
    """<conv(z, w), x> = <z, conv_transpose(x, w)> with the forward convolution padded as
    the transposed one crops: its windows start that many zeros before the output."""
    rng = np.random.default_rng(2)
    x, w, _ = case.sample(rng, np.float64)
    y = case.op(x, w, **case.kwargs).data
    z = rng.standard_normal(y.shape)
    rank = x.ndim - 2
    kw = {k: v for k, v in case.kwargs.items() if k in ("strides", "dilation")}
    strides = conv.as_tuple(kw.get("strides", 1), "strides", rank)
    dilation = conv.as_tuple(kw.get("dilation", 1), "dilation", rank)
    output_padding = case.kwargs.get("output_padding")
    output_padding = conv.as_tuple(output_padding, "p", rank, 0) if output_padding else None
    pads = []
    for n, k, s, d, length, i in zip(
        x.shape[1:-1], w.shape, strides, dilation, y.shape[1:-1], range(rank)
    ):
        expected, start = keras_length_and_start(
            n, k, s, case.kwargs.get("padding", "valid"), output_padding and output_padding[i], d
        )
        assert length == expected
        pads.append((start, max(0, (n - 1) * s + (k - 1) * d + 1 - start - length)))
    forward = conv3d if rank == 3 else conv2d
    zw = forward(z, w, strides=strides, dilation=dilation, padding=tuple(pads)).data
    np.testing.assert_allclose(np.sum(zw * x), np.sum(z * y), rtol=1e-12)


@needs_torch
@settings(max_examples=25, deadline=None)
@given(
    rank=st.sampled_from([2, 3]),
    n=st.integers(1, 2),
    size=st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3)),
    channels=st.integers(1, 3),
    filters=st.integers(1, 3),
    kernel=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 2)),
    strides=st.tuples(st.integers(1, 3), st.integers(1, 2), st.integers(1, 2)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 2)),
    padding=st.sampled_from(["valid", "same"]),
    output_padding=st.one_of(st.none(), st.tuples(*[st.integers(0, 2)] * 3)),
    bias=st.booleans(),
)
def test_random_shapes_match_torch(
    rank, n, size, channels, filters, kernel, strides, dilation, padding, output_padding, bias
):
    if output_padding is not None:
        output_padding = tuple(min(p, s - 1) for p, s in zip(output_padding, strides))[:rank]
    x_shape, w_shape = (n, *size[:rank], channels), (*kernel[:rank], filters, channels)
    kwargs = {
        "strides": strides[:rank],
        "padding": padding,
        "output_padding": output_padding,
        "dilation": dilation[:rank],
    }
    case = Case("drawn", x_shape, w_shape, bias, kwargs)
    inputs = case.sample(np.random.default_rng(3), np.float64)
    check_vs_torch(case.op, torch_transpose(x_shape, w_shape, **kwargs), inputs, **kwargs)
    check_grad(case.op, inputs, **kwargs)


@pytest.mark.parametrize("wrt", [0, 1, 2])
def test_each_gradient_alone(wrt):
    inputs = TABLE[5].sample(np.random.default_rng(4), np.float64)
    check_grad(conv2d_transpose, inputs, wrt=[wrt], **TABLE[5].kwargs)


def test_float32_stays_float32():
    x, w, b = (
        Tensor(a, requires_grad=True) for a in TABLE[2].sample(np.random.default_rng(5), np.float32)
    )
    y = conv2d_transpose(x, w, b, strides=2)
    assert y.dtype == np.float32 and y.shape == (2, 7, 5, 2)
    y.backward(np.ones(y.shape, np.float32))
    assert x.grad.dtype == w.grad.dtype == b.grad.dtype == np.float32


X, W = np.zeros((2, 4, 4, 3)), np.zeros((3, 3, 5, 3))


@pytest.mark.parametrize(
    "op, args, kwargs, message",
    [
        (
            conv2d_transpose,
            (X, W[..., :2]),
            {},
            r"\(KH, KW, F, C\) with C equal.*w.shape=\(3, 3, 5, 2\)",
        ),
        (conv2d_transpose, (X, W, np.zeros(3)), {}, r"`b` of shape \(5,\).*b.shape=\(3,\)"),
        (conv2d_transpose, (X, W), {"padding": "full"}, r"'valid' or 'same'.*padding='full'"),
        (
            conv2d_transpose,
            (X, W),
            {"strides": 2, "output_padding": 2},
            r"below the strides.*\(2, 2\)",
        ),
        (conv2d_transpose, (X, W), {"output_padding": -1}, r"`output_padding`.*output_padding=-1"),
        (conv3d_transpose, (X, W), {}, r"`x` of rank 5.*x.shape=\(2, 4, 4, 3\)"),
    ],
)
def test_errors_name_the_argument_and_the_value(op, args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        op(*args, **kwargs)
