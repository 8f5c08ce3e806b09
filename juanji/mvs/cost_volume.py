"""The variance cost volume: how much the views disagree about each reference pixel on each
depth plane.

For V views (the reference and V - 1 warped sources) the cost is the per-channel variance
``(1 / V) sum_v (f_v - mean)^2 = mean(f_v^2) - mean(f_v)^2``. It is a mean, so the same
network weights take any number of views (V >= 2): more views give a less noisy estimate of
the same quantity.
"""

from juanji import ops
from juanji.mvs.warping import homography_warp

__all__ = ["build_cost_volume", "variance_cost_volume"]


def variance_cost_volume(ref_features, warped_sources):
    """The per-channel variance over views of a reference and its warped sources.

    Args:
        ref_features: ``(B, H, W, C)`` reference-view features (the same on every plane).
        warped_sources: a list of ``(B, D, H, W, C)`` source features warped onto the planes.

    Returns:
        Tensor ``(B, D, H, W, C)``.
    """
    views = 1 + len(warped_sources)
    ref = ops.reshape(ref_features, shape=(ref_features.shape[0], 1, *ref_features.shape[1:]))
    total, squares = ref, ref * ref
    for warped in warped_sources:
        total = total + warped
        squares = squares + warped * warped
    mean = total * (1.0 / views)
    return squares * (1.0 / views) - mean * mean


def build_cost_volume(features, cameras, depths):
    """Warp every source view's features onto the reference's planes and take the variance.

    Args:
        features: ``(B, V, h, w, C)`` features of each view, view 0 the reference.
        cameras: B lists of V cameras with intrinsics at the feature resolution.
        depths: ``(B, D)`` plane depths of each reference.

    Returns:
        Tensor ``(B, D, h, w, C)``.
    """
    B, V = features.shape[:2]
    refs = [views[0] for views in cameras]
    warped = [
        homography_warp(features[:, v], refs, [views[v] for views in cameras], depths)
        for v in range(1, V)
    ]
    return variance_cost_volume(features[:, 0], warped)
