"""scikit-learn's bundled 8x8 digits, shaped like MNIST: no download needed."""

from juanji.data.datasets import load_digits as load_data

__all__ = ["load_data"]
