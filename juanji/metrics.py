"""Stateful metrics, Keras-style: ``update_state`` on each batch, ``result()`` at any time.

Metrics work on NumPy arrays (targets and predictions), not on the graph. Each keeps a
weighted running mean, so the result over several batches is the result over their union.
:func:`resolve_metric` turns ``"accuracy"`` into the accuracy that fits the loss, as Keras
does.
"""

import numpy as np

from juanji import registry
from juanji.losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    CategoricalHinge,
    SparseCategoricalCrossentropy,
    snake_case,
)

__all__ = [
    "Metric",
    "Mean",
    "MeanMetricWrapper",
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "SparseCategoricalAccuracy",
    "TopKCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "resolve_metric",
    "get",
]


class Metric:
    """Base metric: a name, ``update_state``, ``result``, ``reset_state`` and a JSON config.

    Args:
        name: the name the metric is logged under (default: the class name in snake case).
    """

    def __init__(self, *, name=None):
        self.name = name or snake_case(type(self).__name__)
        self.reset_state()

    def update_state(self, *args, **kwargs):
        """Add a batch's values to the running state (the subclass says which arguments)."""
        raise NotImplementedError

    def result(self):
        """The metric over everything seen since the last reset, as a Python float."""
        raise NotImplementedError

    def reset_state(self):
        """Forget everything seen so far."""
        raise NotImplementedError

    def get_config(self):
        """JSON-only arguments; ``from_config`` rebuilds an equal (empty) metric."""
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


@registry.register("metric")
class Mean(Metric):
    """The (weighted) mean of every value given to ``update_state``.

    Example:
        >>> m = Mean()
        >>> m.update_state([1.0, 2.0])
        >>> m.update_state(4.0, sample_weight=2)
        >>> m.result()
        2.75
    """

    def reset_state(self):
        self.total = 0.0
        self.count = 0.0

    def update_state(self, values, sample_weight=None):
        """Add ``values`` (any shape), each weighted by ``sample_weight`` (broadcast) or 1."""
        values = np.asarray(values, dtype=np.float64)
        if sample_weight is None:
            self.total += float(values.sum())
            self.count += values.size
        else:
            weights = np.broadcast_to(np.asarray(sample_weight, dtype=np.float64), values.shape)
            self.total += float((values * weights).sum())
            self.count += float(weights.sum())

    def result(self):
        return self.total / self.count if self.count else 0.0


class MeanMetricWrapper(Mean):
    """The mean of ``fn(y_true, y_pred)``: per-sample values averaged over all samples.

    Args:
        fn: a function of NumPy arrays ``(y_true, y_pred)`` giving one value per sample.
        name: the metric's name (default: ``fn``'s name).
        **kwargs: keyword arguments passed on to ``fn``.
    """

    def __init__(self, fn, *, name=None, **kwargs):
        self._fn = fn
        self._fn_kwargs = kwargs
        super().__init__(name=name or fn.__name__)

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add a batch of targets ``y_true`` and predictions ``y_pred`` (arrays or Tensors)."""
        values = self._fn(_array(y_true), _array(y_pred), **self._fn_kwargs)
        super().update_state(values, sample_weight)

    def get_config(self):
        return {"name": self.name, **self._fn_kwargs}


def _array(x):
    return np.asarray(getattr(x, "data", x))


def _labels_for(y_true, y_pred, metric):
    """Integer labels ``(...)`` from ``y_true`` shaped ``(...)`` or ``(..., 1)``."""
    if y_true.shape == y_pred.shape[:-1]:
        return y_true
    if y_true.shape == (*y_pred.shape[:-1], 1):
        return y_true[..., 0]
    raise ValueError(
        f"Metric `{metric}` expects integer labels of shape {y_pred.shape[:-1]} for predictions "
        f"of shape {y_pred.shape}; for one-hot targets use the categorical variant. "
        f"Received: y_true.shape={y_true.shape}"
    )


def _same_shape(y_true, y_pred, metric):
    if y_true.shape != y_pred.shape:
        hint = (
            "; for integer labels use the sparse variant"
            if y_true.shape in (y_pred.shape[:-1], (*y_pred.shape[:-1], 1))
            else ""
        )
        raise ValueError(
            f"Metric `{metric}` expects targets shaped like the predictions {y_pred.shape}"
            f"{hint}. Received: y_true.shape={y_true.shape}"
        )


def _as_pred_shape(y_true, y_pred):
    """``y_true`` reshaped to ``y_pred``'s shape when they differ only by a size-1 axis."""
    if y_true.shape != y_pred.shape and y_true.size == y_pred.size:
        return y_true.reshape(y_pred.shape)
    return y_true


def accuracy(y_true, y_pred):
    """1 where the prediction equals the target exactly, else 0 (elementwise)."""
    return (_as_pred_shape(y_true, y_pred) == y_pred).astype(np.float64)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1 where ``y_pred > threshold`` agrees with the 0/1 target, else 0 (elementwise)."""
    return (_as_pred_shape(y_true, y_pred) == (y_pred > threshold)).astype(np.float64)


def categorical_accuracy(y_true, y_pred):
    """Per sample: 1 if the argmax of the one-hot target equals that of the prediction."""
    _same_shape(y_true, y_pred, "categorical_accuracy")
    return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(np.float64)


def sparse_categorical_accuracy(y_true, y_pred):
    """Per sample: 1 if the integer label equals the argmax of the prediction."""
    labels = _labels_for(y_true, y_pred, "sparse_categorical_accuracy")
    return (labels == np.argmax(y_pred, axis=-1)).astype(np.float64)


def _in_top_k(labels, y_pred, k):
    # NOTE: as Keras's in_top_k, a class tied with the k-th largest score counts as in the top k.
    labels = labels.astype(np.int64)
    target = np.take_along_axis(y_pred, labels[..., None], axis=-1)  # (..., 1)
    return (np.sum(y_pred > target, axis=-1) < k).astype(np.float64)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """Per sample: 1 if the target's class is among the ``k`` highest predicted scores."""
    _same_shape(y_true, y_pred, "top_k_categorical_accuracy")
    return _in_top_k(np.argmax(y_true, axis=-1), y_pred, k)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    """Per sample: 1 if the integer label is among the ``k`` highest predicted scores."""
    return _in_top_k(_labels_for(y_true, y_pred, "sparse_top_k_categorical_accuracy"), y_pred, k)


@registry.register("metric", "acc")
class Accuracy(MeanMetricWrapper):
    """How often predictions equal targets exactly (Keras's ``Accuracy``).

    Example:
        >>> m = Accuracy()
        >>> m.update_state(np.array([1, 2, 3]), np.array([1, 2, 0]))
        >>> round(m.result(), 4)
        0.6667
    """

    def __init__(self, *, name="accuracy"):
        super().__init__(accuracy, name=name)


@registry.register("metric")
class BinaryAccuracy(MeanMetricWrapper):
    """How often ``y_pred > threshold`` matches a 0/1 target.

    Args:
        threshold: the probability above which a prediction counts as 1.
        name: the metric's name.
    """

    def __init__(self, *, threshold=0.5, name="binary_accuracy"):
        super().__init__(binary_accuracy, name=name, threshold=float(threshold))


@registry.register("metric")
class CategoricalAccuracy(MeanMetricWrapper):
    """How often the argmax of the prediction matches that of the one-hot target.

    Example:
        >>> m = CategoricalAccuracy()
        >>> m.update_state(np.eye(3)[[0, 1]], np.array([[0.7, 0.2, 0.1], [0.6, 0.3, 0.1]]))
        >>> m.result()
        0.5
    """

    def __init__(self, *, name="categorical_accuracy"):
        super().__init__(categorical_accuracy, name=name)


@registry.register("metric")
class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the argmax of the prediction equals the integer label."""

    def __init__(self, *, name="sparse_categorical_accuracy"):
        super().__init__(sparse_categorical_accuracy, name=name)


@registry.register("metric")
class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot target's class is among the ``k`` highest scores.

    Args:
        k: how many of the highest scores count.
        name: the metric's name.
    """

    def __init__(self, *, k=5, name="top_k_categorical_accuracy"):
        super().__init__(top_k_categorical_accuracy, name=name, k=_positive_int(k))


@registry.register("metric")
class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer label is among the ``k`` highest scores.

    Args:
        k: how many of the highest scores count.
        name: the metric's name.
    """

    def __init__(self, *, k=5, name="sparse_top_k_categorical_accuracy"):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, k=_positive_int(k))


def _squared_error(y_true, y_pred):
    return (_as_pred_shape(y_true, y_pred) - y_pred) ** 2


def _absolute_error(y_true, y_pred):
    return np.abs(_as_pred_shape(y_true, y_pred) - y_pred)


@registry.register("metric", "mse")
class MeanSquaredError(MeanMetricWrapper):
    """The mean of ``(y_true - y_pred) ** 2`` over all elements seen."""

    def __init__(self, *, name="mean_squared_error"):
        super().__init__(_squared_error, name=name)


@registry.register("metric", "mae")
class MeanAbsoluteError(MeanMetricWrapper):
    """The mean of ``|y_true - y_pred|`` over all elements seen."""

    def __init__(self, *, name="mean_absolute_error"):
        super().__init__(_absolute_error, name=name)


def _positive_int(k):
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"Expected a positive integer `k`. Received: k={k!r}")
    return int(k)


_ACCURACY_FOR_LOSS = [
    (BinaryCrossentropy, BinaryAccuracy),
    (SparseCategoricalCrossentropy, SparseCategoricalAccuracy),
    ((CategoricalCrossentropy, CategoricalHinge), CategoricalAccuracy),
]


def resolve_metric(identifier, loss):
    """The metric object for ``identifier`` given the compiled ``loss``.

    ``"accuracy"`` / ``"acc"`` become the variant that fits the loss, named as given:
    binary for ``binary_crossentropy``, sparse categorical for
    ``sparse_categorical_crossentropy``, categorical for ``categorical_crossentropy`` and
    ``categorical_hinge``. For other losses the variant follows the shapes of each batch
    (binary for one output unit, sparse for labels without a class axis, categorical
    otherwise), as Keras 3 does.

    Args:
        identifier: a name, a ``{"class_name", "config"}`` dict, a Metric, or a function
            ``f(y_true, y_pred)`` giving per-sample values.
        loss: the compiled loss (a Loss object or a function).

    Raises:
        ValueError: on an unknown name.
        TypeError: if ``identifier`` is none of these.
    """
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        for loss_types, metric in _ACCURACY_FOR_LOSS:
            if isinstance(loss, loss_types):
                return metric(name=identifier)
        return _ShapeMatchedAccuracy(name=identifier)
    return get(identifier)


def _matched_accuracy(y_true, y_pred):
    if y_pred.shape[-1] == 1:
        return binary_accuracy(y_true, y_pred)
    if y_true.ndim < y_pred.ndim or y_true.shape[-1] == 1:
        return sparse_categorical_accuracy(y_true, y_pred)
    return categorical_accuracy(y_true, y_pred)


class _ShapeMatchedAccuracy(MeanMetricWrapper):
    """``"accuracy"`` for losses that do not imply a variant: chosen per batch from shapes."""

    def __init__(self, *, name="accuracy"):
        super().__init__(_matched_accuracy, name=name)


def get(identifier):
    """A metric from a name, a config dict, a Metric, or a function ``f(y_true, y_pred)``.

    Raises:
        ValueError: on an unknown name.
        TypeError: if the result is not a metric or a function.
    """
    metric = registry.get("metric", identifier)
    if isinstance(metric, Metric):
        return metric
    if callable(metric) and not isinstance(metric, type):
        return MeanMetricWrapper(metric)
    raise TypeError(
        f"Expected a metric name, config dict, Metric or function. Received: metric={identifier!r}"
    )
