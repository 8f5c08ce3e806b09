"""The run report: figures are valid PNGs and the HTML page links every one of them."""

import re

import numpy as np
import pytest
from PIL import Image

import juanji
from juanji import zoo
from juanji.report import confusion_matrix, format_confusion, write_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HISTORY = {
    "loss": [1.2, 0.6, 0.4],
    "accuracy": [0.6, 0.8, 0.9],
    "val_loss": [0.9, 0.7, 0.6],
    "val_accuracy": [0.7, 0.75, 0.8],
}


def _data(n=40, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 28, 28, 1), dtype=np.float32), rng.integers(0, classes, n)


def _linked_images(page):
    return re.findall(r'<img src="([^"]+)"', page)


def _check_png(path):
    assert path.read_bytes()[:8] == PNG_SIGNATURE, path
    with Image.open(path) as img:
        img.verify()
    with Image.open(path) as img:
        assert img.format == "PNG" and img.size[0] > 100 and img.size[1] > 100


def test_confusion_matrix_counts_pairs():
    matrix = confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0], 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    text = format_confusion(matrix, ["a", "b", "c"])
    lines = text.splitlines()
    assert len(lines) == 4 and lines[0].split()[1:] == ["a", "b", "c"]
    assert lines[3].split() == ["c", "1", "0", "2"]


def test_report_writes_every_figure_and_links_it(tmp_path):
    juanji.set_seed(0)
    model = zoo.seed_cnn(num_classes=3)
    x, y = _data()
    metrics = {"test_accuracy": 0.321, "train_seconds": 12.5, "dataset": "blobs"}
    path = write_report(tmp_path, model, HISTORY, x, y, ["a", "b", "c"], metrics=metrics)
    page = (tmp_path / "report.html").read_text()
    assert str(path) == str(tmp_path / "report.html")
    linked = _linked_images(page)
    expected = {
        "loss.png",
        "accuracy.png",
        "confusion_matrix.png",
        "filters.png",
        "most_confused.png",
    }
    assert expected <= set(linked)
    maps = [name for name in linked if name.startswith("feature_maps_")]
    assert len(maps) == 3  # one per convolution of the seed CNN
    assert sorted(p.name for p in tmp_path.glob("*.png")) == sorted(linked)
    for name in linked:
        _check_png(tmp_path / name)
    for text in ("test_accuracy", "0.3210", "12.5000", "blobs", "Total params"):
        assert text in page
    assert page.startswith("<!DOCTYPE html>") and "http" not in page  # self-contained


def test_report_accepts_a_history_object_and_one_hot_labels(tmp_path):
    model = zoo.seed_cnn(num_classes=3)
    x, y = _data(n=12)
    history = juanji.callbacks.History()
    history.history = {"loss": [0.5, 0.4]}
    write_report(tmp_path, model, history, x, np.eye(3)[y], ["a", "b", "c"])
    linked = _linked_images((tmp_path / "report.html").read_text())
    assert "loss.png" in linked and "accuracy.png" not in linked
    assert "test_accuracy" in (tmp_path / "report.html").read_text()


def test_report_without_convolutions_or_mistakes(tmp_path):
    model = zoo.mlp(num_classes=3)
    x, _ = _data(n=10)
    probabilities = np.eye(3, dtype=np.float32)[np.arange(10) % 3]
    write_report(
        tmp_path, model, {}, x, np.arange(10) % 3, ["a", "b", "c"], probabilities=probabilities
    )
    page = (tmp_path / "report.html").read_text()
    assert _linked_images(page) == ["confusion_matrix.png"]
    assert "no convolution layers" in page and "No test image was misclassified" in page
    assert "No training history" in page


def test_most_confused_shows_the_most_confident_mistakes(tmp_path):
    model = zoo.mlp(num_classes=2)
    x, _ = _data(n=4)
    y = np.array([0, 0, 1, 1])
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]], np.float32)
    write_report(
        tmp_path, model, {}, x, y, ["zero", "one"], probabilities=probabilities, max_confused=1
    )
    assert "most_confused.png" in _linked_images((tmp_path / "report.html").read_text())
    _check_png(tmp_path / "most_confused.png")


@pytest.mark.parametrize("name", ["conv/one", "conv one"])
def test_feature_map_files_have_safe_names(tmp_path, name):
    model = juanji.models.Sequential(
        [
            juanji.layers.Input((8, 8, 1)),
            juanji.layers.Conv2D(2, 3, name=name),
            juanji.layers.Flatten(),
            juanji.layers.Dense(2, activation="softmax"),
        ]
    )
    x, _ = _data(n=4)
    write_report(tmp_path, model, {}, x[:, :8, :8], np.array([0, 1, 0, 1]), ["a", "b"])
    assert (tmp_path / "feature_maps_conv_one.png").is_file()
