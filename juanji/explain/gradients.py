"""Gradient flow: the norms that make vanishing and exploding gradients visible.

:func:`gradient_flow` runs one batch forward and backward through a Sequential model and
reports, for each layer with weights, the L2 norm of its weight gradient, that norm's ratio to
the last layer's, the share of saturated sigmoid/tanh units and of dead ReLU units, and a
verdict by the thresholds below. :class:`GradientFlow` records it after every epoch of
``fit``.

Verdicts (``THRESHOLDS``), for a layer whose gradient norm is ``ratio`` times the output
layer's:

- ``non-finite``: the gradient holds a NaN or an infinity;
- ``vanishing``: ``ratio < 1e-3`` (three orders of magnitude less signal than at the output:
  the layer barely moves at the learning rate that suits the output), or no gradient at all;
- ``exploding``: ``ratio > 1e3``;
- ``healthy`` otherwise.

A unit is *saturated* where its derivative is under 10% of its maximum (sigmoid:
``σ(1 − σ) < 0.025``; tanh: ``1 − tanh² < 0.1``), and a ReLU unit is *dead* when it outputs
0 for every sample of the batch (it then passes no gradient at all).
"""

import numpy as np

from juanji import backend
from juanji.callbacks import Callback
from juanji.models import Sequential

THRESHOLDS = {"vanishing_below": 1e-3, "exploding_above": 1e3, "saturated_derivative": 0.1}
_DERIVATIVE_PEAK = {"sigmoid": 0.25, "tanh": 1.0}


def gradient_norms(model, x, y):
    """The L2 norm of the loss gradient for each weight of a compiled model, on one batch.

    In a deep stack of sigmoid layers the norms shrink layer by layer towards the input
    (vanishing gradients); with large initial weights they grow (exploding gradients).

    Args:
        model: a compiled juanji model.
        x, y: one batch of inputs and targets.

    Returns:
        a list of ``(weight name, norm)`` pairs, input side first. Weights are not changed.
    """
    x = np.asarray(x, dtype=backend.floatx())
    y_pred = model(x, training=True)
    loss = model.loss(y, y_pred)
    weights = model.trainable_weights
    for w in weights:
        w.grad = None
    loss.backward()
    norms = [
        (w.name, float(np.linalg.norm(w.grad)) if w.grad is not None else 0.0) for w in weights
    ]
    for w in weights:
        w.grad = None
    return norms


def _activation_name(layer):
    kind = type(layer).__name__
    if kind == "ReLU":
        return "relu"
    fn = getattr(layer, "activation", None)
    return getattr(fn, "__name__", None) if callable(fn) else None


def _unit_stats(activation, output):
    """``(saturated share, dead share)`` of one layer's outputs ``(N, ...)``."""
    if activation in _DERIVATIVE_PEAK:
        derivative = output * (1 - output) if activation == "sigmoid" else 1 - output**2
        limit = THRESHOLDS["saturated_derivative"] * _DERIVATIVE_PEAK[activation]
        return float(np.mean(derivative < limit)), None
    if activation == "relu":
        units = output.reshape(len(output), -1)
        return None, float(np.mean(np.all(units <= 0, axis=0)))
    return None, None


def verdict(ratio, finite=True):
    """``"healthy"``, ``"vanishing"``, ``"exploding"`` or ``"non-finite"`` for a layer whose
    gradient norm is ``ratio`` times the output layer's (see ``THRESHOLDS``); a layer with no
    gradient at all (ratio 0, or every layer 0) is vanishing."""
    if not finite:
        return "non-finite"
    if np.isnan(ratio) or ratio < THRESHOLDS["vanishing_below"]:
        return "vanishing"
    if ratio > THRESHOLDS["exploding_above"]:
        return "exploding"
    return "healthy"


def gradient_flow(model, x, y):
    """Per-layer gradient norms, their ratios to the last layer, unit saturation and a verdict,
    on one batch. Weights and optimizer state are not changed.

    Args:
        model: a compiled Sequential model.
        x: one batch of inputs ``(N, ...)``; y: its targets, as the model's loss takes them.

    Returns:
        one dict per layer with weights, input side first: ``layer``, ``type``,
        ``activation`` (name or None), ``grad_norm``, ``ratio`` (to the last such layer),
        ``saturated`` (share, sigmoid/tanh) and ``dead`` (share, ReLU) or None, ``verdict``.

    Raises:
        TypeError: for a model that is not Sequential; RuntimeError if it is not compiled;
            ValueError: if it has no trainable weights.
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"Expected a Sequential model. Received: model={type(model).__name__}")
    if not model.compiled:
        raise RuntimeError("Call compile() before gradient_flow().")
    h = np.asarray(x, dtype=backend.floatx())
    state = [w.data.copy() for w in model.non_trainable_weights]  # e.g. running statistics
    rows = []
    for layer in model.layers:
        h = layer(h, training=True)
        if layer.trainable_weights:
            rows.append({"layer": layer, "activation": None, "saturated": None, "dead": None})
        activation = _activation_name(layer)
        if rows and activation in ("sigmoid", "tanh", "relu"):
            rows[-1]["activation"] = activation
            rows[-1]["saturated"], rows[-1]["dead"] = _unit_stats(activation, h.data)
    if not rows:
        raise ValueError(f"Model '{model.name}' has no trainable weights.")
    loss = model.loss(y, h)
    for layer in model.layers:
        for w in layer.trainable_weights:
            w.grad = None
    loss.backward()
    for row in rows:
        grads = [w.grad for w in row["layer"].trainable_weights if w.grad is not None]
        row["finite"] = all(bool(np.all(np.isfinite(g))) for g in grads)
        row["grad_norm"] = float(
            np.sqrt(sum(np.sum(np.square(g, dtype=np.float64)) for g in grads))
        )
        for w in row["layer"].trainable_weights:
            w.grad = None
    for w, data in zip(model.non_trainable_weights, state):
        w.data = data
    last = rows[-1]["grad_norm"]
    result = []
    for row in rows:
        ratio = row["grad_norm"] / last if last > 0 else (np.inf if row["grad_norm"] else np.nan)
        layer = row.pop("layer")
        result.append(
            {
                "layer": layer.name,
                "type": type(layer).__name__,
                "activation": row["activation"],
                "grad_norm": row["grad_norm"],
                "ratio": ratio,
                "saturated": row["saturated"],
                "dead": row["dead"],
                "verdict": verdict(ratio, row["finite"]),
            }
        )
    return result


def format_gradient_flow(rows):
    """The rows of :func:`gradient_flow` as an aligned text table."""
    head = f"{'layer':<18}{'activation':<12}{'grad norm':>12}{'ratio':>11}{'saturated':>11}"
    head += f"{'dead':>8}  verdict"
    lines = [head]
    for r in rows:
        share = [f"{v:.1%}" if v is not None else "-" for v in (r["saturated"], r["dead"])]
        lines.append(
            f"{r['layer']:<18}{r['activation'] or '-':<12}{r['grad_norm']:>12.3e}"
            f"{r['ratio']:>11.2e}{share[0]:>11}{share[1]:>8}  {r['verdict']}"
        )
    t = THRESHOLDS
    lines.append(
        f"verdicts: vanishing if ratio < {t['vanishing_below']:g}, exploding if ratio > "
        f"{t['exploding_above']:g} (ratio = layer's gradient norm / last layer's); saturated: "
        f"derivative < {t['saturated_derivative']:.0%} of its peak; dead: 0 on every sample"
    )
    return "\n".join(lines)


class GradientFlow(Callback):
    """Records :func:`gradient_flow` on a fixed batch at the start of training and after
    every epoch; ``plot(path)`` draws the norms per layer, one line per epoch.

    Args:
        x, y: the batch to measure on (a few hundred samples is plenty).

    Attributes:
        epochs: ``[(label, rows)]`` with label ``"init"`` then ``"epoch 1"``, ...
    """

    def __init__(self, x, y):
        super().__init__()
        self.x, self.y = x, y
        self.epochs = []

    def on_train_begin(self, logs=None):
        self.epochs = [("init", gradient_flow(self.model, self.x, self.y))]

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append((f"epoch {epoch + 1}", gradient_flow(self.model, self.x, self.y)))

    def plot(self, path, title=None):
        """Write a PNG of the per-layer gradient norms, one line per recorded epoch."""
        from juanji.explain.plots import plot_gradient_flow

        return plot_gradient_flow(self.epochs, path, title=title)
