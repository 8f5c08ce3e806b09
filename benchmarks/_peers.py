"""The benchmarked architectures written in PyTorch and Keras 3, and weight copying into them.

Each peer net is the one a PyTorch or Keras user would write for the juanji model of the same
name (``juanji.zoo``): PyTorch in NCHW with the softmax folded into ``cross_entropy``, Keras
in NHWC with a softmax output. :func:`copy_to_torch` and :func:`copy_to_keras` load a juanji
model's initial weights, so every framework starts from the same point.
"""

import importlib.util
import os

import numpy as np

from juanji.layers import BatchNormalization, Conv2D, Dense, Flatten

# Keras' BatchNormalization defaults; PyTorch calls 1 - momentum its momentum.
BN_MOMENTUM, BN_EPSILON = 0.99, 1e-3
SGD_RECIPE = {"learning_rate": 0.05, "decay": 1e-6, "momentum": 0.9, "nesterov": True}


def available(framework):
    """Whether ``framework`` ("pytorch" or "keras") can be imported here; Keras counts only
    with the backend that ``KERAS_BACKEND`` names (TensorFlow by default) installed too."""
    if framework == "pytorch":
        return importlib.util.find_spec("torch") is not None
    backend = {"torch": "torch", "jax": "jax"}.get(os.environ.get("KERAS_BACKEND"), "tensorflow")
    return all(importlib.util.find_spec(name) is not None for name in ("keras", backend))


# --------------------------------------------------------------------------- PyTorch


def torch_net(name):
    """The PyTorch ``nn.Sequential`` for ``name``; NCHW input, logits output."""
    from torch import nn

    def bn(channels):
        return nn.BatchNorm2d(channels, eps=BN_EPSILON, momentum=1 - BN_MOMENTUM)

    if name == "seed_cnn":
        layers = [
            nn.Conv2d(1, 4, 5), nn.Tanh(),
            nn.Conv2d(4, 8, 3), nn.Tanh(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(256, 128), nn.Tanh(), nn.Linear(128, 10),
        ]  # fmt: skip
    elif name == "lenet5":
        layers = [
            nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2),
            nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
            nn.Flatten(), nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(),
            nn.Linear(84, 10),
        ]  # fmt: skip
    elif name == "mlp":
        layers = [
            nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
            nn.Linear(128, 10),
        ]  # fmt: skip
    elif name == "vgg_small":
        layers, channels = [], 3
        for filters in (32, 64):
            for _ in range(2):
                conv = nn.Conv2d(channels, filters, 3, padding=1, bias=False)
                layers += [conv, bn(filters), nn.ReLU()]
                channels = filters
            layers.append(nn.MaxPool2d(2))
        layers += [nn.Flatten(), nn.Linear(64 * 8 * 8, 128), nn.ReLU(), nn.Linear(128, 10)]
    else:
        raise ValueError(f"Expected a benchmarked model name. Received: name={name!r}")
    return nn.Sequential(*layers)


def torch_sgd(net):
    """The text's recipe in PyTorch: SGD(0.05, momentum=0.9, nesterov=True). PyTorch has no
    per-step inverse-time decay: set each step's rate with :func:`decayed_rate`."""
    import torch

    return torch.optim.SGD(
        net.parameters(),
        lr=SGD_RECIPE["learning_rate"],
        momentum=SGD_RECIPE["momentum"],
        nesterov=SGD_RECIPE["nesterov"],
    )


def decayed_rate(iterations):
    """The recipe's learning rate after ``iterations`` steps: ``0.05 / (1 + 1e-6 * it)``."""
    return SGD_RECIPE["learning_rate"] / (1 + SGD_RECIPE["decay"] * iterations)


def copy_to_torch(model, net):
    """Load the weights of juanji ``model`` into the matching PyTorch ``net``.

    Conv kernels go from HWIO to OIHW; a dense layer after ``Flatten`` has its input rows
    reordered from juanji's (H, W, C) flattening to PyTorch's (C, H, W).
    """
    import torch
    from torch import nn

    peers = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.BatchNorm2d))]
    ours = [layer for layer in model.layers if layer.weights]
    if len(peers) != len(ours):
        raise ValueError(f"{len(ours)} juanji layers with weights, {len(peers)} in PyTorch")
    flat_from = {}  # a Dense layer right after Flatten -> the (H, W, C) map it flattens
    for feeder, flatten, layer in zip(model.layers, model.layers[1:], model.layers[2:]):
        if isinstance(flatten, Flatten) and len(feeder.output_shape) == 4:
            flat_from[id(layer)] = feeder.output_shape[1:]
    with torch.no_grad():
        for layer, module in zip(ours, peers):
            if isinstance(layer, Conv2D):
                arrays = [layer.kernel.data.transpose(3, 2, 0, 1)]  # (F, C, KH, KW)
                arrays += [layer.bias.data] if layer.bias is not None else []
                tensors = [module.weight] + ([module.bias] if module.bias is not None else [])
            elif isinstance(layer, Dense):
                kernel = layer.kernel.data
                if id(layer) in flat_from:
                    h, w, c = flat_from[id(layer)]
                    kernel = kernel.reshape(h, w, c, -1).transpose(2, 0, 1, 3)  # (C, H, W, out)
                    kernel = kernel.reshape(h * w * c, -1)
                arrays, tensors = [kernel.T, layer.bias.data], [module.weight, module.bias]
            elif isinstance(layer, BatchNormalization):
                arrays = [w.data for w in layer.weights]  # gamma, beta, mean, variance
                tensors = [module.weight, module.bias, module.running_mean, module.running_var]
            else:
                raise TypeError(f"No PyTorch counterpart for {type(layer).__name__}")
            for tensor, array in zip(tensors, arrays, strict=True):
                if tuple(tensor.shape) != array.shape:
                    raise ValueError(f"{layer.name}: shape {array.shape} vs {tuple(tensor.shape)}")
                tensor.copy_(torch.from_numpy(np.ascontiguousarray(array)))


# --------------------------------------------------------------------------- Keras 3


def keras_model(name):
    """The compiled Keras 3 ``Sequential`` for ``name``; NHWC input, softmax output."""
    import keras
    from keras import layers

    if name == "seed_cnn":
        stack = [
            layers.Conv2D(4, 5, activation="tanh"),
            layers.Conv2D(8, 3, activation="tanh"), layers.MaxPooling2D(2),
            layers.Conv2D(16, 3, activation="relu"), layers.MaxPooling2D(2),
            layers.Flatten(), layers.Dense(128, activation="tanh"),
        ]  # fmt: skip
        shape = (28, 28, 1)
    elif name == "lenet5":
        stack = [
            layers.Conv2D(6, 5, activation="tanh"), layers.AveragePooling2D(2),
            layers.Conv2D(16, 5, activation="tanh"), layers.AveragePooling2D(2),
            layers.Flatten(), layers.Dense(120, activation="tanh"),
            layers.Dense(84, activation="tanh"),
        ]  # fmt: skip
        shape = (32, 32, 1)
    elif name == "mlp":
        stack = [
            layers.Flatten(),
            layers.Dense(256, activation="relu"),
            layers.Dense(128, activation="relu"),
        ]
        shape = (28, 28, 1)
    elif name == "vgg_small":
        stack = []
        for filters in (32, 64):
            for _ in range(2):
                stack += [
                    layers.Conv2D(filters, 3, padding="same", use_bias=False),
                    layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON),
                    layers.Activation("relu"),
                ]
            stack.append(layers.MaxPooling2D(2))
        stack += [layers.Flatten(), layers.Dense(128, activation="relu")]
        shape = (32, 32, 3)
    else:
        raise ValueError(f"Expected a benchmarked model name. Received: name={name!r}")
    model = keras.Sequential([keras.Input(shape), *stack, layers.Dense(10, activation="softmax")])
    rate = keras.optimizers.schedules.InverseTimeDecay(
        SGD_RECIPE["learning_rate"], decay_steps=1, decay_rate=SGD_RECIPE["decay"]
    )
    optimizer = keras.optimizers.SGD(
        rate, momentum=SGD_RECIPE["momentum"], nesterov=SGD_RECIPE["nesterov"]
    )
    model.compile(optimizer=optimizer, loss="categorical_crossentropy")
    return model


def copy_to_keras(model, peer):
    """Load the weights of juanji ``model`` into Keras ``peer``, layer by layer (the two
    share the NHWC layout, HWIO kernels and the (gamma, beta, mean, variance) order)."""
    ours = [layer for layer in model.layers if layer.weights]
    theirs = [layer for layer in peer.layers if layer.weights]
    if len(ours) != len(theirs):
        raise ValueError(f"{len(ours)} juanji layers with weights, {len(theirs)} in Keras")
    for layer, other in zip(ours, theirs):
        other.set_weights(layer.get_weights())


def count_trainable(framework, net):
    """The number of trainable scalars of a peer net."""
    if framework == "pytorch":
        return sum(p.numel() for p in net.parameters() if p.requires_grad)
    return sum(int(np.prod(w.shape)) for w in net.trainable_weights)
