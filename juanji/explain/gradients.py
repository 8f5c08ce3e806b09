"""Gradient flow: the norms that make vanishing and exploding gradients visible."""

import numpy as np

from juanji import backend


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
