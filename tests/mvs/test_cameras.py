"""juanji.mvs.cameras: projection conventions and MVSNet's cam and pair files."""

import numpy as np
import pytest

from juanji.mvs.cameras import (
    Camera,
    DepthRange,
    read_cam_file,
    read_pair_file,
    write_cam_file,
    write_pair_file,
)
from juanji.mvs.synthetic import make_scene


def _camera():
    return make_scene(1, height=16, width=24).cameras[1]


def test_backproject_then_project_returns_the_pixels():
    cam = _camera()
    depth = np.random.default_rng(0).uniform(2, 4, size=(5, 7))
    uv, z = cam.project(cam.backproject(depth))
    i, j = np.mgrid[0:5, 0:7]
    np.testing.assert_allclose(uv[..., 0], j, atol=1e-9)  # pixel (i, j) is the point (x=j, y=i)
    np.testing.assert_allclose(uv[..., 1], i, atol=1e-9)
    np.testing.assert_allclose(z, depth, atol=1e-9)


def test_center_and_principal_axis():
    cam = _camera()
    np.testing.assert_allclose(cam.to_camera(cam.center), 0, atol=1e-9)
    ahead = cam.to_camera(cam.center + 2.5 * cam.principal_axis)
    np.testing.assert_allclose(ahead, [0, 0, 2.5], atol=1e-9)


def test_scaled_intrinsics_map_pixels_by_the_factor():
    cam = _camera()
    point = cam.backproject(np.full((9, 9), 3.0))[8, 4]  # pixel (8, 4)
    uv, _ = cam.scaled(0.25).project(point)
    np.testing.assert_allclose(uv, [1.0, 2.0], atol=1e-9)  # pixel (2, 1) at 1/4


def test_cam_file_round_trip(tmp_path):
    cam = _camera()
    path = tmp_path / "00000001_cam.txt"
    write_cam_file(path, cam, DepthRange(2.0, 0.0625, 32, 3.9375))
    read, depth_range = read_cam_file(path)
    for a, b in zip(read, cam):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)
    assert depth_range == DepthRange(2.0, 0.0625, 32, 3.9375)
    np.testing.assert_allclose(depth_range.planes()[[0, -1]], [2.0, 3.9375])


def test_cam_file_with_two_depth_values(tmp_path):
    path = tmp_path / "cam.txt"
    write_cam_file(path, _camera(), DepthRange(425.0, 2.5))
    _, depth_range = read_cam_file(path)
    assert depth_range == DepthRange(425.0, 2.5, None, None)
    assert len(depth_range.planes(num_depths=4)) == 4
    with pytest.raises(ValueError, match="num_depths"):
        depth_range.planes()


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda s: s.replace("extrinsic", "extrinsics"), "line 'extrinsic'"),
        (lambda s: s.replace("intrinsic\n", "\n"), "line 'intrinsic'"),
        (lambda s: s.rsplit("\n", 2)[0], "depth_min depth_interval"),
        (lambda s: s.replace("2 0.0625 32 3.9375", "4 0.0625 32 2"), "depth_min < depth_max"),
        (lambda s: s.replace("2 0.0625 32 3.9375", "2 -0.1"), "depth_interval > 0"),
        (lambda s: s.replace("0 0 0 1", "0 0 0"), "4 numbers in row 4"),
        (lambda s: s.replace("0 0 0 1", "0 0 x 1"), "line 'extrinsic'"),
    ],
)
def test_malformed_cam_files_name_the_file(tmp_path, mutate, message):
    path = tmp_path / "00000000_cam.txt"
    write_cam_file(path, Camera(np.diag([50.0, 50, 1]), np.eye(3), np.zeros(3)),
                   DepthRange(2.0, 0.0625, 32, 3.9375))  # fmt: skip
    path.write_text(mutate(path.read_text()))
    with pytest.raises(ValueError, match=message) as error:
        read_cam_file(path)
    assert str(path) in str(error.value)


def test_pair_file_round_trip_and_unknown_views(tmp_path):
    path = tmp_path / "pair.txt"
    pairs = {0: [1, 2], 1: [0, 2], 2: [1, 0]}
    write_pair_file(path, pairs)
    assert read_pair_file(path, num_views=3) == pairs
    with pytest.raises(ValueError, match=r"view indices in \[0, 2\).*view 2"):
        read_pair_file(path, num_views=2)
    path.write_text("3\n0\n2 1 0.5\n")
    with pytest.raises(ValueError, match="2 \\(source, score\\) pairs"):
        read_pair_file(path)
