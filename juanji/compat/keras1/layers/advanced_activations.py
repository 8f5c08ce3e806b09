"""``keras.layers.advanced_activations``: PReLU and LeakyReLU with Keras 1's arguments."""

from juanji import layers
from juanji.compat.keras1.layers.base import LegacyLayer, layer_kwargs
from juanji.compat.keras1.legacy import initializer
from juanji.layers import ELU


class PReLU(LegacyLayer, layers.PReLU):
    """Keras 1's ``PReLU(init='zero')``: one learned slope per input element (or shared
    along ``shared_axes``).

    Example:
        >>> PReLU()(np.zeros((2, 3, 4, 4), np.float32)).shape
        (2, 3, 4, 4)
    """

    renamed = {"init": "alpha_initializer"}

    @staticmethod
    def translate(*, init="zero", shared_axes=None, **layer_args):
        """Keras 1 arguments -> ``juanji.layers.PReLU`` arguments."""
        return {
            "alpha_initializer": initializer(init),
            "shared_axes": shared_axes,
            **layer_kwargs(**layer_args),
        }


class LeakyReLU(LegacyLayer, layers.LeakyReLU):
    """Keras 1's ``LeakyReLU(alpha=0.3)``: ``x`` if positive, else ``alpha * x``.

    Example:
        >>> LeakyReLU(alpha=0.5).negative_slope
        0.5
    """

    renamed = {"alpha": "negative_slope"}

    @staticmethod
    def translate(alpha=0.3, **layer_args):
        """Keras 1 arguments -> ``juanji.layers.LeakyReLU`` arguments."""
        return {"negative_slope": alpha, **layer_kwargs(**layer_args)}


__all__ = ["ELU", "LeakyReLU", "PReLU"]
