"""Deep sigmoid stacks vanish gradients, ReLU helps, and initialisation scale can explode them.

Back-propagation multiplies the error by ``W^T`` and by the activation's derivative once per
layer: σ' is at most 1/4, so ten sigmoid layers shrink the signal by 4^10 at best. ReLU's
derivative is 1 where a unit is on, so with He initialisation the norm stays level; weights
drawn too large multiply it up layer by layer instead. Ten-layer MLPs (width 32 on the 8x8
digits) with each activation, under the default initialisation (Glorot uniform) and a badly
scaled one (normal, stddev 0.5: about 4x Glorot's), report the weight-gradient norm per depth
at initialisation and after one epoch of SGD.
"""

import numpy as np

from juanji import backend, explain, initializers, layers, optimizers
from juanji.explain.studies.common import digit_images
from juanji.models import Sequential

ACTIVATIONS = ("sigmoid", "tanh", "relu", "prelu", "softplus")
DEPTH = 10
WIDTH = 32
INITS = {"default": "glorot_uniform", "badly scaled": ("normal", 0.5)}


def _initializer(spec):
    if isinstance(spec, tuple):
        return initializers.RandomNormal(stddev=spec[1])
    return spec


def _network(activation, init, seed):
    backend.set_seed(seed)
    stack = [layers.Input((64,))]
    for _ in range(DEPTH - 1):
        kernel = _initializer(init)
        if activation == "prelu":
            stack += [layers.Dense(WIDTH, kernel_initializer=kernel), layers.PReLU()]
        else:
            stack.append(layers.Dense(WIDTH, activation=activation, kernel_initializer=kernel))
    stack.append(layers.Dense(10, activation="softmax", kernel_initializer=_initializer(init)))
    model = Sequential(stack)
    model.compile(optimizer=optimizers.SGD(learning_rate=0.05), loss="categorical_crossentropy")
    return model


def _dense_rows(model, x, y):
    return [r for r in explain.gradient_flow(model, x, y) if r["type"] == "Dense"]


def run(quick=False, seed=0):
    """Gradient norms per depth, at initialisation and after one epoch, for every activation
    and both initialisations."""
    x, y, _, _, _ = digit_images(8, flat=True)
    if quick:
        x, y = x[:256], y[:256]
    probe = slice(0, 256)
    results = []
    for init_name, init in INITS.items():
        for activation in ACTIVATIONS:
            model = _network(activation, init, seed)
            at_init = _dense_rows(model, x[probe], y[probe])
            history = model.fit(x, y, batch_size=32, epochs=1, verbose=0)
            after = _dense_rows(model, x[probe], y[probe])
            results.append(
                {
                    "activation": activation,
                    "init": init_name,
                    "loss_epoch1": float(history.history["loss"][-1]),
                    "norms_init": [r["grad_norm"] for r in at_init],
                    "norms_epoch1": [r["grad_norm"] for r in after],
                    "first_to_last_init": at_init[0]["ratio"],
                    "first_to_last_epoch1": after[0]["ratio"],
                    "verdict_first_init": at_init[0]["verdict"],
                    "verdict_first_epoch1": after[0]["verdict"],
                }
            )
    return {"depth": DEPTH, "width": WIDTH, "thresholds": dict(explain.THRESHOLDS), "runs": results}


def _ratio(value):
    """A first/last ratio as text; None stands for a network with no gradient left at all."""
    return "no gradient" if value is None else f"{value:.2e}"


def table(f):
    """The figures as text."""
    lines = [
        f"{'activation':<11}{'init':<14}{'last norm':>11}{'first/last at init':>20}{'verdict':>12}"
        f"{'loss epoch 1':>14}{'first/last epoch 1':>20}{'verdict':>12}"
    ]
    for r in f["runs"]:
        lines.append(
            f"{r['activation']:<11}{r['init']:<14}{r['norms_init'][-1]:>11.2e}"
            f"{_ratio(r['first_to_last_init']):>20}{r['verdict_first_init']:>12}"
            f"{r['loss_epoch1']:>14.4f}{_ratio(r['first_to_last_epoch1']):>20}"
            f"{r['verdict_first_epoch1']:>12}"
        )
    return "\n".join(lines)


def plot(f, path):
    """Gradient norm per depth: rows at init / after one epoch, columns per initialisation."""
    from juanji.explain.plots import figure, save

    fig = figure(11, 7)
    axes = fig.subplots(2, len(INITS), sharey=True)
    depth = np.arange(1, f["depth"] + 1)
    for column, init_name in enumerate(INITS):
        for row, (key, when) in enumerate((("norms_init", "at init"), ("norms_epoch1", "epoch 1"))):
            ax = axes[row, column]
            for r in (r for r in f["runs"] if r["init"] == init_name):
                norms = np.asarray(r[key], float)
                norms[~(norms > 0)] = np.nan  # a zero (or NaN) gradient is left out
                style = "s--" if r["activation"] == "prelu" else "o-"  # PReLU starts as ReLU
                ax.plot(depth, norms, style, ms=3, label=r["activation"])
            ax.set_yscale("log")
            ax.set(
                title=f"{init_name} initialisation, {when} (zero gradients not drawn)", xticks=depth
            )
            ax.grid(alpha=0.3)
            if row == 1:
                ax.set_xlabel("layer (1 = input side)")
            if column == 0:
                ax.set_ylabel("weight gradient L2 norm")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("weight-gradient norm per depth (a zero gradient is not drawn)")
    return save(fig, path)


def page(f):
    """The lesson page's text."""
    rows = "\n".join(
        f"| {r['activation']} | {r['init']} | {r['norms_init'][-1]:.2e} | "
        f"{_ratio(r['first_to_last_init'])} ({r['verdict_first_init']}) | "
        f"{r['loss_epoch1']:.4f} | {_ratio(r['first_to_last_epoch1'])} "
        f"({r['verdict_first_epoch1']}) |"
        for r in f["runs"]
    )
    t = f["thresholds"]
    relu = {r["init"]: r for r in f["runs"] if r["activation"] == "relu"}
    head = (
        "| activation | initialisation | last layer's norm at init | first/last at init | "
        "training loss, epoch 1 | first/last after one epoch |"
    )
    return f"""# Vanishing and exploding gradients: activation and initialisation

**Claim.** In a deep stack of sigmoid layers the gradient shrinks towards the input
(σ' ≤ 1/4 per layer); ReLU keeps it; badly scaled initial weights make it explode.

**Measured.** {f["depth"]}-layer MLPs, width {f["width"]}, on the 8x8 digits, softmax output;
"default" is Glorot uniform, "badly scaled" a normal with stddev 0.5. The ratio is the first
layer's weight-gradient norm over the last layer's, on 256 training images, at initialisation
and after one epoch of SGD (learning rate 0.05, batch 32). Verdicts: vanishing below
{t["vanishing_below"]:g}, exploding above {t["exploding_above"]:g}.

{head}
|---|---|---|---|---|---|
{rows}

Sigmoid shrinks the gradient by orders of magnitude towards the input; tanh, ReLU and PReLU
(its slope starts at 0, so it begins as ReLU) keep it level. A badly scaled initialisation
hardly shows in these ratios: a weight's gradient is the product of the activation coming in
(which grows layer by layer) and the error coming back (which shrinks the other way). It shows
in the size of every norm (ReLU's last layer: {relu["badly scaled"]["norms_init"][-1]:.2e}
against {relu["default"]["norms_init"][-1]:.2e} under the default) and in training: one epoch of
SGD at the rate that suits the default leaves the badly scaled ReLU net at a training loss of
{relu["badly scaled"]["loss_epoch1"]:.2f} (chance is ln 10 = 2.30); "no gradient" means that no
layer has any gradient left."""


CLAIM = "deep sigmoid stacks vanish gradients, ReLU keeps them; bad initial scales explode them"


def headline(f):
    """One line of measured figures for the README's table."""
    runs = {(r["activation"], r["init"]): r for r in f["runs"]}
    return (
        f"first/last layer gradient at init, {f['depth']} layers: sigmoid "
        f"{runs['sigmoid', 'default']['first_to_last_init']:.1e}, tanh "
        f"{runs['tanh', 'default']['first_to_last_init']:.2f}, ReLU "
        f"{runs['relu', 'default']['first_to_last_init']:.2f}; badly scaled ReLU: last-layer "
        f"norm {runs['relu', 'badly scaled']['norms_init'][-1]:.2f} vs "
        f"{runs['relu', 'default']['norms_init'][-1]:.2f}"
    )
