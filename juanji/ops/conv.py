"""Convolutions of channels-last images and volumes, and their transposes, by im2col and GEMM.

One implementation serves every number of spatial axes: 2 for images ``(N, H, W, C)`` with
kernels ``(KH, KW, C, F)``, 3 for volumes ``(N, D, H, W, C)`` with kernels
``(KD, KH, KW, C, F)``. The shifted windows of the padded input, one per kernel tap, are
copied in one strided copy into a column matrix ``col`` of shape ``(N*OH*OW, KH*KW*C)`` (plus
a column of ones that carries the bias), so the output, the kernel gradient and the bias
gradient are one GEMM each. ``col`` is never held whole: it is built again for each product,
a cache-sized group of images at a time, or, when one image is too large, a slab of output
planes along the first spatial axis at a time. The input gradient is folded back by col2im,
a loop over the taps: one small GEMM per tap gives its share, ``gy @ w[tap]^T``, into a
buffer reused by the next tap, and it is added at the pixels the tap read, a group of images
at a time; with few channels and unit strides one GEMM gives all taps' shares on a grid of
whole padded rows (planes), each added as one run per channel. The groups of a large enough
convolution run on the worker threads (:mod:`juanji.parallel`).

A transposed convolution is the adjoint of a forward one: its output is the forward
convolution's input gradient (col2im), and its input gradient is the forward convolution of
its output gradient."""

import functools
import math
import typing

import numpy as np
from numpy.lib.stride_tricks import as_strided

from juanji import backend, parallel
from juanji.autograd import primitive

__all__ = [
    "conv2d",
    "conv2d_transpose",
    "conv3d",
    "conv3d_transpose",
    "conv_output_size",
    "conv_padding",
    "depthwise_conv2d",
]

_MODES = ("valid", "same", "full")
# The column matrix is never held whole: each product builds it a group of images (or of
# output planes of one image) at a time, each group small enough to stay in cache until its
# GEMM has read it (on the small CNNs as fast as keeping the whole matrix from the forward
# pass for the kernel gradient, and lighter).
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
    spec = _mode(padding) if isinstance(padding, str) else as_tuple(padding, "padding", 2, 0)
    before, after = _axis_padding(spec, size, kernel, stride, dilation)
    return (size + before + after - (kernel - 1) * dilation - 1) // stride + 1


def conv_padding(padding, sizes, kernels, strides=None, dilation=None):
    """The zeros a convolution adds around an image (or volume), for any accepted ``padding``.

    Args:
        padding: ``"valid"``, ``"same"`` (output ``ceil(H / stride)``; of an odd total, the
            extra zero goes after: bottom/right, as in Keras), ``"full"`` (every partial
            overlap: ``(K - 1) * dilation`` on each side), in any case; an int ``p``; one int
            per axis ``(ph, pw)``; or one pair per axis ``((top, bottom), (left, right))``.
        sizes, kernels: one int per spatial axis, e.g. ``(height, width)``.
        strides, dilation: as many ints, or None for ones.

    Returns:
        ``((before, after), ...)``, one pair per axis.

    Raises:
        ValueError: for any other ``padding``.

    Example:
        >>> conv_padding("same", (28, 28), (4, 4))
        ((1, 2), (1, 2))
    """
    rank = len(sizes)
    strides = strides or (1,) * rank
    dilation = dilation or (1,) * rank
    if isinstance(padding, str):
        specs = (_mode(padding, rank),) * rank
    else:
        specs = _padding_pairs(padding, rank)
    return tuple(
        _axis_padding(spec, n, k, s, d)
        for spec, n, k, s, d in zip(specs, sizes, kernels, strides, dilation)
    )


def as_tuple(value, name, rank, minimum=1):
    """An int or ``rank`` ints, each at least ``minimum``, as a tuple of ``rank``.

    Raises:
        ValueError: naming ``name`` and the value received.
    """
    values = (value,) * rank if _is_int(value) else value
    if (
        not isinstance(values, (tuple, list))
        or len(values) != rank
        or not all(_is_int(v) and v >= minimum for v in values)
    ):
        kind = "a pair" if rank == 2 else f"a tuple of {rank}"
        raise ValueError(
            f"Expected `{name}` to be an int >= {minimum} or {kind} of them. "
            f"Received: {name}={value!r}"
        )
    return tuple(int(v) for v in values)


def as_pair(value, name, minimum=1):
    """An int or a pair of ints, each at least ``minimum``, as a tuple of two.

    Raises:
        ValueError: naming ``name`` and the value received.
    """
    return as_tuple(value, name, 2, minimum)


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _mode(padding, rank=2):
    if padding.lower() not in _MODES:
        raise _padding_error(padding, rank)
    return padding.lower()


def _padding_pairs(padding, rank):
    """``((before, after), ...)`` from an int, one int per axis, or one pair per axis."""
    pairs = (padding,) * rank if _is_int(padding) else padding
    if isinstance(pairs, (tuple, list)) and len(pairs) == rank:
        pairs = [(p, p) if _is_int(p) else p for p in pairs]
        if all(
            isinstance(p, (tuple, list)) and len(p) == 2 and all(_is_int(v) and v >= 0 for v in p)
            for p in pairs
        ):
            return tuple((int(a), int(b)) for a, b in pairs)
    raise _padding_error(padding, rank)


def _padding_error(padding, rank):
    axes = ("ph", "pw") if rank == 2 else ("pd", "ph", "pw")
    return ValueError(
        f"Expected `padding` to be one of {_MODES}, an int >= 0, one int per axis "
        f"({', '.join(axes)}) or one pair per axis ((before, after), ...). "
        f"Received: padding={padding!r}"
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


# The letters of the shapes of an input and a kernel, by the number of spatial axes.
_LETTERS = {2: ("HW", "KH, KW"), 3: ("DHW", "KD, KH, KW")}


def _check_float(name, a, rank):
    a = backend.as_float_array(a, name)
    if a.ndim != rank:
        raise ValueError(f"Expected `{name}` of rank {rank}. Received: {name}.shape={a.shape}")
    return a


def _check_inputs(x, w, b, rank, transposed=False):
    """The three inputs as float arrays of consistent shapes, for ``rank`` spatial axes.

    A forward kernel is ``(K..., C, F)``; a transposed one ``(K..., F, C)``, as Keras stores
    it (it is the kernel of the forward convolution it is the adjoint of)."""
    x = _check_float("x", x, rank + 2)
    w = _check_float("w", w, rank + 2)
    sizes, kernels = _LETTERS[rank]
    in_axis, out_axis = (-1, -2) if transposed else (-2, -1)
    if x.shape[-1] != w.shape[in_axis]:
        kernel = f"({kernels}, F, C)" if transposed else f"({kernels}, C, F)"
        raise ValueError(
            f"Expected `w` of shape {kernel} with C equal to the channels of `x` "
            f"(N, {', '.join(sizes)}, C). Received: x.shape={x.shape}, w.shape={w.shape}"
        )
    if b is not None:
        b = backend.as_float_array(b, "b")
        if b.shape != (w.shape[out_axis],):
            raise ValueError(
                f"Expected `b` of shape ({w.shape[out_axis]},), one value per filter. "
                f"Received: b.shape={b.shape}"
            )
    return x, w, b


def _common_dtype(x, w, b):
    """``x`` and ``w`` in their common dtype with ``b``'s, and each input's own dtype (each
    gradient keeps its input's)."""
    dtypes = [None if a is None else a.dtype for a in (x, w, b)]
    dtype = np.result_type(*(t for t in dtypes if t is not None))
    return x.astype(dtype, copy=False), w.astype(dtype, copy=False), dtypes


def _cast_grads(grads, dtypes):
    return tuple(g if g is None else g.astype(t, copy=False) for g, t in zip(grads, dtypes))


def _convolve(x, w, b, strides, padding, dilation, needs_grad, rank):
    """The forward convolution over ``rank`` spatial axes, and its backward closure; see
    :func:`conv2d`."""
    x, w, b = _check_inputs(x, w, b, rank)
    x, w, dtypes = _common_dtype(x, w, b)
    strides = as_tuple(strides, "strides", rank)
    dilation = as_tuple(dilation, "dilation", rank)
    geometry = _geometry(x.shape, w.shape, strides, padding, dilation)
    N, F = x.shape[0], w.shape[-1]
    K = w[..., 0].size
    needs_x, needs_w, needs_b = (*needs_grad, False)[:3]  # a call may leave out b
    n_workers = _n_workers(N * math.prod(geometry.out) * K * F)
    col = _ColumnMatrix(x, geometry, b is not None, n_workers)
    wb = (
        w.reshape(K, F) if b is None else np.concatenate([w.reshape(K, F), b[None].astype(w.dtype)])
    )
    y = col.times(wb)  # (N*OH*OW, F)

    def backward(gy):
        gy = gy.reshape(-1, F)
        gx = gw = gb = None
        if needs_x:
            gx = _col2im(gy, w, x.shape, geometry, n_workers)
        if needs_w:
            gwb = col.transposed_times(gy)  # (K [+ 1], F): the last row, against the ones, is gb
            gw = gwb[:K].reshape(w.shape)
            gb = gwb[K] if b is not None else None
        elif needs_b:
            gb = _sum_rows(gy)
        return _cast_grads((gx, gw, gb)[: len(needs_grad)], dtypes)

    return y.reshape(N, *geometry.out, F), backward


def _n_workers(macs):
    return parallel.workers() if macs >= _THREADS_MIN_MACS else 1


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
    return _convolve(x, w, b, strides, padding, dilation, needs_grad, rank=2)


@primitive
def conv3d(x, w, b=None, *, strides=1, padding="valid", dilation=1, needs_grad=(True,) * 3):
    """3-D cross-correlation of volumes, plus a bias: :func:`conv2d` with a depth axis.

    ``y[n, i, j, k, f] = b[f] + sum_{kd, kh, kw, c} xp[n, i*SD + kd*DD, j*SH + kh*DH,
    k*SW + kw*DW, c] * w[kd, kh, kw, c, f]``, where ``xp`` is ``x`` padded with zeros.

    Backward: ``gw = col^T gy``, ``gb = sum_{n,i,j,k} gy``, ``gx = col2im(gy w^T)``: each
    ``gy[n, i, j, k]`` flows back through tap ``(kd, kh, kw)`` to the input voxel it read.

    Args:
        x: volumes, shape ``(N, D, H, W, C)``.
        w: kernel, shape ``(KD, KH, KW, C, F)``.
        b: bias ``(F,)`` or None.
        strides: int or ``(SD, SH, SW)``.
        padding: ``"valid"``, ``"same"`` (of an odd total the extra zero goes after, as in
            Keras), ``"full"``, an int, ``(pd, ph, pw)`` or one ``(before, after)`` pair per
            axis; see :func:`conv_padding`.
        dilation: int or ``(DD, DH, DW)``.

    Returns:
        ``(N, OD, OH, OW, F)`` with ``OD = (D + before + after - (KD - 1) * DD - 1) // SD + 1``.

    Raises:
        TypeError: for integer or boolean inputs.
        ValueError: for wrong ranks, a channel or bias mismatch, a bad option, or a kernel
            larger than the padded input.

    Example:
        >>> x = np.ones((1, 4, 5, 6, 2), np.float32)
        >>> conv3d(x, np.ones((3, 3, 3, 2, 8), np.float32), padding="same").shape
        (1, 4, 5, 6, 8)
    """
    return _convolve(x, w, b, strides, padding, dilation, needs_grad, rank=3)


def _transposed_convolve(x, w, b, strides, padding, output_padding, dilation, needs_grad, rank):
    """The transposed convolution over ``rank`` spatial axes, and its backward closure; see
    :func:`conv2d_transpose`."""
    x, w, b = _check_inputs(x, w, b, rank, transposed=True)
    x, w, dtypes = _common_dtype(x, w, b)
    strides = as_tuple(strides, "strides", rank)
    dilation = as_tuple(dilation, "dilation", rank)
    geometry, sizes = _transposed_geometry(
        x.shape[1:-1], w.shape[:-2], strides, padding, output_padding, dilation
    )
    N, C, F = x.shape[0], x.shape[-1], w.shape[-2]
    needs_x, needs_w, needs_b = (*needs_grad, False)[:3]
    n_workers = _n_workers(x[..., 0].size * w.size)
    y = _col2im(x.reshape(-1, C), w, (N, *sizes, F), geometry, n_workers)
    if b is not None:
        y += b.astype(y.dtype, copy=False)

    def backward(gy):
        col = _ColumnMatrix(gy, geometry, False, n_workers)  # the forward convolution's
        gx = gw = gb = None
        if needs_x:
            gx = col.times(w.reshape(-1, C)).reshape(x.shape)
        if needs_w:
            gw = col.transposed_times(x.reshape(-1, C)).reshape(w.shape)
        if needs_b:
            gb = _sum_rows(gy.reshape(-1, F))
        return _cast_grads((gx, gw, gb)[: len(needs_grad)], dtypes)

    return y, backward


def _transposed_geometry(sizes, kernels, strides, padding, output_padding, dilation):
    """The geometry of the forward convolution a transposed one is the adjoint of, and the
    transposed convolution's output lengths, as Keras 3 computes them.

    An output length is ``(n - 1) * s + max(k, s)`` for ``"valid"`` and ``n * s`` for
    ``"same"`` (``k`` the dilated kernel's extent), or with ``output_padding`` ``p``:
    ``(n - 1) * s + k + p`` and ``(n - 1) * s + k % 2 + p``. The forward convolution reads
    that output with ``"same"``'s zeros before it (Keras's rule, the extra one after): the
    transposed convolution is then the adjoint of a ``"same"`` convolution, as in
    TensorFlow and JAX.

    Raises:
        ValueError: for a ``padding`` other than ``"valid"``/``"same"`` or an
            ``output_padding`` that is not below the stride.
    """
    rank = len(sizes)
    mode = padding.lower() if isinstance(padding, str) else None
    if mode not in ("valid", "same"):
        raise ValueError(
            f"Expected `padding` to be 'valid' or 'same'. Received: padding={padding!r}"
        )
    if output_padding is not None:
        output_padding = as_tuple(output_padding, "output_padding", rank, 0)
        if any(p >= s for p, s in zip(output_padding, strides)):
            raise ValueError(
                f"Expected `output_padding` below the strides {strides}. "
                f"Received: output_padding={output_padding}"
            )
    spans = tuple((k - 1) * d + 1 for k, d in zip(kernels, dilation))
    lengths, pads = [], []
    for i, (n, k, s) in enumerate(zip(sizes, spans, strides)):
        if output_padding is None:
            length = (n - 1) * s + max(k, s) if mode == "valid" else n * s
        else:
            length = (n - 1) * s + (k if mode == "valid" else k % 2) + output_padding[i]
        before = 0 if mode == "valid" else max((n - 1) * s + k - length, 0) // 2
        # zeros after, so that the windows fit; output cells past the last window stay 0
        pads.append((before, max((n - 1) * s + k - before - length, 0)))
        lengths.append(length)
    geometry = _Geometry(tuple(kernels), tuple(strides), tuple(pads), tuple(dilation), sizes)
    return geometry, tuple(lengths)


@primitive
def conv2d_transpose(
    x,
    w,
    b=None,
    *,
    strides=1,
    padding="valid",
    output_padding=None,
    dilation=1,
    needs_grad=(True,) * 3,
):
    """Transposed 2-D convolution (sometimes called deconvolution), plus a bias.

    The adjoint of :func:`conv2d`: each input pixel ``x[n, i, j]`` spreads
    ``x[n, i, j] @ w[kh, kw]^T`` to output pixel ``(i*SH + kh*DH - top, j*SW + kw*DW -
    left)``. It is computed as conv2d's input gradient (col2im), not by a convolution over a
    zero-dilated input.

    Backward: ``gx = conv2d(gy, w)`` (the forward convolution, kernel ``(KH, KW, F, C)``),
    ``gw = col(gy)^T x``, ``gb = sum_{n,i,j} gy``.

    Args:
        x: images, shape ``(N, H, W, C)``.
        w: kernel, shape ``(KH, KW, F, C)`` as Keras stores it (F output channels).
        b: bias ``(F,)`` or None.
        strides: int or ``(SH, SW)``.
        padding: ``"valid"`` or ``"same"``.
        output_padding: None, or an int or ``(ph, pw)`` below the strides: then
            ``OH = (H - 1) * SH + KH + ph`` (``"valid"``) or ``(H - 1) * SH + KH % 2 + ph``
            (``"same"``), with ``KH`` the dilated kernel's extent.
        dilation: int or ``(DH, DW)``.

    Returns:
        ``(N, OH, OW, F)``: ``OH = (H - 1) * SH + max(KH, SH)`` (``"valid"``) or
        ``H * SH`` (``"same"``) without ``output_padding``, as Keras 3.

    Raises:
        TypeError: for integer or boolean inputs.
        ValueError: for wrong ranks, a channel or bias mismatch, or a bad option.

    Example:
        >>> x = np.ones((2, 4, 5, 3), np.float32)
        >>> conv2d_transpose(x, np.ones((3, 3, 8, 3), np.float32), strides=2).shape
        (2, 9, 11, 8)
    """
    return _transposed_convolve(
        x, w, b, strides, padding, output_padding, dilation, needs_grad, rank=2
    )


@primitive
def conv3d_transpose(
    x,
    w,
    b=None,
    *,
    strides=1,
    padding="valid",
    output_padding=None,
    dilation=1,
    needs_grad=(True,) * 3,
):
    """Transposed 3-D convolution of volumes, plus a bias: :func:`conv2d_transpose` with a
    depth axis, the adjoint of :func:`conv3d`.

    Backward: ``gx = conv3d(gy, w)`` (kernel ``(KD, KH, KW, F, C)``), ``gw = col(gy)^T x``,
    ``gb = sum_{n,i,j,k} gy``.

    Args:
        x: volumes, shape ``(N, D, H, W, C)``.
        w: kernel, shape ``(KD, KH, KW, F, C)`` as Keras stores it.
        b: bias ``(F,)`` or None.
        strides: int or ``(SD, SH, SW)``.
        padding: ``"valid"`` or ``"same"``.
        output_padding: None, or an int or ``(pd, ph, pw)`` below the strides.
        dilation: int or ``(DD, DH, DW)``.

    Returns:
        ``(N, OD, OH, OW, F)``: ``OD = (D - 1) * SD + max(KD, SD)`` (``"valid"``) or
        ``D * SD`` (``"same"``) without ``output_padding``, as Keras 3.

    Raises:
        TypeError: for integer or boolean inputs.
        ValueError: for wrong ranks, a channel or bias mismatch, or a bad option.

    Example:
        >>> x = np.ones((1, 2, 3, 4, 16), np.float32)
        >>> w = np.ones((3, 3, 3, 8, 16), np.float32)
        >>> conv3d_transpose(x, w, strides=2, padding="same").shape
        (1, 4, 6, 8, 8)
    """
    return _transposed_convolve(
        x, w, b, strides, padding, output_padding, dilation, needs_grad, rank=3
    )


class _Geometry(typing.NamedTuple):
    """Where a convolution's windows lie: per spatial axis, the kernel length, stride,
    ``(before, after)`` zeros, tap spacing and output length."""

    kernel: tuple
    strides: tuple
    pads: tuple
    dilation: tuple
    out: tuple

    def spans(self):
        """The extent of a (dilated) kernel along each axis."""
        return tuple((k - 1) * d + 1 for k, d in zip(self.kernel, self.dilation))

    def taps(self):
        """``(tap, slices)``: each kernel tap's index and the padded input positions it reads
        for every output position."""
        for tap in np.ndindex(*self.kernel):
            yield (
                tap,
                tuple(
                    slice(t * d, t * d + s * (o - 1) + 1, s)
                    for t, d, s, o in zip(tap, self.dilation, self.strides, self.out)
                ),
            )

    def slab(self, x, start, stop):
        """The input that output planes ``[start, stop)`` along the first spatial axis read,
        and its geometry: ``(x slab, geometry)``."""
        if (start, stop) == (0, self.out[0]):
            return x, self
        size, (before, _) = x.shape[1], self.pads[0]
        first = start * self.strides[0] - before  # in unpadded positions, stop exclusive
        last = (stop - 1) * self.strides[0] + self.spans()[0] - before
        lo, hi = max(first, 0), min(last, size)
        if hi <= lo:  # the slab reads padding only
            lo = hi = 0
        pads = ((lo - first, last - hi) if hi > lo else (last - first, 0), *self.pads[1:])
        return x[:, lo:hi], self._replace(pads=pads, out=(stop - start, *self.out[1:]))


def _geometry(x_shape, w_shape, strides, padding, dilation):
    """The geometry of a convolution of inputs ``x_shape`` with a kernel of ``w_shape``.

    Raises:
        ValueError: for a bad ``padding``, or a (dilated) kernel larger than the padded input.
    """
    sizes, kernels = x_shape[1:-1], w_shape[:-2]
    pads = conv_padding(padding, sizes, kernels, strides, dilation)
    padded = tuple(n + p0 + p1 for n, (p0, p1) in zip(sizes, pads))
    spans = tuple((k - 1) * d + 1 for k, d in zip(kernels, dilation))
    if any(k > n for k, n in zip(spans, padded)):
        raise ValueError(
            f"Expected a (dilated) kernel of at most the padded input size {padded}, "
            f"got {spans}. Received: x.shape={x_shape}, w.shape={w_shape}, "
            f"padding={padding!r}, dilation={dilation}"
        )
    out = tuple((n - k) // s + 1 for n, k, s in zip(padded, spans, strides))
    return _Geometry(tuple(kernels), tuple(strides), pads, tuple(dilation), out)


@primitive
def depthwise_conv2d(x, w, b=None, *, strides=1, padding="valid", dilation=1, needs_grad):
    """Depthwise 2-D cross-correlation: each input channel is convolved with its own
    ``M = depth_multiplier`` filters and never mixed with the others (Keras's
    DepthwiseConv2D; PyTorch's conv2d with ``groups=C``).

    ``y[n, i, j, c*M + m] = b[c*M + m] + sum_{kh, kw} xp[n, i*SH + kh*DH, j*SW + kw*DW, c] *
    w[kh, kw, c, m]``, where ``xp`` is ``x`` padded with zeros. The sum runs as a loop over
    the KH*KW taps (as col2im does), each one broadcast multiply of the strided window view
    the tap reads: a GEMM per channel would have a single column.

    Backward: ``gw[kh, kw, c, m] = sum_{n,i,j} xp_tap[n, i, j, c] * gy[n, i, j, c, m]``,
    ``gb = sum_{n,i,j} gy``, ``gx`` = each tap's ``sum_m gy * w[kh, kw]`` added back at the
    pixels the tap read.

    Args:
        x: images ``(N, H, W, C)``.
        w: kernel ``(KH, KW, C, M)``.
        b: bias ``(C*M,)`` or None.
        strides, padding, dilation: as :func:`conv2d`.

    Returns:
        ``(N, OH, OW, C*M)``, sizes as :func:`conv2d`'s.

    Raises:
        TypeError: for integer or boolean inputs.
        ValueError: for wrong ranks, a channel or bias mismatch, a bad option, or a kernel
            larger than the padded input.

    Example:
        >>> x = np.ones((2, 5, 5, 3), np.float32)
        >>> depthwise_conv2d(x, np.ones((3, 3, 3, 2), np.float32), padding="same").shape
        (2, 5, 5, 6)
    """
    x = _check_float("x", x, 4)
    w = _check_float("w", w, 4)
    N, _, _, C = x.shape
    KH, KW, _, M = w.shape
    if w.shape[2] != C:
        raise ValueError(
            "Expected `w` of shape (KH, KW, C, M) with C equal to the channels of `x` "
            f"(N, H, W, C). Received: x.shape={x.shape}, w.shape={w.shape}"
        )
    if b is not None:
        b = backend.as_float_array(b, "b")
        if b.shape != (C * M,):
            raise ValueError(
                f"Expected `b` of shape ({C * M},), one value per output channel C*M. "
                f"Received: b.shape={b.shape}"
            )
    strides, dilation = as_pair(strides, "strides"), as_pair(dilation, "dilation")
    geometry = _geometry(x.shape, w.shape, strides, padding, dilation)
    out = geometry.out
    xp = _pad(x, geometry.pads, axes=(1, 2))  # (N, Hp, Wp, C)
    y = np.zeros((N, *out, C, M), np.result_type(x, w))
    for tap, (rows, cols) in geometry.taps():
        y += xp[:, rows, cols, :, None] * w[tap]  # (N, OH, OW, C, M)
    if b is not None:
        y += b.reshape(C, M)
    needs_x, needs_w, needs_b = (*needs_grad, False)[:3]

    def backward(gy):
        gy = gy.reshape(N, *out, C, M)
        gx = gw = gb = None
        if needs_x:
            gxp = np.zeros(xp.shape, gy.dtype)
            for tap, (rows, cols) in geometry.taps():
                gxp[:, rows, cols] += np.einsum("nijcm,cm->nijc", gy, w[tap])
            gx = gxp[(slice(None), *_inside(geometry.pads, x.shape[1:3]))].astype(x.dtype)
        if needs_w:
            gw = np.empty(w.shape, w.dtype)
            for tap, (rows, cols) in geometry.taps():
                gw[tap] = np.einsum("nijc,nijcm->cm", xp[:, rows, cols], gy)
        if needs_b:
            gb = gy.sum(axis=(0, 1, 2)).reshape(C * M).astype(b.dtype)
        return (gx, gw, gb)[: len(needs_grad)]

    return y.reshape(N, *out, C * M), backward


class _ColumnMatrix:
    """The im2col matrix ``col`` ``(N*OH*OW, K [+ 1])`` of images ``x``, in products.

    The matrix is never held whole: each product builds it again, a cache-sized group of
    images at a time (or of output planes of one image, when an image alone is larger or
    there are fewer images than threads), the groups spread over ``n_workers`` threads."""

    def __init__(self, x, geometry, ones, n_workers):
        self.x, self.geometry, self.ones, self.n_workers = x, geometry, ones, n_workers
        self.plane_rows = math.prod(geometry.out[1:])
        width = math.prod(geometry.kernel) * x.shape[-1] + ones
        self.groups = _groups(
            len(x), geometry.out[0], self.plane_rows * width * x.itemsize, n_workers
        )

    def times(self, wb):
        """``col @ wb`` ``(N*OH*OW, F)``."""
        y = np.empty((len(self.x) * self.geometry.out[0] * self.plane_rows, wb.shape[1]), wb.dtype)
        parallel.map_tasks(
            lambda rows, group: _col_times(self._build(*group), wb, y[rows]),
            self._tasks(),
            self.n_workers,
        )
        return y

    def transposed_times(self, gy):
        """``col^T @ gy`` ``(K [+ 1], F)`` for ``gy`` ``(N*OH*OW, F)``."""
        parts = parallel.map_tasks(
            lambda rows, group: _col_transposed_times(self._build(*group), gy[rows]),
            self._tasks(),
            self.n_workers,
        )
        return functools.reduce(np.add, parts)

    def _build(self, images, planes):
        x, geometry = self.geometry.slab(self.x[images], planes.start, planes.stop)
        return _im2col(x, geometry, ones=self.ones)

    def _tasks(self):
        """``(rows of col, (images, output planes))`` for each group."""
        planes = self.geometry.out[0]
        for images, first_planes in self.groups:
            first = images.start * planes + first_planes.start
            last = (images.stop - 1) * planes + first_planes.stop
            yield slice(first * self.plane_rows, last * self.plane_rows), (images, first_planes)


def _groups(n_images, planes, plane_bytes, n_workers):
    """``(images, output planes)`` slices of the cache-sized groups, a multiple of
    ``n_workers`` in number: groups of whole images, or, when one image is larger than the
    cache budget or there are fewer images than threads, groups of planes of one image."""
    image_bytes = planes * plane_bytes
    if image_bytes <= _IM2COL_GROUP_BYTES and n_images >= n_workers:
        size = _group_size(n_images, image_bytes, _IM2COL_GROUP_BYTES)
        return [
            (slice(start, stop), slice(0, planes))
            for start, stop in parallel.worker_spans(n_images, n_workers, size)
        ]
    size = _group_size(planes, plane_bytes, _IM2COL_GROUP_BYTES)
    return [
        (slice(n, n + 1), slice(start, stop))
        for n in range(n_images)
        for start, stop in parallel.worker_spans(planes, n_workers, size)
    ]


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


def _im2col(x, geometry, *, ones):
    """The windows of ``x`` ``(N, ..., C)`` as a ``(N*OH*OW, KH*KW*C)`` matrix with columns
    ordered ``(kh, kw, c)`` (``(kd, kh, kw, c)`` for volumes), plus a last column of ones if
    ``ones``.

    One strided copy fills the matrix from a view of all windows of the padded input. A
    copy runs fastest over long contiguous runs, so the layout follows the shape (see
    :func:`_planar`): either the matrix is the transpose of a row-contiguous
    ``(KH*KW*C, N*OH*OW)`` array filled from channel-planar input in runs of an output row,
    or it is row-contiguous, filled from the channels-last input in runs of a window row
    ``KW*C``.
    """
    N, C = x.shape[0], x.shape[-1]
    kernel, out = geometry.kernel, geometry.out
    spatial = range(1, len(kernel) + 1)
    K = math.prod(kernel) * C
    planar = _planar(C, kernel[-1], out[-1])
    M = N * math.prod(out)
    col = np.empty((K + ones, M), x.dtype).T if planar else np.empty((M, K + ones), x.dtype)
    if planar:
        xp = _pad(np.moveaxis(x, -1, 0), geometry.pads, axes=[a + 1 for a in spatial])
        sC, sN, *sizes = xp.strides  # (C, N, Hp, Wp)
    else:
        xp = _pad(x, geometry.pads, axes=spatial)
        sN, *sizes, sC = xp.strides  # (N, Hp, Wp, C)
    # A view of every window by as_strided, since it is built for every group of images
    # (sliding_window_view costs ~10x more); _geometry has checked that the windows fit.
    taps = tuple(d * s for d, s in zip(geometry.dilation, sizes))
    steps = tuple(st * s for st, s in zip(geometry.strides, sizes))
    if planar:
        windows = as_strided(xp, (*kernel, C, N, *out), (*taps, sC, sN, *steps), writeable=False)
        col.T[:K].reshape(windows.shape)[...] = windows
    else:
        windows = as_strided(xp, (N, *out, *kernel, C), (sN, *steps, *taps, sC), writeable=False)
        col.reshape(N, *out, K + ones)[..., :K].reshape(windows.shape)[...] = windows
    if ones:
        col[:, K] = 1
    return col


def _planar(channels, kernel_width, out_width):
    """Whether :func:`_im2col` fills its matrix from channel-planar input: when an output row
    is a longer contiguous run than a window row (few channels, wide images)."""
    return out_width > kernel_width * channels


def _col2im(gy, w, x_shape, geometry, n_workers):
    """The input gradient ``x_shape`` ``(N, ..., C)`` from the output gradient ``gy``
    ``(N*OH*OW, F)``: each tap's share ``gy @ w[tap]^T`` added back at the pixels the tap read.

    Each of ``n_workers`` threads takes a range of the images, and goes through it in groups
    small enough that a group's shares and padded gradient stay in cache while its taps add
    up: tap by tap (:func:`_col2im_range`), or, for few channels and unit strides, all taps
    in one GEMM onto a grid of whole padded rows (:func:`_col2im_on_grid`). An image larger
    than the cache budget, or fewer images than threads, is folded back a slab of output
    planes at a time instead (:func:`_col2im_slabs`)."""
    N, *sizes, C = x_shape
    gx = np.empty(x_shape, gy.dtype)
    gy = gy.reshape(N, -1, gy.shape[1])
    padded = _padded_sizes(sizes, geometry.pads)
    on_grid = C <= _GRID_MAX_CHANNELS and set(geometry.strides) == {1}
    if on_grid:
        image_bytes = _grid_image_bytes(w, C, padded, geometry.out, gy.itemsize)
    else:
        image_bytes = (math.prod(geometry.out) + math.prod(padded)) * C * gy.itemsize
    if N < n_workers or image_bytes > _COL2IM_GROUP_BYTES:
        for n in range(N):  # few images, or each one large
            _col2im_slabs(gy[n], w, gx[n], geometry, n_workers)
        return gx
    fold = _col2im_on_grid if on_grid else _col2im_range
    parallel.map_tasks(
        lambda start, stop: fold(gy[start:stop], w, gx[start:stop], geometry),
        parallel.worker_spans(N, n_workers),
        n_workers,
    )
    return gx


def _col2im_slabs(gy, w, gx, geometry, n_workers):
    """Fill one image's gradient ``gx`` ``(H, W, C)`` from its ``gy`` ``(OH*OW, F)``, a
    cache-sized slab of output planes (rows) at a time, tap by tap.

    Each of ``n_workers`` threads takes a run of slabs and adds them up in a padded buffer of
    its own, covering the input planes its slabs read; neighbouring runs overlap by the
    kernel's extent less the stride, so the buffers are added together at the end."""
    *sizes, C = gx.shape
    padded = _padded_sizes(sizes, geometry.pads)
    stride, span = geometry.strides[0], geometry.spans()[0]
    plane_rows = math.prod(geometry.out[1:])
    plane_bytes = (plane_rows + stride * math.prod(padded[1:])) * C * gy.itemsize
    slab = _group_size(geometry.out[0], plane_bytes, _COL2IM_GROUP_BYTES)
    slabs = parallel.worker_spans(geometry.out[0], n_workers, slab)
    per_worker = -(-len(slabs) // n_workers)
    runs = [slabs[i : i + per_worker] for i in range(0, len(slabs), per_worker)]

    def fold(run):
        first, last = run[0][0] * stride, (run[-1][1] - 1) * stride + span
        buffer = np.zeros((1, last - first, *padded[1:], C), gy.dtype)
        share = np.empty((slab * plane_rows, C), gy.dtype)
        for start, stop in run:
            part = geometry._replace(out=(stop - start, *geometry.out[1:]))
            rows = slice(start * stride - first, (stop - 1) * stride + span - first)
            planes = gy[start * plane_rows : stop * plane_rows]
            _col2im_group(planes[None], w, buffer[:, rows], share, part)
        return first, buffer[0]

    gxp = np.zeros((*padded, C), gy.dtype)
    for first, buffer in parallel.map_tasks(fold, [(run,) for run in runs], n_workers):
        gxp[first : first + len(buffer)] += buffer
    gx[...] = gxp[_inside(geometry.pads, sizes)]


def _padded_sizes(sizes, pads):
    return tuple(n + before + after for n, (before, after) in zip(sizes, pads))


def _inside(pads, sizes):
    """Slices of the unpadded part of a padded array's spatial axes."""
    return tuple(slice(before, before + n) for (before, _), n in zip(pads, sizes))


def _col2im_on_grid(gy, w, gx, geometry):
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
    each image for the runs of the last taps, which overrun the last row with zeros.
    Volumes go the same way, on a grid of whole padded planes ``(OD, Hp, Wp)``, with a spare
    plane."""
    n, *sizes, C = gx.shape
    F, taps = w.shape[-1], math.prod(geometry.kernel)
    padded = _padded_sizes(sizes, geometry.pads)
    plane = math.prod(padded[1:])
    run = geometry.out[0] * plane
    image_bytes = _grid_image_bytes(w, C, padded, geometry.out, gy.itemsize)
    group = _group_size(n, image_bytes, _COL2IM_GROUP_BYTES)
    grid = np.zeros((group, geometry.out[0], *padded[1:], F), gy.dtype)  # zero past out
    shares = np.empty((taps * C, group * run), gy.dtype)
    planes = np.empty((C, group, padded[0] + 1, *padded[1:]), gy.dtype)
    inside = _inside(geometry.pads, sizes)
    for start, stop in parallel.spans(n, group):
        size = stop - start
        _col2im_grid_group(gy[start:stop], w, grid[:size], shares, planes[:, :size], geometry)
        gx[start:stop] = np.moveaxis(planes[(slice(None), slice(size), *inside)], 0, -1)


def _grid_image_bytes(w, C, padded, out, itemsize):
    """The bytes :func:`_col2im_on_grid` works on per image: all taps' shares, the padded
    channel planes (with a spare row) and the grid."""
    plane = math.prod(padded[1:])
    run = out[0] * plane
    return (
        w[..., 0, 0].size * C * run + C * (padded[0] + 1) * plane + run * w.shape[-1]
    ) * itemsize


def _col2im_grid_group(gy, w, grid, shares, planes, geometry):
    """``planes`` ``(C, n, Hp + 1, Wp)``, the padded input gradient of ``n`` images, from
    their output gradient ``gy`` ``(n, OH*OW, F)``, through ``grid`` ``(n, OH, Wp, F)`` (zero
    past OW) and ``shares``, a buffer of at least ``n*OH*Wp`` columns."""
    n, C, F, out = len(gy), planes.shape[0], w.shape[-1], geometry.out
    run = math.prod(grid.shape[1:-1])
    grid[(slice(None), *(slice(o) for o in out))] = gy.reshape(n, *out, F)
    shares = shares[:, : n * run]
    np.matmul(w.reshape(-1, F), grid.reshape(-1, F).T, out=shares)
    flat = planes.reshape(C, n, -1)
    flat[...] = 0
    # how far apart neighbours along each axis lie in a flattened padded plane
    steps = [math.prod(grid.shape[a + 1 : -1]) for a in range(1, len(out) + 1)]
    for i, tap in enumerate(np.ndindex(*geometry.kernel)):
        first = sum(t * d * s for t, d, s in zip(tap, geometry.dilation, steps))
        flat[:, :, first : first + run] += shares[i * C : (i + 1) * C].reshape(C, n, run)


def _col2im_range(gy, w, gx, geometry):
    """Fill ``gx`` ``(n, H, W, C)`` from ``gy`` ``(n, OH*OW, F)``, a cache-sized group of
    images at a time (straight into ``gx`` when there is no padding to crop)."""
    n, *sizes, C = gx.shape
    padded = _padded_sizes(sizes, geometry.pads)
    image_bytes = (math.prod(geometry.out) + math.prod(padded)) * C * gy.itemsize
    group = _group_size(n, image_bytes, _COL2IM_GROUP_BYTES)
    is_padded = padded != tuple(sizes)
    gxp = np.empty((group, *padded, C), gy.dtype) if is_padded else None
    share = np.empty((group * math.prod(geometry.out), C), gy.dtype)
    inside = (slice(None), *_inside(geometry.pads, sizes))
    for start, stop in parallel.spans(n, group):
        target = gxp[: stop - start] if is_padded else gx[start:stop]
        target[...] = 0
        _col2im_group(gy[start:stop], w, target, share, geometry)
        if is_padded:
            gx[start:stop] = target[inside]


def _col2im_group(gy, w, gxp, share, geometry):
    """Add to ``gxp`` ``(n, Hp, Wp, C)``, the padded input gradient of ``n`` images, the
    shares of their output gradient ``gy`` ``(n, OH*OW, F)``, through ``share``, a buffer of
    at least ``n*OH*OW`` rows."""
    n, C = len(gy), gxp.shape[-1]
    gy = gy.reshape(-1, gy.shape[2])
    share = share[: len(gy)]
    for tap, slices in geometry.taps():
        np.matmul(gy, w[tap].T, out=share)
        gxp[(slice(None), *slices)] += share.reshape(n, *geometry.out, C)


def _pad(x, pads, axes):
    """``x`` as a C-contiguous array with ``pads`` ``((before, after), ...)`` zeros added
    along the ``axes``."""
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
