"""``keras.regularizers``: Keras 1's ``l1``, ``l2`` and ``l1l2`` weight penalties, added to
the loss as in Keras 1 (``l2 * sum(w**2)``); pass them as ``W_regularizer``/``b_regularizer``.
"""

from juanji import regularizers
from juanji.compat.keras1 import hints


def l1(l=0.01):  # noqa: E741  (Keras 1's argument name)
    """``l * sum(|w|)``.

    Example:
        >>> l1(0.001).l1
        0.001
    """
    return regularizers.L1(l1=l)


def l2(l=0.01):  # noqa: E741
    """``l * sum(w**2)``.

    Example:
        >>> l2(0.001).l2
        0.001
    """
    return regularizers.L2(l2=l)


def l1l2(l1=0.01, l2=0.01):
    """``l1 * sum(|w|) + l2 * sum(w**2)`` (Keras 3's ``l1_l2``)."""
    hints.hint(
        "l1l2",
        hints.format_call("l1l2", (), {"l1": l1, "l2": l2}),
        hints.format_call("L1L2", (), {"l1": l1, "l2": l2}),
    )
    return regularizers.L1L2(l1=l1, l2=l2)


__all__ = ["l1", "l1l2", "l2"]
