"""Max and average pooling over windows of NHWC images and NDHWC volumes, and their global
forms.

Nothing loops over pixels. Max and sum are separable: the forward pass folds the PH row
offsets of every window at once (strided slices of whole image rows), then the PW column
offsets (for volumes, the PD plane offsets first), so a 2x2 max-pool is two elementwise
``np.maximum`` calls. When the windows lie side by side (strides equal to the pool size, the
usual case) the backward pass is one comparison and one broadcast product against an
``(N, OH, PH, OW, PW, C)`` view of the input; overlapping or spaced-out windows take the
general path, which accumulates one window offset ``(di, dj)`` at a time.
"""

import functools
import itertools

import numpy as np

from juanji import backend, parallel
from juanji.autograd import primitive
from juanji.ops.conv import as_tuple, conv_padding

__all__ = [
    "avg_pool2d",
    "avg_pool3d",
    "global_avg_pool2d",
    "global_avg_pool3d",
    "global_max_pool2d",
    "global_max_pool3d",
    "max_pool2d",
    "max_pool3d",
]

# Up to this many channels, the backward passes of side-by-side windows repeat the pooled
# arrays along the width rather than broadcast them (see _expand); above, broadcasting is
# faster (the VGG net's 32 and 64 channels).
_FEW_CHANNELS = 16


class _Windows:
    """The validated options of a pooling over ``rank`` spatial axes, and where its windows
    lie in the padded input."""

    def __init__(self, x_shape, pool_size, strides, padding):
        rank = len(x_shape) - 2
        self.pool = as_tuple(pool_size, "pool_size", rank)
        self.strides = self.pool if strides is None else as_tuple(strides, "strides", rank)
        if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
            raise ValueError(
                f"Expected `padding` to be 'valid' or 'same'. Received: padding={padding!r}"
            )
        self.size = tuple(x_shape[1:-1])
        self.pads = conv_padding(padding, self.size, self.pool, self.strides)
        padded = tuple(n + p0 + p1 for n, (p0, p1) in zip(self.size, self.pads))
        if any(k > n for k, n in zip(self.pool, padded)):
            raise ValueError(
                f"Expected a pool no larger than the (padded) input {padded}. "
                f"Received: pool_size={pool_size!r}, x.shape={x_shape}"
            )
        self.out = tuple((n - k) // s + 1 for n, k, s in zip(padded, self.pool, self.strides))
        self.padded_shape = (x_shape[0], *padded, x_shape[-1])
        self.tiled = self.strides == self.pool
        # Along each axis, the positions that window offset d reads, in every window at once.
        self.reads = [
            [slice(d, d + s * (o - 1) + 1, s) for d in range(k)]
            for k, s, o in zip(self.pool, self.strides, self.out)
        ]

    def pad(self, x, value):
        """``x`` inside a border of ``value`` (``x`` itself when there is no padding)."""
        if not any(p for pair in self.pads for p in pair):
            return x
        return np.pad(x, ((0, 0), *self.pads, (0, 0)), constant_values=value)

    def offsets(self):
        """Index tuples of the padded input: one window offset, every window."""
        return [(slice(None), *reads) for reads in itertools.product(*self.reads)]

    def blocks(self, a):
        """For side-by-side windows: a view ``(N, OH, PH, OW, PW, C)`` of padded-shape ``a``
        (``(N, OD, PD, OH, PH, OW, PW, C)`` for volumes)."""
        inside = tuple(slice(o * k) for o, k in zip(self.out, self.pool))
        pairs = [n for o, k in zip(self.out, self.pool) for n in (o, k)]
        return a[(slice(None), *inside)].reshape(a.shape[0], *pairs, a.shape[-1])

    def reduce(self, ufunc, xp, out=None):
        """``ufunc`` (max or add) over each window: ``(N, OH, OW, C)``, into ``out`` if
        given. Both are separable: fold the window along its first axis, whole image rows
        (planes) at a time, then along the next, and so on."""
        folded = xp
        for axis, reads in enumerate(self.reads):
            before = (slice(None),) * (axis + 1)
            last = axis == len(self.reads) - 1
            folded = _fold(ufunc, [folded[(*before, r)] for r in reads], out if last else None)
        return folded

    def crop(self, gxp):
        """The unpadded part of a padded-shape gradient."""
        inside = tuple(slice(before, before + n) for (before, _), n in zip(self.pads, self.size))
        return gxp[(slice(None), *inside)]


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
    """``(N, OH, OW, C)`` as ``(N, OH, 1, OW, 1 or PW, C)`` (and likewise for volumes), to
    broadcast against window blocks.

    With few channels, a copy of ``a`` repeated ``pool_width`` times along the width: a ufunc
    between a block view and a broadcast view crawls over runs of C values, while against the
    repeated copy it runs over whole block rows (2-2.5x faster on the seed CNN's pools)."""
    N, *out, C = a.shape
    ones = [n for o in out[:-1] for n in (o, 1)]
    if C > _FEW_CHANNELS:
        return a.reshape(N, *ones, out[-1], 1, C)
    return np.repeat(a, pool_width, axis=-2).reshape(N, *ones, out[-1], pool_width, C)


def _tiled_max_grad(windows, xp, y, gy, gxp):
    """Side-by-side windows: ``gy`` into ``gxp`` at each window's first maximum."""
    hit = windows.blocks(xp) == _expand(y, windows.pool[-1])
    if np.count_nonzero(hit) > y.size:  # some window holds its maximum twice
        seen = np.zeros(y.shape, bool)  # NOTE: of tied maxima, the first row-major wins
        for offset in np.ndindex(windows.pool):
            _claim(hit[(slice(None), *(i for d in offset for i in (slice(None), d)))], seen)
    np.multiply(hit, _expand(gy, windows.pool[-1]), out=windows.blocks(gxp))


def _claim(hit, seen):
    """Keep only the hits of windows not yet ``seen``, then mark them seen."""
    np.greater(hit, seen, out=hit)  # hit and not seen
    seen |= hit


def _check_images(x, rank=2):
    x = backend.as_float_array(x, "x")
    if x.ndim != rank + 2:
        layout = "(N, H, W, C)" if rank == 2 else "(N, D, H, W, C)"
        raise ValueError(f"Expected `x` of rank {rank + 2}, {layout}. Received: x.shape={x.shape}")
    return x


def _max_pool(x, pool_size, strides, padding, rank):
    """The max-pooling over ``rank`` spatial axes and its backward; see :func:`max_pool2d`."""
    x = _check_images(x, rank)
    windows = _Windows(x.shape, pool_size, strides, padding)
    xp = windows.pad(x, -np.inf)
    y = np.empty((len(x), *windows.out, x.shape[-1]), x.dtype)
    parallel.batchwise(lambda xp, y: windows.reduce(np.maximum, xp, out=y), y, xp)

    def backward(gy):
        gxp = np.zeros(windows.padded_shape, gy.dtype)
        if windows.tiled:
            parallel.batchwise(functools.partial(_tiled_max_grad, windows), gxp, xp, y, gy)
        else:
            seen = np.zeros(y.shape, bool)  # NOTE: of tied maxima, the first row-major wins
            for reads in windows.offsets():
                hit = xp[reads] == y
                _claim(hit, seen)
                gxp[reads] += gy * hit
        return windows.crop(gxp)

    return y, backward


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
    return _max_pool(x, pool_size, strides, padding, rank=2)


@primitive
def max_pool3d(x, *, pool_size=2, strides=None, padding="valid"):
    """The maximum of each window of a volume: :func:`max_pool2d` with a depth axis.

    Backward: ``gx`` gets ``gy`` at the first argmax of each window (row-major order within
    the window), zero elsewhere; overlapping windows add up.

    Args:
        x: volumes, shape ``(N, D, H, W, C)``.
        pool_size: int or ``(PD, PH, PW)``.
        strides: int, ``(SD, SH, SW)`` or None for ``pool_size``.
        padding: ``"valid"`` or ``"same"`` (padded cells never win).

    Returns:
        ``(N, OD, OH, OW, C)``.

    Raises:
        TypeError: for integer or boolean ``x``.
        ValueError: for a wrong rank, a bad option, or a pool larger than the padded input.

    Example:
        >>> max_pool3d(np.arange(8.0).reshape(1, 2, 2, 2, 1)).data.ravel()
        array([7.])
    """
    return _max_pool(x, pool_size, strides, padding, rank=3)


def _avg_pool(x, pool_size, strides, padding, rank):
    """The average pooling over ``rank`` spatial axes and its backward; see
    :func:`avg_pool2d`."""
    x = _check_images(x, rank)
    windows = _Windows(x.shape, pool_size, strides, padding)
    counts = _window_counts(windows).astype(x.dtype)
    y = np.empty((len(x), *windows.out, x.shape[-1]), x.dtype)
    parallel.batchwise(lambda xp, y: _window_means(windows, counts, xp, y), y, windows.pad(x, 0))

    def backward(gy):
        g = gy / counts
        gxp = np.zeros(windows.padded_shape, gy.dtype)
        if windows.tiled:
            parallel.batchwise(lambda g, gxp: _spread(windows, g, gxp), gxp, g)
        else:
            for reads in windows.offsets():
                gxp[reads] += g
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
    return _avg_pool(x, pool_size, strides, padding, rank=2)


@primitive
def avg_pool3d(x, *, pool_size=2, strides=None, padding="valid"):
    """The mean of each window of a volume; with ``"same"`` padding the padded cells are not
    counted.

    Backward: ``gx`` gets ``gy / count`` from every window it lies in, where ``count`` is the
    number of real (unpadded) cells of the window.

    Args:
        x: volumes, shape ``(N, D, H, W, C)``.
        pool_size: int or ``(PD, PH, PW)``.
        strides: int, ``(SD, SH, SW)`` or None for ``pool_size``.
        padding: ``"valid"`` or ``"same"``.

    Returns:
        ``(N, OD, OH, OW, C)``.

    Raises:
        TypeError: for integer or boolean ``x``.
        ValueError: for a wrong rank, a bad option, or a pool larger than the padded input.

    Example:
        >>> avg_pool3d(np.arange(8.0).reshape(1, 2, 2, 2, 1)).data.ravel()
        array([3.5])
    """
    return _avg_pool(x, pool_size, strides, padding, rank=3)


def _window_means(windows, counts, xp, y):
    """Each window's mean of ``xp`` into ``y``, over its ``counts`` unpadded cells."""
    windows.reduce(np.add, xp, out=y)
    y /= counts


def _spread(windows, g, gxp):
    """Side-by-side windows: each window's ``g`` into all its cells."""
    windows.blocks(gxp)[...] = _expand(g, windows.pool[-1])


def _window_counts(windows):
    """``(OH, OW, 1)`` (``(OD, OH, OW, 1)``): how many unpadded cells each window covers."""
    counts = np.ones((1,), np.int64)
    for n, k, s, o, (before, _) in zip(
        windows.size, windows.pool, windows.strides, windows.out, windows.pads
    ):
        start = np.arange(o) * s - before
        along = np.minimum(start + k, n) - np.maximum(start, 0)
        counts = np.multiply.outer(counts, along)
    return np.moveaxis(counts, 0, -1)


def _global_avg_pool(x, rank):
    x = _check_images(x, rank)
    N, C = x.shape[0], x.shape[-1]
    M = x[0, ..., 0].size
    y = x.reshape(N, M, C).mean(axis=1)

    def backward(gy):
        gx = np.empty(x.shape, gy.dtype)
        gx.reshape(N, M, C)[...] = (gy / M)[:, None, :]
        return gx

    return y, backward


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
    return _global_avg_pool(x, rank=2)


@primitive
def global_avg_pool3d(x):
    """The mean over all positions of each channel of a volume.

    Backward: ``gx[n, d, h, w, c] = gy[n, c] / (D * H * W)``.

    Args:
        x: volumes, shape ``(N, D, H, W, C)``.

    Returns:
        ``(N, C)``.

    Raises:
        TypeError: for integer or boolean ``x``.
        ValueError: for a wrong rank.
    """
    return _global_avg_pool(x, rank=3)


def _global_max_pool(x, rank):
    x = _check_images(x, rank)
    N, C = x.shape[0], x.shape[-1]
    flat = x.reshape(N, -1, C)
    first = flat.argmax(axis=1)[:, None, :]  # (N, 1, C)
    y = np.take_along_axis(flat, first, axis=1)[:, 0, :]

    def backward(gy):
        gx = np.zeros(flat.shape, gy.dtype)
        np.put_along_axis(gx, first, gy[:, None, :], axis=1)
        return gx.reshape(x.shape)

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
    return _global_max_pool(x, rank=2)


@primitive
def global_max_pool3d(x):
    """The maximum over all positions of each channel of a volume.

    Backward: ``gx`` gets ``gy[n, c]`` at the first (row-major) argmax of channel ``c`` of
    volume ``n``, zero elsewhere.

    Args:
        x: volumes, shape ``(N, D, H, W, C)``.

    Returns:
        ``(N, C)``.

    Raises:
        TypeError: for integer or boolean ``x``.
        ValueError: for a wrong rank.
    """
    return _global_max_pool(x, rank=3)
