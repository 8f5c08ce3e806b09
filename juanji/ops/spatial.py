"""Padding, cropping, upsampling and resizing along the spatial axes of channels_last data.

Each op takes ``(N, *spatial, C)`` of any number of spatial axes (``(N, H, W, C)`` images,
``(N, D, H, W, C)`` volumes), so the 2-D and 3-D layers share them. Resizing is separable:
along each axis every output reads two neighbours (one for nearest), two gathers and a
blend; the gradient applies each axis's transposed interpolation matrix ``(in, out)``, in
reverse order.
"""

import numbers

import numpy as np

from juanji import backend
from juanji.autograd import primitive
from juanji.ops.math import getitem, pad

__all__ = ["crop_spatial", "pad_spatial", "resize", "spatial_pairs", "upsample"]

INTERPOLATIONS = ("nearest", "bilinear")


def spatial_pairs(value, n_axes, name, minimum=0):
    """``(before, after)`` for each of ``n_axes`` spatial axes, from an int (all sides), one
    int per axis (both sides), or one ``(before, after)`` pair per axis (Keras's forms).

    Raises:
        ValueError: naming ``name`` and the value received.
    """

    def is_int(v):
        return isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= minimum

    entries = (value,) * n_axes if is_int(value) else value
    if isinstance(entries, (tuple, list)) and len(entries) == n_axes:
        pairs = [(e, e) if is_int(e) else e for e in entries]
        if all(isinstance(p, (tuple, list)) and len(p) == 2 and all(map(is_int, p)) for p in pairs):
            return tuple((int(a), int(b)) for a, b in pairs)
    raise ValueError(
        f"Expected `{name}` to be an int >= {minimum}, {n_axes} such ints, or {n_axes} pairs "
        f"(before, after) of them. Received: {name}={value!r}"
    )


def _check_spatial(x, pairs, name):
    if x.ndim != len(pairs) + 2:
        raise ValueError(
            f"Expected `x` of rank {len(pairs) + 2} (N, {len(pairs)} spatial axes, C) for "
            f"{len(pairs)} `{name}` pairs. Received: x.shape={x.shape}"
        )


def pad_spatial(x, pairs):
    """Zeros around the spatial axes: ``pairs`` holds ``(before, after)`` per spatial axis.

    ``(N, *S, C) -> (N, *(S + before + after), C)``. Backward: gy with the padding cut off.
    """
    _check_spatial(x, pairs, "padding")
    return pad(x, pad_width=((0, 0), *pairs, (0, 0)))


def crop_spatial(x, pairs):
    """Cut ``(before, after)`` values off each spatial axis.

    ``(N, *S, C) -> (N, *(S - before - after), C)``. Backward: gy placed back among zeros.

    Raises:
        ValueError: if a cropping leaves an axis empty.
    """
    _check_spatial(x, pairs, "cropping")
    sizes = x.shape[1:-1]
    if any(a + b >= n for (a, b), n in zip(pairs, sizes)):
        raise ValueError(
            f"Expected a cropping that leaves every spatial axis non-empty. "
            f"Received: cropping={tuple(pairs)} for x.shape={tuple(x.shape)}"
        )
    index = (slice(None), *(slice(a, n - b) for (a, b), n in zip(pairs, sizes)), slice(None))
    return getitem(x, index=index)


def _interpolation_error(interpolation):
    return ValueError(
        f"Expected `interpolation` in {INTERPOLATIONS}. Received: interpolation={interpolation!r}"
    )


def _check_factors(x, size, name):
    if x.ndim < 3 or len(size) != x.ndim - 2:
        raise ValueError(
            f"Expected `{name}` with one entry per spatial axis of x (N, ..., C). "
            f"Received: {name}={tuple(size)} for x.shape={tuple(x.shape)}"
        )
    if not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in size):
        raise ValueError(f"Expected positive ints in `{name}`. Received: {name}={tuple(size)}")


def upsample(x, *, size, interpolation="nearest"):
    """Enlarge each spatial axis by an integer factor (Keras's UpSampling layers).

    Args:
        x: ``(N, *S, C)``.
        size: one positive int factor per spatial axis.
        interpolation: ``"nearest"`` (each value repeated) or ``"bilinear"`` (linear along
            each axis with half-pixel centres, as :func:`resize`).

    Returns:
        ``(N, *(S * size), C)``.
    """
    x_shape = x.shape
    size = tuple(size)
    _check_factors(x, size, "size")
    if interpolation == "bilinear":
        return resize(x, size=tuple(n * s for n, s in zip(x_shape[1:-1], size)))
    if interpolation != "nearest":
        raise _interpolation_error(interpolation)
    return _repeat(x, factors=size)


@primitive
def _repeat(x, *, factors):
    """Each value repeated ``factors[k]`` times along spatial axis ``k``.

    Backward: gx = gy summed over each block of repeats.
    """
    N, *spatial, C = x.shape
    # (N, S1, 1, S2, 1, ..., C) broadcast to (N, S1, f1, S2, f2, ..., C)
    expanded = x.reshape(N, *(d for n in spatial for d in (n, 1)), C)
    blocks = (N, *(d for n, f in zip(spatial, factors) for d in (n, f)), C)
    y = np.broadcast_to(expanded, blocks).reshape(N, *(n * f for n, f in zip(spatial, factors)), C)

    def backward(gy):
        repeat_axes = tuple(range(2, 2 * len(spatial) + 1, 2))
        return gy.reshape(blocks).sum(axis=repeat_axes)

    return y, backward


def _taps(n_in, n_out, interpolation):
    """``(lower, upper, weight)``: output ``i`` along an axis reads
    ``(1 - weight[i]) * x[lower[i]] + weight[i] * x[upper[i]]``, with half-pixel centres
    (source position ``(i + 0.5) * n_in / n_out - 0.5``, as Keras's and PyTorch's
    ``align_corners=False``); nearest reads input ``floor((i + 0.5) * n_in / n_out)``."""
    rows = np.arange(n_out)
    scale = n_in / n_out
    if interpolation == "nearest":
        index = np.minimum(np.floor((rows + 0.5) * scale).astype(int), n_in - 1)
        return index, index, np.zeros(n_out)
    source = np.clip((rows + 0.5) * scale - 0.5, 0, n_in - 1)
    lower = np.floor(source).astype(int)
    return lower, np.minimum(lower + 1, n_in - 1), source - lower


def _interpolate(x, taps, axis):
    """``x`` resampled along ``axis`` by ``taps``: two gathers and a blend."""
    lower, upper, weight = taps
    y = np.take(x, lower, axis=axis)
    if weight.any():
        weight = weight.astype(x.dtype).reshape((-1,) + (1,) * (x.ndim - axis - 1))
        y += (np.take(x, upper, axis=axis) - y) * weight
    return y


def _interpolate_backward(gy, taps, n_in, axis):
    """The gradient of :func:`_interpolate`: ``A^T gy`` along ``axis``, with ``A`` the
    ``(n_out, n_in)`` matrix of the taps' weights."""
    lower, upper, weight = taps
    a = np.zeros((len(lower), n_in), gy.dtype)
    rows = np.arange(len(lower))
    np.add.at(a, (rows, lower), 1 - weight)
    np.add.at(a, (rows, upper), weight)
    return np.moveaxis(np.tensordot(a.T, gy, axes=([1], [axis])), 0, axis)


@primitive
def resize(x, *, size, interpolation="bilinear"):
    """Resample the spatial axes to ``size`` (Keras's Resizing without antialiasing).

    Args:
        x: ``(N, *S, C)`` floats.
        size: the output length of each spatial axis.
        interpolation: ``"bilinear"`` (linear along each axis, half-pixel centres, edges
            clamped: PyTorch's ``interpolate(..., align_corners=False)``) or ``"nearest"``
            (input ``floor((i + 0.5) * in / out)``: PyTorch's ``"nearest-exact"``).

    Returns:
        ``(N, *size, C)``.

    Backward: gx = gy with each axis's transposed interpolation matrix applied, ``A^T gy``.
    """
    x = backend.as_float_array(x, "x")
    size = tuple(size)
    _check_factors(x, size, "size")
    if interpolation not in INTERPOLATIONS:
        raise _interpolation_error(interpolation)
    axes = [
        (axis, n_in, _taps(n_in, n_out, interpolation))
        for axis, (n_in, n_out) in enumerate(zip(x.shape[1:-1], size), start=1)
        if n_in != n_out
    ]
    y = x
    for axis, _, taps in axes:
        y = _interpolate(y, taps, axis)

    def backward(gy):
        for axis, n_in, taps in reversed(axes):
            gy = _interpolate_backward(gy, taps, n_in, axis)
        return np.ascontiguousarray(gy)

    return np.ascontiguousarray(y), backward
