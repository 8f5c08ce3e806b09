"""Scaling of data-parallel training on Ray: one process against 1 and 2 Ray workers.

Trains a zoo model on synthetic images for the same global batches three ways: plain
``model.fit`` in this process, and ``RayDataParallel`` with 1 and 2 workers (one CPU and one
BLAS thread each). Prints samples per second, the speed-up over one worker, and where a
data-parallel step's time goes: the workers' gradient computation (with the transfer of
their gradients to the driver), the driver's reduction, and the workers' update. Then it
prints, for the same model, a paper estimate of a step at 8 and 64 workers.

Usage:
    python benchmarks/data_parallel.py [--model seed] [--batch-size 256] [--steps 30]
"""

import juanji  # first: before NumPy loads OpenBLAS, it sets OpenBLAS's thread timeout

# isort: split
import argparse
import time

import numpy as np
import threadpoolctl

from juanji import zoo
from juanji.distributed import RayDataParallel

SHAPES = {"seed": (28, 28, 1), "lenet5": (28, 28, 1), "mlp": (28, 28, 1), "vgg_small": (32, 32, 3)}


def _data(name, n):
    rng = np.random.default_rng(0)
    x = rng.random((n, *SHAPES[name]), dtype=np.float32)
    return x, np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)]


def _model(name):
    juanji.set_seed(0)
    return zoo.MODELS[name](input_shape=SHAPES[name])


def run(name, batch_size, steps):
    """``{setting: (samples/s, per-step seconds by part or None)}``."""
    x, y = _data(name, batch_size * steps)
    results = {}
    with threadpoolctl.threadpool_limits(1):
        model = _model(name)
        model.fit(x[:batch_size], y[:batch_size], batch_size=batch_size, verbose=0)  # warm-up
        start = time.perf_counter()
        model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
        results["one process, 1 thread"] = (len(x) / (time.perf_counter() - start), None)
    for workers in (1, 2):
        strategy = RayDataParallel(workers, check_every=steps)
        strategy.fit(_model(name), x, y, batch_size=batch_size, epochs=1, shuffle=False)
        # steady state: the first step, which starts the workers, is timed apart
        step = sum(strategy.step_seconds.values())
        results[f"Ray, {workers} worker{'s' * (workers > 1)}"] = (
            batch_size / step,
            {**strategy.step_seconds, "first step": strategy.first_step_seconds},
        )
    return results


def estimate(model, batch_size, step_seconds, workers, message_seconds, bandwidth=10e9):
    """A paper estimate of one data-parallel step at ``workers`` workers.

    Compute shrinks with the shard (``step_seconds / workers``, the 1-worker compute). A ring
    all-reduce of the float32 gradients moves ``2 (W - 1) / W * 4P`` bytes per worker in
    ``2 (W - 1)`` rounds over links of ``bandwidth`` bytes/s (10 GB/s: a fast data-centre
    network), each round paying one message's overhead; the object store, as used here,
    gathers ``4P`` bytes from every worker at the driver and sends ``4P`` back to each, one
    message after another (``2W`` messages through the driver's one link).
    ``message_seconds`` is one message's overhead, measured on this machine's Ray.
    """
    params = model.count_params()
    compute = step_seconds / workers
    ring_bytes = 2 * (workers - 1) / workers * 4 * params
    ring = ring_bytes / bandwidth + 2 * (workers - 1) * message_seconds
    star = 2 * workers * (4 * params / bandwidth + message_seconds)
    return {
        "compute_s": compute,
        "ring_allreduce_s": ring,
        "object_store_s": star,
        "allreduce_bytes_per_worker": ring_bytes,
        "samples_per_s_ring": batch_size / (compute + ring),
        "samples_per_s_object_store": batch_size / (compute + star),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="seed", choices=sorted(SHAPES))
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    import os

    import ray

    print(f"load before: {os.getloadavg()[0]:.2f}")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    results = run(args.model, args.batch_size, args.steps)
    print(f"load after: {os.getloadavg()[0]:.2f}")
    one_worker = results["Ray, 1 worker"][0]
    print(f"\n{args.model}, global batch {args.batch_size}, {args.steps} steps")
    print(
        f"{'setting':24} {'samples/s':>10} {'vs 1 worker':>12}  per step: compute, reduce, "
        "apply (first step apart)"
    )
    for setting, (rate, parts) in results.items():
        split = ", ".join(f"{parts[k] * 1e3:.1f} ms" for k in parts) if parts else ""
        print(f"{setting:24} {rate:10.0f} {rate / one_worker:11.2f}x  {split}")
    one, two = results["Ray, 1 worker"][1], results["Ray, 2 workers"][1]
    # the 2-worker step's reduce and update beyond the 1-worker one: 2 more messages
    message = max((two["reduce"] + two["apply"] - one["reduce"] - one["apply"]) / 2, 1e-4)
    model = _model(args.model)
    print(
        f"\npaper estimate ({model.count_params():,} parameters; compute from the 1-worker "
        f"step, {message * 1e3:.1f} ms per message as measured here):"
    )
    for workers in (8, 64):
        e = estimate(model, args.batch_size, one["compute"], workers, message)
        print(
            f"{workers:3} workers: compute {e['compute_s'] * 1e3:.1f} ms, ring all-reduce "
            f"{e['ring_allreduce_s'] * 1e3:.1f} ms ({e['allreduce_bytes_per_worker'] / 1e6:.2f} MB"
            f" per worker), object store {e['object_store_s'] * 1e3:.1f} ms -> "
            f"{e['samples_per_s_ring']:.0f} / {e['samples_per_s_object_store']:.0f} samples/s"
        )
    ray.shutdown()


if __name__ == "__main__":
    main()
