"""Keras 3's ``keras.activations``: activation functions by name, on Tensors.

Every function of :mod:`juanji.ops.activations` under its Keras name, and the few more that
Keras has, composed from them (their gradients follow by the chain rule). ``get(name)``
finds one by name as layers do; ``serialize(fn)`` gives the name back.

Example:
    >>> import numpy as np
    >>> relu6(np.array([-1.0, 3.0, 9.0], np.float32)).numpy()
    array([0., 3., 6.], dtype=float32)
    >>> get("swish") is silu
    True
"""

from juanji import ops, registry
from juanji.autograd import as_tensor
from juanji.ops.activations import (
    elu,
    gelu,
    hard_sigmoid,
    leaky_relu,
    linear,
    log_softmax,
    selu,
    sigmoid,
    silu,
    softmax,
    softplus,
    softsign,
    tanh,
)

__all__ = [
    "elu",
    "exponential",
    "gelu",
    "get",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "leaky_relu",
    "linear",
    "log_sigmoid",
    "log_softmax",
    "mish",
    "relu",
    "relu6",
    "selu",
    "serialize",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "softsign",
    "swish",
    "tanh",
]

swish = silu


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras's ``relu``: ``x`` above ``threshold`` (capped at ``max_value``), else
    ``negative_slope * (x - threshold)``; with the defaults, ``max(x, 0)``."""
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return ops.relu(x)
    x = as_tensor(x)
    shifted = x - threshold
    y = ops.where(shifted.data > 0, x, shifted * negative_slope)
    return y if max_value is None else ops.minimum(y, max_value)


@registry.register("activation")
def relu6(x):
    """``min(max(x, 0), 6)``. Shape: any -> same."""
    return ops.minimum(ops.relu(x), 6.0)


@registry.register("activation")
def exponential(x):
    """``exp(x)``. Shape: any -> same."""
    return ops.exp(x)


@registry.register("activation")
def mish(x):
    """``x * tanh(softplus(x))`` (Misra, 2019). Shape: any -> same."""
    return as_tensor(x) * tanh(softplus(x))


@registry.register("activation", "hard_swish")
def hard_silu(x):
    """``x * hard_sigmoid(x)`` = ``x * relu6(x + 3) / 6``. Shape: any -> same."""
    return as_tensor(x) * hard_sigmoid(x)


hard_swish = hard_silu


@registry.register("activation")
def log_sigmoid(x):
    """``log(sigmoid(x)) = -softplus(-x)``, stable for any ``x``. Shape: any -> same."""
    return -softplus(-as_tensor(x))


def get(identifier):
    """The activation function named ``identifier`` (a callable or None passes through).

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    return registry.get("activation", identifier)


def serialize(fn):
    """The name of the activation function ``fn``, for configs."""
    return fn.__name__
