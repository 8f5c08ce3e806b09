"""`juanji explain`: its commands print measured numbers and write their figures."""

import json

import pytest

from juanji import cli

PNG = b"\x89PNG\r\n\x1a\n"


def _run(capsys, *argv):
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_parameters_prints_the_seed_cnn_savings(capsys):
    status, out, _ = _run(capsys, "explain", "parameters", "seed")
    assert status == 0
    header, first, second, third = out.splitlines()
    assert header.split()[:4] == ["layer", "input", "output", "conv"]
    assert first.split()[1:] == ["28x28x1", "24x24x4", "104", "59,904", "1,808,640"]
    assert second.split()[1:] == ["24x24x4", "22x22x8", "296", "143,264", "8,924,960"]
    assert third.split()[3] == "1,168"


def test_translation_prints_the_errors_and_writes_png_and_json(tmp_path, capsys):
    status, out, _ = _run(
        capsys, "explain", "translation", "seed", "--samples", "8", "--out", tmp_path
    )
    assert status == 0
    result = json.loads((tmp_path / "translation.json").read_text())
    assert max(r["error"] for r in result["circular"]) < 1e-5
    assert min(r["error"] for r in result["zero"]) > 1e-2
    assert result["survival"]["horizontal"][4] == 1.0  # shift 0
    assert (tmp_path / "translation.png").read_bytes()[:8] == PNG
    assert f"{result['zero'][0]['error']:.3e}" in out


def test_gradients_prints_verdicts_and_writes_png_and_json(tmp_path, capsys):
    status, out, _ = _run(
        capsys, "explain", "gradients", "seed", "--samples", "16", "--out", tmp_path
    )
    assert status == 0
    result = json.loads((tmp_path / "gradients.json").read_text())
    assert [r["type"] for r in result["layers"]] == ["Conv2D"] * 3 + ["Dense"] * 2
    assert all(r["verdict"] == "healthy" for r in result["layers"])
    assert "verdicts: vanishing if ratio < 0.001" in out
    assert (tmp_path / "gradients.png").read_bytes()[:8] == PNG


@pytest.mark.parametrize(
    "argv,fragment",
    [
        (["explain"], "LESSON"),
        (["explain", "parameters", "missing.juanji"], "no model file at 'missing.juanji'"),
        (["explain", "parameters", "mlp"], "no Conv2D layer"),
        (["explain", "translation", "mlp"], "does not start with image layers"),
        (["explain", "translation", "seed", "--dataset", "nope"], "unknown dataset 'nope'"),
        (["explain", "translation", "seed", "--samples", "0"], "--samples must be at least 1"),
        (["explain", "gradients", "seed", "--dataset", "folder:/no/such"], "no image folder"),
        (["explain", "study", "nope"], "invalid choice: 'nope'"),
        (["explain", "study", "cross-entropy", "--seed", "-1"], "--seed must be a non-negative"),
        (["explain", "study", "cross-entropy", "--out", "/dev/null/x"], "/dev/null/x"),
    ],
)
def test_bad_input_is_one_line_without_traceback(capsys, argv, fragment):
    status, _, err = _run(capsys, *argv)
    lines = err.strip().splitlines()
    assert status == cli.EXIT_ERROR and len(lines) == 1, err
    assert lines[0].startswith("juanji: error: ") and fragment in lines[0], lines[0]


def test_a_file_that_is_not_a_model_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.juanji"
    bad.write_bytes(b"not a zip")
    status, _, err = _run(capsys, "explain", "gradients", bad)
    assert status == cli.EXIT_ERROR and "cannot load model" in err and "Traceback" not in err
