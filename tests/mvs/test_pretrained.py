"""The small pretrained MVSNet shipped in the package: present, small, and predicting a scene
folder end to end with ``juanji mvs predict`` (no --model)."""

import numpy as np

from juanji import cli
from juanji.mvs.io import read_pfm, read_ply
from juanji.mvs.layout import write_scene_folder
from juanji.mvs.mvsnet import MVSNet
from juanji.mvs.predict import load_mvsnet, pretrained_path
from juanji.mvs.synthetic import make_scene


def test_the_shipped_model_is_a_small_mvsnet():
    path = pretrained_path()
    assert path.is_file() and path.stat().st_size < 2 * 2**20
    model, extra = load_mvsnet()
    assert isinstance(model, MVSNet)
    assert extra["training"]["num_depths"] == 32 and extra["steps"] > 0


def test_predict_with_the_shipped_model(tmp_path, capsys):
    scene = make_scene(1_000_007)  # a held-out scene: 3 views of 64x96, depth in [2, 4]
    write_scene_folder(tmp_path / "scene", scene)
    out = tmp_path / "out"
    assert (
        cli.main(["mvs", "predict", str(tmp_path / "scene"), "--out", str(out), "--ref", "0"]) == 0
    )
    depth = read_pfm(out / "depth" / "00000000.pfm")
    assert depth.shape == (16, 24)
    truth = scene.depths[0][::4, ::4]
    error = np.abs(depth - truth) / scene.depth_range.depth_interval
    assert error.mean() < 2.5  # in depth intervals (1/32 of the range)
    points, _ = read_ply(out / "points.ply")
    assert len(points) > 0
    assert "confident pixels" in capsys.readouterr().out
