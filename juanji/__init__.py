"""juanji (卷积, "convolution"): a convolutional-neural-network framework written on NumPy.

Example:
    >>> import juanji
    >>> from juanji.layers import Conv2D, Dense, Flatten, Input, MaxPooling2D
    >>> model = juanji.Sequential([Input((28, 28, 1)), Conv2D(4, 5, activation="tanh"),
    ...                            MaxPooling2D(2), Flatten(), Dense(10, activation="softmax")])
    >>> model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    >>> model.count_params()
    5874
"""

from juanji import (
    _blas_threads,  # noqa: F401 (first: it configures OpenBLAS before NumPy loads it)
    activations,
    callbacks,
    datasets,
    distributed,
    functional,
    initializers,
    layers,
    losses,
    metrics,
    models,
    ops,
    optimizers,
    preprocessing,
    random,
    regularizers,
    saving,
    utils,
    zoo,
)
from juanji.autograd import Tensor, no_grad
from juanji.backend import floatx, set_floatx, set_seed
from juanji.layers import Input
from juanji.models import Model, Sequential, load_model
from juanji.registry import register

__version__ = "0.1.0"
__all__ = [
    "Input",
    "Model",
    "Sequential",
    "Tensor",
    "activations",
    "callbacks",
    "datasets",
    "distributed",
    "floatx",
    "functional",
    "initializers",
    "layers",
    "load_model",
    "losses",
    "metrics",
    "models",
    "no_grad",
    "ops",
    "optimizers",
    "preprocessing",
    "random",
    "regularizers",
    "register",
    "saving",
    "set_floatx",
    "set_seed",
    "utils",
    "zoo",
]
