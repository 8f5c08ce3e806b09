"""``keras.datasets.cifar10``: ``(X_train, y_train), (X_test, y_test) = cifar10.load_data()``."""

from juanji.compat.keras1 import backend, hints


def load_data(**legacy):
    """CIFAR-10 as Keras 1 returned it: uint8 images ``(50000, 3, 32, 32)`` and
    ``(10000, 3, 32, 32)`` with the ``'th'`` ordering (``(N, 32, 32, 3)`` with ``'tf'``) and
    uint8 labels ``(N, 1)``. The archive is found or downloaded as
    ``juanji.datasets.cifar10.load_data`` does.

    Raises:
        ModuleNotFoundError: if this juanji has no ``juanji.datasets.cifar10``.
    """
    hints.only_no_effect("cifar10.load_data", legacy, {})
    import juanji.datasets.cifar10 as cifar10  # NOTE: imported only by programs that use it

    (x_train, y_train), (x_test, y_test) = cifar10.load_data()
    if backend.image_dim_ordering() == "th":
        x_train, x_test = x_train.transpose(0, 3, 1, 2), x_test.transpose(0, 3, 1, 2)
    return (x_train, y_train), (x_test, y_test)


__all__ = ["load_data"]
