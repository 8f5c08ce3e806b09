"""Random draws as Keras 3's ``keras.random``: seeded normal, uniform, integers, shuffles,
dropout.

``seed`` may be None (the shared Generator of :mod:`juanji.backend`, so ``juanji.set_seed``
repeats a run), an int (the same draw every call, as Keras's integer seeds), a
:class:`SeedGenerator` (a new draw every call, repeatable from its own seed), or a
``numpy.random.Generator``.

Example:
    >>> gen = SeedGenerator(1337)
    >>> normal((2, 3), seed=gen).shape
    (2, 3)
    >>> bool((uniform((4,), seed=7).numpy() == uniform((4,), seed=7).numpy()).all())
    True
"""

import numbers

import numpy as np

from juanji import backend
from juanji.autograd import Tensor, as_tensor

__all__ = [
    "SeedGenerator",
    "dropout",
    "normal",
    "randint",
    "shuffle",
    "truncated_normal",
    "uniform",
]


class SeedGenerator:
    """A source of seeds of its own: each draw that takes it advances it.

    Args:
        seed: an int that makes the sequence of draws repeatable; None for an unseeded one.
    """

    def __init__(self, seed=None):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise TypeError(f"Expected an int seed or None. Received: seed={seed!r}")
        self.seed = seed
        self.generator = np.random.default_rng(seed)

    def get_config(self):
        """``{"seed": seed}``: what rebuilds this generator's sequence from the start."""
        return {"seed": self.seed}


def _generator(seed):
    if seed is None:
        return backend.rng()
    if isinstance(seed, SeedGenerator):
        return seed.generator
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        return np.random.default_rng(int(seed))
    raise TypeError(
        f"Expected seed None, an int, a SeedGenerator or a numpy Generator. Received: {seed!r}"
    )


def _float_dtype(dtype):
    dtype = np.dtype(dtype or backend.floatx())
    if dtype.kind != "f":
        raise ValueError(f"Expected a floating-point dtype. Received: dtype={dtype}")
    return dtype


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """A Tensor of ``shape`` drawn from the normal distribution N(mean, stddev**2)."""
    draw = _generator(seed).normal(mean, stddev, size=tuple(shape))
    return Tensor(draw.astype(_float_dtype(dtype)))


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal draws redrawn until within two standard deviations of ``mean``, as Keras."""
    rng = _generator(seed)
    draw = rng.standard_normal(size=tuple(shape))
    outside = np.abs(draw) > 2
    while outside.any():
        draw[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(draw) > 2
    return Tensor((mean + stddev * draw).astype(_float_dtype(dtype)))


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """A Tensor of ``shape`` drawn uniformly from ``[minval, maxval)``."""
    draw = _generator(seed).uniform(minval, maxval, size=tuple(shape))
    return Tensor(draw.astype(_float_dtype(dtype)))


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """A Tensor of ``shape`` of integers drawn uniformly from ``[minval, maxval)``."""
    return Tensor(_generator(seed).integers(minval, maxval, size=tuple(shape), dtype=dtype))


def shuffle(x, axis=0, seed=None):
    """``x`` with its entries along ``axis`` in a random order (a new Tensor)."""
    data = np.asarray(x.data if isinstance(x, Tensor) else x)
    order = _generator(seed).permutation(data.shape[axis])
    return Tensor(np.take(data, order, axis=axis))


def dropout(inputs, rate, noise_shape=None, seed=None):
    """``inputs`` with each unit zeroed with probability ``rate`` and the rest scaled by
    ``1 / (1 - rate)`` (differentiable in ``inputs``).

    Args:
        inputs: a Tensor or array.
        rate: the fraction dropped, in [0, 1).
        noise_shape: the mask's shape, broadcast over ``inputs`` (None: ``inputs.shape``).
        seed: see the module's docstring.

    Raises:
        ValueError: if ``rate`` is outside [0, 1).
    """
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate < 1:
        raise ValueError(f"Expected `rate` in [0, 1). Received: rate={rate!r}")
    x = as_tensor(inputs)
    shape = x.shape if noise_shape is None else tuple(noise_shape)
    keep = _generator(seed).random(shape, dtype=np.float32) >= rate
    mask = keep.astype(x.dtype) / x.dtype.type(1 - rate)
    return x * mask
