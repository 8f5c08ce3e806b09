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
)
from juanji.models import Sequential


def _compiled(model, compile, optimizer):
    if compile:
        model.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def seed_sgd():
    """The text's recipe: SGD(0.05, decay=1e-6, momentum=0.9, nesterov=True)."""
    return optimizers.SGD(learning_rate=0.05, decay=1e-6, momentum=0.9, nesterov=True)


def seed_cnn(input_shape=(28, 28, 1), num_classes=10, compile=True):
    """The text's CNN: two tanh convolutions, max-pool, a ReLU convolution, max-pool, a
    128-unit tanh layer and a softmax classifier; 35,754 parameters on 28x28x1 input.

    Compiled (unless ``compile=False``) with ``seed_sgd()`` and categorical cross-entropy.

    Example:
        >>> seed_cnn().count_params()
        35754
    """
    normal = initializers.RandomNormal(stddev=0.05)
    model = Sequential(
        [
            Input(input_shape),
            Conv2D(4, (5, 5), padding="valid", activation="tanh"),
            Conv2D(8, (3, 3), activation="tanh"),
            MaxPooling2D((2, 2)),
            Conv2D(16, (3, 3), activation="relu"),
            MaxPooling2D((2, 2)),
            Flatten(),
            Dense(128, activation="tanh", kernel_initializer=normal),
            Dense(num_classes, activation="softmax", kernel_initializer=normal),
        ],
        name="seed_cnn",
    )
    return _compiled(model, compile, seed_sgd())


def lenet5(input_shape=(32, 32, 1), num_classes=10, compile=True):
    """LeNet-5: conv 6@5x5, avg-pool, conv 16@5x5, avg-pool, dense 120, 84, softmax (tanh).
    A 28x28 input is padded in the first convolution to keep the classic 28x28 maps.

    Example:
        >>> lenet5().count_params()
        61706
    """
    model = Sequential(
        [
            Input(input_shape),
            Conv2D(6, 5, padding="same" if input_shape[0] < 32 else "valid", activation="tanh"),
            AveragePooling2D(2),
            Conv2D(16, 5, activation="tanh"),
            AveragePooling2D(2),
            Flatten(),
            Dense(120, activation="tanh"),
            Dense(84, activation="tanh"),
            Dense(num_classes, activation="softmax"),
        ],
        name="lenet5",
    )
    return _compiled(model, compile, seed_sgd())


def mlp(
    input_shape=(28, 28, 1),
    num_classes=10,
    hidden=(256, 128),
    activation="relu",
    dropout=0.0,
    compile=True,
):
    """A fully connected back-propagation network: 784-256-128-10 by default.

    Example:
        >>> mlp().count_params()
        235146
    """
    layers = [Input(input_shape), Flatten()]
    for units in hidden:
        layers.append(Dense(units, activation=activation))
        if dropout:
            layers.append(Dropout(dropout))
    layers.append(Dense(num_classes, activation="softmax"))
    return _compiled(Sequential(layers, name="mlp"), compile, seed_sgd())


def vgg_small(input_shape=(32, 32, 3), num_classes=10, compile=True):
    """A small VGG-style net: two blocks of two 3x3 convolutions (32 then 64 filters) with
    batch normalisation and max-pooling, then a dense head."""
    layers = [Input(input_shape)]
    for filters in (32, 64):
        for _ in range(2):
            layers += [
                Conv2D(filters, 3, padding="same", use_bias=False),
                BatchNormalization(),
                Activation("relu"),
            ]
        layers.append(MaxPooling2D(2))
    layers += [Flatten(), Dense(128, activation="relu"), Dense(num_classes, activation="softmax")]
    return _compiled(
        Sequential(layers, name="vgg_small"),
        compile,
        optimizers.SGD(learning_rate=0.01, momentum=0.9),
    )


MODELS = {"seed": seed_cnn, "lenet5": lenet5, "mlp": mlp, "vgg_small": vgg_small}
