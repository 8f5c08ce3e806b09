"""Weight penalties added to the training loss, with Keras's names and scaling.

``regularizer(weight)`` returns a differentiable scalar Tensor. The names ``"l1"``, ``"l2"``
and ``"l1_l2"`` resolve with ``registry.get("regularizer", name)`` to the classes with their
default coefficients.
"""

import math
import numbers

from juanji.ops.losses import l1_l2_penalty, l1_penalty, l2_penalty
from juanji.registry import register

__all__ = ["Regularizer", "L1", "L2", "L1L2"]


def _coefficient(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"Expected a non-negative float `{name}`. Received: {name}={value!r}")
    if not math.isfinite(value):
        raise ValueError(f"Expected a finite `{name}`. Received: {name}={value!r}")
    return float(value)


class Regularizer:
    """Base class: ``__call__(weight)`` returns a scalar Tensor; configs are JSON."""

    def __call__(self, weight):
        raise NotImplementedError

    def get_config(self):
        """The constructor's arguments as JSON values: ``type(self)(**get_config())`` is a copy."""
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@register("regularizer", "l1")
class L1(Regularizer):
    """``l1 * sum(|w|)``.

    Example:
        >>> L1(0.5)(np.array([1.0, -2.0])).item()
        1.5
    """

    def __init__(self, l1=0.01):
        self.l1 = _coefficient("l1", l1)

    def __call__(self, weight):
        return l1_penalty(weight, l1=self.l1)

    def get_config(self):
        return {"l1": self.l1}


@register("regularizer", "l2")
class L2(Regularizer):
    """``l2 * sum(w ** 2)`` (no factor 1/2, as in Keras).

    Example:
        >>> L2(0.5)(np.array([1.0, -2.0])).item()
        2.5
    """

    def __init__(self, l2=0.01):
        self.l2 = _coefficient("l2", l2)

    def __call__(self, weight):
        return l2_penalty(weight, l2=self.l2)

    def get_config(self):
        return {"l2": self.l2}


@register("regularizer", "l1_l2")
class L1L2(Regularizer):
    """``l1 * sum(|w|) + l2 * sum(w ** 2)``; both coefficients default to 0, as in Keras.

    Example:
        >>> L1L2(l1=0.5, l2=0.5)(np.array([1.0, -2.0])).item()
        4.0
    """

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _coefficient("l1", l1)
        self.l2 = _coefficient("l2", l2)

    def __call__(self, weight):
        return l1_l2_penalty(weight, l1=self.l1, l2=self.l2)

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}
