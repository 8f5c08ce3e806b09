"""scikit-learn's bundled 8x8 digits (NHWC ``(N, H, W, 1)``, any image size): no download."""

from juanji.data.datasets import load_digits as load_data

__all__ = ["load_data"]
