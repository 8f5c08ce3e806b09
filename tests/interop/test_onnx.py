"""ONNX export: every exported graph passes onnx's checker and ONNX Runtime reproduces
``model.predict`` to 1e-5 at two batch sizes."""

import numpy as np
import pytest

from juanji import cli, registry, saving, zoo
from juanji.autograd import no_grad
from juanji.functional import Functional
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
    Input,
    Layer,
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
    RandomContrast,
    RandomFlip,
    RandomRotation,
    Rescaling,
    Resizing,
)
from juanji.models import Model, Sequential

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from juanji.interop import onnx as juanji_onnx  # noqa: E402  (after the skips)

BATCH_SIZES = (1, 7)


def _randomize(model, seed=0):
    """Random biases and batch-norm statistics, so that folding or broadcasting them wrong
    shows (fresh layers hold zeros and ones there)."""
    rng = np.random.default_rng(seed)
    model._maybe_build()
    for w in model.weights:
        kind = w.name.rsplit("/", 1)[-1]
        if kind in ("bias", "beta", "moving_mean"):
            w.data = rng.normal(0, 0.3, w.shape).astype(w.dtype)
        elif kind in ("gamma", "moving_variance"):
            w.data = rng.uniform(0.5, 1.5, w.shape).astype(w.dtype)
        elif kind == "alpha":
            w.data = rng.uniform(0.05, 0.5, w.shape).astype(w.dtype)
    return model


def _export_and_compare(model, tmp_path, opset=None):
    """Export, check the file, run it in ONNX Runtime at two batch sizes against predict."""
    path = tmp_path / f"{model.name}.onnx"
    model.export(path, opset=opset)
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    assert proto.opset_import[0].version == (opset or juanji_onnx.DEFAULT_OPSET)
    (graph_input,) = proto.graph.input
    assert graph_input.type.tensor_type.shape.dim[0].dim_param == juanji_onnx.BATCH_AXIS
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    for n in BATCH_SIZES:
        x = rng.normal(size=(n, *model.build_input_shape[1:])).astype(np.float32)
        (got,) = session.run(None, {"input": x})
        expected = model.predict(x)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    return proto


def _op_types(proto):
    return [node.op_type for node in proto.graph.node]


@pytest.mark.parametrize("name", sorted(zoo.MODELS))
def test_every_zoo_model_runs_in_onnx_runtime(name, tmp_path):
    model = _randomize(zoo.MODELS[name](compile=False))
    proto = _export_and_compare(model, tmp_path)
    ops = _op_types(proto)
    if any(isinstance(layer, Conv2D) for layer in model.layers):
        # One transpose into NCHW before the first convolution, one back before Flatten.
        assert ops.count("Transpose") == 2, ops
    if name == "vgg_small":  # each batch norm folded into the convolution before it
        assert "Mul" not in ops and ops.count("Conv") == 4, ops


def _conv_net():
    return Sequential(
        [
            Input((10, 9, 3)),
            Conv2D(4, 3, strides=2, padding="same", activation="relu"),  # odd: 0 top, 1 bottom
            Conv2D(5, (2, 3), padding="full", activation="tanh"),
            Conv2D(3, 3, dilation_rate=2, strides=(2, 1), padding="same", activation="elu"),
            Conv2D(2, 2, data_format="channels_first", activation="sigmoid"),
            Flatten(),
            Dense(6),
        ],
        name="conv_paddings",
    )


def _pool_net():
    return Sequential(
        [
            Input((11, 10, 3)),
            MaxPooling2D(2, padding="same"),
            AveragePooling2D(3, strides=2, padding="same"),
            Conv2D(4, 1, activation="softplus"),
            MaxPooling2D(3, strides=1),
            GlobalMaxPooling2D(keepdims=True),
            Flatten(),
            Dense(3),
        ],
        name="poolings",
    )


def _global_average_net():
    return Sequential(
        [
            Input((6, 5, 3)),
            Conv2D(4, 3, padding="same", activation="softmax"),  # softmax over channels: axis 1
            AveragePooling2D(2, data_format="channels_first"),  # pools the last two axes
            GlobalAveragePooling2D(),
        ],
        name="global_average",
    )


def _batch_norm_net():
    return Sequential(
        [
            Input((6, 6, 2)),
            Conv2D(4, 3, padding="same"),
            BatchNormalization(),  # folded into the convolution
            ReLU(),
            BatchNormalization(epsilon=0.1),  # on NCHW: a scale and shift along axis 1
            Flatten(),
            Dense(8),
            BatchNormalization(),  # folded into the dense layer
            Dropout(0.5),
            Dense(3, activation="tanh"),
            BatchNormalization(),  # after an activation: kept as a scale and shift
        ],
        name="batch_norms",
    )


def _shape_net():
    return Sequential(
        [
            Input((24,)),
            Reshape((2, 3, 4)),
            PReLU(shared_axes=[1, 2]),
            Conv2D(3, 2, activation="gelu"),
            LeakyReLU(0.1),
            ELU(0.7),
            Reshape((-1, 3)),
            Softmax(axis=1),
            Flatten(),
        ],
        name="shapes",
    )


def _merge_net():
    """An Inception-style block: branches joined by every merge layer."""
    x = Input((6, 6, 3))
    a = Conv2D(4, 1, activation="relu")(x)
    b = Conv2D(4, 3, padding="same", activation="tanh")(x)
    c = MaxPooling2D(3, strides=1, padding="same")(Conv2D(4, 1)(x))
    joined = Concatenate()([a, b, c, Average()([a, b, c])])
    mixed = Concatenate(axis=1)([Maximum()([a, b]), Minimum()([b, c]), Subtract()([a, c])])
    gated = Multiply()([Conv2D(12, 1)(mixed), Activation("sigmoid")(Conv2D(12, 1)(mixed))])
    flat = Flatten()(gated)
    vector = Dense(5)(Flatten()(joined))
    return Functional(x, Concatenate()([Dense(5)(flat), Multiply()([vector, vector, vector])]))


def _reshaping_net():
    return Sequential(
        [
            Input((5, 6, 3)),
            ZeroPadding2D(((1, 0), (2, 1))),
            DepthwiseConv2D(3, depth_multiplier=2, strides=2, padding="same", activation="relu"),
            UpSampling2D((2, 3)),
            Cropping2D(((1, 0), (0, 2))),
            SeparableConv2D(4, 3, depth_multiplier=2, activation="elu"),
            LayerNormalization(axis=[1, 3]),  # H and C, axes 2 and 1 of the NCHW tensor
            SpatialDropout2D(0.5),
            ZeroPadding2D(1, data_format="channels_first"),  # pads the (W, C) axes
            Permute((3, 1, 2)),
            Conv2D(6, 2, data_format="channels_first"),
            GroupNormalization(groups=3),
            LayerNormalization(center=False),
            Flatten(),
        ],
        name="reshaping",
    )


def _volume_net():
    return Sequential(
        [
            Input((3, 4, 5, 2)),
            ZeroPadding3D(((1, 0), (0, 1), (2, 2))),
            UpSampling3D((1, 2, 1)),
            Cropping3D(((0, 1), (1, 1), (0, 3))),
            Permute((4, 2, 3, 1)),
            Flatten(),
            Dense(4),
        ],
        name="volumes",
    )


def _transposed_net():
    """Transposed convolutions whose outputs Keras 3 crops, or pads past the last window."""
    return Sequential(
        [
            Input((4, 5, 3)),
            Conv2DTranspose(4, 3, strides=2, activation="relu"),  # valid: (n - 1) * 2 + 3
            Conv2DTranspose(3, 2, strides=3),  # valid, stride above the kernel: 1 cell more
            Conv2DTranspose(3, 3, strides=2, padding="same", output_padding=1),
            Conv2DTranspose(2, 2, strides=(3, 2), padding="same", activation="tanh"),
            Conv2DTranspose(3, 3, dilation_rate=2, padding="same"),
            Conv2DTranspose(2, (2, 3), strides=2, data_format="channels_first"),
            Flatten(),
        ],
        name="transposed",
    )


def _volume_conv_net():
    x = Input((4, 6, 5, 2))
    h = Conv3D(4, 3, strides=2, padding="same")(x)  # even sizes: the extra zero after
    h = Activation("relu")(BatchNormalization()(h))  # folded into the convolution
    h = Conv3D(3, (2, 3, 2), padding="full", dilation_rate=(1, 2, 1), activation="elu")(h)
    h = MaxPooling3D(2, padding="same")(h)
    up = Conv3DTranspose(3, 3, strides=2, padding="same", output_padding=(1, 0, 1))(h)
    down = AveragePooling3D((2, 2, 3), strides=(1, 2, 1))(up)
    a = GlobalAveragePooling3D()(down)
    b = Flatten()(GlobalMaxPooling3D(keepdims=True)(Conv3D(3, 1, data_format="channels_first")(up)))
    return Functional(x, Concatenate()([a, b]), name="volume_convs")


def _preprocessing_net():
    return Sequential(
        [
            Input((9, 7, 3)),
            Rescaling(1 / 255, offset=-0.5),
            Normalization(mean=[0.1, -0.2, 0.3], variance=[0.5, 2.0, 1.5]),
            RandomFlip(),
            RandomRotation(0.2),
            RandomContrast(0.5),
            Resizing(5, 6),  # bilinear, ratios 9/5 and 7/6
            UpSampling2D((2, 1), interpolation="bilinear"),
            Conv2D(4, 3, activation="relu"),  # in NCHW from here
            Resizing(11, 4, interpolation="nearest"),
            Resizing(6, 9, crop_to_aspect_ratio=True),
            CenterCrop(4, 5),
            CenterCrop(6, 6),  # larger than its input: cropped to 4x4, resized up
            Normalization(axis=None, mean=0.5, variance=4.0, invert=True),
            Flatten(),
        ],
        name="preprocessing",
    )


@pytest.mark.parametrize(
    "build",
    [
        _transposed_net,
        _volume_conv_net,
        _preprocessing_net,
        _conv_net,
        _pool_net,
        _global_average_net,
        _batch_norm_net,
        _shape_net,
        _merge_net,
        _reshaping_net,
        _volume_net,
    ],
)
def test_layers_and_paddings_match(build, tmp_path):
    _export_and_compare(_randomize(build()), tmp_path)


ACTIVATIONS = sorted(
    name
    for name in (
        "linear relu sigmoid tanh softmax log_softmax elu selu softplus softsign "
        "silu swish gelu hard_sigmoid leaky_relu relu6 exponential mish hard_silu log_sigmoid"
    ).split()
)


def test_every_activation(tmp_path):
    assert {registry.lookup("activation", a).__name__ for a in ACTIVATIONS} == set(
        registry._REGISTRY["activation"][k].__name__ for k in registry._REGISTRY["activation"]
    ), "an activation was added: give it an ONNX conversion and list it here"
    for name in ACTIVATIONS:
        model = Sequential(
            [Input((3, 3, 2)), Conv2D(4, 2, activation=name), Activation(name)], name=name
        )
        _export_and_compare(_randomize(model), tmp_path)


def _residual_net():
    """Two residual blocks joined by ``+`` (a functional graph), as in ResNet."""
    x = Input((8, 8, 3), name="image")
    h = Conv2D(8, 3, padding="same", use_bias=False)(x)
    h = Activation("relu")(BatchNormalization()(h))
    for block in range(2):
        y = ReLU()(BatchNormalization()(Conv2D(8, 3, padding="same")(h)))
        y = BatchNormalization()(Conv2D(8, 3, padding="same")(y))
        h = Activation("relu")(Add()([h, y]) if block == 0 else h + y)
    h = GlobalAveragePooling2D()(MaxPooling2D(2)(h))
    return Functional(x, Dense(4, activation="softmax")(h), name="residual")


def test_a_functional_residual_net(tmp_path):
    proto = _export_and_compare(_randomize(_residual_net()), tmp_path)
    ops = _op_types(proto)
    assert ops.count("Sum") >= 2 and ops.count("Transpose") == 1, ops  # NHWC in, NCHW after


def test_shared_layers(tmp_path):
    """A convolution and a batch norm each called twice: neither may be folded into one call."""
    x = Input((5, 5, 2))
    conv, norm = Conv2D(2, 3, padding="same"), BatchNormalization()
    a = norm(conv(x))
    b = norm(conv(Activation("tanh")(a)))
    c = conv(Activation("relu")(b))
    _export_and_compare(_randomize(Functional(x, Flatten()(Add()([a, b, c])))), tmp_path)


def test_models_inside_models(tmp_path):
    """A Sequential base used twice in a functional model, inside a Sequential."""
    base = Sequential(
        [Input((6, 6, 2)), Conv2D(3, 3, use_bias=False), BatchNormalization(), ReLU()],
        name="base",
    )
    x = Input((6, 6, 2))
    twin = Functional(x, Add()([base(x), base(Activation("tanh")(x))]), name="twin")
    model = Sequential([Input((6, 6, 2)), twin, Flatten(), Dense(3)], name="outer")
    proto = _export_and_compare(_randomize(model), tmp_path)
    assert _op_types(proto).count("Conv") == 2


def test_several_inputs_and_outputs(tmp_path):
    image, extra = Input((4, 5, 2), name="image"), Input((3,), name="extra")
    h = Flatten()(Conv2D(2, 2, activation="tanh")(image))
    outputs = {"logits": Dense(3)(h) - 2.0 * Dense(3)(extra), "features": 1.0 - h * h / 4.0}
    model = _randomize(Functional([image, extra], outputs, name="two_way"))
    model.export(tmp_path / "two.onnx")
    onnx.checker.check_model(onnx.load(tmp_path / "two.onnx"), full_check=True)
    session = ort.InferenceSession(str(tmp_path / "two.onnx"), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["logits", "features"]
    rng = np.random.default_rng(0)
    for n in BATCH_SIZES:
        feed = {"image": rng.normal(size=(n, 4, 5, 2)), "extra": rng.normal(size=(n, 3))}
        feed = {k: v.astype(np.float32) for k, v in feed.items()}
        with no_grad():
            expected = model(feed)
        for output, got in zip(session.get_outputs(), session.run(None, feed)):
            np.testing.assert_allclose(got, expected[output.name].data, rtol=1e-5, atol=1e-5)


def test_opset_13_and_a_wrong_opset(tmp_path):
    _export_and_compare(_randomize(zoo.vgg_small(compile=False)), tmp_path, opset=13)
    with pytest.raises(ValueError, match="opset"):
        zoo.mlp(compile=False).export(tmp_path / "m.onnx", opset=5)
    with pytest.raises(ValueError, match="format"):
        zoo.mlp(compile=False).export(tmp_path / "m.tflite", format="tflite")


class _Twice(Layer):
    def call(self, x, training=False):
        return x * 2.0


def test_a_layer_without_onnx_form_is_named(tmp_path):
    model = Sequential([Input((4,)), Dense(3), _Twice(name="doubler")])
    with pytest.raises(ValueError, match=r"'doubler' \(_Twice\)"):
        model.export(tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_a_subclassed_model_is_refused(tmp_path):
    class Net(Model):
        def __init__(self):
            super().__init__(name="net")
            self.dense = Dense(2)

        def call(self, x, training=False):
            return self.dense(x)

    net = Net()
    net.build((None, 3))
    with pytest.raises(ValueError, match="'net' \\(Net\\).*own call"):
        net.export(tmp_path / "n.onnx")


def test_the_export_command(tmp_path, capsys):
    model = _randomize(zoo.lenet5(compile=False))
    saving.save_model(model, tmp_path / "lenet.juanji")
    assert cli.main(["export", str(tmp_path / "lenet.juanji"), "--opset", "14"]) == 0
    assert "opset 14" in capsys.readouterr().out
    session = ort.InferenceSession(str(tmp_path / "lenet.onnx"), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).normal(size=(3, 32, 32, 1)).astype(np.float32)
    np.testing.assert_allclose(session.run(None, {"input": x})[0], model.predict(x), atol=1e-5)

    assert cli.main(["export", str(tmp_path / "missing.juanji")]) == cli.EXIT_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("juanji: error: ") and "missing.juanji" in err[0]
    assert cli.main(["export", str(tmp_path / "lenet.juanji"), "--opset", "3"]) == cli.EXIT_ERROR
    assert "opset" in capsys.readouterr().err
