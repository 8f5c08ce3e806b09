"""``keras.utils``: ``np_utils`` (one-hot labels) and ``generic_utils`` (``Progbar``)."""

from juanji.compat.keras1.utils import generic_utils, np_utils

__all__ = ["generic_utils", "np_utils"]
