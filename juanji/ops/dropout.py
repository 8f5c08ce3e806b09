"""Inverted dropout."""

import numbers

import numpy as np

from juanji import backend
from juanji.autograd import primitive

__all__ = ["dropout"]


def _mask_shape(x_shape, noise_shape):
    """The shape of the random mask: ``noise_shape`` with None entries taken from ``x``."""
    if noise_shape is None:
        return x_shape
    fits = len(noise_shape) == len(x_shape) and all(
        s in (None, 1, n) for s, n in zip(noise_shape, x_shape, strict=True)
    )
    if not fits:
        raise ValueError(
            f"Expected `noise_shape` broadcastable to x.shape={x_shape} (each entry 1, None "
            f"or the size of x). Received: noise_shape={noise_shape!r}"
        )
    return tuple(n if s is None else s for s, n in zip(noise_shape, x_shape, strict=True))


@primitive
def dropout(x, *, rate, training=True, noise_shape=None, rng=None):
    """Zero each unit with probability ``rate`` and scale the kept ones by ``1 / (1 - rate)``.

    The scaling keeps the expected value of every unit, so inference needs no change: when
    ``training`` is false (or ``rate`` is 0) the op is the identity.

    Args:
        x: inputs, any shape.
        rate: the fraction of units to drop, in [0, 1).
        training: drop units only when true.
        noise_shape: the shape of the mask, broadcast over ``x`` (e.g. ``(N, 1, 1, C)``
            drops whole feature maps); None entries take ``x``'s size. Default ``x.shape``.
        rng: a ``numpy.random.Generator``; default the shared one of ``juanji.backend``, so
            ``juanji.set_seed`` makes the masks repeatable.

    Returns:
        A Tensor shaped like ``x``.

    Raises:
        ValueError: if ``rate`` is outside [0, 1) or ``noise_shape`` does not fit ``x``.
        TypeError: if ``rng`` is not a Generator.

    Backward: gx = gy * mask / (1 - rate), with the forward pass's mask.
    """
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate < 1:
        raise ValueError(f"Expected `rate` in [0, 1). Received: rate={rate!r}")
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"Expected `rng` to be a numpy.random.Generator. Received: rng={type(rng).__name__}"
        )
    x = backend.as_float_array(x, "x")
    shape = _mask_shape(x.shape, noise_shape)
    if not training or rate == 0:
        return x, lambda gy: gy
    rng = backend.rng() if rng is None else rng
    keep = rng.random(shape, dtype=np.float32) >= rate
    mask = keep.astype(x.dtype) / x.dtype.type(1 - rate)

    def backward(gy):
        return gy * mask

    return x * mask, backward
