"""Building blocks of the op test tables: a case record and input samplers."""

import typing
from collections.abc import Callable

import numpy as np


class Case(typing.NamedTuple):
    """One op under test: ``op(*sample(rng, dtype), **kwargs)`` should match ``torch_fn``."""

    name: str
    op: Callable
    sample: Callable  # (rng, dtype) -> list of positional inputs
    kwargs: dict
    torch_fn: Callable  # takes the same positional inputs as torch tensors


def sampler(draw):
    """A sampler factory: each shape tuple becomes an array from ``draw(rng, shape)``; any
    other spec (a number, a boolean mask) is passed through unchanged."""

    def make(*specs):
        def sample(rng, dtype):
            return [np.asarray(draw(rng, s), dtype) if isinstance(s, tuple) else s for s in specs]

        return sample

    return make


def away_from(*kinks, scale=2.0):
    """Normal draws pushed at least 0.1 away from each kink, where gradients jump."""

    def draw(rng, shape):
        x = scale * rng.standard_normal(shape)
        for k in kinks:
            x = np.where(np.abs(x - k) < 0.1, x + 0.2, x)
        return x

    return sampler(draw)


def joined(*samplers):
    """The inputs of several samplers, in order."""
    return lambda rng, dtype: [a for s in samplers for a in s(rng, dtype)]


normal = sampler(lambda rng, shape: rng.standard_normal(shape))
