"""Keras-style layers: each builds its weights on first call and round-trips its config."""

from juanji.layers.activation import ELU, LeakyReLU, PReLU, ReLU, Softmax
from juanji.layers.base import Layer
from juanji.layers.conv import (
    Conv2D,
    Conv2DTranspose,
    Conv3D,
    Conv3DTranspose,
    DepthwiseConv2D,
    SeparableConv2D,
)
from juanji.layers.core import Activation, Dense, Dropout, Flatten, Reshape, SpatialDropout2D
from juanji.layers.merge import (
    Add,
    Average,
    Concatenate,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
)
from juanji.layers.normalization import (
    BatchNormalization,
    GroupNormalization,
    LayerNormalization,
)
from juanji.layers.pooling import (
    AveragePooling2D,
    AveragePooling3D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
    GlobalMaxPooling2D,
    GlobalMaxPooling3D,
    MaxPooling2D,
    MaxPooling3D,
)
from juanji.layers.preprocessing import (
    CenterCrop,
    Normalization,
    RandomBrightness,
    RandomContrast,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
    Rescaling,
    Resizing,
)
from juanji.layers.reshaping import (
    Cropping2D,
    Cropping3D,
    Permute,
    RepeatVector,
    UpSampling2D,
    UpSampling3D,
    ZeroPadding2D,
    ZeroPadding3D,
)
from juanji.layers.symbolic import Input, InputLayer, KerasTensor

Convolution2D = Conv2D
MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D
SeparableConvolution2D = SeparableConv2D
Convolution3D = Conv3D
Convolution2DTranspose = Conv2DTranspose
Convolution3DTranspose = Conv3DTranspose
MaxPool3D = MaxPooling3D
AvgPool3D = AveragePooling3D
GlobalAvgPool3D = GlobalAveragePooling3D
GlobalMaxPool3D = GlobalMaxPooling3D

__all__ = [
    "Activation",
    "Add",
    "Average",
    "AveragePooling2D",
    "AveragePooling3D",
    "AvgPool2D",
    "AvgPool3D",
    "BatchNormalization",
    "CenterCrop",
    "Concatenate",
    "Conv2D",
    "Conv2DTranspose",
    "Conv3D",
    "Conv3DTranspose",
    "Convolution2D",
    "Convolution2DTranspose",
    "Convolution3D",
    "Convolution3DTranspose",
    "Cropping2D",
    "Cropping3D",
    "Dense",
    "DepthwiseConv2D",
    "Dropout",
    "ELU",
    "Flatten",
    "GlobalAveragePooling2D",
    "GlobalAveragePooling3D",
    "GlobalAvgPool2D",
    "GlobalAvgPool3D",
    "GlobalMaxPool2D",
    "GlobalMaxPool3D",
    "GlobalMaxPooling2D",
    "GlobalMaxPooling3D",
    "GroupNormalization",
    "Input",
    "InputLayer",
    "KerasTensor",
    "Layer",
    "LayerNormalization",
    "LeakyReLU",
    "Maximum",
    "MaxPool2D",
    "MaxPool3D",
    "MaxPooling2D",
    "MaxPooling3D",
    "Minimum",
    "Multiply",
    "Normalization",
    "Permute",
    "PReLU",
    "RandomBrightness",
    "RandomContrast",
    "RandomFlip",
    "RandomRotation",
    "RandomTranslation",
    "RandomZoom",
    "ReLU",
    "RepeatVector",
    "Rescaling",
    "Reshape",
    "Resizing",
    "SeparableConv2D",
    "SeparableConvolution2D",
    "Softmax",
    "SpatialDropout2D",
    "Subtract",
    "UpSampling2D",
    "UpSampling3D",
    "ZeroPadding2D",
    "ZeroPadding3D",
]
