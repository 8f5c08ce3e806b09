"""``keras.layers.core``: Dense, Dropout, and the layers whose Keras 1 form is juanji's."""

from juanji import layers
from juanji.compat.keras1.layers.base import WEIGHTED_NO_EFFECT, LegacyLayer, layer_kwargs
from juanji.compat.keras1.legacy import activation_arg, initializer
from juanji.layers import Activation, Flatten, Reshape


class Dense(LegacyLayer, layers.Dense):
    """Keras 1's ``Dense(output_dim, init=..., activation=..., input_dim=...)``.

    Builds ``juanji.layers.Dense(units=output_dim, kernel_initializer=..., ...)``.

    Example:
        >>> Dense(10, init="normal", input_dim=64).kernel_initializer
        'random_normal'
    """

    renamed = {
        "output_dim": "units",
        "init": "kernel_initializer",
        "bias": "use_bias",
        "W_regularizer": "kernel_regularizer",
        "b_regularizer": "bias_regularizer",
    }
    no_effect = WEIGHTED_NO_EFFECT

    @staticmethod
    def translate(
        output_dim,
        *,
        init="glorot_uniform",
        activation=None,
        W_regularizer=None,
        b_regularizer=None,
        bias=True,
        **layer_args,
    ):
        """Keras 1 arguments -> ``juanji.layers.Dense`` arguments."""
        return {
            "units": output_dim,
            "activation": activation_arg(activation),
            "use_bias": bias,
            "kernel_initializer": initializer(init),
            "kernel_regularizer": W_regularizer,
            "bias_regularizer": b_regularizer,
            **layer_kwargs(**layer_args),
        }


class Dropout(LegacyLayer, layers.Dropout):
    """Keras 1's ``Dropout(p)``: drops a fraction ``p`` in training (``Dropout(rate=p)``).

    Example:
        >>> Dropout(p=0.25).rate
        0.25
    """

    renamed = {"p": "rate"}

    @staticmethod
    def translate(p, **layer_args):
        """Keras 1 arguments -> ``juanji.layers.Dropout`` arguments."""
        return {"rate": p, **layer_kwargs(**layer_args)}


__all__ = ["Activation", "Dense", "Dropout", "Flatten", "Reshape"]
