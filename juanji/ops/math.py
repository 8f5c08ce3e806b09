"""Arithmetic, reductions, shape and indexing ops, and the Tensor operators built on them.

Every op takes Tensors, arrays or Python numbers as inputs and returns a Tensor. Gradients
are summed back to each input's shape (:func:`~juanji.autograd.unbroadcast`) and keep its
dtype, so a float32 tensor combined with a Python float stays float32 both ways.

NOTE: this module defines ``sum``, ``max`` and ``abs`` (as NumPy does), shadowing the
builtins inside it; it uses only the NumPy versions.
"""

import numpy as np

from juanji.autograd import Tensor, primitive, unbroadcast

__all__ = [
    "abs",
    "add",
    "clip",
    "concat",
    "dense",
    "divide",
    "exp",
    "flatten",
    "getitem",
    "log",
    "matmul",
    "max",
    "maximum",
    "mean",
    "minimum",
    "multiply",
    "negative",
    "pad",
    "power",
    "reshape",
    "sqrt",
    "square",
    "stack",
    "subtract",
    "sum",
    "transpose",
    "var",
    "where",
]


def _cast_like(g, a):
    return g if g.dtype == a.dtype else g.astype(a.dtype)


def _grad_like(g, a):
    """``g`` summed to the shape of input ``a`` and cast to its dtype."""
    return _cast_like(unbroadcast(g, a.shape), a)


# --------------------------------------------------------------------------- arithmetic


@primitive
def add(a, b, *, needs_grad):
    """Elementwise ``a + b`` with broadcasting.

    Backward: ga = gy, gb = gy (each summed to its input's shape).
    """

    def backward(gy):
        return (
            _grad_like(gy, a) if needs_grad[0] else None,
            _grad_like(gy, b) if needs_grad[1] else None,
        )

    return np.asarray(a + b), backward


@primitive
def subtract(a, b, *, needs_grad):
    """Elementwise ``a - b`` with broadcasting.

    Backward: ga = gy, gb = -gy.
    """

    def backward(gy):
        return (
            _grad_like(gy, a) if needs_grad[0] else None,
            _grad_like(-gy, b) if needs_grad[1] else None,
        )

    return np.asarray(a - b), backward


@primitive
def multiply(a, b, *, needs_grad):
    """Elementwise ``a * b`` with broadcasting.

    Backward: ga = gy * b, gb = gy * a.
    """

    def backward(gy):
        return (
            _grad_like(gy * b, a) if needs_grad[0] else None,
            _grad_like(gy * a, b) if needs_grad[1] else None,
        )

    return np.asarray(a * b), backward


@primitive
def divide(a, b, *, needs_grad):
    """Elementwise ``a / b`` with broadcasting.

    Backward: ga = gy / b, gb = -gy * y / b.
    """
    y = np.asarray(a / b)

    def backward(gy):
        ga = gy / b
        return (
            _grad_like(ga, a) if needs_grad[0] else None,
            _grad_like(-ga * y, b) if needs_grad[1] else None,
        )

    return y, backward


@primitive
def negative(x):
    """Elementwise ``-x``.

    Backward: gx = -gy.
    """
    return np.asarray(-x), lambda gy: -gy


@primitive
def power(x, p, *, needs_grad):
    """Elementwise ``x ** p``; ``p`` is a number or a tensor broadcast against ``x``.

    Backward: gx = gy * p * x ** (p - 1), gp = gy * y * log(x).

    NOTE: gp is taken as 0 where ``x <= 0``, where ``x ** p`` is not differentiable in ``p``
    over the reals.
    """
    y = np.asarray(x**p)

    def backward(gy):
        gx = gp = None
        if needs_grad[0]:
            gx = _grad_like(gy * p * x ** (p - 1), x)
        if needs_grad[1]:
            gp = _grad_like(gy * y * np.log(np.where(x > 0, x, 1)), p)
        return gx, gp

    return y, backward


@primitive
def exp(x):
    """Elementwise ``e ** x``.

    Backward: gx = gy * y.
    """
    y = np.asarray(np.exp(x))
    return y, lambda gy: gy * y


@primitive
def log(x):
    """Elementwise natural logarithm.

    Backward: gx = gy / x.
    """
    return np.asarray(np.log(x)), lambda gy: gy / x


@primitive
def square(x):
    """Elementwise ``x * x``.

    Backward: gx = 2 * x * gy.
    """
    return np.asarray(x * x), lambda gy: 2 * x * gy


@primitive
def sqrt(x):
    """Elementwise square root.

    Backward: gx = gy / (2 * y).
    """
    y = np.asarray(np.sqrt(x))
    return y, lambda gy: gy / (2 * y)


@primitive
def abs(x):
    """Elementwise absolute value.

    Backward: gx = gy * sign(x) (0 at x = 0).
    """
    return np.asarray(np.abs(x)), lambda gy: gy * np.sign(x)


@primitive
def clip(x, *, min_value, max_value):
    """Elementwise ``min(max(x, min_value), max_value)``.

    Backward: gx = gy where min_value <= x <= max_value, else 0.
    """
    y = np.asarray(np.clip(x, min_value, max_value))
    return y, lambda gy: gy * ((x >= min_value) & (x <= max_value))


def _select_grads(gy, first, a, b, needs_grad):
    """Gradients of an elementwise choice: ``gy`` goes to ``a`` where ``first``, else to ``b``."""
    return (
        _grad_like(np.where(first, gy, 0), a) if needs_grad[0] else None,
        _grad_like(np.where(first, 0, gy), b) if needs_grad[1] else None,
    )


@primitive
def maximum(a, b, *, needs_grad):
    """Elementwise maximum with broadcasting.

    Backward: ga = gy where a >= b, gb = gy where a < b.

    NOTE: ties send the whole gradient to ``a`` (PyTorch splits it in half).
    """
    first = a >= b
    return np.asarray(np.where(first, a, b)), lambda gy: _select_grads(gy, first, a, b, needs_grad)


@primitive
def minimum(a, b, *, needs_grad):
    """Elementwise minimum with broadcasting.

    Backward: ga = gy where a <= b, gb = gy where a > b.

    NOTE: ties send the whole gradient to ``a`` (PyTorch splits it in half).
    """
    first = a <= b
    return np.asarray(np.where(first, a, b)), lambda gy: _select_grads(gy, first, a, b, needs_grad)


@primitive
def where(condition, a, b, *, needs_grad):
    """``a`` where ``condition`` else ``b``, all three broadcast together.

    ``condition`` is a boolean array and is not differentiated.

    Backward: ga = gy where condition, gb = gy elsewhere.
    """
    y = np.asarray(np.where(condition, a, b))
    return y, lambda gy: (None, *_select_grads(gy, condition, a, b, needs_grad[1:]))


@primitive
def matmul(a, b, *, needs_grad):
    """Matrix product with NumPy's rules: 1-D operands are promoted, batch axes broadcast.

    Shape: (..., N, K) @ (..., K, M) -> (..., N, M).

    Backward: ga = gy @ b^T, gb = a^T @ gy (transposing the last two axes; batch axes
    summed back to each input's shape).
    """

    def backward(gy):
        # Promote 1-D operands as the forward did, so that the rule above applies unchanged.
        a2 = a[None, :] if a.ndim == 1 else a  # (1, K)
        b2 = b[:, None] if b.ndim == 1 else b  # (K, 1)
        if b.ndim == 1:
            gy = gy[..., None]  # (..., N, 1)
        if a.ndim == 1:
            gy = gy[..., None, :]  # (..., 1, M)
        ga = gb = None
        if needs_grad[0]:
            ga = _grad_like(gy @ np.swapaxes(b2, -1, -2), a2).reshape(a.shape)
        if needs_grad[1]:
            gb = _grad_like(np.swapaxes(a2, -1, -2) @ gy, b2).reshape(b.shape)
        return ga, gb

    return np.asarray(a @ b), backward


@primitive
def dense(x, w, b=None, *, needs_grad):
    """The affine map of a dense layer, ``x @ w + b``, as one op (the bias is added in place).

    Shape: ``(..., K) @ (K, M) + (M,) -> (..., M)``.

    Backward: gx = gy @ w^T, gw = x^T @ gy and gb = the sum of gy, both over every axis of
    ``x`` but the last.

    Raises:
        ValueError: unless ``w`` is a matrix whose rows match the last axis of ``x`` and
            ``b`` (if given) has one value per column of ``w``.
    """
    x, w = np.asarray(x), np.asarray(w)
    if w.ndim != 2 or x.ndim < 1 or x.shape[-1] != w.shape[0]:
        raise ValueError(
            f"Expected `x` (..., K) and `w` (K, M). Received: x.shape={x.shape}, w.shape={w.shape}"
        )
    if b is not None and np.shape(b) != (w.shape[1],):
        raise ValueError(f"Expected `b` of shape ({w.shape[1]},). Received: b.shape={np.shape(b)}")
    y = np.asarray(x @ w)
    if b is not None:
        if np.result_type(y, b) == y.dtype:
            y += b
        else:
            y = y + b

    def backward(gy):
        rows = gy.reshape(-1, gy.shape[-1])  # (N, M), N: every position of every sample
        gx = gw = gb = None
        if needs_grad[0]:
            gx = _cast_like(gy @ w.T, x)
        if needs_grad[1]:
            gw = _cast_like(x.reshape(-1, x.shape[-1]).T @ rows, w)
        if len(needs_grad) > 2 and needs_grad[2]:
            gb = _cast_like(np.ones(len(rows), rows.dtype) @ rows, np.asarray(b))  # a GEMV
        return (gx, gw, gb)[: len(needs_grad)]

    return y, backward


# --------------------------------------------------------------------------- reductions


def _unreduce(gy, axis, keepdims):
    """``gy`` with the axes a reduction removed put back as size-1 axes."""
    return gy if axis is None or keepdims else np.expand_dims(gy, axis)


@primitive
def sum(x, *, axis=None, keepdims=False):
    """Sum over ``axis`` (an int, a tuple, or None for all axes).

    Backward: gx = gy broadcast back over the summed axes.
    """
    y = np.asarray(np.sum(x, axis=axis, keepdims=keepdims))
    return y, lambda gy: np.broadcast_to(_unreduce(gy, axis, keepdims), x.shape).copy()


@primitive
def mean(x, *, axis=None, keepdims=False):
    """Mean over ``axis`` (an int, a tuple, or None for all axes).

    Backward: gx = gy / n broadcast back over the averaged axes, n the number averaged.
    """
    y = np.asarray(np.mean(x, axis=axis, keepdims=keepdims))
    n = x.size // y.size
    return y, lambda gy: np.broadcast_to(_unreduce(gy / n, axis, keepdims), x.shape).copy()


@primitive
def var(x, *, axis=None, keepdims=False, ddof=0):
    """Variance over ``axis``: ``sum((x - mean)**2) / (n - ddof)``, n the number reduced.

    Backward: gx = gy * 2 * (x - mean) / (n - ddof) (the mean's own dependence on x
    cancels, as the deviations sum to zero).
    """
    d = x - np.mean(x, axis=axis, keepdims=True)
    y = np.asarray(np.sum(d * d, axis=axis, keepdims=keepdims))
    n = x.size // y.size
    y /= n - ddof
    return y, lambda gy: _unreduce(gy * (2 / (n - ddof)), axis, keepdims) * d


@primitive
def max(x, *, axis=None, keepdims=False):
    """Maximum over ``axis`` (an int, a tuple, or None for all axes).

    Backward: gy goes to the first argmax of each reduced slice, 0 elsewhere.

    NOTE: ties go to the first maximum (in C order over the reduced axes), as PyTorch's
    ``max(dim)`` does; its full reduction ``max()`` splits them instead.
    """
    axes = tuple(range(x.ndim)) if axis is None else tuple(np.atleast_1d(axis) % x.ndim)
    kept = tuple(i for i in range(x.ndim) if i not in axes)
    order = kept + axes
    # Move the reduced axes last and merge them, so that one argmax finds each slice's max.
    xt = x.transpose(order).reshape(*[x.shape[i] for i in kept], -1)  # (*kept, R)
    idx = np.argmax(xt, axis=-1)[..., None]  # (*kept, 1)
    y = np.take_along_axis(xt, idx, axis=-1)  # (*kept, 1)
    if keepdims:
        y = y.reshape([1 if i in axes else n for i, n in enumerate(x.shape)])
    else:
        y = y.reshape(y.shape[:-1])

    def backward(gy):
        gxt = np.zeros_like(xt)
        np.put_along_axis(gxt, idx, gy.reshape(idx.shape), axis=-1)
        gx = gxt.reshape([x.shape[i] for i in order])  # (*kept, *axes)
        return gx.transpose(np.argsort(order))

    return y, backward


# --------------------------------------------------------------------------- shapes


@primitive
def reshape(x, *, shape):
    """``x`` with a new shape of the same size (one entry may be -1).

    Backward: gx = gy reshaped to x's shape.
    """
    return x.reshape(shape), lambda gy: gy.reshape(x.shape)


def flatten(x):
    """Merge all axes but the first (a :func:`reshape`).

    Shape: (N, ...) -> (N, prod(...)).
    """
    return reshape(x, shape=(x.shape[0], int(np.prod(x.shape[1:]))))


@primitive
def transpose(x, *, axes=None):
    """Permute the axes (reverse them when ``axes`` is None), as ``np.transpose``.

    Backward: gx = gy transposed by the inverse permutation.
    """
    inverse = None if axes is None else np.argsort(np.asarray(axes) % x.ndim)
    return np.transpose(x, axes), lambda gy: np.transpose(gy, inverse)


def _is_basic(index):
    """Whether ``index`` is basic indexing (ints, slices, None, ...), which never repeats."""
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, np.integer, slice, type(None), type(Ellipsis))) for i in items)


@primitive
def getitem(x, *, index):
    """``x[index]`` for basic slicing and integer or boolean array indexing.

    Backward: gx = zeros shaped like x with gy added at ``index`` (repeated indices
    accumulate).
    """
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    y = np.asarray(x[index])

    def backward(gy):
        gx = np.zeros_like(x)
        if _is_basic(index):
            gx[index] = gy
        else:
            np.add.at(gx, index, gy)
        return gx

    return y, backward


def _split_back(parts, xs):
    """One gradient per input (a bare array for a single input), in each input's dtype."""
    grads = tuple(_cast_like(g, x) for g, x in zip(parts, xs, strict=True))
    return grads if len(grads) > 1 else grads[0]


@primitive
def concat(*xs, axis=0):
    """Join tensors along an existing ``axis``; the other axes must match.

    Backward: gy split along ``axis`` into pieces the sizes of the inputs.
    """
    bounds = np.cumsum([x.shape[axis] for x in xs[:-1]])
    y = np.concatenate(xs, axis=axis)
    return y, lambda gy: _split_back(np.split(gy, bounds, axis=axis), xs)


@primitive
def stack(*xs, axis=0):
    """Join same-shaped tensors along a new ``axis``.

    Backward: gx_i = gy indexed at i along ``axis``.
    """
    y = np.stack(xs, axis=axis)
    return y, lambda gy: _split_back(np.moveaxis(gy, axis, 0), xs)


@primitive
def pad(x, *, pad_width, constant_values=0):
    """Pad with a constant, as ``np.pad``.

    ``pad_width`` is an int, a ``(before, after)`` pair, or one such pair per axis.

    Backward: gx = gy with the padding sliced off.
    """
    widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (x.ndim, 2))
    y = np.pad(x, widths, constant_values=constant_values)
    inner = tuple(slice(lo, n - hi) for (lo, hi), n in zip(widths, y.shape, strict=True))
    return y, lambda gy: gy[inner]


# --------------------------------------------------------------------------- Tensor methods


def _reshape_method(self, *shape):
    """``x.reshape(2, -1)`` or ``x.reshape((2, -1))``."""
    return reshape(self, shape=shape[0] if len(shape) == 1 else shape)


def _transpose_method(self, *axes):
    """``x.transpose()``, ``x.transpose(1, 0)`` or ``x.transpose((1, 0))``."""
    return transpose(self, axes=(axes[0] if len(axes) == 1 else axes) or None)


def _install_tensor_methods():
    methods = {
        "__add__": add,
        "__radd__": add,
        "__sub__": subtract,
        "__rsub__": lambda self, other: subtract(other, self),
        "__mul__": multiply,
        "__rmul__": multiply,
        "__truediv__": divide,
        "__rtruediv__": lambda self, other: divide(other, self),
        "__neg__": negative,
        "__pow__": power,
        "__matmul__": matmul,
        "__rmatmul__": lambda self, other: matmul(other, self),
        "__getitem__": lambda self, index: getitem(self, index=index),
        "sum": lambda self, axis=None, keepdims=False: sum(self, axis=axis, keepdims=keepdims),
        "mean": lambda self, axis=None, keepdims=False: mean(self, axis=axis, keepdims=keepdims),
        "max": lambda self, axis=None, keepdims=False: max(self, axis=axis, keepdims=keepdims),
        "reshape": _reshape_method,
        "transpose": _transpose_method,
        "T": property(transpose),
        "flatten": flatten,
        "exp": exp,
        "log": log,
        "sqrt": sqrt,
        "abs": abs,
    }
    for name, method in methods.items():
        if callable(method) and method.__doc__ is None:
            method.__doc__ = f"The tensor's ``{name.strip('_')}``: see :func:`juanji.ops.{name}`."
        setattr(Tensor, name, method)


_install_tensor_methods()
