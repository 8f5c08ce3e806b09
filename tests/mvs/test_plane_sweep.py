"""juanji.mvs.plane_sweep: the classic baseline finds textured depth, fails on flat colour."""

import numpy as np
import pytest

from juanji.mvs.cameras import Camera
from juanji.mvs.plane_sweep import plane_sweep
from juanji.mvs.synthetic import make_scene


def _fronto_parallel_rig(texture):
    """Two views of a fronto-parallel plane at depth 3 carrying ``texture`` (H, W, 3)."""
    K = np.array([[40.0, 0, 23.5], [0, 40.0, 15.5], [0, 0, 1]])
    ref = Camera(K, np.eye(3), np.zeros(3))
    src = Camera(K, np.eye(3), np.array([-0.3, 0.0, 0.0]))  # centre at x = +0.3
    # On the plane z = 3, the source sees reference pixel x at x - f * b / z = x - 4 pixels.
    height, width = texture.shape[:2]
    shifted = np.zeros_like(texture)
    shifted[:, : width - 4] = texture[:, 4:]
    return np.stack([texture, shifted]), [ref, src]


@pytest.mark.parametrize("cost", ["variance", "ncc"])
def test_plane_sweep_recovers_a_textured_plane(cost):
    texture = np.random.default_rng(0).random((32, 48, 3))
    images, cameras = _fronto_parallel_rig(texture)
    planes = np.linspace(2, 4, 17)  # 3.0 is plane 8
    depth, volume = plane_sweep(images, cameras, planes, cost=cost)
    assert volume.shape == (17, 32, 48)
    inner = depth[4:-4, 8:-8]  # away from the borders, where windows leave the images
    assert (inner == 3.0).mean() > 0.95


def test_plane_sweep_fails_on_weak_texture_more_than_on_texture():
    scene = make_scene(1_000_003)
    depth, _ = plane_sweep(scene.images, scene.cameras, scene.depth_range.planes(), cost="variance")
    error = np.abs(depth - scene.depths[0]) / scene.depth_range.depth_interval
    weak = scene.weak[0]
    assert weak.any() and (~weak).any()
    assert np.median(error[weak]) > 2 * np.median(error[~weak])


def test_bad_arguments():
    images, cameras = _fronto_parallel_rig(np.zeros((8, 8, 3)))
    with pytest.raises(ValueError, match="cost in"):
        plane_sweep(images, cameras, [2.0, 3.0], cost="sad")
    with pytest.raises(ValueError, match="V >= 2"):
        plane_sweep(images[:1], cameras, [2.0, 3.0])
