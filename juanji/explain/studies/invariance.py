"""Convolution is translation-equivariant; pooling adds (approximate) invariance.

A dense network sees a shifted digit as a new input; a convolution's maps shift with it, but
a dense classifier on top of unpooled maps still reads them position by position; max-pooling
lets a small shift land in the same pooling window. Three networks are trained on the
digits at 28x28 with the same recipe and tested on the test digits moved sideways by −4..4
pixels (zero fill): a dense net, a conv net without pooling and the seed CNN.
"""

import numpy as np

from juanji import backend, layers, zoo
from juanji.explain.invariance import SHIFTS, accuracy_under_shift
from juanji.explain.studies.common import digit_images
from juanji.models import Sequential


def _conv_no_pooling(input_shape):
    model = Sequential(
        [
            layers.Input(input_shape),
            layers.Conv2D(4, 5, activation="tanh"),
            layers.Conv2D(8, 3, activation="tanh"),
            layers.Conv2D(16, 3, activation="relu"),
            layers.Flatten(),
            layers.Dense(128, activation="tanh"),
            layers.Dense(10, activation="softmax"),
        ],
        name="conv_no_pooling",
    )
    model.compile(optimizer=zoo.seed_sgd(), loss="categorical_crossentropy")
    return model


NETWORKS = {
    "dense (BP) net": lambda shape: zoo.mlp(input_shape=shape, hidden=(128,), activation="tanh"),
    "conv net, no pooling": _conv_no_pooling,
    "seed CNN (conv + max-pooling)": lambda shape: zoo.seed_cnn(input_shape=shape),
}


def run(quick=False, seed=0):
    """Train each network, then its test accuracy at each horizontal shift."""
    size, epochs, limit = (16, 2, 450) if quick else (28, 5, None)
    x, y, x_test, _, labels = digit_images(size, limit=limit)
    results = []
    for name, build in NETWORKS.items():
        backend.set_seed(seed)
        model = build(x.shape[1:])
        model.fit(x, y, batch_size=32, epochs=epochs, verbose=0)
        accuracies = accuracy_under_shift(model, x_test, labels, SHIFTS)
        results.append({"name": name, "parameters": model.count_params(), "accuracy": accuracies})
    return {"image_size": size, "epochs": epochs, "shifts": list(SHIFTS), "networks": results}


def table(f):
    """The figures as text."""
    head = f"{'network':<32}" + "".join(f"{s:>7}" for s in f["shifts"])
    lines = [
        f"test accuracy against horizontal shift (pixels of {f['image_size']}x{f['image_size']})",
        head,
    ]
    for n in f["networks"]:
        lines.append(f"{n['name']:<32}" + "".join(f"{a:>7.3f}" for a in n["accuracy"]))
    return "\n".join(lines)


def plot(f, path):
    """Test accuracy against shift, one line per network."""
    from juanji.explain.plots import figure, save

    fig = figure(7, 4)
    ax = fig.add_subplot()
    for n in f["networks"]:
        ax.plot(f["shifts"], n["accuracy"], "o-", label=f"{n['name']} ({n['parameters']:,} params)")
    ax.set(
        xlabel=f"horizontal shift (pixels of {f['image_size']}x{f['image_size']}, zero fill)",
        ylabel="test accuracy",
        ylim=(0, 1.02),
        title=f"trained {f['epochs']} epochs on unshifted digits",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save(fig, path)


def page(f):
    """The lesson page's text."""
    head = "| network | parameters | " + " | ".join(f"{s:+d} px" for s in f["shifts"]) + " |"
    rule = "|---|---|" + "---|" * len(f["shifts"])
    rows = "\n".join(
        f"| {n['name']} | {n['parameters']:,} | "
        + " | ".join(f"{a:.3f}" for a in n["accuracy"])
        + " |"
        for n in f["networks"]
    )
    mean = {
        n["name"]: np.mean([a for s, a in zip(f["shifts"], n["accuracy"]) if abs(s) in (1, 2)])
        for n in f["networks"]
    }
    means = "; ".join(f"{name} {value:.3f}" for name, value in mean.items())
    size = f"{f['image_size']}x{f['image_size']}"
    return f"""# Translation: equivariant convolutions, invariance from pooling

**Claim.** Convolution is equivariant to translation (a shifted input gives shifted maps),
and pooling makes the network approximately invariant to small shifts.

**Measured.** Each network trained {f["epochs"]} epochs on the unshifted {size}
digits (same seed, the seed CNN's SGD recipe), then tested on the test digits moved
horizontally (zero fill):

{head}
{rule}
{rows}

Mean test accuracy over shifts of 1 and 2 pixels either way: {means}.
The exact equivariance of a convolution is measured by `juanji explain translation MODEL`
(error below 1e-5 with circular padding, non-zero at the border with zero padding)."""


CLAIM = "convolution is translation-equivariant; pooling adds invariance"


def headline(f):
    """One line of measured figures for the README's table."""
    shifts = f["shifts"]
    at = [shifts.index(-2), shifts.index(2)]
    parts = [
        f"{n['name'].split(' (')[0]} {np.mean([n['accuracy'][i] for i in at]):.3f}"
        for n in f["networks"]
    ]
    return "test accuracy at ±2 px: " + ", ".join(parts)
