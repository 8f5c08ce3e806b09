"""Labels to one-hot, reproducible splits and batches of indices, atomic file writes, and
the checks shared by the data modules."""

import contextlib
import fcntl
import numbers
import os
import secrets
import stat

import numpy as np

from juanji import backend


def as_rng(seed):
    """A Generator from ``seed``: an int seeds a new one, a Generator passes through, and
    None gives the shared one of :mod:`juanji.backend` (so ``juanji.set_seed`` applies)."""
    if seed is None:
        return backend.rng()
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0:
        return np.random.default_rng(int(seed))
    raise TypeError(
        f"Expected a non-negative integer seed, a numpy Generator or None. Received: seed={seed!r}"
    )


class DataFileError(ValueError):
    """A data file (IDX, image) that cannot be read: not a regular file, corrupt, truncated,
    of a refused format, or larger than its limits. The message names the file."""


def open_regular(path, error=DataFileError):
    """Open ``path`` for binary reading if it is a regular file (following symbolic links).

    The file is opened without blocking, so a FIFO or a device is refused instead of hanging
    or streaming forever.

    Raises:
        FileNotFoundError: nothing at ``path``.
        error: (default :class:`DataFileError`) for a FIFO, a device, a socket or a folder.
    """
    path = os.fspath(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except IsADirectoryError:
        raise error(f"{path!r} is a folder, not a file.") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise error(f"{path!r} is not a regular file (it is a {_file_kind(mode)}); refused.")
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def _file_kind(mode):
    for test, kind in (
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISDIR, "folder"),
    ):
        if test(mode):
            return kind
    return "special file"


def atomic_write(path, data):
    """Write ``data`` (bytes) to ``path`` so that a reader sees the old file or the whole new
    one, never a partial write: a temporary file in the same folder, fsync, ``os.replace``,
    then fsync of the folder.

    The file gets the mode the umask gives (as ``open`` would), not 0600. Temporary files
    left by an earlier write of the same ``path`` that was killed are removed first; a write
    still in progress keeps its temporary file locked, so it is never touched.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    prefix = f".{os.path.basename(path)}."
    _remove_orphans(folder, prefix)
    tmp = os.path.join(folder, f"{prefix}{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
            os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def _remove_orphans(folder, prefix):
    """Delete ``prefix*.tmp`` files in ``folder`` whose writer is gone (their lock is free)."""
    try:
        names = [n for n in os.listdir(folder) if n.startswith(prefix) and n.endswith(".tmp")]
    except FileNotFoundError:
        return
    for name in names:
        orphan = os.path.join(folder, name)
        try:
            fd = os.open(orphan, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a live writer holds it
        finally:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(orphan)


def _fsync_folder(folder):
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    with contextlib.suppress(OSError):
        os.fsync(fd)
    os.close(fd)


def check_size(name, size):
    """Raise ValueError unless ``size`` is a (height, width) pair of positive integers."""
    if not (
        isinstance(size, (tuple, list))
        and len(size) == 2
        and all(isinstance(s, numbers.Integral) and s > 0 for s in size)
    ):
        raise ValueError(
            f"Expected `{name}` as (height, width) positive integers. Received: {name}={size!r}"
        )


def to_categorical(y, num_classes=None, dtype="float32"):
    """One-hot encode integer class labels.

    Args:
        y: integer labels of any shape (a trailing axis of size 1 is dropped, as Keras);
            integral floats such as ``3.0`` are accepted.
        num_classes: the number of classes; by default ``max(y) + 1``.
        dtype: the output dtype.

    Returns:
        An array of shape ``y.shape + (num_classes,)``.

    Raises:
        ValueError: for non-integer, negative or too large labels, or a bad ``num_classes``.

    Example:
        >>> to_categorical([0, 2, 1], num_classes=3)
        array([[1., 0., 0.],
               [0., 0., 1.],
               [0., 1., 0.]], dtype=float32)
    """
    y = np.asarray(y)
    if y.ndim > 1 and y.shape[-1] == 1:
        y = y[..., 0]
    if y.dtype.kind not in "biuf" or (y.dtype.kind == "f" and not np.all(np.mod(y, 1) == 0)):
        raise ValueError(f"Expected integer class labels. Received: y={_preview(y)}")
    labels = y.astype(np.int64)
    if labels.size and labels.min() < 0:
        raise ValueError(f"Expected labels >= 0. Received: a label {labels.min()} in y")
    if num_classes is None:
        if not labels.size:
            raise ValueError("Expected `num_classes` for an empty `y`. Received: num_classes=None")
        num_classes = int(labels.max()) + 1
    if not isinstance(num_classes, numbers.Integral) or num_classes < 1:
        raise ValueError(f"Expected a positive integer. Received: num_classes={num_classes!r}")
    if labels.size and labels.max() >= num_classes:
        raise ValueError(
            f"Expected labels < num_classes={num_classes}. Received: a label {labels.max()} in y"
        )
    out = np.zeros((labels.size, num_classes), dtype=dtype)
    out[np.arange(labels.size), labels.ravel()] = 1
    return out.reshape(*labels.shape, num_classes)


def _preview(a, n=6):
    flat = a.ravel()
    more = ", ..." if flat.size > n else ""
    return f"[{', '.join(map(repr, flat[:n].tolist()))}{more}] (dtype={a.dtype})"


def _test_count(n, test_size):
    """The number of test samples that ``test_size`` (a fraction or a count) asks for."""
    if isinstance(test_size, numbers.Integral) and not isinstance(test_size, bool):
        count = int(test_size)
    elif isinstance(test_size, numbers.Real) and 0 < test_size < 1:
        count = int(np.ceil(test_size * n))
    else:
        raise ValueError(
            f"Expected `test_size` as a fraction in (0, 1) or a count. Received: "
            f"test_size={test_size!r}"
        )
    if not 0 < count < n:
        raise ValueError(
            f"Expected `test_size` to leave both sets non-empty out of {n} samples. "
            f"Received: test_size={test_size!r}"
        )
    return count


def _stratified_test_mask(labels, n_test, rng):
    """A boolean mask of ``n_test`` samples drawn class by class in proportion to the classes."""
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    ideal = counts * n_test / len(labels)
    quota = np.floor(ideal).astype(np.int64)
    # The largest remainders get the samples that flooring left over (ties: lower label).
    extra = np.argsort(-(ideal - quota), kind="stable")[: n_test - quota.sum()]
    quota[extra] += 1
    # Rank each sample within its class in a random order; the first `quota` ranks are test.
    order = np.lexsort((rng.random(len(labels)), inverse))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(len(labels), dtype=np.int64)
    rank[order] = np.arange(len(labels)) - starts[inverse[order]]
    return rank < quota[inverse]


def train_test_split(x, y, *, test_size=0.2, seed=None, stratify=None):
    """Split arrays into a random train and test part, reproducibly for a given seed.

    Args:
        x: an array of N samples along axis 0.
        y: an array of N labels or targets, or None.
        test_size: a fraction in (0, 1) (rounded up) or a number of test samples.
        seed: an int, a numpy Generator, or None for juanji's shared Generator.
        stratify: N class labels (usually ``y``) whose proportions both parts keep.

    Returns:
        ``(x_train, x_test, y_train, y_test)``, in scikit-learn's order; both parts are
        shuffled. ``y_train`` and ``y_test`` are None when ``y`` is None.

    Raises:
        ValueError: if the lengths differ or ``test_size`` leaves a part empty.
    """
    x = np.asarray(x)
    n = len(x)
    for name, a in (("y", y), ("stratify", stratify)):
        if a is not None and len(a) != n:
            raise ValueError(
                f"Expected `{name}` with as many samples as x ({n}). Received: len({name})={len(a)}"
            )
    n_test = _test_count(n, test_size)
    rng = as_rng(seed)
    if stratify is None:
        test = np.zeros(n, dtype=bool)
        test[rng.permutation(n)[:n_test]] = True
    else:
        test = _stratified_test_mask(np.asarray(stratify), n_test, rng)
    train_idx = rng.permutation(np.flatnonzero(~test))
    test_idx = rng.permutation(np.flatnonzero(test))
    if y is None:
        return x[train_idx], x[test_idx], None, None
    y = np.asarray(y)
    return x[train_idx], x[test_idx], y[train_idx], y[test_idx]


def batches(n, batch_size, *, shuffle=True, rng=None):
    """Yield the index arrays of one epoch over ``n`` samples; the last batch may be smaller.

    Args:
        n: the number of samples.
        batch_size: the number of indices per batch.
        shuffle: draw a random order; otherwise ``0, 1, ..., n - 1``.
        rng: an int seed, a numpy Generator, or None for juanji's shared Generator.

    Yields:
        int64 arrays of shape ``(batch_size,)`` (the last one ``(n % batch_size,)`` if not 0).

    Example:
        >>> [b.tolist() for b in batches(5, 2, shuffle=False)]
        [[0, 1], [2, 3], [4]]
    """
    if not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"Expected a positive integer. Received: batch_size={batch_size!r}")
    if not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"Expected a non-negative integer. Received: n={n!r}")
    order = as_rng(rng).permutation(n) if shuffle else np.arange(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]
