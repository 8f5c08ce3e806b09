"""Differentiable sampling of NHWC images at arbitrary points (PyTorch's ``grid_sample``).

Every output point reads at most four input pixels, each with a weight, so the whole
sampling is one sparse matrix ``A`` of shape ``(N*Ho*Wo, N*H*W)`` with four (or, for
``"nearest"``, one) entries per row: the output is ``A @ x`` over the ``(N*H*W, C)`` pixel
rows, and the input gradient ``A^T @ gy``. SciPy's CSR products run both in compiled loops
over whole channel rows, with no Python loop over points and none of ``np.add.at``'s cost.
A large sampling splits its images over the worker threads, each with its own matrix.
"""

import numpy as np

from juanji import backend, parallel
from juanji.autograd import primitive

__all__ = ["grid_sample"]

_MODES = ("bilinear", "nearest")
# A sampling of at least this many output values runs on parallel.workers() threads, a range
# of the images each (SciPy's sparse products release the GIL).
_THREADS_MIN_VALUES = 1 << 16
_PADDING_MODES = ("zeros", "border")


def _source_index(coord, size, padding_mode, align_corners):
    """Pixel coordinates from normalised ones along one axis, and their derivative.

    ``-1`` and ``1`` are the centres of the first and last pixels with ``align_corners``,
    else their outer edges. ``"border"`` clamps to ``[0, size - 1]``, where the derivative
    is 0 outside the range (as PyTorch's).

    Returns:
        ``(index, d index / d coord)``: an array like ``coord``, and a scalar or an array.
    """
    if align_corners:
        index, slope = (coord + 1) * ((size - 1) / 2), (size - 1) / 2
    else:
        index, slope = ((coord + 1) * size - 1) / 2, size / 2
    if padding_mode == "border":
        inside = (index >= 0) & (index <= size - 1)
        index, slope = np.clip(index, 0, size - 1), inside * slope
    return index, slope


class _Taps:
    """The input pixels each output point reads: flat pixel-row indices ``(M, T)`` into
    ``(N*H*W, C)``, their weights ``(M, T)`` (0 for pixels outside the image), and for
    bilinear sampling the weights' derivatives along x and y, ``(M, T)`` each."""

    def __init__(self, ix, iy, size, mode):
        N, H, W = size
        if mode == "nearest":
            # NOTE: halves round to even, as PyTorch's nearbyint does.
            cols, rows = np.rint(ix)[..., None], np.rint(iy)[..., None]
            self.weights = np.ones_like(cols)
            self.dx = self.dy = None
        else:
            x0, y0 = np.floor(ix), np.floor(iy)
            fx, fy = (ix - x0)[..., None], (iy - y0)[..., None]
            # taps in the order nw, ne, sw, se
            cols = x0[..., None] + np.array([0, 1, 0, 1], x0.dtype)
            rows = y0[..., None] + np.array([0, 0, 1, 1], y0.dtype)
            gx, gy = 1 - fx, 1 - fy
            self.weights = np.concatenate([gx * gy, fx * gy, gx * fy, fx * fy], axis=-1)
            self.dx = np.concatenate([-gy, gy, -fy, fy], axis=-1)
            self.dy = np.concatenate([-gx, -fx, gx, fx], axis=-1)
        inside = (cols >= 0) & (cols <= W - 1) & (rows >= 0) & (rows <= H - 1)
        image = np.arange(N).reshape(N, *(1,) * (cols.ndim - 1))
        flat = (image * H + np.clip(rows, 0, H - 1).astype(np.intp)) * W
        flat += np.clip(cols, 0, W - 1).astype(np.intp)
        T = cols.shape[-1]
        self.indices = flat.reshape(-1, T)
        self.weights = (self.weights * inside).reshape(-1, T)
        self.inside = inside.reshape(-1, T)
        if self.dx is not None:
            self.dx, self.dy = self.dx.reshape(-1, T), self.dy.reshape(-1, T)
        self.n_pixels = N * H * W

    def matrix(self):
        """The sampling matrix ``A`` ``(M, N*H*W)`` in CSR form."""
        from scipy import sparse

        M, T = self.indices.shape
        indptr = np.arange(0, M * T + 1, T)
        return sparse.csr_matrix(
            (self.weights.ravel(), self.indices.ravel(), indptr), shape=(M, self.n_pixels)
        )


class _Sampling:
    """The sampling of images ``x`` ``(n, H, W, C)`` at pixel coordinates ``ix``, ``iy``
    ``(n, Ho, Wo)``: its output and the gradients of its output."""

    def __init__(self, x, ix, iy, mode):
        self.pixels = x.reshape(-1, x.shape[-1])  # (n*H*W, C)
        self.taps = _Taps(ix, iy, x.shape[:3], mode)
        self.matrix = self.taps.matrix()
        self.shape, self.image_shape = (*ix.shape, x.shape[-1]), x.shape

    def forward(self):
        """``(n, Ho, Wo, C)``."""
        return np.asarray(self.matrix @ self.pixels).reshape(self.shape)

    def input_grad(self, gy):
        """``A^T gy`` ``(n, H, W, C)`` for ``gy`` ``(n, Ho, Wo, C)``."""
        gy = gy.reshape(-1, self.shape[-1])
        return np.asarray(self.matrix.T @ gy).reshape(self.image_shape)

    def index_grads(self, gy):
        """``sum_c gy * dy/d ix`` and ``... dy/d iy``, each ``(n, Ho, Wo)``: bilinear only."""
        gy = gy.reshape(-1, self.shape[-1])
        # <gy, x> at each tap, zero for taps outside the image: (M, T)
        reads = np.stack(
            [
                np.einsum("mc,mc->m", gy, np.take(self.pixels, idx, axis=0))
                for idx in self.taps.indices.T
            ],
            axis=1,
        )
        reads *= self.taps.inside
        return (
            np.einsum("mt,mt->m", reads, self.taps.dx).reshape(self.shape[:3]),
            np.einsum("mt,mt->m", reads, self.taps.dy).reshape(self.shape[:3]),
        )


def _check_inputs(x, grid):
    x = backend.as_float_array(x, "x")
    grid = backend.as_float_array(grid, "grid")
    if x.ndim != 4:
        raise ValueError(f"Expected `x` of rank 4, (N, H, W, C). Received: x.shape={x.shape}")
    if grid.ndim != 4 or grid.shape[3] != 2 or grid.shape[0] != x.shape[0]:
        raise ValueError(
            "Expected `grid` of shape (N, Ho, Wo, 2) with N equal to that of `x`. "
            f"Received: x.shape={x.shape}, grid.shape={grid.shape}"
        )
    return x, grid


def _check_choice(value, name, choices):
    if value not in choices:
        raise ValueError(f"Expected `{name}` to be one of {choices}. Received: {name}={value!r}")


@primitive
def grid_sample(
    x, grid, *, mode="bilinear", padding_mode="zeros", align_corners=False, needs_grad=(True,) * 2
):
    """Sample ``x`` at the normalised points of ``grid``, as PyTorch's ``grid_sample``.

    ``grid[n, i, j] = (u, v)`` names a point of image ``n``: ``u`` runs along the width and
    ``v`` along the height, from -1 to 1. With ``align_corners`` the ends are the centres of
    the corner pixels, ``index = (u + 1) / 2 * (W - 1)``; without, their outer edges,
    ``index = ((u + 1) * W - 1) / 2``. Bilinear sampling weighs the four pixels around the
    point; nearest takes the closest one. Pixels outside the image read as 0 (``"zeros"``)
    or the point is first clamped into the image (``"border"``).

    Backward: ``gx = A^T gy`` with ``A`` the sampling weights (each output point's ``gy``
    goes back to the pixels it read, times their weights); ``ggrid[..., 0] = sum_c gy *
    dy/d index_x * d index_x / du`` with ``dy/d index_x = (1 - fy) (x_ne - x_nw) +
    fy (x_se - x_sw)`` (and likewise along y), 0 where ``"border"`` clamped; zero for
    ``"nearest"``.

    Args:
        x: images, shape ``(N, H, W, C)``.
        grid: points, shape ``(N, Ho, Wo, 2)``, ``(u, v)`` in ``[-1, 1]`` inside the image.
        mode: ``"bilinear"`` or ``"nearest"``.
        padding_mode: ``"zeros"`` or ``"border"``.
        align_corners: whether -1 and 1 are the corner pixels' centres (else their edges).

    Returns:
        ``(N, Ho, Wo, C)``.

    Raises:
        TypeError: for integer or boolean inputs.
        ValueError: for wrong shapes or an unknown ``mode`` or ``padding_mode``.

    Example:
        >>> x = np.arange(4.0).reshape(1, 2, 2, 1)
        >>> grid = np.zeros((1, 1, 1, 2))  # the centre of the image
        >>> grid_sample(x, grid).data.ravel()
        array([1.5])
    """
    x, grid = _check_inputs(x, grid)
    _check_choice(mode, "mode", _MODES)
    _check_choice(padding_mode, "padding_mode", _PADDING_MODES)
    dtypes = x.dtype, grid.dtype
    dtype = np.result_type(*dtypes)
    x, grid = x.astype(dtype, copy=False), grid.astype(dtype, copy=False)
    N, H, W, C = x.shape
    _, Ho, Wo, _ = grid.shape
    ix, dix = _source_index(grid[..., 0], W, padding_mode, align_corners)  # (N, Ho, Wo)
    iy, diy = _source_index(grid[..., 1], H, padding_mode, align_corners)
    y = np.empty((N, Ho, Wo, C), dtype)
    n_workers = parallel.workers() if y.size >= _THREADS_MIN_VALUES else 1
    spans = parallel.worker_spans(N, n_workers)

    def sample(start, stop):
        part = _Sampling(x[start:stop], ix[start:stop], iy[start:stop], mode)
        y[start:stop] = part.forward()
        return part

    parts = parallel.map_tasks(sample, spans, n_workers)

    def backward(gy):
        gx = np.empty((N, H, W, C), dtypes[0]) if needs_grad[0] else None
        gix, giy = (np.zeros((N, Ho, Wo), dtypes[1]) for _ in range(2))

        def grads(start, stop, part):
            if needs_grad[0]:
                gx[start:stop] = part.input_grad(gy[start:stop])
            if needs_grad[1] and mode == "bilinear":
                gix[start:stop], giy[start:stop] = part.index_grads(gy[start:stop])

        parallel.map_tasks(grads, [(*span, part) for span, part in zip(spans, parts)], n_workers)
        ggrid = None
        if needs_grad[1]:
            ggrid = np.stack([gix * dix, giy * diy], axis=-1).astype(dtypes[1], copy=False)
        return gx, ggrid

    return y, backward
