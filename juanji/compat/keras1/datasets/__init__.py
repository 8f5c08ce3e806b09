"""``keras.datasets``: ``mnist``, shaped as Keras 1 gave it."""

from juanji.compat.keras1.datasets import mnist

__all__ = ["mnist"]
