"""``keras.datasets``: ``mnist`` and ``cifar10``, shaped as Keras 1 gave them."""

from juanji.compat.keras1.datasets import cifar10, mnist

__all__ = ["cifar10", "mnist"]
