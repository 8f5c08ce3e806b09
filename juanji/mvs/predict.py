"""Depth maps for a scene folder in MVSNet's layout, written as MVSNet writes them.

For each reference view: ``OUT/depth/%08d.pfm`` and ``OUT/confidence/%08d.pfm`` (1/4 of the
image resolution), a colour-mapped PNG of each, and over all views one coloured point cloud
``OUT/points.ply`` of the pixels whose confidence reaches ``min_confidence``.
"""

import os
from importlib import resources
from pathlib import Path

import numpy as np

from juanji import saving
from juanji.mvs.io import colorize, write_pfm, write_ply
from juanji.mvs.layout import read_scene_folder
from juanji.mvs.mvsnet import FEATURE_STRIDE

__all__ = ["PRETRAINED", "load_mvsnet", "predict_folder", "reference_planes"]

PRETRAINED = "mvsnet_small.juanji"


def pretrained_path():
    """The path of the small pretrained MVSNet shipped in the package."""
    return Path(str(resources.files("juanji.mvs") / "pretrained" / PRETRAINED))


def load_mvsnet(path=None):
    """Load an MVSNet model file (default: the shipped pretrained one).

    Returns:
        ``(model, extra)``: the model and the values stored with it (its training options).

    Raises:
        FileNotFoundError: no file at ``path``.
        juanji.saving.ModelFileError: a file that is not a model file, or not an MVSNet.
    """
    path = Path(path) if path is not None else pretrained_path()
    model = saving.load_model(path, compile=False)
    if type(model).__name__ != "MVSNet":
        raise saving.ModelFileError(
            f"'{path}': expected an MVSNet model file. Received: a {type(model).__name__}"
        )
    return model, saving.read_extra(path)


def reference_planes(depth_range, num_depths, source, default_depths=None):
    """The plane depths ``(D,)`` of a reference view.

    D is ``num_depths`` if given, else the cam file's, else ``default_depths`` (the model's
    training D). With a ``depth_max`` in the file the
    planes span ``[depth_min, depth_max]``; otherwise they step by ``depth_interval``.

    Raises:
        ValueError: no number of planes anywhere (naming ``source``, the cam file).
    """
    count = num_depths or depth_range.num_depths or default_depths
    if not count:
        raise ValueError(
            f"'{source}': the cam file gives no number of depth planes: pass --num-depths"
        )
    if count < 2:
        raise ValueError(f"Expected at least 2 depth planes. Received: num_depths={count}")
    if depth_range.depth_max is not None:
        return np.linspace(depth_range.depth_min, depth_range.depth_max, count)
    return depth_range.depth_min + depth_range.depth_interval * np.arange(count)


def _save_png(path, rgb):
    from PIL import Image

    Image.fromarray(rgb).save(path)


def predict_folder(
    model,
    folder,
    out,
    *,
    views=3,
    num_depths=None,
    default_depths=None,
    refs=None,
    min_confidence=0.5,
    log=print,
):
    """Run ``model`` on every reference view (or those in ``refs``) of a scene folder.

    Args:
        model: an MVSNet.
        folder: a scene folder in MVSNet's layout.
        out: the output folder (created).
        views: views per prediction, the reference and its best ``views - 1`` sources in
            ``pair.txt``.
        num_depths: D (default: each reference's cam file's, else ``default_depths``).
        refs: reference views to predict (default: every view listed in ``pair.txt``).
        min_confidence: the confidence a pixel needs to enter the point cloud.

    Returns:
        ``{ref: (depth (h, w), confidence (h, w))}``.

    Raises:
        ValueError: bad input (see :func:`~juanji.mvs.layout.read_scene_folder`), a
            reference that is not in ``pair.txt`` or has no source view.
    """
    from juanji.mvs.evaluation import predict_depth

    scene = read_scene_folder(folder)
    out = Path(out)
    for sub in ("depth", "confidence"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    pair_file = Path(folder) / "pair.txt"
    refs = list(scene.pairs) if refs is None else list(refs)
    results, points, colors = {}, [], []
    for ref in refs:
        if ref not in scene.pairs:
            raise ValueError(f"'{pair_file}': expected an entry for reference view {ref}")
        sources = scene.pairs[ref][: max(views - 1, 1)]
        if not sources:
            raise ValueError(f"'{pair_file}': expected at least 1 source view for view {ref}")
        cam_file = Path(folder) / "cams" / f"{ref:08d}_cam.txt"
        planes = reference_planes(scene.depth_ranges[ref], num_depths, cam_file, default_depths)
        chosen = [ref, *sources]
        cameras = [[scene.cameras[v] for v in chosen]]
        depth, confidence = (
            a[0] for a in predict_depth(model, scene.images[chosen][None], cameras, planes[None])
        )
        results[ref] = depth, confidence
        name = f"{ref:08d}"
        write_pfm(out / "depth" / f"{name}.pfm", depth)
        write_pfm(out / "confidence" / f"{name}.pfm", confidence)
        _save_png(out / "depth" / f"{name}.png", colorize(depth, planes[0], planes[-1]))
        _save_png(out / "confidence" / f"{name}.png", colorize(confidence, 0, 1, "magma"))
        keep = confidence >= min_confidence
        camera = scene.cameras[ref].scaled(1 / FEATURE_STRIDE)
        points.append(camera.backproject(depth)[keep])
        image = scene.images[ref][::FEATURE_STRIDE, ::FEATURE_STRIDE]
        colors.append(image[: depth.shape[0], : depth.shape[1]][keep])
        log(f"view {ref}: sources {sources}, {int(keep.sum())} confident pixels")
    write_ply(out / "points.ply", np.concatenate(points), np.concatenate(colors))
    log(f"wrote {os.fspath(out)}/depth, confidence and points.ply")
    return results
