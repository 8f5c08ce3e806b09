"""The text's worked example of cross-entropy, and the gradient ``p − y`` of softmax with
log-likelihood, computed by juanji's own loss and checked against finite differences.

The text's network is barely better than chance on an image of class 4: its output is
``q = [0.1058, 0.1043, 0.0988, 0.1066, 0.0875, 0.0881, 0.1027, 0.1046, 0.1057, 0.0958]``
and the loss ``−ln q₄ = −ln 0.0875 = 2.4361``. The printed q is rounded to 4 places and sums
to 0.9999; juanji's categorical cross-entropy (as Keras's) divides by that sum first, so on
the vector as printed it gives ``−ln(0.0875 / 0.9999)``, 1.0e-4 less.
"""

import numpy as np

from juanji import losses, ops
from juanji.autograd import Tensor

Q = [0.1058, 0.1043, 0.0988, 0.1066, 0.0875, 0.0881, 0.1027, 0.1046, 0.1057, 0.0958]
TRUE_CLASS = 4


def _softmax_ce(z, y):
    return ops.categorical_cross_entropy(ops.softmax(Tensor(z)), y).item()


def run(quick=False, seed=0):
    """The example's loss three ways, and the gradient of softmax + cross-entropy with respect
    to the logits against ``(p − y) / N`` and float64 central differences.

    Returns:
        ``loss_printed_q`` (juanji's loss on q as printed), ``minus_log_q4`` (the text's
        formula), ``sum_q``, ``loss_minus_log_sum`` (juanji's loss undoing its division by
        Σq: the text's figure), and for ``batch`` random logits the autograd gradient, p − y
        and the finite differences with their largest differences.
    """
    q = np.array(Q, np.float64)
    y = np.eye(len(q))[[TRUE_CLASS]]
    loss = losses.CategoricalCrossentropy()(y, Tensor(q[None])).item()
    sparse = losses.SparseCategoricalCrossentropy()(np.array([TRUE_CLASS]), Tensor(q[None])).item()

    rng = np.random.default_rng(seed)
    batch, classes = (2, 4) if quick else (4, 10)
    z = rng.standard_normal((batch, classes))
    labels = rng.integers(0, classes, batch)
    target = np.eye(classes)[labels]
    logits = Tensor(z, requires_grad=True)
    ops.categorical_cross_entropy(ops.softmax(logits), target).backward()
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    formula = (p - target) / batch
    eps = 1e-6
    numeric = np.zeros_like(z)
    for index in np.ndindex(z.shape):  # NOTE: one probe per logit of a tiny batch
        step = np.zeros_like(z)
        step[index] = eps
        numeric[index] = (_softmax_ce(z + step, target) - _softmax_ce(z - step, target)) / (2 * eps)
    return {
        "q": Q,
        "true_class": TRUE_CLASS,
        "sum_q": float(q.sum()),
        "loss_printed_q": loss,
        "sparse_loss_printed_q": sparse,
        "minus_log_q4": float(-np.log(q[TRUE_CLASS])),
        "loss_minus_log_sum": loss - float(np.log(q.sum())),
        "gradient": {
            "logits": z.tolist(),
            "labels": labels.tolist(),
            "autograd": logits.grad.tolist(),
            "p_minus_y_over_n": formula.tolist(),
            "finite_differences": numeric.tolist(),
            "max_autograd_vs_formula": float(np.max(np.abs(logits.grad - formula))),
            "max_autograd_vs_finite_differences": float(np.max(np.abs(logits.grad - numeric))),
        },
    }


def table(f):
    """The figures as text."""
    g = f["gradient"]
    return "\n".join(
        [
            f"q (class {f['true_class']} true), sum {f['sum_q']:.4f}",
            f"-ln q_4 (the text)                      {f['minus_log_q4']:.4f}",
            f"juanji loss on q as printed (q / sum q) {f['loss_printed_q']:.4f}",
            f"juanji loss - ln(sum q)                 {f['loss_minus_log_sum']:.4f}",
            f"softmax + CE gradient: max |autograd - (p - y)/N| = "
            f"{g['max_autograd_vs_formula']:.2e}, max |autograd - finite diff.| = "
            f"{g['max_autograd_vs_finite_differences']:.2e}",
        ]
    )


def plot(f, path):
    """Left: q with the true class marked; right: autograd gradient against p − y."""
    from juanji.explain.plots import figure, save

    fig = figure(10, 3.8)
    left, right = fig.subplots(1, 2)
    colors = ["tab:red" if k == f["true_class"] else "tab:blue" for k in range(len(f["q"]))]
    left.bar(range(len(f["q"])), f["q"], color=colors)
    left.set(
        xticks=range(len(f["q"])),
        xlabel="class",
        ylabel="q",
        title=f"q, true class {f['true_class']}: loss -ln q4 = {f['minus_log_q4']:.4f}",
    )
    g = f["gradient"]
    formula = np.ravel(g["p_minus_y_over_n"])
    right.plot(formula, np.ravel(g["autograd"]), "o", label="autograd")
    right.plot(formula, np.ravel(g["finite_differences"]), "x", ms=9, label="finite differences")
    line = [formula.min(), formula.max()]
    right.plot(line, line, "k-", lw=0.5)
    right.set(xlabel="(p - y) / N", ylabel="dL/dz", title="softmax + log-likelihood: dL/dz = p - y")
    right.legend()
    right.grid(alpha=0.3)
    return save(fig, path)


def page(f):
    """The lesson page's text, its numbers from the figures."""
    g = f["gradient"]
    return f"""# Cross-entropy: the text's worked example, and the gradient p − y

**Claim.** For a network whose output on an image of class 4 is
q = [{", ".join(f"{v:.4f}" for v in f["q"])}], the cross-entropy loss is −ln q₄ = 2.4361;
and softmax with log-likelihood has the output gradient ∂L/∂z = p − y.

**Measured.**

| quantity | value |
|---|---|
| −ln q₄ (the text's formula) | {f["minus_log_q4"]:.4f} |
| Σq of the printed vector | {f["sum_q"]:.4f} |
| juanji `categorical_crossentropy` on q as printed | {f["loss_printed_q"]:.4f} |
| juanji `sparse_categorical_crossentropy` on q as printed | {f["sparse_loss_printed_q"]:.4f} |
| juanji's loss − ln Σq (undoing its division by Σq) | {f["loss_minus_log_sum"]:.4f} |
| max \\|autograd − (p − y)/N\\| | {g["max_autograd_vs_formula"]:.1e} |
| max \\|autograd − central differences\\| | {g["max_autograd_vs_finite_differences"]:.1e} |

The printed q is rounded to four places and sums to {f["sum_q"]:.4f}. juanji's loss, like
Keras's, divides the predictions by their sum before the log, so on the vector as printed it
gives −ln(q₄/Σq) = {f["loss_printed_q"]:.4f}; subtracting ln Σq gives the text's
{f["loss_minus_log_sum"]:.4f}. The gradient of the fused softmax + cross-entropy with respect to
the logits of a random batch of {len(g["labels"])} matches (p − y)/N and float64 central
differences."""


CLAIM = "cross-entropy of the worked example; softmax + log-likelihood has gradient p − y"


def headline(f):
    """One line of measured figures for the README's table."""
    g = f["gradient"]
    return (
        f"−ln q₄ = {f['minus_log_q4']:.4f}; juanji's loss on q as printed "
        f"{f['loss_printed_q']:.4f} "
        f"(it divides by Σq = {f['sum_q']:.4f}); max \\|autograd − (p − y)/N\\| "
        f"{g['max_autograd_vs_formula']:.0e}"
    )
