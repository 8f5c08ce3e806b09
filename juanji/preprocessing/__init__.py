"""Preprocessing under Keras's paths: ``juanji.preprocessing.image.ImageDataGenerator``."""

from juanji.data.images import image_dataset_from_directory
from juanji.preprocessing import image

__all__ = ["image", "image_dataset_from_directory"]
