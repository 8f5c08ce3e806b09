"""juanji.mvs.synthetic: deterministic scenes whose depth is exact."""

import numpy as np

from juanji.mvs.synthetic import make_scene


def test_same_seed_same_scene_and_seeds_differ():
    a, b, c = (
        make_scene(5, height=16, width=24),
        make_scene(5, height=16, width=24),
        make_scene(6, height=16, width=24),
    )
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.cameras[1].R, b.cameras[1].R)
    assert not np.allclose(a.images, c.images)


def test_depths_lie_in_the_range_and_match_the_geometry():
    scene = make_scene(2, num_views=5, height=32, width=48)
    assert scene.images.shape == (5, 32, 48, 3) and scene.depths.shape == (5, 32, 48)
    ref = scene.depths[0]
    assert np.isfinite(ref).all()
    assert scene.depth_range.depth_min <= ref.min() and ref.max() <= scene.depth_range.depth_max
    assert scene.depth_range.num_depths == 32
    # The reference camera is not at the world origin: the rig was moved.
    assert np.linalg.norm(scene.cameras[0].center) > 0.5
    # A point seen by the reference and by a source view (not occluded there) projects to
    # the source pixel whose own depth equals the point's depth in that camera.
    points = scene.cameras[0].backproject(ref.astype(np.float64))
    uv, z = scene.cameras[1].project(points)
    j, i = np.rint(uv[..., 0]).astype(int), np.rint(uv[..., 1]).astype(int)
    inside = (i >= 0) & (i < 32) & (j >= 0) & (j < 48)
    seen = scene.depths[1][i[inside], j[inside]]
    agree = np.abs(seen - z[inside]) < 0.05
    assert agree.mean() > 0.6


def test_some_surfaces_are_weakly_textured():
    weak = np.mean([make_scene(s, height=16, width=24).weak[0].mean() for s in range(8)])
    assert 0.02 < weak < 0.8
