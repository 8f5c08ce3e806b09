"""How local receptive fields and weight sharing cut parameters."""


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
    height, width, channels = input_shape
    out_h, out_w = height - kernel_size + 1, width - kernel_size + 1
    outputs = out_h * out_w * filters
    conv = kernel_size * kernel_size * channels * filters + filters
    local = out_h * out_w * (kernel_size * kernel_size * channels + 1) * filters
    dense = height * width * channels * outputs + outputs
    return {
        "conv": conv,
        "locally_connected": local,
        "dense": dense,
        "dense_over_conv": dense / conv,
        "locally_connected_over_conv": local / conv,
    }
