"""Differentiable homography warping of source-view features onto the reference's depth planes.

The plane of reference depth ``d`` is the set of world points ``X`` with
``n_r^T (X - c_r) = d``, ``n_r = R_r^T e_3`` the reference's principal axis in world
coordinates and ``c = -R^T t`` a camera centre. A reference pixel ``p`` (homogeneous)
sees, on that plane, ``X - c_r = d R_r^T K_r^-1 p`` (its ray ``K_r^-1 p`` has z = 1). The
source camera sees ``X`` at ``R_s (X - c_s) = R_s ((X - c_r) - (c_s - c_r))``, and since
``n_r^T (X - c_r) / d = 1`` the offset ``c_s - c_r`` can be written as
``(c_s - c_r) n_r^T (X - c_r) / d``. Hence, up to scale,

    p_s ~ H(d) p,    H(d) = K_s R_s (I - (c_s - c_r) n_r^T / d) R_r^T K_r^-1,

which is MVSNet's Eq. 1 with its typos fixed (the paper writes ``t`` for the centres and
drops the reference rotation). Nothing assumes the reference camera is at the world origin.
"""

import numpy as np

from juanji import ops
from juanji.mvs.cameras import Camera

__all__ = ["homographies", "homography_warp", "sampling_grid"]


def homographies(ref_cam, src_cam, depths):
    """The plane-induced homographies from reference to source pixels, one per depth.

    Args:
        ref_cam, src_cam: :class:`~juanji.mvs.cameras.Camera`\\ s, intrinsics at the
            resolution of the pixels mapped.
        depths: plane depths along the reference's principal axis, any shape, e.g. ``(D,)``.

    Returns:
        ``(*depths.shape, 3, 3)`` float64: ``H[k] @ (x, y, 1)`` is the source point (up to
        scale) of reference point (x, y) on the plane of depth ``depths[k]``.
    """
    depths = np.asarray(depths, dtype=np.float64)
    offset = (src_cam.center - ref_cam.center)[:, None] * ref_cam.principal_axis[None, :]
    planes = np.eye(3) - offset / depths[..., None, None]  # (..., 3, 3)
    left = src_cam.K @ src_cam.R
    right = ref_cam.R.T @ np.linalg.inv(ref_cam.K)
    return left @ planes @ right


def sampling_grid(ref_cam, src_cam, depths, height, width, src_height=None, src_width=None):
    """Where each reference pixel falls in the source image, on each depth plane.

    Args:
        ref_cam, src_cam: cameras at the resolution of the reference and source grids.
        depths: ``(D,)`` plane depths.
        height, width: the reference grid's size.
        src_height, src_width: the source image's size (default: the reference's).

    Returns:
        ``(D, height, width, 2)`` float64 points (x, y) normalised as ``grid_sample`` with
        ``align_corners=True`` reads them (-1 and 1: the centres of the first and last
        pixels, matching pixels as points). Points behind the source camera are put
        outside the image, so that they read zeros.
    """
    H = homographies(ref_cam, src_cam, depths)
    return _grid(H, height, width, src_height or height, src_width or width)


def _grid(H, height, width, src_height, src_width, per_pixel=False):
    """Normalised source points ``(..., height, width, 2)`` of homographies ``(..., 3, 3)``
    shared by all pixels, or ``(..., height, width, 3, 3)`` one per pixel."""
    i, j = np.mgrid[0:height, 0:width]
    pixels = np.stack([j, i, np.ones_like(i)], axis=-1).reshape(-1, 3).astype(np.float64)
    if per_pixel:
        lead = H.shape[:-4]
        H = H.reshape(*lead, height * width, 3, 3)
        projected = np.einsum("...pab,pb->...pa", H, pixels)  # (..., H*W, 3)
    else:
        lead = H.shape[:-2]
        projected = pixels @ np.swapaxes(H, -1, -2)  # (..., H*W, 3)
    z = projected[..., 2:]
    in_front = z > 1e-9
    xy = projected[..., :2] / np.where(in_front, z, 1.0)
    scale = np.array([2 / max(src_width - 1, 1), 2 / max(src_height - 1, 1)])
    grid = np.where(in_front, xy * scale - 1, -2.0)
    return grid.reshape(*lead, height, width, 2)


def _per_item(cameras, count):
    """A list of ``count`` cameras from one camera or a list of them."""
    return [cameras] * count if isinstance(cameras, Camera) else list(cameras)


def homography_warp(src_features, ref_cam, src_cam, depths, ref_size=None):
    """Warp source features onto the reference camera's fronto-parallel depth planes.

    Bilinear sampling (``ops.grid_sample``, zeros outside the source image), differentiable
    with respect to ``src_features``.

    Args:
        src_features: Tensor or array ``(B, Hs, Ws, C)``.
        ref_cam, src_cam: a camera, or a list of B cameras (one per batch item), with
            intrinsics scaled to the feature resolution.
        depths: ``(D,)`` plane depths shared by the batch, ``(B, D)``, or per-pixel depth
            hypotheses ``(B, D, H, W)`` (each reference pixel warped with its own depths).
        ref_size: the reference grid's ``(H, W)``; default ``(Hs, Ws)``, or the last two
            axes of per-pixel ``depths``.

    Returns:
        Tensor ``(B, D, H, W, C)``: entry ``[b, k, i, j]`` is the source feature seen where
        reference pixel (i, j) meets the plane of depth ``depths[b, k]`` (or ``depths[b,
        k, i, j]``).
    """
    B, Hs, Ws, C = src_features.shape
    depths = np.asarray(depths, dtype=np.float64)
    per_pixel = depths.ndim == 4
    if per_pixel:
        H, W = depths.shape[2:]
    else:
        H, W = ref_size or (Hs, Ws)
        depths = np.broadcast_to(depths, (B, depths.shape[-1]))
    D = depths.shape[1]
    pairs = zip(_per_item(ref_cam, B), _per_item(src_cam, B), depths)
    stacked = np.stack([homographies(ref, src, d) for ref, src, d in pairs])  # (B, D, [H, W,] 3, 3)
    grid = _grid(stacked, H, W, Hs, Ws, per_pixel).astype(src_features.dtype)  # (B, D, H, W, 2)
    # The planes are stacked along the output's height, so each source image is read once.
    warped = ops.grid_sample(
        src_features,
        grid.reshape(B, D * H, W, 2),
        mode="bilinear",
        padding_mode="zeros",
        align_corners=True,
    )  # (B, D*H, W, C)
    return ops.reshape(warped, shape=(B, D, H, W, C))
