"""How much ImageDataGenerator augmentation slows seed-CNN training.

Trains the seed CNN for the same number of steps on plain batches and on augmented batches
(rotations of up to 10 degrees and 10% shifts, as ``juanji train --augment``), interleaved
in one process so machine noise hits both, and prints the median step times and their ratio.

Usage:
    python benchmarks/augment.py [--mnist DIR] [--steps 50] [--repeats 5] [--batch-size 100]
"""

import juanji  # first: before NumPy loads OpenBLAS, it sets OpenBLAS's thread timeout

# isort: split
import argparse
import statistics
import time

import numpy as np

from juanji import zoo
from juanji.datasets import digits, mnist
from juanji.preprocessing.image import ImageDataGenerator
from juanji.utils import to_categorical


def load(mnist_dir):
    if mnist_dir:
        (x, y), _ = mnist.load_data(mnist_dir)
        x = x[..., None]  # (N, 28, 28) as Keras gives it, to NHWC
    else:
        (x, y), _ = digits.load_data(image_size=(28, 28))
    return x.astype(np.float32) / 255, to_categorical(y, 10)


def plain_batches(x, y, batch_size):
    rng = np.random.default_rng(0)
    while True:
        order = rng.permutation(len(x))
        for start in range(0, len(x) - batch_size + 1, batch_size):
            index = np.sort(order[start : start + batch_size])
            yield x[index], y[index]


def time_steps(model, batches, steps):
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(*next(batches))
    return (time.perf_counter() - start) / steps


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", metavar="DIR", help="MNIST folder (default: bundled digits)")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args(argv)

    juanji.set_seed(0)
    x, y = load(args.mnist)
    model = zoo.seed_cnn()
    generator = ImageDataGenerator(
        rotation_range=10, width_shift_range=0.1, height_shift_range=0.1, fill_mode="constant"
    )
    sources = {
        "plain": plain_batches(x, y, args.batch_size),
        "augmented": generator.flow(x, y, batch_size=args.batch_size, seed=0),
    }
    for batches in sources.values():  # warm up
        time_steps(model, batches, 5)
    times = {name: [] for name in sources}
    for _ in range(args.repeats):
        for name, batches in sources.items():
            times[name].append(time_steps(model, batches, args.steps))
    plain, augmented = (statistics.median(times[name]) for name in sources)
    print(f"seed CNN, batch {args.batch_size}, median of {args.repeats} x {args.steps} steps")
    print(f"plain      {1000 * plain:7.2f} ms/step  {args.batch_size / plain:8.0f} samples/s")
    print(
        f"augmented  {1000 * augmented:7.2f} ms/step  {args.batch_size / augmented:8.0f} samples/s"
    )
    print(f"slowdown   {augmented / plain:.2f}x")
    return augmented / plain


if __name__ == "__main__":
    main()
