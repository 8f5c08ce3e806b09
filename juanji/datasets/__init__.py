"""Datasets under Keras's paths: ``juanji.datasets.mnist.load_data()``, and the bundled
8x8 ``digits`` that need no download."""

from juanji.datasets import cifar10, digits, mnist

__all__ = ["cifar10", "digits", "mnist"]
