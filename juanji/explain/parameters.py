"""How local receptive fields and weight sharing cut parameters."""

import numpy as np

from juanji import backend
from juanji.layers import Conv2D


def conv_vs_dense_parameters(input_shape, filters, kernel_size):
    """Parameters of a valid, stride-1 convolution against a dense layer with the same
    input and the same number of outputs.

    Args:
        input_shape: (H, W, C) of one image.
        filters: output channels F.
        kernel_size: K (square kernel).

    Returns:
        a dict with ``conv`` (K*K*C*F + F), ``locally_connected`` (local receptive fields
        without sharing: one K*K*C kernel per output position), ``dense``
        ((H*W*C) * outputs + outputs) and the ratios dense / conv and locally_connected / conv.

    Example:
        >>> counts = conv_vs_dense_parameters((28, 28, 1), 4, 5)
        >>> counts["conv"], counts["dense"]
        (104, 1808640)
    """
    conv = Conv2D(filters, kernel_size)
    conv(np.zeros((1, *input_shape), backend.floatx()))
    return _with_ratios(conv.parameter_counts())


def _with_ratios(counts):
    return {
        "conv": counts["conv"],
        "locally_connected": counts["locally_connected"],
        "dense": counts["dense"],
        "dense_over_conv": counts["dense"] / counts["conv"],
        "locally_connected_over_conv": counts["locally_connected"] / counts["conv"],
    }


def parameter_savings(model):
    """Each convolution of a built model against the same map without sharing and as a dense
    layer (see ``Conv2D.parameter_counts``).

    Args:
        model: a built model.

    Returns:
        one dict per ``Conv2D`` in ``model.layers``, in order: ``name``, ``input`` (H, W, C),
        ``output`` (OH, OW, F), ``conv``, ``locally_connected``, ``dense`` and the ratios.

    Raises:
        ValueError: if the model has no convolution.
    """
    model._maybe_build()  # NOTE: a model with an Input layer builds on first use
    convs = [layer for layer in model.layers if isinstance(layer, Conv2D)]
    if not convs:
        raise ValueError(f"Model '{model.name}' has no Conv2D layer to compare.")
    rows = []
    for layer in convs:
        counts = layer.parameter_counts()
        rows.append(
            {
                "name": layer.name,
                "input": list(counts["input"]),
                "output": list(counts["output"]),
                **_with_ratios(counts),
            }
        )
    return rows
