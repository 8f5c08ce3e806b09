"""The ops, forward + backward, in juanji and PyTorch side by side.

Both frameworks run in this one process on the same thread count (PyTorch's intra-op pool
and NumPy's BLAS pool), each in its own layout (juanji channels-last, PyTorch NCHW; for
volumes PyTorch runs in whichever of NCDHW and channels_last_3d is faster, named in the
table), in interleaved blocks. The table gives the median time per call, the juanji/PyTorch
ratio, and the ratio of the fastest blocks (steadier when other processes share the cores),
and the load average before and after (the figures are only valid on a quiet machine).

``--suite images`` (the default): conv2d and max_pool2d on the seed CNN's layers at batch
100, plus one wide layer; max-pool runs on each conv's output. The first layer is timed as
one (no gradient for the input images) in both frameworks.

``--suite volumes``: MVSNet's 3-D regularisation at its cost volume ``(1, 32, 16, 24, 32)``
(depth 32 by ``--depth``): the 3x3x3 convolutions of 8-64 channels of its 3-D U-Net, its
transposed convolutions back up (stride 2, "same"), 3-D max and average pooling, and
grid_sample warping ``(32, 16, 24, 32)`` features (one image per depth plane).

``--memory``: the peak RSS growth (Linux's VmHWM after resetting it) of one forward +
backward of that 3-D U-Net against the activations the backward must keep (every op's
output), in this process, before anything else runs.

Usage:
    python benchmarks/ops.py [--suite images|volumes] [--threads 2] [--repeats 9] [--batch 100]
    python benchmarks/ops.py --memory
"""

import juanji  # noqa: F401 (first: before NumPy loads OpenBLAS, it sets its thread timeout)

# isort: split
import argparse
import os
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from threadpoolctl import threadpool_limits

from juanji import ops
from juanji.autograd import Tensor

# (input H, W, C; filters; kernel; first layer), the input of max-pool is the conv output.
ROWS = [
    ((28, 28, 1), 4, 5, True),
    ((24, 24, 4), 8, 3, False),
    ((11, 11, 8), 16, 3, False),
    ((32, 32, 64), 64, 3, False),
]


def juanji_conv(x, w, b, gy, first):
    x, w, b = Tensor(x, requires_grad=not first), Tensor(w, True), Tensor(b, True)

    def step():
        ops.conv2d(x, w, b).backward(gy)

    return step


def torch_conv(x, w, b, gy, first):
    x = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).requires_grad_(not first)
    w = torch.from_numpy(w.transpose(3, 2, 0, 1).copy()).requires_grad_()
    b = torch.from_numpy(b).requires_grad_()
    gy = torch.from_numpy(gy.transpose(0, 3, 1, 2).copy())

    def step():
        F.conv2d(x, w, b).backward(gy)

    return step


def juanji_pool(a, gy):
    a = Tensor(a, requires_grad=True)

    def step():
        ops.max_pool2d(a, pool_size=2).backward(gy)

    return step


def torch_pool(a, gy):
    a = torch.from_numpy(a.transpose(0, 3, 1, 2).copy()).requires_grad_()
    gy = torch.from_numpy(gy.transpose(0, 3, 1, 2).copy())

    def step():
        F.max_pool2d(a, 2).backward(gy)

    return step


# MVSNet's 3-D U-Net on its cost volume (D, H, W, C) = (32, 16, 24, 32): (input size, input
# channels, filters, stride) of each 3x3x3 convolution, then its transposed convolutions.
VOLUME_CONVS = [
    ((32, 16, 24), 32, 8, 1),
    ((32, 16, 24), 8, 8, 1),
    ((32, 16, 24), 8, 16, 2),
    ((16, 8, 12), 16, 16, 1),
    ((16, 8, 12), 16, 32, 2),
    ((8, 4, 6), 32, 32, 1),
    ((8, 4, 6), 32, 64, 2),
    ((4, 2, 3), 64, 64, 1),
]
VOLUME_TRANSPOSES = [((4, 2, 3), 64, 32), ((8, 4, 6), 32, 16), ((16, 8, 12), 16, 8)]


def _torch_volume(a, layout):
    """An NDHWC array as a torch tensor (N, C, D, H, W) in ``layout``."""
    t = torch.from_numpy(np.ascontiguousarray(a.transpose(0, 4, 1, 2, 3)))
    return t.contiguous(memory_format=torch.channels_last_3d) if layout == "cl3d" else t


def juanji_volume_conv(x, w, b, gy, stride, transposed):
    x, w, b = Tensor(x, True), Tensor(w, True), Tensor(b, True)
    op = ops.conv3d_transpose if transposed else ops.conv3d
    kwargs = {"strides": stride, "padding": "same"}
    if transposed:
        kwargs["output_padding"] = 1

    def step():
        op(x, w, b, **kwargs).backward(gy)

    return step


def torch_volume_conv(x, w, b, gy, stride, transposed, layout):
    x = _torch_volume(x, layout).requires_grad_()
    # juanji's kernel (KD, KH, KW, C, F) is torch's (F, C, KD, KH, KW); a transposed one
    # (KD, KH, KW, F, C) is torch's (C, F, KD, KH, KW): the same permutation
    w = torch.from_numpy(np.ascontiguousarray(w.transpose(4, 3, 0, 1, 2))).requires_grad_()
    b = torch.from_numpy(b).requires_grad_()
    gy = _torch_volume(gy, layout)

    def step():
        if transposed:  # NOTE: PyTorch's "same" (padding 1, output_padding 1), the same cost
            y = F.conv_transpose3d(x, w, b, stride=stride, padding=1, output_padding=1)
        else:
            y = F.conv3d(x, w, b, stride=stride, padding=1)
        y.backward(gy)

    return step


def juanji_volume_pool(op, a, gy):
    a = Tensor(a, requires_grad=True)
    fn = ops.max_pool3d if op == "max" else ops.avg_pool3d

    def step():
        fn(a, pool_size=2).backward(gy)

    return step


def torch_volume_pool(op, a, gy, layout):
    a, gy = _torch_volume(a, layout).requires_grad_(), _torch_volume(gy, layout)
    fn = F.max_pool3d if op == "max" else F.avg_pool3d

    def step():
        fn(a, 2).backward(gy)

    return step


def juanji_grid_sample(x, grid, gy):
    x, grid = Tensor(x, True), Tensor(grid, True)

    def step():
        ops.grid_sample(x, grid).backward(gy)

    return step


def torch_grid_sample(x, grid, gy, layout):
    x = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    if layout == "cl3d":  # channels_last, for images
        x = x.contiguous(memory_format=torch.channels_last)
    x, grid = x.requires_grad_(), torch.from_numpy(grid).requires_grad_()
    gy = torch.from_numpy(np.ascontiguousarray(gy.transpose(0, 3, 1, 2)))

    def step():
        F.grid_sample(x, grid, align_corners=False).backward(gy)

    return step


def volume_cases(depth, rng):
    """(label, juanji step, {layout: torch step}) for every benchmarked volume op."""
    scale = depth / 32
    for size, channels, filters, stride in VOLUME_CONVS:
        size = (max(1, round(size[0] * scale)), *size[1:])
        x = rng.standard_normal((1, *size, channels), dtype=np.float32)
        w = rng.standard_normal((3, 3, 3, channels, filters), dtype=np.float32)
        w *= np.float32(1 / np.sqrt(27 * channels))
        b = rng.standard_normal(filters, dtype=np.float32)
        out = tuple(-(-n // stride) for n in size)
        gy = rng.standard_normal((1, *out, filters), dtype=np.float32)
        label = f"conv3d {'x'.join(map(str, size))}x{channels} -> {filters}" + (
            f" /{stride}" if stride > 1 else ""
        )
        yield (
            label,
            juanji_volume_conv(x, w, b, gy, stride, False),
            {
                layout: torch_volume_conv(x, w, b, gy, stride, False, layout)
                for layout in ("ncdhw", "cl3d")
            },
        )
    for size, channels, filters in VOLUME_TRANSPOSES:
        size = (max(1, round(size[0] * scale)), *size[1:])
        x = rng.standard_normal((1, *size, channels), dtype=np.float32)
        w = rng.standard_normal((3, 3, 3, filters, channels), dtype=np.float32)
        w *= np.float32(1 / np.sqrt(27 * channels))
        b = rng.standard_normal(filters, dtype=np.float32)
        gy = rng.standard_normal((1, *(2 * n for n in size), filters), dtype=np.float32)
        label = f"conv3d_transpose {'x'.join(map(str, size))}x{channels} -> {filters} x2"
        yield (
            label,
            juanji_volume_conv(x, w, b, gy, 2, True),
            {
                layout: torch_volume_conv(x, w, b, gy, 2, True, layout)
                for layout in ("ncdhw", "cl3d")
            },
        )
    volume = (1, max(2, round(32 * scale)), 16, 24, 32)
    a = rng.standard_normal(volume, dtype=np.float32)
    gp = rng.standard_normal((1, volume[1] // 2, 8, 12, 32), dtype=np.float32)
    for op in ("max", "avg"):
        yield (
            f"{op}_pool3d {'x'.join(map(str, volume[1:]))} 2x2x2",
            juanji_volume_pool(op, a, gp),
            {layout: torch_volume_pool(op, a, gp, layout) for layout in ("ncdhw", "cl3d")},
        )
    features = rng.standard_normal((volume[1], 16, 24, 32), dtype=np.float32)
    grid = rng.uniform(-1.1, 1.1, (volume[1], 16, 24, 2)).astype(np.float32)
    gs = rng.standard_normal(features.shape, dtype=np.float32)
    yield (
        f"grid_sample {volume[1]}x16x24x32 bilinear",
        juanji_grid_sample(features, grid, gs),
        {layout: torch_grid_sample(features, grid, gs, layout) for layout in ("ncdhw", "cl3d")},
    )


# The U-Net's weights, made before the measurement: (name, shape), bias-free convolutions.
_UNET_WEIGHTS = {
    name: (3, 3, 3, *pair)
    for name, pair in [
        ("c0", (32, 8)),
        ("c1", (8, 16)),
        ("c2", (16, 16)),
        ("c3", (16, 32)),
        ("c4", (32, 32)),
        ("c5", (32, 64)),
        ("c6", (64, 64)),
        ("u2", (32, 64)),
        ("u1", (16, 32)),
        ("u0", (8, 16)),
        ("prob", (8, 1)),
    ]
}


def _status_kib(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))


def _reset_peak_rss():
    """Reset the process's peak RSS to its current RSS (Linux's clear_refs); the bytes now."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    return 1024 * _status_kib("VmRSS")


def _peak_rss():
    return 1024 * _status_kib("VmHWM")


def unet_memory(depth):
    """Peak RSS growth (bytes) of one forward + backward of MVSNet's 3-D U-Net (conv, batch
    norm, ReLU; transposed convolutions with skip connections; a softmax over depth) on the
    cost volume, and the bytes the backward must keep: the volume and every op's output."""
    rng = np.random.default_rng(0)
    volume = Tensor(rng.standard_normal((1, depth, 16, 24, 32), dtype=np.float32), True)
    weights = {}

    def param(shape, name):
        if name not in weights:
            scale = np.float32(1 / np.sqrt(np.prod(shape[:-1])))
            weights[name] = Tensor(scale * rng.standard_normal(shape, dtype=np.float32), True)
        return weights[name]

    kept = [volume.data.nbytes]  # the first convolution's kernel gradient reads the volume

    def keep(t):
        kept.append(t.data.nbytes)
        return t

    def block(x, filters, stride, name, transposed=False):
        channels = x.shape[-1]
        if transposed:
            w = param((3, 3, 3, filters, channels), name)
            y = ops.conv3d_transpose(x, w, strides=2, padding="same", output_padding=1)
        else:
            w = param((3, 3, 3, channels, filters), name)
            y = ops.conv3d(x, w, strides=stride, padding="same")
        y = keep(y)
        gamma, beta = param((filters,), name + "g"), param((filters,), name + "b")
        y = keep(ops.batch_norm(y, gamma, beta, training=True))
        return keep(ops.relu(y))

    for name, shape in _UNET_WEIGHTS.items():
        param(shape, name)
        param(shape[-2:-1] if name.startswith("u") else shape[-1:], name + "g")
        param(shape[-2:-1] if name.startswith("u") else shape[-1:], name + "b")
    before = _reset_peak_rss()
    c0 = block(volume, 8, 1, "c0")
    c1 = block(block(c0, 16, 2, "c1"), 16, 1, "c2")
    c2 = block(block(c1, 32, 2, "c3"), 32, 1, "c4")
    c3 = block(block(c2, 64, 2, "c5"), 64, 1, "c6")
    u2 = keep(block(c3, 32, 2, "u2", transposed=True) + c2)
    u1 = keep(block(u2, 16, 2, "u1", transposed=True) + c1)
    u0 = keep(block(u1, 8, 2, "u0", transposed=True) + c0)
    logits = keep(ops.conv3d(u0, param((3, 3, 3, 8, 1), "prob"), padding="same"))
    probability = keep(ops.softmax(logits, axis=1))
    probability.backward(rng.standard_normal(probability.shape, dtype=np.float32))
    peak = _peak_rss()
    assert probability.dtype == volume.grad.dtype == np.float32
    return peak - before, sum(kept)


def time_blocks(steps, repeats, block_s, settle_s):
    """Median and minimum milliseconds per call of each step, over the blocks.

    Each repeat runs every step in turn (in a rotating order) as a block of calls lasting
    about ``block_s``, after a ``settle_s`` pause: BLAS and OpenMP worker threads spin for a
    while after their last call, and must not steal the cores from the other framework.
    """
    calls = []
    for step in steps:
        step()  # warm-up: first-touch allocations, lazy initialisation
        start = time.perf_counter()
        step()
        calls.append(max(1, round(block_s / (time.perf_counter() - start))))
    times = [[] for _ in steps]
    for repeat in range(repeats):
        order = list(range(len(steps)))
        order = order[repeat % len(steps) :] + order[: repeat % len(steps)]
        for i in order:
            time.sleep(settle_s)
            start = time.perf_counter()
            for _ in range(calls[i]):
                steps[i]()
            times[i].append((time.perf_counter() - start) / calls[i])
    return [1e3 * statistics.median(t) for t in times], [1e3 * min(t) for t in times]


def cases(batch, rng):
    """(label, juanji step, torch step) for every benchmarked op."""
    for (H, W, C), filters, k, first in ROWS:
        x = rng.standard_normal((batch, H, W, C), dtype=np.float32)
        scale = np.float32(1 / np.sqrt(k * k * C))  # unit-variance outputs
        w = scale * rng.standard_normal((k, k, C, filters), dtype=np.float32)
        b = rng.standard_normal(filters, dtype=np.float32)
        OH, OW = H - k + 1, W - k + 1
        gy = rng.standard_normal((batch, OH, OW, filters), dtype=np.float32)
        label = f"conv2d {H}x{W}x{C} -> {filters}@{k}x{k}" + (" (first)" if first else "")
        yield label, juanji_conv(x, w, b, gy, first), torch_conv(x, w, b, gy, first)
        a = rng.standard_normal((batch, OH, OW, filters), dtype=np.float32)
        gp = rng.standard_normal((batch, OH // 2, OW // 2, filters), dtype=np.float32)
        yield f"max_pool2d {OH}x{OW}x{filters} 2x2", juanji_pool(a, gp), torch_pool(a, gp)


def main(argv=None):
    """Run the benchmark; returns ``(label, juanji ms, torch ms)`` rows (or, with
    ``--memory``, ``(peak RSS growth, activation bytes)``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=("images", "volumes"), default="images")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--batch", type=int, default=100, help="images: the batch size")
    parser.add_argument("--depth", type=int, default=32, help="volumes: the cost volume's depth")
    parser.add_argument("--block", type=float, default=0.2, help="seconds per timed block")
    parser.add_argument("--settle", type=float, default=0.15, help="pause before a block")
    parser.add_argument("--memory", action="store_true", help="measure the 3-D U-Net's memory")
    args = parser.parse_args(argv)
    if args.depth < 8 or args.depth % 8:
        parser.error(f"--depth must be a positive multiple of 8 (three halvings). Got {args.depth}")
    if args.memory:
        with threadpool_limits(args.threads):
            growth, activations = unet_memory(args.depth)
        volume = args.depth * 16 * 24 * 32 * 4
        print(
            f"3-D U-Net on (1, {args.depth}, 16, 24, 32), {args.threads} threads, forward + "
            f"backward: peak RSS growth {growth / 2**20:.1f} MiB; activations kept "
            f"{activations / 2**20:.1f} MiB (the volume and every op's output), ratio "
            f"{growth / activations:.2f}; without the volume {growth / (activations - volume):.2f}"
        )
        return growth, activations
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    size = f"batch {args.batch}" if args.suite == "images" else f"depth {args.depth}"
    print(
        f"forward + backward, {size}, {args.threads} threads, median of "
        f"{args.repeats} blocks, torch {torch.__version__}, numpy {np.__version__}, "
        f"load average before {os.getloadavg()[0]:.2f}"
    )
    print(f"{'op':<46} {'juanji ms':>10} {'torch ms':>10} {'ratio':>6} {'of minima':>10}")
    rows = []
    if args.suite == "images":
        steps = ((label, ours, {"": theirs}) for label, ours, theirs in cases(args.batch, rng))
    else:
        steps = volume_cases(args.depth, rng)
    with threadpool_limits(args.threads):
        for label, ours, theirs in steps:
            medians, minima = time_blocks(
                [ours, *theirs.values()], args.repeats, args.block, args.settle
            )
            fastest = min(range(len(theirs)), key=lambda i: medians[1 + i])
            t_ours, t_theirs = medians[0], medians[1 + fastest]
            m_ours, m_theirs = minima[0], minima[1 + fastest]
            layout = list(theirs)[fastest]
            label = f"{label} ({layout})" if layout else label
            print(
                f"{label:<46} {t_ours:>10.3f} {t_theirs:>10.3f} {t_ours / t_theirs:>6.2f} "
                f"{m_ours / m_theirs:>10.2f}"
            )
            rows.append((label, t_ours, t_theirs))
    print(f"load average after {os.getloadavg()[0]:.2f}")
    return rows


if __name__ == "__main__":
    main()
