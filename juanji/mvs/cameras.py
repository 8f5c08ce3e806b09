"""Pinhole cameras and MVSNet's camera and view-selection files.

A camera maps a world point ``X`` to camera coordinates ``x_c = R X + t`` (world-to-camera
``[R|t]``) and to the image point ``K x_c / z_c``. Pixel (row i, column j) *is* the image point
(x = j, y = i) in K's coordinates, as MVSNet's cam files assume: no half-pixel shift. The
camera centre is ``c = -R^T t``; nothing assumes any camera sits at the world origin.

MVSNet's ``cams/%08d_cam.txt``::

    extrinsic
    r11 r12 r13 t1
    r21 r22 r23 t2
    r31 r32 r33 t3
    0 0 0 1

    intrinsic
    fx 0 cx
    0 fy cy
    0 0 1

    depth_min depth_interval [num_depths [depth_max]]

``pair.txt``: the number of views, then per view its index and a line ``n src1 score1 ...``.
"""

import os
from typing import NamedTuple

import numpy as np

__all__ = [
    "Camera",
    "DepthRange",
    "read_cam_file",
    "read_pair_file",
    "write_cam_file",
    "write_pair_file",
]


class Camera(NamedTuple):
    """A pinhole camera: intrinsics ``K`` (3, 3), rotation ``R`` (3, 3), translation ``t`` (3,).

    Example:
        >>> cam = Camera(np.diag([100.0, 100.0, 1.0]), np.eye(3), np.zeros(3))
        >>> cam.project(np.array([[0.5, -0.25, 2.0]]))
        (array([[ 25. , -12.5]]), array([2.]))
    """

    K: np.ndarray
    R: np.ndarray
    t: np.ndarray

    @property
    def center(self):
        """The camera centre in world coordinates, ``-R^T t`` (3,)."""
        return -self.R.T @ self.t

    @property
    def principal_axis(self):
        """The unit viewing direction in world coordinates, ``R^T e_3`` (3,)."""
        return self.R[2]

    @property
    def extrinsic(self):
        """The 4x4 world-to-camera matrix ``[[R, t], [0, 1]]``."""
        e = np.eye(4)
        e[:3, :3], e[:3, 3] = self.R, self.t
        return e

    def scaled(self, factor):
        """This camera for an image resized by ``factor`` (e.g. 1/4 for a feature stride of 4).

        With pixels as points (x = j), the pixel ``(i, j)`` of the full image is the pixel
        ``(i * factor, j * factor)`` of the resized one, so ``fx, fy, cx, cy`` all scale.
        """
        K = np.array(self.K, dtype=np.float64)
        K[:2] *= factor
        return Camera(K, self.R, self.t)

    def to_camera(self, points):
        """World points ``(..., 3)`` in this camera's coordinates ``(..., 3)``."""
        return points @ self.R.T + self.t

    def project(self, points):
        """World points ``(..., 3)`` to image points (x, y) ``(..., 2)`` and depths ``(...)``."""
        xc = self.to_camera(points)
        z = xc[..., 2]
        uv = xc @ self.K.T
        return uv[..., :2] / uv[..., 2:], z

    def backproject(self, depth):
        """World points ``(H, W, 3)`` of a depth map ``(H, W)`` (depth = z in this camera)."""
        h, w = depth.shape
        i, j = np.mgrid[0:h, 0:w]
        pixels = np.stack([j, i, np.ones_like(i)], axis=-1).astype(np.float64)  # (H, W, 3)
        rays = pixels @ np.linalg.inv(self.K).T  # rays with z = 1
        xc = rays * depth[..., None]
        return (xc - self.t) @ self.R  # R^T (x_c - t)


class DepthRange(NamedTuple):
    """The depth planes of a reference view: ``depth_min + k * depth_interval``.

    ``num_depths`` and ``depth_max`` are None when the cam file leaves them out.
    """

    depth_min: float
    depth_interval: float
    num_depths: int | None = None
    depth_max: float | None = None

    def planes(self, num_depths=None):
        """The plane depths ``(D,)``, D = ``num_depths`` or the file's; float64."""
        n = num_depths or self.num_depths
        if not n:
            raise ValueError("No number of depth planes: give num_depths (the cam file has none)")
        return self.depth_min + self.depth_interval * np.arange(n, dtype=np.float64)


def _bad(path, what, received):
    return ValueError(f"'{path}': expected {what}. Received: {received}")


def _numbers(path, line, what):
    try:
        return [float(v) for v in line.split()]
    except ValueError:
        raise _bad(path, what, repr(line.strip())) from None


def _matrix(path, lines, start, rows, cols, name):
    """The ``rows x cols`` matrix in ``lines`` after the line holding ``name``."""
    what = f"a line '{name}' followed by {rows} rows of {cols} numbers"
    if start >= len(lines) or lines[start].strip() != name:
        found = lines[start].strip() if start < len(lines) else "end of file"
        raise _bad(path, what, repr(found))
    values = []
    for k in range(rows):
        row_index = start + 1 + k
        row = _numbers(path, lines[row_index], what) if row_index < len(lines) else []
        if len(row) != cols:
            raise _bad(path, f"{cols} numbers in row {k + 1} of '{name}'", f"{len(row)} numbers")
        values.append(row)
    return np.array(values), start + 1 + rows


def read_cam_file(path):
    """Read an MVSNet ``*_cam.txt``: the camera and the depth range of its view.

    Args:
        path: the cam file.

    Returns:
        ``(Camera, DepthRange)``.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: a malformed file (its message names the file and what was expected), a
            rotation that is not orthonormal, or a depth range with depth_min >= depth_max.
    """
    path = os.fspath(path)
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = [line for line in f.read().splitlines() if line.strip()]
    extrinsic, after = _matrix(path, lines, 0, 4, 4, "extrinsic")
    K, after = _matrix(path, lines, after, 3, 3, "intrinsic")
    R, t = extrinsic[:3, :3], extrinsic[:3, 3]
    if not np.allclose(R @ R.T, np.eye(3), atol=1e-4):
        raise _bad(path, "an orthonormal rotation in the extrinsic's top-left 3x3", R.tolist())
    if K[0, 0] <= 0 or K[1, 1] <= 0 or not np.allclose(K[2], [0, 0, 1]):
        raise _bad(path, "an intrinsic with fx, fy > 0 and last row 0 0 1", K.tolist())
    what = "a last line 'depth_min depth_interval [num_depths [depth_max]]'"
    depth = _numbers(path, lines[after], what) if after < len(lines) else []
    if not 2 <= len(depth) <= 4:
        raise _bad(path, what, f"{len(depth)} numbers")
    depth_min, interval = depth[:2]
    num_depths = int(depth[2]) if len(depth) > 2 else None
    depth_max = depth[3] if len(depth) > 3 else None
    if num_depths is not None and depth_max is None:
        depth_max = depth_min + interval * (num_depths - 1)
    if interval <= 0 or (num_depths is not None and num_depths < 2):
        raise _bad(path, "depth_interval > 0 and num_depths >= 2", depth[1:3])
    if depth_max is not None and depth_min >= depth_max:
        raise _bad(
            path,
            "depth_min < depth_max",
            f"depth_min={depth_min}, depth_max={depth_max}",
        )
    return Camera(K, R, t), DepthRange(depth_min, interval, num_depths, depth_max)


def write_cam_file(path, camera, depth_range):
    """Write ``camera`` and ``depth_range`` in MVSNet's cam-file layout."""
    rows = ["extrinsic"]
    rows += [" ".join(f"{v:.10g}" for v in row) for row in camera.extrinsic]
    rows += ["", "intrinsic"]
    rows += [" ".join(f"{v:.10g}" for v in row) for row in camera.K]
    values = [depth_range.depth_min, depth_range.depth_interval]
    if depth_range.num_depths is not None:
        values.append(depth_range.num_depths)
        if depth_range.depth_max is not None:
            values.append(depth_range.depth_max)
    rows += ["", " ".join(f"{v:.10g}" for v in values), ""]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(rows))


def read_pair_file(path, num_views=None):
    """Read MVSNet's ``pair.txt``: for each reference view, its source views best first.

    Args:
        path: the pair file.
        num_views: if given, every view index must lie in ``[0, num_views)``.

    Returns:
        A dict ``{ref: [src, ...]}`` in the file's order.

    Raises:
        ValueError: a malformed file or a view index outside ``[0, num_views)``, naming the
            file and the expected value.
    """
    path = os.fspath(path)
    with open(path, encoding="utf-8", errors="replace") as f:
        tokens = f.read().split()
    try:
        values = [float(v) for v in tokens]
    except ValueError:
        raise _bad(path, "numbers only", f"a token that is not a number in {path}") from None
    if not values:
        raise _bad(path, "the number of views on the first line", "an empty file")
    count, position, pairs = int(values[0]), 1, {}
    for _ in range(count):
        if position + 2 > len(values):
            raise _bad(path, f"{count} views", f"{len(pairs)} views")
        ref, n = int(values[position]), int(values[position + 1])
        entries = values[position + 2 : position + 2 + 2 * n]
        if len(entries) != 2 * n:
            raise _bad(path, f"{n} (source, score) pairs for view {ref}", len(entries) // 2)
        pairs[ref] = [int(v) for v in entries[::2]]
        position += 2 + 2 * n
    if num_views is not None:
        for ref, sources in pairs.items():
            for view in [ref, *sources]:
                if not 0 <= view < num_views:
                    raise _bad(
                        path,
                        f"view indices in [0, {num_views}) (the images present)",
                        f"view {view}",
                    )
    return pairs


def write_pair_file(path, pairs):
    """Write ``{ref: [src, ...]}`` as MVSNet's ``pair.txt`` (scores: the rank's reciprocal)."""
    rows = [str(len(pairs))]
    for ref, sources in pairs.items():
        rows.append(str(ref))
        scored = " ".join(f"{src} {1.0 / (rank + 1):.4f}" for rank, src in enumerate(sources))
        rows.append(f"{len(sources)} {scored}".strip())
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(rows) + "\n")
