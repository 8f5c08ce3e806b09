"""Keras-style layers: each builds its weights on first call and round-trips its config."""

from juanji.layers.activation import ELU, LeakyReLU, PReLU, ReLU, Softmax
from juanji.layers.base import Layer
from juanji.layers.conv import Conv2D
from juanji.layers.core import Activation, Dense, Dropout, Flatten, Reshape
from juanji.layers.normalization import BatchNormalization
from juanji.layers.pooling import (
    AveragePooling2D,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    MaxPooling2D,
)
from juanji.layers.symbolic import Input, InputLayer, KerasTensor

Convolution2D = Conv2D
MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D

__all__ = [
    "Activation",
    "AveragePooling2D",
    "AvgPool2D",
    "BatchNormalization",
    "Conv2D",
    "Convolution2D",
    "Dense",
    "Dropout",
    "ELU",
    "Flatten",
    "GlobalAveragePooling2D",
    "GlobalAvgPool2D",
    "GlobalMaxPool2D",
    "GlobalMaxPooling2D",
    "Input",
    "InputLayer",
    "KerasTensor",
    "Layer",
    "LeakyReLU",
    "MaxPool2D",
    "MaxPooling2D",
    "PReLU",
    "ReLU",
    "Reshape",
    "Softmax",
]
