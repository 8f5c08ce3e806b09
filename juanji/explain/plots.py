"""The figures of ``juanji explain``: matplotlib's Agg canvas, no display, no pyplot state.

matplotlib is imported inside each function, so ``import juanji.explain`` stays cheap.
"""

import os

import numpy as np

DPI = 100


def figure(width, height):
    """A new matplotlib Figure (Agg canvas, constrained layout) of ``width`` x ``height``
    inches."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def save(fig, path):
    """Write ``fig`` as a PNG at ``path`` (its folder created) and return the path."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, format="png")
    return str(path)


def plot_translation(result, path):
    """Two panels: the equivariance error per layer (zero and circular padding), and the
    share of samples whose top-1 class survives each shift.

    Args:
        result: ``{"model", "zero": [rows], "circular": [rows], "survival": {...}}`` as
            ``juanji explain translation`` builds it.
        path: the PNG to write.
    """
    fig = figure(11, 4)
    left, right = fig.subplots(1, 2)
    names = [f"{r['layer']}\n(stride {r['stride']})" for r in result["zero"]]
    positions = np.arange(len(names))
    floor = 1e-8  # a zero error is drawn at the floor of the log axis
    for offset, padding in ((-0.2, "zero"), (0.2, "circular")):
        errors = [max(r["error"], floor) for r in result[padding]]
        left.bar(positions + offset, errors, width=0.4, label=f"{padding} padding")
    left.set_yscale("log")
    left.set_xticks(positions, names, fontsize=7)
    left.set(
        ylabel="||f(Tx) - T f(x)|| / ||f(x)||",
        title="equivariance error per layer (0 drawn at 1e-8)",
    )
    left.axhline(floor, color="gray", lw=0.5)
    left.legend(loc="center left", fontsize=8)
    survival = result["survival"]
    for axis, marker in (("horizontal", "o-"), ("vertical", "s--")):
        right.plot(survival["shifts"], survival[axis], marker, label=f"{axis} shift")
    right.set(
        xlabel="shift (pixels, zero fill)",
        ylabel="share of samples with the same top-1 class",
        title=f"{result['model']}: top-1 class under shifts",
        ylim=(0, 1.05),
    )
    right.grid(alpha=0.3)
    right.legend()
    return save(fig, path)


def plot_gradient_flow(epochs, path, title=None):
    """Gradient norm per layer on a log axis, one line per ``(label, rows)`` of ``epochs``
    (rows from :func:`juanji.explain.gradients.gradient_flow`)."""
    fig = figure(7, 4)
    ax = fig.add_subplot()
    for label, rows in epochs:
        norms = [max(r["grad_norm"], 1e-30) for r in rows]
        ax.plot(range(len(rows)), norms, "o-", label=label)
    names = [r["layer"] for r in epochs[0][1]]
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=7)
    ax.set_yscale("log")
    ax.set(xlabel="layer (input side first)", ylabel="weight gradient L2 norm")
    ax.set_title(title or "gradient flow")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save(fig, path)
