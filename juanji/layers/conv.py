"""Convolution layers."""

from juanji import ops, registry
from juanji.layers.base import (
    KernelLayer,
    check_data_format,
    check_padding,
    from_channels_last,
    to_channels_last,
)
from juanji.ops.conv import as_pair


@registry.register("layer", "Convolution2D")
class Conv2D(KernelLayer):
    """2-D convolution over images: each filter slides a shared ``kernel_size`` window.

    Weight sharing is what makes it cheap: the kernel holds ``KH*KW*C*F + F`` numbers however
    large the image, where a dense layer over the same image would need ``H*W*C`` per unit.

    Args:
        filters: number of output channels F.
        kernel_size: int or (KH, KW).
        strides: int or pair.
        padding: ``"valid"`` (no padding), ``"same"`` (output size ceil(H / stride)) or
            ``"full"`` (every partial overlap: H + KH - 1 at stride 1).
        data_format: ``"channels_last"`` (N, H, W, C) or ``"channels_first"`` (N, C, H, W).
        dilation_rate: int or pair.
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer: as in ``Dense``.

    Shape:
        (N, H, W, C) -> (N, OH, OW, F) (channels_last); kernel (KH, KW, C, F).

    Example:
        >>> conv = Conv2D(4, 5)
        >>> conv(np.zeros((2, 28, 28, 1), np.float32)).shape
        (2, 24, 24, 4)
        >>> conv.count_params()
        104
    """

    def __init__(
        self,
        filters,
        kernel_size,
        strides=(1, 1),
        padding="valid",
        data_format="channels_last",
        dilation_rate=(1, 1),
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
        if not isinstance(filters, int) or filters <= 0:
            raise ValueError(
                f"Expected a positive int for `filters`. Received: filters={filters!r}"
            )
        self.filters = filters
        self.kernel_size = as_pair(kernel_size, "kernel_size")
        self.strides = as_pair(strides, "strides")
        self.padding = check_padding(padding)
        self.data_format = check_data_format(data_format)
        self.dilation_rate = as_pair(dilation_rate, "dilation_rate")

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                f"Conv2D '{self.name}' expects 4-D input (N, H, W, C). "
                f"Received: x.shape={tuple(input_shape)}"
            )
        channels = input_shape[1] if self.data_format == "channels_first" else input_shape[-1]
        self.build_kernel((*self.kernel_size, channels, self.filters))

    def call(self, x, training=False):
        x = to_channels_last(x, self.data_format)
        y = ops.conv2d(
            x,
            self.kernel,
            self.bias,
            strides=self.strides,
            padding=self.padding,
            dilation=self.dilation_rate,
        )
        return from_channels_last(self.activate(y), self.data_format)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": list(self.dilation_rate),
        }
