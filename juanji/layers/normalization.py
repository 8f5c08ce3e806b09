"""Normalisation layers: batch, layer and group normalisation."""

from juanji import ops, registry
from juanji.layers.base import Layer


@registry.register("layer")
class BatchNormalization(Layer):
    """Normalises each feature with batch statistics in training, running ones in inference.

    Args:
        axis: the feature axis (only -1, channels_last, is supported).
        momentum: running statistics follow
            ``running = momentum * running + (1 - momentum) * batch``.
        epsilon: added to the variance.
        center, scale: learn ``beta`` / ``gamma``.

    Shape:
        (N, ..., C) -> same; gamma, beta, moving_mean, moving_variance (C,).

    Example:
        >>> bn = BatchNormalization(name="bn")
        >>> bn(np.ones((4, 3), np.float32), training=True).shape
        (4, 3)
        >>> [w.name for w in bn.weights]
        ['bn/gamma', 'bn/beta', 'bn/moving_mean', 'bn/moving_variance']
    """

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if axis != -1:
            raise ValueError(f"Only axis=-1 (channels_last) is supported. Received: axis={axis}")
        self.axis = axis
        self.momentum = momentum
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
        self.initializers = {
            "beta": beta_initializer,
            "gamma": gamma_initializer,
            "moving_mean": moving_mean_initializer,
            "moving_variance": moving_variance_initializer,
        }

    def build(self, input_shape):
        shape = (input_shape[-1],)
        init = self.initializers
        self.gamma = self.add_weight(
            shape, initializer=init["gamma"], name="gamma", trainable=self.scale
        )
        self.beta = self.add_weight(
            shape, initializer=init["beta"], name="beta", trainable=self.center
        )
        self.moving_mean = self.add_weight(
            shape, initializer=init["moving_mean"], name="moving_mean", trainable=False
        )
        self.moving_variance = self.add_weight(
            shape, initializer=init["moving_variance"], name="moving_variance", trainable=False
        )

    def call(self, x, training=False):
        return ops.batch_norm(
            x,
            self.gamma,
            self.beta,
            training=training,
            running_mean=self.moving_mean.data,
            running_var=self.moving_variance.data,
            momentum=self.momentum,
            epsilon=self.epsilon,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            **{f"{k}_initializer": registry.serialize(v) for k, v in self.initializers.items()},
        }


class _PerSampleNormalization(Layer):
    """Shared by the normalisations that use each sample's own statistics: the learned
    ``gamma`` (when ``scale``) and ``beta`` (when ``center``) and their config."""

    def __init__(
        self,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
        self.initializers = {"beta": beta_initializer, "gamma": gamma_initializer}
        self.regularizers = {"beta": beta_regularizer, "gamma": gamma_regularizer}

    def build_parameters(self, shape):
        """``gamma`` and ``beta`` of ``shape``, each None when switched off."""
        self.gamma = self.beta = None
        for name, wanted in (("gamma", self.scale), ("beta", self.center)):
            if wanted:
                weight = self.add_weight(
                    shape,
                    initializer=self.initializers[name],
                    regularizer=self.regularizers[name],
                    name=name,
                )
                setattr(self, name, weight)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            **{f"{k}_initializer": registry.serialize(v) for k, v in self.initializers.items()},
            **{f"{k}_regularizer": registry.serialize(v) for k, v in self.regularizers.items()},
        }


@registry.register("layer")
class LayerNormalization(_PerSampleNormalization):
    """Normalises each sample over ``axis`` with its own mean and variance, in training and
    inference alike, then scales by ``gamma`` and shifts by ``beta``.

    Args:
        axis: an int or a list of ints, the axes normalised together (default the last).
        epsilon: added to the variance.
        center, scale: learn ``beta`` / ``gamma``.
        beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer: as Keras.

    Shape:
        (N, ...) -> same; gamma and beta shaped like the ``axis`` sizes.

    Example:
        >>> ln = LayerNormalization(name="ln")
        >>> ln(np.ones((4, 3), np.float32)).shape
        (4, 3)
        >>> [w.name for w in ln.weights]
        ['ln/gamma', 'ln/beta']
    """

    def __init__(self, axis=-1, epsilon=1e-3, **kwargs):
        super().__init__(epsilon=epsilon, **kwargs)
        self.axis = axis if isinstance(axis, int) else [int(a) for a in axis]

    def build(self, input_shape):
        axes = (self.axis,) if isinstance(self.axis, int) else self.axis
        self.build_parameters(tuple(input_shape[a] for a in axes))

    def call(self, x, training=False):
        return ops.layer_norm(x, self.gamma, self.beta, axis=self.axis, epsilon=self.epsilon)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


@registry.register("layer")
class GroupNormalization(_PerSampleNormalization):
    """Splits the channels into ``groups`` and normalises each group of each sample over
    its positions and channels; ``gamma`` and ``beta`` are per channel.

    Args:
        groups: a divisor of the channel count (1: layer norm; C: instance norm).
        axis: the channel axis (only -1, channels_last, is supported).
        epsilon, center, scale, initializers and regularizers: as ``LayerNormalization``.

    Shape:
        (N, ..., C) -> same; gamma and beta (C,).

    Example:
        >>> GroupNormalization(groups=2)(np.ones((2, 4, 4, 6), np.float32)).shape
        (2, 4, 4, 6)
    """

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, **kwargs):
        super().__init__(epsilon=epsilon, **kwargs)
        if axis != -1:
            raise ValueError(f"Only axis=-1 (channels_last) is supported. Received: axis={axis}")
        self.groups = groups
        self.axis = axis

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is not None and channels % self.groups:
            raise ValueError(
                f"GroupNormalization '{self.name}' needs `groups` to divide the {channels} "
                f"channels. Received: groups={self.groups}"
            )
        self.build_parameters((channels,))

    def call(self, x, training=False):
        return ops.group_norm(x, self.gamma, self.beta, groups=self.groups, epsilon=self.epsilon)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "axis": self.axis}
