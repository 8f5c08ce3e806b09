"""Data: MNIST IDX files, the MNIST and digits datasets, image folders, augmentation, and
label and split utilities. Public Keras-style paths (``juanji.datasets.mnist``,
``juanji.preprocessing.image``, ``juanji.utils``) re-export from here."""

from juanji.data.augment import ImageDataGenerator, NumpyArrayIterator
from juanji.data.datasets import MIRRORS, DownloadError, load_digits, load_mnist
from juanji.data.idx import read_idx, write_idx
from juanji.data.images import (
    ImageDataset,
    array_to_img,
    image_dataset_from_directory,
    img_to_array,
    load_img,
)
from juanji.data.utils import DataFileError, batches, to_categorical, train_test_split

__all__ = [
    "MIRRORS",
    "DataFileError",
    "DownloadError",
    "ImageDataGenerator",
    "ImageDataset",
    "NumpyArrayIterator",
    "array_to_img",
    "batches",
    "image_dataset_from_directory",
    "img_to_array",
    "load_digits",
    "load_img",
    "load_mnist",
    "read_idx",
    "to_categorical",
    "train_test_split",
    "write_idx",
]
