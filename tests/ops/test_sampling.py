"""juanji.ops.sampling: grid_sample against float64 central differences and PyTorch, on a
table of cases and on drawn shapes, then its errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from juanji import parallel
from juanji.autograd import Tensor
from juanji.ops import grid_sample, sampling
from tests.helpers import check_grad, check_vs_torch

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # torch is only an oracle; its checks skip without it
    torch = F = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is the oracle")


def sample(rng, dtype, x_shape, out, spread=1.2):
    """Images ``x_shape`` and a grid of ``out`` points per image, some outside [-1, 1]."""
    x = rng.standard_normal(x_shape).astype(dtype)
    grid = rng.uniform(-spread, spread, (x_shape[0], *out, 2)).astype(dtype)
    return [x, grid]


def torch_grid_sample(**kwargs):
    def fn(x, grid):
        x = x.permute(0, 3, 1, 2)
        return F.grid_sample(x, grid, **{"align_corners": False, **kwargs}).permute(0, 2, 3, 1)

    return fn


# (name, x shape, output points (Ho, Wo), keyword arguments)
TABLE = [
    ("bilinear", (2, 4, 5, 3), (3, 4), {}),
    ("bilinear_aligned", (2, 4, 5, 3), (3, 4), {"align_corners": True}),
    ("border", (1, 3, 4, 2), (4, 3), {"padding_mode": "border"}),
    ("border_aligned", (1, 3, 4, 2), (4, 3), {"padding_mode": "border", "align_corners": True}),
    ("one_pixel", (2, 1, 1, 2), (2, 2), {}),
    ("upsampling", (1, 2, 3, 1), (5, 7), {}),
    ("nearest", (2, 4, 5, 3), (3, 4), {"mode": "nearest"}),
    ("nearest_border", (1, 4, 3, 2), (3, 3), {"mode": "nearest", "padding_mode": "border"}),
    ("nearest_aligned", (1, 4, 3, 2), (3, 3), {"mode": "nearest", "align_corners": True}),
]
CASES = [pytest.param(*case, id=case[0]) for case in TABLE]


@pytest.mark.parametrize("name, x_shape, out, kwargs", CASES)
def test_gradient(name, x_shape, out, kwargs):
    inputs = sample(np.random.default_rng(0), np.float64, x_shape, out)
    wrt = [0] if kwargs.get("mode") == "nearest" else [0, 1]  # nearest: piecewise constant
    check_grad(grid_sample, inputs, wrt=wrt, **kwargs)


@needs_torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name, x_shape, out, kwargs", CASES)
def test_matches_torch(name, x_shape, out, kwargs, dtype):
    inputs = sample(np.random.default_rng(1), dtype, x_shape, out)
    check_vs_torch(grid_sample, torch_grid_sample(**kwargs), inputs, **kwargs)


@needs_torch
@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 2),
    size=st.tuples(st.integers(1, 6), st.integers(1, 6)),
    channels=st.integers(1, 3),
    out=st.tuples(st.integers(1, 5), st.integers(1, 5)),
    mode=st.sampled_from(["bilinear", "nearest"]),
    padding_mode=st.sampled_from(["zeros", "border"]),
    align_corners=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_random_shapes_match_torch(n, size, channels, out, mode, padding_mode, align_corners, seed):
    kwargs = {"mode": mode, "padding_mode": padding_mode, "align_corners": align_corners}
    inputs = sample(np.random.default_rng(seed), np.float64, (n, *size, channels), out)
    check_vs_torch(grid_sample, torch_grid_sample(**kwargs), inputs, **kwargs)
    check_grad(grid_sample, inputs, wrt=[0] if mode == "nearest" else [0, 1], **kwargs)


@pytest.mark.parametrize("workers", [2, 3])
@pytest.mark.parametrize("kwargs", [{}, {"padding_mode": "border", "align_corners": True}])
def test_worker_threads_give_the_one_thread_results(kwargs, workers, monkeypatch):
    """Five images split over 2 or 3 threads, each sampling its own: the same output and
    gradients as one thread."""
    x, grid = (
        Tensor(a, requires_grad=True)
        for a in sample(np.random.default_rng(4), np.float64, (5, 4, 3, 2), (3, 5))
    )
    gy = np.random.default_rng(5).standard_normal((5, 3, 5, 2))

    def run(n_workers):
        monkeypatch.setattr(parallel, "workers", lambda: n_workers)
        x.zero_grad(), grid.zero_grad()
        y = grid_sample(x, grid, **kwargs)
        y.backward(gy)
        return [y.data, x.grad, grid.grad]

    monkeypatch.setattr(sampling, "_THREADS_MIN_VALUES", 0)
    for got, expected in zip(run(workers), run(1)):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_identity_grid_reproduces_the_image():
    """Without align_corners, the pixel centres are at (2 * i + 1) / size - 1."""
    x = np.random.default_rng(2).standard_normal((2, 3, 4, 5))
    centres = [(2 * np.arange(n) + 1) / n - 1 for n in (3, 4)]
    v, u = np.meshgrid(*centres, indexing="ij")
    grid = np.broadcast_to(np.stack([u, v], -1), (2, 3, 4, 2))
    for mode in ("bilinear", "nearest"):
        np.testing.assert_allclose(grid_sample(x, grid, mode=mode).data, x, atol=1e-12)


def test_float32_stays_float32_and_nearest_gives_no_grid_gradient():
    rng = np.random.default_rng(3)
    x, grid = (Tensor(a, requires_grad=True) for a in sample(rng, np.float32, (1, 3, 3, 2), (2, 2)))
    y = grid_sample(x, grid, mode="nearest")
    assert y.dtype == np.float32
    y.backward(np.ones(y.shape, np.float32))
    assert x.grad.dtype == grid.grad.dtype == np.float32 and not np.any(grid.grad)
    y = grid_sample(x, grid, padding_mode="border")
    y.backward(np.ones(y.shape, np.float32))
    assert y.dtype == grid.grad.dtype == np.float32


X, GRID = np.zeros((2, 3, 4, 1)), np.zeros((2, 2, 2, 2))


@pytest.mark.parametrize(
    "args, kwargs, error, message",
    [
        ((X[0], GRID), {}, ValueError, r"`x` of rank 4.*Received: x.shape=\(3, 4, 1\)"),
        ((X, GRID[..., :1]), {}, ValueError, r"`grid` of shape.*grid.shape=\(2, 2, 2, 1\)"),
        ((X, GRID[:1]), {}, ValueError, r"N equal.*grid.shape=\(1, 2, 2, 2\)"),
        ((X.astype(int), GRID), {}, TypeError, r"floating-point.*Received: x.dtype=int"),
        ((X, GRID), {"mode": "bicubic"}, ValueError, r"`mode`.*Received: mode='bicubic'"),
        ((X, GRID), {"padding_mode": "wrap"}, ValueError, r"padding_mode='wrap'"),
    ],
)
def test_errors_name_the_argument_and_the_value(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        grid_sample(*args, **kwargs)
