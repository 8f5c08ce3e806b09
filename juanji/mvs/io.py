"""Depth-map and point-cloud files: PFM as MVSNet writes it, binary PLY, colour-mapped PNG.

PFM: a header ``Pf`` (one channel) or ``PF`` (three), then ``width height``, then a scale
whose sign gives the byte order (negative: little-endian), then float32 rows from the
*bottom* of the image to the top.
"""

import os

import numpy as np

__all__ = ["colorize", "read_pfm", "read_ply", "write_pfm", "write_ply"]


def write_pfm(path, image):
    """Write a float image ``(H, W)`` or ``(H, W, 3)`` as little-endian PFM, bottom row first."""
    image = np.asarray(image, dtype="<f4")
    if image.ndim == 3 and image.shape[2] == 3:
        kind = b"PF"
    elif image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        kind, image = b"Pf", image.reshape(image.shape[:2])
    else:
        raise ValueError(f"Expected an (H, W) or (H, W, 3) image. Received: shape={image.shape}")
    height, width = image.shape[:2]
    header = kind + b"\n" + f"{width} {height}\n-1\n".encode()
    with open(path, "wb") as f:
        f.write(header + np.flipud(image).tobytes())


def _header_line(f, path):
    line = f.readline(64)
    if not line.endswith(b"\n"):
        raise ValueError(f"'{path}': expected a PFM header line. Received: {line[:20]!r}")
    return line.strip()


def read_pfm(path):
    """Read a PFM file (either byte order) as a float32 image ``(H, W)`` or ``(H, W, 3)``.

    Raises:
        ValueError: a file that is not PFM or is truncated, naming the file.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        kind = _header_line(f, path)
        if kind not in (b"Pf", b"PF"):
            raise ValueError(f"'{path}': expected a PFM file (Pf or PF). Received: {kind[:8]!r}")
        try:
            width, height = (int(v) for v in _header_line(f, path).split())
            scale = float(_header_line(f, path))
        except ValueError:
            raise ValueError(f"'{path}': expected 'width height' then a scale line") from None
        channels = 3 if kind == b"PF" else 1
        count = width * height * channels
        body = f.read(4 * count)
    if len(body) != 4 * count:
        received = f"{len(body)} bytes (truncated)"
        raise ValueError(f"'{path}': expected {count} floats. Received: {received}")
    data = np.frombuffer(body, dtype="<f4" if scale < 0 else ">f4")
    shape = (height, width, 3) if channels == 3 else (height, width)
    return np.flipud(data.reshape(shape)).astype(np.float32)


_PLY_DTYPE = np.dtype(
    [("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("red", "u1"), ("green", "u1"), ("blue", "u1")]
)


def write_ply(path, points, colors):
    """Write a coloured point cloud as binary little-endian PLY.

    Args:
        points: ``(N, 3)`` coordinates.
        colors: ``(N, 3)`` RGB values in [0, 1].
    """
    points = np.asarray(points).reshape(-1, 3)
    colors = np.clip(np.round(np.asarray(colors).reshape(-1, 3) * 255), 0, 255)
    vertices = np.empty(len(points), _PLY_DTYPE)
    for k, axis in enumerate("xyz"):
        vertices[axis] = points[:, k]
    for k, channel in enumerate(("red", "green", "blue")):
        vertices[channel] = colors[:, k]
    header = (
        "ply\nformat binary_little_endian 1.0\n"
        f"element vertex {len(points)}\n"
        "property float x\nproperty float y\nproperty float z\n"
        "property uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n"
    )
    with open(path, "wb") as f:
        f.write(header.encode() + vertices.tobytes())


def read_ply(path):
    """Read a PLY written by :func:`write_ply`: points ``(N, 3)`` float32, colours ``(N, 3)`` uint8.

    Raises:
        ValueError: another PLY layout, or a truncated file.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    end = data.find(b"end_header\n")
    header = data[:end].decode("ascii", errors="replace").split("\n") if end >= 0 else []
    counts = [line.split()[-1] for line in header if line.startswith("element vertex")]
    if not header or header[0] != "ply" or "binary_little_endian" not in header[1] or not counts:
        raise ValueError(f"'{path}': expected a binary little-endian PLY of coloured vertices")
    body = data[end + len(b"end_header\n") :]
    if len(body) != int(counts[0]) * _PLY_DTYPE.itemsize:
        received = f"{len(body)} bytes of vertex data (truncated?)"
        raise ValueError(f"'{path}': expected {counts[0]} vertices. Received: {received}")
    vertices = np.frombuffer(body, _PLY_DTYPE)
    points = np.stack([vertices[a] for a in "xyz"], axis=1)
    colors = np.stack([vertices[c] for c in ("red", "green", "blue")], axis=1)
    return points, colors


def colorize(values, low=None, high=None, cmap="viridis"):
    """A float map ``(H, W)`` as an RGB uint8 image ``(H, W, 3)`` through a matplotlib colormap.

    Values outside ``[low, high]`` (default: the finite minimum and maximum) are clipped;
    non-finite ones are black.
    """
    from matplotlib import colormaps

    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    low = np.min(values[finite]) if low is None and finite.any() else (low or 0.0)
    high = np.max(values[finite]) if high is None and finite.any() else (high or 1.0)
    scaled = np.clip((np.where(finite, values, low) - low) / max(high - low, 1e-12), 0, 1)
    rgb = colormaps[cmap](scaled)[..., :3]
    rgb[~finite] = 0
    return np.round(rgb * 255).astype(np.uint8)
