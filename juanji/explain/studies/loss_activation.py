"""MSE with a sigmoid output learns slowly; cross-entropy removes the σ'(z) factor.

With a sigmoid output and mean squared error, ``∂L/∂z = (a − y) σ'(z)``: a unit that is
confidently wrong (σ'(z) ≈ 0) barely learns. Binary cross-entropy on the same unit gives
``∂L/∂z = a − y``, and softmax with log-likelihood ``p − y``. Three copies of one network
(64-32 tanh-10 on the 8x8 digits, the same initial weights, plain SGD) differ only in the
output and the loss; the study counts the epochs (and seconds) each needs to reach 95%
validation accuracy.
"""

import numpy as np

from juanji import backend, layers, optimizers, pairing
from juanji.explain.studies.common import digit_images, first_reaching, train_epochs
from juanji.models import Sequential

TARGET = 0.95
VARIANTS = (
    ("MSE + sigmoid", "sigmoid", "mse"),
    ("CE + sigmoid", "sigmoid", "binary_crossentropy"),
    ("softmax + log-likelihood", "softmax", "categorical_crossentropy"),
)


def _network(output, loss, seed, learning_rate):
    backend.set_seed(seed)
    model = Sequential(
        [
            layers.Input((64,)),
            layers.Dense(32, activation="tanh"),
            layers.Dense(10, activation=output),
        ]
    )
    pairing.silence(model)  # NOTE: the MSE + sigmoid pair is the point of the study
    model.compile(optimizer=optimizers.SGD(learning_rate=learning_rate), loss=loss)
    return model


def run(quick=False, seed=0):
    """Train the three variants; returns per variant the validation curve, seconds, and the
    epochs to 95% (None if not reached within ``epochs``)."""
    x, y, x_val, _, labels = digit_images(8, flat=True)
    epochs, learning_rate = (20, 0.5) if quick else (60, 0.5)
    results = []
    for name, output, loss in VARIANTS:
        curve = train_epochs(
            _network(output, loss, seed, learning_rate), x, y, x_val, labels, epochs
        )
        reached = first_reaching(curve["val_accuracy"], TARGET)
        results.append(
            {
                "name": name,
                "output": output,
                "loss": loss,
                **curve,
                "epochs_to_target": reached,
                "seconds_to_target": curve["seconds"][reached - 1] if reached else None,
                "final_val_accuracy": curve["val_accuracy"][-1],
            }
        )
    return {"target": TARGET, "epochs": epochs, "learning_rate": learning_rate, "variants": results}


def _reached(v, key, fmt):
    return fmt.format(v[key]) if v[key] is not None else "not reached"


def table(f):
    """The figures as text."""
    lines = [f"{'variant':<28}{'epochs to 95%':>15}{'seconds':>12}{'final val acc':>15}"]
    for v in f["variants"]:
        lines.append(
            f"{v['name']:<28}{_reached(v, 'epochs_to_target', '{}'):>15}"
            f"{_reached(v, 'seconds_to_target', '{:.2f}'):>12}{v['final_val_accuracy']:>15.4f}"
        )
    return "\n".join(lines)


def plot(f, path):
    """Validation accuracy per epoch of each variant, the 95% line marked."""
    from juanji.explain.plots import figure, save

    fig = figure(7, 4)
    ax = fig.add_subplot()
    for v in f["variants"]:
        ax.plot(np.arange(1, len(v["val_accuracy"]) + 1), v["val_accuracy"], label=v["name"])
    ax.axhline(f["target"], color="gray", ls=":", label=f"{f['target']:.0%}")
    ax.set(
        xlabel="epoch",
        ylabel="validation accuracy",
        ylim=(0, 1),
        title=f"same network and seed, SGD lr {f['learning_rate']}: the output loss decides",
    )
    ax.grid(alpha=0.3)
    ax.legend()
    return save(fig, path)


def page(f):
    """The lesson page's text."""
    rows = "\n".join(
        f"| {v['name']} | `{v['loss']}` | {_reached(v, 'epochs_to_target', '{}')} | "
        f"{_reached(v, 'seconds_to_target', '{:.2f}')} | {v['final_val_accuracy']:.4f} |"
        for v in f["variants"]
    )
    target = f"{f['target']:.0%}"
    head = (
        f"| variant | loss | epochs to {target} | seconds to {target} | "
        f"validation accuracy after {f['epochs']} epochs |"
    )
    return f"""# MSE with a sigmoid learns slowly; cross-entropy does not

**Claim.** With a sigmoid output, mean squared error gives ∂L/∂z = (a − y)·σ'(z), and σ'(z)
is near 0 when the unit saturates, so learning is slow; cross-entropy cancels σ'(z)
(∂L/∂z = a − y), as softmax with log-likelihood does (∂L/∂z = p − y).

**Measured.** One 64-32(tanh)-10 network on the 8x8 digits (1437 training, 360 validation
images), the same initial weights (seed {f["seed"]}), plain SGD with learning rate
{f["learning_rate"]}, batch 32, up to {f["epochs"]} epochs; only the output and the loss differ.

{head}
|---|---|---|---|---|
{rows}

Seconds are training time on a shared 2-core machine, for comparison within the run only."""


CLAIM = "MSE with a sigmoid output learns slowly; cross-entropy does not"


def headline(f):
    """One line of measured figures for the README's table."""
    parts = [f"{v['name']} {_reached(v, 'epochs_to_target', '{}')}" for v in f["variants"]]
    return f"epochs to {f['target']:.0%} validation accuracy: " + ", ".join(parts)
