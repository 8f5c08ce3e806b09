"""``keras.preprocessing``: the ``image`` module (ImageDataGenerator)."""

from juanji.compat.keras1.preprocessing import image

__all__ = ["image"]
