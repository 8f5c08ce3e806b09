"""Losses: a prediction and a target reduced to one scalar, the mean over the batch.

Arguments follow PyTorch's order (prediction first, target second); the values follow
Keras's definitions. Probabilities are clipped to ``[EPSILON, 1 - EPSILON]`` before the log,
and categorical probabilities are first renormalised over the last axis. With
``from_logits=True`` the cross-entropies fuse the sigmoid or softmax into the loss, which
keeps large logits finite and makes the gradient exact: ``(softmax(z) - y) / N``.

Targets of the categorical losses are one-hot (or probability) rows shaped like the
prediction ``(..., C)``, or integer class labels shaped like it without the last axis.
Every position before the class axis counts as one sample of the batch mean. Float targets
receive a gradient too (useful for soft targets); integer labels are constants.

Every loss takes ``sample_weight``: one weight per sample ``(N,)`` (or per position before
the class axis), which multiplies that sample's terms in the sum; the divisor stays the
number of terms, as Keras's ``"sum_over_batch_size"`` reduction, so weights of 1 give the
unweighted loss and the gradient of each sample is scaled by exactly its weight.
"""

import numbers

import numpy as np

from juanji import backend
from juanji.autograd import primitive

__all__ = [
    "mean_squared_error",
    "mean_absolute_error",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "categorical_cross_entropy",
    "softmax_cross_entropy",
    "multiclass_hinge",
    "categorical_hinge",
    "l1_l2_penalty",
    "l1_penalty",
    "l2_penalty",
]

EPSILON = 1e-7


def _dense_target(p, y_true):
    """``y_true`` as an array of ``p``'s shape and dtype (any numeric dtype, cast as Keras does)."""
    t = np.asarray(y_true)
    if t.shape != p.shape:
        raise ValueError(
            f"Expected `y_true` of the same shape as `y_pred` {p.shape}. "
            f"Received: y_true.shape={t.shape}"
        )
    if t.dtype.kind not in "biuf":
        raise TypeError(f"Expected a numeric `y_true`. Received: y_true.dtype={t.dtype}")
    return t.astype(p.dtype, copy=False)


def _class_target(p, y_true):
    """One-hot (or probability) rows ``(..., C)`` for ``p`` from rows or integer labels."""
    if p.ndim == 0:
        raise ValueError("Expected `y_pred` with a class axis (..., C). Received: y_pred.shape=()")
    t = np.asarray(y_true)
    if t.shape == p.shape:
        return _dense_target(p, t)
    n_classes = p.shape[-1]
    if t.shape != p.shape[:-1]:
        raise ValueError(
            f"Expected `y_true` one-hot of shape {p.shape} or integer labels of shape "
            f"{p.shape[:-1]}. Received: y_true.shape={t.shape}"
        )
    if t.dtype.kind not in "iu":
        raise TypeError(
            f"Expected integer class labels for `y_true` of shape {t.shape} (one-hot targets "
            f"must have the shape of `y_pred`, {p.shape}). Received: y_true.dtype={t.dtype}"
        )
    bad = (t < 0) | (t >= n_classes)
    if bad.any():
        raise ValueError(
            f"Expected integer labels in [0, {n_classes}) for C={n_classes} classes. "
            f"Received: y_true={t[bad].flat[0]}"
        )
    return (t[..., None] == np.arange(n_classes)).astype(p.dtype)


def _target_grad(g, y_true, needs_grad):
    """The gradient ``g()`` for the target when one is wanted, in the target's own dtype."""
    return g().astype(y_true.dtype, copy=False) if needs_grad[1] else None


def _scalar(value, dtype):
    return np.asarray(value, dtype=dtype)


def _weights(sample_weight, shape, dtype):
    """Per-sample weights ``(N,)`` (or shaped like the leading axes of ``shape``) broadcast
    to ``shape``; the number 1 when there are none."""
    if sample_weight is None:
        return 1
    w = np.asarray(sample_weight, dtype=dtype)
    if w.ndim > len(shape) or w.shape != tuple(shape[: w.ndim]):
        raise ValueError(
            f"Expected `sample_weight` of shape ({shape[0]},) (one weight per sample). "
            f"Received: sample_weight.shape={w.shape}"
        )
    return np.broadcast_to(w.reshape(w.shape + (1,) * (len(shape) - w.ndim)), shape)


@primitive
def mean_squared_error(y_pred, y_true, *, sample_weight=None, needs_grad):
    """Mean of ``(y_pred - y_true) ** 2`` over all elements.

    Args:
        y_pred: predictions, any shape.
        y_true: targets of the same shape.

    Returns:
        A scalar Tensor.

    Backward: gp = 2 * w * (y_pred - y_true) / n * gy, gt = -gp (n = number of elements,
    w the sample weights, 1 without them).
    """
    p = backend.as_float_array(y_pred, "y_pred")
    d = p - _dense_target(p, y_true)
    w = _weights(sample_weight, p.shape, p.dtype)

    def backward(gy):
        gp = (2 * gy / d.size) * (w * d)
        return gp, _target_grad(lambda: -gp, y_true, needs_grad)

    return _scalar(np.mean(w * d * d), p.dtype), backward


@primitive
def mean_absolute_error(y_pred, y_true, *, sample_weight=None, needs_grad):
    """Mean of ``|y_pred - y_true|`` over all elements.

    Args:
        y_pred: predictions, any shape.
        y_true: targets of the same shape.

    Returns:
        A scalar Tensor.

    Backward: gp = w * sign(y_pred - y_true) / n * gy, gt = -gp (n = number of elements).
    """
    p = backend.as_float_array(y_pred, "y_pred")
    d = p - _dense_target(p, y_true)
    w = _weights(sample_weight, p.shape, p.dtype)

    def backward(gy):
        gp = (gy / d.size) * (w * np.sign(d))
        return gp, _target_grad(lambda: -gp, y_true, needs_grad)

    return _scalar(np.mean(w * np.abs(d)), p.dtype), backward


@primitive
def binary_cross_entropy(y_pred, y_true, *, from_logits=False, sample_weight=None, needs_grad):
    """Mean of ``-(t * log(c) + (1 - t) * log(1 - c))``, ``c = clip(y_pred, eps, 1 - eps)``.

    Args:
        y_pred: probabilities in [0, 1], or logits when ``from_logits``; any shape.
        y_true: targets in [0, 1] of the same shape.
        from_logits: fuse the sigmoid, see :func:`binary_cross_entropy_with_logits`.

    Returns:
        A scalar Tensor, the mean over all elements.

    Backward: gp = ((1 - t) / (1 - c) - t / c) / n * gy where ``y_pred`` lies inside the
    clip range (0 outside), gt = (log(1 - c) - log(c)) / n * gy; both times the sample
    weights.
    """
    if from_logits:
        return binary_cross_entropy_with_logits.primitive(
            y_pred, y_true, sample_weight=sample_weight, needs_grad=needs_grad
        )
    p = backend.as_float_array(y_pred, "y_pred")
    t = _dense_target(p, y_true)
    w = _weights(sample_weight, p.shape, p.dtype)
    c = np.clip(p, EPSILON, 1 - EPSILON)
    log_c, log_1mc = np.log(c), np.log1p(-c)

    def backward(gy):
        inside = (p >= EPSILON) & (p <= 1 - EPSILON)
        gp = (gy / p.size) * w * ((1 - t) / (1 - c) - t / c) * inside
        return gp, _target_grad(lambda: (gy / p.size) * w * (log_1mc - log_c), y_true, needs_grad)

    return _scalar(-np.mean(w * (t * log_c + (1 - t) * log_1mc)), p.dtype), backward


@primitive
def binary_cross_entropy_with_logits(logits, y_true, *, sample_weight=None, needs_grad):
    """Binary cross-entropy of ``sigmoid(logits)``, fused and stable for any logit.

    Computed as ``max(z, 0) - z * t + log(1 + exp(-|z|))`` (the log-sum-exp form).

    Args:
        logits: real scores ``z``, any shape.
        y_true: targets in [0, 1] of the same shape.

    Returns:
        A scalar Tensor, the mean over all elements.

    Backward: gz = w * (sigmoid(z) - t) / n * gy, gt = -w * z / n * gy (w: sample weights).
    """
    z = backend.as_float_array(logits, "logits")
    t = _dense_target(z, y_true)
    w = _weights(sample_weight, z.shape, z.dtype)
    e = np.exp(-np.abs(z))  # in (0, 1]: never overflows

    def backward(gy):
        sigmoid = np.where(z >= 0, 1, e) / (1 + e)
        gz = (gy / z.size) * w * (sigmoid - t)
        return gz, _target_grad(lambda: (-gy / z.size) * w * z, y_true, needs_grad)

    return _scalar(np.mean(w * (np.maximum(z, 0) - z * t + np.log1p(e))), z.dtype), backward


@primitive
def categorical_cross_entropy(y_pred, y_true, *, from_logits=False, sample_weight=None, needs_grad):
    """Mean over samples of ``-sum(t * log(c))`` with ``c = clip(p / sum(p), eps, 1 - eps)``.

    Args:
        y_pred: probabilities ``(..., C)``, or logits when ``from_logits``.
        y_true: one-hot or probability rows ``(..., C)``, or integer labels ``(...)``.
        from_logits: fuse the softmax, see :func:`softmax_cross_entropy`.

    Returns:
        A scalar Tensor, the mean over the N samples (all positions before the class axis).

    Raises:
        ValueError: if ``y_true`` has neither shape, or a label is outside [0, C).
        TypeError: if ``y_pred`` is not floating point, or labels shaped ``(...)`` are not
            integers.

    Backward: with ``q = p / sum(p)`` and ``gq = -t / c / N * gy`` (0 where ``q`` is clipped),
    gp = (gq - sum(gq * q)) / sum(p); gt = -log(c) / N * gy; each sample's terms times its
    weight.
    """
    if from_logits:
        return softmax_cross_entropy.primitive(
            y_pred, y_true, sample_weight=sample_weight, needs_grad=needs_grad
        )
    p = backend.as_float_array(y_pred, "y_pred")
    t = _class_target(p, y_true)
    n = t.size // t.shape[-1]
    w = _weights(sample_weight, t.shape, p.dtype)
    s = p.sum(axis=-1, keepdims=True)  # (..., 1)
    q = p / s
    c = np.clip(q, EPSILON, 1 - EPSILON)
    log_c = np.log(c)

    def backward(gy):
        gq = (-gy / n) * w * t / c * ((q >= EPSILON) & (q <= 1 - EPSILON))
        gp = (gq - np.sum(gq * q, axis=-1, keepdims=True)) / s
        return gp, _target_grad(lambda: (-gy / n) * w * log_c, y_true, needs_grad)

    return _scalar(-np.sum(w * t * log_c) / n, p.dtype), backward


@primitive
def softmax_cross_entropy(logits, y_true, *, sample_weight=None, needs_grad):
    """Cross-entropy of ``softmax(logits)``: log-softmax and negative log-likelihood fused.

    Args:
        logits: real scores ``z`` of shape ``(..., C)``.
        y_true: one-hot or probability rows ``(..., C)``, or integer labels ``(...)``.

    Returns:
        A scalar Tensor, ``-mean(sum(t * log_softmax(z)))`` over the N samples.

    Backward: gz = (softmax(z) * sum(t) - t) / N * gy, which is (softmax(z) - t) / N for
    rows of ``t`` summing to 1; gt = -log_softmax(z) / N * gy; both times the sample weights.
    """
    z = backend.as_float_array(logits, "logits")
    t = _class_target(z, y_true)
    n = t.size // t.shape[-1]
    w = _weights(sample_weight, t.shape, z.dtype)
    shifted = z - z.max(axis=-1, keepdims=True)
    log_p = shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))  # (..., C)

    def backward(gy):
        gz = (gy / n) * w * (np.exp(log_p) * t.sum(axis=-1, keepdims=True) - t)
        return gz, _target_grad(lambda: (-gy / n) * w * log_p, y_true, needs_grad)

    return _scalar(-np.sum(w * t * log_p) / n, z.dtype), backward


@primitive
def multiclass_hinge(scores, y_true, *, margin=1.0, sample_weight=None):
    """The Weston–Watkins multiclass SVM loss: ``mean(sum_{j != y} max(0, margin + s_j - s_y))``.

    Args:
        scores: class scores ``s`` of shape ``(..., C)``.
        y_true: one-hot rows ``(..., C)`` or integer labels ``(...)``; they select ``y`` and
            receive no gradient.
        margin: the required gap between the true score and every other score.

    Returns:
        A scalar Tensor, the mean over the N samples. (PyTorch's ``multi_margin_loss``
        further divides each sample's sum by C.)

    Backward: with ``a_j = [j != y and margin + s_j - s_y > 0]``,
    gs_j = w * (a_j - [j == y] * sum(a)) / N * gy (w: the sample's weight).
    """
    if not isinstance(margin, numbers.Real):
        raise TypeError(f"Expected a real `margin`. Received: margin={margin!r}")
    s = backend.as_float_array(scores, "scores")
    t = _class_target(s, y_true)
    n = t.size // t.shape[-1]
    m = margin + s - np.sum(t * s, axis=-1, keepdims=True)  # (..., C)
    active = (1 - t) * (m > 0)
    w = _weights(sample_weight, t.shape, s.dtype)

    def backward(gy):
        return (gy / n) * w * (active - t * active.sum(axis=-1, keepdims=True)), None

    return _scalar(np.sum(w * active * m) / n, s.dtype), backward


@primitive
def categorical_hinge(y_pred, y_true, *, sample_weight=None, needs_grad):
    """Keras's categorical hinge: ``mean(max(0, 1 + neg - pos))``.

    ``pos = sum(t * p)`` is the true class's score and ``neg = max((1 - t) * p)`` the
    largest of the others (with the true class counted as 0, exactly as Keras does).

    Args:
        y_pred: scores ``p`` of shape ``(..., C)``.
        y_true: one-hot rows ``(..., C)`` or integer labels ``(...)``.

    Returns:
        A scalar Tensor, the mean over the N samples.

    Backward: with ``a = [1 + neg - pos > 0] / N * gy`` and ``k`` the first argmax of
    ``(1 - t) * p``: gp = a * ((1 - t) * [j == k] - t), gt = -a * p * ([j == k] + 1); ``a``
    times the sample weights.
    """
    p = backend.as_float_array(y_pred, "y_pred")
    t = _class_target(p, y_true)
    n = t.size // t.shape[-1]
    others = (1 - t) * p
    # NOTE: ties for the largest other score send the gradient to the first one.
    at_k = np.arange(p.shape[-1]) == np.argmax(others, axis=-1)[..., None]  # (..., C)
    margins = 1 + others.max(axis=-1) - np.sum(t * p, axis=-1)  # (...)
    w = _weights(sample_weight, margins.shape, p.dtype)

    def backward(gy):
        a = (w * (margins > 0) * (gy / n))[..., None]
        gp = a * ((1 - t) * at_k - t)
        return gp, _target_grad(lambda: -a * p * (at_k + 1), y_true, needs_grad)

    return _scalar(np.sum(w * np.maximum(margins, 0)) / n, p.dtype), backward


def _coefficient(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < np.inf:
        raise ValueError(
            f"Expected a finite non-negative float `{name}`. Received: {name}={value!r}"
        )
    return float(value)


@primitive
def l1_l2_penalty(w, *, l1=0.0, l2=0.0):
    """The elastic-net weight penalty ``l1 * sum(|w|) + l2 * sum(w ** 2)`` (Keras's scaling).

    Args:
        w: a weight array, any shape.
        l1, l2: non-negative coefficients.

    Returns:
        A scalar Tensor.

    Backward: gw = (l1 * sign(w) + 2 * l2 * w) * gy.
    """
    l1, l2 = _coefficient("l1", l1), _coefficient("l2", l2)
    w = backend.as_float_array(w, "w")

    def backward(gy):
        return gy * (l1 * np.sign(w) + 2 * l2 * w)

    return _scalar(l1 * np.sum(np.abs(w)) + l2 * np.sum(w * w), w.dtype), backward


def l1_penalty(w, *, l1):
    """``l1 * sum(|w|)``: :func:`l1_l2_penalty` with ``l2 = 0``.

    Backward: gw = l1 * sign(w) * gy.
    """
    return l1_l2_penalty(w, l1=l1)


def l2_penalty(w, *, l2):
    """``l2 * sum(w ** 2)`` (no factor 1/2, as in Keras): :func:`l1_l2_penalty` with ``l1 = 0``.

    Backward: gw = 2 * l2 * w * gy.
    """
    return l1_l2_penalty(w, l2=l2)
