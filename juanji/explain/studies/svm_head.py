"""A CNN's features fed to an SVM classify as well as its softmax head.

The seed CNN is trained on the digits; its penultimate layer (the 128 tanh units feeding the
softmax) is a feature vector per image. Linear and RBF support-vector machines trained on the
training images' features replace the softmax head (``juanji.features.compare_heads``).
"""

from juanji import backend, zoo
from juanji.explain.studies.common import digit_images
from juanji.features import compare_heads

KERNELS = ("linear", "rbf")


def run(quick=False, seed=0):
    """Train the seed CNN, then the test accuracy of its softmax head and of each SVM head."""
    size, epochs, limit = (16, 3, 600) if quick else (28, 10, None)
    x, y, x_test, y_test, _ = digit_images(size, limit=limit)
    backend.set_seed(seed)
    model = zoo.seed_cnn(input_shape=x.shape[1:])
    model.fit(x, y, batch_size=32, epochs=epochs, verbose=0)
    heads = {
        kernel: compare_heads(model, x, y, x_test, y_test, kernel=kernel) for kernel in KERNELS
    }
    return {
        "image_size": size,
        "epochs": epochs,
        "feature_dim": heads["linear"]["feature_dim"],
        "softmax": heads["linear"]["softmax"],
        "svm": {kernel: heads[kernel]["svm"] for kernel in KERNELS},
    }


def table(f):
    """The figures as text."""
    lines = [
        f"seed CNN, {f['epochs']} epochs on {f['image_size']}x{f['image_size']} digits; "
        f"{f['feature_dim']} features"
    ]
    lines.append(f"{'softmax head':<20}{f['softmax']:.4f}")
    lines += [f"{'SVM head (' + k + ')':<20}{v:.4f}" for k, v in f["svm"].items()]
    return "\n".join(lines)


def plot(f, path):
    """Test accuracy of each head."""
    from juanji.explain.plots import figure, save

    fig = figure(5, 3.5)
    ax = fig.add_subplot()
    names = ["softmax", *(f"SVM {k}" for k in f["svm"])]
    values = [f["softmax"], *f["svm"].values()]
    bars = ax.bar(names, values, color=["tab:blue", "tab:orange", "tab:green"])
    ax.bar_label(bars, fmt="%.4f")
    low = min(values)
    ax.set(
        ylim=(max(0, low - 0.1), 1.0),
        ylabel="test accuracy",
        title=f"heads on the seed CNN's {f['feature_dim']} features",
    )
    return save(fig, path)


def page(f):
    """The lesson page's text."""
    rows = "\n".join(
        f"| SVM, {k} kernel (C = 1, standardised features) | {v:.4f} |" for k, v in f["svm"].items()
    )
    return f"""# A CNN's features with an SVM head

**Claim.** The convolutional layers are a feature extractor: an SVM trained on the features
of the layer before the classifier does as well as the network's own softmax head.

**Measured.** The seed CNN trained {f["epochs"]} epochs on the {f["image_size"]}x{f["image_size"]}
digits its {f["feature_dim"]} penultimate features feed each head;
test accuracy on the test digits:

| head | test accuracy |
|---|---|
| softmax (the network's own) | {f["softmax"]:.4f} |
{rows}

`juanji features MODEL --svm rbf` runs the same comparison on a trained model file."""


CLAIM = "a CNN's features with an SVM head match its softmax head"


def headline(f):
    """One line of measured figures for the README's table."""
    svm = ", ".join(f"SVM {k} {v:.4f}" for k, v in f["svm"].items())
    return f"test accuracy: softmax {f['softmax']:.4f}, {svm}"
