"""The Keras 3 programs under examples/keras3 run on juanji, each on a small slice.

The MNIST they load here is made of scikit-learn's bundled 8x8 digits, each pixel made a
3x3 block and the image framed to 28x28, written as MNIST's IDX files (no download, no real
MNIST needed); each program trains for one epoch on its first few images. Beside them, two
of their models, started from Keras 3's initial weights, fit as Keras 3 does (when installed).
"""

import pathlib
import runpy

import numpy as np
import pytest

from juanji.data.idx import write_idx
from tests.helpers import forget_keras, keras_on_torch  # noqa: F401  (a fixture)

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples" / "keras3"
PROGRAMS = sorted(path.name for path in EXAMPLES.glob("*.py"))
SAMPLES = {"intro_to_keras_for_engineers.py": 8, "functional_api.py": 24}  # wide convnets


@pytest.fixture(scope="module")
def digits_as_mnist(tmp_path_factory):
    from sklearn.datasets import load_digits

    folder = tmp_path_factory.mktemp("data")
    bunch = load_digits()
    blocks = np.kron(bunch.images[:300], np.ones((3, 3))) * (255 / 16)  # (300, 24, 24)
    images = np.pad(blocks, ((0, 0), (2, 2), (2, 2))).astype(np.uint8)
    labels = bunch.target[:300].astype(np.uint8)
    files = {
        "train-images-idx3-ubyte": images[:200],
        "train-labels-idx1-ubyte": labels[:200],
        "t10k-images-idx3-ubyte": images[200:],
        "t10k-labels-idx1-ubyte": labels[200:],
    }
    (folder / "mnist").mkdir()
    for name, array in files.items():
        write_idx(folder / "mnist" / name, array)
    return folder


def test_there_are_the_seven_programs():
    assert len(PROGRAMS) == 7, PROGRAMS


@pytest.mark.parametrize("program", PROGRAMS)
def test_the_program_runs_on_a_slice(program, digits_as_mnist, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("JUANJI_DATA_DIR", str(digits_as_mnist))
    monkeypatch.setenv("KERAS3_SAMPLES", str(SAMPLES.get(program, 48)))
    monkeypatch.setenv("KERAS3_EPOCHS", "1")
    monkeypatch.delenv("KERAS3_WITH_KERAS", raising=False)
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(EXAMPLES / program), run_name="__main__")
    out = capsys.readouterr().out
    assert "Test" in out and "Traceback" not in out


def toy_resnet(k):
    """The functional guide's toy ResNet (without its dropout), compiled as the guide does."""
    layers = k.layers
    inputs = k.Input(shape=(28, 28, 1))
    x = layers.Conv2D(32, 3, activation="relu")(inputs)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    block_1 = layers.MaxPooling2D(3)(x)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_1)
    block_2 = layers.Add()([layers.Conv2D(64, 3, activation="relu", padding="same")(x), block_1])
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_2)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x) + block_2
    x = layers.GlobalAveragePooling2D()(layers.Conv2D(64, 3, activation="relu")(x))
    outputs = layers.Dense(10)(layers.Dense(256, activation="relu")(x))
    model = k.Model(inputs, outputs)
    model.compile(
        optimizer=k.optimizers.RMSprop(1e-3),
        loss=k.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["acc"],
    )
    return model


def intro_convnet(k):
    """The intro's convnet (without its dropout): softmax outputs, Adam."""
    layers = k.layers
    model = k.Sequential(
        [
            k.Input(shape=(28, 28, 1)),
            layers.Conv2D(16, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(32, 3, activation="relu"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        loss=k.losses.SparseCategoricalCrossentropy(),
        optimizer=k.optimizers.Adam(learning_rate=1e-3),
        metrics=[k.metrics.SparseCategoricalAccuracy(name="acc")],
    )
    return model


@pytest.mark.usefixtures("forget_keras")
@pytest.mark.parametrize("build", [toy_resnet, intro_convnet])
def test_from_keras_initial_weights_fit_takes_keras_steps(build, digits_as_mnist):
    """Same start, same batches in the same order: the same losses, metrics and weights, so
    what differs between a juanji and a Keras run is only what the seed draws."""
    keras = keras_on_torch()
    import juanji

    (x, y), _ = juanji.datasets.mnist.load_data(digits_as_mnist / "mnist")
    x, y = x[:160, :, :, None].astype(np.float32) / 255, y[:160]
    theirs, ours = build(keras), build(juanji)
    ours.set_weights(theirs.get_weights())
    fit = {"batch_size": 32, "epochs": 2, "shuffle": False, "validation_split": 0.2, "verbose": 0}
    expected = theirs.fit(x, y, **fit).history
    history = ours.fit(x, y, **fit).history
    assert set(history) == set(expected)
    for key, values in expected.items():
        np.testing.assert_allclose(history[key], values, rtol=1e-3, atol=1e-4, err_msg=key)
    for got, want in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-3)
