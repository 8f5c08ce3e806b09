"""The array module, the default float dtype and the one seeded random Generator.

Everything numeric in juanji goes through ``xp`` (NumPy today; only calls that CuPy shares
are used) and draws randomness from :func:`rng`, so :func:`set_seed` makes a run repeatable.
"""

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
