"""Keras 3 layers and their juanji forms: ``LAYERS`` maps each Keras class name to a function
that takes the layer's ``config`` apart key by key (``Args``) and returns a ``Spec``: the
juanji class, its arguments, and its weights' names and shapes in Keras's order. Whatever a
mapping does not take is refused, naming the layer and the argument (see
``juanji.interop.keras_format``).
"""

import math
from typing import NamedTuple

MAX_SAMPLE_VALUES = 2**26  # one input sample
# Keras arguments with no effect on what the loaded layer computes: weights replace the
# initializers' draws.
_IGNORED = {
    "name",
    "trainable",
    "dtype",
    "kernel_initializer",
    "bias_initializer",
    "beta_initializer",
    "gamma_initializer",
    "moving_mean_initializer",
    "moving_variance_initializer",
    "alpha_initializer",
    "depthwise_initializer",
    "pointwise_initializer",
}
# Activation names whose Keras 3 definitions juanji's registered functions share exactly
# (gelu exact, hard_sigmoid relu6(x + 3) / 6, hard_silu x * hard_sigmoid(x), leaky_relu
# slope 0.2, mish x * tanh(softplus(x))).
ACTIVATIONS = {
    "linear",
    "relu",
    "sigmoid",
    "tanh",
    "softmax",
    "log_softmax",
    "elu",
    "selu",
    "softplus",
    "softsign",
    "silu",
    "swish",
    "gelu",
    "hard_sigmoid",
    "leaky_relu",
    "relu6",
    "exponential",
    "mish",
    "hard_silu",
    "hard_swish",
    "log_sigmoid",
}
_REGULARIZERS = {"L1": ("l1",), "L2": ("l2",), "L1L2": ("l1", "l2")}


class Refused(Exception):
    """Raised by the mappings; the reader turns it into a ModelFileError naming the file."""


class Spec(NamedTuple):
    """A Keras layer mapped to juanji: the juanji class and arguments, the juanji names of
    its weights in the order of Keras's variables, and their shapes for an input shape."""

    class_name: str
    kwargs: dict
    weights: tuple = ()
    shapes: object = None  # (kwargs, input_shape) -> one shape per weight


class Args:
    """A Keras layer's ``config``, taken apart key by key; what is left over is refused."""

    def __init__(self, where, config):
        if not isinstance(config, dict):
            raise Refused(f"{where}: 'config' must be an object")
        self.where = where
        self.config = dict(config)
        _check_dtype(where, self.config.get("dtype", "float32"))
        for key in _IGNORED:
            self.config.pop(key, None)

    def take(self, key, default=None):
        return self.config.pop(key, default)

    def int(self, key, default=None, minimum=1):
        value = self.take(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise Refused(f"{self.where}: expected an int >= {minimum} for '{key}', got {value!r}")
        return value

    def number(self, key, default):
        value = self.take(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise Refused(f"{self.where}: expected a number for '{key}', got {value!r}")
        return value

    def ints(self, key, default=None):
        """An int or a list of ints (kernel sizes, strides, shapes) as a list."""
        value = self.take(key, default)
        values = [value] if isinstance(value, int) else value
        if not isinstance(values, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in values
        ):
            raise Refused(f"{self.where}: expected positive ints for '{key}', got {value!r}")
        return values

    def choice(self, key, allowed, default):
        value = self.take(key, default)
        if value not in allowed:
            raise Refused(
                f"{self.where}: juanji maps {key} in {sorted(allowed)} only, got {value!r}"
            )
        return value

    def none(self, *keys):
        """Arguments juanji has no counterpart for: accepted only when unset."""
        for key in keys:
            value = self.take(key)
            if value not in (None, 0, False):
                raise Refused(f"{self.where}: juanji has no '{key}' (got {value!r})")

    def activation(self, key="activation"):
        value = self.take(key, "linear")
        if isinstance(value, dict) and value.get("module") == "keras.activations":
            value = value.get("config")  # {"class_name": "function", "config": "relu"}
        if value is None:
            return None
        if not isinstance(value, str) or value not in ACTIVATIONS:
            raise Refused(f"{self.where}: juanji cannot map the activation {value!r}")
        return value

    def regularizer(self, key):
        value = self.take(key)
        if value is None:
            return None
        known = (
            isinstance(value, dict)
            and value.get("module") == "keras.regularizers"
            and value.get("class_name") in _REGULARIZERS
            and isinstance(value.get("config"), dict)
        )
        if known:
            names = _REGULARIZERS[value["class_name"]]
            config = {n: value["config"].get(n, 0.0) for n in names}
            if all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in config.values()
            ):
                return {"class_name": value["class_name"], "config": config}
        raise Refused(f"{self.where}: juanji cannot map the regularizer {key}={value!r}")

    def done(self, spec):
        if self.config:
            raise Refused(f"{self.where}: juanji cannot map the arguments {sorted(self.config)}")
        return spec


def _check_dtype(where, dtype):
    if isinstance(dtype, dict):  # a DTypePolicy object
        dtype = (dtype.get("config") or {}).get("name")
    if dtype != "float32":
        raise Refused(f"{where}: juanji maps float32 layers only, got dtype {dtype!r}")


# --- Keras layers and their juanji forms ---------------------------------------------------
def input_layer(a):
    shape = a.take("batch_shape") or a.take("batch_input_shape")
    a.none("sparse", "ragged", "optional")
    if not isinstance(shape, list) or len(shape) < 2 or shape[0] is not None:
        raise Refused(f"{a.where}: expected batch_shape [null, ...], got {shape!r}")
    sample = shape[1:]
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in sample):
        raise Refused(f"{a.where}: juanji needs every axis but the batch fixed, got {shape!r}")
    if math.prod(sample) > MAX_SAMPLE_VALUES:
        raise Refused(f"{a.where}: an input sample of {math.prod(sample)} values is too large")
    return a.done(Spec("Input", {"shape": sample}))


def _kernel_options(a, spec_name, kwargs, kernel_shape):
    a.none("kernel_constraint", "bias_constraint", "activity_regularizer", "lora_rank")
    a.none("lora_alpha", "quantization_config")
    use_bias = a.choice("use_bias", (True, False), True)
    kwargs = {
        **kwargs,
        "activation": a.activation(),
        "use_bias": use_bias,
        "kernel_regularizer": a.regularizer("kernel_regularizer"),
        "bias_regularizer": a.regularizer("bias_regularizer"),
    }
    weights = ("kernel", "bias") if use_bias else ("kernel",)

    def shapes(kwargs, input_shape):
        kernel = kernel_shape(kwargs, input_shape)
        units = kwargs.get("units", kwargs.get("filters"))  # the bias's one entry per output
        return (kernel, (units,))[: len(weights)]

    return a.done(Spec(spec_name, kwargs, weights, shapes))


def _dense(a):
    units = a.int("units")
    return _kernel_options(a, "Dense", {"units": units}, lambda kw, shape: (shape[-1], units))


def _data_format(a):
    return a.choice("data_format", ("channels_last", "channels_first"), "channels_last")


def _conv(juanji_name, rank, transposed=False):
    """Conv2D/3D and their transposes; a transposed kernel is (K..., F, C) in both."""

    def mapping(a):
        a.choice("groups", (1,), 1)
        ones = [1] * rank
        kwargs = {
            "filters": a.int("filters"),
            "kernel_size": a.ints("kernel_size"),
            "strides": a.ints("strides", ones),
            "padding": a.choice("padding", ("valid", "same"), "valid"),
            "data_format": _data_format(a),
            "dilation_rate": a.ints("dilation_rate", ones),
        }
        if transposed:
            padding = a.take("output_padding")
            kwargs["output_padding"] = None if padding is None else _nonnegative_ints(a, padding)

        def kernel_shape(kw, shape):
            channels = _channels(kw, shape)
            pair = (kw["filters"], channels) if transposed else (channels, kw["filters"])
            return (*_per_axis(kw["kernel_size"], rank), *pair)

        return _kernel_options(a, juanji_name, kwargs, kernel_shape)

    return mapping


def _nonnegative_ints(a, value):
    """``value`` (an int or list of ints >= 0) as given, else refused."""
    values = [value] if isinstance(value, int) else value
    if not isinstance(values, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values
    ):
        raise Refused(f"{a.where}: expected ints >= 0, got {value!r}")
    return value


def _per_axis(values, rank):
    """One entry per spatial axis, from one for all or one each."""
    return tuple(values) * rank if len(values) == 1 else tuple(values)


def _pooling(juanji_name):
    def mapping(a):
        pool_size = a.ints("pool_size", [2, 2])
        kwargs = {
            "pool_size": pool_size,
            "strides": a.ints("strides", pool_size) if a.config.get("strides") else pool_size,
            "padding": a.choice("padding", ("valid", "same"), "valid"),
            "data_format": _data_format(a),
        }
        a.none("strides")  # null: the pool size, taken above
        return a.done(Spec(juanji_name, kwargs))

    return mapping


def _global_pooling(juanji_name):
    def mapping(a):
        kwargs = {
            "data_format": _data_format(a),
            "keepdims": a.choice("keepdims", (True, False), False),
        }
        return a.done(Spec(juanji_name, kwargs))

    return mapping


def _flatten(a):
    # NOTE: Keras moves the channels last before flattening channels_first images; juanji's
    # Flatten keeps the order it is given, so only channels_last maps.
    a.choice("data_format", ("channels_last",), "channels_last")
    return a.done(Spec("Flatten", {}))


def _reshape(a):
    target = a.take("target_shape")
    if not isinstance(target, list) or not all(
        isinstance(n, int) and not isinstance(n, bool) and (n >= 1 or n == -1) for n in target
    ):
        raise Refused(f"{a.where}: expected target_shape as ints, got {target!r}")
    return a.done(Spec("Reshape", {"target_shape": target}))


def _dropout(a):
    a.none("noise_shape")
    seed = a.take("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise Refused(f"{a.where}: expected an int seed, got {seed!r}")
    rate = a.number("rate", 0.5)
    return a.done(Spec("Dropout", {"rate": rate, "seed": seed}))


def _activation_layer(a):
    return a.done(Spec("Activation", {"activation": a.activation()}))


def _batch_normalization(a, input_shape):
    axis = a.take("axis", -1)
    if not (axis == -1 or (input_shape is not None and axis == len(input_shape) - 1)):
        raise Refused(f"{a.where}: juanji normalises the last axis only, got axis={axis!r}")
    a.none("renorm", "renorm_clipping", "beta_regularizer", "gamma_regularizer")
    a.none("beta_constraint", "gamma_constraint")
    a.take("renorm_momentum")
    a.take("synchronized")  # one device: the same statistics
    center = a.choice("center", (True, False), True)
    scale = a.choice("scale", (True, False), True)
    kwargs = {
        "momentum": a.number("momentum", 0.99),
        "epsilon": a.number("epsilon", 1e-3),
        "center": center,
        "scale": scale,
    }
    weights = (*(("gamma",) if scale else ()), *(("beta",) if center else ()))
    weights += ("moving_mean", "moving_variance")
    return a.done(
        Spec("BatchNormalization", kwargs, weights, lambda kw, s: ((s[-1],),) * len(weights))
    )


def _relu(a):
    a.none("max_value", "threshold")
    slope = a.number("negative_slope", 0.0)
    if slope:
        return a.done(Spec("LeakyReLU", {"negative_slope": slope}))
    return a.done(Spec("ReLU", {}))


def _leaky_relu(a):
    return a.done(Spec("LeakyReLU", {"negative_slope": a.number("negative_slope", 0.3)}))


def _elu(a):
    return a.done(Spec("ELU", {"alpha": a.number("alpha", 1.0)}))


def _softmax(a):
    return a.done(Spec("Softmax", {"axis": a.int("axis", -1, minimum=-(2**31))}))


def _prelu(a):
    a.none("alpha_constraint")
    shared = a.take("shared_axes")
    shared = [shared] if isinstance(shared, int) else shared
    if shared is not None and not (
        isinstance(shared, list) and all(isinstance(n, int) and n >= 1 for n in shared)
    ):
        raise Refused(f"{a.where}: expected shared_axes as positive ints, got {shared!r}")
    kwargs = {"alpha_regularizer": a.regularizer("alpha_regularizer"), "shared_axes": shared}

    def shapes(kw, input_shape):
        shape = list(input_shape[1:])
        for axis in kw["shared_axes"] or ():
            shape[axis - 1] = 1
        return (tuple(shape),)

    return a.done(Spec("PReLU", kwargs, ("alpha",), shapes))


def _depthwise_options(a):
    a.none("depthwise_constraint", "pointwise_constraint", "bias_constraint")
    a.none("activity_regularizer")
    return {
        "kernel_size": a.ints("kernel_size"),
        "strides": a.ints("strides", [1, 1]),
        "padding": a.choice("padding", ("valid", "same"), "valid"),
        "depth_multiplier": a.int("depth_multiplier", 1),
        "data_format": _data_format(a),
        "dilation_rate": a.ints("dilation_rate", [1, 1]),
        "activation": a.activation(),
        "use_bias": a.choice("use_bias", (True, False), True),
        "depthwise_regularizer": a.regularizer("depthwise_regularizer"),
        "bias_regularizer": a.regularizer("bias_regularizer"),
    }


def _channels(kwargs, input_shape):
    return input_shape[1] if kwargs["data_format"] == "channels_first" else input_shape[-1]


def _depthwise_conv2d(a):
    kwargs = _depthwise_options(a)
    weights = ("kernel", "bias") if kwargs["use_bias"] else ("kernel",)

    def shapes(kw, input_shape):
        c, m = _channels(kw, input_shape), kw["depth_multiplier"]
        return ((*_per_axis(kw["kernel_size"], 2), c, m), (c * m,))[: len(weights)]

    return a.done(Spec("DepthwiseConv2D", kwargs, weights, shapes))


def _separable_conv2d(a):
    kwargs = {
        "filters": a.int("filters"),
        **_depthwise_options(a),
        "pointwise_regularizer": a.regularizer("pointwise_regularizer"),
    }
    weights = ("depthwise_kernel", "pointwise_kernel", "bias")[: 3 if kwargs["use_bias"] else 2]

    def shapes(kw, input_shape):
        c, m, f = _channels(kw, input_shape), kw["depth_multiplier"], kw["filters"]
        return ((*_per_axis(kw["kernel_size"], 2), c, m), (1, 1, c * m, f), (f,))[: len(weights)]

    return a.done(Spec("SeparableConv2D", kwargs, weights, shapes))


def _normalization_weights(a):
    a.none("beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint")
    center = a.choice("center", (True, False), True)
    scale = a.choice("scale", (True, False), True)
    kwargs = {"epsilon": a.number("epsilon", 1e-3), "center": center, "scale": scale}
    return kwargs, (*(("gamma",) if scale else ()), *(("beta",) if center else ()))


def _layer_normalization(a):
    a.none("rms_scaling")
    axis = a.take("axis", -1)
    axes = [axis] if isinstance(axis, int) else axis
    if not isinstance(axes, list) or not all(
        isinstance(n, int) and not isinstance(n, bool) for n in axes
    ):
        raise Refused(f"{a.where}: expected int axes, got axis={axis!r}")
    kwargs, weights = _normalization_weights(a)

    def shapes(kw, input_shape):
        return (tuple(input_shape[n] for n in axes),) * len(weights)

    return a.done(Spec("LayerNormalization", {**kwargs, "axis": axes}, weights, shapes))


def _group_normalization(a):
    a.choice("axis", (-1,), -1)
    kwargs, weights = _normalization_weights(a)
    kwargs["groups"] = a.int("groups", 32)
    return a.done(
        Spec("GroupNormalization", kwargs, weights, lambda kw, s: ((s[-1],),) * len(weights))
    )


def _plain(juanji_name, channels_last=False, **defaults):
    """A layer whose Keras arguments are juanji's, with JSON values juanji checks itself;
    ``channels_last``: Keras's data_format must be that, juanji's layer having none."""

    def mapping(a):
        if channels_last:
            a.choice("data_format", ("channels_last",), "channels_last")
        kwargs = {key: a.take(key, default) for key, default in defaults.items()}
        return a.done(Spec(juanji_name, kwargs))

    return mapping


def _resizing(a):
    a.choice("data_format", ("channels_last",), "channels_last")
    a.none("pad_to_aspect_ratio", "antialias")
    a.take("fill_mode")  # used only to pad to the aspect ratio
    a.take("fill_value")
    kwargs = {
        "height": a.int("height"),
        "width": a.int("width"),
        "interpolation": a.choice("interpolation", ("bilinear", "nearest"), "bilinear"),
        "crop_to_aspect_ratio": a.choice("crop_to_aspect_ratio", (True, False), False),
    }
    return a.done(Spec("Resizing", kwargs))


def _normalization(a):
    axis = a.take("axis", -1)
    kwargs = {
        "axis": axis,
        "mean": a.take("mean"),
        "variance": a.take("variance"),
        "invert": a.choice("invert", (True, False), False),
    }
    if kwargs["mean"] is not None:  # given statistics: no variables in the file
        return a.done(Spec("Normalization", kwargs))
    kept = None if axis is None else [axis] if isinstance(axis, int) else axis
    if kept is not None and not all(isinstance(n, int) and not isinstance(n, bool) for n in kept):
        raise Refused(f"{a.where}: expected int axes, got axis={axis!r}")

    def shapes(kw, input_shape):
        rank = len(input_shape)
        stats = () if kept is None else tuple(input_shape[n % rank] for n in sorted(kept))
        return stats, stats, ()  # adapted mean and variance, and Keras's sample count

    return a.done(Spec("Normalization", kwargs, ("mean", "variance", None), shapes))


_AFFINE = {"fill_mode": "reflect", "interpolation": "bilinear", "seed": None, "fill_value": 0.0}
_INTENSITY = {"value_range": [0, 255], "seed": None}
_MERGES = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")
_SPATIAL = {"data_format": "channels_last"}

# Keras 3 class name -> its mapping. Mappings that need the layer's input shape take it too.
LAYERS = {
    "InputLayer": input_layer,
    "Dense": _dense,
    "Conv2D": _conv("Conv2D", 2),
    "Conv3D": _conv("Conv3D", 3),
    "Conv2DTranspose": _conv("Conv2DTranspose", 2, transposed=True),
    "Conv3DTranspose": _conv("Conv3DTranspose", 3, transposed=True),
    **{name: _pooling(name) for name in ("MaxPooling2D", "AveragePooling2D")},
    **{name: _pooling(name) for name in ("MaxPooling3D", "AveragePooling3D")},
    **{
        name: _global_pooling(name)
        for name in (
            "GlobalAveragePooling2D",
            "GlobalMaxPooling2D",
            "GlobalAveragePooling3D",
            "GlobalMaxPooling3D",
        )
    },
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Dropout": _dropout,
    "Activation": _activation_layer,
    "BatchNormalization": _batch_normalization,
    "ReLU": _relu,
    "LeakyReLU": _leaky_relu,
    "ELU": _elu,
    "Softmax": _softmax,
    "PReLU": _prelu,
    "DepthwiseConv2D": _depthwise_conv2d,
    "SeparableConv2D": _separable_conv2d,
    "LayerNormalization": _layer_normalization,
    "GroupNormalization": _group_normalization,
    **{name: _plain(name) for name in _MERGES},
    "Concatenate": _plain("Concatenate", axis=-1),
    "Permute": _plain("Permute", dims=None),
    "ZeroPadding2D": _plain("ZeroPadding2D", padding=1, **_SPATIAL),
    "ZeroPadding3D": _plain("ZeroPadding3D", padding=1, **_SPATIAL),
    "Cropping2D": _plain("Cropping2D", cropping=0, **_SPATIAL),
    "Cropping3D": _plain("Cropping3D", cropping=0, **_SPATIAL),
    "UpSampling2D": _plain("UpSampling2D", size=2, interpolation="nearest", **_SPATIAL),
    "UpSampling3D": _plain("UpSampling3D", size=2, **_SPATIAL),
    "SpatialDropout2D": _plain("SpatialDropout2D", rate=0.5, seed=None, **_SPATIAL),
    "Rescaling": _plain("Rescaling", scale=1.0, offset=0.0),
    "Resizing": _resizing,
    "CenterCrop": _plain("CenterCrop", True, height=None, width=None),
    "Normalization": _normalization,
    "RandomFlip": _plain("RandomFlip", True, mode="horizontal_and_vertical", seed=None),
    "RandomRotation": _plain("RandomRotation", True, factor=None, **_AFFINE),
    "RandomTranslation": _plain(
        "RandomTranslation", True, height_factor=None, width_factor=None, **_AFFINE
    ),
    "RandomZoom": _plain("RandomZoom", True, height_factor=None, width_factor=None, **_AFFINE),
    "RandomContrast": _plain("RandomContrast", True, factor=None, **_INTENSITY),
    "RandomBrightness": _plain("RandomBrightness", True, factor=None, **_INTENSITY),
}
_NEEDS_INPUT_SHAPE = {"BatchNormalization"}
_RUNS_CODE = {"Lambda", "TorchModuleWrapper", "JaxLayer", "FlaxLayer", "TFSMLayer"}


def layer_spec(entry, index):
    """The juanji form of one entry of a model's ``layers`` list."""
    if not isinstance(entry, dict):
        raise Refused(f"layer {index}: expected an object, got {type(entry).__name__}")
    class_name = entry.get("class_name")
    config = entry.get("config")
    name = config.get("name") if isinstance(config, dict) else None
    where = f"layer '{name}' ({class_name})"
    if class_name in _RUNS_CODE:
        raise Refused(
            f"{where} holds Python code to run; juanji never executes code from a model file"
        )
    if class_name in ("Sequential", "Functional", "Model"):
        raise Refused(f"{where}: juanji does not map a model nested inside another")
    module, registered = entry.get("module"), entry.get("registered_name")
    if module != "keras.layers" or registered not in (None, class_name):
        raise Refused(
            f"{where} comes from module {module!r} (registered_name {registered!r}), outside "
            "Keras's own layers; juanji loads Keras's layers only and never imports code"
        )
    if class_name not in LAYERS:
        raise Refused(
            f"{where}: juanji has no mapping for this Keras layer. It maps "
            f"{', '.join(sorted(LAYERS))}"
        )
    if not isinstance(name, str) or not name:
        raise Refused(f"layer {index} ({class_name}): expected a name in its config")
    trainable = config.get("trainable", True)
    if not isinstance(trainable, bool):
        raise Refused(f"{where}: expected trainable true or false, got {trainable!r}")
    args = Args(where, config)
    if class_name in _NEEDS_INPUT_SHAPE:
        build = entry.get("build_config") or {}
        spec = LAYERS[class_name](args, build.get("input_shape"))
    else:
        spec = LAYERS[class_name](args)
    if not trainable:  # a frozen layer stays frozen
        spec.kwargs["trainable"] = False
    return name, spec
