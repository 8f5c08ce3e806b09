"""Translation equivariance of convolution and the approximate invariance pooling adds."""

import numpy as np

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
