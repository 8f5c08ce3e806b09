"""Batch normalisation."""

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
