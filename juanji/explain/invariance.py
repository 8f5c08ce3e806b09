"""Translation equivariance of convolution and the approximate invariance pooling adds."""

import numpy as np

from juanji import ops
from juanji.autograd import as_tensor, no_grad


def shift_images(x, dy, dx):
    """Shift NHWC images by (dy, dx) pixels, filling the uncovered border with zeros."""
    shifted = np.zeros_like(x)
    height, width = x.shape[1:3]
    src_y = slice(max(-dy, 0), height - max(dy, 0))
    dst_y = slice(max(dy, 0), height - max(-dy, 0))
    src_x = slice(max(-dx, 0), width - max(dx, 0))
    dst_x = slice(max(dx, 0), width - max(-dx, 0))
    shifted[:, dst_y, dst_x] = x[:, src_y, src_x]
    return shifted


def _apply(fn, x):
    with no_grad():
        return as_tensor(fn(x)).numpy()


def translation_equivariance(fn, x, shift=(1, 1), margin=None):
    """How far ``fn(shift(x))`` is from ``shift(fn(x))``, relative to ``|fn(x)|``.

    For a stride-1 convolution this is ~0 away from the borders (it is equivariant); a
    border of width ``margin`` is left out, since zero padding breaks equivariance there.

    Args:
        fn: a layer or function mapping (N, H, W, C) images to (N, H', W', C') maps of the
            same spatial size (a stride-1 "same" convolution).
        x: (N, H, W, C) images.
        shift: (dy, dx) pixels.
        margin: the width of the border left out; default twice the larger shift (the
            kernel's reach is not known here).

    Returns:
        the relative error, a float.
    """
    dy, dx = shift
    margin = 2 * max(abs(dy), abs(dx)) if margin is None else margin
    y_of_shifted = _apply(fn, shift_images(x, dy, dx))
    shifted_y = shift_images(_apply(fn, x), dy, dx)
    interior = (slice(None), slice(margin, -margin or None), slice(margin, -margin or None))
    diff = np.linalg.norm(y_of_shifted[interior] - shifted_y[interior])
    return float(diff / max(np.linalg.norm(shifted_y[interior]), 1e-12))


def shift_similarity(fn, x, shift=(0, 1)):
    """Mean cosine similarity between ``fn(x)`` and ``fn(shift(x))`` per sample: 1 means the
    shift left the output unchanged. Pooling raises it (approximate invariance).

    Args:
        fn: a layer or function on (N, H, W, C) images.
        x: (N, H, W, C) images.
        shift: (dy, dx) pixels.
    """
    before = _apply(fn, x).reshape(len(x), -1)
    after = _apply(fn, shift_images(x, *shift)).reshape(len(x), -1)
    norms = np.linalg.norm(before, axis=1) * np.linalg.norm(after, axis=1)
    return float(np.mean(np.sum(before * after, axis=1) / np.maximum(norms, 1e-12)))


def translation_invariance(model, x, shifts=((0, 1), (1, 0), (1, 1), (0, 2), (2, 0))):
    """How often a classifier's prediction survives small shifts of its input.

    Args:
        model: maps (N, H, W, C) images to (N, classes) scores (a model or function).
        x: (N, H, W, C) images.
        shifts: (dy, dx) pixel shifts to try.

    Returns:
        a dict mapping each shift to the fraction of images whose predicted class is
        unchanged.
    """
    predict = model.predict if hasattr(model, "predict") else (lambda a: _apply(model, a))
    reference = predict(x).argmax(axis=1)
    return {
        tuple(s): float(np.mean(predict(shift_images(x, *s)).argmax(axis=1) == reference))
        for s in shifts
    }


# --- equivariance layer by layer, with zero and circular padding ----------------------------
SHIFTS = tuple(range(-4, 5))


def circular_shift(x, dy, dx):
    """Shift NHWC arrays by (dy, dx) pixels with wrap-around (the shift that a circularly
    padded convolution commutes with exactly)."""
    return np.roll(x, (dy, dx), axis=(1, 2))


def _circular_conv(layer, x):
    """``layer`` (a channels_last Conv2D) with circular instead of zero padding: the input is
    wrapped by the kernel's reach, so the output keeps the input's size (at stride 1)."""
    if not layer.built:
        layer(x)
    reach = [d * (k - 1) for d, k in zip(layer.dilation_rate, layer.kernel_size)]
    pads = [(0, 0), *((r // 2, r - r // 2) for r in reach), (0, 0)]
    wrapped = np.pad(as_tensor(x).numpy(), pads, mode="wrap")
    y = ops.conv2d(
        wrapped,
        layer.kernel,
        layer.bias,
        strides=layer.strides,
        padding="valid",
        dilation=layer.dilation_rate,
    )
    return layer.activate(y)


def conv_equivariance(layer, x, shift=(1, 1), padding="zero"):
    """``||f(Tx) − T f(x)|| / ||f(x)||`` for one stride-1 convolution, T a circular shift.

    With ``padding="circular"`` the convolution wraps around, so it commutes with T exactly
    (the error is float rounding); with ``"zero"`` (the layer as it is, ``padding="same"``)
    the zeros beyond the border move with the image under T but not under the layer, so the
    error is non-zero, all of it within the kernel's reach of the border.

    Args:
        layer: a built or unbuilt ``Conv2D`` (channels_last).
        x: images ``(N, H, W, C)``.
        shift: (dy, dx) pixels.
        padding: ``"zero"`` or ``"circular"``.

    Returns:
        the relative error, a float.
    """
    fn = _padding_fn(padding, lambda layer, h: layer(h))
    with no_grad():
        y = fn(layer, x).numpy()
        y_of_shifted = fn(layer, circular_shift(x, *shift)).numpy()
    return _relative(y_of_shifted, circular_shift(y, *shift), y)


def _padding_fn(padding, zero):
    if padding not in ("zero", "circular"):
        raise ValueError(f"Expected padding 'zero' or 'circular'. Received: padding={padding!r}")
    return _circular_conv if padding == "circular" else zero


def _relative(a, b, reference):
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(reference), 1e-12))


def _spatial_layers(model):
    """The leading layers of a Sequential model that keep an image layout (convolutions,
    pooling, activations, normalisation), each with its cumulative stride."""
    layers, stride = [], 1
    for layer in model.layers:
        if type(layer).__name__ in ("Input", "InputLayer"):
            continue
        if len(layer.output_shape or ()) != 4 or getattr(layer, "data_format", None) not in (
            None,
            "channels_last",
        ):
            break
        strides = getattr(layer, "strides", (1, 1))
        if strides[0] != strides[1]:
            break
        stride *= strides[0]
        layers.append((layer, stride))
    return layers


def layer_equivariance(model, x, padding="zero"):
    """The equivariance error of each leading image layer of a Sequential model.

    For layer l with cumulative stride s (the product of the strides up to it), the error is
    ``||f_l(T_s x) − T_1 f_l(x)|| / ||f_l(x)||``: shifting the input by s pixels (diagonally,
    with wrap-around) should shift layer l's maps by one position. With
    ``padding="circular"`` every convolution wraps around instead of padding with zeros
    (and keeps its input's size): the stack is then exactly equivariant whenever the image
    side is a multiple of each pooling size. Pooling makes the maps coarser, and shifts
    smaller than its stride are what it absorbs (approximate invariance).

    Args:
        model: a built Sequential model on images (channels_last).
        x: images ``(N, H, W, C)``.
        padding: ``"zero"`` (the model as it is) or ``"circular"``.

    Returns:
        a list of ``{"layer", "type", "stride", "error"}`` dicts, input side first.
    """
    model._maybe_build()
    conv_fn = _padding_fn(padding, None)
    spatial = _spatial_layers(model)
    if not spatial:
        raise ValueError(f"Model '{model.name}' does not start with image layers (N, H, W, C).")

    def maps(images):
        outputs = []
        h = images
        for layer, _ in spatial:
            h = conv_fn(layer, h) if conv_fn and hasattr(layer, "kernel_size") else layer(h)
            outputs.append(h.numpy())
        return outputs

    with no_grad():
        reference = maps(x)
        shifted = {s: maps(circular_shift(x, s, s)) for s in sorted({s for _, s in spatial})}
    return [
        {
            "layer": layer.name,
            "type": type(layer).__name__,
            "stride": stride,
            "error": _relative(
                shifted[stride][i], circular_shift(reference[i], 1, 1), reference[i]
            ),
        }
        for i, (layer, stride) in enumerate(spatial)
    ]


def top1_survival(model, x, shifts=SHIFTS):
    """The share of samples whose top-1 class is unchanged when the input moves (zero fill).

    Args:
        model: a classifier on ``(N, H, W, C)`` images.
        x: images.
        shifts: pixel offsets to try, along each axis in turn.

    Returns:
        ``{"shifts": [...], "horizontal": [share per shift], "vertical": [...]}``.
    """
    reference = model.predict(x).argmax(axis=1)

    def survived(dy, dx):
        return float(np.mean(model.predict(shift_images(x, dy, dx)).argmax(axis=1) == reference))

    return {
        "shifts": list(shifts),
        "horizontal": [survived(0, s) for s in shifts],
        "vertical": [survived(s, 0) for s in shifts],
    }


def accuracy_under_shift(model, x, y, shifts=SHIFTS):
    """Test accuracy of a classifier on images moved horizontally by each shift (zero fill).

    Args:
        model: a classifier on ``(N, H, W, C)`` images.
        x: images; y: integer labels ``(N,)``.
        shifts: pixel offsets.

    Returns:
        one accuracy per shift.
    """
    return [
        float(np.mean(model.predict(shift_images(x, 0, s)).argmax(axis=1) == y)) for s in shifts
    ]
