"""Sweeps over ``juanji train`` options on Ray Tune: a grid or a random search, each trial a
juanji run folder, bad trials stopped early by ASHA.

A sweep is a set of *axes*; each axis is a list of *choices*, and a choice is a label with the
``juanji train`` options it sets (``{"loss": "mse"}``; the text's optimizer axis sets the
learning rate too). A trial is one choice from every axis, run as ``juanji train`` would run
it, in its own folder ``OUT/trials/<label>``, reporting every epoch to Tune.

``ray`` is imported only inside :func:`run_sweep`: ``import juanji`` never loads it.
"""

import csv
import json
import os
import time
from pathlib import Path

import numpy as np

# The text's choices: the loss, the output layer's activation, the hidden units' activation
# and the optimizer. Adagrad and Adadelta run at the learning rates their authors (and Keras 1,
# which the text used) gave them; Keras 3's Adadelta default of 0.001 barely moves in a few
# epochs.
TEXT_GRID = {
    "loss": {"mse": {"loss": "mse"}, "cross_entropy": {"loss": "categorical_crossentropy"}},
    "output_activation": {
        "sigmoid": {"output_activation": "sigmoid"},
        "softmax": {"output_activation": "softmax"},
    },
    "activation": {
        name: {"activation": name} for name in ("sigmoid", "tanh", "relu", "prelu", "softplus")
    },
    "optimizer": {
        "sgd_nesterov": {},  # the zoo's own recipe: SGD(0.05, momentum 0.9, Nesterov)
        "adagrad": {"optimizer": "adagrad", "learning_rate": "0.01"},
        "adadelta": {"optimizer": "adadelta", "learning_rate": "1.0"},
    },
}

# A trial's first epoch at or above this validation accuracy is its "epochs to converge".
CONVERGED_ACCURACY = 0.9


def parse_grid(specs, train_options):
    """Axes from ``--grid`` values: ``"text"`` (the text's whole grid) or ``"NAME=V1,V2"``.

    Args:
        specs: the ``--grid`` strings.
        train_options: the names ``juanji train`` takes (``"learning_rate"``...).

    Returns:
        ``{axis: {label: {option: value}}}``, values as the command line would give them.

    Raises:
        ValueError: for an unknown option, an empty value list, or an axis given twice.
    """
    axes = {}
    for spec in specs:
        if spec == "text":
            new = TEXT_GRID
        else:
            name, sep, values = spec.partition("=")
            option = name.strip().replace("-", "_")
            if not sep or option not in train_options:
                raise ValueError(
                    f"--grid {spec!r}: expected NAME=V1,V2,... with NAME a train option "
                    f"({', '.join(sorted(train_options))}), or 'text'"
                )
            labels = [v.strip() for v in values.split(",") if v.strip()]
            if not labels:
                raise ValueError(f"--grid {spec!r}: no values after '='")
            new = {option: {label: {option: label} for label in labels}}
        for axis in new:
            if axis in axes:
                raise ValueError(f"--grid: the option {axis!r} is swept twice")
        axes.update(new)
    if not axes:
        raise ValueError("--grid: give at least one NAME=V1,V2 or 'text'")
    return axes


def trial_options(axes, config):
    """The ``juanji train`` options of the trial whose labels are ``config`` (axis -> label)."""
    options = {}
    for axis, label in config.items():
        options.update(axes[axis][label])
    return options


def trial_label(config):
    """A folder name for a trial: its labels joined in axis order."""
    return "-".join(f"{axis}={label}" for axis, label in config.items())


def train_argv(base, options, run_dir):
    """The ``juanji train`` arguments of one trial: the sweep's own options, then the trial's."""
    argv = ["train", "--out", os.fspath(run_dir), "--verbose", "0"]
    for name, value in {**base, **options}.items():
        if value is None or value is False:
            continue
        flag = "--" + name.replace("_", "-")
        argv += [flag] if value is True else [flag, str(value)]
    return argv


def summarize(history, seconds):
    """A trial's row figures from its per-epoch ``val_accuracy`` (and ``val_loss``) lists."""
    accuracy = history.get("val_accuracy") or [float("nan")]
    converged = next((i + 1 for i, a in enumerate(accuracy) if a >= CONVERGED_ACCURACY), None)
    return {
        "epochs_run": len(history.get("val_accuracy", [])),
        "final_val_accuracy": accuracy[-1],
        "best_val_accuracy": max(accuracy),
        "final_val_loss": (history.get("val_loss") or [float("nan")])[-1],
        f"epochs_to_{CONVERGED_ACCURACY:g}": converged,
        "seconds": seconds,
    }


def _trainable(axes, base, out, cpus):
    """The function Tune runs once per trial (in a Ray worker process): the ``juanji train``
    run of the trial's options, reporting each epoch's logs to Tune (which ASHA reads)."""

    def trial(config):
        import threadpoolctl
        from ray import tune

        from juanji import callbacks, cli

        class ReportToTune(callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                tune.report({**(logs or {}), "epoch": epoch + 1})

        run_dir = Path(out) / "trials" / trial_label(config)
        args = cli.build_parser().parse_args(train_argv(base, trial_options(axes, config), run_dir))
        with threadpoolctl.threadpool_limits(cpus):
            cli.cmd_train(args, extra_callbacks=[ReportToTune()])

    return trial


def run_sweep(
    axes,
    *,
    out,
    base_options=None,
    random_samples=None,
    cpus_per_trial=1,
    asha=True,
    address=None,
    seed=0,
):
    """Run every trial of ``axes`` (or ``random_samples`` random ones) on Ray Tune.

    Args:
        axes: ``{axis: {label: {option: value}}}`` (see :func:`parse_grid`).
        out: the sweep's folder: ``trials/`` (one juanji run folder each), ``results.csv``,
            ``results.json``, ``sweep.png``, and Tune's own records under ``ray/``.
        base_options: ``juanji train`` options every trial shares (``{"epochs": 2}``).
        random_samples: None for the full grid, else how many random trials to draw.
        cpus_per_trial: Ray CPUs per trial; each trial's BLAS and juanji threads follow it.
        asha: stop trials early whose validation accuracy trails (ASHA).
        address: a Ray cluster's address; None starts (or joins) a local Ray.
        seed: seed of the random search's draws.

    Returns:
        the result rows, best first (see :func:`summarize`), one per trial.
    """
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search import BasicVariantGenerator

    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    base = dict(base_options or {})
    epochs = int(base.get("epochs") or 12)
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    pick = tune.choice if random_samples else tune.grid_search
    space = {axis: pick(list(choices)) for axis, choices in axes.items()}
    scheduler = (
        ASHAScheduler(time_attr="epoch", max_t=epochs, grace_period=max(1, epochs // 4))
        if asha
        else None
    )
    tuner = tune.Tuner(
        tune.with_resources(_trainable(axes, base, out, cpus_per_trial), {"cpu": cpus_per_trial}),
        param_space=space,
        tune_config=tune.TuneConfig(
            metric="val_accuracy",
            mode="max",
            scheduler=scheduler,
            num_samples=random_samples or 1,
            search_alg=BasicVariantGenerator(random_state=seed),
        ),
        run_config=tune.RunConfig(storage_path=os.fspath(out / "ray"), name="sweep", verbose=0),
    )
    start = time.perf_counter()
    grid = tuner.fit()
    rows = _rows(grid, axes)
    _write_results(out, rows, time.perf_counter() - start, axes)
    return rows


def _rows(grid, axes):
    """One row per trial from Tune's results: its labels, figures and accuracy curve."""
    rows = []
    for result in grid:
        frame = result.metrics_dataframe
        history = {}
        if frame is not None:
            history = {
                k: [float(v) for v in frame[k]] for k in ("val_accuracy", "val_loss") if k in frame
            }
        seconds = float(frame["time_total_s"].iloc[-1]) if frame is not None else float("nan")
        rows.append(
            {
                **{axis: result.config[axis] for axis in axes},
                **summarize(history, seconds),
                "failed": result.error is not None,
                "curve": history.get("val_accuracy", []),
            }
        )
    return sorted(rows, key=lambda r: (r["failed"], -np.nan_to_num(r["best_val_accuracy"])))


def format_table(rows, axes):
    """The results as a plain-text table, one line per trial, best first."""
    figures = [k for k in rows[0] if k not in axes and k not in ("curve", "failed")] if rows else []
    header = [*axes, *figures]
    lines = [header] + [[_cell(row[k]) for k in header] for row in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)) for line in lines)


def _cell(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def _write_results(out, rows, seconds, axes):
    """``results.csv``, ``results.json`` (with the curves) and ``sweep.png``."""
    columns = [k for k in rows[0] if k != "curve"] if rows else []
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    (out / "results.json").write_text(
        json.dumps({"seconds": seconds, "trials": [_finite_or_none(r) for r in rows]}, indent=1)
        + "\n"
    )
    plot_results(rows, axes, out / "sweep.png")


def _finite_or_none(row):
    """``row`` with NaN figures (a trial that never validated) as None, for strict JSON."""
    return {k: None if isinstance(v, float) and v != v else v for k, v in row.items()}


def plot_results(rows, axes, path):
    """Validation accuracy per epoch of every trial (left) and each trial's best validation
    accuracy grouped by the first two axes (right), written to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    names = list(axes)
    group_axes = names[:2]
    groups = sorted({tuple(row[a] for a in group_axes) for row in rows})
    colours = plt.cm.tab10(np.linspace(0, 1, max(len(groups), 1), endpoint=False))
    figure, (curves, bars) = plt.subplots(1, 2, figsize=(12, 4.5))
    for row in rows:
        colour = colours[groups.index(tuple(row[a] for a in group_axes))]
        curve = row["curve"]
        curves.plot(range(1, len(curve) + 1), curve, color=colour, alpha=0.6, marker=".")
    curves.set(xlabel="epoch", ylabel="validation accuracy", title="every trial", ylim=(0, 1))
    best = [
        np.array([r["best_val_accuracy"] for r in rows if tuple(r[a] for a in group_axes) == g])
        for g in groups
    ]
    means = [b.mean() for b in best]
    spread = [
        [m - b.min() for m, b in zip(means, best)],
        [b.max() - m for m, b in zip(means, best)],
    ]
    bars.barh(range(len(groups)), means, xerr=spread, color=colours, alpha=0.7, capsize=3)
    bars.set_yticks(range(len(groups)), [" + ".join(g) for g in groups])
    bars.set(
        xlabel="best validation accuracy (mean, min to max)",
        title=f"by {' and '.join(group_axes)}",
        xlim=(0, 1),
    )
    curves.xaxis.get_major_locator().set_params(integer=True)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
