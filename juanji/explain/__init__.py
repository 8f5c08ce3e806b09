"""The text's lessons, measured: weight sharing, equivariance and invariance, gradient flow."""

from juanji.explain.gradients import gradient_norms
from juanji.explain.invariance import (
    shift_images,
    shift_similarity,
    translation_equivariance,
    translation_invariance,
)
from juanji.explain.parameters import conv_vs_dense_parameters

__all__ = [
    "conv_vs_dense_parameters",
    "gradient_norms",
    "shift_images",
    "shift_similarity",
    "translation_equivariance",
    "translation_invariance",
]
