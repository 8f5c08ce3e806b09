"""The Keras 3 programs under examples/keras3 run on juanji, each on a small slice.

The MNIST they load here is made of scikit-learn's bundled 8x8 digits, each pixel made a
3x3 block and the image framed to 28x28, written as MNIST's IDX files (no download, no real
MNIST needed); each program trains for one epoch on its first few images.
"""

import pathlib
import runpy

import numpy as np
import pytest

from juanji.data.idx import write_idx

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
