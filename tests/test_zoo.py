"""The named architectures: parameter counts, the seed CNN learning real digits, and the
hidden activation, output activation and loss a run chooses."""

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


SHAPES = {"seed": (28, 28, 1), "lenet5": (28, 28, 1), "mlp": (28, 28, 1), "vgg_small": (16, 16, 3)}


@pytest.mark.parametrize("name", sorted(zoo.MODELS))
@pytest.mark.parametrize("activation", ["sigmoid", "softplus", "prelu"])
def test_every_zoo_model_takes_the_runs_activations(name, activation):
    model = zoo.MODELS[name](
        input_shape=SHAPES[name], activation=activation, output_activation="sigmoid", loss="mse"
    )
    configs = [layer.get_config() for layer in model.layers]
    hidden = [
        c.get("activation") for c in configs[:-1] if c.get("activation") not in (None, "linear")
    ]
    prelus = sum(type(layer).__name__ == "PReLU" for layer in model.layers)
    if activation == "prelu":
        assert prelus >= 2 and not hidden
    else:
        assert hidden and set(hidden) == {activation} and prelus == 0
    assert configs[-1]["activation"] == "sigmoid"
    y = model.predict(np.zeros((2, *SHAPES[name]), np.float32))
    assert y.shape == (2, 10) and np.all((y > 0) & (y < 1))
    results = model.evaluate(
        np.zeros((2, *SHAPES[name]), np.float32), np.zeros((2, 10)), return_dict=True
    )
    np.testing.assert_allclose(results["loss"], np.mean(y**2), rtol=1e-5)  # compiled with MSE


def test_defaults_keep_the_texts_mix():
    acts = [layer.get_config().get("activation") for layer in zoo.seed_cnn().layers]
    assert [a for a in acts if a] == ["tanh", "tanh", "relu", "tanh", "softmax"]
