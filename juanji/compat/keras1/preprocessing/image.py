"""``keras.preprocessing.image``: Keras 1's ImageDataGenerator, channels first by default.

Differences from juanji's generator, all Keras 1's: ``dim_ordering`` instead of
``data_format``, ``shear_range`` in radians (converted to juanji's degrees), shift ranges
always fractions of the image size, and ``flow`` batches that a ``for`` loop runs through
exactly once (one epoch), while ``next()`` keeps going epoch after epoch.
"""

import math

from juanji import data
from juanji.compat.keras1 import hints
from juanji.compat.keras1.backend import data_format
from juanji.compat.keras1.legacy import Legacy
from juanji.data.images import array_to_img, img_to_array, load_img


class NumpyArrayIterator(data.NumpyArrayIterator):
    """Endless ``(x, y)`` batches under ``next()``; iterating with ``for`` gives one epoch.

    Example:
        >>> batches = ImageDataGenerator().flow(np.zeros((5, 1, 4, 4)), np.arange(5),
        ...                                     batch_size=2)
        >>> [len(y) for _, y in batches], [len(y) for _, y in batches]
        ([2, 2, 1], [2, 2, 1])
    """

    def __iter__(self):
        self.reset()
        for _ in range(len(self)):
            yield next(self)


def _fraction(name, value):
    if isinstance(value, (int, float)) and not 0 <= value < 1:
        raise ValueError(
            f"Keras 1's `{name}` is a fraction of the image size in [0, 1). "
            f"Received: {name}={value!r}"
        )
    return value


class ImageDataGenerator(Legacy, data.ImageDataGenerator):
    """Keras 1's ``ImageDataGenerator(featurewise_center=False, ..., dim_ordering='default')``.

    The options are juanji's (see ``juanji.data.ImageDataGenerator``) with Keras 1's units:
    ``rotation_range`` in degrees, ``shear_range`` in radians, shifts as fractions.
    """

    renamed = {"dim_ordering": "data_format"}
    no_effect = {"preprocessing_function": (None,)}

    @staticmethod
    def translate(
        *,
        featurewise_center=False,
        samplewise_center=False,
        featurewise_std_normalization=False,
        samplewise_std_normalization=False,
        zca_whitening=False,
        rotation_range=0.0,
        width_shift_range=0.0,
        height_shift_range=0.0,
        shear_range=0.0,
        zoom_range=0.0,
        channel_shift_range=0.0,
        fill_mode="nearest",
        cval=0.0,
        horizontal_flip=False,
        vertical_flip=False,
        rescale=None,
        dim_ordering="default",
    ):
        """Keras 1 arguments -> ``juanji.data.ImageDataGenerator`` arguments."""
        return {
            "featurewise_center": featurewise_center,
            "samplewise_center": samplewise_center,
            "featurewise_std_normalization": featurewise_std_normalization,
            "samplewise_std_normalization": samplewise_std_normalization,
            "zca_whitening": zca_whitening,
            "rotation_range": rotation_range,
            "width_shift_range": _fraction("width_shift_range", width_shift_range),
            "height_shift_range": _fraction("height_shift_range", height_shift_range),
            "shear_range": math.degrees(shear_range),
            "zoom_range": zoom_range,
            "channel_shift_range": channel_shift_range,
            "fill_mode": fill_mode,
            "cval": cval,
            "horizontal_flip": horizontal_flip,
            "vertical_flip": vertical_flip,
            "rescale": rescale,
            "data_format": data_format(dim_ordering),
        }

    def flow(self, X, y=None, batch_size=32, shuffle=True, seed=None, **saving):  # noqa: N803
        """Batches of ``X`` (and ``y``), augmented and standardised.

        Args:
            X: images ``(N, C, H, W)`` (``(N, H, W, C)`` with ``dim_ordering='tf'``).
            y: N labels or targets, or None.
            batch_size: images per batch; the last batch of an epoch may be smaller.
            shuffle: a new random order every epoch.
            seed: an int for a repeatable order and augmentation.

        Returns:
            A :class:`NumpyArrayIterator`: one epoch per ``for`` loop, endless by ``next()``.

        Raises:
            ValueError: for ``save_to_dir`` (saving augmented images is not supported).
        """
        hints.only_no_effect(
            "ImageDataGenerator.flow",
            saving,
            {"save_to_dir": (None,), "save_prefix": hints.ANY, "save_format": hints.ANY},
        )
        return NumpyArrayIterator(X, y, self, batch_size=batch_size, shuffle=shuffle, seed=seed)


__all__ = ["ImageDataGenerator", "NumpyArrayIterator", "array_to_img", "img_to_array", "load_img"]
