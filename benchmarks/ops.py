"""conv2d and max_pool2d, forward + backward, in juanji and PyTorch side by side.

Both frameworks run in this one process on the same thread count (PyTorch's intra-op pool
and NumPy's BLAS pool), each in its own layout (juanji NHWC, PyTorch NCHW), in interleaved
blocks. The table gives the median time per call, the juanji/PyTorch ratio, and the ratio of
the fastest blocks (steadier when other processes share the cores). The rows are the seed
CNN's layers at batch 100, plus one wide layer; max-pool runs on each conv's output. The
first layer is timed as one (no gradient for the input images) in both frameworks.

Usage:
    python benchmarks/ops.py [--threads 2] [--repeats 9] [--batch 100]
"""

import juanji  # noqa: F401 (first: before NumPy loads OpenBLAS, it sets its thread timeout)

# isort: split
import argparse
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
    """Run the benchmark; returns ``(label, juanji ms, torch ms)`` rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--block", type=float, default=0.2, help="seconds per timed block")
    parser.add_argument("--settle", type=float, default=0.15, help="pause before a block")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(
        f"forward + backward, batch {args.batch}, {args.threads} threads, median of "
        f"{args.repeats} blocks, torch {torch.__version__}, numpy {np.__version__}"
    )
    print(f"{'op':<40} {'juanji ms':>10} {'torch ms':>10} {'ratio':>6} {'of minima':>10}")
    rows = []
    with threadpool_limits(args.threads):
        for label, ours, theirs in cases(args.batch, rng):
            (t_ours, t_theirs), (m_ours, m_theirs) = time_blocks(
                [ours, theirs], args.repeats, args.block, args.settle
            )
            print(
                f"{label:<40} {t_ours:>10.3f} {t_theirs:>10.3f} {t_ours / t_theirs:>6.2f} "
                f"{m_ours / m_theirs:>10.2f}"
            )
            rows.append((label, t_ours, t_theirs))
    return rows


if __name__ == "__main__":
    main()
