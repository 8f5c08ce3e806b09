"""Tensors as arrays: np.asarray gives the float array, matplotlib plots a Tensor."""

import numpy as np
import pytest

import juanji
from juanji.autograd import Tensor


def test_asarray_is_the_float_array_itself():
    data = np.random.default_rng(0).random((300, 300), np.float32)
    t = Tensor(data)
    assert np.asarray(t) is data
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert np.array(t, copy=True) is not data
    np.testing.assert_array_equal(np.stack([t, t]), np.stack([data, data]))


def test_matplotlib_plots_tensors(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2)
    line = left.plot(Tensor(np.linspace(0, 1, 5)))[0]
    np.testing.assert_allclose(line.get_ydata(), np.linspace(0, 1, 5))
    image = right.imshow(Tensor(np.eye(3, dtype=np.float32)))
    np.testing.assert_array_equal(image.get_array(), np.eye(3))
    figure.savefig(tmp_path / "plot.png")
    plt.close(figure)


def test_keras_namespaces_are_there():
    for name in (
        "Input", "Model", "Sequential", "layers", "ops", "activations", "random",
        "initializers", "optimizers", "losses", "metrics", "callbacks", "datasets", "utils",
        "saving",
    ):  # fmt: skip
        assert hasattr(juanji, name), name
    assert callable(juanji.utils.to_categorical) and callable(juanji.saving.load_model)
    juanji.utils.set_random_seed(4)
    a = juanji.random.normal((3,)).numpy(), np.random.rand()
    juanji.utils.set_random_seed(4)
    b = juanji.random.normal((3,)).numpy(), np.random.rand()
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1] == b[1]
