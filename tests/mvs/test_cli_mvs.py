"""``juanji mvs``: predict on a folder in MVSNet's layout, eval, demo, train/resume, and
one-line errors for bad scene folders."""

import json

import numpy as np
import pytest

from juanji.mvs.io import read_pfm, read_ply
from juanji.mvs.layout import read_scene_folder, write_scene_folder
from juanji.mvs.mvsnet import MVSNet
from juanji.mvs.synthetic import make_scene
from juanji.mvs.training import TrainingOptions, train
from tests.test_cli import _assert_one_line_error, _run

TINY = {"feature_channels": (2, 3, 3), "regularizer_channels": (3, 2, 3, 3)}


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    net = MVSNet(**TINY)
    net.build((None, 3, 32, 32, 3))
    path = tmp_path_factory.mktemp("model") / "tiny.juanji"
    net.save(path)
    return path


@pytest.fixture
def scene_dir(tmp_path):
    folder = tmp_path / "scene"
    write_scene_folder(folder, make_scene(3, num_views=3, height=32, width=48, num_depths=16))
    return folder


def test_scene_folder_round_trip(scene_dir):
    scene = make_scene(3, num_views=3, height=32, width=48, num_depths=16)
    read = read_scene_folder(scene_dir)
    np.testing.assert_allclose(read.images, scene.images, atol=0.5 / 255 + 1e-6)
    np.testing.assert_allclose(read.cameras[2].t, scene.cameras[2].t, atol=1e-8)
    np.testing.assert_array_equal(read.depths, scene.depths)
    assert read.pairs[0][0] in (1, 2) and sorted(read.pairs[0]) == [1, 2]


def test_predict_writes_mvsnet_outputs(capsys, scene_dir, tmp_path, model_file):
    out = tmp_path / "out"
    status, stdout, err = _run(capsys, "mvs", "predict", scene_dir, "--out", out,
                               "--model", model_file)  # fmt: skip
    assert status == 0, err
    for view in range(3):
        depth = read_pfm(out / "depth" / f"{view:08d}.pfm")
        confidence = read_pfm(out / "confidence" / f"{view:08d}.pfm")
        assert depth.shape == confidence.shape == (8, 12)
        assert (depth >= 2 - 1e-3).all() and (depth <= 4).all()
        assert (out / "depth" / f"{view:08d}.png").is_file()
    points, colors = read_ply(out / "points.ply")
    assert points.shape[1] == 3 and len(points) == len(colors)
    status, _, err = _run(capsys, "mvs", "predict", scene_dir, "--out", tmp_path / "one",
                          "--model", model_file, "--ref", 1, "--num-depths", 8)  # fmt: skip
    assert status == 0, err
    assert not (tmp_path / "one" / "depth" / "00000000.pfm").exists()


def _break(scene_dir, what):
    cams = scene_dir / "cams"
    if what == "missing cam":
        (cams / "00000001_cam.txt").unlink()
        return "00000001_cam.txt"
    if what == "malformed cam":
        path = cams / "00000002_cam.txt"
        path.write_text(path.read_text().replace("intrinsic", "intrinsics"))
        return "00000002_cam.txt"
    if what == "image size":
        from PIL import Image

        Image.new("RGB", (40, 32)).save(scene_dir / "images" / "00000001.png")
        return "00000001.png"
    if what == "unknown view":
        (scene_dir / "pair.txt").write_text("3\n0\n2 1 1.0 7 0.5\n1\n1 0 1.0\n2\n1 0 1.0\n")
        return "pair.txt"
    if what == "depth range":
        path = cams / "00000000_cam.txt"
        lines = path.read_text().rstrip().splitlines()
        path.write_text("\n".join([*lines[:-1], "4 0.125 16 2"]) + "\n")
        return "depth_min < depth_max"
    raise AssertionError(what)


@pytest.mark.parametrize(
    "what", ["missing cam", "malformed cam", "image size", "unknown view", "depth range"]
)
def test_bad_scene_folders_are_one_line_errors(capsys, scene_dir, tmp_path, model_file, what):
    expected = _break(scene_dir, what)
    status, _, err = _run(capsys, "mvs", "predict", scene_dir, "--out", tmp_path / "o",
                          "--model", model_file)  # fmt: skip
    _assert_one_line_error(status, err, expected)


def test_not_an_mvsnet_model(capsys, scene_dir, tmp_path):
    bad = tmp_path / "bad.juanji"
    bad.write_bytes(b"not a zip")
    status, _, err = _run(capsys, "mvs", "predict", scene_dir, "--out", tmp_path / "o",
                          "--model", bad)  # fmt: skip
    _assert_one_line_error(status, err, "bad.juanji")


def test_eval_and_demo(capsys, tmp_path, model_file):
    status, out, err = _run(capsys, "mvs", "eval", model_file, "--scenes", 1, "--json")
    assert status == 0, err
    results = json.loads(out)
    assert set(results) == {"mvsnet", "plane_sweep"}
    assert results["mvsnet"]["all"]["n"] == results["plane_sweep"]["all"]["n"] > 0
    status, out, err = _run(capsys, "mvs", "demo", "--out", tmp_path / "demo", "--model",
                            model_file)  # fmt: skip
    assert status == 0, err
    page = (tmp_path / "demo" / "index.html").read_text()
    for name in ("truth.png", "mvsnet.png", "error.png", "confidence.png", "sweep.png"):
        assert name in page and (tmp_path / "demo" / name).is_file()


def test_train_resume_continues_the_same_run(capsys, tmp_path):
    options = TrainingOptions(steps=2, scenes=2, height=32, width=32, num_depths=8, **TINY)
    run = tmp_path / "run"
    train(run, options, log=lambda line: None)
    args = json.loads((run / "args.json").read_text())
    args["steps"] = 3
    (run / "args.json").write_text(json.dumps(args))
    with (run / "history.csv").open("a") as history:  # a step run after the checkpoint
        history.write("3,9.0,1.0,0.002\n")
    status, out, err = _run(capsys, "mvs", "train", "--out", run, "--resume")
    assert status == 0, err
    assert "resuming at step 2" in out
    rows = (run / "history.csv").read_text().strip().splitlines()
    assert [r.split(",")[0] for r in rows] == ["step", "1", "2", "3"]
    status, _, err = _run(capsys, "mvs", "train", "--out", run)
    _assert_one_line_error(status, err, "--steps N or --minutes M")


def test_an_interrupted_run_saves_its_checkpoint(tmp_path, monkeypatch):
    from juanji import saving
    from juanji.mvs import training

    real_step, calls = training.optimizer_step, []

    def step_then_interrupt(*args):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(args)
        return real_step(*args)

    monkeypatch.setattr(training, "optimizer_step", step_then_interrupt)
    options = TrainingOptions(steps=5, scenes=2, height=32, width=32, num_depths=8, **TINY)
    lines = []
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "run", options, log=lines.append)
    assert saving.read_extra(tmp_path / "run" / "checkpoint.juanji")["step"] == 2
    assert "resume with --resume" in lines[-1]
