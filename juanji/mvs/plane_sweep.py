"""The classic plane sweep: photo-consistency on the same fronto-parallel planes, no learning.

Every source image is warped onto each depth plane of the reference camera (the same
homographies as MVSNet's, :func:`~juanji.mvs.warping.homography_warp`, on the images
themselves at full resolution). On each plane a pixel's cost says how much the views
disagree there, aggregated over a square window:

- ``"variance"``: the variance of the colours over the views (MVSNet's cost on raw pixels);
- ``"ncc"``: one minus the zero-mean normalised cross-correlation of the reference window
  with each warped source window, averaged over the sources.

Only source pixels that fall inside their image count. The depth is the plane of least
cost (winner-take-all). Where a surface has no texture every plane matches equally well, and
the winner is decided by noise: the failure that a learned regulariser addresses.
"""

import numpy as np
from scipy import ndimage

from juanji.autograd import no_grad
from juanji.mvs.warping import homography_warp

__all__ = ["COSTS", "plane_sweep"]

COSTS = ("variance", "ncc")


def _box(x, window):
    """Mean over ``window x window`` squares of the axes (H, W) = (-3, -2) of ``(..., H, W, C)``."""
    size = [1] * x.ndim
    size[-3] = size[-2] = window
    return ndimage.uniform_filter(x, size=size, mode="nearest")


def _variance_cost(ref, warped, valid, window):
    """Window-averaged colour variance over the views that see each pixel."""
    count = 1 + valid.sum(axis=0)  # (D, H, W, 1)
    total = ref + (warped * valid).sum(axis=0)
    squares = ref * ref + (warped * warped * valid).sum(axis=0)
    variance = squares / count - (total / count) ** 2
    return _box(variance.mean(axis=-1, keepdims=True), window)[..., 0]


def _ncc_cost(ref, warped, valid, window, epsilon=1e-4):
    """One minus the window NCC of the reference with each valid source, averaged."""
    ref = np.broadcast_to(ref, warped.shape[1:])
    mean_r = _box(ref, window)
    var_r = _box(ref * ref, window) - mean_r**2
    costs, weights = 0.0, 0.0
    for w, v in zip(warped, valid):  # a loop over the source views
        mean_s = _box(w, window)
        var_s = _box(w * w, window) - mean_s**2
        covariance = _box(ref * w, window) - mean_r * mean_s
        ncc = (covariance / np.sqrt((var_r + epsilon) * (var_s + epsilon))).mean(axis=-1)
        seen = _box(v.astype(np.float64), window)[..., 0] > 0.99  # the whole window inside
        costs = costs + np.where(seen, 1 - ncc, 0.0)
        weights = weights + seen
    # Planes that no source sees get the worst cost, 2 (NCC = -1).
    return np.where(weights > 0, costs / np.maximum(weights, 1), 2.0)


def plane_sweep(images, cameras, depths, *, cost="variance", window=9):
    """Winner-take-all depth of the reference view 0 from photo-consistency alone.

    Args:
        images: ``(V, H, W, 3)`` in [0, 1], view 0 the reference.
        cameras: V full-resolution cameras.
        depths: ``(D,)`` plane depths.
        cost: ``"variance"`` or ``"ncc"``.
        window: the odd side of the aggregation window, in pixels.

    The defaults, variance over 9x9 windows, scored best of both costs and windows 3 to 11
    on synthetic validation scenes (seeds 5000-5009, neither training nor held-out ones):
    MAE 2.62 intervals, against 3.93 for the best NCC.

    Returns:
        ``(depth (H, W), cost volume (D, H, W))``: the depth of the least-cost plane per pixel.

    Raises:
        ValueError: an unknown ``cost`` or fewer than 2 views.
    """
    if cost not in COSTS:
        raise ValueError(f"Expected cost in {COSTS}. Received: cost={cost!r}")
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 4 or len(images) < 2:
        raise ValueError(f"Expected (V >= 2, H, W, 3) images. Received: shape={images.shape}")
    depths = np.asarray(depths, dtype=np.float64)
    warped, valid = [], []
    ones = np.ones((1, *images.shape[1:3], 1))
    with no_grad():
        for image, camera in zip(images[1:], cameras[1:]):
            warped.append(homography_warp(image[None], cameras[0], camera, depths).data[0])
            inside = homography_warp(ones, cameras[0], camera, depths).data[0]
            valid.append(inside > 0.999)
    warped, valid = np.stack(warped), np.stack(valid)  # (V - 1, D, H, W, 3 or 1)
    ref = images[0][None]  # (1, H, W, 3)
    volume = (_ncc_cost if cost == "ncc" else _variance_cost)(ref, warped, valid, window)
    return depths[np.argmin(volume, axis=0)], volume
