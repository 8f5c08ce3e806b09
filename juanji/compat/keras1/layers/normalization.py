"""``keras.layers.normalization``: BatchNormalization in Keras 1's mode 0 (feature-wise)."""

from juanji import layers
from juanji.compat.keras1.layers.base import LegacyLayer, layer_kwargs
from juanji.compat.keras1.legacy import initializer


class BatchNormalization(LegacyLayer, layers.BatchNormalization):
    """Keras 1's ``BatchNormalization(epsilon=1e-3, mode=0, axis=-1, momentum=0.99)``.

    Only ``mode=0`` (batch statistics in training, running ones in inference) exists here,
    and, as in juanji, only ``axis=-1``.

    Example:
        >>> BatchNormalization(mode=0, input_shape=(8,)).epsilon
        0.001
    """

    renamed = {"beta_init": "beta_initializer", "gamma_init": "gamma_initializer"}
    no_effect = {"mode": (0,), "gamma_regularizer": (None,), "beta_regularizer": (None,)}

    @staticmethod
    def translate(
        *, epsilon=1e-3, axis=-1, momentum=0.99, beta_init="zero", gamma_init="one", **layer_args
    ):
        """Keras 1 arguments -> ``juanji.layers.BatchNormalization`` arguments."""
        return {
            "axis": axis,
            "momentum": momentum,
            "epsilon": epsilon,
            "beta_initializer": initializer(beta_init, "beta_init"),
            "gamma_initializer": initializer(gamma_init, "gamma_init"),
            **layer_kwargs(**layer_args),
        }


__all__ = ["BatchNormalization"]
