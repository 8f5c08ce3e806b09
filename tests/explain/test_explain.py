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
