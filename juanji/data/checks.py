"""Checks that training runs on its data before any step: a usable batch size, samples to
train on, and values that are numbers (a NaN or infinity in ``x`` or ``y`` would turn every
weight into NaN without an error)."""

import numbers

import numpy as np

DEFAULT_BATCH_SIZE = 32


def batch_size(value, name="batch_size"):
    """``value`` as a batch size: DEFAULT_BATCH_SIZE for None, else a positive integer.

    Raises:
        ValueError: for 0, a negative number, a bool or a non-integer.
    """
    if value is None:
        return DEFAULT_BATCH_SIZE
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"Expected `{name}` to be a positive integer. Received: {name}={value!r}")
    return int(value)


def finite(name, array):
    """Raise ValueError if the numeric ``array`` holds NaN or infinite values, saying how many
    and where the first one is (arrays of other dtypes pass)."""
    array = np.asarray(array)
    if array.dtype.kind not in "fc":
        return
    if np.isfinite(array.sum(dtype=np.float64 if array.dtype.kind == "f" else None)):
        return  # one pass without a temporary array: a NaN or infinity makes the sum one
    bad = ~np.isfinite(array)
    if not bad.any():
        return  # the sum overflowed on large finite values
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    raise ValueError(
        f"Expected `{name}` to hold finite numbers. Received: {int(np.isnan(array).sum())} "
        f"NaN and {int(np.isinf(array).sum())} infinite values, the first at index {first}"
    )


def not_empty(name, n):
    """Raise ValueError if there are no samples to train or evaluate on."""
    if n == 0:
        raise ValueError(f"Expected `{name}` to hold at least one sample. Received: 0 samples")


def all_finite(arrays):
    """Whether every array (None skipped) holds only finite values: one reduction each."""
    for a in arrays:
        if a is not None and not np.isfinite(a.sum(dtype=np.float64)):
            if not np.isfinite(a).all():
                return False
    return True
