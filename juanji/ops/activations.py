"""Activation functions, registered under their Keras names for ``get("activation", name)``.

Each is stable for large ``|x|``: nothing overflows or turns into NaN at ``x = +-1000`` in
float32 or float64 (results may underflow to exactly 0, which is their correct value).
"""

import math

import numpy as np

from juanji import backend, parallel
from juanji.autograd import primitive, unbroadcast
from juanji.registry import register


def _expit(x):
    """SciPy's exact logistic function, imported on first use (``import juanji`` stays fast:
    scipy.special takes ~0.1-0.2 s to import)."""
    from scipy.special import expit

    return expit(x)


def _ndtr(x):
    """The standard normal CDF, imported on first use like :func:`_expit`."""
    from scipy.special import ndtr

    return ndtr(x)


__all__ = [
    "elu",
    "gelu",
    "hard_sigmoid",
    "leaky_relu",
    "linear",
    "log_softmax",
    "prelu",
    "relu",
    "selu",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "softsign",
    "tanh",
]

# Klambauer et al. (2017), "Self-Normalizing Neural Networks".
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)  # a Python float, so float32 stays float32


@register("activation")
@primitive
def linear(x):
    """The identity.

    Backward: gx = gy.
    """
    return x, lambda gy: gy


@register("activation")
@primitive
def sigmoid(x):
    """Elementwise ``1 / (1 + exp(-x))``.

    Backward: gx = gy * y * (1 - y).
    """
    y = np.asarray(_expit(x))
    return y, lambda gy: gy * y * (1 - y)


@register("activation")
@primitive
def tanh(x):
    """Elementwise hyperbolic tangent.

    Backward: gx = gy * (1 - y**2).
    """
    y = _elementwise(np.tanh, x)

    def backward(gy):
        gx = np.empty(y.shape, np.result_type(y, gy))  # the one array, updated in place
        return parallel.batchwise(_tanh_grad, gx, y, gy)

    return y, backward


def _tanh_grad(y, gy, gx):
    np.multiply(y, y, out=gx)
    np.subtract(1, gx, out=gx)
    gx *= gy


@register("activation")
@primitive
def relu(x):
    """Elementwise ``max(x, 0)``.

    Backward: gx = gy where x > 0, else 0.
    """

    def backward(gy):
        gx = np.empty(x.shape, np.result_type(gy, x))
        return parallel.batchwise(lambda gy, x, gx: np.multiply(gy, x > 0, out=gx), gx, gy, x)

    return _elementwise(lambda x, y: np.maximum(x, 0, out=y), x), backward


def _elementwise(fn, x):
    """``y`` shaped like ``x`` (a float array, or numbers as floatx) filled by ``fn(x, y)``,
    a batch range at a time on the worker threads (see :func:`parallel.batchwise`).

    Raises:
        TypeError: for an integer or boolean array.
    """
    x = backend.as_float_array(x)
    return parallel.batchwise(fn, np.empty_like(x), x)


@register("activation")
@primitive
def leaky_relu(x, *, negative_slope=0.2):
    """Elementwise ``x`` where ``x > 0``, else ``negative_slope * x`` (Keras's default 0.2).

    Backward: gx = gy where x > 0, else gy * negative_slope.
    """
    positive = x > 0
    y = np.asarray(np.where(positive, x, negative_slope * x))
    return y, lambda gy: np.where(positive, gy, negative_slope * gy)


def _elu_and_slope(x, alpha):
    """ELU and its derivative: ``x`` and 1 for ``x > 0``, else ``alpha * (e**x - 1)`` and
    ``alpha * e**x``."""
    positive = x > 0
    # exp only of the non-positive part, so that large x cannot overflow.
    negative = alpha * np.expm1(np.minimum(x, 0))
    return np.where(positive, x, negative), np.where(positive, 1, negative + alpha)


@register("activation")
@primitive
def elu(x, *, alpha=1.0):
    """Exponential linear unit: ``x`` where ``x > 0``, else ``alpha * (exp(x) - 1)``.

    Backward: gx = gy where x > 0, else gy * (y + alpha).
    """
    y, slope = _elu_and_slope(x, alpha)
    return y, lambda gy: gy * slope


@register("activation")
@primitive
def selu(x):
    """Scaled ELU: ``scale * elu(x, alpha)`` with the self-normalising constants
    ``alpha ~ 1.6733`` and ``scale ~ 1.0507``.

    Backward: gx = gy * scale where x > 0, else gy * (y + scale * alpha).
    """
    y, slope = _elu_and_slope(x, _SELU_ALPHA)
    return _SELU_SCALE * y, lambda gy: gy * (_SELU_SCALE * slope)


@register("activation")
@primitive
def softplus(x):
    """Elementwise ``log(1 + exp(x))``, computed as ``logaddexp(0, x)``.

    Backward: gx = gy * sigmoid(x).
    """
    return np.asarray(np.logaddexp(0, x)), lambda gy: gy * _expit(x)


@register("activation")
@primitive
def softsign(x):
    """Elementwise ``x / (1 + |x|)``.

    Backward: gx = gy / (1 + |x|)**2.
    """
    d = 1 + np.abs(x)
    return np.asarray(x / d), lambda gy: gy / (d * d)


@register("activation", "swish")
@primitive
def silu(x):
    """Sigmoid-weighted linear unit (swish): ``x * sigmoid(x)``.

    Backward: gx = gy * s * (1 + x * (1 - s)), s = sigmoid(x).
    """
    s = _expit(x)
    return np.asarray(x * s), lambda gy: gy * s * (1 + x * (1 - s))


@register("activation")
@primitive
def gelu(x):
    """Gaussian error linear unit, exact: ``x * Phi(x)``, Phi the standard normal CDF.

    NOTE: the exact form (PyTorch's default); Keras's default is the tanh approximation.

    Backward: gx = gy * (Phi(x) + x * phi(x)), phi(x) = exp(-x**2 / 2) / sqrt(2 * pi).
    """
    cdf = _ndtr(x)

    def backward(gy):
        pdf = np.exp(-0.5 * x * x) * _INV_SQRT_2PI
        return gy * (cdf + x * pdf)

    return np.asarray(x * cdf), backward


@register("activation")
@primitive
def hard_sigmoid(x):
    """Piecewise-linear sigmoid (Keras 3): ``relu6(x + 3) / 6``.

    Backward: gx = gy / 6 where -3 < x < 3, else 0.
    """
    y = np.asarray(np.clip(x / 6 + 0.5, 0, 1))
    return y, lambda gy: gy * (np.abs(x) < 3) / 6


@primitive
def prelu(x, alpha, *, needs_grad):
    """Leaky ReLU with a learnable slope: ``x`` where ``x > 0``, else ``alpha * x``.

    Shape: x (N, ..., C); alpha broadcast against x, e.g. (C,) or (H, W, C).

    Backward: gx = gy where x > 0, else gy * alpha; galpha = sum of gy * x where x <= 0.
    """
    positive = x > 0
    y = np.asarray(np.where(positive, x, alpha * x))

    def backward(gy):
        gx = galpha = None
        if needs_grad[0]:
            gx = np.where(positive, gy, alpha * gy).astype(x.dtype, copy=False)
        if needs_grad[1]:
            galpha = unbroadcast(np.where(positive, 0, gy * x), alpha.shape).astype(alpha.dtype)
        return gx, galpha

    return y, backward


@register("activation")
@primitive
def softmax(x, *, axis=-1):
    """``exp(x) / sum(exp(x))`` along ``axis``, shifted by the max so exp cannot overflow.

    Backward: gx = y * (gy - sum(gy * y, axis)).
    """
    y = np.subtract(x, np.max(x, axis=axis, keepdims=True))  # one array, updated in place
    np.exp(y, out=y)
    y /= np.add.reduce(y, axis=axis, keepdims=True)
    return y, lambda gy: y * (gy - np.sum(gy * y, axis=axis, keepdims=True))


@register("activation")
@primitive
def log_softmax(x, *, axis=-1):
    """``x - logsumexp(x)`` along ``axis``, computed stably.

    Backward: gx = gy - exp(y) * sum(gy, axis).
    """
    z = x - np.max(x, axis=axis, keepdims=True)
    y = z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))
    return y, lambda gy: gy - np.exp(y) * np.sum(gy, axis=axis, keepdims=True)
