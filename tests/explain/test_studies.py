"""Each study's command at its reduced size: the numbers its claim rests on, and its files."""

import json
import math

import numpy as np
import pytest

from juanji import cli
from juanji.explain import studies

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("lessons")


def _study(out, name, capsys=None):
    """Run ``juanji explain study NAME --quick`` and return its JSON figures."""
    assert cli.main(["explain", "study", name, "--quick", "--out", str(out)]) == 0
    assert (out / f"{name}.png").read_bytes()[:8] == PNG
    figures = json.loads((out / f"{name}.json").read_text())
    page = (out / f"{name}.md").read_text()
    assert page == studies.render_page(name, figures)
    assert f"juanji explain study {name} --out docs/lessons --quick" in page
    return figures


def test_cross_entropy_reproduces_the_worked_example(out, capsys):
    f = _study(out, "cross-entropy")
    assert f"{f['minus_log_q4']:.4f}" == "2.4361"
    assert f"{f['loss_minus_log_sum']:.4f}" == "2.4361"  # juanji's loss, its division by Σq undone
    q = np.array(f["q"])
    assert f["loss_printed_q"] == pytest.approx(-math.log(q[4] / q.sum()), rel=1e-12)
    assert f["sparse_loss_printed_q"] == pytest.approx(f["loss_printed_q"], rel=1e-12)
    assert f["gradient"]["max_autograd_vs_formula"] < 1e-12
    assert f["gradient"]["max_autograd_vs_finite_differences"] < 1e-7
    assert "2.4361" in capsys.readouterr().out


def test_mse_with_a_sigmoid_needs_more_epochs_than_cross_entropy(out):
    f = _study(out, "loss-activation")
    epochs = {v["loss"]: v["epochs_to_target"] for v in f["variants"]}
    assert epochs["binary_crossentropy"] is not None
    assert epochs["mse"] is None or epochs["mse"] > epochs["binary_crossentropy"]
    assert epochs["categorical_crossentropy"] <= epochs["binary_crossentropy"]
    mse = next(v for v in f["variants"] if v["loss"] == "mse")
    assert len(mse["val_accuracy"]) == f["epochs"]


def test_sigmoid_stacks_vanish_and_relu_ones_do_not(out):
    f = _study(out, "vanishing")
    runs = {(r["activation"], r["init"]): r for r in f["runs"]}
    assert len(runs) == 10 and all(len(r["norms_init"]) == f["depth"] for r in f["runs"])
    assert runs["sigmoid", "default"]["verdict_first_init"] == "vanishing"
    assert runs["sigmoid", "default"]["first_to_last_init"] < 1e-3
    for activation in ("tanh", "relu", "prelu"):
        assert runs[activation, "default"]["verdict_first_init"] == "healthy"
    bad, good = runs["relu", "badly scaled"], runs["relu", "default"]
    assert bad["norms_init"][-1] > 10 * good["norms_init"][-1]


def test_invariance_accuracy_falls_with_the_shift(out):
    f = _study(out, "invariance")
    centre = f["shifts"].index(0)
    for network in f["networks"]:
        accuracy = network["accuracy"]
        assert accuracy[centre] > max(accuracy[0], accuracy[-1])


def test_svm_heads_on_the_penultimate_features(out):
    f = _study(out, "svm-head")
    assert f["feature_dim"] == 128
    assert all(0.5 < v <= 1 for v in [f["softmax"], *f["svm"].values()])


def test_bp_network_at_the_cnn_budget_and_its_other_uses(out):
    f = _study(out, "bp-vs-cnn")
    bp, cnn = f["classification"]["models"]
    assert cnn["parameters"] == 35_754 and abs(bp["parameters"] - 35_754) < 800
    approx, compression = f["approximation"], f["compression"]
    assert approx["rms_error"] < approx["rms_target"]
    assert compression["mse_pca"] < compression["mse_mean_image"]
    assert compression["mse_autoencoder"] < compression["mse_mean_image"]


def test_the_neocognitron_responds_to_each_pattern_at_every_trained_shift(out):
    f = _study(out, "neocognitron")
    responses = np.array(f["responses"])  # (patterns, trained shifts, final cells)
    assert responses.shape == (5, 9, f["final_cells"])
    own = responses[np.arange(5), :, f["pattern_cell"]]
    assert own.min() > 0.1
    assert all(f["same_winner_at_trained_shifts"])
    assert f["distinct_cells"] == 5  # self-organised: one final cell per pattern
    even = [v for s, v in zip(f["test_shifts"], f["neocognitron_unchanged"]) if s % 2 == 0]
    assert min(even) == 1.0  # a shift by the first C-layer's stride moves whole cells
    assert own.min(axis=1).tolist() == pytest.approx(f["weakest_response"])
    centre = f["test_shifts"].index(0)
    assert f["neocognitron_unchanged"][centre] == f["cnn_unchanged"][centre] == 1.0


def test_an_unknown_study_is_refused():
    with pytest.raises(ValueError, match="Expected a study in"):
        studies.study_module("nope")
