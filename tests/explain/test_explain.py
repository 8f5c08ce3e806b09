"""The text's lessons, measured on real layers."""

import numpy as np
import pytest

import juanji
from juanji import explain, layers
from juanji.models import Sequential


def _images(n=4, size=16, seed=0):
    return np.random.default_rng(seed).random((n, size, size, 1)).astype(np.float32)


def test_weight_sharing_saves_orders_of_magnitude_of_parameters():
    counts = explain.conv_vs_dense_parameters((28, 28, 1), filters=4, kernel_size=5)
    conv = layers.Conv2D(4, 5)
    conv(np.zeros((1, 28, 28, 1), np.float32))
    assert counts["conv"] == conv.count_params() == 104
    assert counts["dense"] == 28 * 28 * 24 * 24 * 4 + 24 * 24 * 4
    assert counts["locally_connected"] == 24 * 24 * 26 * 4
    assert counts["dense_over_conv"] > 10_000


def test_convolution_is_translation_equivariant_and_a_dense_map_is_not():
    juanji.set_seed(0)
    x = _images()
    conv = layers.Conv2D(3, 3, padding="same")
    assert explain.translation_equivariance(conv, x, shift=(2, 1)) < 1e-6
    dense_map = Sequential(
        [
            layers.Input((16, 16, 1)),
            layers.Flatten(),
            layers.Dense(256),
            layers.Reshape((16, 16, 1)),
        ]
    )
    assert explain.translation_equivariance(dense_map, x, shift=(2, 1)) > 0.5


def test_max_pooling_makes_small_shifts_matter_less():
    juanji.set_seed(1)
    x = np.zeros((64, 16, 16, 1), np.float32)
    rng = np.random.default_rng(2)
    for i, (r, c) in enumerate(rng.integers(2, 12, (64, 2))):
        x[i, r : r + 2, c : c + 2] = 1.0  # a 2x2 blob: pooling 4x4 often absorbs a 1-pixel shift
    unpooled = explain.shift_similarity(layers.Flatten(), x, shift=(0, 1))
    pooled = explain.shift_similarity(layers.MaxPooling2D(4), x, shift=(0, 1))
    assert unpooled == pytest.approx(0.5)  # a 2x2 blob moved by 1 pixel overlaps itself half
    assert pooled > unpooled + 0.25


def test_vanishing_gradients_are_visible_in_a_deep_sigmoid_stack():
    juanji.set_seed(3)
    x = np.random.default_rng(3).standard_normal((32, 20)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[np.arange(32) % 2]

    def first_to_last_ratio(activation):
        stack = [layers.Input((20,))] + [layers.Dense(20, activation=activation) for _ in range(8)]
        model = Sequential(stack + [layers.Dense(2, activation="softmax")])
        model.compile(optimizer="sgd", loss="categorical_crossentropy")
        kernels = [n for n in explain.gradient_norms(model, x, y) if n[0].endswith("kernel")]
        return kernels[0][1] / kernels[-2][1]

    assert first_to_last_ratio("sigmoid") < 1e-3
    assert first_to_last_ratio("relu") > 1e-2


# --- equivariance with circular and zero padding ---------------------------------------------
def test_a_circular_convolution_commutes_with_a_circular_shift_and_zero_padding_does_not():
    juanji.set_seed(5)
    x = _images(n=3, size=12, seed=5)
    conv = layers.Conv2D(3, 3, padding="same")
    assert explain.conv_equivariance(conv, x, shift=(2, 1), padding="circular") < 1e-5
    zero = explain.conv_equivariance(conv, x, shift=(2, 1), padding="zero")
    assert zero > 1e-2
    # the zero-padding error lies at the border only: within the kernel's reach of an edge,
    # on either side of the wrapped seam
    moved = explain.circular_shift(x, 2, 1)
    error = np.abs(conv(moved).numpy() - explain.circular_shift(conv(x).numpy(), 2, 1))
    per_pixel = error.max(axis=(0, 3))  # rows 0-2 and 11, columns 0-1 and 11 are the border
    assert per_pixel[3:11, 2:11].max() < 1e-5 and per_pixel.max() > 1e-1


def test_layer_equivariance_is_exact_with_circular_padding_through_pooling():
    juanji.set_seed(6)
    model = juanji.zoo.seed_cnn()
    x = _images(n=2, size=28, seed=6)
    circular = explain.layer_equivariance(model, x, padding="circular")
    zero = explain.layer_equivariance(model, x, padding="zero")
    assert [r["stride"] for r in circular] == [1, 1, 2, 2, 4]
    assert max(r["error"] for r in circular) < 1e-5
    assert min(r["error"] for r in zero) > 1e-2


def test_top1_survival_is_one_at_zero_shift_and_drops_for_a_dense_net():
    juanji.set_seed(7)
    model = juanji.zoo.mlp(input_shape=(12, 12, 1), hidden=(32,))
    x = _images(n=64, size=12, seed=7)
    survival = explain.top1_survival(model, x, shifts=(-2, 0, 2))
    assert survival["horizontal"][1] == survival["vertical"][1] == 1.0
    assert min(survival["horizontal"]) < 1.0


# --- parameters --------------------------------------------------------------------------------
def test_the_seed_cnn_savings_table_and_summary_compare():
    rows = explain.parameter_savings(juanji.zoo.seed_cnn())
    first = rows[0]
    assert (first["conv"], first["locally_connected"], first["dense"]) == (104, 59_904, 1_808_640)
    assert [r["conv"] for r in rows] == [104, 296, 1168]
    assert rows[1]["locally_connected"] == 22 * 22 * (3 * 3 * 4 + 1) * 8
    assert rows[1]["dense"] == (24 * 24 * 4 + 1) * 22 * 22 * 8
    lines = []
    juanji.zoo.seed_cnn().summary(print_fn=lines.append, compare=True)
    text = lines[0]
    assert "104" in text and "59,904" in text and "1,808,640" in text
    plain = []
    juanji.zoo.seed_cnn().summary(print_fn=plain.append)
    assert "59,904" not in plain[0]


# --- gradient flow -----------------------------------------------------------------------------
def _deep_mlp(activation, initializer):
    juanji.set_seed(8)
    stack = [layers.Input((64,))]
    stack += [
        layers.Dense(32, activation=activation, kernel_initializer=initializer) for _ in range(9)
    ]
    model = Sequential(stack + [layers.Dense(10, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    return model


def _batch():
    rng = np.random.default_rng(8)
    return rng.random((128, 64)).astype(np.float32), np.eye(10, dtype=np.float32)[
        rng.integers(0, 10, 128)
    ]


def test_gradient_flow_calls_a_deep_sigmoid_mlp_vanishing_and_a_he_relu_one_healthy():
    x, y = _batch()
    sigmoid = explain.gradient_flow(_deep_mlp("sigmoid", "glorot_uniform"), x, y)
    assert len(sigmoid) == 10
    assert sigmoid[0]["verdict"] == "vanishing"
    assert sigmoid[0]["ratio"] < explain.THRESHOLDS["vanishing_below"]
    assert sigmoid[-1]["ratio"] == 1.0 and sigmoid[0]["saturated"] is not None
    relu = explain.gradient_flow(_deep_mlp("relu", "he_normal"), x, y)
    assert {r["verdict"] for r in relu} == {"healthy"}
    assert all(r["dead"] is not None for r in relu[:-1])


def test_gradient_flow_verdicts_and_unit_shares():
    assert explain.gradients.verdict(1e-4) == "vanishing"
    assert explain.gradients.verdict(2e3) == "exploding"
    assert explain.gradients.verdict(1.0, finite=False) == "non-finite"
    assert explain.gradients.verdict(float("nan")) == "vanishing"
    sigmoid = np.array([[0.01, 0.5, 0.99, 0.3]])
    assert explain.gradients._unit_stats("sigmoid", sigmoid) == (0.5, None)
    relu = np.array([[0.0, 1.0, 0.0], [0.0, 2.0, 3.0]])
    assert explain.gradients._unit_stats("relu", relu) == (None, pytest.approx(1 / 3))


def test_the_gradient_flow_callback_records_each_epoch_and_plots(tmp_path):
    x, y = _batch()
    model = _deep_mlp("tanh", "glorot_uniform")
    flow = explain.GradientFlow(x[:32], y[:32])
    model.fit(x, y, epochs=2, batch_size=64, callbacks=[flow], verbose=0)
    assert [label for label, _ in flow.epochs] == ["init", "epoch 1", "epoch 2"]
    assert flow.epochs[0][1][0]["grad_norm"] != flow.epochs[2][1][0]["grad_norm"]
    path = flow.plot(tmp_path / "flow.png")
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
