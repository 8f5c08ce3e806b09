"""``keras.datasets.mnist``: ``(X_train, y_train), (X_test, y_test) = mnist.load_data()``."""

import numpy as np

from juanji.compat.keras1 import hints
from juanji.datasets import mnist


def load_data(**legacy):
    """MNIST as Keras 1 returned it: uint8 images ``(60000, 28, 28)`` and ``(10000, 28, 28)``
    (no channel axis) and their labels. The files are found or downloaded as
    ``juanji.datasets.mnist.load_data`` does; Keras 1's pickle ``path`` is ignored."""
    hints.only_no_effect("mnist.load_data", legacy, {"path": hints.ANY})
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    return (x_train, y_train.astype(np.int64)), (x_test, y_test.astype(np.int64))


__all__ = ["load_data"]
