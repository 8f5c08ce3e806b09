"""Named architectures: the text's seed CNN, LeNet-5, a back-propagation MLP, a small VGG;
and in ``juanji.zoo.neocognitron`` Fukushima's Neocognitron (1980), trained without labels."""

from juanji import initializers, optimizers
from juanji.layers import (
    Activation,
    AveragePooling2D,
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Input,
    MaxPooling2D,
    PReLU,
)
from juanji.models import Sequential


def _compiled(model, compile, optimizer, loss="categorical_crossentropy"):
    if compile:
        model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    return model


def _activated(layer_class, *args, activation, **kwargs):
    """``layer_class(*args, **kwargs)`` with ``activation``: the layer's own argument, or for
    ``"prelu"`` (whose slopes are learned weights) a linear layer and a PReLU after it, with
    one slope per channel (per unit for a dense layer)."""
    if activation != "prelu":
        return [layer_class(*args, activation=activation, **kwargs)]
    layer = layer_class(*args, **kwargs)
    shared_axes = [1, 2] if isinstance(layer, Conv2D) else None
    return [layer, PReLU(shared_axes=shared_axes)]


def seed_sgd():
    """The text's recipe: SGD(0.05, decay=1e-6, momentum=0.9, nesterov=True)."""
    return optimizers.SGD(learning_rate=0.05, decay=1e-6, momentum=0.9, nesterov=True)


def seed_cnn(
    input_shape=(28, 28, 1),
    num_classes=10,
    compile=True,
    activation=None,
    output_activation="softmax",
    loss="categorical_crossentropy",
):
    """The text's CNN: two tanh convolutions, max-pool, a ReLU convolution, max-pool, a
    128-unit tanh layer and a softmax classifier; 35,754 parameters on 28x28x1 input.

    Args:
        activation: one activation for every hidden layer instead of the text's tanh/ReLU
            mix (``"prelu"`` adds a PReLU layer after each).
        output_activation: the classifier's activation (``"softmax"``, ``"sigmoid"``...).
        loss: the loss it is compiled with.

    Compiled (unless ``compile=False``) with ``seed_sgd()``.

    Example:
        >>> seed_cnn().count_params()
        35754
    """
    normal = initializers.RandomNormal(stddev=0.05)
    model = Sequential(
        [
            Input(input_shape),
            *_activated(Conv2D, 4, (5, 5), padding="valid", activation=activation or "tanh"),
            *_activated(Conv2D, 8, (3, 3), activation=activation or "tanh"),
            MaxPooling2D((2, 2)),
            *_activated(Conv2D, 16, (3, 3), activation=activation or "relu"),
            MaxPooling2D((2, 2)),
            Flatten(),
            *_activated(Dense, 128, activation=activation or "tanh", kernel_initializer=normal),
            Dense(num_classes, activation=output_activation, kernel_initializer=normal),
        ],
        name="seed_cnn",
    )
    return _compiled(model, compile, seed_sgd(), loss)


def lenet5(
    input_shape=(32, 32, 1),
    num_classes=10,
    compile=True,
    activation=None,
    output_activation="softmax",
    loss="categorical_crossentropy",
):
    """LeNet-5: conv 6@5x5, avg-pool, conv 16@5x5, avg-pool, dense 120, 84, softmax (tanh).
    A 28x28 input is padded in the first convolution to keep the classic 28x28 maps.
    ``activation``, ``output_activation`` and ``loss`` as in :func:`seed_cnn`.

    Example:
        >>> lenet5().count_params()
        61706
    """
    hidden = activation or "tanh"
    padding = "same" if input_shape[0] < 32 else "valid"
    model = Sequential(
        [
            Input(input_shape),
            *_activated(Conv2D, 6, 5, padding=padding, activation=hidden),
            AveragePooling2D(2),
            *_activated(Conv2D, 16, 5, activation=hidden),
            AveragePooling2D(2),
            Flatten(),
            *_activated(Dense, 120, activation=hidden),
            *_activated(Dense, 84, activation=hidden),
            Dense(num_classes, activation=output_activation),
        ],
        name="lenet5",
    )
    return _compiled(model, compile, seed_sgd(), loss)


def mlp(
    input_shape=(28, 28, 1),
    num_classes=10,
    hidden=(256, 128),
    activation=None,
    dropout=0.0,
    compile=True,
    output_activation="softmax",
    loss="categorical_crossentropy",
):
    """A fully connected back-propagation network: 784-256-128-10 by default, ReLU hidden
    units unless ``activation`` says otherwise (``output_activation`` and ``loss`` as in
    :func:`seed_cnn`).

    Example:
        >>> mlp().count_params()
        235146
    """
    layers = [Input(input_shape), Flatten()]
    for units in hidden:
        layers += _activated(Dense, units, activation=activation or "relu")
        if dropout:
            layers.append(Dropout(dropout))
    layers.append(Dense(num_classes, activation=output_activation))
    return _compiled(Sequential(layers, name="mlp"), compile, seed_sgd(), loss)


def vgg_small(
    input_shape=(32, 32, 3),
    num_classes=10,
    compile=True,
    activation=None,
    output_activation="softmax",
    loss="categorical_crossentropy",
):
    """A small VGG-style net: two blocks of two 3x3 convolutions (32 then 64 filters) with
    batch normalisation and max-pooling, then a dense head; ReLU unless ``activation`` says
    otherwise (``output_activation`` and ``loss`` as in :func:`seed_cnn`)."""
    hidden = activation or "relu"
    layers = [Input(input_shape)]
    for filters in (32, 64):
        for _ in range(2):
            layers += [Conv2D(filters, 3, padding="same", use_bias=False), BatchNormalization()]
            layers += [PReLU(shared_axes=[1, 2])] if hidden == "prelu" else [Activation(hidden)]
        layers.append(MaxPooling2D(2))
    layers += [
        Flatten(),
        *_activated(Dense, 128, activation=hidden),
        Dense(num_classes, activation=output_activation),
    ]
    return _compiled(
        Sequential(layers, name="vgg_small"),
        compile,
        optimizers.SGD(learning_rate=0.01, momentum=0.9),
        loss,
    )


MODELS = {"seed": seed_cnn, "lenet5": lenet5, "mlp": mlp, "vgg_small": vgg_small}
