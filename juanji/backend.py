"""The array module, the default float dtype, the one seeded random Generator, and malloc.

Everything numeric in juanji goes through ``xp`` (NumPy today; only calls that CuPy shares
are used) and draws randomness from :func:`rng`, so :func:`set_seed` makes a run repeatable.
On importing, :func:`tune_malloc` makes glibc keep freed memory for reuse (opt out with the
environment variable ``JUANJI_MALLOC_TUNING=0``).
"""

import ctypes
import os
import sys

import numpy as np

xp = np

_floatx = np.dtype("float32")
_rng = np.random.default_rng()


def floatx():
    """The default float dtype of new parameters and inputs (float32 unless changed)."""
    return _floatx


def set_floatx(dtype):
    """Set the default float dtype, e.g. ``"float64"`` for gradient checks.

    Raises:
        ValueError: if ``dtype`` is not a floating-point dtype.
    """
    global _floatx
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"Expected a floating-point dtype. Received: dtype={dtype}")
    _floatx = dtype


def rng():
    """The shared random Generator; every random draw in juanji comes from here."""
    return _rng


def set_seed(seed):
    """Reseed the shared Generator so that initialisation, shuffling and dropout repeat.

    Args:
        seed: a non-negative integer.
    """
    global _rng
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"Expected a non-negative integer seed. Received: seed={seed!r}")
    _rng = np.random.default_rng(int(seed))


def as_float_array(x, name="x"):
    """Return ``x`` as a floating-point array, converting Python numbers and lists to floatx.

    Integer or boolean arrays are refused: silently casting labels or masks to float hides bugs.

    Raises:
        TypeError: if ``x`` is an integer, boolean or non-numeric array.
    """
    if isinstance(x, np.ndarray):
        if x.dtype.kind != "f":
            raise TypeError(
                f"Expected a floating-point array for `{name}`. Received: {name}.dtype={x.dtype}"
            )
        return x
    return np.asarray(x, dtype=_floatx)


# glibc's mallopt parameters, and the values chosen by timing training steps (see tune_malloc).
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_MALLOC_SETTINGS = (
    (_M_MMAP_THRESHOLD, 32 << 20),  # the largest glibc accepts on 64-bit
    (_M_TRIM_THRESHOLD, 512 << 20),
    (_M_TOP_PAD, 256 << 20),
)


def tune_malloc():
    """Make glibc keep freed memory for reuse instead of handing it back to the system.

    An op allocates its outputs and temporaries afresh on every step. By default glibc
    serves blocks over 128 KiB (a threshold that adapts, up to 32 MiB) with their own
    ``mmap`` and gives them back on ``free``, and trims the heap whenever 128 KiB lie free at
    its top; the next step's arrays are then faulted in again page by page, which cost a
    third of a small CNN's training step. This sets, with ``mallopt``: blocks up to 32 MiB
    come from the heap (``M_MMAP_THRESHOLD``; a fixed value turns off the adaptive one), the
    heap is trimmed only when 512 MiB lie free at its top (``M_TRIM_THRESHOLD``), and it grows
    256 MiB beyond each request (``M_TOP_PAD``, address space: pages are only resident once
    touched), so that even blocks above 32 MiB are usually carved from it. The price: up to
    about 512 MiB of freed memory stays resident in the process.

    juanji calls this once on import, unless the environment variable
    ``JUANJI_MALLOC_TUNING`` is ``0``. The settings are process-wide, so they apply to every
    library in the process. Elsewhere than glibc on Linux it does nothing; it never raises.

    Returns:
        Whether every setting was applied.
    """
    if os.environ.get("JUANJI_MALLOC_TUNING", "1").strip() == "0":
        return False
    if not sys.platform.startswith("linux") or not _glibc():
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return all([mallopt(param, value) == 1 for param, value in _MALLOC_SETTINGS])


def _glibc():
    try:
        return os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    except (AttributeError, ValueError, OSError):
        return False


tune_malloc()
