"""Image preprocessing as in ``keras.preprocessing.image``."""

from juanji.data.augment import ImageDataGenerator, NumpyArrayIterator
from juanji.data.images import array_to_img, img_to_array, load_img

__all__ = ["ImageDataGenerator", "NumpyArrayIterator", "array_to_img", "img_to_array", "load_img"]
