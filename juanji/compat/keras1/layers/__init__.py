"""``keras.layers``: the Keras 1 layers of its ``core``, ``convolutional``,
``advanced_activations`` and ``normalization`` modules, each built as a juanji layer."""

from juanji.compat.keras1.layers.advanced_activations import ELU, LeakyReLU, PReLU
from juanji.compat.keras1.layers.convolutional import AveragePooling2D, Convolution2D, MaxPooling2D
from juanji.compat.keras1.layers.core import Activation, Dense, Dropout, Flatten, Reshape
from juanji.compat.keras1.layers.normalization import BatchNormalization

__all__ = [
    "Activation",
    "AveragePooling2D",
    "BatchNormalization",
    "Convolution2D",
    "Dense",
    "Dropout",
    "ELU",
    "Flatten",
    "LeakyReLU",
    "MaxPooling2D",
    "PReLU",
    "Reshape",
]
