"""Two-dimensional convolution of NHWC images with HWIO kernels, by im2col and GEMM.

The KH*KW shifted windows of the padded input are copied, in one strided copy, into a
column matrix ``col`` of shape ``(N*OH*OW, KH*KW*C)`` (plus a column of ones that carries the
bias), so the output, the kernel gradient and the bias gradient are one GEMM each. ``col``
is never held whole: it is built again for each product, a cache-sized group of images at a
time. The input gradient is folded back by col2im, again a loop over the taps:
one small GEMM per tap gives its share, ``gy @ w[kh, kw]^T``, into a buffer reused by the next
tap, and it is added at the pixels the tap read, a group of images at a time; with few
channels and unit strides one GEMM gives all taps' shares on a grid of whole image rows, each
added as one run per channel plane. The groups of a large enough convolution run on the
worker threads (:mod:`juanji.parallel`)."""

import functools
import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from juanji import backend, parallel
from juanji.autograd import primitive

__all__ = ["conv2d", "conv_output_size", "conv_padding"]

_MODES = ("valid", "same", "full")
# The column matrix is never held whole: each product builds it a group of images at a time,
# each group small enough to stay in cache until its GEMM has read it (on the small CNNs as
# fast as keeping the whole matrix from the forward pass for the kernel gradient, and lighter).
_IM2COL_GROUP_BYTES = 2 << 20
# OpenBLAS multiplies a tall channel-planar (column-major) column matrix 1.3-2x faster a
# block of this many rows at a time than whole (seed CNN and VGG first layers, both products).
_PLANAR_BLOCK_ROWS = 1024
# A convolution of at least this many multiply-adds runs on parallel.workers() threads (the
# seed CNN's have 6-14 M); on tiny ones, waking the threads would cost more than they gain.
_THREADS_MIN_MACS = 1_000_000
# The input gradient is folded back a group of images at a time, sized to stay in cache
# (20-30% faster on the 32- and 64-channel layers than the whole batch).
_COL2IM_GROUP_BYTES = 4 << 20
# Up to this many input channels, a unit-stride input gradient is folded back on a grid of
# whole image rows (see _col2im_on_grid; slower from 16 channels up).
_GRID_MAX_CHANNELS = 8


def conv_output_size(size, kernel, stride=1, padding="valid", dilation=1):
    """The output length of a convolution or pooling along one spatial axis.

    Args:
        size: input length.
        kernel: kernel length (before dilation).
        stride: step between windows.
        padding: ``"valid"``, ``"same"``, ``"full"``, zeros added on each side (int), or
            ``(before, after)``.
        dilation: spacing between kernel taps.

    Returns:
        The number of windows, an int (0 or less when the kernel does not fit).

    Example:
        >>> conv_output_size(28, 5), conv_output_size(28, 5, stride=2, padding="same")
        (24, 14)
    """
    spec = _mode(padding) if isinstance(padding, str) else as_pair(padding, "padding", 0)
    before, after = _axis_padding(spec, size, kernel, stride, dilation)
    return (size + before + after - (kernel - 1) * dilation - 1) // stride + 1


def conv_padding(padding, sizes, kernels, strides=(1, 1), dilation=(1, 1)):
    """The zeros a convolution adds around an image, for any accepted ``padding``.

    Args:
        padding: ``"valid"``, ``"same"`` (output ``ceil(H / stride)``; of an odd total, the
            extra zero goes to the bottom/right, as in Keras), ``"full"`` (every partial
            overlap: ``(K - 1) * dilation`` on each side), in any case; an int ``p``; a pair
            ``(ph, pw)``; or a pair of pairs ``((top, bottom), (left, right))``.
        sizes, kernels, strides, dilation: ``(height, width)`` pairs of ints.

    Returns:
        ``((top, bottom), (left, right))``.

    Raises:
        ValueError: for any other ``padding``.

    Example:
        >>> conv_padding("same", (28, 28), (4, 4))
        ((1, 2), (1, 2))
    """
    specs = (_mode(padding),) * 2 if isinstance(padding, str) else _padding_pairs(padding)
    return tuple(
        _axis_padding(spec, n, k, s, d)
        for spec, n, k, s, d in zip(specs, sizes, kernels, strides, dilation)
    )


def as_pair(value, name, minimum=1):
    """An int or a pair of ints, each at least ``minimum``, as a tuple of two.

    Raises:
        ValueError: naming ``name`` and the value received.
    """
    pair = (value, value) if _is_int(value) else value
    if (
        not isinstance(pair, (tuple, list))
        or len(pair) != 2
        or not all(_is_int(v) and v >= minimum for v in pair)
    ):
        raise ValueError(
            f"Expected `{name}` to be an int >= {minimum} or a pair of them. "
            f"Received: {name}={value!r}"
        )
    return int(pair[0]), int(pair[1])


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _mode(padding):
    if padding.lower() not in _MODES:
        raise _padding_error(padding)
    return padding.lower()


def _padding_pairs(padding):
    """``((top, bottom), (left, right))`` from an int, ``(ph, pw)`` or a pair of pairs."""
    pairs = (padding, padding) if _is_int(padding) else padding
    if isinstance(pairs, (tuple, list)) and len(pairs) == 2:
        pairs = [(p, p) if _is_int(p) else p for p in pairs]
        if all(
            isinstance(p, (tuple, list)) and len(p) == 2 and all(_is_int(v) and v >= 0 for v in p)
            for p in pairs
        ):
            return tuple((int(a), int(b)) for a, b in pairs)
    raise _padding_error(padding)


def _padding_error(padding):
    return ValueError(
        f"Expected `padding` to be one of {_MODES}, an int >= 0, a pair (ph, pw) or a pair of "
        f"pairs ((top, bottom), (left, right)). Received: padding={padding!r}"
    )


def _axis_padding(spec, size, kernel, stride, dilation):
    """(before, after) zeros along one axis for a mode or a ``(before, after)`` pair."""
    if not isinstance(spec, str):
        return spec
    span = (kernel - 1) * dilation
    if spec == "valid":
        return 0, 0
    if spec == "full":
        return span, span
    total = max((math.ceil(size / stride) - 1) * stride + span + 1 - size, 0)
    return total // 2, total - total // 2  # NOTE: the smaller half on top/left, as Keras


def _check_float(name, a, rank):
    a = backend.as_float_array(a, name)
    if a.ndim != rank:
        raise ValueError(f"Expected `{name}` of rank {rank}. Received: {name}.shape={a.shape}")
    return a


def _check_inputs(x, w, b):
    """The three inputs as float arrays of consistent shapes."""
    x = _check_float("x", x, 4)
    w = _check_float("w", w, 4)
    if x.shape[3] != w.shape[2]:
        raise ValueError(
            "Expected `w` of shape (KH, KW, C, F) with C equal to the channels of `x` "
            f"(N, H, W, C). Received: x.shape={x.shape}, w.shape={w.shape}"
        )
    if b is not None:
        b = backend.as_float_array(b, "b")
        if b.shape != (w.shape[3],):
            raise ValueError(
                f"Expected `b` of shape ({w.shape[3]},), one value per filter. "
                f"Received: b.shape={b.shape}"
            )
    return x, w, b


@primitive
def conv2d(x, w, b=None, *, strides=1, padding="valid", dilation=1, needs_grad=(True,) * 3):
    """2-D cross-correlation (what deep-learning frameworks call convolution), plus a bias.

    ``y[n, i, j, f] = b[f] + sum_{kh, kw, c} xp[n, i*SH + kh*DH, j*SW + kw*DW, c] *
    w[kh, kw, c, f]``, where ``xp`` is ``x`` padded with zeros.

    Backward: ``gw = col^T gy``, ``gb = sum_{n,i,j} gy``, ``gx = col2im(gy w^T)``: each
    ``gy[n, i, j]`` flows back through tap ``(kh, kw)`` to the input pixel it read.

    Args:
        x: images, shape ``(N, H, W, C)``.
        w: kernel, shape ``(KH, KW, C, F)``.
        b: bias ``(F,)`` or None.
        strides: int or ``(SH, SW)``.
        padding: ``"valid"``, ``"same"``, ``"full"``, an int, ``(ph, pw)`` or
            ``((top, bottom), (left, right))``; see :func:`conv_padding`.
        dilation: int or ``(DH, DW)``, the spacing between kernel taps.

    Returns:
        ``(N, OH, OW, F)`` with ``OH = (H + top + bottom - (KH - 1) * DH - 1) // SH + 1``.

    Raises:
        TypeError: for integer or boolean inputs.
        ValueError: for wrong ranks, a channel or bias mismatch, a bad option, or a kernel
            larger than the padded input.

    Example:
        >>> x = np.ones((2, 5, 5, 3), np.float32)
        >>> conv2d(x, np.ones((3, 3, 3, 4), np.float32), padding="same").shape
        (2, 5, 5, 4)
    """
    x, w, b = _check_inputs(x, w, b)
    dtypes = [None if a is None else a.dtype for a in (x, w, b)]  # each gradient keeps its own
    dtype = np.result_type(*(t for t in dtypes if t is not None))
    x, w = x.astype(dtype, copy=False), w.astype(dtype, copy=False)
    strides, dilation = as_pair(strides, "strides"), as_pair(dilation, "dilation")
    pads, out = _geometry(x.shape, w.shape, strides, padding, dilation)
    N, C = x.shape[0], x.shape[3]
    KH, KW, _, F = w.shape
    OH, OW = out
    K = KH * KW * C
    needs_x, needs_w, needs_b = (*needs_grad, False)[:3]  # a call may leave out b
    n_workers = parallel.workers() if N * OH * OW * K * F >= _THREADS_MIN_MACS else 1
    col = _ColumnMatrix(x, (KH, KW), strides, pads, dilation, out, b is not None, n_workers)
    wb = w.reshape(K, F) if b is None else np.concatenate([w.reshape(K, F), b[None].astype(dtype)])
    y = col.times(wb)  # (N*OH*OW, F)

    def backward(gy):
        gy = gy.reshape(N * OH * OW, F)
        gx = gw = gb = None
        if needs_x:
            gx = _col2im(gy, w, x.shape, strides, pads, dilation, out, n_workers)
        if needs_w:
            gwb = col.transposed_times(gy)  # (K [+ 1], F): the last row, against the ones, is gb
            gw = gwb[:K].reshape(KH, KW, C, F)
            gb = gwb[K] if b is not None else None
        elif needs_b:
            gb = _sum_rows(gy)
        grads = zip((gx, gw, gb)[: len(needs_grad)], dtypes)
        return tuple(g if g is None else g.astype(t, copy=False) for g, t in grads)

    return y.reshape(N, OH, OW, F), backward


class _ColumnMatrix:
    """The im2col matrix ``col`` ``(N*OH*OW, K [+ 1])`` of images ``x``, in products.

    The matrix is never held whole: each product builds it again, a cache-sized group of
    images at a time, the groups spread over ``n_workers`` threads."""

    def __init__(self, x, kernel_size, strides, pads, dilation, out, ones, n_workers):
        self.x, self.rows_per_image, self.n_workers = x, out[0] * out[1], n_workers
        self.build = functools.partial(
            _im2col,
            kernel_size=kernel_size,
            strides=strides,
            pads=pads,
            dilation=dilation,
            out=out,
            ones=ones,
        )
        width = kernel_size[0] * kernel_size[1] * x.shape[3] + ones
        self.group = _group_size(
            len(x), self.rows_per_image * width * x.itemsize, _IM2COL_GROUP_BYTES
        )

    def times(self, wb):
        """``col @ wb`` ``(N*OH*OW, F)``."""
        y = np.empty((len(self.x) * self.rows_per_image, wb.shape[1]), wb.dtype)
        parallel.map_tasks(
            lambda rows, images: _col_times(self.build(images), wb, y[rows]),
            self._groups(),
            self.n_workers,
        )
        return y

    def transposed_times(self, gy):
        """``col^T @ gy`` ``(K [+ 1], F)`` for ``gy`` ``(N*OH*OW, F)``."""
        parts = parallel.map_tasks(
            lambda rows, images: _col_transposed_times(self.build(images), gy[rows]),
            self._groups(),
            self.n_workers,
        )
        return functools.reduce(np.add, parts)

    def _groups(self):
        """``(rows of col, images)`` for each cache-sized group of images."""
        for start, stop in parallel.worker_spans(len(self.x), self.n_workers, self.group):
            rows = slice(start * self.rows_per_image, stop * self.rows_per_image)
            yield rows, self.x[start:stop]


def _col_times(col, wb, out):
    """``out = col @ wb`` for a column matrix ``col`` ``(M, K [+ 1])``, block by block."""
    for rows in _blocks(col):
        np.matmul(col[rows], wb, out=out[rows])
    return out


def _col_transposed_times(col, gy):
    """``col^T @ gy`` for a column matrix ``col`` ``(M, K [+ 1])``, summed block by block."""
    return functools.reduce(np.add, (col[rows].T @ gy[rows] for rows in _blocks(col)))


def _blocks(col):
    """Row slices of ``col``: blocks of ``_PLANAR_BLOCK_ROWS`` if it is channel-planar
    (its rows adjacent in memory), else one slice of all."""
    step = _PLANAR_BLOCK_ROWS if col.strides[0] < col.strides[1] else len(col)
    return [slice(start, stop) for start, stop in parallel.spans(len(col), step)]


def _group_size(n, bytes_per_item, budget):
    """How many of ``n`` items of ``bytes_per_item`` fit ``budget`` (at least 1)."""
    return max(1, min(n, budget // bytes_per_item))


def _geometry(x_shape, w_shape, strides, padding, dilation):
    """The padding ``((top, bottom), (left, right))`` and the output size ``(OH, OW)``.

    Raises:
        ValueError: for a bad ``padding``, or a (dilated) kernel larger than the padded input.
    """
    sizes, kernels = x_shape[1:3], w_shape[:2]
    pads = conv_padding(padding, sizes, kernels, strides, dilation)
    padded = tuple(n + p0 + p1 for n, (p0, p1) in zip(sizes, pads))
    spans = tuple((k - 1) * d + 1 for k, d in zip(kernels, dilation))
    if any(k > n for k, n in zip(spans, padded)):
        raise ValueError(
            f"Expected a (dilated) kernel of at most the padded input size {padded}, "
            f"got {spans}. Received: x.shape={x_shape}, w.shape={w_shape}, "
            f"padding={padding!r}, dilation={dilation}"
        )
    return pads, tuple((n - k) // s + 1 for n, k, s in zip(padded, spans, strides))


def _tap_slices(kernel_size, strides, dilation, out):
    """``(kh, kw, rows, cols)``: the padded input rows and columns that tap ``(kh, kw)`` reads
    for every output position."""
    (KH, KW), (SH, SW), (DH, DW), (OH, OW) = kernel_size, strides, dilation, out
    for kh in range(KH):
        for kw in range(KW):
            rows = slice(kh * DH, kh * DH + SH * (OH - 1) + 1, SH)
            cols = slice(kw * DW, kw * DW + SW * (OW - 1) + 1, SW)
            yield kh, kw, rows, cols


def _im2col(x, kernel_size, strides, pads, dilation, out, *, ones):
    """The windows of ``x`` as a ``(N*OH*OW, KH*KW*C)`` matrix with columns ordered
    ``(kh, kw, c)``, plus a last column of ones if ``ones``.

    One strided copy fills the matrix from a view of all windows of the padded input. A
    copy runs fastest over long contiguous runs, so the layout follows the shape (see
    :func:`_planar`): either the matrix is the transpose of a row-contiguous
    ``(KH*KW*C, N*OH*OW)`` array filled from channel-planar input in runs of an output row,
    or it is row-contiguous, filled from the NHWC input in runs of a window row ``KW*C``.
    """
    N, H, W, C = x.shape
    (KH, KW), (SH, SW), (DH, DW), (OH, OW) = kernel_size, strides, dilation, out
    K = KH * KW * C
    planar = _planar(C, KW, OW)
    M = N * OH * OW
    col = np.empty((K + ones, M), x.dtype).T if planar else np.empty((M, K + ones), x.dtype)
    if planar:
        xp = _pad(x.transpose(3, 0, 1, 2), pads, axes=(2, 3))  # (C, N, Hp, Wp)
        sC, sN, sH, sW = xp.strides
    else:
        xp = _pad(x, pads, axes=(1, 2))  # (N, Hp, Wp, C)
        sN, sH, sW, sC = xp.strides
    # A view of every window by as_strided, since it is built for every group of images
    # (sliding_window_view costs ~10x more); _geometry has checked that the windows fit.
    taps, steps = (DH * sH, DW * sW), (SH * sH, SW * sW)
    if planar:
        windows = as_strided(xp, (KH, KW, C, N, OH, OW), (*taps, sC, sN, *steps), writeable=False)
        col.T[:K].reshape(windows.shape)[...] = windows
    else:
        windows = as_strided(xp, (N, OH, OW, KH, KW, C), (sN, *steps, *taps, sC), writeable=False)
        col.reshape(N, OH, OW, K + ones)[..., :K].reshape(windows.shape)[...] = windows
    if ones:
        col[:, K] = 1
    return col


def _planar(channels, kernel_width, out_width):
    """Whether :func:`_im2col` fills its matrix from channel-planar input: when an output row
    is a longer contiguous run than a window row (few channels, wide images)."""
    return out_width > kernel_width * channels


def _col2im(gy, w, x_shape, strides, pads, dilation, out, n_workers):
    """The input gradient ``(N, H, W, C)`` from the output gradient ``gy`` ``(N*OH*OW, F)``:
    each tap's share ``gy @ w[kh, kw]^T`` added back at the pixels the tap read.

    Each of ``n_workers`` threads takes a range of the images, and goes through it in groups
    small enough that a group's shares and padded gradient stay in cache while its taps add
    up: tap by tap (:func:`_col2im_range`), or, for few channels and unit strides, all taps
    in one GEMM onto a grid of whole image rows (:func:`_col2im_on_grid`)."""
    N = x_shape[0]
    gx = np.empty(x_shape, gy.dtype)
    gy = gy.reshape(N, -1, gy.shape[1])
    on_grid = x_shape[3] <= _GRID_MAX_CHANNELS and strides == (1, 1)

    def fold_range(start, stop):
        if on_grid:
            _col2im_on_grid(gy[start:stop], w, gx[start:stop], pads, dilation, out)
        else:
            _col2im_range(gy[start:stop], w, gx[start:stop], strides, pads, dilation, out)

    parallel.map_tasks(fold_range, parallel.worker_spans(N, n_workers), n_workers)
    return gx


def _col2im_on_grid(gy, w, gx, pads, dilation, out):
    """Fill ``gx`` ``(n, H, W, C)`` from ``gy`` ``(n, OH*OW, F)`` (unit strides), a
    cache-sized group of images at a time.

    ``gy`` is laid on a grid of whole padded rows, ``(OH, Wp)`` per image with zeros past
    ``OW``, so that the windows of a tap start ``kh*DH*Wp + kw*DW`` values into a flattened
    channel plane of the padded gradient and follow one another without a gap: each tap's
    share, ``w[kh, kw]^T`` times the grid, adds up as one run of ``OH*Wp`` values per
    channel and image. All taps' shares come from one GEMM, ``(KH*KW*C, F) @ (F, n*OH*Wp)``;
    with few channels that beats one GEMM per tap, whose ``C`` output columns OpenBLAS runs
    at 10-20 GFLOP/s, and runs of ``OH*Wp`` beat runs of ``OW*C`` (1.1-1.5x faster on the
    seed CNN's and LeNet-5's layers). The gradient is channel-planar, with a spare row under
    each image for the runs of the last taps, which overrun the last row with zeros."""
    n, H, W, C = gx.shape
    KH, KW, _, F = w.shape
    (top, bottom), (left, right) = pads
    Hp, Wp = H + top + bottom, W + left + right
    run = out[0] * Wp
    image_bytes = (KH * KW * C * run + C * (Hp + 1) * Wp + run * F) * gy.itemsize
    group = _group_size(n, image_bytes, _COL2IM_GROUP_BYTES)
    grid = np.zeros((group, out[0], Wp, F), gy.dtype)  # the columns past OW stay zero
    shares = np.empty((KH * KW * C, group * run), gy.dtype)
    planes = np.empty((C, group, Hp + 1, Wp), gy.dtype)
    for start, stop in parallel.spans(n, group):
        size = stop - start
        _col2im_grid_group(gy[start:stop], w, grid[:size], shares, planes[:, :size], dilation, out)
        gx[start:stop] = planes[:, :size, top : top + H, left : left + W].transpose(1, 2, 3, 0)


def _col2im_grid_group(gy, w, grid, shares, planes, dilation, out):
    """``planes`` ``(C, n, Hp + 1, Wp)``, the padded input gradient of ``n`` images, from
    their output gradient ``gy`` ``(n, OH*OW, F)``, through ``grid`` ``(n, OH, Wp, F)`` (zero
    past OW) and ``shares``, a buffer of at least ``n*OH*Wp`` columns."""
    (KH, KW, C, F), (DH, DW), (OH, OW) = w.shape, dilation, out
    n, Wp = len(gy), grid.shape[2]
    run = OH * Wp
    grid[:, :, :OW] = gy.reshape(n, OH, OW, F)
    shares = shares[:, : n * run]
    np.matmul(w.reshape(-1, F), grid.reshape(-1, F).T, out=shares)
    flat = planes.reshape(C, n, -1)
    flat[...] = 0
    for tap, (kh, kw) in enumerate(np.ndindex(KH, KW)):
        first = kh * DH * Wp + kw * DW
        flat[:, :, first : first + run] += shares[tap * C : (tap + 1) * C].reshape(C, n, run)


def _col2im_range(gy, w, gx, strides, pads, dilation, out):
    """Fill ``gx`` ``(n, H, W, C)`` from ``gy`` ``(n, OH*OW, F)``, a cache-sized group of
    images at a time (straight into ``gx`` when there is no padding to crop)."""
    n, H, W, C = gx.shape
    (top, bottom), (left, right) = pads
    Hp, Wp = H + top + bottom, W + left + right
    group = _group_size(n, (out[0] * out[1] + Hp * Wp) * C * gy.itemsize, _COL2IM_GROUP_BYTES)
    padded = (Hp, Wp) != (H, W)
    gxp = np.empty((group, Hp, Wp, C), gy.dtype) if padded else None
    share = np.empty((group * out[0] * out[1], C), gy.dtype)
    for start, stop in parallel.spans(n, group):
        target = gxp[: stop - start] if padded else gx[start:stop]
        _col2im_group(gy[start:stop], w, target, share, strides, dilation, out)
        if padded:
            gx[start:stop] = target[:, top : top + H, left : left + W]


def _col2im_group(gy, w, gxp, share, strides, dilation, out):
    """``gxp`` ``(n, Hp, Wp, C)``, the padded input gradient of ``n`` images, from their
    output gradient ``gy`` ``(n, OH*OW, F)``, through ``share``, a buffer of at least
    ``n*OH*OW`` rows."""
    n, C = len(gy), gxp.shape[3]
    gy = gy.reshape(-1, gy.shape[2])
    share = share[: len(gy)]
    gxp[...] = 0
    for kh, kw, rows, cols in _tap_slices(w.shape[:2], strides, dilation, out):
        np.matmul(gy, w[kh, kw].T, out=share)
        gxp[:, rows, cols] += share.reshape(n, *out, C)


def _pad(x, pads, axes):
    """``x`` as a C-contiguous array with ``pads`` ``((before, after), (before, after))``
    zeros added along the two ``axes``."""
    if not any(p for pair in pads for p in pair):
        return np.ascontiguousarray(x)
    shape, inside = list(x.shape), [slice(None)] * x.ndim
    for axis, (before, after) in zip(axes, pads):
        inside[axis] = slice(before, before + shape[axis])
        shape[axis] += before + after
    xp = np.zeros(shape, x.dtype)
    xp[tuple(inside)] = x
    return xp


def _sum_rows(g):
    """``g.sum(0)`` for a tall ``(M, F)`` matrix; a GEMV is far faster when F is small."""
    return np.ones(len(g), g.dtype) @ g if g.shape[1] <= 16 else np.einsum("mf->f", g)
