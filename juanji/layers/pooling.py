"""Pooling layers: max and average over windows, and their global forms."""

from juanji import ops, registry
from juanji.layers.base import (
    Layer,
    check_data_format,
    check_padding,
    from_channels_last,
    to_channels_last,
)
from juanji.ops.conv import as_tuple


class _Pooling(Layer):
    """Shared configuration of the windowed pooling layers over ``rank`` spatial axes."""

    pool_op = None
    rank = 2

    def __init__(
        self, pool_size=2, strides=None, padding="valid", data_format="channels_last", **kwargs
    ):
        super().__init__(**kwargs)
        self.pool_size = as_tuple(pool_size, "pool_size", self.rank)
        self.strides = (
            self.pool_size if strides is None else as_tuple(strides, "strides", self.rank)
        )
        self.padding = check_padding(padding, allowed=("valid", "same"))
        self.data_format = check_data_format(data_format)

    def build(self, input_shape):
        if len(input_shape) != self.rank + 2:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects {self.rank + 2}-D input. "
                f"Received: x.shape={tuple(input_shape)}"
            )

    def call(self, x, training=False):
        x = to_channels_last(x, self.data_format)
        y = type(self).pool_op(
            x, pool_size=self.pool_size, strides=self.strides, padding=self.padding
        )
        return from_channels_last(y, self.data_format)

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": list(self.pool_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
        }


@registry.register("layer", "MaxPool2D")
class MaxPooling2D(_Pooling):
    """The maximum of each window; small shifts of the input barely change it.

    Example:
        >>> MaxPooling2D(2)(np.zeros((1, 6, 6, 3), np.float32)).shape
        (1, 3, 3, 3)
    """

    pool_op = staticmethod(ops.max_pool2d)


@registry.register("layer", "AvgPool2D")
class AveragePooling2D(_Pooling):
    """The mean of each window (padded cells excluded with ``padding="same"``).

    Example:
        >>> AveragePooling2D(2, padding="same")(np.zeros((1, 5, 5, 3), np.float32)).shape
        (1, 3, 3, 3)
    """

    pool_op = staticmethod(ops.avg_pool2d)


@registry.register("layer", "MaxPool3D")
class MaxPooling3D(_Pooling):
    """The maximum of each window of a volume.

    Example:
        >>> MaxPooling3D(2)(np.zeros((1, 4, 6, 6, 3), np.float32)).shape
        (1, 2, 3, 3, 3)
    """

    pool_op = staticmethod(ops.max_pool3d)
    rank = 3


@registry.register("layer", "AvgPool3D")
class AveragePooling3D(_Pooling):
    """The mean of each window of a volume (padded cells excluded with ``padding="same"``).

    Example:
        >>> AveragePooling3D(2, padding="same")(np.zeros((1, 3, 5, 5, 2), np.float32)).shape
        (1, 2, 3, 3, 2)
    """

    pool_op = staticmethod(ops.avg_pool3d)
    rank = 3


class _GlobalPooling(Layer):
    pool_op = None
    rank = 2

    def __init__(self, data_format="channels_last", keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = check_data_format(data_format)
        self.keepdims = keepdims

    def call(self, x, training=False):
        y = type(self).pool_op(to_channels_last(x, self.data_format))  # (N, C)
        if self.keepdims:
            y = ops.reshape(y, shape=(y.shape[0], *(1,) * self.rank, y.shape[1]))
            y = from_channels_last(y, self.data_format)
        return y

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


@registry.register("layer", "GlobalAvgPool2D")
class GlobalAveragePooling2D(_GlobalPooling):
    """The mean of each channel over all positions: (N, H, W, C) -> (N, C).

    Example:
        >>> GlobalAveragePooling2D()(np.ones((2, 4, 4, 3), np.float32)).shape
        (2, 3)
    """

    pool_op = staticmethod(ops.global_avg_pool2d)


@registry.register("layer", "GlobalMaxPool2D")
class GlobalMaxPooling2D(_GlobalPooling):
    """The maximum of each channel over all positions: (N, H, W, C) -> (N, C).

    Example:
        >>> GlobalMaxPooling2D()(np.ones((2, 4, 4, 3), np.float32)).shape
        (2, 3)
    """

    pool_op = staticmethod(ops.global_max_pool2d)


@registry.register("layer", "GlobalAvgPool3D")
class GlobalAveragePooling3D(_GlobalPooling):
    """The mean of each channel over all positions of a volume: (N, D, H, W, C) -> (N, C).

    Example:
        >>> GlobalAveragePooling3D()(np.ones((2, 3, 4, 4, 5), np.float32)).shape
        (2, 5)
    """

    pool_op = staticmethod(ops.global_avg_pool3d)
    rank = 3


@registry.register("layer", "GlobalMaxPool3D")
class GlobalMaxPooling3D(_GlobalPooling):
    """The maximum of each channel over all positions of a volume: (N, D, H, W, C) -> (N, C).

    Example:
        >>> GlobalMaxPooling3D(keepdims=True)(np.ones((2, 3, 4, 4, 5), np.float32)).shape
        (2, 1, 1, 1, 5)
    """

    pool_op = staticmethod(ops.global_max_pool3d)
    rank = 3
