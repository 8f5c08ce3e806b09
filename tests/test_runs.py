"""Run folders: nothing lost when a run is stopped at any point, one run per folder, and
resumes that continue the options the run started with."""

import functools
import json
import os
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from PIL import Image

from juanji import cli, runs
from juanji.datasets import digits
from juanji.models import load_model

OPTIONS = ["--model", "mlp", "--epochs", "1", "--verbose", "0", "--seed", "1"]


@pytest.fixture(autouse=True, scope="module")
def _fast():
    """Load the digits once, and write a stub report instead of drawing one."""
    cached = functools.lru_cache(digits.load_data)

    def stub_report(run_dir, *args, **kwargs):
        (run_dir / "report.html").write_text("stub")
        return run_dir / "report.html"

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli.digits, "load_data", lambda **kw: cached(**kw))
        patch.setattr(cli.report, "write_report", stub_report)
        yield


def _run(capsys, *argv):
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def _one_line_error(status, err, *fragments):
    lines = err.strip().splitlines()
    assert status == cli.EXIT_ERROR and len(lines) == 1, err
    assert lines[0].startswith("juanji: error: ") and "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def _same_weights(a, b):
    for got, want in zip(
        load_model(a / "model.juanji").get_weights(),
        load_model(b / "model.juanji").get_weights(),
        strict=True,
    ):
        np.testing.assert_array_equal(got, want)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A finished, uninterrupted run with OPTIONS."""
    out = tmp_path_factory.mktemp("runs") / "reference"
    assert cli.main(["train", "--out", str(out), *OPTIONS]) == 0
    return out


def _stop_at(monkeypatch, target, name, when=lambda *args: True):
    """Raise KeyboardInterrupt (as Ctrl-C would) at the first call of ``target.name`` whose
    arguments satisfy ``when``."""
    original = getattr(target, name)

    def stop(*args, **kwargs):
        if not when(*args):
            return original(*args, **kwargs)
        monkeypatch.setattr(target, name, original)
        raise KeyboardInterrupt

    monkeypatch.setattr(target, name, stop)


def _writing_the_model(model, path, *args, **kwargs):
    return os.path.basename(path) == "model.juanji"


@pytest.fixture(scope="module")
def stopped(tmp_path_factory):
    """A run stopped after its last epoch, as model.juanji was about to be written."""
    out = tmp_path_factory.mktemp("runs") / "stopped"
    with pytest.MonkeyPatch.context() as patch:
        _stop_at(patch, cli.saving, "save_model", _writing_the_model)
        assert cli.main(["train", "--out", str(out), *OPTIONS]) == cli.EXIT_INTERRUPTED
    return out


# --- nothing lost ------------------------------------------------------------------------
def _resumes_to_the_reference(out, capsys, reference):
    assert (out / "backup" / "backup.juanji").is_file()  # the last epoch is still on disk
    status, _, err = _run(capsys, "train", "--resume", "--out", out)
    assert status == 0, err
    assert (out / "report.html").is_file() and (out / "metrics.json").is_file()
    assert not (out / "backup").exists()
    _same_weights(out, reference)


def test_a_run_stopped_before_its_model_is_written_resumes_to_its_report(
    stopped, tmp_path, capsys, reference
):
    out = tmp_path / "run"
    shutil.copytree(stopped, out)
    assert not (out / "model.juanji").exists()
    _resumes_to_the_reference(out, capsys, reference)


def test_a_run_stopped_while_writing_its_report_resumes_to_it(
    tmp_path, monkeypatch, capsys, reference
):
    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        _stop_at(patch, cli.report, "write_report")
        status, _, err = _run(capsys, "train", "--out", out, *OPTIONS)
    assert status == cli.EXIT_INTERRUPTED and "Traceback" not in err
    _resumes_to_the_reference(out, capsys, reference)


def test_a_finished_run_is_extended_only_by_an_explicit_epochs(tmp_path, capsys, reference):
    out = tmp_path / "extended"
    shutil.copytree(reference, out)
    status, _, err = _run(capsys, "train", "--resume", "--out", out)
    _one_line_error(status, err, "finished", "--epochs N")
    status, _, err = _run(capsys, "train", "--resume", "--out", out, "--epochs", "1")
    _one_line_error(status, err, "--epochs 1", "is at epoch 1 already")
    status, _, err = _run(capsys, "train", "--resume", "--out", out, "--epochs", "2")
    assert status == 0, err
    assert json.loads((out / "args.json").read_text())["epochs"] == 2
    assert json.loads((out / "metrics.json").read_text())["epochs_run"] == 1
    longer = tmp_path / "two"
    options = [*OPTIONS[:2], "--epochs", "2", *OPTIONS[4:]]
    assert _run(capsys, "train", "--out", longer, *options)[0] == 0
    _same_weights(out, longer)


# --- one run per folder ------------------------------------------------------------------
def test_a_second_run_into_a_busy_folder_is_refused_at_once(tmp_path, capsys):
    out = tmp_path / "busy"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from juanji import runs\n"
            f"with runs.locked({str(out)!r}):\n"
            "    print('held', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    try:
        assert holder.stdout.readline() == "held\n"
        status, _, err = _run(capsys, "train", "--out", out, *OPTIONS)
        _one_line_error(status, err, str(out), "in use by another juanji train", str(holder.pid))
        assert sorted(p.name for p in out.iterdir()) == [".lock"]  # nothing written
    finally:
        holder.communicate("", timeout=60)
    with runs.locked(out):  # released when its holder ended
        pass


def test_default_run_folders_are_created_atomically(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli.time, "strftime", lambda fmt: "20260101-000000")
    args = cli.build_parser().parse_args(["train"])
    first, second = cli._run_dir(args), cli._run_dir(args)
    assert first.is_dir() and second.is_dir() and first != second


# --- resumes keep the run's options ------------------------------------------------------
@pytest.mark.parametrize(
    "field,value", [("learning_rate", 0.5), ("batch_size", 7), ("seed", 99), ("epochs", 5)]
)
def test_a_resume_with_edited_options_is_refused_naming_the_field(
    stopped, tmp_path, capsys, field, value
):
    out = tmp_path / "edited"
    shutil.copytree(stopped, out)
    saved = json.loads((out / "args.json").read_text())
    before = saved[field]
    saved[field] = value
    (out / "args.json").write_text(json.dumps(saved))
    status, _, err = _run(capsys, "train", "--resume", "--out", out)
    _one_line_error(status, err, f"{field} (was {before!r}, now {value!r})")


# --- bad input never prints a traceback ----------------------------------------------------
def test_predict_reports_a_decompression_bomb_in_one_line(reference, tmp_path, monkeypatch, capsys):
    bomb = tmp_path / "bomb.png"
    Image.new("L", (100, 100)).save(bomb)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    status, _, err = _run(capsys, "predict", reference / "model.juanji", bomb)
    _one_line_error(status, err, "bomb.png", "DecompressionBombError")


def test_predict_refuses_a_fifo_in_one_line(reference, tmp_path, capsys):
    fifo = tmp_path / "wait.png"
    os.mkfifo(fifo)
    status, _, err = _run(capsys, "predict", reference / "model.juanji", fifo)
    _one_line_error(status, err, "wait.png", "not a regular file")


def test_hostile_model_files_are_one_line_errors(tmp_path, capsys):
    deep = tmp_path / "deep.juanji"
    with zipfile.ZipFile(deep, "w") as archive:
        archive.writestr("config.json", "[" * 50_000 + "]" * 50_000)
    for command in ("summary", "predict"):
        argv = [command, deep] + ([tmp_path / "x.png"] if command == "predict" else [])
        status, _, err = _run(capsys, *argv)
        _one_line_error(status, err, "deep.juanji", "config.json", "levels deep")


def test_a_validation_split_leaving_less_than_a_batch_is_refused(tmp_path, capsys):
    argv = ["train", "--out", tmp_path / "r", *OPTIONS, "--validation-split", "0.999"]
    status, _, err = _run(capsys, *argv)
    _one_line_error(status, err, "--validation-split 0.999 leaves 2 of 1437 training images")


def test_a_diverging_run_stops_with_one_line(tmp_path, capsys):
    argv = ["train", "--out", tmp_path / "r", *OPTIONS, "--learning-rate", "1e38"]
    with np.errstate(over="ignore", invalid="ignore"):
        status, _, err = _run(capsys, *argv)
    _one_line_error(status, err, "training stopped at epoch 1, batch", "NaN or infinite")
    assert not (tmp_path / "r" / "model.juanji").exists()


@pytest.mark.skipif(
    not os.environ.get("JUANJI_KILL_TEST"), reason="slow: JUANJI_KILL_TEST=N kills N runs"
)
def test_sigkills_at_random_moments_lose_no_run(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = os.path.join(root, "benchmarks", "kill_train.py")
    kills = os.environ["JUANJI_KILL_TEST"]
    argv = [sys.executable, script, "--kills", kills, "--epochs", "3", "--work", str(tmp_path)]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{kills} runs killed; 0 of" in done.stdout
