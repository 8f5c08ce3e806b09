"""Scene folders in MVSNet's layout: ``images/%08d.{png,jpg}``, ``cams/%08d_cam.txt``,
``pair.txt``; synthetic scenes also write their ground truth as ``depths/%08d.pfm``."""

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from juanji.data.images import img_to_array, load_img
from juanji.mvs.cameras import read_cam_file, read_pair_file, write_cam_file, write_pair_file
from juanji.mvs.io import read_pfm, write_pfm

__all__ = ["SceneFolder", "read_scene_folder", "write_scene_folder"]

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class SceneFolder(NamedTuple):
    """A scene read from disk.

    Attributes:
        images: ``(V, H, W, 3)`` float32 in [0, 1], in view order.
        cameras: V cameras.
        depth_ranges: V :class:`~juanji.mvs.cameras.DepthRange`\\ s.
        pairs: ``{ref: [src, ...]}`` from ``pair.txt``.
        depths: ``(V, H, W)`` ground-truth depths when the folder has them, else None.
    """

    images: np.ndarray
    cameras: list
    depth_ranges: list
    pairs: dict
    depths: np.ndarray | None


def _neighbours(cameras):
    """For each view, the others nearest first (by camera centre)."""
    centers = np.stack([c.center for c in cameras])
    distance = np.linalg.norm(centers[:, None] - centers[None], axis=-1)
    return {v: [int(u) for u in np.argsort(distance[v]) if u != v] for v in range(len(cameras))}


def write_scene_folder(folder, scene, pairs=None):
    """Write a :class:`~juanji.mvs.synthetic.Scene` in MVSNet's layout, with its depths.

    Args:
        folder: created if needed.
        scene: the scene; every view gets the reference's depth range.
        pairs: ``{ref: [src, ...]}``; default: every view, the others nearest first.
    """
    from PIL import Image

    folder = Path(folder)
    for sub in ("images", "cams", "depths"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for v, image in enumerate(scene.images):
        pixels = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / "images" / f"{v:08d}.png")
        write_cam_file(folder / "cams" / f"{v:08d}_cam.txt", scene.cameras[v], scene.depth_range)
        write_pfm(folder / "depths" / f"{v:08d}.pfm", scene.depths[v])
    write_pair_file(folder / "pair.txt", pairs or _neighbours(scene.cameras))


def _image_files(folder):
    images = folder / "images"
    if not images.is_dir():
        raise FileNotFoundError(f"'{folder}': expected a folder 'images/' (MVSNet's layout)")
    files = sorted(p for p in images.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"'{images}': expected images named %08d.png or %08d.jpg")
    for k, path in enumerate(files):
        if path.stem != f"{k:08d}":
            raise ValueError(f"'{path}': expected view {k} to be named {k:08d}{path.suffix}")
    return files


def read_scene_folder(folder):
    """Read a scene folder in MVSNet's layout.

    Raises:
        FileNotFoundError: a missing folder, image, cam file or ``pair.txt``.
        ValueError: malformed cam or pair files, images of different sizes, a view in
            ``pair.txt`` that has no image, a depth range with depth_min >= depth_max; each
            message names the file and the expected value.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"No scene folder at '{folder}'")
    files = _image_files(folder)
    images, cameras, ranges = [], [], []
    for k, path in enumerate(files):
        image = img_to_array(load_img(path, color_mode="rgb"), dtype=np.float32) / 255.0
        if images and image.shape != images[0].shape:
            expected = "x".join(map(str, images[0].shape[:2]))
            raise ValueError(
                f"'{path}': expected an image of {expected} pixels (H x W, as view 0). "
                f"Received: {image.shape[0]}x{image.shape[1]}"
            )
        cam_path = folder / "cams" / f"{k:08d}_cam.txt"
        if not cam_path.is_file():
            raise FileNotFoundError(f"'{cam_path}': expected the cam file of view {k}")
        camera, depth_range = read_cam_file(cam_path)
        images.append(image)
        cameras.append(camera)
        ranges.append(depth_range)
    pair_path = folder / "pair.txt"
    if not pair_path.is_file():
        raise FileNotFoundError(f"'{pair_path}': expected MVSNet's pair.txt")
    pairs = read_pair_file(pair_path, num_views=len(files))
    depth_files = [folder / "depths" / f"{k:08d}.pfm" for k in range(len(files))]
    depths = None
    if all(os.path.isfile(p) for p in depth_files):
        depths = np.stack([read_pfm(p) for p in depth_files])
    return SceneFolder(np.stack(images), cameras, ranges, pairs, depths)
