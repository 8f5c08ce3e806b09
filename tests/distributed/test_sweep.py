"""Sweeps of `juanji train` options: grids parsed, trials run on a local Ray, results kept."""

import csv
import json
import sys

import pytest

from juanji import cli
from juanji.distributed import sweep


def test_grid_specs_become_axes_of_train_options():
    axes = sweep.parse_grid(
        ["loss=mse,categorical_crossentropy", "batch-size=16"], cli.TRAIN_OPTIONS
    )
    assert axes == {
        "loss": {
            "mse": {"loss": "mse"},
            "categorical_crossentropy": {"loss": "categorical_crossentropy"},
        },
        "batch_size": {"16": {"batch_size": "16"}},
    }
    text = sweep.parse_grid(["text"], cli.TRAIN_OPTIONS)
    assert [len(v) for v in text.values()] == [2, 2, 5, 3]  # 60 trials


@pytest.mark.parametrize(
    "spec, message",
    [("lossmse", "expected NAME=V1"), ("colour=red", "expected NAME=V1"), ("loss=", "no values")],
)
def test_bad_grid_specs_are_named(spec, message):
    with pytest.raises(ValueError, match=message):
        sweep.parse_grid([spec], cli.TRAIN_OPTIONS)
    with pytest.raises(ValueError, match="swept twice"):
        sweep.parse_grid(["loss=mse", "loss=mae"], cli.TRAIN_OPTIONS)


def test_a_trial_is_the_train_run_of_its_options(tmp_path):
    axes = sweep.parse_grid(["text"], cli.TRAIN_OPTIONS)
    config = {
        "loss": "mse",
        "output_activation": "sigmoid",
        "activation": "prelu",
        "optimizer": "adadelta",
    }
    argv = sweep.train_argv(
        {"epochs": 2, "augment": None}, sweep.trial_options(axes, config), tmp_path
    )
    options = cli.resolve_train_options(argv)
    assert (options["loss"], options["output_activation"], options["activation"]) == (
        "mse",
        "sigmoid",
        "prelu",
    )
    assert (options["optimizer"], options["learning_rate"], options["epochs"]) == (
        "adadelta",
        1.0,
        2,
    )


def test_convergence_is_the_first_epoch_at_the_threshold():
    row = sweep.summarize({"val_accuracy": [0.5, 0.91, 0.95], "val_loss": [1, 0.5, 0.3]}, 2.0)
    assert row["epochs_to_0.9"] == 2 and row["best_val_accuracy"] == 0.95
    assert sweep.summarize({"val_accuracy": [0.5]}, 1.0)["epochs_to_0.9"] is None


def test_bad_values_are_refused_before_any_trial(capsys):
    assert cli.main(["sweep", "--grid", "loss=nope"]) == cli.EXIT_ERROR
    assert "--grid loss=nope" in capsys.readouterr().err


def test_a_sweep_runs_its_trials_and_writes_the_table(local_ray, tmp_path, capsys):
    out = tmp_path / "sweep"
    argv = [
        "sweep",
        "--epochs",
        "2",
        "--model",
        "mlp",
        "--grid",
        "loss=mse,categorical_crossentropy",
    ]
    assert cli.main([*argv, "--no-asha", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["loss"] for r in rows) == ["categorical_crossentropy", "mse"]
    assert all(r["epochs_run"] == "2" for r in rows)
    assert "categorical_crossentropy" in printed and (out / "sweep.png").stat().st_size > 0
    for loss in ("mse", "categorical_crossentropy"):
        run = out / "trials" / f"loss={loss}"
        assert (run / "model.juanji").is_file()
        assert json.loads((run / "args.json").read_text())["loss"] == loss
    # the text's claim on digits: cross-entropy learns faster than MSE with the same net
    best = {r["loss"]: float(r["best_val_accuracy"]) for r in rows}
    assert best["categorical_crossentropy"] > best["mse"]


def test_without_ray_the_sweep_says_which_extra_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    assert cli.main(["sweep", "--grid", "loss=mse"]) == cli.EXIT_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'juanji[ray]'" in err
