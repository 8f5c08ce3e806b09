"""Utilities under Keras's path ``juanji.utils``: labels, splits, batches, images, seeds."""

import random

import numpy as np

from juanji import backend
from juanji.data.images import array_to_img, image_dataset_from_directory, img_to_array, load_img
from juanji.data.utils import batches, to_categorical, train_test_split

__all__ = [
    "set_random_seed",
    "array_to_img",
    "batches",
    "image_dataset_from_directory",
    "img_to_array",
    "load_img",
    "to_categorical",
    "train_test_split",
]


def set_random_seed(seed):
    """Seed every source of randomness a program draws from, as Keras's
    ``utils.set_random_seed``: juanji's Generator, Python's ``random`` and NumPy's global one.

    Args:
        seed: a non-negative integer.
    """
    backend.set_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
