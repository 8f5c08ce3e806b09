"""``keras.utils.np_utils``: one-hot labels and back, with Keras 1's argument names."""

import numpy as np

from juanji.compat.keras1 import hints
from juanji.data.utils import to_categorical as _to_categorical


def to_categorical(y, nb_classes=None):
    """One-hot rows for integer labels ``y`` (any shape, flattened as Keras 1 does).

    Args:
        y: integer class labels.
        nb_classes: the number of classes; by default ``max(y) + 1``.

    Returns:
        An array ``(y.size, nb_classes)`` of the default float type.

    Example:
        >>> to_categorical([[0], [2]], 3)
        array([[1., 0., 0.],
               [0., 0., 1.]], dtype=float32)
    """
    hints.hint(
        "to_categorical",
        f"np_utils.to_categorical(y, nb_classes={nb_classes!r})",
        f"juanji.utils.to_categorical(y, num_classes={nb_classes!r})",
    )
    return _to_categorical(np.ravel(y), num_classes=nb_classes)


def categorical_probas_to_classes(p):
    """The most probable class of each row of ``p``: ``argmax(p, axis=1)``."""
    return np.argmax(p, axis=1)


def probas_to_classes(y_pred):
    """Classes from predictions: the argmax of multi-class rows, ``p > 0.5`` for one column."""
    y_pred = np.asarray(y_pred)
    if y_pred.ndim > 1 and y_pred.shape[1] > 1:
        return categorical_probas_to_classes(y_pred)
    return (y_pred > 0.5).astype("int32").ravel()


__all__ = ["categorical_probas_to_classes", "probas_to_classes", "to_categorical"]
