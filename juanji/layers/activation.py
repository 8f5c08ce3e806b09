"""Activation layers with their own parameters: PReLU, LeakyReLU, ReLU, ELU, Softmax."""

from juanji import ops, registry
from juanji.layers.base import ElementwiseLayer, Layer


@registry.register("layer")
class PReLU(Layer):
    """Leaky ReLU whose negative slope is learned: ``max(x, 0) + alpha * min(x, 0)``.

    Args:
        alpha_initializer: initial slopes (Keras's default is zeros, i.e. plain ReLU).
        shared_axes: axes (1-based, batch excluded) along which one slope is shared, e.g.
            ``[1, 2]`` for one slope per channel of an image.

    Example:
        >>> layer = PReLU(shared_axes=[1, 2])
        >>> layer(np.zeros((2, 5, 5, 3), np.float32)).shape, layer.alpha.shape
        ((2, 5, 5, 3), (1, 1, 3))
    """

    def __init__(
        self, alpha_initializer="zeros", alpha_regularizer=None, shared_axes=None, **kwargs
    ):
        super().__init__(**kwargs)
        self.alpha_initializer = alpha_initializer
        self.alpha_regularizer = alpha_regularizer
        self.shared_axes = (
            None
            if shared_axes is None
            else sorted([shared_axes] if isinstance(shared_axes, int) else shared_axes)
        )

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for axis in self.shared_axes or ():
            shape[axis - 1] = 1
        self.alpha = self.add_weight(
            tuple(shape),
            initializer=self.alpha_initializer,
            regularizer=self.alpha_regularizer,
            name="alpha",
        )

    def _check_input(self, x):
        if x.shape[1:] != self._built_shape[1:] and self.shared_axes is None:
            super()._check_input(x)

    def call(self, x, training=False):
        return ops.prelu(x, self.alpha)

    def get_config(self):
        return {
            **super().get_config(),
            "alpha_initializer": registry.serialize(self.alpha_initializer),
            "alpha_regularizer": registry.serialize(self.alpha_regularizer),
            "shared_axes": self.shared_axes,
        }


@registry.register("layer")
class LeakyReLU(ElementwiseLayer):
    """``x`` for positive inputs, ``negative_slope * x`` otherwise (Keras 3 default 0.3).

    Example:
        >>> LeakyReLU(0.5)(np.array([[-2.0, 2.0]], np.float32)).numpy()
        array([[-1.,  2.]], dtype=float32)
    """

    def __init__(self, negative_slope=0.3, **kwargs):
        super().__init__(**kwargs)
        self.negative_slope = negative_slope

    def call(self, x, training=False):
        return ops.leaky_relu(x, negative_slope=self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


@registry.register("layer")
class ReLU(ElementwiseLayer):
    """Rectified linear unit ``max(x, 0)``.

    Example:
        >>> ReLU()(np.array([[-2.0, 2.0]], np.float32)).numpy()
        array([[0., 2.]], dtype=float32)
    """

    def call(self, x, training=False):
        return ops.relu(x)


@registry.register("layer")
class ELU(ElementwiseLayer):
    """Exponential linear unit: ``x`` if positive, ``alpha * (exp(x) - 1)`` otherwise."""

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = alpha

    def call(self, x, training=False):
        return ops.elu(x, alpha=self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


@registry.register("layer")
class Softmax(ElementwiseLayer):
    """Softmax along ``axis``: positive outputs summing to 1.

    Example:
        >>> Softmax()(np.zeros((1, 4), np.float32)).numpy()
        array([[0.25, 0.25, 0.25, 0.25]], dtype=float32)
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, x, training=False):
        return ops.softmax(x, axis=self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
