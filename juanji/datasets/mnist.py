"""MNIST handwritten digits: ``(x_train, y_train), (x_test, y_test) = load_data()``."""

from juanji.data.datasets import MIRRORS, MNIST_FILES, DownloadError
from juanji.data.datasets import load_mnist as load_data

__all__ = ["MIRRORS", "MNIST_FILES", "DownloadError", "load_data"]
