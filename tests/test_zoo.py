"""The named architectures: parameter counts and the seed CNN learning real digits."""

import numpy as np
import pytest

import juanji
from juanji import zoo
from juanji.datasets import digits
from juanji.utils import to_categorical


@pytest.mark.parametrize(
    "build,n_params",
    [(zoo.seed_cnn, 104 + 296 + 1168 + 32896 + 1290), (zoo.lenet5, 61706), (zoo.mlp, 235146)],
)
def test_parameter_counts(build, n_params):
    assert build().count_params() == n_params


def test_lenet5_keeps_the_classic_maps_on_28x28_input():
    model = zoo.lenet5(input_shape=(28, 28, 1))
    assert model.count_params() == 61706
    assert model.predict(np.zeros((2, 28, 28, 1), np.float32)).shape == (2, 10)


def test_the_seed_cnn_learns_digits_to_95_percent():
    juanji.set_seed(0)
    (x, y), (x_test, y_test) = digits.load_data(image_size=(28, 28))
    x, x_test = x.astype(np.float32) / 255, x_test.astype(np.float32) / 255
    model = zoo.seed_cnn()
    model.fit(x, to_categorical(y, 10), batch_size=32, epochs=8, verbose=0)
    loss, accuracy = model.evaluate(x_test, to_categorical(y_test, 10))
    assert accuracy >= 0.95, f"held-out accuracy {accuracy:.3f}"
