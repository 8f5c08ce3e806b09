"""CIFAR-10, 32x32 colour images of 10 classes: ``(x_train, y_train), (x_test, y_test) =
load_data()``, shaped as Keras's."""

from juanji.data.cifar import MIRRORS, SHA256
from juanji.data.cifar import load_cifar10 as load_data
from juanji.data.datasets import DownloadError

__all__ = ["MIRRORS", "SHA256", "DownloadError", "load_data"]
