"""What the studies share: the digits as arrays, timed training, accuracy."""

import functools
import time

import numpy as np

from juanji import backend
from juanji.data.utils import to_categorical
from juanji.datasets import digits


@functools.lru_cache(maxsize=4)
def _digits(size):
    return digits.load_data(image_size=None if size == 8 else (size, size))


def digit_images(size=8, flat=False, limit=None):
    """scikit-learn's digits as float32 ``(N, size, size, 1)`` in [0, 1] (or ``(N, size²)``
    with ``flat``) and one-hot labels: ``(x_train, y_train, x_test, y_test, labels_test)``;
    1437 training and 360 test images, or the first ``limit`` training and ``limit // 3``
    test images."""
    (x_train, y_train), (x_test, y_test) = _digits(size)
    if limit:
        x_train, y_train = x_train[:limit], y_train[:limit]
        x_test, y_test = x_test[: limit // 3], y_test[: limit // 3]
    x_train, x_test = (x.astype(backend.floatx()) / 255 for x in (x_train, x_test))
    if flat:
        x_train, x_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    return x_train, to_categorical(y_train, 10), x_test, to_categorical(y_test, 10), y_test


def accuracy(model, x, labels):
    """Share of ``x`` whose top-1 class is the label."""
    return float(np.mean(model.predict(x, batch_size=512).argmax(axis=1) == labels))


def train_epochs(model, x, y, x_val, labels_val, epochs, batch_size=32):
    """Fit one epoch at a time; returns validation accuracy and cumulative seconds per epoch."""
    accuracies, seconds, spent = [], [], 0.0
    for _ in range(epochs):
        start = time.perf_counter()
        model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
        spent += time.perf_counter() - start
        accuracies.append(accuracy(model, x_val, labels_val))
        seconds.append(spent)
    return {"val_accuracy": accuracies, "seconds": seconds}


def first_reaching(values, target):
    """The 1-based index of the first value >= target, or None."""
    return next((i + 1 for i, v in enumerate(values) if v >= target), None)
