"""The feedforward back-propagation network, the CNN's ancestor, at the CNN's budget, and
on the text's other uses of a BP network: approximating a function and compressing data.

1. **Classification at equal parameters.** The seed CNN (35,754 parameters) against a
   784-H-10 tanh network whose H makes its count nearest the CNN's, trained alike on the
   28x28 digits: test accuracy, parameters and training seconds.
2. **Function approximation.** A 1-H-1 tanh network fitted by MSE to
   ``f(x) = sin(2πx)·exp(−x)`` on [0, 2]: its RMS error on a fine grid.
3. **Data compression.** A 64-16-64 autoencoder on the 8x8 digits (4x fewer numbers in
   its code): the test reconstruction MSE per pixel, against the best linear code of the same
   size (PCA, from the SVD) and against predicting the mean image.
"""

import time

import numpy as np

from juanji import backend, layers, optimizers, zoo
from juanji.explain.studies.common import accuracy, digit_images
from juanji.models import Sequential

CODE = 16


def curve(x):
    """The 1-D function the network approximates: ``sin(2πx)·exp(−x)``."""
    return np.sin(2 * np.pi * x) * np.exp(-x)


def _timed_fit(model, x, y, epochs):
    start = time.perf_counter()
    model.fit(x, y, batch_size=32, epochs=epochs, verbose=0)
    return time.perf_counter() - start


def _classification(seed, epochs, limit):
    x, y, x_test, _, labels = digit_images(28, limit=limit)
    backend.set_seed(seed)
    cnn = zoo.seed_cnn()
    budget = cnn.count_params()
    hidden = round((budget - 10) / (784 + 1 + 10))  # 784*H + H + 10*H + 10 parameters
    backend.set_seed(seed)
    bp = zoo.mlp(hidden=(hidden,), activation="tanh")
    rows = []
    for name, model in ((f"BP network 784-{hidden}-10", bp), ("seed CNN", cnn)):
        seconds = _timed_fit(model, x, y, epochs)
        rows.append(
            {
                "name": name,
                "parameters": model.count_params(),
                "test_accuracy": accuracy(model, x_test, labels),
                "train_seconds": seconds,
            }
        )
    return {"epochs": epochs, "train_images": len(x), "test_images": len(x_test), "models": rows}


def _approximation(seed, epochs, hidden=16):
    grid = np.linspace(0, 2, 401, dtype=backend.floatx())[:, None]
    train = grid[::4]
    backend.set_seed(seed)
    model = Sequential(
        [layers.Input((1,)), layers.Dense(hidden, activation="tanh"), layers.Dense(1)]
    )
    model.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss="mse")
    model.fit(train, curve(train), batch_size=16, epochs=epochs, verbose=0)
    fitted = model.predict(grid)[:, 0]
    target = curve(grid[:, 0])
    return {
        "hidden": hidden,
        "epochs": epochs,
        "train_points": len(train),
        "x": grid[:, 0].tolist(),
        "target": target.tolist(),
        "fitted": fitted.tolist(),
        "rms_error": float(np.sqrt(np.mean((fitted - target) ** 2))),
        "rms_target": float(np.sqrt(np.mean(target**2))),
    }


def _compression(seed, epochs):
    x, _, x_test, _, _ = digit_images(8, flat=True)
    backend.set_seed(seed)
    model = Sequential(
        [
            layers.Input((64,)),
            layers.Dense(CODE, activation="tanh"),
            layers.Dense(64),
        ]
    )
    model.compile(optimizer=optimizers.Adam(learning_rate=0.003), loss="mse")
    model.fit(x, x, batch_size=32, epochs=epochs, verbose=0)
    reconstructed = model.predict(x_test)
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    basis = vt[:CODE]  # (CODE, 64): the best rank-CODE linear code of the training images
    pca = (x_test - mean) @ basis.T @ basis + mean
    return {
        "code": CODE,
        "inputs": 64,
        "epochs": epochs,
        "mse_autoencoder": float(np.mean((reconstructed - x_test) ** 2)),
        "mse_pca": float(np.mean((pca - x_test) ** 2)),
        "mse_mean_image": float(np.mean((mean - x_test) ** 2)),
        "examples": x_test[:6].tolist(),
        "reconstructions": reconstructed[:6].tolist(),
    }


def run(quick=False, seed=0):
    """All three parts; ``quick`` trains on fewer images and for fewer epochs."""
    if quick:
        return {
            "classification": _classification(seed, epochs=1, limit=300),
            "approximation": _approximation(seed, epochs=40),
            "compression": _compression(seed, epochs=3),
        }
    return {
        "classification": _classification(seed, epochs=8, limit=None),
        "approximation": _approximation(seed, epochs=400),
        "compression": _compression(seed, epochs=60),
    }


def table(f):
    """The figures as text."""
    c, a, z = f["classification"], f["approximation"], f["compression"]
    lines = [f"classification ({c['epochs']} epochs, {c['train_images']} training digits 28x28)"]
    lines.append(f"{'model':<24}{'parameters':>12}{'test accuracy':>15}{'train s':>10}")
    for m in c["models"]:
        lines.append(
            f"{m['name']:<24}{m['parameters']:>12,}{m['test_accuracy']:>15.4f}"
            f"{m['train_seconds']:>10.1f}"
        )
    lines.append(
        f"function approximation 1-{a['hidden']}-1: RMS error {a['rms_error']:.4f} "
        f"(RMS of f: {a['rms_target']:.4f})"
    )
    lines.append(
        f"compression 64-{z['code']}-64: test MSE/pixel {z['mse_autoencoder']:.4f}, "
        f"PCA-{z['code']} "
        f"{z['mse_pca']:.4f}, mean image {z['mse_mean_image']:.4f}"
    )
    return "\n".join(lines)


def plot(f, path):
    """Accuracy at equal budget, the fitted curve, and digits with their reconstructions."""
    from juanji.explain.plots import figure, save

    fig = figure(13, 4)
    grid = fig.add_gridspec(2, 9)
    ax = fig.add_subplot(grid[:, 0:3])
    models = f["classification"]["models"]
    bars = ax.bar(
        [m["name"].replace(" 784", "\n784") for m in models], [m["test_accuracy"] for m in models]
    )
    ax.bar_label(bars, labels=[f"{m['test_accuracy']:.3f}\n{m['parameters']:,} p" for m in models])
    ax.set(ylim=(0, 1.15), ylabel="test accuracy", title="equal parameter budgets")
    a = f["approximation"]
    ax = fig.add_subplot(grid[:, 3:6])
    ax.plot(a["x"], a["target"], "k-", label="f(x) = sin(2πx)·exp(−x)")
    ax.plot(a["x"], a["fitted"], "r--", label=f"BP 1-{a['hidden']}-1 (RMS {a['rms_error']:.3f})")
    ax.set(xlabel="x", title="function approximation")
    ax.legend(fontsize=8)
    z = f["compression"]
    for i in range(3):
        for row, key in enumerate(("examples", "reconstructions")):
            sub = fig.add_subplot(grid[row, 6 + i])
            sub.imshow(np.reshape(z[key][i], (8, 8)), cmap="gray", vmin=0, vmax=1)
            sub.axis("off")
            if i == 1:
                sub.set_title(
                    "test digit" if row == 0 else f"from a {z['code']}-number code", fontsize=8
                )
    return save(fig, path)


def page(f):
    """The lesson page's text."""
    c, a, z = f["classification"], f["approximation"], f["compression"]
    rows = "\n".join(
        f"| {m['name']} | {m['parameters']:,} | {m['test_accuracy']:.4f} | "
        f"{m['train_seconds']:.1f} |"
        for m in c["models"]
    )
    return f"""# The back-propagation network: the CNN's ancestor, and its other uses

**Claim.** The CNN grew out of the feedforward network trained by back-propagation; the
BP network also approximates functions and compresses data.

**Measured: classification at equal budgets.** {c["epochs"]} epochs on {c["train_images"]}
28x28 digits, tested on {c["test_images"]}; both with tanh hidden units and the seed CNN's
SGD recipe.

| model | parameters | test accuracy | training seconds |
|---|---|---|---|
{rows}

**Function approximation.** A 1-{a["hidden"]}-1 tanh network fitted by MSE (Adam, {a["epochs"]}
epochs, {a["train_points"]} points) to f(x) = sin(2πx)·exp(−x) on [0, 2]: RMS error
{a["rms_error"]:.4f} on 401 points, where f's own RMS is {a["rms_target"]:.4f}.

**Data compression.** A 64-{z["code"]}-64 autoencoder ({z["epochs"]} epochs) on the 8x8 digits
stores each image in {z["code"]} numbers instead of {z["inputs"]}. Test reconstruction MSE per
pixel (pixels in [0, 1]): autoencoder {z["mse_autoencoder"]:.4f}; the best linear code of the same
size (PCA-{z["code"]}) {z["mse_pca"]:.4f}; the mean image {z["mse_mean_image"]:.4f}.

Seconds are measured on a shared 2-core machine, for comparison within the run only."""


CLAIM = "the BP network, the CNN's ancestor: classification, function approximation, compression"


def headline(f):
    """One line of measured figures for the README's table."""
    bp, cnn = f["classification"]["models"]
    z = f["compression"]
    return (
        f"test accuracy {bp['test_accuracy']:.4f} ({bp['parameters']:,} p) vs seed CNN "
        f"{cnn['test_accuracy']:.4f} ({cnn['parameters']:,} p); curve RMS error "
        f"{f['approximation']['rms_error']:.4f}; 64-{z['code']}-64 autoencoder MSE "
        f"{z['mse_autoencoder']:.4f} (PCA {z['mse_pca']:.4f})"
    )
