"""juanji.mvs.surfacenet and memory: coloured voxel cubes, the surface truth, the F-score,
a few training steps, and the memory table."""

import numpy as np

from juanji import cli
from juanji.mvs.memory import measure_peak
from juanji.mvs.surfacenet import (
    SurfaceNet,
    colored_voxel_cubes,
    scene_cubes,
    surface_f_score,
    surface_loss,
    voxel_cube,
)
from juanji.mvs.synthetic import make_scene
from juanji.mvs.training import optimizer_step


def test_voxel_cube_truth_and_colours_agree_with_the_views():
    scene = make_scene(2, noise=0.0)
    cube, surface = voxel_cube(scene, 16)
    assert cube.centers.shape == (16, 16, 16, 3) and surface.shape == (16, 16, 16)
    # Along each reference ray through the cube (a (y, x) column), at most a few voxels are
    # on the visible surface, and most columns inside the image hold one.
    per_column = surface.sum(axis=0)
    assert per_column.max() <= 3 and (per_column > 0).mean() > 0.5
    cubes = colored_voxel_cubes(scene.images, scene.cameras, cube, [(0, 1)])
    assert cubes.shape == (1, 16, 16, 16, 6)
    # On the surface the reference and source colours agree (where not occluded) much
    # better than off it.
    difference = np.abs(cubes[0, ..., :3] - cubes[0, ..., 3:]).mean(axis=-1)
    assert np.median(difference[surface]) < 0.5 * np.median(difference[~surface])


def test_f_score():
    truth = np.zeros((4, 4, 4), bool)
    truth[1, 1, 1] = True
    near = np.zeros_like(truth)
    near[2, 1, 1] = True
    assert surface_f_score(truth, truth, tolerance=0)["f_score"] == 1.0
    assert surface_f_score(near, truth, tolerance=0)["f_score"] == 0.0
    assert surface_f_score(near, truth, tolerance=1)["f_score"] == 1.0


def test_training_steps_lower_the_loss():
    from juanji import optimizers

    cubes, surface = scene_cubes([make_scene(0)], 8)
    net = SurfaceNet(channels=(4, 4))
    optimizer = optimizers.Adam(0.01)
    losses = []
    for _ in range(10):
        loss = surface_loss(net(cubes, training=True), surface)
        losses.append(optimizer_step(optimizer, loss, net.trainable_weights))
    assert losses[-1] < losses[0]


def test_measure_peak_sees_array_allocations():
    assert measure_peak(lambda: np.ones(2**20)) >= 8 * 2**20


def test_memory_command(capsys):
    assert cli.main(["mvs", "memory", "--sizes", "8", "16"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    rows = [line.split() for line in lines[-2:]]
    assert [r[0] for r in rows] == ["8", "16"]
    surfacenet_train = [float(r[4]) for r in rows]
    assert surfacenet_train[1] > 2 * surfacenet_train[0]  # the cube grows as r^3


def test_surfacenet_command(capsys, tmp_path):
    argv = ["mvs", "surfacenet", "--steps", "2", "--size", "8", "--scenes", "2"]
    assert cli.main([*argv, "--eval-scenes", "1", "--out", str(tmp_path / "s.juanji")]) == 0
    assert "F-score" in capsys.readouterr().out
    assert (tmp_path / "s.juanji").is_file()
