"""juanji.mvs.warping: the plane-induced homography, checked against projected 3-D points;
warping with the true depth reproduces the reference view; gradients."""

import numpy as np
import pytest

from juanji.autograd import Tensor
from juanji.mvs.cameras import Camera
from juanji.mvs.synthetic import make_scene
from juanji.mvs.warping import homographies, homography_warp, sampling_grid
from tests.helpers import check_grad


def _rig(seed=4):
    scene = make_scene(seed, height=16, width=24)
    return scene.cameras[0], scene.cameras[1]


def test_homography_maps_points_on_the_plane_as_projection_does():
    ref, src = _rig()
    assert np.linalg.norm(ref.center) > 0.5  # the reference is not at the world origin
    rng = np.random.default_rng(0)
    depths = np.array([2.0, 2.7, 3.9])
    pixels = np.stack([rng.uniform(0, 24, 50), rng.uniform(0, 16, 50), np.ones(50)], axis=1)
    H = homographies(ref, src, depths)
    assert H.shape == (3, 3, 3)
    for k, d in enumerate(depths):
        # The 3-D point on the reference ray at depth d, then into the source camera.
        rays = pixels @ np.linalg.inv(ref.K).T
        points = (rays * d - ref.t) @ ref.R
        expected, _ = src.project(points)
        mapped = pixels @ H[k].T
        np.testing.assert_allclose(mapped[:, :2] / mapped[:, 2:], expected, atol=1e-9)


def test_sampling_grid_normalises_pixels_as_points():
    K = np.array([[20.0, 0, 11.5], [0, 20.0, 7.5], [0, 0, 1]])
    cam = Camera(K, np.eye(3), np.zeros(3))
    grid = sampling_grid(cam, cam, [3.0], 16, 24)
    np.testing.assert_allclose(grid[0, 0, 0], [-1, -1], atol=1e-12)  # pixel centre (0, 0)
    np.testing.assert_allclose(grid[0, 15, 23], [1, 1], atol=1e-12)
    behind = Camera(K, np.diag([1.0, -1.0, -1.0]), np.zeros(3))  # looking the other way
    assert (sampling_grid(cam, behind, [3.0], 16, 24) == -2).all()


def _visible(ref_cam, src_cam, warped_depth, depth):
    """Reference pixels whose point the source view sees (no occlusion), inside its image."""
    points = ref_cam.backproject(depth.astype(np.float64))
    uv, z = src_cam.project(points)
    height, width = depth.shape
    inside = (uv[..., 0] >= 0) & (uv[..., 0] <= width - 1)
    inside &= (uv[..., 1] >= 0) & (uv[..., 1] <= height - 1)
    return inside & (np.abs(warped_depth - z) < 0.01 * z)


@pytest.mark.parametrize("seed", [0, 3])
def test_warping_with_the_true_depth_reproduces_the_reference_image(seed):
    scene = make_scene(seed, num_views=3, noise=0.0)
    ref_depth = scene.depths[0]
    for k in (1, 2):
        ref, src = scene.cameras[0], scene.cameras[k]
        per_pixel = ref_depth[None, None]  # (B=1, D=1, H, W): each pixel its own plane
        warped = homography_warp(scene.images[k][None], ref, src, per_pixel).data[0, 0]
        source_depth = scene.depths[k][None, ..., None]
        warped_depth = homography_warp(source_depth, ref, src, per_pixel).data[0, 0, ..., 0]
        # The depth the source camera sees there, against the point's own depth in it.
        visible = _visible(ref, src, warped_depth, ref_depth)
        assert visible.mean() > 0.6
        error = np.abs(warped - scene.images[0]).mean(axis=-1)
        assert error[visible].mean() < 0.005
        assert error[~visible].mean() > 2 * error[visible].mean()  # occlusions do differ


def test_planes_and_batches():
    scene = make_scene(1, height=16, width=24)
    features = np.random.default_rng(0).random((2, 16, 24, 3)).astype(np.float32)
    ref, src = scene.cameras[0], scene.cameras[1]
    depths = scene.depth_range.planes(8)
    batched = homography_warp(features, [ref, ref], [src, src], np.stack([depths, depths]))
    assert batched.shape == (2, 8, 16, 24, 3) and batched.dtype == np.float32
    single = homography_warp(features[1:], ref, src, depths)
    np.testing.assert_allclose(batched.data[1], single.data[0], atol=1e-6)
    # A plane is a per-pixel depth map that is constant.
    flat = np.full((1, 1, 16, 24), depths[3])
    np.testing.assert_allclose(
        homography_warp(features[1:], ref, src, flat).data[0, 0], single.data[0, 3], atol=1e-5
    )
    coarse = homography_warp(features[:1], ref.scaled(0.5), src, depths[:2], ref_size=(8, 12))
    assert coarse.shape == (1, 2, 8, 12, 3)


def test_gradient_of_homography_warp():
    ref, src = _rig()
    ref, src = ref.scaled(0.5), src.scaled(0.5)
    features = np.random.default_rng(1).standard_normal((1, 8, 12, 2))
    check_grad(lambda f: homography_warp(f, ref, src, [2.2, 3.1, 3.8]), [features])


def test_homography_warp_matches_torch_reprojection():
    """Against an independent path in PyTorch: back-project each reference pixel onto the
    plane, project it into the source camera, sample with F.grid_sample; forward and the
    gradient of the features."""
    torch = pytest.importorskip("torch")
    ref, src = _rig(5)
    features = np.random.default_rng(2).standard_normal((1, 16, 24, 3))
    depths = np.array([2.1, 2.9, 3.7])
    ours = Tensor(features, requires_grad=True)
    warped = homography_warp(ours, ref, src, depths)
    gy = np.random.default_rng(3).standard_normal(warped.shape)
    warped.backward(gy)

    i, j = np.mgrid[0:16, 0:24]
    pixels = torch.tensor(np.stack([j, i, np.ones_like(i)], -1).reshape(-1, 3), dtype=torch.float64)
    K_r, R_r, t_r = (torch.tensor(a) for a in ref)
    K_s, R_s, t_s = (torch.tensor(a) for a in src)
    theirs = torch.tensor(features.transpose(0, 3, 1, 2).copy(), requires_grad=True)
    outputs = []
    for d in depths:
        camera_points = d * pixels @ torch.linalg.inv(K_r).T
        world = (camera_points - t_r) @ R_r
        projected = (world @ R_s.T + t_s) @ K_s.T
        uv = projected[:, :2] / projected[:, 2:]
        grid = torch.stack([uv[:, 0] / 23 * 2 - 1, uv[:, 1] / 15 * 2 - 1], -1).reshape(1, 16, 24, 2)
        sampled = torch.nn.functional.grid_sample(theirs, grid, align_corners=True)
        outputs.append(sampled.permute(0, 2, 3, 1))
    expected = torch.stack(outputs, 1)  # (1, D, H, W, C)
    expected.backward(torch.tensor(gy))
    np.testing.assert_allclose(warped.data, expected.detach().numpy(), atol=1e-9)
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy().transpose(0, 2, 3, 1), atol=1e-9)
