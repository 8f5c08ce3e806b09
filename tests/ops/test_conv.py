"""juanji.ops.conv: a table of cases (images and volumes) drives the gradient and PyTorch
checks; then the padding rules, the errors, the skipped input gradient, the groups and
threads, and translation equivariance."""

import math
import typing

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from juanji import parallel
from juanji.autograd import Tensor
from juanji.ops import conv
from juanji.ops.conv import conv2d, conv3d, conv3d_transpose, conv_output_size, conv_padding
from tests.helpers import check_grad, check_vs_torch

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # torch is only an oracle; its checks skip without it
    torch = F = None


class Case(typing.NamedTuple):
    """``conv2d(x, w, b, **kwargs)`` with ``x``: ``x_shape`` NHWC and ``w``: ``w_shape`` HWIO,
    or ``conv3d`` for volumes ``(N, D, H, W, C)`` and kernels ``(KD, KH, KW, C, F)``."""

    name: str
    x_shape: tuple
    w_shape: tuple
    bias: bool
    kwargs: dict

    @property
    def op(self):
        return conv3d if len(self.x_shape) == 5 else conv2d

    def sample(self, rng, dtype):
        x = rng.standard_normal(self.x_shape).astype(dtype)
        w = rng.standard_normal(self.w_shape).astype(dtype)
        b = rng.standard_normal(self.w_shape[-1]).astype(dtype) if self.bias else None
        return [x, w, b]


TABLE = [
    Case("valid", (2, 6, 7, 3), (3, 3, 3, 4), True, {}),
    Case("no_bias", (2, 5, 6, 2), (2, 3, 2, 3), False, {}),
    Case("one_channel_5x5", (2, 8, 9, 1), (5, 5, 1, 3), True, {}),
    Case("one_by_one", (2, 4, 3, 5), (1, 1, 5, 3), True, {}),
    Case("kernel_fills_input", (2, 3, 4, 2), (3, 4, 2, 3), True, {}),
    Case("stride_2", (2, 7, 8, 2), (3, 3, 2, 3), True, {"strides": 2}),
    Case("stride_2_1", (1, 7, 6, 2), (3, 2, 2, 2), True, {"strides": (2, 1)}),
    Case("stride_larger_than_kernel", (1, 9, 8, 2), (2, 2, 2, 2), True, {"strides": 3}),
    Case("same", (2, 5, 6, 2), (3, 3, 2, 3), True, {"padding": "same"}),
    Case("same_even_kernel", (1, 6, 5, 2), (4, 2, 2, 3), True, {"padding": "same"}),
    Case("same_stride_2", (2, 7, 6, 1), (3, 3, 1, 2), False, {"padding": "same", "strides": 2}),
    Case(
        "same_stride_2_1", (1, 6, 7, 2), (2, 3, 2, 2), True, {"padding": "SAME", "strides": (2, 1)}
    ),
    Case("full", (1, 4, 5, 2), (3, 2, 2, 2), True, {"padding": "full"}),
    Case("full_stride_2", (1, 5, 4, 2), (3, 3, 2, 2), True, {"padding": "full", "strides": 2}),
    Case("int_padding", (1, 5, 5, 2), (3, 3, 2, 2), True, {"padding": 1}),
    Case("pair_padding", (1, 4, 6, 2), (3, 3, 2, 2), True, {"padding": (2, 0)}),
    Case("pairs_padding", (1, 5, 4, 2), (2, 3, 2, 2), True, {"padding": ((1, 0), (0, 2))}),
    Case("dilation_2", (1, 7, 8, 2), (3, 3, 2, 2), True, {"dilation": 2}),
    Case(
        "dilation_same", (1, 6, 7, 2), (3, 2, 2, 2), True, {"dilation": (2, 1), "padding": "same"}
    ),
    Case(
        "dilation_stride_full",
        (1, 6, 5, 2),
        (2, 3, 2, 2),
        True,
        {"dilation": 2, "strides": 2, "padding": "full"},
    ),
    Case("many_channels", (2, 5, 5, 20), (3, 3, 20, 17), True, {"padding": "same"}),
    Case("3d_valid", (2, 4, 5, 4, 2), (3, 3, 2, 2, 3), True, {}),
    Case("3d_no_bias", (1, 3, 4, 5, 3), (2, 2, 3, 3, 2), False, {}),
    Case("3d_same", (1, 4, 3, 5, 2), (3, 3, 3, 2, 2), True, {"padding": "same"}),
    Case("3d_same_even", (1, 4, 5, 3, 2), (2, 4, 2, 2, 2), True, {"padding": "same"}),
    Case(
        "3d_same_stride_2_1_2",
        (2, 5, 4, 6, 1),
        (3, 3, 3, 1, 2),
        True,
        {"padding": "same", "strides": (2, 1, 2)},
    ),
    Case("3d_full", (1, 3, 3, 2, 2), (2, 2, 2, 2, 2), True, {"padding": "full"}),
    Case("3d_pairs", (1, 3, 4, 3, 2), (2, 3, 2, 2, 2), True, {"padding": ((1, 0), 0, (2, 1))}),
    Case("3d_dilation", (1, 5, 5, 4, 2), (2, 2, 2, 2, 2), True, {"dilation": (2, 1, 2)}),
    Case("3d_many_channels", (1, 3, 3, 3, 12), (3, 3, 3, 12, 10), True, {"padding": "same"}),
]
CASES = [pytest.param(case, id=case.name) for case in TABLE]

# The input gradient is folded back tap by tap, or for few channels and unit strides on a
# grid of whole image rows (see conv._col2im); tests run both.
FOLDS = {"taps": 0, "grid": 1 << 30}  # conv._GRID_MAX_CHANNELS
FOLD = pytest.mark.parametrize("fold", FOLDS)


def tf_same_padding(size, kernel, stride, dilation):
    """TensorFlow's "same" rule, written out independently of juanji."""
    total = max((math.ceil(size / stride) - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def oracle_padding(padding, x_shape, w_shape, strides, dilation):
    """((top, bottom), (left, right)) (or one pair per axis) as the padding option documents."""
    rank = len(x_shape) - 2
    if isinstance(padding, str):
        mode = padding.lower()
        return tuple(
            {
                "valid": (0, 0),
                "full": ((k - 1) * d, (k - 1) * d),
                "same": tf_same_padding(n, k, s, d),
            }[mode]
            for n, k, s, d in zip(x_shape[1:-1], w_shape[:-2], strides, dilation)
        )
    if isinstance(padding, int):
        return ((padding, padding),) * rank
    return tuple((p, p) if isinstance(p, int) else tuple(p) for p in padding)


def _pair(v, rank=2):
    return (v,) * rank if isinstance(v, int) else tuple(v)


def to_torch_layout(rank):
    """The permutation from channels-last to channels-first, and back."""
    first = (0, rank + 1, *range(1, rank + 1))
    return first, (0, *range(2, rank + 2), 1)


def torch_conv(x_shape, w_shape, strides=1, padding="valid", dilation=1):
    """The same convolution in PyTorch: NC... permutes and an explicit (asymmetric) F.pad."""
    rank = len(x_shape) - 2
    strides, dilation = _pair(strides, rank), _pair(dilation, rank)
    pads = oracle_padding(padding, x_shape, w_shape, strides, dilation)
    torch_pads = [p for pair in reversed(pads) for p in pair]  # last axis first
    first, last = to_torch_layout(rank)
    conv = F.conv3d if rank == 3 else F.conv2d

    def fn(x, w, b):
        x = F.pad(x.permute(*first), torch_pads)
        w = w.permute(rank + 1, rank, *range(rank)).contiguous()  # NOTE: some torch kernels
        y = conv(x, w, b, stride=strides, dilation=dilation)  # refuse a strided w
        return y.permute(*last)

    return fn


@FOLD
@pytest.mark.parametrize("planar", [True, False])  # the two im2col layouts
@pytest.mark.parametrize("case", CASES)
def test_gradient(case, planar, fold, monkeypatch):
    monkeypatch.setattr(conv, "_planar", lambda *_: planar)
    monkeypatch.setattr(conv, "_GRID_MAX_CHANNELS", FOLDS[fold])
    inputs = case.sample(np.random.default_rng(0), np.float64)
    check_grad(case.op, inputs, **case.kwargs)


@FOLD
@pytest.mark.parametrize("planar", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES)
def test_matches_torch(case, dtype, planar, fold, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.setattr(conv, "_planar", lambda *_: planar)
    monkeypatch.setattr(conv, "_GRID_MAX_CHANNELS", FOLDS[fold])
    inputs = case.sample(np.random.default_rng(1), dtype)
    fn = torch_conv(case.x_shape, case.w_shape, **case.kwargs)
    check_vs_torch(case.op, fn, inputs, **case.kwargs)


@pytest.mark.parametrize("wrt", [0, 1, 2])
def test_each_gradient_alone(wrt):
    """Only one input requires a gradient: the backward computes that one alone."""
    inputs = TABLE[0].sample(np.random.default_rng(2), np.float64)
    check_grad(conv2d, inputs, wrt=[wrt], padding="same", strides=2)


def test_the_first_layer_skips_the_input_gradient(monkeypatch):
    calls = []
    col2im = conv._col2im
    monkeypatch.setattr(conv, "_col2im", lambda *a: calls.append(1) or col2im(*a))
    x, w, b = TABLE[0].sample(np.random.default_rng(3), np.float32)
    w, b = Tensor(w, requires_grad=True), Tensor(b, requires_grad=True)
    conv2d(x, w, b).backward(np.ones((2, 4, 5, 4), np.float32))
    assert calls == [] and w.grad is not None and b.grad is not None
    x = Tensor(x, requires_grad=True)
    conv2d(x, w, b).backward(np.ones((2, 4, 5, 4), np.float32))
    assert calls == [1] and x.grad.shape == x.shape


@pytest.mark.parametrize("case", CASES)
def test_gradient_one_image_at_a_time(case, monkeypatch):
    """Layers build their column matrix (forward and kernel gradient) and fold back their
    input gradient a group of images at a time; forced down to single images, every case still
    passes the gradient check."""
    monkeypatch.setattr(conv, "_IM2COL_GROUP_BYTES", 1)
    monkeypatch.setattr(conv, "_COL2IM_GROUP_BYTES", 1)
    check_grad(case.op, case.sample(np.random.default_rng(0), np.float64), **case.kwargs)


@FOLD
@pytest.mark.parametrize("images, groups", [(1, [1] * 5), (2, [1, 2, 2]), (3, [2, 3])])
def test_groups_of_images_give_the_whole_batch_results(images, groups, fold, monkeypatch):
    """Five 6x5x3 images, "same" 3x3 kernel: groups of at most 1, 2 or 3 images give the
    whole batch's output and gradients."""
    monkeypatch.setattr(conv, "_GRID_MAX_CHANNELS", FOLDS[fold])
    rng = np.random.default_rng(6)
    x, w, b = (
        Tensor(rng.standard_normal(s), requires_grad=True) for s in [(5, 6, 5, 3), (3, 3, 3, 4), 4]
    )
    gy = rng.standard_normal((5, 6, 5, 4))

    def run():
        for t in (x, w, b):
            t.zero_grad()
        y = conv2d(x, w, b, padding="same")
        y.backward(gy)
        return [y.data, x.grad, w.grad, b.grad]

    monkeypatch.setattr(parallel, "workers", lambda: 1)
    whole = run()
    col_bytes_per_image = 6 * 5 * (3 * 3 * 3 + 1) * 8  # OH*OW rows of K weights and a bias
    col2im_bytes_per_image = {
        "taps": (6 * 5 + 8 * 7) * 3 * 8,  # the share and the padded gradient
        "grid": (9 * 3 * 6 * 7 + 3 * 9 * 7 + 6 * 7 * 4) * 8,  # shares, planes and grid
    }[fold]
    monkeypatch.setattr(conv, "_IM2COL_GROUP_BYTES", images * col_bytes_per_image)
    monkeypatch.setattr(conv, "_COL2IM_GROUP_BYTES", images * col2im_bytes_per_image)
    im2col_calls, im2col = [], conv._im2col
    monkeypatch.setattr(
        conv, "_im2col", lambda x, *a, **kw: im2col_calls.append(len(x)) or im2col(x, *a, **kw)
    )
    col2im_calls, group_fn = [], {"taps": "_col2im_group", "grid": "_col2im_grid_group"}[fold]
    col2im_group = getattr(conv, group_fn)
    monkeypatch.setattr(
        conv, group_fn, lambda gy, *a: col2im_calls.append(len(gy)) or col2im_group(gy, *a)
    )
    grouped = run()
    assert im2col_calls == groups * 2  # forward, then the kernel gradient
    assert col2im_calls == [images] * (5 // images) + [5 % images] * (5 % images > 0)
    for got, expected in zip(grouped, whole):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("block_rows", [1, 7])
def test_planar_products_in_blocks_of_rows_give_the_whole_matrix_results(block_rows, monkeypatch):
    """A channel-planar column matrix multiplied a block of rows at a time (blocks of 1 or 7
    of its 50 rows, the last one short): the same output and gradients as in one block."""
    rng = np.random.default_rng(9)
    x, w, b = (
        Tensor(rng.standard_normal(s), requires_grad=True) for s in [(2, 7, 7, 2), (3, 3, 2, 3), 3]
    )
    gy = rng.standard_normal((2, 5, 5, 3))
    monkeypatch.setattr(conv, "_planar", lambda *_: True)

    def run():
        for t in (x, w, b):
            t.zero_grad()
        y = conv2d(x, w, b)
        y.backward(gy)
        return [y.data, x.grad, w.grad, b.grad]

    whole = run()
    monkeypatch.setattr(conv, "_PLANAR_BLOCK_ROWS", block_rows)
    for got, expected in zip(run(), whole):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("channels", [3, 20])
@pytest.mark.parametrize("planar", [True, False])  # the two im2col layouts
@pytest.mark.parametrize("pairs", [True, False])
@pytest.mark.parametrize("workers", [2, 3])
def test_worker_threads_give_the_one_thread_results(workers, pairs, planar, channels, monkeypatch):
    """Seven images split over 2 or 3 threads, each thread building the column matrix of its
    images whole or two images at a time, in either layout: the same output and gradients as
    one thread."""
    monkeypatch.setattr(conv, "_planar", lambda *_: planar)
    rng = np.random.default_rng(8)
    shapes = [(7, 6, 5, channels), (3, 3, channels, 4), 4]
    x, w, b = (Tensor(rng.standard_normal(s), requires_grad=True) for s in shapes)
    gy = rng.standard_normal((7, 3, 3, 4))

    monkeypatch.setattr(conv, "_THREADS_MIN_MACS", 0)

    def run(n_workers):
        monkeypatch.setattr(parallel, "workers", lambda: n_workers)
        for t in (x, w, b):
            t.zero_grad()
        y = conv2d(x, w, b, strides=2, padding="same")
        y.backward(gy)
        return [y.data, x.grad, w.grad, b.grad]

    if pairs:
        monkeypatch.setattr(conv, "_IM2COL_GROUP_BYTES", 2 * 3 * 3 * (9 * channels + 1) * 8)
    one_thread = run(1)
    for got, expected in zip(run(workers), one_thread):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_float32_stays_float32_and_mixed_inputs_keep_their_dtypes():
    rng = np.random.default_rng(4)
    x = Tensor(rng.standard_normal((2, 5, 5, 3)).astype(np.float32), requires_grad=True)
    w = Tensor(rng.standard_normal((3, 3, 3, 2)).astype(np.float32), requires_grad=True)
    b = Tensor(np.zeros(2, np.float64), requires_grad=True)
    y = conv2d(x, w)
    assert y.dtype == np.float32
    y.backward(np.ones(y.shape, np.float32))
    assert x.grad.dtype == w.grad.dtype == np.float32
    y = conv2d(x, w, b)
    assert y.dtype == np.float64
    y.backward(np.ones(y.shape))
    assert x.grad.dtype == w.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_conv2d_states_its_backward_formula():
    assert "Backward:" in conv2d.__doc__


def test_no_graph_without_gradients():
    x, w, b = TABLE[0].sample(np.random.default_rng(5), np.float32)
    y = conv2d(Tensor(x), Tensor(w), b)
    assert not y.requires_grad and y.shape == (2, 4, 5, 4)


# --------------------------------------------------------------------------- random shapes

needs_torch = pytest.mark.skipif(torch is None, reason="torch is the oracle")
paddings = st.one_of(
    st.sampled_from(["valid", "same", "full"]),
    st.integers(0, 2),
    st.tuples(st.integers(0, 2), st.integers(0, 2)),
    st.tuples(
        st.tuples(st.integers(0, 2), st.integers(0, 2)),
        st.tuples(st.integers(0, 2), st.integers(0, 2)),
    ),
)


@needs_torch
@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 2),
    size=st.tuples(st.integers(1, 8), st.integers(1, 8)),
    channels=st.integers(1, 4),
    filters=st.integers(1, 3),
    kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    strides=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    padding=paddings,
    bias=st.booleans(),
)
def test_random_shapes_match_torch(
    n, size, channels, filters, kernel, strides, dilation, padding, bias
):
    x_shape, w_shape = (n, *size, channels), (*kernel, channels, filters)
    pads = oracle_padding(padding, x_shape, w_shape, strides, dilation)
    assume(all(n + sum(p) >= (k - 1) * d + 1 for n, p, k, d in zip(size, pads, kernel, dilation)))
    inputs = Case("drawn", x_shape, w_shape, bias, {}).sample(np.random.default_rng(6), np.float64)
    kwargs = {"strides": strides, "padding": padding, "dilation": dilation}
    check_vs_torch(conv2d, torch_conv(x_shape, w_shape, **kwargs), inputs, **kwargs)
    check_grad(conv2d, inputs, **kwargs)


@needs_torch
@settings(max_examples=20, deadline=None)
@given(
    n=st.integers(1, 2),
    size=st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5)),
    channels=st.integers(1, 3),
    filters=st.integers(1, 3),
    kernel=st.tuples(st.integers(1, 3), st.integers(1, 2), st.integers(1, 3)),
    strides=st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 2)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 2)),
    padding=st.one_of(
        st.sampled_from(["valid", "same", "full"]),
        st.integers(0, 2),
        st.tuples(st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2)), st.just(1)),
    ),
    bias=st.booleans(),
)
def test_random_volumes_match_torch(
    n, size, channels, filters, kernel, strides, dilation, padding, bias
):
    x_shape, w_shape = (n, *size, channels), (*kernel, channels, filters)
    pads = oracle_padding(padding, x_shape, w_shape, strides, dilation)
    assume(all(n + sum(p) >= (k - 1) * d + 1 for n, p, k, d in zip(size, pads, kernel, dilation)))
    inputs = Case("drawn", x_shape, w_shape, bias, {}).sample(np.random.default_rng(6), np.float64)
    kwargs = {"strides": strides, "padding": padding, "dilation": dilation}
    check_vs_torch(conv3d, torch_conv(x_shape, w_shape, **kwargs), inputs, **kwargs)
    check_grad(conv3d, inputs, **kwargs)


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("planes_per_group", [1, 2, 100])
@pytest.mark.parametrize("kwargs", [{}, {"strides": (2, 1, 1), "padding": "full"}])
def test_slabs_of_output_planes_give_the_whole_volume_results(
    kwargs, planes_per_group, workers, monkeypatch
):
    """One volume, its column matrix built a slab of output planes at a time (1 or 2 per
    slab, or all of them), on 1 or 2 threads: the output and gradients of the whole volume."""
    rng = np.random.default_rng(10)
    x, w, b = (
        Tensor(rng.standard_normal(s), requires_grad=True)
        for s in [(1, 5, 4, 3, 2), (3, 2, 2, 2, 3), 3]
    )

    def run():
        for t in (x, w, b):
            t.zero_grad()
        y = conv3d(x, w, b, **kwargs)
        y.backward(np.cos(np.arange(y.size)).reshape(y.shape))
        return [y.data, x.grad, w.grad, b.grad]

    whole = run()
    out = conv3d(x, w, b, **kwargs).shape[1:4]
    plane_bytes = out[1] * out[2] * (3 * 2 * 2 * 2 + 1) * 8  # rows of K weights and a bias
    monkeypatch.setattr(conv, "_IM2COL_GROUP_BYTES", planes_per_group * plane_bytes)
    monkeypatch.setattr(conv, "_THREADS_MIN_MACS", 0)
    monkeypatch.setattr(parallel, "workers", lambda: workers)
    built, im2col = [], conv._im2col
    monkeypatch.setattr(
        conv, "_im2col", lambda x, g, **kw: built.append(g.out[0]) or im2col(x, g, **kw)
    )
    for got, expected in zip(run(), whole):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert sum(built) == 2 * out[0]  # every plane, for the forward and the kernel gradient
    assert max(built) <= max(1, min(planes_per_group, -(-out[0] // workers)))


@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("planes_per_slab", [1, 2, 100])
@pytest.mark.parametrize(
    "op, kwargs",
    [
        (conv3d, {}),
        (conv3d, {"strides": (2, 1, 1), "padding": "same"}),
        (conv3d, {"strides": (3, 1, 2), "padding": "full", "dilation": (2, 1, 1)}),
        (conv3d_transpose, {"strides": 2, "padding": "same", "output_padding": 1}),
    ],
)
def test_input_gradient_folded_by_slabs_of_planes_gives_the_whole_volume_results(
    op, kwargs, planes_per_slab, workers, monkeypatch
):
    """One volume too large for the cache budget, or fewer volumes than threads: the input
    gradient (a transposed convolution's output) is folded back a slab of 1, 2 or all output
    planes at a time, on 1 to 3 threads, each adding its slabs in a buffer of its own."""
    rng = np.random.default_rng(11)
    x, w, b = (
        Tensor(rng.standard_normal(s), requires_grad=True)
        for s in [(1, 6, 4, 3, 2), (3, 2, 2, 2, 2), 2]
    )

    def run():
        for t in (x, w, b):
            t.zero_grad()
        y = op(x, w, b, **kwargs)
        y.backward(np.cos(np.arange(y.size)).reshape(y.shape))
        return [y.data, x.grad, w.grad, b.grad]

    whole = run()
    monkeypatch.setattr(conv, "_COL2IM_GROUP_BYTES", planes_per_slab * 4 * 5 * 2 * 8)
    monkeypatch.setattr(conv, "_THREADS_MIN_MACS", 0)
    monkeypatch.setattr(parallel, "workers", lambda: workers)
    slabs, fold = [], conv._col2im_slabs
    monkeypatch.setattr(conv, "_col2im_slabs", lambda *a: slabs.append(1) or fold(*a))
    for got, expected in zip(run(), whole):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert slabs or (workers == 1 and planes_per_slab == 100)  # that volume fits the budget


# --------------------------------------------------------------------------- padding rules


@pytest.mark.parametrize(
    "size, kernel, stride, padding, dilation, expected",
    [
        (28, 5, 1, "valid", 1, 24),
        (28, 5, 1, "same", 1, 28),
        (28, 5, 2, "same", 1, 14),
        (5, 3, 2, "same", 1, 3),
        (28, 5, 1, "full", 1, 32),
        (7, 3, 1, "valid", 2, 3),
        (7, 3, 2, 1, 1, 4),
        (7, 3, 1, (0, 2), 1, 7),
        (2, 3, 1, "valid", 1, 0),
    ],
)
def test_conv_output_size(size, kernel, stride, padding, dilation, expected):
    assert conv_output_size(size, kernel, stride, padding, dilation) == expected


@pytest.mark.parametrize(
    "padding, size, kernel, stride, dilation, expected",
    [
        ("same", 6, 3, 2, 1, ((0, 1), (0, 1))),  # total 1: the extra zero goes bottom/right
        ("same", 5, 3, 2, 1, ((1, 1), (1, 1))),
        ("same", 28, 4, 1, 1, ((1, 2), (1, 2))),
        ("same", 5, 3, 1, 2, ((2, 2), (2, 2))),
        ("same", 4, 1, 3, 1, ((0, 0), (0, 0))),  # never negative
        ("full", 5, 3, 1, 2, ((4, 4), (4, 4))),
        ("Valid", 5, 3, 1, 1, ((0, 0), (0, 0))),
        (2, 5, 3, 1, 1, ((2, 2), (2, 2))),
        ((1, 3), 5, 3, 1, 1, ((1, 1), (3, 3))),
        (((0, 1), (2, 3)), 5, 3, 1, 1, ((0, 1), (2, 3))),
    ],
)
def test_conv_padding(padding, size, kernel, stride, dilation, expected):
    got = conv_padding(padding, (size, size), (kernel, kernel), (stride, stride), (dilation,) * 2)
    assert got == expected


# --------------------------------------------------------------------------- errors

X, W, B = np.zeros((2, 5, 5, 3), np.float32), np.zeros((3, 3, 3, 4), np.float32), np.zeros(4)


@pytest.mark.parametrize(
    "args, kwargs, error, message",
    [
        ((X[0], W), {}, ValueError, r"`x` of rank 4.*Received: x.shape=\(5, 5, 3\)"),
        ((X, W[0]), {}, ValueError, r"`w` of rank 4.*Received: w.shape=\(3, 3, 4\)"),
        ((X, W[:, :, :2]), {}, ValueError, r"C equal to the channels.*w.shape=\(3, 3, 2, 4\)"),
        ((X, W, B[:3]), {}, ValueError, r"`b` of shape \(4,\).*Received: b.shape=\(3,\)"),
        ((X.astype(int), W), {}, TypeError, r"floating-point.*Received: x.dtype=int"),
        ((X, W.astype(bool)), {}, TypeError, r"floating-point.*Received: w.dtype=bool"),
        ((X, np.zeros((7, 3, 3, 4))), {}, ValueError, r"kernel.*Received: x.shape"),
        ((X, W), {"dilation": 3}, ValueError, r"kernel.*dilation=\(3, 3\)"),
        ((X, W), {"padding": "half"}, ValueError, r"`padding`.*Received: padding='half'"),
        ((X, W), {"padding": -1}, ValueError, r"`padding`.*Received: padding=-1"),
        ((X, W), {"padding": (1, 2, 3)}, ValueError, r"Received: padding=\(1, 2, 3\)"),
        ((X, W), {"strides": 0}, ValueError, r"`strides`.*Received: strides=0"),
        ((X, W), {"strides": (1, 1.5)}, ValueError, r"Received: strides=\(1, 1.5\)"),
        ((X, W), {"dilation": "2"}, ValueError, r"`dilation`.*Received: dilation='2'"),
    ],
)
def test_errors_name_the_argument_and_the_value(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        conv2d(*args, **kwargs)


V, KV = np.zeros((1, 4, 5, 5, 3)), np.zeros((3, 3, 3, 3, 2))


@pytest.mark.parametrize(
    "args, kwargs, message",
    [
        ((X, KV), {}, r"`x` of rank 5.*Received: x.shape=\(2, 5, 5, 3\)"),
        ((V, KV[..., :2, :]), {}, r"\(KD, KH, KW, C, F\) with C.*\(N, D, H, W, C\)"),
        ((V, KV), {"strides": (1, 2)}, r"`strides`.*tuple of 3.*Received: strides=\(1, 2\)"),
        ((V, KV), {"padding": (1, 1)}, r"\(pd, ph, pw\).*Received: padding=\(1, 1\)"),
        ((V, KV), {"dilation": (1, 1, 3)}, r"kernel.*dilation=\(1, 1, 3\)"),
    ],
)
def test_conv3d_errors_name_the_argument_and_the_value(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        conv3d(*args, **kwargs)


# --------------------------------------------------------------------------- equivariance


@pytest.mark.parametrize("strides", [1, 2, (2, 3)])
def test_translation_equivariance(strides):
    """Shifting the input by a multiple of the stride shifts a valid conv's output by as
    many positions: convolution is translation equivariant."""
    SH, SW = _pair(strides)
    rng = np.random.default_rng(7)
    big = rng.standard_normal((2, 16, 17, 3))
    w, b = rng.standard_normal((3, 2, 3, 4)), rng.standard_normal(4)
    x, shifted = big[:, :12, :12], big[:, 2 * SH : 2 * SH + 12, 1 * SW : 1 * SW + 12]
    y = conv2d(x, w, b, strides=strides).data
    y_shifted = conv2d(shifted, w, b, strides=strides).data
    np.testing.assert_allclose(y_shifted[:, :-2, :-1], y[:, 2:, 1:], rtol=1e-12, atol=1e-12)
    assert not np.allclose(y_shifted, y)
