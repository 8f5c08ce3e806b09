"""The text's lessons, measured: weight sharing, equivariance and invariance, gradient flow.

Each lesson is a function here, a ``juanji explain`` command and a study
(:mod:`juanji.explain.studies`) that writes its figures as JSON and a PNG.
"""

from juanji.explain.gradients import (
    THRESHOLDS,
    GradientFlow,
    format_gradient_flow,
    gradient_flow,
    gradient_norms,
)
from juanji.explain.invariance import (
    accuracy_under_shift,
    circular_shift,
    conv_equivariance,
    layer_equivariance,
    shift_images,
    shift_similarity,
    top1_survival,
    translation_equivariance,
    translation_invariance,
)
from juanji.explain.parameters import conv_vs_dense_parameters, parameter_savings

__all__ = [
    "THRESHOLDS",
    "GradientFlow",
    "accuracy_under_shift",
    "circular_shift",
    "conv_equivariance",
    "conv_vs_dense_parameters",
    "format_gradient_flow",
    "gradient_flow",
    "gradient_norms",
    "layer_equivariance",
    "parameter_savings",
    "shift_images",
    "shift_similarity",
    "top1_survival",
    "translation_equivariance",
    "translation_invariance",
]
