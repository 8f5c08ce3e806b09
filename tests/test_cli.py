"""The ``juanji`` command, in-process through ``cli.main`` and once as ``python -m juanji``."""

import csv
import functools
import json
import re
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from PIL import Image

from juanji import callbacks, cli
from juanji.datasets import digits
from juanji.models import load_model

FAST = ["--epochs", "2", "--verbose", "0"]


@pytest.fixture(autouse=True, scope="module")
def _digits_loaded_once():
    """Each run loads (and resizes) the digits; the tests load them once."""
    cached = functools.lru_cache(digits.load_data)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli.digits, "load_data", lambda **kw: cached(**kw))
        yield


@pytest.fixture
def no_report(monkeypatch):
    """Skip drawing the report where a test looks only at the weights and the history."""
    monkeypatch.setattr(cli.report, "write_report", lambda run_dir, *args, **kw: run_dir)


def _run(capsys, *argv):
    """``(exit status, stdout, stderr)`` of ``juanji argv...`` run in this process."""
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def _assert_one_line_error(status, err, *fragments):
    assert status == cli.EXIT_ERROR
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("juanji: error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A finished 2-epoch run of the seed CNN on digits (the defaults, fewer epochs)."""
    out = tmp_path_factory.mktemp("runs") / "seed"
    assert cli.main(["train", "--out", str(out), *FAST]) == 0
    return out


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Digits test images saved in assorted sizes and modes, and their labels."""
    folder = tmp_path_factory.mktemp("images")
    (_, _), (x_test, y_test) = digits.load_data(image_size=(56, 48))
    pixels = x_test[:4, :, :, 0]
    files = [folder / "gray.png", folder / "rgb.jpg", folder / "rgba.png", folder / "small.bmp"]
    Image.fromarray(pixels[0]).save(files[0])
    Image.fromarray(pixels[1]).convert("RGB").save(files[1], quality=95)
    Image.fromarray(pixels[2]).convert("RGBA").save(files[2])
    Image.fromarray(pixels[3]).resize((8, 8)).save(files[3])
    return files, y_test[:4]


# --- train -------------------------------------------------------------------------------
def test_train_writes_the_run_folder(run_dir):
    for name in (
        "args.json",
        "model.juanji",
        "history.csv",
        "history.json",
        "metrics.json",
        "report.html",
        "loss.png",
        "accuracy.png",
        "confusion_matrix.png",
    ):
        assert (run_dir / name).is_file(), name
    assert not (run_dir / "backup").exists()  # removed once the run finished
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.85 and metrics["test_loss"] < 0.6
    assert (metrics["dataset"], metrics["model"], metrics["seed"]) == ("digits", "seed", 0)
    assert metrics["epochs"] == 2 and metrics["train_samples"] == 1150
    assert metrics["train_seconds"] > 0 and metrics["infer_samples_per_s"] > 0
    history = json.loads((run_dir / "history.json").read_text())
    assert len(history["loss"]) == len(history["val_accuracy"]) == 2
    with open(run_dir / "history.csv") as f:
        assert [row["epoch"] for row in csv.DictReader(f)] == ["0", "1"]
    args = json.loads((run_dir / "args.json").read_text())
    assert args["epochs"] == 2 and args["batch_size"] == 32 and args["validation_split"] == 0.2
    page = (run_dir / "report.html").read_text()
    assert all((run_dir / name).is_file() for name in re.findall(r'<img src="([^"]+)"', page))
    model = load_model(run_dir / "model.juanji")
    assert model.count_params() == 35754


def test_train_defaults_are_the_seed_cnn_on_digits():
    options = cli._resolved_options(cli.build_parser().parse_args(["train"]))
    assert options["dataset"] == "digits" and options["model"] == "seed"
    assert (options["epochs"], options["batch_size"]) == (12, 32)
    assert options["validation_split"] == 0.2 and options["optimizer"] is None
    mnist = cli._resolved_options(cli.build_parser().parse_args(["train", "--dataset", "mnist"]))
    assert (mnist["epochs"], mnist["batch_size"]) == (10, 100)


def test_train_shows_progress_and_defaults_to_a_timestamped_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    status, out, _ = _run(
        capsys,
        "train",
        "--epochs",
        "1",
        "--model",
        "mlp",
        "--optimizer",
        "adam",
        "--learning-rate",
        "0.001",
    )
    assert status == 0
    (run,) = (tmp_path / "runs").iterdir()
    assert (run / "model.juanji").is_file() and "Epoch 1/1" in out and "test accuracy" in out
    model = load_model(run / "model.juanji")
    assert type(model.optimizer).__name__ == "Adam" and model.optimizer.learning_rate == 0.001


def test_train_takes_the_loss_and_activations_of_the_run(tmp_path, no_report):
    out = tmp_path / "run"
    argv = ["train", "--out", out, "--epochs", "1", "--model", "mlp", "--loss", "mse"]
    assert (
        cli.main(
            [
                str(a)
                for a in [
                    *argv,
                    "--activation",
                    "prelu",
                    "--verbose",
                    "0",
                    "--output-activation",
                    "sigmoid",
                ]
            ]
        )
        == 0
    )
    options = json.loads((out / "args.json").read_text())
    assert (options["loss"], options["activation"], options["output_activation"]) == (
        "mse",
        "prelu",
        "sigmoid",
    )
    model = load_model(out / "model.juanji")
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("PReLU") == 2 and model.layers[-1].get_config()["activation"] == "sigmoid"
    x, y = np.zeros((2, 28, 28, 1), np.float32), np.zeros((2, 10), np.float32)
    loss = model.evaluate(x, y, return_dict=True)["loss"]
    np.testing.assert_allclose(loss, np.mean(model.predict(x) ** 2), rtol=1e-5)  # MSE


def test_train_on_an_image_folder(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for label, row in (("top", slice(0, 10)), ("bottom", slice(10, 20))):
        (tmp_path / "data" / label).mkdir(parents=True)
        for i in range(10):
            pixels = rng.integers(0, 60, (20, 20, 3), dtype=np.uint8)
            pixels[row] = 250
            Image.fromarray(pixels).save(tmp_path / "data" / label / f"{i}.png")
    status, out, _ = _run(
        capsys,
        "train",
        "--dataset",
        f"folder:{tmp_path / 'data'}",
        "--model",
        "mlp",
        "--color-mode",
        "rgb",
        "--image-size",
        "16",
        "--out",
        tmp_path / "run",
        "--epochs",
        "3",
        "--validation-split",
        "0",
    )
    assert status == 0, out
    status, out, _ = _run(
        capsys,
        "predict",
        tmp_path / "run" / "model.juanji",
        tmp_path / "data" / "top" / "0.png",
        "--top",
        "1",
    )
    assert status == 0 and out.split(": ")[1].startswith(("top", "bottom"))


# --- interrupting and resuming -----------------------------------------------------------
class _Interrupt(callbacks.Callback):
    """Raises KeyboardInterrupt (as Ctrl-C would) at one step of one epoch."""

    def __init__(self, epoch, step):
        super().__init__()
        self.at = (epoch, step)
        self.epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise KeyboardInterrupt


def _interrupting(monkeypatch, epoch, step):
    """Make the next run raise KeyboardInterrupt at ``step`` of ``epoch`` (from 0)."""
    original = cli._training_callbacks
    monkeypatch.setattr(
        cli,
        "_training_callbacks",
        lambda *args: [*original(*args), _Interrupt(epoch, step)],
    )


def _weights(path):
    return load_model(path).get_weights()


def _resume_matches_uninterrupted(tmp_path, monkeypatch, capsys, reference, options):
    out = tmp_path / "interrupted"
    with monkeypatch.context() as patch:
        _interrupting(patch, 1, 5)
        status, _, err = _run(capsys, "train", "--out", out, *options)
    assert status == cli.EXIT_INTERRUPTED
    assert f"Resume with: juanji train --resume --out {out}" in err and "Traceback" not in err
    assert (out / "backup" / "backup.juanji").is_file() and not (out / "model.juanji").exists()
    with open(out / "history.csv") as f:
        assert len(list(csv.DictReader(f))) == 1  # the finished epoch only

    status, _, err = _run(capsys, "train", "--resume", "--out", out)
    assert status == 0, err
    assert json.loads((out / "metrics.json").read_text())["epochs_run"] == 1  # not from scratch
    for got, want in zip(
        _weights(out / "model.juanji"), _weights(reference / "model.juanji"), strict=True
    ):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    history = json.loads((out / "history.json").read_text())
    want = json.loads((reference / "history.json").read_text())
    assert history.keys() == want.keys()
    for key in want:
        np.testing.assert_allclose(history[key], want[key], rtol=1e-5)
    assert not (out / "backup").exists()


def test_resume_after_ctrl_c_ends_as_an_uninterrupted_run(
    run_dir, tmp_path, monkeypatch, capsys, no_report
):
    _resume_matches_uninterrupted(tmp_path, monkeypatch, capsys, run_dir, FAST)


def test_resume_with_augmentation_ends_as_an_uninterrupted_run(
    tmp_path, monkeypatch, capsys, no_report
):
    options = ["--model", "mlp", "--augment", "--validation-split", "0.5", *FAST]
    assert _run(capsys, "train", "--out", tmp_path / "reference", *options)[0] == 0
    _resume_matches_uninterrupted(tmp_path, monkeypatch, capsys, tmp_path / "reference", options)


def test_interrupt_before_the_first_epoch_saves_nothing(tmp_path, monkeypatch, capsys, no_report):
    """Nothing to resume then, and the folder can be used again for a fresh run."""
    with monkeypatch.context() as patch:
        _interrupting(patch, 0, 2)
        status, _, err = _run(capsys, "train", "--out", tmp_path / "run", *FAST)
    assert status == cli.EXIT_INTERRUPTED and "nothing was saved" in err
    status, _, err = _run(capsys, "train", "--resume", "--out", tmp_path / "run")
    _assert_one_line_error(status, err, "nothing to resume", "no backup")
    status, _, _ = _run(
        capsys, "train", "--out", tmp_path / "run", "--epochs", "1", "--verbose", "0"
    )
    assert status == 0 and (tmp_path / "run" / "model.juanji").is_file()


# --- evaluate, predict, features, summary -------------------------------------------------
def test_evaluate_prints_loss_accuracy_and_confusion_matrix(run_dir, capsys):
    metrics = json.loads((run_dir / "metrics.json").read_text())
    status, out, _ = _run(capsys, "evaluate", run_dir / "model.juanji", "--dataset", "digits")
    assert status == 0
    assert f"loss: {metrics['test_loss']:.4f}" in out
    assert f"accuracy: {metrics['test_accuracy']:.4f}" in out
    rows = out.splitlines()[-10:]
    counts = np.array([[int(v) for v in row.split()[1:]] for row in rows])
    assert counts.shape == (10, 10) and counts.sum() == 360
    assert np.trace(counts) / 360 == pytest.approx(metrics["test_accuracy"])


def test_predict_reads_any_size_and_mode(run_dir, images, capsys):
    files, labels = images
    status, out, _ = _run(capsys, "predict", run_dir / "model.juanji", *files)
    assert status == 0
    lines = out.strip().splitlines()
    assert len(lines) == 4 and all(line.count("(") == 3 for line in lines)  # top 3
    predicted = [int(line.split(": ")[1].split()[0]) for line in lines]
    assert sum(p == y for p, y in zip(predicted, labels)) >= 3


def test_predict_json(run_dir, images, capsys):
    files, _ = images
    status, out, _ = _run(
        capsys, "predict", run_dir / "model.juanji", files[0], "--json", "--top", "2"
    )
    assert status == 0
    (result,) = json.loads(out)
    assert result["image"] == str(files[0]) and len(result["top"]) == 2
    first, second = result["top"]
    assert first["probability"] >= second["probability"] and first["class"] == str(first["index"])


def test_features_compares_the_svm_with_the_softmax_head(run_dir, capsys):
    status, out, _ = _run(
        capsys,
        "features",
        run_dir / "model.juanji",
        "--dataset",
        "digits",
        "--svm",
        "linear",
        "--C",
        "0.5",
    )
    assert status == 0
    softmax, svm = (float(line.rsplit(" ", 1)[1]) for line in out.strip().splitlines())
    assert "128 features" in out and "C=0.5" in out
    assert svm > 0.85 and abs(svm - softmax) < 0.05


def test_summary_prints_the_layer_table(run_dir, capsys):
    status, out, _ = _run(capsys, "summary", run_dir / "model.juanji")
    assert status == 0 and "Total params: 35,754" in out and "conv2d" in out


def test_run_keras1_runs_a_script_with_keras_imports(tmp_path, capsys):
    script = tmp_path / "old.py"
    script.write_text(
        "import sys\n"
        "from keras.utils import np_utils\n"
        "print(np_utils.to_categorical([0, 2], 3).tolist(), sys.argv[1:])\n"
        "sys.exit(3)\n"
    )
    status, out, _ = _run(capsys, "run-keras1", script, "--epochs", "1")
    assert status == 3 and "[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]] ['--epochs', '1']" in out


def test_run_keras1_shows_the_scripts_own_traceback(tmp_path, capsys):
    script = tmp_path / "broken.py"
    script.write_text("def step():\n    raise ZeroDivisionError('in the script')\nstep()\n")
    status, _, err = _run(capsys, "run-keras1", script)
    assert status == 1 and "Traceback" in err and "in the script" in err


# --- errors ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bad_files(tmp_path_factory, run_dir):
    folder = tmp_path_factory.mktemp("bad")
    (folder / "junk.juanji").write_bytes(b"definitely not a zip")
    data = (run_dir / "model.juanji").read_bytes()
    (folder / "truncated.juanji").write_bytes(data[: len(data) // 2])
    with zipfile.ZipFile(folder / "other.zip", "w") as archive:
        archive.writestr("config.json", json.dumps({"format": "something else"}))
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    (folder / "text.jpg").write_text("hello")
    return folder


@pytest.mark.parametrize(
    "argv, fragments",
    [
        (["evaluate", "{bad}/missing.juanji"], ["no model file", "missing.juanji"]),
        (["evaluate", "{bad}/junk.juanji"], ["junk.juanji", "not a juanji model file"]),
        (["summary", "{bad}/truncated.juanji"], ["truncated.juanji"]),
        (["summary", "{bad}/other.zip"], ["not a juanji model file"]),
        (["evaluate", "{model}", "--dataset", "cifar"], ["unknown dataset 'cifar'"]),
        (["features", "{model}", "--dataset", "folder:{bad}/nowhere"], ["no image folder"]),
        (["features", "{model}", "--svm", "poly"], ["--svm", "invalid choice"]),
        (["predict", "{model}", "{bad}/broken.png"], ["cannot read image", "broken.png"]),
        (["predict", "{model}", "{bad}/text.jpg"], ["cannot read image", "text.jpg"]),
        (["predict", "{model}", "{bad}/none.png"], ["no image file", "none.png"]),
        (["predict", "{model}", "{bad}/text.jpg", "--top", "0"], ["--top"]),
        (["predict", "{model}"], ["predict", "images"]),
        (["train", "--dataset", "imagenet"], ["unknown dataset 'imagenet'"]),
        (["train", "--model", "resnet"], ["--model", "invalid choice: 'resnet'"]),
        (["train", "--epochs", "0"], ["--epochs"]),
        (["train", "--out", "{bad}", "--optimizer", "nope"], ["Unknown optimizer 'nope'"]),
        (["train", "--activation", "nope"], ["--activation", "unknown activation 'nope'"]),
        (["train", "--output-activation", "prelu"], ["--output-activation", "'prelu'"]),
        (["train", "--loss", "nope"], ["--loss", "unknown loss 'nope'"]),
        (["train", "--resume"], ["--resume needs --out"]),
        (["train", "--resume", "--out", "{bad}"], ["nothing to resume"]),
        (["train", "--resume", "--out", "{run}", "--epochs", "2"], ["--epochs 2", "at epoch 2"]),
        (["train", "--resume", "--out", "{run}"], ["finished", "--epochs N"]),
        (["train", "--resume", "--out", "{run}", "--seed", "3"], ["do not pass --seed"]),
        (["train", "--out", "{run}"], ["already holds a run"]),
        (["run-keras1", "{bad}/missing.py"], ["no script"]),
        ([], ["COMMAND"]),
        (["fly"], ["invalid choice: 'fly'"]),
    ],
)
def test_errors_print_one_line_and_exit_2(argv, fragments, bad_files, run_dir, capsys):
    places = {"bad": bad_files, "model": run_dir / "model.juanji", "run": run_dir}
    status, _, err = _run(capsys, *(a.format(**places) for a in argv))
    _assert_one_line_error(status, err, *fragments)


def test_python_dash_m_juanji(run_dir):
    ok = subprocess.run(
        [sys.executable, "-m", "juanji", "summary", str(run_dir / "model.juanji")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0 and "Total params: 35,754" in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "juanji", "evaluate", "nowhere.juanji"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr == "juanji: error: no model file at 'nowhere.juanji'\n"


def test_the_train_report_shows_the_gradient_flow(run_dir):
    page = (run_dir / "report.html").read_text()
    assert '<img src="gradient_flow.png"' in page and "epoch 2:" in page
    assert (run_dir / "gradient_flow.png").read_bytes()[:4] == b"\x89PNG"
