"""Peak memory of MVSNet and SurfaceNet against the resolution of the scene volume.

At resolution ``r`` both methods reconstruct the scene at the views' resolution, ``r``
samples along each axis: MVSNet from 3 views of ``r x r`` pixels on ``r`` depth planes (its
cost volume lies at 1/4 of the image resolution, ``r/4 x r/4 x r`` cells, and its U-Net
halves that three times), SurfaceNet from the same views' 2 pairs in a cube of ``r^3``
voxels, every layer of its 3-D CNN at full voxel resolution. The peak is the largest amount
of memory NumPy held at once (``tracemalloc``, which sees every array allocation) during
one inference pass and during one training step (forward and backward).
"""

import tracemalloc

import numpy as np

from juanji.autograd import no_grad
from juanji.mvs.cameras import Camera
from juanji.mvs.mvsnet import MVSNet
from juanji.mvs.surfacenet import SurfaceNet

__all__ = ["measure_peak", "memory_table"]


def measure_peak(run):
    """The peak traced memory, in bytes, while ``run()`` runs."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        run()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def _rig(size, views=3):
    K = np.array([[size, 0, (size - 1) / 2], [0, size, (size - 1) / 2], [0, 0, 1.0]])
    return [Camera(K, np.eye(3), np.array([-0.3 * v, 0.1 * v, 0])) for v in range(views)]


def _mvsnet_runs(model, side):
    images = np.random.default_rng(0).random((1, 3, side, side, 3)).astype(np.float32)
    cameras, depths = [_rig(side)], np.linspace(2, 4, side)

    def infer():
        with no_grad():
            model(images, cameras, depths)

    def train():
        model(images, cameras, depths, training=True).depth.sum().backward()

    return infer, train


def _surfacenet_runs(model, side):
    cubes = np.random.default_rng(0).random((1, 2, side, side, side, 6)).astype(np.float32)

    def infer():
        with no_grad():
            model(cubes)

    def train():
        model(cubes, training=True).sum().backward()

    return infer, train


def memory_table(sizes=(16, 32, 48, 64)):
    """Lines of a table: per resolution, each method's peak memory (MiB) to infer and to train.

    The models are the shipped defaults (MVSNet 8-16-32 features, 8-16-32-64 U-Net;
    SurfaceNet 8-16-16), with their weights freshly initialised (memory does not depend on
    their values).
    """
    mvsnet, surfacenet = MVSNet(), SurfaceNet()
    mvsnet.build((None, 3, 32, 32, 3))
    surfacenet.build(None)
    lines = [
        "peak memory (MiB) at resolution r: MVSNet, 3 views of r x r on r planes;",
        "SurfaceNet, a cube of r^3 voxels from the same views (2 pairs)",
        f"{'r':>4}{'MVSNet infer':>14}{'train':>8}{'SurfaceNet infer':>18}{'train':>8}",
    ]
    for side in sizes:
        peaks = [
            measure_peak(run) / 2**20
            for runs in (_mvsnet_runs(mvsnet, side), _surfacenet_runs(surfacenet, side))
            for run in runs
        ]
        lines.append(f"{side:>4}{peaks[0]:>14.1f}{peaks[1]:>8.1f}{peaks[2]:>18.1f}{peaks[3]:>8.1f}")
    return lines
