"""Feature extraction from a trained CNN and the SVM head on its features."""

import numpy as np
import pytest

import juanji
from juanji import layers, registry, zoo
from juanji.datasets import digits
from juanji.features import SVMHead, compare_heads, extract, feature_layer_index, layer_outputs
from juanji.models import Model
from juanji.utils import to_categorical


@pytest.fixture(scope="module")
def trained():
    """The seed CNN after 3 epochs on digits at 28x28, with the data scaled to [0, 1]."""
    juanji.set_seed(0)
    (x_train, y_train), (x_test, y_test) = digits.load_data(image_size=(28, 28))
    x_train, x_test = x_train.astype(np.float32) / 255, x_test.astype(np.float32) / 255
    model = zoo.seed_cnn()
    model.fit(x_train, to_categorical(y_train, 10), epochs=3, batch_size=32, verbose=0)
    return model, (x_train, y_train), (x_test, y_test)


def test_extract_takes_the_input_of_the_classifier(trained):
    model, _, (x_test, _) = trained
    assert feature_layer_index(model) == len(model.layers) - 2
    features = extract(model, x_test)
    assert features.shape == (len(x_test), 128) and features.dtype == np.float32
    # tanh units: the 128-unit layer's output, not the classifier's probabilities
    assert np.abs(features).max() <= 1 and not np.allclose(features.sum(axis=1), 1)
    np.testing.assert_array_equal(features, extract(model, x_test, -2))


def test_extract_shapes_for_other_layers(trained):
    model, _, (x_test, _) = trained
    x = x_test[:5]
    assert extract(model, x, 1).shape == (5, 24 * 24 * 4)  # layers[0] is the Input
    assert extract(model, x, 3).shape == (5, 11 * 11 * 8)
    np.testing.assert_allclose(extract(model, x, -1), model.predict(x), atol=1e-6)


def test_extract_is_independent_of_the_batch_size(trained):
    model, _, (x_test, _) = trained
    np.testing.assert_allclose(
        extract(model, x_test[:50], batch_size=7), extract(model, x_test[:50]), atol=1e-5
    )


def test_layer_outputs_gives_each_layer_in_one_pass(trained):
    model, _, (x_test, _) = trained
    conv, dense = layer_outputs(model, x_test[:4], [1, -2])
    assert conv.shape == (4, 24, 24, 4) and dense.shape == (4, 128)


def test_svm_head_matches_the_softmax_head(trained):
    model, (x_train, y_train), (x_test, y_test) = trained
    for kernel in ("linear", "rbf"):
        result = compare_heads(model, x_train, y_train, x_test, y_test, kernel=kernel)
        assert result["feature_dim"] == 128
        assert result["softmax"] > 0.9
        assert result["svm"] > 0.9 and abs(result["svm"] - result["softmax"]) < 0.04, result


def test_svm_head_accepts_one_hot_labels_and_round_trips():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 90)
    features = rng.normal(0, 0.3, (90, 4)) + np.eye(3, 4)[y] * 2
    head = registry.get(
        "head", {"class_name": "SVMHead", "config": SVMHead("rbf", C=2.0).get_config()}
    )
    assert (head.kernel, head.C, head.standardize) == ("rbf", 2.0, True)
    assert head.fit(features, to_categorical(y, 3)).score(features, y) > 0.95
    assert SVMHead(standardize=False).fit(features, y).predict(features).shape == (90,)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"kernel": "poly"}, "kernel"),
        ({"C": 0}, "C=0"),
        ({"C": "1"}, "C='1'"),
    ],
)
def test_svm_head_rejects_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SVMHead(**kwargs)


def test_svm_head_checks_its_inputs():
    with pytest.raises(RuntimeError, match="fit"):
        SVMHead().predict(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="features.shape"):
        SVMHead().fit(np.zeros((4, 2, 2)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="len\\(y\\)=3"):
        SVMHead().fit(np.zeros((4, 2)), [0, 1, 0])


def test_extract_rejects_bad_arguments(trained):
    model, _, (x_test, _) = trained
    with pytest.raises(ValueError, match="layer=9"):
        extract(model, x_test[:2], 9)
    with pytest.raises(ValueError, match="batch_size=0"):
        extract(model, x_test[:2], batch_size=0)
    with pytest.raises(ValueError, match="x.shape=\\(2, 8, 8, 1\\)"):
        extract(model, np.zeros((2, 8, 8, 1), np.float32))


def test_extract_needs_a_sequential_model_with_a_dense_classifier():
    class Net(Model):
        def __init__(self):
            super().__init__()
            self.out = layers.Dense(2)

        def call(self, x, training=False):
            return self.out(x)

    with pytest.raises(TypeError, match="Sequential"):
        extract(Net(), np.zeros((2, 3), np.float32))
    conv_only = juanji.models.Sequential([layers.Input((8, 8, 1)), layers.Conv2D(2, 3)])
    with pytest.raises(ValueError, match="Dense"):
        extract(conv_only, np.zeros((2, 8, 8, 1), np.float32))
