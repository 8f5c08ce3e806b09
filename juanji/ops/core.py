"""Keras 3's ``keras.ops`` names for shapes, dtypes and conversions, over the math ops.

``expand_dims`` and ``squeeze`` are reshapes and ``concatenate`` is :func:`concat` of a list,
so their gradients are those ops'; ``cast`` passes gradients back in the input's dtype;
``shape``, ``argmax`` and the conversions give values, not differentiable results.
"""

import numpy as np

from juanji import backend
from juanji.autograd import Tensor, primitive
from juanji.ops.math import concat, reshape

__all__ = [
    "argmax",
    "cast",
    "concatenate",
    "convert_to_numpy",
    "convert_to_tensor",
    "expand_dims",
    "ones",
    "shape",
    "squeeze",
    "zeros",
]


def expand_dims(x, axis):
    """``x`` with a new axis of size 1 at ``axis`` (a :func:`reshape`)."""
    return reshape(x, shape=np.expand_dims(np.empty(x.shape, np.bool_), axis).shape)


def squeeze(x, axis=None):
    """``x`` without its size-1 axes (or only ``axis``), as ``np.squeeze`` (a :func:`reshape`)."""
    return reshape(x, shape=np.squeeze(np.empty(x.shape, np.bool_), axis).shape)


def shape(x):
    """The shape of ``x`` as a tuple of ints."""
    return tuple(np.shape(x.data if isinstance(x, Tensor) else x))


@primitive
def _cast(x, *, dtype):
    """Backward: gx = gy cast to x's dtype."""
    return np.asarray(x).astype(dtype), lambda gy: gy.astype(np.asarray(x).dtype)


def cast(x, dtype):
    """``x`` converted to ``dtype``; a float result passes gradients back in ``x``'s dtype."""
    return _cast(x, dtype=np.dtype(dtype))


def convert_to_tensor(x, dtype=None):
    """``x`` (an array, a number or a Tensor) as a Tensor, cast to ``dtype`` if given."""
    t = x if isinstance(x, Tensor) else Tensor(x)
    return t if dtype is None or t.dtype == np.dtype(dtype) else cast(t, dtype)


def ones(shape, dtype=None):
    """A Tensor of ones of ``shape`` (``backend.floatx()`` unless ``dtype`` is given)."""
    return Tensor(np.ones(shape, dtype or backend.floatx()))


def zeros(shape, dtype=None):
    """A Tensor of zeros of ``shape`` (``backend.floatx()`` unless ``dtype`` is given)."""
    return Tensor(np.zeros(shape, dtype or backend.floatx()))


def convert_to_numpy(x):
    """The array held by ``x`` (a Tensor), or ``x`` as an array."""
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def argmax(x, axis=-1):
    """The index of the largest entry along ``axis``: an integer Tensor, not differentiable."""
    return Tensor(np.argmax(x.data if isinstance(x, Tensor) else x, axis=axis))


def concatenate(xs, axis=-1):
    """Keras's ``concatenate(xs, axis)``: :func:`concat` of the list ``xs``."""
    return concat(*xs, axis=axis)
