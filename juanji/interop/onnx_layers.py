"""One ONNX conversion per juanji layer type, in ``CONVERTERS``: each takes the graph, the
layer, its input values and juanji's output shape, and returns the output value. Layout-free
layers (activations, arithmetic) keep their input's layout; Conv and pooling ask for
channels-first; a layer that reads axes in juanji's order asks for it.
"""

import numpy as np

from juanji import registry
from juanji.interop.onnx_graph import Value, channels_first, identity
from juanji.layers import (
    ELU,
    Activation,
    Add,
    Average,
    AveragePooling2D,
    AveragePooling3D,
    BatchNormalization,
    Concatenate,
    Conv2D,
    Conv2DTranspose,
    Conv3D,
    Conv3DTranspose,
    Cropping2D,
    Cropping3D,
    Dense,
    DepthwiseConv2D,
    Dropout,
    Flatten,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
    GlobalMaxPooling2D,
    GlobalMaxPooling3D,
    GroupNormalization,
    LayerNormalization,
    LeakyReLU,
    Maximum,
    MaxPooling2D,
    MaxPooling3D,
    Minimum,
    Multiply,
    Permute,
    PReLU,
    ReLU,
    Reshape,
    SeparableConv2D,
    Softmax,
    SpatialDropout2D,
    Subtract,
    UpSampling2D,
    UpSampling3D,
    ZeroPadding2D,
    ZeroPadding3D,
)
from juanji.layers.preprocessing import (
    CenterCrop,
    Normalization,
    RandomBrightness,
    RandomContrast,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
    Rescaling,
    Resizing,
    _crop_box,
)
from juanji.layers.symbolic import InputLayer, Operator
from juanji.ops.conv import conv_padding

# --- activations ---------------------------------------------------------------------------
_UNARY = {
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
    "relu": "Relu",
    "softplus": "Softplus",
    "softsign": "Softsign",
    "selu": "Selu",  # NOTE: ONNX's default alpha and gamma are juanji's constants in float32
    "elu": "Elu",
    "exponential": "Exp",
}


def _activation(g, fn, x, hint, owner):
    """``x`` through the activation function ``fn`` (None: unchanged)."""
    if fn is None:
        return x
    name = getattr(fn, "__name__", "")
    try:
        known = registry.lookup("activation", name) is fn
    except ValueError:
        known = False
    if not known:
        raise cannot(owner, f"its activation {fn!r} is not one of juanji's")
    if name == "linear":
        return x
    if name in _UNARY:
        return x._replace(name=g.op(_UNARY[name], [x.name], hint))
    if name == "leaky_relu":
        return x._replace(name=g.op("LeakyRelu", [x.name], hint, alpha=0.2))  # its default
    if name == "hard_sigmoid":
        return x._replace(name=g.op("HardSigmoid", [x.name], hint, alpha=1 / 6, beta=0.5))
    if name == "silu":
        sigmoid = g.op("Sigmoid", [x.name], f"{hint}_sigmoid")
        return x._replace(name=g.op("Mul", [x.name, sigmoid], hint))
    if name == "hard_silu":
        gate = g.op("HardSigmoid", [x.name], f"{hint}_gate", alpha=1 / 6, beta=0.5)
        return x._replace(name=g.op("Mul", [x.name, gate], hint))
    if name == "relu6":
        low, high = g.constant(0.0, f"{hint}_low"), g.constant(6.0, f"{hint}_high")
        return x._replace(name=g.op("Clip", [x.name, low, high], hint))
    if name == "mish":
        softplus = g.op("Softplus", [x.name], f"{hint}_softplus")
        tanh = g.op("Tanh", [softplus], f"{hint}_tanh")
        return x._replace(name=g.op("Mul", [x.name, tanh], hint))
    if name == "log_sigmoid":  # -softplus(-x)
        negated = g.op("Neg", [x.name], f"{hint}_neg")
        softplus = g.op("Softplus", [negated], f"{hint}_softplus")
        return x._replace(name=g.op("Neg", [softplus], hint))
    if name == "gelu":  # the exact form, x * Phi(x) = x * (1 + erf(x / sqrt 2)) / 2
        scaled = g.op("Mul", [x.name, g.constant(np.sqrt(0.5), f"{hint}_rsqrt2")], f"{hint}_s")
        erf = g.op("Erf", [scaled], f"{hint}_erf")
        one_plus = g.op("Add", [erf, g.constant(1.0, f"{hint}_one")], f"{hint}_cdf2")
        half_x = g.op("Mul", [x.name, g.constant(0.5, f"{hint}_half")], f"{hint}_halfx")
        return x._replace(name=g.op("Mul", [half_x, one_plus], hint))
    if name in ("softmax", "log_softmax"):
        return _softmax(g, x, -1, hint, log=name == "log_softmax")
    raise cannot(owner, f"ONNX export has no conversion of the activation '{name}'")


def _softmax(g, x, axis, hint, log=False):
    """Softmax along juanji's ``axis``, wherever that axis lies in the ONNX tensor."""
    onnx_axis = x.perm.index(axis % len(x.perm))
    op_type = "LogSoftmax" if log else "Softmax"
    return x._replace(name=g.op(op_type, [x.name], hint, axis=onnx_axis))


# --- layers --------------------------------------------------------------------------------
def cannot(layer, why):
    """The ValueError for a ``layer`` that has no ONNX form, saying ``why``."""
    return ValueError(
        f"Layer '{layer.name}' ({type(layer).__name__}) cannot be exported to ONNX: {why}."
    )


def _channels_first_input(g, layer, x):
    """``x`` laid out channels-first in ONNX, as Conv and pooling take it, for a layer of
    ``layer.data_format``; and its spatial sizes."""
    rank = len(x.shape)
    if layer.data_format == "channels_last":
        return g.layout(x, channels_first(rank)), x.shape[1:-1]
    return g.layout(x, identity(rank)), x.shape[2:]


def _onnx_pads(pads):
    """``((top, bottom), (left, right))`` as ONNX's ``[top, left, bottom, right]``."""
    return [int(p[0]) for p in pads] + [int(p[1]) for p in pads]


def _kernel_and_bias(g, layer):
    """The layer's kernel and bias (zeros if none), with a following BatchNormalization folded
    into them when one was planned."""
    kernel = layer.kernel.data
    bias = None if layer.bias is None else layer.bias.data
    fold = g.folds.get(id(layer))
    if fold is not None:
        scale, shift = fold
        kernel = kernel * scale  # scales the last (output) axis
        bias = (0.0 if bias is None else bias) * scale + shift
    return kernel, bias


def _conv_node(g, x, weights, bias, hint, *, pads, strides=(1, 1), dilations=(1, 1), group=1):
    """An ONNX Conv of channels-first ``x`` by ``weights`` in ONNX's (F, C / group, KH, KW)
    layout; returns its output's name."""
    names = [x.name, g.constant(weights, f"{hint}_kernel")]
    if bias is not None:
        names.append(g.constant(bias, f"{hint}_bias"))
    return g.op(
        "Conv",
        names,
        hint,
        kernel_shape=list(weights.shape[2:]),
        strides=list(strides),
        dilations=list(dilations),
        pads=pads,
        group=group,
    )


def _window(layer, spatial, kernel_size):
    """The Conv attributes of a layer with juanji's window options, for input ``spatial``."""
    pads = conv_padding(layer.padding, spatial, kernel_size, layer.strides, layer.dilation_rate)
    return {"pads": _onnx_pads(pads), "strides": layer.strides, "dilations": layer.dilation_rate}


def _conv(g, layer, inputs, shape):
    x, spatial = _channels_first_input(g, layer, inputs[0])
    rank = len(x.shape)
    kernel, bias = _kernel_and_bias(g, layer)
    # juanji's kernel (KH, KW, C, F) -> ONNX's (F, C, KH, KW).
    weights = np.transpose(kernel, (rank - 1, rank - 2, *range(rank - 2)))
    y = _conv_node(g, x, weights, bias, layer.name, **_window(layer, spatial, layer.kernel_size))
    return _activation(g, layer.activation, Value(y, shape, x.perm), f"{layer.name}_act", layer)


def _conv_transpose(g, layer, inputs, shape):
    """The adjoint of a convolution: ONNX's ConvTranspose gives its whole output
    ``(n - 1) * s + k``; juanji keeps ``length`` cells from ``before`` on (see
    ``ops.conv._transposed_geometry``), so ONNX crops the rest or pads zeros after."""
    x, spatial = _channels_first_input(g, layer, inputs[0])
    rank = len(x.shape)
    out_spatial = shape[1:-1] if layer.data_format == "channels_last" else shape[2:]
    begins, ends, extra = [], [], []
    for n, length, k, s, d in zip(
        spatial, out_spatial, layer.kernel_size, layer.strides, layer.dilation_rate
    ):
        whole, span = (n - 1) * s + (k - 1) * d + 1, (k - 1) * d + 1
        before = 0 if layer.padding == "valid" else max((n - 1) * s + span - length, 0) // 2
        after = whole - before - length
        begins.append(before)
        ends.append(max(after, 0))
        extra.append(max(-after, 0))  # output cells past the last window: bias only
    # juanji's kernel (K..., F, C) -> ONNX's (C, F, K...).
    weights = np.transpose(layer.kernel.data, (rank - 1, rank - 2, *range(rank - 2)))
    names = [x.name, g.constant(weights, f"{layer.name}_kernel")]
    if layer.bias is not None:
        names.append(g.constant(layer.bias.data, f"{layer.name}_bias"))
    y = g.op(
        "ConvTranspose",
        names,
        layer.name,
        kernel_shape=list(layer.kernel_size),
        strides=list(layer.strides),
        dilations=list(layer.dilation_rate),
        pads=begins + ends,
        output_padding=extra,
    )
    return _activation(g, layer.activation, Value(y, shape, x.perm), f"{layer.name}_act", layer)


def _depthwise_weights(kernel):
    """A depthwise kernel (KH, KW, C, M) as ONNX's grouped (C*M, 1, KH, KW): output channel
    ``c*M + m``, as juanji's."""
    KH, KW, C, M = kernel.shape
    return np.transpose(kernel, (2, 3, 0, 1)).reshape(C * M, 1, KH, KW)


def _depthwise_conv(g, layer, inputs, shape):
    x, spatial = _channels_first_input(g, layer, inputs[0])
    kernel = layer.kernel.data
    bias = None if layer.bias is None else layer.bias.data
    window = _window(layer, spatial, layer.kernel_size)
    y = _conv_node(
        g, x, _depthwise_weights(kernel), bias, layer.name, group=kernel.shape[2], **window
    )
    return _activation(g, layer.activation, Value(y, shape, x.perm), f"{layer.name}_act", layer)


def _separable_conv(g, layer, inputs, shape):
    x, spatial = _channels_first_input(g, layer, inputs[0])
    kernel = layer.depthwise_kernel.data
    window = _window(layer, spatial, layer.kernel_size)
    depthwise = _depthwise_weights(kernel)
    y = _conv_node(
        g, x, depthwise, None, f"{layer.name}_depthwise", group=kernel.shape[2], **window
    )
    pointwise = np.transpose(layer.pointwise_kernel.data, (3, 2, 0, 1))  # (F, C*M, 1, 1)
    bias = None if layer.bias is None else layer.bias.data
    y = _conv_node(g, x._replace(name=y), pointwise, bias, layer.name, pads=[0, 0, 0, 0])
    return _activation(g, layer.activation, Value(y, shape, x.perm), f"{layer.name}_act", layer)


def _dense(g, layer, inputs, shape):
    x = g.layout(inputs[0], identity(len(inputs[0].shape)))
    kernel, bias = _kernel_and_bias(g, layer)
    y = g.op("MatMul", [x.name, g.constant(kernel, f"{layer.name}_kernel")], f"{layer.name}_mm")
    if bias is not None:
        y = g.op("Add", [y, g.constant(bias, f"{layer.name}_bias")], layer.name)
    return _activation(g, layer.activation, Value(y, shape, x.perm), f"{layer.name}_act", layer)


def _batch_norm(g, layer, inputs, shape):
    (x,) = inputs
    if id(layer) in g.folds:  # folded into the layer before it
        return x
    scale, shift = bn_scale_shift(layer)
    rank = len(x.shape)
    # juanji normalises its last axis; the constants broadcast along wherever it lies in ONNX.
    at = x.perm.index(rank - 1)
    broadcast = [len(scale) if axis == at else 1 for axis in range(rank)]
    scaled = g.op(
        "Mul", [x.name, g.constant(scale.reshape(broadcast), f"{layer.name}_scale")], layer.name
    )
    shifted = g.op(
        "Add", [scaled, g.constant(shift.reshape(broadcast), f"{layer.name}_shift")], layer.name
    )
    return x._replace(name=shifted)


def bn_scale_shift(layer):
    """Inference-mode batch normalisation as ``x * scale + shift`` (computed in float64)."""
    gamma, beta, mean, variance = (
        w.data.astype(np.float64)
        for w in (layer.gamma, layer.beta, layer.moving_mean, layer.moving_variance)
    )
    scale = gamma / np.sqrt(variance + layer.epsilon)
    return scale, beta - mean * scale


def _reduce_mean(g, name, axes, hint):
    """The mean over ONNX ``axes``, kept as size-1 axes (the axes moved to an input in 18)."""
    if g.opset >= 18:
        axes_name = g.constant(np.array(axes, np.int64), f"{hint}_axes")
        return g.op("ReduceMean", [name, axes_name], hint, keepdims=1)
    return g.op("ReduceMean", [name], hint, axes=list(axes), keepdims=1)


def _standardize(g, name, axes, epsilon, hint):
    """``(x - mean) / sqrt(var + epsilon)`` with the (biased) statistics over ONNX ``axes``."""
    centered = g.op("Sub", [name, _reduce_mean(g, name, axes, f"{hint}_mean")], f"{hint}_c")
    squares = g.op("Mul", [centered, centered], f"{hint}_sq")
    variance = _reduce_mean(g, squares, axes, f"{hint}_var")
    shifted = g.op("Add", [variance, g.constant(epsilon, f"{hint}_epsilon")], f"{hint}_ve")
    return g.op("Div", [centered, g.op("Sqrt", [shifted], f"{hint}_std")], hint)


def _scale_and_shift(g, name, layer, full_shape, perm):
    """``name * gamma + beta`` (each when the layer has it), the parameters shaped
    ``full_shape`` in juanji's layout and laid out by ``perm`` to broadcast in ONNX."""
    for weight, op_type in ((layer.gamma, "Mul"), (layer.beta, "Add")):
        if weight is not None:
            array = np.transpose(weight.data.reshape(full_shape), perm)
            hint = f"{layer.name}_{op_type.lower()}"
            name = g.op(op_type, [name, g.constant(array, f"{hint}_c")], hint)
    return name


def _layer_norm(g, layer, inputs, shape):
    x = inputs[0]
    rank = len(x.shape)
    axes = [a % rank for a in ([layer.axis] if isinstance(layer.axis, int) else layer.axis)]
    y = _standardize(
        g, x.name, sorted(x.perm.index(a) for a in axes), layer.epsilon, f"{layer.name}_norm"
    )
    full = [x.shape[i] if i in axes else 1 for i in range(rank)]
    return x._replace(name=_scale_and_shift(g, y, layer, full, x.perm))


def _group_norm(g, layer, inputs, shape):
    x = g.layout(inputs[0], identity(len(inputs[0].shape)))
    channels, groups = shape[-1], layer.groups
    grouped = np.array([0, -1, groups, channels // groups], np.int64)  # (N, S, G, C / G)
    y = g.op("Reshape", [x.name, g.constant(grouped, f"{layer.name}_g")], f"{layer.name}_g")
    y = _standardize(g, y, [1, 3], layer.epsilon, f"{layer.name}_norm")
    back = g.constant(np.array([0, *shape[1:]], np.int64), f"{layer.name}_shape")
    y = g.op("Reshape", [y, back], f"{layer.name}_back")
    full = [1] * (len(shape) - 1) + [channels]
    return x._replace(name=_scale_and_shift(g, y, layer, full, x.perm))


def _pooling(g, layer, inputs, shape):
    x, spatial = _channels_first_input(g, layer, inputs[0])
    pads = conv_padding(layer.padding, spatial, layer.pool_size, layer.strides)
    attributes = {
        "kernel_shape": list(layer.pool_size),
        "strides": list(layer.strides),
        "pads": _onnx_pads(pads),
    }
    if isinstance(layer, (MaxPooling2D, MaxPooling3D)):
        y = g.op("MaxPool", [x.name], layer.name, **attributes)
    else:  # the mean over the window's cells inside the image, as juanji's
        y = g.op("AveragePool", [x.name], layer.name, count_include_pad=0, **attributes)
    return Value(y, shape, x.perm)


def _global_pooling(g, layer, inputs, shape):
    (x,) = inputs
    rank = len(x.shape)
    perm = channels_first(rank) if layer.data_format == "channels_last" else identity(rank)
    x = g.layout(x, perm)
    maximum = isinstance(layer, (GlobalMaxPooling2D, GlobalMaxPooling3D))
    op_type = "GlobalMaxPool" if maximum else "GlobalAveragePool"
    y = g.op(op_type, [x.name], layer.name)  # (N, C, 1, ...)
    if layer.keepdims:
        return Value(y, shape, perm)
    return Value(g.op("Flatten", [y], f"{layer.name}_flat", axis=1), shape, identity(2))


def _flatten(g, layer, inputs, shape):
    x = g.layout(inputs[0], identity(len(inputs[0].shape)))
    return Value(g.op("Flatten", [x.name], layer.name, axis=1), shape, identity(2))


def _reshape(g, layer, inputs, shape):
    x = g.layout(inputs[0], identity(len(inputs[0].shape)))
    target = np.array([0, *layer.target_shape], np.int64)  # 0: keep the (dynamic) batch size
    y = g.op("Reshape", [x.name, g.constant(target, f"{layer.name}_shape")], layer.name)
    return Value(y, shape, identity(len(shape)))


def _passthrough(g, layer, inputs, shape):
    return inputs[0]


def _activation_layer(g, layer, inputs, shape):
    return _activation(g, layer.activation, inputs[0], layer.name, layer)


def _relu(g, layer, inputs, shape):
    return inputs[0]._replace(name=g.op("Relu", [inputs[0].name], layer.name))


def _leaky_relu(g, layer, inputs, shape):
    x = inputs[0]
    return x._replace(
        name=g.op("LeakyRelu", [x.name], layer.name, alpha=float(layer.negative_slope))
    )


def _elu(g, layer, inputs, shape):
    x = inputs[0]
    return x._replace(name=g.op("Elu", [x.name], layer.name, alpha=float(layer.alpha)))


def _softmax_layer(g, layer, inputs, shape):
    return _softmax(g, inputs[0], layer.axis, layer.name)


def _prelu(g, layer, inputs, shape):
    x = g.layout(inputs[0], identity(len(inputs[0].shape)))
    alpha = g.constant(layer.alpha.data, f"{layer.name}_alpha")  # broadcasts over the batch
    return x._replace(name=g.op("PRelu", [x.name, alpha], layer.name))


_OPERATORS = {"add": "Add", "subtract": "Sub", "multiply": "Mul", "divide": "Div"}


def _common_layout(g, values):
    """``values`` laid out alike in ONNX (as the first, when all share its rank; else as
    juanji's), so that elementwise operators broadcast as juanji's do."""
    same_rank = len({len(v.shape) for v in values}) == 1
    return [g.layout(v, values[0].perm if same_rank else identity(len(v.shape))) for v in values]


def _operator(g, layer, inputs, shape):
    """Arithmetic recorded from symbolic tensors: ``x + y``, ``2.0 * x``, ``a @ b``."""
    if layer.op == "matmul":
        a, b = (g.layout(v, identity(len(v.shape))) for v in inputs)
        return Value(g.op("MatMul", [a.name, b.name], layer.name), shape, identity(len(shape)))
    if layer.constant is None:
        a, b = _common_layout(g, inputs)
        names, perm = [a.name, b.name], a.perm
    else:
        (x,) = inputs
        constant = g.constant(np.asarray(layer.constant), f"{layer.name}_constant")
        names = [constant, x.name] if layer.constant_first else [x.name, constant]
        perm = x.perm
    return Value(g.op(_OPERATORS[layer.op], names, layer.name), shape, perm)


def _merge(g, layer, inputs, shape):
    """Add, Subtract, Multiply, Average, Maximum, Minimum: inputs laid out alike, combined."""
    values = _common_layout(g, inputs)
    names = [v.name for v in values]
    kind = type(layer)
    if kind in (Add, Average):
        y = g.op("Sum", names, layer.name if kind is Add else f"{layer.name}_sum")
        if kind is Average:
            y = g.op("Mul", [y, g.constant(1 / len(names), f"{layer.name}_1_n")], layer.name)
    elif kind in (Maximum, Minimum):
        y = g.op("Max" if kind is Maximum else "Min", names, layer.name)
    else:  # Subtract (two inputs) and Multiply, pairwise as juanji's
        op_type = "Sub" if kind is Subtract else "Mul"
        y = names[0]
        for i, name in enumerate(names[1:]):
            y = g.op(op_type, [y, name], layer.name if i == len(names) - 2 else f"{layer.name}_{i}")
    perm = values[0].perm if len(values[0].perm) == len(shape) else identity(len(shape))
    return Value(y, shape, perm)


def _concatenate(g, layer, inputs, shape):
    values = _common_layout(g, inputs)
    axis = values[0].perm.index(layer.axis % len(shape))
    y = g.op("Concat", [v.name for v in values], layer.name, axis=axis)
    return Value(y, shape, values[0].perm)


def _permute(g, layer, inputs, shape):
    """No node at all: only the relation between the ONNX tensor and juanji's changes."""
    x = inputs[0]
    order = (0, *layer.dims)  # juanji's output axis i is its input axis order[i]
    return Value(x.name, shape, tuple(order.index(axis) for axis in x.perm))


def _spatial_axes(layer, rank):
    """juanji's spatial axes of a layer's input, by its data format."""
    return range(2, rank) if layer.data_format == "channels_first" else range(1, rank - 1)


def _zero_padding(g, layer, inputs, shape):
    x = inputs[0]
    rank = len(x.shape)
    before, after = [0] * rank, [0] * rank
    for axis, (b, a) in zip(_spatial_axes(layer, rank), layer.padding):
        before[x.perm.index(axis)], after[x.perm.index(axis)] = b, a
    pads = g.constant(np.array(before + after, np.int64), f"{layer.name}_pads")
    return x._replace(name=g.op("Pad", [x.name, pads], layer.name), shape=shape)


def _slice(g, x, box, hint):
    """``x`` cut to ``box``: ``{juanji axis: (start, stop)}``."""
    axes = sorted(box)
    names = [
        x.name,
        g.constant(np.array([box[a][0] for a in axes], np.int64), f"{hint}_starts"),
        g.constant(np.array([box[a][1] for a in axes], np.int64), f"{hint}_ends"),
        g.constant(np.array([x.perm.index(a) for a in axes], np.int64), f"{hint}_axes"),
    ]
    return g.op("Slice", names, hint)


def _resize(g, x, sizes, interpolation, hint):
    """``x`` resampled to ``sizes`` (``{juanji axis: length}``) as juanji's ``ops.resize``:
    half-pixel centres, bilinear or nearest (rounding half up), no antialiasing."""
    dims = [sizes.get(axis, x.shape[axis]) for axis in x.perm[1:]]  # ONNX order, after N
    shape = g.op("Shape", [x.name], f"{hint}_shape")
    first = [g.constant(np.array([i], np.int64), f"{hint}_{i}") for i in (0, 1)]
    batch = g.op("Slice", [shape, *first], f"{hint}_batch")
    rest = g.constant(np.array(dims, np.int64), f"{hint}_dims")
    full = g.op("Concat", [batch, rest], f"{hint}_sizes", axis=0)
    if interpolation == "bilinear":
        modes = {"mode": "linear"}
    else:
        modes = {"mode": "nearest", "nearest_mode": "round_prefer_ceil"}
    return g.op(
        "Resize", [x.name, "", "", full], hint, coordinate_transformation_mode="half_pixel", **modes
    )


def _cropping(g, layer, inputs, shape):
    x = inputs[0]
    axes = _spatial_axes(layer, len(x.shape))
    box = {a: (b, x.shape[a] - e) for a, (b, e) in zip(axes, layer.cropping)}
    return x._replace(name=_slice(g, x, box, layer.name), shape=shape)


def _upsampling(g, layer, inputs, shape):
    x = inputs[0]
    axes = _spatial_axes(layer, len(x.shape))
    sizes = {a: x.shape[a] * f for a, f in zip(axes, layer.size)}
    return x._replace(name=_resize(g, x, sizes, layer.interpolation, layer.name), shape=shape)


def _rescaling(g, layer, inputs, shape):
    x = inputs[0]
    y = g.op("Mul", [x.name, g.constant(layer.scale, f"{layer.name}_scale")], layer.name)
    if layer.offset:
        y = g.op("Add", [y, g.constant(layer.offset, f"{layer.name}_offset")], layer.name)
    return x._replace(name=y)


def _normalization(g, layer, inputs, shape):
    x = inputs[0]
    mean = layer.mean.data[None]  # (1, ...) in juanji's layout, laid out as x in ONNX
    std = np.maximum(np.sqrt(layer.variance.data), 1e-7)[None]
    mean, std = (
        g.constant(np.transpose(a, x.perm), f"{layer.name}_{n}")
        for a, n in ((mean, "mean"), (std, "std"))
    )
    if layer.invert:
        y = g.op("Add", [g.op("Mul", [x.name, std], f"{layer.name}_s"), mean], layer.name)
    else:
        y = g.op("Div", [g.op("Sub", [x.name, mean], f"{layer.name}_c"), std], layer.name)
    return x._replace(name=y)


def _resizing(g, layer, inputs, shape):
    x = inputs[0]
    target = (layer.height, layer.width)
    if layer.crop_to_aspect_ratio:
        top, left, height, width = _crop_box(x.shape[1:3], target)
        name = _slice(g, x, {1: (top, top + height), 2: (left, left + width)}, f"{layer.name}_c")
        x = Value(name, (None, height, width, x.shape[3]), x.perm)
    y = _resize(g, x, {1: target[0], 2: target[1]}, layer.interpolation, layer.name)
    return Value(y, shape, x.perm)


def _center_crop(g, layer, inputs, shape):
    x = inputs[0]
    (H, W), (h, w) = x.shape[1:3], (layer.height, layer.width)
    if H >= h and W >= w:
        box = {1: ((H - h) // 2, (H - h) // 2 + h), 2: ((W - w) // 2, (W - w) // 2 + w)}
        return x._replace(name=_slice(g, x, box, layer.name), shape=shape)
    top, left, height, width = _crop_box((H, W), (h, w))
    name = _slice(g, x, {1: (top, top + height), 2: (left, left + width)}, f"{layer.name}_c")
    x = Value(name, (None, height, width, x.shape[3]), x.perm)
    return Value(_resize(g, x, {1: h, 2: w}, "bilinear", layer.name), shape, x.perm)


CONVERTERS = {
    InputLayer: _passthrough,
    Dropout: _passthrough,
    Conv2D: _conv,
    Conv3D: _conv,
    Conv2DTranspose: _conv_transpose,
    Conv3DTranspose: _conv_transpose,
    Dense: _dense,
    BatchNormalization: _batch_norm,
    MaxPooling2D: _pooling,
    AveragePooling2D: _pooling,
    MaxPooling3D: _pooling,
    AveragePooling3D: _pooling,
    GlobalAveragePooling2D: _global_pooling,
    GlobalMaxPooling2D: _global_pooling,
    GlobalAveragePooling3D: _global_pooling,
    GlobalMaxPooling3D: _global_pooling,
    Flatten: _flatten,
    Reshape: _reshape,
    Activation: _activation_layer,
    ReLU: _relu,
    LeakyReLU: _leaky_relu,
    ELU: _elu,
    Softmax: _softmax_layer,
    PReLU: _prelu,
    Operator: _operator,
    Add: _merge,
    Subtract: _merge,
    Multiply: _merge,
    Average: _merge,
    Maximum: _merge,
    Minimum: _merge,
    Concatenate: _concatenate,
    Permute: _permute,
    ZeroPadding2D: _zero_padding,
    ZeroPadding3D: _zero_padding,
    Cropping2D: _cropping,
    Cropping3D: _cropping,
    UpSampling2D: _upsampling,
    UpSampling3D: _upsampling,
    SpatialDropout2D: _passthrough,
    DepthwiseConv2D: _depthwise_conv,
    SeparableConv2D: _separable_conv,
    LayerNormalization: _layer_norm,
    GroupNormalization: _group_norm,
    Rescaling: _rescaling,
    Normalization: _normalization,
    Resizing: _resizing,
    CenterCrop: _center_crop,
    # The random augmentations are the identity in inference.
    **dict.fromkeys(
        (
            RandomFlip,
            RandomRotation,
            RandomTranslation,
            RandomZoom,
            RandomContrast,
            RandomBrightness,
        ),
        _passthrough,
    ),
}
