"""``keras.layers.convolutional``: Convolution2D and the 2-D poolings, channels first by default.

Keras 1's ``dim_ordering`` becomes juanji's ``data_format`` (``'th'``: ``channels_first``;
``'default'``: :func:`juanji.compat.keras1.backend.image_dim_ordering`). Kernels keep
juanji's layout ``(KH, KW, C, F)`` in ``get_weights()`` whatever the ordering.
"""

from juanji import layers
from juanji.compat.keras1.backend import data_format
from juanji.compat.keras1.layers.base import WEIGHTED_NO_EFFECT, LegacyLayer, layer_kwargs
from juanji.compat.keras1.legacy import activation_arg, initializer


class Convolution2D(LegacyLayer, layers.Conv2D):
    """Keras 1's ``Convolution2D(nb_filter, nb_row, nb_col, border_mode=..., subsample=...)``.

    Builds ``juanji.layers.Conv2D(nb_filter, (nb_row, nb_col), padding=border_mode,
    strides=subsample, data_format=...)``.

    Example:
        >>> conv = Convolution2D(4, 5, 5, border_mode="valid", input_shape=(1, 28, 28))
        >>> conv(np.zeros((2, 1, 28, 28), np.float32)).shape
        (2, 4, 24, 24)
    """

    renamed = {
        "border_mode": "padding",
        "subsample": "strides",
        "dim_ordering": "data_format",
        "init": "kernel_initializer",
        "bias": "use_bias",
        "W_regularizer": "kernel_regularizer",
        "b_regularizer": "bias_regularizer",
    }
    no_effect = WEIGHTED_NO_EFFECT

    @staticmethod
    def translate(
        nb_filter,
        nb_row,
        nb_col,
        *,
        init="glorot_uniform",
        activation=None,
        border_mode="valid",
        subsample=(1, 1),
        dim_ordering="default",
        W_regularizer=None,
        b_regularizer=None,
        bias=True,
        **layer_args,
    ):
        """Keras 1 arguments -> ``juanji.layers.Conv2D`` arguments."""
        return {
            "filters": nb_filter,
            "kernel_size": (nb_row, nb_col),
            "strides": tuple(subsample),
            "padding": border_mode,
            "data_format": data_format(dim_ordering),
            "activation": activation_arg(activation),
            "use_bias": bias,
            "kernel_initializer": initializer(init),
            "kernel_regularizer": W_regularizer,
            "bias_regularizer": b_regularizer,
            **layer_kwargs(**layer_args),
        }


def _pooling_args(
    pool_size=(2, 2), strides=None, border_mode="valid", dim_ordering="default", **layer_args
):
    """Keras 1 pooling arguments -> juanji's."""
    return {
        "pool_size": tuple(pool_size),
        "strides": None if strides is None else tuple(strides),
        "padding": border_mode,
        "data_format": data_format(dim_ordering),
        **layer_kwargs(**layer_args),
    }


_POOLING_RENAMED = {"border_mode": "padding", "dim_ordering": "data_format"}


class MaxPooling2D(LegacyLayer, layers.MaxPooling2D):
    """Keras 1's ``MaxPooling2D(pool_size=(2, 2), strides=None, border_mode='valid')``.

    Example:
        >>> MaxPooling2D(pool_size=(2, 2))(np.zeros((1, 8, 6, 6), np.float32)).shape
        (1, 8, 3, 3)
    """

    renamed = _POOLING_RENAMED
    translate = staticmethod(_pooling_args)


class AveragePooling2D(LegacyLayer, layers.AveragePooling2D):
    """Keras 1's ``AveragePooling2D(pool_size=(2, 2), strides=None, border_mode='valid')``."""

    renamed = _POOLING_RENAMED
    translate = staticmethod(_pooling_args)


__all__ = ["AveragePooling2D", "Convolution2D", "MaxPooling2D"]
