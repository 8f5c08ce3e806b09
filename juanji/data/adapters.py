"""Every kind of training data becomes one :class:`EpochIterator` of ``(x, y, w)`` batches.

The kinds, as Keras 3 takes them:

- arrays: ``x`` an array, or a list or dict of arrays (a model of several inputs); ``y``
  and ``sample_weight`` likewise. Batches are cut (and shuffled) per epoch.
- an iterator (a generator, ``ImageDataGenerator.flow``): consumed continuously across
  epochs; ``steps_per_epoch`` (or its ``len``) says how many batches make an epoch.
- a re-iterable dataset (an object with ``__iter__`` and no ``__next__``, like a PyTorch
  ``DataLoader`` or ``image_dataset_from_directory``'s result): iterated afresh each epoch.

A batch from a generator or dataset is ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, w)``.
``class_weight`` turns labels into sample weights here; sample weights live nowhere else.
"""

import numpy as np

from juanji import backend
from juanji.data.utils import batches

__all__ = ["EpochIterator", "split_arrays", "unpack_batch", "is_dataset", "num_samples"]


def is_dataset(x):
    """Whether ``x`` is a generator, iterator or re-iterable dataset rather than arrays."""
    if x is None or isinstance(x, (np.ndarray, list, tuple, dict)) or hasattr(x, "__array__"):
        return False
    return hasattr(x, "__iter__") or hasattr(x, "__next__")


def map_structure(fn, structure):
    """``fn`` applied to every array of an array, list, tuple or dict of arrays (or None)."""
    if structure is None:
        return None
    if isinstance(structure, dict):
        return {k: fn(v) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)) and not _is_leaf_list(structure):
        return [fn(v) for v in structure]
    return fn(structure)


def _is_leaf_list(structure):
    """Whether a list is one array written as (nested) lists, not a list of arrays."""
    return not all(isinstance(v, np.ndarray) or hasattr(v, "__array__") for v in structure)


def _leaves(structure):
    if structure is None:
        return []
    if isinstance(structure, dict):
        return list(structure.values())
    if isinstance(structure, (list, tuple)) and not _is_leaf_list(structure):
        return list(structure)
    return [structure]


def _as_array(a):
    return np.asarray(getattr(a, "data", a))


def as_inputs(x):
    """``x`` (a structure) with every array numeric and cast to ``backend.floatx()``, as Keras
    casts inputs to the compute dtype (``x / 255.0`` does not run the model in float64).

    Raises:
        TypeError: for non-numeric input data.
    """

    def cast(a):
        a = _as_array(a)
        if a.dtype.kind not in "iubf":
            raise TypeError(f"Expected numeric input data. Received: x.dtype={a.dtype}")
        return a.astype(backend.floatx(), copy=False)

    return map_structure(cast, x)


def num_samples(*structures):
    """The number of samples shared by every array of ``structures``.

    Raises:
        ValueError: naming the lengths when arrays disagree.
    """
    sizes = {}
    for name, structure in zip(("x", "y", "sample_weight"), structures):
        for a in _leaves(structure):
            sizes.setdefault(len(a), []).append(name)
    if len(sizes) > 1:
        detail = ", ".join(f"{'/'.join(names)}: {n}" for n, names in sizes.items())
        raise ValueError(
            f"x, y and sample_weight must hold the same number of samples. Received: {detail}"
        )
    return next(iter(sizes), 0)


def split_arrays(arrays, fraction):
    """Split each structure of ``arrays`` into its first ``1 - fraction`` and its last
    ``fraction`` of samples (the held-out part), before any shuffling, as Keras does.

    Raises:
        ValueError: if either part would be empty.
    """
    n = num_samples(*arrays)
    cut = n - int(n * fraction)
    if cut == n or cut == 0:
        raise ValueError(
            f"validation_split={fraction} leaves no "
            f"{'validation' if cut == n else 'training'} samples of {n}."
        )
    head = [map_structure(lambda a: a[:cut], s) for s in arrays]
    tail = [map_structure(lambda a: a[cut:], s) for s in arrays]
    return head, tail


def unpack_batch(batch):
    """``(x, y, w)`` from one batch: ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, w)``.

    Raises:
        ValueError: for a tuple of more than three entries.
    """
    if isinstance(batch, tuple):
        if not 1 <= len(batch) <= 3:
            raise ValueError(
                "Expected batches (x,), (x, y) or (x, y, sample_weight). "
                f"Received: a tuple of {len(batch)} entries"
            )
        return (*batch, None, None)[:3]
    if isinstance(batch, list) and len(batch) in (2, 3) and not _is_leaf_list(batch):
        return (*batch, None)[:3]
    return batch, None, None


def class_weights_for(y, class_weight):
    """One weight per sample from ``class_weight`` (``{class: weight}``) and targets ``y``
    (integer labels ``(N,)`` / ``(N, 1)`` or one-hot rows ``(N, C)``); classes not named
    weigh 1.

    Raises:
        ValueError: if ``y`` is not one array of labels.
    """
    y = _as_array(y)
    labels = y.argmax(axis=-1) if y.ndim == 2 and y.shape[-1] > 1 else y.reshape(len(y), -1)
    if labels.ndim > 1:
        if labels.shape[1] != 1:
            raise ValueError(
                "class_weight needs one class per sample (labels or one-hot rows). "
                f"Received: y.shape={y.shape}"
            )
        labels = labels[:, 0]
    table = np.ones(int(max([labels.max(initial=0), *class_weight.keys()])) + 1, np.float64)
    for c, weight in class_weight.items():
        table[int(c)] = weight
    return table[labels.astype(np.int64)]


def _weights(y, w, class_weight):
    if class_weight is None or y is None:
        return None if w is None else map_structure(_as_array, w)
    if isinstance(y, (dict, list)) and not _is_leaf_list(y):
        raise ValueError("class_weight works for models of one output; use sample_weight.")
    cw = class_weights_for(y, class_weight)
    return cw if w is None else cw * _as_array(w)


class EpochIterator:
    """The batches of one epoch at a time, from any kind of training data.

    Args:
        x: arrays (one, a list or a dict), a generator/iterator, or a re-iterable dataset.
        y: targets for array ``x`` (structured like the model's outputs).
        sample_weight: one weight per sample for array ``x`` (or per output: a list or dict).
        batch_size: samples per batch for arrays.
        shuffle: shuffle the arrays each epoch.
        steps: batches per epoch (``steps_per_epoch``); for arrays, at most this many.
        class_weight: ``{class: weight}`` multiplying each sample's weight by its class's.

    Attributes:
        steps: batches per epoch, or None when only the end of the data tells.

    Raises:
        ValueError: if ``y`` or ``sample_weight`` come with a dataset, or lengths disagree.
    """

    def __init__(
        self,
        x,
        y=None,
        sample_weight=None,
        batch_size=32,
        shuffle=False,
        steps=None,
        class_weight=None,
    ):
        self.class_weight = dict(class_weight) if class_weight else None
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.arrays = None
        self._epochs = 0
        if is_dataset(x):
            if y is not None or sample_weight is not None:
                raise ValueError(
                    "With a dataset or generator as x, y and sample_weight come from its "
                    f"batches. Received: y of type {type(y).__name__}, sample_weight of type "
                    f"{type(sample_weight).__name__}"
                )
            self.data = x
            self.reiterable = not hasattr(x, "__next__")
            self._iterator = None if self.reiterable else x
            self.steps = steps if steps is not None else _len_or_none(x)
        else:
            self.arrays = (as_inputs(x), y, sample_weight)
            self.num_samples = num_samples(*self.arrays)
            whole = -(-self.num_samples // self.batch_size)
            self.steps = whole if steps is None else min(steps, whole)

    def __iter__(self):
        """One epoch: ``(step, (x, y, w))`` for each batch."""
        self._epochs += 1
        return enumerate(self._array_batches() if self.arrays else self._dataset_batches())

    def _array_batches(self):
        x, y, w = self.arrays
        for count, index in enumerate(
            batches(self.num_samples, self.batch_size, shuffle=self.shuffle)
        ):
            if count == self.steps:
                return
            if self.shuffle:
                index = np.sort(index)  # NOTE: sorted gathers are faster

            def take(a, index=index):
                return _as_array(a)[index]

            yb = map_structure(take, y)
            yield (
                map_structure(take, x),
                yb,
                _weights(yb, map_structure(take, w), self.class_weight),
            )

    def _dataset_batches(self):
        if self.reiterable:
            iterator = iter(self.data)
        else:
            iterator = self._iterator
        count = 0
        while self.steps is None or count < self.steps:
            try:
                batch = next(iterator)
            except StopIteration:
                return
            xb, yb, wb = unpack_batch(batch)
            yield as_inputs(xb), yb, _weights(yb, wb, self.class_weight)
            count += 1


def _len_or_none(x):
    try:
        return len(x)
    except TypeError:
        return None
