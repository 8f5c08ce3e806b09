"""Padding, cropping, upsampling and resizing of 2-D and 3-D channels_last data."""

import numpy as np
import pytest

from juanji import ops
from juanji.autograd import Tensor
from tests.helpers import check_grad, check_vs_torch

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # torch is only an oracle; its checks skip without it
    torch = F = None


def channels_first(fn):
    """A torch function on NCHW/NCDHW wrapped to take and give channels_last tensors."""
    return lambda x: fn(x.movedim(-1, 1)).movedim(1, -1)


def torch_pad(pairs):
    flat = [p for pair in reversed(pairs) for p in pair]  # torch pads the last axis first
    return channels_first(lambda x: F.pad(x, flat))


def torch_crop(pairs):
    def crop(x):
        index = (slice(None), *(slice(a, n - b) for (a, b), n in zip(pairs, x.shape[1:-1])))
        return x[index]

    return crop


def torch_resize(size, interpolation):
    mode = {"nearest": "nearest-exact", "bilinear": "bilinear" if len(size) == 2 else "trilinear"}
    kwargs = {} if interpolation == "nearest" else {"align_corners": False}
    return channels_first(lambda x: F.interpolate(x, size=size, mode=mode[interpolation], **kwargs))


def torch_upsample(factors, interpolation):
    mode = {"nearest": "nearest", "bilinear": "bilinear"}[interpolation]
    kwargs = {} if interpolation == "nearest" else {"align_corners": False}
    return channels_first(lambda x: F.interpolate(x, scale_factor=factors, mode=mode, **kwargs))


# name: (x shape, our function, the same on torch tensors, channels_last)
TABLE = {
    "pad_2d": (
        (2, 3, 4, 2),
        lambda x: ops.pad_spatial(x, ((1, 2), (0, 3))),
        torch_pad(((1, 2), (0, 3))),
    ),
    "pad_3d": (
        (1, 2, 3, 2, 2),
        lambda x: ops.pad_spatial(x, ((1, 0), (2, 1), (0, 1))),
        torch_pad(((1, 0), (2, 1), (0, 1))),
    ),
    "crop_2d": (
        (2, 5, 6, 2),
        lambda x: ops.crop_spatial(x, ((1, 2), (0, 3))),
        torch_crop(((1, 2), (0, 3))),
    ),
    "crop_3d": (
        (1, 4, 3, 5, 2),
        lambda x: ops.crop_spatial(x, ((1, 1), (0, 1), (2, 0))),
        torch_crop(((1, 1), (0, 1), (2, 0))),
    ),
    "up_nearest_2d": (
        (2, 3, 2, 3),
        lambda x: ops.upsample(x, size=(2, 3)),
        torch_upsample((2, 3), "nearest"),
    ),
    "up_nearest_3d": (
        (1, 2, 3, 2, 2),
        lambda x: ops.upsample(x, size=(2, 1, 3)),
        torch_upsample((2, 1, 3), "nearest"),
    ),
    "up_bilinear_2d": (
        (2, 3, 4, 2),
        lambda x: ops.upsample(x, size=(2, 3), interpolation="bilinear"),
        torch_upsample((2, 3), "bilinear"),
    ),
    "resize_bilinear_up": (
        (2, 4, 5, 3),
        lambda x: ops.resize(x, size=(7, 9)),
        torch_resize((7, 9), "bilinear"),
    ),
    "resize_bilinear_down": (
        (2, 7, 9, 2),
        lambda x: ops.resize(x, size=(3, 4)),
        torch_resize((3, 4), "bilinear"),
    ),
    "resize_nearest": (
        (2, 5, 4, 2),
        lambda x: ops.resize(x, size=(3, 7), interpolation="nearest"),
        torch_resize((3, 7), "nearest"),
    ),
    "resize_trilinear": (
        (1, 3, 4, 2, 2),
        lambda x: ops.resize(x, size=(5, 2, 3)),
        torch_resize((5, 2, 3), "bilinear"),
    ),
}
CASES = [pytest.param(shape, fn, id=name) for name, (shape, fn, _) in TABLE.items()]
TORCH_CASES = [pytest.param(*case, id=name) for name, case in TABLE.items()]


@pytest.mark.parametrize("shape, fn", CASES)
def test_gradients(shape, fn):
    check_grad(fn, [np.random.default_rng(0).standard_normal(shape)])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape, fn, torch_fn", TORCH_CASES)
def test_matches_torch(shape, fn, torch_fn, dtype):
    pytest.importorskip("torch")
    check_vs_torch(fn, torch_fn, [np.random.default_rng(1).standard_normal(shape).astype(dtype)])


def test_nearest_upsampling_repeats_each_value():
    x = np.arange(4.0).reshape(1, 2, 2, 1)
    y = ops.upsample(x, size=(2, 2)).data[0, :, :, 0]
    np.testing.assert_array_equal(y, [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]])


def test_resize_to_the_same_size_is_the_identity_and_keeps_float32():
    x = np.random.default_rng(2).standard_normal((2, 3, 4, 1)).astype(np.float32)
    y = ops.resize(Tensor(x), size=(3, 4))
    np.testing.assert_array_equal(y.data, x)
    assert ops.resize(x, size=(6, 2)).dtype == np.float32


@pytest.mark.parametrize(
    "value, n_axes, expected",
    [
        (1, 2, ((1, 1), (1, 1))),
        ((1, 2), 2, ((1, 1), (2, 2))),
        (((1, 0), (0, 2)), 2, ((1, 0), (0, 2))),
        ((1, (2, 3), 0), 3, ((1, 1), (2, 3), (0, 0))),
    ],
)
def test_spatial_pairs_accepts_keras_forms(value, n_axes, expected):
    assert ops.spatial_pairs(value, n_axes, "padding") == expected


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ops.spatial_pairs((1, 2, 3), 2, "padding"), r"Received: padding=\(1, 2, 3\)"),
        (lambda: ops.spatial_pairs(-1, 2, "cropping"), r"Received: cropping=-1"),
        (lambda: ops.crop_spatial(np.ones((1, 3, 3, 1)), ((2, 1), (0, 0))), r"non-empty"),
        (lambda: ops.pad_spatial(np.ones((1, 3, 1)), ((1, 1), (0, 0))), r"rank 4"),
        (lambda: ops.upsample(np.ones((1, 3, 3, 1)), size=(2, 0)), r"positive ints"),
        (lambda: ops.upsample(np.ones((1, 3, 3, 1)), size=(2,)), r"one entry per spatial"),
        (lambda: ops.resize(np.ones((1, 3, 3, 1)), size=(2, 2), interpolation="cubic"), "cubic"),
    ],
)
def test_errors_name_the_argument_and_the_value(call, match):
    with pytest.raises(ValueError, match=match):
        call()
