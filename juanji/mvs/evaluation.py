"""Scoring depth maps against the truth, MVSNet against the plane sweep, on held-out scenes.

Errors are in depth intervals (the plane spacing), at the 1/4-resolution pixels MVSNet
outputs (the plane sweep's full-resolution depth is read at the same pixels), over pixels
whose true depth lies in the range; "weak" keeps only weakly textured surfaces.
"""

import numpy as np

from juanji.autograd import no_grad
from juanji.mvs.mvsnet import FEATURE_STRIDE
from juanji.mvs.plane_sweep import plane_sweep
from juanji.mvs.synthetic import make_scene
from juanji.mvs.training import HELD_OUT_SEED_BASE, scene_batch

__all__ = ["depth_errors", "evaluate", "held_out_scenes", "predict_depth", "summarize"]


def held_out_scenes(count, num_views=3, **kwargs):
    """``count`` scenes never used for training (seeds from ``HELD_OUT_SEED_BASE``)."""
    return [make_scene(HELD_OUT_SEED_BASE + k, num_views=num_views, **kwargs) for k in range(count)]


def depth_errors(depth, batch):
    """Absolute errors in intervals ``(B, h, w)`` of ``depth`` against ``batch.target``."""
    return np.abs(depth - batch.target) / batch.interval[:, None, None]


def summarize(errors, mask):
    """MAE and the shares of pixels within 1 and 3 intervals, over ``mask``."""
    e = errors[mask]
    if e.size == 0:
        return {"mae": float("nan"), "within_1": float("nan"), "within_3": float("nan"), "n": 0}
    return {
        "mae": float(e.mean()),
        "within_1": float((e <= 1).mean()),
        "within_3": float((e <= 3).mean()),
        "n": int(e.size),
    }


def predict_depth(model, images, cameras, depths):
    """The model's depth and confidence, ``(B, h, w)`` each, in inference mode (float64)."""
    with no_grad():
        prediction = model(images, cameras, depths, training=False)
    return prediction.depth.data.astype(np.float64), prediction.confidence


def evaluate(model, scenes, *, num_views=None, num_depths=None, cost="variance", sweep=True):
    """MVSNet (and the plane sweep) on ``scenes``, scored on all and on weakly textured pixels.

    Args:
        model: an :class:`~juanji.mvs.mvsnet.MVSNet`, or None for the plane sweep alone.
        scenes: synthetic scenes (their first ``num_views`` views are used).
        num_views, num_depths: default: all views, the scenes' planes.
        cost: the plane sweep's cost.
        sweep: also run the plane sweep.

    Returns:
        ``{"mvsnet": {"all": {...}, "weak": {...}}, "plane_sweep": {...}}`` with
        :func:`summarize`'s figures, pooled over every scored pixel of every scene.
    """
    methods = {"mvsnet": model is not None, "plane_sweep": sweep}
    errors = {name: [] for name, used in methods.items() if used}
    masks, weak = [], []
    for scene in scenes:
        batch = scene_batch([scene], num_views=num_views, num_depths=num_depths)
        masks.append(batch.mask)
        weak.append(batch.weak & batch.mask)
        if model is not None:
            errors["mvsnet"].append(
                depth_errors(
                    predict_depth(model, batch.images, batch.cameras, batch.depths)[0], batch
                )
            )
        if sweep:
            depth, _ = plane_sweep(batch.images[0], batch.cameras[0], batch.depths[0], cost=cost)
            coarse = depth[::FEATURE_STRIDE, ::FEATURE_STRIDE][None]
            errors["plane_sweep"].append(depth_errors(coarse, batch))
    mask, weak = np.concatenate(masks), np.concatenate(weak)
    return {
        name: {
            "all": summarize(np.concatenate(e), mask),
            "weak": summarize(np.concatenate(e), weak),
        }
        for name, e in errors.items()
    }
