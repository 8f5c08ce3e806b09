"""benchmarks/compare.py keeps working: minimal runs of its whole pipeline (no timing asserts)."""

import math
import os
import pathlib
import re
import subprocess
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))

import _peers  # noqa: E402
import compare  # noqa: E402

# Trainable parameters of each benchmarked model (vgg_small: without the 384 moving statistics).
TRAINABLE = {"seed_cnn": 35_754, "lenet5": 61_706, "mlp": 235_146, "vgg_small": 591_466}
MINIMAL = ["--quick", "--steps", "1", "--repeats", "1", "--no-memory"]


def test_every_model_runs_in_every_installed_framework(capsys):
    rows = compare.main(MINIMAL + ["--threads", "1"])
    frameworks = {"juanji"} | {f for f in ("pytorch", "keras") if _peers.available(f)}
    assert {(r["model"], r["framework"]) for r in rows} == {
        (m, f) for m in compare.MODELS for f in frameworks
    }
    for row in rows:
        assert row["params"] == TRAINABLE[row["model"]]
        assert math.isfinite(row["train"]) and row["train"] > 0
        assert math.isfinite(row["infer"]) and row["infer"] > 0
        assert row["rss_mb"] is None
    out = capsys.readouterr().out
    assert "juanji train / peer" in out and "peak memory not measured" in out
    # A train and an infer ratio on every peer row (no memory ratio without memory figures).
    ratios = re.findall(r"\b\d+\.\d\dx\b", out)
    assert len(ratios) == 2 * (len(frameworks) - 1) * len(compare.MODELS)


def test_markdown_table_has_one_line_per_row():
    _, settings = compare.parse_args(MINIMAL + ["--models", "mlp", "--threads", "1"])
    rows = compare.run(settings, log=lambda line: None)
    table = compare.format_table(rows, markdown=True).splitlines()
    assert len(table) == len(rows) + 2
    assert table[1].startswith("|---|") and all(line.startswith("| ") for line in table[2:])
    assert all(line.count("|") == table[0].count("|") for line in table)


def test_memory_probe_counts_the_training_step():
    _, settings = compare.parse_args(["--models", "mlp", "--threads", "1", "--memory-steps", "1"])
    memory = compare.memory_in_subprocess("juanji", "mlp", settings)
    weights_mb = TRAINABLE["mlp"] * 4 / 2**20
    # One step allocates at least the gradients of every weight.
    assert memory["traced_mb"] > weights_mb
    assert memory["rss_mb"] >= 0


def test_a_peer_that_differs_is_caught():
    pytest.importorskip("torch")
    data = compare.make_data("mlp")
    runners = compare.make_runners("mlp", data, ["juanji", "pytorch"])
    compare.check_same_models("mlp", runners)
    runners = compare.make_runners("mlp", data, ["juanji", "pytorch"])
    with runners[1].torch.no_grad():
        runners[1].net[1].bias.add_(0.1)
    with pytest.raises(RuntimeError, match="predictions differ"):
        compare.check_same_models("mlp", runners)


def test_the_script_runs_from_the_command_line():
    # A separate process, as users run it, with juanji's process-wide malloc tuning off.
    script = pathlib.Path(compare.__file__)
    args = MINIMAL + ["--models", "mlp", "--frameworks", "juanji", "--threads", "1"]
    env = {**os.environ, "JUANJI_MALLOC_TUNING": "0"}
    done = subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    assert "the C library's default malloc settings" in done.stdout
    assert re.search(r"^mlp +235,146 +juanji +[\d,]+ +[\d,]+$", done.stdout, re.MULTILINE)


def test_missing_keras_is_skipped_with_a_note(monkeypatch):
    installed = _peers.available
    monkeypatch.setattr(
        _peers, "available", lambda framework: framework != "keras" and installed(framework)
    )
    _, settings = compare.parse_args(MINIMAL)
    assert "keras is not installed: skipped." in compare.describe(settings)


@pytest.mark.parametrize(
    "argv", [["--models", "resnet"], ["--frameworks", "pytorch"], ["--models", ""]]
)
def test_bad_arguments_are_refused(argv):
    with pytest.raises(SystemExit):
        compare.parse_args(argv)


def test_the_op_benchmark_runs_every_row(capsys):
    pytest.importorskip("torch")
    import ops  # benchmarks/ops.py

    rows = ops.main(["--repeats", "1", "--block", "0", "--settle", "0", "--batch", "2"])
    assert len(rows) == 8 and all(juanji_ms > 0 and torch_ms > 0 for _, juanji_ms, torch_ms in rows)
    assert "ratio" in capsys.readouterr().out


def test_the_op_benchmark_runs_every_volume_row_and_measures_memory(capsys):
    pytest.importorskip("torch")
    import ops  # benchmarks/ops.py

    argv = ["--suite", "volumes", "--depth", "8", "--repeats", "1", "--block", "0"]
    rows = ops.main([*argv, "--settle", "0", "--threads", "1"])
    assert len(rows) == 14 and all(
        juanji_ms > 0 and torch_ms > 0 for _, juanji_ms, torch_ms in rows
    )
    growth, activations = ops.main(["--memory", "--depth", "8", "--threads", "1"])
    # NOTE: in this long-lived process the U-Net may run in memory freed earlier, so its RSS
    # growth can be 0; the activations it must keep are counted exactly: the volume, then
    # conv, batch norm and ReLU outputs per block, an add per skip, the logits and the softmax.
    values = 8 * 16 * 24 * 32 + 3 * 8 * 16 * 24 * 8  # the volume, the first block
    values += 2 * 3 * 4 * 8 * 12 * 16 + 2 * 3 * 2 * 4 * 6 * 32 + 2 * 3 * 1 * 2 * 3 * 64  # down
    values += 4 * (2 * 4 * 6 * 32 + 4 * 8 * 12 * 16 + 8 * 16 * 24 * 8)  # up, with the adds
    values += 2 * 8 * 16 * 24  # logits and probabilities
    assert growth >= 0 and activations == 4 * values
    assert "load average" in capsys.readouterr().out


def test_the_augmentation_benchmark_reports_a_slowdown(capsys):
    import augment  # benchmarks/augment.py

    slowdown = augment.main(["--steps", "1", "--repeats", "1", "--batch-size", "8"])
    assert slowdown > 0 and "slowdown" in capsys.readouterr().out
