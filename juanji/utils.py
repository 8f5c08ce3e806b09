"""Utilities under Keras's path ``juanji.utils``: labels, splits, batches and images."""

from juanji.data.images import array_to_img, image_dataset_from_directory, img_to_array, load_img
from juanji.data.utils import batches, to_categorical, train_test_split

__all__ = [
    "array_to_img",
    "batches",
    "image_dataset_from_directory",
    "img_to_array",
    "load_img",
    "to_categorical",
    "train_test_split",
]
