"""Max and average pooling over windows of NHWC images, and their global forms.

Nothing loops over pixels. Max and sum are separable: the forward pass folds the PH row
offsets of every window at once (strided slices of whole image rows), then the PW column
offsets, so a 2x2 max-pool is two elementwise ``np.maximum`` calls. When the windows lie side
by side (strides equal to the pool size, the usual case) the backward pass is one comparison
and one broadcast product against an ``(N, OH, PH, OW, PW, C)`` view of the input;
overlapping or spaced-out windows take the general path, which accumulates one window offset
``(di, dj)`` at a time.
"""

import functools

import numpy as np

from juanji import backend, parallel
from juanji.autograd import primitive
from juanji.ops.conv import as_pair, conv_padding

__all__ = ["max_pool2d", "avg_pool2d", "global_max_pool2d", "global_avg_pool2d"]

# Up to this many channels, the backward passes of side-by-side windows repeat the pooled
# arrays along the width rather than broadcast them (see _expand); above, broadcasting is
# faster (the VGG net's 32 and 64 channels).
_FEW_CHANNELS = 16


class _Windows:
    """The validated options of a pooling, and where its windows lie in the padded input."""

    def __init__(self, x_shape, pool_size, strides, padding):
        N, H, W, C = x_shape
        self.pool = as_pair(pool_size, "pool_size")
        self.strides = self.pool if strides is None else as_pair(strides, "strides")
        if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
            raise ValueError(
                f"Expected `padding` to be 'valid' or 'same'. Received: padding={padding!r}"
            )
        self.size = (H, W)
        self.pads = conv_padding(padding, self.size, self.pool, self.strides)
        padded = tuple(n + p0 + p1 for n, (p0, p1) in zip(self.size, self.pads))
        if any(k > n for k, n in zip(self.pool, padded)):
            raise ValueError(
                f"Expected a pool no larger than the (padded) input {padded}. "
                f"Received: pool_size={pool_size!r}, x.shape={x_shape}"
            )
        self.out = tuple((n - k) // s + 1 for n, k, s in zip(padded, self.pool, self.strides))
        self.padded_shape = (N, *padded, C)
        self.tiled = self.strides == self.pool
        # The rows (cols) that window offset di (dj) reads, in every window at once.
        self.rows, self.cols = (
            [slice(d, d + s * (o - 1) + 1, s) for d in range(k)]
            for k, s, o in zip(self.pool, self.strides, self.out)
        )

    def pad(self, x, value):
        """``x`` inside a border of ``value`` (``x`` itself when there is no padding)."""
        (top, bottom), (left, right) = self.pads
        if not (top or bottom or left or right):
            return x
        return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)

    def offsets(self):
        """``(rows, cols)`` slices of the padded input: one window offset, every window."""
        return [(rows, cols) for rows in self.rows for cols in self.cols]

    def blocks(self, a):
        """For side-by-side windows: a view ``(N, OH, PH, OW, PW, C)`` of padded-shape ``a``."""
        (PH, PW), (OH, OW) = self.pool, self.out
        return a[:, : OH * PH, : OW * PW].reshape(a.shape[0], OH, PH, OW, PW, a.shape[3])

    def reduce(self, ufunc, xp, out=None):
        """``ufunc`` (max or add) over each window: ``(N, OH, OW, C)``, into ``out`` if
        given. Both are separable: fold the window's rows first, whole image rows at a time,
        then its columns."""
        by_rows = _fold(ufunc, [xp[:, rows] for rows in self.rows])  # (N, OH, Wp, C)
        return _fold(ufunc, [by_rows[:, :, cols] for cols in self.cols], out)

    def crop(self, gxp):
        """The unpadded part of a padded-shape gradient."""
        (top, _), (left, _) = self.pads
        H, W = self.size
        return gxp[:, top : top + H, left : left + W]


def _fold(ufunc, arrays, out=None):
    """``ufunc`` of all ``arrays``, in ``out`` or a new array."""
    if out is None:
        out = arrays[0].copy()
    else:
        out[...] = arrays[0]
    for a in arrays[1:]:
        ufunc(out, a, out=out)
    return out


def _expand(a, pool_width):
    """``(N, OH, OW, C)`` as ``(N, OH, 1, OW, 1 or PW, C)``, to broadcast against window blocks.

    With few channels, a copy of ``a`` repeated ``pool_width`` times along the width: a ufunc
    between a block view and a broadcast view crawls over runs of C values, while against the
    repeated copy it runs over whole block rows (2-2.5x faster on the seed CNN's pools)."""
    if a.shape[3] > _FEW_CHANNELS:
        return a[:, :, None, :, None, :]
    N, OH, OW, C = a.shape
    return np.repeat(a, pool_width, axis=2).reshape(N, OH, 1, OW, pool_width, C)


def _tiled_max_grad(windows, xp, y, gy, gxp):
    """Side-by-side windows: ``gy`` into ``gxp`` at each window's first maximum."""
    hit = windows.blocks(xp) == _expand(y, windows.pool[1])
    if np.count_nonzero(hit) > y.size:  # some window holds its maximum twice
        seen = np.zeros(y.shape, bool)  # NOTE: of tied maxima, the first row-major wins
        for di, dj in np.ndindex(windows.pool):
            _claim(hit[:, :, di, :, dj], seen)
    np.multiply(hit, _expand(gy, windows.pool[1]), out=windows.blocks(gxp))


def _claim(hit, seen):
    """Keep only the hits of windows not yet ``seen``, then mark them seen."""
    np.greater(hit, seen, out=hit)  # hit and not seen
    seen |= hit


def _check_images(x):
    x = backend.as_float_array(x, "x")
    if x.ndim != 4:
        raise ValueError(f"Expected `x` of rank 4, (N, H, W, C). Received: x.shape={x.shape}")
    return x


@primitive
def max_pool2d(x, *, pool_size=2, strides=None, padding="valid"):
    """The maximum of each window.

    Backward: ``gx`` gets ``gy`` at the first argmax of each window (row-major order within
    the window), zero elsewhere; overlapping windows add up.

    Args:
        x: images, shape ``(N, H, W, C)``.
        pool_size: int or ``(PH, PW)``.
        strides: int, ``(SH, SW)`` or None for ``pool_size``.
        padding: ``"valid"`` or ``"same"`` (as in Keras: padded cells never win).

    Returns:
        ``(N, OH, OW, C)``.

    Raises:
        TypeError: for integer or boolean ``x``.
        ValueError: for a wrong rank, a bad option, or a pool larger than the padded input.

    Example:
        >>> max_pool2d(np.arange(16.0).reshape(1, 4, 4, 1)).data[0, :, :, 0]
        array([[ 5.,  7.],
               [13., 15.]])
    """
    x = _check_images(x)
    windows = _Windows(x.shape, pool_size, strides, padding)
    xp = windows.pad(x, -np.inf)
    y = np.empty((len(x), *windows.out, x.shape[3]), x.dtype)
    parallel.batchwise(lambda xp, y: windows.reduce(np.maximum, xp, out=y), y, xp)

    def backward(gy):
        gxp = np.zeros(windows.padded_shape, gy.dtype)
        if windows.tiled:
            parallel.batchwise(functools.partial(_tiled_max_grad, windows), gxp, xp, y, gy)
        else:
            seen = np.zeros(y.shape, bool)  # NOTE: of tied maxima, the first row-major wins
            for rows, cols in windows.offsets():
                hit = xp[:, rows, cols] == y
                _claim(hit, seen)
                gxp[:, rows, cols] += gy * hit
        return windows.crop(gxp)

    return y, backward


@primitive
def avg_pool2d(x, *, pool_size=2, strides=None, padding="valid"):
    """The mean of each window; with ``"same"`` padding the padded cells are not counted.

    Backward: ``gx`` gets ``gy / count`` from every window it lies in, where ``count`` is the
    number of real (unpadded) cells of the window.

    Args:
        x: images, shape ``(N, H, W, C)``.
        pool_size: int or ``(PH, PW)``.
        strides: int, ``(SH, SW)`` or None for ``pool_size``.
        padding: ``"valid"`` or ``"same"``.

    Returns:
        ``(N, OH, OW, C)``.

    Raises:
        TypeError: for integer or boolean ``x``.
        ValueError: for a wrong rank, a bad option, or a pool larger than the padded input.

    Example:
        >>> avg_pool2d(np.arange(16.0).reshape(1, 4, 4, 1)).data[0, :, :, 0]
        array([[ 2.5,  4.5],
               [10.5, 12.5]])
    """
    x = _check_images(x)
    windows = _Windows(x.shape, pool_size, strides, padding)
    counts = _window_counts(windows).astype(x.dtype)
    y = np.empty((len(x), *windows.out, x.shape[3]), x.dtype)
    parallel.batchwise(lambda xp, y: _window_means(windows, counts, xp, y), y, windows.pad(x, 0))

    def backward(gy):
        g = gy / counts
        gxp = np.zeros(windows.padded_shape, gy.dtype)
        if windows.tiled:
            parallel.batchwise(lambda g, gxp: _spread(windows, g, gxp), gxp, g)
        else:
            for rows, cols in windows.offsets():
                gxp[:, rows, cols] += g
        return windows.crop(gxp)

    return y, backward


def _window_means(windows, counts, xp, y):
    """Each window's mean of ``xp`` into ``y``, over its ``counts`` unpadded cells."""
    windows.reduce(np.add, xp, out=y)
    y /= counts


def _spread(windows, g, gxp):
    """Side-by-side windows: each window's ``g`` into all its cells."""
    windows.blocks(gxp)[...] = _expand(g, windows.pool[1])


def _window_counts(windows):
    """``(OH, OW, 1)``: how many unpadded cells each window covers."""
    counts = []
    for n, k, s, o, (before, _) in zip(
        windows.size, windows.pool, windows.strides, windows.out, windows.pads
    ):
        start = np.arange(o) * s - before
        counts.append(np.minimum(start + k, n) - np.maximum(start, 0))
    return (counts[0][:, None] * counts[1][None, :])[:, :, None]


@primitive
def global_avg_pool2d(x):
    """The mean over all positions of each channel.

    Backward: ``gx[n, h, w, c] = gy[n, c] / (H * W)``.

    Args:
        x: images, shape ``(N, H, W, C)``.

    Returns:
        ``(N, C)``.

    Raises:
        TypeError: for integer or boolean ``x``.
        ValueError: for a wrong rank.
    """
    x = _check_images(x)
    N, H, W, C = x.shape
    y = x.reshape(N, H * W, C).mean(axis=1)

    def backward(gy):
        gx = np.empty(x.shape, gy.dtype)
        gx[...] = (gy / (H * W))[:, None, None, :]
        return gx

    return y, backward


@primitive
def global_max_pool2d(x):
    """The maximum over all positions of each channel.

    Backward: ``gx`` gets ``gy[n, c]`` at the first (row-major) argmax of channel ``c`` of
    image ``n``, zero elsewhere.

    Args:
        x: images, shape ``(N, H, W, C)``.

    Returns:
        ``(N, C)``.

    Raises:
        TypeError: for integer or boolean ``x``.
        ValueError: for a wrong rank.
    """
    x = _check_images(x)
    N, H, W, C = x.shape
    flat = x.reshape(N, H * W, C)
    first = flat.argmax(axis=1)[:, None, :]  # (N, 1, C)
    y = np.take_along_axis(flat, first, axis=1)[:, 0, :]

    def backward(gy):
        gx = np.zeros((N, H * W, C), gy.dtype)
        np.put_along_axis(gx, first, gy[:, None, :], axis=1)
        return gx.reshape(N, H, W, C)

    return y, backward
