"""Core layers: Dense, Flatten, Reshape, Dropout, SpatialDropout2D, Activation."""

import math

import numpy as np

from juanji import ops, registry
from juanji.layers.base import (
    ElementwiseLayer,
    KernelLayer,
    Layer,
    activation_fn,
    activation_name,
    check_data_format,
)


@registry.register("layer")
class Dense(KernelLayer):
    """A fully connected layer: ``activation(x @ kernel + bias)``.

    Args:
        units: output features.
        activation: a name (``"tanh"``, ``"softmax"``...), a callable, or None.
        use_bias: whether to add a bias.
        kernel_initializer, bias_initializer: names or instances.
        kernel_regularizer, bias_regularizer: e.g. ``"l2"`` or ``L2(1e-4)``, added to the loss.

    Shape:
        (N, ..., in) -> (N, ..., units); kernel (in, units).

    Example:
        >>> layer = Dense(3)
        >>> layer(np.zeros((2, 5), np.float32)).shape
        (2, 3)
        >>> layer.count_params()
        18
    """

    def __init__(
        self,
        units,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        **kwargs,
    ):
        super().__init__(
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            **kwargs,
        )
        if not isinstance(units, int) or units <= 0:
            raise ValueError(f"Expected a positive int for `units`. Received: units={units!r}")
        self.units = units

    def build(self, input_shape):
        self.build_kernel((input_shape[-1], self.units))

    def call(self, x, training=False):
        return self.activate(ops.dense(x, self.kernel, self.bias))  # bias None: no bias

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@registry.register("layer")
class Flatten(Layer):
    """Flattens each sample: (N, d1, d2, ...) -> (N, d1*d2*...).

    Example:
        >>> Flatten()(np.zeros((2, 3, 4, 5), np.float32)).shape
        (2, 60)
    """

    def call(self, x, training=False):
        return ops.flatten(x)

    def _check_input(self, x):
        if x.shape[1:] != self._built_shape[1:]:
            raise ValueError(
                f"Layer '{self.name}' was built for samples of shape {self._built_shape[1:]}. "
                f"Received: x.shape={x.shape}"
            )


@registry.register("layer")
class Reshape(Layer):
    """Reshapes each sample to ``target_shape`` (one entry may be -1).

    Example:
        >>> Reshape((4, 3))(np.zeros((2, 12), np.float32)).shape
        (2, 4, 3)
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(target_shape)

    def build(self, input_shape):
        known = math.prod(n for n in self.target_shape if n != -1)
        size = math.prod(input_shape[1:])
        fits = size % known == 0 if -1 in self.target_shape else size == known
        if not fits:
            raise ValueError(
                f"Cannot reshape samples of shape {tuple(input_shape[1:])} ({size} values) "
                f"to {self.target_shape}. Received: target_shape={self.target_shape}"
            )

    def call(self, x, training=False):
        return ops.reshape(x, shape=(x.shape[0], *self.target_shape))

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}


@registry.register("layer")
class Dropout(Layer):
    """Inverted dropout: in training, zeroes a ``rate`` fraction and rescales the rest.

    Example:
        >>> Dropout(0.5)(np.ones((2, 4), np.float32), training=False).numpy()
        array([[1., 1., 1., 1.],
               [1., 1., 1., 1.]], dtype=float32)
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError(f"Expected `rate` in [0, 1). Received: rate={rate!r}")
        self.rate = float(rate)
        self.seed = seed
        self._rng = None if seed is None else np.random.default_rng(seed)

    def call(self, x, training=False):
        return ops.dropout(x, rate=self.rate, training=training, rng=self._rng)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@registry.register("layer")
class SpatialDropout2D(Dropout):
    """Dropout of whole feature maps: in training each channel of each image is zeroed with
    probability ``rate`` (the kept ones rescaled), since neighbouring pixels are too
    correlated for per-pixel dropout to regularise a convolution.

    Args:
        rate: the fraction of channels to drop, in [0, 1).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        seed: an int for a layer-own Generator; default juanji's shared one.

    Shape:
        (N, H, W, C) -> same; the mask is (N, 1, 1, C).

    Example:
        >>> y = SpatialDropout2D(0.5, seed=0)(np.ones((2, 3, 3, 4), np.float32), training=True)
        >>> bool(np.all(y.numpy().std(axis=(1, 2)) == 0))
        True
    """

    def __init__(self, rate, data_format=None, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)
        self.data_format = check_data_format(data_format)

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                f"SpatialDropout2D '{self.name}' expects 4-D input. "
                f"Received: x.shape={tuple(input_shape)}"
            )

    def call(self, x, training=False):
        n, channels_first = x.shape[0], self.data_format == "channels_first"
        noise = (n, x.shape[1], 1, 1) if channels_first else (n, 1, 1, x.shape[3])
        return ops.dropout(x, rate=self.rate, training=training, noise_shape=noise, rng=self._rng)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


@registry.register("layer")
class Activation(ElementwiseLayer):
    """Applies an activation by name or callable, e.g. ``Activation("tanh")``.

    Example:
        >>> Activation("relu")(np.array([[-1.0, 2.0]], np.float32)).numpy()
        array([[0., 2.]], dtype=float32)
    """

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activation_fn(activation)

    def call(self, x, training=False):
        return self.activation(x)

    def get_config(self):
        return {**super().get_config(), "activation": activation_name(self.activation)}
