"""Keras-style loss objects: ``loss(y_true, y_pred)`` gives the batch-mean loss as a Tensor.

Each class wraps a functional loss of :mod:`juanji.ops` (which takes the prediction first)
and checks the targets against what the loss expects: one-hot rows for the categorical
losses, integer class labels for the sparse one, arrays shaped like the prediction for the
others. :func:`validate_targets` runs the same checks, plus checks of the values, once on a
whole training set before any step, so a wrong loss choice fails at once with a suggestion.
"""

import functools
import inspect
import re

import numpy as np

from juanji import ops, registry
from juanji.autograd import as_tensor

__all__ = [
    "Loss",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
    "CategoricalHinge",
    "MulticlassHinge",
    "compute",
    "reduce_weighted",
    "validate_targets",
    "get",
]

_TO_CATEGORICAL = "juanji.data.utils.to_categorical(y, num_classes={C})"


def snake_case(name):
    """``"SparseCategoricalCrossentropy"`` -> ``"sparse_categorical_crossentropy"``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _form(y_shape, pred_shape):
    """How targets of ``y_shape`` relate to predictions of ``pred_shape`` ``(..., C)``."""
    if y_shape == pred_shape:
        return "same"
    if y_shape in (pred_shape[:-1], (*pred_shape[:-1], 1)) and pred_shape[-1] > 1:
        return "labels"
    if len(y_shape) == len(pred_shape) and y_shape[:-1] == pred_shape[:-1]:
        return "classes"
    return None


class Loss:
    """Base loss: target checks, ``name`` and a JSON config.

    Subclasses set ``targets`` to the form they accept ("dense": shaped like the prediction;
    "one_hot": rows ``(..., C)``; "labels": integer class indices ``(...)``;
    "one_hot_or_labels"), ``alternative`` to the loss that takes the other form, and
    implement ``call(y_true, y_pred)``.

    Args:
        name: the loss's name (default: the class name in snake case, as Keras).
    """

    targets = "dense"
    alternative = None

    def __init__(self, *, name=None):
        self.name = name or snake_case(type(self).__name__)

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The loss of ``y_pred`` (a Tensor ``(N, ...)``) against ``y_true`` (an array).

        A subclass's ``call`` may return one loss per sample ``(N,)`` (as Keras's do): they
        are then averaged, each times its weight.

        Args:
            y_true: targets.
            y_pred: predictions, a Tensor.
            sample_weight: one weight per sample ``(N,)``, or None.

        Returns:
            A scalar Tensor: ``sum(w * loss) / N``, the mean over the batch without weights.

        Raises:
            ValueError: if ``y_true`` does not have the form this loss expects (the message
                says which loss would fit it, or how to convert it).
        """
        y_true = self.prepare_targets(y_true, y_pred.shape)
        if _takes_sample_weight(type(self).call):
            return self.call(y_true, y_pred, sample_weight=sample_weight)
        return reduce_weighted(self.call(y_true, y_pred), sample_weight, self.name)

    def call(self, y_true, y_pred, sample_weight=None):
        """The (weighted) batch-mean loss, or one loss per sample."""
        raise NotImplementedError

    def prepare_targets(self, y, pred_shape):
        """Check the shape of targets ``y`` for predictions of ``pred_shape``; return them as
        the functional loss takes them (a trailing size-1 axis matched, labels as integers).

        Raises:
            TypeError: for non-numeric targets.
            ValueError: for targets of another form or shape, saying how to fix them.
        """
        y = np.asarray(y)
        if y.dtype.kind not in "biuf":
            raise TypeError(
                f"Expected numeric targets for loss `{self.name}`. Received: y.dtype={y.dtype}"
            )
        pred_shape = tuple(pred_shape)
        if self.targets != "dense" and pred_shape[-1] == 1:
            raise ValueError(
                f"Loss `{self.name}` needs one output unit per class (with a softmax); for two "
                "classes and one sigmoid unit use loss='binary_crossentropy'. "
                f"Received: predictions of shape {pred_shape}"
            )
        form = _form(y.shape, pred_shape)
        if self.targets == "dense":
            if form == "same":
                return y
            if pred_shape[-1] == 1 and y.shape == pred_shape[:-1]:
                return y.reshape(pred_shape)
        elif self.targets != "labels" and form == "same":
            return y
        elif self.targets != "one_hot" and form == "labels":
            return _as_labels(self, y.reshape(pred_shape[:-1]))
        raise self._target_error(y.shape, pred_shape, form)

    def _target_error(self, y_shape, pred_shape, form):
        c = pred_shape[-1]
        one_hot = f"one-hot (or probability) targets of shape {pred_shape}"
        labels = f"integer class labels of shape {pred_shape[:-1]}"
        expected = {
            "dense": f"targets shaped like the predictions, {pred_shape}",
            "one_hot": one_hot,
            "labels": labels,
            "one_hot_or_labels": f"{one_hot} or {labels}",
        }[self.targets]
        use = f"use loss='{self.alternative}', or " if self.alternative else ""
        if form == "labels":
            hint = (
                f"These look like class labels: {use}one-hot encode them with "
                f"{_TO_CATEGORICAL.format(C=c)}."
            )
        elif form == "same":
            hint = f"These look like one-hot rows: {use}take np.argmax(y, axis=-1)."
        elif form == "classes" and self.targets != "labels":
            hint = (
                f"The targets have {y_shape[-1]} classes (columns) but the model outputs {c}: "
                "the last layer needs one unit per class."
            )
        else:
            hint = ""
        return ValueError(
            f"Loss `{self.name}` expects {expected}. {hint}{' ' if hint else ''}"
            f"Received: y.shape={y_shape}"
        )

    def check_values(self, y, pred_shape):
        """Check the values of targets made by :meth:`prepare_targets` (once per data set)."""
        c = pred_shape[-1]
        if y.dtype.kind in "iu" and y.shape == pred_shape[:-1] and y.size:
            low, high = int(y.min()), int(y.max())
            if low < 0 or high >= c:
                raise ValueError(
                    f"Loss `{self.name}` expects class labels in [0, {c}) for a model with {c} "
                    f"outputs; does the last layer need {high + 1} units? "
                    f"Received: labels from {low} to {high}"
                )

    def get_config(self):
        """JSON-only arguments; ``from_config`` rebuilds an equal loss."""
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@functools.cache
def _takes_sample_weight(call):
    return "sample_weight" in inspect.signature(call).parameters


def reduce_weighted(values, sample_weight, name="loss"):
    """The mean of per-sample losses ``values`` ``(N, ...)``, each times its weight ``(N,)``;
    a scalar loss is returned as is (and cannot be weighted).

    Raises:
        ValueError: if ``sample_weight`` is given for a loss that is already one number.
    """
    values = as_tensor(values)
    if values.ndim == 0:
        if sample_weight is not None:
            raise ValueError(
                f"Loss `{name}` returns one number per batch, so samples cannot be weighted: "
                "return one loss per sample (shape (N,)) instead."
            )
        return values
    if sample_weight is None:
        return ops.mean(values)
    w = np.asarray(sample_weight, values.dtype)
    return ops.mean(values * w.reshape(w.shape + (1,) * (values.ndim - w.ndim)))


def compute(loss, y_true, y_pred, sample_weight=None):
    """``loss`` (a Loss or a function ``f(y_true, y_pred)`` giving a scalar or one value per
    sample) of ``y_pred`` against ``y_true``, weighted by ``sample_weight``, as a scalar."""
    if isinstance(loss, Loss):
        return loss(y_true, y_pred, sample_weight=sample_weight)
    name = getattr(loss, "__name__", type(loss).__name__)
    return reduce_weighted(loss(y_true, y_pred), sample_weight, name)


def _as_labels(loss, y):
    """Integer labels from ints or integral floats (Keras casts sparse targets to int)."""
    if y.dtype.kind in "iu":
        return y
    labels = y.astype(np.int64)
    if y.dtype.kind == "b" or not np.array_equal(labels, y):
        raise ValueError(
            f"Loss `{loss.name}` expects integer class labels. Received: y.dtype={y.dtype} "
            "with non-integer values"
        )
    return labels


class _FromLogits(Loss):
    """A loss taking ``from_logits``: whether predictions are logits, not probabilities."""

    def __init__(self, *, from_logits=False, name=None):
        super().__init__(name=name)
        if not isinstance(from_logits, bool):
            raise TypeError(f"Expected a bool `from_logits`. Received: from_logits={from_logits!r}")
        self.from_logits = from_logits

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}


@registry.register("loss", "mse")
class MeanSquaredError(Loss):
    """Mean of ``(y_true - y_pred) ** 2`` over all elements.

    Example:
        >>> from juanji.autograd import Tensor
        >>> MeanSquaredError()(np.array([[1.0, 0.0]]), Tensor([[0.5, 0.5]])).item()
        0.25
    """

    def call(self, y_true, y_pred, sample_weight=None):
        return ops.mean_squared_error(y_pred, y_true, sample_weight=sample_weight)


@registry.register("loss", "mae")
class MeanAbsoluteError(Loss):
    """Mean of ``|y_true - y_pred|`` over all elements."""

    def call(self, y_true, y_pred, sample_weight=None):
        return ops.mean_absolute_error(y_pred, y_true, sample_weight=sample_weight)


@registry.register("loss")
class BinaryCrossentropy(_FromLogits):
    """Binary cross-entropy for targets in [0, 1] shaped like the predictions.

    Args:
        from_logits: predictions are logits (the sigmoid is fused into the loss).
        name: the loss's name.
    """

    alternative = "sparse_categorical_crossentropy"

    def call(self, y_true, y_pred, sample_weight=None):
        return ops.binary_cross_entropy(
            y_pred, y_true, from_logits=self.from_logits, sample_weight=sample_weight
        )

    def check_values(self, y, pred_shape):
        if y.size and (y.min() < 0 or y.max() > 1):
            hint = (
                " For class labels give the last layer one unit per class with a softmax and "
                "use loss='sparse_categorical_crossentropy'."
                if pred_shape[-1] == 1
                else ""
            )
            raise ValueError(
                f"Loss `{self.name}` expects targets in [0, 1].{hint} "
                f"Received: values from {y.min()} to {y.max()}"
            )


@registry.register("loss")
class CategoricalCrossentropy(_FromLogits):
    """Cross-entropy for one-hot (or probability) targets ``(N, C)``.

    Args:
        from_logits: predictions are logits (the softmax is fused into the loss).
        name: the loss's name.

    Example:
        >>> from juanji.autograd import Tensor
        >>> loss = CategoricalCrossentropy()
        >>> round(loss(np.array([[0.0, 1.0]]), Tensor([[0.5, 0.5]])).item(), 4)
        0.6931
    """

    targets = "one_hot"
    alternative = "sparse_categorical_crossentropy"

    def check_values(self, y, pred_shape):
        """Targets are one-hot or probability rows: every value in [0, 1].

        NOTE: rows need not sum to 1: the loss normalises each row of predictions, and Keras
        takes multi-hot rows (its functional-API guide trains one such head), so only values
        outside [0, 1] (a 2.0, a negative label) are refused."""
        if not y.size or y.dtype.kind not in "biuf":
            return
        rows = y.reshape(-1, y.shape[-1]).astype(np.float64)
        bad = (rows.min(axis=1) < 0) | (rows.max(axis=1) > 1)
        if bad.any():
            first = int(np.argmax(bad))
            raise ValueError(
                f"Loss `{self.name}` expects one-hot (or probability) rows: values in [0, 1]; "
                f"for class labels use to_categorical or loss="
                f"'sparse_categorical_crossentropy'. Received: {int(bad.sum())} rows that are "
                f"not, the first (row {first}) {rows[first].tolist()[:10]}"
            )

    def call(self, y_true, y_pred, sample_weight=None):
        return ops.categorical_cross_entropy(
            y_pred, y_true, from_logits=self.from_logits, sample_weight=sample_weight
        )


@registry.register("loss")
class SparseCategoricalCrossentropy(_FromLogits):
    """Cross-entropy for integer class labels ``(N,)`` (or ``(N, 1)``) in ``[0, C)``.

    Args:
        from_logits: predictions are logits (the softmax is fused into the loss).
        name: the loss's name.
    """

    targets = "labels"
    alternative = "categorical_crossentropy"

    def call(self, y_true, y_pred, sample_weight=None):
        return ops.categorical_cross_entropy(
            y_pred, y_true, from_logits=self.from_logits, sample_weight=sample_weight
        )


@registry.register("loss")
class CategoricalHinge(Loss):
    """Keras's categorical hinge ``mean(max(0, 1 + max_other - true_score))``, one-hot targets."""

    targets = "one_hot"
    alternative = "multiclass_hinge"

    def call(self, y_true, y_pred, sample_weight=None):
        return ops.categorical_hinge(y_pred, y_true, sample_weight=sample_weight)


@registry.register("loss")
class MulticlassHinge(Loss):
    """The multiclass SVM (Weston-Watkins) hinge ``mean(sum_{j != y} max(0, 1 + s_j - s_y))``.

    Takes one-hot targets or integer labels. (Keras's ``"hinge"`` is the binary hinge.)
    """

    targets = "one_hot_or_labels"

    def call(self, y_true, y_pred, sample_weight=None):
        return ops.multiclass_hinge(y_pred, y_true, sample_weight=sample_weight)


def validate_targets(loss, y, output_shape):
    """Check a whole set of targets against ``loss`` and the model's output shape, once.

    Losses that are not :class:`Loss` objects (plain functions) are not checked.

    Args:
        loss: the compiled loss.
        y: all targets, ``(N, ...)``.
        output_shape: the model's output shape with the batch axis, e.g. ``(None, 10)``.

    Raises:
        ValueError, TypeError: naming the problem and, where one exists, the fix (another
            loss, ``to_categorical``, the number of output units).
    """
    if not isinstance(loss, Loss):
        return
    y = np.asarray(y)
    if y.ndim == 0:
        raise ValueError(f"Expected targets with a batch axis. Received: y.shape={y.shape}")
    pred_shape = (len(y), *tuple(output_shape)[1:])
    loss.check_values(loss.prepare_targets(y, pred_shape), pred_shape)


def get(identifier):
    """A loss from a name (``"mse"``), a config dict, a Loss or a function ``f(y_true, y_pred)``.

    Raises:
        ValueError: on an unknown name.
        TypeError: if the result is not callable.
    """
    loss = registry.get("loss", identifier)
    if not callable(loss):
        raise TypeError(f"Expected a loss name, config or callable. Received: loss={identifier!r}")
    return loss
