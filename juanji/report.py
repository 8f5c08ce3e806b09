"""A training run's report: one self-contained HTML page and the PNG figures it links.

``write_report`` draws the loss and accuracy curves, the confusion matrix, the first
convolution's filters, every convolution's feature maps for one test image and the test
images the model got wrong most confidently, then writes ``report.html`` beside them with a
table of the run's metrics. Figures are drawn with matplotlib's Agg canvas: no display, no
global pyplot state.
"""

import html
import os
import re

import numpy as np

from juanji.features import layer_outputs
from juanji.layers import Conv2D
from juanji.models import Sequential

FIGURE_DPI = 100


def confusion_matrix(y_true, y_pred, num_classes):
    """Counts of (true class, predicted class) pairs.

    Args:
        y_true, y_pred: integer labels ``(N,)``.
        num_classes: K.

    Returns:
        An int64 array ``(K, K)``: row = true class, column = predicted class.

    Example:
        >>> confusion_matrix([0, 1, 1], [0, 1, 0], 2).tolist()
        [[1, 0], [1, 1]]
    """
    y_true, y_pred = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    return np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes
    )


def format_confusion(matrix, class_names):
    """The confusion matrix as aligned text: rows are true classes, columns predicted."""
    names = [str(n) for n in class_names]
    width = max(len(str(int(matrix.max()))), *(len(n) for n in names)) + 1
    head = "true\\pred".ljust(width + 1) + "".join(n.rjust(width) for n in names)
    rows = [
        names[i].ljust(width + 1) + "".join(str(int(v)).rjust(width) for v in row)
        for i, row in enumerate(matrix)
    ]
    return "\n".join([head, *rows])


def _figure(width, height):
    from matplotlib.figure import Figure  # NOTE: imported here so that `import juanji.report`
    # stays cheap for code that only needs confusion_matrix.

    return Figure(figsize=(width, height), dpi=FIGURE_DPI, layout="constrained")


def _save(fig, run_dir, name):
    fig.savefig(os.path.join(run_dir, name), format="png")
    return name


def _file_safe(name):
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def _image(x):
    """One image ``(H, W, C)`` as something ``imshow`` draws: ``(H, W)`` or RGB(A)."""
    return x[..., 0] if x.shape[-1] not in (3, 4) else np.clip(x, 0, 1)


def _curves(run_dir, history, metric, name):
    epochs = np.arange(1, len(history[metric]) + 1)
    fig = _figure(5, 3.5)
    ax = fig.add_subplot()
    ax.plot(epochs, history[metric], "o-", label=f"training {metric}")
    if f"val_{metric}" in history:
        ax.plot(epochs, history[f"val_{metric}"], "s--", label=f"validation {metric}")
    ax.set(xlabel="epoch", ylabel=metric, title=metric)
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, run_dir, name)


def _confusion_figure(run_dir, matrix, class_names):
    k = len(matrix)
    size = max(4, 0.45 * k + 1.5)
    fig = _figure(size, size)
    ax = fig.add_subplot()
    ax.imshow(matrix, cmap="Blues")
    ax.set(
        xticks=range(k),
        yticks=range(k),
        xlabel="predicted",
        ylabel="true",
        title="confusion matrix (test)",
    )
    ax.set_xticklabels(class_names, rotation=90 if k > 12 else 0)
    ax.set_yticklabels(class_names)
    if k <= 20:
        threshold = matrix.max() / 2
        for (i, j), count in np.ndenumerate(matrix):
            ax.text(
                j,
                i,
                str(count),
                ha="center",
                va="center",
                fontsize=8,
                color="white" if count > threshold else "black",
            )
    return _save(fig, run_dir, "confusion_matrix.png")


def _grid(run_dir, images, titles, name, suptitle, cmap="gray"):
    """Images ``(M, H, W)`` or ``(M, H, W, 3)`` in a grid of up to 8 columns."""
    cols = min(8, len(images))
    rows = -(-len(images) // cols)
    fig = _figure(1.4 * cols + 0.4, 1.5 * rows + 0.5)
    fig.suptitle(suptitle)
    for i, (image, title) in enumerate(zip(images, titles)):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.imshow(image, cmap=cmap)
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    return _save(fig, run_dir, name)


def _filters(run_dir, conv):
    kernel = conv.kernel.data  # (KH, KW, C, F)
    lo, hi = kernel.min(), kernel.max()
    scaled = (kernel - lo) / (hi - lo) if hi > lo else np.zeros_like(kernel)
    if kernel.shape[2] == 3:
        images = list(scaled.transpose(3, 0, 1, 2))  # (F, KH, KW, 3)
        titles = [f"filter {f}" for f in range(kernel.shape[3])]
    else:
        images = list(scaled.transpose(3, 2, 0, 1).reshape(-1, *kernel.shape[:2]))  # (F*C, KH, KW)
        channels = kernel.shape[2]
        titles = [
            f"filter {f}" + (f", in {c}" if channels > 1 else "")
            for f in range(kernel.shape[3])
            for c in range(channels)
        ]
    return _grid(
        run_dir,
        images[:64],
        titles[:64],
        "filters.png",
        f"first convolution '{conv.name}': {kernel.shape[0]}x{kernel.shape[1]} filters",
    )


def _feature_maps(run_dir, model, image, conv_indices):
    """One figure per convolution: the input image, then each channel of its output."""
    names = []
    outputs = layer_outputs(model, image[None], conv_indices)
    for index, output in zip(conv_indices, outputs):
        layer = model.layers[index]
        maps = output[0] if layer.data_format == "channels_last" else output[0].transpose(1, 2, 0)
        images = [_image(image)] + list(maps.transpose(2, 0, 1)[:63])
        titles = ["input"] + [f"map {c}" for c in range(len(images) - 1)]
        names.append(
            _grid(
                run_dir,
                images,
                titles,
                f"feature_maps_{_file_safe(layer.name)}.png",
                f"'{layer.name}' output {maps.shape[0]}x{maps.shape[1]}x{maps.shape[2]}",
                cmap="viridis",
            )
        )
    return names


def _most_confused(run_dir, x, labels, probabilities, class_names, count):
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    if not len(wrong):
        return None
    order = wrong[np.argsort(-probabilities[wrong, predicted[wrong]], kind="stable")][:count]
    images = [_image(x[i]) for i in order]
    titles = [
        f"#{i}: {class_names[labels[i]]} -> {class_names[predicted[i]]} "
        f"({probabilities[i, predicted[i]]:.2f})"
        for i in order
    ]
    return _grid(
        run_dir,
        images,
        titles,
        "most_confused.png",
        "most confident mistakes (true -> predicted, probability)",
    )


def _gradient_section(run_dir, epochs):
    from juanji.explain.gradients import format_gradient_flow
    from juanji.explain.plots import plot_gradient_flow

    plot_gradient_flow(epochs, os.path.join(run_dir, "gradient_flow.png"))
    label, rows = epochs[-1]
    return ("Gradient flow", ["gradient_flow.png"], f"{label}:\n{format_gradient_flow(rows)}")


def _metrics_table(metrics):
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>"
        for k, v in metrics.items()
    )
    return f"<table>{rows}</table>"


def _fmt(value):
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def _html(title, metrics, summary, sections):
    body = [
        f"<h1>{html.escape(title)}</h1>",
        "<h2>Metrics</h2>",
        _metrics_table(metrics),
        "<h2>Model</h2>",
        f"<pre>{html.escape(summary)}</pre>",
    ]
    for heading, images, note in sections:
        body.append(f"<h2>{html.escape(heading)}</h2>")
        body += [f'<img src="{html.escape(name)}" alt="{html.escape(name)}">' for name in images]
        if note:
            tag = "pre" if "\n" in note else "p"  # a table of text keeps its layout
            body.append(f"<{tag}>{html.escape(note)}</{tag}>")
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:4px 10px;"
        "text-align:left}img{max-width:100%;display:block;margin:1em 0}"
    )
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{style}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def write_report(
    run_dir,
    model,
    history,
    x_test,
    y_test,
    class_names,
    *,
    metrics=None,
    probabilities=None,
    max_confused=16,
    gradient_flow=None,
):
    """Draw the run's figures into ``run_dir`` and write ``run_dir/report.html`` linking them.

    Args:
        run_dir: the folder to write into (created if needed).
        model: the trained classifier (a ``Sequential`` model for the feature maps).
        history: ``{"loss": [...], "val_loss": [...], "accuracy": [...], ...}`` or a
            ``History``.
        x_test: test inputs ``(N, H, W, C)`` scaled to [0, 1].
        y_test: test labels ``(N,)`` or one-hot ``(N, K)``.
        class_names: the K class names, in label order.
        metrics: values for the metrics table (e.g. test accuracy, timings); by default the
            test accuracy.
        probabilities: the model's outputs on ``x_test`` ``(N, K)``, if already computed.
        max_confused: how many of the most confident mistakes to show.
        gradient_flow: ``[(label, rows)]`` recorded by ``juanji.explain.GradientFlow``: drawn
            as the per-layer gradient norms at each epoch, with the last epoch's verdicts.

    Returns:
        The path of ``report.html``.
    """
    os.makedirs(run_dir, exist_ok=True)
    history = dict(getattr(history, "history", history) or {})
    labels = np.asarray(y_test)
    labels = labels.argmax(axis=1) if labels.ndim == 2 else labels.astype(np.int64)
    if probabilities is None:
        probabilities = model.predict(x_test)
    class_names = [str(n) for n in class_names]
    matrix = confusion_matrix(labels, probabilities.argmax(axis=1), len(class_names))
    if metrics is None:
        metrics = {"test_accuracy": float(np.trace(matrix) / max(1, matrix.sum()))}

    curves = [
        _curves(run_dir, history, m, f"{m}.png") for m in ("loss", "accuracy") if history.get(m)
    ]
    sections = [
        ("Training curves", curves, None if curves else "No training history."),
        ("Confusion matrix", [_confusion_figure(run_dir, matrix, class_names)], None),
    ]
    convs = [i for i, layer in enumerate(model.layers) if isinstance(layer, Conv2D)]
    if not convs:
        sections.append(("Convolutions", [], "This model has no convolution layers."))
    else:
        sections.append(
            ("First convolution's filters", [_filters(run_dir, model.layers[convs[0]])], None)
        )
        if isinstance(model, Sequential):
            sections.append(
                (
                    f"Feature maps of test image #0 (class {class_names[labels[0]]})",
                    _feature_maps(run_dir, model, np.asarray(x_test[0]), convs),
                    None,
                )
            )
    if gradient_flow:
        sections.append(_gradient_section(run_dir, gradient_flow))
    confused = _most_confused(run_dir, x_test, labels, probabilities, class_names, max_confused)
    sections.append(
        (
            "Most confused test images",
            [confused] if confused else [],
            None if confused else "No test image was misclassified.",
        )
    )

    lines = []
    model.summary(print_fn=lines.append)
    page = _html(f"juanji run: {model.name}", metrics, "\n".join(lines), sections)
    path = os.path.join(run_dir, "report.html")
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)
    return path


__all__ = ["confusion_matrix", "format_confusion", "write_report"]
