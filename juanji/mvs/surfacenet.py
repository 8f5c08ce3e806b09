"""SurfaceNet (Ji et al., ICCV 2017), as the text contrasts it with MVSNet.

Instead of a cost volume on the reference camera's planes, SurfaceNet works in a cube of
voxels in the world: every voxel centre is projected into each view of a pair and takes the
colour it lands on, giving a *coloured voxel cube* (CVC) per view; the two cubes of a pair,
concatenated (6 channels), go through a 3-D CNN that says, per voxel, whether the surface
passes through it. The pairs' logits are averaged. The cube holds the whole scene volume at
full resolution in every layer, so memory grows with the cube's side cubed: this is what
limits its scale (``juanji mvs memory`` measures it against MVSNet).

Here the cube is aligned with the reference camera: it spans ``[-half, half]`` in x and y
and the depth range in z, so its voxels line up with MVSNet's depth planes. The true
surface is the one the reference camera sees: a voxel is on it when the reference depth at
the voxel's pixel lies within half a voxel of the voxel's depth.
"""

import math
import time

import numpy as np
from scipy import ndimage

from juanji import backend, ops, optimizers, registry
from juanji.autograd import no_grad
from juanji.models import Model
from juanji.mvs.blocks import ConvBlock
from juanji.mvs.synthetic import make_scene
from juanji.mvs.training import optimizer_step

__all__ = [
    "SurfaceNet",
    "VoxelCube",
    "colored_voxel_cubes",
    "evaluate_surfacenet",
    "scene_cubes",
    "surface_f_score",
    "surface_loss",
    "train_surfacenet",
    "voxel_cube",
]


class VoxelCube:
    """A cube of ``size``\\ ^3 voxels aligned with ``camera``, spanning x, y in
    ``[-half, half]`` and z in ``[depth_min, depth_max]`` of the camera's coordinates.

    Attributes:
        centers: ``(size, size, size, 3)`` world coordinates, indexed (z, y, x).
        depth: ``(size,)`` the voxels' depths along the camera's axis.
    """

    def __init__(self, camera, size, depth_min=2.0, depth_max=4.0, half=1.0):
        self.camera, self.size = camera, size
        steps = (np.arange(size) + 0.5) / size
        self.depth = depth_min + (depth_max - depth_min) * steps
        across = -half + 2 * half * steps
        z, y, x = np.meshgrid(self.depth, across, across, indexing="ij")
        local = np.stack([x, y, z], axis=-1)  # camera coordinates
        self.centers = (local - camera.t) @ camera.R  # R^T (x_c - t)
        self.voxel_depth = (depth_max - depth_min) / size


def voxel_cube(scene, size, half=1.0):
    """The cube of ``scene``'s reference camera and its true surface voxels ``(s, s, s)``."""
    dr = scene.depth_range
    cube = VoxelCube(scene.cameras[0], size, dr.depth_min, dr.depth_max + dr.depth_interval, half)
    uv, z = scene.cameras[0].project(cube.centers)
    height, width = scene.depths.shape[1:]
    j, i = np.rint(uv[..., 0]).astype(int), np.rint(uv[..., 1]).astype(int)
    inside = (i >= 0) & (i < height) & (j >= 0) & (j < width)
    seen = scene.depths[0][np.clip(i, 0, height - 1), np.clip(j, 0, width - 1)]
    surface = inside & (np.abs(seen - z) <= cube.voxel_depth / 2)
    return cube, surface


def colored_voxel_cubes(images, cameras, cube, pairs):
    """The coloured voxel cubes of each view pair, concatenated: ``(P, s, s, s, 6)``.

    Each voxel centre is projected into a view and takes its bilinear colour there (zeros
    outside the image or behind the camera).
    """
    s = cube.size
    colored = []
    for image, camera in zip(images, cameras):
        uv, z = camera.project(cube.centers.reshape(-1, 3))
        height, width = image.shape[:2]
        grid = np.stack([uv[:, 0] * 2 / (width - 1) - 1, uv[:, 1] * 2 / (height - 1) - 1], 1)
        grid = np.where(z[:, None] > 0, grid, -2.0).reshape(1, s * s, s, 2)
        with no_grad():
            sampled = ops.grid_sample(
                image[None], grid.astype(image.dtype), padding_mode="zeros", align_corners=True
            )
        colored.append(sampled.data.reshape(s, s, s, 3))
    return np.stack([np.concatenate([colored[a], colored[b]], axis=-1) for a, b in pairs])


@registry.register("model")
class SurfaceNet(Model):
    """A small SurfaceNet: a full-resolution 3-D CNN from coloured voxel cubes to surface logits.

    Args:
        channels: the widths of its 3-D convolutions (each 3x3x3, batch norm, ReLU).

    Call:
        ``model(cubes, training=False)`` with cubes ``(B, P, s, s, s, 6)`` (P view pairs)
        returns surface logits ``(B, s, s, s)``, the mean over the pairs.

    Example:
        >>> net = SurfaceNet(channels=(4, 4))
        >>> net(np.zeros((1, 2, 8, 8, 8, 6), np.float32)).shape
        (1, 8, 8, 8)
    """

    def __init__(self, channels=(8, 16, 16), **kwargs):
        super().__init__(**kwargs)
        self.channels = tuple(int(c) for c in channels)
        self.blocks = [ConvBlock(c, 3, rank=3) for c in self.channels]
        self.head = ConvBlock(1, 1, rank=3, normalize=False)

    def __call__(self, cubes, training=False):
        cubes = backend.as_float_array(np.asarray(cubes, dtype=backend.floatx()), "cubes")
        if cubes.ndim != 6 or cubes.shape[-1] != 6:
            raise ValueError(
                f"Expected cubes of shape (B, P, s, s, s, 6). Received: cubes.shape={cubes.shape}"
            )
        self.built = True
        B, P, *side, _ = cubes.shape
        x = cubes.reshape(B * P, *side, 6)
        for block in self.blocks:
            x = block(x, training=training)
        logits = ops.reshape(self.head(x, training=training), shape=(B, P, *side))
        return ops.mean(logits, axis=1)

    def build(self, input_shape):
        """Create the weights by running one small cube."""
        self.build_input_shape = (None, 1, 8, 8, 8, 6)
        if not self.built:
            with no_grad():
                self(np.zeros((1, 1, 8, 8, 8, 6), backend.floatx()))

    def get_config(self):
        return {"name": self.name, "channels": list(self.channels)}


def surface_loss(logits, surface):
    """Binary cross-entropy, the rare surface voxels weighted up to balance the empty ones."""
    positives = max(int(surface.sum()), 1)
    weight = np.where(surface, (surface.size - positives) / positives, 1.0)
    weight = (weight / weight.mean()).astype(logits.dtype)
    return ops.binary_cross_entropy_with_logits(
        logits, surface.astype(logits.dtype), sample_weight=weight
    )


def surface_f_score(predicted, surface, tolerance=1):
    """Voxel precision, recall and F-score, a voxel counting as matched within ``tolerance``.

    Args:
        predicted, surface: boolean ``(..., s, s, s)`` voxel sets.
        tolerance: in voxels (0: exact voxels only).

    Returns:
        ``{"precision", "recall", "f_score"}``.
    """
    structure = np.ones((1,) * (predicted.ndim - 3) + (2 * tolerance + 1,) * 3, bool)
    near_truth = ndimage.binary_dilation(surface, structure) if tolerance else surface
    near_predicted = ndimage.binary_dilation(predicted, structure) if tolerance else predicted
    precision = (predicted & near_truth).sum() / max(predicted.sum(), 1)
    recall = (surface & near_predicted).sum() / max(surface.sum(), 1)
    f_score = 2 * precision * recall / max(precision + recall, 1e-12)
    return {"precision": float(precision), "recall": float(recall), "f_score": float(f_score)}


def _pairs(num_views):
    return [(0, v) for v in range(1, num_views)]


def scene_cubes(scenes, size):
    """Coloured voxel cubes ``(B, P, s, s, s, 6)`` and true surfaces ``(B, s, s, s)``."""
    cubes, surfaces = [], []
    for scene in scenes:
        cube, surface = voxel_cube(scene, size)
        pairs = _pairs(len(scene.images))
        cubes.append(colored_voxel_cubes(scene.images, scene.cameras, cube, pairs))
        surfaces.append(surface)
    return np.stack(cubes).astype(backend.floatx()), np.stack(surfaces)


def train_surfacenet(*, steps=200, size=16, scenes=100, learning_rate=0.003, seed=0, log=print):
    """Train a SurfaceNet on the synthetic training scenes (seeds ``0 .. scenes - 1``).

    Returns:
        ``(model, seconds)``.
    """
    backend.set_seed(seed)
    model = SurfaceNet()
    model.build(None)
    optimizer = optimizers.Adam(learning_rate)
    params = model.trainable_weights
    cache, start = {}, time.monotonic()
    for step in range(steps):
        k = int(np.random.default_rng([seed, step]).integers(0, scenes))
        if k not in cache:
            cache[k] = scene_cubes([make_scene(k)], size)
        cubes, surface = cache[k]
        optimizer.learning_rate = learning_rate * 0.5 * (1 + math.cos(math.pi * step / steps))
        loss = optimizer_step(optimizer, surface_loss(model(cubes, training=True), surface), params)
        if (step + 1) % 25 == 0:
            log(f"step {step + 1}  loss {loss:.4f}")
    return model, time.monotonic() - start


def evaluate_surfacenet(model, scenes, size=16):
    """Voxel F-score (1-voxel tolerance) of ``model`` on ``scenes``, pooled."""
    cubes, surfaces = scene_cubes(scenes, size)
    with no_grad():
        logits = model(cubes).data
    return surface_f_score(logits > 0, surfaces)
