"""Synthetic multi-view scenes with exact depth: textured planes and boxes, ray-cast.

A scene is built in a local frame whose reference camera sits at the origin looking down +z,
then the whole rig is moved by a random rigid transform, so the cameras returned are
anywhere in the world. It holds:

- a background plane (slightly tilted) behind everything, so every reference pixel has a
  depth; then a few rectangles and boxes at varied depths and orientations in front of it,
  which occlude each other and the background from one view to the next;
- on each surface a view-independent texture (a sum of random sinusoids over the surface's
  own 2-D coordinates, so it is the same seen from any camera); some surfaces are *weakly
  textured* (almost uniform), where photo-consistency has nothing to match;
- per-view Gaussian noise.

View 0 is the reference; source views sit on a circle of radius ``baseline`` around it
(two views: left and right; four: also above and below), each turned toward the scene's
centre; the first V views of a scene are the same whatever its number of views. Colours
are the mean of four sub-pixel rays (anti-aliasing); depth, the surface index and the
weak-texture mask come from the ray through the pixel itself (pixel = point). Everything is
drawn from random streams seeded by ``seed``: the same seed, the same scene.
"""

from typing import NamedTuple

import numpy as np

from juanji.mvs.cameras import Camera, DepthRange

__all__ = ["Scene", "make_scene", "make_scenes"]

_SKY = np.array([0.5, 0.5, 0.5])  # colour of a ray that hits nothing (never the reference's)
_SUBPIXEL = ((-0.25, -0.25), (-0.25, 0.25), (0.25, -0.25), (0.25, 0.25))


class Scene(NamedTuple):
    """One synthetic scene.

    Attributes:
        images: ``(V, H, W, 3)`` float32 in [0, 1]; view 0 is the reference.
        depths: ``(V, H, W)`` float32, each view's depth (z in its camera; inf where nothing).
        weak: ``(V, H, W)`` bool, pixels showing a weakly textured surface.
        cameras: V :class:`~juanji.mvs.cameras.Camera`\\ s (world-to-camera, world anywhere).
        depth_range: the reference's :class:`~juanji.mvs.cameras.DepthRange`.
    """

    images: np.ndarray
    depths: np.ndarray
    weak: np.ndarray
    cameras: list
    depth_range: DepthRange


class _Quad(NamedTuple):
    """A textured rectangle: centre, unit axes u and v, half-sizes, texture parameters."""

    center: np.ndarray
    u: np.ndarray
    v: np.ndarray
    half: tuple  # (half-size along u, along v); inf for an unbounded plane
    color: np.ndarray  # (3,) base colour
    waves: np.ndarray  # (K, 3): frequency along u, along v, phase
    amplitudes: np.ndarray  # (K, 3): per-wave, per-channel amplitudes
    weak: bool


def _rotation(rng, max_angle):
    """A rotation by a random angle in [0, max_angle] about a random axis (Rodrigues)."""
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    angle = rng.uniform(0, max_angle)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def _random_rotation(rng):
    """A uniformly random rotation (QR of a Gaussian matrix, signs fixed)."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def _texture(rng, weak):
    contrast = rng.uniform(0.003, 0.012) if weak else rng.uniform(0.12, 0.25)
    count = 6
    frequencies = rng.uniform(0.5, 2.5, size=count) * rng.choice([-1, 1], size=count)
    directions = rng.uniform(0, np.pi, size=count)
    waves = np.stack(
        [
            frequencies * np.cos(directions),
            frequencies * np.sin(directions),
            rng.uniform(0, 2 * np.pi, size=count),
        ],
        axis=1,
    )
    amplitudes = contrast * rng.uniform(0.3, 1.0, size=(count, 1)) * rng.uniform(0.5, 1, (1, 3))
    return rng.uniform(0.25, 0.75, size=3), waves, amplitudes


def _quad(rng, center, rotation, half, weak):
    color, waves, amplitudes = _texture(rng, weak)
    return _Quad(center, rotation[:, 0], rotation[:, 1], half, color, waves, amplitudes, weak)


def _box(rng, center, rotation, half_sizes, weak):
    """A box as its six faces (quads), all with one texture."""
    color, waves, amplitudes = _texture(rng, weak)
    faces = []
    for axis in range(3):
        a, b = [k for k in range(3) if k != axis]
        for sign in (-1, 1):
            c = center + sign * half_sizes[axis] * rotation[:, axis]
            half = (half_sizes[a], half_sizes[b])
            faces.append(
                _Quad(c, rotation[:, a], rotation[:, b], half, color, waves, amplitudes, weak)
            )
    return faces


def _layout(rng):
    """The surfaces of a scene, in the local frame (reference camera at the origin)."""
    surfaces = [
        _quad(rng, np.array([0, 0, rng.uniform(3.55, 3.75)]), _rotation(rng, 0.12), (np.inf,) * 2,
              weak=rng.random() < 0.3)
    ]  # fmt: skip
    for _ in range(rng.integers(2, 5)):
        depth = rng.uniform(2.2, 3.4)
        center = np.array(
            [rng.uniform(-0.55, 0.55) * depth, rng.uniform(-0.35, 0.35) * depth, depth]
        )
        half = tuple(rng.uniform(0.15, 0.45, size=2))
        surfaces.append(_quad(rng, center, _rotation(rng, 0.9), half, weak=rng.random() < 0.35))
    for _ in range(rng.integers(0, 3)):
        depth = rng.uniform(2.3, 3.2)
        center = np.array([rng.uniform(-0.5, 0.5) * depth, rng.uniform(-0.3, 0.3) * depth, depth])
        half_sizes = rng.uniform(0.12, 0.3, size=3)
        surfaces += _box(rng, center, _random_rotation(rng), half_sizes, weak=rng.random() < 0.3)
    return surfaces


def _look_at(center, target):
    """World-to-camera (R, t) of a camera at ``center`` whose +z axis points at ``target``,
    its image y axis pointing down (+y of the local frame) as the reference's does."""
    z = target - center
    z /= np.linalg.norm(z)
    x = np.cross([0.0, 1.0, 0.0], z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    return R, -R @ center


def _cast(surfaces, origin, directions):
    """Nearest hit of rays ``origin + s * directions`` (P, 3): distance s and surface index."""
    best = np.full(len(directions), np.inf)
    index = np.full(len(directions), -1)
    for k, q in enumerate(surfaces):  # a loop over surfaces, each vectorised over rays
        normal = np.cross(q.u, q.v)
        denominator = directions @ normal
        with np.errstate(divide="ignore", invalid="ignore"):
            s = ((q.center - origin) @ normal) / denominator
        hit = np.isfinite(s) & (s > 1e-6) & (s < best)
        offset = origin + s[:, None] * directions - q.center
        hit &= (np.abs(offset @ q.u) <= q.half[0]) & (np.abs(offset @ q.v) <= q.half[1])
        best = np.where(hit, s, best)
        index = np.where(hit, k, index)
    return best, index


def _shade(surfaces, points, index):
    """Colours (P, 3) of the surfaces ``index`` (P,) at ``points`` (P, 3); sky where -1."""
    colors = np.tile(_SKY, (len(points), 1))
    for k, q in enumerate(surfaces):
        mine = index == k
        if not mine.any():
            continue
        offset = points[mine] - q.center
        uv = np.stack([offset @ q.u, offset @ q.v], axis=1)  # (P_k, 2) surface coordinates
        phases = 2 * np.pi * uv @ q.waves[:, :2].T + q.waves[:, 2]  # (P_k, K)
        colors[mine] = q.color + np.sin(phases) @ q.amplitudes
    return np.clip(colors, 0, 1)


def _render(surfaces, camera, height, width, noise, rng):
    """Image (H, W, 3), depth (H, W) and surface index (H, W) seen by ``camera`` (local)."""
    K_inv = np.linalg.inv(camera.K)
    center = camera.center
    i, j = np.mgrid[0:height, 0:width].astype(np.float64)

    def rays(di, dj):
        pixels = np.stack([j.ravel() + dj, i.ravel() + di, np.ones(i.size)], axis=1)
        return pixels @ K_inv.T @ camera.R  # camera-frame rays (z = 1) turned to the local frame

    directions = rays(0.0, 0.0)
    distance, index = _cast(surfaces, center, directions)
    depth = distance  # the rays have z = 1 in the camera frame, so distance along them is depth
    color = np.zeros((i.size, 3))
    for di, dj in _SUBPIXEL:
        d = rays(di, dj)
        s, k = _cast(surfaces, center, d)
        color += _shade(surfaces, center + np.where(np.isfinite(s), s, 0)[:, None] * d, k)
    color /= len(_SUBPIXEL)
    color += rng.normal(0, noise, size=color.shape)
    image = np.clip(color, 0, 1).reshape(height, width, 3)
    return image, depth.reshape(height, width), index.reshape(height, width)


def _view_angle(k):
    """The direction of source view k (1-based) around the reference: left and right first,
    then above and below, then the diagonals, then by the golden angle."""
    table = (0, np.pi, np.pi / 2, 3 * np.pi / 2, np.pi / 4, 5 * np.pi / 4, 3 * np.pi / 4)
    return table[k - 1] if k <= len(table) else k * np.pi * (3 - np.sqrt(5))


def make_scene(
    seed,
    *,
    num_views=3,
    height=64,
    width=96,
    depth_min=2.0,
    depth_max=4.0,
    num_depths=32,
    baseline=(0.45, 0.7),
    noise=0.01,
):
    """One scene of ``num_views`` views, deterministic by ``seed``.

    Args:
        seed: an int; the scene is a function of it (and of the other arguments).
        num_views: views including the reference (>= 2).
        height, width: image size in pixels.
        depth_min, depth_max: the reference's depth range; planes are ``depth_min + k *
            (depth_max - depth_min) / num_depths``, k < num_depths, and the geometry lies
            within it for the default range [2, 4].
        num_depths: D, written into the depth range.
        baseline: (low, high) range of the distance from the reference to each source view.
        noise: standard deviation of the per-view Gaussian noise.

    Returns:
        A :class:`Scene`.
    """
    if num_views < 2:
        raise ValueError(f"Expected num_views >= 2. Received: num_views={num_views}")
    rng = np.random.default_rng(seed)
    surfaces = _layout(rng)
    focal = rng.uniform(0.85, 1.0) * width
    start = rng.uniform(0, 2 * np.pi)
    Q, s = _random_rotation(rng), rng.uniform(-5, 5, size=3)
    K = np.array([[focal, 0, (width - 1) / 2], [0, focal, (height - 1) / 2], [0, 0, 1.0]])
    local = [Camera(K, np.eye(3), np.zeros(3))]
    for k in range(1, num_views):
        # Each view draws from its own stream, so the first V views of a scene do not
        # depend on how many views it has: 3 views are the first 3 of the 5-view scene.
        view_rng = np.random.default_rng([seed, k])
        angle = start + _view_angle(k) + view_rng.uniform(-0.3, 0.3)
        radius = view_rng.uniform(*baseline)
        center = radius * np.array([np.cos(angle), 0.6 * np.sin(angle), 0])
        center[2] = view_rng.normal(0, 0.05)
        R, t = _look_at(center, np.array([0, 0, 3.0]) + view_rng.normal(0, 0.1, size=3))
        local.append(Camera(K, R, t))
    renders = [
        _render(surfaces, cam, height, width, noise, np.random.default_rng([seed, k, 1]))
        for k, cam in enumerate(local)
    ]
    images = np.stack([r[0] for r in renders]).astype(np.float32)
    depths = np.stack([r[1] for r in renders]).astype(np.float32)
    weak_surface = np.array([q.weak for q in surfaces] + [False])  # index -1: sky
    weak = weak_surface[np.stack([r[2] for r in renders])]
    # Move the whole rig by the random rigid transform X_world = Q X_local + s.
    cameras = [Camera(c.K, c.R @ Q.T, c.t - c.R @ Q.T @ s) for c in local]
    interval = (depth_max - depth_min) / num_depths
    depth_range = DepthRange(
        depth_min, interval, num_depths, depth_min + interval * (num_depths - 1)
    )
    return Scene(images, depths, weak, cameras, depth_range)


def make_scenes(count, *, first_seed=0, **kwargs):
    """``count`` scenes with seeds ``first_seed, first_seed + 1, ...`` (see :func:`make_scene`)."""
    return [make_scene(first_seed + k, **kwargs) for k in range(count)]
