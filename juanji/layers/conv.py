"""Convolution layers: Conv2D and Conv3D, their transposes, and the depthwise and separable
convolutions."""

from juanji import ops, registry
from juanji.layers.base import (
    KernelLayer,
    Layer,
    activation_fn,
    activation_name,
    check_data_format,
    check_padding,
    from_channels_last,
    to_channels_last,
)
from juanji.ops.conv import as_pair, as_tuple


class _Conv(KernelLayer):
    """Shared by the convolution layers over ``rank`` spatial axes and their transposes:
    options, weights, call and config. A transposed layer's kernel is ``(K..., F, C)``, as
    Keras stores it."""

    rank = 2
    op = None
    transposed = False

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format="channels_last",
        dilation_rate=1,
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
        if isinstance(filters, bool) or not isinstance(filters, int) or filters <= 0:
            raise ValueError(
                f"Expected a positive int for `filters`. Received: filters={filters!r}"
            )
        self.filters = filters
        self.kernel_size = as_tuple(kernel_size, "kernel_size", self.rank)
        self.strides = as_tuple(strides, "strides", self.rank)
        allowed = ("valid", "same") if self.transposed else ("valid", "same", "full")
        self.padding = check_padding(padding, allowed=allowed)
        self.data_format = check_data_format(data_format)
        self.dilation_rate = as_tuple(dilation_rate, "dilation_rate", self.rank)

    def build(self, input_shape):
        if len(input_shape) != self.rank + 2:
            layout = "(N, H, W, C)" if self.rank == 2 else "(N, D, H, W, C)"
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects {self.rank + 2}-D input {layout}. "
                f"Received: x.shape={tuple(input_shape)}"
            )
        channels = input_shape[1] if self.data_format == "channels_first" else input_shape[-1]
        pair = (self.filters, channels) if self.transposed else (channels, self.filters)
        self.build_kernel((*self.kernel_size, *pair), units=self.filters)

    def call(self, x, training=False):
        x = to_channels_last(x, self.data_format)
        y = type(self).op(x, self.kernel, self.bias, **self.op_options())
        return from_channels_last(self.activate(y), self.data_format)

    def op_options(self):
        return {"strides": self.strides, "padding": self.padding, "dilation": self.dilation_rate}

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


@registry.register("layer", "Convolution2D")
class Conv2D(_Conv):
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

    op = staticmethod(ops.conv2d)

    def parameter_counts(self):
        """This layer's parameters against the same map without weight sharing and without
        local receptive fields (the text's lesson on why convolutions are cheap).

        Returns:
            ``{"conv": KH*KW*C*F + F, "locally_connected": OH*OW*(KH*KW*C*F + F)`` (a kernel
            of its own at each output position), ``"dense": H*W*C*OH*OW*F + OH*OW*F}`` (every
            input to every output), ``"input": (H, W, C), "output": (OH, OW, F)``.

        Raises:
            ValueError: if the layer has not been built on an input yet.

        Example:
            >>> conv = Conv2D(4, 5)
            >>> _ = conv(np.zeros((1, 28, 28, 1), np.float32))
            >>> c = conv.parameter_counts()
            >>> c["conv"], c["locally_connected"], c["dense"]
            (104, 59904, 1808640)
        """
        if not self.built or self.output_shape is None:
            raise ValueError(f"Conv2D '{self.name}' is not built: call it on an input first.")
        shapes = [tuple(self._built_shape[1:]), tuple(self.output_shape[1:])]
        if self.data_format == "channels_first":
            shapes = [(s[1], s[2], s[0]) for s in shapes]
        (height, width, channels), (out_h, out_w, filters) = shapes
        per_filter = self.kernel_size[0] * self.kernel_size[1] * channels + self.use_bias
        outputs = out_h * out_w * filters
        return {
            "conv": per_filter * filters,
            "locally_connected": per_filter * outputs,
            "dense": (height * width * channels + self.use_bias) * outputs,
            "input": (height, width, channels),
            "output": (out_h, out_w, filters),
        }


@registry.register("layer", "Convolution3D")
class Conv3D(_Conv):
    """3-D convolution over volumes (a depth axis before height and width), as MVSNet
    regularises its cost volume.

    Args:
        filters: number of output channels F.
        kernel_size: int or (KD, KH, KW).
        strides: int or three.
        padding: ``"valid"``, ``"same"`` (output ceil(D / stride) ...; of an odd total the
            extra zero goes after) or ``"full"``.
        data_format: ``"channels_last"`` (N, D, H, W, C) or ``"channels_first"``
            (N, C, D, H, W).
        dilation_rate: int or three.
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer: as in ``Dense``.

    Shape:
        (N, D, H, W, C) -> (N, OD, OH, OW, F) (channels_last); kernel (KD, KH, KW, C, F).

    Example:
        >>> conv = Conv3D(8, 3, padding="same")
        >>> conv(np.zeros((1, 4, 6, 6, 2), np.float32)).shape
        (1, 4, 6, 6, 8)
        >>> conv.count_params()
        440
    """

    rank = 3
    op = staticmethod(ops.conv3d)


class _ConvTranspose(_Conv):
    """Shared by the transposed convolution layers: ``output_padding``."""

    transposed = True

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, **kw):
        super().__init__(filters, kernel_size, strides=strides, padding=padding, **kw)
        self.output_padding = (
            None
            if output_padding is None
            else as_tuple(output_padding, "output_padding", self.rank, minimum=0)
        )
        if self.output_padding is not None and any(
            p >= s for p, s in zip(self.output_padding, self.strides)
        ):
            raise ValueError(
                f"Expected `output_padding` below the strides {self.strides}. "
                f"Received: output_padding={output_padding!r}"
            )

    def op_options(self):
        return {**super().op_options(), "output_padding": self.output_padding}

    def get_config(self):
        output_padding = None if self.output_padding is None else list(self.output_padding)
        return {**super().get_config(), "output_padding": output_padding}


@registry.register("layer", "Convolution2DTranspose")
class Conv2DTranspose(_ConvTranspose):
    """Transposed 2-D convolution: the adjoint of ``Conv2D``, which upsamples by its strides
    (a decoder's or a U-Net's way back up).

    Args:
        filters: number of output channels F.
        kernel_size: int or (KH, KW).
        strides: int or pair.
        padding: ``"valid"`` (output ``(H - 1) * SH + max(KH, SH)``) or ``"same"``
            (output ``H * SH``), as Keras 3.
        output_padding: None, or an int or pair below the strides: output
            ``(H - 1) * SH + KH + ph`` (``"valid"``) or ``(H - 1) * SH + KH % 2 + ph``.
        data_format, dilation_rate, activation, use_bias, kernel_initializer,
        bias_initializer, kernel_regularizer, bias_regularizer: as in ``Conv2D``.

    Shape:
        (N, H, W, C) -> (N, OH, OW, F) (channels_last); kernel (KH, KW, F, C), bias (F,).

    Example:
        >>> up = Conv2DTranspose(4, 3, strides=2, padding="same")
        >>> up(np.zeros((2, 5, 5, 8), np.float32)).shape
        (2, 10, 10, 4)
        >>> up.count_params()
        292
    """

    op = staticmethod(ops.conv2d_transpose)


@registry.register("layer", "Convolution3DTranspose")
class Conv3DTranspose(_ConvTranspose):
    """Transposed 3-D convolution: the adjoint of ``Conv3D``, the way back up a 3-D U-Net.

    Args:
        filters: number of output channels F.
        kernel_size: int or (KD, KH, KW).
        strides: int or three.
        padding: ``"valid"`` or ``"same"`` (output ``D * SD``), as Keras 3.
        output_padding: None, or an int or three below the strides.
        data_format, dilation_rate, activation, use_bias, kernel_initializer,
        bias_initializer, kernel_regularizer, bias_regularizer: as in ``Conv3D``.

    Shape:
        (N, D, H, W, C) -> (N, OD, OH, OW, F) (channels_last); kernel (KD, KH, KW, F, C).

    Example:
        >>> up = Conv3DTranspose(8, 3, strides=2, padding="same")
        >>> up(np.zeros((1, 2, 3, 4, 16), np.float32)).shape
        (1, 4, 6, 8, 8)
    """

    rank = 3
    op = staticmethod(ops.conv3d_transpose)


class _DepthwiseOptions(Layer):
    """The window options (kernel size, strides, padding, data format, dilation, depth
    multiplier) and the activation of the depthwise convolution layers."""

    def __init__(
        self,
        kernel_size,
        strides=(1, 1),
        padding="valid",
        depth_multiplier=1,
        data_format=None,
        dilation_rate=(1, 1),
        activation=None,
        use_bias=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if (
            isinstance(depth_multiplier, bool)
            or not isinstance(depth_multiplier, int)
            or depth_multiplier < 1
        ):
            raise ValueError(
                "Expected a positive int `depth_multiplier`. "
                f"Received: depth_multiplier={depth_multiplier!r}"
            )
        self.kernel_size = as_pair(kernel_size, "kernel_size")
        self.strides = as_pair(strides, "strides")
        self.padding = check_padding(padding)
        self.depth_multiplier = depth_multiplier
        self.data_format = check_data_format(data_format)
        self.dilation_rate = as_pair(dilation_rate, "dilation_rate")
        self.activation = activation_fn(activation)
        self.use_bias = use_bias

    def input_channels(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects 4-D input (N, H, W, C). "
                f"Received: x.shape={tuple(input_shape)}"
            )
        return input_shape[1] if self.data_format == "channels_first" else input_shape[-1]

    def depthwise(self, x, kernel, bias):
        """``x`` (channels_last) through the depthwise convolution with these options."""
        return ops.depthwise_conv2d(
            x,
            kernel,
            bias,
            strides=self.strides,
            padding=self.padding,
            dilation=self.dilation_rate,
        )

    def finish(self, y):
        """The activation, then back to the layer's data format."""
        y = self.activation(y) if self.activation else y
        return from_channels_last(y, self.data_format)

    def get_config(self):
        return {
            **super().get_config(),
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "depth_multiplier": self.depth_multiplier,
            "data_format": self.data_format,
            "dilation_rate": list(self.dilation_rate),
            "activation": activation_name(self.activation),
            "use_bias": self.use_bias,
        }


@registry.register("layer")
class DepthwiseConv2D(_DepthwiseOptions):
    """Convolves each input channel with its own ``depth_multiplier`` filters, without
    mixing channels: ``KH*KW*C*M`` weights where Conv2D needs ``KH*KW*C*F``.

    Args:
        kernel_size: int or (KH, KW).
        strides, padding, data_format, dilation_rate, activation, use_bias: as ``Conv2D``.
        depth_multiplier: M, the filters per input channel.
        depthwise_initializer, bias_initializer: names or instances.
        depthwise_regularizer, bias_regularizer: e.g. ``"l2"``, added to the loss.

    Shape:
        (N, H, W, C) -> (N, OH, OW, C*M), output channel ``c*M + m``; kernel (KH, KW, C, M),
        bias (C*M,) (Keras's layout).

    Example:
        >>> layer = DepthwiseConv2D(3, depth_multiplier=2)
        >>> layer(np.zeros((1, 5, 5, 3), np.float32)).shape
        (1, 3, 3, 6)
        >>> layer.count_params()
        60
    """

    def __init__(
        self,
        kernel_size,
        strides=(1, 1),
        padding="valid",
        depth_multiplier=1,
        data_format=None,
        dilation_rate=(1, 1),
        activation=None,
        use_bias=True,
        depthwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        depthwise_regularizer=None,
        bias_regularizer=None,
        **kwargs,
    ):
        super().__init__(
            kernel_size,
            strides=strides,
            padding=padding,
            depth_multiplier=depth_multiplier,
            data_format=data_format,
            dilation_rate=dilation_rate,
            activation=activation,
            use_bias=use_bias,
            **kwargs,
        )
        self.depthwise_initializer = depthwise_initializer
        self.bias_initializer = bias_initializer
        self.depthwise_regularizer = depthwise_regularizer
        self.bias_regularizer = bias_regularizer

    def build(self, input_shape):
        channels = self.input_channels(input_shape)
        self.kernel = self.add_weight(
            (*self.kernel_size, channels, self.depth_multiplier),
            initializer=self.depthwise_initializer,
            regularizer=self.depthwise_regularizer,
            name="kernel",
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                (channels * self.depth_multiplier,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                name="bias",
            )

    def call(self, x, training=False):
        x = to_channels_last(x, self.data_format)
        return self.finish(self.depthwise(x, self.kernel, self.bias))

    def get_config(self):
        return {
            **super().get_config(),
            "depthwise_initializer": registry.serialize(self.depthwise_initializer),
            "bias_initializer": registry.serialize(self.bias_initializer),
            "depthwise_regularizer": registry.serialize(self.depthwise_regularizer),
            "bias_regularizer": registry.serialize(self.bias_regularizer),
        }


@registry.register("layer")
class SeparableConv2D(_DepthwiseOptions):
    """A depthwise convolution (each channel alone) followed by a pointwise 1x1
    convolution that mixes the channels: ``KH*KW*C*M + C*M*F + F`` weights.

    Args:
        filters: F, the output channels.
        kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate,
        activation, use_bias: as ``DepthwiseConv2D``.
        depthwise_initializer, pointwise_initializer, bias_initializer: names or instances.
        depthwise_regularizer, pointwise_regularizer, bias_regularizer: added to the loss.

    Shape:
        (N, H, W, C) -> (N, OH, OW, F); depthwise_kernel (KH, KW, C, M), pointwise_kernel
        (1, 1, C*M, F), bias (F,) (Keras's layout).

    Example:
        >>> layer = SeparableConv2D(4, 3)
        >>> layer(np.zeros((1, 5, 5, 3), np.float32)).shape
        (1, 3, 3, 4)
        >>> layer.count_params()
        43
    """

    def __init__(
        self,
        filters,
        kernel_size,
        strides=(1, 1),
        padding="valid",
        depth_multiplier=1,
        data_format=None,
        dilation_rate=(1, 1),
        activation=None,
        use_bias=True,
        depthwise_initializer="glorot_uniform",
        pointwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        depthwise_regularizer=None,
        pointwise_regularizer=None,
        bias_regularizer=None,
        **kwargs,
    ):
        super().__init__(
            kernel_size,
            strides=strides,
            padding=padding,
            depth_multiplier=depth_multiplier,
            data_format=data_format,
            dilation_rate=dilation_rate,
            activation=activation,
            use_bias=use_bias,
            **kwargs,
        )
        if isinstance(filters, bool) or not isinstance(filters, int) or filters <= 0:
            raise ValueError(
                f"Expected a positive int for `filters`. Received: filters={filters!r}"
            )
        self.filters = filters
        self.initializers = {
            "depthwise": depthwise_initializer,
            "pointwise": pointwise_initializer,
            "bias": bias_initializer,
        }
        self.regularizers = {
            "depthwise": depthwise_regularizer,
            "pointwise": pointwise_regularizer,
            "bias": bias_regularizer,
        }

    def build(self, input_shape):
        channels = self.input_channels(input_shape) * self.depth_multiplier
        shapes = {
            "depthwise": (
                *self.kernel_size,
                channels // self.depth_multiplier,
                self.depth_multiplier,
            ),
            "pointwise": (1, 1, channels, self.filters),
        }
        for part, shape in shapes.items():
            weight = self.add_weight(
                shape,
                initializer=self.initializers[part],
                regularizer=self.regularizers[part],
                name=f"{part}_kernel",
            )
            setattr(self, f"{part}_kernel", weight)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                (self.filters,),
                initializer=self.initializers["bias"],
                regularizer=self.regularizers["bias"],
                name="bias",
            )

    def call(self, x, training=False):
        x = to_channels_last(x, self.data_format)
        y = self.depthwise(x, self.depthwise_kernel, None)
        return self.finish(ops.conv2d(y, self.pointwise_kernel, self.bias))

    def get_config(self):
        config = {**super().get_config(), "filters": self.filters}
        for part in ("depthwise", "pointwise", "bias"):
            config[f"{part}_initializer"] = registry.serialize(self.initializers[part])
            config[f"{part}_regularizer"] = registry.serialize(self.regularizers[part])
        return config
