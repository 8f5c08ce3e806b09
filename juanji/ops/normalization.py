"""Batch normalisation over every axis but the last (channels_last)."""

import numbers

import numpy as np

from juanji import backend
from juanji.autograd import Tensor, primitive

__all__ = ["batch_norm"]


def _channel_array(value, name, n_channels):
    """``value`` (a float array or Tensor of shape ``(C,)``) as an ndarray, or None."""
    if value is None:
        return None
    array = value.data if isinstance(value, Tensor) else value
    if not isinstance(array, np.ndarray) or array.dtype.kind != "f" or array.shape != (n_channels,):
        raise ValueError(
            f"Expected `{name}` as a float array of shape ({n_channels},). Received: {name}="
            f"{type(value).__name__}(shape={getattr(array, 'shape', None)}, "
            f"dtype={getattr(array, 'dtype', None)})"
        )
    return array


def _check_hyper_parameters(momentum, epsilon):
    if not isinstance(momentum, numbers.Real) or not 0 <= momentum <= 1:
        raise ValueError(f"Expected `momentum` in [0, 1]. Received: momentum={momentum!r}")
    if not isinstance(epsilon, numbers.Real) or not epsilon > 0:
        raise ValueError(f"Expected a positive `epsilon`. Received: epsilon={epsilon!r}")


@primitive
def batch_norm(
    x,
    gamma,
    beta,
    *,
    training,
    running_mean=None,
    running_var=None,
    momentum=0.99,
    epsilon=1e-3,
    needs_grad,
):
    """``gamma * (x - mean) / sqrt(var + epsilon) + beta`` per channel.

    In training the mean and (biased) variance are those of the batch, over every axis but
    the last, and ``running_mean``/``running_var`` (when given) are updated in place:
    ``running = momentum * running + (1 - momentum) * batch_statistic``. In inference the
    running statistics are used and nothing is updated.

    Args:
        x: inputs ``(N, C)`` or ``(N, H, W, C)`` (any ``(N, ..., C)``).
        gamma: scale ``(C,)``, or None for 1.
        beta: offset ``(C,)``, or None for 0.
        training: use (and record) batch statistics rather than the running ones.
        running_mean, running_var: ``(C,)`` float arrays (or Tensors); required in inference.
        momentum: the weight of the old running value in each update, as in Keras.
        epsilon: added to the variance.

    Returns:
        A Tensor shaped like ``x``.

    Raises:
        ValueError: on a parameter of the wrong shape, missing running statistics in
            inference, or ``momentum``/``epsilon`` out of range.

    Backward: with ``x_hat`` the normalised input, M the number of values per channel and
    sums over all axes but the last: gbeta = sum(gy), ggamma = sum(gy * x_hat),
    gx = gamma / sqrt(var + epsilon) / M * (M * gy - gbeta - x_hat * ggamma) in training,
    gx = gamma / sqrt(running_var + epsilon) * gy in inference.
    """
    x = backend.as_float_array(x, "x")
    if x.ndim < 2:
        raise ValueError(f"Expected `x` of shape (N, ..., C). Received: x.shape={x.shape}")
    n_channels = x.shape[-1]
    gamma = _channel_array(gamma, "gamma", n_channels)
    beta = _channel_array(beta, "beta", n_channels)
    running_mean = _channel_array(running_mean, "running_mean", n_channels)
    running_var = _channel_array(running_var, "running_var", n_channels)
    _check_hyper_parameters(momentum, epsilon)
    axes = tuple(range(x.ndim - 1))
    if training:
        mean = x.mean(axis=axes)
        centred = x - mean
        var = np.mean(centred * centred, axis=axes)
        # NOTE: the running variance tracks the biased batch variance, as Keras does
        # (PyTorch tracks the unbiased one, scaled by M / (M - 1)).
        for running, batch in ((running_mean, mean), (running_var, var)):
            if running is not None:
                running[...] = momentum * running + (1 - momentum) * batch
    elif running_mean is None or running_var is None:
        raise ValueError(
            "Expected `running_mean` and `running_var` in inference (training=False). "
            f"Received: running_mean={running_mean!r}, running_var={running_var!r}"
        )
    else:
        centred = x - running_mean.astype(x.dtype, copy=False)
        var = running_var.astype(x.dtype, copy=False)
    inv_std = 1 / np.sqrt(var + epsilon)  # (C,)
    x_hat = centred * inv_std
    y = x_hat if gamma is None else x_hat * gamma
    if beta is not None:
        y = y + beta

    def backward(gy):
        g_hat = gy if gamma is None else gy * gamma  # dL/dx_hat
        ggamma = np.sum(gy * x_hat, axis=axes) if needs_grad[1] else None
        gbeta = np.sum(gy, axis=axes) if needs_grad[2] else None
        if not needs_grad[0]:
            gx = None
        elif training:
            m = x_hat.size // n_channels
            gx = (inv_std / m) * (
                m * g_hat - g_hat.sum(axis=axes) - x_hat * np.sum(g_hat * x_hat, axis=axes)
            )
        else:
            gx = g_hat * inv_std
        return gx, ggamma, gbeta

    return y, backward
